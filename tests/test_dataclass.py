"""Tests for vs.dataclass, vs.field and vs.PyTreeNode (variables/_dataclass.py)."""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import inspect
import keyword
import os
import pickle
from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization, struct
from hypothesis import given
from hypothesis import strategies as st
from jax.tree_util import GetAttrKey

import variables as vs
from variables import _dataclass

# --- module-level classes (pickle needs importable classes) -------------------------


@vs.dataclass
class TrainState:
    step: Any
    params: dict
    apply_fn: Callable | None = vs.field(static=True, default=None)


@vs.dataclass(slots=True)
class Slotted:
    a: Any
    b: Any = 0
    tag: str = vs.field(static=True, default="s")


@vs.dataclass(frozen=False)
class Mutable:
    a: Any
    b: Any = 0


class Node(vs.PyTreeNode):
    value: Any
    name: str = vs.field(static=True, default="node")


@vs.dataclass(mappable_dataclass=True)
class Record:
    a: Any
    b: Any = 1


POST_INIT_CALLS: list[Any] = []


@vs.dataclass
class Validated:
    """Validates in __post_init__ the way flax issues #1628 / #3105 describe."""

    x: Any
    total: Any = vs.field(init=False)

    def __post_init__(self):
        POST_INIT_CALLS.append(self)
        if self.x is None or not isinstance(self.x, (int, float, np.ndarray)):
            raise ValueError(f"x must be a concrete number, got {self.x!r}")
        self.total = self.x * 2  # a frozen instance may set fields during init


