"""What the codemod knows about names: the flax FrozenDict API and the callees it reads.

Everything here is a plain table or a small pure function over LibCST nodes; the
per-module analysis lives in ``_facts.py`` and the decisions in ``commands/``.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.helpers import get_full_name_for_node

#: Canonical names of the FrozenDict API, whatever module re-exports them.
FROZEN_DICT = "FrozenDict"
FREEZE = "freeze"
UNFREEZE = "unfreeze"
PRETTY_REPR = "pretty_repr"
FROZEN_VARIABLE_DICT = "FrozenVariableDict"
FROZEN_DICT_MODULE = "frozen_dict"
DUAL_POP = "pop"
DUAL_COPY = "copy"

_API_LEAVES = frozenset(
    {FROZEN_DICT, FREEZE, UNFREEZE, PRETTY_REPR, FROZEN_VARIABLE_DICT}
)
_API_PACKAGES = ("flax.core.", "flax.linen.", "flax.typing.", "flax.cursor.")
_DUAL_HELPERS = {
    "flax.core.pop": DUAL_POP,
    "flax.core.frozen_dict.pop": DUAL_POP,
    "flax.core.copy": DUAL_COPY,
    "flax.core.frozen_dict.copy": DUAL_COPY,
}

#: FrozenDict methods that a dict lacks or implements differently.
FROZEN_METHODS = frozenset({"copy", "unfreeze", "pop", "pretty_repr"})

#: Last components worth a qualified-name lookup (keeps QualifiedNameProvider lazy).
INTERESTING_LEAVES = _API_LEAVES | {FROZEN_DICT_MODULE, DUAL_POP, DUAL_COPY}

#: The config flag that makes ``init``/``apply`` return FrozenDicts again (P16).
RETURN_FROZENDICT_FLAG = "flax_return_frozendict"


def api_for_qualified_name(name: str) -> str | None:
    """Maps a qualified name to its canonical FrozenDict API name, or None.

    >>> api_for_qualified_name("flax.core.frozen_dict.freeze")
    'freeze'
    >>> api_for_qualified_name("flax.linen.FrozenDict")
    'FrozenDict'
    >>> api_for_qualified_name("torch.jit.freeze") is None
    True
    """
    if name == "flax.core.frozen_dict":
        return FROZEN_DICT_MODULE
    if name in _DUAL_HELPERS:
        return _DUAL_HELPERS[name]
    leaf = name.rpartition(".")[2]
    if leaf in _API_LEAVES and name.startswith(_API_PACKAGES):
        return leaf
    return None


# --- callees, by qualified name -----------------------------------------------------

#: Calls that pair several trees, so their container types must agree (TREEDEF).
#: Value: the argument positions and keywords that are trees (None: all but the first).
TREE_PAIRING: dict[str, tuple[tuple[int, ...] | None, tuple[str, ...]]] = {
    "jax.tree_util.tree_map": (None, ("rest",)),
    "jax.tree.map": (None, ("rest",)),
    "jax.tree_map": (None, ("rest",)),
    "jax.tree_multimap": (None, ()),
    "jax.tree_util.tree_multimap": (None, ()),
    "jax.tree_util.tree_map_with_path": (None, ("rest",)),
    "jax.tree.map_with_path": (None, ("rest",)),
    "jax.tree_util.tree_structure": ((0,), ("tree",)),
    "jax.tree.structure": ((0,), ("tree",)),
    "optax.apply_updates": ((0, 1), ("params", "updates")),
    "optax.masked": ((1,), ("mask",)),
    "optax.multi_transform": ((1,), ("param_labels",)),
    "optax.add_decayed_weights": ((1,), ("mask",)),
    "optax.adamw": ((), ("mask",)),
    "optax.lamb": ((), ("mask",)),
    "optax.lars": ((), ("weight_decay_mask", "trust_ratio_mask")),
    "jax.lax.scan": ((1, 2), ("init", "xs")),
    "jax.lax.while_loop": ((2,), ("init_val",)),
    "jax.lax.fori_loop": ((3,), ("init_val",)),
    "jax.lax.cond": (None, ("operand",)),
    "jax.lax.switch": (None, ("operand",)),
    "jax.lax.with_sharding_constraint": ((0, 1), ("x", "shardings")),
    "flax.linen.scan": ((), ()),
}
#: Keywords that name a sharding or partitioning prefix tree, on any call.
TREE_PAIRING_KEYWORDS = frozenset(
    {
        "in_shardings",
        "out_shardings",
        "in_axis_resources",
        "out_axis_resources",
        "in_specs",
        "out_specs",
    }
)
_TREE_MAP_LIKE = frozenset(
    name for name, (positions, _) in TREE_PAIRING.items() if positions is None
) - {"jax.lax.cond", "jax.lax.switch"}

#: Calls whose result takes the container type of a target tree (SERIAL).
SERIAL_TARGETS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "flax.serialization.from_state_dict": ((0,), ("target",)),
    "flax.serialization.from_bytes": ((0,), ("target",)),
    "flax.training.checkpoints.restore_checkpoint": ((1,), ("target",)),
}
#: Method names whose ``item=``/``target=`` keyword is a restore target (orbax).
SERIAL_METHODS = frozenset({"restore", "restore_checkpoint"})
SERIAL_KEYWORDS = frozenset({"target", "item"})

#: Builtins that need a hashable argument (HASH).
HASHING_CALLS = frozenset({"builtins.hash", "builtins.frozenset", "builtins.set"})

#: Builtins and library calls that only read their arguments.
READ_ONLY_CALLS = frozenset(
    {
        "builtins.print",
        "builtins.len",
        "builtins.repr",
        "builtins.str",
        "builtins.isinstance",
        "builtins.type",
        "builtins.id",
        "builtins.bool",
        "builtins.any",
        "builtins.all",
        "builtins.sum",
        "builtins.min",
        "builtins.max",
        "builtins.format",
        "builtins.hasattr",
        "builtins.getattr",
        "pprint.pprint",
        "pprint.pformat",
        "json.dumps",
        "json.dump",
        "pickle.dumps",
        "pickle.dump",
        "copy.deepcopy",
        "flax.traverse_util.flatten_dict",
        "flax.serialization.to_state_dict",
        "flax.serialization.to_bytes",
        "flax.serialization.msgpack_serialize",
        "flax.training.checkpoints.save_checkpoint",
    }
)
#: Qualified-name prefixes of libraries that only read trees they are given.
READ_ONLY_PREFIXES = (
    "jax.",
    "numpy.",
    "logging.",
    "flax.linen.tabulate",
    "chex.",
    "absl.logging.",
)
#: Builtins that hand back (parts of) their argument: follow their result instead.
CARRIER_CALLS = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.sorted",
        "builtins.reversed",
        "builtins.zip",
        "builtins.enumerate",
        "builtins.iter",
        "builtins.next",
        "builtins.filter",
        "builtins.map",
    }
)
#: Methods that read the object they are called on.
READ_METHODS = frozenset(
    {
        "keys",
        "__contains__",
        "__len__",
        "count",
        "index",
        "pretty_repr",
        "tree_flatten",
    }
)
#: Methods that hand out (parts of) the object they are called on.
CARRIER_METHODS = frozenset({"items", "values", "get", "copy", "__getitem__"})
#: Methods that change the container they are called on (dict, list, set).
MUTATING_METHODS = frozenset(
    {
        "update",
        "pop",
        "popitem",
        "setdefault",
        "clear",
        "__setitem__",
        "__delitem__",
        "__ior__",
        "append",
        "extend",
        "insert",
        "remove",
        "sort",
        "reverse",
        "add",
        "discard",
    }
)
#: Methods, on anything, that only read the trees passed to them.
READ_ONLY_ARG_METHODS = frozenset(
    {
        "apply",
        "init",
        "init_with_output",
        "apply_gradients",
        "info",
        "debug",
        "warning",
        "error",
        "exception",
        "log",
        "write",
        "save",
        "save_checkpoint",
        "format",
        "join",
        "tabulate",
        "assertEqual",
        "assertAllClose",
        "assertTrue",
        "assertFalse",
        "assertIn",
    }
)
#: Calls that return fresh plain-dict trees nobody else holds (when the flag is off).
FRESH_DICT_METHODS = frozenset({"init", "init_with_output", "apply"})
FRESH_DICT_CALLS = frozenset(
    {"flax.traverse_util.unflatten_dict", "flax.traverse_util.flatten_dict"}
)
#: Decorators that make a function's arguments cache keys (HASH).
CACHING_DECORATORS = frozenset({"functools.lru_cache", "functools.cache"})
#: Transformations whose ``static_argnames``/``static_argnums`` hash the argument.
JIT_LIKE = frozenset(
    {
        "jax.jit",
        "jax.pmap",
        "flax.linen.jit",
        "equinox.filter_jit",
        "jax.experimental.pjit.pjit",
    }
)
PROPERTY_DECORATORS = frozenset(
    {"builtins.property", "functools.cached_property", "property", "cached_property"}
)


def dotted_name(node: cst.CSTNode) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None.

    >>> dotted_name(cst.parse_expression("flax.core.freeze"))
    'flax.core.freeze'
    """
    return (
        get_full_name_for_node(node)
        if m.matches(node, m.Name() | m.Attribute())
        else None
    )


def chain_root(node: cst.BaseExpression) -> cst.Name | None:
    """The Name at the bottom of a ``x.a["k"].b`` chain, or None.

    >>> chain_root(cst.parse_expression("state.params['head']")).value
    'state'
    """
    while True:
        if m.matches(node, m.Name()):
            return node
        if m.matches(node, m.Attribute() | m.Subscript()):
            node = node.value
            continue
        return None


def is_tree_map_like(qualified: str) -> bool:
    """Whether ``qualified`` maps a function over one or more trees."""
    return qualified in _TREE_MAP_LIKE


def literal_string(node: cst.BaseExpression) -> str | None:
    """The value of a plain string literal, else None.

    >>> literal_string(cst.parse_expression("'params'"))
    'params'
    """
    if m.matches(node, m.SimpleString()):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None
