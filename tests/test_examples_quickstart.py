"""The README's demo, examples/quickstart.py, runs and shows what it claims."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import jax
import numpy as np

import variables as vs

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def test_quickstart_runs_and_edits_functionally(capsys):
    spec = importlib.util.spec_from_file_location("quickstart", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["quickstart"] = module  # dataclasses (linen modules) look it up
    try:
        spec.loader.exec_module(module)
        out = module.main()
    finally:
        del sys.modules["quickstart"]
    printed = capsys.readouterr().out
    assert "eager edit == jitted edit: True" in printed
    assert "total" in printed and "params/Dense_0" in printed
    original, edited = out["variables"], out["edited"]
    assert type(original["params"]) is dict
    np.testing.assert_allclose(
        edited["params"]["Dense_0"]["kernel"], original["params"]["Dense_0"]["kernel"] * 0.5
    )
    np.testing.assert_array_equal(edited["params"]["Dense_1"]["bias"], np.zeros(3))
    assert edited["params"]["Dense_0"]["bias"] is original["params"]["Dense_0"]["bias"]
    assert out["output"].shape == (2, 3)
    assert vs.count(original) == sum(x.size for x in jax.tree_util.tree_leaves(original))
