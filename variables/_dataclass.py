"""Frozen pytree dataclasses that can stand in for `chex.dataclass` and `flax.struct`.

`dataclass` is `dataclasses.dataclass` plus one JAX registration: fields are the
children (in declaration order, with `jax.tree_util.GetAttrKey` key paths) except
those marked `field(static=True)`, which travel in the treedef. Unflattening fills a
new instance directly and never re-runs ``__init__`` or ``__post_init__``, so
validation in ``__post_init__`` does not trip over tracers or ``None`` leaves.

The flatten and unflatten functions are generated per class (as `dataclasses`
generates ``__init__``): straight-line attribute reads and one unpacking assignment
are about twice as fast as `jax.tree_util.register_dataclass`, which has to call
``__init__`` to rebuild.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import inspect
import keyword
import types
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

import jax
import numpy as np
from flax import serialization

from ._errors import DataclassError, FrozenInstanceError, LoadError, PathError

try:
    from typing import dataclass_transform
except ImportError:  # Python 3.10
    from typing_extensions import dataclass_transform

_T = TypeVar("_T")

# Every option of `dataclasses.dataclass` on this Python, plus chex's
# `mappable_dataclass`; frozen by default, as flax.struct is.
_DEFAULTS: dict[str, Any] = {
    name: p.default
    for name, p in inspect.signature(dataclasses.dataclass).parameters.items()
    if name != "cls"
}
_DEFAULTS.update(frozen=True, mappable_dataclass=False)

_GENERATED = ("replace", "to_tuple", "from_tuple")
_MAPPING_METHODS = ("keys", "values", "items", "get")
# Terminal operations of `vs.at`: a field with one of these names is reached
# with the index form, `vs.at(obj)["get"]`.
_AT_OPS = frozenset({"get", "set", "apply", "add", "multiply", "divide", "delete"})
_ARRAY_TYPES = (jax.Array, np.ndarray)

# ids of the instances whose __init__ is running: they may still set attributes.
_INITIALIZING: set[int] = set()


class _Info:
    """What `dataclass` learned about one class (stored as ``__vs_dataclass__``)."""

    __slots__ = ("fields", "data", "meta", "init", "options", "flatten", "unflatten")

    def __init__(self, **kw: Any) -> None:
        for name, value in kw.items():
            object.__setattr__(self, name, value)


def field(
    *,
    static: bool = False,
    pytree_node: bool | None = None,
    default: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    init: bool = True,
    repr: bool = True,  # noqa: A002 - the name `dataclasses.field` uses
    hash: bool | None = None,  # noqa: A002
    compare: bool = True,
    metadata: Mapping[Any, Any] | None = None,
    kw_only: bool | Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field; ``static=True`` keeps its value out of the leaves.

    A static field lives in the treedef (like `flax.struct.field(pytree_node=False)`
    or `equinox.field(static=True)`): `jax.jit` treats it as a compile-time constant,
    so it must be hashable (a function, a string, a tuple of ints, ...). The other
    arguments are those of `dataclasses.field`.

    Args:
        static: keep the value in the treedef instead of the leaves.
        pytree_node: flax.struct's spelling, the opposite of ``static``;
            ``pytree_node=False`` is ``static=True``.
        default: the default value.
        default_factory: a zero-argument function making the default value.
        init: take the field as an ``__init__`` argument.
        repr: show the field in ``repr``.
        hash: use the field in ``__hash__`` (``None``: follow ``compare``).
        compare: use the field in ``==`` and ordering.
        metadata: extra metadata; ``"static"`` and ``"pytree_node"`` are set here.
        kw_only: make the field keyword-only.

    Returns:
        A `dataclasses.Field` with ``metadata["static"]`` and
        ``metadata["pytree_node"]`` set, which `jax.tree_util.register_dataclass`
        and `flax.struct.dataclass` understand too.

    Raises:
        DataclassError: ``static`` and ``pytree_node`` contradict each other.

    Examples:
        >>> import jax
        >>> import variables as vs
        >>> @vs.dataclass
        ... class Layer:
        ...     weight: float
        ...     activation: str = vs.field(static=True, default="relu")
        >>> jax.tree.leaves(Layer(2.0))
        [2.0]
    """
    if pytree_node is not None:
        if static and pytree_node:
            raise DataclassError(
                "`vs.field(static=True, pytree_node=True)` contradicts itself: "
                "`pytree_node=False` is flax.struct's spelling of `static=True`. "
                "Pass only one of them."
            )
        static = not pytree_node
    if metadata is not None and not static:
        static = _static_from_metadata(metadata, "vs.field(metadata=...)")
    metadata = {**(metadata or {}), "static": static, "pytree_node": not static}
    return dataclasses.field(
        default=default,
        default_factory=default_factory,
        init=init,
        repr=repr,
        hash=hash,
        compare=compare,
        metadata=metadata,
        kw_only=kw_only,
    )


