"""Imports the codemod removes and adds (P01), through LibCST's import visitors.

An import is removed only when the migration took away its last use; a use is a
name outside the top-level import lines, a string equal to the name (``__all__``)
or a string annotation naming it. Comments and prose in docstrings are not uses.
"""

from __future__ import annotations

import ast

import pytest

from migration import transform_source

HEADER = "from flax.core import FrozenDict\n\n"


def _imports(code: str) -> set[str]:
    found = set()
    for node in ast.parse(code).body:
        if isinstance(node, ast.ImportFrom):
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


@pytest.mark.parametrize(
    "extra, kept",
    [
        ("", False),
        ('"""Module that once used ``FrozenDict(...)`` everywhere."""\n', False),
        ("# FrozenDict used to live here\n", False),
        ("other.FrozenDict\n", False),
        ('__all__ = ["FrozenDict"]\n', True),
        ('def f(x: "Dict[str, FrozenDict]"):\n    return x\n', True),
        ('def f(x: "FrozenDict | None"):\n    return x\n', True),
        ("label = f'{FrozenDict}'\n", True),
        ("def g(FrozenDict=None):\n    return FrozenDict\n", True),
    ],
)
def test_an_import_goes_only_with_its_last_use(extra, kept):
    source = HEADER + "x = FrozenDict(a=1)\n" + extra
    result = transform_source(source)
    assert result.error is None
    assert "x = dict(a=1)" in result.code
    assert ("flax.core.FrozenDict" in _imports(result.code)) is kept
    assert transform_source(result.code).code == result.code


def test_a_rewritten_api_name_used_elsewhere_keeps_its_import():
    source = HEADER + (
        "x = FrozenDict(a=1)\n\n\ndef later(y):\n    return isinstance(y, FrozenDict)\n"
    )
    result = transform_source(source)
    assert "x = dict(a=1)" in result.code
    assert [r.pattern for r in result.refusals] == ["P06/SUBTREE"]
    assert "flax.core.FrozenDict" in _imports(result.code)


def test_needed_import_added_once_and_only_when_missing():
    source = (
        "import flax\nfrom flax.core import FrozenDict\n\n\n"
        "def f(x):\n    y = x.unfreeze()\n    y['a'] = 1\n    return y\n"
    )
    result = transform_source(source)
    assert "flax.core.unfreeze(x)" in result.code
    assert result.code.count("import flax\n") == 1
    fresh = source.replace("import flax\n", "import flax.linen as nn\n")
    added = transform_source(fresh)
    assert added.code.count("import flax\n") == 1
    assert _imports(added.code) >= {"flax", "flax.linen"}