def leaf_paths(tree):
    return [path for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


# --- construction, defaults, equality, repr --------------------------------------


def test_dataclass_defaults_factory_kw_only_repr_eq():
    @vs.dataclass(kw_only=True)
    class Config:
        lr: float
        layers: list = vs.field(default_factory=lambda: [1, 2])
        secret: str = vs.field(default="x", repr=False, compare=False)

    a, b = Config(lr=0.1), Config(lr=0.1, secret="y")
    assert a.layers == [1, 2] and a.layers is not b.layers
    assert a == b and repr(a).endswith("Config(lr=0.1, layers=[1, 2])")
    with pytest.raises(TypeError, match="positional"):
        Config(0.1)  # kw_only


def test_dataclass_order_hash_and_unsafe_hash():
    @vs.dataclass(order=True)
    class P:
        x: int
        y: int

    assert P(1, 2) < P(1, 3) and hash(P(1, 2)) == hash(P(1, 2))

    @vs.dataclass(frozen=False, unsafe_hash=True)
    class Q:
        x: int

    assert hash(Q(1)) == hash(Q(1))


def test_equality_of_shared_arrays_and_static_fields():
    w = jnp.ones(3)
    assert TrainState(0, {"w": w}) == TrainState(0, {"w": w})
    assert TrainState(0, {}, apply_fn=len) != TrainState(0, {}, apply_fn=abs)


def test_dataclass_transform_names_field_and_frozen_default():
    spec = vs.dataclass.__dataclass_transform__
    assert vs.field in spec["field_specifiers"]
    assert spec["kwargs"]["frozen_default"] is True
    assert vs.field in vs.PyTreeNode.__dataclass_transform__["field_specifiers"]


# --- frozen -----------------------------------------------------------------------


def test_assignment_raises_frozen_instance_error_naming_the_ways_out():
    state = TrainState(0, {})
    with pytest.raises(vs.FrozenInstanceError, match="field 'step' of frozen") as e:
        state.step = 1
    assert isinstance(e.value, dataclasses.FrozenInstanceError)
    assert isinstance(e.value, vs.VariablesError)
    for way in ("obj.replace(step=...)", "vs.at(obj).step.set", "vs.unfrozen(obj)"):
        assert way in str(e.value)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field"):
        del state.params
    assert state.step == 0

    def assign_inside_jit(s):
        s.step = s.step + 1
        return s

    with pytest.raises(vs.FrozenInstanceError, match="field 'step' of frozen"):
        jax.jit(assign_inside_jit)(TrainState(jnp.int32(0), {}))


def test_assignment_to_unknown_attribute_suggests_the_field():
    with pytest.raises(vs.FrozenInstanceError, match="not a field .* mean 'step'"):
        TrainState(0, {}).stpe = 1
    with pytest.raises(vs.FrozenInstanceError, match="fields: a, b, tag"):
        Slotted(1).zzz = 1


def test_frozen_message_uses_index_form_for_at_operation_names():
    @vs.dataclass
    class Op:
        apply: Any

    with pytest.raises(vs.FrozenInstanceError, match=r"vs\.at\(obj\)\['apply'\]"):
        Op(1).apply = 2


def test_post_init_and_custom_init_may_assign_fields_then_instance_is_frozen():
    v = Validated(3)
    assert v.total == 6
    with pytest.raises(vs.FrozenInstanceError):
        v.total = 0

    @vs.dataclass
    class Base:
        a: int

    @vs.dataclass
    class Derived(Base):
        b: int = 0

        def __init__(self, a):
            super().__init__(a)  # the base __init__ runs nested in this one
            self.b = a + 1

    d = Derived(1)
    assert (d.a, d.b) == (1, 2)
    with pytest.raises(vs.FrozenInstanceError):
        d.a = 5


def test_instance_is_frozen_even_if_init_raised():
    escaped = []

    @vs.dataclass
    class Leaky:
        a: int

        def __post_init__(self):
            escaped.append(self)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        Leaky(1)
    with pytest.raises(vs.FrozenInstanceError):
        escaped[0].a = 2


def test_frozen_false_is_mutable_and_still_a_pytree():
    m = Mutable(1)
    m.a = 5
    assert jax.tree.leaves(m) == [5, 0]
    assert jax.jit(lambda m: jax.tree.map(lambda v: v + 1, m))(m).a == 6


# --- JAX registration ---------------------------------------------------------------


def test_leaves_declaration_order_getattr_keys_and_static_in_treedef():
    state = TrainState(jnp.int32(1), {"w": jnp.ones(2), "b": jnp.zeros(1)}, len)
    assert leaf_paths(state) == [
        (GetAttrKey("step"),),
        (GetAttrKey("params"), jax.tree_util.DictKey("b")),
        (GetAttrKey("params"), jax.tree_util.DictKey("w")),
    ]
    leaves, treedef = jax.tree.flatten(state)
    assert len(leaves) == 3 and len not in leaves
    assert treedef != jax.tree.structure(state.replace(apply_fn=abs))
    back = jax.tree.unflatten(treedef, leaves)
    assert type(back) is TrainState and back.apply_fn is len


def test_unflatten_never_runs_init_or_post_init_eagerly_and_under_jit():
    v = Validated(2.0)
    POST_INIT_CALLS.clear()
    as_none = jax.tree.map(lambda _: None, v)  # flax issue #3105: None leaves
    assert as_none.x is None and as_none.total is None
    doubled = jax.jit(lambda v: jax.tree.map(lambda t: t * 2, v))(v)  # tracers
    assert float(doubled.x) == 4.0 and float(doubled.total) == 8.0
    grads = jax.grad(lambda v: v.x * v.total)(v)  # flax issue #1628: grad
    assert float(grads.x) == 4.0 and float(grads.total) == 2.0
    batched = jax.vmap(lambda v: v)(Validated(np.arange(3.0)))
    assert batched.total.shape == (3,)
    assert len(POST_INIT_CALLS) == 1  # only the explicit Validated(...) call


def test_jit_static_field_is_compile_time_and_data_is_traced():
    traces = []

    @jax.jit
    def step(state):
        traces.append(1)
        return state.replace(step=state.step + 1)

    s = TrainState(jnp.int32(0), {"w": jnp.ones(2)}, apply_fn=len)
    s = step(step(s))
    assert int(s.step) == 2 and s.apply_fn is len and len(traces) == 1
    step(s.replace(apply_fn=abs))
    assert len(traces) == 2


def test_construct_and_read_inside_jit():
    @jax.jit
    def make(x):
        state = TrainState(x, {"w": x * 2}, apply_fn=None)
        return state, state.to_tuple()[1]["w"]

    state, w = make(jnp.float32(3.0))
    assert isinstance(state, TrainState) and float(w) == 6.0


def test_slots_and_pytreenode_flatten_unflatten():
    s = Slotted(1, 2)
    assert not hasattr(s, "__dict__")
    out = jax.jit(lambda s: jax.tree.map(lambda v: v * 10, s))(s)
    assert (int(out.a), int(out.b), out.tag) == (10, 20, "s")
    n = jax.tree.map(lambda v: v + 1, Node(1))
    assert n == Node(2) and leaf_paths(n) == [(GetAttrKey("value"),)]


def test_no_leaf_fields_and_only_static_fields():
    @vs.dataclass
    class Empty:
        pass

    @vs.dataclass
    class OnlyStatic:
        name: str = vs.field(static=True, default="n")

    for obj in (Empty(), OnlyStatic()):
        leaves, treedef = jax.tree.flatten(obj)
        assert leaves == [] and jax.tree.unflatten(treedef, []) == obj
        assert jax.jit(lambda o: o)(obj) == obj


# --- the same class under several field specifiers ----------------------------------


def test_pytree_node_false_and_foreign_field_metadata_mean_static():
    @vs.dataclass
    class Specs:
        a: Any
        b: Any = vs.field(pytree_node=False, default=1)
        c: Any = struct.field(pytree_node=False, default=2)
        d: Any = dataclasses.field(default=3, metadata={"static": True})
        e: Any = vs.field(pytree_node=True, default=4)

    assert jax.tree.leaves(Specs(0)) == [0, 4]
    assert jax.tree.structure(Specs(0)) != jax.tree.structure(Specs(0, c=9))


def test_field_metadata_is_understood_by_jax_and_flax():
    f = vs.field(static=True, metadata={"doc": "x"})
    assert f.metadata == {"doc": "x", "static": True, "pytree_node": False}
    assert vs.field(metadata={"static": True}).metadata["pytree_node"] is False

    @jax.tree_util.register_dataclass
    @dataclasses.dataclass
    class ViaJax:
        a: int
        b: int = vs.field(static=True, default=1)

    assert jax.tree.leaves(ViaJax(0)) == [0]


def test_field_contradictions_raise():
    with pytest.raises(vs.DataclassError, match="contradicts itself"):
        vs.field(static=True, pytree_node=True)
    with pytest.raises(vs.DataclassError, match="contradict each other"):
        vs.field(metadata={"static": True, "pytree_node": True})


# --- replace, to_tuple, from_tuple ---------------------------------------------------


def test_replace_and_dataclasses_replace_including_static_fields():
    s = TrainState(0, {"w": 1})
    for r in (
        s.replace(apply_fn=len, step=3),
        dataclasses.replace(s, apply_fn=len, step=3),
    ):
        assert (r.step, r.apply_fn, r.params) == (3, len, {"w": 1}) and s.step == 0
    assert Slotted(1).replace(tag="t").tag == "t"
    assert Record(a=1).replace(b=5) == Record(a=1, b=5)


def test_replace_unknown_field_suggests_the_right_one():
    with pytest.raises(vs.DataclassError, match="unknown field.*'stpe'.*mean 'step'"):
        TrainState(0, {}).replace(stpe=1)


def test_replace_under_jit_runs_post_init_like_dataclasses_replace():
    v = Validated(1.0)
    with pytest.raises(ValueError, match="concrete number"):
        jax.jit(lambda v: v.replace(x=v.x + 1))(v)  # replace builds via __init__


def test_to_tuple_from_tuple_in_declaration_order():
    s = TrainState(1, {"w": 2}, len)
    assert s.to_tuple() == (1, {"w": 2}, len)
    assert TrainState.from_tuple(s.to_tuple()) == s
    v = Validated(2)
    assert Validated.from_tuple(v.to_tuple()) == v  # init=False field re-derived
    assert jax.jit(lambda s: TrainState.from_tuple(s.to_tuple()))(s).apply_fn is len
    with pytest.raises(vs.DataclassError, match="expects 3 values, one per field"):
        TrainState.from_tuple((1, 2))


# --- mappable_dataclass -------------------------------------------------------------


def test_mappable_dataclass_is_a_read_only_mapping_over_fields():
    r = Record(a=1, b=2)
    assert isinstance(r, collections.abc.Mapping)
    assert not isinstance(TrainState(0, {}), collections.abc.Mapping)
    assert list(r) == ["a", "b"] and len(r) == 2 and r["b"] == 2
    assert dict(r) == {"a": 1, "b": 2} and list(r.items()) == [("a", 1), ("b", 2)]
    assert list(r.keys()) == ["a", "b"] and list(r.values()) == [1, 2]
    assert "a" in r and "z" not in r and r.get("z", 7) == 7
    with pytest.raises(vs.PathError, match="no field 'z'; its fields are a, b"):
        r["z"]


def test_mappable_dataclass_keeps_getattr_flattening():
    r = Record(a=jnp.ones(1), b=jnp.zeros(1))
    assert leaf_paths(r) == [(GetAttrKey("a"),), (GetAttrKey("b"),)]
    assert float(jax.jit(lambda r: r["a"] + r["b"])(r)[0]) == 1.0


def test_mappable_dataclass_constructor_is_dict_like_for_nest_libraries():
    assert Record({"a": 1}) == Record([("a", 1)]) == Record(a=1)

    def map_structure(fn, x):  # what dm-tree / tf.nest do with a Mapping
        if isinstance(x, collections.abc.Mapping):
            return type(x)((k, map_structure(fn, x[k])) for k in sorted(x))
        return fn(x)

    assert map_structure(lambda v: v * 10, Record(a=1, b=2)) == Record(a=10, b=20)
    with pytest.raises(vs.DataclassError, match="built like a dict"):
        Record(1, 2)
    with pytest.raises(vs.DataclassError, match="not a mapping or an iterable"):
        Record(5)
    with pytest.raises(vs.DataclassError, match="has no field.*'c'"):
        Record(a=1, c=2)


def test_mappable_dataclass_skips_init_false_values_like_chex():
    @vs.dataclass(mappable_dataclass=True)
    class Derived:
        a: int
        twice: int = vs.field(init=False)

        def __post_init__(self):
            self.twice = 2 * self.a

    d = Derived(a=2)
    assert dict(d) == {"a": 2, "twice": 4} and Derived(dict(d)) == d


def test_every_chex_option_is_accepted_with_chex_defaults():
    options = {
        name: p.default
        for name, p in inspect.signature(chex.dataclass).parameters.items()
        if name != "cls"
    }
    assert set(options) <= set(_dataclass._DEFAULTS)

    @vs.dataclass(**options)  # chex's defaults: mutable and mappable
    class Like:
        x: int

    obj = Like(x=1)
    obj.x = 2
    assert isinstance(obj, collections.abc.Mapping) and jax.tree.leaves(obj) == [2]


# --- flax.serialization -------------------------------------------------------------


def test_flax_serialization_round_trip_excludes_static_fields():
    s = TrainState(jnp.int32(3), {"w": jnp.arange(2.0)}, len)
    assert list(serialization.to_state_dict(s)) == ["step", "params"]
    target = TrainState(jnp.int32(0), {"w": jnp.zeros(2)}, len)
    back = serialization.from_bytes(target, serialization.to_bytes(s))
    assert type(back) is TrainState and back.apply_fn is len and int(back.step) == 3
    np.testing.assert_array_equal(back.params["w"], [0.0, 1.0])
    state, target = serialization.to_state_dict(Validated(1.0)), Validated(5.0)
    POST_INIT_CALLS.clear()
    restored = serialization.from_state_dict(target, {**state, "x": None})
    assert restored.x is None and POST_INIT_CALLS == []  # no __init__ on restore


def test_flax_serialization_nested_and_jit_output():
    nest = Node(TrainState(jnp.float32(1), {"w": jnp.ones(1)}))
    out = jax.jit(lambda n: jax.tree.map(lambda v: v + 1, n))(nest)
    data = serialization.to_bytes(out)
    back = serialization.from_bytes(nest, data)
    assert float(back.value.step) == 2.0 and serialization.to_bytes(back) == data


def test_flax_serialization_mismatched_keys_raise_load_error():
    s = TrainState(0, {})
    with pytest.raises(vs.LoadError, match=r"missing \['params'\], unexpected \['x'\]"):
        serialization.from_state_dict(s, {"step": 1, "x": 2})
    with pytest.raises(ValueError, match="expected keys: step, params"):
        serialization.from_state_dict(s, {})


# --- inheritance and PyTreeNode -----------------------------------------------------


def test_decorated_subclass_adds_fields_after_the_parents():
    @vs.dataclass
    class Child(TrainState):
        extra: Any = 0

    c = Child(1, {"w": 2}, extra=3)
    assert jax.tree.leaves(c) == [1, 2, 3] and leaf_paths(c)[-1] == (
        GetAttrKey("extra"),
    )
    assert jax.tree.map(lambda v: v, c) == c and type(jax.tree.map(int, c)) is Child
    assert isinstance(c.replace(extra=4), Child)
    out = jax.jit(lambda c: c.replace(extra=c.extra + c.step))(c)
    assert type(out) is Child and int(out.extra) == 4


def test_undecorated_subclass_is_refused_with_the_fix():
    class Plain(TrainState):
        pass

    with pytest.raises(vs.DataclassError, match="not decorated itself.*@vs.dataclass"):
        Plain(0, {})
    with pytest.raises(vs.DataclassError, match="not decorated itself"):
        Plain.from_tuple((0, {}, None))


def test_frozen_and_mutable_classes_do_not_mix_in_one_family():
    with pytest.raises(vs.DataclassError, match="is frozen but its base Mutable"):

        @vs.dataclass
        class FrozenChild(Mutable):
            c: int = 0

    with pytest.raises(vs.DataclassError, match="not frozen but its base TrainState"):

        @vs.dataclass(frozen=False)
        class MutableChild(TrainState):
            c: int = 0

    @vs.dataclass(frozen=False)
    class Fine(Mutable):
        c: int = 0

    assert jax.tree.leaves(Fine(1, 2, 3)) == [1, 2, 3]


def test_subclass_of_a_mappable_class_is_mappable():
    @vs.dataclass
    class MoreRecord(Record):
        c: Any = 2

    r = MoreRecord({"a": 0})
    assert dict(r) == {"a": 0, "b": 1, "c": 2}
    assert jax.tree.leaves(r) == [0, 1, 2]


def test_pytreenode_subclasses_are_decorated_with_class_keywords():
    class Config(vs.PyTreeNode, kw_only=True):
        a: Any
        b: Any = 2

    class More(Config):
        c: Any = 3

    m = More(a=1, c=4)
    assert jax.tree.leaves(m) == [1, 2, 4] and m.replace(a=0).a == 0
    assert vs.dataclass(More) is More and vs.dataclass(kw_only=False)(More) is More
    with pytest.raises(vs.DataclassError, match="already a vs.dataclass"):
        vs.dataclass(kw_only=True)(More)
    with pytest.raises(vs.FrozenInstanceError):
        m.c = 1


def test_pytreenode_keeps_a_user_defined_replace():
    class Custom(vs.PyTreeNode):
        a: Any

        def replace(self, **kw):
            return "custom"

    class Sub(Custom):
        b: Any = 0

    assert Custom(1).replace(a=2) == "custom" and Sub(1).replace() == "custom"


def test_pytreenode_itself_is_not_a_dataclass():
    with pytest.raises(vs.DataclassError, match="PyTreeNode is not decorated itself"):
        vs.PyTreeNode.from_tuple(())


def test_pytreenode_refuses_slots():
    with pytest.raises(vs.DataclassError, match="slots=True.*@vs.dataclass"):

        class Bad(vs.PyTreeNode, slots=True):
            a: int


# --- pickling and copying -------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        TrainState(jnp.int32(1), {"w": np.ones(2)}, apply_fn=len),
        Slotted(np.arange(3)),
        Node(Mutable(1)),
        Record(a=1),
        Validated(2),
    ],
    ids=lambda o: type(o).__name__,
)
def test_pickle_copy_deepcopy_keep_type_values_and_frozenness(obj):
    for twin in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
        assert type(twin) is type(obj)
        assert jax.tree.structure(twin) == jax.tree.structure(obj)
        for x, y in zip(jax.tree.leaves(twin), jax.tree.leaves(obj)):
            np.testing.assert_array_equal(x, y)
        with pytest.raises(vs.FrozenInstanceError):
            twin.__setattr__(dataclasses.fields(obj)[0].name, None)


