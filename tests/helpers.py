"""Shared test helpers: example trees of every container kind, snapshots."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, NamedTuple

import chex
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from flax.core import FrozenDict


class Pair(NamedTuple):
    first: Any
    second: Any


@flax.struct.dataclass
class StructBox:
    value: Any
    extra: Any
    label: str = flax.struct.field(pytree_node=False, default="box")


@chex.dataclass(frozen=True)
class ChexBox:
    value: Any
    extra: Any


@dataclasses.dataclass(frozen=True)
class RegBox:
    value: Any
    extra: Any
    tag: str = "reg"


jax.tree_util.register_dataclass(
    RegBox, data_fields=["value", "extra"], meta_fields=["tag"]
)


def make_params(n_blocks: int = 2, n_layers: int = 2, size: int = 3) -> dict:
    """A small realistic variable tree: params and batch_stats of dense blocks."""
    params, stats = {}, {}
    k = 0
    for b in range(n_blocks):
        block = {}
        for layer in range(n_layers):
            k += 1
            block[f"Dense_{layer}"] = {
                "kernel": jnp.full((size, size), float(k)),
                "bias": jnp.zeros((size,)),
            }
        params[f"block_{b}"] = block
        stats[f"block_{b}"] = {"BatchNorm_0": {"mean": jnp.zeros((size,))}}
    return {"params": params, "batch_stats": stats}


def containers(leaf_a: Any, leaf_b: Any) -> dict[str, Any]:
    """One two-leaf node of every container kind, keyed by a readable name.

    The first leaf is reached with key ``k1``, the second with ``k2`` (see
    ``KEYS``).
    """
    return {
        "dict": {"a": leaf_a, "b": leaf_b},
        "frozendict": FrozenDict({"a": leaf_a, "b": leaf_b}),
        "list": [leaf_a, leaf_b],
        "tuple": (leaf_a, leaf_b),
        "namedtuple": Pair(leaf_a, leaf_b),
        "flax_struct": StructBox(leaf_a, leaf_b),
        "chex": ChexBox(value=leaf_a, extra=leaf_b),
        "register_dataclass": RegBox(leaf_a, leaf_b),
    }


KEYS = {
    "dict": ("a", "b"),
    "frozendict": ("a", "b"),
    "list": (0, 1),
    "tuple": (0, 1),
    "namedtuple": ("first", "second"),
    "flax_struct": ("value", "extra"),
    "chex": ("value", "extra"),
    "register_dataclass": ("value", "extra"),
}


def snapshot(tree: Any) -> Any:
    """A deep copy to compare against later (arrays are copied too)."""
    return copy.deepcopy(jax.tree_util.tree_map(np.asarray, tree))


def assert_trees_identical(a: Any, b: Any) -> None:
    """Same structure (container types included) and equal leaves."""
    sa = jax.tree_util.tree_structure(a)
    sb = jax.tree_util.tree_structure(b)
    assert sa == sb, f"{sa} != {sb}"
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