def _static_from_metadata(metadata: Mapping[Any, Any], where: str) -> bool:
    """Read JAX's ``static`` and flax's ``pytree_node`` metadata keys."""
    static, node = metadata.get("static"), metadata.get("pytree_node")
    if static is not None and node is not None and bool(static) == bool(node):
        raise DataclassError(
            f"{where} has metadata static={static!r} and pytree_node={node!r}, "
            "which contradict each other (`pytree_node=False` means static). "
            "Keep one of the two keys."
        )
    return bool(static) if static is not None else node is not None and not node


@overload
def dataclass(cls: type[_T], /) -> type[_T]: ...


@overload
def dataclass(
    *,
    frozen: bool = True,
    kw_only: bool = False,
    mappable_dataclass: bool = False,
    init: bool = True,
    repr: bool = True,  # noqa: A002
    eq: bool = True,
    order: bool = False,
    unsafe_hash: bool = False,
    match_args: bool = True,
    slots: bool = False,
    weakref_slot: bool = False,
) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(field_specifiers=(field,), frozen_default=True)
def dataclass(cls: Any = None, /, **options: Any) -> Any:
    """Make a class a frozen dataclass registered as a JAX pytree node.

    A drop-in for `flax.struct.dataclass` and `chex.dataclass`: the same keyword
    arguments are accepted (every `dataclasses.dataclass` option plus chex's
    ``mappable_dataclass``), but ``frozen`` defaults to ``True`` and
    ``mappable_dataclass`` to ``False``. Non-static fields are the children, in
    declaration order, with `jax.tree_util.GetAttrKey` key paths (as flax.struct;
    chex sorts them by name). The class gains ``replace(**changes)``,
    ``to_tuple()``, ``from_tuple(values)`` and a `flax.serialization` state dict
    keyed by field name. ``__post_init__`` may assign fields of a frozen instance;
    unflattening (``jax.tree.map``, `jax.jit` outputs) never calls ``__init__`` or
    ``__post_init__`` again.

    Args:
        cls: the class, when used as ``@vs.dataclass`` without parentheses.
        **options: ``frozen`` (default ``True``), ``kw_only``,
            ``mappable_dataclass`` (``True`` adds the read-only Mapping interface
            over the field names and a ``dict``-like constructor, as chex does;
            the JAX flattening does not change), and the other options of
            `dataclasses.dataclass` (``init``, ``repr``, ``eq``, ``order``,
            ``unsafe_hash``, ``match_args``, ``slots``, ``weakref_slot``).

    Returns:
        The class (a new one when ``slots=True``), or a decorator when only options
        were given.

    Raises:
        DataclassError: an unknown option, a field named like a generated method,
            an array default, a class already registered with JAX by another
            decorator, or a second decoration with different options.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import variables as vs
        >>> @vs.dataclass
        ... class TrainState:
        ...     step: int
        ...     params: dict
        ...     tag: str = vs.field(static=True, default="run-1")
        >>> state = TrainState(0, {"w": jnp.ones(2)})
        >>> paths = jax.tree_util.tree_leaves_with_path(state)
        >>> [jax.tree_util.keystr(path) for path, _ in paths]
        ['.step', ".params['w']"]
        >>> state.replace(step=1).step
        1
        >>> jax.jit(lambda s: s.replace(step=s.step + 1))(state).step
        Array(1, dtype=int32, weak_type=True)
    """
    unknown = sorted(set(options) - set(_DEFAULTS))
    if unknown:
        listed = ", ".join(f"{k}={v!r}" for k, v in _DEFAULTS.items())
        raise DataclassError(
            f"vs.dataclass got unknown option(s) {', '.join(unknown)}; "
            f"the options (with their defaults) are: {listed}."
        )
    if cls is None:
        return functools.partial(dataclass, **options)
    if not isinstance(cls, type):
        raise DataclassError(
            f"vs.dataclass decorates a class, got {type(cls).__name__} {cls!r}. "
            "Write `@vs.dataclass` or `@vs.dataclass(frozen=..., ...)` on a class "
            "statement; options are keywords only."
        )
    return _process(cls, {**_DEFAULTS, **options}, given=bool(options))


