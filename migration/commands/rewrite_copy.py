"""``x.copy(add_or_replace=u)`` -> ``{**x, **u}`` (P09)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration import _edit
from migration import _names as names
from migration._base import MigrationCommand

_COPY_CALL = m.Call(
    func=m.Attribute(attr=m.Name("copy")),
    args=[m.Arg(keyword=None, star="") | m.Arg(keyword=m.Name("add_or_replace"))],
)
_MAPPING_ARG = m.Dict() | m.DictComp() | m.Call(func=m.Name("dict"))
_NOT_A_MAPPING = (
    m.SimpleString()
    | m.ConcatenatedString()
    | m.FormattedString()
    | m.Integer()
    | m.Float()
    | m.Name("True")
    | m.Name("False")
    | m.Name("None")
)


class RewriteCopyCommand(MigrationCommand):
    """Rewrites ``FrozenDict.copy(updates)``, which raises ``TypeError`` on a dict.

    The result is the top-level shallow merge ``{**x, **updates}`` (FrozenDict
    semantics), with a dict-literal update spliced in. The receiver was a
    FrozenDict in every program that ran, so nothing wrote to it afterwards; a
    dict inside the update, though, may be written to later, and FrozenDict.copy
    had copied it: then the merge is wrapped in ``flax.core.unfreeze(...)``, which
    copies nested dicts. Where plain-dict output would change meaning the
    type-preserving ``flax.core.copy(x, updates)`` is used instead: the module
    turns ``flax_return_frozendict`` on, or the code is a type-preserving round
    trip. With ``--use-variables`` a nested copy
    ``x.copy({"a": x["a"].copy({"b": v})})`` becomes ``vs.at(x)["a"]["b"].set(v)``.

    ``flax.core.copy(x, u)`` itself (P11) stays, except where a dict inside ``u``
    is written to later: on a FrozenDict the helper deep-copied ``u``, on a dict
    it does not, so that call becomes ``flax.core.unfreeze({**x, **u})`` too.

    Left alone: zero-argument ``.copy()``, ``np.copy``/``copy.copy`` (module
    receivers), keyword forms other than ``add_or_replace``. Reported: a Linen
    field (``self.<field>.copy(...)`` is still FrozenDict.copy there, LINEN), a
    positional argument that may not be a mapping, a module defining its own
    ``copy``.
    """

    DESCRIPTION = "Rewrite x.copy(add_or_replace=u) to {**x, **u}."

    @m.leave(_COPY_CALL)
    def rewrite_copy(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        facts = self.facts
        func = original_node.func
        arg = original_node.args[0]
        receiver = func.value
        if facts.api.get(func) is not None or self.facts.is_module_like(receiver):
            return updated_node
        if arg.keyword is None:
            if m.matches(arg.value, _NOT_A_MAPPING):
                return updated_node
            if not m.matches(arg.value, _MAPPING_ARG) and not self._frozen_call(
                arg.value
            ):
                self.refuse(
                    original_node,
                    "P09/COPY",
                    "cannot tell whether this `.copy(arg)` is FrozenDict.copy; if it "
                    "is, write `{**x, **arg}`",
                )
                return updated_node
        if names.DUAL_COPY in facts.defined_functions:
            self.refuse(
                original_node,
                "P09/NEG",
                "the module defines its own `copy`; check this call by hand",
            )
            return updated_node
        if self._linen_field(receiver):
            self.refuse(
                original_node,
                "P09/LINEN",
                "Linen stores dict fields as FrozenDicts, so `self.<field>.copy(...)` "
                "is FrozenDict.copy and works; a dict rewrite would change its type",
            )
            return updated_node
        new_receiver = updated_node.func.value
        new_update = updated_node.args[0].value
        inner = facts.frozen_source(receiver)
        if inner is not None:
            self.release(receiver.func)
            receiver, new_receiver = inner, new_receiver.args[0].value
        if self.use_variables and self._inner_of_nested(original_node):
            self.claim(original_node)
            return updated_node
        self.record("P09", original_node)
        if self.use_variables:
            nested = self._nested_path(original_node, updated_node)
            if nested is not None:
                keys, value = nested
                at = _edit.call(self.vs("at"), new_receiver)
                for key in keys:
                    at = cst.Subscript(at, [cst.SubscriptElement(cst.Index(key))])
                setter = cst.Attribute(at, cst.Name("set"))
                return _edit.keep_parens(updated_node, _edit.call(setter, value))
        if facts.flag_on or facts.typepres_region(original_node):
            return _edit.keep_parens(
                updated_node,
                _edit.call(self.flax_core("copy"), new_receiver, new_update),
            )
        merged = _edit.merge_dicts(new_receiver, new_update)
        if self._update_changes_later(original_node.args[0].value, original_node):
            # FrozenDict.copy deep-copied the update's dicts; keep that copy.
            return _edit.keep_parens(
                updated_node, _edit.call(self.flax_core("unfreeze"), merged)
            )
        return _edit.keep_parens(updated_node, merged)

    def _update_changes_later(
        self, update: cst.BaseExpression, anchor: cst.CSTNode
    ) -> bool:
        """A dict inside the update is written to after the copy was taken."""
        values = (
            [
                e.value
                for e in update.elements
                if m.matches(e, m.DictElement() | m.StarredDictElement())
            ]
            if m.matches(update, m.Dict())
            else [update]
        )
        return any(
            self.facts.source_mutation(value, anchor) is not None for value in values
        )

    @m.leave(m.Call(args=[m.Arg(keyword=None, star=""), m.Arg(star="")]))
    def deep_copy_dual_helper(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        """``flax.core.copy(x, u)`` (P11) when a dict inside ``u`` changes later.

        On a FrozenDict the helper deep-copied ``u``; on the dict it gets now it
        stores ``u``'s values as they are, so a later write to one shows through.
        """
        facts = self.facts
        if facts.api.get(original_node.func) != names.DUAL_COPY:
            return updated_node
        update = original_node.args[1]
        if update.keyword is not None and update.keyword.value != "add_or_replace":
            return updated_node
        if facts.flag_on or facts.typepres_region(original_node):
            return updated_node
        if not self._update_changes_later(update.value, original_node):
            return updated_node
        self.record("P11", original_node)
        merged = _edit.merge_dicts(
            updated_node.args[0].value, updated_node.args[1].value
        )
        return _edit.keep_parens(
            updated_node, _edit.call(self.flax_core("unfreeze"), merged)
        )

    def _frozen_call(self, value: cst.BaseExpression) -> bool:
        return m.matches(value, m.Call()) and self.facts.api.get(value.func) in (
            names.FREEZE,
            names.FROZEN_DICT,
        )

    def _linen_field(self, receiver: cst.BaseExpression) -> bool:
        root = names.chain_root(receiver)
        info = self.facts.enclosing_class(receiver)
        return (
            root is not None
            and root.value == "self"
            and receiver is not root
            and info is not None
            and info.linen
        )

    def _nested_path(self, call: cst.Call, updated: cst.Call | None = None):
        """``x.copy({"a": x["a"].copy({"b": v})})`` -> (keys ``"a", "b"``, ``v``).

        Keys come from the original tree, the value from ``updated`` (so rewrites
        inside it are kept); with no ``updated`` only the shape is checked.
        """
        code = self.facts.module.code_for_node
        keys: list[cst.BaseExpression] = []
        receiver, current, new = call.func.value, call, updated
        while True:
            update = current.args[0].value
            if not m.matches(
                update, m.Dict(elements=[m.DictElement(key=m.SimpleString())])
            ):
                return None
            element = update.elements[0]
            keys.append(element.key)
            new_value = new.args[0].value.elements[0].value if new is not None else None
            inner = element.value
            expected = f"{code(receiver).strip()}[{code(element.key).strip()}]"
            if (
                m.matches(inner, _COPY_CALL)
                and code(inner.func.value).strip() == expected
            ):
                receiver, current, new = inner.func.value, inner, new_value
                continue
            if len(keys) < 2:
                return None
            return keys, new_value

    def _inner_of_nested(self, call: cst.Call) -> bool:
        """Whether ``call`` is an inner ``.copy`` of a nested chain (done outside)."""
        parents = self.facts.parents
        element = parents.get(call)
        outer = (
            parents.get(parents.get(parents.get(element)))
            if element is not None
            else None
        )
        return (
            m.matches(element, m.DictElement())
            and m.matches(outer, _COPY_CALL)
            and self._nested_path(outer) is not None
        )
