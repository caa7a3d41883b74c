"""Tests of the ``variables`` command (variables/cli.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import variables as vs
from variables import cli


def _tree(scale: float = 1.0) -> dict:
    return {
        "params": {
            "encoder": {
                "kernel": np.arange(12, dtype=np.float32).reshape(4, 3) * scale,
                "bias": np.zeros(3, np.float32),
            },
            "head": {"kernel": np.ones((3, 2), np.float32)},
        },
        "step": np.int32(7),
    }


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "model.safetensors"
    vs.save(path, _tree())
    return str(path)


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code, err, message):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("variables: error: ")
    assert message in lines[0]
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------
# inspect


def test_inspect_table(ckpt, capsys):
    code, out, err = _run(capsys, "inspect", ckpt)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "path                   shape   dtype    count  bytes",
        "---------------------  ------  -------  -----  -----",
        "params/encoder/bias    (3,)    float32      3   12 B",
        "params/encoder/kernel  (4, 3)  float32     12   48 B",
        "params/head/kernel     (3, 2)  float32      6   24 B",
        "step                   ()      int32        1    4 B",
        "total (4 entries)                          22   88 B",
    ]


@pytest.mark.parametrize("suffix", [".npz", ".msgpack", "/"])
def test_inspect_every_format(tmp_path, capsys, suffix):
    path = str(tmp_path / "model") + suffix
    vs.save(path, _tree())
    code, out, _ = _run(capsys, "inspect", path)
    assert code == 0
    assert "params/encoder/kernel" in out and "(4, 3)" in out
    assert out.splitlines()[-1].split()[-3:] == ["22", "88", "B"]


def test_inspect_reads_no_data(ckpt, capsys, monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("inspect must not load the arrays")

    monkeypatch.setattr(cli, "load", no_load)
    code, out, _ = _run(capsys, "inspect", ckpt)
    assert code == 0 and "total (4 entries)" in out


def test_inspect_only_and_depth(ckpt, capsys):
    code, out, _ = _run(
        capsys, "inspect", ckpt, "--only", "params/**/kernel", "--only", "step"
    )
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[2:-1]] == [
        "params/encoder/kernel",
        "params/head/kernel",
        "step",
    ]
    assert "total (3 entries)" in out
    code, out, _ = _run(capsys, "inspect", ckpt, "--depth", "1")
    assert code == 0
    assert out.splitlines() == [
        "path    leaves  params  bytes  dtypes",
        "------  ------  ------  -----  --------------",
        "params       3      21   84 B  float32",
        "step         1       1    4 B  int32",
        "total        4      22   88 B  float32, int32",
    ]


def test_inspect_weak_scalars_and_large_sizes(tmp_path, capsys):
    path = str(tmp_path / "state.msgpack")
    vs.save(path, {"step": 3, "big": np.zeros((1024, 1024, 3), np.uint8)})
    code, out, _ = _run(capsys, "inspect", path)
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert rows["big"].split()[-2:] == ["3.0", "MiB"]
    assert rows["step"].split()[1:] == ["()", "int", "1", "-"]
    code, out, _ = _run(capsys, "inspect", path, "--depth", "1")
    assert "(int)" in out


def test_inspect_with_dot_separator(tmp_path, capsys):
    path = str(tmp_path / "hf.safetensors")
    vs.save(
        path, {"model": {"layers": {"0": {"weight": np.zeros(2, np.float32)}}}}, sep="."
    )
    code, out, _ = _run(capsys, "inspect", path, "--sep", ".")
    assert code == 0 and "model/layers/0/weight" in out


def test_inspect_errors(tmp_path, capsys, ckpt):
    code, _, err = _run(capsys, "inspect", str(tmp_path / "missing.npz"))
    _assert_one_line_error(code, err, "missing.npz: no such checkpoint file")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    code, _, err = _run(capsys, "inspect", str(bad))
    _assert_one_line_error(code, err, "bad.safetensors: ")
    code, _, err = _run(capsys, "inspect", str(tmp_path / "x.pkl"))
    _assert_one_line_error(code, err, "never unpickles")
    code, _, err = _run(capsys, "inspect", ckpt, "--depth", "-1")
    _assert_one_line_error(code, err, "--depth must be 0 or more, got -1")


# ---------------------------------------------------------------------------------
# diff


def test_diff_equal(ckpt, tmp_path, capsys):
    other = str(tmp_path / "copy.npz")
    vs.save(other, _tree())
    code, out, err = _run(capsys, "diff", ckpt, other)
    assert (code, out, err) == (0, "no differences\n", "")


def test_diff_different(ckpt, tmp_path, capsys):
    other = str(tmp_path / "other.msgpack")
    changed = _tree(scale=1.5)
    changed["params"]["extra"] = np.zeros(2, np.float32)
    del changed["step"]
    vs.save(other, changed)
    code, out, _ = _run(capsys, "diff", ckpt, other)
    assert code == 1
    assert out.splitlines()[0] == (
        "3 paths differ: 1 added, 1 removed, 0 changed type, 1 changed value"
    )
    assert "params/encoder/kernel  value" in out and "5.5" in out
    code, out, _ = _run(capsys, "diff", ckpt, other, "--only", "params/head/**")
    assert (code, out) == (0, "no differences\n")
    code, out, _ = _run(capsys, "diff", "-q", ckpt, other)
    assert (code, out) == (1, "")


def test_diff_tolerance(ckpt, tmp_path, capsys):
    other = str(tmp_path / "near.safetensors")
    vs.save(other, _tree(scale=1.0 + 1e-6))
    assert _run(capsys, "diff", ckpt, other)[0] == 1
    assert _run(capsys, "diff", ckpt, other, "--atol", "1e-4")[0] == 0
    assert _run(capsys, "diff", ckpt, other, "--rtol", "1e-5")[0] == 0


def test_diff_errors(ckpt, tmp_path, capsys):
    code, _, err = _run(capsys, "diff", ckpt, str(tmp_path / "none.npz"))
    _assert_one_line_error(code, err, "none.npz: no such checkpoint file")
    code, _, err = _run(capsys, "diff", ckpt, ckpt, "--atol", "lots")
    _assert_one_line_error(code, err, "argument --atol: invalid float value: 'lots'")
    code, _, err = _run(capsys, "diff", ckpt)
    _assert_one_line_error(code, err, "required: b (see 'variables diff --help')")


# ---------------------------------------------------------------------------------
# convert


@pytest.mark.parametrize("suffix", [".npz", ".msgpack", ".safetensors", "/"])
def test_convert_round_trips(ckpt, tmp_path, capsys, suffix):
    dst = str(tmp_path / "converted") + suffix
    code, out, err = _run(capsys, "convert", ckpt, dst)
    assert (code, out, err) == (0, "", "")
    assert not vs.diff(vs.load(ckpt), vs.load(dst))


def test_convert_only_and_separator(tmp_path, capsys):
    src = str(tmp_path / "hf.safetensors")
    vs.save(
        src,
        {"model": {"a": np.ones(2, np.float32), "b": np.ones(1, np.float32)}},
        sep=".",
    )
    dst = str(tmp_path / "out.msgpack")
    assert _run(capsys, "convert", src, dst, "--sep", ".", "--only", "model/a")[0] == 0
    assert vs.checkpoint_index(dst) == {"model/a": ((2,), np.dtype("float32"))}


def test_convert_refuses_to_overwrite(ckpt, tmp_path, capsys):
    dst = str(tmp_path / "out.npz")
    vs.save(dst, {"old": np.zeros(1)})
    code, _, err = _run(capsys, "convert", ckpt, dst)
    _assert_one_line_error(code, err, "out.npz: exists; pass --force to replace it")
    assert vs.checkpoint_index(dst) == {"old": ((1,), np.dtype("float64"))}
    assert _run(capsys, "convert", ckpt, dst, "--force")[0] == 0
    assert "params/head/kernel" in vs.checkpoint_index(dst)
    code, _, err = _run(capsys, "convert", ckpt, ckpt, "--force")
    _assert_one_line_error(code, err, "source and destination are the same path")


def test_convert_errors(ckpt, tmp_path, capsys):
    code, _, err = _run(capsys, "convert", ckpt, str(tmp_path / "out.pt"))
    _assert_one_line_error(code, err, "does not write pickles")
    code, _, err = _run(
        capsys, "convert", str(tmp_path / "no.npz"), str(tmp_path / "out.npz")
    )
    _assert_one_line_error(code, err, "no.npz: no such checkpoint file")
    assert not os.path.exists(tmp_path / "out.npz")


def test_progress_bar(ckpt, tmp_path, capsys):
    dst = str(tmp_path / "out.npz")
    code, out, err = _run(capsys, "convert", ckpt, dst, "--progress")
    assert code == 0 and out == ""
    assert "loading model.safetensors" in err and "saving out.npz" in err
    code, _, err = _run(capsys, "diff", ckpt, dst, "--progress")
    assert code == 0 and "loading out.npz" in err
    code, _, err = _run(capsys, "convert", ckpt, dst, "--force", "--no-progress")
    assert (code, err) == (0, "")


# ---------------------------------------------------------------------------------
# the command itself


def test_usage_errors(capsys):
    code, _, err = _run(capsys)
    _assert_one_line_error(code, err, "the following arguments are required: COMMAND")
    code, _, err = _run(capsys, "bogus")
    _assert_one_line_error(code, err, "invalid choice: 'bogus'")
    code, _, err = _run(capsys, "inspect", "a", "b")
    _assert_one_line_error(code, err, "unrecognized arguments: b")


def test_help_and_version(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "inspect" in out and "convert" in out
    code, out, _ = _run(capsys, "diff", "--help")
    assert code == 0 and "--atol" in out and "exit status 0" in out.lower()
    code, out, _ = _run(capsys, "--version")
    assert (code, out) == (0, f"variables {vs.__version__}\n")


def test_debug_shows_the_exception(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        cli.main(["--debug", "inspect", str(tmp_path / "missing.npz")])


def test_interrupt(ckpt, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "checkpoint_index", interrupted)
    code, _, err = _run(capsys, "inspect", ckpt)
    assert (code, err) == (130, "variables: interrupted\n")


def test_subprocess(ckpt, tmp_path):
    run = [sys.executable, "-m", "variables.cli"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [*run, "inspect", ckpt], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "params/encoder/kernel" in done.stdout
    done = subprocess.run(
        [*run, "diff", ckpt, str(tmp_path / "missing.npz")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("variables: error: ")
    assert len(done.stderr.strip().splitlines()) == 1
