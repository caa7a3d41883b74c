"""Checkpoints: `save`, `load` with a `LoadReport`, and `checkpoint_index`.

The format follows the path: ``.msgpack`` (Flax's own format), ``.safetensors``,
``.npz``, or a directory (Orbax); `_formats` reads and writes them. Inside
the flat formats a leaf is stored under its path, keys joined by ``sep``; a key that
contains ``sep`` or a backslash gets a backslash before each of them (the escape rule
of `vs.format_path`), so every tree of string keys comes back exactly.

Loading into a ``target`` matches the file's entries against the target's leaves by
path, checks every shape and dtype first, reports what is missing, unexpected or
mismatched, and only then reads the data it needs, into the target's structure.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from . import _formats, _tree
from ._errors import LoadError, PathError, SaveError
from ._formats import Key, Spec, spec_of
from ._paths import PathLike, Pattern, closest, describe_keys, format_path

_AUTO_BAR_BYTES = 256 << 20
_ROWS_PER_KIND = 20


# ---------------------------------------------------------------------------------
# The report


class Mismatch(NamedTuple):
    """One entry whose shape or dtype differs between the target and the file."""

    path: str
    expected_shape: tuple[int, ...] | None
    expected_dtype: str
    found_shape: tuple[int, ...] | None
    found_dtype: str

    @property
    def expected(self) -> str:
        return str(Spec(self.expected_shape, self.expected_dtype))

    @property
    def found(self) -> str:
        return str(Spec(self.found_shape, self.found_dtype))


@dataclasses.dataclass(frozen=True, repr=False)
class LoadReport:
    """What a `load` into a target found, entry by entry (paths as strings).

    Attributes:
        file: the checkpoint that was read.
        loaded: target paths whose value came from the file.
        missing: target paths the file lacks (kept from the target when
            ``strict=False``).
        unexpected: file paths the target lacks (dropped when ``strict=False``).
        mismatched: `Mismatch` entries (path, expected and found shape/dtype) for
            leaves whose shape, or dtype without ``cast=True``, differs.
        cast: `Mismatch` entries for leaves converted to the target's dtype
            (``cast=True``).
        skipped: target paths outside ``only=``, kept from the target.
        strict: the ``strict`` flag of the load.
        specs: ``"dtype[shape]"`` of each missing (as the target has it) and
            unexpected (as the file has it) path.

    A report is true when the file matched the target exactly (`ok`). ``str(report)``
    is a table.

    Examples:
        >>> report = LoadReport("ckpt.npz", loaded=("w",), missing=("b",),
        ...                     specs={"b": "float32[3]"})
        >>> report.ok
        False
        >>> print(report)
        LoadReport for 'ckpt.npz': 1 loaded, 1 missing
          status   path  expected    found
          missing  b     float32[3]  -
        Hint: strict=False keeps missing leaves from the target and drops unexpected
        entries; vs.rename or vs.transplant maps renamed keys.
    """

    file: str
    loaded: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[Mismatch, ...] = ()
    cast: tuple[Mismatch, ...] = ()
    skipped: tuple[str, ...] = ()
    strict: bool = True
    specs: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "specs", types.MappingProxyType(dict(self.specs)))

    @property
    def ok(self) -> bool:
        """True when nothing is missing, unexpected or mismatched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def __bool__(self) -> bool:
        return self.ok

    def counts(self) -> str:
        """``"3 loaded, 1 missing"``: the non-empty categories."""
        parts = [f"{len(self.loaded)} loaded"]
        for name in ("missing", "unexpected", "mismatched", "cast", "skipped"):
            n = len(getattr(self, name))
            if n:
                parts.append(f"{n} {name}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"LoadReport(file={self.file!r}, {self.counts()})"

    def __str__(self) -> str:
        lines = [f"LoadReport for '{self.file}': {self.counts()}"]
        rows = self._rows()
        if rows:
            header = ("status", "path", "expected", "found", "")
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
            for row in [header, *rows]:
                cells = [c.ljust(w) for c, w in zip(row, widths)] + [row[4]]
                lines.append(("  " + "  ".join(cells)).rstrip())
        lines.extend(self._hints())
        return "\n".join(lines)

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = []
        miss = "missing" if self.strict else "missing (kept from target)"
        extra = "unexpected" if self.strict else "unexpected (dropped)"
        for i, path in enumerate(self.missing):
            if i == _ROWS_PER_KIND:
                rows.append(
                    (f"... {len(self.missing) - i} more missing", "", "", "", "")
                )
                break
            near = closest(path, self.unexpected, n=1)
            note = f"closest in file: {near[0]}" if near else ""
            rows.append((miss, path, self.specs.get(path, "?"), "-", note))
        for i, path in enumerate(self.unexpected):
            if i == _ROWS_PER_KIND:
                rows.append(
                    (f"... {len(self.unexpected) - i} more unexpected", "", "", "", "")
                )
                break
            rows.append((extra, path, "-", self.specs.get(path, "?"), ""))
        for name, entries in (("mismatched", self.mismatched), ("cast", self.cast)):
            for i, m in enumerate(entries):
                if i == _ROWS_PER_KIND:
                    rows.append((f"... {len(entries) - i} more {name}", "", "", "", ""))
                    break
                rows.append((name, m.path, m.expected, m.found, ""))
        return rows

    def _hints(self) -> list[str]:
        hints = []
        if self.strict and (self.missing or self.unexpected):
            hints.append(
                "Hint: strict=False keeps missing leaves from the target and drops "
                "unexpected\nentries; vs.rename or vs.transplant maps renamed keys."
            )
        shapes = {(m.expected_shape, m.found_shape) for m in self.mismatched}
        if any(e is not None and f is not None and e != f for e, f in shapes):
            hints.append(
                "Hint: shapes must match, even with strict=False: fix the target, "
                "or load\nwithout one and adapt the arrays (vs.at, vs.transplant)."
            )
        elif any(e is None or f is None for e, f in shapes):
            hints.append(
                "Hint: a value of another type (not an array) is not converted."
            )
        elif shapes:
            hints.append("Hint: only dtypes differ; cast=True converts them.")
        return hints


# ---------------------------------------------------------------------------------
# Saving


def save(
    path: str | os.PathLike,
    tree: Any,
    *,
    sep: str = "/",
    progress: bool | None = None,
) -> None:
    """Writes ``tree`` to a checkpoint; the format follows the path.

    ``.msgpack`` is Flax's format (``flax.serialization.from_bytes`` reads it),
    ``.safetensors`` and ``.npz`` store one array per leaf under its path, and a path
    ending in ``/`` (or an existing directory, or a name without a suffix) is an
    Orbax checkpoint. The write is atomic: the data goes to a temporary file beside
    the destination, which replaces it only once complete, so an error or a crash
    mid-save leaves the previous checkpoint as it was. ``tree`` is not changed.

    Args:
        path: destination file or directory.
        tree: any pytree of arrays (dicts, FrozenDict, lists, a TrainState, a
            `vs.Model`, ...). ``None`` is an empty subtree, as in JAX.
        sep: the separator that joins keys in flat formats (``.safetensors``,
            ``.npz``); keys containing it are escaped with a backslash.
        progress: show a progress bar (``None``: only for files of 256 MiB or more
            when stderr is a terminal).

    Raises:
        SaveError: for an unsupported suffix, a leaf the format cannot store (a
            tracer, a string in a flat format, complex128 in safetensors...), or two
            keys that print alike. Nothing is written then.

    Examples:
        >>> import os, shutil, tempfile
        >>> import numpy as np
        >>> import variables as vs
        >>> folder = tempfile.mkdtemp()
        >>> params = {"dense": {"kernel": np.ones((2, 3), np.float32)}}
        >>> vs.save(os.path.join(folder, "params.safetensors"), params)
        >>> vs.checkpoint_index(os.path.join(folder, "params.safetensors"))
        {'dense/kernel': ((2, 3), dtype('float32'))}
        >>> shutil.rmtree(folder)
    """
    path = os.fspath(path)
    _check_sep(sep, SaveError)
    fmt = _formats.format_for_save(path)
    desc = f"saving {os.path.basename(path.rstrip('/'))}"
    if fmt == "msgpack":
        sizes: list[int] = []
        state = _state_dict(tree, (), path, sizes)
        with _make_bar(progress, sum(sizes), desc) as bar:
            with _formats.atomic_file(path) as (fd, tmp):
                _formats.write_msgpack(fd, tmp, state, bar)
        return
    entries = _flat_entries(tree, sep if fmt != "orbax" else "/", fmt, path)
    if fmt == "orbax":
        if not entries:
            raise SaveError(f"{path}: Orbax cannot save a tree without arrays.")
        nested = _tree.unflatten({key: a for key, (_, a) in entries.items()}, sep=None)
        with _formats.atomic_dir(path) as tmp:
            _formats.write_orbax(tmp, nested)
        return
    flat = {name: array for name, array in entries.values()}
    writer = _formats.write_safetensors if fmt == "safetensors" else _formats.write_npz
    with _make_bar(progress, sum(a.nbytes for a in flat.values()), desc) as bar:
        with _formats.atomic_file(path) as (fd, tmp):
            writer(fd, tmp, flat, bar)


def _check_sep(sep: Any, error: type) -> None:
    if not isinstance(sep, str) or not sep or "\\" in sep:
        raise error(f"sep must be a non-empty string without backslashes, got {sep!r}")


_NUMERIC_KINDS = frozenset("biufc")


def _to_numpy(leaf: Any, path: tuple, fmt: str, file: str) -> np.ndarray:
    """A NumPy array for one leaf, checked against what ``fmt`` can store."""
    where = f"{file}: cannot save the leaf at '{format_path(path)}'"
    weak = _formats.WEAK_TYPES.get(type(leaf))
    try:
        if weak is not None:
            dtype = jax.dtypes.canonicalize_dtype(np.asarray(leaf).dtype)
            array = np.asarray(leaf, dtype=dtype)
        elif isinstance(leaf, (np.ndarray, np.generic, jax.Array)):
            if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.extended):
                raise SaveError(
                    f"{where}: it is a typed PRNG key array ({leaf.dtype}). Save "
                    f"jax.random.key_data(key) and rebuild with "
                    f"jax.random.wrap_key_data."
                )
            array = np.asarray(leaf)
        else:
            raise SaveError(
                f"{where}: a {type(leaf).__name__} is not an array. Checkpoints hold "
                f"arrays and numbers (.msgpack also strings); make other values "
                f"static fields (vs.field(static=True)) or remove them first."
            )
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        raise SaveError(
            f"{where}: it is a tracer. vs.save runs outside jax.jit: return the "
            f"values from the jitted function and save them afterwards."
        ) from None
    except SaveError:
        raise
    except Exception as exc:  # an int too big, an array spanning other hosts...
        raise SaveError(f"{where}: {exc}") from exc
    if not array.flags.c_contiguous:  # (np.ascontiguousarray would make 0-d 1-d)
        array = array.copy(order="C")
    return _check_dtype(array, where, fmt)


