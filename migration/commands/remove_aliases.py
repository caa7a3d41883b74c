"""Removes ``freeze = flax.core.frozen_dict.freeze``-style aliases once unused (P08b)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext

from migration._base import MigrationCommand, state_of
from migration._facts import Facts


class RemoveAliasesCommand(MigrationCommand):
    """Deletes module-level aliases of the FrozenDict API that nothing uses any more.

    The aliases (``freeze = flax.core.frozen_dict.freeze``, ``FrozenDict =
    flax_scope.FrozenDict``, ``Params = FrozenDict``) and one-line wrappers
    (``def _unfreeze(x): return frozen_dict.unfreeze(x)``) are resolved by every
    other command, so their call sites are rewritten like direct uses. An alias
    that is still used somewhere (a refused site, an export in ``__all__``) stays.
    Run on its own, the command removes aliases that have no uses at all.
    """

    DESCRIPTION = "Remove module-level FrozenDict API aliases that are no longer used."

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        facts = self.facts
        if not facts.aliases:
            return tree
        return remove_dead_aliases(self, tree, facts)


def dead_aliases(facts: Facts, context: CodemodContext) -> set[str]:
    """Aliases whose every use was rewritten (or that had none)."""
    state = state_of(context)
    exported = _exported(facts.module)
    dead = set()
    for alias in facts.aliases:
        if alias in exported:
            continue
        uses = sum(len(loads) for loads in _all_loads(facts, alias))
        if uses - state.alias_uses_rewritten.get(alias, 0) <= 0:
            dead.add(alias)
    return dead


def remove_dead_aliases(codemod: MigrationCommand, tree: cst.Module, facts: Facts) -> cst.Module:
    """Drops the top-level definitions of dead aliases from ``tree``."""
    dead = dead_aliases(facts, codemod.context)
    if not dead:
        return tree
    code = facts.module.code_for_node
    wanted = {code(facts.alias_defs[a]).strip() for a in dead}
    body = []
    for statement in tree.body:
        if _defines(statement, dead) and tree.code_for_node(statement).strip() in wanted:
            codemod.record("P08b")
            for module, obj, asname in _imports_used_by(statement, facts):
                codemod.remove_unused_import(module, obj, asname)
            continue
        body.append(statement)
    return tree.with_changes(body=body)


def _defines(statement: cst.CSTNode, names: set[str]) -> bool:
    if m.matches(statement, m.FunctionDef()):
        return statement.name.value in names
    return m.matches(
        statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])
    ) and statement.body[0].targets[0].target.value in names


def _imports_used_by(statement: cst.CSTNode, facts: Facts):
    attributes = {a.attr for a in m.findall(statement, m.Attribute())}
    defined = statement.name if m.matches(statement, m.FunctionDef()) else None
    for name in m.findall(statement, m.Name()):
        if name not in attributes and name is not defined:
            yield from facts.imports.get(name.value, ())


def _all_loads(facts: Facts, name: str):
    for scope in facts.scopes.values():
        if scope.kind == "module" or not scope.bound(name):
            yield scope.loads.get(name, [])


def _exported(module: cst.Module) -> set[str]:
    exported: set[str] = set()
    for statement in module.body:
        for assign in m.findall(
            statement, m.Assign(targets=[m.AssignTarget(target=m.Name("__all__"))])
        ):
            for string in m.findall(assign.value, m.SimpleString()):
                value = string.evaluated_value
                if isinstance(value, str):
                    exported.add(value)
    return exported