# --- misuse at definition -------------------------------------------------------------


def test_unknown_option_lists_every_option():
    with pytest.raises(vs.DataclassError, match="unknown option.*frozn") as e:
        vs.dataclass(frozn=True)
    for option in ("frozen=True", "kw_only=False", "mappable_dataclass=False", "slots"):
        assert option in str(e.value)


def test_decorating_a_non_class_raises():
    with pytest.raises(vs.DataclassError, match="decorates a class, got function"):
        vs.dataclass(lambda: None)


@pytest.mark.parametrize("static", [False, True])
def test_array_default_raises_with_factory_hint(static):
    with pytest.raises(
        vs.DataclassError, match="array as its default.*default_factory"
    ):

        @vs.dataclass
        class Bad:
            w: Any = vs.field(static=static, default=jnp.zeros(2))

    with pytest.raises(vs.DataclassError, match="array as its default"):

        @vs.dataclass
        class Bad2:
            w: Any = np.zeros(2)


def test_static_array_value_warns_at_the_callers_line():
    with pytest.warns(UserWarning, match="array is being set as static") as record:
        TrainState(0, {}, apply_fn=jnp.ones(2))
    assert record[0].filename == __file__


@pytest.mark.parametrize("name", ["replace", "to_tuple", "from_tuple"])
def test_reserved_field_names_raise(name):
    with pytest.raises(vs.DataclassError, match=f"field '{name}' .* name of a method"):
        vs.dataclass(type("Bad", (), {"__annotations__": {name: int}}))