def _check_dtype(array: np.ndarray, where: str, fmt: str) -> np.ndarray:
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    dtype = array.dtype
    ml = _formats.is_ml_dtype(dtype)
    if fmt == "safetensors":
        ok = dtype in _formats.SAFETENSORS_DTYPES
        other = ".npz"
    elif fmt == "msgpack":  # Flax reads back NumPy dtypes and bfloat16 only
        ok = dtype.name == "bfloat16" or (dtype.kind in _NUMERIC_KINDS and not ml)
        other = ".npz or .safetensors"
    else:
        ok = dtype.kind in _NUMERIC_KINDS or ml
        other = ".msgpack" if dtype.kind in "SU" else "another dtype"
    if not ok:
        raise SaveError(f"{where}: the {fmt} format cannot store {dtype}; use {other}.")
    return array


def _flat_entries(tree: Any, sep: str, fmt: str, file: str) -> dict:
    """``{key: (name, array)}`` for every leaf, keys as tuples of strings."""
    keyed = jax.tree_util.tree_flatten_with_path(tree)[0]
    if len(keyed) == 1 and not keyed[0][0]:
        raise SaveError(
            f"{file}: the tree is a single leaf, but {fmt} stores named entries; "
            f"wrap it in a dict, e.g. {{'array': x}}."
        )
    entries: dict[Key, tuple[str, np.ndarray]] = {}
    names: dict[str, tuple] = {}
    for keypath, leaf in keyed:
        path = _tree.keypath_to_path(keypath)
        key = tuple(str(k) for k in path)
        name = format_path(key, sep)
        if name in names:
            raise SaveError(
                f"{file}: the leaves at '{format_path(names[name])}' and "
                f"'{format_path(path)}' would both be stored as {name!r}: keys must "
                f"differ as text (0 and '0' do not)."
            )
        if fmt == "npz" and "\x00" in name:
            raise SaveError(f"{file}: npz member names cannot contain NUL: {name!r}")
        names[name] = path
        entries[key] = (name, _to_numpy(leaf, path, fmt, file))
    return entries


