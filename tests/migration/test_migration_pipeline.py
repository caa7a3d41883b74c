"""The one-pass pipeline and the programmatic API (transform_source, migrate_paths)."""

import dataclasses
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import migration
from migration import MigrationResult, Refusal, migrate_paths, transform_source
from migration._pipeline import MigrateFrozenDictCommand


def migrate(source: str, **options) -> MigrationResult:
    return transform_source(textwrap.dedent(source).lstrip(), **options)


# --- the API contract -----------------------------------------------------------------


def test_result_fields_and_unchanged_input():
    source = "import os\nprint(os.sep)\n"
    result = transform_source(source, filename="plain.py")
    assert result == MigrationResult("plain.py", source, source, False, {}, (), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.code = ""  # type: ignore[misc]


def test_parse_error_is_reported_not_raised():
    for source in ("import flax\ndef f(:\n", "def f(:\n", "import flax\nx = (\n"):
        result = transform_source(source, filename="bad.py")
        assert result.error is not None and result.error.startswith(
            "does not parse: line"
        )
        assert result.code == source and not result.changed


def test_odd_input_is_reported_not_raised():
    assert transform_source(b"import flax\n").error == (
        "expected source text (str), got bytes"
    )
    assert transform_source("import flax\nx = 1\x00\n").error.startswith(
        "does not parse"
    )
    deep = "import flax\nx = " + "(" * 5000 + ")" * 5000 + "\nfreeze\n"
    assert transform_source(deep).error.startswith("does not parse")


def test_internal_error_keeps_the_file(monkeypatch):
    def boom(self, tree):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(MigrateFrozenDictCommand, "transform_module_impl", boom)
    result = transform_source("import flax\nx = flax.core.freeze({})\n")
    assert result.error == "internal error: RuntimeError: kaboom"
    assert not result.changed and result.code == result.original


def test_import_counts_and_refusal_order():
    result = migrate(
        """
        import flax
        from flax.core import FrozenDict, freeze, unfreeze

        def f(p, cache):
            cache[freeze({"k": 1})] = 1
            q = unfreeze(p)
            q["x"] = 1
            return FrozenDict(a=1), q
        """,
        filename="m.py",
    )
    assert result.rewrites == {"P01": 1, "P05": 1}
    assert result.refusals == (
        Refusal("m.py", 5, "P04a/HASH", result.refusals[0].reason),
        Refusal("m.py", 6, "P02/MUT", result.refusals[1].reason),
    )
    assert "from flax.core import freeze, unfreeze\n" in result.code


def test_dual_helpers_stay_byte_identical():
    source = textwrap.dedent(
        """\
        import flax

        rest, p = flax.core.pop(vars_, "params")
        t2 = flax.core.copy(t, {"k": v})
        """
    )
    assert transform_source(source).code == source


def test_package_never_imports_the_runtime_library():
    import ast
    import importlib
    import pkgutil
    from pathlib import Path

    for info in pkgutil.walk_packages(migration.__path__, "migration."):
        spec = importlib.util.find_spec(info.name)
        tree = ast.parse(Path(spec.origin).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "variables" for a in node.names)
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "variables"


# --- families working together ----------------------------------------------------


def test_a_realistic_module():
    result = migrate(
        """
        import flax
        import flax.linen as nn
        import jax
        from flax.core import FrozenDict, freeze, unfreeze

        Params = FrozenDict


        def create(model, key, x) -> Params:
            variables = model.init(key, x)
            others, params = variables.pop("params")
            params = unfreeze(params)
            params["head"]["bias"] = jax.numpy.zeros(3)
            return freeze(params)


        def report(state):
            tree = state.params.unfreeze()
            print(jax.tree_util.tree_map(jax.numpy.shape, tree))
            return isinstance(tree, (dict, FrozenDict))
        """
    )
    assert result.code == textwrap.dedent(
        """\
        import flax
        import flax.linen as nn
        import jax
        from flax.core import unfreeze
        from collections.abc import Mapping
        from typing import Any


        def create(model, key, x) -> dict[str, Any]:
            variables = model.init(key, x)
            others, params = {k: v for k, v in variables.items() if k != "params"}, variables["params"]
            params = unfreeze(params)
            params["head"]["bias"] = jax.numpy.zeros(3)
            return params


        def report(state):
            tree = state.params
            print(jax.tree_util.tree_map(jax.numpy.shape, tree))
            return isinstance(tree, Mapping)
        """
    )
    assert result.rewrites == {
        "P01": 2,
        "P03": 1,
        "P04": 1,
        "P06": 1,
        "P07": 1,
        "P08b": 1,
        "P10": 1,
    }
    assert [r.pattern for r in result.refusals] == ["P02/MUT"]


def test_annotate_marks_refusals_once():
    result = migrate(
        """
        import flax
        from flax.core import unfreeze

        def f(params):
            new = unfreeze(params)  # graft
            new["encoder"] = 1
            return new
        """,
        annotate=True,
    )
    assert result.code.splitlines()[4].startswith(
        "    # variables-migration: P02/MUT: the copy may be changed"
    )
    assert result.changed and result.rewrites == {}
    assert migrate(result.code, annotate=True).code == result.code


def test_crlf_and_tabs_survive():
    source = "import flax\r\nif x:\r\n\ty = flax.core.freeze({})\r\n"
    assert transform_source(source).code == "if x:\r\n\ty = {}\r\n"


# --- properties ------------------------------------------------------------------------

SNIPPETS = [
    "a = flax.core.freeze({'a': 1})",
    "b = unfreeze(state.params)\nprint(b)",
    "c = unfreeze(state.params)\nc['x'] = 1",
    "d = state.params.unfreeze()\nd['y'] = 2",
    "r, p = variables.pop('params')",
    "_, q = variables.pop('params')",
    "e = batch.copy(add_or_replace={'obs': 1})",
    "f = isinstance(n, (dict, FrozenDict))",
    "g = isinstance(n, FrozenDict)",
    "h = {freeze({'k': 1}): 1}",
    "i = FrozenDict(params=p)",
    "j = jax.tree_util.tree_map(f, freeze(t), u)",
    "k = flax.core.pretty_repr(t)",
    "l = t.pretty_repr()",
    "m = freeze(x).unfreeze()",
]
NEGATIVE = [
    "n = d.pop(k)",
    "o = np.copy(a)",
    "q = params.copy()",
    "s = torch.jit.freeze(model)",
    "t, w = stack.pop()",
]
HEADER = "import flax\nimport jax\nimport numpy as np\nimport torch\nfrom flax.core import FrozenDict, freeze, unfreeze\n"


@settings(max_examples=25, deadline=None)
@given(
    chosen=st.lists(st.sampled_from(SNIPPETS + NEGATIVE), min_size=1, max_size=6),
    in_function=st.booleans(),
    options=st.fixed_dictionaries(
        {"use_variables": st.booleans(), "annotate": st.booleans()}
    ),
)
def test_output_compiles_is_idempotent_and_keeps_look_alikes(
    chosen, in_function, options
):
    body = "\n".join(chosen)
    if in_function:
        body = (
            "def f(state, variables, batch, n, t, u, x, p, d, a, params, model, stack):\n"
            + textwrap.indent(body, "    ")
        )
    result = transform_source(HEADER + body + "\n", **options)
    assert result.error is None
    compile(result.code, "<migrated>", "exec")
    again = transform_source(result.code, **options)
    assert again.code == result.code and again.rewrites == {}
    for line in chosen:
        if line in NEGATIVE:
            assert line in result.code


# --- migrate_paths ---------------------------------------------------------------------


def test_migrate_paths_writes_atomically_and_skips_broken(tmp_path):
    good = tmp_path / "pkg" / "good.py"
    good.parent.mkdir()
    good.write_text("import flax\nx = flax.core.freeze({})\n")
    good.chmod(0o640)
    broken = tmp_path / "pkg" / "broken.py"
    broken.write_text("import flax\ndef f(:\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "skip.py").write_text(
        "import flax\nx = flax.core.freeze({})\n"
    )
    results = migrate_paths([tmp_path], write=True)
    assert [r.filename.rsplit("/", 1)[1] for r in results] == ["broken.py", "good.py"]
    assert (
        good.read_text() == "x = {}\n" and oct(good.stat().st_mode & 0o777) == "0o640"
    )
    assert broken.read_text() == "import flax\ndef f(:\n" and results[0].error
    assert not list(tmp_path.rglob("*.tmp"))


def test_migrate_paths_keeps_the_encoding(tmp_path):
    path = tmp_path / "latin.py"
    text = "# -*- coding: latin-1 -*-\nimport flax\nname = 'café'\nx = flax.core.freeze({})\n"
    path.write_bytes(text.encode("latin-1"))
    migrate_paths([path], write=True)
    assert path.read_bytes() == text.replace("flax.core.freeze({})", "{}").replace(
        "import flax\n", ""
    ).encode("latin-1")


def test_jobs_give_the_same_results(tmp_path):
    for i in range(4):
        (tmp_path / f"m{i}.py").write_text(
            f"import flax\nx{i} = flax.core.freeze({{}})\n"
        )
    serial = migrate_paths([tmp_path])
    parallel = migrate_paths([tmp_path], jobs=2)
    assert serial == parallel and all(r.changed for r in serial)
