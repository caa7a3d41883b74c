"""A read-only walk over a LibCST tree, in LibCST's own visiting order.

``node.visit(visitor)`` rebuilds every node it passes, even for a read-only
``CSTVisitor`` (LibCST's ``_visit_and_replace_children`` constructs and validates
a new node per node), so an analysis pass costs about as much as a rewrite. The
analysis in ``_facts.py`` only reads, so it uses ``walk`` instead: the same
``on_visit``/``on_leave`` calls (hence the same ``visit_<Node>``/``leave_<Node>``
methods), in the same order, on the original nodes, without rebuilding anything.

The order of a node type's children is taken from LibCST itself, once per type:
a shallow ``_visit_and_replace_children`` with a recorder lists the fields it
visits, in the order it visits them. Whitespace, comments, parentheses, commas and
operator tokens are not walked (``walk`` is for analyses of names and
expressions); ``tests/migration/test_walk.py`` checks that the order of every
other node equals ``node.visit``'s on real and generated modules.

>>> import libcst as cst
>>> class Names(cst.CSTVisitor):
...     def __init__(self):
...         self.seen = []
...     def visit_Name(self, node):
...         self.seen.append(node.value)
>>> names = Names()
>>> walk(cst.parse_module("y = f(x) if x else z\\n"), names)
>>> names.seen
['y', 'f', 'x', 'x', 'z']
"""

from __future__ import annotations

import libcst as cst
from libcst._nodes import op as _op
from libcst._nodes import whitespace as _whitespace

__all__ = ["walk"]

_TRIVIA_TYPES: tuple[type, ...] = (
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.Comma,
    cst.Dot,
    cst.ImportStar,
)
_TRIVIA_MODULES = frozenset({_op.__name__, _whitespace.__name__})

#: node type -> names of the fields LibCST visits, in its order (trivia removed).
_FIELDS: dict[type, tuple[str, ...]] = {}
_TRIVIA: dict[type, bool] = {}
#: Types whose visited fields depend on the instance (an f-string field visits its
#: format spec only when there is one): recorded per node, never cached.
_VARYING = frozenset(
    getattr(cst, name)
    for name in ("FormattedStringExpression", "TemplatedStringExpression")
    if hasattr(cst, name)
)


class _FieldRecorder(cst.CSTVisitor):
    """Lists the fields ``_visit_and_replace_children`` visits; never descends."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if attribute not in self.fields:
            self.fields.append(attribute)


def is_trivia(node_type: type) -> bool:
    """Whether ``walk`` skips nodes of this type (whitespace, brackets, operators)."""
    trivia = _TRIVIA.get(node_type)
    if trivia is None:
        trivia = _TRIVIA[node_type] = (
            node_type.__module__ in _TRIVIA_MODULES
            or issubclass(node_type, _TRIVIA_TYPES)
        )
    return trivia


def _fields_of(node: cst.CSTNode) -> tuple[str, ...]:
    node_type = type(node)
    fields = _FIELDS.get(node_type)
    if fields is None:
        recorder = _FieldRecorder()
        node._visit_and_replace_children(recorder)
        fields = tuple(recorder.fields)
        if node_type not in _VARYING:
            _FIELDS[node_type] = fields
    return fields


def _walkable(node_type: type) -> bool:
    walkable = _WALKABLE[node_type] = issubclass(node_type, cst.CSTNode) and not (
        is_trivia(node_type)
    )
    return walkable


#: type -> whether a field value of that type is walked (a non-trivia node).
_WALKABLE: dict[type, bool] = {}


def walk(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """Calls ``visitor.on_visit``/``on_leave`` on ``node`` and its descendants.

    Trivia (see ``is_trivia``) is skipped. As ``node.visit(visitor)`` for a
    read-only visitor otherwise: ``on_visit`` returning
    False skips the children; ``on_visit_attribute``/``on_leave_attribute`` are
    not called.
    """
    if visitor.on_visit(node):
        walkable = _WALKABLE
        for field in _FIELDS.get(type(node)) or _fields_of(node):
            value = getattr(node, field)
            kind = type(value)
            if kind is tuple or kind is list:
                for child in value:
                    child_kind = type(child)
                    ok = walkable.get(child_kind)
                    if ok or (ok is None and _walkable(child_kind)):
                        walk(child, visitor)
            else:
                ok = walkable.get(kind)
                if ok or (ok is None and _walkable(kind)):
                    walk(value, visitor)
    visitor.on_leave(node)