def _state_dict(node: Any, path: tuple, file: str, sizes: list) -> Any:
    """Flax's state dict of any pytree: nested dicts keyed by ``str(key)``."""
    pairs = _tree.items(node)
    if pairs is None:
        if node is None or isinstance(node, (bool, int, float, complex, str, bytes)):
            return node
        array = _to_numpy(node, path, "msgpack", file)
        sizes.append(array.nbytes)
        return array[()] if isinstance(node, np.generic) else array
    out = {}
    for key, child in pairs:
        name = str(key)
        if name in out:
            raise SaveError(
                f"{file}: two keys of the node at '{format_path(path)}' print as "
                f"{name!r}; msgpack keys must differ as text (0 and '0' do not)."
            )
        out[name] = _state_dict(child, path + (key,), file, sizes)
    return out


# ---------------------------------------------------------------------------------
# Loading


def load(
    path: str | os.PathLike,
    target: Any = None,
    strict: bool = True,
    *,
    only: PathLike | Sequence[PathLike] | None = None,
    sep: str = "/",
    cast: bool = False,
    return_report: bool = False,
    progress: bool | None = None,
) -> Any:
    """Reads a checkpoint, as nested dicts or into the structure of ``target``.

    Without ``target`` the result is nested plain dicts with string keys (a list
    saved from a tree comes back as a dict keyed ``"0"``, ``"1"``...). With a
    ``target`` (a freshly initialised model, a TrainState, a tree of
    ``jax.ShapeDtypeStruct``...) the result has the target's structure and container
    types, and every leaf's shape and dtype is checked against it before any data is
    read. Leaves come back as NumPy arrays (``jax.device_put`` moves them); a Python
    scalar in the target (a TrainState's ``step``) comes back as that type.

    Args:
        path: a ``.msgpack``, ``.safetensors`` or ``.npz`` file, or an Orbax
            checkpoint directory. Pickles (``.pkl``, ``.pt``...) are refused.
        target: optional tree whose structure, shapes and dtypes the file must match.
        strict: when True, a missing or unexpected entry raises `LoadError`; when
            False, missing leaves are kept from the target and unexpected entries
            are dropped (the report names both). Shape mismatches always raise.
        only: a path pattern (or several) limiting the entries read, e.g.
            ``"params/encoder/**"``; target leaves outside it are kept from the
            target. Patterns use ``/`` whatever ``sep`` is.
        sep: the separator of keys in flat formats; ``sep="."`` reads
            Hugging Face style keys (``model.layers.0.weight``).
        cast: convert leaves whose dtype differs from the target's (listed in
            ``report.cast``) instead of reporting them as mismatched.
        return_report: return ``(tree, report)`` instead of the tree alone.
        progress: show a progress bar (``None``: only when reading 256 MiB or more
            and stderr is a terminal).

    Returns:
        The tree, or ``(tree, report)`` with ``return_report=True``.

    Raises:
        LoadError: a truncated, corrupted or unsupported file (the message names the
            file and the problem), or a file that does not match ``target``; then
            ``error.report`` is the `LoadReport`.
        FileNotFoundError: no file or directory at ``path``.

    Examples:
        >>> import os, shutil, tempfile
        >>> import numpy as np
        >>> import variables as vs
        >>> folder = tempfile.mkdtemp()
        >>> path = os.path.join(folder, "params.npz")
        >>> vs.save(path, {"dense": {"kernel": np.ones((2, 3)), "bias": np.zeros(3)}})
        >>> vs.load(path)["dense"]["kernel"].shape
        (2, 3)
        >>> target = {"dense": {"kernel": np.zeros((2, 3)), "bias": np.zeros(3),
        ...                     "scale": np.ones(3)}}
        >>> tree, report = vs.load(path, target, strict=False, return_report=True)
        >>> report.missing, float(tree["dense"]["scale"][0])
        (('dense/scale',), 1.0)
        >>> shutil.rmtree(folder)
    """
    path = os.fspath(path)
    _check_sep(sep, LoadError)
    patterns = _compile_only(only)
    fmt = _formats.format_for_load(path)
    desc = f"loading {os.path.basename(path.rstrip('/'))}"

    def make_bar(total: int) -> Any:
        return _make_bar(progress, total, desc)

    reader = _formats.open_reader(fmt, path, sep, make_bar)
    try:
        if target is None:
            tree, report = _load_plain(reader, path, patterns, only, make_bar)
        else:
            tree, report = _load_into(
                reader, path, target, strict, patterns, only, cast, make_bar
            )
    finally:
        reader.close()
    return (tree, report) if return_report else tree


