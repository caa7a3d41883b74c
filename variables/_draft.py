"""Drafts: edit immutable trees as if they were plain mutable Python objects.

=================================================  =================================
Draft form                                         Functional form
=================================================  =================================
``with vs.unfrozen(tree) as d: d["a"]["w"] = v``   ``vs.at(tree)["a"]["w"].set(v)``
``with vs.unfrozen(tree) as d: d["a"]["w"] *= 2``  ``vs.at(tree, "a/w").multiply(2)``
``with vs.unfrozen(tree) as d: del d["a"]["w"]``   ``vs.at(tree, "a/w").delete()``
``with vs.unfrozen(state) as d: d.step = 0``       ``state.replace(step=0)``
``vs.produce(tree, recipe)``                       ``recipe`` written with ``vs.at``
``out, obj = vs.mutable(obj.update)(x)``           ``update`` rewritten to return obj
=================================================  =================================

A draft is made lazily: reading a container out of a draft gives a draft of it, and
only the drafts that were reached are rebuilt when the block ends. Everything the
block did not touch is shared (``is``) with the input, which is never changed.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar

from ._draft_nodes import _OPEN, _SEALED, Draft, Scope, _closed, _public, snapshot
from ._errors import DraftError, StructureError

_T = TypeVar("_T")

_MSG_BOTH: Final = (
    "the recipe given to vs.produce both changed its draft and returned a new value "
    "(a {type}); it must do one or the other. Either edit the draft and return "
    "nothing (None), or leave the draft alone and return the new tree."
)
_MSG_EARLY: Final = (
    "vs.result(draft) was called inside the `with vs.unfrozen(...)` block that made "
    "the draft, before the edits are finished. Call it after the block; inside it, "
    "`vs.current(draft)` gives a snapshot of the edits so far."
)
_MSG_NOT_DRAFT: Final = (
    "{fn} expects a draft (what `with vs.unfrozen(tree) as draft:` gives, or a "
    "container read from one), got a {type}. Leaves read from a draft are plain "
    "values, not drafts."
)


class _Block(AbstractContextManager):
    """What `unfrozen` returns: entering makes the draft, leaving seals it."""

    __slots__ = ("_tree", "_scope", "_draft")

    def __init__(self, tree: Any) -> None:
        self._tree = tree
        self._scope: Scope | None = None
        self._draft: Draft | None = None

    def __enter__(self) -> Any:
        if self._scope is not None:
            raise DraftError(
                "this vs.unfrozen(...) block was entered already; each `with` needs "
                "its own: `with vs.unfrozen(tree) as draft: ...`."
            )
        self._scope = Scope("its `with vs.unfrozen(...)` block")
        self._draft = self._scope.root(self._tree)
        return self._draft

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        scope = self._scope
        assert scope is not None and self._draft is not None
        if exc_type is None:
            scope.seal(self._draft)
        else:
            scope.kill()
        return False


def unfrozen(tree: Any) -> AbstractContextManager[Any]:
    """A block in which ``tree`` can be edited like a plain mutable object.

    ``with vs.unfrozen(tree) as draft:`` gives a mutable draft of any tree: dicts
    and FrozenDicts behave as ``MutableMapping``, lists as ``MutableSequence``,
    tuples take item assignment, and NamedTuples and registered dataclasses take
    attribute assignment (static fields too). Augmented assignment works at every
    depth (``draft["w"] /= 2``). After the block, `result` gives the new tree.

    * Copy on write: the new tree shares every untouched subtree with ``tree``; the
      cost follows what the block touched, not the size of the tree. A block that
      changes nothing gives back ``tree`` itself.
    * ``tree`` is never changed, not even by in-place NumPy operations: a writable
      NumPy leaf is copied when the block first reads it (and comes back as the
      original array if its content did not change).
    * Types are kept: a FrozenDict comes back as a FrozenDict, a TrainState as a
      TrainState, a NamedTuple through its constructor.
    * A value moved inside the draft (``draft["b"] = draft["a"]``) ends up as one
      finished object in both places.
    * If the block raises, nothing is changed, the exception propagates and the
      draft is dead. Once the block ends the draft is sealed: using it (or any
      draft read from it) raises `DraftError`.
    * Works inside `jax.jit`: leaves are tracers there. Drafts are pytrees too, so
      ``jax.tree.map(f, draft["params"])`` maps over their current contents.

    Args:
        tree: any pytree whose root is a container.

    Returns:
        A context manager; ``as`` binds the draft.

    Raises:
        StructureError: when ``tree`` is a leaf.
        DraftError: when a draft is used after its block, or the draft cannot be
            finished (a draft stored inside itself, or one from another block).

    Examples:
        >>> from flax.core import FrozenDict
        >>> params = FrozenDict({"dense": {"w": 2.0, "b": 1.0}, "head": {"w": 4.0}})
        >>> with unfrozen(params) as draft:
        ...     draft["dense"]["w"] *= 10
        ...     del draft["dense"]["b"]
        ...     draft["extra"] = {"scale": 0.5}
        >>> new = result(draft)
        >>> type(new).__name__, new["dense"]["w"], sorted(new)
        ('FrozenDict', 20.0, ['dense', 'extra', 'head'])
        >>> params["dense"]["w"], new["head"]["w"] is params["head"]["w"]
        (2.0, True)
    """
    return _Block(tree)


def result(draft: Any) -> Any:
    """The finished tree of a draft whose block has ended.

    Args:
        draft: the draft bound by ``with vs.unfrozen(tree) as draft:`` (or any
            draft read from it).

    Returns:
        The new tree (``tree`` itself when nothing was changed).

    Raises:
        DraftError: inside the block, or when the block raised.
        StructureError: when ``draft`` is not a draft.

    Examples:
        >>> tree = {"a": {"w": 1}, "b": {"w": 2}}
        >>> with unfrozen(tree) as draft:
        ...     draft["a"]["w"] += 1
        >>> new = result(draft)
        >>> new, new["b"] is tree["b"]
        ({'a': {'w': 2}, 'b': {'w': 2}}, True)
        >>> with unfrozen(tree) as draft:
        ...     _ = draft["a"]["w"]
        >>> result(draft) is tree
        True
    """
    if not isinstance(draft, Draft):
        raise StructureError(
            _MSG_NOT_DRAFT.format(fn="vs.result", type=type(draft).__name__)
        )
    scope = draft._vs_scope
    if scope.state != _SEALED:
        if scope.state == _OPEN:
            raise DraftError(_MSG_EARLY)
        raise _closed(draft, "take the result of")
    memo = scope.memo
    out = draft._vs_out if draft._vs_memo is memo else draft._vs_finish(memo)
    return _public(draft, out)


def produce(tree: _T, recipe: Callable[[Any], Any]) -> _T:
    """Runs ``recipe(draft)`` on a draft of ``tree`` and returns the new tree.

    The recipe either edits the draft in place and returns ``None``, or leaves the
    draft alone and returns a replacement tree (which may contain drafts read from
    it); doing both is an error, as it is ambiguous. Everything `unfrozen` promises
    holds here too.

    Args:
        tree: any pytree whose root is a container.
        recipe: a function of one argument, the draft.

    Returns:
        The new tree.

    Raises:
        DraftError: when the recipe changed the draft and also returned a value.
        StructureError: when ``tree`` is a leaf.

    Examples:
        >>> def zero_biases(draft):
        ...     for layer in draft["layers"]:
        ...         layer["b"] = 0.0
        >>> params = {"layers": [{"w": 1.0, "b": 2.0}, {"w": 3.0, "b": 4.0}]}
        >>> produce(params, zero_biases)
        {'layers': [{'w': 1.0, 'b': 0.0}, {'w': 3.0, 'b': 0.0}]}
        >>> produce({"a": {"w": 1}, "b": 2}, lambda d: d["a"])
        {'w': 1}
    """
    scope = Scope("its `vs.produce(...)` call")
    draft = scope.root(tree)
    try:
        out = recipe(draft)
        if out is not None and out is not draft and scope.writes:
            raise DraftError(_MSG_BOTH.format(type=type(out).__name__))
    except BaseException:
        scope.kill()
        raise
    new = scope.seal(draft)
    if out is None or out is draft:
        return new
    return _public(out, scope.finish(out, scope.memo))


def mutable(fn: Callable[..., _T]) -> Callable[..., tuple[_T, Any]]:
    """Runs code that mutates its object on a draft; returns ``(output, new_obj)``.

    Two forms:

    * ``vs.mutable(obj.method)(*args, **kwargs)``: the method runs with a draft of
      ``obj`` as ``self``, so ``self.count += 1`` works on a frozen dataclass.
      Built-in methods work too: ``vs.mutable(params.update)(other)``.
    * ``vs.mutable(fn)(obj, *args, **kwargs)``: ``fn`` gets the draft as its first
      argument.

    The object is never changed. Drafts in the output (``return self.params``)
    come back finished, as the same objects as in ``new_obj``. Works inside
    `jax.jit`.

    Args:
        fn: a bound method of a pytree object, or a function whose first argument
            is the object.

    Returns:
        A function returning ``(output, new_obj)``.

    Raises:
        StructureError: when ``fn`` is not callable, or the object is a leaf.

    Examples:
        >>> import flax.struct
        >>> @flax.struct.dataclass
        ... class Counter:
        ...     count: int
        ...     total: float
        ...     def add(self, x):
        ...         self.count += 1
        ...         self.total += x
        ...         return self.total / self.count
        >>> counter = Counter(count=0, total=0.0)
        >>> mean, counter2 = mutable(counter.add)(3.0)
        >>> mean, counter2, counter.count
        (3.0, Counter(count=1, total=3.0), 0)
        >>> mutable(Counter.add)(counter2, 5.0)[0]
        4.0
    """
    if inspect.ismethod(fn):
        obj, func = fn.__self__, fn.__func__

        @functools.wraps(func)
        def run_method(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
            return _run(obj, lambda d: func(d, *args, **kwargs))

        return run_method
    owner = getattr(fn, "__self__", None)
    if isinstance(fn, _BUILTIN_METHODS) and not isinstance(
        owner, (types.ModuleType, type)
    ):
        name = fn.__name__

        def run_builtin(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
            return _run(owner, lambda d: getattr(d, name)(*args, **kwargs))

        return run_builtin
    if not callable(fn):
        raise StructureError(
            f"vs.mutable expects a bound method (`vs.mutable(obj.method)`) or a "
            f"function taking the object first (`vs.mutable(fn)(obj, ...)`), got a "
            f"{type(fn).__name__}."
        )

    @functools.wraps(fn)
    def run(obj: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return _run(obj, lambda d: fn(d, *args, **kwargs))

    return run


_BUILTIN_METHODS = (types.BuiltinMethodType, types.MethodWrapperType)


def _run(obj: Any, call: Callable[[Any], Any]) -> tuple[Any, Any]:
    scope = Scope("its `vs.mutable(...)` call")
    draft = scope.root(obj)
    try:
        out = call(draft)
    except BaseException:
        scope.kill()
        raise
    new = scope.seal(draft)
    return _public(out, scope.finish(out, scope.memo)), new


def current(value: Any) -> Any:
    """A snapshot of what a draft holds now, as a plain finished tree.

    Inside the block the snapshot is independent of later edits; after the block
    it is the finished tree (as `result`). Values that are not drafts (leaves read
    from a draft, for instance) are returned as they are.

    Raises:
        DraftError: when the draft's block raised.

    Examples:
        >>> with unfrozen({"a": [1, 2]}) as draft:
        ...     draft["a"].append(3)
        ...     snap = current(draft)
        ...     draft["a"].append(4)
        >>> snap, result(draft)
        ({'a': [1, 2, 3]}, {'a': [1, 2, 3, 4]})
    """
    if not isinstance(value, Draft):
        return value
    return snapshot(value)


def original(draft: Any) -> Any:
    """The node a draft started from (unaffected by the edits).

    Raises:
        StructureError: when ``draft`` is not a draft.

    Examples:
        >>> with unfrozen({"a": {"w": 1}}) as draft:
        ...     draft["a"]["w"] = 5
        ...     before = original(draft["a"])
        >>> before
        {'w': 1}
    """
    if not isinstance(draft, Draft):
        raise StructureError(
            _MSG_NOT_DRAFT.format(fn="vs.original", type=type(draft).__name__)
        )
    return _public(draft, draft._vs_base)
