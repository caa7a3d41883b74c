"""Functional path editing: ``vs.at(tree)[...]``.

=============================================  ===================================
Functional form                                In-place equivalent (not allowed)
=============================================  ===================================
``tree = vs.at(tree)["a"]["b"].set(v)``        ``tree["a"]["b"] = v``
``tree = vs.at(tree, "a/b").apply(f)``         ``tree["a"]["b"] = f(tree["a"]["b"])``
``tree = vs.at(tree, "a/b").add(v)``           ``tree["a"]["b"] += v``
``tree = vs.at(tree, "a/b").multiply(v)``      ``tree["a"]["b"] *= v``
``tree = vs.at(tree, "a/b").divide(v)``        ``tree["a"]["b"] /= v``
``tree = vs.at(tree, "a/b").delete()``         ``del tree["a"]["b"]``
``x = vs.at(tree, "a/b").get()``               ``x = tree["a"]["b"]``
=============================================  ===================================

Only the nodes on the edited path(s) are rebuilt; every other subtree of the result
is the very object of the input, and the input is never changed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from flax.core import FrozenDict

from . import _tree
from ._errors import PathError
from ._paths import (
    ANY_DEPTH,
    Key,
    Path,
    PathLike,
    Pattern,
    closest,
    describe_keys,
    format_path,
    is_pattern,
    parse_path,
)

_DELETE = object()


class At:
    """A place (a path or a pattern) in a tree, with functional edit operations.

    Made by `at`. Index it (``[key]``) or use attribute access (``.params``) to go
    one level deeper; finish with a terminal operation, which returns a new tree.
    A field whose name is also an operation (``get``, ``set``, ``apply``, ...) is
    reached with the index form: ``vs.at(obj)["apply"]``.
    """

    __slots__ = ("_tree", "_path", "_pattern")

    def __init__(self, tree: Any, path: Path = (), pattern: bool = False) -> None:
        self._tree = tree
        self._path = path
        self._pattern = pattern

    def __getitem__(self, key: Key) -> At:
        new = _new_at(At)
        new._tree = self._tree
        new._path = self._path + (key,)
        new._pattern = self._pattern
        return new

    def __getattr__(self, name: str) -> At:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __setitem__(self, key: Key, value: Any) -> None:
        raise TypeError(_MSG_NO_ASSIGN.format(step=f"[{key!r}]"))

    def __repr__(self) -> str:
        return f"vs.at(<{type(self._tree).__name__}>, {self._text()!r})"

    def _text(self) -> str:
        return format_path(self._path)

    # -- terminal operations -------------------------------------------------------

    def get(self) -> Any:
        """The value at the path; for a pattern, ``{path string: value}``.

        Examples:
            >>> tree = {"a": {"w": 1, "b": 2}, "c": {"w": 3}}
            >>> at(tree)["a"]["w"].get()
            1
            >>> at(tree, "*/w").get()
            {'a/w': 1, 'c/w': 3}
        """
        if not self._pattern:
            return _tree.get(self._tree, self._path)
        return {format_path(p): _tree.get(self._tree, p) for p in self._matches()}

    def set(self, value: Any) -> Any:
        """A new tree with ``value`` at the path (at every match of a pattern).

        A missing last key is added to a mapping; a missing intermediate key is an
        error.

        Examples:
            >>> at({"a": {"w": 1}})["a"]["w"].set(5)
            {'a': {'w': 5}}
            >>> at({"a": {}})["a"]["new"].set(1)
            {'a': {'new': 1}}
        """
        if not self._pattern and self._path:
            tree = self._tree
            if type(tree) is FrozenDict:
                new = _edit_dicts(tree._dict, self._path, None, True, _tree._unwrap(value))
                if new is not _FALLBACK:
                    return tree if new is tree._dict else _tree.frozendict_of(new)
            else:
                new = _edit_dicts(tree, self._path, None, True, value)
                if new is not _FALLBACK:
                    return new
        return self._edit(lambda _: value, add=True)

    def apply(self, fn: Callable[[Any], Any]) -> Any:
        """A new tree with ``fn(old)`` at the path (``old`` may be a subtree).

        Examples:
            >>> at({"a": 2}, "a").apply(lambda x: x * 10)
            {'a': 20}
        """
        return self._edit(fn)

    def add(self, value: Any) -> Any:
        """Adds ``value`` to every leaf at the path.

        Examples:
            >>> at({"a": {"x": 1, "y": 2}}, "a").add(10)
            {'a': {'x': 11, 'y': 12}}
        """
        return self._edit(_leafwise(lambda x: x + value))

    def multiply(self, value: Any) -> Any:
        """Multiplies every leaf at the path by ``value``.

        Examples:
            >>> at({"k": 3.0}, "k").multiply(2)
            {'k': 6.0}
        """
        return self._edit(_leafwise(lambda x: x * value))

    def divide(self, value: Any) -> Any:
        """Divides every leaf at the path by ``value``.

        Examples:
            >>> at({"k": 3.0}, "k").divide(2)
            {'k': 1.5}
        """
        return self._edit(_leafwise(lambda x: x / value))

    def delete(self) -> Any:
        """A new tree without the entry at the path (a mapping key or list item).

        Examples:
            >>> at({"a": 1, "b": 2})["b"].delete()
            {'a': 1}
        """
        return self._edit(lambda _: _DELETE, delete=True)

    # -- machinery -----------------------------------------------------------------

    def _edit(self, op: Callable[[Any], Any], add: bool = False, delete: bool = False):
        if not self._path:
            if delete:
                raise PathError("cannot delete the root of a tree", path=())
            return op(self._tree)
        if not self._pattern:
            tree = self._tree
            if not delete and type(tree) is FrozenDict:
                new = _edit_dicts(
                    tree._dict, self._path, _in_frozendict(op), add
                )
                if new is not _FALLBACK:
                    return tree if new is tree._dict else _tree.frozendict_of(new)
            elif not delete:
                new = _edit_dicts(tree, self._path, op, add)
                if new is not _FALLBACK:
                    return new
            return _edit_path(self._tree, self._path, op, add=add, delete=delete)
        trie: dict = {}
        for path in self._matches():
            node = trie
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = _HERE
        return _edit_trie(self._tree, trie, op, delete)

    def _matches(self) -> list[Path]:
        pattern = Pattern.compile(self._path)
        return find(self._tree, pattern)


_HERE = object()

_MSG_NO_ASSIGN = (
    "vs.at(...) is functional and does not support assignment. Instead of "
    "`at(tree){step} = v`, write `tree = vs.at(tree){step}.set(v)`, or edit a draft: "
    "`with vs.unfrozen(tree) as d: ...`."
)


_new_at = object.__new__


_FALLBACK = object()
_ARRAY_LEAVES = (jax.Array, np.ndarray, np.generic, int, float, complex)


def _leafwise(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if isinstance(value, _ARRAY_LEAVES):
            return fn(value)
        return jax.tree_util.tree_map(fn, value)

    return apply


def _in_frozendict(op: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # Inside a FrozenDict nested dicts are stored raw: show them to ``op`` as
    # FrozenDicts and store what it returns raw again.
    def inner(old: Any) -> Any:
        new = op(_tree._wrap(old))
        return old if new is old else _tree._unwrap(new)

    return inner


def _edit_dicts(tree: Any, path: Path, op, add: bool, value: Any = None) -> Any:
    """Edits a path that runs through plain dicts only, without the general machinery.

    Returns ``_FALLBACK`` when the path leaves plain dicts or a key is missing (the
    caller then takes the general route, which also produces the error messages).
    """
    n = len(path)
    fn = _DICT_EDITORS.get(n)
    if fn is None:
        fn = _DICT_EDITORS[n] = _make_dict_editor(n)
    return fn(tree, path, op, add, value, _FALLBACK)


_DICT_EDITORS: dict[int, Callable] = {}


def _make_dict_editor(n: int) -> Callable:
    # One straight-line function per path length: the loop-free form of
    # ``{**t, k0: {**t[k0], k1: v}}`` runs about twice as fast as a loop over keys.
    keys = ", ".join(f"k{i}" for i in range(n))
    lines = [f"def edit(n0, path, op, add, value, FB):", f"    {keys}, = path"]
    for i in range(n):
        lines.append(f"    if type(n{i}) is not dict: return FB")
        if i < n - 1:
            lines.append(f"    n{i + 1} = n{i}.get(k{i}, FB)")
    last = n - 1
    lines += [
        f"    old = n{last}.get(k{last}, FB)",
        "    if op is not None:",
        "        if old is FB and not add: return FB",
        "        value = op(None if old is FB else old)",
        "    if value is old: return n0",
        f"    c = n{last}.copy(); c[k{last}] = value",
    ]
    for i in range(last - 1, -1, -1):
        lines.append(f"    p = n{i}.copy(); p[k{i}] = c; c = p")
    lines.append("    return c")
    namespace: dict = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from integers only
    return namespace["edit"]


@functools.lru_cache(maxsize=2048)
def _parse_at(path: str | tuple) -> tuple[Path, bool]:
    parts = parse_path(path)
    return parts, is_pattern(parts)


def at(tree: Any, path: PathLike | None = None) -> At:
    """Starts a functional edit of ``tree`` at a path or pattern.

    Args:
        tree: any pytree (dicts, FrozenDicts, lists, tuples, NamedTuples,
            registered dataclasses, a `vs.Model`, ...).
        path: optional path (``"params/Dense_0/kernel"`` or a tuple) or pattern
            (``"params/**/kernel"``) to start from; more steps may follow with
            ``[key]`` or ``.name``.

    Returns:
        An `At` whose terminal operations (``get set apply add multiply divide
        delete``) return a new tree of the same container types; every subtree off
        the edited paths is shared with ``tree``.

    Raises:
        PathError: (from the terminal operation) when a path is missing or a
            pattern matches nothing; the message names the failing segment and the
            closest existing keys.

    Examples:
        >>> params = {"Dense_0": {"kernel": 2.0, "bias": 1.0}, "head": {"kernel": 4.0}}
        >>> at(params)["Dense_0"]["bias"].set(0.0)
        {'Dense_0': {'kernel': 2.0, 'bias': 0.0}, 'head': {'kernel': 4.0}}
        >>> at(params, "**/kernel").multiply(0.5)
        {'Dense_0': {'kernel': 1.0, 'bias': 1.0}, 'head': {'kernel': 2.0}}
        >>> new = at(params, "Dense_0/bias").set(0.0)
        >>> new["head"] is params["head"]
        True
    """
    ref = _new_at(At)
    ref._tree = tree
    if path is None:
        ref._path = ()
        ref._pattern = False
        return ref
    if not isinstance(path, (str, tuple)):
        path = parse_path(path)
    ref._path, ref._pattern = _parse_at(path)
    return ref


def _edit_path(tree: Any, path: Path, op, *, add: bool, delete: bool) -> Any:
    # Walk down, remembering each node and resolved key, then rebuild upwards.
    nodes = []
    keys = []
    node = tree
    last = len(path) - 1
    for depth, key in enumerate(path):
        t = type(node)
        if t is dict and key in node:
            k = key
            nxt = node[k]
        elif depth == last and (add or delete) and _tree._is_mapping(node) and not _has(
            node, key
        ):
            if delete:
                k = _tree.resolve_key(node, key, path=path, depth=depth)  # raises
            nodes.append(node)
            keys.append(key)
            node = _MISSING
            break
        else:
            k = _tree.resolve_key(node, key, path=path, depth=depth)
            nxt = _tree.child(node, k, path=path, depth=depth)
        nodes.append(node)
        keys.append(k)
        node = nxt
    new = op(node) if node is not _MISSING else op(None)
    if new is node:
        return tree
    parent, k = nodes[-1], keys[-1]
    if new is _DELETE:
        value = _tree.replace(parent, {}, (k,))
    elif type(parent) is dict:
        value = parent.copy()
        value[k] = new
    else:
        value = _tree.replace(parent, {k: new})
    for i in range(len(nodes) - 2, -1, -1):
        parent = nodes[i]
        if type(parent) is dict:
            rebuilt = parent.copy()
            rebuilt[keys[i]] = value
            value = rebuilt
        else:
            value = _tree.replace(parent, {keys[i]: value})
    return value


_MISSING = object()


def _has(node: Any, key: Key) -> bool:
    try:
        _tree.resolve_key(node, key)
    except PathError:
        return False
    return True


def _edit_trie(node: Any, trie: dict, op, delete: bool) -> Any:
    updates = {}
    deletes = []
    opened = dict(_tree.items(node))
    for key, sub in trie.items():
        old = opened[key]
        if sub is _HERE:
            new = op(old)
            if new is _DELETE:
                deletes.append(key)
                continue
        else:
            new = _edit_trie(old, sub, op, delete)
        if new is not old:
            updates[key] = new
    if not updates and not deletes:
        return node
    return _tree.replace(node, updates, tuple(deletes))


def find(tree: Any, pattern: Pattern) -> list[Path]:
    """Paths of the shallowest nodes (or leaves) whose path matches ``pattern``.

    Raises:
        PathError: when nothing matches; the message names the deepest place the
            pattern reached, the segment that failed there and the closest keys.
    """
    found: list[Path] = []
    best = {"depth": -1}

    def visit(node: Any, prefix: Path, states: frozenset) -> None:
        if pattern.accepts(states):
            found.append(prefix)
            return
        pairs = _tree.items(node)
        if pairs is None:
            if "keys" not in best or not best["keys"]:
                _note(best, prefix, states, node, [])
            return
        literal = pattern.literal_keys(states)
        if literal is not None:
            lookup = {}
            for key in literal:
                if type(node) is dict and key in node:
                    lookup[key] = node[key]
                elif _has(node, key):
                    k = _tree.resolve_key(node, key)
                    lookup[k] = _tree.child(node, k)
            candidates = list(lookup.items())
        else:
            candidates = pairs
        concrete = False
        for key, value in candidates:
            nxt = pattern.step(states, key)
            if nxt:
                concrete |= not nxt <= states  # moved past a "**"
                visit(value, prefix + (key,), nxt)
        if not concrete:
            _note(best, prefix, states, node, [k for k, _ in pairs])

    visit(tree, (), pattern.start)
    if not found:
        raise _no_match(pattern, best)
    return found


def _note(best: dict, prefix: Path, states, node, keys) -> None:
    # Prefer the deepest container where no key matched; a leaf only when no
    # container failed.
    if keys and not best.get("keys"):
        best["depth"] = -1
    if len(prefix) > best["depth"]:
        best.update(depth=len(prefix), prefix=prefix, states=states, keys=keys, node=node)


def _no_match(pattern: Pattern, best: dict) -> PathError:
    prefix = best.get("prefix", ())
    keys = best.get("keys", [])
    expected = pattern.pending(best.get("states", frozenset()))
    where = f"'{format_path(prefix)}'" if prefix else "the root"
    segment = next((e for e in expected if e != repr(ANY_DEPTH)), expected[0] if expected else None)
    if keys:
        msg = (
            f"the pattern '{pattern.text}' matches nothing: at {where} no key matches "
            f"{segment!r}. Existing keys there: {describe_keys(keys)}."
        )
        near = closest(segment, keys) if segment else []
        if near:
            msg += f" Did you mean {', '.join(repr(n) for n in near)}?"
    else:
        node = best.get("node")
        msg = (
            f"the pattern '{pattern.text}' matches nothing: it reaches {where}, which "
            f"is a leaf of type {type(node).__name__}, still expecting {segment!r}."
        )
    return PathError(msg, path=pattern.segments, segment=segment, available=tuple(keys))
