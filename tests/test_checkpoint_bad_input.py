"""vs.load on truncated, corrupted, foreign and mismatched checkpoints.

Every failure must be a `vs.LoadError` whose message names the file: never a raw
msgpack / safetensors / zipfile traceback, never a half-built tree.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile

import ml_dtypes
import numpy as np
import pytest
import safetensors.numpy
from flax import serialization

import variables as vs

FILE_FORMATS = ["msgpack", "safetensors", "npz"]


def _tree():
    return {
        "params": {
            "w": np.arange(6, dtype=np.float32).reshape(2, 3),
            "b": np.ones(2, ml_dtypes.bfloat16),
        },
        "step": np.asarray(3, np.int32),
    }


def _saved(tmp_path, fmt, name="full"):
    path = tmp_path / f"{name}.{fmt}"
    vs.save(path, _tree())
    return path


def _raises_load_error(path, **kw):
    """Loads ``path``; asserts a LoadError that names it."""
    with pytest.raises(vs.LoadError, match=re.escape(str(path))):
        vs.load(path, **kw)


def _loads_or_load_error(path, **kw):
    """Either a tree, or a LoadError naming the file: nothing else."""
    try:
        vs.load(path, **kw)
    except vs.LoadError as exc:
        assert str(path) in str(exc)


# ---------------------------------------------------------------------------------
# Truncation, random bytes, corruption, foreign formats


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_every_truncation_is_a_load_error(tmp_path, fmt):
    data = _saved(tmp_path, fmt).read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    target = _tree()
    for n in range(len(data)):
        cut.write_bytes(data[:n])
        _raises_load_error(cut)
        _raises_load_error(cut, target=target)
        with pytest.raises(vs.LoadError, match=re.escape(str(cut))):
            vs.checkpoint_index(cut)


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_random_bytes_are_a_load_error(tmp_path, fmt):
    # Seeded rather than hypothesis-driven: a few short byte strings are valid
    # files by chance (b"\x80" is an empty msgpack map), so the inputs are fixed.
    rng = np.random.default_rng(1234)
    path = tmp_path / f"random.{fmt}"
    for _ in range(200):
        path.write_bytes(rng.bytes(int(rng.integers(16, 400))))
        _raises_load_error(path)


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_any_flipped_byte_gives_a_tree_or_a_load_error(tmp_path, fmt):
    data = bytearray(_saved(tmp_path, fmt).read_bytes())
    path = tmp_path / f"flipped.{fmt}"
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        path.write_bytes(bytes(flipped))
        _loads_or_load_error(path)
        _loads_or_load_error(path, target=_tree())


def test_npz_detects_flipped_data_bytes(tmp_path):
    path = tmp_path / "a.npz"
    vs.save(path, {"w": np.zeros(64, np.uint8)})
    data = bytearray(path.read_bytes())
    data[data.index(bytes(64)) + 10] = 1  # one byte inside the array data
    path.write_bytes(bytes(data))
    with pytest.raises(vs.LoadError, match="a.npz: member 'w.npy' is unreadable"):
        vs.load(path)


@pytest.mark.parametrize("written", FILE_FORMATS)
@pytest.mark.parametrize("named", FILE_FORMATS)
def test_wrong_format_for_the_suffix(tmp_path, written, named):
    if written == named:
        return
    data = _saved(tmp_path, written).read_bytes()
    path = tmp_path / f"renamed.{named}"
    path.write_bytes(data)
    _raises_load_error(path)


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_empty_file(tmp_path, fmt):
    path = tmp_path / f"empty.{fmt}"
    path.write_bytes(b"")
    _raises_load_error(path)


def test_wrong_suffixes_name_the_supported_formats(tmp_path):
    for name in ["model.pt", "model.pkl", "weights.h5", "notes.txt"]:
        path = tmp_path / name
        path.write_bytes(b"data")
        with pytest.raises(vs.LoadError, match=re.escape(str(path)) + ".*'.msgpack'"):
            vs.load(path)


def test_directory_with_a_file_suffix(tmp_path):
    (tmp_path / "x.npz").mkdir()
    with pytest.raises(vs.LoadError, match="x.npz: is a directory"):
        vs.load(tmp_path / "x.npz")


# ---------------------------------------------------------------------------------
# Targets that do not match


@pytest.mark.parametrize("fmt", FILE_FORMATS + ["orbax"])
@pytest.mark.parametrize("change", ["missing", "extra", "reshaped", "retyped"])
def test_target_mismatch_is_a_load_error_naming_the_file(tmp_path, fmt, change):
    path = tmp_path / ("ckpt/" if fmt == "orbax" else f"ckpt.{fmt}")
    vs.save(path, _tree())
    target = _tree()
    if change == "missing":
        target["params"]["extra"] = np.zeros(1)
    elif change == "extra":
        del target["params"]["b"]
    elif change == "reshaped":
        target["params"]["w"] = np.zeros((3, 2), np.float32)
    else:
        target["params"]["w"] = np.zeros((2, 3), np.float16)
    with pytest.raises(vs.LoadError, match=re.escape(str(path).rstrip("/"))) as info:
        vs.load(path, target)
    report = info.value.report
    assert {
        "missing": report.missing,
        "extra": report.unexpected,
        "reshaped": tuple(m.path for m in report.mismatched),
        "retyped": tuple(m.path for m in report.mismatched),
    }[change] == {
        "missing": ("params/extra",),
        "extra": ("params/b",),
        "reshaped": ("params/w",),
        "retyped": ("params/w",),
    }[change]


def test_mismatched_python_types(tmp_path):
    path = tmp_path / "a.msgpack"
    vs.save(path, {"name": "run", "step": 3})
    with pytest.raises(vs.LoadError, match=r"name +int +str\nHint: a value of another"):
        vs.load(path, {"name": 0, "step": 0})
    with pytest.raises(vs.LoadError, match=r"step +float +int\nHint: only dtypes"):
        vs.load(path, {"name": "", "step": 0.0})
    assert vs.load(path, {"name": "", "step": 0.0}, cast=True)["step"] == 3.0


# ---------------------------------------------------------------------------------
# safetensors headers


def _safetensors(tmp_path, header, data=b"", raw=None):
    path = tmp_path / "h.safetensors"
    body = raw if raw is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body)) + body + data)
    return path


@pytest.mark.parametrize(
    "header,data,match",
    [
        (
            {"w": {"dtype": "Q32", "shape": [1], "data_offsets": [0, 4]}},
            b"0000",
            "dtype 'Q32', which vs.load cannot read",
        ),
        (
            {"w": {"dtype": "F32", "shape": [1]}},
            b"0000",
            "entry of tensor 'w' is malformed",
        ),
        (
            {"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}},
            b"0000",
            "malformed shape or data_offsets",
        ),
        (
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}},
            b"0000",
            r"shape \(2,\) of float32 needs 8 bytes, its offsets span 4",
        ),
        (
            {"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
            b"00000000",
            "starts at byte 4 of the data, expected 0",
        ),
        (
            {
                "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]},
            },
            b"000",
            "tensor 'b' starts at byte 1",
        ),
        (
            {"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}},
            b"00",
            "1 unexpected bytes after the last tensor",
        ),
        (
            {"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}},
            b"00",
            "truncated: the header describes 4 bytes of tensor data, the file holds 2",
        ),
        ([1, 2], b"", "header is not a JSON object"),
        ({"__metadata__": [1]}, b"", "'__metadata__' entry of the header is not an"),
        (
            {
                "a\\b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                "ab": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]},
            },
            b"00",
            "two tensors name the same path 'ab'",
        ),
    ],
)
def test_bad_safetensors_headers(tmp_path, header, data, match):
    path = _safetensors(tmp_path, header, data)
    with pytest.raises(vs.LoadError, match=re.escape(str(path)) + ": .*" + match):
        vs.load(path)


def test_safetensors_header_not_json(tmp_path):
    path = _safetensors(tmp_path, None, raw=b"{not json}")
    with pytest.raises(vs.LoadError, match="header is not valid JSON"):
        vs.load(path)
    path = _safetensors(tmp_path, None, raw=b"\xff\xfe")
    with pytest.raises(vs.LoadError, match="header is not valid JSON"):
        vs.load(path)


def test_safetensors_short_and_oversized_headers(tmp_path):
    path = tmp_path / "s.safetensors"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(vs.LoadError, match="2 bytes long, too short"):
        vs.load(path)
    path.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(vs.LoadError, match="header length field says 1099511627776"):
        vs.load(path)


def test_safetensors_entries_that_do_not_form_a_tree(tmp_path):
    path = tmp_path / "p.safetensors"
    safetensors.numpy.save_file({"a": np.ones(1), "a/b": np.ones(1)}, str(path))
    with pytest.raises(
        vs.LoadError, match="p.safetensors: its entries do not form a tree"
    ):
        vs.load(path)
    assert vs.load(path, only="a/b")["a"]["b"].tolist() == [1.0]
    assert vs.load(path, {"a": np.zeros(1)}, strict=False)["a"].tolist() == [1.0]


def test_safetensors_file_shrinking_while_read(tmp_path, monkeypatch):
    path = _saved(tmp_path, "safetensors")
    from variables import _formats

    real_init = _formats.SafetensorsReader._parse

    def parse_then_truncate(self, sep):
        real_init(self, sep)
        os.truncate(path, 100)

    monkeypatch.setattr(_formats.SafetensorsReader, "_parse", parse_then_truncate)
    with pytest.raises(vs.LoadError, match="the file ended while reading"):
        vs.load(path)


# ---------------------------------------------------------------------------------
# npz archives


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, o=np.array([{"a": 1}], dtype=object))
    with pytest.raises(
        vs.LoadError, match="o.npz: member 'o.npy' holds Python objects"
    ):
        vs.load(path)


def test_npz_with_a_foreign_member(tmp_path):
    path = tmp_path / "f.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(vs.LoadError, match="member 'readme.txt' is not a .npy array"):
        vs.load(path)


def test_npz_with_an_unreadable_member_header(tmp_path):
    path = tmp_path / "h.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", b"not an npy file at all")
    with pytest.raises(vs.LoadError, match="h.npz: member 'w.npy' is unreadable"):
        vs.load(path)


@pytest.mark.parametrize(
    "comment,match",
    [
        (b"{oops", "malformed dtype note"),
        (b'{"dtype": "finfo"}', "claims dtype 'finfo'"),
        (
            b'{"dtype": "float8_e4m3fn"}',
            "claims dtype 'float8_e4m3fn', which does not fit",
        ),
    ],
)
def test_npz_with_a_bad_dtype_note(tmp_path, comment, match):
    path = tmp_path / "c.npz"
    vs.save(path, {"w": np.ones(2, ml_dtypes.bfloat16)})
    with zipfile.ZipFile(path, "a") as archive:
        archive.getinfo("w.npy").comment = comment
        archive.comment = b"x"  # forces the central directory to be rewritten
    with pytest.raises(vs.LoadError, match="c.npz: member 'w.npy' " + ".*" + match):
        vs.load(path)


def test_npz_with_an_unsupported_npy_version(tmp_path):
    path = tmp_path / "v.npz"
    header = b"\x93NUMPY\x09\x00"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", header + b"\x00" * 16)
    with pytest.raises(vs.LoadError, match="v.npz: "):
        vs.load(path)


# ---------------------------------------------------------------------------------
# msgpack


def test_msgpack_with_an_unknown_extension(tmp_path):
    import msgpack

    path = tmp_path / "e.msgpack"
    path.write_bytes(msgpack.packb({"w": msgpack.ExtType(42, b"xx")}))
    with pytest.raises(
        vs.LoadError, match="entry at 'w' is a msgpack extension of unknown type 42"
    ):
        vs.load(path)


def _ndarray_ext(payload) -> bytes:
    import msgpack

    return msgpack.packb({"w": msgpack.ExtType(1, payload)}, use_bin_type=True)


def _pack(*items) -> bytes:
    import msgpack

    return msgpack.packb(list(items), use_bin_type=True)


@pytest.mark.parametrize(
    "payload,match",
    [
        (_pack([2], "float32"), "not a .shape, dtype, data. triple"),
        (_pack([2], 7, b"\x00" * 8), "malformed ndarray extension"),
        (_pack([2], "float32", b"\x00" * 8) + b"??", "extension of the wrong length"),
        (_pack([1], "object", b"\x00" * 8), "dtype 'object' cannot hold array data"),
        (_pack([3], "float32", b"\x00" * 8), "cannot reshape"),
    ],
)
def test_msgpack_with_malformed_array_extensions(tmp_path, payload, match):
    path = tmp_path / "x.msgpack"
    path.write_bytes(_ndarray_ext(payload))
    with pytest.raises(
        vs.LoadError, match="x.msgpack: not a valid Flax msgpack.*" + match
    ):
        vs.load(path)


def test_msgpack_that_is_not_a_state_dict(tmp_path):
    import msgpack

    path = tmp_path / "n.msgpack"
    path.write_bytes(msgpack.packb([1, 2, 3]))
    with pytest.raises(
        vs.LoadError, match="holds a msgpack list, not a Flax state dict"
    ):
        vs.load(path)


def test_msgpack_with_keys_that_print_alike(tmp_path):
    import msgpack

    path = tmp_path / "k.msgpack"
    path.write_bytes(msgpack.packb({1: 1.0, "1": 2.0}, strict_types=False))
    with pytest.raises(vs.LoadError, match="two entries name the path '1'"):
        vs.load(path)


def test_msgpack_with_a_broken_chunked_array(tmp_path):
    path = tmp_path / "c.msgpack"
    path.write_bytes(
        serialization.msgpack_serialize({"w": {"__msgpack_chunked_array__": True}})
    )
    with pytest.raises(vs.LoadError, match="c.msgpack: not a valid Flax msgpack file"):
        vs.load(path)


# ---------------------------------------------------------------------------------
# Orbax directories


def test_directory_that_is_not_an_orbax_checkpoint(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(
        vs.LoadError, match="plain: a directory without Orbax '_METADATA'"
    ):
        vs.load(tmp_path / "plain")


def test_orbax_with_garbage_metadata(tmp_path):
    path = tmp_path / "ckpt"
    vs.save(path, _tree())
    (path / "_METADATA").write_text("garbage")
    with pytest.raises(vs.LoadError, match="ckpt: unreadable Orbax metadata.*damaged"):
        vs.load(path)


def test_orbax_restore_failure_is_wrapped(tmp_path, monkeypatch):
    import orbax.checkpoint as ocp

    path = tmp_path / "ckpt"
    vs.save(path, _tree())

    def broken(self, directory, *args, **kwargs):
        raise ValueError("tensorstore: data file missing")

    monkeypatch.setattr(ocp.PyTreeCheckpointer, "restore", broken)
    with pytest.raises(vs.LoadError, match="ckpt: Orbax could not restore it.*missing"):
        vs.load(path)


def test_orbax_with_missing_data_files(tmp_path, monkeypatch):
    import gc
    import shutil
    import sys
    import time

    # When its metadata read fails, Orbax closes its private event loop while
    # tensorstore callbacks are still pending; they fire later from tensorstore's
    # thread ("Event loop is closed", reported as unraisable). Collect them here
    # so they cannot surface in whichever test runs next.
    stray = []
    monkeypatch.setattr(sys, "unraisablehook", stray.append)
    path = tmp_path / "ckpt"
    vs.save(path, _tree())
    shutil.rmtree(path / "d")
    shutil.rmtree(path / "ocdbt.process_0")
    with pytest.raises(vs.LoadError, match="ckpt: unreadable Orbax metadata"):
        vs.load(path)
    time.sleep(0.3)
    gc.collect()
    assert all("Event loop is closed" in repr(u.exc_value) for u in stray)