def test_mapping_method_names_are_reserved_only_when_mappable():
    ns = {"__annotations__": {"keys": int}}
    assert jax.tree.leaves(vs.dataclass(type("Fine", (), dict(ns)))(1)) == [1]
    with pytest.raises(vs.DataclassError, match="field 'keys'"):
        vs.dataclass(mappable_dataclass=True)(type("Bad", (), dict(ns)))


def test_field_name_that_is_not_an_identifier_raises():
    with pytest.raises(vs.DataclassError, match="not a Python identifier"):
        vs.dataclass(type("Bad", (), {"__annotations__": {"a-b": int}}))


@pytest.mark.parametrize(
    "other", [struct.dataclass, chex.dataclass, dataclasses.dataclass]
)
def test_class_made_by_another_dataclass_decorator_raises(other):
    with pytest.raises(vs.DataclassError, match="already a dataclass.*keep only"):

        @vs.dataclass
        @other
        class Twice:
            a: int


def test_class_registered_with_jax_by_hand_raises():
    class Registered:
        a: int

    jax.tree_util.register_pytree_node(
        Registered, lambda x: ((), None), lambda *_: None
    )
    with pytest.raises(vs.DataclassError, match="already registered with JAX"):
        vs.dataclass(Registered)


# --- swapping chex.dataclass / flax.struct.dataclass for vs.dataclass -------------


