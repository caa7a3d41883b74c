"""vs.init, vs.apply and vs.Model over flax.linen, eagerly and under jax.jit."""

from __future__ import annotations

import copy
import pickle
import re
from collections.abc import Mapping
from typing import Any

import flax
import flax.errors
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.core import FrozenDict
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.tree_util import DictKey

import variables as vs
from variables import _flax

X = jnp.arange(8.0).reshape(2, 4) / 8.0


class Net(nn.Module):
    """Dense, BatchNorm and Dropout, a cache, a user collection and a sown value."""

    features: int = 3

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Dense(self.features)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.5)(x)
        x = nn.Dropout(0.5, deterministic=not train)(x)
        calls = self.variable("counters", "calls", lambda: jnp.zeros((), jnp.int32))
        cache = self.variable("cache", "last", lambda: jnp.zeros_like(x))
        if not self.is_initializing():
            if self.is_mutable_collection("counters"):
                calls.value += 1
            if self.is_mutable_collection("cache"):
                cache.value = x
        self.sow("intermediates", "features", x)
        return x


class Encoder(nn.Module):
    """Two methods; initialising one of them creates only its own parameters."""

    def setup(self):
        self.dense = nn.Dense(3)
        self.head = nn.Dense(2)

    def __call__(self, x):
        return self.head(self.encode(x))

    def encode(self, x):
        return self.dense(x)


class MLP(nn.Module):
    features: tuple = (5, 2)

    @nn.compact
    def __call__(self, x):
        for i, f in enumerate(self.features):
            x = nn.Dense(f)(x)
            if i < len(self.features) - 1:
                x = nn.relu(x)
        return x


class TwoRngs(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Dropout(0.5, deterministic=False)(x)
        return x + jax.random.normal(self.make_rng("noise"), x.shape)


class WithArray(nn.Module):
    """A module whose field is an array: not hashable, not comparable."""

    table: Any

    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(x) * self.table


NET = Net()
COLLECTIONS = ["batch_stats", "cache", "counters", "params"]
VARS = NET.init(jax.random.key(0), X)
MUTABLE = ["batch_stats", "counters", "cache"]


def run(fn, *args, jit):
    return jax.jit(fn)(*args) if jit else fn(*args)


both = pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])


def assert_plain(tree: Any) -> None:
    """Every mapping in the tree is a plain dict."""
    assert type(tree) is dict, type(tree)
    for value in tree.values():
        if isinstance(value, Mapping):
            assert_plain(value)


def assert_frozen(tree: Any) -> None:
    """The tree is a FrozenDict all the way down (freezing it changes nothing)."""
    assert type(tree) is FrozenDict
    assert vs.freeze(tree) is tree


def assert_close(a: Any, b: Any) -> None:
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6)


@pytest.fixture
def flax_returns_frozendict():
    old = flax.config.flax_return_frozendict
    flax.config.update("flax_return_frozendict", True)
    try:
        # The flag really changes what Flax returns, so the tests below mean it.
        assert type(nn.Dense(2).init(jax.random.key(0), X)) is FrozenDict
        yield
    finally:
        flax.config.update("flax_return_frozendict", old)


# ---------------------------------------------------------------------------------
# vs.init


@both
def test_init_returns_plain_dicts_in_every_collection(jit):
    out = run(lambda x: vs.init(NET, 0, x), X, jit=jit)
    assert_plain(out)
    assert sorted(out) == COLLECTIONS
    assert_close(out, vs.unfreeze(VARS))


@both
def test_init_frozen_returns_frozendicts(jit):
    out = run(lambda x: vs.init(NET, 0, x, frozen=True), X, jit=jit)
    assert_frozen(out)
    assert_close(vs.unfreeze(out), vs.unfreeze(VARS))


@both
def test_init_plain_whatever_flax_config_says(flax_returns_frozendict, jit):
    out = run(lambda x: vs.init(NET, 0, x), X, jit=jit)
    assert_plain(out)
    assert_frozen(run(lambda x: vs.init(NET, 0, x, frozen=True), X, jit=jit))


RNG_FORMS = {
    "int": lambda: 3,
    "numpy int": lambda: np.int64(3),
    "key": lambda: jax.random.key(3),
    "raw PRNGKey": lambda: jax.random.PRNGKey(3),
    "dict of int": lambda: {"params": 3},
    "dict of key": lambda: {"params": jax.random.key(3)},
    "FrozenDict": lambda: FrozenDict(params=jax.random.key(3)),
}


