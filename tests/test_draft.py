"""Tests for drafts: vs.unfrozen, vs.result, vs.produce, vs.mutable, vs.current,
vs.original (variables/_draft.py and variables/_draft_nodes.py)."""

from __future__ import annotations

import collections
import copy
import subprocess
import sys
from typing import Any, NamedTuple

import chex
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.core import FrozenDict
from flax.training import train_state
from helpers import KEYS, RegBox, StructBox, containers
from hypothesis import given
from hypothesis import strategies as st

import variables as vs
from variables import _draft_nodes

# ---------------------------------------------------------------------------------
# Helpers


def edit(tree, fn):
    """Runs ``fn(draft)`` in a `vs.unfrozen` block and returns the result."""
    with vs.unfrozen(tree) as draft:
        fn(draft)
    return vs.result(draft)


def jitted(tree, fn):
    """The same as `edit`, inside `jax.jit`."""
    return jax.jit(lambda t: edit(t, fn))(tree)


def child(node, key):
    """A child by key: items for sequences and mappings, attributes otherwise."""
    if isinstance(node, (list, tuple, dict, FrozenDict)) and not hasattr(
        node, "_fields"
    ):
        return node[key]
    return getattr(node, key)


def to_plain(x):
    """Mappings -> dict, sequences -> list, arrays -> lists of Python numbers."""
    if isinstance(x, (dict, FrozenDict)):
        return {k: to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_plain(v) for v in x]
    if isinstance(x, (np.ndarray, jax.Array)):
        return np.asarray(x).tolist()
    return x


# ---------------------------------------------------------------------------------
# Every container kind: read, write, rebuild (eager and jitted)


