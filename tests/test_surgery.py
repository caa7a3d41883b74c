"""Tests of vs.transplant, vs.rename and vs.diff."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.core import FrozenDict
from flax.training import train_state
from helpers import KEYS, assert_trees_identical, containers, make_params, snapshot
from hypothesis import given
from hypothesis import strategies as st

import variables as vs

# ---------------------------------------------------------------------------------
# transplant


def _pretrained():
    return {
        "params": {
            "backbone": {
                "Dense_0": {"kernel": jnp.full((2, 3), 1.0), "bias": jnp.full(3, 2.0)},
                "layer_1": {"w": jnp.full(2, 3.0)},
            },
            "head": {"kernel": jnp.full((3, 4), 4.0)},
        }
    }


def _fresh():
    return {
        "params": {
            "encoder": {
                "Dense_0": {"kernel": jnp.zeros((2, 3)), "bias": jnp.zeros(3)},
                "block_1": {"w": jnp.zeros(2)},
            },
            "head": {"kernel": jnp.zeros((3, 5))},
        }
    }


def test_transplant_by_matching_paths():
    dst = {"a": {"w": np.zeros(2), "b": np.zeros(1)}, "c": {"w": np.zeros(3)}}
    src = {"a": {"w": np.ones(2)}, "z": np.ones(4)}
    before = snapshot((dst, src))
    out, report = vs.transplant(dst, src)
    assert out["a"]["w"] is src["a"]["w"]
    assert out["a"]["b"] is dst["a"]["b"]
    assert out["c"] is dst["c"]  # untouched subtree shared
    assert report.copied == (("a/w", "a/w"),)
    assert report.kept == ("a/b", "c/w")
    assert report.skipped == ("z",)
    assert report.ok
    assert_trees_identical((dst, src), before)  # inputs unchanged


def test_transplant_nothing_to_copy_returns_dst_itself():
    dst = {"a": np.zeros(2)}
    out, report = vs.transplant(dst, {}, strict=False)
    assert out is dst and report.kept == ("a",)


def test_transplant_leaf_roots():
    src = np.ones(2)
    out, report = vs.transplant(np.zeros(2), src)
    assert out is src and report.copied == (("", ""),)
    out, report = vs.transplant(np.zeros(2), {"w": src}, {"": "w"})
    assert out is src and report.copied == (("", "w"),)


def test_transplant_mapping_subtree():
    dst, src = _fresh(), _pretrained()
    out, report = vs.transplant(
        dst, src, {"params/encoder": "params/backbone"}, strict=False
    )
    enc = out["params"]["encoder"]
    assert enc["Dense_0"]["kernel"] is src["params"]["backbone"]["Dense_0"]["kernel"]
    assert enc["block_1"] is dst["params"]["encoder"]["block_1"]
    assert out["params"]["head"] is dst["params"]["head"]
    assert dict(report.copied) == {
        "params/encoder/Dense_0/bias": "params/backbone/Dense_0/bias",
        "params/encoder/Dense_0/kernel": "params/backbone/Dense_0/kernel",
    }
    assert report.kept == ("params/encoder/block_1/w", "params/head/kernel")
    assert report.skipped == ("params/backbone/layer_1/w", "params/head/kernel")


def test_transplant_mapping_trailing_any_depth_is_the_same_as_a_plain_path():
    dst, src = _fresh(), _pretrained()
    plain = vs.transplant(dst, src, {"params/encoder": "params/backbone"}, strict=False)
    starred = vs.transplant(
        dst, src, {"params/encoder/**": "params/backbone/**"}, strict=False
    )
    mixed = vs.transplant(
        dst, src, {"params/encoder/**": "params/backbone"}, strict=False
    )
    assert plain[1] == starred[1] == mixed[1]


def test_transplant_mapping_glob_carries_text():
    dst, src = _fresh(), _pretrained()
    out, report = vs.transplant(
        dst, src, {"params/encoder/block_*": "params/backbone/layer_*"}
    )
    assert report.copied == (("params/encoder/block_1/w", "params/backbone/layer_1/w"),)
    np.testing.assert_array_equal(out["params"]["encoder"]["block_1"]["w"], 3.0)


@pytest.mark.parametrize(
    "mapping, copied",
    [
        ({"x/*/k": "y/*/k"}, {"x/a/k": "y/a/k", "x/b/k": "y/b/k"}),
        ({"x/?/k": "y/?/k"}, {"x/a/k": "y/a/k", "x/b/k": "y/b/k"}),
        ({"x/[a]/k": "y/[a]/k"}, {"x/a/k": "y/a/k"}),
        ({"x/[!a]/k": "y/[!a]/k"}, {"x/b/k": "y/b/k"}),
        ({"x/**/k": "y/**/k"}, {"x/a/k": "y/a/k", "x/b/k": "y/b/k"}),
        ({"x/a/k": "y/b/k"}, {"x/a/k": "y/b/k"}),
        ({"x/*": "y/*"}, {"x/a/k": "y/a/k", "x/b/k": "y/b/k"}),  # subtrees go along
        ({"": "y"}, {"x/a/k": "y/x/a/k"}),
    ],
)
def test_transplant_mapping_wildcards_pair_in_order(mapping, copied):
    src = {"y": {"a": {"k": 1.0}, "b": {"k": 2.0}, "x": {"a": {"k": 9.0}}}}
    dst = {"x": {"a": {"k": 0.0}, "b": {"k": 0.0}}}
    _, report = vs.transplant(dst, src, mapping, strict=False)
    assert dict(report.copied) == copied


def test_transplant_wildcards_reorder_and_take_as_little_as_they_can():
    src = {"L0": {"a_b_c": 1.0}}
    dst = {"0": {"a": {"b_c": 0.0}, "a_b": {"c": 0.0}}}
    out, report = vs.transplant(dst, src, {"*/*/*": "L*/*_*"}, strict=False)
    # the second in-key wildcard takes "a" (as little as it can), the third "b_c"
    assert report.copied == (("0/a/b_c", "L0/a_b_c"),)
    assert out["0"]["a"]["b_c"] == 1.0


def test_transplant_mapping_with_tuple_paths_and_sequence_keys():
    dst = {"layers": [{"w": 0.0}, {"w": 0.0}]}
    src = {"old": ({"w": 1.0}, {"w": 2.0})}
    out, report = vs.transplant(dst, src, {("layers",): ("old",)})
    assert out == {"layers": [{"w": 1.0}, {"w": 2.0}]}
    assert type(out["layers"]) is list
    assert report.copied == (("layers/0/w", "old/0/w"), ("layers/1/w", "old/1/w"))


def test_transplant_wildcards_that_do_not_pair_raise():
    with pytest.raises(vs.TransplantError, match=r"do not pair up.*\[\*\*\].*\[\*\]"):
        vs.transplant(_fresh(), _pretrained(), {"params/**/kernel": "params/*/kernel"})
    with pytest.raises(vs.TransplantError, match=r"destination has \[none\]"):
        vs.transplant(_fresh(), _pretrained(), {"params/encoder": "params/*"})


def test_transplant_two_sources_for_one_leaf_raise():
    mapping = {
        "params/encoder/Dense_0/kernel": "params/backbone/Dense_0/kernel",
        "params/encoder/Dense_0": "params/backbone/Dense_0",
    }
    with pytest.raises(
        vs.TransplantError,
        match="'params/encoder/Dense_0/kernel' would be filled twice.*entries",
    ):
        vs.transplant(_fresh(), _pretrained(), mapping)
    # one entry: "y/a/m/b" and "y/a/b/m" both land on "x/a/b"
    src = {"y": {"a": {"m": {"b": 1.0}, "b": {"m": 2.0}}}}
    with pytest.raises(
        vs.TransplantError,
        match=r"'x/a/b' would be filled twice, "
        r"from 'y/a/b/m' and from 'y/a/m/b' \(mapping entry "
        r"'x/\*\*/\*\* <- y/\*\*/m/\*\*'\)",
    ):
        vs.transplant({"x": {"a": {"b": 0.0}}}, src, {"x/**/**": "y/**/m/**"})


def test_transplant_unmatched_entry_names_the_missing_key():
    with pytest.raises(
        vs.TransplantError,
        match=r"copies nothing: in src.*"
        r"no key matches 'backbne'.*Did you mean 'backbone'",
    ) as info:
        vs.transplant(_fresh(), _pretrained(), {"params/encoder": "params/backbne"})
    assert info.value.report.unmatched == ("params/encoder <- params/backbne",)
    with pytest.raises(
        vs.TransplantError,
        match=r"source matches, but in dst.*"
        r"Did you mean 'encoder'",
    ):
        vs.transplant(_fresh(), _pretrained(), {"params/encodr": "params/backbone"})
    with pytest.raises(vs.TransplantError, match="no source leaf lands on a leaf"):
        vs.transplant(
            _fresh(), _pretrained(), {"params/encoder/*": "params/backbone/layer_*"}
        )


def test_transplant_unmatched_entry_is_reported_when_not_strict():
    out, report = vs.transplant(
        _fresh(), _pretrained(), {"params/encoder": "params/nothing"}, strict=False
    )
    assert report.unmatched == ("params/encoder <- params/nothing",)
    assert not report.ok and not report.copied
    assert "mapping entry copied nothing" in str(report)


def test_transplant_mismatch_raises_with_report():
    with pytest.raises(
        vs.TransplantError,
        match=r"differ for 1 leaf:\n  'params/head/kernel' is float32\[3,5\], "
        r"source 'params/head/kernel' is float32\[3,4\]\nTo go on, pass strict=False",
    ) as info:
        vs.transplant(_fresh(), _pretrained(), {"params/head": "params/head"})
    report = info.value.report
    assert isinstance(info.value, ValueError) and isinstance(
        info.value, vs.VariablesError
    )
    assert report.mismatched == (
        ("params/head/kernel", "params/head/kernel", "float32[3,5]", "float32[3,4]"),
    )


def test_transplant_mismatch_list_is_capped():
    dst = {f"w{i:02d}": np.zeros(2) for i in range(13)}
    src = {f"w{i:02d}": np.zeros(3) for i in range(13)}
    with pytest.raises(vs.TransplantError, match=r"(?s)13 leaves.*\.\.\. and 3 more"):
        vs.transplant(dst, src)


def test_transplant_mismatch_not_strict_keeps_dst_leaf():
    dst, src = _fresh(), _pretrained()
    out, report = vs.transplant(
        dst,
        src,
        {"params": "params/backbone", "params/head": "params/head"},
        strict=False,
    )
    assert out["params"]["head"] is dst["params"]["head"]
    assert report.mismatched[0][:2] == ("params/head/kernel", "params/head/kernel")
    assert "params/head/kernel" not in report.kept
    assert "params/head/kernel" not in report.skipped
    assert "mismatched" in str(report) and "float32[3,5] <- float32[3,4]" in str(report)


def test_transplant_cast():
    dst = {
        "np": np.zeros(2, np.float32),
        "jx": jnp.zeros(2, jnp.bfloat16),
        "py": np.zeros((), np.float16),
    }
    src = {"np": np.ones(2), "jx": jnp.ones(2, jnp.float32), "py": 1.5}
    with pytest.raises(vs.TransplantError, match="or cast=True"):
        vs.transplant(dst, src)
    out, report = vs.transplant(dst, src, cast=True)
    assert isinstance(out["np"], np.ndarray) and out["np"].dtype == np.float32
    assert isinstance(out["jx"], jax.Array) and out["jx"].dtype == jnp.bfloat16
    assert isinstance(out["py"], np.ndarray) and out["py"] == np.float16(1.5)
    assert report.casts == (
        ("jx", "float32", "bfloat16"),
        ("np", "float64", "float32"),
        ("py", "float", "float16"),
    )
    assert "cast float64 -> float32" in str(report)


def test_transplant_cast_does_not_change_shapes_or_non_arrays():
    dst = {"w": np.zeros(2, np.float32), "n": None}
    src = {"w": np.ones(3), "n": np.ones(1)}
    _, report = vs.transplant(dst, src, cast=True, strict=False)
    assert [m[0] for m in report.mismatched] == ["n", "w"]


def test_transplant_without_common_paths_raises_when_strict():
    with pytest.raises(
        vs.TransplantError,
        match=r"no leaf path of src is in dst.*"
        r"dst has e.g. 'a', src has e.g. 'params/a'",
    ):
        vs.transplant({"a": 1.0}, {"params": {"a": 1.0}})
    out, _ = vs.transplant({"a": 0.0}, {"params": {"a": 1.0}}, {"": "params"})
    assert out == {"a": 1.0}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_transplant_keeps_container_type(kind):
    dst = containers(np.zeros(2), np.zeros(3))[kind]
    src = containers(np.ones(2), np.ones(3))[kind]
    out, report = vs.transplant(dst, src)
    assert type(out) is type(dst)
    assert len(report.copied) == 2
    assert_trees_identical(out, src)


def test_transplant_frozendict_and_train_state():
    params = FrozenDict(_fresh()["params"])
    state = train_state.TrainState.create(
        apply_fn=None, params=params, tx=optax.sgd(0.1)
    )
    out, report = vs.transplant(
        state, _pretrained(), {"params/encoder": "params/backbone"}, strict=False
    )
    assert type(out) is train_state.TrainState
    assert type(out.params) is FrozenDict
    np.testing.assert_array_equal(out.params["encoder"]["Dense_0"]["bias"], 2.0)
    assert out.opt_state is state.opt_state and out.tx is state.tx
    assert report.copied[0] == (
        "params/encoder/Dense_0/bias",
        "params/backbone/Dense_0/bias",
    )


def test_transplant_into_abstract_tree():
    abstract = jax.eval_shape(lambda: _fresh())
    out, report = vs.transplant(abstract, _fresh())
    assert isinstance(out["params"]["head"]["kernel"], jax.Array)
    assert not report.kept


def test_transplant_under_jit():
    mapping = {"params/encoder/Dense_0": "params/backbone/Dense_0"}

    def f(d, s):
        return vs.transplant(d, s, mapping)[0]

    eager = f(_fresh(), _pretrained())
    jitted = jax.jit(f)(_fresh(), _pretrained())
    assert_trees_identical(eager, jitted)
    with pytest.raises(vs.TransplantError, match="shapes or dtypes differ"):
        jax.jit(lambda d, s: vs.transplant(d, s)[0])(_fresh(), _pretrained())


def test_transplant_many_leaves_one_rebuild_shares_untouched():
    dst = make_params(n_blocks=4, n_layers=3)
    src = vs.at(dst, "params/block_1/**").multiply(2.0)
    out, report = vs.transplant(dst, src, {"params/block_1": "params/block_1"})
    assert len(report.copied) == 6
    assert out["params"]["block_0"] is dst["params"]["block_0"]
    assert out["batch_stats"] is dst["batch_stats"]
    assert (
        out["params"]["block_1"]["Dense_0"]["kernel"]
        is (src["params"]["block_1"]["Dense_0"]["kernel"])
    )


def test_transplant_report_str():
    _, report = vs.transplant(
        _fresh(), _pretrained(), {"params/encoder": "params/backbone"}, strict=False
    )
    text = str(report)
    assert text.startswith("transplant: 2 copied, 2 kept, 2 skipped, 0 mismatched")
    assert re.search(
        r"copied +params/encoder/Dense_0/bias +params/backbone/Dense_0/"
        r"bias",
        text,
    )
    assert re.search(r"kept +params/head/kernel +-", text)
    assert re.search(r"skipped +- +params/head/kernel", text)
    assert str(vs.TransplantReport()) == (
        "transplant: 0 copied, 0 kept, 0 skipped, 0 mismatched"
    )


_keys = st.sampled_from(["a", "b", "c", "d"])
_flat = st.dictionaries(st.tuples(_keys, _keys), st.integers(0, 3), max_size=10)


@given(_flat, _flat)
def test_transplant_report_partitions_the_leaves(dst_flat, src_flat):
    dst = vs.unflatten({k: np.full(v, 0.0) for k, v in dst_flat.items()}, sep=None)
    src = vs.unflatten({k: np.full(v, 1.0) for k, v in src_flat.items()}, sep=None)
    out, report = vs.transplant(dst, src, strict=False)
    d_paths = set(vs.flatten(dst))
    s_paths = set(vs.flatten(src))
    copied = {d for d, _ in report.copied}
    mism = {d for d, *_ in report.mismatched}
    assert all(d == s for d, s in report.copied)
    assert copied | mism | set(report.kept) == d_paths
    assert copied | mism | set(report.skipped) == s_paths
    assert not (copied & mism) and not (copied & set(report.kept))
    flat_out = vs.flatten(out)
    for path, leaf in flat_out.items():
        expected = vs.flatten(src if path in copied else dst)[path]
        assert leaf is expected


# ---------------------------------------------------------------------------------
# rename


def test_rename_with_groups():
    tree = {"layer_0": {"w": 1}, "layer_1": {"w": 2}, "head": {"w": 3}}
    before = snapshot(tree)
    out = vs.rename(tree, {r"layer_(\d+)": r"block_\1"})
    assert out == {"block_0": {"w": 1}, "block_1": {"w": 2}, "head": {"w": 3}}
    assert_trees_identical(tree, before)


def test_rename_rules_chain_in_order():
    tree = {"a": {"x": 1}}
    assert vs.rename(tree, {"a": "b", "b/x": "c/y"}) == {"c": {"y": 1}}
    assert vs.rename(tree, {"b/x": "c/y", "a": "b"}) == {"b": {"x": 1}}


def test_rename_transform_transposes_torch_weights():
    torch = {"fc": {"weight": np.arange(6.0).reshape(3, 2), "bias": np.zeros(3)}}
    calls = []

    def transpose(w):
        calls.append(w.shape)
        return w.T

    out = vs.rename(torch, {r"weight$": ("kernel", transpose)})
    np.testing.assert_array_equal(out["fc"]["kernel"], torch["fc"]["weight"].T)
    assert out["fc"]["bias"] is torch["fc"]["bias"]
    assert calls == [(3, 2)]


def test_rename_collision_names_both_paths():
    tree = {"a": {"w": 1}, "b": {"w": 2}}
    with pytest.raises(
        vs.RenameError, match="'a/w' and 'b/w' are both renamed to 'c/w'"
    ):
        vs.rename(tree, {"^[ab]": "c"})


def test_rename_prefix_collision_names_both_paths():
    with pytest.raises(
        vs.RenameError, match="'a' is renamed to 'x' and 'b/c' to 'x/c'"
    ):
        vs.rename({"a": 1, "b": {"c": 2}}, {"^a$": "x", "^b": "x"})
    with pytest.raises(
        vs.RenameError, match="'b' is renamed to 'x' and 'a/c' to 'x/c'"
    ):
        vs.rename({"a": {"c": 2}, "b": 1}, {"^a": "x", "^b$": "x"})


def test_rename_to_empty_path_raises():
    with pytest.raises(vs.RenameError, match="'a' is renamed to the empty path"):
        vs.rename({"a": 1}, {"a": ""})


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"(": "x"}, r"'\(' is not a valid regex"),
        ({"a": ("x",)}, r"must be a template string or a \(template, fn\) pair"),
        ({"a": ("x", 3)}, r"must be a template string or a \(template, fn\) pair"),
        ({"a": 3}, "rules map a regex string to a template string"),
        (
            {"a": r"\2"},
            r"the template '\\\\2' of the rule 'a' cannot be applied to 'a'",
        ),
    ],
)
def test_rename_malformed_rules_raise(rules, message):
    with pytest.raises(vs.RenameError, match=message):
        vs.rename({"a": 1}, rules)


def test_rename_strict_requires_every_rule_to_match():
    assert vs.rename({"a": 1}, {"zzz": "y"}) == {"a": 1}
    with pytest.raises(
        vs.RenameError, match="the rule 'zzz' matched no path.*Paths look like 'a'"
    ):
        vs.rename({"a": 1}, {"a": "b", "zzz": "y"}, strict=True)
    with pytest.raises(vs.RenameError, match="the rules 'y', 'z' matched"):
        vs.rename({"a": 1}, {"y": "b", "z": "y"}, strict=True)
    with pytest.raises(vs.RenameError, match="the tree has no leaves"):
        vs.rename({"a": {}}, {"z": "y"}, strict=True)


def test_rename_single_leaf_raises():
    with pytest.raises(vs.StructureError, match="got a single leaf of type float"):
        vs.rename(1.0, {"a": "b"})


def test_rename_structure_of_the_result():
    tree = FrozenDict({"layers": [{"w": 1}, {"w": 2}], "n": None})
    out = vs.rename(tree, {"layers": "blocks"})
    assert type(out) is FrozenDict
    assert vs.unfreeze(out) == {"blocks": {"0": {"w": 1}, "1": {"w": 2}}, "n": None}
    plain = vs.rename({"a": {"b": 1}}, {r"^a\.b$": "x.y"}, sep=".")
    assert plain == {"x": {"y": 1}}
    assert vs.rename({"a/b": 1}, {"b$": "c"}) == {"a/c": 1}  # escaped "/" kept


def test_rename_under_jit():
    tree = {"fc": {"weight": jnp.arange(6.0).reshape(3, 2)}}
    rules = {r"weight$": ("kernel", jnp.transpose)}
    eager = vs.rename(tree, rules)
    jitted = jax.jit(lambda t: vs.rename(t, rules))(tree)
    assert_trees_identical(eager, jitted)


_names = st.text(alphabet="abc_0", min_size=1, max_size=4)
_trees = st.dictionaries(
    _names,
    st.dictionaries(_names, st.integers(), min_size=1, max_size=3),
    min_size=1,
    max_size=4,
)


@given(_trees)
def test_rename_round_trips(tree):
    out = vs.rename(tree, {r"(^|/)([abc_0]+)": r"\1x\2"})
    assert vs.flatten(out) == {
        "/".join("x" + part for part in path.split("/")): leaf
        for path, leaf in vs.flatten(tree).items()
    }
    assert vs.rename(out, {r"(^|/)x": r"\1"}) == tree


# ---------------------------------------------------------------------------------
# diff


def test_diff_equal_trees_is_empty_and_falsy():
    tree = make_params()
    d = vs.diff(tree, vs.clone_pytree(tree))
    assert not d and d == vs.Diff()
    assert str(d) == "no differences"
    assert d.paths == ()


def test_diff_each_kind_of_change():
    a = {"w": np.zeros(3, np.float32), "gone": 1, "t": np.zeros(2), "same": 1.5}
    b = {
        "w": np.array([0, -2, 1], np.float32),
        "new": None,
        "t": np.zeros(3),
        "same": 1.5,
    }
    d = vs.diff(a, b)
    assert d.added == ("new",)
    assert d.removed == ("gone",)
    assert d.changed_type == (("t", "float64[2]", "float64[3]"),)
    assert d.changed_value == (("w", 2.0),)
    assert d.paths == ("gone", "new", "t", "w")
    assert bool(d)


def test_diff_table():
    a = {"w": np.zeros(3, np.float32), "gone": 1, "t": np.zeros(2)}
    b = {"w": np.array([0, 0.25, 0], np.float32), "new": None, "t": np.zeros(3)}
    assert str(vs.diff(a, b)).splitlines() == [
        "4 paths differ: 1 added, 1 removed, 1 changed type, 1 changed value",
        "path  change   a           b           max |a-b|",
        "----  -------  ----------  ----------  ---------",
        "gone  removed  int         -",
        "new   added    -           None",
        "t     type     float64[2]  float64[3]",
        "w     value    float32[3]  float32[3]  0.25",
    ]
    assert str(vs.diff({"a": 1}, {"a": 2})).startswith("1 path differs: ")


def test_diff_tolerances():
    a = {"w": np.array([1.0, 100.0])}
    b = {"w": np.array([1.001, 100.05])}
    assert vs.diff(a, b).changed_value == (("w", pytest.approx(0.05)),)
    assert vs.diff(a, b, atol=0.01).changed_value == (("w", pytest.approx(0.05)),)
    assert not vs.diff(a, b, atol=0.06)
    assert not vs.diff(a, b, atol=0.002, rtol=1e-3)
    assert vs.diff(a, b, rtol=1e-4)


def test_diff_nan_and_inf():
    nan = np.array([np.nan, np.inf, 1.0])
    assert not vs.diff({"a": nan}, {"a": nan.copy()})
    d = vs.diff({"a": nan}, {"a": np.array([0.0, np.inf, 1.0])})
    assert d.changed_value == (("a", np.inf),)
    d = vs.diff({"a": nan}, {"a": np.array([np.nan, -np.inf, 1.0])}, atol=1e9)
    assert d.changed_value == (("a", np.inf),)


def test_diff_ignores_container_types():
    tree = {"a": {"x": np.ones(2)}, "l": [1, 2]}
    other = FrozenDict({"a": {"x": np.ones(2)}, "l": (1, 2)})
    assert not vs.diff(tree, other)
    assert not vs.diff(tree, {"a": {"x": np.ones(2)}, "l": {"0": 1, "1": 2}})
    f32 = {"x": np.ones(2, np.float32)}
    assert not vs.diff(f32, {"x": jnp.ones(2)})  # a NumPy and a JAX array alike


def test_diff_leaf_kinds():
    assert not vs.diff({"n": None, "s": "x", "i": 3}, {"n": None, "s": "x", "i": 3})
    d = vs.diff({"s": "x", "i": 3, "b": True}, {"s": "y", "i": 3.0, "b": False})
    assert d.changed_value == (("b", 1.0), ("s", None))
    assert d.changed_type == (("i", "int", "float"),)
    assert "?" in str(d)
    d = vs.diff({"n": None}, {"n": np.zeros(())})
    assert d.changed_type == (("n", "None", "float64[]"),)
    ints = vs.diff({"u": np.array([3], np.uint8)}, {"u": np.array([5], np.uint8)})
    assert ints.changed_value == (("u", 2.0),)
    assert not vs.diff({"e": np.zeros((0, 3))}, {"e": np.ones((0, 3))})
    bf = vs.diff({"h": jnp.ones(2, jnp.bfloat16)}, {"h": jnp.zeros(2, jnp.bfloat16)})
    assert bf.changed_value == (("h", 1.0),)
    c = vs.diff({"c": np.array([1j])}, {"c": np.array([1 + 1j])})
    assert c.changed_value == (("c", 1.0),)


def test_diff_prng_keys():
    k = jax.random.key(0)
    assert not vs.diff({"k": k}, {"k": jax.random.key(0)})
    d = vs.diff({"k": k}, {"k": jax.random.key(1)})
    assert [p for p, _ in d.changed_value] == ["k"]


class _Weird:
    def __eq__(self, other):
        raise ValueError("no truth value")

    __hash__ = object.__hash__


def test_diff_objects_without_truth_value_count_as_changed():
    a, b = _Weird(), _Weird()
    assert vs.diff({"o": a}, {"o": b}).changed_value == (("o", None),)
    assert not vs.diff({"o": a}, {"o": a})


def test_diff_under_jit_raises():
    with pytest.raises(vs.StructureError, match="leaf at 'w' is a traced value"):
        jax.jit(lambda t: vs.diff(t, t) and 0)({"w": jnp.ones(2)})


_vals = st.dictionaries(st.sampled_from("abcde"), st.floats(-5, 5), max_size=5)


@given(_vals, _vals)
def test_diff_is_symmetric(x, y):
    a = {k: np.float32(v) for k, v in x.items()}
    b = {k: np.float32(v) for k, v in y.items()}
    ab, ba = vs.diff(a, b), vs.diff(b, a)
    assert ab.added == ba.removed and ab.removed == ba.added
    assert ab.changed_value == ba.changed_value
    assert bool(ab) == (a.keys() != b.keys() or any(a[k] != b[k] for k in a))
    assert not vs.diff(a, a)
