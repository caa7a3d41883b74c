"""The base class of every rewrite family, and the state they share per file.

Each family in ``commands/`` is a ``VisitorBasedCodemodCommand`` that can run on its
own (that is how its ``CodemodTest`` runs it) or inside the one-pass pipeline of
``_pipeline.py``, which hands every family the same metadata and the same
``Facts``. Decisions are taken on original nodes (where the metadata and the facts
live); replacements are built from updated nodes, so the rewrites of nested
expressions compose.
"""

from __future__ import annotations

import ast
import collections
import dataclasses

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext, SkipFile, VisitorBasedCodemodCommand
from libcst.metadata import MetadataWrapper, PositionProvider

from migration import _names as names
from migration._facts import (
    DEFAULT,
    ESCAPE,
    HASH,
    MUTATE,
    SERIAL,
    TREEPAIR,
    UNKNOWN_CALL,
    Facts,
    Use,
    build_facts,
)

STATE_KEY = "migration.state"
FACTS_KEY = "migration.facts"
#: ``id`` of each top-level statement -> its first line (set by ``transform_source``).
LINES_KEY = "migration.lines"
_POSITIONS_KEY = "migration.positions"
NOTE_PREFIX = "# variables-migration:"


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A place the codemod left unchanged on purpose, and why.

    Attributes:
        filename: the file, as given to the codemod.
        line: 1-based line of the expression that was left alone.
        pattern: catalogue id and trap, e.g. ``"P02/MUT"`` or ``"P06a"``.
        reason: one sentence saying what was found and what to do about it.
    """

    filename: str
    line: int
    pattern: str
    reason: str


@dataclasses.dataclass
class MigrationState:
    """Per-file results shared by all families through ``context.scratch``."""

    rewrites: collections.Counter = dataclasses.field(
        default_factory=collections.Counter
    )
    refusals: list[Refusal] = dataclasses.field(default_factory=list)
    notes: dict[cst.CSTNode, list[str]] = dataclasses.field(default_factory=dict)
    claimed: set[cst.CSTNode] = dataclasses.field(default_factory=set)
    alias_uses_rewritten: collections.Counter = dataclasses.field(
        default_factory=collections.Counter
    )


def state_of(context: CodemodContext) -> MigrationState:
    state = context.scratch.get(STATE_KEY)
    if state is None:
        state = context.scratch[STATE_KEY] = MigrationState()
    return state


class MigrationHelpers:
    """Facts, refusals, counters and the spelling of added names, for any codemod.

    Mixed into ``MigrationCommand`` (the families) and into the pipeline command;
    it needs ``self.context``, ``get_metadata`` and the import helpers of
    ``CodemodCommand``.
    """

    use_variables: bool = False
    annotate: bool = False

    @property
    def facts(self) -> Facts:
        wrapper = self.context.wrapper
        cached = self.context.scratch.get(FACTS_KEY)
        if cached is not None and cached[0] is wrapper.module:
            return cached[1]
        # Qualified names come from the facts pass's own scopes (see
        # ``Facts._qualify``): LibCST's ScopeProvider gives the same answers at
        # about a third of the cost of a whole migration.
        facts = build_facts(wrapper.module)
        self.context.scratch[FACTS_KEY] = (wrapper.module, facts)
        return facts

    @property
    def state(self) -> MigrationState:
        return state_of(self.context)

    # --- results ----------------------------------------------------------------------

    def record(self, pattern: str, node: cst.CSTNode | None = None) -> None:
        """Counts one rewrite of ``pattern`` (and marks ``node`` as handled)."""
        self.state.rewrites[pattern] += 1
        if node is not None:
            self.claim(node)

    def claim(self, node: cst.CSTNode) -> None:
        """Marks ``node`` (and everything inside it) as handled by some family."""
        self.state.claimed.add(node)

    def refuse(self, node: cst.CSTNode, pattern: str, reason: str) -> None:
        """Leaves ``node`` unchanged and reports it (as a codemod warning too)."""
        self.claim(node)
        line = self.line_of(node)
        filename = self.context.filename or "<string>"
        self.state.refusals.append(Refusal(filename, line, pattern, reason))
        self.warn(f"{pattern} at line {line}: {reason}")
        if self.annotate:
            statement = self.facts.statement_of(node)
            if statement is not None:
                self.state.notes.setdefault(statement, []).append(
                    f"{pattern}: {reason}"
                )

    def line_of(self, node: cst.CSTNode) -> int:
        """1-based line of ``node`` in the module (0 if unknown)."""
        line = self._line_in_statement(node)
        if line is not None:
            return line
        positions = self.context.wrapper.resolve(PositionProvider)
        position = positions.get(node)
        return position.start.line if position is not None else 0

    def _line_in_statement(self, node: cst.CSTNode) -> int | None:
        """The line of the innermost enclosing statement with a known line (a
        top-level statement, class or function; see ``statement_lines``) plus the
        offset inside it, found by printing only that statement, not the whole
        module (which is what ``PositionProvider`` on the module costs)."""
        lines = self.context.scratch.get(LINES_KEY)
        if not lines:
            return None
        facts = self.facts
        top = facts.parents.get(node)
        while top is not None and id(top) not in lines:
            top = facts.parents.get(top)
        if top is None:
            return None
        start = lines[id(top)]
        cache = self.context.scratch.setdefault(_POSITIONS_KEY, {})
        positions = cache.get(id(top))
        if positions is None:
            alone = facts.module.with_changes(header=(), footer=(), body=(top,))
            wrapper = MetadataWrapper(alone, unsafe_skip_copy=True)
            positions = cache[id(top)] = wrapper.resolve(PositionProvider)
        if node not in positions or top not in positions:
            return None
        return start + positions[node].start.line - positions[top].start.line

    # --- names the rewrites add -------------------------------------------------------

    def flax_core(self, attr: str) -> cst.Attribute:
        """``flax.core.<attr>`` spelled with the module's own import (added if none)."""
        spelling = None
        for local, (module, obj, asname) in self.facts.module_imports.items():
            if self.facts.module_names.get(local, 0) != 1:
                continue
            if module == "flax.core" and obj is None and asname:
                spelling = asname
            elif module == "flax" and obj == "core":
                spelling = local
            elif spelling is None and local == "flax" and obj is None and not asname:
                spelling = "flax.core"
        if spelling is None:
            self.add_needed_import("flax")
            spelling = "flax.core"
        return cst.parse_expression(f"{spelling}.{attr}")

    def vs(self, attr: str) -> cst.Attribute:
        """``vs.<attr>``, adding ``import variables as vs`` if needed."""
        for local, (module, obj, asname) in self.facts.module_imports.items():
            if module == "variables" and obj is None:
                return cst.parse_expression(f"{local}.{attr}")
        self.add_needed_import("variables", asname="vs")
        return cst.parse_expression(f"vs.{attr}")

    def typing_name(self, module: str, name: str) -> cst.BaseExpression:
        """``name`` imported from ``module`` (``collections.abc``/``typing``)."""
        for local, (imported, obj, asname) in self.facts.module_imports.items():
            if obj == name and imported in ("typing", "collections.abc"):
                return cst.Name(local)
        for local, (imported, obj, asname) in self.facts.module_imports.items():
            if imported == module and obj is None and (asname or local == module):
                return cst.parse_expression(f"{asname or module}.{name}")
        if self.facts.module_names.get(name):
            self.add_needed_import(module)
            return cst.parse_expression(f"{module}.{name}")
        self.add_needed_import(module, name)
        return cst.Name(name)

    def release(self, reference: cst.CSTNode) -> None:
        """Schedules removal of the import behind ``reference`` if it becomes unused."""
        root = (
            names.chain_root(reference)
            if m.matches(reference, m.Name() | m.Attribute())
            else None
        )
        if root is None:
            return
        if root.value in self.facts.aliases:
            self.state.alias_uses_rewritten[root.value] += 1
            return
        for module, obj, asname in self.facts.imports.get(root.value, ()):
            self.remove_unused_import(module, obj, asname)

    # --- the traps of dropping a deep copy (freeze / FrozenDict(...)) -----------------

    def freeze_trap(
        self, call: cst.Call, source: cst.BaseExpression | None
    ) -> tuple[str, str] | None:
        """Why the FrozenDict made by ``call`` must stay, as ``(trap, reason)``."""
        facts = self.facts
        if facts.flag_on:
            return "FLAG", (
                "the module turns `flax_return_frozendict` on, so init/apply still "
                "return FrozenDicts here; keep FrozenDicts until the flag is removed"
            )
        if facts.typepres_region(call):
            return "TYPEPRES", (
                "this code returns a FrozenDict exactly when it was given one; "
                "leave both halves of the round trip, or remove them together"
            )
        uses = facts.value_uses(call)
        for use in uses:
            if use.kind == DEFAULT and use.detail == "it is a parameter default":
                return "DCDEF", (
                    "it is a parameter default: a dict default is one object shared "
                    "by every call; keep the FrozenDict or default to None"
                )
        for kind, trap, advice in (
            (
                DEFAULT,
                "DCDEF",
                "a dict default raises `ValueError: mutable default` "
                "in a dataclass and is shared by all instances; keep the FrozenDict or "
                "use `field(default_factory=...)`",
            ),
            (
                HASH,
                "HASH",
                "a dict is unhashable; keep the FrozenDict or use a "
                "hashable form such as `tuple(sorted(flatten_dict(cfg).items()))`",
            ),
            (
                TREEPAIR,
                "TREEDEF",
                "the other tree's container type must match; "
                "rewrite the paired trees together",
            ),
            (
                SERIAL,
                "SERIAL",
                "the restored tree takes the target's container "
                "type; migrate the target and its readers together",
            ),
            (
                MUTATE,
                "MUT",
                "the FrozenDict raised on this write before; check "
                "what the code expects",
            ),
        ):
            for use in uses:
                if use.kind == kind:
                    return trap, f"{use.detail}: {advice}"
        constant = self._default_constant(call)
        if constant is not None:
            return "DCDEF", constant
        if source is not None:
            alias = self.alias_trap(call, source, uses)
            if alias is not None:
                return "ALIAS", alias
        return None

    def _default_constant(self, call: cst.Call) -> str | None:
        facts = self.facts
        parent = facts.parents.get(call)
        if not m.matches(parent, m.Assign(targets=[m.AssignTarget(target=m.Name())])):
            return None
        if facts.scope_of(call).kind != "module":
            return None
        name = parent.targets[0].target.value
        for use in facts.follow([(n, ()) for n in facts.loads_after(call, name)]):
            if use.kind in (DEFAULT, HASH):
                return (
                    f"module constant `{name}` is used as a default or needs to be "
                    "hashable; keep the FrozenDict or use "
                    "`field(default_factory=...)`"
                )
        return None

    def alias_trap(
        self, call: cst.CSTNode, source: cst.BaseExpression, uses: list[Use]
    ) -> str | None:
        """Why dropping the copy of ``source`` made by ``call`` could alias state."""
        facts = self.facts
        if facts.in_property(call):
            return (
                "inside a property, the copy keeps callers from changing internal "
                "state through the returned tree; return a copy instead"
            )
        root, _ = facts.access_path(source)
        function = facts.enclosing_function(call)
        if (
            root is not None
            and root.value == "self"
            and any(u.kind == ESCAPE and u.detail == "it is returned" for u in uses)
        ):
            return (
                "a tree held by `self` is returned: without the copy the caller "
                "can change the object's state"
            )
        if (
            root is not None
            and function is not None
            and root.value in facts.scopes[function].params
            and root.value != "self"
            and any(
                u.kind == ESCAPE and u.detail.startswith("it is stored in `self")
                for u in uses
            )
        ):
            return (
                "a tree passed in by the caller is stored on `self`: without the "
                "copy later changes by the caller show through"
            )
        mutation = facts.source_mutation(source, call)
        if mutation is not None:
            return (
                f"{mutation.detail}, and without the copy the change would show through"
            )
        return None

    def result_escapes(self, call: cst.CSTNode) -> Use | None:
        """The first use of a copy's value that may change it (for unfreeze)."""
        uses = self.facts.value_uses(call)
        for kind in (MUTATE, TREEPAIR, UNKNOWN_CALL, ESCAPE):
            for use in uses:
                if use.kind == kind:
                    return use
        return None


