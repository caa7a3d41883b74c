"""``freeze(x)`` -> ``x`` where a plain dict means the same (P04, P04a-c, P12, P15)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration import _edit
from migration import _names as names
from migration._base import MigrationCommand
from migration._facts import FROZEN_API, GOLDEN, REPR
from migration.commands.rewrite_copy import held_update_mutation


class DropFreezeCommand(MigrationCommand):
    """Drops ``flax.core.freeze`` calls, however ``freeze`` was imported or aliased.

    A literal stays a literal (``freeze({})`` -> ``{}``, P04a); ``unflatten_dict``
    and ``init`` results pass through (P04b, P04c). The call is kept, and reported,
    where the FrozenDict is load-bearing: a hashable value (HASH), a dataclass or
    parameter default (P15/DCDEF), one of several paired trees (TREEDEF), a restore
    target (SERIAL), a type-preserving round trip (TYPEPRES), a copy that guards
    against later writes (ALIAS; ``vs.clone_pytree`` with ``--use-variables``), or a
    module that turns ``flax_return_frozendict`` on (FLAG).
    """

    DESCRIPTION = "Drop flax.core.freeze(x) where a plain dict means the same."

    @m.leave(m.Call(args=[m.Arg(keyword=None, star="")]))
    def drop_freeze(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        facts = self.facts
        if (
            facts.api.get(original_node.func) != names.FREEZE
            or facts.in_wrapper(original_node)
            or facts.frozen_receiver(original_node)
        ):
            return updated_node
        source = original_node.args[0].value
        pattern = freeze_pattern(facts, source)
        trap = self.freeze_trap(original_node, source) or held_alias_trap(
            facts, original_node, source
        )
        if trap is None or trap[0] == "ALIAS":
            trap = shown_trap(facts, original_node) or trap
        if trap is not None:
            kind, reason = trap
            if kind == "ALIAS" and self.use_variables:
                self.record(pattern, original_node)
                self.release(original_node.func)
                report_shown(self, original_node, pattern)
                return _edit.keep_parens(
                    updated_node,
                    updated_node.with_changes(
                        func=self.vs("clone_pytree"), lpar=[], rpar=[]
                    ),
                )
            self.refuse(
                original_node, trap_pattern(facts, original_node, pattern, kind), reason
            )
            return updated_node
        self.record(pattern, original_node)
        if fully_qualified(original_node.func):
            self.record("P12")
        self.release(original_node.func)
        report_shown(self, original_node, pattern)
        return _edit.unwrap_call(updated_node, updated_node.args[0].value)


def freeze_pattern(facts, source: cst.BaseExpression) -> str:
    """P04a for a literal, P04b for ``unflatten_dict(...)``, P04c for ``init``."""
    if m.matches(source, m.Dict() | m.DictComp()):
        return "P04a"
    if m.matches(source, m.Call()) and any(
        q.endswith("unflatten_dict") for q in facts.qualified(source.func)
    ):
        return "P04b"
    if facts.is_init_call(source):
        return "P04c"
    return "P04"


def trap_pattern(facts, call: cst.Call, pattern: str, kind: str) -> str:
    """The id a refusal is reported under (P15 for defaults, P14 for tree calls)."""
    if kind == "DCDEF":
        return "P15/DCDEF"
    if kind == "TREEDEF" and m.matches(facts.parents.get(call), m.Arg()):
        return "P14/TREEDEF"
    return f"{pattern}/{kind}"


def fully_qualified(func: cst.BaseExpression) -> bool:
    """``flax.core.frozen_dict.<name>`` written out in full (P12)."""
    return (names.dotted_name(func) or "").startswith("flax.core.frozen_dict.")


def held_alias_trap(
    facts, call: cst.Call, source: cst.BaseExpression | None
) -> tuple[str, str] | None:
    """ALIAS: ``source`` holds a dict a kept ``flax.core.copy`` stored, written later.

    The counterpart of ``freeze_trap``'s own check of later writes, for the values
    ``flax.core.copy(d, u)`` on a dict ``d`` keeps as they are (see
    ``held_update_mutation``).
    """
    if source is None:
        return None
    use = held_update_mutation(facts, source, call)
    if use is None:
        return None
    return "ALIAS", f"{use.detail}, and without the copy the change would show through"


def shown_trap(facts, call: cst.Call) -> tuple[str, str] | None:
    """METHOD / REPR: what the FrozenDict made by ``call`` is used for needs it.

    METHOD: an attribute a dict lacks or implements differently is used on it
    (``__reduce__``, ``tree_flatten_with_keys``, ``_dict``...). REPR: its text is
    compared, directly (``assert repr(x) == ...``) or as a golden
    ``FrozenDict({...`` string in the same code (a doctest, captured output).
    """
    uses = facts.value_uses(call)
    for use in uses:
        if use.kind == FROZEN_API:
            return "METHOD", (
                f"{use.detail}: keep the FrozenDict, or port that use by hand"
            )
    for use in uses:
        if use.kind == GOLDEN:
            return "REPR", (
                f"{use.detail}: a dict prints as `{{...}}` where a FrozenDict "
                "printed `FrozenDict({...})`; keep the FrozenDict, or update the "
                "expected text when you drop it"
            )
    return None


def report_shown(command: MigrationCommand, call: cst.Call, pattern: str) -> None:
    """Reports (REPR) a rewritten FrozenDict whose text is printed or formatted."""
    for use in command.facts.value_uses(call):
        if use.kind == REPR:
            command.refuse(
                call,
                f"{pattern}/REPR",
                f"rewrote it, but {use.detail}: a dict prints as `{{...}}` where a "
                "FrozenDict printed `FrozenDict({...})`; update golden logs and "
                "doctests",
            )
            return
