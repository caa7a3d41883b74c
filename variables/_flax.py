"""The variable-collection layer over flax.linen: `init`, `apply` and `Model`.

Flax returns plain dicts or FrozenDicts depending on its version and on
``flax.config.flax_return_frozendict``. `init` and `apply` always return plain nested
dicts in every collection (FrozenDicts only with ``frozen=True``), accept variables
made of dicts, FrozenDicts or both, take an int seed, a key or a dict of either as
``rngs``, and turn Flax's errors about missing collections, parameters and rngs into
an `ApplyError` that lists what the module needs next to what it was given.

`Model` pairs a module with its variables in one pytree. Its children are its
collections, keyed by ``DictKey(name)`` like a dict's, and the module sits in the
treedef, so every path into a Model is the path into its variables
(``"params/Dense_0/kernel"``) and no other part of the library needs a special case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import flax.errors
import flax.linen as nn
import jax
import numpy as np
from flax.core import FrozenDict
from jax.tree_util import DictKey

from . import _tree
from ._errors import ApplyError, FrozenInstanceError, PathError, StructureError
from ._freeze import freeze, unfreeze
from ._paths import describe_keys, format_path
from ._summary import count

RNGs = int | jax.Array | Mapping[str, int | jax.Array]
Method = Callable[..., Any] | str | None

_FLAX_ERRORS: Final = (
    flax.errors.ScopeCollectionNotFound,
    flax.errors.ScopeParamNotFoundError,
    flax.errors.ScopeVariableNotFoundError,
    flax.errors.ScopeParamShapeError,
    flax.errors.InvalidRngError,
    flax.errors.ModifyScopeVariableError,
    flax.errors.ApplyScopeInvalidVariablesStructureError,
)
_LISTED: Final = 8  # paths shown per kind of mismatch in an error message


def init(
    module: nn.Module,
    rngs: RNGs,
    *args: Any,
    frozen: bool = False,
    method: Method = None,
    **kwargs: Any,
) -> dict[str, Any] | FrozenDict:
    """Initialises a linen module's variables as plain nested dicts.

    The same as ``module.init(rngs, *args, method=method, **kwargs)``, except that
    the result is plain dicts whatever Flax and ``flax.config`` return, ``rngs`` may
    be an int seed, and Flax's errors about rngs come back as an `ApplyError`.

    Args:
        module: any ``flax.linen.Module``.
        rngs: an int seed, a key (``jax.random.key`` or ``PRNGKey``), or a dict
            ``{rng name: seed or key}``. A single seed or key is Flax's ``"params"``
            stream, which Flax also uses for every rng name not given.
        *args: positional arguments of the module's method.
        frozen: return ``FrozenDict``\\s instead of dicts.
        method: the method to run (a function or its name); ``__call__`` if None.
        **kwargs: keyword arguments of the module's method.

    Returns:
        ``{collection: {...}}``: every collection the module created
        (``params``, ``batch_stats``, ``cache``, your own).

    Raises:
        ApplyError: ``rngs`` is not a seed, key or dict of them, or the module asks
            for an rng that was not given.

    Examples:
        >>> import jax, jax.numpy as jnp, flax.linen as nn
        >>> import variables as vs
        >>> variables = vs.init(nn.Dense(2), 0, jnp.ones((1, 3)))
        >>> type(variables["params"]).__name__, jax.tree.map(jnp.shape, variables)
        ('dict', {'params': {'bias': (2,), 'kernel': (3, 2)}})
        >>> type(vs.init(nn.Dense(2), 0, jnp.ones((1, 3)), frozen=True)).__name__
        'FrozenDict'
    """
    return _convert(_initialise("vs.init", module, rngs, args, kwargs, method), frozen)


def apply(
    module: nn.Module,
    variables: Mapping[str, Any],
    *args: Any,
    rngs: RNGs | None = None,
    mutable: Any = False,
    frozen: bool = False,
    method: Method = None,
    capture_intermediates: bool | Callable[..., bool] = False,
    **kwargs: Any,
) -> Any:
    """Runs a linen module with the given variables; updates come back as dicts.

    The same as ``module.apply(variables, *args, ...)``, except that ``variables``
    may mix dicts and FrozenDicts at any depth, ``rngs`` may be int seeds, the
    updates are plain dicts whatever Flax and ``flax.config`` return, and Flax's
    errors about missing collections, parameters or rngs come back as an
    `ApplyError` naming what the module needs and what was given.

    Args:
        module: any ``flax.linen.Module``.
        variables: ``{collection: {...}}`` as `init` returns it.
        *args: positional arguments of the module's method.
        rngs: None, an int seed, a key, or a dict ``{rng name: seed or key}``
            (``{"dropout": key}``). A single seed or key is Flax's ``"params"``
            stream, which Flax also uses for every rng name not given.
        mutable: the collections the call may change: False, True, a name or a
            list of names (Flax's collection filters).
        frozen: return the updates as ``FrozenDict``\\s instead of dicts.
        method: the method to run (a function or its name); ``__call__`` if None.
        capture_intermediates: as in Flax: also return the outputs of submodules
            in the ``intermediates`` collection.
        **kwargs: keyword arguments of the module's method.

    Returns:
        The output of the method; with ``mutable`` (or ``capture_intermediates``),
        ``(output, updates)`` exactly as Flax returns them, where ``updates`` holds
        every mutable collection, as plain dicts.

    Raises:
        StructureError: ``variables`` is not a mapping of collections.
        ApplyError: a collection, parameter or rng the module needs is missing, a
            parameter has the wrong shape, or the module writes to a collection
            that is not mutable.

    Examples:
        >>> import jax, jax.numpy as jnp, flax.linen as nn
        >>> import variables as vs
        >>> module = nn.BatchNorm(use_running_average=False)
        >>> x = jnp.arange(6.0).reshape(3, 2)
        >>> variables = vs.init(module, 0, x)
        >>> y, updates = vs.apply(module, variables, x, mutable=["batch_stats"])
        >>> type(updates["batch_stats"]).__name__, updates["batch_stats"]["mean"]
        ('dict', Array([0.02, 0.03], dtype=float32))
        >>> vs.apply(nn.Dense(2), vs.freeze(vs.init(nn.Dense(2), 0, x)), x).shape
        (3, 2)
    """
    _check_module(module, "vs.apply")
    _check_variables(variables, "vs.apply")
    call = _Call("vs.apply", module, args, kwargs, method, rngs, variables)
    call.mutable, call.capture = mutable, capture_intermediates
    return call.run_apply(frozen)


def _initialise(who, module, rngs, args, kwargs, method) -> Any:
    return _Call(who, module, args, kwargs, method, rngs).run_init()


def _returns_updates(mutable: Any, capture_intermediates: Any) -> bool:
    # Flax's own rule: any mutable filter other than False makes apply return
    # (output, updates); capturing intermediates makes "intermediates" mutable.
    return mutable is not False or bool(capture_intermediates)


def _convert(variables: Any, frozen: bool) -> Any:
    return freeze(variables) if frozen else unfreeze(variables)


def _check_module(module: Any, who: str) -> None:
    if not isinstance(module, nn.Module):
        raise StructureError(
            f"{who} needs a flax.linen.Module as `module`, got "
            f"{type(module).__name__}. Pass the module instance (`MLP()`), not its "
            f"class or its output."
        )


def _check_variables(variables: Any, who: str) -> None:
    if isinstance(variables, (Mapping, FrozenDict)):
        return
    hint = (
        " To run a vs.Model, call it (`model(x)`), or pass `model.variables`."
        if isinstance(variables, Model)
        else ""
    )
    raise StructureError(
        f"{who} needs `variables` as a mapping of collections "
        f"({{'params': {{...}}, ...}}, as vs.init returns), got "
        f"{type(variables).__name__}.{hint}"
    )


# ---------------------------------------------------------------------------------
# rngs


def _rng_dict(rngs: Any, who: str) -> dict[str, Any] | None:
    """``rngs`` as ``{name: key}``; a single seed or key is the "params" stream."""
    if rngs is None:
        return None
    if isinstance(rngs, (Mapping, FrozenDict)):
        out = {}
        for name, value in rngs.items():
            if not isinstance(name, str):
                raise ApplyError(
                    f"{who}: rng names must be strings, got {name!r} in `rngs` "
                    f"(names given: {describe_keys(list(rngs))})."
                )
            out[name] = _as_key(value, who, f"rngs[{name!r}]")
        return out
    return {"params": _as_key(rngs, who, "rngs")}


def _as_key(value: Any, who: str, where: str) -> Any:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return jax.random.key(int(value))
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    if dtype is not None and shape is not None and not isinstance(value, bool):
        if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            if shape == ():
                return value
        elif jax.dtypes.issubdtype(dtype, np.integer):
            if shape == ():
                return jax.random.key(value)
            if (shape, np.dtype(dtype)) == _raw_key_facts():
                return value
    raise ApplyError(
        f"{who}: `{where}` must be an int seed or a single key (jax.random.key(0) "
        f"or jax.random.PRNGKey(0)), got {_describe_value(value)}. Pass one seed or "
        f"key, or a dict of them by rng name: rngs={{'params': 0, 'dropout': 1}}."
    )


_RAW_KEY: list = []


def _raw_key_facts() -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a raw (``PRNGKey``-style) key of the default rng."""
    if not _RAW_KEY:
        raw = jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0)))
        _RAW_KEY.append((raw.shape, np.dtype(raw.dtype)))
    return _RAW_KEY[0]


