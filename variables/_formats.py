"""Checkpoint formats: read and write flat ``{path: array}`` entries, atomically.

`_checkpoint` speaks to every format through two small interfaces:

- a *reader* opened on a file or directory, with ``entries`` (``{key: Spec}``, known
  from the header alone where the format has one) and ``read(keys, bar)`` that
  returns ``{key: value}`` for the keys asked for, and nothing else;
- a *writer* function that puts prepared entries into a temporary file or directory
  which `atomic_file` / `atomic_dir` move into place only once it is complete.

A key is a tuple of strings (the path of a leaf with every key written as text). Flat
formats join it with ``sep`` using the escape rule of `_paths.format_path` and split
it back exactly (`_paths._split`, which keeps empty keys). Every failure to parse
becomes `LoadError` naming the file and what is wrong; nothing here unpickles.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_dtypes
import msgpack
import numpy as np

from ._errors import LoadError, SaveError
from ._paths import _split, format_path

Key = tuple[str, ...]

SUPPORTED = "'.msgpack' (Flax), '.safetensors', '.npz', or a directory (Orbax)"
FILE_FORMATS = {".msgpack": "msgpack", ".safetensors": "safetensors", ".npz": "npz"}
_PICKLE_SUFFIXES = frozenset(
    {".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".dill"}
)
_CHUNK = 64 << 20  # bytes per read/write call (also the progress granularity)


# ---------------------------------------------------------------------------------
# Shapes and dtypes of entries


class Spec(NamedTuple):
    """Shape and dtype of one entry.

    ``dtype`` is a NumPy dtype for arrays; for a Python scalar it is the name of its
    type (``"int"``, ``"float"``, ``"bool"``, ``"complex"``: weakly typed, as in
    JAX); for anything else ``shape`` is None and ``dtype`` names the type.
    """

    shape: tuple[int, ...] | None
    dtype: Any

    def __str__(self) -> str:
        if self.shape is None or (self.shape == () and self.dtype in WEAK_KINDS):
            return str(self.dtype)
        return f"{self.dtype}[{','.join(map(str, self.shape))}]"


WEAK_TYPES = {bool: "bool", int: "int", float: "float", complex: "complex"}
WEAK_KINDS = {
    "bool": np.bool_,
    "int": np.integer,
    "float": np.floating,
    "complex": np.complexfloating,
}


def spec_of(value: Any) -> Spec:
    """The `Spec` of a leaf (array, ShapeDtypeStruct, Python scalar or other)."""
    weak = WEAK_TYPES.get(type(value))
    if weak is not None:
        return Spec((), weak)
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:  # extended dtypes (PRNG keys) have no NumPy equivalent
            dtype = str(dtype)
        return Spec(tuple(shape), dtype)
    return Spec(None, type(value).__name__)


def kind_matches(weak: str, dtype: np.dtype) -> bool:
    """True when a weakly typed scalar of kind ``weak`` fits ``dtype``'s kind."""
    if weak == "bool" or dtype == np.bool_:
        return weak == "bool" and dtype == np.bool_
    return bool(jnp.issubdtype(dtype, WEAK_KINDS[weak]))


def is_ml_dtype(dtype: np.dtype) -> bool:
    """True for the dtypes of ``ml_dtypes`` (bfloat16, float8, int4...), which
    NumPy's own formats cannot describe."""
    return dtype.type.__module__.partition(".")[0] == "ml_dtypes"


def _unsigned(itemsize: int) -> np.dtype:
    return np.dtype(f"u{itemsize}")


def _ml_dtype(name: str) -> np.dtype | None:
    candidate = getattr(ml_dtypes, name, None)
    try:
        dtype = np.dtype(candidate) if isinstance(candidate, type) else None
    except TypeError:
        return None
    return dtype if dtype is not None and is_ml_dtype(dtype) else None


# ---------------------------------------------------------------------------------
# Choosing a format