class MigrationCommand(MigrationHelpers, VisitorBasedCodemodCommand):
    """Base of the rewrite families (see the module docstring)."""

    METADATA_DEPENDENCIES = ()

    def __init__(
        self,
        context: CodemodContext,
        use_variables: bool = False,
        annotate: bool = False,
    ) -> None:
        super().__init__(context)
        self.use_variables = use_variables
        self.annotate = annotate
        self.standalone = True

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        facts = self.facts
        if not facts.flaxy:
            raise SkipFile("the module never uses flax")
        return tree.visit(self)

    def on_leave(self, original_node, updated_node):
        updated = super().on_leave(original_node, updated_node)
        if self.standalone:
            updated = finish_statement(self, original_node, updated)
        return updated


def statement_lines(module: cst.Module, tree: ast.Module) -> dict[int, int] | None:
    """``id`` of top-level statements, classes and functions -> their line.

    ``tree`` is ``ast.parse`` of the same source: a LibCST statement line holds as
    many ``ast`` statements as it has small statements (``a = 1; b = 2``), any
    other statement one, and both place a statement at its first token (a
    decorated function at ``def``). The bodies of classes and functions are
    matched the same way, so that a line inside a long class is found from its
    method. None when the two do not line up.
    """
    lines: dict[int, int] = {}
    return lines if _match_body(module.body, tree.body, lines) else None


