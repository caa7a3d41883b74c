"""``unfreeze(x)`` / ``x.unfreeze()`` -> ``x`` where no copy is needed (P02, P03)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration import _edit
from migration import _names as names
from migration._base import MigrationCommand
from migration._facts import TREEPAIR
from migration.commands.rewrite_copy import held_update_mutation, kept_dict_witnesses

_SELF = m.Name("self") | m.Name("cls") | m.Call(func=m.Name("super"))


class DropUnfreezeCommand(MigrationCommand):
    """Removes the copy ``unfreeze`` makes when nothing can observe it.

    The copy goes when the result is only read and the tree it was taken from is
    not written to afterwards (P02, P03), when it is flattened at once
    (``flatten_dict(unfreeze(x))``, P02b), when the tree is a fresh ``init`` result
    (P02a) or a fresh ``apply`` output nobody else can see, also after it was
    kept under a name and unpacked again (the cache idiom, P17).

    When the copy may be mutated (MUT) the function form stays as it is (it still
    works on dicts) and is reported; the method form ``x.unfreeze()``, which raises
    on a dict, becomes ``flax.core.unfreeze(x)``. With ``--use-variables`` both
    become ``vs.clone_pytree(x)``. ``self.<field>.unfreeze()`` inside a Linen module
    always becomes ``flax.core.unfreeze(...)``: Linen keeps such fields frozen.

    Two kinds of ``unfreeze`` are kept whatever their uses, so that a second run
    changes nothing: ``unfreeze({**x, ...})``, which is what the P09/P11 rewrites
    write when an update changes later, and an ``unfreeze`` whose dict reaches
    ``flax.core.copy(d, u)`` as ``d`` where that call is left alone because ``d``
    was a dict before the migration too (the method form still becomes
    ``flax.core.unfreeze(...)``, which raises on nothing).

    A ``x.unfreeze()`` whose result is discarded (a statement of its own) is left
    as it is and reported: on a FrozenDict it does nothing, but another class's
    ``unfreeze`` (a config object's) may change the object.
    """

    DESCRIPTION = "Drop unfreeze(x) / x.unfreeze() where the copy is not needed."

    @m.leave(m.Call())
    def drop_unfreeze(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        facts = self.facts
        func = original_node.func
        if facts.in_wrapper(original_node):
            return updated_node
        if facts.api.get(func) == names.UNFREEZE:
            if (
                len(original_node.args) != 1
                or original_node.args[0].keyword
                or (original_node.args[0].star)
            ):
                return updated_node
            source = original_node.args[0].value
            return self._decide(
                original_node, updated_node, source, updated_node.args[0].value, False
            )
        if (
            m.matches(func, m.Attribute(attr=m.Name("unfreeze")))
            and not original_node.args
            and facts.api.get(func) is None
            and facts.flaxy
            and not m.matches(func.value, _SELF)
            and names.UNFREEZE not in facts.defined_functions
            and not self.facts.is_module_like(func.value)
        ):
            if isinstance(facts.parents.get(original_node), cst.Expr):
                self.refuse(original_node, "P03/NEG", _DISCARDED_REASON)
                return updated_node
            receiver, new_receiver = func.value, updated_node.func.value
            inner = facts.frozen_source(receiver)
            if inner is not None:
                # FrozenDict(x).unfreeze() / freeze(x).unfreeze(): a deep copy of x.
                self.release(receiver.func)
                receiver, new_receiver = inner, new_receiver.args[0].value
            return self._decide(
                original_node, updated_node, receiver, new_receiver, True
            )
        return updated_node

    def _decide(
        self,
        original: cst.Call,
        updated: cst.Call,
        source: cst.BaseExpression,
        new_source: cst.BaseExpression,
        method: bool,
    ) -> cst.BaseExpression:
        pattern = "P03" if method else "P02"
        if not method and m.matches(
            source, m.Dict(elements=[m.StarredDictElement(), m.ZeroOrMore()])
        ):
            # `unfreeze({**x, ...})` is what the P09/P11 rewrites write when the
            # update is changed later: it is this tool's own answer, so a second
            # run keeps it as it is (neither dropped nor made `vs.clone_pytree`).
            self.claim(original)
            return updated
        if original in kept_dict_witnesses(self.facts, self.context.scratch):
            return self._keep_for_dual_copy(original, updated, new_source, method)
        drop = self._drop_label(original, source, pattern)
        if drop is not None:
            self.record(drop, original)
            if not method:
                self.release(original.func)
            return (
                _edit.unwrap_call(updated, new_source)
                if not method
                else _edit.keep_parens(updated, _parenthesize(new_source))
            )
        why = self._why_copy(original, source)
        trap, reason = why
        if self.use_variables and trap == "MUT":
            self.record(pattern, original)
            if not method:
                self.release(original.func)
            return self._copy_call(updated, self.vs("clone_pytree"), new_source, method)
        if method:
            self.record(pattern, original)
            if trap != "LINEN":
                self.refuse(
                    original,
                    f"P03/{trap}",
                    f"{reason}; rewrote it to `flax.core.unfreeze(...)`, "
                    "which still copies",
                )
            return self._copy_call(
                updated, self.flax_core("unfreeze"), new_source, method
            )
        self.refuse(
            original,
            f"P02/{trap}",
            f"{reason}; kept `unfreeze` (it still copies a dict)",
        )
        return updated

    def _keep_for_dual_copy(
        self,
        original: cst.Call,
        updated: cst.Call,
        new_source: cst.BaseExpression,
        method: bool,
    ) -> cst.BaseExpression:
        """Keeps an ``unfreeze`` whose dict a ``flax.core.copy`` left alone gets."""
        pattern = "P03" if method else "P02"
        reason = (
            "its dict goes to `flax.core.copy(d, u)`, which copies `u` for a "
            "FrozenDict `d` but not for a dict, and `u` changes later"
        )
        if not method:
            self.refuse(original, f"{pattern}/COPY", f"{reason}; kept `unfreeze`")
            return updated
        self.record(pattern, original)
        self.refuse(
            original,
            f"{pattern}/COPY",
            f"{reason}; rewrote it to `flax.core.unfreeze(...)`, which still copies",
        )
        return self._copy_call(updated, self.flax_core("unfreeze"), new_source, method)

    def _copy_call(self, updated: cst.Call, func, new_source, method: bool) -> cst.Call:
        if not method:
            return updated.with_changes(func=func)
        return _edit.keep_parens(updated, _edit.call(func, new_source))

    def _drop_label(
        self, original: cst.Call, source: cst.BaseExpression, pattern: str
    ) -> str | None:
        """The pattern id under which the copy can go, or None if it must stay."""
        facts = self.facts
        parent = facts.parents.get(original)
        if m.matches(parent, m.Arg(keyword=None, star="")):
            outer = facts.parents[parent]
            if outer.args[0] is parent and any(
                q.endswith("flatten_dict") and "unflatten" not in q
                for q in facts.qualified(outer.func)
            ):
                return "P02b"
        if facts.flag_on:
            return None
        if facts.is_fresh_dict(source):
            return "P02a" if facts.is_init_call(source) else pattern
        if _is_cache_read(source) and facts.owned_and_dead(source):
            return "P17"
        if facts.owned_and_dead(source):
            return pattern
        if self._linen_field(source) or facts.typepres_region(original):
            return None
        if (
            self.result_escapes(original) is None
            and facts.source_mutation(source, original) is None
            and held_update_mutation(facts, source, original) is None
        ):
            return pattern
        return None

    def _why_copy(
        self, original: cst.Call, source: cst.BaseExpression
    ) -> tuple[str, str]:
        facts = self.facts
        if facts.flag_on:
            return (
                "FLAG",
                "the module turns `flax_return_frozendict` on, so trees may still "
                "be FrozenDicts",
            )
        if self._linen_field(source):
            return "LINEN", "Linen still stores dict fields of a Module as FrozenDicts"
        if facts.typepres_region(original):
            return (
                "TYPEPRES",
                "this code returns a FrozenDict exactly when it was given one",
            )
        use = self.result_escapes(original)
        if use is not None:
            if use.kind == TREEPAIR:
                return "TREEDEF", f"the copy is a plain dict and {use.detail}"
            return "MUT", f"the copy may be changed: {use.detail}"
        mutation = facts.source_mutation(source, original) or held_update_mutation(
            facts, source, original
        )
        return (
            "MUT",
            f"{mutation.detail if mutation else 'the source changes later'}, "
            "and the copy protects it",
        )

    def _linen_field(self, source: cst.BaseExpression) -> bool:
        root = names.chain_root(source)
        info = self.facts.enclosing_class(source)
        return (
            root is not None
            and root.value == "self"
            and info is not None
            and info.linen
        )


def _is_cache_read(source: cst.BaseExpression) -> bool:
    return (
        m.matches(
            source,
            m.Subscript(
                slice=[m.SubscriptElement(slice=m.Index(value=m.SimpleString()))]
            ),
        )
        and names.literal_string(source.slice[0].slice.value) == "cache"
    )


def _parenthesize(expr: cst.BaseExpression) -> cst.BaseExpression:
    if _edit.needs_parens(expr):
        return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expr


_DISCARDED_REASON = (
    "the result of `.unfreeze()` is discarded: on a FrozenDict this line does "
    "nothing and can be deleted; another class's `unfreeze` (a config object's) "
    "may change the object, so it stays"
)