@pytest.mark.parametrize("form", sorted(RNG_FORMS))
def test_init_rngs_forms_match_flax(form):
    expected = MLP().init(jax.random.key(3), X)
    assert_close(vs.init(MLP(), RNG_FORMS[form](), X), expected)


def test_init_traced_seed_and_key():
    expected = MLP().init(jax.random.key(3), X)

    @jax.jit
    def f(seed, key):
        return [vs.init(MLP(), rngs, X) for rngs in (seed, key, {"params": seed})]

    for out in f(3, jax.random.key(3)):
        assert_close(out, expected)


def test_init_method_and_kwargs():
    by_name = vs.init(Encoder(), 0, X, method="encode")
    by_fn = vs.init(Encoder(), 0, X, method=Encoder.encode)
    assert sorted(by_name["params"]) == ["dense"]
    assert sorted(vs.init(Encoder(), 0, X)["params"]) == ["dense", "head"]
    assert_close(by_name, by_fn)
    trained = vs.init(NET, 0, X, train=True)  # Dropout falls back to "params"
    assert sorted(trained) == COLLECTIONS


BAD_RNGS = {
    "str": ("abc", r"`rngs` must be an int seed or a single key.*got str 'abc'"),
    "float": (1.5, r"`rngs` must be .*got float 1.5"),
    "bool": (True, r"`rngs` must be .*got bool True"),
    "list": ([1, 2], r"`rngs` must be .*got list"),
    "float array": (jnp.ones(2), r"got an array of shape \(2,\) and dtype float32"),
    "batch of keys": (
        jax.random.split(jax.random.key(0), 3),
        r"got an array of shape \(3,\) and dtype key",
    ),
    "bad value in dict": ({"dropout": "x"}, r"`rngs\['dropout'\]` must be"),
    "bad name in dict": ({0: 1}, r"rng names must be strings, got 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_RNGS))
def test_init_and_apply_reject_bad_rngs(case):
    rngs, match = BAD_RNGS[case]
    with pytest.raises(vs.ApplyError, match=match):
        vs.init(MLP(), rngs, X)
    with pytest.raises(vs.ApplyError, match=match):
        vs.apply(MLP(), vs.init(MLP(), 0, X), X, rngs=rngs)


def test_init_without_rngs():
    with pytest.raises(vs.ApplyError, match=r"vs.init needs `rngs` to initialise MLP"):
        vs.init(MLP(), None, X)


@both
def test_init_missing_params_rng_is_explained(jit):
    with pytest.raises(vs.ApplyError) as info:
        run(lambda x: vs.init(NET, {"dropout": 1}, x), X, jit=jit)
    message = str(info.value)
    assert 'needs PRNG for "params"' in message
    assert "not given: ['params']; rngs given: ['dropout']" in message
    assert isinstance(info.value.__cause__, flax.errors.InvalidRngError)


@pytest.mark.parametrize("fn", [vs.init, vs.apply, vs.Model.init])
def test_not_a_module(fn):
    with pytest.raises(vs.StructureError, match=r"needs a flax.linen.Module.*got type"):
        fn(Net, 0, X)


# ---------------------------------------------------------------------------------
# vs.apply


@both
def test_apply_matches_flax(jit):
    out = run(lambda v, x: vs.apply(NET, v, x), vs.unfreeze(VARS), X, jit=jit)
    np.testing.assert_allclose(out, NET.apply(VARS, X), rtol=1e-6)


@both
@pytest.mark.parametrize(
    "mutable", [["batch_stats"], "batch_stats", MUTABLE, True], ids=str
)
def test_apply_mutable_returns_plain_updates(mutable, jit):
    def f(v, x):
        return vs.apply(NET, v, x, train=True, rngs=1, mutable=mutable)

    y, updates = run(f, vs.unfreeze(VARS), X, jit=jit)
    ref_y, ref = NET.apply(VARS, X, train=True, rngs=jax.random.key(1), mutable=mutable)
    assert_plain(updates)
    assert_close(updates, vs.unfreeze(ref))
    np.testing.assert_allclose(y, ref_y, rtol=1e-6)
    assert updates["batch_stats"]["BatchNorm_0"]["mean"].shape == (3,)


@both
def test_apply_updates_plain_whatever_flax_config_says(flax_returns_frozendict, jit):
    def f(v, x, frozen):
        return vs.apply(NET, v, x, train=True, rngs=1, mutable=MUTABLE, frozen=frozen)

    _, updates = run(lambda v, x: f(v, x, False), VARS, X, jit=jit)
    assert_plain(updates)
    assert sorted(updates) == ["batch_stats", "cache", "counters"]
    _, frozen = run(lambda v, x: f(v, x, True), VARS, X, jit=jit)
    assert_frozen(frozen)
    assert_close(vs.unfreeze(frozen), updates)


def test_apply_mutable_empty_list_returns_empty_updates():
    y, updates = vs.apply(NET, VARS, X, mutable=[])
    assert updates == {} and type(updates) is dict
    assert y.shape == (2, 3)


def _mix(node: Any, draw) -> Any:
    """Freezes each dict of the tree or not, as ``draw`` says."""
    if isinstance(node, Mapping):
        new = {k: _mix(v, draw) for k, v in node.items()}
        return FrozenDict(new) if draw() else new
    return node


_MIX_REF = NET.apply(VARS, X, train=True, rngs=jax.random.key(2), mutable=MUTABLE)


@settings(max_examples=25)
@given(st.data())
def test_apply_accepts_any_mix_of_dicts_and_frozendicts(data):
    mixed = _mix(vs.unfreeze(VARS), lambda: data.draw(st.booleans()))
    before = jax.tree_util.tree_leaves(mixed)
    y, updates = vs.apply(NET, mixed, X, train=True, rngs=2, mutable=MUTABLE)
    assert_plain(updates)
    assert_close(updates, vs.unfreeze(_MIX_REF[1]))
    np.testing.assert_allclose(y, _MIX_REF[0], rtol=1e-6)
    assert all(a is b for a, b in zip(jax.tree_util.tree_leaves(mixed), before))


def test_apply_mix_under_jit():
    mixed = {
        "params": FrozenDict(VARS["params"]),
        "batch_stats": {"BatchNorm_0": FrozenDict(VARS["batch_stats"]["BatchNorm_0"])},
        "cache": VARS["cache"],
        "counters": FrozenDict(VARS["counters"]),
    }
    f = jax.jit(lambda v, x: vs.apply(NET, v, x, train=True, rngs=2, mutable=MUTABLE))
    y, updates = f(mixed, X)
    assert_plain(updates)
    assert_close(updates, vs.unfreeze(_MIX_REF[1]))


def test_apply_does_not_change_its_input():
    variables = vs.unfreeze(VARS)
    snapshot = copy.deepcopy(jax.tree_util.tree_map(np.asarray, variables))
    _, updates = vs.apply(NET, variables, X, train=True, rngs=0, mutable=True)
    updates["batch_stats"]["BatchNorm_0"]["mean"] = None  # ours to change
    assert_close(jax.tree_util.tree_map(np.asarray, variables), snapshot)
    assert updates["params"] is not variables["params"]


@both
def test_apply_rngs_seed_key_and_dict_agree(jit):
    def f(v, x, rngs):
        return vs.apply(NET, v, x, train=True, rngs=rngs, mutable=["batch_stats"])[0]

    by_seed = run(lambda v, x: f(v, x, {"dropout": 5}), VARS, X, jit=jit)
    by_key = run(lambda v, x: f(v, x, {"dropout": jax.random.key(5)}), VARS, X, jit=jit)
    ref = NET.apply(
        VARS,
        X,
        train=True,
        rngs={"dropout": jax.random.key(5)},
        mutable=["batch_stats"],
    )[0]
    np.testing.assert_array_equal(by_seed, ref)
    np.testing.assert_array_equal(by_key, ref)
    other = run(lambda v, x: f(v, x, {"dropout": 6}), VARS, X, jit=jit)
    assert not np.array_equal(other, ref)
    # One seed is the "params" stream, which Flax uses for every missing name.
    single = run(lambda v, x: f(v, x, 5), VARS, X, jit=jit)
    np.testing.assert_array_equal(
        single,
        NET.apply(VARS, X, train=True, rngs=jax.random.key(5), mutable=["batch_stats"])[
            0
        ],
    )


@both
def test_apply_capture_intermediates(jit):
    def f(v, x):
        return vs.apply(MLP(), v, x, capture_intermediates=True)

    v = vs.init(MLP(), 0, X)
    y, updates = run(f, v, X, jit=jit)
    assert_plain(updates)
    assert sorted(updates) == ["intermediates"]
    assert sorted(updates["intermediates"]) == ["Dense_0", "Dense_1", "__call__"]
    np.testing.assert_allclose(updates["intermediates"]["__call__"][0], y)


@both
def test_apply_method_by_name_and_function(jit):
    v = vs.init(Encoder(), 0, X)
    a = run(lambda v, x: vs.apply(Encoder(), v, x, method="encode"), v, X, jit=jit)
    b = run(
        lambda v, x: vs.apply(Encoder(), v, x, method=Encoder.encode), v, X, jit=jit
    )
    ref = Encoder().apply(v, X, method=Encoder.encode)
    np.testing.assert_allclose(a, ref, rtol=1e-6)
    np.testing.assert_allclose(b, ref, rtol=1e-6)
    assert a.shape == (2, 3)


def test_apply_rejects_non_mapping_variables():
    with pytest.raises(vs.StructureError, match=r"mapping of collections.*got list"):
        vs.apply(NET, [VARS], X)
    model = vs.Model(NET, VARS)
    with pytest.raises(vs.StructureError, match=r"got Model\. To run a vs.Model, call"):
        vs.apply(NET, model, X)


# -- errors from Flax, explained --------------------------------------------------


def _without(tree: dict, *path: str) -> dict:
    return vs.at(tree, "/".join(path)).delete()


ERROR_CASES = {
    "missing collection": (
        lambda v: {"params": v["params"]},
        {},
        flax.errors.ScopeCollectionNotFound,
        [
            r"Tried to access \"mean\" from collection \"batch_stats\"",
            r"needs: \['batch_stats', 'cache', 'counters', 'params'\]; "
            r"collections given: \['params'\]",
            r"Missing: batch_stats/BatchNorm_0/mean, batch_stats/BatchNorm_0/var, "
            r"cache/last, counters/calls\.",
            r"Pass every collection vs.init returned",
        ],
    ),
    "missing parameter": (
        lambda v: _without(v, "params", "BatchNorm_0", "scale"),
        {},
        flax.errors.ScopeParamNotFoundError,
        [r"parameter named \"scale\"", r"Missing: params/BatchNorm_0/scale\."],
    ),
    "missing variable": (
        lambda v: _without(v, "batch_stats", "BatchNorm_0", "var"),
        {},
        flax.errors.ScopeVariableNotFoundError,
        [r"No Variable named \"var\"", r"Missing: batch_stats/BatchNorm_0/var\."],
    ),
    "wrong shape": (
        lambda v: vs.at(v, "params/Dense_0/kernel").set(jnp.ones((5, 3))),
        {},
        flax.errors.ScopeParamShapeError,
        [r"Wrong shape: params/Dense_0/kernel \(5, 3\) \(needs \(4, 3\)\)\."],
    ),
    "renamed layer": (
        lambda v: vs.rename(v, {r"Dense_0": "Dense0"}),
        {},
        flax.errors.ScopeParamNotFoundError,
        [
            r"Missing: params/Dense_0/bias, params/Dense_0/kernel\.",
            r"Not used by the module: params/Dense0/bias, params/Dense0/kernel\.",
        ],
    ),
    "params collection alone": (
        lambda v: v["params"],
        {},
        flax.errors.ScopeCollectionNotFound,
        [
            r"collections given: \['BatchNorm_0', 'Dense_0'\]",
            r"look like the contents of the 'params' collection",
        ],
    ),
    "extra params level": (
        lambda v: {"params": v},
        {},
        flax.errors.ApplyScopeInvalidVariablesStructureError,
        [r"extra 'params' level\. Pass the variables vs.init returned as they are"],
    ),
    "immutable collection": (
        lambda v: v,
        {"train": True, "rngs": 0},
        flax.errors.ModifyScopeVariableError,
        [
            r"collection \"batch_stats\" is immutable",
            r"pass `mutable=\['batch_stats'\]` to get `\(y, updates\)` back",
        ],
    ),
    "missing rng": (
        lambda v: v,
        {"train": True, "mutable": ["batch_stats"]},
        flax.errors.InvalidRngError,
        [
            r"needs PRNG for \"dropout\"",
            r"not given: \['dropout'\]; rngs given: none\. "
            r"Pass rngs=\{'dropout': key\}",
        ],
    ),
}


@both
@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_apply_flax_errors_are_explained(case, jit):
    edit, kwargs, flax_error, patterns = ERROR_CASES[case]
    variables = edit(vs.unfreeze(VARS))
    with pytest.raises(vs.ApplyError, match=patterns[0]) as info:
        run(lambda v, x: vs.apply(NET, v, x, **kwargs), variables, X, jit=jit)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, vs.VariablesError)
    assert isinstance(info.value.__cause__, flax_error)
    assert str(info.value).startswith("vs.apply could not run Net: ")
    assert "https://" not in str(info.value)
    for pattern in patterns[1:]:
        assert re.search(pattern, str(info.value)), f"{pattern!r} not in:\n{info.value}"


@both
def test_apply_lists_every_missing_rng(jit):
    variables = vs.init(TwoRngs(), 0, X)
    with pytest.raises(vs.ApplyError) as info:
        run(
            lambda v, x: vs.apply(TwoRngs(), v, x, rngs={"other": 1}),
            variables,
            X,
            jit=jit,
        )
    assert "not given: ['dropout', 'noise']; rngs given: ['other']" in str(info.value)
    assert "rngs={'dropout': key, 'noise': key}" in str(info.value)
    out = run(
        lambda v, x: vs.apply(TwoRngs(), v, x, rngs={"dropout": 1, "noise": 2}),
        variables,
        X,
        jit=jit,
    )
    assert out.shape == X.shape


def test_apply_error_when_the_module_cannot_be_initialised_abstractly():
    class InitFails(nn.Module):
        @nn.compact
        def __call__(self, x):
            if self.is_initializing():
                raise RuntimeError("no init here")
            return nn.Dense(2)(x)

    with pytest.raises(
        vs.ApplyError,
        match=r"collection is empty\.\nCollections given: "
        r"\['other'\]\.$",
    ):
        vs.apply(InitFails(), {"other": {}}, X)


def test_apply_error_diagnosis_never_hides_flax_message(monkeypatch):
    def broken(call):
        raise RuntimeError("diagnosis failed")

    monkeypatch.setattr(_flax, "_expected_variables", broken)
    with pytest.raises(vs.ApplyError, match=r"the collection is empty\.$"):
        vs.apply(NET, {"params": VARS["params"]}, X)


def test_apply_unrelated_errors_pass_through():
    class Broken(nn.Module):
        @nn.compact
        def __call__(self, x):
            raise ZeroDivisionError("inside the module")

    with pytest.raises(ZeroDivisionError, match="inside the module"):
        vs.apply(Broken(), {}, X)


# ---------------------------------------------------------------------------------
# vs.Model


def make_model(module=None) -> vs.Model:
    return vs.Model.init(module or NET, 0, X)


def test_model_init_and_attributes():
    model = make_model()
    assert isinstance(model, vs.Model)
    assert model.module is NET
    assert_plain(model.variables)
    assert list(model.variables) == COLLECTIONS
    assert model.params is model.variables["params"]
    assert_close(model.variables, vs.init(NET, 0, X))
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(model.params))
    assert repr(model) == (
        f"Model(Net, parameters={n_params}, collections={COLLECTIONS})"
    )
    assert n_params == 4 * 3 + 3 + 3 + 3