def format_for_load(path: str) -> str:
    """The format of an existing checkpoint; raises for pickles and unknown ones."""
    suffix = os.path.splitext(path.rstrip("/" + os.sep))[1].lower()
    if suffix in FILE_FORMATS:
        if os.path.isdir(path):
            raise LoadError(
                f"{path}: is a directory, but its suffix {suffix!r} names a file "
                f"format. Orbax checkpoints are directories without such a suffix."
            )
        if not os.path.exists(path):
            raise FileNotFoundError(2, "no such checkpoint file", path)
        return FILE_FORMATS[suffix]
    if os.path.isdir(path):
        return "orbax"
    if suffix in _PICKLE_SUFFIXES:
        raise LoadError(
            f"{path}: {suffix!r} files are pickles, and vs.load never unpickles "
            f"(a pickle can run any code). Supported formats: {SUPPORTED}. Convert "
            f"the file where you trust it, e.g. with safetensors.torch.save_file."
        )
    if suffix:
        raise LoadError(
            f"{path}: unknown checkpoint suffix {suffix!r}. Supported formats: "
            f"{SUPPORTED}."
        )
    raise FileNotFoundError(2, "no such checkpoint file or Orbax directory", path)


def format_for_save(path: str) -> str:
    """The format to write ``path`` in; raises `SaveError` for unsupported names."""
    stripped = path.rstrip("/" + os.sep)
    suffix = os.path.splitext(stripped)[1].lower()
    if suffix in FILE_FORMATS:
        if stripped != path or os.path.isdir(path):
            raise SaveError(
                f"{path}: names a directory, but its suffix {suffix!r} names a file "
                f"format. Orbax checkpoints are directories without such a suffix."
            )
        return FILE_FORMATS[suffix]
    if stripped != path or os.path.isdir(path):
        return "orbax"
    if suffix in _PICKLE_SUFFIXES:
        raise SaveError(
            f"{path}: vs.save does not write pickles ({suffix!r}). Supported "
            f"formats: {SUPPORTED}."
        )
    if suffix:
        raise SaveError(
            f"{path}: unknown checkpoint suffix {suffix!r}. Supported formats: "
            f"{SUPPORTED}. End the path with '/' for an Orbax directory."
        )
    if os.path.exists(path):
        raise SaveError(
            f"{path}: exists and is not a directory; a path without a suffix means "
            f"an Orbax checkpoint directory. Supported formats: {SUPPORTED}."
        )
    return "orbax"


def bad(path: str, reason: str) -> LoadError:
    return LoadError(f"{path}: {reason}")


def split_key(name: str, sep: str) -> Key:
    return tuple(_split(name, sep))


# ---------------------------------------------------------------------------------
# Atomic writes


def _umask() -> int:
    try:  # Linux: read it without setting it (os.umask races with other threads)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):  # pragma: no cover
        pass
    mask = os.umask(0o022)  # pragma: no cover
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


@contextlib.contextmanager
def atomic_file(path: str) -> Iterator[tuple[int, str]]:
    """Yields ``(fd, tmp_path)`` of a new file beside ``path``; moves it over on
    success (after fsync), removes it on any exception."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(2, "cannot save: the directory does not exist", path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        yield fd, tmp
        os.close(fd)
        fd = -1
        _fsync_path(tmp)  # by name: a writer may have replaced the file at tmp
        mode = os.stat(path).st_mode if os.path.exists(path) else 0o666 & ~_umask()
        os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_dir(path: str) -> Iterator[str]:
    """Yields a fresh sibling path to write a directory into; on success it
    replaces ``path`` (an existing Orbax checkpoint there is removed only then)."""
    path = os.path.abspath(path.rstrip("/" + os.sep))
    parent, name = os.path.split(path)
    if not os.path.isdir(parent):
        raise FileNotFoundError(2, "cannot save: the directory does not exist", path)
    if os.path.isdir(path) and not _is_orbax_dir(path) and os.listdir(path):
        raise SaveError(
            f"{path}: exists and is not an Orbax checkpoint; vs.save replaces only "
            f"checkpoints it could have written. Remove it or pick another path."
        )
    holder = tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent)
    try:
        tmp = os.path.join(holder, name)
        yield tmp
        if os.path.exists(path):
            old = os.path.join(holder, name + ".old")
            os.rename(path, old)
            try:
                os.rename(tmp, path)
            except BaseException:
                os.rename(old, path)
                raise
        else:
            os.rename(tmp, path)
    finally:
        shutil.rmtree(holder, ignore_errors=True)
    _fsync_dir(parent)


# ---------------------------------------------------------------------------------
# Reading helpers


class _NoBar:
    """Stands in for a tqdm bar when none is shown."""

    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


NO_BAR = _NoBar()


def _read_exactly(f: Any, offset: int, out: np.ndarray, path: str, what: str, bar):
    """Reads ``out.nbytes`` bytes at ``offset`` straight into ``out``'s memory."""
    view = memoryview(out.reshape(-1).view(np.uint8))
    f.seek(offset)
    pos, total = 0, len(view)
    while pos < total:
        n = f.readinto(view[pos : pos + _CHUNK])
        if not n:
            raise bad(path, f"the file ended while reading {what} (truncated?)")
        pos += n
        bar.update(n)


