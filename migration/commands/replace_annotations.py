"""``FrozenDict`` in annotations and type aliases -> ``dict``/``Mapping`` (P07, P08)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration import _names as names
from migration._base import MigrationCommand

_MAPPING_NAMES = frozenset(
    {"dict", "Dict", "Mapping", "MutableMapping", "VariableDict"}
)


class ReplaceAnnotationsCommand(MigrationCommand):
    """Retypes annotations that name ``FrozenDict``.

    Outputs (return and variable annotations, type aliases, P08) become
    ``dict[K, V]`` (``dict[str, Any]`` for a bare ``FrozenDict``); parameters and
    dataclass/Linen fields, which may still receive FrozenDicts, become
    ``Mapping[K, V]``. In a ``Union``/``|`` that already has a dict or Mapping
    member the ``FrozenDict`` member is simply dropped. ``FrozenVariableDict``
    becomes ``VariableDict``. Kept and reported: the annotation of a ``jit``
    static argument (HASH). Class fields with a FrozenDict default are left with
    their default (see ``DropFreezeCommand``, P15).
    """

    DESCRIPTION = "Retype FrozenDict annotations and type aliases."

    @m.leave(m.Annotation())
    def retype_annotation(
        self, original_node: cst.Annotation, updated_node: cst.Annotation
    ) -> cst.Annotation:
        facts = self.facts
        parent = facts.parents.get(original_node)
        kind = "output"
        if m.matches(parent, m.Param()):
            kind = "input"
            if self._static_param(parent):
                if self._mentions(original_node.annotation):
                    self.refuse(
                        original_node,
                        "P07/HASH",
                        "a jit static argument must be hashable, so it stays a "
                        "FrozenDict; keep the annotation",
                    )
                return updated_node
        elif (
            m.matches(parent, m.AnnAssign()) and facts.scope_of(parent).kind == "class"
        ):
            if parent.value is not None and self._mentions_call(parent.value):
                self.claim(original_node)  # kept with its FrozenDict default (P15)
                return updated_node
            kind = "input"
        new = self._retype(original_node.annotation, kind)
        if new is None:
            return updated_node
        self.record("P07", original_node)
        return updated_node.with_changes(annotation=new)

    @m.leave(
        m.Assign(targets=[m.AssignTarget(target=m.Name())], value=m.Subscript())
        | m.AnnAssign(target=m.Name(), value=m.Subscript())
    )
    def retype_alias(self, original_node, updated_node):
        facts = self.facts
        if facts.scope_of(original_node).kind != "module":
            return updated_node
        value = original_node.value
        if facts.api.get(value.value) != names.FROZEN_DICT:
            return updated_node
        new = self._retype(value, "output")
        if new is None:
            return updated_node
        self.record("P08", original_node)
        return updated_node.with_changes(value=new)

    # --- building the new type -----------------------------------------------------

    def _retype(self, node: cst.BaseExpression, kind: str) -> cst.BaseExpression | None:
        """The retyped expression, or None when ``node`` has nothing to change."""
        facts = self.facts
        api = facts.api.get(node)
        if api == names.FROZEN_DICT:
            self._done(node)
            return self._container(kind, None, node)
        if api == names.FROZEN_VARIABLE_DICT:
            self._done(node)
            return self._variable_dict(node)
        if m.matches(node, m.Subscript()):
            if facts.api.get(node.value) == names.FROZEN_DICT:
                self._done(node.value)
                return self._container(kind, node, node)
            return self._retype_generic(node, kind)
        if m.matches(node, m.BinaryOperation(operator=m.BitOr())):
            return self._retype_union_operator(node, kind)
        return None

    def _container(
        self, kind: str, subscript: cst.Subscript | None, old: cst.BaseExpression
    ) -> cst.BaseExpression:
        if kind == "input":
            base = self.typing_name("collections.abc", "Mapping")
        else:
            base = cst.Name("dict")
        if subscript is not None:
            return subscript.with_changes(value=base)
        any_type = self.typing_name("typing", "Any")
        new = cst.Subscript(
            value=base,
            slice=[
                cst.SubscriptElement(
                    cst.Index(cst.Name("str")),
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                ),
                cst.SubscriptElement(cst.Index(any_type)),
            ],
        )
        return new.with_changes(lpar=old.lpar, rpar=old.rpar)

    def _variable_dict(self, node: cst.BaseExpression) -> cst.BaseExpression:
        if m.matches(node, m.Attribute()):
            return node.with_changes(attr=cst.Name("VariableDict"))
        for module, obj, asname in self.facts.imports.get(node.value, ()):
            if obj == names.FROZEN_VARIABLE_DICT:
                self.add_needed_import(module, "VariableDict")
        return cst.Name("VariableDict")

    def _done(self, reference: cst.BaseExpression) -> None:
        self.claim(reference)
        self.release(reference)

    def _retype_generic(
        self, node: cst.Subscript, kind: str
    ) -> cst.BaseExpression | None:
        base = names.dotted_name(node.value) or ""
        members = [e.slice.value for e in node.slice if m.matches(e.slice, m.Index())]
        is_union = base.rpartition(".")[2] == "Union"
        if is_union and self._drop_frozen_members(members):
            kept = [
                e
                for e in node.slice
                if not (
                    m.matches(e.slice, m.Index()) and self._is_frozen(e.slice.value)
                )
            ]
            for e in node.slice:
                if m.matches(e.slice, m.Index()) and self._is_frozen(e.slice.value):
                    self._done(self._frozen_reference(e.slice.value))
            if len(kept) == 1:
                return kept[0].slice.value
            return node.with_changes(slice=_recomma(kept))
        changed = False
        new_elements = []
        for element in node.slice:
            new = None
            if m.matches(element.slice, m.Index()):
                new = self._retype(element.slice.value, kind)
            if new is None:
                new_elements.append(element)
            else:
                changed = True
                new_elements.append(
                    element.with_changes(slice=element.slice.with_changes(value=new))
                )
        return node.with_changes(slice=new_elements) if changed else None

    def _retype_union_operator(
        self, node: cst.BinaryOperation, kind: str
    ) -> cst.BaseExpression | None:
        operands = _flatten_or(node)
        if self._drop_frozen_members(operands):
            for operand in operands:
                if self._is_frozen(operand):
                    self._done(self._frozen_reference(operand))
            kept = [o for o in operands if not self._is_frozen(o)]
            result = kept[0]
            for operand in kept[1:]:
                result = cst.BinaryOperation(
                    left=result,
                    operator=cst.BitOr(
                        whitespace_before=cst.SimpleWhitespace(" "),
                        whitespace_after=cst.SimpleWhitespace(" "),
                    ),
                    right=operand,
                )
            return result
        left = self._retype(node.left, kind)
        right = self._retype(node.right, kind)
        if left is None and right is None:
            return None
        return node.with_changes(left=left or node.left, right=right or node.right)

    def _drop_frozen_members(self, members: list[cst.BaseExpression]) -> bool:
        return any(self._is_frozen(x) for x in members) and any(
            self._is_mapping(x) for x in members
        )

    def _is_frozen(self, node: cst.BaseExpression) -> bool:
        return self._frozen_reference(node) is not None

    def _frozen_reference(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        target = node.value if m.matches(node, m.Subscript()) else node
        return target if self.facts.api.get(target) == names.FROZEN_DICT else None

    def _is_mapping(self, node: cst.BaseExpression) -> bool:
        target = node.value if m.matches(node, m.Subscript()) else node
        if self.facts.api.get(target) is not None:
            return False
        dotted = names.dotted_name(target) or ""
        return dotted.rpartition(".")[2] in _MAPPING_NAMES

    def _static_param(self, param: cst.Param) -> bool:
        function = self.facts.enclosing_function(param)
        if function is None:
            return False
        static = self.facts.static_args.get(function.name.value)
        if static is None:
            return False
        static_names, static_nums = static
        positional = [
            p.name.value
            for p in (*function.params.posonly_params, *function.params.params)
        ]
        index = (
            positional.index(param.name.value)
            if param.name.value in positional
            else None
        )
        return param.name.value in static_names or index in static_nums

    def _mentions(self, node: cst.CSTNode) -> bool:
        return bool(
            m.findall(
                node,
                m.MatchIfTrue(lambda n: self.facts.api.get(n) == names.FROZEN_DICT),
            )
        )

    def _mentions_call(self, node: cst.CSTNode) -> bool:
        facts = self.facts
        return bool(
            m.findall(
                node,
                m.MatchIfTrue(
                    lambda n: (
                        facts.api.get(n) in (names.FREEZE, names.FROZEN_DICT)
                        or (
                            m.matches(n, m.Name())
                            and n.value in _frozen_constants(facts)
                        )
                    )
                ),
            )
        )


def _frozen_constants(facts) -> set[str]:
    module = facts.scopes[facts.module]
    out = set()
    for name, binds in module.binds.items():
        for _, value in binds:
            if m.matches(value, m.Call()) and facts.api.get(value.func) in (
                names.FREEZE,
                names.FROZEN_DICT,
            ):
                out.add(name)
    return out


def _flatten_or(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    if m.matches(node, m.BinaryOperation(operator=m.BitOr())) and not node.lpar:
        return [*_flatten_or(node.left), *_flatten_or(node.right)]
    return [node]


def _recomma(elements: list[cst.SubscriptElement]) -> list[cst.SubscriptElement]:
    out = []
    for i, element in enumerate(elements):
        comma = (
            cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            if i < len(elements) - 1
            else cst.MaybeSentinel.DEFAULT
        )
        out.append(element.with_changes(comma=comma))
    return out