def _match_body(statements, body: list[ast.stmt], lines: dict[int, int]) -> bool:
    index = 0
    for statement in statements:
        if index >= len(body):
            return False
        lines[id(statement)] = body[index].lineno
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and isinstance(
            statement.body, cst.IndentedBlock
        ):
            inner = body[index]
            if not isinstance(
                inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ) or not _match_body(statement.body.body, inner.body, lines):
                return False
        index += (
            len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
        )
    return index == len(body)


# --- statement-level finishing: notes and self-assignments ---------------------------


def finish_statement(codemod: MigrationHelpers, original, updated):
    """Adds ``--annotate`` notes; removes ``x = x`` left by a dropped copy."""
    kind = type(original)
    if kind is not cst.IndentedBlock and original not in codemod.state.notes:
        if kind is not cst.SimpleStatementLine or updated is original:
            return updated
    if m.matches(original, m.SimpleStatementLine()) and m.matches(
        updated, m.SimpleStatementLine()
    ):
        if _is_new_self_assignment(original, updated) and (
            codemod.facts.scope_of(original).kind != "class"
        ):
            codemod.state.notes.pop(original, None)
            return cst.RemoveFromParent()
    notes = codemod.state.notes.get(original)
    if notes and m.matches(
        updated, m.SimpleStatementLine() | m.BaseCompoundStatement()
    ):
        updated = _with_notes(updated, notes)
    if m.matches(updated, m.IndentedBlock()) and not updated.body:
        updated = updated.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
    return updated