def _flatten_nested(node: Any, prefix: Key, out: dict) -> None:
    """Flattens nested dicts/lists (as msgpack and Orbax give them) to ``out``."""
    if isinstance(node, dict):
        for k, v in node.items():
            _flatten_nested(v, prefix + (str(k),), out)
    elif type(node) is list or type(node) is tuple:  # not msgpack's ExtType
        for i, v in enumerate(node):
            _flatten_nested(v, prefix + (str(i),), out)
    elif node is not None:
        if prefix in out:
            raise KeyError(format_path(prefix))
        out[prefix] = node


# ---------------------------------------------------------------------------------
# safetensors

_ST_TO_DTYPE = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "I64": np.int64,
    "U64": np.uint64,
    "I32": np.int32,
    "U32": np.uint32,
    "I16": np.int16,
    "U16": np.uint16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
    "C64": np.complex64,
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "F8_E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
    "F8_E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
}
if hasattr(ml_dtypes, "float8_e8m0fnu"):  # pragma: no branch
    _ST_TO_DTYPE["F8_E8M0"] = ml_dtypes.float8_e8m0fnu
_ST_TO_DTYPE = {code: np.dtype(t) for code, t in _ST_TO_DTYPE.items()}
SAFETENSORS_DTYPES = frozenset(_ST_TO_DTYPE.values())
_MAX_HEADER = 100 << 20


