"""``isinstance(x, (dict, FrozenDict))`` -> ``isinstance(x, Mapping)`` (P06, P06a)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration import _names as names
from migration._base import MigrationCommand

_DICT_TYPES = frozenset({"builtins.dict", "typing.Dict", "dict", "Dict"})
_MAPPING_TYPES = frozenset(
    {
        "collections.abc.Mapping",
        "typing.Mapping",
        "collections.abc.MutableMapping",
        "typing.MutableMapping",
    }
)
_TYPE_ASSERTIONS = frozenset(
    {"assertIsInstance", "assertNotIsInstance", "assertIs", "assertIsNot"}
)


class ReplaceIsinstanceCommand(MigrationCommand):
    """Rewrites type checks that pair ``dict`` (or ``Mapping``) with ``FrozenDict``.

    ``isinstance(x, (dict, FrozenDict))`` becomes ``isinstance(x, Mapping)``, which
    still accepts the FrozenDicts that survive the migration (Linen fields, old
    checkpoints); with ``Mapping`` already in the tuple ``FrozenDict`` is just
    dropped. A lone ``isinstance(x, FrozenDict)`` is reported, never rewritten:
    inside ``is_leaf`` it needs a manual decision (P06a), in a type-preserving
    function it is half of a round trip (TYPEPRES), elsewhere it silently stops
    matching dict subtrees (SUBTREE). Type assertions on ``FrozenDict`` are
    reported too: after the migration they fail, while equality checks would not
    notice the change (EQ).
    """

    DESCRIPTION = "Rewrite isinstance checks that pair dict with FrozenDict."

    @m.leave(
        m.Call(
            func=m.Name("isinstance") | m.Name("issubclass"), args=[m.Arg(), m.Arg()]
        )
    )
    def rewrite_isinstance(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.Call:
        facts = self.facts
        types = original_node.args[1].value
        if facts.api.get(types) == names.FROZEN_DICT:
            self._lone(original_node, types)
            return updated_node
        if self._kind(types) == "dict" and self._linen_field(
            original_node.args[0].value
        ):
            self.refuse(
                original_node,
                "P06/LINEN",
                "always False: Linen keeps dict fields of a Module as FrozenDicts, "
                "before and after the migration; test `Mapping` instead",
            )
            return updated_node
        if not m.matches(types, m.Tuple()):
            return updated_node
        frozen = [
            e for e in types.elements if facts.api.get(e.value) == names.FROZEN_DICT
        ]
        if not frozen:
            return updated_node
        kinds = [self._kind(e.value) for e in types.elements]
        if "mapping" not in kinds and "dict" not in kinds:
            self._lone(original_node, frozen[0].value)
            return updated_node
        kept: list[cst.BaseExpression] = []
        placed = "mapping" in kinds
        for element, kind in zip(types.elements, kinds):
            if kind == "frozen":
                continue
            if kind == "dict" and not placed:
                kept.append(self.typing_name("collections.abc", "Mapping"))
                placed = True
                continue
            if kind == "dict" and "mapping" not in kinds:
                continue
            kept.append(element.value)
        for element in frozen:
            self.claim(element.value)
            self.release(element.value)
        self.record("P06", original_node)
        new_types = (
            kept[0]
            if len(kept) == 1
            else types.with_changes(
                elements=[
                    cst.Element(
                        value,
                        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                        if i < len(kept) - 1
                        else cst.MaybeSentinel.DEFAULT,
                    )
                    for i, value in enumerate(kept)
                ]
            )
        )
        second = updated_node.args[1].with_changes(value=new_types)
        return updated_node.with_changes(args=[updated_node.args[0], second])

    @m.leave(m.Call(func=m.Attribute(attr=m.Name()), args=[m.Arg(), m.Arg()]))
    def report_type_assertion(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.Call:
        if original_node.func.attr.value not in _TYPE_ASSERTIONS:
            return updated_node
        types = original_node.args[1].value
        if self.facts.api.get(types) == names.FROZEN_DICT:
            self.claim(types)
            self.refuse(original_node, "P06/EQ", _EQ_REASON)
        return updated_node

    @m.leave(m.Comparison())
    def report_type_comparison(
        self, original_node: cst.Comparison, updated_node: cst.Comparison
    ) -> cst.Comparison:
        facts = self.facts
        operands = [
            original_node.left,
            *(t.comparator for t in original_node.comparisons),
        ]
        frozen = [o for o in operands if facts.api.get(o) == names.FROZEN_DICT]
        typed = any(m.matches(o, m.Call(func=m.Name("type"))) for o in operands)
        if frozen and typed:
            self.claim(frozen[0])
            self.refuse(original_node, "P06/EQ", _EQ_REASON)
        return updated_node

    def _kind(self, node: cst.BaseExpression) -> str:
        if self.facts.api.get(node) == names.FROZEN_DICT:
            return "frozen"
        qualified = self.facts.qualified(node) | {names.dotted_name(node) or ""}
        if qualified & _MAPPING_TYPES:
            return "mapping"
        if qualified & _DICT_TYPES:
            return "dict"
        return "other"

    def _linen_field(self, value: cst.BaseExpression) -> bool:
        root = names.chain_root(value)
        info = self.facts.enclosing_class(value)
        return (
            root is not None
            and root.value == "self"
            and value is not root
            and info is not None
            and info.linen
        )

    def _lone(self, call: cst.Call, reference: cst.BaseExpression) -> None:
        facts = self.facts
        self.claim(reference)
        if any(
            m.matches(a, m.Arg(keyword=m.Name("is_leaf")))
            for a in facts.ancestors(call)
        ):
            self.refuse(
                call,
                "P06a",
                "FrozenDict used as a type tag in `is_leaf`: after the migration these "
                "subtrees are dicts, and testing for dict would match every dict node; "
                "decide by hand",
            )
        elif facts.typepres_region(call):
            self.refuse(
                call,
                "P06/TYPEPRES",
                "this check decides whether to re-freeze the result; leave both "
                "halves, "
                "or remove them together",
            )
        else:
            self.refuse(
                call,
                "P06/SUBTREE",
                "a FrozenDict-only check no longer matches the dicts this code now "
                "sees (nested values too); use `Mapping` if both should match",
            )


_EQ_REASON = (
    "a type assertion on FrozenDict fails once values are dicts (equality checks "
    "would not notice: a FrozenDict equals the matching dict); assert `dict` or "
    "`Mapping` instead"
)