def _describe_value(value: Any) -> str:
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(value).__name__} {value!r}"[:120]


# ---------------------------------------------------------------------------------
# Running Flax, and explaining its errors


class _Call:
    """One init or apply call, kept so a Flax error can be explained afterwards."""

    __slots__ = (
        "who",
        "module",
        "args",
        "kwargs",
        "method",
        "rngs",
        "variables",
        "mutable",
        "capture",
        "via_model",
    )

    def __init__(
        self,
        who: str,
        module: nn.Module,
        args: tuple,
        kwargs: dict,
        method: Method,
        rngs: Any,
        variables: Any = None,
    ) -> None:
        _check_module(module, who)
        self.who = who
        self.module = module
        self.args = args
        self.kwargs = kwargs
        self.method = method
        self.rngs = _rng_dict(rngs, who)
        self.variables = variables  # None for init
        self.mutable: Any = False
        self.capture: Any = False
        self.via_model = False

    def run_init(self) -> Any:
        try:
            return self._init(self.rngs)
        except _FLAX_ERRORS as exc:
            raise ApplyError(_explain(exc, self)) from exc

    def run_apply(self, frozen: bool = False) -> Any:
        """The output, or ``(output, updates)`` with the updates converted."""
        try:
            out = self.module.apply(
                self.variables,
                *self.args,
                rngs=self.rngs,
                mutable=self.mutable,
                method=self.method,
                capture_intermediates=self.capture,
                **self.kwargs,
            )
        except _FLAX_ERRORS as exc:
            raise ApplyError(_explain(exc, self)) from exc
        if not _returns_updates(self.mutable, self.capture):
            return out
        return out[0], _convert(out[1], frozen)

    def _init(self, rngs: Any) -> Any:
        if rngs is None:
            raise ApplyError(
                f"{self.who} needs `rngs` to initialise {type(self.module).__name__}: "
                f"an int seed, a key or a dict of them by rng name."
            )
        return self.module.init(rngs, *self.args, method=self.method, **self.kwargs)

    def _probe(self, rngs: dict) -> None:
        # Runs the call abstractly (shapes only) with other rngs, for diagnosis.
        def run() -> None:
            if self.variables is None:
                self._init(rngs)
            else:
                self.module.apply(
                    self.variables,
                    *self.args,
                    rngs=rngs,
                    mutable=self.mutable,
                    method=self.method,
                    **self.kwargs,
                )

        jax.eval_shape(run)