def make_state(decorator, static):
    @decorator
    class State:
        step: Any
        params: Any
        opt_state: Any
        apply_fn: Any = static(default=None)

    return State


def make_values():
    return dict(
        step=jnp.int32(7),
        params={"dense": {"kernel": jnp.ones((2, 3)), "bias": jnp.zeros(3)}},
        opt_state=(jnp.arange(3.0), {"count": jnp.int32(1)}),
    )


def test_swap_flax_struct_same_leaves_paths_and_serialization_bytes():
    Flax = make_state(
        struct.dataclass, lambda **kw: struct.field(pytree_node=False, **kw)
    )
    Ours = make_state(vs.dataclass, lambda **kw: vs.field(static=True, **kw))
    Kept = make_state(vs.dataclass, lambda **kw: struct.field(pytree_node=False, **kw))
    values = make_values()
    f, o, k = (C(**values, apply_fn=len) for C in (Flax, Ours, Kept))
    assert leaf_paths(f) == leaf_paths(o) == leaf_paths(k)
    assert all(x is y for x, y in zip(jax.tree.leaves(f), jax.tree.leaves(o)))
    data = serialization.to_bytes(f)
    assert serialization.to_bytes(o) == serialization.to_bytes(k) == data
    back = serialization.from_bytes(Ours(**make_values()), data)
    assert serialization.to_bytes(back) == data
    assert (
        serialization.to_bytes(serialization.from_bytes(f, serialization.to_bytes(o)))
        == data
    )
    jitted = jax.jit(lambda s: jax.tree.map(lambda v: v + 1, s))
    assert serialization.to_bytes(jitted(o)) == serialization.to_bytes(jitted(f))


