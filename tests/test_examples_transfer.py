"""Runs examples/transfer_learning.py on its tiny model and checks its claims."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

import variables as vs

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "transfer_learning.py"


def load_example(monkeypatch):
    spec = importlib.util.spec_from_file_location("transfer_learning", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    # flax modules are dataclasses, which look their module up in sys.modules
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_transfer_learning_moves_only_the_head(tmp_path, capsys, monkeypatch):
    out = load_example(monkeypatch).main(workdir=str(tmp_path), steps=8)
    printed = capsys.readouterr().out

    # The transplant copied the backbone, kept the new head, skipped the old one.
    report = out["report"]
    copied = {d for d, _ in report.copied}
    assert copied and all(d.startswith("params/backbone/") for d in copied)
    assert all(d == s for d, s in report.copied)
    assert set(report.kept) == {"params/head/kernel", "params/head/bias"}
    assert set(report.skipped) == {"params/head/kernel", "params/head/bias"}
    assert report.ok and "transplant: 4 copied, 2 kept, 2 skipped" in printed

    # Fine-tuning moved the head and nothing else.
    diff = out["diff"]
    assert diff and not diff.added and not diff.removed and not diff.changed_type
    assert {p for p, _ in diff.changed_value} == {
        "params/head/kernel",
        "params/head/bias",
    }
    assert all(d > 0 for _, d in diff.changed_value)
    assert "2 paths differ" in printed

    # The backbone is bit-identical to the checkpoint, before and after tuning.
    assert type(out["before"]) is vs.Model and type(out["after"]) is vs.Model
    pretrained = vs.flatten(out["pretrained"]["params"]["backbone"])
    after = vs.flatten(out["after"].params["backbone"])
    assert pretrained.keys() == after.keys() and len(pretrained) == 4
    for path, old in pretrained.items():
        new = np.asarray(after[path])
        assert old.dtype == new.dtype and old.tobytes() == new.tobytes(), path

    # The checkpoint is still there, and the new head trained.
    assert (tmp_path / "pretrained.safetensors").is_file()
    assert out["losses_a"][-1] < out["losses_a"][0]
    assert out["losses_b"][-1] < out["losses_b"][0]