def _explain(exc: Exception, call: _Call) -> str:
    text = re.sub(r"\s*\(https?://[^)]*\)\s*$", "", str(exc))
    head = f"{call.who} could not run {type(call.module).__name__}: {text}"
    try:
        if isinstance(exc, flax.errors.ModifyScopeVariableError):
            return head + _explain_immutable(text, call)
        if isinstance(exc, flax.errors.InvalidRngError):
            return head + _explain_rngs(text, call)
        if isinstance(exc, flax.errors.ApplyScopeInvalidVariablesStructureError):
            return head + (
                "\nThe variables have an extra 'params' level. Pass the variables "
                "vs.init returned as they are (`vs.apply(module, variables, x)`), "
                "not wrapped again in {'params': ...}."
            )
        return head + _explain_variables(call)
    except Exception:  # the diagnosis must never hide the original error
        return head


def _quoted(text: str, before: str) -> str | None:
    found = re.search(before + r'\s*"([^"]+)"', text)
    return found.group(1) if found else None


def _explain_immutable(text: str, call: _Call) -> str:
    col = _quoted(text, "collection") or "batch_stats"
    if call.via_model:
        fix = (
            f"`y, model = model.apply(x, mutable=[{col!r}])` returns the Model with "
            f"the updated collection"
        )
    else:
        fix = f"pass `mutable=[{col!r}]` to get `(y, updates)` back"
    return (
        f"\nThe module writes to the collection {col!r}, which is not mutable in "
        f"this call: {fix}. Or run the module in a mode that does not write to it "
        f"(e.g. `use_running_average=True` for BatchNorm)."
    )


