"""``x.pretty_repr()`` -> ``flax.core.pretty_repr(x)``; the function stays (P13)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration import _edit
from migration import _names as names
from migration._base import MigrationCommand

_SELF = m.Name("self") | m.Name("cls") | m.Call(func=m.Name("super"))


class RewritePrettyReprCommand(MigrationCommand):
    """Handles ``pretty_repr``, whose output text is what changes (REPR).

    The method ``x.pretty_repr(...)`` does not exist on a dict, so it becomes the
    function ``flax.core.pretty_repr(x, ...)``, which accepts both types. Calls of
    the function are kept as they are. Both are reported (REPR): a dict prints as
    ``{...}`` where a FrozenDict printed ``FrozenDict({...})``, so golden logs and
    doctests change.
    """

    DESCRIPTION = "Rewrite x.pretty_repr() and report pretty_repr output changes."

    @m.leave(m.Call(func=m.Attribute(attr=m.Name("pretty_repr")) | m.Name()))
    def rewrite_pretty_repr(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        facts = self.facts
        func = original_node.func
        if facts.api.get(func) == names.PRETTY_REPR:
            self.refuse(original_node, "P13/REPR", _REPR_REASON)
            return updated_node
        if (
            m.matches(func, m.Attribute())
            and facts.flaxy
            and facts.api.get(func) is None
            and not m.matches(func.value, _SELF)
            and names.PRETTY_REPR not in facts.defined_functions
            and not (
                m.matches(func.value, m.Name() | m.Attribute())
                and names.chain_root(func.value).value in facts.imports
            )
        ):
            self.record("P13", original_node)
            self.refuse(
                original_node,
                "P13/REPR",
                _REPR_REASON.replace("kept", "rewrote to the function"),
            )
            receiver = cst.Arg(
                value=updated_node.func.value,
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                if updated_node.args
                else cst.MaybeSentinel.DEFAULT,
            )
            return _edit.keep_parens(
                updated_node,
                updated_node.with_changes(
                    func=self.flax_core("pretty_repr"),
                    args=[receiver, *updated_node.args],
                    lpar=[],
                    rpar=[],
                ),
            )
        return updated_node


_REPR_REASON = (
    "kept: `pretty_repr` accepts dicts, but the text it prints changes (no "
    "`FrozenDict(` prefix); update golden logs and doctests"
)
