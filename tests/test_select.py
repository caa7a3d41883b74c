"""Tests for vs.select / partition / merge / labels / mask and vs.LeafInfo."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.core import FrozenDict
from helpers import KEYS as CONTAINER_KEYS
from helpers import ChexBox, Pair, RegBox, StructBox, containers
from hypothesis import given
from hypothesis import strategies as st

import variables as vs
from variables import _tree


def make_variables() -> dict:
    def dense(n_in, n_out, dtype=jnp.float32):
        return {
            "kernel": jnp.arange(n_in * n_out, dtype=dtype).reshape(n_in, n_out),
            "bias": jnp.zeros((n_out,), dtype),
        }

    return {
        "params": {
            "encoder": {"Dense_0": dense(4, 8), "Dense_1": dense(8, 8)},
            "decoder": {"Dense_0": dense(8, 4, jnp.float16)},
            "head": dense(4, 2),
        },
        "batch_stats": {"encoder": {"BatchNorm_0": {"mean": jnp.ones(8)}}},
    }


def paths_of(tree: Any) -> set[str]:
    return {vs.format_path(p) for p, leaf in _tree.walk(tree) if leaf is not None}


def same_bits(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_tree(a: Any, b: Any) -> None:
    """Same structure (None counted as a leaf) and bit-identical leaves."""
    is_none = lambda x: x is None  # noqa: E731
    la, ta = jax.tree_util.tree_flatten(a, is_leaf=is_none)
    lb, tb = jax.tree_util.tree_flatten(b, is_leaf=is_none)
    assert ta == tb, f"{ta} != {tb}"
    for x, y in zip(la, lb):
        assert (x is None and y is None) or same_bits(x, y)


# ---------------------------------------------------------------------------------
# select: the one-liners of the issue, eagerly and under jit


ONE_LINERS = {
    "all batch statistics": (
        (),
        lambda leaf: leaf.collection == "batch_stats",
        {"batch_stats/encoder/BatchNorm_0/mean"},
    ),
    "every kernel under the encoder": (
        ("params/encoder/**/kernel",),
        None,
        {"params/encoder/Dense_0/kernel", "params/encoder/Dense_1/kernel"},
    ),
    "every float16 leaf": (
        (),
        lambda leaf: leaf.value.dtype == jnp.float16,
        {"params/decoder/Dense_0/kernel", "params/decoder/Dense_0/bias"},
    ),
    "every leaf bigger than 100 bytes": (
        (),
        lambda leaf: leaf.value.size * leaf.value.dtype.itemsize > 100,
        {"params/encoder/Dense_0/kernel", "params/encoder/Dense_1/kernel"},
    ),
    "biases by name, two patterns": (
        ("params/head/*", "params/decoder/**"),
        lambda leaf: leaf.name == "bias",
        {"params/head/bias", "params/decoder/Dense_0/bias"},
    ),
}


@pytest.mark.parametrize("case", list(ONE_LINERS))
@pytest.mark.parametrize("jit", [False, True])
def test_select_one_liners(case, jit):
    patterns, where, expected = ONE_LINERS[case]
    tree = make_variables()
    fn = lambda t: vs.select(t, *patterns, where=where)  # noqa: E731
    out = jax.jit(fn)(tree) if jit else fn(tree)
    assert paths_of(out) == expected
    for path in expected:
        assert same_bits(vs.get(out, path), vs.get(tree, path))


def test_select_prunes_branches_and_shares_subtrees():
    tree = make_variables()
    out = vs.select(tree, "params/encoder/**")
    assert out == {"params": {"encoder": tree["params"]["encoder"]}}
    assert out["params"]["encoder"] is tree["params"]["encoder"]
    kernels = vs.select(tree, "**/kernel")
    assert set(kernels["params"]) == {"encoder", "decoder", "head"}
    assert "batch_stats" not in kernels
    assert kernels["params"]["head"]["kernel"] is tree["params"]["head"]["kernel"]


def test_select_without_filters_is_the_tree_itself():
    tree = make_variables()
    assert vs.select(tree) is tree
    assert vs.select(tree, "**") is tree
    assert vs.partition(tree)[1] == {}


def test_select_a_pattern_matching_a_node_but_no_leaf_selects_nothing():
    tree = make_variables()
    assert vs.select(tree, "params/encoder") == {}
    assert vs.select(tree, "nothing/**") == {}


def test_select_does_not_visit_subtrees_no_pattern_can_reach():
    opened = []

    @jax.tree_util.register_pytree_with_keys_class
    class Spy:
        def __init__(self, value):
            self.value = value

        def tree_flatten_with_keys(self):
            opened.append(self)
            return ((jax.tree_util.GetAttrKey("value"), self.value),), None

        def tree_flatten(self):
            opened.append(self)
            return (self.value,), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    tree = {"params": {"encoder": {"w": 1.0}, "decoder": Spy({"w": 2.0})}}
    sel, rest = vs.partition(tree, "params/encoder/**")
    assert sel == {"params": {"encoder": {"w": 1.0}}}
    assert rest["params"]["decoder"] is tree["params"]["decoder"]
    assert opened == []
    vs.partition(tree, "**/w")
    assert opened  # the spy works: a pattern that can reach it opens it


def test_selected_goes_straight_into_grad():
    tree = make_variables()
    train, frozen = vs.partition(tree, "params/head/**")

    def loss(train):
        full = vs.merge(train, frozen)
        x = jnp.ones((1, 4))
        h = x @ full["params"]["encoder"]["Dense_0"]["kernel"][:, :4]
        y = h @ full["params"]["head"]["kernel"] + full["params"]["head"]["bias"]
        return jnp.sum(y**2)

    grads = jax.grad(loss)(train)
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(train)
    assert paths_of(grads) == {"params/head/kernel", "params/head/bias"}
    assert float(jnp.abs(grads["params"]["head"]["kernel"]).sum()) > 0


# ---------------------------------------------------------------------------------
# container kinds


def test_frozendict_in_frozendict_out():
    tree = FrozenDict(make_variables())
    sel, rest = vs.partition(tree, "params/encoder/**")
    assert type(sel) is FrozenDict and type(rest) is FrozenDict
    assert type(sel["params"]) is FrozenDict
    assert set(sel["params"]) == {"encoder"}
    assert set(rest["params"]) == {"decoder", "head"}
    assert_same_tree(vs.merge(sel, rest), tree)
    assert type(vs.merge(sel, rest)) is FrozenDict


@pytest.mark.parametrize(
    "kind", ["list", "tuple", "namedtuple", "flax_struct", "chex", "register_dataclass"]
)
def test_fixed_and_sequence_nodes_hold_none_where_nothing_was_kept(kind):
    a, b = jnp.ones(2), jnp.zeros(3)
    node = containers(a, b)[kind]
    k1, k2 = CONTAINER_KEYS[kind]
    tree = {"node": node, "other": jnp.ones(1)}
    sel, rest = vs.partition(tree, vs.format_path(("node", k1)))
    assert type(sel["node"]) is type(node)
    assert type(rest["node"]) is type(node)
    assert _tree.child(sel["node"], k1) is a and _tree.child(sel["node"], k2) is None
    assert _tree.child(rest["node"], k1) is None and _tree.child(rest["node"], k2) is b
    assert "other" not in sel
    merged = vs.merge(sel, rest)
    assert_same_tree(merged, tree)
    assert _tree.child(merged["node"], k1) is a


def test_mappings_prune_keys():
    a, b = jnp.ones(2), jnp.zeros(3)
    for kind in ["dict", "frozendict"]:
        node = containers(a, b)[kind]
        sel, rest = vs.partition(node, "a")
        assert type(sel) is type(node) and list(sel) == ["a"] and list(rest) == ["b"]


def test_list_positions_survive_partition_and_merge():
    layers = [{"w": jnp.full(2, float(i)), "b": jnp.zeros(2)} for i in range(4)]
    sel, rest = vs.partition({"layers": layers}, "layers/[13]/w")
    assert sel["layers"][0] is None and sel["layers"][2] is None
    assert sel["layers"][1] == {"w": layers[1]["w"]}
    assert rest["layers"][1] == {"b": layers[1]["b"]}
    assert rest["layers"][0] is layers[0]
    assert vs.get(sel, "layers/3/w") is layers[3]["w"]
    assert_same_tree(vs.merge(sel, rest), {"layers": layers})


def test_train_state_partition_and_merge():
    from flax.training import train_state

    params = make_variables()["params"]
    state = train_state.TrainState.create(
        apply_fn=lambda p, x: x, params=params, tx=optax.sgd(0.1)
    )
    sel, rest = vs.partition(state, "params/**")
    assert type(sel) is type(state)
    assert sel.step is None and sel.opt_state is None
    assert sel.params is state.params
    assert rest.params is None and rest.step is state.step
    merged = vs.merge(sel, rest)
    assert type(merged) is type(state)
    assert_same_tree(merged, state)
    assert merged.apply_fn is state.apply_fn


def test_model_selection_by_collection():
    model_cls = getattr(vs, "Model", None)
    if model_cls is None:  # until __init__ exports it
        model_cls = pytest.importorskip("variables._flax").Model
    x = jnp.ones((2, 3))
    model = model_cls.init(
        nn.BatchNorm(use_running_average=False), jax.random.key(0), x
    )
    stats = vs.select(model, where=lambda leaf: leaf.collection == "batch_stats")
    assert type(stats) is model_cls
    assert paths_of(stats) == {"batch_stats/mean", "batch_stats/var"}
    sel, rest = vs.partition(model, "params/**")
    assert paths_of(sel) == {"params/scale", "params/bias"}
    assert_same_tree(vs.merge(sel, rest), model)
    assert vs.mask(model, "params/**").variables["params"] == {
        "scale": True,
        "bias": True,
    }


def test_none_and_empty_containers():
    w = jnp.ones(2)
    tree = {"a": {"w": w, "n": None, "e": {}}, "b": None, "c": []}
    assert vs.select(tree, "a/**") == {"a": {"w": w, "n": None, "e": {}}}
    assert vs.select(tree, "a/**", where=lambda leaf: True) == {"a": {"w": w}}
    sel, rest = vs.partition(tree, where=lambda leaf: True)
    assert sel == {"a": {"w": w}}
    assert rest == {"a": {"n": None, "e": {}}, "b": None, "c": []}
    assert_same_tree(vs.merge(sel, rest), tree)


def test_root_leaf_and_root_with_nothing_kept():
    x = jnp.ones(3)
    assert vs.select(x) is x
    assert vs.partition(x, "a") == (None, x)
    assert vs.select(x, where=lambda leaf: leaf.path == () and leaf.name is None) is x
    assert vs.select([x, x], "9") == [None, None]
    assert vs.select(FrozenDict(a=x), "b") == FrozenDict({})
    assert vs.select(Pair(x, x), "third") == Pair(None, None)


# ---------------------------------------------------------------------------------
# LeafInfo and where


def test_leaf_info_fields():
    seen = []
    tree = {"params": {"a/b": {"w": 1.0}, "layers": [2.0]}, "top": 3.0}
    vs.select(tree, where=lambda leaf: seen.append(leaf) or True)
    by_path = {info.path: info for info in seen}
    info = by_path[("params", "a/b", "w")]
    assert info == vs.LeafInfo(
        ("params", "a/b", "w"), "params/a\\/b/w", "params", "params/a\\/b", "w", 1.0
    )
    assert by_path[("params", "layers", 0)].path_str == "params/layers/0"
    assert by_path[("params", "layers", 0)].module == "params/layers"
    assert by_path[("top",)].module == "" and by_path[("top",)].collection == "top"
    assert vs.LeafInfo.from_path("params/a\\/b/w", 1.0) == info
    assert vs.LeafInfo.from_path((), 5).collection is None


def test_where_errors_name_the_leaf():
    tree = {"params": {"w": jnp.ones(2)}, "step": 3}
    with pytest.raises(AttributeError, match="has no attribute 'dtype'") as info:
        vs.select(tree, where=lambda leaf: leaf.value.dtype == jnp.float32)
    assert "raised by `where` on the leaf at 'step'" in "".join(info.value.__notes__)
    with pytest.raises(AttributeError, match="has no attribute 'dtype'") as info:
        vs.mask(tree, where=lambda leaf: leaf.value.dtype == jnp.float32)
    assert "raised by `where` on the leaf at 'step'" in "".join(info.value.__notes__)


def test_where_on_traced_values_explains_jit():
    tree = {"w": jnp.ones(2)}
    with pytest.raises(jax.errors.ConcretizationTypeError, match="bool") as info:
        jax.jit(lambda t: vs.select(t, where=lambda leaf: leaf.value.sum() > 0))(tree)
    assert "static facts such as path, shape and dtype" in "".join(info.value.__notes__)


@pytest.mark.parametrize(
    "bad, match",
    [
        (["a/**", "b/**"], r"instead of `vs.select\(tree, \*\[...\]\)`"),
        (lambda leaf: True, r"A predicate goes in `where=`"),
        (3.5, r"a pattern must be a string like 'params/\*\*/kernel'.*float"),
        (True, r"got a bool"),
    ],
)
def test_select_rejects_bad_patterns(bad, match):
    with pytest.raises(vs.StructureError, match=match):
        vs.select({"a": 1}, bad)


def test_where_must_be_callable():
    with pytest.raises(vs.StructureError, match=r"`where` of `vs.partition` must be"):
        vs.partition({"a": 1}, where="a/**")
    with pytest.raises(vs.StructureError, match=r"`where` of `vs.mask` must be"):
        vs.mask({"a": 1}, where=True)


def test_patterns_may_be_tuples_ints_and_compiled():
    tree = {"a": [{"w": 1}, {"w": 2}], 0: {"x": 3}}
    assert vs.select(tree, ("a", 1, "w")) == {"a": [None, {"w": 2}]}
    assert vs.select(tree, vs.Pattern.compile("a/*/w")) == {"a": [{"w": 1}, {"w": 2}]}
    assert vs.select({0: 5, 1: 6}, 0) == {0: 5}


# ---------------------------------------------------------------------------------
# merge


def test_merge_round_trip_keeps_the_very_same_leaves():
    tree = make_variables()
    sel, rest = vs.partition(tree, "**/kernel", "batch_stats/**")
    merged = vs.merge(sel, rest)
    assert merged == tree
    assert_same_tree(merged, tree)
    leaves = dict(_tree.walk(tree))
    for path, leaf in _tree.walk(merged):
        assert leaf is leaves[path]


def test_merge_shares_subtrees_only_one_tree_holds():
    a = {"x": {"deep": {"w": 1}}}
    b = {"y": {"v": 2}}
    out = vs.merge(a, b)
    assert out["x"] is a["x"] and out["y"] is b["y"]
    assert vs.merge(a) is a
    assert vs.merge(a, None, {}) is a
    assert vs.merge(None, None) is None


def test_merge_conflict_names_the_path():
    with pytest.raises(
        vs.MergeConflictError,
        match=r"tree 0 and tree 1 both define the leaf at 'params/w'",
    ):
        vs.merge({"params": {"w": jnp.ones(3)}}, {"params": {"w": jnp.zeros(3)}})
    with pytest.raises(ValueError, match=r"float32\[3\]"):
        vs.merge({"params": {"w": jnp.ones(3)}}, {"params": {"w": jnp.zeros(3)}})


def test_merge_conflict_from_a_third_tree():
    with pytest.raises(
        vs.MergeConflictError,
        match=r"the trees before 2 and tree 2 both define the leaf at 'b'",
    ):
        vs.merge({"a": 1}, {"b": 2}, {"b": 3})


def test_merge_leaf_against_subtree():
    with pytest.raises(
        vs.MergeConflictError,
        match=r"disagree at 'a': a leaf against a subtree.*a dict with keys \['b'\]",
    ):
        vs.merge({"a": {"b": 1}}, {"a": 2})
    assert vs.merge({"a": {"b": 1}}, {"a": 2}, override=True) == {"a": 2}


def test_merge_structure_mismatch():
    with pytest.raises(
        vs.MergeConflictError,
        match=r"structure at 'l' .*a list of length 2.*a list of length 1",
    ):
        vs.merge({"l": [1, None]}, {"l": [None]})
    with pytest.raises(
        vs.MergeConflictError,
        match=r"structure at the root .*a list of length 1.*a dict",
    ):
        vs.merge([1], {"a": 2})
    with pytest.raises(vs.MergeConflictError, match=r"Pair"):
        vs.merge(Pair(1, None), (None, 2))


def test_merge_override_later_tree_wins():
    out = vs.merge({"w": 1, "b": 2}, {"w": 10}, {"w": 100, "c": 3}, override=True)
    assert out == {"w": 100, "b": 2, "c": 3}


def test_merge_mixed_mapping_types_take_the_first_type():
    out = vs.merge(FrozenDict(a={"x": 1}), {"a": {"y": 2}, "b": 3})
    assert type(out) is FrozenDict
    assert out == FrozenDict(a={"x": 1, "y": 2}, b=3)
    out = vs.merge({"a": {"x": 1}}, FrozenDict(a={"y": 2}))
    assert type(out) is dict and out["a"] == {"x": 1, "y": 2}


def test_merge_needs_a_tree():
    with pytest.raises(vs.StructureError, match=r"`vs.merge` needs at least one tree"):
        vs.merge()


def test_partition_and_merge_under_jit():
    tree = make_variables()

    @jax.jit
    def roundtrip(t):
        sel, rest = vs.partition(
            t, "params/encoder/**", where=lambda leaf: leaf.name == "kernel"
        )
        return sel, rest, vs.merge(sel, rest)

    sel, rest, merged = roundtrip(tree)
    eager_sel, eager_rest = vs.partition(
        tree, "params/encoder/**", where=lambda leaf: leaf.name == "kernel"
    )
    assert_same_tree(sel, eager_sel)
    assert_same_tree(rest, eager_rest)
    assert_same_tree(merged, tree)


# ---------------------------------------------------------------------------------
# the property: partition / merge round-trips random trees with random patterns

KEYS = ["a", "b", "kernel", "bias"]


@flax.struct.dataclass
class Box:
    left: Any
    right: Any


def trees():
    counter = iter(range(10**9))
    leaves = st.one_of(
        st.builds(lambda: np.array(next(counter), np.int32)),
        st.builds(lambda: np.array(next(counter), np.float16)),
        st.just(None),
    )

    def extend(children):
        mapping = st.dictionaries(st.sampled_from(KEYS), children, max_size=3)
        return st.one_of(
            mapping,
            mapping.map(FrozenDict),
            st.lists(children, max_size=3),
            st.lists(children, max_size=3).map(tuple),
            st.builds(Pair, children, children),
            st.builds(Box, children, children),
        )

    return st.recursive(leaves, extend, max_leaves=16)


SEGMENTS = KEYS + ["*", "**", "0", "1", "k*", "[ab]", "first", "left"]
patterns = st.lists(st.sampled_from(SEGMENTS), max_size=4).map("/".join)
WHERES = [
    None,
    lambda leaf: leaf.value.dtype == np.int32,
    lambda leaf: leaf.name in ("a", "kernel", 0),
    lambda leaf: int(leaf.value) % 3 == 0,
]


def expected_selection(tree, pats, where) -> set:
    compiled = [vs.Pattern.compile(p) for p in pats] or [vs.Pattern.compile("**")]
    out = set()
    for path, leaf in _tree.walk(tree):
        if leaf is None or not any(p.matches(path) for p in compiled):
            continue
        if where is None or where(vs.LeafInfo.from_path(path, leaf)):
            out.add(path)
    return out


@given(trees(), st.lists(patterns, max_size=3), st.sampled_from(range(len(WHERES))))
def test_partition_merge_round_trip_property(tree, pats, where_index):
    where = WHERES[where_index]
    sel, rest = vs.partition(tree, *pats, where=where)
    # the selection is exactly what the rule says, leaves are the very objects
    leaves = dict(_tree.walk(tree))
    got = {p for p, leaf in _tree.walk(sel) if leaf is not None}
    assert got == expected_selection(tree, pats, where)
    for p in got:
        assert vs.get(sel, p) is leaves[p]
    # no leaf on both sides; together they hold every leaf
    got_rest = {p for p, leaf in _tree.walk(rest) if leaf is not None}
    assert not got & got_rest
    assert got | got_rest == {p for p, leaf in leaves.items() if leaf is not None}
    # merge rebuilds the tree: structure (None included) and identical leaves
    merged = vs.merge(sel, rest)
    is_none = lambda x: x is None  # noqa: E731
    assert jax.tree_util.tree_structure(merged, is_leaf=is_none) == (
        jax.tree_util.tree_structure(tree, is_leaf=is_none)
    )
    for a, b in zip(
        jax.tree_util.tree_leaves(merged, is_leaf=is_none),
        jax.tree_util.tree_leaves(tree, is_leaf=is_none),
    ):
        assert a is b
    # select is the first half; mask agrees with it
    assert_same_tree(vs.select(tree, *pats, where=where), sel)
    flags = vs.mask(tree, *pats, where=where)
    marked = {p for p, f in _tree.walk(flags) if f is True}
    assert marked == got


# ---------------------------------------------------------------------------------
# labels and mask


def test_labels_first_rule_wins_and_default():
    params = make_variables()["params"]
    rules = {"encoder/Dense_0/**": "frozen", "encoder/**": "slow", "**/bias": "nodecay"}
    out = vs.labels(params, rules, default="train")
    assert out == {
        "encoder": {
            "Dense_0": {"kernel": "frozen", "bias": "frozen"},
            "Dense_1": {"kernel": "slow", "bias": "slow"},
        },
        "decoder": {"Dense_0": {"kernel": "train", "bias": "nodecay"}},
        "head": {"kernel": "train", "bias": "nodecay"},
    }
    assert list(out["encoder"]) == list(params["encoder"])  # key order kept


def test_labels_tree_has_the_structure_of_params():
    params = FrozenDict({"a": {"w": jnp.ones(2)}, "l": [jnp.ones(1), None], "e": {}})
    out = vs.labels(params, {"a/**": "x"}, default="y")
    assert type(out) is FrozenDict
    assert out == FrozenDict({"a": {"w": "x"}, "l": ["y", None], "e": {}})
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(params)


def test_labels_missing_rule_names_the_leaves():
    params = make_variables()["params"]
    with pytest.raises(
        vs.PathError,
        match=r"no rule matches the leaves 'params/head/kernel', 'params/head/bias'",
    ) as info:
        vs.labels(
            {"params": params}, {"params/encoder/**": "a", "params/decoder/**": "b"}
        )
    assert info.value.path == ("params", "head", "kernel")
    with pytest.raises(KeyError, match=r"no rule matches the leaf 'w', and no default"):
        vs.labels({"w": 1.0}, {})
    with pytest.raises(vs.PathError, match=r"the leaves .* \(and 2 more\)"):
        vs.labels({f"w{i}": 1.0 for i in range(7)}, {})
    assert vs.labels({"w": 1.0}, {}, default="d") == {"w": "d"}


def test_labels_rules_must_be_a_mapping():
    with pytest.raises(
        vs.StructureError, match=r"`rules` of `vs.labels` must be a mapping"
    ):
        vs.labels({"w": 1.0}, ["**"])
    with pytest.raises(vs.StructureError, match=r"`vs.labels`: a pattern must be"):
        vs.labels({"w": 1.0}, {3.5: "x"})


def test_mask_structure_and_where():
    params = make_variables()["params"]
    m = vs.mask(params, "encoder/**")
    assert jax.tree_util.tree_structure(m) == jax.tree_util.tree_structure(params)
    assert m["encoder"]["Dense_1"] == {"kernel": True, "bias": True}
    assert m["head"] == {"kernel": False, "bias": False}
    m = vs.mask(params, where=lambda leaf: leaf.value.ndim == 1)
    assert m["head"] == {"kernel": False, "bias": True}
    assert vs.mask([None, 1.0]) == [None, True]


def test_labels_and_mask_inside_jit():
    params = make_variables()["params"]
    rules = {"encoder/**": "frozen"}
    tx = optax.multi_transform(
        {"train": optax.sgd(1.0), "frozen": optax.set_to_zero()},
        lambda p: vs.labels(p, rules, default="train"),  # called on tracers below
    )
    masked = optax.masked(optax.set_to_zero(), lambda p: vs.mask(p, "encoder/**"))
    grads = jax.tree_util.tree_map(jnp.ones_like, params)

    @jax.jit
    def step(params):
        u1, _ = tx.update(grads, tx.init(params), params)
        u2, _ = masked.update(grads, masked.init(params), params)
        return u1, u2

    u1, u2 = step(params)
    for u in (u1, u2):
        assert not np.any(u["encoder"]["Dense_0"]["kernel"])
    assert np.all(u1["head"]["kernel"] == -1.0)
    assert np.all(u2["head"]["kernel"] == 1.0)


# ---------------------------------------------------------------------------------
# fine-tuning with a frozen backbone


class Backbone(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(8)(x))
        return nn.relu(nn.Dense(8)(x))


class Net(nn.Module):
    def setup(self):
        self.backbone = Backbone()
        self.head = nn.Dense(2)

    def __call__(self, x):
        return self.head(self.backbone(x))


def finetune(make_tx, steps=5):
    net = Net()
    x = jax.random.normal(jax.random.key(1), (16, 4))
    y = jax.random.normal(jax.random.key(2), (16, 2))
    params = net.init(jax.random.key(0), x)["params"]
    tx = make_tx(params)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state):
        loss = lambda p: jnp.mean((net.apply({"params": p}, x) - y) ** 2)  # noqa: E731
        grads = jax.grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    new = params
    for _ in range(steps):
        new, opt_state = step(new, opt_state)
    return params, new


def assert_backbone_frozen_head_moved(before, after):
    flat_before, flat_after = vs.flatten(before), vs.flatten(after)
    assert flat_before.keys() == flat_after.keys()
    for path, old in flat_before.items():
        if path.startswith("backbone/"):
            assert same_bits(old, flat_after[path]), path
        else:
            assert not np.array_equal(old, flat_after[path]), path


def test_finetune_frozen_backbone_multi_transform():
    def make_tx(params):
        labels = vs.labels(params, {"backbone/**": "frozen"}, default="train")
        return optax.multi_transform(
            {"train": optax.adam(1e-2), "frozen": optax.set_to_zero()}, labels
        )

    assert_backbone_frozen_head_moved(*finetune(make_tx))


def test_finetune_frozen_backbone_masked():
    def make_tx(params):
        frozen = vs.mask(params, "backbone/**")
        return optax.chain(optax.adamw(1e-2), optax.masked(optax.set_to_zero(), frozen))

    assert_backbone_frozen_head_moved(*finetune(make_tx))


def test_structured_nodes_from_helpers_round_trip():
    leaf = jnp.ones(2)
    tree = {name: node for name, node in containers(leaf, jnp.zeros(2)).items()}
    tree["nested"] = [StructBox(ChexBox(value=leaf, extra=None), RegBox(leaf, leaf))]
    for pattern in ["*/value", "dict/**", "nested/**/extra", "**/1"]:
        assert_same_tree(vs.merge(*vs.partition(tree, pattern)), tree)
