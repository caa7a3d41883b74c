"""``x.copy(add_or_replace=u)`` -> ``{**x, **u}`` (P09)."""

from __future__ import annotations

import functools

import libcst as cst
import libcst.matchers as m

from migration import _edit
from migration import _names as names
from migration._base import MigrationCommand
from migration._facts import MUTATE, Facts, Use

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
    it does not, so that call becomes ``flax.core.unfreeze({**x, **u})`` too. Not
    when ``x`` was a plain dict before the migration as well (a dict display,
    ``dict(...)``, an ``unfreeze`` result, or a local only ever bound to those):
    the old program took the helper's dict branch (a copy of ``x``, ``u`` stored
    as it is), which the call still takes, so it stays as written.

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
        return update_changes_later(self.facts, update, anchor)

    @m.leave(m.Call(args=[m.Arg(keyword=None, star=""), m.Arg(star="")]))
    def deep_copy_dual_helper(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        """``flax.core.copy(x, u)`` (P11) when a dict inside ``u`` changes later.

        On a FrozenDict the helper deep-copied ``u``; on the dict it gets now it
        stores ``u``'s values as they are, so a later write to one shows through.
        An ``x`` that was a plain dict before the migration too took the dict
        branch then as well: that call is left as it is.
        """
        facts = self.facts
        if not dual_copy_stores_update(facts, original_node):
            return updated_node
        if plain_dict_witnesses(facts, original_node.args[0].value) is not None:
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


# --- `flax.core.copy(x, u)` on a tree that was a dict before the migration too ----

_WITNESSES_KEY = "migration.copy.dict-witnesses"
_SELF = m.Name("self") | m.Name("cls") | m.Call(func=m.Name("super"))
_NAME_BINDING = (
    m.Assign(targets=[m.AssignTarget(target=m.Name())])
    | m.AnnAssign(target=m.Name())
    | m.NamedExpr(target=m.Name())
)


def update_changes_later(
    facts: Facts,
    update: cst.BaseExpression,
    anchor: cst.CSTNode,
    visiting: frozenset = frozenset(),
) -> bool:
    """A dict inside the update ``update`` is written to after ``anchor``."""
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
        facts.source_mutation(value, anchor) is not None
        or held_update_mutation(facts, value, anchor, visiting=visiting) is not None
        for value in values
    )


def dual_copy_stores_update(
    facts: Facts, call: cst.Call, visiting: frozenset = frozenset()
) -> bool:
    """``flax.core.copy(x, u)`` whose dict branch would let later writes to ``u`` show.

    That is where a FrozenDict ``x`` (whose branch deep-copied ``u``) and a dict
    ``x`` give different results: the calls ``deep_copy_dual_helper`` looks at.
    """
    if facts.api.get(call.func) != names.DUAL_COPY or not m.matches(
        call, m.Call(args=[m.Arg(keyword=None, star=""), m.Arg(star="")])
    ):
        return False
    update = call.args[1]
    if update.keyword is not None and update.keyword.value != "add_or_replace":
        return False
    if facts.flag_on or facts.typepres_region(call):
        return False
    return update_changes_later(facts, update.value, call, visiting | {call})


def plain_dict_witnesses(
    facts: Facts,
    expr: cst.BaseExpression,
    depth: int = 0,
    seen: frozenset = frozenset(),
) -> tuple[cst.Call, ...] | None:
    """How we know ``expr`` was a plain dict before the migration, or None.

    A dict display or comprehension, ``dict(...)``, ``unfreeze(...)`` /
    ``x.unfreeze()`` (which always returned a dict) and an item of one,
    ``flax.core.copy`` of such a dict, or a local (of a function or the module)
    every binding of which is one of those. Returns the
    ``unfreeze`` calls the answer rests on: they must stay ``unfreeze`` calls, or a
    second run would no longer see the dict (``DropUnfreezeCommand`` keeps them).
    """
    if depth > 8:
        return None
    if m.matches(expr, m.Dict() | m.DictComp()):
        return ()
    if m.matches(expr, m.Call()):
        func = expr.func
        api = facts.api.get(func)
        single = m.matches(expr, m.Call(args=[m.Arg(keyword=None, star="")]))
        if api == names.UNFREEZE:
            return (expr,) if single else None
        if api == names.DUAL_COPY:
            if not expr.args or not m.matches(
                expr.args[0], m.Arg(keyword=None, star="")
            ):
                return None
            return plain_dict_witnesses(facts, expr.args[0].value, depth + 1, seen)
        if api is None and m.matches(func, m.Attribute(attr=m.Name("unfreeze"))):
            if (
                expr.args
                or m.matches(func.value, _SELF)
                or names.UNFREEZE in facts.defined_functions
                or facts.is_module_like(func.value)
            ):
                return None
            return (expr,)
        if m.matches(func, m.Name("dict")) and "builtins.dict" in facts.qualified(func):
            return ()
        return None
    if m.matches(expr, m.Subscript()):
        # Every mapping inside an ``unfreeze`` result is a dict too.
        base = expr
        while m.matches(base, m.Subscript()):
            base = base.value
        # (Not so for a display or a merge: their values may be FrozenDicts.)
        found = plain_dict_witnesses(facts, base, depth + 1, seen)
        if found is not None and list(found) == [base]:
            return found
        return None
    if m.matches(expr, m.Name()):
        return _local_witnesses(facts, expr, depth, seen)
    return None


