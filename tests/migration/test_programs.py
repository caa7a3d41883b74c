"""Differential tests of the migration codemod on realistic FrozenDict-era programs.

Each module in ``programs/`` is written the old way and exposes ``main() -> pytree``.
The oracle is the original run with ``flax_return_frozendict`` switched on (the world
it was written for); the migrated program must give the same outputs under default
Flax, leaf by leaf and with exactly the same container types, where every FrozenDict
of the old world has become a plain dict. ``==`` is not good enough for this: a
FrozenDict compares equal to the matching dict (the EQ trap), so the comparison goes
through ``jax.tree_util.tree_structure``.

The original is also run under default Flax, to show the bug the migration fixes.
"""

import ast
import dataclasses
import sys
import types
from pathlib import Path

import flax
import jax
import numpy as np
import pytest
from flax.core import FrozenDict

from migration import migrate_paths, transform_source

PROGRAMS = Path(__file__).parent / "programs"


# --- running a program from source ---------------------------------------------------


def run_program(source: str, *, frozen: bool, name: str = "program", call="main"):
    """Executes ``source`` as a fresh module and returns ``call(module)``.

    Args:
        source: the program text.
        frozen: run with ``flax_return_frozendict`` on (the pre-migration world).
        name: the module name the program runs under.
        call: ``"main"``, or a function of the module object to run instead.
    """
    module = types.ModuleType(f"_differential_{name}")
    module.__file__ = str(PROGRAMS / f"{name}.py")
    previous_flag = flax.config.flax_return_frozendict
    sys.modules[module.__name__] = module
    flax.config.update("flax_return_frozendict", frozen)
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        return module.main() if call == "main" else call(module)
    finally:
        flax.config.update("flax_return_frozendict", previous_flag)
        del sys.modules[module.__name__]


# --- comparing outputs ---------------------------------------------------------------


def thaw(tree):
    """Returns ``tree`` with every FrozenDict node replaced by a dict, nothing else.

    This is what the migrated program is expected to return for the old program's
    output: the same tree with dicts where FrozenDicts were. Other containers
    (tuples, lists, namedtuples, ``TrainState``) keep their type.
    """
    if isinstance(tree, FrozenDict):
        return {key: thaw(tree[key]) for key in tree}
    if tree is None:
        return None
    children, treedef = jax.tree_util.tree_flatten(
        tree, is_leaf=lambda node: node is not tree
    )
    if jax.tree_util.treedef_is_leaf(treedef):
        return tree
    return jax.tree_util.tree_unflatten(treedef, [thaw(c) for c in children])


def assert_same_tree(expected, got):
    """Asserts identical tree structure (container types included) and leaves."""
    expected_def = jax.tree_util.tree_structure(expected)
    got_def = jax.tree_util.tree_structure(got)
    assert expected_def == got_def, (
        f"tree structures differ:\nexpected {expected_def}\n     got {got_def}"
    )
    expected_leaves = jax.tree_util.tree_flatten_with_path(expected)[0]
    for (path, want), have in zip(
        expected_leaves, jax.tree_util.tree_leaves(got), strict=True
    ):
        where = jax.tree_util.keystr(path)
        if isinstance(want, jax.Array | np.ndarray | np.generic):
            assert isinstance(have, jax.Array | np.ndarray | np.generic), where
            want, have = np.asarray(want), np.asarray(have)
            assert (want.dtype, want.shape) == (have.dtype, have.shape), where
            if np.issubdtype(want.dtype, np.inexact):
                np.testing.assert_allclose(have, want, rtol=1e-6, err_msg=where)
            else:
                np.testing.assert_array_equal(have, want, err_msg=where)
        else:
            assert type(want) is type(have) and want == have, (where, want, have)


def test_thaw_replaces_only_frozendicts():
    inner = FrozenDict({"w": np.ones(2)})
    tree = {"a": (inner, [FrozenDict({}), None]), "b": 3}
    out = thaw(tree)
    assert type(out["a"][0]) is dict and type(out["a"][1][0]) is dict
    assert type(out["a"]) is tuple and type(out["a"][1]) is list
    assert out["a"][1][1] is None and out["b"] == 3


def test_assert_same_tree_sees_what_equality_misses():
    assert FrozenDict({"w": {"b": 0.0}}) == {"w": {"b": 0.0}}  # the EQ trap
    frozen = FrozenDict({"w": {"b": np.zeros(2)}})
    plain = {"w": {"b": np.zeros(2)}}
    with pytest.raises(AssertionError, match="tree structures differ"):
        assert_same_tree(plain, frozen)
    with pytest.raises(AssertionError, match="Mismatched elements"):
        assert_same_tree(plain, {"w": {"b": np.ones(2)}})
    with pytest.raises(AssertionError, match=r"\['w'\]\['b'\]"):
        assert_same_tree(plain, {"w": {"b": np.zeros(2, np.int32)}})
    with pytest.raises(AssertionError):
        assert_same_tree({"n": 1}, {"n": 1.0})
    assert_same_tree(thaw(frozen), plain)


# --- static checks of the migrated text ----------------------------------------------