def test_model_init_plain_whatever_flax_config_says(flax_returns_frozendict):
    model = make_model()
    assert_plain(model.variables)
    _, model = model.apply(X, train=True, rngs=0, mutable=["batch_stats"])
    assert_plain(model.variables)


@both
def test_model_call_matches_apply(jit):
    model = make_model()
    out = run(lambda m, x: m(x), model, X, jit=jit)
    np.testing.assert_allclose(out, vs.apply(NET, model.variables, X), rtol=1e-6)
    encoder = vs.Model.init(Encoder(), 0, X)
    enc = run(lambda m, x: m(x, method="encode"), encoder, X, jit=jit)
    ref = vs.apply(Encoder(), encoder.variables, X, method="encode")
    np.testing.assert_allclose(enc, ref, rtol=1e-6)


@both
def test_model_call_with_dropout_rngs(jit):
    model = vs.Model.init(nn.Dropout(0.5, deterministic=False), 0, X)
    a = run(lambda m, x: m(x, rngs={"dropout": 1}), model, X, jit=jit)
    b = run(lambda m, x: m(x, rngs={"dropout": jax.random.key(1)}), model, X, jit=jit)
    np.testing.assert_array_equal(a, b)
    assert np.any(a == 0) and np.any(a != 0)


@both
def test_model_apply_mutable_returns_updated_model(jit):
    model = make_model()

    def step(m, x):
        return m.apply(x, train=True, rngs={"dropout": 3}, mutable=["batch_stats"])

    y, new = run(step, model, X, jit=jit)
    ref_y, ref = vs.apply(
        NET, VARS, X, train=True, rngs={"dropout": 3}, mutable=["batch_stats"]
    )
    assert isinstance(new, vs.Model) and new.module is NET
    np.testing.assert_allclose(y, ref_y, rtol=1e-6)
    assert_close(new.variables["batch_stats"], ref["batch_stats"])
    assert list(new.variables) == COLLECTIONS
    assert not np.allclose(
        new.variables["batch_stats"]["BatchNorm_0"]["mean"],
        model.variables["batch_stats"]["BatchNorm_0"]["mean"],
    )
    if not jit:
        assert new.params is model.params  # untouched collections are shared
        assert new._static is model._static


