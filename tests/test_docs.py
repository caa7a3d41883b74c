"""Checks on the documentation site (mkdocs.yml, docs/ and the docstrings).

* every public name of `variables` has a ``::: variables.<name>`` entry on exactly
  one page of docs/api/, and every such entry names a public name;
* the nav of mkdocs.yml and the Markdown files under docs/ are the same set;
* every public function and class has an ``Examples:`` section with a ``>>>`` example
  (apart from the explicit, shrinking list ``MISSING_EXAMPLES_ALLOWED``);
* ``mkdocs build --strict`` succeeds (when the docs tools are installed).

The ``>>>`` examples themselves are run by pytest (``--doctest-modules`` over
variables/ and ``--doctest-glob=*.md`` over docs/), not here.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

import variables

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API = DOCS / "api"
MKDOCS_YML = ROOT / "mkdocs.yml"

# Public names whose docstring has no ``Examples:`` section with a ``>>>`` line yet.
# Each belongs to a module another engineer owns; remove a name once its docstring
# gains an example (the test below fails on entries that are no longer needed).
MISSING_EXAMPLES_ALLOWED: frozenset[str] = frozenset(
    {
        # _at (foundation)
        "At",
        # _errors
        "VariablesError",
        "PathError",
        "StructureError",
        "MergeConflictError",
        "LoadError",
        "SaveError",
        "FrozenInstanceError",
        "DraftError",
        "DataclassError",
        "FieldError",
        "TransplantError",
        "RenameError",
    }
)

_ENTRY = re.compile(r"^:::\s+variables\.([A-Za-z_][A-Za-z0-9_]*)\s*$", re.MULTILINE)


def public_names() -> list[str]:
    """`dir(variables)` minus dunders, private names and submodules."""
    return sorted(
        name
        for name in dir(variables)
        if not name.startswith("_")
        and not isinstance(getattr(variables, name), types.ModuleType)
    )


def api_entries() -> dict[str, list[str]]:
    """``{name: [api pages that have a ::: variables.<name> entry]}``."""
    entries: dict[str, list[str]] = {}
    for page in sorted(API.glob("*.md")):
        for name in _ENTRY.findall(page.read_text(encoding="utf-8")):
            entries.setdefault(name, []).append(page.name)
    return entries


def nav_pages() -> list[str]:
    """Every page named in the nav of mkdocs.yml, relative to docs/."""
    config = yaml.safe_load(MKDOCS_YML.read_text(encoding="utf-8"))
    pages: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, str):
            pages.append(node)
        elif isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            for value in node.values():
                visit(value)

    visit(config["nav"])
    return pages


def examples_section(doc: str) -> str | None:
    """The body of the Google-style ``Examples:`` section of ``doc``, or None."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Examples:":
            indent = len(line) - len(line.lstrip())
            body = []
            for following in lines[i + 1 :]:
                stripped = following.strip()
                if stripped and len(following) - len(following.lstrip()) <= indent:
                    break
                body.append(following)
            return "\n".join(body)
    return None


def has_runnable_example(obj: object) -> bool:
    section = examples_section(inspect.getdoc(obj) or "")
    return section is not None and ">>>" in section


def test_public_names_found():
    # Guards the helpers below against silently checking nothing.
    names = public_names()
    assert {"at", "get", "PathError", "freeze"} <= set(names)
    assert not [n for n in names if isinstance(getattr(variables, n), types.ModuleType)]


def test_every_public_name_is_on_an_api_page():
    entries = api_entries()
    missing = [name for name in public_names() if name not in entries]
    assert not missing, (
        f"public names of `variables` with no `::: variables.<name>` entry in "
        f"docs/api/*.md: {missing}. Add each under the page of its concept "
        f"(pages: {sorted(p.name for p in API.glob('*.md'))})."
    )


def test_every_api_entry_is_a_public_name_listed_once():
    public = set(public_names())
    entries = api_entries()
    unknown = {name: pages for name, pages in entries.items() if name not in public}
    assert not unknown, (
        f"docs/api entries that are not public names of `variables`: {unknown}. "
        f"Remove them, or export the name from variables/__init__.py."
    )
    repeated = {name: pages for name, pages in entries.items() if len(pages) > 1}
    assert not repeated, f"names documented more than once: {repeated}"


def test_every_api_page_documents_something():
    empty = [
        page.name
        for page in sorted(API.glob("*.md"))
        if not _ENTRY.search(page.read_text(encoding="utf-8"))
    ]
    assert not empty, f"API pages with no `::: variables.<name>` entry: {empty}"


def test_nav_pages_exist():
    missing = [page for page in nav_pages() if not (DOCS / page).is_file()]
    assert not missing, (
        f"pages named in the nav of mkdocs.yml that do not exist under docs/: "
        f"{missing}"
    )


def test_every_docs_page_is_in_nav():
    in_nav = set(nav_pages())
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    orphans = sorted(on_disk - in_nav)
    assert not orphans, f"docs pages missing from the nav of mkdocs.yml: {orphans}"
    repeated = sorted({p for p in nav_pages() if nav_pages().count(p) > 1})
    assert not repeated, f"pages listed twice in the nav: {repeated}"


def test_examples_section_parser():
    doc = "Summary.\n\nExamples:\n    >>> 1 + 1\n    2\n\nNote:\n    text\n"
    assert ">>> 1 + 1" in examples_section(doc)
    assert examples_section("Summary.\n\nArgs:\n    x: a value.\n") is None
    # A >>> line outside the Examples section does not count.
    doc = "Summary.\n\n    >>> 1\n\nExamples:\n    see the guide\n\nNote:\n    >>> 2\n"
    assert ">>>" not in examples_section(doc)


def test_public_api_has_examples():
    documented = [
        name
        for name in public_names()
        if inspect.isfunction(getattr(variables, name))
        or inspect.isclass(getattr(variables, name))
    ]
    lacking = {
        name
        for name in documented
        if not has_runnable_example(getattr(variables, name))
    }
    unexpected = sorted(lacking - MISSING_EXAMPLES_ALLOWED)
    assert not unexpected, (
        f"public functions/classes whose docstring has no `Examples:` section with "
        f"a `>>>` example: {unexpected}"
    )
    stale = sorted(MISSING_EXAMPLES_ALLOWED - lacking)
    assert not stale, (
        f"these names now have examples (or are no longer public): remove them "
        f"from MISSING_EXAMPLES_ALLOWED in tests/test_docs.py: {stale}"
    )


def _missing_docs_tools() -> list[str]:
    modules = {
        "mkdocs": "mkdocs",
        "material": "mkdocs-material",
        "mkdocstrings": "mkdocstrings[python]",
        "mkdocstrings_handlers.python": "mkdocstrings[python]",
    }
    missing = []
    for module, package in modules.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found and package not in missing:
            missing.append(package)
    return missing


def test_mkdocs_build_strict(tmp_path):
    missing = _missing_docs_tools()
    if missing:
        pytest.skip(
            f"the docs tools are not installed ({', '.join(missing)}): "
            f'pip install -e ".[docs]" to run the strict mkdocs build'
        )
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(MKDOCS_YML),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"mkdocs build --strict failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}",
            pytrace=False,
        )
    assert (tmp_path / "site" / "api" / "editing" / "index.html").is_file()
