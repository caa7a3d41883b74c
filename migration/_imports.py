"""Adding and removing imports with LibCST's import visitors, on a module skeleton.

``AddImportsVisitor`` and ``RemoveImportsVisitor`` are what every family schedules
its import changes with (``add_needed_import`` / ``remove_unused_import``). Run on
the whole module they cost several times the rest of the migration (a deep copy,
a full scope analysis and a full rebuild of the tree, for a change to a few lines
at the top). This module runs them on a *skeleton* instead: the module's
top-level imports and docstring, with every other top-level statement replaced by
a ``pass`` placeholder. Each statement carries a marker comment so the result can
be spliced back, statement by statement, into the real module.

That is only equivalent because removals are filtered first
(``keep_only_unused_removals``): a removal is kept only when the imported name
does not appear anywhere in the module outside import statements, which is
exactly the case where ``RemoveImportsVisitor`` would remove it from the full
module too. ``AddImportsVisitor`` looks only at the top-level imports and the
position of the first non-import statement, both of which the skeleton keeps.
"""

from __future__ import annotations

import io
import re
import tokenize

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

_MARKER = "# variables-migration-skeleton "
_IMPORT_LINE = m.SimpleStatementLine(
    body=[m.AtLeastN(m.Import() | m.ImportFrom(), n=1)]
)
_DOCSTRING = m.SimpleStatementLine(
    body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())]
)


def keep_only_unused_removals(context: CodemodContext, tree: cst.Module) -> None:
    """Drops scheduled import removals whose name is still used in the module.

    A name counts as used where it appears as a name token outside the import
    statements (not after a ``.``), or as a string equal to it (``__all__``);
    comments and docstrings do not count.
    """
    requests = context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY)
    if not requests:
        return
    import_code = "".join(
        tree.code_for_node(statement)
        for statement in tree.body
        if m.matches(statement, _IMPORT_LINE)
    )
    total, in_imports = _name_counts(tree.code), _name_counts(import_code)
    kept = []
    for module, obj, asname in requests:
        local = asname or obj or module.partition(".")[0]
        if total.get(local, 0) <= in_imports.get(local, 0):
            kept.append((module, obj, asname))
    context.scratch[RemoveImportsVisitor.CONTEXT_KEY] = kept


def _name_counts(code: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    previous = ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NAME and previous != ".":
                counts[token.string] = counts.get(token.string, 0) + 1
            elif token.type == tokenize.STRING:
                prefix = token.string[
                    : len(token.string) - len(token.string.lstrip("rRbBuUfF"))
                ]
                if "f" in prefix.lower():  # names inside f-string fields are uses
                    for name in re.findall(r"[A-Za-z_]\w*", token.string):
                        counts[name] = counts.get(name, 0) + 1
                value = token.string.strip("'\"")
                if value.isidentifier():
                    counts[value] = counts.get(value, 0) + 1
            if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                previous = token.string
    except (tokenize.TokenError, SyntaxError):
        return {name: 10**9 for name in re.findall(r"\w+", code)}
    return counts


class _Undecorated:
    """Skips the per-instance matcher scan of a visitor that declares no matchers.

    ``MatcherDecoratableTransformer.__init__`` looks at every attribute of the
    instance (``dir``) for ``@m.visit``/``@m.leave``/``@m.call_if_*`` decorations,
    which costs about as much as running the visitor on a skeleton. LibCST's import
    visitors have none; this is checked once per class on a plain instance, and
    only then does the scan see an empty ``dir``, with the same (empty) result.
    """

    _plain: dict[type, bool] = {}

    def __dir__(self):
        base = type(self).__mro__[2]
        if base not in _Undecorated._plain:
            probe = base(CodemodContext())
            _Undecorated._plain[base] = not (
                probe._extra_visit_funcs or probe._extra_leave_funcs or probe._matchers
            )
        return [] if _Undecorated._plain[base] else super().__dir__()


class _AddImports(_Undecorated, AddImportsVisitor):
    pass


class _RemoveImports(_Undecorated, RemoveImportsVisitor):
    pass


def apply_import_changes(context: CodemodContext, tree: cst.Module) -> cst.Module:
    """Runs the scheduled ``AddImportsVisitor``/``RemoveImportsVisitor`` work."""
    keep_only_unused_removals(context, tree)
    visitors = [
        visitor
        for key, visitor in (
            (AddImportsVisitor.CONTEXT_KEY, _AddImports),
            (RemoveImportsVisitor.CONTEXT_KEY, _RemoveImports),
        )
        if context.scratch.get(key)
    ]
    if not visitors:
        return tree
    skeleton = _skeleton(tree)
    for visitor in visitors:
        skeleton = visitor(context).transform_module(skeleton)
    return _splice(tree, skeleton)


def _skeleton(tree: cst.Module) -> cst.Module:
    body = []
    for index, statement in enumerate(tree.body):
        marker = cst.EmptyLine(indent=False, comment=cst.Comment(f"{_MARKER}{index}"))
        if m.matches(statement, _IMPORT_LINE) or (
            index == 0 and m.matches(statement, _DOCSTRING)
        ):
            body.append(
                statement.with_changes(leading_lines=[*statement.leading_lines, marker])
            )
        else:
            body.append(cst.SimpleStatementLine([cst.Pass()], leading_lines=[marker]))
    return tree.with_changes(body=body)


def _splice(tree: cst.Module, skeleton: cst.Module) -> cst.Module:
    body = _splice_body(tree, skeleton)
    if (
        body
        and tree.body
        and not any(line.comment is None for line in tree.body[0].leading_lines)
    ):
        # When the first statement went away, the blank lines that separated it
        # from the next one must not end up at the top of the file.
        lines = list(body[0].leading_lines)
        while lines and lines[0].comment is None:
            lines.pop(0)
        body[0] = body[0].with_changes(leading_lines=lines)
    return tree.with_changes(body=body)


def _splice_body(tree: cst.Module, skeleton: cst.Module) -> list:
    body = []
    for statement in skeleton.body:
        index = _marker_index(statement)
        if index is None:
            body.append(statement)
            continue
        original = tree.body[index]
        if m.matches(original, _IMPORT_LINE) or (
            index == 0 and m.matches(original, _DOCSTRING)
        ):
            lines = [
                line for line in statement.leading_lines if _marker_of(line) is None
            ]
            body.append(statement.with_changes(leading_lines=lines))
        else:
            body.append(original)
    return body


def _marker_index(statement: cst.CSTNode) -> int | None:
    for line in getattr(statement, "leading_lines", ()):
        index = _marker_of(line)
        if index is not None:
            return index
    return None


def _marker_of(line: cst.EmptyLine) -> int | None:
    if line.comment is not None and line.comment.value.startswith(_MARKER):
        return int(line.comment.value[len(_MARKER) :])
    return None
