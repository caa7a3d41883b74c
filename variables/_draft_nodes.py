"""Draft proxies: mutable stand-ins for the nodes of an immutable tree.

A `Scope` is the shared state of one edit (one ``vs.unfrozen`` block, one
``vs.produce`` or ``vs.mutable`` call). Reading a container out of a draft gives a
draft of that container, made on first access and kept; nothing else is opened.

Each draft keeps its original children (``_vs_orig``, never copied) and, in
``_vs_touched``, the children that may differ from them: drafts handed out, array
copies, assigned values. Only a change to the key set (adding or deleting a key, any
structural list edit) makes a full shallow copy (``_vs_items``). Finishing visits the
drafts that were reached and, in each, the touched keys, then rebuilds the node with
`_tree.replace`, so it keeps its type and shares every untouched child.

Container kinds matter only here:

* `MappingDraft` (dict, FrozenDict, any registered Mapping): MutableMapping.
* `ListDraft` (list): MutableSequence.
* `TupleDraft` (tuple): item assignment, fixed length.
* `RecordDraft` (NamedTuple, registered dataclasses, any other registered node):
  attribute and item assignment on fixed fields, static dataclass fields included.
"""

from __future__ import annotations

import copy as _copy
import dataclasses
import inspect
import operator
import types
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any, Final

import jax
import numpy as np
from flax.core import FrozenDict

from . import _tree
from ._errors import DraftError, FieldError, PathError, StructureError
from ._paths import closest, describe_keys

_OPEN, _SEALED, _DEAD = 0, 1, 2
_MISSING = object()
_BUSY = object()
# Immutable leaf types, recognised by `type(x) in _PLAIN` before any isinstance
# test. `Draft._vs_child` adds the JAX array and tracer types it meets (making an
# array here would start JAX's backend at import time).
_PLAIN = {int, float, bool, complex, str, bytes} | {
    np.dtype(c).type for c in "?bhilqBHILQefdgFDG"
}
_LEAF_TYPES = _tree._LEAF_TYPES
_frozen = _tree.frozendict_of  # a FrozenDict over a dict, without a copy
_unwrap = _tree._unwrap  # what a FrozenDict stores for a value

_MSG_SEALED: Final = (
    "cannot {op} this draft: it was sealed when {who} ended, and a sealed draft "
    "never changes again. Take the finished tree with `new = vs.result(draft)` and "
    "edit that in a new block: `with vs.unfrozen(new) as draft: ...`. If a draft was "
    "stored somewhere or returned from the block, store a snapshot instead: "
    "`vs.current(draft)`."
)
_MSG_DEAD: Final = (
    "cannot {op} this draft: {who} raised an exception, so its draft was discarded "
    "and the input tree is unchanged. Start again from the input tree."
)
_MSG_FOREIGN: Final = (
    "a draft made by another block (another `vs.unfrozen`, `vs.produce` or "
    "`vs.mutable` call) cannot be stored in this one. Store a snapshot of it "
    "instead: `vs.current(other)` while its block runs, `vs.result(other)` after."
)
_MSG_CYCLE: Final = (
    "a draft of a {kind} was stored inside itself, so the tree would contain itself, "
    "which no pytree can. Store a snapshot instead: `draft[key] = vs.current(sub)`."
)
_MSG_LEAF_ROOT: Final = (
    "{who} needs a container to edit (a dict, FrozenDict, list, tuple, NamedTuple or "
    "registered dataclass), got a leaf of type {type}. A leaf is not edited in place; "
    "compute the new value directly: `new = f(old)`."
)


class _Memo:
    """One finishing pass. Drafts record it in ``_vs_memo``; array copies are
    looked up in ``arrays`` (by ``id``)."""

    __slots__ = ("snapshot", "arrays")

    def __init__(self, snapshot: bool) -> None:
        self.snapshot = snapshot  # for `vs.current`: array copies are copied again
        self.arrays: dict[int, tuple] = {}