class SafetensorsReader:
    """Parses the header; reads tensor bytes straight into fresh arrays on demand."""

    def __init__(self, path: str, sep: str) -> None:
        self.path = path
        self._f = open(path, "rb", buffering=0)  # closed by close()
        try:
            self._parse(sep)
        except BaseException:
            self._f.close()
            raise

    def _parse(self, sep: str) -> None:
        path, f = self.path, self._f
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise bad(path, f"{size} bytes long, too short for a safetensors file.")
        n = int.from_bytes(f.read(8), "little")
        if n > min(size - 8, _MAX_HEADER):
            raise bad(
                path,
                f"the header length field says {n} bytes, but the file has "
                f"{size - 8} bytes after it: truncated, or not a safetensors file.",
            )
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad(
                path, f"the safetensors header is not valid JSON ({exc})."
            ) from exc
        if not isinstance(header, dict):
            raise bad(path, "the safetensors header is not a JSON object.")
        meta = header.pop("__metadata__", None)
        if meta is not None and not isinstance(meta, dict):
            raise bad(path, "the '__metadata__' entry of the header is not an object.")
        self.metadata = meta or {}
        self._start, data_len = 8 + n, size - 8 - n
        self.entries: dict[Key, Spec] = {}
        self._layout: dict[Key, tuple[str, int, int]] = {}
        spans = []
        for name, info in header.items():
            dtype, shape, begin, end = self._check_entry(name, info)
            key = split_key(name, sep)
            if key in self.entries:
                raise bad(path, f"two tensors name the same path '{format_path(key)}'.")
            self.entries[key] = Spec(shape, dtype)
            self._layout[key] = (name, begin, end)
            spans.append((begin, end, name))
        self._check_spans(sorted(spans), data_len)

    def _check_entry(self, name: str, info: Any) -> tuple:
        path = self.path
        if not isinstance(info, dict) or {"dtype", "shape", "data_offsets"} - set(info):
            raise bad(path, f"the header entry of tensor {name!r} is malformed.")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        dtype = _ST_TO_DTYPE.get(code) if isinstance(code, str) else None
        if dtype is None:
            raise bad(
                path,
                f"tensor {name!r} has dtype {code!r}, which vs.load cannot read "
                f"(known: {', '.join(_ST_TO_DTYPE)}).",
            )
        ints = isinstance(shape, list) and isinstance(offsets, list)
        ints = ints and all(type(d) is int and d >= 0 for d in shape + offsets)
        if not ints or len(offsets) != 2 or offsets[0] > offsets[1]:
            raise bad(path, f"tensor {name!r} has a malformed shape or data_offsets.")
        if offsets[1] - offsets[0] != math.prod(shape) * dtype.itemsize:
            raise bad(
                path,
                f"tensor {name!r}: shape {tuple(shape)} of {dtype} needs "
                f"{math.prod(shape) * dtype.itemsize} bytes, its offsets span "
                f"{offsets[1] - offsets[0]}.",
            )
        return dtype, tuple(shape), offsets[0], offsets[1]

    def _check_spans(self, spans: list, data_len: int) -> None:
        end_of_data = max((e for _, e, _ in spans), default=0)
        if end_of_data > data_len:
            raise bad(
                self.path,
                f"truncated: the header describes {end_of_data} bytes of tensor "
                f"data, the file holds {data_len}.",
            )
        expected = 0
        for begin, end, name in spans:
            if begin != expected:
                raise bad(
                    self.path,
                    f"tensor {name!r} starts at byte {begin} of the data, expected "
                    f"{expected}: overlapping or missing tensor data.",
                )
            expected = end
        if expected != data_len:
            raise bad(
                self.path,
                f"{data_len - expected} unexpected bytes after the last tensor.",
            )

    def nbytes(self, keys: Iterable[Key]) -> int:
        return sum(self._layout[k][2] - self._layout[k][1] for k in keys)

    def read(self, keys: Sequence[Key], bar: Any = NO_BAR) -> dict[Key, np.ndarray]:
        out = {}
        for key in sorted(keys, key=lambda k: self._layout[k][1]):  # sequential I/O
            name, begin, _ = self._layout[key]
            spec = self.entries[key]
            array = np.empty(spec.shape, spec.dtype)
            if array.size:
                _read_exactly(
                    self._f, self._start + begin, array, self.path, repr(name), bar
                )
            out[key] = array
        return out

    def close(self) -> None:
        self._f.close()


def write_safetensors(fd: int, tmp: str, entries: dict[str, np.ndarray], bar) -> None:
    from safetensors.numpy import save_file

    save_file(entries, tmp, metadata={"format": "flax"})
    bar.update(sum(a.nbytes for a in entries.values()))


# ---------------------------------------------------------------------------------
# npz (a zip of .npy members; dtypes NumPy cannot describe are stored as unsigned
# integers of the same width, with the real dtype in the member's zip comment)


