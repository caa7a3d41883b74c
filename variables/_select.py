"""Selecting leaves by path and kind; label and mask trees for optax.

`select` and `partition` keep the leaves whose path matches one of the given patterns
(every leaf when none is given) and for which ``where`` (if given) holds; `merge` puts
the pieces back together. `labels` and `mask` build the full-structure trees that
``optax.multi_transform`` and ``optax.masked`` expect.

What a pruned tree looks like:

- Mappings (``dict``, ``FrozenDict``, other registered mappings) drop every key whose
  subtree kept nothing: no placeholders, so the result goes straight into
  ``jax.grad``.
- Sequences (``list``, ``tuple``) keep their length and hold ``None`` where nothing
  was kept, so an index (``layers/3/w``) names the same place in every piece and
  `merge` puts each item back in its slot.
- Nodes with fixed fields (dataclasses such as a TrainState, NamedTuples such as
  optax states, a `vs.Model`) cannot drop a field: a field that kept nothing holds
  ``None``.
- ``None`` and empty containers hold no leaf: they are kept where their own path
  matches a pattern and no ``where`` is given (so ``select(tree)`` is ``tree``),
  and go to the rest otherwise; ``where`` is only asked about real leaves.

`merge` reads ``None`` and empty containers as "nothing here", which is what makes
``merge(*partition(tree, ...))`` rebuild ``tree`` with the very same leaves.

Matching walks the tree with the compiled patterns, one key at a time: a subtree that
no pattern can reach is passed to the rest whole (it is not visited), a subtree that a
trailing ``**`` covers is passed to the selection whole, and transitions are cached
per key, so the cost follows the part of the tree the patterns have to look at.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np
from flax.core import FrozenDict

from . import _tree
from ._errors import MergeConflictError, PathError, StructureError
from ._paths import (
    ANY_DEPTH,
    SEP,
    Key,
    Path,
    PathLike,
    Pattern,
    _escape,
    format_path,
    parse_path,
)

Where = Callable[["LeafInfo"], bool]

_NOTHING = object()  # "this side keeps nothing of the subtree"
_DEAD, _LIVE, _ALL = 0, 1, 2


class LeafInfo(NamedTuple):
    """What a ``where=`` predicate is told about one leaf.

    Attributes:
        path: the path as a tuple of keys, ``('params', 'Dense_0', 'kernel')``.
        path_str: the same path as a string, ``'params/Dense_0/kernel'``.
        collection: the first key of the path (``'params'``, ``'batch_stats'``);
            ``None`` for a leaf at the root.
        module: the path string of the parent (``'params/Dense_0'``); ``''`` at the
            top level.
        name: the last key (``'kernel'``); ``None`` for a leaf at the root.
        value: the leaf itself (an array; a tracer inside ``jax.jit``).

    Examples:
        >>> info = LeafInfo.from_path(("params", "Dense_0", "kernel"), 1.0)
        >>> info.collection, info.module, info.name, info.path_str
        ('params', 'params/Dense_0', 'kernel', 'params/Dense_0/kernel')
    """

    path: Path
    path_str: str
    collection: Key | None
    module: str
    name: Key | None
    value: Any

    @classmethod
    def from_path(cls, path: PathLike, value: Any) -> LeafInfo:
        """The `LeafInfo` of ``value`` at ``path`` (handy to test a predicate)."""
        parts = parse_path(path)
        return cls(
            parts,
            format_path(parts),
            parts[0] if parts else None,
            format_path(parts[:-1]),
            parts[-1] if parts else None,
            value,
        )


# ---------------------------------------------------------------------------------
# Several patterns run as one automaton


def _tail(pattern: Pattern) -> int | None:
    """The first state from which the pattern matches every path below, if any."""
    segs = pattern.segments
    t = len(segs)
    while t and segs[t - 1] is ANY_DEPTH:
        t -= 1
    return t if t < len(segs) else None


class _Matcher:
    """The product automaton of several patterns; states are interned as ints.

    Per state it records the kind (no pattern can match below: ``_DEAD``; some
    pattern matches every path below: ``_ALL``; else ``_LIVE``), the first pattern
    that matches the path so far (``accept``), and the first live pattern when that
    one matches every path below (``whole``; for first-rule-wins labelling).
    """

    __slots__ = (
        "patterns",
        "tails",
        "states",
        "ids",
        "trans",
        "kind",
        "accept",
        "whole",
    )

    def __init__(self, patterns: tuple[Pattern, ...]) -> None:
        self.patterns = patterns
        self.tails = [_tail(p) for p in patterns]
        self.states: list[tuple] = []
        self.ids: dict[tuple, int] = {}
        self.trans: list[dict] = []
        self.kind: list[int] = []
        self.accept: list[int] = []
        self.whole: list[int] = []
        self.intern(tuple(p.start for p in patterns))

    def intern(self, state: tuple) -> int:
        sid = self.ids.get(state)
        if sid is not None:
            return sid
        accept = whole = -1
        live = everything = False
        for j, (p, st) in enumerate(zip(self.patterns, state)):
            if not st:
                continue
            t = self.tails[j]
            covers = t is not None and any(i >= t for i in st)
            if not live:
                whole = j if covers else -1
            live = True
            everything |= covers
            if accept < 0 and p.accepts(st):
                accept = j
        sid = len(self.states)
        self.states.append(state)
        self.trans.append({})
        self.kind.append(_ALL if everything else _LIVE if live else _DEAD)
        self.accept.append(accept)
        self.whole.append(whole)
        self.ids[state] = sid
        return sid

    def step(self, sid: int, key: Key) -> int:
        table = self.trans[sid]
        nxt = table.get(key)
        if nxt is None:
            state = tuple(
                p.step(st, key) if st else st
                for p, st in zip(self.patterns, self.states[sid])
            )
            nxt = table[key] = self.intern(state)
        return nxt


@functools.lru_cache(maxsize=256)
def _cached_matcher(patterns: tuple) -> _Matcher:
    return _Matcher(tuple(Pattern.compile(p) for p in patterns))


def _matcher(patterns: tuple, fn: str) -> _Matcher:
    for p in patterns:
        if isinstance(p, (str, tuple, int, Pattern)) and not isinstance(p, bool):
            continue
        if isinstance(p, list) and fn != "labels":
            hint = (
                f" Patterns go in as separate arguments: maybe you wrote "
                f"`vs.{fn}(tree, [...])` instead of `vs.{fn}(tree, *[...])`?"
            )
        elif callable(p) and fn != "labels":
            hint = f" A predicate goes in `where=`: `vs.{fn}(tree, where=fn)`."
        else:
            hint = ""
        raise StructureError(
            f"`vs.{fn}`: a pattern must be a string like 'params/**/kernel', a tuple "
            f"of keys or a vs.Pattern; got a {type(p).__name__}: {p!r}.{hint}"
        )
    if not patterns:
        patterns = ("**",)
    return _cached_matcher(patterns)


def _check_where(where: Any, fn: str) -> None:
    if where is not None and not callable(where):
        raise StructureError(
            f"`where` of `vs.{fn}` must be a function of a vs.LeafInfo returning a "
            f"bool, got a {type(where).__name__}: {where!r}."
        )


def _test(where: Where, path: Path, pstr: str, parent: str, value: Any) -> bool:
    info = LeafInfo(
        path, pstr, path[0] if path else None, parent, path[-1] if path else None, value
    )
    try:
        return bool(where(info))
    except Exception as exc:
        _note(exc, pstr)
        raise


def _note(exc: Exception, pstr: str) -> None:
    exc.add_note(
        f"(raised by `where` on the leaf at '{pstr}'; inside jax.jit it may only "
        f"look at static facts such as path, shape and dtype)"
    )


# ---------------------------------------------------------------------------------
# Opening and rebuilding nodes


# Types seen to be leaves. Only array and scalar types are remembered: JAX would
# never flatten them, while any other type may be registered as a pytree later.
_leaf_types: set[type] = {float, int, bool, complex, str, bytes, np.ndarray}


def _pairs(node: Any) -> Any:
    """The ``(key, child)`` pairs of a container; None for a leaf."""
    t = type(node)
    if t is dict:
        return node.items()
    if t in _leaf_types:
        return None
    pairs = _tree.items(node)
    if pairs is None and isinstance(node, (jax.Array, np.ndarray, np.generic)):
        _leaf_types.add(t)
    return pairs


def _is_map(node: Any) -> bool:
    return type(node) is dict or isinstance(node, (Mapping, FrozenDict))


def _build(node: Any, pairs: Any, kept: dict) -> Any:
    """``node`` with only the children in ``kept`` (pruned or placeholder None)."""
    t = type(node)
    if t is dict:
        return kept
    if t is FrozenDict:
        return FrozenDict(
            {k: _tree._unwrap(v) for k, v in kept.items()}, __unsafe_skip_copy__=True
        )
    if t is list:
        return [kept.get(i) for i in range(len(node))]
    if t is tuple:
        return tuple([kept.get(i) for i in range(len(node))])
    if isinstance(node, Mapping):
        # Prune when the type can be rebuilt with fewer keys (and really was: a
        # mappable dataclass may accept the dict as its first field); else keep
        # every field with placeholders.
        deletes = tuple(k for k, _ in pairs if k not in kept)
        try:
            out = _tree.replace(node, kept, deletes)
        except StructureError:
            out = None
        if out is not None and {k for k, _ in _tree.items(out) or ()} == kept.keys():
            return out
    return _tree.replace(node, {k: kept.get(k) for k, _ in pairs})


def _build_all(node: Any, children: dict) -> Any:
    """``node`` with every child replaced (same keys, same container type)."""
    t = type(node)
    if t is dict:
        return children
    if t is FrozenDict:
        return FrozenDict(
            {k: _tree._unwrap(v) for k, v in children.items()},
            __unsafe_skip_copy__=True,
        )
    if t is list:
        return list(children.values())
    if t is tuple:
        return tuple(children.values())
    return _tree.replace(node, children)


def _finish(node: Any, part: Any) -> Any:
    """The root of one side: an empty-but-typed version when it kept nothing."""
    if part is not _NOTHING:
        return part
    pairs = _pairs(node)
    if not pairs:
        return None if pairs is None else node
    return _build(node, list(pairs), {})


# ---------------------------------------------------------------------------------
# select / partition


def _split(m: _Matcher, tree: Any) -> tuple[Any, Any]:
    kinds, accepts, trans, step = m.kind, m.accept, m.trans, m.step
    leaf_types = _leaf_types

    def visit(node: Any, sid: int) -> tuple[Any, Any]:
        kind = kinds[sid]
        if kind == _DEAD:
            return _NOTHING, node
        if kind == _ALL:
            return node, _NOTHING
        if type(node) is dict and node:
            pairs = node.items()
        elif type(node) in leaf_types or not (pairs := _pairs(node)):
            # a leaf, None or an empty container
            return (node, _NOTHING) if accepts[sid] >= 0 else (_NOTHING, node)
        sel: dict = {}
        rest: dict = {}
        same_sel = same_rest = True
        table = trans[sid]
        for k, v in pairs:
            nxt = table.get(k)
            s, r = visit(v, step(sid, k) if nxt is None else nxt)
            if s is not _NOTHING:
                sel[k] = s
                same_sel = same_sel and s is v
            if r is not _NOTHING:
                rest[k] = r
                same_rest = same_rest and r is v
        return _side(node, pairs, sel, same_sel), _side(node, pairs, rest, same_rest)

    return visit(tree, 0)


def _side(node: Any, pairs: Any, kept: dict, same: bool) -> Any:
    if not kept:
        return _NOTHING
    if same and len(kept) == len(pairs):
        return node
    return _build(node, pairs, kept)


def _split_where(m: _Matcher, where: Where, tree: Any) -> tuple[Any, Any]:
    kinds, accepts, trans, step = m.kind, m.accept, m.trans, m.step
    leaf_types = _leaf_types
    make = tuple.__new__
    texts: dict = {}

    def visit(node: Any, sid: int, path: Path, pstr: str, parent: str) -> tuple:
        kind = kinds[sid]
        if kind == _DEAD:
            return _NOTHING, node
        if type(node) is dict and node:
            pairs = node.items()
        elif type(node) in leaf_types or (pairs := _pairs(node)) is None:
            if node is None or accepts[sid] < 0:
                return _NOTHING, node
            info = make(
                LeafInfo,
                (
                    path,
                    pstr,
                    path[0] if path else None,
                    parent,
                    path[-1] if path else None,
                    node,
                ),
            )
            try:
                keep = bool(where(info))
            except Exception as exc:
                _note(exc, pstr)
                raise
            return (node, _NOTHING) if keep else (_NOTHING, node)
        elif not pairs:
            return _NOTHING, node
        sel: dict = {}
        rest: dict = {}
        same_sel = same_rest = True
        table = trans[sid]
        for k, v in pairs:
            text = texts.get(k)
            if text is None:
                text = texts[k] = _escape(k, SEP)
            if kind == _ALL:
                nxt = sid
            else:
                nxt = table.get(k)
                if nxt is None:
                    nxt = step(sid, k)
            s, r = visit(v, nxt, path + (k,), pstr + SEP + text if path else text, pstr)
            if s is not _NOTHING:
                sel[k] = s
                same_sel = same_sel and s is v
            if r is not _NOTHING:
                rest[k] = r
                same_rest = same_rest and r is v
        return _side(node, pairs, sel, same_sel), _side(node, pairs, rest, same_rest)

    return visit(tree, 0, (), "", "")


def _partition(tree: Any, patterns: tuple, where: Where | None, fn: str) -> tuple:
    m = _matcher(patterns, fn)
    _check_where(where, fn)
    if where is None:
        sel, rest = _split(m, tree)
    else:
        sel, rest = _split_where(m, where, tree)
    return _finish(tree, sel), _finish(tree, rest)


def partition(
    tree: Any, *patterns: PathLike | Pattern, where: Where | None = None
) -> tuple[Any, Any]:
    """Splits a tree into the selected leaves and the rest.

    A leaf is selected when its path matches any of ``patterns`` (every leaf when
    none is given) and ``where`` (if given) holds for its `LeafInfo`. Mappings drop
    the keys whose subtree kept nothing; sequences and fixed-field nodes
    (dataclasses, NamedTuples) keep their shape with ``None`` in the empty places
    (see the module notes). Both halves share every untouched subtree and leaf with
    ``tree``, and `merge` puts them back together.

    Args:
        tree: any pytree: dicts, FrozenDicts, lists, a TrainState, a `vs.Model`...
        *patterns: path patterns (``"params/encoder/**"``, ``"**/kernel"``) or
            tuples of keys, matched against the path of each leaf.
        where: optional predicate over a `LeafInfo`; inside ``jax.jit`` it may
            look at static facts only (path, shape, dtype).

    Returns:
        ``(selected, rest)``, each of the container types of ``tree``.

    Raises:
        StructureError: when a pattern is not a string, tuple or `vs.Pattern`
            (a list, a function), or ``where`` is not callable.

    Examples:
        >>> import jax.numpy as jnp
        >>> params = {"encoder": {"w": 1.0, "b": 2.0}, "head": {"w": 3.0}}
        >>> partition(params, "encoder/**")
        ({'encoder': {'w': 1.0, 'b': 2.0}}, {'head': {'w': 3.0}})
        >>> tree = {"a": jnp.zeros(2, jnp.float16), "b": jnp.zeros(2)}
        >>> half, rest = partition(tree, where=lambda l: l.value.dtype == jnp.float16)
        >>> list(half), list(rest)
        (['a'], ['b'])
    """
    return _partition(tree, patterns, where, "partition")


def select(tree: Any, *patterns: PathLike | Pattern, where: Where | None = None) -> Any:
    """The part of a tree whose leaves match ``patterns`` and ``where``.

    The first half of `partition`: branches that keep nothing disappear (see the
    module notes for sequences and dataclasses), so the result can go straight into
    ``jax.grad``. With no pattern and no ``where`` it returns ``tree`` itself.

    Args:
        tree: any pytree.
        *patterns: path patterns or tuples of keys; a leaf is kept when its path
            matches any of them (every leaf when none is given).
        where: optional predicate over a `LeafInfo` that must also hold.

    Returns:
        The pruned tree, of the container types of ``tree``.

    Raises:
        StructureError: when a pattern is not a string, tuple or `vs.Pattern`,
            or ``where`` is not callable.

    Examples:
        >>> variables = {
        ...     "params": {
        ...         "encoder": {"kernel": 1.0, "bias": 0.0},
        ...         "head": {"kernel": 2.0},
        ...     },
        ...     "batch_stats": {"encoder": {"mean": 0.5}},
        ... }
        >>> select(variables, "params/**/kernel")
        {'params': {'encoder': {'kernel': 1.0}, 'head': {'kernel': 2.0}}}
        >>> select(variables, where=lambda l: l.collection == "batch_stats")
        {'batch_stats': {'encoder': {'mean': 0.5}}}
        >>> select(variables, "params/encoder/**", where=lambda l: l.name == "bias")
        {'params': {'encoder': {'bias': 0.0}}}
    """
    return _partition(tree, patterns, where, "select")[0]


# ---------------------------------------------------------------------------------
# merge


def merge(*trees: Any, override: bool = False) -> Any:
    """Combines trees that hold different leaves into one: the inverse of `partition`.

    ``None`` and empty containers count as "nothing here" (they are the
    placeholders of `partition`). Mappings are united key by key (keys in the
    order first seen, so ``merge(selected, rest)`` lists the selected keys first;
    JAX's structure, which sorts keys, is unchanged); sequences and fixed-field
    nodes are merged position by position and must have the same type and fields.
    Subtrees that only one tree holds are shared, not copied.

    Args:
        *trees: the trees to combine (at least one).
        override: when two trees hold a leaf at the same path, the later one wins
            instead of raising.

    Returns:
        The combined tree, of the container types of the first tree that holds
        something at each place.

    Raises:
        MergeConflictError: when two trees both hold a leaf at one path (and
            ``override`` is false), or disagree on the structure at a path (a leaf
            against a subtree, a list against a dict, lists of different lengths);
            the message names the path.
        StructureError: when no tree is given.

    Examples:
        >>> merge({"a": {"w": 1}}, {"a": {"b": 2}, "c": 3})
        {'a': {'w': 1, 'b': 2}, 'c': 3}
        >>> tree = {"encoder": {"w": 1.0}, "head": [2.0, 3.0]}
        >>> merge(*partition(tree, "head/1")) == tree
        True
        >>> merge({"w": 1}, {"w": 2}, override=True)
        {'w': 2}
    """
    if not trees:
        raise StructureError(
            "`vs.merge` needs at least one tree, e.g. `vs.merge(selected, rest)`."
        )
    out = trees[0]
    for i in range(1, len(trees)):
        out = _merge2(out, trees[i], i, (), override)
    return out


def _merge2(a: Any, b: Any, i: int, path: Path, override: bool) -> Any:
    """Merges ``b`` (tree ``i``) into ``a`` (the trees before it)."""
    if b is None:
        return a
    if a is None:
        return b
    if type(a) is dict and type(b) is dict:
        if not b:
            return a
        if not a:
            return b
        out = a.copy()
        for k, v in b.items():
            old = out.get(k, _NOTHING)
            if old is _NOTHING:
                out[k] = v
            elif old is not None or v is not None:
                out[k] = _merge2(old, v, i, path + (k,), override)
        return out
    pa, pb = _pairs(a), _pairs(b)
    if pb is not None and not pb:
        return a  # b is an empty container
    if pa is not None and not pa:
        return b
    if pa is None or pb is None:
        if override:
            return b
        raise _conflict(path, i, (a, pa), (b, pb))
    if _is_map(a) and _is_map(b):
        children = dict(pa)
        for k, v in pb:
            old = children.get(k, _NOTHING)
            children[k] = (
                v if old is _NOTHING else _merge2(old, v, i, path + (k,), override)
            )
        return children if type(a) is dict else _build_all(a, children)
    pa, pb = list(pa), list(pb)
    if type(a) is not type(b) or [k for k, _ in pa] != [k for k, _ in pb]:
        raise _mismatch(path, i, (a, pa), (b, pb))
    children = {
        k: _merge2(va, vb, i, path + (k,), override) for (k, va), (_, vb) in zip(pa, pb)
    }
    return _build_all(a, children)


def _where_text(path: Path) -> str:
    return f"'{format_path(path)}'" if path else "the root"


def _describe(node: Any, pairs: Any) -> str:
    if pairs is not None:
        if isinstance(node, (list, tuple)) and not _is_map(node):
            return f"a {type(node).__name__} of length {len(pairs)}"
        return f"a {type(node).__name__} with keys {[k for k, _ in pairs][:8]}"
    shape = getattr(node, "shape", None)
    dtype = getattr(node, "dtype", None)
    if shape is not None and dtype is not None:
        return f"a leaf {dtype}{list(shape)}"
    return f"a leaf of type {type(node).__name__}"


def _sides(i: int) -> tuple[str, str]:
    return ("tree 0", "tree 1") if i == 1 else (f"the trees before {i}", f"tree {i}")


def _conflict(path: Path, i: int, a: tuple, b: tuple) -> MergeConflictError:
    first, second = _sides(i)
    if a[1] is None and b[1] is None:
        what = f"both define the leaf at {_where_text(path)}"
    else:
        what = f"disagree at {_where_text(path)}: a leaf against a subtree"
    return MergeConflictError(
        f"`vs.merge`: {first} and {second} {what} ({first}: {_describe(*a)}; "
        f"{second}: {_describe(*b)}). Pass override=True to let the later tree win, "
        f"or merge trees that hold different leaves, such as the two halves of "
        f"`vs.partition`."
    )


def _mismatch(path: Path, i: int, a: tuple, b: tuple) -> MergeConflictError:
    first, second = _sides(i)
    return MergeConflictError(
        f"`vs.merge`: {first} and {second} disagree on the structure at "
        f"{_where_text(path)} ({first}: {_describe(*a)}; {second}: "
        f"{_describe(*b)}). Sequences and fixed-field nodes are merged position by "
        f"position, so they must have the same type and length."
    )


# ---------------------------------------------------------------------------------
# labels / mask for optax


def _fill(node: Any, value: Any) -> Any:
    # Like jax.tree_util.tree_map(lambda _: value, node), but mappings keep their
    # key order (JAX sorts the keys of the dicts it rebuilds).
    if type(node) is dict:
        return {k: _fill(v, value) for k, v in node.items()}
    if type(node) in _leaf_types:
        return value
    pairs = _pairs(node)
    if pairs is None:
        return None if node is None else value
    if not pairs:
        return node
    return _build_all(node, {k: _fill(v, value) for k, v in pairs})


def _leaf_paths(node: Any, path: Path, out: list[Path]) -> None:
    """Appends the paths of the leaves under ``node`` (in key order, no None)."""
    pairs = _pairs(node)
    if pairs is None:
        if node is not None:
            out.append(path)
        return
    for k, v in pairs:
        _leaf_paths(v, path + (k,), out)


class _Assign:
    """Builds a full-structure tree with one value per leaf (``None`` stays None)."""

    __slots__ = ("m", "values", "default", "where", "missing", "uniform")

    def __init__(self, m, values, default, where, uniform=False) -> None:
        self.m = m
        self.uniform = uniform  # every pattern gives the same value (a mask)
        self.values = values  # per pattern index: the value of a matching leaf
        self.default = default  # value of a leaf no pattern matches (_NOTHING: error)
        self.where = where
        self.missing: list[Path] = []

    def const(self, node: Any, value: Any) -> Any:
        return _fill(node, value)

    def visit(self, node: Any, sid: int, path: Path, pstr: str, parent: str) -> Any:
        m = self.m
        kind = m.kind[sid]
        if kind == _DEAD:
            return self.nothing(node, path)
        if self.where is None:
            if m.whole[sid] >= 0:
                return self.const(node, self.values[m.whole[sid]])
            if self.uniform and kind == _ALL:
                return self.const(node, self.values[0])
        pairs = _pairs(node)
        if pairs is None:
            if node is None:
                return None
            j = m.accept[sid]
            if j >= 0 and (
                self.where is None or _test(self.where, path, pstr, parent, node)
            ):
                return self.values[j]
            return self.nothing(node, path)
        if not pairs:
            return node
        children = {}
        track = self.where is not None
        for k, v in pairs:
            text = _escape(k, SEP) if track else ""
            children[k] = self.visit(
                v,
                m.step(sid, k),
                path + (k,),
                (pstr + SEP + text if path else text) if track else "",
                pstr,
            )
        return _build_all(node, children)

    def nothing(self, node: Any, path: Path) -> Any:
        if self.default is not _NOTHING:
            return self.const(node, self.default)
        _leaf_paths(node, path, self.missing)
        return node


def labels(
    params: Any, rules: Mapping[PathLike, Hashable], default: Hashable | None = None
) -> Any:
    """The label tree for ``optax.multi_transform`` (``optax.partition``).

    Each leaf gets the label of the first rule whose pattern matches its path, or
    ``default``. The result has the structure and container types of ``params``
    (``None`` stays ``None``), as optax requires.

    Args:
        params: the parameter tree the optimizer will see.
        rules: ``{pattern: label}``, tried in order; the first match wins.
        default: the label of a leaf that no rule matches; ``None`` makes such a
            leaf an error.

    Returns:
        A tree of labels shaped like ``params``.

    Raises:
        PathError: when a leaf matches no rule and there is no ``default``; the
            message names the leaves.
        StructureError: when ``rules`` is not a mapping.

    Examples:
        >>> import optax
        >>> params = {"backbone": {"w": 1.0}, "head": {"w": 2.0, "b": 0.0}}
        >>> labels(params, {"backbone/**": "frozen"}, default="train")
        {'backbone': {'w': 'frozen'}, 'head': {'w': 'train', 'b': 'train'}}
        >>> tx = optax.multi_transform(
        ...     {"train": optax.sgd(0.1), "frozen": optax.set_to_zero()},
        ...     labels(params, {"backbone/**": "frozen", "**": "train"}),
        ... )
    """
    if not isinstance(rules, Mapping):
        raise StructureError(
            f"`rules` of `vs.labels` must be a mapping {{pattern: label}}, got a "
            f"{type(rules).__name__}: {rules!r}. Example: "
            f"vs.labels(params, {{'backbone/**': 'frozen'}}, default='train')."
        )
    patterns = tuple(rules)
    m = _matcher(patterns, "labels") if patterns else _cached_matcher(())
    fill = _NOTHING if default is None else default
    job = _Assign(m, list(rules.values()), fill, None)
    out = job.visit(params, 0, (), "", "")
    if job.missing:
        n = len(job.missing)
        shown = ", ".join(f"'{format_path(p)}'" for p in job.missing[:5])
        what = f"the leaf {shown}" if n == 1 else f"the leaves {shown}"
        more = f" (and {n - 5} more)" if n > 5 else ""
        raise PathError(
            f"`vs.labels`: no rule matches {what}{more}, and no default "
            f"was given. Rules: {[str(p) for p in patterns]}. Add a rule that "
            f"matches, end the rules with '**': <label>, or pass default=<label>.",
            path=job.missing[0],
            available=tuple(str(p) for p in patterns),
        )
    return out


def mask(params: Any, *patterns: PathLike | Pattern, where: Where | None = None) -> Any:
    """The boolean tree for ``optax.masked``: True where a leaf is selected.

    A leaf is selected under the rules of `select` (matches any pattern, every
    leaf when none is given, and ``where`` holds). The result has the structure
    and container types of ``params``; ``None`` stays ``None``.

    Args:
        params: the parameter tree.
        *patterns: path patterns or tuples of keys.
        where: optional predicate over a `LeafInfo`.

    Returns:
        A tree of Python bools shaped like ``params``.

    Raises:
        StructureError: when a pattern is not a string, tuple or `vs.Pattern`,
            or ``where`` is not callable.

    Examples:
        >>> import optax
        >>> params = {"backbone": {"w": 1.0}, "head": {"w": 2.0, "b": 0.0}}
        >>> mask(params, "**/w")
        {'backbone': {'w': True}, 'head': {'w': True, 'b': False}}
        >>> frozen = optax.masked(optax.set_to_zero(), mask(params, "backbone/**"))
    """
    m = _matcher(patterns, "mask")
    _check_where(where, "mask")
    job = _Assign(m, [True] * len(m.patterns), False, where, uniform=True)
    return job.visit(params, 0, (), "", "")