_HELPER_MODULES = ("flax.core", "flax.core.frozen_dict")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def leftover_dict_breakers(code: str) -> list[tuple[int, str]]:
    """Lists (line, idiom) of FrozenDict-only methods that fail or misbehave on dicts.

    ``x.unfreeze()``; ``x.copy(...)`` with arguments (except the dict-safe
    ``flax.core.copy``); and ``a, b = x.pop(k)`` (except ``flax.core.pop``).
    """
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            helper = _dotted(node.func.value) in _HELPER_MODULES
            if node.func.attr == "unfreeze" and not node.args and not helper:
                found.append((node.lineno, ".unfreeze()"))
            if node.func.attr == "copy" and (node.args or node.keywords):
                if not helper:
                    found.append((node.lineno, ".copy(...)"))
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            value = node.value
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr == "pop"
                and _dotted(value.func.value) not in _HELPER_MODULES
            ):
                found.append((node.lineno, "tuple = .pop(...)"))
    return sorted(found)


def frozen_constructor_lines(code: str) -> list[tuple[int, int]]:
    """Line spans of ``freeze(...)``/``FrozenDict(...)`` calls (any spelling)."""
    spans = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            name = _dotted(node.func).rsplit(".", 1)[-1]
            if name in ("freeze", "FrozenDict", "_freeze"):
                spans.append((node.lineno, node.end_lineno))
    return spans


def unused_flax_imports(code: str) -> list[str]:
    """Names imported ``from flax.core[...]`` that nothing in the module uses."""
    tree = ast.parse(code)
    imported = [
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("flax.core")
        for alias in node.names
    ]
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return [name for name in imported if name not in used]


def test_unused_flax_imports():
    code = (
        "from flax.core import freeze, unfreeze as thaw\nfrom os import path\nthaw(1)\n"
    )
    assert unused_flax_imports(code) == ["freeze"]


def test_leftover_dict_breakers_finds_each_idiom():
    code = (
        "a = p.unfreeze()\n"
        "b = v.copy(add_or_replace={'x': 1})\n"
        "c = v['p'].copy({'x': 1})\n"
        "r, q = v.pop('params')\n"
        "ok1 = v.copy()\nok2 = flax.core.copy(v, {})\nok3 = v.pop('k')\n"
        "ok4, ok5 = flax.core.pop(v, 'k')\nok6 = flax.core.unfreeze(v)\n"
    )
    assert leftover_dict_breakers(code) == [
        (1, ".unfreeze()"),
        (2, ".copy(...)"),
        (3, ".copy(...)"),
        (4, "tuple = .pop(...)"),
    ]


# --- the programs --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Program:
    """What the differential test expects of one program.

    Attributes:
        name: module name in ``programs/``.
        patterns: catalogue ids that must appear among the rewrites, matched by
            prefix (``"P04"`` accepts ``P04``, ``P04a``, ...).
        old_bug: (exception type, message regex) the unmigrated program raises
            under default Flax, or ``None`` when it was already dict-safe.
        traps: trap tags (``HASH``, ``MUT``, ...) that must appear among the
            refusals' patterns (``"P04/HASH"`` carries ``P04`` and ``HASH``).
        frozen_ok: top-level output keys that may legitimately stay FrozenDicts
            after migration, because the codemod refuses to change their type
            (a SERIAL restore target); they are compared after ``thaw``.
        hashable_sites: the program needs its ``freeze``/``FrozenDict`` values to stay
            hashable; any that survive migration must be reported as refusals.
    """

    name: str
    patterns: tuple[str, ...]
    old_bug: tuple[type[BaseException], str] | None
    traps: tuple[str, ...] = ()
    hashable_sites: bool = False
    frozen_ok: tuple[str, ...] = ()

    def source(self) -> str:
        return (PROGRAMS / f"{self.name}.py").read_text()


CASES = [
    Program(
        "frozen_train_state",
        ("P01", "P02", "P03", "P04"),
        (AttributeError, "no attribute 'unfreeze'"),
    ),
    Program(
        "frozen_ensemble_copy",
        ("P01", "P05", "P09"),
        (TypeError, "copy.. takes no keyword arguments"),
    ),
    # The first dict.pop deletes "params", so the Trainer's pop raises KeyError.
    Program("frozen_two_layer_pop", ("P10",), (KeyError, "params")),
    Program(
        "frozen_three_layer_pop",
        ("P04", "P09", "P10"),
        (ValueError, "too many values to unpack"),
    ),
    Program(
        "frozen_decode_cache",
        ("P01", "P02", "P04"),
        (TypeError, "carry input and carry output must have the same pytree"),
    ),
    Program(
        "frozen_hashable_config",
        (),
        None,
        traps=("HASH", "DCDEF"),
        hashable_sites=True,
    ),
    Program(
        "frozen_weight_surgery",
        ("P02", "P04", "P06", "P07", "P08"),
        (ValueError, "pytree structure error: different types"),
        traps=("TYPEPRES", "MUT"),
    ),
    Program(
        "frozen_checkpoint_restore",
        ("P04c", "P17"),
        None,
        traps=("LINEN", "SERIAL"),
        frozen_ok=("restored",),
    ),
]
IDS = [case.name for case in CASES]