def test_model_apply_without_mutable_returns_output_only():
    model = make_model()
    out = model.apply(X)
    assert isinstance(out, jax.Array) and out.shape == (2, 3)


def test_model_apply_mutable_true_and_new_collections():
    model = vs.Model(NET, {k: v for k, v in VARS.items() if k != "cache"})
    _, new = model.apply(X, train=True, rngs=0, mutable=True)
    # "cache" was created, and sown "intermediates" kept: both sorted in.
    assert list(new.variables) == sorted(COLLECTIONS + ["intermediates"])
    assert int(new.variables["counters"]["calls"]) == 1
    full = make_model()
    _, captured = full.apply(X, capture_intermediates=True)
    assert list(captured.variables) == sorted(COLLECTIONS + ["intermediates"])
    assert captured.variables["params"] is full.params
    _, same = full.apply(X, mutable=[])
    assert same is full


def test_model_apply_keeps_frozen_collections_frozen():
    model = vs.Model(NET, FrozenDict(VARS))
    assert type(model.variables) is dict
    assert type(model.variables["batch_stats"]) is FrozenDict
    _, new = model.apply(X, train=True, rngs=0, mutable=["batch_stats"])
    assert_frozen(new.variables["batch_stats"])
    assert new.variables["params"] is model.variables["params"]