class Scope:
    """The shared state of one edit: its drafts, array copies and finished results."""

    __slots__ = ("state", "writes", "who", "copies", "memo")

    def __init__(self, who: str) -> None:
        self.state = _OPEN
        self.writes = 0
        self.who = who
        self.copies: dict[int, tuple] = {}  # id(copy) -> (source, copy)
        self.memo: _Memo | None = None

    def root(self, tree: Any) -> Draft:
        """The draft at the top of this scope's tree."""
        if isinstance(tree, Draft):
            tree = snapshot(tree)
        draft = self.draft(tree)
        if draft is None:
            raise StructureError(
                _MSG_LEAF_ROOT.format(who=self.who, type=type(tree).__name__)
            )
        return draft

    def draft(self, value: Any, wrap: bool = False) -> Draft | None:
        """The draft of a container, None for a leaf.

        ``wrap`` marks a dict that a FrozenDict holds: its draft works on the raw
        dict (FrozenDict flavour, see `_rebuild` and `_public`).
        """
        t = type(value)
        if t is dict:
            return _dict_draft(self, value, wrap)
        if t is list:
            return ListDraft._vs_make(self, value)
        if t is FrozenDict:
            return MappingDraft._vs_make(self, value)
        if t is tuple:
            return TupleDraft._vs_make(self, value)
        if value is None or isinstance(value, _LEAF_TYPES):
            return None
        if isinstance(value, Mapping) and not dataclasses.is_dataclass(value):
            return MappingDraft._vs_make(self, value)
        return RecordDraft._vs_make(self, value)

    def copy_array(self, array: np.ndarray) -> np.ndarray:
        """A private copy of a writable NumPy array (the array, if it is one)."""
        if self._is_copy(array):
            return array
        copy = array.copy()
        self.copies[id(copy)] = (array, copy)
        return copy

    def seal(self, root: Draft) -> Any:
        """Finishes the tree, then seals every draft of the scope."""
        memo = _Memo(snapshot=False)
        try:
            out = root._vs_finish(memo)
        except BaseException:
            self.state = _DEAD
            raise
        self.memo = memo
        self.state = _SEALED
        return out

    def kill(self) -> None:
        self.state = _DEAD

    def finish(self, value: Any, memo: _Memo) -> Any:
        """The finished form of a value held by a draft."""
        if value is None or type(value) in _PLAIN:
            return value
        if isinstance(value, Draft):
            if value._vs_scope is not self:
                raise DraftError(_MSG_FOREIGN)
            return value._vs_finish(memo)
        if isinstance(value, np.ndarray):
            return self._finish_array(value, memo)
        if isinstance(value, _LEAF_TYPES):
            if isinstance(value, jax.Array):
                _PLAIN.add(type(value))
            return value
        # A container the block assigned: it may hold drafts or array copies.
        leaves = jax.tree_util.tree_leaves(value, is_leaf=_is_draft)
        if not any(isinstance(x, Draft) or self._is_copy(x) for x in leaves):
            return value
        return jax.tree_util.tree_map(
            lambda x: _public(x, self.finish(x, memo)), value, is_leaf=_is_draft
        )

    def _is_copy(self, x: Any) -> bool:
        found = self.copies.get(id(x))
        return found is not None and found[1] is x

    def _finish_array(self, array: np.ndarray, memo: _Memo) -> Any:
        if not self._is_copy(array):
            return array
        done = memo.arrays.get(id(array))
        if done is not None:
            return done[1]
        source = self.copies[id(array)][0]
        out = source if _same_content(source, array) else array
        if out is array and memo.snapshot:
            out = array.copy()
        memo.arrays[id(array)] = (array, out)
        return out


def _is_draft(x: Any) -> bool:
    return isinstance(x, Draft)