@pytest.fixture(scope="module")
def migrated():
    """The codemod's result for every program, computed once."""
    return {
        case.name: transform_source(case.source(), filename=case.name) for case in CASES
    }


@pytest.fixture(scope="module")
def expected_outputs():
    """Each original program's output in the world it was written for."""
    cache = {}

    def get(case):
        if case.name not in cache:
            cache[case.name] = run_program(case.source(), frozen=True, name=case.name)
        return cache[case.name]

    return get


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_program_migrates_to_same_outputs(case, migrated, expected_outputs):
    result = migrated[case.name]
    assert result.error is None
    expected = thaw(expected_outputs(case))
    got = run_program(result.code, frozen=False, name=case.name)
    for key in case.frozen_ok:
        treedef = jax.tree_util.tree_structure
        if treedef(thaw(got[key])) != treedef(got[key]):
            assert result.refusals, f"{key} stayed a FrozenDict without a refusal"
        got[key] = thaw(got[key])
    assert_same_tree(expected, got)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_program_rewrites_and_refusals(case, migrated):
    result = migrated[case.name]
    assert result.error is None
    compile(result.code, case.name, "exec")
    # A dict-breaking idiom may stay only where a refusal explains it (a Linen
    # field's ``.copy`` is FrozenDict.copy even in current flax).
    original_lines = result.original.splitlines()
    refused_text = {original_lines[r.line - 1].strip() for r in result.refusals}
    code_lines = result.code.splitlines()
    unexplained = [
        (line, idiom)
        for line, idiom in leftover_dict_breakers(result.code)
        if code_lines[line - 1].strip() not in refused_text
    ]
    assert unexplained == []
    assert unused_flax_imports(result.code) == []
    refused = {part for r in result.refusals for part in r.pattern.split("/")}
    assert set(case.traps) <= refused, (case.traps, result.refusals)
    for pattern in case.patterns:
        assert any(key.startswith(pattern) for key in result.rewrites), (
            pattern,
            result.rewrites,
        )
    if case.patterns:
        assert result.changed and result.code != result.original
    if case.hashable_sites:
        # Every freeze/FrozenDict left in place must be explained by a refusal
        # at its line of the original program (the code is unchanged there).
        kept = frozen_constructor_lines(result.code)
        original_spans = frozen_constructor_lines(result.original)
        refused = {r.line for r in result.refusals}
        explained = [
            span
            for span in original_spans
            if any(span[0] <= line <= span[1] for line in refused)
        ]
        assert len(explained) >= len(kept), (kept, result.refusals)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_program_migration_is_idempotent(case, migrated):
    once = migrated[case.name].code
    twice = transform_source(once, filename=case.name)
    assert twice.error is None
    assert twice.code == once
    assert not twice.changed


@pytest.mark.parametrize("case", [c for c in CASES if c.old_bug], ids=lambda c: c.name)
def test_unmigrated_program_breaks_under_default_flax(case):
    error, message = case.old_bug
    with pytest.raises(error, match=message):
        run_program(case.source(), frozen=False, name=case.name)


def test_dict_pop_silently_binds_the_two_module_names():
    # The P10 trap behind frozen_two_layer_pop: on a dict, ``pop`` returns the value,
    # and a two-module parameter tree unpacks into its two keys without an error.
    def split(module):
        x = jax.numpy.ones((1, 3))
        variables = module.TwoLayer().init(jax.random.PRNGKey(0), x)
        counters, params = variables.pop("params")
        return counters, params, variables

    source = (PROGRAMS / "frozen_two_layer_pop.py").read_text()
    counters, params, variables = run_program(source, frozen=False, call=split)
    assert (counters, params) == ("Dense_0", "Dense_1")
    assert "params" not in variables  # and the caller's tree lost its parameters
    counters, params, variables = run_program(source, frozen=True, call=split)
    assert set(params) == {"Dense_0", "Dense_1"} and set(counters) == {"counters"}
    assert "params" in variables


@pytest.mark.parametrize(
    "case", [c for c in CASES if not c.old_bug], ids=lambda c: c.name
)
def test_dict_safe_program_runs_unmigrated(case, expected_outputs):
    # The program pins its own container types (explicit freeze calls), so only
    # the values and the non-FrozenDict structure are compared.
    expected = thaw(expected_outputs(case))
    got = run_program(case.source(), frozen=False, name=case.name)
    assert_same_tree(expected, thaw(got))


def test_migrate_paths_agrees_with_transform_source(migrated, tmp_path):
    name = "frozen_two_layer_pop"
    target = tmp_path / f"{name}.py"
    target.write_text(migrated[name].original)
    (tmp_path / "no_flax.py").write_text("x = {'a': 1}.pop('a')\n")
    results = migrate_paths([tmp_path], write=False)
    assert [Path(r.filename).name for r in results] == [
        "frozen_two_layer_pop.py",
        "no_flax.py",
    ]
    assert results[0].code == migrated[name].code and results[0].changed
    assert results[0].rewrites == migrated[name].rewrites
    assert not results[1].changed and results[1].rewrites == {}
    assert target.read_text() == migrated[name].original  # write=False