def _compile_only(only: Any) -> list[Pattern] | None:
    if only is None:
        return None
    if isinstance(only, (str, tuple, Pattern)):
        return [Pattern.compile(only)]
    return [Pattern.compile(p) for p in only]


def _selected(patterns: list[Pattern] | None, key: Key) -> bool:
    return patterns is None or any(p.matches(key) for p in patterns)


def _load_plain(reader, path, patterns, only, make_bar) -> tuple[Any, LoadReport]:
    keys = [k for k in reader.entries if _selected(patterns, k)]
    if patterns is not None and not keys:
        names = [format_path(k) for k in reader.entries]
        raise LoadError(
            f"{path}: only={only!r} matches none of its {len(names)} entries. "
            f"The file has: {describe_keys(names)}."
        )
    with make_bar(reader.nbytes(keys)) as bar:
        values = reader.read(keys, bar)
    report = LoadReport(path, loaded=tuple(format_path(k) for k in keys))
    if keys == [()]:
        return values[()], report
    try:
        return _tree.unflatten({k: values[k] for k in keys}, sep=None), report
    except PathError as exc:
        raise LoadError(
            f"{path}: its entries do not form a tree ({exc}). Load it into a "
            f"target, or pick entries with only=."
        ) from exc


def _load_into(
    reader, path, target, strict, patterns, only, cast, make_bar
) -> tuple[Any, LoadReport]:
    keyed, treedef = jax.tree_util.tree_flatten_with_path(target)
    plan, report, placeholders = _match(
        keyed, reader.entries, path, strict, patterns, cast
    )
    _check_report(report, path, strict, patterns, only, placeholders)
    wanted = [step[0] for step in plan if step is not None]
    with make_bar(reader.nbytes(wanted)) as bar:
        values = reader.read(wanted, bar)
    leaves = [
        leaf if step is None else _convert(values.pop(step[0]), leaf, step, path)
        for (_, leaf), step in zip(keyed, plan)
    ]
    return jax.tree_util.tree_unflatten(treedef, leaves), report