@both
def test_model_error_hint_names_model_apply(jit):
    model = make_model()
    with pytest.raises(vs.ApplyError, match=r"^vs.Model could not run Net") as info:
        run(lambda m, x: m(x, train=True, rngs=0), model, X, jit=jit)
    assert "`y, model = model.apply(x, mutable=['batch_stats'])`" in str(info.value)


# -- the pytree ---------------------------------------------------------------------


def test_model_children_are_its_collections_keyed_like_a_dict():
    model = make_model()
    children, treedef = jax.tree_util.tree_flatten(
        model, is_leaf=lambda x: x is not model
    )
    assert [c is model.variables[n] for c, n in zip(children, COLLECTIONS)] == [
        True
    ] * 4
    keyed = jax.tree_util.tree_flatten_with_path(
        model, is_leaf=lambda x: x is not model
    )
    assert [kp for kp, _ in keyed[0]] == [(DictKey(n),) for n in COLLECTIONS]
    # The leaves, their order and their paths are exactly those of the variables.
    assert jax.tree_util.tree_leaves(model) == jax.tree_util.tree_leaves(
        model.variables
    )
    assert list(vs.flatten(model)) == list(vs.flatten(model.variables))
    assert "params/Dense_0/kernel" in vs.flatten(model)
    assert (
        jax.tree_util.keystr(jax.tree_util.tree_flatten_with_path(model)[0][-1][0])
        == "['params']['Dense_0']['kernel']"
    )