class NpzReader:
    """Reads every member's .npy header; members are read (CRC-checked) on demand."""

    def __init__(self, path: str, sep: str) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except Exception as exc:  # BadZipFile, NotImplementedError, EOFError...
            raise bad(path, f"not a valid .npz (zip) archive ({exc}).") from exc
        try:
            self._parse(sep)
        except BaseException:
            self._zip.close()
            raise

    def _parse(self, sep: str) -> None:
        self.entries: dict[Key, Spec] = {}
        self._members: dict[Key, tuple[zipfile.ZipInfo, np.dtype]] = {}
        for info in self._zip.infolist():
            if not info.filename.endswith(".npy"):
                raise bad(
                    self.path,
                    f"member {info.filename!r} is not a .npy array; this is a zip "
                    f"archive, but not one numpy.savez or vs.save wrote.",
                )
            shape, stored = self._header(info)
            if stored.hasobject:
                raise bad(
                    self.path,
                    f"member {info.filename!r} holds Python objects, which only "
                    f"unpickling could read; vs.load never unpickles.",
                )
            dtype = self._real_dtype(info, stored)
            key = split_key(info.filename[:-4], sep)
            if key in self.entries:
                raise bad(self.path, f"two members name the path '{format_path(key)}'.")
            self.entries[key] = Spec(tuple(shape), dtype)
            self._members[key] = (info, dtype)

    def _header(self, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
        fmt = np.lib.format
        try:
            with self._zip.open(info) as member:
                version = fmt.read_magic(member)
                if version == (1, 0):
                    shape, _, stored = fmt.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, stored = fmt.read_array_header_2_0(member)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
        except Exception as exc:
            raise bad(
                self.path, f"member {info.filename!r} is unreadable ({exc})."
            ) from exc
        return shape, stored

    def _real_dtype(self, info: zipfile.ZipInfo, stored: np.dtype) -> np.dtype:
        if not info.comment:
            return stored
        try:
            name = json.loads(info.comment.decode("utf-8"))["dtype"]
        except (ValueError, KeyError, TypeError) as exc:
            raise bad(
                self.path, f"member {info.filename!r} has a malformed dtype note."
            ) from exc
        dtype = _ml_dtype(name) if isinstance(name, str) else None
        if dtype is None or dtype.itemsize != stored.itemsize:
            raise bad(
                self.path,
                f"member {info.filename!r} claims dtype {name!r}, which does not "
                f"fit its stored {stored}.",
            )
        return dtype

    def nbytes(self, keys: Iterable[Key]) -> int:
        return sum(self._members[k][0].file_size for k in keys)

    def read(self, keys: Sequence[Key], bar: Any = NO_BAR) -> dict[Key, np.ndarray]:
        out = {}
        for key in keys:
            info, dtype = self._members[key]
            try:
                with self._zip.open(info) as member:
                    array = np.lib.format.read_array(member, allow_pickle=False)
                    member.read()  # reach the end, where zipfile checks the CRC
            except Exception as exc:
                raise bad(
                    self.path, f"member {info.filename!r} is unreadable ({exc})."
                ) from exc
            if array.dtype != dtype:
                array = array.view(dtype)
            out[key] = array
            bar.update(info.file_size)
        return out

    def close(self) -> None:
        self._zip.close()


def write_npz(fd: int, tmp: str, entries: dict[str, np.ndarray], bar) -> None:
    with (
        os.fdopen(os.dup(fd), "wb") as f,
        zipfile.ZipFile(
            f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True
        ) as archive,
    ):
        for name, array in entries.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            if is_ml_dtype(array.dtype):
                info.comment = json.dumps({"dtype": array.dtype.name}).encode()
                array = array.view(_unsigned(array.dtype.itemsize))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
            bar.update(array.nbytes)


# ---------------------------------------------------------------------------------
# msgpack: Flax's format. Written with flax.serialization.msgpack_serialize; read
# with a streaming msgpack.Unpacker whose extension hook decodes Flax's array
# extension straight into a view of the extension's bytes. That is the layout
# flax.serialization._ndarray_from_bytes reads, without its second copy of every
# array and without holding the whole file in memory (measured: about 1.7x faster
# than msgpack_restore, and half its peak memory; see docs/performance.md).

_MSGPACK_LEAVES = (np.ndarray, np.generic, bool, int, float, complex, str, bytes)
_EXT_NDARRAY, _EXT_COMPLEX, _EXT_NPSCALAR = 1, 2, 3  # flax's _MsgpackExtType
_CHUNKED = "__msgpack_chunked_array__"
_BIN_HEADERS = {0xC4: 1, 0xC5: 2, 0xC6: 4}  # msgpack bin8/16/32: bytes of length


def _ndarray_from_ext(data: bytes) -> np.ndarray:
    """Decodes ``(shape, dtype name, bytes)`` as Flax packs it, as a view of data."""
    head = msgpack.Unpacker(raw=True, max_buffer_size=len(data))
    head.feed(data[:4096])  # shape and dtype name come first and are small
    if head.read_array_header() != 3:
        raise ValueError("an ndarray extension is not a (shape, dtype, data) triple")
    shape, name = head.unpack(), head.unpack()
    pos = head.tell()
    width = _BIN_HEADERS.get(data[pos])
    if width is None or not isinstance(name, bytes) or not isinstance(shape, list):
        raise ValueError("malformed ndarray extension")
    size = int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
    offset = pos + 1 + width
    if offset + size != len(data):
        raise ValueError("ndarray extension of the wrong length")
    text = name.decode("ascii")
    dtype = np.dtype(ml_dtypes.bfloat16) if text == "bfloat16" else np.dtype(text)
    if dtype.hasobject or dtype.itemsize == 0:
        raise ValueError(f"dtype {text!r} cannot hold array data")
    array = np.frombuffer(data, dtype, count=size // dtype.itemsize, offset=offset)
    return array.reshape(shape)


def _msgpack_ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_NDARRAY:
        return _ndarray_from_ext(data)
    if code == _EXT_NPSCALAR:
        return _ndarray_from_ext(data)[()]
    if code == _EXT_COMPLEX:
        real, imag = msgpack.unpackb(data)
        return complex(real, imag)
    return msgpack.ExtType(code, data)


def _unchunk(node: Any) -> Any:
    """Joins arrays Flax split into chunks of under 2 GiB (in place)."""
    if isinstance(node, dict):
        if node.get(_CHUNKED) is True:
            shape = [node["shape"][str(i)] for i in range(len(node["shape"]))]
            chunks = [node["chunks"][str(i)] for i in range(len(node["chunks"]))]
            return np.concatenate(chunks).reshape(shape)
        for k, v in node.items():
            if isinstance(v, dict):
                node[k] = _unchunk(v)
    return node


class _CountingReader:
    """A file whose reads advance a progress bar."""

    def __init__(self, f: Any, bar: Any) -> None:
        self._f, self._bar = f, bar

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._bar.update(len(data))
        return data


class MsgpackReader:
    """msgpack has no index: the whole file is parsed on open."""

    def __init__(self, path: str, sep: str, bar: Any = NO_BAR) -> None:
        self.path = path
        with open(path, "rb", buffering=0) as f:
            if not os.fstat(f.fileno()).st_size:
                raise bad(path, "the file is empty.")
            stream = msgpack.Unpacker(
                _CountingReader(f, bar),
                ext_hook=_msgpack_ext_hook,
                raw=False,
                strict_map_key=False,
                max_buffer_size=2**31 - 1,
                read_size=_CHUNK // 4,
            )
            try:
                tree = _unchunk(stream.unpack())
            except msgpack.OutOfData as exc:
                raise bad(path, "truncated: the msgpack data ends early.") from exc
            except Exception as exc:
                raise bad(
                    path,
                    f"not a valid Flax msgpack file ({type(exc).__name__}: {exc}).",
                ) from exc
            try:
                stream.skip()
            except msgpack.OutOfData:
                pass
            except Exception as exc:
                raise bad(
                    path, f"unreadable bytes after the state dict ({exc})."
                ) from exc
            else:
                raise bad(path, "more data follows the state dict: not a Flax file.")
        if not isinstance(tree, (dict, np.ndarray, np.generic)):
            raise bad(
                path,
                f"it holds a msgpack {type(tree).__name__}, not a Flax state dict "
                f"(a map of arrays).",
            )
        self._values: dict[Key, Any] = {}
        try:
            _flatten_nested(tree, (), self._values)
        except KeyError as exc:
            raise bad(path, f"two entries name the path {exc}.") from exc
        self.entries: dict[Key, Spec] = {}
        for key, value in self._values.items():
            if not isinstance(value, _MSGPACK_LEAVES):
                what = type(value).__name__
                if isinstance(value, msgpack.ExtType):
                    what = f"msgpack extension of unknown type {value.code}"
                raise bad(
                    path,
                    f"the entry at '{format_path(key)}' is a {what}, not an array "
                    f"or a scalar that Flax writes.",
                )
            self.entries[key] = spec_of(value)

    def nbytes(self, keys: Iterable[Key]) -> int:
        return 0

    def read(self, keys: Sequence[Key], bar: Any = NO_BAR) -> dict[Key, Any]:
        return {k: self._values[k] for k in keys}

    def close(self) -> None:
        self._values = {}


def write_msgpack(fd: int, tmp: str, state: dict, bar) -> None:
    from flax.serialization import msgpack_serialize

    data = memoryview(msgpack_serialize(state, in_place=True))
    for start in range(0, len(data), _CHUNK):
        chunk = data[start : start + _CHUNK]
        while chunk:
            written = os.write(fd, chunk)
            chunk = chunk[written:]
            bar.update(written)


# ---------------------------------------------------------------------------------
# Orbax (a directory)


def _is_orbax_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "_METADATA"))