def _process(cls: type, options: dict[str, Any], given: bool) -> type:
    info = cls.__dict__.get("__vs_dataclass__")
    if info is not None:  # already ours, e.g. a PyTreeNode subclass decorated again
        if given and options != info.options:
            raise DataclassError(
                f"{cls.__qualname__} is already a vs.dataclass with options "
                f"{info.options}; it cannot be decorated again with {options}. "
                "For a vs.PyTreeNode subclass, pass options as class keywords: "
                f"`class {cls.__name__}(vs.PyTreeNode, kw_only=True)`."
            )
        return cls
    _check_class(cls, options["frozen"])
    # A subclass of a mappable class is a Mapping already (the ABC registration
    # covers subclasses), so it gets the dict-like constructor as well.
    bases = [
        b.__vs_dataclass__ for b in cls.__mro__[1:] if "__vs_dataclass__" in b.__dict__
    ]
    if any(b.options["mappable_dataclass"] for b in bases):
        options = {**options, "mappable_dataclass": True}
    mappable = options["mappable_dataclass"]
    dc_options = {k: v for k, v in options.items() if k != "mappable_dataclass"}
    cls = dataclasses.dataclass(cls, **dc_options)
    fields = dataclasses.fields(cls)
    _check_names(cls, fields, mappable)
    static = {
        f.name: _static_from_metadata(f.metadata, f"field {f.name!r}") for f in fields
    }
    data = tuple(f.name for f in fields if not static[f.name])
    meta = tuple(f.name for f in fields if static[f.name])
    flatten, flatten_with_keys, unflatten = _pytree_functions(cls, data, meta)
    try:
        jax.tree_util.register_pytree_with_keys(
            cls, flatten_with_keys, unflatten, flatten
        )
    except ValueError as exc:  # JAX refuses a second registration
        raise DataclassError(
            f"{cls.__qualname__} is already registered with JAX (by "
            "jax.tree_util.register_pytree_node or similar). vs.dataclass "
            "registers it itself: remove the other registration."
        ) from exc
    cls.__vs_dataclass__ = _Info(
        fields=tuple(f.name for f in fields),
        data=data,
        meta=meta,
        init=frozenset(f.name for f in fields if f.init),
        options=options,
        flatten=flatten,
        unflatten=unflatten,
    )
    if options["frozen"]:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    cls.__init__ = _wrap_init(cls.__init__, mappable)
    for name in _GENERATED:
        if getattr(cls, name, None) is None:
            setattr(cls, name, _METHODS[name])
    if mappable:
        _make_mapping(cls)
    serialization.register_serialization_state(cls, _to_state_dict, _from_state_dict)
    return cls


def _check_class(cls: type, frozen: bool) -> None:
    """Problems that `dataclasses` would report less helpfully, or not at all."""
    if "__dataclass_fields__" in cls.__dict__:
        raise DataclassError(
            f"{cls.__qualname__} is already a dataclass (made by "
            "dataclasses.dataclass, flax.struct.dataclass or chex.dataclass). "
            "vs.dataclass replaces those decorators: keep only `@vs.dataclass`."
        )
    for base in cls.__mro__[1:]:
        params = base.__dict__.get("__dataclass_params__")
        if params is not None and params.frozen != frozen:
            raise DataclassError(
                f"{cls.__qualname__} is {'' if frozen else 'not '}frozen but its "
                f"base {base.__qualname__} is {'' if params.frozen else 'not '}"
                "frozen; a dataclass family is frozen or mutable as a whole. Pass "
                f"`frozen={params.frozen}` to vs.dataclass for {cls.__qualname__} "
                "(vs.dataclass is frozen by default)."
            )
    for name in inspect.get_annotations(cls):
        if not name.isidentifier() or keyword.iskeyword(name):
            raise DataclassError(
                f"field name {name!r} of {cls.__qualname__} is not a Python "
                "identifier; fields are read as attributes, so rename it."
            )
        value = cls.__dict__.get(name, dataclasses.MISSING)
        if isinstance(value, dataclasses.Field):
            value = value.default
        if isinstance(value, _ARRAY_TYPES):
            raise DataclassError(
                f"field {name!r} of {cls.__qualname__} has an array as its default. "
                "Arrays cannot be shared class-level defaults, and a static field "
                "cannot hold one (static values must be hashable). Make it a leaf "
                f"with a factory: `{name}: jax.Array = vs.field(default_factory="
                "lambda: jnp.zeros(...))`."
            )


