"""How big a tree is: `count` (a number) and `summary` (a table as a string).

An array leaf is anything with a ``shape`` and a ``dtype``: NumPy and JAX arrays,
NumPy scalars, tracers inside ``jax.jit``, ``jax.ShapeDtypeStruct`` (so the size of a
model can be read from ``jax.eval_shape`` without allocating it). Other leaves
(Python numbers, strings) count as leaves with no parameters and no bytes; ``None``
and empty containers hold nothing and are skipped.
"""

from __future__ import annotations

import math
from typing import Any

import jax

from . import _tree
from ._paths import Path, format_path


def _array_facts(leaf: Any) -> tuple[int, int, str] | None:
    """``(size, bytes, dtype name)`` of an array-like leaf, else None."""
    shape = getattr(leaf, "shape", None)
    dtype = getattr(leaf, "dtype", None)
    if shape is None or dtype is None:
        return None
    size = math.prod(shape)
    itemsize = getattr(dtype, "itemsize", 0)
    return size, size * itemsize, getattr(dtype, "name", str(dtype))


def count(tree: Any) -> int:
    """The number of parameters in a tree: the total size of its array leaves.

    Args:
        tree: any pytree (dicts, FrozenDicts, a TrainState, a `vs.Model`, the
            output of ``jax.eval_shape``...). Works inside ``jax.jit`` too.

    Returns:
        The sum of the sizes of the leaves that have a shape and a dtype; other
        leaves (Python numbers, strings) count 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> count({"w": jnp.zeros((3, 4)), "b": jnp.zeros(4), "step": 0})
        16
        >>> import jax
        >>> count(jax.ShapeDtypeStruct((1024, 1024), jnp.bfloat16))
        1048576
    """
    total = 0
    for leaf in jax.tree_util.tree_leaves(tree):
        facts = _array_facts(leaf)
        if facts is not None:
            total += facts[0]
    return total


class _Stats:
    __slots__ = ("leaves", "params", "nbytes", "kinds")

    def __init__(self) -> None:
        self.leaves = 0
        self.params = 0
        self.nbytes = 0
        self.kinds: dict[str, int] = {}  # dtype name (or "(type)") -> params

    def add(self, leaf: Any) -> None:
        self.leaves += 1
        facts = _array_facts(leaf)
        if facts is None:
            kind = f"({type(leaf).__name__})"
            self.kinds[kind] = self.kinds.get(kind, 0)
            return
        size, nbytes, name = facts
        self.params += size
        self.nbytes += nbytes
        self.kinds[name] = self.kinds.get(name, 0) + size

    def row(self, label: str) -> list[str]:
        kinds = sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        return [
            label,
            f"{self.leaves:,}",
            f"{self.params:,}",
            _human_bytes(self.nbytes),
            ", ".join(k for k, _ in kinds),
        ]


def _human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _leaves_in_order(tree: Any) -> list[tuple[Path, Any]]:
    """``(path, leaf)`` pairs in the tree's own key order, without ``None``."""
    out: list[tuple[Path, Any]] = []

    def visit(node: Any, path: Path) -> None:
        pairs = _tree.items(node)
        if pairs is None:
            if node is not None:
                out.append((path, node))
            return
        for k, v in pairs:
            visit(v, path + (k,))

    visit(tree, ())
    return out


def summary(tree: Any, depth: int = 2) -> str:
    """A table of leaves, parameter counts, bytes and dtypes per part of a tree.

    One row per collection (the first key of a path: ``params``, ``batch_stats``),
    under it one row per top-level module (the next key: ``params/encoder``), and
    a total. For a TrainState the first key is the field (``params``,
    ``opt_state``); pass ``depth=3`` to see its modules. Printing is up to you.

    Args:
        tree: any pytree; array leaves may be arrays, tracers or
            ``jax.ShapeDtypeStruct``. Non-array leaves count as leaves with 0
            parameters and 0 bytes and show their type in parentheses.
        depth: how many levels of path prefixes get rows (0: the total only).

    Returns:
        The table as a string, rows in the tree's own key order.

    Examples:
        >>> import jax.numpy as jnp
        >>> variables = {
        ...     "params": {
        ...         "encoder": {"kernel": jnp.zeros((4, 8)), "bias": jnp.zeros(8)},
        ...         "head": {"kernel": jnp.zeros((8, 2), jnp.bfloat16)},
        ...     },
        ...     "batch_stats": {"encoder": {"mean": jnp.zeros(8)}},
        ... }
        >>> print(summary(variables))
        path                   leaves  params  bytes  dtypes
        ---------------------  ------  ------  -----  -----------------
        params                      3      56  192 B  float32, bfloat16
          params/encoder            2      40  160 B  float32
          params/head               1      16   32 B  bfloat16
        batch_stats                 1       8   32 B  float32
          batch_stats/encoder       1       8   32 B  float32
        total                       4      64  224 B  float32, bfloat16
    """
    groups: dict[Path, _Stats] = {}
    total = _Stats()
    for path, leaf in _leaves_in_order(tree):
        total.add(leaf)
        for level in range(1, min(depth, len(path)) + 1):
            stats = groups.get(path[:level])
            if stats is None:
                stats = groups[path[:level]] = _Stats()
            stats.add(leaf)
    # Rows follow the tree: each prefix right after its parent.
    rows = []
    for prefix in sorted(groups, key=_order_key(groups)):
        indent = "  " * (len(prefix) - 1)
        rows.append(groups[prefix].row(indent + format_path(prefix)))
    rows.append(total.row("total"))
    return _table(["path", "leaves", "params", "bytes", "dtypes"], rows)


def _order_key(groups: dict[Path, _Stats]):
    # Insertion order lists a prefix when its first leaf is met; sorting by the
    # positions of all ancestors keeps children right under their parents.
    position = {prefix: i for i, prefix in enumerate(groups)}

    def key(prefix: Path) -> tuple[int, ...]:
        return tuple(position[prefix[:n]] for n in range(1, len(prefix) + 1))

    return key


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    numeric = {1, 2, 3}

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if i in numeric and cells is not header else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(parts).rstrip()

    rule = ["-" * w for w in widths]
    return "\n".join([line(header), "  ".join(rule), *(line(r) for r in rows)])
