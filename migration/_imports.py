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
does not appear anywhere in the module outside import statements (as a name, in
an ``__all__`` string or a string annotation), which is the case where
``RemoveImportsVisitor`` would remove it from the full module too. So the removal
visitor is handed that answer instead of gathering it again with its own scope
analysis (which, with the three visitors it builds, costs ~45 ms a file whatever
the file's size); it still does the removal itself. ``AddImportsVisitor`` looks
only at the top-level imports and the position of the first non-import
statement, both of which the skeleton keeps.

The names are counted on the migrated tree itself (a read-only ``_walk.walk``),
so that the module is not printed and tokenized once more just to count them.
"""

from __future__ import annotations

import ast
import re

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from migration._names import dotted_name
from migration._walk import walk

_MARKER = "# variables-migration-skeleton "
_IMPORT_LINE = m.SimpleStatementLine(
    body=[m.AtLeastN(m.Import() | m.ImportFrom(), n=1)]
)
_DOCSTRING = m.SimpleStatementLine(
    body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())]
)


def keep_only_unused_removals(context: CodemodContext, tree: cst.Module) -> None:
    """Drops scheduled import removals whose name is still used in the module.

    A name counts as used where it appears outside the top-level import
    statements as a name (not as the attribute after a ``.``), as a string equal
    to it (``__all__``) or inside a string that reads as a type expression
    (``"Dict[str, FrozenDict]"``); comments and docstrings do not count.
    """
    requests = context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY)
    if not requests:
        return
    counter = _NameUses()
    for statement in tree.body:
        if not m.matches(statement, _IMPORT_LINE):
            walk(statement, counter)
    total = counter.counts
    kept = []
    for module, obj, asname in requests:
        local = asname or obj or module.partition(".")[0]
        if not total.get(local, 0):
            kept.append((module, obj, asname))
    context.scratch[RemoveImportsVisitor.CONTEXT_KEY] = kept


def drop_present_additions(context: CodemodContext, tree: cst.Module) -> None:
    """Drops scheduled import additions that the module's leading imports make.

    ``AddImportsVisitor`` adds nothing for them either (it looks at the same
    leading block of imports); dropping them first saves building it at all.
    Only exact matches count (``import m``, ``import m as a``, ``from m import o``,
    ``from m import o as a``); anything else is left to the visitor.
    """
    requests = context.scratch.get(AddImportsVisitor.CONTEXT_KEY)
    if not requests:
        return
    present: set[tuple[str, str | None, str | None]] = set()
    for index, line in enumerate(tree.body):
        if index == 0 and m.matches(line, _DOCSTRING):
            continue
        if not m.matches(line, _IMPORT_LINE):
            break
        for statement in line.body:
            if isinstance(statement, cst.Import):
                for alias in statement.names:
                    present.add((_dotted(alias.name), None, alias.evaluated_alias))
            elif (
                not statement.relative
                and statement.module is not None
                and not isinstance(statement.names, cst.ImportStar)
            ):
                module = _dotted(statement.module)
                for alias in statement.names:
                    present.add((module, _dotted(alias.name), alias.evaluated_alias))
    context.scratch[AddImportsVisitor.CONTEXT_KEY] = [
        item
        for item in requests
        if item.relative or (item.module_name, item.obj_name, item.alias) not in present
    ]


def _dotted(node: cst.CSTNode) -> str:
    return dotted_name(node) or ""


_TYPE_STRING = re.compile(r"[\w.\[\], |]+")


class _NameUses(cst.CSTVisitor):
    """Counts the uses of each name (see ``keep_only_unused_removals``)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}
        self._attributes: set[cst.Name] = set()

    def _add(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._attributes.add(node.attr)

    def visit_Name(self, node: cst.Name) -> None:
        if node not in self._attributes:
            self._add(node.value)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.value[len(node.prefix) :].strip("'\"")
        if value.isidentifier():
            self._add(value)
        elif _TYPE_STRING.fullmatch(value) and len(value) < 200:
            for name in _annotation_names(value):
                self._add(name)


def _annotation_names(text: str) -> list[str]:
    """The names a string annotation such as ``"Dict[str, FrozenDict]"`` uses."""
    try:
        expression = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return []
    return [node.id for node in ast.walk(expression) if isinstance(node, ast.Name)]


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

    # With no matcher decorations, the matcher bookkeeping LibCST does around
    # every node (gating matchers, constructed visit functions) has nothing to do.

    def on_visit(self, node: cst.CSTNode) -> bool:
        if _Undecorated._plain.get(type(self).__mro__[2]):
            return cst.CSTTransformer.on_visit(self, node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        if _Undecorated._plain.get(type(self).__mro__[2]):
            return cst.CSTTransformer.on_leave(self, original_node, updated_node)
        return super().on_leave(original_node, updated_node)


class _AddImports(_Undecorated, AddImportsVisitor):
    pass


class _RemoveImports(_Undecorated, RemoveImportsVisitor):
    """``RemoveImportsVisitor`` told which imports are unused instead of gathering it.

    Every import of the skeleton is a candidate; the visitor removes those of them
    that were requested, and the requests were filtered to names unused in the
    whole module (``keep_only_unused_removals``). Run with ``module.visit``: no
    metadata is needed, so none is computed.
    """

    def visit_Module(self, node: cst.Module) -> None:
        self._unused_imports = {
            alias: statement
            for line in node.body
            if m.matches(line, _IMPORT_LINE)
            for statement in line.body
            if not m.matches(statement.names, m.ImportStar())
            for alias in statement.names
        }


def apply_import_changes(context: CodemodContext, tree: cst.Module) -> cst.Module:
    """Runs the scheduled ``AddImportsVisitor``/``RemoveImportsVisitor`` work."""
    keep_only_unused_removals(context, tree)
    drop_present_additions(context, tree)
    add = bool(context.scratch.get(AddImportsVisitor.CONTEXT_KEY))
    remove = bool(context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY))
    if not (add or remove):
        return tree
    skeleton = _skeleton(tree)
    if add:
        skeleton = _AddImports(context).transform_module(skeleton)
    if remove:
        skeleton = skeleton.visit(_RemoveImports(context))
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
    position: dict[int, int] = {}  # original index -> place in ``body``
    for statement in skeleton.body:
        index = _marker_index(statement)
        if index is None:
            body.append(statement)
            continue
        position[index] = len(body)
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
    _keep_group_breaks(tree, body, position)
    return body


def _keep_group_breaks(tree: cst.Module, body: list, position: dict[int, int]) -> None:
    """Blank lines above a removed import move to the statement that follows it.

    They separate a group of imports from the one before; without this, removing
    the first import of a group merges the two groups. Comments above the removed
    import go with it (they were about it); nothing moves to the top of the file.
    """
    for index, statement in enumerate(tree.body):
        if index in position or not index or not (m.matches(statement, _IMPORT_LINE)):
            continue
        blank = [line for line in statement.leading_lines if line.comment is None]
        if not blank or not any(i in position for i in range(index)):
            continue
        following = next(
            (position[i] for i in range(index + 1, len(tree.body)) if i in position),
            None,
        )
        if following is None:
            continue
        lines = list(body[following].leading_lines)
        if lines and lines[0].comment is None:
            continue  # the next statement starts a group of its own already
        body[following] = body[following].with_changes(leading_lines=blank + lines)


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
