"""Runs examples/finetune_frozen_backbone.py on its tiny model and checks its claims."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

import variables as vs

EXAMPLE = (
    Path(__file__).resolve().parents[1] / "examples" / "finetune_frozen_backbone.py"
)


def load_example(monkeypatch):
    spec = importlib.util.spec_from_file_location("finetune_frozen_backbone", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    # flax modules are dataclasses, which look their module up in sys.modules
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_finetune_example_freezes_the_backbone_and_moves_the_head(capsys, monkeypatch):
    out = load_example(monkeypatch).main(steps=5)
    printed = capsys.readouterr().out
    before, after = vs.flatten(out["params"]), vs.flatten(out["new_params"])
    backbone = {p for p in before if p.startswith("backbone/")}
    head = {p for p in before if p.startswith("head/")}
    assert backbone and head and backbone | head == set(before)
    assert set(out["unchanged"]) == backbone
    assert set(out["moved"]) == head
    for path in backbone:  # bit-identical, not merely close
        old, new = np.asarray(before[path]), np.asarray(after[path])
        assert old.dtype == new.dtype and old.tobytes() == new.tobytes()
    assert out["losses"][-1] < out["losses"][0]
    assert "training 51 parameters, 352 frozen" in printed
    assert "unchanged  backbone/Dense_0/kernel" in printed
    assert "moved      head/kernel" in printed
