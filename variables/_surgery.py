"""Weight surgery: move leaves between trees, rename paths, compare two trees.

All three are functional: the trees passed in are never changed.

- `transplant` copies leaves of one tree into another, where paths match or as a
  mapping says, checking shapes and dtypes, and reports what it did.
- `rename` rewrites leaf paths with regular expressions (and may transform the
  leaves it renames, e.g. transpose a PyTorch weight into a Flax kernel).
- `diff` lists the paths two trees do not agree on: added, removed, of another
  shape or dtype, or of other values (with the largest absolute difference).
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.core import FrozenDict

from . import _tree
from ._at import find
from ._errors import PathError, RenameError, StructureError, TransplantError
from ._freeze import freeze
from ._paths import SEP, Path, PathLike, Pattern, format_path, parse_path

# ---------------------------------------------------------------------------------
# Shared by the three operations


def _gc_paused(fn: Callable) -> Callable:
    """Runs ``fn`` with Python's cyclic garbage collector paused.

    A pass over a large tree allocates a few small tuples and strings per leaf, and
    on big trees the collector's full scans of the (long-lived) tree then cost as
    much as the work itself. Nothing here creates reference cycles.
    """

    @functools.wraps(fn)
    def paused(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return paused


def _spec(x: Any) -> tuple[tuple | None, Any]:
    """``(shape, dtype)`` of a leaf; Python values are typed by class name."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return tuple(x.shape), x.dtype
    if isinstance(x, (bool, int, float, complex)):
        return (), type(x).__name__
    return None, "None" if x is None else type(x).__name__


def _describe(spec: tuple[tuple | None, Any]) -> str:
    shape, dtype = spec[0], str(spec[1])
    if shape is None or dtype in ("bool", "int", "float", "complex"):
        return dtype
    return f"{dtype}[{','.join(str(d) for d in shape)}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------
# transplant