def _explain_rngs(text: str, call: _Call) -> str:
    given = sorted(call.rngs or {})
    missing = _missing_rngs(call) or [n for n in [_quoted(text, "for")] if n]
    example = ", ".join(f"{name!r}: key" for name in missing or ["params"])
    return (
        f"\nrngs the module asks for and were not given: {_names(missing)}; rngs "
        f"given: {_names(given)}. Pass rngs={{{example}}} (an int seed works as a "
        f"key), or one seed or key, which Flax uses for every rng name."
    )


def _missing_rngs(call: _Call) -> list[str]:
    """Every rng name the call asks for and was not given, found one at a time."""
    rngs = dict(call.rngs or {})
    missing: list[str] = []
    while len(missing) < 32:
        try:
            call._probe(rngs)
        except flax.errors.InvalidRngError as exc:
            name = _quoted(str(exc), "for")
            if name is None or name in rngs:
                break
            missing.append(name)
            rngs[name] = jax.random.key(0)
        except Exception:
            break
        else:
            break
    return missing


def _expected_variables(call: _Call) -> dict | None:
    """The variables the module would create for this call (shapes only)."""
    rngs = {name: jax.random.key(0) for name in [*(call.rngs or {}), "params"]}
    try:
        return unfreeze(
            jax.eval_shape(
                lambda: call.module.init(
                    rngs, *call.args, method=call.method, **call.kwargs
                )
            )
        )
    except Exception:
        return None


def _explain_variables(call: _Call) -> str:
    given = call.variables
    expected = _expected_variables(call)
    if expected is None:
        return f"\nCollections given: {_names(sorted(given))}."
    lines = [
        f"Collections the module needs: {_names(sorted(expected))}; collections "
        f"given: {_names(sorted(given))}."
    ]
    want = _tree.flatten(expected, sep=None)
    have = _tree.flatten({k: v for k, v in given.items() if k in expected}, sep=None)
    missing = [p for p in want if p not in have]
    unexpected = [p for p in have if p not in want]
    shapes = [
        f"{format_path(p)} {tuple(np.shape(have[p]))} (needs {tuple(want[p].shape)})"
        for p in want
        if p in have and tuple(np.shape(have[p])) != tuple(want[p].shape)
    ]
    lines += _listing("Missing", [format_path(p) for p in missing])
    lines += _listing("Not used by the module", [format_path(p) for p in unexpected])
    lines += _listing("Wrong shape", shapes)
    lines.append(_fix_hint(expected, given))
    return "\n" + "\n".join(line for line in lines if line)