def test_flax_struct_reruns_post_init_when_unflattening_and_we_do_not():
    calls = {"flax": 0, "vs": 0}

    def make(decorator, key):
        @decorator
        class Checked:
            x: Any

            def __post_init__(self):
                calls[key] += 1

        return Checked

    for decorator, key in ((struct.dataclass, "flax"), (vs.dataclass, "vs")):
        jax.tree.map(lambda v: v, make(decorator, key)(1))
    assert calls == {"flax": 2, "vs": 1}


def test_swap_chex_same_leaves_and_state_dict_keys():
    Chex = make_state(chex.dataclass, lambda **kw: dataclasses.field(**kw))
    Ours = make_state(vs.dataclass, lambda **kw: vs.field(**kw))
    c, o = Chex(**make_values()), Ours(**make_values())
    chex_paths = leaf_paths(c)  # chex: sorted by field name
    assert sorted(leaf_paths(o), key=jax.tree_util.keystr) == chex_paths
    assert leaf_paths(o)[0] == (GetAttrKey("step"),)  # ours: declaration order
    chex_state = serialization.to_state_dict(dict(c))
    assert chex_state.keys() == serialization.to_state_dict(o).keys()
    target = jax.tree.map(jnp.zeros_like, o)
    restored = serialization.from_bytes(
        target, serialization.msgpack_serialize(chex_state)
    )
    assert type(restored) is Ours and leaf_paths(restored) == leaf_paths(o)
    for x, y in zip(jax.tree.leaves(restored), jax.tree.leaves(o)):
        np.testing.assert_array_equal(x, y)