def _check_names(
    cls: type, fields: tuple[dataclasses.Field, ...], mappable: bool
) -> None:
    reserved = _GENERATED + (_MAPPING_METHODS if mappable else ())
    for f in fields:
        if f.name in reserved:
            raise DataclassError(
                f"field {f.name!r} of {cls.__qualname__} has the name of a method "
                f"vs.dataclass adds ({', '.join(reserved)}); rename the field "
                "(chex reserves the same names)."
            )


def _pytree_functions(cls: type, data: tuple[str, ...], meta: tuple[str, ...]) -> Any:
    """Generate flatten, flatten_with_keys and unflatten for `cls`.

    Field names are identifiers (checked above), so ``x.name`` is safe to generate;
    in ``unflatten`` they only appear as string literals.
    """

    def tup(items: Iterable[str]) -> str:
        return "(" + "".join(f"{item}, " for item in items) + ")"

    aux = tup(f"x.{n}" for n in meta) if meta else "None"
    names = data + meta
    slotted = (
        any(
            isinstance(inspect.getattr_static(cls, n, None), types.MemberDescriptorType)
            for n in names
        )
        or not cls.__dictoffset__
    )
    lines = [
        "def flatten(x):",
        f"    return {tup(f'x.{n}' for n in data)}, {aux}",
        "def flatten_with_keys(x):",
        f"    return {tup(f'(k{i}, x.{n})' for i, n in enumerate(data))}, {aux}",
        "def unflatten(aux, children):",
        "    obj = new(cls)",
    ]
    if slotted:  # no instance __dict__ to fill: set each slot
        if data:
            lines.append(f"    {tup(f'c{i}' for i in range(len(data)))} = children")
        if meta:
            lines.append(f"    {tup(f'm{i}' for i in range(len(meta)))} = aux")
        values = [f"c{i}" for i in range(len(data))]
        values += [f"m{i}" for i in range(len(meta))]
        lines += [f"    setattr_(obj, {n!r}, {v})" for n, v in zip(names, values)]
    else:
        lines.append("    d = obj.__dict__")
        if data:
            lines.append(f"    {tup(f'd[{n!r}]' for n in data)} = children")
        if meta:
            lines.append(f"    {tup(f'd[{n!r}]' for n in meta)} = aux")
    lines.append("    return obj")
    namespace = {"new": object.__new__, "cls": cls, "setattr_": object.__setattr__}
    namespace.update({f"k{i}": jax.tree_util.GetAttrKey(n) for i, n in enumerate(data)})
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from identifiers only
    return namespace["flatten"], namespace["flatten_with_keys"], namespace["unflatten"]


def _wrap_init(init: Callable[..., None], mappable: bool) -> Callable[..., None]:
    """Let ``__init__``/``__post_init__`` assign fields; check what the class is."""

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        info = type(self).__dict__.get("__vs_dataclass__")
        if info is None:
            raise _undecorated_error(type(self))
        if mappable:
            args, kwargs = (), _mapping_arguments(type(self), info, args, kwargs)
        key = id(self)
        if key in _INITIALIZING:  # a subclass __init__ calling super().__init__
            init(self, *args, **kwargs)
            return
        _INITIALIZING.add(key)
        try:
            init(self, *args, **kwargs)
        finally:
            _INITIALIZING.discard(key)
        for name in info.meta:
            value = getattr(self, name, None)
            if isinstance(value, _ARRAY_TYPES):
                warnings.warn(_static_array_message(self, name, value), stacklevel=2)

    return __init__


def _undecorated_error(cls: type) -> DataclassError:
    base = next((b for b in cls.__mro__ if "__vs_dataclass__" in b.__dict__), None)
    what = f"subclasses the vs.dataclass {base.__qualname__} but " if base else ""
    return DataclassError(
        f"{cls.__qualname__} {what}is not decorated itself, so JAX cannot flatten "
        "it and its own annotations are not fields. Put `@vs.dataclass` on "
        f"{cls.__qualname__} (or derive the family from `vs.PyTreeNode`, which "
        "decorates every subclass)."
    )