def _match(keyed, entries, path, strict, patterns, cast) -> tuple:
    """Matches target leaves with file entries: ``(plan, report, placeholders)``.

    ``plan`` has, per target leaf, ``(key, expected spec)`` when it is read from the
    file, None when it stays as in the target.
    """
    plan: list[tuple[Key, Spec] | None] = []
    seen: set[Key] = set()
    groups: dict[str, list] = {
        "loaded": [],
        "missing": [],
        "skipped": [],
        "mismatched": [],
        "cast": [],
    }
    specs: dict[str, str] = {}
    placeholders = []
    for keypath, leaf in keyed:
        key = tuple(str(k) for k in _tree.keypath_to_path(keypath))
        name = format_path(key)
        if key in seen:
            raise LoadError(
                f"{path}: the target has two leaves at '{name}' (keys that print "
                f"alike, such as 0 and '0'); give them distinct names."
            )
        seen.add(key)
        expected, found = spec_of(leaf), entries.get(key)
        step = None
        if not _selected(patterns, key):
            groups["skipped"].append(name)
        elif found is None:
            groups["missing"].append(name)
            specs[name] = str(expected)
        else:
            verdict = _verdict(expected, found, cast)
            if verdict != "ok":
                entry = Mismatch(
                    name,
                    expected.shape,
                    str(expected.dtype),
                    found.shape,
                    str(found.dtype),
                )
                groups["cast" if verdict == "cast" else "mismatched"].append(entry)
            if verdict != "mismatch":
                groups["loaded"].append(name)
                step = (key, expected)
        if step is None and isinstance(leaf, jax.ShapeDtypeStruct):
            placeholders.append(name)
        plan.append(step)
    unexpected = []
    for key, spec in entries.items():
        if key not in seen and _selected(patterns, key):
            unexpected.append(format_path(key))
            specs[unexpected[-1]] = str(spec)
    report = LoadReport(
        path,
        strict=bool(strict),
        unexpected=tuple(unexpected),
        specs=specs,
        **{k: tuple(v) for k, v in groups.items()},
    )
    return plan, report, placeholders


