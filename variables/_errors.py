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
