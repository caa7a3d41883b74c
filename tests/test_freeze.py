"""clone_pytree, freeze and unfreeze: deep, through every container kind."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.core import FrozenDict
from flax.training import train_state
from helpers import KEYS, containers, make_params

import variables as vs

KINDS = sorted(KEYS)


@pytest.mark.parametrize("kind", KINDS)
def test_clone_pytree_new_containers_same_leaves(kind):
    leaf = jnp.ones(2)
    tree = {"n": containers({"x": leaf}, [leaf])[kind]}
    out = vs.clone_pytree(tree)
    assert type(out["n"]) is type(tree["n"])
    assert out is not tree and out["n"] is not tree["n"]
    leaves_in = jax.tree_util.tree_leaves(tree)
    leaves_out = jax.tree_util.tree_leaves(out)
    assert all(a is b for a, b in zip(leaves_in, leaves_out))
    k1, k2 = KEYS[kind]
    if kind != "frozendict":  # FrozenDict subtrees are fresh wrappers on every read
        assert vs.get(out, ("n", k1)) is not vs.get(tree, ("n", k1))
    assert vs.get(out, ("n", k2)) is not vs.get(tree, ("n", k2))


def test_clone_pytree_keeps_aliasing():
    shared = {"w": np.ones(2)}
    lst = [shared]
    tree = {"enc": shared, "dec": shared, "l1": lst, "l2": lst}
    out = vs.clone_pytree(tree)
    assert out["enc"] is out["dec"] and out["enc"] is not shared
    assert out["l1"] is out["l2"] and out["l1"][0] is out["enc"]


def test_clone_pytree_copy_arrays():
    w = np.ones(3)
    ro = np.ones(3)
    ro.flags.writeable = False
    j = jnp.ones(3)
    out = vs.clone_pytree({"w": w, "ro": ro, "j": j, "w2": w}, copy_arrays=True)
    assert out["w"] is not w and out["w"] is out["w2"]
    out["w"][0] = 5
    assert w[0] == 1
    assert out["ro"] is ro and out["j"] is j


def test_clone_pytree_mutating_the_copy_leaves_input_alone():
    tree = make_params()
    out = vs.clone_pytree(tree)
    out["params"]["block_0"]["Dense_0"]["kernel"] = 0
    del out["batch_stats"]
    assert "batch_stats" in tree
    assert tree["params"]["block_0"]["Dense_0"]["kernel"].shape == (3, 3)


def test_clone_pytree_under_jit():
    out = jax.jit(lambda t: vs.clone_pytree(t))(make_params())
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(make_params())


def test_clone_pytree_train_state_and_empty_containers():
    state = train_state.TrainState.create(
        apply_fn=None, params={"w": jnp.ones(2)}, tx=optax.sgd(0.1)
    )
    out = vs.clone_pytree(state)
    assert type(out) is type(state) and out.params is not state.params
    assert out.params["w"] is state.params["w"]
    empty = {"a": {}, "b": [], "c": (), "d": FrozenDict()}
    out = vs.clone_pytree(empty)
    assert out == empty and out["a"] is not empty["a"] and out["b"] is not empty["b"]


def test_freeze_is_deep_through_every_container_kind():
    tree = {"params": {"w": 1}, "lst": [{"a": 1}], "nt": containers({"x": 1}, 2)["namedtuple"]}
    out = vs.freeze(tree)
    assert type(out) is FrozenDict
    assert type(out["lst"][0]) is FrozenDict
    assert type(out["nt"].first) is FrozenDict
    assert type(out["params"]) is FrozenDict
    assert type(tree["params"]) is dict  # input unchanged


def test_freeze_is_idempotent_and_shares_frozen_input():
    frozen = vs.freeze(make_params())
    assert vs.freeze(frozen) is frozen
    assert vs.freeze(frozen) == frozen


def test_unfreeze_is_deep_through_every_container_kind():
    state = train_state.TrainState.create(
        apply_fn=None, params=FrozenDict({"p": {"w": jnp.ones(2)}}), tx=optax.sgd(0.1)
    )
    out = vs.unfreeze({"s": state, "l": [FrozenDict(a={"b": 1})]})
    assert type(out["s"].params) is dict and type(out["s"].params["p"]) is dict
    assert type(out["l"][0]) is dict and out["l"][0] == {"a": {"b": 1}}
    assert type(state.params) is FrozenDict


def test_unfreeze_gives_fresh_mutable_containers_and_is_idempotent():
    tree = make_params()
    out = vs.unfreeze(tree)
    assert out == tree and out["params"] is not tree["params"]
    assert vs.unfreeze(out) == out
    fd = FrozenDict({"a": {"b": 1}})
    plain = vs.unfreeze(fd)
    plain["a"]["b"] = 2
    assert fd["a"]["b"] == 1


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_freeze_unfreeze_under_jit(jit):
    def f(t):
        return vs.unfreeze(vs.freeze(t))

    tree = make_params()
    out = jax.jit(f)(tree) if jit else f(tree)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(tree)
    frozen = jax.jit(vs.freeze)(tree) if jit else vs.freeze(tree)
    assert type(frozen) is FrozenDict