def _same_content(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality (so NaN equals itself and -0.0 differs from 0.0)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.hasobject:
        return all(x is y for x, y in zip(a.flat, b.flat))
    a = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    b = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    return memoryview(a) == memoryview(b)


def _kind(draft: Draft) -> str:
    return "FrozenDict" if draft._vs_frozen else type(draft._vs_base).__name__


def _public(held: Any, new: Any) -> Any:
    """A finished value as it leaves the draft world.

    A draft of a FrozenDict's nested dict finishes as a raw dict (its parent stores
    it as it is); anywhere else it is a FrozenDict.
    """
    if type(new) is dict and type(held) is MappingDraft and held._vs_frozen:
        return _frozen(new)
    return new


def _stored(frozen: bool, held: Any, new: Any) -> Any:
    """A finished value as its parent stores it: raw in a FrozenDict, else public."""
    if type(new) is dict and type(held) is MappingDraft and held._vs_frozen:
        return new if frozen else _frozen(new)
    return _unwrap(new) if frozen else new


def _closed(draft: Draft, op: str) -> DraftError:
    scope = draft._vs_scope
    msg = _MSG_DEAD if scope.state == _DEAD else _MSG_SEALED
    return DraftError(msg.format(op=op, who=scope.who))


def _adopt(scope: Scope, value: Any) -> None:
    """Refuses to store a draft of another scope."""
    if isinstance(value, Draft) and value._vs_scope is not scope:
        raise DraftError(_MSG_FOREIGN)


def snapshot(draft: Draft) -> Any:
    """The tree a draft stands for right now (the finished one once sealed)."""
    scope = draft._vs_scope
    if scope.state == _OPEN:
        return _public(draft, draft._vs_finish(_Memo(snapshot=True)))
    if scope.state == _DEAD:
        raise _closed(draft, "take a snapshot of")
    return _public(draft, draft._vs_finish(scope.memo))


def _rebuild(draft: Draft, memo: _Memo) -> Any:
    """The finished node of a draft whose key set did not change.

    This is the hot loop of every finish: it visits only the touched keys, with the
    finishing of child drafts (`Draft._vs_finish`) inlined. A FrozenDict-flavoured
    draft (``_vs_frozen``) works on raw dicts: its nested dicts finish raw, and only
    the root FrozenDict (or `_public`) wraps them.
    """
    orig, frozen = draft._vs_orig, draft._vs_frozen
    updates = None
    for key, held in draft._vs_touched.items():
        old = orig[key]
        if type(held) in _DRAFTS:
            if held._vs_memo is memo:  # `held._vs_finish(memo)`, inlined
                new = held._vs_out
                if new is _BUSY:
                    raise DraftError(_MSG_CYCLE.format(kind=_kind(held)))
            else:
                held._vs_memo, held._vs_out = memo, _BUSY
                if type(held) is MappingDraft and held._vs_items is None:
                    new = held._vs_out = _rebuild(held, memo)
                else:
                    new = held._vs_out = held._vs_build(memo)
            if new is old:
                continue
            if frozen or held._vs_frozen:
                new = _stored(frozen, held, new)
        elif held is None or type(held) in _PLAIN:
            if held is old:
                continue
            new = held
        else:
            new = draft._vs_scope.finish(held, memo)
            if new is old:
                continue
            if frozen:
                new = _unwrap(new)
        if updates is None:
            updates = {}
        updates[key] = new
    base = draft._vs_base
    if updates is None:
        return base
    t = type(base)
    if t is dict:  # `_tree.replace` for dicts, inlined (raw dicts of FrozenDicts too)
        base = base.copy()
        base.update(updates)
        return base
    if t is FrozenDict:  # the updates are stored values already
        inner = base._dict.copy()
        inner.update(updates)
        return _frozen(inner)
    return _tree.replace(base, updates)


# ---------------------------------------------------------------------------------
# The proxies


class Draft:
    """Base of the draft proxies (see the module docstring)."""

    __slots__ = (
        "_vs_scope",  # the Scope
        "_vs_base",  # the node this draft started from
        "_vs_orig",  # the original children: a mapping or a sequence
        "_vs_touched",  # key -> held value that may differ from the original
        "_vs_items",  # None, or all current children once the key set changed
        "_vs_frozen",  # FrozenDict flavour: nested dicts are drafted as FrozenDicts
        "_vs_memo",  # the _Memo of the last finish that reached this draft
        "_vs_out",  # what that finish gave (_BUSY while it runs)
    )
    __hash__ = None  # type: ignore[assignment]  # mutable, like the plain containers

    def _vs_init(self, scope: Scope, base: Any, orig: Any) -> None:
        self._vs_scope = scope
        self._vs_base = base
        self._vs_orig = orig
        self._vs_touched = {}
        self._vs_items = None
        self._vs_frozen = False
        self._vs_memo = None

    def _vs_held(self, key: Any) -> Any:
        """The value held at an existing key (KeyError / IndexError when missing)."""
        items = self._vs_items
        if items is not None:
            return items[key]
        held = self._vs_touched.get(key, _MISSING)
        return self._vs_orig[key] if held is _MISSING else held

    def _vs_child(self, key: Any, value: Any) -> Any:
        """What reading ``key`` gives: a draft for a container, else the leaf.

        A writable NumPy array is replaced by the scope's copy, so in-place NumPy
        operations never reach the input.
        """
        t = type(value)
        if t is dict or t is tuple or t is list or t is FrozenDict:
            pass
        elif value is None or t in _PLAIN or t in _DRAFTS:
            return value
        elif isinstance(value, np.ndarray):
            if not value.flags.writeable:
                return value
            copy = self._vs_scope.copy_array(value)
            if copy is not value:
                self._vs_store(key, copy)
            return copy
        elif isinstance(value, _LEAF_TYPES):
            if isinstance(value, jax.Array):
                _PLAIN.add(t)
            return value
        elif isinstance(value, Draft):
            return value
        wrap = self._vs_frozen and t is dict and self._vs_orig.get(key) is value
        child = self._vs_scope.draft(value, wrap)
        if child is None:
            return value
        self._vs_store(key, child)
        return child

    def _vs_store(self, key: Any, value: Any) -> None:
        self._vs_touched[key] = value
        items = self._vs_items
        if items is not None:
            items[key] = value

    def _vs_finish(self, memo: _Memo) -> Any:
        """The finished node, built once per finish (`_rebuild` inlines this)."""
        if self._vs_memo is memo:
            out = self._vs_out
            if out is _BUSY:
                raise DraftError(_MSG_CYCLE.format(kind=_kind(self)))
            return out
        self._vs_memo, self._vs_out = memo, _BUSY
        out = self._vs_out = self._vs_build(memo)
        return out

    def _vs_build(self, memo: _Memo) -> Any:
        return _rebuild(self, memo)

    def _vs_shallow(self) -> Any:
        """The node with its current children (drafts for containers), unfinished."""
        raise NotImplementedError  # pragma: no cover

    def __eq__(self, other: object) -> bool:
        if self._vs_scope.state:
            raise _closed(self, "compare")
        if isinstance(other, Draft):
            other = snapshot(other)
        return snapshot(self) == other

    def __repr__(self) -> str:
        state = self._vs_scope.state
        if state == _OPEN:
            return f"draft({snapshot(self)!r})"
        if state == _SEALED:
            return f"<sealed draft of a {_kind(self)}: vs.result(draft) is the tree>"
        return f"<discarded draft of a {_kind(self)}>"

    def __copy__(self) -> Any:
        if self._vs_scope.state:
            raise _closed(self, "copy")
        return snapshot(self)

    def __deepcopy__(self, memo: dict) -> Any:
        return _copy.deepcopy(self.__copy__(), memo)


def _missing(draft: Draft, key: Any) -> PathError:
    keys = list(draft._vs_items if draft._vs_items is not None else draft._vs_orig)
    msg = (
        f"no key {key!r} in this draft of a {_kind(draft)}. Existing keys: "
        f"{describe_keys(keys)}."
    )
    near = closest(key, keys)
    if near:
        msg += f" Did you mean {', '.join(repr(n) for n in near)}?"
    return PathError(msg, path=(key,), segment=key, available=tuple(keys))


class MappingDraft(Draft, MutableMapping):
    """Draft of a dict, FrozenDict or other registered Mapping."""

    __slots__ = ("_vs_gone",)  # original keys deleted at some point

    @classmethod
    def _vs_make(cls, scope: Scope, base: Any) -> MappingDraft | None:
        t = type(base)  # plain dicts are made by `_dict_draft`
        if t is FrozenDict:
            orig = base._dict
        else:
            pairs = _tree.items(base)
            if pairs is None:
                return None
            orig = dict(pairs)
        self = cls.__new__(cls)
        self._vs_init(scope, base, orig)
        self._vs_frozen = t is FrozenDict
        self._vs_gone = None  # a set once the key set changes
        return self

    def _vs_keys(self) -> Any:
        items = self._vs_items
        return self._vs_orig if items is None else items

    def _vs_reshape(self) -> dict:
        items = self._vs_items
        if items is None:
            items = self._vs_items = dict(self._vs_orig)
            items.update(self._vs_touched)
            self._vs_gone = set()
        return items

    def __getitem__(self, key: Any) -> Any:
        scope = self._vs_scope
        if scope.state:
            raise _closed(self, f"read [{key!r}] from")
        items = self._vs_items
        try:  # `_vs_held`, inlined
            if items is None:
                held = self._vs_touched.get(key, _MISSING)
                if held is _MISSING:
                    held = self._vs_orig[key]
            else:
                held = items[key]
        except KeyError:
            raise _missing(self, key) from None
        if type(held) is dict:
            # The common step (a dict inside a dict): `_vs_child`, `Scope.draft` and
            # `_dict_draft` inlined.
            frozen = self._vs_frozen
            if frozen and self._vs_orig.get(key) is not held:
                return self._vs_child(key, held)  # a dict assigned to a FrozenDict
            child = _new(MappingDraft)
            child._vs_scope = scope
            child._vs_base = child._vs_orig = held
            child._vs_touched = {}
            child._vs_items = child._vs_gone = child._vs_memo = None
            child._vs_frozen = frozen
            self._vs_touched[key] = child
            if items is not None:
                items[key] = child
            return child
        return self._vs_child(key, held)

    def __setitem__(self, key: Any, value: Any) -> None:
        scope = self._vs_scope
        if scope.state:
            raise _closed(self, f"set [{key!r}] on")
        if isinstance(value, Draft) and value._vs_scope is not scope:
            raise DraftError(_MSG_FOREIGN)
        items = self._vs_items
        if items is None:
            if key in self._vs_orig:
                self._vs_touched[key] = value
                scope.writes += 1
                return
            items = self._vs_reshape()
        self._vs_touched[key] = items[key] = value
        scope.writes += 1

    def __delitem__(self, key: Any) -> None:
        scope = self._vs_scope
        if scope.state:
            raise _closed(self, f"delete [{key!r}] from")
        if key not in self._vs_keys():
            raise _missing(self, key)
        del self._vs_reshape()[key]
        self._vs_touched.pop(key, None)
        if key in self._vs_orig:
            self._vs_gone.add(key)
        scope.writes += 1

    def __iter__(self) -> Any:
        if self._vs_scope.state:
            raise _closed(self, "iterate over")
        return iter(self._vs_keys())

    def __len__(self) -> int:
        if self._vs_scope.state:
            raise _closed(self, "take the length of")
        return len(self._vs_keys())

    def __contains__(self, key: object) -> bool:
        if self._vs_scope.state:
            raise _closed(self, "look up a key in")
        return key in self._vs_keys()

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        if key not in self:
            if default is _MISSING:
                raise _missing(self, key)
            return default
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple[Any, Any]:
        if not self:
            raise PathError(f"popitem(): this draft of a {_kind(self)} is empty.")
        key = next(reversed(self._vs_keys()))  # last in, first out, as dict does
        return key, self.pop(key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        if self._vs_scope.state:
            raise _closed(self, "clear")
        items = self._vs_reshape()
        self._vs_gone.update(k for k in items if k in self._vs_orig)
        items.clear()
        self._vs_touched.clear()
        self._vs_scope.writes += 1

    def __ior__(self, other: Any) -> MappingDraft:
        self.update(other)
        return self

    def _vs_build(self, memo: _Memo) -> Any:
        items = self._vs_items
        if items is None:
            return _rebuild(self, memo)
        orig, touched, gone = self._vs_orig, self._vs_touched, self._vs_gone
        updates = {}
        for key, held in items.items():  # in order, so added keys come last
            old = _MISSING if key in gone else orig.get(key, _MISSING)
            if old is not _MISSING and key not in touched:
                continue
            new = self._vs_scope.finish(held, memo)
            if new is not old:
                updates[key] = _stored(self._vs_frozen, held, new)
        base = self._vs_base
        if not updates and not gone:
            return base
        if self._vs_frozen:  # raw dicts; the updates are stored values already
            inner = {k: v for k, v in orig.items() if k not in gone}
            inner.update(updates)
            return inner if type(base) is dict else _frozen(inner)
        node = _tree.replace(base, {}, tuple(gone)) if gone else base
        return _tree.replace(node, updates) if updates else node

    def _vs_node(self) -> Any:
        """The base as a node to rebuild (a raw dict of a FrozenDict, wrapped)."""
        base = self._vs_base
        if self._vs_frozen and type(base) is dict:
            return _frozen(base)
        return base

    def _vs_shallow(self) -> Any:
        children = {k: self[k] for k in list(self._vs_keys())}
        gone = self._vs_gone
        node = self._vs_node()
        node = _tree.replace(node, {}, tuple(gone)) if gone else node
        return _tree.replace(node, children)


def _dict_draft(scope: Scope, value: dict, frozen: bool) -> MappingDraft:
    """`MappingDraft._vs_make` for a plain dict, unrolled (see also `__getitem__`).

    ``frozen``: the dict is held raw by a FrozenDict (FrozenDict flavour).
    """
    self = _new(MappingDraft)
    self._vs_scope = scope
    self._vs_base = self._vs_orig = value
    self._vs_touched = {}
    self._vs_items = self._vs_gone = self._vs_memo = None
    self._vs_frozen = frozen
    return self


_new = object.__new__


def _index(index: Any, length: int) -> int:
    """A non-negative position for an index already known to be in range."""
    index = operator.index(index)
    return index + length if index < 0 else index


class ListDraft(Draft, MutableSequence):
    """Draft of a list. A change of length or order makes the full copy
    ``_vs_items``; reads and item assignment do not."""

    __slots__ = ()

    @classmethod
    def _vs_make(cls, scope: Scope, base: list) -> ListDraft:
        self = cls.__new__(cls)
        self._vs_init(scope, base, base)
        return self

    def _vs_seq(self) -> list:
        items = self._vs_items
        return self._vs_orig if items is None else items

    def _vs_reshape(self) -> list:
        items = self._vs_items
        if items is None:
            items = self._vs_items = list(self._vs_orig)
            for i, held in self._vs_touched.items():
                items[i] = held
        self._vs_scope.writes += 1
        return items

    def __getitem__(self, index: Any) -> Any:
        if self._vs_scope.state:
            raise _closed(self, f"read [{index!r}] from")
        seq = self._vs_seq()
        if isinstance(index, slice):
            return [
                self._vs_child(i, self._vs_held(i))
                for i in range(*index.indices(len(seq)))
            ]
        seq[index]  # noqa: B018  (IndexError / TypeError as a list raises them)
        index = _index(index, len(seq))
        return self._vs_child(index, self._vs_held(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        scope = self._vs_scope
        if scope.state:
            raise _closed(self, f"set [{index!r}] on")
        if isinstance(index, slice):
            value = list(value)
            for v in value:
                _adopt(scope, v)
            self._vs_reshape()[index] = value
            return
        _adopt(scope, value)
        seq = self._vs_seq()
        seq[index]  # noqa: B018  (IndexError / TypeError as a list raises them)
        self._vs_store(_index(index, len(seq)), value)
        scope.writes += 1

    def __delitem__(self, index: Any) -> None:
        if self._vs_scope.state:
            raise _closed(self, f"delete [{index!r}] from")
        del self._vs_reshape()[index]

    def insert(self, index: int, value: Any) -> None:
        scope = self._vs_scope
        if scope.state:
            raise _closed(self, "insert into")
        _adopt(scope, value)
        self._vs_reshape().insert(index, value)

    def __len__(self) -> int:
        if self._vs_scope.state:
            raise _closed(self, "take the length of")
        return len(self._vs_seq())

    def __iter__(self) -> Any:
        if self._vs_scope.state:
            raise _closed(self, "iterate over")
        return self._vs_iter()

    def _vs_iter(self) -> Any:
        i = 0
        while i < len(self._vs_seq()):
            yield self._vs_child(i, self._vs_held(i))
            i += 1

    def clear(self) -> None:
        if self._vs_scope.state:
            raise _closed(self, "clear")
        self._vs_reshape().clear()

    def sort(self, *, key: Any = None, reverse: bool = False) -> None:
        self[:] = sorted(self, key=key, reverse=reverse)

    def __add__(self, other: Any) -> list:
        return list(self) + list(other)

    def __radd__(self, other: Any) -> list:
        return list(other) + list(self)

    def _vs_build(self, memo: _Memo) -> Any:
        items = self._vs_items
        if items is None:
            return Draft._vs_build(self, memo)
        base, scope = self._vs_base, self._vs_scope
        out = [_public(held, scope.finish(held, memo)) for held in items]
        if len(out) == len(base) and all(map(operator.is_, out, base)):
            return base
        return out

    def _vs_shallow(self) -> list:
        return list(self._vs_iter())


class TupleDraft(Draft, Sequence):
    """Draft of a tuple: item assignment; the length is fixed."""

    __slots__ = ()

    @classmethod
    def _vs_make(cls, scope: Scope, base: tuple) -> TupleDraft:
        self = cls.__new__(cls)
        self._vs_init(scope, base, base)
        return self

    def __getitem__(self, index: Any) -> Any:
        if self._vs_scope.state:
            raise _closed(self, f"read [{index!r}] from")
        orig = self._vs_orig
        if isinstance(index, slice):
            return tuple(
                self._vs_child(i, self._vs_held(i))
                for i in range(*index.indices(len(orig)))
            )
        orig[index]  # noqa: B018  (IndexError / TypeError as a tuple raises them)
        index = _index(index, len(orig))
        return self._vs_child(index, self._vs_held(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        scope = self._vs_scope
        if scope.state:
            raise _closed(self, f"set [{index!r}] on")
        if isinstance(index, slice):
            raise StructureError(_fixed_length(self, "assign to a slice of"))
        _adopt(scope, value)
        orig = self._vs_orig
        orig[index]  # noqa: B018  (IndexError / TypeError as a tuple raises them)
        self._vs_store(_index(index, len(orig)), value)
        scope.writes += 1

    def __delitem__(self, index: Any) -> None:
        raise StructureError(_fixed_length(self, f"delete [{index!r}] from"))

    def __len__(self) -> int:
        if self._vs_scope.state:
            raise _closed(self, "take the length of")
        return len(self._vs_orig)

    def __iter__(self) -> Any:
        if self._vs_scope.state:
            raise _closed(self, "iterate over")
        return (self._vs_child(i, self._vs_held(i)) for i in range(len(self._vs_orig)))

    def __add__(self, other: Any) -> tuple:
        return tuple(self) + tuple(other)

    def __radd__(self, other: Any) -> tuple:
        return tuple(other) + tuple(self)

    def _vs_shallow(self) -> tuple:
        return tuple(self)


def _fixed_length(draft: Draft, op: str) -> str:
    return (
        f"cannot {op} a draft of a {_kind(draft)}: a tuple has a fixed length. "
        f"Assign a whole new tuple to its parent instead, e.g. "
        f"`draft[key] = (*draft[key], value)`."
    )


class RecordDraft(Draft):
    """Draft of a NamedTuple, a registered dataclass or any other registered node.

    Fields are read and assigned as attributes (``draft.step += 1``) or items
    (``draft["step"]``, and ``draft[0]`` for a NamedTuple). Static dataclass fields
    can be assigned too; they are applied with `dataclasses.replace`. Methods and
    properties of the class run with the draft as ``self``.
    """

    __slots__ = ("_vs_static",)  # static fields assigned in the block

    @classmethod
    def _vs_make(cls, scope: Scope, base: Any) -> RecordDraft | None:
        pairs = _tree.items(base)
        if pairs is None:
            return None
        self = cls.__new__(cls)
        init = object.__setattr__
        for name, value in (
            ("_vs_scope", scope),
            ("_vs_base", base),
            ("_vs_orig", dict(pairs)),
            ("_vs_touched", {}),
            ("_vs_items", None),
            ("_vs_frozen", False),
            ("_vs_memo", None),
            ("_vs_static", {}),
        ):
            init(self, name, value)
        return self

    def _vs_statics(self) -> tuple[str, ...]:
        base = self._vs_base
        if not dataclasses.is_dataclass(base):
            return ()
        return tuple(
            f.name for f in dataclasses.fields(base) if f.name not in self._vs_orig
        )

    def _vs_no_field(self, name: Any) -> FieldError:
        fields = list(self._vs_orig) + list(self._vs_statics())
        msg = (
            f"a {_kind(self)} has no field {name!r}, so a draft of one has none "
            f"either. Fields: {describe_keys(fields)}."
        )
        near = closest(name, fields)
        if near:
            msg += f" Did you mean {', '.join(repr(n) for n in near)}?"
        return FieldError(msg)

    def __getattr__(self, name: str) -> Any:
        # Called only when ordinary lookup fails: fields, then the class's methods
        # and properties, bound to the draft.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if self._vs_scope.state:
            raise _closed(self, f"read .{name} of")
        if name in self._vs_orig:
            return self._vs_child(name, self._vs_held(name))
        if name in self._vs_static:
            return self._vs_static[name]
        base = self._vs_base
        if name in self._vs_statics():
            return getattr(base, name)
        try:
            attr = inspect.getattr_static(type(base), name)
        except AttributeError:
            try:
                return getattr(base, name)
            except AttributeError:
                raise self._vs_no_field(name) from None
        if isinstance(attr, types.MemberDescriptorType):
            # A __slots__ slot that is not a pytree field (e.g. vs.Model.variables):
            # reading it from the draft would hand out the input's own containers.
            fields = list(self._vs_orig)
            raise FieldError(
                f"cannot read .{name} through a draft of a {_kind(self)}: it is "
                f"internal storage, not one of its pytree fields. Edit the fields "
                f"instead: {describe_keys(fields)} (e.g. draft[{fields[0]!r}]...)."
                if fields
                else f"cannot read .{name} through a draft of a {_kind(self)}."
            )
        get = getattr(type(attr), "__get__", None)
        return attr if get is None else get(attr, self, type(base))

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _INTERNAL:  # `_vs_finish` records its memo on the draft
            object.__setattr__(self, name, value)
            return
        scope = self._vs_scope
        if scope.state:
            raise _closed(self, f"set .{name} on")
        _adopt(scope, value)
        if name in self._vs_orig:
            self._vs_store(name, value)
        elif name in self._vs_statics():
            self._vs_static[name] = value
        else:
            raise self._vs_no_field(name)
        scope.writes += 1

    def __delattr__(self, name: str) -> None:
        raise StructureError(
            f"cannot delete field {name!r} of a draft of a {_kind(self)}: its fields "
            f"are fixed. Assign a new value instead: `draft.{name} = ...`."
        )

    def _vs_key(self, key: Any) -> Any:
        if self._vs_scope.state:
            raise _closed(self, f"use [{key!r}] on")
        if key in self._vs_orig or key in self._vs_statics():
            return key
        try:  # a NamedTuple position, or "0" for 0
            return _tree.resolve_key(self._vs_base, key)
        except PathError:
            raise _missing(self, key) from None

    def __getitem__(self, key: Any) -> Any:
        key = self._vs_key(key)
        if key in self._vs_orig:
            return self._vs_child(key, self._vs_held(key))
        return self.__getattr__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        key = self._vs_key(key)
        if key in self._vs_orig:
            _adopt(self._vs_scope, value)
            self._vs_store(key, value)
            self._vs_scope.writes += 1
        else:
            self.__setattr__(key, value)

    def __len__(self) -> int:
        if self._vs_scope.state:
            raise _closed(self, "take the length of")
        return len(self._vs_orig)

    def __bool__(self) -> bool:
        if self._vs_scope.state:
            raise _closed(self, "test the truth of")
        return bool(self._vs_base)

    def __iter__(self) -> Any:
        if self._vs_scope.state:
            raise _closed(self, "iterate over")
        base, keys = self._vs_base, list(self._vs_orig)
        if isinstance(base, tuple):
            return (self._vs_child(k, self._vs_held(k)) for k in keys)
        if isinstance(base, Mapping):
            return iter(keys)
        raise StructureError(f"a draft of a {_kind(self)} is not iterable")

    def __dir__(self) -> list[str]:
        names = (
            set(self._vs_orig) | set(self._vs_statics()) | set(dir(type(self._vs_base)))
        )
        return sorted(n for n in names if isinstance(n, str))

    def _vs_build(self, memo: _Memo) -> Any:
        node = Draft._vs_build(self, memo)
        base, scope = self._vs_base, self._vs_scope
        static = {
            k: _public(v, scope.finish(v, memo))
            for k, v in self._vs_static.items()
            if v is not getattr(base, k)
        }
        return dataclasses.replace(node, **static) if static else node

    def _vs_shallow(self) -> Any:
        children = {k: self._vs_child(k, self._vs_held(k)) for k in self._vs_orig}
        node = _tree.replace(self._vs_base, children)
        return dataclasses.replace(node, **self._vs_static) if self._vs_static else node


_DRAFTS = frozenset({MappingDraft, ListDraft, TupleDraft, RecordDraft})
_INTERNAL = frozenset(Draft.__slots__) | frozenset(RecordDraft.__slots__)


# ---------------------------------------------------------------------------------
# Drafts are pytrees: JAX functions see the draft's current children and rebuild
# plain nodes of the original type (`jax.tree.map(f, draft["params"])` is a dict).


def _flatten_with_keys(draft: Draft) -> tuple[list, Any]:
    if draft._vs_scope.state:
        raise _closed(draft, "flatten")
    shallow = draft._vs_shallow()
    keyed, treedef = jax.tree_util.tree_flatten_with_path(
        shallow, is_leaf=lambda x: x is not shallow
    )
    return [(path[0], child) for path, child in keyed], treedef


def _flatten(draft: Draft) -> tuple[list, Any]:
    keyed, treedef = _flatten_with_keys(draft)
    return [child for _, child in keyed], treedef


def _unflatten(treedef: Any, children: Any) -> Any:
    return treedef.unflatten(children)


for _cls in _DRAFTS:
    jax.tree_util.register_pytree_with_keys(
        _cls, _flatten_with_keys, _unflatten, _flatten
    )
