"""Properties of the foundation over random nested trees (hypothesis)."""

from __future__ import annotations

import jax
import numpy as np
from flax.core import FrozenDict
from hypothesis import given
from hypothesis import strategies as st
from helpers import Pair, snapshot

import variables as vs
from variables import _tree

names = st.sampled_from(["a", "b", "c", "kernel", "bias", "Dense_0", "x/y"])
leaves = st.one_of(
    st.integers(-5, 5),
    st.floats(-2, 2, allow_nan=False),
    st.builds(lambda n: np.arange(n, dtype=np.float32), st.integers(0, 3)),
    st.none(),
)


def trees(containers=True):
    def extend(children):
        options = [st.dictionaries(names, children, min_size=1, max_size=4)]
        if containers:
            options += [
                st.lists(children, min_size=1, max_size=3),
                st.lists(children, min_size=1, max_size=3).map(tuple),
                st.tuples(children, children).map(lambda t: Pair(*t)),
                st.dictionaries(names, children, min_size=1, max_size=3).map(FrozenDict),
            ]
        return st.one_of(options)

    return st.recursive(leaves, extend, max_leaves=12)


def all_paths(tree, prefix=()):
    """Every path to a node or leaf (not the root), in walk order."""
    pairs = _tree.items(tree)
    if pairs is None:
        return
    for key, child in pairs:
        yield prefix + (key,)
        yield from all_paths(child, prefix + (key,))


@st.composite
def tree_and_path(draw, containers=True):
    tree = draw(trees(containers).filter(lambda t: _tree.items(t)))
    paths = list(all_paths(tree))
    return tree, draw(st.sampled_from(paths))


def off_path_subtrees_shared(old, new, path):
    """Every sibling along ``path`` is the same object in ``old`` and ``new``."""
    for depth in range(len(path)):
        node_old = vs.get(old, path[:depth])
        node_new = vs.get(new, path[:depth])
        for key, child_old in _tree.items(node_old):
            if key == path[depth]:
                continue
            child_new = vs.get(node_new, (key,))
            if isinstance(node_old, FrozenDict) and isinstance(child_old, FrozenDict):
                # FrozenDict re-wraps nested dicts on every read: compare contents
                assert child_new._dict is child_old._dict
            else:
                assert child_new is child_old, (path, key)


@given(tree_and_path(), st.integers())
def test_set_then_get_returns_the_value_and_shares_the_rest(case, marker):
    tree, path = case
    before = snapshot(tree)
    value = object()
    new = vs.at(tree, path).set(value) if not vs._paths.is_pattern(path) else None
    if new is None:  # a key like "x/y" is fine in tuple form; wildcard keys are not drawn
        return
    assert vs.get(new, path) is value
    assert type(new) is type(tree)
    off_path_subtrees_shared(tree, new, path)
    jax.tree_util.tree_map(np.testing.assert_array_equal, tree, before)


@given(tree_and_path())
def test_step_form_equals_path_form(case):
    tree, path = case
    ref = vs.at(tree)
    for key in path:
        ref = ref[key]
    a = ref.set("X")
    b = vs.at(tree, path).set("X")
    assert vs.flatten(a, sep=None) == vs.flatten(b, sep=None)


@given(tree_and_path(containers=False))
def test_delete_removes_exactly_one_entry(case):
    tree, path = case
    new = vs.at(tree, path).delete()
    old_flat = vs.flatten(tree, sep=None)
    new_flat = vs.flatten(new, sep=None)
    kept = {p: v for p, v in old_flat.items() if p[: len(path)] != path}
    assert new_flat.keys() == kept.keys()
    assert all(new_flat[p] is kept[p] for p in kept)


@given(trees(containers=False).filter(lambda t: isinstance(t, dict)))
def test_unflatten_flatten_round_trip_for_dict_trees(tree):
    flat = vs.flatten(tree)
    if not flat:
        return
    restored = vs.unflatten(flat)
    assert vs.flatten(restored, sep=None) == vs.flatten(tree, sep=None)
    assert all(restored_leaf is leaf for restored_leaf, leaf in zip(
        jax.tree_util.tree_leaves(restored, is_leaf=lambda x: x is None),
        jax.tree_util.tree_leaves(tree, is_leaf=lambda x: x is None),
    ))


@given(trees())
def test_unfreeze_freeze_round_trip(tree):
    frozen = vs.freeze(tree)
    back = vs.unfreeze(frozen)
    plain = vs.unfreeze(tree)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(plain)
    assert vs.flatten(back, sep=None).keys() == vs.flatten(plain, sep=None).keys()
    assert all(a is b for a, b in zip(
        jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(tree)
    ))
    assert vs.freeze(frozen) is frozen
    assert all(type(vs.get(frozen, p)) is not dict for p in all_paths(frozen))
    assert type(frozen) is not dict


@given(trees())
def test_clone_has_equal_structure_and_identical_leaves(tree):
    out = vs.clone_pytree(tree)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(tree)
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(tree)):
        assert a is b


@given(trees())
def test_walk_matches_jax_key_paths_and_leaf_order(tree):
    fast = _tree.walk(tree)
    reference = _tree._walk_jax(tree, None)
    assert [p for p, _ in fast] == [p for p, _ in reference]
    assert all(a is b for (_, a), (_, b) in zip(fast, reference))


def test_walk_on_every_container_kind_matches_jax():
    from helpers import containers

    tree = containers({"z": 1, "a": [2, None]}, (3,))
    assert _tree.walk(tree) == _tree._walk_jax(tree, None)
    stop = lambda x: isinstance(x, list)  # noqa: E731
    assert _tree.walk(tree, is_leaf=stop) == _tree._walk_jax(tree, stop)