def _is_new_self_assignment(original: cst.SimpleStatementLine, updated) -> bool:
    pattern = m.SimpleStatementLine(
        body=[m.Assign(targets=[m.AssignTarget(target=m.Name())], value=m.Name())]
    )
    if not m.matches(updated, pattern) or m.matches(original, pattern):
        return False
    assign = updated.body[0]
    if assign.targets[0].target.value != assign.value.value:
        return False
    has_comment = any(line.comment is not None for line in updated.leading_lines) or (
        updated.trailing_whitespace.comment is not None
    )
    return not has_comment


def _with_notes(statement, notes: list[str]):
    """Adds one comment line per note, unless a note for the same trap is there.

    Notes are compared by trap (``MUT`` in ``P03/MUT``), so the second run over
    ``flax.core.unfreeze(x)`` (a P02 note) does not add to the first run's P03 note.
    """
    lines = list(statement.leading_lines)
    present = {
        _note_tag(line.comment.value[len(NOTE_PREFIX) :])
        for line in lines
        if line.comment is not None and line.comment.value.startswith(NOTE_PREFIX)
    }
    for note in notes:
        tag = _note_tag(note)
        if tag in present:
            continue
        present.add(tag)
        text = f"{NOTE_PREFIX} {note}".replace("\n", " ")
        lines.append(cst.EmptyLine(indent=True, comment=cst.Comment(text)))
    return statement.with_changes(leading_lines=lines)


def _note_tag(note: str) -> str:
    pattern = note.strip().split(":", 1)[0]
    return pattern.rsplit("/", 1)[-1]
