"""Removes ``freeze = flax.core.frozen_dict.freeze`` aliases once unused (P08b)."""

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
    goes once every use of it in the module was rewritten; it stays when a use
    survives (a refused site), when nothing in the module used it (other modules
    may import it), when it is listed in ``__all__``, and when it is a public
    function. Run on its own (after the other families) the command removes the
    private aliases (``_name``) that have no use left.
    """

    DESCRIPTION = "Remove module-level FrozenDict API aliases that are no longer used."

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        facts = self.facts
        if not facts.aliases:
            return tree
        return remove_dead_aliases(self, tree, facts, standalone=True)


def dead_aliases(
    facts: Facts, context: CodemodContext, *, standalone: bool = False
) -> set[str]:
    """Aliases whose every use in the module was rewritten.

    An alias nothing in the module used may be imported by other modules, so it
    stays; so does a public wrapper function, and anything listed in ``__all__``.
    Run on its own (after the other families), uses are not counted, so only
    private aliases with no use left are removed.
    """
    if not facts.aliases:
        return set()
    state = state_of(context)
    exported = _exported(facts.module)
    dead = set()
    for alias in facts.aliases:
        definition = facts.alias_defs[alias]
        private = alias.startswith("_")
        if alias in exported or (
            m.matches(definition, m.FunctionDef()) and not private
        ):
            continue
        uses = sum(len(loads) for loads in _all_loads(facts, alias))
        if standalone:
            if private and uses == 0:
                dead.add(alias)
        elif uses > 0 and uses - state.alias_uses_rewritten.get(alias, 0) <= 0:
            dead.add(alias)
    return dead


def remove_dead_aliases(
    codemod: MigrationCommand,
    tree: cst.Module,
    facts: Facts,
    *,
    standalone: bool = False,
) -> cst.Module:
    """Drops the top-level definitions of dead aliases from ``tree``."""
    dead = dead_aliases(facts, codemod.context, standalone=standalone)
    if not dead:
        return tree
    code = facts.module.code_for_node
    wanted = {code(facts.alias_defs[a]).strip() for a in dead}
    body = []
    for statement in tree.body:
        if (
            _defines(statement, dead)
            and tree.code_for_node(statement).strip() in wanted
        ):
            codemod.record("P08b")
            for module, obj, asname in _imports_used_by(statement, facts):
                codemod.remove_unused_import(module, obj, asname)
            continue
        body.append(statement)
    return tree.with_changes(body=body)


def _defines(statement: cst.CSTNode, names: set[str]) -> bool:
    if m.matches(statement, m.FunctionDef()):
        return statement.name.value in names
    return (
        m.matches(
            statement,
            m.SimpleStatementLine(
                body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])]
            ),
        )
        and statement.body[0].targets[0].target.value in names
    )


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
    target = m.Assign(targets=[m.AssignTarget(target=m.Name("__all__"))])
    for statement in module.body:
        if not m.matches(statement, m.SimpleStatementLine()):
            continue
        for assign in (small for small in statement.body if m.matches(small, target)):
            for string in m.findall(assign.value, m.SimpleString()):
                value = string.evaluated_value
                if isinstance(value, str):
                    exported.add(value)
    return exported
