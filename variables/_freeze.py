"""Deep copies of containers, and deep freezing / unfreezing of dicts.

All three walk every container kind through JAX's registry (see `_tree`), so a
FrozenDict inside a TrainState, a list or a NamedTuple is reached too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flax.core import FrozenDict

from . import _tree


def clone_pytree(tree: Any, copy_arrays: bool = False) -> Any:
    """Returns a tree with new containers everywhere and the same leaves.

    Use it before code that mutates containers in place, so the caller's tree is
    safe. Aliasing is kept: a container object that appears twice in ``tree``
    appears as one shared copy twice in the result.

    Args:
        tree: any pytree.
        copy_arrays: also copy writable NumPy arrays (JAX arrays are immutable
            and always shared).

    Returns:
        The copy.

    Examples:
        >>> import numpy as np
        >>> w = np.zeros(2)
        >>> tree = {"a": {"w": w}, "b": [1, 2]}
        >>> copy = clone_pytree(tree)
        >>> copy == tree, copy["a"] is tree["a"], copy["a"]["w"] is w
        (True, False, True)
        >>> clone_pytree(tree, copy_arrays=True)["a"]["w"] is w
        False
    """
    memo: dict[int, Any] = {}
    keep: list = []  # keeps inputs alive so ids stay unique during the walk

    def copy(node: Any) -> Any:
        found = memo.get(id(node))
        if found is not None:
            return found
        pairs = _tree.items(node)
        if pairs is None:
            if copy_arrays and isinstance(node, np.ndarray) and node.flags.writeable:
                out = node.copy()
            else:
                return node
        else:
            out = _tree.replace(node, {k: copy(v) for k, v in pairs}) if pairs else (
                _empty_copy(node)
            )
        memo[id(node)] = out
        keep.append(node)
        return out

    return copy(tree)


def _empty_copy(node: Any) -> Any:
    t = type(node)
    if t is dict or t is list:
        return t()
    if t is FrozenDict:
        return _tree.frozendict_of({})
    return _tree.replace(node, {})


def freeze(tree: Any) -> Any:
    """Turns every ``dict`` in the tree into a ``flax.core.FrozenDict`` (deep).

    Dicts inside lists, tuples, NamedTuples and dataclasses are frozen too. Leaves
    are shared; freezing a frozen tree changes nothing (``freeze`` is idempotent).

    Examples:
        >>> frozen = freeze({"params": {"w": 1}, "extra": [{"b": 2}]})
        >>> type(frozen).__name__, type(frozen["extra"][0]).__name__
        ('FrozenDict', 'FrozenDict')
        >>> freeze(frozen) == frozen
        True
    """
    return _convert(tree, to_frozen=True)


def unfreeze(tree: Any) -> Any:
    """Turns every ``FrozenDict`` in the tree into a plain ``dict`` (deep).

    FrozenDicts inside lists, tuples, NamedTuples, dataclasses (a TrainState's
    params) are reached too. Every dict and list of the result is new, so it is
    yours to mutate; leaves and untouched immutable containers are shared.
    Idempotent.

    Examples:
        >>> from flax.core import FrozenDict
        >>> unfreeze(FrozenDict({"params": {"w": 1}}))
        {'params': {'w': 1}}
        >>> unfreeze([FrozenDict(a=1)])
        [{'a': 1}]
    """
    return _convert(tree, to_frozen=False)


def _convert(tree: Any, to_frozen: bool) -> Any:
    def visit(node: Any) -> Any:
        t = type(node)
        if t is dict or t is FrozenDict:
            if not to_frozen:
                inner = node if t is dict else node._dict
                return {k: visit(v) for k, v in inner.items()}
            changed = t is dict
            new_inner = {}
            for k, v in (node.items() if t is dict else _tree.items(node)):
                nv = visit(v)
                stored = nv._dict if type(nv) is FrozenDict else nv
                original = node._dict[k] if t is FrozenDict else v
                changed |= stored is not original
                new_inner[k] = stored
            return _tree.frozendict_of(new_inner) if changed else node
        if t is list and not to_frozen:
            return [visit(v) for v in node]
        pairs = _tree.items(node)
        if not pairs:
            return node
        updates = {}
        for k, v in pairs:
            nv = visit(v)
            if nv is not v:
                updates[k] = nv
        return _tree.replace(node, updates) if updates else node

    return visit(tree)
