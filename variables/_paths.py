"""Paths and patterns: parsing, formatting and matching.

A path names a place in a tree. Its string form joins keys with ``/``
(``"params/Dense_0/kernel"``; a sequence index is written as its number); its tuple
form lists the keys (``("params", "Dense_0", "kernel")``). A pattern is a path whose
segments may be ``*`` (any one key), ``**`` (any number of levels, including none) or
contain shell wildcards (``Dense_*``, ``layer_[0-3]``, ``?``).

Escape rule for the string form: a key that contains the separator or a backslash is
written with a backslash before each of them (the key ``"a/b"`` prints as ``a\\/b``).
Parsing undoes it, so ``parse_path(format_path(p)) == p`` for every path of string keys.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import re
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, Union

Key = Hashable
Path = tuple[Key, ...]
PathLike = Union[str, Sequence[Key], int]

SEP = "/"
_WILD_CHARS = frozenset("*?[")


def _split(text: str, sep: str) -> list[str]:
    """Splits on unescaped ``sep`` and removes the escapes."""
    if "\\" not in text:
        return text.split(sep)
    parts, current, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
        elif text.startswith(sep, i):
            parts.append("".join(current))
            current = []
            i += len(sep)
        else:
            current.append(text[i])
            i += 1
    parts.append("".join(current))
    return parts


@functools.lru_cache(maxsize=4096)
def _parse_str(text: str, sep: str) -> Path:
    if text == "" or text == sep:
        return ()
    return tuple(_split(text.strip(sep) if "\\" not in text else text, sep))


def parse_path(path: PathLike, sep: str = SEP) -> Path:
    """Returns the tuple form of a path given as a string, a sequence or an int.

    Examples:
        >>> parse_path("params/Dense_0/kernel")
        ('params', 'Dense_0', 'kernel')
        >>> parse_path(("layers", 0, "w"))
        ('layers', 0, 'w')
        >>> parse_path(r"a\\/b/c")
        ('a/b', 'c')
    """
    if isinstance(path, str):
        return _parse_str(path, sep)
    if isinstance(path, tuple):
        return path
    if isinstance(path, (list, Sequence)) and not isinstance(path, (bytes, bytearray)):
        return tuple(path)
    if isinstance(path, int):
        return (path,)
    raise TypeError(
        f"a path must be a string like 'params/Dense_0/kernel' or a tuple of keys, "
        f"got {type(path).__name__}: {path!r}"
    )


def _escape(key: Key, sep: str) -> str:
    text = str(key)
    if "\\" in text or sep in text:
        text = text.replace("\\", "\\\\").replace(sep, "\\" + sep)
    return text


def format_path(path: Iterable[Key], sep: str = SEP) -> str:
    """Returns the string form of a path (keys joined by ``sep``, escaped).

    Examples:
        >>> format_path(("params", "Dense_0", "kernel"))
        'params/Dense_0/kernel'
        >>> format_path(("layers", 0))
        'layers/0'
        >>> format_path(("a/b", "c"))
        'a\\\\/b/c'
    """
    return sep.join([_escape(k, sep) for k in path])


def keys_equal(a: Key, b: Key) -> bool:
    """True when two keys name the same place (``0`` and ``"0"`` do)."""
    return a == b or str(a) == str(b)


def closest(key: Key, candidates: Iterable[Key], n: int = 3) -> list[str]:
    """Returns up to ``n`` candidate keys (as strings) that look like ``key``."""
    names = [str(c) for c in candidates]
    return difflib.get_close_matches(str(key), names, n=n, cutoff=0.5)


def describe_keys(keys: Sequence[Key], limit: int = 12) -> str:
    """Formats a list of existing keys for an error message."""
    shown = ", ".join(repr(k) for k in list(keys)[:limit])
    if len(keys) > limit:
        shown += f", ... ({len(keys)} in all)"
    return shown or "(none: it is empty)"


# ---------------------------------------------------------------------------------
# Patterns


class _AnyDepth:
    """The ``**`` segment: any number of levels, including none."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "**"


ANY_DEPTH = _AnyDepth()


class _Glob:
    """A segment with shell wildcards, matched against ``str(key)``."""

    __slots__ = ("text", "_match")

    def __init__(self, text: str) -> None:
        self.text = text
        self._match = re.compile(fnmatch.translate(text)).match

    def __call__(self, key: Key) -> bool:
        return self._match(str(key)) is not None

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Glob) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("glob", self.text))


