"""docs/migration.md: every before/after pair is exactly what the codemod produces."""

import re
from pathlib import Path

import pytest

from migration import transform_source

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration.md"
FENCE = re.compile(r'```(\w+) title="([^"]*)"\n(.*?)```', re.S)


def examples():
    """(title, before, options, after, reported) for every pair in the page."""
    blocks = FENCE.findall(DOC.read_text())
    found = []
    for i, (_, title, body) in enumerate(blocks):
        if not title.startswith("before"):
            continue
        options = {
            "use_variables": "--use-variables" in title,
            "annotate": "--annotate" in title,
        }
        after_title, after = blocks[i + 1][1], blocks[i + 1][2]
        assert after_title == "after", (
            f"block {i}: 'before' must be followed by 'after'"
        )
        reported = ""
        if i + 2 < len(blocks) and blocks[i + 2][1] == "reported":
            reported = blocks[i + 2][2]
        found.append((body, options, after, reported))
    return found


EXAMPLES = examples()


def test_page_has_examples_for_every_pattern_and_trap():
    text = DOC.read_text()
    headings = re.findall(r"^### (.+)$", text, re.M)
    ids = [f"P{n:02d}" for n in range(1, 18)] + [
        "P02a",
        "P02b",
        "P04a",
        "P04b",
        "P04c",
        "P06a",
        "P08b",
    ]
    traps = [
        "HASH",
        "DCDEF",
        "TREEDEF",
        "MUT",
        "TYPEPRES",
        "SUBTREE",
        "ALIAS",
        "LINEN",
        "EQ",
        "SERIAL",
        "REPR",
        "NEG",
        "FLAG",
    ]
    for name in ids + traps:
        assert any(re.search(rf"\b{name}\b", h) for h in headings) or (
            f"/{name}" in text
        ), name
    assert len(EXAMPLES) >= 40


@pytest.mark.parametrize("before, options, after, reported", EXAMPLES)
def test_example(before, options, after, reported):
    result = transform_source(before, **options)
    assert result.error is None
    assert result.code == after
    got = [f"line {r.line}: {r.pattern}: {r.reason}" for r in result.refusals]
    assert got == reported.splitlines()
    assert transform_source(result.code, **options).code == result.code
