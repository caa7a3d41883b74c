"""The exception hierarchy.

Every error raised on purpose by `variables` is a `VariablesError` and also the builtin
exception users already catch (`KeyError`, `ValueError`, `TypeError`, ...), so existing
``except`` clauses keep working.
"""

from __future__ import annotations

import dataclasses


class VariablesError(Exception):
    """Base class of every error raised on purpose by `variables`."""

    def __str__(self) -> str:
        # KeyError's __str__ shows the repr of its argument (quotes, escaped
        # newlines); our messages are prose, so print them as written.
        return str(self.args[0]) if self.args else ""


class PathError(VariablesError, KeyError):
    """A path or pattern does not name anything in the tree.

    Attributes:
        path: the path that was asked for, as a tuple of keys.
        segment: the key at which the lookup failed (``None`` when not known).
        available: the keys that exist at that place.
    """

    def __init__(
        self,
        message: str,
        *,
        path: tuple = (),
        segment: object = None,
        available: tuple = (),
    ) -> None:
        super().__init__(message)
        self.path = tuple(path)
        self.segment = segment
        self.available = tuple(available)


class StructureError(VariablesError, TypeError):
    """A tree or node is not of a kind the operation supports."""


class MergeConflictError(VariablesError, ValueError):
    """Two trees passed to `merge` both define a leaf at the same path."""


class LoadError(VariablesError, ValueError):
    """A checkpoint could not be loaded as asked.

    Attributes:
        report: the `LoadReport` of the attempt, when one was made (else ``None``).
    """

    def __init__(self, message: str, *, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class SaveError(VariablesError, ValueError):
    """A tree could not be saved as asked; the destination was left unchanged."""


class FrozenInstanceError(VariablesError, dataclasses.FrozenInstanceError):
    """Assignment to a frozen object (a frozen dataclass or a sealed draft)."""


class DraftError(VariablesError, RuntimeError):
    """A draft was used after its block ended, or in a way drafts do not support."""


class DataclassError(VariablesError, TypeError):
    """A class or field given to `vs.dataclass` is declared or called wrongly.

    For example an unknown decorator option, a field name that clashes with a
    generated method, or a subclass that was not decorated itself.
    """


class TransplantError(VariablesError, ValueError):
    """`transplant` found mismatched leaves, or a mapping that copies nothing.

    Attributes:
        report: the `TransplantReport` of the attempt (``None`` when the mapping
            itself was malformed).
    """

    def __init__(self, message: str, *, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class RenameError(VariablesError, ValueError):
    """`rename` would put two leaves at one path, or a rule is malformed."""


class FieldError(VariablesError, AttributeError):
    """A dataclass, NamedTuple or other record (or a draft of one) has no such field.

    Being an `AttributeError`, it keeps ``hasattr`` and ``getattr(obj, name, default)``
    working on drafts.
    """


class ApplyError(VariablesError, ValueError):
    """Flax could not run a module with the variables or rngs given to it.

    Raised by `vs.init`, `vs.apply` and `vs.Model` in place of Flax's own errors
    about missing collections, parameters or rngs; the message lists what the module
    needs and what was given. The Flax error is kept as ``__cause__``.

    Examples:
        >>> import jax.numpy as jnp, flax.linen as nn
        >>> import variables as vs
        >>> try:
        ...     vs.apply(nn.Dense(2), {"params": {}}, jnp.ones(3))
        ... except vs.ApplyError as exc:
        ...     print(str(exc).splitlines()[-2])
        Missing: params/bias, params/kernel.
    """
