"""Tests for vs.count and vs.summary."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.core import FrozenDict
from hypothesis import given
from hypothesis import strategies as st

import variables as vs


def make_variables() -> dict:
    return {
        "params": {
            "encoder": {"kernel": jnp.zeros((4, 8)), "bias": jnp.zeros(8)},
            "head": {"kernel": jnp.zeros((8, 2), jnp.bfloat16)},
        },
        "batch_stats": {"encoder": {"mean": jnp.zeros(8, jnp.int8)}},
    }


EXPECTED = """\
path                   leaves  params  bytes  dtypes
---------------------  ------  ------  -----  -----------------------
params                      3      56  192 B  float32, bfloat16
  params/encoder            2      40  160 B  float32
  params/head               1      16   32 B  bfloat16
batch_stats                 1       8    8 B  int8
  batch_stats/encoder       1       8    8 B  int8
total                       4      64  200 B  float32, bfloat16, int8"""


# ---------------------------------------------------------------------------------
# count


def test_count_arrays_scalars_and_shapes():
    assert vs.count(make_variables()) == 64
    assert vs.count({"w": np.zeros((2, 3)), "s": np.float32(1.0)}) == 7
    assert vs.count(jax.ShapeDtypeStruct((10, 10), jnp.bfloat16)) == 100
    assert vs.count({"step": 3, "name": "x", "none": None, "empty": {}}) == 0
    assert vs.count(jnp.zeros(())) == 1


def test_count_under_jit_is_static():
    tree = make_variables()
    seen = []

    @jax.jit
    def f(t):
        seen.append(vs.count(t))
        return t

    f(tree)
    assert seen == [64]


def test_count_of_eval_shape_without_allocating():
    module = nn.Dense(16)
    shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.ones((1, 8)))
    assert vs.count(shapes) == 8 * 16 + 16


@given(st.lists(st.lists(st.integers(0, 4), max_size=3), max_size=6))
def test_count_is_the_sum_of_sizes(shapes):
    tree = {f"w{i}": np.zeros(tuple(s), np.float32) for i, s in enumerate(shapes)}
    assert vs.count(tree) == sum(int(np.prod(s)) for s in shapes)
    assert vs.count(FrozenDict(tree)) == vs.count(list(tree.values()))


# ---------------------------------------------------------------------------------
# summary


def test_summary_table():
    assert vs.summary(make_variables()) == EXPECTED


def test_summary_same_for_frozendict_and_under_jit():
    tree = make_variables()
    assert vs.summary(FrozenDict(tree)) == EXPECTED
    seen = []

    @jax.jit
    def f(t):
        seen.append(vs.summary(t))
        return t

    f(tree)
    # jit hands the function dicts rebuilt by JAX, with sorted keys
    assert seen == [vs.summary(jax.tree_util.tree_map(lambda x: x, tree))]
    assert sorted(seen[0].splitlines()) == sorted(EXPECTED.splitlines())


def test_summary_depth():
    tree = make_variables()
    assert vs.summary(tree, depth=1).splitlines()[2:] == [
        "params            3      56  192 B  float32, bfloat16",
        "batch_stats       1       8    8 B  int8",
        "total             4      64  200 B  float32, bfloat16, int8",
    ]
    assert vs.summary(tree, depth=0).splitlines()[2:] == [
        "total       4      64  200 B  float32, bfloat16, int8"
    ]
    deep = vs.summary(tree, depth=3).splitlines()
    assert "    params/encoder/kernel          1      32  128 B  float32" in deep
    # each row comes right under its parent
    names = [line.split()[0] for line in deep[2:]]
    assert names.index("params/head") == names.index("params/encoder/bias") + 1


def test_summary_non_array_leaves_and_units():
    tree = {
        "params": {"w": jnp.zeros((1024, 1024)), "scale": 2.0},
        "meta": {"step": 7, "name": "run", "skip": None},
    }
    text = vs.summary(tree)
    assert text.splitlines()[2:] == [
        "params               2  1,048,576  4.0 MiB  float32, (float)",
        "  params/w           1  1,048,576  4.0 MiB  float32",
        "  params/scale       1          0      0 B  (float)",
        "meta                 2          0      0 B  (int), (str)",
        "  meta/step          1          0      0 B  (int)",
        "  meta/name          1          0      0 B  (str)",
        "total                4  1,048,576  4.0 MiB  float32, (float), (int), (str)",
    ]


def test_summary_of_an_empty_tree_and_a_bare_array():
    assert vs.summary({}).splitlines()[2] == "total       0       0    0 B"
    assert (
        vs.summary(jnp.zeros(3)).splitlines()[2]
        == "total       1       3   12 B  float32"
    )


def test_summary_of_a_train_state_and_a_model():
    from flax.training import train_state

    params = {"params": make_variables()["params"]}
    state = train_state.TrainState.create(
        apply_fn=lambda p, x: x, params=params, tx=optax.adam(1e-3)
    )
    lines = vs.summary(state, depth=3).splitlines()
    assert [line.split()[0] for line in lines[2:]] == [
        "step",
        "params",
        "params/params",
        "params/params/encoder",
        "params/params/head",
        "opt_state",
        "opt_state/0",
        "opt_state/0/count",
        "opt_state/0/mu",
        "opt_state/0/nu",
        "total",
    ]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["step"][1:] == ["1", "0", "0", "B", "(int)"]
    assert rows["opt_state"][2] == "113"  # mu and nu (56 each) and adam's count
    assert rows["total"][1:3] == ["11", "169"]
    model_cls = getattr(vs, "Model", None)
    if model_cls is None:  # until __init__ exports it
        model_cls = pytest.importorskip("variables._flax").Model
    model = model_cls.init(nn.Dense(3), jax.random.key(0), jnp.ones((1, 2)))
    assert vs.count(model) == 9
    assert vs.summary(model).splitlines()[2:] == [
        "params                2       9   36 B  float32",
        "  params/kernel       1       6   24 B  float32",
        "  params/bias         1       3   12 B  float32",
        "total                 2       9   36 B  float32",
    ]


@pytest.mark.parametrize(
    "n, text",
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (3 * 2**30, "3.0 GiB")],
)
def test_human_bytes(n, text):
    from variables._summary import _human_bytes

    assert _human_bytes(n) == text