def _local_witnesses(
    facts: Facts, name: cst.Name, depth: int, seen: frozenset
) -> tuple[cst.Call, ...] | None:
    """Witnesses for a local (of a function or the module) bound only to dicts."""
    home = _home_scope(facts, name)
    if home is None or home.kind not in ("function", "module"):
        return None
    if name.value in home.params:
        return None
    binds = home.binds.get(name.value, ())
    if not binds or _declared_elsewhere(facts.module, name.value):
        return None
    found: list[cst.Call] = []
    for _, value in binds:
        if value is None or not m.matches(facts.parents.get(value), _NAME_BINDING):
            return None
        if value in seen:
            # ``t = flax.core.copy(t, u)``: the earlier bindings decide.
            continue
        inner = plain_dict_witnesses(facts, value, depth + 1, seen | {value})
        if inner is None:
            return None
        found.extend(inner)
    return tuple(found)


def _declared_elsewhere(module: cst.Module, name: str) -> bool:
    """A ``global``/``nonlocal`` statement of the module names ``name``.

    Such a name is bound in more scopes than the one its bindings are recorded in.
    """
    return name in _declared_names(module)


@functools.lru_cache(maxsize=8)
def _declared_names(module: cst.Module) -> frozenset[str]:
    return frozenset(
        item.name.value
        for statement in m.findall(module, m.Global() | m.Nonlocal())
        for item in statement.names
    )


def kept_dict_witnesses(facts: Facts, scratch: dict) -> frozenset[cst.Call]:
    """The ``unfreeze`` calls that ``flax.core.copy`` calls left alone rest on.

    Computed once per module (kept in the context's scratch space).
    """
    cached = scratch.get(_WITNESSES_KEY)
    if cached is not None and cached[0] is facts:
        return cached[1]
    found: set[cst.Call] = set()
    for node, api in list(facts.api.items()):
        if api != names.DUAL_COPY:
            continue
        call = facts.parents.get(node)
        if not m.matches(call, m.Call()) or call.func is not node:
            continue
        if not dual_copy_stores_update(facts, call):
            continue
        witnesses = plain_dict_witnesses(facts, call.args[0].value)
        if witnesses:
            found.update(witnesses)
    result = frozenset(found)
    scratch[_WITNESSES_KEY] = (facts, result)
    return result


def held_update_mutation(
    facts: Facts,
    expr: cst.BaseExpression,
    anchor: cst.CSTNode,
    depth: int = 0,
    visiting: frozenset = frozenset(),
) -> Use | None:
    """A later write to a dict that a ``flax.core.copy`` left alone stored in ``expr``.

    ``t = flax.core.copy(d, {"k": v})`` on a dict ``d`` stores ``v`` itself in
    ``t``, and such a call stays as written (``d`` was a dict before the migration
    too, or the module keeps FrozenDicts), so a write to ``v`` after ``anchor``
    changes ``t`` as well. ``Facts.source_mutation`` follows the trees an
    expression reads and the dict displays bound to them, not what such a call
    stores; the families that drop or skip a copy ask this too.
    """
    if depth > 3:
        return None
    if m.matches(expr, m.Dict() | m.List() | m.Tuple() | m.Set()):
        for element in expr.elements:
            found = held_update_mutation(
                facts, element.value, anchor, depth + 1, visiting
            )
            if found is not None:
                return found
        return None
    root, _ = facts.access_path(expr)
    if root is None:
        return None
    home = _home_scope(facts, root)
    if home is None:
        return None
    for _, value in home.binds.get(root.value, ()):
        if value is None or value is expr:
            continue
        if m.matches(value, m.Call()) and facts.api.get(value.func) == names.DUAL_COPY:
            if len(value.args) < 2 or _rewritten_dual_copy(facts, value, visiting):
                continue
            update = value.args[1].value
            values = (
                [e.value for e in update.elements]
                if m.matches(update, m.Dict())
                else [update]
            )
            for stored in values:
                use = facts.source_mutation(stored, anchor)
                if use is None:
                    use = held_update_mutation(
                        facts, stored, anchor, depth + 1, visiting
                    )
                if use is not None:
                    return Use(
                        MUTATE,
                        f"`{facts.code(root)}` holds `{facts.code(stored)}`, which "
                        f"`flax.core.copy` stored as it is; {use.detail}",
                    )
        elif m.matches(value, m.Name() | m.Dict() | m.List() | m.Tuple() | m.Set()):
            found = held_update_mutation(facts, value, anchor, depth + 1, visiting)
            if found is not None:
                return found
    return None


def _rewritten_dual_copy(facts: Facts, call: cst.Call, visiting: frozenset) -> bool:
    """``flax.core.copy(x, u)`` that ``deep_copy_dual_helper`` makes a deep copy.

    A call met again while deciding this (only in code that feeds a call its own
    result) counts as kept, which is the cautious answer for the caller.
    """
    if call in visiting:
        return False
    return (
        dual_copy_stores_update(facts, call, visiting)
        and plain_dict_witnesses(facts, call.args[0].value) is None
    )


def _home_scope(facts: Facts, name: cst.Name):
    """The scope whose binding of ``name`` a load of it reads."""
    home = facts.scope_of(name)
    if home.kind == "class" and home.bound(name.value):
        return home
    while home is not None and (home.kind == "class" or not home.bound(name.value)):
        home = home.parent
    return home