def _static_array_message(obj: Any, name: str, value: Any) -> str:
    return (
        f"A JAX/NumPy array is being set as static: field {name!r} of "
        f"{type(obj).__qualname__} is `vs.field(static=True)` but got a "
        f"{type(value).__name__}. Static values live in the treedef, so jax.jit "
        "must hash and compare them on every call; an array fails to hash or "
        "recompiles each time. Make the field a leaf (`vs.field()`), or store a "
        "tuple or Python scalar."
    )


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    if id(self) in _INITIALIZING:
        object.__setattr__(self, name, value)
        return
    raise _frozen_error(self, name, "assign to")


def _frozen_delattr(self: Any, name: str) -> None:
    if id(self) in _INITIALIZING:
        object.__delattr__(self, name)
        return
    raise _frozen_error(self, name, "delete")


def _frozen_error(obj: Any, name: str, verb: str) -> FrozenInstanceError:
    cls = type(obj).__qualname__
    fields = tuple(f.name for f in dataclasses.fields(obj))
    if name not in fields:
        close = difflib.get_close_matches(name, fields, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return FrozenInstanceError(
            f"cannot {verb} attribute {name!r} of frozen {cls}: it is not a field "
            f"(fields: {', '.join(fields) or 'none'}).{hint} Frozen instances take "
            "no new attributes: declare it as a field (for a derived value, "
            "`vs.field(init=False)` set in `__post_init__`), or decorate with "
            "`frozen=False`."
        )
    step = f".{name}" if name not in _AT_OPS else f"[{name!r}]"
    return FrozenInstanceError(
        f"cannot {verb} field {name!r} of frozen {cls}: make a new instance "
        f"instead, with `obj.replace({name}=...)`, `vs.at(obj){step}.set(...)` or "
        f"`with vs.unfrozen(obj) as d: d.{name} = ...` (then `obj = vs.result(d)`)."
    )


def _mapping_arguments(
    cls: type, info: _Info, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """chex's mappable constructor: ``dict``-like arguments, init fields kept."""
    if len(args) > 1 or (args and kwargs):
        raise DataclassError(
            f"{cls.__qualname__} was declared with `mappable_dataclass=True`, so it "
            "is built like a dict (as chex does): keywords, or one mapping or "
            f"iterable of (name, value) pairs. Got {len(args)} positional "
            f"argument(s){' and keywords' if kwargs else ''}; write "
            f"`{cls.__name__}({', '.join(f'{n}=...' for n in info.fields)})`."
        )
    try:
        values = dict(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise DataclassError(
            f"{cls.__qualname__} (declared with `mappable_dataclass=True`) is built "
            f"like a dict, but its one positional argument {args[0]!r} is not a "
            "mapping or an iterable of (name, value) pairs. Pass fields as keywords."
        ) from exc
    unknown = [k for k in values if k not in info.fields]
    if unknown:
        raise DataclassError(
            f"{cls.__qualname__} has no field(s) {', '.join(map(repr, unknown))}; "
            f"its fields are {', '.join(info.fields)}."
        )
    return {k: v for k, v in values.items() if k in info.init}


def _info(obj_or_cls: Any) -> _Info:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    info = cls.__dict__.get("__vs_dataclass__")
    if info is None:
        raise _undecorated_error(cls)
    return info


def _replace(self: _T, **changes: Any) -> _T:
    """Return a copy with the given fields replaced (``__init__`` runs again).

    Examples:
        >>> import variables as vs
        >>> @vs.dataclass
        ... class Point:
        ...     x: float
        ...     y: float
        >>> Point(1.0, 2.0).replace(y=5.0)
        Point(x=1.0, y=5.0)
    """
    fields = _info(self).fields
    unknown = [k for k in changes if k not in fields]
    if unknown:
        close = difflib.get_close_matches(unknown[0], fields, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataclassError(
            f"{type(self).__qualname__}.replace() got unknown field(s) "
            f"{', '.join(map(repr, unknown))}; the fields are "
            f"{', '.join(fields)}.{hint}"
        )
    return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _to_tuple(self: Any) -> tuple[Any, ...]:
    """All field values (static ones included) in declaration order.

    Examples:
        >>> import variables as vs
        >>> @vs.dataclass
        ... class Point:
        ...     x: float
        ...     y: float
        >>> Point(1.0, 2.0).to_tuple()
        (1.0, 2.0)
    """
    return tuple(getattr(self, n) for n in _info(self).fields)


def _from_tuple(cls: type[_T], values: Iterable[Any]) -> _T:
    """Build an instance from `to_tuple` output (through ``__init__``).

    Values of ``init=False`` fields are skipped: ``__post_init__`` derives them.

    Examples:
        >>> import variables as vs
        >>> @vs.dataclass
        ... class Point:
        ...     x: float
        ...     y: float
        >>> Point.from_tuple((1.0, 2.0))
        Point(x=1.0, y=2.0)
    """
    info = _info(cls)
    values = tuple(values)
    if len(values) != len(info.fields):
        raise DataclassError(
            f"{cls.__qualname__}.from_tuple expects {len(info.fields)} values, one "
            f"per field ({', '.join(info.fields)}) in declaration order; got "
            f"{len(values)}."
        )
    return cls(**{n: v for n, v in zip(info.fields, values) if n in info.init})


_METHODS: dict[str, Any] = {
    "replace": _replace,
    "to_tuple": _to_tuple,
    "from_tuple": classmethod(_from_tuple),
}


def _make_mapping(cls: type) -> None:
    """Read-only Mapping over the field names; JAX flattening is unchanged."""

    def __getitem__(self: Any, key: Any) -> Any:
        fields = _info(self).fields
        if key in fields:
            return getattr(self, key)
        raise PathError(
            f"{type(self).__qualname__} has no field {key!r}; its fields are "
            f"{', '.join(fields)}.",
            path=(key,),
            segment=key,
            available=fields,
        )

    def as_dict(self: Any) -> dict[str, Any]:
        return {n: getattr(self, n) for n in _info(self).fields}

    methods = {
        "__getitem__": __getitem__,
        "__iter__": lambda self: iter(_info(self).fields),
        "__len__": lambda self: len(_info(self).fields),
        "__contains__": lambda self, key: key in _info(self).fields,
        "keys": lambda self: as_dict(self).keys(),
        "values": lambda self: as_dict(self).values(),
        "items": lambda self: as_dict(self).items(),
        "get": collections.abc.Mapping.get,
    }
    for name, method in methods.items():
        if name not in cls.__dict__:
            setattr(cls, name, method)
    collections.abc.Mapping.register(cls)


def _to_state_dict(obj: Any) -> dict[str, Any]:
    return {n: serialization.to_state_dict(getattr(obj, n)) for n in _info(obj).data}


def _from_state_dict(obj: Any, state: Mapping[str, Any]) -> Any:
    info = _info(obj)
    missing = [n for n in info.data if n not in state]
    unknown = [k for k in state if k not in info.data]
    if missing or unknown:
        raise LoadError(
            f"state dict for {type(obj).__qualname__} at path "
            f"{serialization.current_path() or '/'} does not match its fields: "
            f"missing {missing}, unexpected {unknown} (expected keys: "
            f"{', '.join(info.data)}). Restore into a target of the class that "
            "wrote the checkpoint, or rename the keys first (`vs.rename`)."
        )
    children, aux = info.flatten(obj)
    new = tuple(
        serialization.from_state_dict(child, state[n], name=n)
        for n, child in zip(info.data, children)
    )
    return info.unflatten(aux, new)


@dataclass_transform(field_specifiers=(field,), frozen_default=True)
class PyTreeNode:
    """Base class form of `dataclass`: every subclass is decorated on creation.

    Options are class keywords, as with `flax.struct.PyTreeNode`:
    ``class Config(vs.PyTreeNode, kw_only=True)``. ``slots=True`` is not supported
    here (it has to create a new class); use ``@vs.dataclass(slots=True)``.

    Examples:
        >>> import jax
        >>> import variables as vs
        >>> class Adam(vs.PyTreeNode):
        ...     mu: float
        ...     nu: float
        ...     name: str = vs.field(static=True, default="adam")
        >>> jax.tree.map(lambda v: v * 2, Adam(1.0, 3.0))
        Adam(mu=2.0, nu=6.0, name='adam')
    """

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__()
        if options.get("slots"):
            raise DataclassError(
                f"class {cls.__name__}(vs.PyTreeNode, slots=True): a slotted "
                "dataclass is a new class, which a base class cannot substitute. "
                "Decorate a plain class with `@vs.dataclass(slots=True)` instead."
            )
        dataclass(cls, **options)

    replace = _replace
    to_tuple = _to_tuple
    from_tuple = classmethod(_from_tuple)