class OrbaxReader:
    """Reads Orbax's metadata; restores only the subtrees asked for, as NumPy."""

    def __init__(self, path: str, sep: str) -> None:
        import orbax.checkpoint as ocp

        self.path, self._dir = path, os.path.abspath(path)
        if not _is_orbax_dir(path):
            items = sorted(
                d for d in os.listdir(path) if _is_orbax_dir(os.path.join(path, d))
            )
            hint = (
                f" It holds Orbax items {items}: pass '{os.path.join(path, items[0])}'."
                if items
                else " Supported formats: " + SUPPORTED + "."
            )
            raise bad(path, "a directory without Orbax '_METADATA'." + hint)
        self._ocp = ocp
        try:
            meta = ocp.PyTreeCheckpointer().metadata(self._dir)
            meta = getattr(meta, "item_metadata", meta)
            self._meta = getattr(meta, "tree", meta)
            if self._meta is None:  # Orbax only logs a warning then
                raise ValueError("a damaged or incomplete checkpoint?")
            leaves: dict[Key, Any] = {}
            _flatten_nested(self._meta, (), leaves)
        except Exception as exc:
            raise bad(path, f"unreadable Orbax metadata ({exc}).") from exc
        self.entries = {key: spec_of(m) for key, m in leaves.items()}

    def nbytes(self, keys: Iterable[Key]) -> int:
        return 0

    def read(self, keys: Sequence[Key], bar: Any = NO_BAR) -> dict[Key, Any]:
        ocp, wanted = self._ocp, set(keys)
        if not wanted:
            return {}
        item = _prune(self._meta, (), wanted)
        restore_args = jax.tree_util.tree_map(_restore_arg, item)
        args = ocp.args.PyTreeRestore(
            item=item,
            restore_args=restore_args,
            partial_restore=len(wanted) < len(self.entries),
        )
        try:
            restored = ocp.PyTreeCheckpointer().restore(self._dir, args=args)
        except Exception as exc:
            raise bad(self.path, f"Orbax could not restore it ({exc}).") from exc
        out: dict[Key, Any] = {}
        _flatten_nested(restored, (), out)
        return {k: out[k] for k in keys}

    def close(self) -> None:
        pass