def test_model_unflatten_does_not_copy():
    model = make_model()
    leaves, treedef = jax.tree_util.tree_flatten(model)
    again = jax.tree_util.tree_unflatten(treedef, leaves)
    assert isinstance(again, vs.Model) and again.module is model.module
    assert all(a is b for a, b in zip(jax.tree_util.tree_leaves(again), leaves))
    assert again._static is model._static
    children, treedef = jax.tree_util.tree_flatten(
        model, is_leaf=lambda x: x is not model
    )
    rebuilt = jax.tree_util.tree_unflatten(treedef, children)
    assert all(rebuilt.variables[n] is model.variables[n] for n in COLLECTIONS)


def test_model_equal_modules_give_equal_treedefs_and_no_retrace():
    traces = []

    @jax.jit
    def f(m, x):
        traces.append(1)
        return m(x)

    a = vs.Model.init(MLP(), 0, X)
    b = vs.Model.init(MLP(), 1, X)  # an equal module, made separately
    c = vs.Model.init(MLP(features=(5, 3)), 0, X)
    assert a.module is not b.module
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    assert jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(c)
    f(a, X)
    f(b, X)
    f(jax.tree_util.tree_map(lambda x: x + 1, a), X)
    assert len(traces) == 1
    f(c, X)
    assert len(traces) == 2


