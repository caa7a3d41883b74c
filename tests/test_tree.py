"""The tree layer: get, flatten, unflatten over every container kind."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.core import FrozenDict
from helpers import KEYS, containers, make_params

import variables as vs
from variables import _tree

KINDS = sorted(KEYS)


@pytest.mark.parametrize("kind", KINDS)
def test_items_and_get_every_container_kind(kind):
    node = containers(1.0, 2.0)[kind]
    k1, k2 = KEYS[kind]
    assert [k for k, _ in _tree.items(node)] == [k1, k2] or sorted(
        k for k, _ in _tree.items(node)
    ) == sorted([k1, k2])
    assert vs.get({"n": node}, ("n", k1)) == 1.0
    assert vs.get({"n": node}, f"n/{k2}") == 2.0


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_get_under_jit(jit):
    tree = make_params()

    def read(t):
        return vs.get(t, "params/block_1/Dense_0/kernel") * 2

    out = jax.jit(read)(tree) if jit else read(tree)
    np.testing.assert_array_equal(out, np.full((3, 3), 6.0))


def test_get_frozendict_subtree_is_frozen_and_not_the_internal_dict():
    fd = FrozenDict({"a": {"b": 1}})
    sub = vs.get(fd, "a")
    assert type(sub) is FrozenDict and sub == {"b": 1}


def test_get_errors_name_the_segment():
    with pytest.raises(vs.PathError, match="no key 'x' in the dict at 'a'"):
        vs.get({"a": {"y": 1}}, "a/x")
    with pytest.raises(vs.PathError, match="index 3 is out of range"):
        vs.get([1, 2], "3")
    with pytest.raises(vs.PathError, match="leaf of type float"):
        vs.get({"a": 1.0}, "a/b")


def test_get_accepts_string_indices_and_negative_indices():
    assert vs.get({"l": [1, 2, 3]}, "l/1") == 2
    assert vs.get({"l": [1, 2, 3]}, ("l", -1)) == 3


def test_flatten_every_container_kind_in_jax_leaf_order():
    tree = containers(1.0, 2.0)
    flat = vs.flatten(tree)
    assert list(flat.values()) == jax.tree_util.tree_leaves(tree)
    assert flat["namedtuple/first"] == 1.0
    assert flat["list/1"] == 2.0
    assert flat["flax_struct/extra"] == 2.0


def test_flatten_sep_none_gives_tuple_keys_and_keeps_none():
    assert vs.flatten({"a": [None, 1]}, sep=None) == {("a", 0): None, ("a", 1): 1}


def test_flatten_escapes_separator_in_keys():
    flat = vs.flatten({"a/b": {"c": 1}})
    assert flat == {"a\\/b/c": 1}
    assert vs.unflatten(flat) == {"a/b": {"c": 1}}


def test_flatten_is_leaf():
    tree = {"a": {"b": 1, "c": 2}, "d": 3}
    assert vs.flatten(tree, is_leaf=lambda x: isinstance(x, dict) and "b" in x) == {
        "a": {"b": 1, "c": 2},
        "d": 3,
    }


class _TwoKeys:
    """A container whose keys are 0 and "0" (they print the same)."""


jax.tree_util.register_pytree_with_keys(
    _TwoKeys,
    lambda _: (
        [(jax.tree_util.DictKey(0), 1), (jax.tree_util.DictKey("0"), 2)],
        None,
    ),
    lambda _, children: _TwoKeys(),
)


def test_flatten_collision_error():
    with pytest.raises(vs.PathError, match="flatten to the same key 'x/0'"):
        vs.flatten({"x": _TwoKeys()})
    assert vs.flatten({"x": _TwoKeys()}, sep=None) == {("x", 0): 1, ("x", "0"): 2}


def test_flatten_under_jit():
    @jax.jit
    def f(t):
        flat = vs.flatten(t)
        return vs.unflatten({k: v + 1 for k, v in flat.items()})

    out = f({"a": {"b": jnp.ones(2)}})
    np.testing.assert_array_equal(out["a"]["b"], np.full(2, 2.0))


def test_unflatten_tuple_keys_and_conflicts():
    assert vs.unflatten({("a", 0): 1, ("a", 1): 2}, sep=None) == {"a": {0: 1, 1: 2}}
    with pytest.raises(vs.PathError, match="'a' is both a leaf and a prefix"):
        vs.unflatten({"a": 1, "a/b": 2})
    with pytest.raises(vs.PathError, match="'a' is both a leaf and a prefix"):
        vs.unflatten({"a/b": 1, "a": 2})
    with pytest.raises(vs.PathError, match="appears twice"):
        vs.unflatten({"a/b": 1, ("a", "b"): 2})
    with pytest.raises(vs.PathError, match="empty path"):
        vs.unflatten({"": 1})


def test_is_leaf_and_replace_generic_errors():
    assert _tree.is_leaf(None) and _tree.is_leaf(np.ones(2)) and not _tree.is_leaf(())
    with pytest.raises(vs.StructureError, match="cannot rebuild a leaf"):
        _tree.replace(object(), {"a": 1})
