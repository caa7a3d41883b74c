"""Small builders for replacement expressions that keep the user's formatting."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

_ATOMS = (
    m.Name()
    | m.Attribute()
    | m.Call()
    | m.Subscript()
    | m.Dict()
    | m.List()
    | m.Set()
    | m.DictComp()
    | m.ListComp()
    | m.SetComp()
    | m.GeneratorExp()
    | m.SimpleString()
    | m.ConcatenatedString()
    | m.FormattedString()
    | m.Integer()
    | m.Float()
    | m.Imaginary()
    | m.Ellipsis()
)


def needs_parens(expr: cst.BaseExpression) -> bool:
    """Whether ``expr`` must be parenthesized to stand where a call stood."""
    if expr.lpar:
        return False
    if m.matches(expr, m.Tuple()):
        return True
    return not m.matches(expr, _ATOMS)


def _has_comment(*parts: object) -> bool:
    return any(
        isinstance(part, cst.CSTNode) and m.findall(part, m.Comment()) for part in parts
    )


def unwrap_call(call: cst.Call, inner: cst.BaseExpression) -> cst.BaseExpression:
    """Replaces ``f(inner)`` by ``inner``, keeping parentheses and comments.

    Comments written inside the call's parentheses survive inside new parentheses;
    an ``inner`` that would bind differently outside the call is parenthesized.
    """
    arg = call.args[0] if call.args else None
    dropped = (
        call.whitespace_before_args,
        arg.whitespace_after_arg if arg is not None else None,
        arg.comma if arg is not None else None,
    )
    if call.lpar:
        if inner.lpar:
            return inner.with_changes(
                lpar=[*call.lpar, *inner.lpar], rpar=[*inner.rpar, *call.rpar]
            )
        return inner.with_changes(lpar=call.lpar, rpar=call.rpar)
    if _has_comment(*dropped):
        after = (
            arg.whitespace_after_arg if arg is not None else cst.SimpleWhitespace("")
        )
        if arg is not None and m.matches(arg.comma, m.Comma()):
            after = arg.comma.whitespace_after
        return inner.with_changes(
            lpar=[
                cst.LeftParen(whitespace_after=call.whitespace_before_args),
                *inner.lpar,
            ],
            rpar=[*inner.rpar, cst.RightParen(whitespace_before=after)],
        )
    if needs_parens(inner):
        return inner.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return inner


def keep_parens(old: cst.BaseExpression, new: cst.BaseExpression) -> cst.BaseExpression:
    """Moves the parentheses around ``old`` onto ``new``."""
    if old.lpar and not new.lpar:
        return new.with_changes(lpar=old.lpar, rpar=old.rpar)
    return new


def call(func: cst.BaseExpression, *args: cst.BaseExpression) -> cst.Call:
    """``func(a, b, ...)`` with the usual ``, `` separators."""
    built = []
    for i, value in enumerate(args):
        comma = (
            cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            if i < len(args) - 1
            else cst.MaybeSentinel.DEFAULT
        )
        built.append(cst.Arg(value=value, comma=comma))
    return cst.Call(func=func, args=built)


def merge_dicts(receiver: cst.BaseExpression, update: cst.BaseExpression) -> cst.Dict:
    """``{**receiver, **update}``, splicing ``update`` when it is a dict display."""
    receiver = _star_operand(receiver)
    if m.matches(update, m.Dict()) and not update.lpar:
        elements = list(update.elements)
        lead = update.lbrace.whitespace_after
        first_ws = (
            lead
            if m.matches(lead, m.ParenthesizedWhitespace())
            else cst.SimpleWhitespace(" ")
        )
        if not elements:
            return cst.Dict(
                [cst.StarredDictElement(receiver)],
                lbrace=update.lbrace,
                rbrace=update.rbrace,
            )
        head = cst.StarredDictElement(
            receiver, comma=cst.Comma(whitespace_after=first_ws)
        )
        return cst.Dict([head, *elements], lbrace=update.lbrace, rbrace=update.rbrace)
    update = _star_operand(update)
    return cst.Dict(
        [
            cst.StarredDictElement(
                receiver, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            ),
            cst.StarredDictElement(update),
        ]
    )


def _star_operand(expr: cst.BaseExpression) -> cst.BaseExpression:
    if needs_parens(expr) and not m.matches(expr, m.Tuple()):
        return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expr
