"""Tests of vs.save, vs.load, vs.LoadReport and vs.checkpoint_index."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
import safetensors.flax
import safetensors.numpy
from flax import serialization
from flax.core import FrozenDict
from flax.training.train_state import TrainState
from hypothesis import given, settings
from hypothesis import strategies as st

import variables as vs
from variables import _formats

FORMATS = ["msgpack", "safetensors", "npz", "orbax"]
FLAT = ["safetensors", "npz"]


def _path(tmp_path, fmt: str, name: str = "ckpt") -> str:
    if fmt == "orbax":
        return str(tmp_path / name) + "/"
    return str(tmp_path / f"{name}.{fmt}")


def _leaves(scale: float = 1.0) -> dict:
    return {
        "kernel": jnp.arange(6, dtype=jnp.float32).reshape(2, 3) * scale,
        "bias": (jnp.arange(3) * scale).astype(jnp.bfloat16),
        "quant": (np.arange(4) * int(scale)).astype(np.int8),
        "scale": np.asarray(2.5 * scale, np.float32),  # 0-d
    }


class Pair(NamedTuple):
    first: Any
    second: Any


@vs.dataclass
class Box:
    params: dict
    step: int
    name: str = vs.field(static=True, default="box")


def _apply(*args):
    return None


_TX = optax.adam(1e-3)


def _train_state(scale: float = 1.0) -> TrainState:
    return TrainState.create(apply_fn=_apply, params={"dense": _leaves(scale)}, tx=_TX)


def _model(scale: float = 1.0):
    if not hasattr(vs, "Model"):
        pytest.skip("vs.Model is not available yet")
    model = vs.Model.init(nn.Dense(3), jax.random.key(0), jnp.ones((1, 2)))
    return jax.tree_util.tree_map(lambda x: x * scale, model)


KINDS = {
    "dict": lambda s: {"params": _leaves(s), "layers": [_leaves(s), _leaves(2 * s)]},
    "frozendict": lambda s: FrozenDict({"params": _leaves(s)}),
    "train_state": _train_state,
    "vs_dataclass": lambda s: Box(params=_leaves(s), step=int(3 * s)),
    "vs_model": _model,
    "tuple_namedtuple": lambda s: (Pair(_leaves(s), None), [np.float32(s)]),
}


def _zeros(tree: Any) -> Any:
    def zero(x):
        if isinstance(x, (bool, int, float)):
            return type(x)(0)
        return np.zeros(np.shape(x), x.dtype)

    return jax.tree_util.tree_map(zero, tree)


def assert_same(a: Any, b: Any) -> None:
    """Same structure and container types; leaves equal in value, shape, dtype."""
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        if isinstance(x, (bool, int, float)):
            assert type(x) is type(y) and x == y
            continue
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape and x.dtype == y.dtype, (x, y)
        assert x.tobytes() == y.tobytes()


class TwoKeys:
    """A pytree node whose two children have keys 0 and "0"."""

    def __init__(self, a, b):
        self.a, self.b = a, b


jax.tree_util.register_pytree_with_keys(
    TwoKeys,
    lambda t: (
        ((jax.tree_util.DictKey(0), t.a), (jax.tree_util.DictKey("0"), t.b)),
        None,
    ),
    lambda _, children: TwoKeys(*children),
)


# ---------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_roundtrip_into_target_keeps_types(tmp_path, fmt, kind):
    tree = KINDS[kind](1.0)
    path = _path(tmp_path, fmt)
    vs.save(path, tree)
    target = _zeros(tree)
    loaded, report = vs.load(path, target, return_report=True)
    assert_same(loaded, tree)
    assert type(loaded) is type(tree)
    assert report.ok and bool(report)
    assert len(report.loaded) == len(jax.tree_util.tree_leaves(tree))


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_without_target_gives_nested_dicts(tmp_path, fmt):
    path = _path(tmp_path, fmt)
    vs.save(path, {"params": _leaves(), "layers": [{"w": jnp.ones(2)}]})
    loaded = vs.load(path)
    assert type(loaded) is dict and type(loaded["layers"]) is dict
    assert set(loaded) == {"params", "layers"}
    assert loaded["layers"]["0"]["w"].tolist() == [1.0, 1.0]
    assert loaded["params"]["bias"].dtype == jnp.bfloat16
    assert loaded["params"]["quant"].dtype == np.int8
    assert loaded["params"]["scale"].shape == ()


@pytest.mark.parametrize("fmt", FORMATS)
def test_train_state_python_step_comes_back_as_int(tmp_path, fmt):
    state = _train_state().replace(step=7)
    path = _path(tmp_path, fmt)
    vs.save(path, state)
    loaded = vs.load(path, _train_state(0.0))
    assert loaded.step == 7 and type(loaded.step) is int
    assert loaded.apply_fn is not None and loaded.tx is not None


@pytest.mark.parametrize("fmt", FORMATS)
def test_python_scalars_match_jax_scalar_targets(tmp_path, fmt):
    path = _path(tmp_path, fmt)
    vs.save(path, {"step": 5, "lr": 0.5, "flag": True})
    target = {"step": jnp.int32(0), "lr": jnp.float32(0), "flag": jnp.bool_(False)}
    loaded = vs.load(path, target)
    assert loaded["step"].dtype == np.int32 and int(loaded["step"]) == 5
    assert loaded["lr"].dtype == np.float32 and float(loaded["lr"]) == 0.5
    assert loaded["flag"].dtype == np.bool_ and bool(loaded["flag"])


def test_python_int_too_big_for_target_dtype(tmp_path):
    path = str(tmp_path / "a.msgpack")
    vs.save(path, {"step": 300})
    with pytest.raises(vs.LoadError, match="300 at 'step' does not fit"):
        vs.load(path, {"step": np.int8(0)})


def test_save_python_int_out_of_int32_range(tmp_path):
    with pytest.raises(vs.SaveError, match="cannot save the leaf at 'big'"):
        vs.save(tmp_path / "a.npz", {"big": 2**40})


def test_msgpack_keeps_empty_nodes_none_and_strings(tmp_path):
    path = tmp_path / "a.msgpack"
    tree = {"opt": optax.EmptyState(), "none": None, "name": "run-1", "w": np.ones(2)}
    vs.save(path, tree)
    raw = serialization.msgpack_restore(path.read_bytes())
    assert raw == {"opt": {}, "none": None, "name": "run-1", "w": raw["w"]}
    loaded = vs.load(path, tree)
    assert loaded["name"] == "run-1" and loaded["none"] is None
    assert isinstance(loaded["opt"], optax.EmptyState)
    plain = vs.load(path)
    assert set(plain) == {"name", "w"} and plain["name"] == "run-1"


def test_msgpack_bare_array(tmp_path):
    path = tmp_path / "a.msgpack"
    vs.save(path, np.arange(3))
    assert vs.load(path).tolist() == [0, 1, 2]
    assert vs.load(path, np.zeros(3, np.int64)).tolist() == [0, 1, 2]


@pytest.mark.parametrize("fmt", FLAT + ["orbax"])
def test_flat_formats_refuse_a_single_leaf_tree(tmp_path, fmt):
    with pytest.raises(vs.SaveError, match="single leaf"):
        vs.save(_path(tmp_path, fmt), jnp.ones(3))


def test_orbax_refuses_empty_tree(tmp_path):
    with pytest.raises(vs.SaveError, match="without arrays"):
        vs.save(_path(tmp_path, "orbax"), {"a": {}})


@pytest.mark.parametrize("fmt", FLAT + ["msgpack"])
def test_empty_tree_roundtrip(tmp_path, fmt):
    path = _path(tmp_path, fmt)
    vs.save(path, {"a": {}, "b": None})
    assert vs.load(path) == {}
    assert vs.load(path, {"a": {}, "b": None}) == {"a": {}, "b": None}


@pytest.mark.parametrize("sep", ["/", "."])
@pytest.mark.parametrize("fmt", FLAT)
def test_keys_containing_the_separator_roundtrip(tmp_path, fmt, sep):
    tree = {"a/b": {"c.d": np.ones(1), "e\\f": np.zeros(1)}, "": {"x": np.ones(2)}}
    path = _path(tmp_path, fmt)
    vs.save(path, tree, sep=sep)
    loaded = vs.load(path, sep=sep)
    assert_same(loaded, tree)
    assert_same(vs.load(path, _zeros(tree), sep=sep), tree)


def test_escape_rule_in_the_stored_names(tmp_path):
    path = tmp_path / "a.safetensors"
    vs.save(path, {"a/b": {"c.d": np.ones(1)}}, sep=".")
    assert set(safetensors.numpy.load_file(str(path))) == {"a/b.c\\.d"}
    vs.save(path, {"a/b": {"c.d": np.ones(1)}})
    assert set(safetensors.numpy.load_file(str(path))) == {"a\\/b/c.d"}


_KEY = st.text(alphabet="ab./\\_0é ", max_size=4)
_DTYPES = [np.float32, np.float16, np.int8, np.uint16, np.int64, np.bool_]
_DTYPES += [ml_dtypes.bfloat16]


def _array(dtype, shape, seed):
    values = np.random.default_rng(seed).standard_normal(shape) * 10
    return (values > 0 if dtype is np.bool_ else values).astype(dtype)


_ARRAYS = st.builds(
    _array,
    st.sampled_from(_DTYPES),
    st.lists(st.integers(0, 3), max_size=3).map(tuple),
    st.integers(0, 2**32 - 1),
)
_TREES = st.dictionaries(
    _KEY,
    st.recursive(
        _ARRAYS,
        lambda c: st.dictionaries(_KEY, c, min_size=1, max_size=3),
        max_leaves=6,
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=30)
@given(tree=_TREES, sep=st.sampled_from(["/", ".", "::"]))
def test_property_flat_roundtrip_with_any_keys(tree, sep):
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ["msgpack", *FLAT]:
            path = os.path.join(folder, f"t.{fmt}")
            vs.save(path, tree, sep=sep)
            assert_same(vs.load(path, sep=sep), tree)
            assert_same(vs.load(path, _zeros(tree), sep=sep), tree)
            index = vs.checkpoint_index(path, sep=sep)
            assert index == {
                vs.format_path(p): (np.shape(x), np.asarray(x).dtype)
                for p, x in vs.flatten(tree, sep=None).items()
            }


# ---------------------------------------------------------------------------------
# Interoperability


def test_flax_to_bytes_file_loads(tmp_path):
    state = _train_state().replace(step=4)
    path = tmp_path / "state.msgpack"
    path.write_bytes(serialization.to_bytes(state))
    assert_same(vs.load(path, _train_state(0.0)), state)
    plain = vs.load(path)
    assert plain["step"] == 4 and set(plain["opt_state"]) == {"0"}  # EmptyState: {}


@pytest.mark.parametrize("tree_fn", [lambda: {"p": _leaves()}, _train_state])
def test_our_msgpack_is_byte_identical_to_flax(tmp_path, tree_fn):
    tree = tree_fn()
    path = tmp_path / "a.msgpack"
    vs.save(path, tree)
    assert path.read_bytes() == serialization.to_bytes(tree)
    assert_same(serialization.from_bytes(_zeros(tree), path.read_bytes()), tree)


def test_flax_lists_load_into_list_targets(tmp_path):
    tree = {"layers": [{"w": np.ones(2)}, {"w": np.zeros(2)}], "t": (np.ones(1),)}
    path = tmp_path / "a.msgpack"
    path.write_bytes(serialization.to_bytes(tree))
    assert_same(vs.load(path, _zeros(tree)), tree)


def test_safetensors_flax_file_loads_and_ours_loads_there(tmp_path):
    flat = {"params/dense/kernel": jnp.ones((2, 3)), "params/dense/bias": jnp.zeros(3)}
    theirs = tmp_path / "theirs.safetensors"
    safetensors.flax.save_file(dict(flat), str(theirs))
    loaded = vs.load(theirs)
    assert loaded["params"]["dense"]["kernel"].shape == (2, 3)
    ours = tmp_path / "ours.safetensors"
    vs.save(ours, vs.unflatten(flat))
    back = safetensors.flax.load_file(str(ours))
    assert set(back) == set(flat)
    assert all(np.array_equal(back[k], flat[k]) for k in flat)
    bf16 = tmp_path / "bf16.safetensors"
    vs.save(bf16, {"w": jnp.ones(3, jnp.bfloat16)})
    assert safetensors.numpy.load_file(str(bf16))["w"].dtype == jnp.bfloat16


def test_hugging_face_keys_with_dot_separator(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(
        {
            "model.layers.0.weight": np.ones((2, 2), np.float32),
            "model.layers.1.weight": np.zeros((2, 2), np.float32),
            "model.embed.weight": np.ones((5, 2), np.float32),
        },
        str(path),
    )
    nested = vs.load(path, sep=".")
    assert set(nested["model"]["layers"]) == {"0", "1"}
    target = {
        "model": {
            "layers": [{"weight": np.zeros((2, 2), np.float32)} for _ in range(2)],
            "embed": {"weight": np.zeros((5, 2), np.float32)},
        }
    }
    loaded = vs.load(path, target, sep=".")
    assert isinstance(loaded["model"]["layers"], list)
    assert loaded["model"]["layers"][0]["weight"].sum() == 4
    index = vs.checkpoint_index(path, sep=".")
    assert index["model/layers/0/weight"] == ((2, 2), np.dtype(np.float32))


def test_numpy_savez_file_loads_and_ours_loads_in_numpy(tmp_path):
    theirs = tmp_path / "theirs.npz"
    np.savez(theirs, **{"a/w": np.arange(3), "b": np.ones((2, 2), np.float16)})
    loaded = vs.load(theirs)
    assert loaded["a"]["w"].tolist() == [0, 1, 2] and loaded["b"].dtype == np.float16
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, w=np.arange(5))
    assert vs.load(compressed)["w"].tolist() == [0, 1, 2, 3, 4]
    ours = tmp_path / "ours.npz"
    vs.save(ours, {"a": {"w": np.arange(3)}, "h": jnp.ones(2, jnp.bfloat16)})
    with np.load(ours, allow_pickle=False) as npz:
        assert set(npz.files) == {"a/w", "h"}
        assert npz["a/w"].tolist() == [0, 1, 2]
        # bfloat16 is stored as its bits; the dtype note is in the zip comment
        assert npz["h"].dtype == np.uint16
        assert npz["h"].view(jnp.bfloat16).tolist() == [1.0, 1.0]


def test_orbax_files_load_and_ours_restore_in_orbax(tmp_path):
    state = _train_state().replace(step=jnp.asarray(3))
    theirs = tmp_path / "theirs"
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(theirs, state)
    checkpointer.wait_until_finished()
    loaded = vs.load(theirs, _train_state(0.0).replace(step=jnp.asarray(0)))
    assert int(loaded.step) == 3
    assert_same(loaded.params, state.params)
    tree = {"params": _leaves(), "step": jnp.asarray(2)}
    ours = tmp_path / "ours"
    vs.save(ours, tree)
    restored = ocp.StandardCheckpointer().restore(ours)
    assert int(restored["step"]) == 2
    assert_same(jax.tree_util.tree_map(np.asarray, restored), vs.load(ours))
    pytree_dir = tmp_path / "pytree"
    ocp.PyTreeCheckpointer().save(pytree_dir, {"a": np.ones(2), "b": [np.zeros(1)]})
    assert vs.load(pytree_dir)["b"]["0"].tolist() == [0.0]


def test_orbax_manager_layout_points_at_the_item(tmp_path):
    manager = ocp.CheckpointManager(tmp_path / "run")
    manager.save(1, args=ocp.args.StandardSave({"w": np.ones(2)}))
    manager.wait_until_finished()
    manager.close()
    with pytest.raises(vs.LoadError, match=r"holds Orbax items \['default'\]"):
        vs.load(tmp_path / "run" / "1")
    assert vs.load(tmp_path / "run" / "1" / "default")["w"].tolist() == [1.0, 1.0]


def test_orbax_save_replaces_only_checkpoints(tmp_path):
    path = tmp_path / "ckpt"
    vs.save(path, {"w": np.ones(2)})
    vs.save(path, {"w": np.zeros(3)})
    assert vs.load(path)["w"].tolist() == [0.0, 0.0, 0.0]
    assert sorted(os.listdir(tmp_path)) == ["ckpt"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(vs.SaveError, match="not an Orbax checkpoint"):
        vs.save(mine, {"w": np.ones(2)})
    assert (mine / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------------
# Loading into a target: reports and errors


def _target(**extra):
    tree = {"params": {"dense": {"kernel": np.zeros((2, 3), np.float32)}}}
    tree["params"]["dense"].update(extra)
    return tree


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    tree = {
        "params": {
            "dense": {"kernel": np.ones((2, 3), np.float32), "bias": np.ones(3)},
        }
    }
    vs.save(path, tree)
    return str(path)


def test_strict_missing_raises_with_report(saved):
    target = _target(bias=np.zeros(3), scale=np.zeros(3))
    with pytest.raises(vs.LoadError, match="does not match the target") as info:
        vs.load(saved, target)
    report = info.value.report
    assert isinstance(report, vs.LoadReport)
    assert report.missing == ("params/dense/scale",)
    assert report.unexpected == () and report.mismatched == ()
    assert saved in str(info.value)
    assert re.search(
        r"\n  missing +params/dense/scale +float64\[3\] +-", str(info.value)
    )


def test_strict_unexpected_raises(saved):
    with pytest.raises(vs.LoadError, match="1 unexpected") as info:
        vs.load(saved, _target())
    assert info.value.report.unexpected == ("params/dense/bias",)
    assert re.search(r"unexpected +params/dense/bias +- +float64\[3\]", str(info.value))


def test_non_strict_keeps_missing_drops_unexpected(saved):
    scale = np.full(3, 7.0)
    target = _target(scale=scale)
    tree, report = vs.load(saved, target, strict=False, return_report=True)
    assert tree["params"]["dense"]["scale"] is scale
    assert "bias" not in tree["params"]["dense"]
    assert tree["params"]["dense"]["kernel"].sum() == 6
    assert report.missing == ("params/dense/scale",)
    assert report.unexpected == ("params/dense/bias",)
    assert report.loaded == ("params/dense/kernel",)
    assert not report.ok and not report
    text = str(report)
    assert "missing (kept from target)" in text and "unexpected (dropped)" in text
    assert "closest in file: params/dense/bias" in text
    assert "strict=False" not in text  # the hint is for strict loads


def test_shape_mismatch_raises_even_when_not_strict(saved):
    target = _target(bias=np.zeros(4))
    with pytest.raises(vs.LoadError, match="shapes must match") as info:
        vs.load(saved, target, strict=False)
    (m,) = info.value.report.mismatched
    assert m.path == "params/dense/bias"
    assert (m.expected_shape, m.found_shape) == ((4,), (3,))
    assert (m.expected, m.found) == ("float64[4]", "float64[3]")


def test_dtype_mismatch_raises_and_cast_converts(saved):
    target = _target(bias=np.zeros(3, np.float32))
    with pytest.raises(vs.LoadError, match="cast=True converts them"):
        vs.load(saved, target)
    tree, report = vs.load(saved, target, cast=True, return_report=True)
    assert tree["params"]["dense"]["bias"].dtype == np.float32
    assert [c.path for c in report.cast] == ["params/dense/bias"]
    assert report.ok
    assert re.search(
        r"\n  cast +params/dense/bias +float32\[3\] +float64\[3\]", str(report)
    )


def test_abstract_target_from_eval_shape(saved):
    target = jax.eval_shape(lambda: _target(bias=jnp.zeros(3, jnp.float32)))
    tree = vs.load(saved, target, cast=True)
    assert isinstance(tree["params"]["dense"]["kernel"], np.ndarray)
    missing = jax.eval_shape(lambda: _target(bias=jnp.zeros(3), scale=jnp.zeros(2)))
    with pytest.raises(vs.LoadError, match="only a jax.ShapeDtypeStruct"):
        vs.load(saved, missing, strict=False, cast=True)


def test_target_with_keys_that_print_alike(saved):
    with pytest.raises(vs.LoadError, match="two leaves at '0'"):
        vs.load(saved, TwoKeys(np.zeros(1), np.zeros(1)))


def test_load_into_traced_target_inside_jit(saved):
    target = _target(bias=jnp.zeros(3))

    @jax.jit
    def restore(tree):
        return vs.load(saved, tree, cast=True)

    out = restore(jax.tree_util.tree_map(jnp.asarray, target))
    assert float(out["params"]["dense"]["kernel"].sum()) == 6.0
    assert_same(
        jax.tree_util.tree_map(np.asarray, out),
        jax.tree_util.tree_map(np.asarray, vs.load(saved, target, cast=True)),
    )


def test_report_table_limits_rows_and_reprs(tmp_path):
    path = tmp_path / "many.npz"
    vs.save(path, {f"w{i}": np.zeros(1) for i in range(25)})
    tree, report = vs.load(path, {"x": np.ones(1)}, strict=False, return_report=True)
    text = str(report)
    assert "... 5 more unexpected" in text
    assert text.count("unexpected (dropped)") == 20
    assert (
        repr(report) == f"LoadReport(file='{path}', 0 loaded, 1 missing, 25 unexpected)"
    )
    with pytest.raises(AttributeError):
        report.missing = ()  # frozen
    assert report == vs.LoadReport(
        str(path),
        missing=("x",),
        unexpected=report.unexpected,
        strict=False,
    )


def test_report_of_plain_load(saved):
    tree, report = vs.load(saved, return_report=True)
    assert report.ok and set(report.loaded) == {
        "params/dense/kernel",
        "params/dense/bias",
    }
    assert str(report).startswith(f"LoadReport for '{saved}': 2 loaded")


# ---------------------------------------------------------------------------------
# only=


def test_only_without_target(saved):
    tree = vs.load(saved, only="params/*/bias")
    assert list(tree["params"]["dense"]) == ["bias"]
    tree = vs.load(saved, only=["**/kernel", "**/bias"])
    assert set(tree["params"]["dense"]) == {"kernel", "bias"}
    with pytest.raises(vs.LoadError, match="matches none of its 2 entries"):
        vs.load(saved, only="params/encoder/**")


def test_only_with_target_keeps_the_rest(saved):
    kernel = np.full((2, 3), 5.0, np.float32)
    target = {"params": {"dense": {"kernel": kernel, "bias": np.zeros(3)}}}
    tree, report = vs.load(saved, target, only="**/bias", return_report=True)
    assert tree["params"]["dense"]["kernel"] is kernel
    assert tree["params"]["dense"]["bias"].sum() == 3
    assert report.skipped == ("params/dense/kernel",)
    assert report.loaded == ("params/dense/bias",)
    with pytest.raises(vs.LoadError, match="matches nothing in the target or the file"):
        vs.load(saved, target, only="nothing/**")


def test_safetensors_reads_only_the_tensors_asked_for(saved, monkeypatch):
    reads = []
    real = _formats._read_exactly

    def spy(f, offset, out, path, what, bar):
        reads.append(what)
        return real(f, offset, out, path, what, bar)

    monkeypatch.setattr(_formats, "_read_exactly", spy)
    vs.load(saved, only="**/bias")
    assert reads == ["'params/dense/bias'"]
    reads.clear()
    vs.load(saved, _target(), strict=False)
    assert reads == ["'params/dense/kernel'"]
    reads.clear()
    with pytest.raises(vs.LoadError):
        vs.load(saved, _target(bias=np.zeros(5)))
    assert reads == []  # checked before reading anything
    vs.checkpoint_index(saved)
    assert reads == []


def test_orbax_partial_restore_with_only(tmp_path):
    path = tmp_path / "ckpt"
    vs.save(path, {"a": {"w": np.ones(2)}, "b": [np.zeros(1), np.ones(1)]})
    only_a = vs.load(path, only="a/**")
    assert list(only_a) == ["a"] and only_a["a"]["w"].tolist() == [1.0, 1.0]
    assert vs.load(path, only="b/1")["b"]["1"].tolist() == [1.0]


# ---------------------------------------------------------------------------------
# save: the caller's tree, atomicity, refusals


@pytest.mark.parametrize("fmt", FORMATS)
def test_save_never_changes_the_callers_tree(tmp_path, fmt):
    leaves = {"a": jnp.ones(3), "b": np.arange(4.0), "big": np.arange(3, dtype=">i4")}
    tree = {"params": dict(leaves), "lst": [jnp.zeros(2)]}
    snapshot = {k: np.array(v) for k, v in leaves.items()}
    vs.save(_path(tmp_path, fmt), tree)
    assert all(tree["params"][k] is leaves[k] for k in leaves)
    assert isinstance(tree["params"]["a"], jax.Array)
    assert isinstance(tree["lst"][0], jax.Array)
    assert tree["params"]["big"].dtype == np.dtype(">i4")
    for k, v in snapshot.items():
        assert np.array_equal(np.asarray(tree["params"][k]), v)
    loaded = vs.load(_path(tmp_path, fmt))
    assert loaded["params"]["big"].tolist() == [0, 1, 2]


def _broken_writer(fd, tmp, entries, bar):
    os.write(fd, b"half a checkpoint")
    raise RuntimeError("disk on fire")


@pytest.mark.parametrize(
    "fmt,writer",
    [
        ("msgpack", "write_msgpack"),
        ("safetensors", "write_safetensors"),
        ("npz", "write_npz"),
    ],
)
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch, fmt, writer, error):
    path = tmp_path / f"ckpt.{fmt}"
    vs.save(path, {"w": np.ones(3)})
    before = path.read_bytes()

    def broken(fd, tmp, entries, bar):
        os.write(fd, b"half a checkpoint")
        raise error("disk on fire")

    monkeypatch.setattr(_formats, writer, broken)
    with pytest.raises(error, match="disk on fire"):
        vs.save(path, {"w": np.zeros(3), "v": np.ones(2)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_npz_writer_failing_mid_archive(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    vs.save(path, {"w": np.ones(3)})
    before = path.read_bytes()
    real, calls = np.lib.format.write_array, []

    def write_array(fp, array, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("no space left")
        return real(fp, array, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)
    with pytest.raises(OSError, match="no space left"):
        vs.save(path, {"a": np.zeros(1000), "b": np.zeros(1000), "c": np.zeros(1)})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]


def test_interrupted_save_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(_formats, "write_safetensors", _broken_writer)
    with pytest.raises(RuntimeError):
        vs.save(tmp_path / "new.safetensors", {"w": np.ones(3)})
    assert os.listdir(tmp_path) == []


def test_interrupted_orbax_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    vs.save(path, {"w": np.ones(3)})
    files = sorted(os.listdir(path))
    real = _formats.write_orbax

    def broken(tmp, nested):
        real(tmp, nested)
        raise RuntimeError("preempted")

    monkeypatch.setattr(_formats, "write_orbax", broken)
    with pytest.raises(RuntimeError, match="preempted"):
        vs.save(path, {"w": np.zeros(5)})
    assert sorted(os.listdir(path)) == files
    assert vs.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert os.listdir(tmp_path) == ["ckpt"]


def test_save_keeps_the_file_mode(tmp_path):
    path = tmp_path / "a.npz"
    vs.save(path, {"w": np.ones(1)})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    os.chmod(path, 0o640)
    vs.save(path, {"w": np.zeros(1)})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        vs.save(tmp_path / "nope" / "a.npz", {"w": np.ones(1)})
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        vs.save(tmp_path / "nope" / "ckpt/", {"w": np.ones(1)})


@pytest.mark.parametrize("suffix", [".pkl", ".pt", ".pth", ".bin", ".ckpt"])
def test_pickle_suffixes_are_refused(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    with pytest.raises(vs.SaveError, match="does not write pickles.*'.safetensors'"):
        vs.save(path, {"w": np.ones(1)})
    path.write_bytes(b"\x80\x04K\x01.")  # a real pickle of 1
    with pytest.raises(vs.LoadError, match="never unpickles.*'.npz'"):
        vs.load(path)


def test_unknown_suffixes_are_refused(tmp_path):
    with pytest.raises(vs.SaveError, match=r"unknown checkpoint suffix '.json'.*Orbax"):
        vs.save(tmp_path / "a.json", {"w": np.ones(1)})
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(vs.LoadError, match=r"a.json: unknown checkpoint suffix"):
        vs.load(tmp_path / "a.json")


def test_missing_checkpoint_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        vs.load(tmp_path / "a.safetensors")
    with pytest.raises(FileNotFoundError, match="Orbax directory"):
        vs.load(tmp_path / "ckpt")


def test_save_over_an_existing_file_without_suffix(tmp_path):
    (tmp_path / "ckpt").write_text("x")
    with pytest.raises(vs.SaveError, match="exists and is not a directory"):
        vs.save(tmp_path / "ckpt", {"w": np.ones(1)})


def test_save_inside_jit_names_the_tracer(tmp_path):
    path = tmp_path / "a.npz"

    @jax.jit
    def step(x):
        vs.save(path, {"x": x})
        return x

    with pytest.raises(vs.SaveError, match="at 'x': it is a tracer"):
        step(jnp.ones(2))
    assert vs.save(path, {"x": jnp.ones(2)}) is None  # eagerly it works


@pytest.mark.parametrize(
    "fmt,tree,match",
    [
        ("safetensors", {"s": "text"}, "a str is not an array"),
        ("npz", {"f": lambda x: x}, "a function is not an array"),
        ("safetensors", {"c": np.ones(2, np.complex128)}, "cannot store complex128"),
        ("msgpack", {"q": np.ones(2, ml_dtypes.int4)}, "cannot store int4"),
        ("npz", {"s": np.array(["a"])}, "cannot store <U1; use .msgpack"),
        ("msgpack", {"o": np.array([None])}, "cannot store object"),
        ("npz", {"k": jax.random.key(0)}, "typed PRNG key array"),
        ("npz", TwoKeys(np.ones(1), np.ones(1)), "would both be stored as '0'"),
        ("msgpack", {0: np.ones(1), "0": np.ones(1)}, "print as '0'"),
        ("npz", {"a\x00b": np.ones(1)}, "cannot contain NUL"),
    ],
)
def test_unsavable_trees(tmp_path, fmt, tree, match):
    path = tmp_path / f"a.{fmt}"
    with pytest.raises(vs.SaveError, match=match):
        vs.save(path, tree)
    assert not path.exists()


@pytest.mark.parametrize("sep", ["", "\\", 3])
def test_bad_separator(tmp_path, sep):
    with pytest.raises(vs.SaveError, match="sep must be a non-empty string"):
        vs.save(tmp_path / "a.npz", {"w": np.ones(1)}, sep=sep)
    with pytest.raises(vs.LoadError, match="sep must be a non-empty string"):
        vs.load(tmp_path / "a.npz", sep=sep)


def test_other_ml_dtypes_in_npz_and_safetensors(tmp_path):
    tree = {
        "f8": np.ones(3, ml_dtypes.float8_e4m3fn),
        "f8b": np.ones(2, ml_dtypes.float8_e5m2),
    }
    for fmt in FLAT:
        vs.save(tmp_path / f"a.{fmt}", tree)
        assert_same(vs.load(tmp_path / f"a.{fmt}"), tree)
    vs.save(tmp_path / "b.npz", {"i4": np.arange(3).astype(ml_dtypes.int4)})
    assert vs.load(tmp_path / "b.npz")["i4"].dtype == ml_dtypes.int4


# ---------------------------------------------------------------------------------
# checkpoint_index and progress


@pytest.mark.parametrize("fmt", FORMATS)
def test_checkpoint_index(tmp_path, fmt):
    path = _path(tmp_path, fmt)
    vs.save(path, {"params": {"w": jnp.ones((2, 3), jnp.bfloat16)}, "n": np.int8(1)})
    index = vs.checkpoint_index(path)
    assert index["params/w"] == ((2, 3), np.dtype(jnp.bfloat16))
    assert index["n"] == ((), np.dtype(np.int8))


def test_checkpoint_index_weak_msgpack_scalars(tmp_path):
    path = tmp_path / "a.msgpack"
    vs.save(path, {"step": 3, "name": "x"})
    assert vs.checkpoint_index(path) == {"step": ((), "int"), "name": (None, "str")}


def test_progress_bars(tmp_path, capsys):
    path = tmp_path / "a.safetensors"
    vs.save(path, {"w": np.ones(1000)}, progress=True)
    vs.load(path, progress=True)
    err = capsys.readouterr().err
    assert "saving a.safetensors" in err and "loading a.safetensors" in err
    vs.save(tmp_path / "b.msgpack", {"w": np.ones(10)}, progress=True)
    vs.load(tmp_path / "b.msgpack", progress=True)
    vs.load(path, progress=None)  # small file, no terminal: no bar
    err = capsys.readouterr().err
    assert "b.msgpack" in err and "loading a.safetensors" not in err


def test_prng_key_target_is_a_mismatch(tmp_path):
    path = tmp_path / "k.npz"
    vs.save(path, {"key": jax.random.key_data(jax.random.key(0))})
    with pytest.raises(vs.LoadError, match=r"key +key<fry>\[\] +uint32\[2\]"):
        vs.load(path, {"key": jax.random.key(0)})


def test_msgpack_bytes_leaves_roundtrip(tmp_path):
    path = tmp_path / "b.msgpack"
    vs.save(path, {"blob": b"\x00\x01", "w": np.ones(1)})
    assert vs.load(path)["blob"] == b"\x00\x01"
    assert vs.load(path, {"blob": b"", "w": np.zeros(1)})["blob"] == b"\x00\x01"


@pytest.mark.parametrize("name", ["ckpt.npz/", "folder.safetensors"])
def test_save_refuses_a_directory_with_a_file_suffix(tmp_path, name):
    (tmp_path / "folder.safetensors").mkdir()
    with pytest.raises(vs.SaveError, match="names a directory, but its suffix"):
        vs.save(f"{tmp_path}/{name}", {"w": np.ones(1)})


def test_flax_chunked_arrays_and_scalar_extensions_load(tmp_path, monkeypatch):
    # Flax splits arrays above MAX_CHUNK_SIZE bytes into chunks; make that small.
    monkeypatch.setattr(serialization, "MAX_CHUNK_SIZE", 64)
    tree = {
        "big": np.arange(100, dtype=np.float32).reshape(10, 10),
        "c": 1 + 2j,
        "n": np.float32(1.5),
        "h": jnp.arange(40, dtype=jnp.bfloat16),
    }
    path = tmp_path / "chunked.msgpack"
    path.write_bytes(serialization.to_bytes(tree))
    assert b"__msgpack_chunked_array__" in path.read_bytes()
    loaded = vs.load(path)
    assert loaded["big"].tolist() == tree["big"].tolist()
    assert loaded["c"] == 1 + 2j and loaded["n"] == np.float32(1.5)
    assert loaded["h"].dtype == jnp.bfloat16 and loaded["h"].shape == (40,)
    target = vs.load(path, tree)
    assert type(target["n"]) is np.float32 and target["big"].shape == (10, 10)


def test_msgpack_trailing_data_is_refused(tmp_path):
    path = tmp_path / "t.msgpack"
    vs.save(path, {"w": np.ones(2)})
    path.write_bytes(path.read_bytes() + b"\x01")
    with pytest.raises(vs.LoadError, match="t.msgpack: more data follows the state"):
        vs.load(path)