def _segment(part: Key) -> Any:
    if isinstance(part, str):
        if part == "**":
            return ANY_DEPTH
        if _WILD_CHARS.intersection(part):
            return _Glob(part)
    return part


def is_pattern(path: PathLike) -> bool:
    """True when a path has wildcard segments (``*``, ``**``, ``?``, ``[...]``)."""
    parts = parse_path(path)
    return any(isinstance(p, str) and _WILD_CHARS.intersection(p) for p in parts)


class Pattern:
    """A compiled path pattern, matched one key at a time like a small automaton.

    A state is the index of the next segment to match. ``step`` consumes one key,
    ``accepts`` tells whether the keys so far form a full match. Walkers use
    ``literal_keys`` to look children up directly instead of scanning them.

    Examples:
        >>> p = Pattern.compile("params/**/kernel")
        >>> p.matches(("params", "Dense_0", "kernel"))
        True
        >>> p.matches(("params", "kernel"))
        True
        >>> p.matches(("params", "Dense_0", "bias"))
        False
    """

    __slots__ = ("segments", "text", "_start")

    def __init__(self, segments: Sequence[Any], text: str) -> None:
        self.segments = tuple(segments)
        self.text = text
        self._start = self._closure((0,))

    @staticmethod
    def compile(pattern: PathLike | Pattern, sep: str = SEP) -> Pattern:
        """Compiles a pattern given as a string or a tuple of segments."""
        if isinstance(pattern, Pattern):
            return pattern
        if not isinstance(pattern, (str, tuple)):
            pattern = parse_path(pattern, sep)
        return _compile(pattern, sep)

    @classmethod
    def literal(cls, path: Sequence[Key]) -> Pattern:
        """A pattern whose segments all match their key literally."""
        return cls(tuple(path), format_path(path))

    def _closure(self, states: Iterable[int]) -> frozenset[int]:
        out = set()
        segs, n = self.segments, len(self.segments)
        for i in states:
            out.add(i)
            while i < n and segs[i] is ANY_DEPTH:
                i += 1
                out.add(i)
        return frozenset(out)

    @property
    def start(self) -> frozenset[int]:
        return self._start

    def step(self, states: frozenset[int], key: Key) -> frozenset[int]:
        """The states after consuming ``key``; empty when no match is possible."""
        nxt = []
        segs, n = self.segments, len(self.segments)
        for i in states:
            if i >= n:
                continue
            seg = segs[i]
            if seg is ANY_DEPTH:
                nxt.append(i)
            elif isinstance(seg, _Glob):
                if seg(key):
                    nxt.append(i + 1)
            elif seg == key or str(seg) == str(key):
                nxt.append(i + 1)
        return self._closure(nxt) if nxt else frozenset()

    def accepts(self, states: frozenset[int]) -> bool:
        return len(self.segments) in states

    def literal_keys(self, states: frozenset[int]) -> list[Key] | None:
        """The keys that can advance from ``states``, or None when any key might."""
        keys = []
        for i in states:
            if i >= len(self.segments):
                continue
            seg = self.segments[i]
            if seg is ANY_DEPTH or isinstance(seg, _Glob):
                return None
            keys.append(seg)
        return keys

    def pending(self, states: frozenset[int]) -> list[str]:
        """The segments that were expected next (for error messages)."""
        return [
            repr(self.segments[i]) if not isinstance(self.segments[i], str)
            else self.segments[i]
            for i in sorted(states)
            if i < len(self.segments)
        ]

    def matches(self, path: Sequence[Key]) -> bool:
        """True when the whole path matches the pattern."""
        states = self._start
        for key in path:
            states = self.step(states, key)
            if not states:
                return False
        return self.accepts(states)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def match(pattern: PathLike, path: PathLike) -> bool:
    """True when ``path`` matches ``pattern``.

    Examples:
        >>> match("params/*/kernel", "params/Dense_0/kernel")
        True
        >>> match("params/Dense_[0-1]/**", "params/Dense_2/bias")
        False
    """
    return Pattern.compile(pattern).matches(parse_path(path))


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str | tuple, sep: str) -> Pattern:
    parts = parse_path(pattern, sep)
    text = pattern if isinstance(pattern, str) else format_path(parts, sep)
    return Pattern([_segment(p) for p in parts], text)
