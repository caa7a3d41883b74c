"""The fast analysis paths of the codemod agree with LibCST's own machinery.

The facts pass reads the tree with ``migration._walk.walk`` instead of
``node.visit`` and derives qualified names from its own scopes instead of LibCST's
``ScopeProvider``; the one-pass pipeline walks only the subtrees a rewrite family
can touch. Each shortcut is checked here against the thing it replaces, on the
realistic test programs, a module of awkward constructs and generated modules.
"""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import given, settings
from libcst.metadata import MetadataWrapper, QualifiedNameSource, ScopeProvider
from test_fuzz import modules

import migration._pipeline as pipeline
from migration import transform_source
from migration._facts import build_facts
from migration._walk import is_trivia, walk

PROGRAMS = sorted((Path(__file__).parent / "programs").glob("*.py"))

AWKWARD = '''\
"""Constructs whose scoping or visiting order is easy to get wrong."""
from __future__ import annotations

import flax
import flax.core as fc
import flax.traverse_util
from flax.core import frozen_dict as fd
from flax.core.frozen_dict import FrozenDict, freeze as fz
from . import sibling
from .pkg import helper as freeze_helper

freeze = fc.freeze
counter = 0


def default_bound(x, fz=fz, *, key=fd.unfreeze):
    return fz(x), key(x)


@flax.struct.dataclass
class Holder:
    tree: FrozenDict = flax.struct.field(pytree_node=False)
    fz = staticmethod(fz)

    def method(self):
        return fz(self.tree), [fz for fz in range(3)], lambda fz=fz: fz


class Shadow:
    FrozenDict = dict

    def get(self):
        return FrozenDict({})


def outer():
    unfreeze = fc.unfreeze

    def inner(tree):
        nonlocal unfreeze
        return unfreeze(tree)

    global counter
    counter += 1
    return inner


def late():
    value = later_import.freeze({})
    from flax.core import freeze as later_import_freeze
    return value, later_import_freeze


label = f"{fz({'a': 1})!r:>{counter}} and {fd.freeze({}).keys()}"
table = {k: fd.freeze(v) for k, v in {}.items() if (w := v)}
matched = [fc.unfreeze(t) for t in stream()] if False else None
try:
    import flax.core.frozen_dict as alias_module
except ImportError:
    alias_module = None
print(alias_module.FrozenDict, sibling, freeze_helper, flax.traverse_util)
thaw = flax.core.unfreeze
state = thaw(tree)
from flax.core import freeze as thaw
state = thaw(state)
'''


def _corpus_sources() -> list[str]:
    return [AWKWARD] + [path.read_text() for path in PROGRAMS]


def _libcst_qualify(module: cst.Module):
    scopes = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)

    def qualify(node):
        scope = scopes.get(node)
        return scope.get_qualified_names_for(node) if scope is not None else ()

    return qualify


class _Recorder(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", id(original_node)))


def check_walk_order(source: str) -> None:
    module = cst.parse_module(source)
    reference, fast = _Recorder(), _Recorder()
    module.visit(reference)
    walk(module, fast)
    nodes = {}

    class _Nodes(cst.CSTVisitor):
        def on_visit(self, node):
            nodes[id(node)] = node
            return True

    module.visit(_Nodes())
    expected = [e for e in reference.events if not is_trivia(type(nodes[e[1]]))]
    assert fast.events == expected


def check_same_names(source: str) -> None:
    """Same API resolution, same imported/builtin qualified names, everywhere."""
    module = cst.parse_module(source)
    ours = build_facts(module)
    theirs = build_facts(module, _libcst_qualify(module))
    assert ours.api == theirs.api  # the same nodes, the same API names
    queried = {
        n for scope in ours.scopes.values() for ns in scope.loads.values() for n in ns
    }
    for node in ours.order:
        if isinstance(node, cst.Call):
            queried.add(node.func)
        elif isinstance(node, (cst.Attribute, cst.Decorator)):
            queried.add(node if isinstance(node, cst.Attribute) else node.decorator)
    global_ = (QualifiedNameSource.IMPORT, QualifiedNameSource.BUILTIN)
    for node in queried:
        mine = {q.name for q in ours.qualify(node) if q.source in global_}
        libcst = {q.name for q in theirs.qualify(node) if q.source in global_}
        assert mine == libcst, ours.code(node)


@pytest.mark.parametrize("index", range(len(PROGRAMS) + 1))
def test_walk_visits_in_libcst_order(index):
    check_walk_order(_corpus_sources()[index])


@pytest.mark.parametrize("index", range(len(PROGRAMS) + 1))
def test_qualified_names_match_libcst_scope_provider(index):
    check_same_names(_corpus_sources()[index])


def test_awkward_module_resolves_what_python_would():
    module = cst.parse_module(AWKWARD)
    facts = build_facts(module)
    codes = {facts.code(n) for n in facts.api}
    # Imports, import aliases, module aliases and a module-level alias resolve ...
    assert {"fz", "fd.unfreeze", "fd.freeze", "fc.unfreeze", "FrozenDict"} <= codes
    assert {"alias_module", "alias_module.FrozenDict"} <= codes  # try/except import
    # ... a class attribute shadows a name only inside the class body, not in its
    # methods, so `FrozenDict({})` in `Shadow.get` is flax's.
    shadow = next(
        s
        for s in module.body
        if isinstance(s, cst.ClassDef) and s.name.value == "Shadow"
    )
    get = shadow.body.body[1]
    in_get = [n for n in facts.api if facts.enclosing_function(n) is get]
    assert [facts.api[n] for n in in_get] == ["FrozenDict"]
    # A relative import binds its name to something that is never flax's.
    assert not any(facts.code(n) == "freeze_helper" for n in facts.api)


@settings(max_examples=25)
@given(modules(flax_names=True))
def test_generated_modules_walk_and_resolve_like_libcst(source):
    ast.parse(source)
    check_walk_order(source)
    check_same_names(source)


@contextlib.contextmanager
def unpruned():
    """Makes the one-pass pipeline walk every subtree while active."""
    original = pipeline._Fanout.__init__

    def init(self, owner, families, hot_path=None):
        original(self, owner, families, None)

    pipeline._Fanout.__init__ = init
    try:
        yield
    finally:
        pipeline._Fanout.__init__ = original


@settings(max_examples=25)
@given(modules(flax_names=True))
def test_pruned_pipeline_gives_the_same_result(source):
    pruned = transform_source(source, annotate=True)
    with unpruned():
        full = transform_source(source, annotate=True)
    assert pruned == full


@pytest.mark.parametrize("index", range(len(PROGRAMS) + 1))
@pytest.mark.parametrize("use_variables", [False, True])
def test_pruned_pipeline_same_on_programs(index, use_variables):
    source = _corpus_sources()[index]
    pruned = transform_source(source, use_variables=use_variables, annotate=True)
    with unpruned():
        full = transform_source(source, use_variables=use_variables, annotate=True)
    assert pruned == full
    assert pruned.error is None