def _restore_arg(meta: Any) -> Any:
    import orbax.checkpoint as ocp

    if getattr(meta, "shape", None) is not None:
        return ocp.RestoreArgs(restore_type=np.ndarray)
    return ocp.RestoreArgs()


def _prune(node: Any, prefix: Key, wanted: set) -> Any:
    """The metadata subtree holding the wanted leaves (lists are kept whole)."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            sub = _prune(v, prefix + (str(k),), wanted)
            if sub is not None:
                out[k] = sub
        return out or None
    if isinstance(node, (list, tuple)):
        keep = any(
            _prune(v, prefix + (str(i),), wanted) is not None
            for i, v in enumerate(node)
        )
        return node if keep else None
    return node if prefix in wanted else None


def write_orbax(tmp: str, nested: dict) -> None:
    import orbax.checkpoint as ocp

    ocp.PyTreeCheckpointer().save(tmp, args=ocp.args.PyTreeSave(nested))


# ---------------------------------------------------------------------------------


def open_reader(fmt: str, path: str, sep: str, make_bar: Callable[[int], Any]) -> Any:
    """Opens a reader; the msgpack one reads the whole file now (with a bar)."""
    if fmt == "safetensors":
        return SafetensorsReader(path, sep)
    if fmt == "npz":
        return NpzReader(path, sep)
    if fmt == "msgpack":
        with make_bar(os.path.getsize(path)) as bar:
            return MsgpackReader(path, sep, bar)
    return OrbaxReader(path, sep)
