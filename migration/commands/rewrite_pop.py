"""``rest, value = x.pop(k)`` -> ``rest, value = flax.core.pop(x, k)`` (P10, P17)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration import _names as names
from migration._base import MigrationCommand
from migration._facts import is_two_target_pop
from migration.commands.rewrite_copy import held_update_mutation, plain_dict_witnesses

_POP_ASSIGN = m.Assign(
    targets=[m.AssignTarget(target=m.Tuple() | m.List())],
    value=m.Call(
        func=m.Attribute(attr=m.Name("pop")), args=[m.Arg(keyword=None, star="")]
    ),
)
_INT_KEY = m.Integer() | m.UnaryOperation(expression=m.Integer())


class RewritePopCommand(MigrationCommand):
    """Rewrites the two-target ``FrozenDict.pop`` unpacking, which is silent on dicts.

    On a dict, ``others, params = variables.pop("params")`` unpacks the popped
    *value* (two module names when there are two layers) and empties the caller's
    dict. The rewrite reads instead of popping:
    ``others, params = {k: v for k, v in variables.items() if k != "params"},
    variables["params"]`` (key order kept, nothing mutated); with ``_`` as the
    rest (and ``_`` never read) the line becomes ``params = variables["params"]``.
    A receiver that cannot be read twice (a call, ``freeze(x)``) goes through
    ``flax.core.pop(x, k)``, flax's own helper for both types, as does every pop in
    a module that turns ``flax_return_frozendict`` on or a type-preserving
    function. Only string-literal keys are rewritten; other keys are reported (a
    list of pairs pops the same way). Single-target ``x.pop(k)`` is an ordinary
    dict pop and is never touched.
    """

    DESCRIPTION = "Rewrite rest, value = x.pop(k) to flax.core.pop(x, k)."

    @m.leave(_POP_ASSIGN)
    def rewrite_pop(
        self, original_node: cst.Assign, updated_node: cst.Assign
    ) -> cst.Assign:
        facts = self.facts
        call = original_node.value
        if not facts.flaxy or not is_two_target_pop(call, facts.parents):
            return updated_node
        key = call.args[0].value
        receiver = call.func.value
        if (
            m.matches(key, _INT_KEY)
            or self._plain_dict(receiver)
            or self.facts.is_module_like(receiver)
        ):
            return updated_node
        if plain_dict_witnesses(facts, receiver) is not None:
            # `t = unfreeze(x); rest, v = t.pop(k)` ran dict.pop before the
            # migration too (it unpacks the popped value): not FrozenDict.pop.
            self.refuse(
                call,
                "P10/NEG",
                "the receiver was already a dict (made by `unfreeze` or a dict "
                "display), so this is `dict.pop`, which returns the value and "
                "removes the key; left as is, check that this is what you want",
            )
            return updated_node
        if names.DUAL_POP in facts.defined_functions:
            self.refuse(
                call,
                "P10/NEG",
                "the module defines its own `pop`, so this may not be "
                "FrozenDict.pop; check it by hand",
            )
            return updated_node
        if names.literal_string(key) is None and not self._flax_receiver(receiver):
            self.refuse(
                call,
                "P10/POP",
                "cannot tell a FrozenDict.pop from a list or dict pop with a "
                "computed key; "
                "if it is a FrozenDict write `rest, value = flax.core.pop(x, k)`",
            )
            return updated_node
        new_call = updated_node.value
        inner = facts.frozen_source(receiver)
        if inner is not None:
            # freeze(x).pop(k): the freeze-to-pop idiom (P17).
            self.release(receiver.func)
            new_call = new_call.with_changes(
                func=new_call.func.with_changes(value=new_call.func.value.args[0].value)
            )
        self.record("P17" if inner is not None else "P10", call)
        rest, value = updated_node.targets[0].target.elements
        if self._unused_underscore(original_node, rest.value):
            subscript = cst.Subscript(
                value=new_call.func.value,
                slice=[cst.SubscriptElement(cst.Index(new_call.args[0].value))],
            )
            return updated_node.with_changes(
                targets=[
                    updated_node.targets[0].with_changes(
                        target=value.value.with_changes(lpar=[], rpar=[])
                    )
                ],
                value=subscript,
            )
        new_receiver = new_call.func.value
        if (
            _re_evaluable(new_receiver)
            and not facts.flag_on
            and not facts.typepres_region(call)
            and (
                inner is None
                or (
                    facts.source_mutation(inner, call) is None
                    and held_update_mutation(facts, inner, call) is None
                )
            )
        ):
            return updated_node.with_changes(
                value=_split(new_receiver, new_call.args[0].value)
            )
        receiver_arg = cst.Arg(
            value=new_receiver,
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
        )
        return updated_node.with_changes(
            value=new_call.with_changes(
                func=self.flax_core("pop"), args=[receiver_arg, *new_call.args]
            )
        )

    def _unused_underscore(self, assign: cst.Assign, rest: cst.BaseExpression) -> bool:
        if not m.matches(rest, m.Name("_")):
            return False
        return not self.facts.loads_after(assign, "_")

    def _plain_dict(self, receiver: cst.BaseExpression) -> bool:
        """A local bound to a dict display or ``dict(...)``: a real dict, left alone."""
        if not m.matches(receiver, m.Name()):
            return False
        scope = self.facts.scope_of(receiver)
        binds = scope.binds.get(receiver.value, [])
        return bool(binds) and all(
            value is not None
            and (
                m.matches(value, m.Dict() | m.DictComp())
                or m.matches(value, m.Call(func=m.Name("dict")))
            )
            for _, value in binds
        )

    def _flax_receiver(self, receiver: cst.BaseExpression) -> bool:
        facts = self.facts
        if facts.is_init_call(receiver):
            return True
        if m.matches(receiver, m.Call()) and facts.api.get(receiver.func) in (
            names.FREEZE,
            names.FROZEN_DICT,
        ):
            return True
        return False


def _re_evaluable(expr: cst.BaseExpression) -> bool:
    """A name, or ``a.b["k"][0]``: reading it twice reads the same object."""
    while True:
        if m.matches(expr, m.Name()):
            return True
        if m.matches(expr, m.Attribute()):
            expr = expr.value
        elif m.matches(
            expr,
            m.Subscript(
                slice=[
                    m.SubscriptElement(
                        slice=m.Index(value=m.SimpleString() | m.Integer())
                    )
                ]
            ),
        ):
            expr = expr.value
        else:
            return False


def _split(receiver: cst.BaseExpression, key: cst.BaseExpression) -> cst.Tuple:
    """``{k: v for k, v in x.items() if k != key}, x[key]``: FrozenDict.pop on a dict.

    Keys keep their order (``flax.core.pop`` would sort them: it copies through
    ``jax.tree_util``) and nothing is mutated.
    """
    root = names.chain_root(receiver)
    k, v = (
        ("key", "value")
        if root is not None and root.value in ("k", "v")
        else ("k", "v")
    )
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    rest = cst.DictComp(
        key=cst.Name(k),
        value=cst.Name(v),
        for_in=cst.CompFor(
            target=cst.Tuple(
                [cst.Element(cst.Name(k), comma=comma), cst.Element(cst.Name(v))],
                lpar=[],
                rpar=[],
            ),
            iter=cst.Call(func=cst.Attribute(receiver, cst.Name("items"))),
            ifs=[
                cst.CompIf(
                    test=cst.Comparison(
                        left=cst.Name(k),
                        comparisons=[
                            cst.ComparisonTarget(cst.NotEqual(), key.deep_clone())
                        ],
                    )
                )
            ],
        ),
    )
    value = cst.Subscript(receiver.deep_clone(), [cst.SubscriptElement(cst.Index(key))])
    return cst.Tuple(
        [cst.Element(rest, comma=comma), cst.Element(value)], lpar=[], rpar=[]
    )