def _fix_hint(expected: dict, given: Mapping) -> str:
    params = expected.get("params")
    if "params" not in given and isinstance(params, dict) and set(params) & set(given):
        return (
            "The variables look like the contents of the 'params' collection: pass "
            "{'params': params, ...} (the whole output of vs.init)."
        )
    if set(expected) - set(given):
        return (
            "Pass every collection vs.init returned, e.g. "
            "`{**variables, 'params': new_params}` to swap in new parameters."
        )
    return "Compare with the output of vs.init for the same module and inputs."


def _listing(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    shown = ", ".join(items[:_LISTED])
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return [f"{title}: {shown}{more}."]


def _names(names: list[str]) -> str:
    return "[" + ", ".join(repr(n) for n in names) + "]" if names else "none"


# ---------------------------------------------------------------------------------
# Model


class _Static:
    """The static part of a Model's treedef: its module and collection names.

    Made once per Model and handed on by every unflatten, so a jit cache lookup
    usually compares an object with itself. The hash is computed once.
    """

    __slots__ = ("module", "names", "keys", "_hash")

    def __init__(self, module: nn.Module, names: tuple[str, ...]) -> None:
        self.module = module
        self.names = names
        self.keys = tuple(DictKey(name) for name in names)
        try:
            self._hash = hash((module, names))
        except TypeError:  # a module field holds an unhashable value (an array)
            self._hash = hash((type(module), names))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if (
            type(other) is not _Static
            or self._hash != other._hash
            or self.names != other.names
        ):
            return False
        if self.module is other.module:
            return True
        try:
            return bool(self.module == other.module)
        except Exception:  # fields that compare as arrays: no equality to claim
            return False

    def __repr__(self) -> str:
        return f"{type(self.module).__name__}{list(self.names)}"


_set = object.__setattr__


class Model:
    """A linen module and its variables as one pytree, called like a function.

    The variables are the leaves; the module is static (it lives in the treedef),
    so one object goes through ``jax.jit``, ``jax.grad``, ``jax.vmap``, optax and
    checkpoints. Its pytree children are its collections, keyed like a dict's, so
    paths into a Model are the paths of its variables (``"params/Dense_0/kernel"``)
    and every ``vs`` function (`at`, `select`, drafts, `save`/`load`) works on it.
    Equal modules give equal treedefs: a new Model of an equal module hits the jit
    cache.

    A Model is immutable: make changed copies with `replace`, ``vs.at(model)`` or
    `apply` with ``mutable``. ``model.variables`` is ``{collection: {...}}`` (plain
    dicts from `Model.init`; collections passed in as FrozenDicts stay FrozenDicts);
    ``model.params`` is ``model.variables["params"]``.

    Attributes:
        module: the ``flax.linen.Module``.
        variables: ``{collection name: variables of that collection}``.

    Examples:
        >>> import jax, jax.numpy as jnp, flax.linen as nn
        >>> import variables as vs
        >>> model = vs.Model.init(nn.Dense(2), 0, jnp.ones((1, 3)))
        >>> model
        Model(Dense, parameters=8, collections=['params'])
        >>> model(jnp.ones((1, 3))).shape
        (1, 2)
        >>> grads = jax.grad(lambda m: m(jnp.ones((1, 3))).sum())(model)
        >>> type(grads).__name__, sorted(vs.flatten(grads))
        ('Model', ['params/bias', 'params/kernel'])
        >>> vs.at(model)["params"]["bias"].set(jnp.ones(2)).params["bias"]
        Array([1., 1.], dtype=float32)
    """

    __slots__ = ("module", "variables", "_static")

    module: nn.Module
    variables: dict[str, Any]

    def __init__(self, module: nn.Module, variables: Mapping[str, Any]) -> None:
        """Pairs ``module`` with ``variables`` (``{collection: {...}}``)."""
        _check_module(module, "vs.Model")
        given = _collections(variables, "vs.Model")
        static = _Static(module, tuple(sorted(given)))
        _init_model(self, static, {name: given[name] for name in static.names})

    @classmethod
    def init(
        cls,
        module: nn.Module,
        rngs: RNGs,
        *args: Any,
        method: Method = None,
        **kwargs: Any,
    ) -> Model:
        """Initialises ``module`` (as `vs.init` does) and returns it as a Model.

        Examples:
            >>> import jax.numpy as jnp, flax.linen as nn
            >>> import variables as vs
            >>> model = vs.Model.init(nn.Dense(4), 0, jnp.ones((1, 3)))
            >>> model.params["kernel"].shape
            (3, 4)
        """
        variables = _initialise("vs.Model.init", module, rngs, args, kwargs, method)
        return cls(module, unfreeze(variables))

    def __call__(
        self, *args: Any, rngs: RNGs | None = None, method: Method = None, **kwargs: Any
    ) -> Any:
        """Runs the module with these variables and returns its output.

        Nothing is mutable in this call; use `apply` with ``mutable`` to get the
        updated Model back (BatchNorm in training mode).

        Examples:
            >>> import jax.numpy as jnp, flax.linen as nn
            >>> import variables as vs
            >>> dropout = nn.Dropout(0.5, deterministic=False)
            >>> model = vs.Model.init(dropout, 0, jnp.ones(4))
            >>> model(jnp.ones(4), rngs={"dropout": 1}).shape
            (4,)
        """
        return self._run(args, kwargs, rngs, False, method, False)

    def apply(
        self,
        *args: Any,
        rngs: RNGs | None = None,
        mutable: Any = False,
        method: Method = None,
        capture_intermediates: bool | Callable[..., bool] = False,
        **kwargs: Any,
    ) -> Any:
        """Runs the module; with ``mutable``, also returns the updated Model.

        Args:
            *args: positional arguments of the module's method.
            rngs: None, an int seed, a key, or ``{rng name: seed or key}`` (as in
                `vs.apply`).
            mutable: the collections the call may change (False, True, a name or a
                list of names).
            method: the method to run (a function or its name); ``__call__`` if
                None.
            capture_intermediates: as in Flax; the captured values land in the
                ``intermediates`` collection of the returned Model.
            **kwargs: keyword arguments of the module's method.

        Returns:
            The output alone when nothing is mutable (as ``model(...)``).
            Otherwise ``(output, new_model)``: a Model of the same module whose
            mutated collections are replaced by their new values (new collections
            are added); the other collections are shared with this one.

        Examples:
            >>> import jax.numpy as jnp, flax.linen as nn
            >>> import variables as vs
            >>> x = jnp.arange(6.0).reshape(3, 2)
            >>> model = vs.Model.init(nn.BatchNorm(use_running_average=False), 0, x)
            >>> y, model = model.apply(x, mutable=["batch_stats"])
            >>> model.variables["batch_stats"]["mean"]
            Array([0.02, 0.03], dtype=float32)
        """
        out = self._run(args, kwargs, rngs, mutable, method, capture_intermediates)
        if not _returns_updates(mutable, capture_intermediates):
            return out
        y, updates = out
        return y, self._merged(updates)

    def _run(self, args, kwargs, rngs, mutable, method, capture) -> Any:
        call = _Call(
            "vs.Model", self.module, args, kwargs, method, rngs, self.variables
        )
        call.mutable, call.capture, call.via_model = mutable, capture, True
        return call.run_apply()

    def _merged(self, updates: Mapping[str, Any]) -> Model:
        if not updates:
            return self
        new = dict(self.variables)
        for name, value in updates.items():
            new[name] = freeze(value) if type(new.get(name)) is FrozenDict else value
        return self._with(new)

    def _with(self, collections: dict[str, Any]) -> Model:
        # A Model of the same module; the static part is reused when the names
        # are the same, so the jit cache compares an object with itself.
        static = self._static
        if collections.keys() != set(static.names):
            static = _Static(static.module, tuple(sorted(collections)))
        model = object.__new__(Model)
        _init_model(model, static, {name: collections[name] for name in static.names})
        return model

    @property
    def params(self) -> Any:
        """The ``params`` collection: ``model.variables["params"]``.

        Examples:
            >>> import jax.numpy as jnp, flax.linen as nn
            >>> import variables as vs
            >>> sorted(vs.Model.init(nn.Dense(2), 0, jnp.ones((1, 3))).params)
            ['bias', 'kernel']
        """
        try:
            return self.variables["params"]
        except KeyError:
            raise PathError(
                f"this Model of {type(self.module).__name__} has no 'params' "
                f"collection; its collections are {_names(list(self.variables))}. "
                f"Read one with `model.variables[name]`.",
                path=("params",),
                segment="params",
                available=tuple(self.variables),
            ) from None

    def replace(
        self,
        *,
        module: nn.Module | None = None,
        variables: Mapping[str, Any] | None = None,
        **collections: Any,
    ) -> Model:
        """A new Model with another module, other variables, or some collections.

        Args:
            module: the new module (kept when None).
            variables: all new variables ``{collection: {...}}`` (kept when None).
            **collections: single collections to replace or add, by name
                (``params=new_params``), applied after ``variables``.

        Returns:
            The new Model; everything not replaced is shared with this one.

        Examples:
            >>> import jax, jax.numpy as jnp, flax.linen as nn
            >>> import variables as vs
            >>> model = vs.Model.init(nn.Dense(2), 0, jnp.ones((1, 3)))
            >>> zeros = jax.tree.map(jnp.zeros_like, model.params)
            >>> model.replace(params=zeros)(jnp.ones((1, 3)))
            Array([[0., 0.]], dtype=float32)
            >>> model.replace(module=nn.Dense(2, use_bias=False)).module.use_bias
            False
        """
        if variables is None:
            new = dict(self.variables)
        else:
            new = _collections(variables, "Model.replace")
        new.update(collections)
        if module is None:
            return self._with(new)
        return Model(module, new)

    def __repr__(self) -> str:
        params = self.variables.get("params")
        return (
            f"Model({type(self.module).__name__}, parameters="
            f"{count(params) if params is not None else 0}, "
            f"collections={list(self._static.names)})"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(_MSG_FROZEN.format(name=name))

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(_MSG_FROZEN.format(name=name))

    def __reduce__(self) -> tuple:
        return (Model, (self.module, self.variables))


_MSG_FROZEN: Final = (
    "a vs.Model is immutable: cannot set `{name}`. Make a changed copy instead: "
    "`model = model.replace(variables=...)` (or `params=...`, `module=...`), or "
    "`model = vs.at(model)['params']['Dense_0']['kernel'].set(w)`."
)


def _collections(variables: Any, who: str) -> dict[str, Any]:
    """``{collection: value}`` from a mapping of collections, names checked."""
    _check_variables(variables, who)
    if type(variables) is FrozenDict:
        pairs = _tree.items(variables)
    else:
        pairs = list(variables.items())
    bad = [k for k, _ in pairs if not isinstance(k, str)]
    if bad:
        raise StructureError(
            f"{who} needs collection names as strings, got {bad[0]!r} among "
            f"{describe_keys([k for k, _ in pairs])}."
        )
    return dict(pairs)


def _init_model(model: Model, static: _Static, collections: dict) -> None:
    _set(model, "module", static.module)
    _set(model, "variables", collections)
    _set(model, "_static", static)


def _flatten(model: Model) -> tuple[list, _Static]:
    static = model._static
    variables = model.variables
    return [variables[name] for name in static.names], static


def _flatten_with_keys(model: Model) -> tuple[list, _Static]:
    static = model._static
    variables = model.variables
    return [(k, variables[n]) for k, n in zip(static.keys, static.names)], static


def _unflatten(static: _Static, children: Any) -> Model:
    model = object.__new__(Model)
    _set(model, "module", static.module)
    _set(model, "variables", dict(zip(static.names, children)))
    _set(model, "_static", static)
    return model


jax.tree_util.register_pytree_with_keys(Model, _flatten_with_keys, _unflatten, _flatten)