def test_chex_orbax_checkpoint_restores_into_the_vs_class(tmp_path):
    import orbax.checkpoint as ocp

    Chex = make_state(chex.dataclass, lambda **kw: dataclasses.field(**kw))
    Ours = make_state(vs.dataclass, lambda **kw: vs.field(**kw))
    saved = Chex(**make_values())
    target = jax.tree.map(jnp.zeros_like, Ours(**make_values()))
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(os.fspath(tmp_path / "ckpt"), saved)
        ckpt.wait_until_finished()
        restored = ckpt.restore(os.fspath(tmp_path / "ckpt"), target)
    assert type(restored) is Ours
    for path, leaf in jax.tree_util.tree_leaves_with_path(restored):
        expected = jax.tree_util.tree_leaves_with_path(saved)
        match = [v for p, v in expected if p == path]
        np.testing.assert_array_equal(leaf, match[0])


# --- properties -----------------------------------------------------------------------

NAMES = st.lists(
    st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
        lambda n: n not in _dataclass._GENERATED and not keyword.iskeyword(n)
    ),
    min_size=0,
    max_size=6,
    unique=True,
)


@given(
    names=NAMES,
    data=st.data(),
)
def test_property_flatten_state_dict_and_tuple_round_trips(names, data):
    static = data.draw(
        st.lists(st.booleans(), min_size=len(names), max_size=len(names))
    )
    values = data.draw(
        st.lists(st.integers(-99, 99), min_size=len(names), max_size=len(names))
    )
    slots = data.draw(st.booleans())
    namespace = {"__annotations__": {n: int for n in names}}
    namespace.update({n: vs.field(static=True) for n, s in zip(names, static) if s})
    cls = vs.dataclass(slots=slots)(type("Generated", (), namespace))
    obj = cls(*values)
    data_names = [n for n, s in zip(names, static) if not s]
    data_values = [v for v, s in zip(values, static) if not s]

    leaves, treedef = jax.tree.flatten(obj)
    assert leaves == data_values
    assert leaf_paths(obj) == [(GetAttrKey(n),) for n in data_names]
    assert jax.tree.unflatten(treedef, leaves) == obj
    assert obj.to_tuple() == tuple(values) and cls.from_tuple(values) == obj
    assert list(serialization.to_state_dict(obj)) == data_names
    assert serialization.from_bytes(obj, serialization.to_bytes(obj)) == obj
    out = jax.jit(lambda o: jax.tree.map(lambda v: v * 2, o))(obj)
    assert [int(v) for v in jax.tree.leaves(out)] == [2 * v for v in data_values]
    assert type(out) is cls and jax.tree.structure(out) == treedef