def test_model_of_an_unhashable_module():
    table = jnp.arange(2.0)
    model = vs.Model.init(WithArray(table), 0, X)
    other = vs.Model.init(WithArray(table + 1), 0, X)
    assert jax.tree_util.tree_structure(model) == jax.tree_util.tree_structure(model)
    assert jax.tree_util.tree_structure(model) != jax.tree_util.tree_structure(other)
    traces = []

    @jax.jit
    def f(m, x):
        traces.append(1)
        return m(x)

    np.testing.assert_allclose(f(model, X), model(X), rtol=1e-6)
    f(jax.tree_util.tree_map(lambda x: x * 2, model), X)
    assert len(traces) == 1
    listed = vs.Model.init(MLP(features=[5, 2]), 0, X)  # a list field: unhashable
    again = vs.Model.init(MLP(features=[5, 2]), 0, X)
    assert jax.tree_util.tree_structure(listed) == jax.tree_util.tree_structure(again)


@both
def test_grad_of_a_model_is_a_model(jit):
    model = vs.Model.init(MLP(), 0, X)

    def loss(m):
        return jnp.sum(m(X) ** 2)

    grads = run(jax.grad(loss), model, jit=jit)
    assert isinstance(grads, vs.Model) and grads.module == model.module
    expected = jax.grad(lambda v: jnp.sum(MLP().apply(v, X) ** 2))(model.variables)
    assert_close(grads.variables, expected)


def test_vmap_over_models():
    models = [vs.Model.init(MLP(), seed, X) for seed in range(3)]
    ensemble = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *models)
    assert isinstance(ensemble, vs.Model)
    assert ensemble.params["Dense_0"]["kernel"].shape == (3, 4, 5)
    out = jax.jit(jax.vmap(lambda m: m(X)))(ensemble)  # a Model in
    assert out.shape == (3, 2, 2)
    for i, model in enumerate(models):
        np.testing.assert_allclose(out[i], model(X), rtol=1e-5)
    scaled = jax.vmap(lambda a: jax.tree_util.tree_map(lambda x: x * a, models[0]))(
        jnp.arange(3.0)
    )  # a Model out
    assert isinstance(scaled, vs.Model) and scaled.module == MLP()
    np.testing.assert_allclose(scaled.params["Dense_0"]["bias"], 0.0)
    assert scaled.params["Dense_0"]["kernel"].shape == (3, 4, 5)


@both
def test_optax_on_a_model(jit):
    model = vs.Model.init(MLP(), 0, X)
    tx = optax.adam(1e-2)
    state = tx.init(model)

    def step(m, s):
        grads = jax.grad(lambda m: jnp.sum(m(X) ** 2))(m)
        updates, s = tx.update(grads, s, m)
        return optax.apply_updates(m, updates), s

    new, state = run(step, model, state, jit=jit)
    assert isinstance(new, vs.Model)
    assert isinstance(state[0].mu, vs.Model)
    assert not np.allclose(
        new.params["Dense_0"]["kernel"], model.params["Dense_0"]["kernel"]
    )


# -- every vs function works through the variables ---------------------------------


@both
def test_at_on_a_model_returns_a_model(jit):
    model = make_model()
    w = jnp.full((4, 3), 2.0)
    new = run(lambda m: vs.at(m)["params"]["Dense_0"]["kernel"].set(w), model, jit=jit)
    assert isinstance(new, vs.Model) and new.module is NET
    np.testing.assert_array_equal(new.params["Dense_0"]["kernel"], w)
    scaled = run(lambda m: vs.at(m, "params/**/bias").add(1.0), model, jit=jit)
    np.testing.assert_allclose(scaled.params["Dense_0"]["bias"], 1.0)
    assert vs.get(model, "params/Dense_0/kernel") is model.params["Dense_0"]["kernel"]
    if not jit:
        assert new.variables["batch_stats"] is model.variables["batch_stats"]


def test_at_cannot_add_a_collection_to_a_model():
    # A Model's collections are fixed fields for vs.at; add one with replace.
    with pytest.raises(vs.PathError, match=r"no key 'extra' in the Model at the root"):
        vs.at(make_model())["extra"].set({})
    model = make_model().replace(extra={})
    assert model.variables["extra"] == {}