KINDS = list(KEYS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("run", [edit, jitted], ids=["eager", "jit"])
def test_unfrozen_assign_each_kind(kind, run):
    node = containers(jnp.float32(1.0), {"w": jnp.float32(2.0)})[kind]
    k1, k2 = KEYS[kind]

    def fn(d):
        if kind in ("namedtuple", "flax_struct", "chex", "register_dataclass"):
            setattr(d, k1, getattr(d, k1) + 10)
            getattr(d, k2)["w"] *= 3
        else:
            d[k1] = d[k1] + 10
            d[k2]["w"] *= 3

    out = run(node, fn)
    assert type(out) is type(node)
    assert float(child(out, k1)) == 11.0
    assert float(child(child(out, k2), "w")) == 6.0
    assert float(child(node, k1)) == 1.0  # the input is unchanged
    assert float(child(child(node, k2), "w")) == 2.0


@pytest.mark.parametrize("kind", KINDS)
def test_unfrozen_no_writes_returns_input(kind):
    node = containers(np.ones(2), {"w": np.zeros(2)})[kind]
    k1, k2 = KEYS[kind]

    def read(d):
        d[k1]
        d[k2]["w"]
        list(vs.current(d[k2]).items())

    assert edit(node, read) is node


@pytest.mark.parametrize("kind", KINDS)
def test_unfrozen_item_access_on_every_kind(kind):
    node = containers(1, 2)[kind]
    k1, k2 = KEYS[kind]
    out = edit(node, lambda d: d.__setitem__(k2, d[k1] + d[k2]))
    assert child(out, k2) == 3 and child(out, k1) == 1
    assert type(out) is type(node)


def test_unfrozen_augmented_assignment_at_every_depth():
    tree = {"a": {"b": [{"c": (1.0, {"d": 2.0})}]}}

    def fn(d):
        d["a"]["b"][0]["c"][1]["d"] /= 2
        d["a"]["b"][0]["c"][0] *= 4
        d["a"]["b"] += [{"e": 5}]

    out = edit(tree, fn)
    assert out == {"a": {"b": [{"c": (4.0, {"d": 1.0})}, {"e": 5}]}}
    assert type(out["a"]["b"][0]["c"]) is tuple
    assert tree == {"a": {"b": [{"c": (1.0, {"d": 2.0})}]}}


# ---------------------------------------------------------------------------------
# MutableMapping protocol (dict and FrozenDict)


MAPS = [dict, FrozenDict]


@pytest.mark.parametrize("make", MAPS)
def test_mapping_get_set_del_and_type(make):
    tree = make({"a": 1, "b": {"x": 2}, "c": 3})
    out = edit(tree, lambda d: (d.__setitem__("a", 10), d.__delitem__("c")))
    assert type(out) is make and dict(out) == {"a": 10, "b": {"x": 2}}
    assert dict(tree) == {"a": 1, "b": {"x": 2}, "c": 3}


@pytest.mark.parametrize("make", MAPS)
def test_mapping_protocol_methods(make):
    tree = make({"a": 1, "b": {"x": 2}, "c": 3})
    seen = {}

    def fn(d):
        seen["in"] = ("a" in d, "z" in d)
        seen["len"] = len(d)
        seen["iter"] = list(d)
        seen["keys"] = list(d.keys())
        seen["get"] = (d.get("a"), d.get("z"), d.get("z", 7))
        seen["pop"] = d.pop("a")
        seen["pop_default"] = d.pop("zz", "dflt")
        seen["setdefault_old"] = d.setdefault("c", 100)
        d.setdefault("n", {})["deep"] = 1  # returns a draft of the stored value
        d.update({"u": 1}, v=2)
        d.update([("w", 3)])
        d |= {"x": 4}
        seen["popitem"] = d.popitem()  # last in, first out, like dict
        seen["items"] = [(k, vs.current(v)) for k, v in d.items()]
        seen["values"] = [vs.current(v) for v in d.values()]

    out = edit(tree, fn)
    assert seen["in"] == (True, False) and seen["len"] == 3
    assert seen["iter"] == ["a", "b", "c"] == seen["keys"]
    assert seen["get"] == (1, None, 7)
    assert seen["pop"] == 1 and seen["pop_default"] == "dflt"
    assert seen["setdefault_old"] == 3
    assert seen["popitem"] == ("x", 4)
    expected = {"b": {"x": 2}, "c": 3, "n": {"deep": 1}, "u": 1, "v": 2, "w": 3}
    assert to_plain(out) == expected
    assert list(out) == ["b", "c", "n", "u", "v", "w"]  # dict order semantics
    assert [k for k, _ in seen["items"]] == list(out)
    assert type(out) is make
    if make is FrozenDict:
        assert type(out["n"]) is FrozenDict and type(seen["items"][0][1]) is FrozenDict


@pytest.mark.parametrize("make", MAPS)
def test_mapping_equality_against_plain_values(make):
    tree = make({"a": 1, "b": {"x": [1, 2]}})
    with vs.unfrozen(tree) as d:
        assert d == {"a": 1, "b": {"x": [1, 2]}}
        assert d["b"] == {"x": [1, 2]} and d["b"]["x"] == [1, 2]
        assert d != {"a": 2, "b": {"x": [1, 2]}}
        assert d["b"] == d["b"]
        d["a"] = 5
        assert d == {"a": 5, "b": {"x": [1, 2]}}


@pytest.mark.parametrize("make", MAPS)
def test_mapping_clear_and_readd(make):
    tree = make({"a": 1, "b": 2})

    def fn(d):
        d.clear()
        assert len(d) == 0
        d["b"] = 20
        d["a"] = 10

    out = edit(tree, fn)
    assert list(out) == ["b", "a"] and dict(out) == {"b": 20, "a": 10}


def test_mapping_delete_then_readd_moves_key_last():
    tree = {"a": 1, "b": 2, "c": 3}
    out = edit(tree, lambda d: d.__setitem__("a", d.pop("a")))
    assert list(out) == ["b", "c", "a"] and out == tree


def test_mapping_add_then_delete_is_no_change():
    tree = {"a": {"x": 1}, "b": 2}

    def fn(d):
        d["new"] = 1
        del d["new"]

    assert edit(tree, fn) == tree
    out = edit(tree, lambda d: d["a"].__setitem__("y", 1) or d["a"].pop("y"))
    assert out == tree


@pytest.mark.parametrize("make", MAPS)
def test_mapping_missing_key_errors(make):
    tree = make({"kernel": 1, "bias": 2})
    with vs.unfrozen(tree) as d:
        with pytest.raises(
            vs.PathError, match=r"no key 'kernal'.*Did you mean 'kernel'"
        ):
            d["kernal"]
        with pytest.raises(KeyError, match="Existing keys: 'kernel', 'bias'"):
            del d["nope"]
        with pytest.raises(vs.PathError, match="no key 'nope'"):
            d.pop("nope")
        d.clear()
        with pytest.raises(
            vs.PathError, match=r"popitem\(\): this draft of a .* is empty"
        ):
            d.popitem()


def test_mapping_generic_registered_mapping():
    tree = collections.OrderedDict(a=1, b={"x": 2})
    out = edit(tree, lambda d: (d.__setitem__("c", 3), d["b"].__setitem__("x", 5)))
    assert type(out) is collections.OrderedDict
    assert out == {"a": 1, "b": {"x": 5}, "c": 3}
    assert edit(tree, lambda d: d["b"]) is tree


# ---------------------------------------------------------------------------------
# MutableSequence protocol (list)


def test_list_protocol_methods():
    tree = {"l": [0, 1, 2, 3]}
    seen = {}

    def fn(d):
        lst = d["l"]
        seen["read"] = (lst[0], lst[-1], lst[1:3], len(lst), 2 in lst, 9 in lst)
        seen["iter"] = list(lst)
        lst[0] = 10
        lst[-1] = 30
        lst[1:3] = [11, 12, 13]
        del lst[1]
        lst.insert(0, -1)
        lst.append(40)
        lst.extend([50, 60])
        seen["pop"] = (lst.pop(), lst.pop(0))
        lst.remove(12)
        seen["index_count"] = (lst.index(13), lst.count(13))
        lst.reverse()
        lst += [70]
        del lst[::3]
        seen["reversed"] = list(reversed(lst))

    out = edit(tree, fn)
    plain = [0, 1, 2, 3]
    plain[0] = 10
    plain[-1] = 30
    plain[1:3] = [11, 12, 13]
    del plain[1]
    plain.insert(0, -1)
    plain.append(40)
    plain.extend([50, 60])
    pops = (plain.pop(), plain.pop(0))
    plain.remove(12)
    idx = (plain.index(13), plain.count(13))
    plain.reverse()
    plain += [70]
    del plain[::3]
    assert out == {"l": plain}
    assert seen["read"] == (0, 3, [1, 2], 4, True, False)
    assert seen["iter"] == [0, 1, 2, 3]
    assert seen["pop"] == pops and seen["index_count"] == idx
    assert seen["reversed"] == plain[::-1]
    assert tree == {"l": [0, 1, 2, 3]}


def test_list_sort_clear_add_and_errors():
    tree = [3, 1, 2]

    def fn(d):
        d.sort()
        assert d == [1, 2, 3]
        d.sort(key=lambda x: -x)
        assert d + [0] == [3, 2, 1, 0] and [9] + d == [9, 3, 2, 1]
        with pytest.raises(IndexError):
            d[5]
        with pytest.raises(IndexError):
            d[5] = 1
        with pytest.raises(TypeError):
            d["0"]
        d.clear()
        d.append(7)

    assert edit(tree, fn) == [7]


def test_list_elements_are_drafts_and_positions_shift():
    tree = {"layers": [{"w": 1}, {"w": 2}, {"w": 3}]}

    def fn(d):
        first = d["layers"][0]
        d["layers"].insert(0, {"w": 0})
        first["w"] = 100  # the draft follows its element, not its old position
        for layer in d["layers"]:
            layer["w"] += 1

    out = edit(tree, fn)
    assert out == {"layers": [{"w": 1}, {"w": 101}, {"w": 3}, {"w": 4}]}
    assert tree == {"layers": [{"w": 1}, {"w": 2}, {"w": 3}]}


def test_list_unchanged_after_edits_returns_input():
    tree = {"l": [{"a": 1}, 2]}

    def fn(d):
        d["l"].append(3)
        d["l"].pop()

    assert edit(tree, fn)["l"] is tree["l"]


# ---------------------------------------------------------------------------------
# Tuples


def test_tuple_item_assignment_rebuilds_tuple():
    tree = {"t": (1, {"x": 2}, 3)}

    def fn(d):
        t = d["t"]
        t[0] = 10
        t[-1] += 1
        t[1]["x"] = 20
        assert len(t) == 3 and 10 in t and t.index(10) == 0 and t.count(4) == 1
        assert t[0:2] == (10, {"x": 20}) and list(t)[0] == 10

    out = edit(tree, fn)
    assert out == {"t": (10, {"x": 20}, 4)} and type(out["t"]) is tuple


def test_tuple_concatenation_and_errors():
    tree = {"t": (1, 2)}

    def fn(d):
        with pytest.raises(vs.StructureError, match="a tuple has a fixed length"):
            del d["t"][0]
        with pytest.raises(TypeError, match="fixed length"):
            d["t"][0:1] = (5,)
        with pytest.raises(IndexError):
            d["t"][2] = 0
        d["t"] += (3,)
        d["u"] = (0,) + d["t"]

    out = edit(tree, fn)
    assert out == {"t": (1, 2, 3), "u": (0, 1, 2, 3)}
    assert type(out["t"]) is tuple


# ---------------------------------------------------------------------------------
# Records: NamedTuples and dataclasses


class Stats(NamedTuple):
    count: int
    mean: Any

    @property
    def total(self):
        return self.count * self.mean

    def bump(self):
        self.count += 1
        return self.total


@flax.struct.dataclass
class Metric:
    count: int
    total: Any
    name: str = flax.struct.field(pytree_node=False, default="metric")

    @property
    def mean(self):
        return self.total / self.count

    def update(self, x):
        self.count += 1
        self.total = self.total + x
        return self.mean

    def update_twice(self, x):
        self.update(x)
        return self.update(x)


@chex.dataclass(frozen=True)
class ChexMetric:
    count: Any
    total: Any

    def update(self, x):
        self.count += 1
        self.total += x
        return self.total


RECORDS = [
    Stats(1, 2.0),
    Metric(1, 2.0),
    ChexMetric(count=1, total=2.0),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_record_attribute_assignment(record):
    def fn(d):
        d.count += 1
        d["count"] *= 10

    out = edit(record, fn)
    assert type(out) is type(record) and out.count == 20
    assert record.count == 1


def test_namedtuple_index_access_and_iteration():
    out = edit(Stats(1, 2.0), lambda d: d.__setitem__(0, d[0] + d[-1]))
    assert out == Stats(3.0, 2.0) and type(out) is Stats
    with vs.unfrozen(Stats(1, {"a": 2})) as d:
        first, second = d
        assert first == 1 and second == {"a": 2} and len(d) == 2 and bool(d)
        assert d._asdict() == {"count": 1, "mean": {"a": 2}}
        second["a"] = 3
    assert vs.result(d) == Stats(1, {"a": 3})


def test_dataclass_static_fields_can_be_assigned():
    out = edit(StructBox(1, 2), lambda d: setattr(d, "label", "new"))
    assert out.label == "new" and out.value == 1 and type(out) is StructBox
    out = edit(RegBox(1, 2), lambda d: d.__setitem__("tag", "t2"))
    assert out.tag == "t2"
    with vs.unfrozen(StructBox(1, 2)) as d:
        assert d.label == "box" and d["label"] == "box"
    assert vs.result(d) is d._vs_base


def test_vs_dataclass_drafts():
    @vs.dataclass
    class State:
        step: int
        params: dict
        apply_fn: Any = vs.field(static=True, default=None)

    state = State(step=0, params={"w": jnp.ones(2)})

    def fn(d):
        d.step += 1
        d.params["w"] = d.params["w"] * 2
        d.apply_fn = len

    out = edit(state, fn)
    assert type(out) is State and out.step == 1 and out.apply_fn is len
    np.testing.assert_array_equal(out.params["w"], [2.0, 2.0])
    assert state.step == 0 and state.apply_fn is None
    out = jax.jit(lambda s: edit(s, lambda d: setattr(d, "step", d.step + 5)))(state)
    assert int(out.step) == 5


def test_record_methods_and_properties_run_on_the_draft():
    with vs.unfrozen(Metric(2, 6.0)) as d:
        assert d.mean == 3.0
        assert d.update(4.0) == 10.0 / 3
        assert "update" in dir(d) and "count" in dir(d)
    assert vs.result(d) == Metric(3, 10.0)
    with vs.unfrozen(Stats(2, 3.0)) as d:
        assert d.total == 6.0 and d.bump() == 9.0
    assert vs.result(d) == Stats(3, 3.0)


def test_record_field_errors():
    with vs.unfrozen(Metric(1, 2.0)) as d:
        with pytest.raises(
            vs.FieldError, match=r"no field 'cont'.*Did you mean 'count'"
        ):
            d.cont
        with pytest.raises(AttributeError, match="Fields: 'count', 'total', 'name'"):
            d.cont = 1
        assert not hasattr(d, "missing") and getattr(d, "missing", 5) == 5
        with pytest.raises(vs.StructureError, match="cannot delete field 'count'"):
            del d.count
        with pytest.raises(vs.PathError, match="no key 'nope'"):
            d["nope"]
        with pytest.raises(TypeError, match="a draft of a Metric is not iterable"):
            iter(d)
    with vs.unfrozen(ChexMetric(count=1, total=2)) as d:
        assert list(d) == ["count", "total"]  # chex dataclasses are mappings


def test_record_instance_attribute_fallback():
    @flax.struct.dataclass
    class WithExtra:
        x: int

        def __post_init__(self):
            object.__setattr__(self, "cached", 42)

    with vs.unfrozen(WithExtra(1)) as d:
        assert d.cached == 42


def test_record_generic_registered_node():
    class Box:
        def __init__(self, items):
            self.items = items

    jax.tree_util.register_pytree_with_keys(
        Box,
        lambda b: (
            [(jax.tree_util.DictKey(k), v) for k, v in b.items.items()],
            tuple(b.items),
        ),
        lambda keys, vals: Box(dict(zip(keys, vals))),
    )
    box = Box({"a": 1, "b": {"c": 2}})
    out = edit(box, lambda d: d["b"].__setitem__("c", 3))
    assert type(out) is Box and out.items == {"a": 1, "b": {"c": 3}}
    with vs.unfrozen(box) as d:
        with pytest.raises(vs.PathError, match="no key 'z' in this draft of a Box"):
            d["z"] = 1


# ---------------------------------------------------------------------------------
# A TrainState trains on after an edit


def test_train_state_edited_through_a_draft_trains_on():
    def apply_fn(params, x):
        return x @ params["dense"]["kernel"] + params["dense"]["bias"]

    params = {"dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)}}
    state = train_state.TrainState.create(
        apply_fn=apply_fn, params=params, tx=optax.adam(0.1)
    )
    with vs.unfrozen(state) as d:
        d.params["dense"]["kernel"] /= 2
        d.step = 10
        d.tx = optax.sgd(0.05)
        d.opt_state = d.tx.init(d.params)
    new = vs.result(d)
    assert type(new) is train_state.TrainState and new.step == 10
    assert new.params["dense"]["bias"] is state.params["dense"]["bias"]
    assert state.step == 0 and float(state.params["dense"]["kernel"][0, 0]) == 1.0

    x, y = jnp.ones((4, 3)), jnp.ones((4, 2))

    @jax.jit
    def train_step(s):
        loss = lambda p: jnp.mean((s.apply_fn(p, x) - y) ** 2)  # noqa: E731
        grads = jax.grad(loss)(s.params)
        return s.apply_gradients(grads=grads), loss(s.params)

    losses = []
    for _ in range(5):
        new, loss = train_step(new)
        losses.append(float(loss))
    assert int(new.step) == 15 and losses[-1] < losses[0]
    sgd_state = optax.sgd(0.05).init(new.params)
    assert jax.tree.structure(new.opt_state) == jax.tree.structure(sgd_state)


def test_train_state_shares_untouched_parts():
    state = train_state.TrainState.create(
        apply_fn=None,
        params={"a": {"w": jnp.ones(2)}, "b": {"w": jnp.ones(2)}},
        tx=optax.adam(1e-3),
    )
    new = edit(state, lambda d: d.params["a"].__setitem__("w", jnp.zeros(2)))
    assert new.opt_state is state.opt_state and new.tx is state.tx
    assert new.params["b"] is state.params["b"]


# ---------------------------------------------------------------------------------
# Copy on write and sharing


def test_copy_on_write_shares_untouched_subtrees():
    tree = {
        f"block_{i}": {f"mod_{j}": {"w": np.float32(j)} for j in range(5)}
        for i in range(5)
    }
    out = edit(tree, lambda d: d["block_2"]["mod_3"].__setitem__("w", 0.0))
    assert out["block_2"]["mod_3"] == {"w": 0.0}
    for i in range(5):
        if i != 2:
            assert out[f"block_{i}"] is tree[f"block_{i}"]
    for j in range(5):
        if j != 3:
            assert out["block_2"][f"mod_{j}"] is tree["block_2"][f"mod_{j}"]


def test_drafts_are_made_only_for_what_is_touched():
    tree = {f"b{i}": {f"m{j}": {"w": 1} for j in range(20)} for i in range(20)}
    with vs.unfrozen(tree) as d:
        d["b3"]["m4"]["w"] = 2
        # Only the root, b3 and m4 were opened, and a value write copied nothing.
        assert d._vs_touched.keys() == {"b3"} and d["b3"]._vs_touched.keys() == {"m4"}
        assert d._vs_items is None and d["b3"]._vs_items is None


def test_frozendict_sharing_is_of_leaves():
    w = np.ones(2)
    tree = FrozenDict({"a": {"w": w, "b": {"c": 1}}, "z": {"w": 2}})
    out = edit(tree, lambda d: d["a"].__setitem__("x", 1))
    assert type(out) is FrozenDict and out["a"]["w"] is w
    assert (
        out._dict["z"] is tree._dict["z"]
        and out._dict["a"]["b"] is tree._dict["a"]["b"]
    )


def test_moved_value_is_one_finished_object():
    tree = {"a": {"w": 1}, "b": {"w": 2}}

    def fn(d):
        d["c"] = d["a"]
        d["a"]["w"] = 10  # seen at both places, as for plain dicts

    out = edit(tree, fn)
    assert out["a"] is out["c"] and out["a"] == {"w": 10}
    out = edit(tree, lambda d: d.__setitem__("c", d["a"]))
    assert out["c"] is tree["a"] and out["a"] is tree["a"]
    out = edit(tree, lambda d: d.update(a=d["b"], b=d["a"]))  # a swap
    assert out["a"] is tree["b"] and out["b"] is tree["a"]


@pytest.mark.parametrize("make", MAPS)
def test_moved_value_inside_frozendict(make):
    tree = make({"p": {"a": {"w": 1}}, "q": 0})

    def fn(d):
        d["q"] = d["p"]["a"]
        d["p"]["a"]["w"] = 5

    out = edit(tree, fn)
    assert to_plain(out) == {"p": {"a": {"w": 5}}, "q": {"w": 5}}
    assert type(out["q"]) is (FrozenDict if make is FrozenDict else dict)


def test_places_are_edited_independently():
    # Trees are values: a dict held at two places of the input is two values.
    shared = {"w": 1}
    tree = {"enc": shared, "dec": shared}
    out = edit(tree, lambda d: (d["dec"]["w"], d["enc"].__setitem__("w", 2)))
    assert out == {"enc": {"w": 2}, "dec": {"w": 1}} and out["dec"] is shared
    assert shared == {"w": 1}


def test_drafts_inside_assigned_containers_are_finished():
    tree = {"a": {"w": 1}, "b": [1]}

    def fn(d):
        d["pair"] = [d["a"], {"inner": d["b"]}]
        d["a"]["w"] = 2
        d["b"].append(2)

    out = edit(tree, fn)
    assert out["pair"][0] is out["a"] and out["pair"][1]["inner"] is out["b"]
    assert out == {"a": {"w": 2}, "b": [1, 2], "pair": [{"w": 2}, {"inner": [1, 2]}]}


def test_assigned_plain_dicts_are_edited_as_drafts():
    mine = {"x": {"y": 1}}
    out = edit(
        {"a": 1}, lambda d: (d.__setitem__("n", mine), d["n"]["x"].__setitem__("y", 2))
    )
    assert out == {"a": 1, "n": {"x": {"y": 2}}} and mine == {"x": {"y": 1}}
    replaced = edit(FrozenDict({"a": 1}), lambda d: d.__setitem__("a", mine))
    added = edit(FrozenDict({"a": 1}), lambda d: d.__setitem__("n", mine))
    assert type(added["n"]["x"]) is FrozenDict and added["n"]["x"] == {"y": 1}
    mine["x"]["y"] = 99  # a FrozenDict holds its own copies, as FrozenDict() does
    assert replaced["a"]["x"]["y"] == 1 and added["n"]["x"]["y"] == 1


# ---------------------------------------------------------------------------------
# NumPy leaves


def test_numpy_in_place_operations_never_reach_the_input():
    w = np.zeros(3)
    tree = {"w": w, "layer": {"b": np.ones(2)}}

    def fn(d):
        d["w"] += 1  # in-place NumPy __iadd__ on the draft's copy
        d["layer"]["b"][0] = 5.0
        np.multiply(d["w"], 2, out=d["w"])

    out = edit(tree, fn)
    np.testing.assert_array_equal(w, [0, 0, 0])
    np.testing.assert_array_equal(tree["layer"]["b"], [1, 1])
    np.testing.assert_array_equal(out["w"], [2, 2, 2])
    np.testing.assert_array_equal(out["layer"]["b"], [5, 1])


def test_numpy_leaves_read_only_come_back_as_the_originals():
    nan = np.array([np.nan, 1.0])
    tree = {"a": np.ones(2), "b": nan, "c": {"d": np.zeros(2)}}
    out = edit(tree, lambda d: (d["a"], d["b"] + 0, d["c"]["d"].sum()))
    assert out is tree
    readonly = np.ones(2)
    readonly.flags.writeable = False
    with vs.unfrozen({"r": readonly}) as d:
        assert d["r"] is readonly


def test_numpy_bitwise_changes_are_kept():
    tree = {"z": np.zeros(2)}
    out = edit(tree, lambda d: d["z"].__imul__(-1))  # -0.0 == 0.0, but bits differ
    assert (
        out is not tree
        and np.signbit(out["z"]).all()
        and not np.signbit(tree["z"]).any()
    )


def test_numpy_arrays_are_copied_per_place():
    w = np.zeros(2)
    tree = {"a": w, "b": w, "obj": np.array([None, 1], dtype=object)}

    def fn(d):
        d["a"] += 1
        d["b"]
        d["obj"]
        d["c"] = d["a"]  # a moved array is the same array at both places
        d["c"] += 1

    out = edit(tree, fn)
    assert out["b"] is w and w.sum() == 0 and out["obj"] is tree["obj"]
    assert out["c"] is out["a"]
    np.testing.assert_array_equal(out["a"], [2, 2])


def test_numpy_snapshots_are_independent():
    tree = {"w": np.zeros(2)}
    with vs.unfrozen(tree) as d:
        d["w"] += 1
        snap = vs.current(d)
        d["w"] += 1
    np.testing.assert_array_equal(snap["w"], [1, 1])
    np.testing.assert_array_equal(vs.result(d)["w"], [2, 2])


# ---------------------------------------------------------------------------------
# Exceptions, sealing and guards


def test_exception_in_block_propagates_and_kills_the_draft():
    tree = {"a": {"w": np.zeros(2)}}
    with pytest.raises(ZeroDivisionError):
        with vs.unfrozen(tree) as d:
            d["a"]["w"] += 1
            inner = d["a"]
            1 / 0
    np.testing.assert_array_equal(tree["a"]["w"], [0, 0])
    with pytest.raises(
        vs.DraftError, match="raised an exception, so its draft was discarded"
    ):
        vs.result(d)
    with pytest.raises(RuntimeError, match="cannot set \\['w'\\] on this draft"):
        inner["w"] = 1
    with pytest.raises(vs.DraftError, match="take a snapshot"):
        vs.current(d)
    assert repr(d) == "<discarded draft of a dict>"


def test_sealed_draft_refuses_every_use():
    with vs.unfrozen({"a": {"w": 1}, "l": [1], "t": (1,), "r": Stats(1, 2)}) as d:
        a, lst, t, r = d["a"], d["l"], d["t"], d["r"]
    sealed = "it was sealed when its `with vs.unfrozen\\(...\\)` block ended"
    attempts = [
        lambda: d.__setitem__("x", 1),
        lambda: d["a"],
        lambda: a.__setitem__("w", 2),
        lambda: a.__delitem__("w"),
        lambda: len(a),
        lambda: iter(a),
        lambda: "w" in a,
        lambda: a.clear(),
        lambda: a == {},
        lambda: copy.copy(a),
        lambda: lst.append(2),
        lambda: lst[0],
        lambda: lst.__delitem__(0),
        lambda: lst.insert(0, 1),
        lambda: len(lst),
        lambda: iter(lst),
        lambda: lst.clear(),
        lambda: t[0],
        lambda: t.__setitem__(0, 1),
        lambda: len(t),
        lambda: iter(t),
        lambda: r.count,
        lambda: setattr(r, "count", 2),
        lambda: r["count"],
        lambda: len(r),
        lambda: bool(r),
        lambda: iter(r),
        lambda: jax.tree_util.tree_leaves(a),
    ]
    for attempt in attempts:
        with pytest.raises(vs.DraftError, match=sealed):
            attempt()
    assert vs.result(a) == {"w": 1} and vs.current(a) == {"w": 1}
    assert repr(a) == "<sealed draft of a dict: vs.result(draft) is the tree>"


def test_leaked_draft_cannot_mutate_after_the_block():
    store = []
    out = vs.produce({"a": {"w": 1}}, lambda d: store.append(d["a"]))
    with pytest.raises(vs.DraftError, match="If a draft was stored somewhere"):
        store[0]["w"] = 5
    assert out == {"a": {"w": 1}}
    assert vs.result(store[0]) is out["a"]


def test_result_guards():
    with vs.unfrozen({"a": 1}) as d:
        with pytest.raises(vs.DraftError, match="called inside the `with vs.unfrozen"):
            vs.result(d)
    with pytest.raises(
        vs.StructureError, match="vs.result expects a draft.*got a dict"
    ):
        vs.result({"a": 1})


def test_block_cannot_be_entered_twice():
    block = vs.unfrozen({"a": 1})
    with block:
        pass
    with pytest.raises(vs.DraftError, match="entered already"):
        with block:
            pass


def test_leaf_root_is_refused():
    with pytest.raises(
        vs.StructureError, match="needs a container to edit.*got a leaf of type float"
    ):
        with vs.unfrozen(1.0):
            pass
    with pytest.raises(vs.StructureError, match="vs.produce"):
        vs.produce(np.ones(2), lambda d: None)
    with pytest.raises(vs.StructureError, match="vs.mutable"):
        vs.mutable(lambda x: x)(None)


def test_cycles_are_refused_at_the_end_of_the_block():
    tree = {"a": {"w": 1}}
    with pytest.raises(vs.DraftError, match="stored inside itself"):
        with vs.unfrozen(tree) as d:
            d["a"]["self"] = d
    assert tree == {"a": {"w": 1}}
    with pytest.raises(vs.DraftError, match="raised an exception"):
        vs.result(d)
    with pytest.raises(
        vs.DraftError, match="a draft of a list was stored inside itself"
    ):
        with vs.unfrozen([[1]]) as d:
            d[0].append(d[0])
    with pytest.raises(vs.DraftError, match="stored inside itself"):
        with vs.unfrozen({"a": {"b": {}}}) as d:
            d["a"]["b"]["c"] = d["a"]
            d["a"]["b"]["c"]["x"] = 1
    with vs.unfrozen({"a": {"b": 1}}) as d:
        d["a"]["x"] = 1
        d["a"]["self"] = d["a"]
        with pytest.raises(vs.DraftError, match="stored inside itself"):
            vs.current(d)
        del d["a"]["self"]


def test_drafts_of_other_blocks_are_refused():
    with vs.unfrozen({"a": {"w": 1}}) as outer:
        with vs.unfrozen({"b": 1}) as inner:
            with pytest.raises(vs.DraftError, match="made by another block"):
                inner["b"] = outer["a"]
            with pytest.raises(vs.DraftError, match="made by another block"):
                inner.update(b=outer)
            inner["c"] = vs.current(outer["a"])
        assert vs.result(inner) == {"b": 1, "c": {"w": 1}}
        with pytest.raises(vs.DraftError, match="made by another block"):
            with vs.unfrozen({"b": [1]}) as inner2:
                inner2["b"].append([outer["a"]])


def test_drafts_of_other_blocks_are_refused_by_every_kind():
    with vs.unfrozen({"a": {"w": 1}}) as outer:
        with vs.unfrozen({"l": [1], "t": (1,), "r": Stats(1, 2)}) as inner:
            for store in (
                lambda: inner["l"].append(outer["a"]),
                lambda: inner["l"].__setitem__(slice(0, 1), [outer["a"]]),
                lambda: inner["l"].__setitem__(0, outer["a"]),
                lambda: inner["t"].__setitem__(0, outer["a"]),
                lambda: setattr(inner["r"], "count", outer["a"]),
                lambda: inner["r"].__setitem__("count", outer["a"]),
            ):
                with pytest.raises(vs.DraftError, match="made by another block"):
                    store()


def test_record_drafts_hide_special_names():
    with vs.unfrozen(Metric(1, 2.0)) as d:
        assert not hasattr(d, "__array__") and not hasattr(d, "__jax_array__")
        with pytest.raises(AttributeError, match="__array__"):
            d.__array__  # noqa: B018


def test_current_and_original_under_jit():
    @jax.jit
    def f(tree):
        with vs.unfrozen(tree) as d:
            d["a"]["w"] *= 2
            snap = vs.current(d)
            d["a"]["w"] += 1
            before = vs.original(d)["a"]["w"]
        return snap, before, vs.result(d)

    snap, before, out = f({"a": {"w": jnp.ones(2)}})
    np.testing.assert_array_equal(snap["a"]["w"], [2, 2])
    np.testing.assert_array_equal(before, [1, 1])
    np.testing.assert_array_equal(out["a"]["w"], [3, 3])


def test_drafting_a_draft_drafts_its_snapshot():
    with vs.unfrozen({"a": {"w": 1}}) as outer:
        outer["a"]["w"] = 2
        with vs.unfrozen(outer["a"]) as inner:
            inner["w"] = 3
        assert vs.result(inner) == {"w": 3} and outer["a"]["w"] == 2
    assert vs.result(outer) == {"a": {"w": 2}}


# ---------------------------------------------------------------------------------
# produce


def test_produce_modes():
    tree = {"a": {"w": 1}, "b": 2}
    assert vs.produce(tree, lambda d: None) is tree
    assert vs.produce(tree, lambda d: d) is tree
    out = vs.produce(tree, lambda d: d["a"].__setitem__("w", 5))
    assert out == {"a": {"w": 5}, "b": 2} and out is not tree
    assert vs.produce(tree, lambda d: {"new": d["a"]})["new"] is tree["a"]
    assert vs.produce(tree, lambda d: d["b"] + 1) == 3
    assert vs.produce(FrozenDict(tree), lambda d: d["a"]) == FrozenDict({"w": 1})
    assert type(vs.produce(FrozenDict(tree), lambda d: d["a"])) is FrozenDict


def test_produce_refuses_both_modifying_and_returning():
    tree = {"a": 1}

    def recipe(d):
        d["a"] = 2
        return {"a": 3}

    with pytest.raises(
        vs.DraftError, match="both changed its draft and returned a new value"
    ):
        vs.produce(tree, recipe)
    assert tree == {"a": 1}


def test_produce_exception_propagates():
    kept = []

    def recipe(d):
        kept.append(d)
        d["a"] = 2
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        vs.produce({"a": 1}, recipe)
    with pytest.raises(vs.DraftError, match="its `vs.produce\\(...\\)` call raised"):
        kept[0]["a"] = 3


def test_produce_under_jit_does_not_retrace():
    traces = []

    @jax.jit
    def step(tree):
        traces.append(1)
        return vs.produce(tree, lambda d: d["a"].__setitem__("w", d["a"]["w"] * 2))

    tree = {"a": {"w": jnp.ones(2)}, "b": jnp.zeros(1)}
    out = step(tree)
    out = step(out)
    np.testing.assert_array_equal(out["a"]["w"], [4.0, 4.0])
    assert len(traces) == 1


# ---------------------------------------------------------------------------------
# mutable


def test_mutable_bound_method_of_flax_struct():
    metric = Metric(0, 0.0)
    mean, new = vs.mutable(metric.update)(4.0)
    assert mean == 4.0 and new == Metric(1, 4.0) and metric == Metric(0, 0.0)
    mean, new = vs.mutable(new.update_twice)(x=1.0)
    assert new.count == 3 and mean == 2.0
    assert vs.mutable(Metric.update)(Metric(1, 1.0), 1.0) == (1.0, Metric(2, 2.0))


def test_mutable_other_object_kinds():
    out, new = vs.mutable(ChexMetric(count=0, total=1.0).update)(2.0)
    assert out == 3.0 and new == ChexMetric(count=1, total=3.0)
    out, new = vs.mutable(Stats(1, 2.0).bump)()
    assert out == 4.0 and new == Stats(2, 2.0)

    @vs.dataclass
    class Counter:
        n: int
        label: str = vs.field(static=True, default="c")

        def incr(self, k=1):
            self.n += k
            self.label = "changed"
            return self.n

    counter = Counter(n=1)
    out, new = vs.mutable(counter.incr)(k=5)
    assert out == 6 and new.n == 6 and new.label == "changed" and counter.n == 1


def test_mutable_builtin_methods_and_functions():
    params = {"a": 1}
    out, new = vs.mutable(params.update)({"b": 2})
    assert out is None and new == {"a": 1, "b": 2} and params == {"a": 1}
    items = [1, 2]
    out, new = vs.mutable(items.pop)()
    assert out == 2 and new == [1] and items == [1, 2]

    def scale(tree, k):
        tree["a"] *= k
        return tree

    out, new = vs.mutable(scale)(params, 10)
    assert new == {"a": 10} and out is new


def test_mutable_under_jit():
    @jax.jit
    def step(metric, x):
        return vs.mutable(metric.update)(x)

    mean, new = step(Metric(jnp.int32(1), jnp.float32(2.0)), jnp.float32(4.0))
    assert float(mean) == 3.0 and int(new.count) == 2


def test_mutable_errors():
    metric = Metric(0, 0.0)

    def bad(self):
        self.count += 1
        raise KeyError("x")

    with pytest.raises(KeyError, match="x"):
        vs.mutable(bad)(metric)
    assert metric.count == 0
    with pytest.raises(vs.StructureError, match="expects a bound method"):
        vs.mutable(3)
    with pytest.raises(vs.FieldError, match="no field 'cache'"):
        vs.mutable(lambda m: setattr(m, "cache", 1))(metric)


# ---------------------------------------------------------------------------------
# current, original, pytree behaviour


def test_current_and_original():
    tree = {"a": {"w": 1}, "l": [1]}
    with vs.unfrozen(tree) as d:
        d["a"]["w"] = 2
        snap = vs.current(d)
        d["l"].append(2)
        assert snap == {"a": {"w": 2}, "l": [1]}
        assert vs.current(d["a"]["w"]) == 2  # not a draft: returned as it is
        assert vs.original(d) is tree and vs.original(d["a"]) is tree["a"]
        with pytest.raises(
            vs.StructureError, match="vs.original expects a draft.*got a int"
        ):
            vs.original(d["a"]["w"])
    assert vs.current(d) == {"a": {"w": 2}, "l": [1, 2]}
    with vs.unfrozen(FrozenDict({"p": {"w": 1}})) as d:
        assert type(vs.original(d["p"])) is FrozenDict


def test_import_does_not_start_jax():
    # Users configure JAX after `import variables`; that must still be possible.
    code = (
        "import variables, jax; jax.config.update('jax_num_cpu_devices', 3); "
        "print(len(jax.devices()))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "3", run.stderr


def test_drafts_are_pytrees():
    tree = {"p": {"w": 1.0, "b": 2.0}, "t": (1.0,), "s": Stats(1, 2.0)}
    with vs.unfrozen(tree) as d:
        d["p"] = jax.tree.map(lambda x: x * 2, d["p"])
        assert type(d["p"]) is _draft_nodes.MappingDraft
        assert jax.tree.leaves(d) == [4.0, 2.0, 1, 2.0, 1.0]
        assert jax.tree.map(lambda x: x, d["s"]) == Stats(1, 2.0)
        assert jax.tree.map(lambda x: x, d["t"]) == (1.0,)
        paths = list(vs.flatten(d))
        assert paths == ["p/b", "p/w", "s/count", "s/mean", "t/0"]
        total = jax.jit(lambda t: t["p"]["w"] + t["s"].mean)(d)
        assert float(total) == 4.0
    assert vs.result(d)["p"] == {"b": 4.0, "w": 2.0}


def test_draft_copy_and_repr():
    with vs.unfrozen({"a": [1]}) as d:
        assert copy.copy(d) == {"a": [1]} and copy.deepcopy(d["a"]) == [1]
        assert repr(d) == "draft({'a': [1]})"
        with pytest.raises(TypeError, match="unhashable"):
            hash(d)
    with pytest.raises(vs.DraftError, match="cannot copy this draft"):
        copy.copy(d)


# ---------------------------------------------------------------------------------
# Properties: random edits through a draft == the same edits on a plain deep copy


def trees(leaf_kind):
    """Trees of dicts, lists and tuples (a container at the root) over small ints,
    and NumPy arrays when ``leaf_kind`` is "numpy"."""
    leaves = st.integers(-3, 3)
    if leaf_kind == "numpy":
        leaves = st.one_of(leaves, st.integers(-3, 3).map(lambda i: np.full(2, i)))
    keys = st.sampled_from(["a", "b", "c", "d"])

    def nodes(inner):
        return st.one_of(
            st.dictionaries(keys, inner, min_size=1, max_size=4),
            st.lists(inner, min_size=1, max_size=3),
            st.lists(inner, min_size=1, max_size=3).map(tuple),
        )

    return nodes(st.recursive(leaves, nodes, max_leaves=8))


def to_model(x):
    """A plain mutable deep copy: tuples become lists, FrozenDicts dicts."""
    if isinstance(x, (dict, FrozenDict)):
        return {k: to_model(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_model(v) for v in x]
    return copy.deepcopy(x)


def same(a, b):
    if isinstance(a, (dict, FrozenDict)):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return type(np.asarray(a)) is type(np.asarray(b)) and np.array_equal(a, b)


def apply(root, op):
    """Applies one edit to a draft or to a plain model alike; returns its value."""
    path, name, args = op
    node = root
    for k in path:
        node = node[k]
    if name == "set":
        node[args[0]] = args[1]
    elif name == "newdict":
        node[args[0]] = {"z": args[1]}
        node[args[0]]["y"] = args[1]
    elif name == "move":
        node[args[0]] = node[args[1]]
    elif name == "del":
        del node[args[0]]
    elif name == "iadd":
        node[args[0]] += 1
    elif name == "update":
        node.update({args[0]: args[1]}, f=args[1])
    else:  # pop, setdefault, append, insert, reverse
        return getattr(node, name)(*args)
    return None


def choose(data, draft, model):
    """A random edit, valid for the current state (kinds are read off the draft)."""
    node, mnode, path = draft, model, ()
    while data.draw(st.booleans()):
        keys = list(mnode) if isinstance(mnode, dict) else list(range(len(mnode)))
        keys = [k for k in keys if isinstance(mnode[k], (dict, list))]
        if not keys:
            break
        k = data.draw(st.sampled_from(keys))
        node, mnode, path = node[k], mnode[k], path + (k,)
    leaf = data.draw(st.integers(-5, 5))
    if isinstance(node, _draft_nodes.MappingDraft):
        k = data.draw(st.sampled_from(["a", "b", "c", "e"]))
        ops = [("set", (k, leaf)), ("newdict", (k, leaf)), ("setdefault", (k, leaf))]
        ops.append(("update", (k, leaf)))
        ops += [("move", (k, src)) for src in mnode]
        if k in mnode:
            ops += [("del", (k,)), ("pop", (k,))]
            if not isinstance(mnode[k], (dict, list)):
                ops.append(("iadd", (k,)))
    elif isinstance(node, _draft_nodes.ListDraft):
        n = len(mnode)
        i = data.draw(st.integers(-n, max(0, n - 1)))
        ops = [("append", (leaf,)), ("insert", (i, leaf)), ("reverse", ())]
        if mnode:
            i %= n
            ops += [("pop", ()), ("set", (i, leaf)), ("move", (0, n - 1))]
            if not isinstance(mnode[i], (dict, list)):
                ops.append(("iadd", (i,)))
    else:  # a tuple: item assignment only
        i = data.draw(st.integers(0, len(mnode) - 1))
        ops = [("set", (i, leaf))]
        if not isinstance(mnode[i], (dict, list)):
            ops.append(("iadd", (i,)))
    name, args = data.draw(st.sampled_from(ops))
    return path, name, args


def random_edits(data, draft, model, n):
    """Applies ``n`` random edits to ``draft`` and ``model`` alike; returns them."""
    ops = []
    for _ in range(n):
        op = choose(data, draft, model)
        got = apply(draft, op)
        want = apply(model, op)
        assert same(vs.current(got), want) if want is not None else got is None
        ops.append(op)
    return ops


def written(op):
    """(container path, written key) for an edit; key None: a list was reshaped."""
    path, name, args = op
    if name in ("append", "insert", "reverse") or (name == "pop" and not args):
        return [(path, None)]
    if name == "move":
        return [(path, args[0]), (path, args[1])]
    if name == "update":
        return [(path, args[0]), (path, "f")]
    return [(path, args[0])]


def untouched(path, log):
    """True when no logged edit could have changed the subtree at ``path``."""
    for where, key in log:
        if where[: len(path)] == path and len(where) >= len(path):
            return False  # an edit inside (or at) the subtree
        spot = where if key is None else where + (key,)
        if path[: len(spot)] == spot:
            return False  # the subtree is under a written key or a reshaped list
    return True


def walk_pairs(node, path=()):
    """(path, value) for every node and leaf of an input tree."""
    yield path, node
    pairs = (
        vs._tree.items(node)
        if isinstance(node, (dict, list, tuple, FrozenDict))
        else None
    )
    for k, v in pairs or ():
        yield from walk_pairs(v, path + (k,))


def at_path(tree, path):
    for k in path:
        try:
            tree = tree[k]
        except (KeyError, IndexError, TypeError):
            return _draft_nodes._MISSING
    return tree


@pytest.mark.parametrize("frozen", [False, True], ids=["plain", "frozendict"])
@given(tree=trees("numpy"), data=st.data())
def test_random_edits_match_plain_python(frozen, tree, data):
    inp = vs.freeze(tree) if frozen else tree
    before = to_model(inp)
    nodes_before = list(walk_pairs(inp))
    model = to_model(inp)
    with vs.unfrozen(inp) as draft:
        ops = random_edits(data, draft, model, data.draw(st.integers(0, 6)))
    log = [entry for op in ops for entry in written(op)]
    out = vs.result(draft)
    assert same(out, model)
    assert same(inp, before)  # the input is unchanged
    assert type(out) is type(inp)
    if not ops:
        assert out is inp
    for path, value in nodes_before:  # untouched subtrees are shared
        if untouched(path, log) and (
            not frozen or not isinstance(value, (dict, FrozenDict))
        ):
            assert at_path(out, path) is value, path


@given(tree=trees("ints"), data=st.data())
def test_random_edits_under_jit_match_eager(tree, data):
    model = to_model(tree)
    with vs.unfrozen(tree) as draft:
        ops = random_edits(data, draft, model, data.draw(st.integers(1, 4)))
    eager = vs.result(draft)
    assert same(eager, model)

    def replay(d):
        for op in ops:
            apply(d, op)

    traced = jax.jit(lambda t: vs.produce(t, replay))(tree)
    assert same(jax.tree.map(np.asarray, traced), model)
    assert jax.tree.structure(traced) == jax.tree.structure(eager)


def test_model_draft_edits_collections_and_refuses_internal_slots():
    import flax.linen as nn
    import jax.numpy as jnp

    model = vs.Model.init(nn.Dense(2), 0, jnp.ones((1, 3)))
    with vs.unfrozen(model) as d:
        d.params["kernel"] *= 0
        d["params"]["bias"] = jnp.ones(2)
        with pytest.raises(vs.FieldError, match=r"cannot read \.variables through a draft.*'params'"):
            d.variables
    new = vs.result(d)
    assert type(new) is vs.Model
    assert float(new.params["kernel"].sum()) == 0.0 and float(new.params["bias"].sum()) == 2.0
    assert float(model.params["bias"].sum()) == 0.0