def _check_report(report, path, strict, patterns, only, placeholders) -> None:
    if patterns is not None and not (
        report.loaded or report.missing or report.unexpected or report.mismatched
    ):
        raise LoadError(
            f"{path}: only={only!r} matches nothing in the target or the file.",
            report=report,
        )
    if report.mismatched or (strict and (report.missing or report.unexpected)):
        raise LoadError(
            f"{path}: the checkpoint does not match the target.\n{report}",
            report=report,
        )
    if placeholders:
        raise LoadError(
            f"{path}: the leaves at {describe_keys(placeholders)} are not in the file "
            f"(or outside only=), and the target holds only a jax.ShapeDtypeStruct "
            f"there, not a value to keep. Load them too, or use a target with "
            f"values.\n{report}",
            report=report,
        )


def _is_weak(spec: Spec) -> bool:
    return spec.shape == () and spec.dtype in _formats.WEAK_KINDS


def _verdict(expected: Spec, found: Spec, cast: bool) -> str:
    """``"ok"``, ``"cast"`` (dtypes differ and ``cast``) or ``"mismatch"``."""
    if expected.shape is None or found.shape is None:
        return "ok" if expected == found else "mismatch"
    if expected.shape != found.shape:
        return "mismatch"
    e, f = expected.dtype, found.dtype
    e_weak, f_weak = _is_weak(expected), _is_weak(found)
    if (isinstance(e, str) and not e_weak) or (isinstance(f, str) and not f_weak):
        return "ok" if e == f else "mismatch"  # extended dtypes: never converted
    if e_weak and f_weak:
        same = e == f
    elif e_weak:
        same = _formats.kind_matches(e, f)
    elif f_weak:
        same = _formats.kind_matches(f, e)
    else:
        same = e == f
    return "ok" if same else ("cast" if cast else "mismatch")


def _convert(value: Any, leaf: Any, step: tuple[Key, Spec], path: str) -> Any:
    """The file's value in the form of the target's leaf."""
    expected = step[1]
    if expected.shape is None:
        return value
    if _is_weak(expected):
        return type(leaf)(np.asarray(value).item())
    array = np.asarray(value)
    if array.dtype != expected.dtype:
        converted = array.astype(expected.dtype)
        if _formats.WEAK_TYPES.get(type(value)) and converted.item() != value:
            raise LoadError(
                f"{path}: the value {value!r} at '{format_path(step[0])}' does not "
                f"fit the target's {expected.dtype}."
            )
        array = converted
    return array[()] if isinstance(leaf, np.generic) else array


# ---------------------------------------------------------------------------------
# Index and progress


def checkpoint_index(
    path: str | os.PathLike, *, sep: str = "/"
) -> dict[str, tuple[tuple[int, ...] | None, Any]]:
    """Lists a checkpoint's entries as ``{path: (shape, dtype)}`` without loading.

    Only the header is read where the format has one (safetensors, npz, Orbax);
    msgpack has no index, so the file is parsed. Paths are written with ``/``.
    A Python number stored in msgpack has dtype ``"int"``, ``"float"``... (weakly
    typed, as in JAX).

    Args:
        path: a checkpoint file or Orbax directory.
        sep: the separator of keys in flat formats (``"."`` for Hugging Face files).

    Returns:
        ``{path: (shape, dtype)}`` in the file's order.

    Raises:
        LoadError: the file is unreadable or of an unsupported format.

    Examples:
        >>> import os, shutil, tempfile
        >>> import numpy as np
        >>> import variables as vs
        >>> folder = tempfile.mkdtemp()
        >>> path = os.path.join(folder, "weights.npz")
        >>> vs.save(path, {"embed": np.zeros((10, 4), np.int8)})
        >>> vs.checkpoint_index(path)
        {'embed': ((10, 4), dtype('int8'))}
        >>> shutil.rmtree(folder)
    """
    path = os.fspath(path)
    _check_sep(sep, LoadError)
    fmt = _formats.format_for_load(path)
    reader = _formats.open_reader(fmt, path, sep, lambda total: _formats.NO_BAR)
    try:
        return {format_path(k): (s.shape, s.dtype) for k, s in reader.entries.items()}
    finally:
        reader.close()


def _make_bar(progress: bool | None, total: int, desc: str) -> Any:
    if progress is None:
        stream = sys.stderr
        show = total >= _AUTO_BAR_BYTES and stream is not None and stream.isatty()
    else:
        show = bool(progress)
    if not show:
        return _formats.NO_BAR
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
    )