@both
def test_drafts_select_and_partition_on_a_model(jit):
    model = make_model()

    def edit(m):
        with vs.unfrozen(m) as draft:
            draft["params"]["Dense_0"]["bias"] = draft["params"]["Dense_0"]["bias"] + 1
        return vs.result(draft)

    new = run(edit, model, jit=jit)
    assert isinstance(new, vs.Model)
    np.testing.assert_allclose(new.params["Dense_0"]["bias"], 1.0)
    selected = vs.select(model, "params/Dense_0/*")
    assert isinstance(selected, vs.Model)
    # A Model's collections are fixed fields: the unselected ones become None.
    assert {k for k, v in vs.flatten(selected).items() if v is not None} == {
        "params/Dense_0/bias",
        "params/Dense_0/kernel",
    }
    assert selected.variables["batch_stats"] is None
    a, b = vs.partition(model, "batch_stats/**")
    assert isinstance(a, vs.Model) and isinstance(b, vs.Model)
    assert vs.count(model) == vs.count(a) + vs.count(b)


@pytest.mark.parametrize("suffix", [".msgpack", ".safetensors", ".npz"])
def test_save_and_load_a_model(tmp_path, suffix):
    model = make_model()
    path = tmp_path / f"model{suffix}"
    vs.save(path, model)
    loaded = vs.load(path, target=model)
    assert isinstance(loaded, vs.Model) and loaded.module is NET
    assert_close(loaded.variables, model.variables)
    assert sorted(vs.flatten(vs.load(path))) == sorted(vs.flatten(model))


# -- replace, immutability, construction errors ------------------------------------


def test_replace():
    model = make_model()
    zeros = jax.tree_util.tree_map(jnp.zeros_like, model.params)
    new = model.replace(params=zeros)
    assert new.params is zeros and new.variables["cache"] is model.variables["cache"]
    assert model.params is not zeros
    just_params = model.replace(variables={"params": model.params})
    assert list(just_params.variables) == ["params"]
    assert just_params.module is NET
    wider = model.replace(module=Net(features=3), variables=FrozenDict(VARS))
    assert wider.module == NET and wider.module is not NET
    assert type(wider.variables["params"]) is FrozenDict
    assert model.replace() is not model
    # Same module and collection names: the treedef's static part is reused.
    assert new._static is model._static
    assert model.replace(variables=dict(model.variables))._static is model._static
    extra = model.replace(extra={"a": jnp.ones(1)})
    assert list(extra.variables) == [
        "batch_stats",
        "cache",
        "counters",
        "extra",
        "params",
    ]


def test_model_is_immutable():
    model = make_model()
    with pytest.raises(vs.FrozenInstanceError, match=r"immutable: cannot set `params`"):
        model.params = {}
    with pytest.raises(vs.FrozenInstanceError, match=r"model.replace\(variables="):
        model.variables = {}
    with pytest.raises(vs.FrozenInstanceError, match=r"cannot set `module`"):
        del model.module


def test_model_copy_and_pickle():
    model = make_model()
    for other in (
        copy.copy(model),
        copy.deepcopy(model),
        pickle.loads(pickle.dumps(model)),
    ):
        assert isinstance(other, vs.Model) and other.module == NET
        assert_close(other.variables, model.variables)
        assert jax.tree_util.tree_structure(other) == jax.tree_util.tree_structure(
            model
        )


def test_model_construction_errors():
    with pytest.raises(vs.StructureError, match=r"vs.Model needs a flax.linen.Module"):
        vs.Model(VARS, NET)
    with pytest.raises(vs.StructureError, match=r"mapping of collections.*got tuple"):
        vs.Model(NET, (VARS,))
    with pytest.raises(vs.StructureError, match=r"collection names as strings, got 0"):
        vs.Model(NET, {0: {}, "params": {}})
    with pytest.raises(vs.StructureError, match=r"Model.replace needs `variables`"):
        make_model().replace(variables=[1])
    with pytest.raises(
        vs.StructureError, match=r"Model.replace needs collection names"
    ):
        make_model().replace(variables={1: {}})


def test_model_params_missing():
    model = vs.Model(NET, {"batch_stats": VARS["batch_stats"]})
    with pytest.raises(
        vs.PathError,
        match=r"has no 'params' collection; its "
        r"collections are \['batch_stats'\]",
    ):
        model.params
    assert repr(model) == "Model(Net, parameters=0, collections=['batch_stats'])"