@dataclasses.dataclass(frozen=True)
class TransplantReport:
    """What `transplant` did, path by path (paths in their string form).

    Attributes:
        copied: ``(destination, source)`` pairs of the leaves copied.
        kept: destination leaves no source leaf was mapped to (left as they were).
        skipped: source leaves that were copied nowhere.
        mismatched: ``(destination, source, destination type, source type)`` of
            the pairs whose shapes or dtypes differ (not copied; types print as
            ``float32[3,4]``).
        casts: ``(destination, source dtype, destination dtype)`` of the copied
            leaves that were cast (only with ``cast=True``).
        unmatched: the mapping entries (``"dst <- src"``) that copied nothing.

    Examples:
        >>> _, report = transplant({"a": 0.0, "b": 0.0}, {"a": 1.0, "c": 2.0})
        >>> report.copied, report.kept, report.skipped, report.ok
        ((('a', 'a'),), ('b',), ('c',), True)
        >>> print(report)
        transplant: 1 copied, 1 kept, 1 skipped, 0 mismatched
        status   destination  source  note
        -------  -----------  ------  ----
        copied   a            a
        kept     b            -
        skipped  -            c
    """

    copied: tuple[tuple[str, str], ...] = ()
    kept: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    mismatched: tuple[tuple[str, str, str, str], ...] = ()
    casts: tuple[tuple[str, str, str], ...] = ()
    unmatched: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing was mismatched and every mapping entry copied."""
        return not self.mismatched and not self.unmatched

    def __str__(self) -> str:
        head = (
            f"transplant: {len(self.copied)} copied, {len(self.kept)} kept, "
            f"{len(self.skipped)} skipped, {len(self.mismatched)} mismatched"
        )
        cast = {d: f"cast {a} -> {b}" for d, a, b in self.casts}
        rows = [("copied", d, s, cast.get(d, "")) for d, s in self.copied]
        rows += [("kept", d, "-", "") for d in self.kept]
        rows += [("skipped", "-", s, "") for s in self.skipped]
        rows += [
            ("mismatched", d, s, f"{td} <- {ts}") for d, s, td, ts in self.mismatched
        ]
        rows += [
            ("unmatched", e, "", "mapping entry copied nothing") for e in self.unmatched
        ]
        if not rows:
            return head
        return head + "\n" + _table(("status", "destination", "source", "note"), rows)


MappingLike = Mapping[PathLike, PathLike]


@_gc_paused
def transplant(
    dst: Any,
    src: Any,
    mapping: MappingLike | None = None,
    *,
    strict: bool = True,
    cast: bool = False,
) -> tuple[Any, TransplantReport]:
    """Copies leaves of ``src`` into ``dst``, where paths match or as mapped.

    Without ``mapping``, every leaf of ``dst`` whose path (string form) is also a
    leaf path of ``src`` gets the leaf of ``src``. With ``mapping``, only what the
    mapping names is copied. Read each entry as an assignment, ``dst[key] =
    src[value]``:

    - each side names nodes, and everything below a node goes along: plain
      paths map one subtree (or one leaf) onto another,
      ``{"params/encoder": "params/backbone"}``, and ``""`` names the root;
    - patterns pair up their wildcards in order: the first wildcard of the
      destination takes what the first wildcard of the source matched, and so
      on. ``**`` pairs with ``**`` (it carries levels over:
      ``{"params/**/kernel": "old/**/w"}``), and a wildcard inside a key (``*``,
      ``?``, ``[...]``) pairs with one inside a key (it carries text:
      ``{"params/block_*": "params/layer_*"}`` fills ``block_3`` from
      ``layer_3``). Both sides need the same sequence of the two kinds; a
      trailing ``**`` does not count (``"a/**"`` means the same as ``"a"``).
      Where a source path can match in several ways, each wildcard takes as
      little as it can, left to right.

    Only leaves that already exist in ``dst`` are filled: the result has the
    structure and container types of ``dst`` (a FrozenDict, a TrainState, a
    `vs.Model` stay what they are), and every subtree with nothing copied into
    it is the very object of ``dst``. Leaves are copied as they are (a NumPy
    array stays a NumPy array), so copied leaves are bit-identical.

    Args:
        dst: the tree to fill (any pytree).
        src: the tree to copy from (any pytree).
        mapping: optional ``{destination: source}`` paths or patterns.
        strict: raise `TransplantError` (carrying ``.report``) when a pair has
            different shapes or dtypes, when a mapping entry copies nothing, or,
            without a mapping, when no path of ``src`` is in ``dst``. With
            ``strict=False`` mismatched leaves of ``dst`` are kept and the
            report says so.
        cast: allow a dtype change: the source leaf is cast to the dtype of the
            destination leaf (shapes must still agree).

    Returns:
        ``(new_dst, report)``, the report a `TransplantReport`.

    Raises:
        TransplantError: on a mismatch or an entry that copies nothing (when
            ``strict``), on a mapping whose wildcards do not pair up, and when
            two sources would fill one destination leaf.

    Examples:
        >>> import numpy as np
        >>> old = {"backbone": {"w": np.ones(2)}, "head": {"w": np.ones(3)}}
        >>> new = {"encoder": {"w": np.zeros(2)}, "head": {"w": np.zeros(5)}}
        >>> out, report = transplant(new, old, {"encoder": "backbone"})
        >>> out["encoder"]["w"], out["head"] is new["head"]
        (array([1., 1.]), True)
        >>> report.copied, report.kept, report.skipped
        ((('encoder/w', 'backbone/w'),), ('head/w',), ('head/w',))
        >>> _, report = transplant(new, old, strict=False)
        >>> report.mismatched
        (('head/w', 'head/w', 'float64[5]', 'float64[3]'),)
    """
    dst_leaves = _tree.walk(dst)
    src_leaves = _tree.walk(src)
    dst_names = [format_path(p) for p, _ in dst_leaves]
    src_names = [format_path(p) for p, _ in src_leaves]
    # Leaves are matched by the string form of their keys (0 and "0" agree).
    dst_index = {_skey(p): i for i, (p, _) in enumerate(dst_leaves)}
    if mapping is None:
        pairs = [
            (i, j)
            for j, (p, _) in enumerate(src_leaves)
            if (i := dst_index.get(_skey(p))) is not None
        ]
        unmatched: list[str] = []
    else:
        pairs, unmatched = _map_pairs(
            mapping, src_leaves, dst_index, dst_names, src_names
        )

    copied, mismatched, casts, updates = [], [], [], {}
    for i, j in pairs:
        d_path, d_leaf = dst_leaves[i]
        s_leaf = src_leaves[j][1]
        value, problem = _fit(s_leaf, d_leaf, cast)
        if problem:
            mismatched.append((dst_names[i], src_names[j], *problem))
            continue
        if value is not s_leaf:
            casts.append((dst_names[i], str(_spec(s_leaf)[1]), str(d_leaf.dtype)))
        copied.append((dst_names[i], src_names[j]))
        updates[d_path] = value

    used_dst = {i for i, _ in pairs}
    used_src = {j for _, j in pairs}
    report = TransplantReport(
        copied=tuple(copied),
        kept=tuple(n for i, n in enumerate(dst_names) if i not in used_dst),
        skipped=tuple(n for j, n in enumerate(src_names) if j not in used_src),
        mismatched=tuple(mismatched),
        casts=tuple(casts),
        unmatched=tuple(unmatched),
    )
    if strict:
        _check(report, mapping is None, dst_leaves, src_leaves, dst, src, mapping)
    return _rebuild(dst, updates), report


def _fit(s_leaf: Any, d_leaf: Any, cast: bool) -> tuple[Any, tuple | None]:
    """The value to store for ``s_leaf`` at ``d_leaf``, or the mismatch."""
    s_dtype = getattr(s_leaf, "dtype", None)
    if s_dtype is not None:  # the common case, without building specs
        d_dtype = getattr(d_leaf, "dtype", None)
        if d_dtype is not None and s_dtype == d_dtype and s_leaf.shape == d_leaf.shape:
            return s_leaf, None
    s_spec, d_spec = _spec(s_leaf), _spec(d_leaf)
    if s_spec == d_spec:
        return s_leaf, None
    castable = (
        cast
        and s_spec[0] == d_spec[0]
        and hasattr(d_leaf, "dtype")
        and (hasattr(s_leaf, "dtype") or isinstance(s_leaf, (int, float, complex)))
    )
    if castable:
        if isinstance(s_leaf, (np.ndarray, np.generic)) or (
            not hasattr(s_leaf, "dtype") and isinstance(d_leaf, np.ndarray)
        ):
            return np.asarray(s_leaf).astype(d_leaf.dtype), None
        return jnp.asarray(s_leaf).astype(d_leaf.dtype), None
    return None, (_describe(d_spec), _describe(s_spec))


def _skey(path: Path) -> tuple[str, ...]:
    return tuple([k if type(k) is str else str(k) for k in path])


def _rebuild(tree: Any, updates: dict[Path, Any]) -> Any:
    """``tree`` with leaves replaced at the given paths, in one pass over a trie."""
    if not updates:
        return tree
    if () in updates:
        return updates[()]
    trie: dict = {}
    for path, value in updates.items():
        node = trie
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = _Leaf(value)
    return _rebuild_node(tree, trie)


class _Leaf:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _rebuild_node(node: Any, trie: dict) -> Any:
    children = dict(_tree.items(node))
    new = {}
    for key, sub in trie.items():
        old = children[key]
        value = sub.value if isinstance(sub, _Leaf) else _rebuild_node(old, sub)
        if value is not old:
            new[key] = value
    return _tree.replace(node, new) if new else node


# -- mapping entries ------------------------------------------------------------

_ANY = "**"
_WILD = re.compile(r"\*|\?|\[!?\]?[^\]]*\]")


class _Side:
    """One side of a mapping entry: its segments and the kinds of its wildcards.

    A segment is ``("**", None)``, ``("key", key)`` or ``("glob", (regex,
    literal pieces, text))``; ``kinds`` lists ``**`` and ``*`` (any in-key
    wildcard) in reading order.
    """

    def __init__(self, path: PathLike) -> None:
        parts = parse_path(path)
        self.segments: list[tuple[str, Any]] = []
        self.kinds: list[str] = []
        for part in parts:
            if part == _ANY:
                self.segments.append((_ANY, None))
                self.kinds.append(_ANY)
            elif isinstance(part, str) and _WILD.search(part):
                pieces = _WILD.split(part)
                tokens = _WILD.findall(part)
                regex = re.escape(pieces[0]) + "".join(
                    _token_regex(t) + re.escape(p) for t, p in zip(tokens, pieces[1:])
                )
                self.segments.append(("glob", (re.compile(regex, re.S), pieces, part)))
                self.kinds.extend("*" * len(tokens))
            else:
                self.segments.append(("key", part))
        # Each side names nodes, and everything below a node goes along: a plain
        # path maps a subtree. A trailing ``**`` (written or not) is on both sides,
        # so it is not one of the ``kinds`` that must pair up.
        if self.segments and self.segments[-1][0] == _ANY:
            self.kinds.pop()
        else:
            self.segments.append((_ANY, None))

    def capture(self, path: Path, i: int = 0, j: int = 0) -> list | None:
        """What each wildcard matched in ``path`` (None when it does not match)."""
        segs = self.segments
        if i == len(segs) - 1 and segs[i][0] == _ANY:  # the trailing "**"
            return [tuple(path[j:])]
        if i == len(segs):
            return [] if j == len(path) else None
        kind, data = segs[i]
        if kind == _ANY:
            for end in range(j, len(path) + 1):
                rest = self.capture(path, i + 1, end)
                if rest is not None:
                    return [tuple(path[j:end]), *rest]
            return None
        if j == len(path):
            return None
        if kind == "key":
            if str(path[j]) != str(data):
                return None
            return self.capture(path, i + 1, j + 1)
        found = data[0].fullmatch(str(path[j]))
        if found is None:
            return None
        rest = self.capture(path, i + 1, j + 1)
        return None if rest is None else [*found.groups(), *rest]

    def fill(self, captures: list) -> Path:
        """The path this side names when its wildcards take ``captures``."""
        out: list = []
        it = iter(captures)
        for kind, data in self.segments:
            if kind == _ANY:
                out.extend(next(it))
            elif kind == "key":
                out.append(data)
            else:
                pieces = data[1]
                out.append(pieces[0] + "".join(next(it) + p for p in pieces[1:]))
        return tuple(out)

    def pattern(self) -> Pattern:
        """The pattern this side matches (for error messages)."""
        return Pattern.compile(
            tuple(
                _ANY if kind == _ANY else data if kind == "key" else data[2]
                for kind, data in self.segments
            )
        )


def _token_regex(token: str) -> str:
    if token == "*":
        return "(.*?)"
    if token == "?":
        return "(.)"
    inner = token[1:-1]
    if inner.startswith("!"):
        inner = "^" + inner[1:]
    return "([" + inner.replace("\\", "\\\\") + "])"


def _entry_text(key: PathLike, value: PathLike) -> str:
    k = key if isinstance(key, str) else format_path(parse_path(key))
    v = value if isinstance(value, str) else format_path(parse_path(value))
    return f"{k} <- {v}"


def _map_pairs(mapping, src_leaves, dst_index, dst_names, src_names):
    entries = []
    for key, value in mapping.items():
        d, s = _Side(key), _Side(value)
        if d.kinds != s.kinds:
            raise TransplantError(
                _MSG_PAIRING.format(
                    entry=_entry_text(key, value),
                    d=" ".join(d.kinds) or "none",
                    s=" ".join(s.kinds) or "none",
                )
            )
        entries.append((_entry_text(key, value), d, s))
    pairs: list[tuple[int, int]] = []
    filled: dict[int, tuple[str, int]] = {}
    unmatched = []
    for text, d, s in entries:
        count = 0
        for j, (path, _) in enumerate(src_leaves):
            captures = s.capture(path)
            if captures is None:
                continue
            i = dst_index.get(_skey(d.fill(captures)))
            if i is None:
                continue
            if i in filled:
                raise TransplantError(
                    _conflict(dst_names[i], filled[i], (text, j), src_names)
                )
            filled[i] = (text, j)
            pairs.append((i, j))
            count += 1
        if not count:
            unmatched.append(text)
    return pairs, unmatched


def _conflict(name, first, second, src_names) -> str:
    (e1, j1), (e2, j2) = first, second
    where = f"entry '{e1}'" if e1 == e2 else f"entries '{e1}' and '{e2}'"
    return (
        f"vs.transplant: the destination leaf '{name}' would be filled twice, from "
        f"'{src_names[j1]}' and from '{src_names[j2]}' (mapping {where}). Make the "
        f"mapping name one source for each destination leaf."
    )


_MSG_PAIRING = (
    "vs.transplant: in the mapping entry '{entry}' the wildcards do not pair up: "
    "the destination has [{d}] and the source has [{s}]. Wildcards pair in order (the "
    "first of the destination takes what the first of the source matched), so both "
    "sides need the same sequence of `**` segments and in-key wildcards (`*`, `?`, "
    "`[...]`, written '*' above). A plain path on both sides maps a whole subtree: "
    "{{'params/encoder': 'params/backbone'}}."
)


# -- strict checks ----------------------------------------------------------------


def _check(report, no_mapping, dst_leaves, src_leaves, dst, src, mapping) -> None:
    if report.mismatched:
        lines = [
            f"  '{d}' is {td}, source '{s}' is {ts}"
            for d, s, td, ts in report.mismatched[:10]
        ]
        more = len(report.mismatched) - len(lines)
        if more:
            lines.append(f"  ... and {more} more")
        hint = (
            "pass strict=False to copy the rest and keep these leaves of dst, or "
            "cast=True to cast source leaves to the destination dtype where only the "
            "dtypes differ"
        )
        raise TransplantError(
            f"vs.transplant: shapes or dtypes differ for "
            f"{_count(len(report.mismatched), 'leaf', 'leaves')}:\n"
            + "\n".join(lines)
            + f"\nTo go on, {hint}.",
            report=report,
        )
    if report.unmatched:
        text = report.unmatched[0]
        key, value = next(
            (k, v) for k, v in mapping.items() if _entry_text(k, v) == text
        )
        raise TransplantError(_why_unmatched(text, key, value, dst, src), report=report)
    if no_mapping and dst_leaves and src_leaves and not report.copied:
        d_ex, s_ex = report.kept[0], report.skipped[0]
        raise TransplantError(
            f"vs.transplant: no leaf path of src is in dst, so nothing was copied "
            f"(dst has e.g. '{d_ex}', src has e.g. '{s_ex}'). Pass a mapping from "
            f"destination to source paths (e.g. {{'': 'params'}} fills dst from the "
            f"subtree 'params' of src), or strict=False to allow an empty transplant.",
            report=report,
        )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _why_unmatched(text: str, key: PathLike, value: PathLike, dst, src) -> str:
    head = f"vs.transplant: the mapping entry '{text}' copies nothing: "
    s, d = _Side(value), _Side(key)
    try:
        find(src, s.pattern())
    except PathError as exc:
        return head + f"in src, {exc}"
    try:
        find(dst, d.pattern())
    except PathError as exc:
        return head + f"its source matches, but in dst, {exc}"
    return head + (
        "its source and destination both match, but no source leaf lands on a "
        "leaf of dst (check that the wildcards carry the right keys over). Pass "
        "strict=False to allow it."
    )


# ---------------------------------------------------------------------------------
# rename

Rule = str | tuple[str, Callable[[Any], Any]]


@_gc_paused
def rename(
    tree: Any,
    rules: Mapping[str, Rule],
    *,
    sep: str = SEP,
    strict: bool = False,
) -> Any:
    """Renames leaf paths with regular expressions: ``{regex: template}``.

    Each leaf's path is written as a string (``"params/layer_0/kernel"``, keys
    joined by ``sep``) and every rule is applied to it in order, each to what
    the previous ones produced, as chained ``re.sub(regex, template, path)``
    calls: the regex may match anywhere (anchor it with ``^``/``$`` to match the
    whole path) and the template may use groups (``\\1``, ``\\g<name>``). A rule
    may also be ``{regex: (template, fn)}``: then ``fn(leaf)`` replaces every
    leaf whose path that rule changed (to transpose a PyTorch ``(out, in)``
    weight into a Flax ``(in, out)`` kernel, say).

    Renaming may change the structure, so the result is built from nested plain
    dicts (a FrozenDict when ``tree`` is one): sequences become dicts keyed by
    ``"0"``, ``"1"``, ... To rename inside a TrainState or a `vs.Model`, rename
    the dict in it: ``vs.at(state).params.apply(lambda p: vs.rename(p, rules))``.

    Args:
        tree: a tree with at least one container (any pytree).
        rules: ``{regex: template}`` or ``{regex: (template, fn)}``.
        sep: the separator the paths are written with.
        strict: raise when a rule matches no path (by default such a rule is
            simply not used).

    Returns:
        The renamed tree; leaves are the same objects unless a rule's ``fn``
        replaced them.

    Raises:
        RenameError: when two paths are renamed onto one (or one onto a prefix
            of another), when a path is renamed to the empty path, when a rule
            is malformed, and (``strict``) when a rule matches nothing.
        StructureError: when ``tree`` is a single leaf.

    Examples:
        >>> tree = {"layer_0": {"w": 1}, "layer_1": {"w": 2}}
        >>> rename(tree, {r"layer_(\\d+)": r"block_\\1"})
        {'block_0': {'w': 1}, 'block_1': {'w': 2}}
        >>> import numpy as np
        >>> torch = {"fc": {"weight": np.zeros((3, 2)), "bias": np.zeros(3)}}
        >>> flax = rename(torch, {r"weight$": ("kernel", np.transpose)})
        >>> flax["fc"]["kernel"].shape
        (2, 3)
    """
    compiled = [_compile_rule(pattern, rule) for pattern, rule in rules.items()]
    leaves = _tree.walk(tree)
    if len(leaves) == 1 and leaves[0][0] == ():
        raise StructureError(
            f"vs.rename renames the paths inside a tree, but got a single leaf of "
            f"type {type(tree).__name__}. Pass the container that holds it."
        )
    used = [False] * len(compiled)
    origin: dict[str, str] = {}
    flat: dict[Path, Any] = {}
    for path, leaf in leaves:
        old = new = format_path(path, sep)
        for n, (regex, template, fn, text) in enumerate(compiled):
            try:
                new, hits = regex.subn(template, new)
            except (re.error, IndexError) as exc:
                raise RenameError(
                    f"vs.rename: the template {template!r} of the rule {text!r} "
                    f"cannot be applied to '{old}': {exc}."
                ) from exc
            if hits:
                used[n] = True
                if fn is not None:
                    leaf = fn(leaf)
        if new in origin:
            raise RenameError(
                f"vs.rename: '{origin[new]}' and '{old}' are both renamed to '{new}'. "
                f"Change the rules so that each path gets its own name (keep a "
                f"distinguishing part with a group, e.g. \\1)."
            )
        target = parse_path(new, sep)
        if not target:
            raise RenameError(
                f"vs.rename: '{old}' is renamed to the empty path. A leaf needs at "
                f"least one key; check the rules' templates."
            )
        origin[new] = old
        flat[target] = leaf
    if strict and not all(used):
        unused = [c[3] for c, u in zip(compiled, used) if not u]
        raise RenameError(
            f"vs.rename: the rule{'s' if len(unused) > 1 else ''} "
            f"{', '.join(map(repr, unused))} matched no path (with strict=True every "
            f"rule must rename something). Paths look like "
            f"'{format_path(leaves[0][0], sep)}'."
            if leaves
            else f"vs.rename: {', '.join(map(repr, unused))} matched no path: the "
            f"tree has no leaves."
        )
    try:
        out = _tree.unflatten(flat, sep=None)
    except PathError:  # one path is a prefix of another: name both sources
        _check_prefixes(flat, origin, sep)
        raise
    return freeze(out) if isinstance(tree, FrozenDict) else out


def _compile_rule(pattern: str, rule: Rule):
    fn = None
    if isinstance(rule, tuple):
        if len(rule) != 2 or not callable(rule[1]):
            raise RenameError(
                f"vs.rename: the rule for {pattern!r} must be a template string or a "
                f"(template, fn) pair with a callable fn, got {rule!r}."
            )
        rule, fn = rule
    if not isinstance(rule, str) or not isinstance(pattern, (str, re.Pattern)):
        raise RenameError(
            f"vs.rename: rules map a regex string to a template string (or a "
            f"(template, fn) pair), got {pattern!r}: {rule!r}."
        )
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise RenameError(
            f"vs.rename: {pattern!r} is not a valid regex: {exc}."
        ) from exc
    return regex, rule, fn, regex.pattern


def _check_prefixes(flat: dict[Path, Any], origin: dict[str, str], sep: str) -> None:
    # Extensions of a path sort right after it, so checking neighbours suffices.
    ordered = sorted(flat)  # keys parsed from strings: all str
    for short, long in zip(ordered, ordered[1:]):
        if long[: len(short)] == short:
            a, b = format_path(short, sep), format_path(long, sep)
            raise RenameError(
                f"vs.rename: '{origin[a]}' is renamed to '{a}' and '{origin[b]}' to "
                f"'{b}': a leaf cannot also hold other leaves. Change the rules so "
                f"that neither path is a prefix of the other."
            )


# ---------------------------------------------------------------------------------
# diff


@dataclasses.dataclass(frozen=True)
class Diff:
    """The differences between two trees, path by path (`diff` makes them).

    Container types are not compared: a dict and a FrozenDict (or a list and a
    tuple) holding the same leaves at the same paths are equal.

    Attributes:
        added: paths of leaves only in the second tree.
        removed: paths of leaves only in the first tree.
        changed_type: ``(path, type in a, type in b)`` where the shape or the
            dtype differs (types print as ``float32[3,4]``).
        changed_value: ``(path, max abs difference)`` where the values differ
            beyond the tolerances (the difference is ``None`` for leaves that are
            not numbers; ``inf`` where only one side is NaN).

    Examples:
        >>> d = diff({"w": 1.0, "old": 0}, {"w": 1.5, "new": 0})
        >>> bool(d), d.added, d.removed, d.changed_value
        (True, ('new',), ('old',), (('w', 0.5),))
        >>> bool(diff({"w": 1.0}, {"w": 1.0})), str(Diff())
        (False, 'no differences')
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed_type: tuple[tuple[str, str, str], ...] = ()
    changed_value: tuple[tuple[str, float | None], ...] = ()
    # path -> (spec in a, spec in b) (None: absent), for the table; set by `diff`.
    _types: Mapping[str, tuple] = dataclasses.field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __bool__(self) -> bool:
        return bool(
            self.added or self.removed or self.changed_type or self.changed_value
        )

    def _types_of(self, path: str) -> tuple[str, str]:
        a, b = self._types.get(path, (None, None))
        return (
            "-" if a is None else _describe(a),
            "-" if b is None else _describe(b),
        )

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path that differs, sorted."""
        return tuple(
            sorted(
                [
                    *self.added,
                    *self.removed,
                    *(p for p, *_ in self.changed_type),
                    *(p for p, _ in self.changed_value),
                ]
            )
        )

    def __str__(self) -> str:
        if not self:
            return "no differences"
        rows = [(p, "added", *self._types_of(p), "") for p in self.added]
        rows += [(p, "removed", *self._types_of(p), "") for p in self.removed]
        rows += [(p, "type", a, b, "") for p, a, b in self.changed_type]
        rows += [
            (p, "value", *self._types_of(p), _num(d)) for p, d in self.changed_value
        ]
        rows.sort(key=lambda r: r[0])
        counts = (
            f"{_count(len(rows), 'path differs', 'paths differ')}: "
            f"{len(self.added)} added, {len(self.removed)} "
            f"removed, {len(self.changed_type)} changed type, "
            f"{len(self.changed_value)} changed value"
        )
        header = ("path", "change", "a", "b", "max |a-b|")
        return counts + "\n" + _table(header, rows)


def _num(d: float | None) -> str:
    return "?" if d is None else f"{d:.4g}"


@_gc_paused
def diff(a: Any, b: Any, *, atol: float = 0.0, rtol: float = 0.0) -> Diff:
    """Compares two trees leaf by leaf, matching leaves by path.

    A leaf counts as changed in value when, anywhere, ``|a - b| > atol + rtol *
    |b|`` (with the default tolerances: when any element differs at all; NaN
    equals NaN). Values are compared on the host, so call it outside `jax.jit`.

    Args:
        a: the first tree (any pytree: arrays, NumPy arrays, scalars, None...).
        b: the second tree.
        atol: absolute tolerance.
        rtol: relative tolerance (relative to ``b``).

    Returns:
        A `Diff`: falsy when the trees agree, printed as a table otherwise.

    Raises:
        StructureError: when a leaf is a traced value (inside `jax.jit`).

    Examples:
        >>> import numpy as np
        >>> old = {"w": np.zeros(3), "b": 1.0, "step": 0}
        >>> new = {"w": np.array([0.0, 0.5, 0.0]), "b": 1.0, "extra": None}
        >>> d = diff(old, new)
        >>> d.added, d.removed, d.changed_value
        (('extra',), ('step',), (('w', 0.5),))
        >>> print(d)
        3 paths differ: 1 added, 1 removed, 0 changed type, 1 changed value
        path   change   a           b           max |a-b|
        -----  -------  ----------  ----------  ---------
        extra  added    -           None
        step   removed  int         -
        w      value    float64[3]  float64[3]  0.5
        >>> bool(diff(old, dict(old)))
        False
    """
    la = {format_path(p): x for p, x in _tree.walk(a)}
    lb = {format_path(p): x for p, x in _tree.walk(b)}
    for name, x in (*la.items(), *lb.items()):
        if isinstance(x, jax.core.Tracer):
            raise StructureError(
                f"vs.diff compares values on the host, but the leaf at '{name}' is a "
                f"traced value (inside jax.jit or another transformation). Call "
                f"vs.diff outside the transformation, on the concrete results."
            )
    types: dict[str, tuple] = {}  # (spec in a, spec in b) of the paths that differ
    changed_type, changed_value = [], []
    for name, x in la.items():
        if name not in lb:
            types[name] = (_spec(x), None)
            continue
        y = lb[name]
        if not _same_type(x, y):
            changed_type.append((name, _describe(_spec(x)), _describe(_spec(y))))
            continue
        changed, largest = _compare(x, y, atol, rtol)
        if changed:
            types[name] = (_spec(x), _spec(y))
            changed_value.append((name, largest))
    for name, y in lb.items():
        if name not in la:
            types[name] = (None, _spec(y))
    result = Diff(
        added=tuple(n for n in lb if n not in la),
        removed=tuple(n for n in la if n not in lb),
        changed_type=tuple(changed_type),
        changed_value=tuple(changed_value),
    )
    object.__setattr__(result, "_types", types)
    return result


def _same_type(x: Any, y: Any) -> bool:
    dx = getattr(x, "dtype", None)
    if dx is not None:  # the common case, without building specs
        dy = getattr(y, "dtype", None)
        if dy is not None and dx == dy and x.shape == y.shape:
            return True
    return _spec(x) == _spec(y)


def _compare(x: Any, y: Any, atol: float, rtol: float) -> tuple[bool, float | None]:
    """(changed, max abs difference) of two leaves of one shape and dtype."""
    if x is y:
        return False, 0.0
    if not (hasattr(x, "dtype") or isinstance(x, (bool, int, float, complex))):
        try:
            return not bool(x == y), None
        except Exception:  # a leaf type whose == is not a truth value
            return True, None
    try:
        xa, ya = np.asarray(x), np.asarray(y)
    except Exception:  # e.g. typed PRNG keys: compare their key data
        xa = np.asarray(jax.random.key_data(x))
        ya = np.asarray(jax.random.key_data(y))
    kind = xa.dtype.kind
    if kind not in "biufc" and not (
        kind == "V" and jnp.issubdtype(xa.dtype, np.number)
    ):
        return not np.array_equal(xa, ya), None
    xa, ya = xa.reshape(-1), ya.reshape(-1)  # 0-d arrays too support masks then
    same = xa == ya
    if np.count_nonzero(same) == same.size:  # equal: nothing to measure
        return False, 0.0
    if kind in "fc" or (kind == "V" and jnp.issubdtype(xa.dtype, jnp.inexact)):
        same |= np.isnan(xa) & np.isnan(ya)  # NaN equals NaN
        if np.count_nonzero(same) == same.size:
            return False, 0.0
    wide = np.complex128 if kind == "c" else np.float64
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(xa.astype(wide) - ya.astype(wide))
    gap[same] = 0.0
    gap[np.isnan(gap)] = np.inf  # one side NaN, or infinities of opposite signs
    if atol == 0 and rtol == 0:
        changed = True
    else:
        bound = atol + (rtol * np.abs(ya.astype(wide)) if rtol else 0.0)
        changed = bool(np.any(~same & ((gap > bound) | np.isinf(gap))))
    return changed, float(gap.max())
