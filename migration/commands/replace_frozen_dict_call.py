"""``FrozenDict(...)`` -> a dict literal or ``dict(...)`` (P05)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration import _edit
from migration import _names as names
from migration._base import MigrationCommand
from migration.commands.drop_freeze import (
    fully_qualified,
    held_alias_trap,
    report_shown,
    shown_trap,
    trap_pattern,
)


class ReplaceFrozenDictCallCommand(MigrationCommand):
    """Replaces flax ``FrozenDict(...)`` constructor calls (also ``nn.FrozenDict``).

    ``FrozenDict({...})`` becomes the literal, ``FrozenDict()`` becomes ``{}`` and
    every other form becomes ``dict(...)`` with the same arguments. The same traps
    as for ``freeze`` keep the call (see ``DropFreezeCommand``). A project's own
    class called ``FrozenDict`` is never touched: only names that resolve to flax
    count.
    """

    DESCRIPTION = "Replace flax FrozenDict(...) constructor calls by dicts."

    @m.leave(m.Call())
    def replace_constructor(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        facts = self.facts
        if (
            facts.api.get(original_node.func) != names.FROZEN_DICT
            or facts.in_wrapper(original_node)
            or facts.frozen_receiver(original_node)
        ):
            return updated_node
        args = original_node.args
        single = len(args) == 1 and args[0].keyword is None and not args[0].star
        source = args[0].value if single else None
        trap = self.freeze_trap(original_node, source) or held_alias_trap(
            facts, original_node, source
        )
        if trap is None or trap[0] == "ALIAS":
            trap = shown_trap(facts, original_node) or trap
        if trap is not None:
            kind, reason = trap
            if kind == "ALIAS" and self.use_variables and source is not None:
                self.record("P05", original_node)
                self.release(original_node.func)
                report_shown(self, original_node, "P05")
                return updated_node.with_changes(func=self.vs("clone_pytree"))
            self.refuse(
                original_node, trap_pattern(facts, original_node, "P05", kind), reason
            )
            return updated_node
        self.record("P05", original_node)
        if fully_qualified(original_node.func):
            self.record("P12")
        self.release(original_node.func)
        report_shown(self, original_node, "P05")
        if not args:
            return _edit.keep_parens(updated_node, cst.Dict([]))
        if single and m.matches(updated_node.args[0].value, m.Dict() | m.DictComp()):
            return _edit.unwrap_call(updated_node, updated_node.args[0].value)
        return updated_node.with_changes(func=cst.Name("dict"))
