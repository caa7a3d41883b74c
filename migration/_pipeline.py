"""All rewrite families in one pass over one parsed module.

``MigrateFrozenDictCommand`` builds the ``Facts`` once (no LibCST metadata
provider runs: qualified names come from the facts pass, see ``Facts._qualify``),
then walks the tree once with a fan-out transformer that hands each node only to
the families that declared a matcher for its type, in ``FAMILIES`` order, and
enters only the subtrees on the facts' hot path (``Facts.on_hot_path``). After
the walk it reports FrozenDict API uses that no family handled, removes aliases
whose uses were all rewritten, and (through ``CodemodCommand``) lets LibCST's
import visitors add and remove imports.
"""

from __future__ import annotations

import dataclasses

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile
from libcst.metadata import MetadataWrapper

from migration import _names as names
from migration._base import MigrationCommand, MigrationHelpers, finish_statement
from migration._imports import apply_import_changes
from migration.commands import FAMILIES
from migration.commands.remove_aliases import remove_dead_aliases

_REPORTED_APIS = frozenset(
    {names.FROZEN_DICT, names.FREEZE, names.UNFREEZE, names.FROZEN_VARIABLE_DICT}
)


class MigrateFrozenDictCommand(MigrationHelpers, CodemodCommand):
    """Ports a module off FrozenDict: every family of ``migration.commands``."""

    DESCRIPTION = "Port flax code off FrozenDict (all rewrite families, one pass)."
    METADATA_DEPENDENCIES = ()

    def __init__(
        self,
        context: CodemodContext,
        use_variables: bool = False,
        annotate: bool = False,
    ) -> None:
        super().__init__(context)
        self.use_variables = use_variables
        self.annotate = annotate
        self.fresh_parse = False

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        facts = self.facts
        if not facts.flaxy:
            raise SkipFile("the module never uses flax")
        families = _families(self.use_variables, self.annotate)
        for family in families:
            family.context = self.context
            family.metadata = self.metadata
        try:
            tree = tree.visit(_Fanout(self, families, facts.hot_path))
        finally:
            for family in families:
                family.context = _DETACHED
                family.metadata = {}
        self._report_unclaimed()
        return remove_dead_aliases(self, tree, facts)

    def transform_module(self, tree: cst.Module) -> cst.Module:
        """As ``CodemodCommand.transform_module``, tuned for a freshly parsed module.

        ``MetadataWrapper`` deep-copies its module so that no node object appears
        twice; a module straight from ``parse_module`` has that property already,
        and the copy costs about as much as the parse. The import visitors run on
        a skeleton of the module (see ``_imports.py``).
        """
        if not self.fresh_parse:
            return super().transform_module(tree)
        wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
        outer = self.context
        with self.resolve(wrapper):
            self.context = dataclasses.replace(outer, wrapper=wrapper)
            try:
                tree = self.transform_module_impl(wrapper.module)
            finally:
                self.context = outer
        return apply_import_changes(self.context, tree)

    def _report_unclaimed(self) -> None:
        facts, state = self.facts, self.state
        definitions = set(facts.alias_defs.values())
        for node, api in list(facts.api.items()):
            if api not in _REPORTED_APIS or facts.in_wrapper(node):
                continue
            parent = facts.parents.get(node)
            if m.matches(parent, m.Attribute()) and parent in facts.api:
                continue
            if node in state.claimed or any(
                a in state.claimed or a in definitions for a in facts.ancestors(node)
            ):
                continue
            self.refuse(
                node,
                "P01",
                f"`{facts.code(node)}` is used in a way no rewrite covers; left as "
                "is (flax still ships it)",
            )


_DETACHED = CodemodContext()
_FAMILY_CACHE: dict[tuple[bool, bool], list[MigrationCommand]] = {}


def _families(use_variables: bool, annotate: bool) -> list[MigrationCommand]:
    """One instance of each family per option set, reused from file to file.

    Building a matcher-decorated transformer inspects every attribute of the
    class, which costs more than migrating a small file; the families keep no
    per-file state of their own (that lives in ``context.scratch``), so the
    pipeline attaches each file's context and metadata and detaches them after.
    """
    key = (use_variables, annotate)
    if key not in _FAMILY_CACHE:
        families = [
            family(_DETACHED, use_variables=use_variables, annotate=annotate)
            for family in FAMILIES
        ]
        for family in families:
            family.standalone = False
        _FAMILY_CACHE[key] = families
    return _FAMILY_CACHE[key]


class _Fanout(cst.CSTTransformer):
    """Calls each family's ``on_leave`` for the node types it has matchers for."""

    def __init__(
        self,
        owner: MigrationHelpers,
        families: list[MigrationCommand],
        hot_path: set[cst.CSTNode] | None = None,
    ) -> None:
        super().__init__()
        self.owner = owner
        self.hot_path = hot_path
        self.table: dict[type, list[MigrationCommand]] = {}
        for family in families:
            for node_type in _leave_types(family):
                self.table.setdefault(node_type, []).append(family)

    def on_visit(self, node: cst.CSTNode) -> bool:
        # Subtrees no family can change are not walked (``Facts.on_hot_path``).
        return self.hot_path is None or node in self.hot_path

    def on_leave(self, original_node, updated_node):
        if self.hot_path is not None and original_node not in self.hot_path:
            return updated_node
        result = updated_node
        for family in self.table.get(type(original_node), ()):
            new = family.on_leave(original_node, result)
            if new is not result:
                result = new
                if type(new) is not type(original_node):
                    break
        if isinstance(result, cst.CSTNode):
            result = finish_statement(self.owner, original_node, result)
        return result


def _leave_types(family: MigrationCommand) -> set[type]:
    types: set[type] = set()
    for matcher in family._extra_leave_funcs:
        options = matcher.options if isinstance(matcher, m.OneOf) else (matcher,)
        for option in options:
            node_type = getattr(cst, type(option).__name__, None)
            if node_type is not None:
                types.add(node_type)
    return types
