"""vs.at: functional path editing on every container kind, eagerly and under jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.core import FrozenDict
from flax.training import train_state
from helpers import KEYS, containers, make_params, snapshot

import variables as vs

KINDS = sorted(KEYS)


def run(fn, *args, jit):
    return jax.jit(fn)(*args) if jit else fn(*args)


# -- every container kind -------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("kind", KINDS)
def test_at_set_every_container_kind(kind, jit):
    tree = {"node": containers(jnp.ones(2), jnp.zeros(3))[kind], "other": jnp.ones(1)}
    k1, k2 = KEYS[kind]

    def edit(t):
        return vs.at(t)["node"][k1].set(t["node"] and vs.get(t, ("node", k1)) * 5)

    out = run(edit, tree, jit=jit)
    assert type(out["node"]) is type(tree["node"])
    np.testing.assert_array_equal(vs.get(out, ("node", k1)), np.full(2, 5.0))
    np.testing.assert_array_equal(vs.get(out, ("node", k2)), np.zeros(3))
    np.testing.assert_array_equal(vs.get(tree, ("node", k1)), np.ones(2))
    if not jit:
        assert out["other"] is tree["other"]
        assert vs.get(out, ("node", k2)) is vs.get(tree, ("node", k2))


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("kind", KINDS)
def test_at_arithmetic_every_container_kind(kind, jit):
    node = containers(jnp.full(2, 6.0), jnp.full(2, 3.0))[kind]
    k1, k2 = KEYS[kind]

    def edit(t):
        t = vs.at(t)[k1].add(1.0)
        t = vs.at(t)[k2].multiply(2.0)
        return vs.at(t)[k1].divide(7.0)

    out = run(edit, node, jit=jit)
    assert type(out) is type(node)
    np.testing.assert_allclose(vs.get(out, (k1,)), np.ones(2))
    np.testing.assert_allclose(vs.get(out, (k2,)), np.full(2, 6.0))


@pytest.mark.parametrize("kind", KINDS)
def test_at_apply_and_get_every_container_kind(kind):
    node = containers(2.0, 3.0)[kind]
    k1, k2 = KEYS[kind]
    assert vs.at(node)[k2].get() == 3.0
    out = vs.at(node)[k1].apply(lambda x: x - 2.0)
    assert vs.get(out, (k1,)) == 0.0 and type(out) is type(node)


def test_at_keeps_static_fields_of_dataclasses():
    node = containers(1.0, 2.0)["flax_struct"].replace(label="kept")
    out = vs.at(node).value.set(9.0)
    assert out.label == "kept" and out.value == 9.0
    reg = containers(1.0, 2.0)["register_dataclass"]
    assert vs.at(reg).extra.set(0.0).tag == "reg"


def test_at_custom_container_registered_later():
    class Box:
        def __init__(self, items):
            self.items = items

    jax.tree_util.register_pytree_with_keys(
        Box,
        lambda b: ([(jax.tree_util.GetAttrKey(f"x{i}"), v) for i, v in enumerate(b.items)], None),
        lambda _, children: Box(list(children)),
    )
    tree = {"box": Box([1.0, 2.0])}
    out = vs.at(tree)["box"]["x1"].set(5.0)
    assert isinstance(out["box"], Box) and out["box"].items == [1.0, 5.0]
    assert tree["box"].items == [1.0, 2.0]
    assert vs.flatten(out) == {"box/x0": 1.0, "box/x1": 5.0}


# -- attribute steps, TrainState and optax states -------------------------------------


def _train_state():
    params = make_params(1, 1, 2)["params"]
    return train_state.TrainState.create(
        apply_fn=lambda *a: None, params=params, tx=optax.adam(1e-3)
    )


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_at_attribute_steps_on_train_state(jit):
    state = _train_state()

    def edit(s):
        return vs.at(s).params["block_0"]["Dense_0"]["bias"].set(jnp.ones(2))

    out = run(edit, state, jit=jit)
    assert type(out) is type(state)
    np.testing.assert_array_equal(out.params["block_0"]["Dense_0"]["bias"], np.ones(2))
    np.testing.assert_array_equal(state.params["block_0"]["Dense_0"]["bias"], np.zeros(2))
    assert out.apply_fn is state.apply_fn and out.tx is state.tx
    if not jit:
        assert out.opt_state is state.opt_state


def test_at_attribute_steps_on_optax_namedtuple_states():
    state = _train_state()
    opt = state.opt_state
    out = vs.at(opt)[0].mu["block_0"]["Dense_0"]["kernel"].add(1.0)
    assert type(out) is tuple and type(out[0]) is type(opt[0])
    np.testing.assert_array_equal(out[0].mu["block_0"]["Dense_0"]["kernel"], np.ones((2, 2)))
    assert out[0].nu is opt[0].nu and out[1] is opt[1]
    # a NamedTuple field is reachable by its position too
    assert vs.at(opt)[0][1].get() is opt[0].mu


def test_at_index_form_reaches_fields_named_like_operations():
    tree = {"set": 1, "get": 2}
    assert vs.at(tree)["set"].set(5) == {"set": 5, "get": 2}
    assert vs.at(tree)["get"].get() == 2


# -- structure: sharing, FrozenDict, adding and deleting ------------------------------


def test_at_shares_every_subtree_off_the_path():
    tree = make_params(3, 3)
    out = vs.at(tree)["params"]["block_1"]["Dense_2"]["kernel"].multiply(2.0)
    assert out["batch_stats"] is tree["batch_stats"]
    assert out["params"]["block_0"] is tree["params"]["block_0"]
    assert out["params"]["block_1"]["Dense_0"] is tree["params"]["block_1"]["Dense_0"]
    dense = out["params"]["block_1"]["Dense_2"]
    assert dense["bias"] is tree["params"]["block_1"]["Dense_2"]["bias"]
    assert dense is not tree["params"]["block_1"]["Dense_2"]


def test_at_set_same_object_returns_input():
    tree = make_params()
    leaf = tree["params"]["block_0"]["Dense_0"]["kernel"]
    assert vs.at(tree, "params/block_0/Dense_0/kernel").set(leaf) is tree


def test_at_frozendict_stays_frozen_at_every_level():
    tree = FrozenDict(make_params())
    out = vs.at(tree, "params/block_0/Dense_0/bias").set(jnp.ones(3))
    assert type(out) is FrozenDict and type(out["params"]["block_0"]) is FrozenDict
    np.testing.assert_array_equal(out["params"]["block_0"]["Dense_0"]["bias"], np.ones(3))
    np.testing.assert_array_equal(tree["params"]["block_0"]["Dense_0"]["bias"], np.zeros(3))
    assert hash(FrozenDict({"a": 1})) == hash(vs.at(FrozenDict({"a": 0}))["a"].set(1))


def test_at_frozendict_set_copies_a_dict_value():
    inner = {"w": 1}
    out = vs.at(FrozenDict({"a": 0}))["a"].set(inner)
    inner["w"] = 2
    assert out["a"]["w"] == 1


def test_at_set_new_key_adds_it_to_mappings():
    assert vs.at({"a": {}})["a"]["b"].set(1) == {"a": {"b": 1}}
    out = vs.at(FrozenDict({"a": {}}))["a"]["b"].set(1)
    assert out == FrozenDict({"a": {"b": 1}}) and type(out) is FrozenDict


def test_at_delete_from_mapping_list_and_tuple():
    assert vs.at({"a": 1, "b": 2})["a"].delete() == {"b": 2}
    assert vs.at({"x": [1, 2, 3]})["x"][0].delete() == {"x": [2, 3]}
    assert vs.at((1, 2, 3))[-1].delete() == (1, 2)
    out = vs.at(FrozenDict({"a": 1, "b": 2}))["b"].delete()
    assert type(out) is FrozenDict and dict(out) == {"a": 1}


def test_at_delete_errors():
    with pytest.raises(vs.PathError, match="no key 'c'"):
        vs.at({"a": 1})["c"].delete()
    with pytest.raises(vs.StructureError, match="fields are fixed"):
        vs.at(containers(1, 2)["namedtuple"])["first"].delete()
    with pytest.raises(vs.PathError, match="root"):
        vs.at({"a": 1}).delete()


def test_at_root_operations():
    assert vs.at(3.0).set(4.0) == 4.0
    assert vs.at({"a": 1.0}).multiply(2.0) == {"a": 2.0}
    assert vs.at([1, 2]).get() == [1, 2]


def test_at_none_leaves_are_paths():
    tree = {"a": None, "b": (None, 1)}
    assert vs.at(tree)["a"].set(3) == {"a": 3, "b": (None, 1)}
    assert vs.at(tree)["b"][0].set(2) == {"a": None, "b": (2, 1)}
    assert vs.at(tree, "b/0").get() is None


def test_at_empty_containers():
    assert vs.at({"a": ()})["a"].set([]) == {"a": []}
    assert vs.at({})["new"].set(1) == {"new": 1}


def test_at_multiply_subtree_maps_over_leaves():
    tree = {"a": {"x": 1.0, "y": [2.0, 3.0]}, "b": 4.0}
    assert vs.at(tree)["a"].multiply(10) == {"a": {"x": 10.0, "y": [20.0, 30.0]}, "b": 4.0}


def test_at_aliased_subtree_is_edited_once_per_path():
    shared = {"w": 1.0}
    tree = {"enc": shared, "dec": shared}
    out = vs.at(tree, "enc/w").set(2.0)
    assert out["enc"]["w"] == 2.0 and out["dec"]["w"] == 1.0 and out["dec"] is shared


def test_at_value_dependent_edit_under_jit():
    @jax.jit
    def clip(tree):
        return vs.at(tree, "**/kernel").apply(lambda k: jnp.where(k > 2.0, 2.0, k))

    out = clip(make_params())
    assert float(jnp.max(out["params"]["block_1"]["Dense_1"]["kernel"])) == 2.0


def test_at_under_grad_and_vmap():
    params = make_params(1, 1, 2)["params"]

    def loss(p):
        p = vs.at(p, "block_0/Dense_0/kernel").multiply(3.0)
        return jnp.sum(p["block_0"]["Dense_0"]["kernel"])

    g = jax.grad(loss)(params)
    np.testing.assert_array_equal(g["block_0"]["Dense_0"]["kernel"], np.full((2, 2), 3.0))
    out = jax.vmap(lambda x: vs.at({"a": x, "b": 1.0})["a"].add(1.0)["a"])(jnp.arange(3.0))
    np.testing.assert_array_equal(out, np.arange(3.0) + 1)


def test_at_does_not_retrace():
    traces = []

    @jax.jit
    def step(tree):
        traces.append(1)
        return vs.at(tree, "params/**/bias").add(1.0)

    tree = make_params()
    for _ in range(3):
        tree = step(tree)
    assert len(traces) == 1


# -- patterns ---------------------------------------------------------------------------


def test_at_pattern_edits_every_match_and_only_them():
    tree = make_params(2, 2)
    out = vs.at(tree, "params/*/Dense_1/kernel").set(0.0)
    for b in ("block_0", "block_1"):
        assert out["params"][b]["Dense_1"]["kernel"] == 0.0
        assert out["params"][b]["Dense_0"] is tree["params"][b]["Dense_0"]
    assert out["batch_stats"] is tree["batch_stats"]


def test_at_pattern_get_returns_flat_dict_in_tree_order():
    tree = {"b": {"k": 1}, "a": {"k": 2, "j": 3}}
    assert vs.at(tree, "*/k").get() == {"b/k": 1, "a/k": 2}
    assert list(vs.at(tree, "**").get()) == [""]


def test_at_pattern_shell_wildcards_and_indices():
    tree = {"layers": [{"w": 1}, {"w": 2}, {"w": 3}], "layer_10": 0}
    assert vs.at(tree, "layers/[0-1]/w").multiply(10)["layers"] == [
        {"w": 10},
        {"w": 20},
        {"w": 3},
    ]
    assert vs.at(tree, "layer_?*").get() == {"layer_10": 0}


def test_at_pattern_delete():
    tree = {"a": {"tmp_1": 1, "keep": 2}, "b": {"tmp_2": 3}}
    assert vs.at(tree, "**/tmp_*").delete() == {"a": {"keep": 2}, "b": {}}


def test_at_pattern_then_steps():
    tree = {"x": {"m": {"w": 1}}, "y": {"m": {"w": 2}}}
    assert vs.at(tree, "*")["m"]["w"].add(1) == {"x": {"m": {"w": 2}}, "y": {"m": {"w": 3}}}


def test_at_pattern_on_train_state_under_jit():
    state = _train_state()
    out = jax.jit(lambda s: vs.at(s, "params/**/kernel").multiply(0.0))(state)
    assert type(out) is type(state)
    np.testing.assert_array_equal(out.params["block_0"]["Dense_0"]["kernel"], np.zeros((2, 2)))


# -- errors ------------------------------------------------------------------------------


def test_at_missing_intermediate_names_path_segment_and_closest_keys():
    tree = make_params()
    with pytest.raises(vs.PathError, match="no key 'blok_0'.*Did you mean 'block_0'") as err:
        vs.at(tree)["params"]["blok_0"]["Dense_0"].set(1)
    assert err.value.path == ("params", "blok_0", "Dense_0")
    assert err.value.segment == "blok_0"
    assert "block_0" in err.value.available
    assert isinstance(err.value, KeyError) and isinstance(err.value, vs.VariablesError)


def test_at_index_out_of_range():
    with pytest.raises(vs.PathError, match="index 5 is out of range for the list of length 2"):
        vs.at({"l": [1, 2]})["l"][5].set(0)


def test_at_step_into_a_leaf():
    with pytest.raises(vs.PathError, match="leaf of type int"):
        vs.at({"a": 1})["a"]["b"].set(0)


def test_at_unknown_dataclass_field():
    with pytest.raises(vs.PathError, match="no key 'valu'.*Did you mean 'value'"):
        vs.at(containers(1, 2)["flax_struct"]).valu.set(0)
    with pytest.raises(vs.PathError, match="no key 'third' in the Pair"):
        vs.at(containers(1, 2)["namedtuple"])["third"].set(0)


def test_at_pattern_matching_nothing_names_segment_and_closest_keys():
    with pytest.raises(vs.PathError, match="'params/\\*\\*/kernal' matches nothing.*Did you mean 'kernel'"):
        vs.at(make_params(), "params/**/kernal").multiply(2)
    with pytest.raises(vs.PathError, match="is a leaf of type int, still expecting 'x'"):
        vs.at({"a": 1}, "a/x/**").get()


def test_at_assignment_teaches_the_functional_form():
    ref = vs.at({"a": 1})
    with pytest.raises(TypeError, match=r"vs.at\(tree\)\['a'\].set\(v\)"):
        ref["a"] = 2


def test_at_input_is_never_changed():
    tree = make_params()
    before = snapshot(tree)
    vs.at(tree, "**/kernel").multiply(0.0)
    vs.at(tree)["params"]["block_0"].delete()
    vs.at(tree)["params"]["new"].set(1)
    jax.tree_util.tree_map(np.testing.assert_array_equal, tree, before)
    assert set(tree["params"]) == {"block_0", "block_1"}


def test_at_numpy_leaf_not_mutated_by_arithmetic():
    w = np.ones(3)
    tree = {"w": w}
    vs.at(tree)["w"].add(1.0)
    np.testing.assert_array_equal(w, np.ones(3))
