"""One read-only pass over a module, and the questions the rewrite commands ask of it.

The pass records, for every node, its parent and its position in source order, and
for every scope the loads and bindings of each name. From that the commands ask
where a value goes (``value_uses``: is the copy mutated later? is the frozen value a
dict key, a static jit argument, one of two trees in a ``tree_map``, printed,
used through an attribute only a FrozenDict has?) and whether the tree a copy was
taken from is written to afterwards (``source_mutation``) or is a fresh ``init`` /
``apply`` result nobody else can see (``owned_and_dead``).
Flax names are resolved through ``QualifiedNameProvider`` plus the module-level
aliases (``freeze = flax.core.frozen_dict.freeze``) and one-line wrapper functions
found in a first scan of the module body.

The analysis is deliberately simple and errs on the side of "this value may be
mutated": a wrong "may" costs a refusal, a wrong "is not" would change a program.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
from collections.abc import Callable, Collection, Iterable
from typing import NamedTuple

import libcst as cst
import libcst.matchers as m
from libcst.helpers import get_full_name_for_node
from libcst.metadata import QualifiedName, QualifiedNameSource

from migration import _names as names
from migration._walk import walk

Qualify = Callable[[cst.CSTNode], Collection[QualifiedName]]

# Kinds of use a value can have (see ``Facts.classify``).
READ = "read"
MUTATE = "mutate"
ESCAPE = "escape"
UNKNOWN_CALL = "unknown-call"
HASH = "hash"
TREEPAIR = "treepair"
SERIAL = "serial"
DEFAULT = "default"
ALIAS = "alias"
#: The value's text is shown (printed, logged, formatted): a FrozenDict prints as
#: ``FrozenDict({...})`` over several lines, a dict as ``{...}`` (REPR).
REPR = "repr"
#: As ``REPR``, but the text is compared with something (an ``assert``, a golden
#: string ``FrozenDict({...`` in the same code): the rewrite would break it.
GOLDEN = "golden"
#: A FrozenDict attribute a dict lacks or implements differently (``__reduce__``,
#: ``tree_flatten_with_keys``, ``_dict``...) is used on the value.
FROZEN_API = "frozen-api"

#: Attributes only a FrozenDict has (``dir(FrozenDict) - dir(dict)``, without the
#: methods whose own rewrite families handle them: ``unfreeze``, ``pretty_repr``):
#: using one on any part of the value breaks once it is a dict.
FROZEN_ONLY_ATTRIBUTES = frozenset(
    {
        "_dict",
        "_hash",
        "tree_flatten_with_keys",
        "tree_unflatten",
        "_abc_impl",
        "__orig_bases__",
        "__abstractmethods__",
        "__slots__",
    }
)
#: Attributes both have, with a different result on a dict: ``__reduce__`` (a
#: dict's raises ``TypeError``), ``__hash__`` (None on a dict), the class...
FROZEN_DIFFERENT_ATTRIBUTES = frozenset(
    {
        "__reduce__",
        "__reduce_ex__",
        "__hash__",
        "__getstate__",
        "__class__",
        "__module__",
    }
)
_RESUMING = (cst.Try, cst.TryStar, cst.With)
_STRING_NODES = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
_SEQUENCE_CALLS = frozenset(
    f"builtins.{name}"
    for name in (
        "list",
        "tuple",
        "sorted",
        "reversed",
        "iter",
        "filter",
        "zip",
        "enumerate",
    )
)
_PICKING_CALLS = frozenset({"builtins.min", "builtins.max", "builtins.sum"})
_TEXT_CARRIERS = frozenset({"builtins.repr", "builtins.str", "textwrap.dedent"})
_TEXT_METHODS = frozenset({"__repr__", "__str__", "__format__"})
#: Calls that show their arguments' text: those returning it (compared, maybe)...
_TEXT_CALLS = frozenset(
    {"builtins.repr", "builtins.str", "builtins.format", "pprint.pformat"}
)
#: ... and those writing it to a stream or a log.
_SHOW_CALLS = _TEXT_CALLS | {
    "builtins.print",
    "pprint.pprint",
    "pprint.pp",
    "jax.debug.print",
}
_SHOW_PREFIXES = ("logging.", "absl.logging.")
#: Methods, on anything, that write or format the text of their arguments.
_SHOW_METHODS = frozenset(
    {
        "info",
        "debug",
        "warning",
        "warn",
        "error",
        "exception",
        "critical",
        "fatal",
        "log",
        "format",
    }
)
#: Text in the code that looks like a printed FrozenDict (a golden string).
_GOLDEN_MARKS = ("FrozenDict({", "frozen_dict_keys(", "frozen_dict_values(")

_STATEMENT = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
_SCOPE_NODES = (cst.Module, cst.FunctionDef, cst.Lambda, cst.ClassDef)
_LOOPS = (cst.For, cst.While)
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_BUILTINS = frozenset(dir(builtins))
#: Names a rewrite can start from besides the resolved API uses (``Facts.api``):
#: the FrozenDict methods a dict lacks, ``update`` (the config flag) and the words
#: of the API itself (a local ``pretty_repr``, a ``FrozenDict`` of another package).
_HOT_WORDS = (
    names.INTERESTING_LEAVES | names.FROZEN_METHODS | {"update", "isinstance", "type"}
)
_IMPORT_RE = re.compile(r"^[ \t]*(?:from|import)[ \t]+flax\b", re.M)
_TRIGGER_RE = re.compile(
    r"freeze|FrozenDict|frozen_dict|FrozenVariableDict|pretty_repr|"
    r"flax_return_frozendict|\.copy\(\s*[^)\s]|\.pop\(\s*[^,()]*\)"
)


def mentions_flax(source: str) -> bool:
    """Cheap text test run before parsing: does this file import flax at all?

    A file that never imports flax is left alone, whatever it calls: without
    flax in sight, ``x.pop(k)`` and ``x.copy(...)`` are somebody else's methods.

    >>> mentions_flax("import jax\\nrest, p = v.pop('params')\\n")
    False
    >>> mentions_flax("from flax.core import freeze\\n")
    True
    """
    return bool(_IMPORT_RE.search(source))


def may_need_migration(source: str) -> bool:
    """Whether a file that imports flax mentions anything a rewrite could touch.

    Every rewrite starts from an API name (``freeze``, ``FrozenDict``, ...,
    however imported or aliased, the name is written somewhere), a ``.copy``
    with arguments, a one-argument ``.pop``, or ``.pretty_repr``. A file with
    none of them is left alone without being parsed by LibCST.

    >>> may_need_migration("import flax\\nout.pop('stats', None)\\nx = y.copy()\\n")
    False
    >>> may_need_migration("import flax\\nrest, p = v.pop(\\n    'params'\\n)\\n")
    True
    """
    return bool(_TRIGGER_RE.search(source))


class Use(NamedTuple):
    """Where a value ends up: ``kind`` plus a phrase for the report."""

    kind: str
    detail: str = ""
    names: tuple[str, ...] = ()
    deep: bool = False  # the change can be anywhere below, not just at this node


@dataclasses.dataclass(eq=False)
class Scope:
    """Loads and bindings of the names of one module, class, function or lambda."""

    node: cst.CSTNode
    kind: str
    parent: Scope | None
    params: list[str] = dataclasses.field(default_factory=list)
    loads: dict[str, list[cst.Name]] = dataclasses.field(default_factory=dict)
    binds: dict[str, list[tuple[int, cst.CSTNode | None]]] = dataclasses.field(
        default_factory=dict
    )
    children: list[Scope] = dataclasses.field(default_factory=list)
    #: local name -> the imports that bind it here, as ``(module, obj, asname)``.
    imports: dict[str, list[tuple[str, str | None, str | None]]] = dataclasses.field(
        default_factory=dict
    )
    declared_global: set[str] = dataclasses.field(default_factory=set)
    declared_nonlocal: set[str] = dataclasses.field(default_factory=set)
    #: names bound only as comprehension targets -> the comprehensions binding them
    #: (``binds`` has them too, for the data flow; name lookup keeps them local).
    comprehension_binds: dict[str, list[cst.CSTNode]] = dataclasses.field(
        default_factory=dict
    )
    #: names bound here other than as comprehension targets or imports -> the
    #: source order at which each binding takes effect (name lookup in the scope's
    #: own body sees only the earlier ones, as LibCST does).
    plain_binds: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    #: name -> source order of each entry of ``imports[name]``.
    import_orders: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    #: the target node of each entry of ``binds`` (same order).
    bind_targets: dict[str, list[cst.CSTNode]] = dataclasses.field(default_factory=dict)

    def binding_orders(self, name: str) -> list[int]:
        """When each binding of ``name`` here (imports included) takes effect."""
        return [*self.plain_binds.get(name, ()), *self.import_orders.get(name, ())]

    def bound(self, name: str) -> bool:
        return name in self.binds or name in self.params

    def defines(self, name: str) -> bool:
        """Whether ``name`` is a local of this scope (imports included)."""
        return name in self.plain_binds or name in self.params or name in self.imports


@dataclasses.dataclass(eq=False)
class ClassInfo:
    """What the module says about one class it defines."""

    node: cst.ClassDef
    linen: bool = False
    dataclass_like: bool = False
    hashed_fields: frozenset[str] | None = None  # None: instances are not hashed


class Facts:
    """Everything the commands know about one parsed module (see the module doc)."""

    def __init__(self, module: cst.Module, qualify: Qualify | None = None) -> None:
        self.module = module
        self.qualify = qualify if qualify is not None else self._qualify
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.order: dict[cst.CSTNode, int] = {}
        self.end: dict[cst.CSTNode, int] = {}
        self.api: dict[cst.CSTNode, str] = {}
        self.scopes: dict[cst.CSTNode, Scope] = {}
        self.aliases: dict[str, str] = {}
        self.alias_defs: dict[str, cst.CSTNode] = {}
        self.wrappers: set[cst.FunctionDef] = set()
        self.imports: dict[str, list[tuple[str, str | None, str | None]]] = {}
        self.module_imports: dict[str, tuple[str, str | None, str | None]] = {}
        self.module_names: dict[str, int] = {}
        self.defined_functions: set[str] = set()
        self.functions: dict[str, cst.FunctionDef] = {}
        self.classes: dict[str, ClassInfo] = {}
        self.class_of: dict[cst.ClassDef, ClassInfo] = {}
        self.static_args: dict[str, tuple[frozenset[str], frozenset[int]]] = {}
        self.cached_functions: set[str] = set()
        self.properties: set[cst.FunctionDef] = set()
        self.typepres: dict[cst.CSTNode, set[str]] = {}
        self.flag_calls: list[cst.Call] = []
        self.flag_on = False
        self.flaxy = False
        self.hash_replace_fields: set[str] = set()
        self._global_names: set[str] = set()
        #: local names an import gives to an API name (``freeze as fz``).
        self.imported_as: set[str] = set()
        #: Nodes a rewrite family may change or report, and all their ancestors
        #: (see ``on_hot_path``).
        self.hot_path: set[cst.CSTNode] = set()
        self._hot: list[cst.CSTNode] = []
        self._param_effects: dict[tuple[str, str], list[Use]] = {}
        self._value_uses: dict[cst.CSTNode, list[Use]] = {}
        #: scopes (module, class, function) holding a golden ``FrozenDict({`` text.
        self.golden: set[cst.CSTNode] = set()
        self._in_progress: set[tuple[str, str]] = set()

    # --- names ------------------------------------------------------------------------

    def resolve(self, node: cst.CSTNode) -> str | None:
        """Canonical FrozenDict API name of a Name/Attribute chain, or None."""
        # Called for every name and attribute of the module: plain type tests
        # (exact LibCST node types) keep it cheap; the cheap leaf test goes first.
        kind = type(node)
        if kind is cst.Name:
            leaf = node.value
        elif kind is cst.Attribute:
            leaf = node.attr.value
        else:
            return None
        if (
            leaf not in names.INTERESTING_LEAVES
            and leaf not in self.aliases
            and leaf not in self.imported_as
        ):
            return None
        if kind is cst.Attribute:
            inner = node.value
            while type(inner) is cst.Attribute:
                inner = inner.value
            if type(inner) is not cst.Name:
                return None
        for qualified in self.qualify(node):
            api = names.api_for_qualified_name(qualified.name)
            if api is not None:
                return api
            if qualified.source == QualifiedNameSource.LOCAL:
                head, _, rest = qualified.name.partition(".")
                target = self.aliases.get(head)
                if target is not None and not rest:
                    return target
                if target == names.FROZEN_DICT_MODULE and rest:
                    return names.api_for_qualified_name(f"flax.core.frozen_dict.{rest}")
        return None

    def qualified(self, node: cst.CSTNode) -> set[str]:
        return {q.name for q in self.qualify(node)}

    def on_hot_path(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` is, or contains, a place a rewrite family may touch.

        Every family starts from a resolved API use (``api``) or from a name in
        ``_HOT_WORDS`` (``.copy``, ``.pop``, ``.update``, ...); a subtree with
        neither is left as it is by all of them, so the one-pass pipeline does not
        walk it (``tests/migration/test_pruning.py`` checks the output is the same).
        """
        return node in self.hot_path

    def _mark_hot_path(self) -> None:
        hot, parents = self.hot_path, self.parents
        for node in [*self._hot, *self.api]:
            while node is not None and node not in hot:
                hot.add(node)
                node = parents.get(node)

    def _qualify(self, node: cst.CSTNode) -> tuple[QualifiedName, ...]:
        """Qualified names of a name, attribute chain, call or subscript.

        The answer LibCST's ``ScopeProvider`` gives (``get_qualified_names_for``),
        from the scopes this pass records anyway: the root of the dotted name is
        looked up with Python's rules (class bodies are not visible from the
        functions inside them; decorators, defaults, annotations and bases belong
        to the enclosing scope; ``global``/``nonlocal`` are followed), then every
        binding of it there contributes a name: an import its imported path plus
        the rest of the chain, any other binding a local name, a builtin
        ``builtins.<name>``; comprehension variables are local to their
        comprehension. In the scope a use is in, only the bindings above the use
        count; when all of them come later, the enclosing scopes answer (LibCST's
        rule, so that ``f = flax.core.unfreeze; y = f(x)`` is not taken for the
        ``freeze`` that an import further down binds to ``f``).
        ``tests/migration/test_name_resolution.py`` checks both give the same
        answers on the test corpus and generated modules.
        """
        full = get_full_name_for_node(node)
        if not full:
            return ()
        root, _, rest = full.partition(".")
        scope = self._eval_scope(node)
        home = self._lookup(scope, root, node)
        before = None  # only bindings earlier than this order count in ``home``
        if (
            home is scope
            and root not in home.params
            and not self._in_comprehension_of(home, root, home, node)
            and node in self.order
        ):
            before = self.order[node]
            if not any(o < before for o in home.binding_orders(root)):
                home = (
                    self._lookup(scope.parent, root, node, first=False)
                    if scope.parent is not None
                    else None
                )
                before = None
        if home is None:
            if root in self._global_names:
                return (QualifiedName(full, QualifiedNameSource.LOCAL),)
            if root in _BUILTINS:
                return (QualifiedName(f"builtins.{root}", QualifiedNameSource.BUILTIN),)
            return ()
        found: list[QualifiedName] = []
        tail = f".{rest}" if rest else ""
        orders = home.import_orders.get(root, ())
        for position, (module, obj, asname) in enumerate(home.imports.get(root, ())):
            if before is not None and orders[position] >= before:
                continue
            if obj is None:
                name = f"{module}{tail}" if asname else full
            elif module.endswith("."):
                name = f"{module}{obj}{tail}"
            else:
                name = f"{module}.{obj}{tail}"
            found.append(QualifiedName(name, QualifiedNameSource.IMPORT))
        if home.bound(root) and (
            (
                root in home.plain_binds
                and (before is None or any(o < before for o in home.plain_binds[root]))
            )
            or root in home.params
            or self._in_comprehension_of(home, root, home, node)
        ):
            found.append(
                QualifiedName(self._name_prefix(home) + full, QualifiedNameSource.LOCAL)
            )
        return tuple(dict.fromkeys(found))

    def _eval_scope(self, node: cst.CSTNode) -> Scope:
        """The scope ``node`` is evaluated in (a decorator's is the enclosing one)."""
        child, current = node, self.parents.get(node)
        while current is not None:
            scope = self.scopes.get(current)
            if scope is not None:
                if scope.kind == "module" or child is getattr(current, "body", None):
                    return scope
                return scope.parent if scope.parent is not None else scope
            child, current = current, self.parents.get(current)
        return self.scopes[self.module]

    def _in_comprehension_of(
        self, scope: Scope, name: str, start: Scope, node: cst.CSTNode
    ) -> bool:
        comprehensions = scope.comprehension_binds.get(name)
        if not comprehensions or scope is not start:
            return False
        return any(a in comprehensions for a in self.ancestors(node))

    def _lookup(
        self,
        scope: Scope,
        name: str,
        node: cst.CSTNode | None = None,
        first: bool = True,
    ) -> Scope | None:
        """The scope whose binding of ``name`` a load in ``scope`` sees, if any."""
        current: Scope | None = scope
        while current is not None:
            if name in current.declared_global:
                module = self.scopes[self.module]
                return module if module.defines(name) else None
            if name not in current.declared_nonlocal and (
                (first or current.kind != "class")
                and (
                    current.defines(name)
                    or self._in_comprehension_of(current, name, scope, node)
                )
            ):
                return current
            first = False
            current = current.parent
        return None

    def _name_prefix(self, scope: Scope) -> str:
        parts: list[str] = []
        current: Scope | None = scope
        while current is not None and current.kind != "module":
            if current.kind == "class":
                parts.append(current.node.name.value)
            elif current.kind == "function":
                parts.append(f"{current.node.name.value}.<locals>")
            else:
                parts.append("<locals>")  # a lambda, spelled as LibCST does
            current = current.parent
        return "".join(f"{part}." for part in reversed(parts))

    # --- scopes and order -------------------------------------------------------------

    def scope_of(self, node: cst.CSTNode) -> Scope:
        current = self.parents.get(node)
        while current is not None:
            scope = self.scopes.get(current)
            if scope is not None:
                return scope
            current = self.parents.get(current)
        return self.scopes[self.module]

    def ancestors(self, node: cst.CSTNode) -> Iterable[cst.CSTNode]:
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, _STATEMENT):
                return ancestor
        return None

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        for ancestor in self.ancestors(node):
            if m.matches(ancestor, m.FunctionDef()):
                return ancestor
        return None

    def enclosing_class(self, node: cst.CSTNode) -> ClassInfo | None:
        for ancestor in self.ancestors(node):
            if m.matches(ancestor, m.ClassDef()):
                return self.class_of.get(ancestor)
        return None

    def threshold(self, node: cst.CSTNode) -> int:
        """Loads with a larger order happen after ``node`` (whole loop when in one)."""
        statement = self.statement_of(node)
        limit = self.end.get(statement if statement is not None else node, 0)
        outer_loop = None
        for ancestor in self.ancestors(node):
            if ancestor in self.scopes:
                break
            if isinstance(ancestor, _LOOPS):
                outer_loop = ancestor
        if outer_loop is not None:
            return self.order[outer_loop]
        return limit

    def _loads(self, scope: Scope, name: str, after: int) -> list[cst.Name]:
        found = [n for n in scope.loads.get(name, ()) if self.order[n] > after]
        stack = list(scope.children)
        while stack:
            child = stack.pop()
            if child.bound(name):
                continue
            found.extend(child.loads.get(name, ()))
            stack.extend(child.children)
        return found

    def _defining_scope(self, scope: Scope, name: str) -> Scope | None:
        current: Scope | None = scope
        while current is not None:
            if current.kind != "class" and current.bound(name):
                return current
            current = current.parent
        return None

    def loads_after(self, node: cst.CSTNode, name: str) -> list[cst.Name]:
        """Every load of ``name`` (as seen from ``node``) that can run after it."""
        scope = self.scope_of(node)
        home = self._defining_scope(scope, name)
        if home is scope:
            return self._loads(scope, name, self.threshold(node))
        if home is None or home.kind == "module":
            module = self.scopes[self.module]
            return self._loads(module, name, -1)
        return self._loads(home, name, -1)

    # --- where a value goes -----------------------------------------------------------

    def classify(self, node: cst.CSTNode) -> Use:
        """Follows ``node`` up through the expressions that pass it on unchanged."""
        child, whole = node, True
        for _ in range(64):
            parent = self.parents.get(child)
            if parent is None:
                return Use(READ)
            step = self._step(child, parent, whole)
            if isinstance(step, Use):
                return step
            child, whole = step
        return Use(ESCAPE, "flows through a very deep expression")

    def _step(
        self, child: cst.CSTNode, parent: cst.CSTNode, whole: bool
    ) -> Use | tuple[cst.CSTNode, bool]:
        if m.matches(parent, m.Subscript()):
            if parent.value is not child:
                return Use(READ)
            if self._is_store_target(parent):
                return Use(MUTATE, f"an item is assigned: `{self.code(parent)} = ...`")
            return parent, False
        if m.matches(parent, m.Index()):
            return Use(HASH, "it is used as a key") if whole else Use(READ)
        if m.matches(parent, m.Attribute()):
            return self._attribute_step(parent, whole)
        if m.matches(parent, m.Arg()):
            return self._arg_step(self.parents[parent], parent, whole)
        if m.matches(parent, m.Element() | m.List() | m.Tuple()):
            return parent, whole
        if m.matches(parent, m.Set()):
            return Use(HASH, "it is put in a set") if whole else Use(READ)
        if m.matches(parent, m.DictElement()):
            if parent.key is child:
                return Use(HASH, "it is used as a dict key") if whole else Use(READ)
            return parent, False
        if m.matches(parent, m.StarredDictElement() | m.StarredElement() | m.Dict()):
            return parent, False
        if m.matches(parent, m.IfExp()):
            return Use(READ) if parent.test is child else (parent, whole)
        if m.matches(parent, m.BooleanOperation() | m.Await()):
            return parent, whole
        if m.matches(parent, m.BinaryOperation()):
            operator = parent.operator
            if m.matches(operator, m.BitOr()):
                return parent, False
            if isinstance(operator, (cst.Add, cst.Multiply)) and (
                self._is_sequence(parent.left) or self._is_sequence(parent.right)
            ):
                # rest + [x], [x] * n: the new list holds the value itself.
                return parent, False
            if (
                isinstance(operator, cst.Modulo)
                and parent.right is child
                and whole
                and isinstance(parent.left, _STRING_NODES)
            ):
                return self._shown(parent, parent, "it is formatted with `%`")
            return Use(READ)
        if m.matches(parent, m.FormattedStringExpression()):
            if parent.expression is not child or not whole:
                return Use(READ)
            text = self.parents.get(parent)
            return self._shown(text, text, "it is formatted in an f-string")
        if m.matches(parent, m.NamedExpr()):
            return Use(ALIAS, "", (parent.target.value,))
        if m.matches(parent, m.Assign() | m.AnnAssign()):
            return self._assign_step(parent)
        if m.matches(parent, m.AugAssign()):
            if parent.value is child:
                return Use(ESCAPE, f"it is merged into `{self.code(parent.target)}`")
            if m.matches(parent.operator, m.BitOrAssign()):
                return Use(MUTATE, "it is updated in place with `|=`")
            return Use(READ)
        if m.matches(parent, m.Return()):
            return Use(ESCAPE, "it is returned")
        if m.matches(parent, m.Yield() | m.From()):
            return Use(ESCAPE, "it is yielded")
        if m.matches(parent, m.Lambda()):
            return Use(ESCAPE, "it is returned from a lambda")
        if m.matches(parent, m.Param()):
            return Use(DEFAULT, "it is a parameter default")
        if m.matches(parent, m.For()):
            if parent.iter is child:
                return Use(ALIAS, "", tuple(_target_names(parent.target)))
            return Use(READ)
        if m.matches(parent, m.CompFor()):
            if parent.iter is not child:
                return Use(READ)
            comprehension = parent
            while not isinstance(comprehension, _COMPREHENSIONS):
                comprehension = self.parents[comprehension]
            return comprehension, False
        if isinstance(parent, _COMPREHENSIONS):
            return parent, False
        return Use(READ)

    def _is_store_target(self, node: cst.CSTNode) -> bool:
        parent = self.parents.get(node)
        while m.matches(
            parent, m.Element() | m.Tuple() | m.List() | m.StarredElement()
        ):
            node, parent = parent, self.parents.get(parent)
        if m.matches(parent, m.AssignTarget() | m.Del()):
            return True
        if m.matches(parent, m.AugAssign() | m.AnnAssign() | m.For()):
            return parent.target is node
        return False

    def _attribute_step(
        self, attribute: cst.Attribute, whole: bool
    ) -> Use | tuple[cst.CSTNode, bool]:
        grand = self.parents.get(attribute)
        method = attribute.attr.value
        if method in FROZEN_ONLY_ATTRIBUTES or (
            whole and method in FROZEN_DIFFERENT_ATTRIBUTES
        ):
            return Use(
                FROZEN_API,
                f"`{self.code(attribute)}` is used, which a dict lacks "
                "or implements differently",
            )
        if m.matches(grand, m.Call()) and grand.func is attribute:
            if method in _TEXT_METHODS:
                return (
                    self._shown(grand, grand, f"`.{method}()` is called on it")
                    if whole
                    else Use(READ)
                )
            if method == "pop" and is_two_target_pop(grand, self.parents):
                return grand, False
            if method in names.MUTATING_METHODS:
                return Use(MUTATE, f"`.{method}(...)` is called on it")
            if method in names.CARRIER_METHODS:
                return grand, False
            return Use(READ)
        if self._is_store_target(attribute):
            return Use(
                MUTATE, f"an attribute is assigned: `{self.code(attribute)} = ...`"
            )
        return attribute, False

    def _assign_step(self, assign: cst.Assign | cst.AnnAssign) -> Use:
        if self.scope_of(assign).kind == "class":
            return Use(DEFAULT, "it is a class-level default")
        targets = (
            [t.target for t in assign.targets]
            if m.matches(assign, m.Assign())
            else [assign.target]
        )
        found: list[str] = []
        for target in targets:
            if m.matches(target, m.Subscript() | m.Attribute()):
                return Use(ESCAPE, f"it is stored in `{self.code(target)}`")
            found.extend(_target_names(target))
        return Use(ALIAS, "", tuple(found))

    def _arg_step(
        self, call: cst.Call, arg: cst.Arg, whole: bool
    ) -> Use | tuple[cst.CSTNode, bool]:
        keyword = arg.keyword.value if arg.keyword is not None else None
        position = _position(call, arg)
        callee = self.code(call.func)
        api = self.api.get(call.func)
        if api in (names.FREEZE, names.UNFREEZE, names.FROZEN_DICT, names.PRETTY_REPR):
            return Use(READ, f"it is copied by `{callee}`")
        if api in (names.DUAL_POP, names.DUAL_COPY):
            if position == 0 and not self.flag_on:
                # Both branches of flax.core.copy/pop copy `x` (a FrozenDict's
                # own method, or a tree_map rebuild of a dict) before changing it.
                return Use(READ, f"it is copied by `{callee}`")
            return call, False
        if keyword in names.TREE_PAIRING_KEYWORDS:
            return Use(TREEPAIR, f"it is the `{keyword}=` tree of `{callee}`")
        qualified = self.qualified(call.func)
        if whole and (
            qualified & _SHOW_CALLS
            or any(q.startswith(_SHOW_PREFIXES) for q in qualified)
        ):
            if qualified & _TEXT_CALLS:
                return self._shown(call, call, f"its text is made by `{callee}`")
            return self._shown(call, None, f"it is printed by `{callee}`")
        for q in qualified:
            if q in names.HASHING_CALLS:
                return Use(HASH, f"it is passed to `{callee}`") if whole else Use(READ)
            if q in names.TREE_PAIRING:
                return self._pairing(q, call, arg, position, keyword, callee)
            if q in names.SERIAL_TARGETS:
                positions, keywords = names.SERIAL_TARGETS[q]
                if position in positions or keyword in keywords:
                    return Use(SERIAL, f"it is the restore target of `{callee}`")
                return Use(READ)
            if q in names.CARRIER_CALLS:
                # list(d), sorted(d): iterating a dict hands out its keys only;
                # list([d]), sorted(rest + [d]): the list's items are handed out.
                if (
                    q == "builtins.dict"
                    or m.matches(
                        arg.value,
                        m.Call(
                            func=m.Attribute(attr=m.Name("items") | m.Name("values"))
                        ),
                    )
                    or self._is_sequence(arg.value)
                ):
                    return call, False
                return Use(READ)
            if q in _PICKING_CALLS and self._is_sequence(arg.value):
                return call, False  # max(trees, key=len), sum([[d]], [])
            if q in names.READ_ONLY_CALLS or q.startswith(names.READ_ONLY_PREFIXES):
                return Use(READ)
        if m.matches(call.func, m.Attribute()):
            method = call.func.attr.value
            if whole and method in _SHOW_METHODS and not self.is_module_like(call.func):
                if method == "format":
                    return self._shown(call, call, f"it is formatted by `{callee}`")
                return self._shown(call, None, f"it is printed by `{callee}`")
            if method in names.SERIAL_METHODS and keyword in names.SERIAL_KEYWORDS:
                return Use(SERIAL, f"it is the restore target of `{callee}`")
            if method == "_replace":
                return (
                    Use(HASH, "it is a NamedTuple field (`_replace`)")
                    if whole
                    else Use(READ)
                )
            if method == "replace" and keyword in self.hash_replace_fields and whole:
                return Use(HASH, f"`{keyword}` is a static (hashed) field")
            if method in names.READ_ONLY_ARG_METHODS:
                return Use(READ)
            if method == "update" and _positional_count(call) >= 2:
                return Use(READ)
        if m.matches(call.func, m.Call()):
            return Use(READ)
        if m.matches(call.func, m.Name()):
            local = self._local_call(call.func.value, position, keyword, callee, whole)
            if local is not None:
                return local
        return Use(UNKNOWN_CALL, f"it is passed to `{callee}`")

    def _pairing(
        self,
        qualified: str,
        call: cst.Call,
        arg: cst.Arg,
        position: int | None,
        keyword: str | None,
        callee: str,
    ) -> Use:
        positions, keywords = names.TREE_PAIRING[qualified]
        if keyword == "is_leaf":
            return Use(READ)
        if positions is None:
            trees = sum(
                1
                for i, a in enumerate(call.args)
                if (a.keyword is None and i > 0)
                or a.star
                or (a.keyword is not None and a.keyword.value in keywords)
            )
            if names.is_tree_map_like(qualified) and trees < 2:
                return Use(READ)
            if position == 0:
                return Use(READ)
            return Use(TREEPAIR, f"it is one of several trees passed to `{callee}`")
        if position in positions or keyword in keywords:
            return Use(TREEPAIR, f"it is paired with another tree by `{callee}`")
        return Use(READ)

    def _local_call(
        self,
        name: str,
        position: int | None,
        keyword: str | None,
        callee: str,
        whole: bool,
    ) -> Use | None:
        static = self.static_args.get(name)
        function = self.functions.get(name)
        param = _param_name(function, position, keyword) if function else keyword
        if static is not None and whole:
            static_names, static_nums = static
            if position in static_nums or (param is not None and param in static_names):
                return Use(HASH, f"it is a static argument of `{callee}`")
        if name in self.cached_functions and whole:
            return Use(HASH, f"it is an argument of the cached function `{callee}`")
        info = self.classes.get(name)
        if info is not None:
            if info.hashed_fields is not None and whole:
                field = keyword if keyword is not None else None
                if (
                    field is None
                    or "*" in info.hashed_fields
                    or field in info.hashed_fields
                ):
                    return Use(HASH, f"it is a field of the hashable class `{name}`")
            return Use(ESCAPE, f"it is stored in a `{name}`")
        if function is None or param is None:
            return None
        uses = self._param_uses(name, param)
        effect = _strongest(uses)
        if effect.kind == MUTATE:
            return Use(
                MUTATE, f"it is passed to `{callee}`, which changes it", deep=True
            )
        if effect.kind in (ESCAPE, UNKNOWN_CALL):
            return Use(ESCAPE, f"it is passed to `{callee}`, which keeps it")
        for kind in (FROZEN_API, GOLDEN, REPR) if whole else ():
            for use in uses:
                if use.kind == kind:
                    return Use(kind, f"it is passed to `{callee}`, where {use.detail}")
        return Use(READ)

    def param_effect(self, function_name: str, param: str) -> Use:
        """The strongest use a module function makes of one of its parameters."""
        return _strongest(self._param_uses(function_name, param))

    def _param_uses(self, function_name: str, param: str) -> list[Use]:
        """Every use a module function makes of one of its parameters."""
        key = (function_name, param)
        if key in self._param_effects:
            return self._param_effects[key]
        if key in self._in_progress:
            return []
        self._in_progress.add(key)
        function = self.functions[function_name]
        scope = self.scopes[function]
        uses = self.follow([(n, ()) for n in self._loads(scope, param, -1)])
        self._in_progress.discard(key)
        self._param_effects[key] = uses
        return uses

    def follow(self, loads: list[tuple[cst.Name, tuple]]) -> list[Use]:
        """Classifies loads, following plain-name aliases to their own loads."""
        out: list[Use] = []
        seen: set[cst.CSTNode] = set()
        work = list(loads)
        while work:
            node, _ = work.pop()
            if node in seen:
                continue
            seen.add(node)
            use = self.classify(node)
            if use.kind == ALIAS:
                for alias in use.names:
                    work.extend((n, ()) for n in self.loads_after(node, alias))
            else:
                out.append(use)
        return out

    def value_uses(self, node: cst.CSTNode) -> list[Use]:
        """Every place the value of expression ``node`` can reach."""
        cached = self._value_uses.get(node)
        if cached is not None:
            return cached
        use = self.classify(node)
        if use.kind != ALIAS:
            uses = [use]
        else:
            loads = []
            for alias in use.names:
                loads.extend((n, ()) for n in self.loads_after(node, alias))
            uses = self.follow(loads)
        self._value_uses[node] = uses
        return uses

    # --- shown text, sequences ---------------------------------------------------

    def _shown(self, node: cst.CSTNode, text: cst.CSTNode | None, detail: str) -> Use:
        """The value's text is shown at ``node``; ``text`` is the string made, if any.

        GOLDEN when that text is compared (``assert repr(x) == ...``,
        ``assertEqual(str(x), ...)``), or when the code around holds a golden
        ``FrozenDict({...`` text (a doctest, captured output); REPR otherwise.
        """
        if text is not None and self._text_compared(text, 0):
            return Use(GOLDEN, f"{detail}, and that text is compared")
        if any(a in self.golden for a in self.ancestors(node)):
            return Use(
                GOLDEN, f"{detail}, and this code holds golden `FrozenDict(...)` text"
            )
        return Use(REPR, detail)

    def _text_compared(self, text: cst.CSTNode, depth: int) -> bool:
        """Whether the string ``text`` (or a string made from it) is compared."""
        child = text
        for _ in range(16):
            parent = self.parents.get(child)
            if isinstance(parent, (cst.Comparison, cst.ComparisonTarget)):
                return True
            if isinstance(
                parent,
                (
                    cst.BinaryOperation,
                    cst.FormattedString,
                    cst.FormattedStringExpression,
                    cst.Element,
                    cst.List,
                    cst.Tuple,
                ),
            ):
                child = parent
                continue
            if isinstance(parent, cst.Subscript) and parent.value is child:
                child = parent  # text[0], text.splitlines()[1:]
                continue
            if isinstance(parent, cst.Attribute) and parent.value is child:
                grand = self.parents.get(parent)
                if isinstance(grand, cst.Call) and grand.func is parent:
                    child = grand  # text.strip(), text.splitlines(), ...
                    continue
                return False
            if isinstance(parent, cst.Arg):
                call = self.parents[parent]
                func = call.func
                leaf = (
                    func.attr.value
                    if isinstance(func, cst.Attribute)
                    else func.value
                    if isinstance(func, cst.Name)
                    else ""
                )
                if leaf.startswith(("assert", "Assert")):
                    return True
                if self.qualified(func) & _TEXT_CARRIERS:
                    child = call
                    continue
                return False
            if (
                isinstance(parent, cst.Assign)
                and depth < 2
                and len(parent.targets) == 1
                and isinstance(parent.targets[0].target, cst.Name)
            ):
                name = parent.targets[0].target.value
                return any(
                    self._text_compared(load, depth + 1)
                    for load in self.loads_after(parent, name)
                )
            return False
        return False

    def _is_sequence(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """A list or tuple: a display, ``list(...)``, a name bound to one, a sum."""
        if isinstance(expr, (cst.List, cst.Tuple, cst.ListComp)):
            return True
        if depth > 2:
            return False
        if isinstance(expr, cst.Call):
            return bool(self.qualified(expr.func) & _SEQUENCE_CALLS)
        if isinstance(expr, cst.BinaryOperation) and isinstance(
            expr.operator, (cst.Add, cst.Multiply)
        ):
            return self._is_sequence(expr.left, depth + 1) or self._is_sequence(
                expr.right, depth + 1
            )
        if isinstance(expr, cst.Name):
            home = self._defining_scope(self.scope_of(expr), expr.value)
            return home is not None and any(
                value is not None and self._is_sequence(value, depth + 1)
                for _, value in home.binds.get(expr.value, ())
            )
        return False

    # --- was the source written to later? ---------------------------------------------

    def source_mutation(
        self, expr: cst.BaseExpression, anchor: cst.CSTNode
    ) -> Use | None:
        """A later in-place change of the tree ``expr`` reads, if the module has one.

        For a dict display, the trees its values read (a deep copy of the display
        copies those too).
        """
        return self._source_mutation(expr, anchor, depth=0)

    def _source_mutation(
        self, expr: cst.BaseExpression, anchor: cst.CSTNode, depth: int
    ) -> Use | None:
        if depth > 3:
            return None
        if m.matches(expr, m.Dict() | m.List() | m.Tuple() | m.Set()):
            for element in expr.elements:
                found = self._source_mutation(element.value, anchor, depth + 1)
                if found is not None:
                    return found
            return None
        root, path = self.access_path(expr)
        if root is None:
            return None
        inside = (self.order.get(expr, -1), self.end.get(expr, -1))
        for load in self.loads_after(anchor, root.value):
            if inside[0] <= self.order[load] <= inside[1]:
                continue
            use = self._mutation_through(load, path, depth=0)
            if use is not None:
                return use
        home = self._defining_scope(self.scope_of(root), root.value)
        # A name bound to part of the tree before the copy, written to after it.
        found = self._earlier_alias_mutation(root, path, anchor, home)
        if found is not None:
            return found
        # A container built here holds other trees: writes to those show too.
        for _, value in home.binds.get(root.value, ()) if home is not None else ():
            if value is not None and m.matches(
                value, m.Dict() | m.List() | m.Tuple() | m.Set()
            ):
                found = self._source_mutation(value, anchor, depth + 1)
                if found is not None:
                    return found
        return None

    def _earlier_alias_mutation(
        self, root: cst.Name, path: tuple, anchor: cst.CSTNode, home: Scope | None
    ) -> Use | None:
        if home is None:
            return None
        threshold = self.threshold(anchor)
        for load in home.loads.get(root.value, ()):
            if self.order[load] >= threshold or load is root:
                continue
            top, load_path = self._chain_up(load)
            use = self.classify(top)
            if use.kind != ALIAS:
                continue
            if _path_prefix(load_path, path):
                rest = path[len(load_path) :]
            elif _path_prefix(path, load_path):
                rest = ()
            else:
                continue
            for alias in use.names:
                if alias == root.value:
                    continue
                for other in self.loads_after(anchor, alias):
                    found = self._mutation_through(other, rest, depth=1)
                    if found is not None:
                        return found
        return None

    def _mutation_through(self, load: cst.Name, path: tuple, depth: int) -> Use | None:
        """A change, reached from ``load``, at or below ``path`` of the loaded tree."""
        if depth > 4:
            return None
        top, load_path = self._chain_up(load)
        if top is not load and self._is_store_target(top):
            mutated = load_path[:-1]
            use = Use(MUTATE, f"`{self.code(top)} = ...` changes it later")
        else:
            use = self.classify(top)
            if use.kind == ALIAS:
                if _path_prefix(load_path, path):
                    rest = path[len(load_path) :]
                elif _path_prefix(path, load_path):
                    rest = ()
                else:
                    return None
                for alias in use.names:
                    for other in self.loads_after(top, alias):
                        found = self._mutation_through(other, rest, depth + 1)
                        if found is not None:
                            return found
                return None
            if use.kind != MUTATE:
                return None
            mutated = load_path
            if use.deep and _path_prefix(mutated, path):
                return Use(MUTATE, f"`{self.code(top)}` is changed later: {use.detail}")
            use = Use(MUTATE, f"`{self.code(top)}` is changed later: {use.detail}")
        return use if _path_prefix(path, mutated) else None

    def _chain_up(self, load: cst.Name) -> tuple[cst.CSTNode, tuple]:
        node, path = load, ()
        while True:
            parent = self.parents.get(node)
            if m.matches(parent, m.Subscript()) and parent.value is node:
                path = path + (_key_of(parent),)
                if self._is_store_target(parent):
                    return parent, path
                node = parent
                continue
            if m.matches(parent, m.Attribute()) and parent.value is node:
                grand = self.parents.get(parent)
                if m.matches(grand, m.Call()) and grand.func is parent:
                    return node, path
                path = path + (("attr", parent.attr.value),)
                if self._is_store_target(parent):
                    return parent, path
                node = parent
                continue
            return node, path

    def access_path(self, expr: cst.BaseExpression) -> tuple[cst.Name | None, tuple]:
        """Root name and key path of ``x.a['k']`` (through freeze/unfreeze calls)."""
        steps: list = []
        node = expr
        while True:
            if m.matches(node, m.Name()):
                return node, tuple(reversed(steps))
            if m.matches(node, m.Subscript()):
                steps.append(_key_of(node))
                node = node.value
            elif m.matches(node, m.Attribute()):
                steps.append(("attr", node.attr.value))
                node = node.value
            elif (
                m.matches(node, m.Call())
                and self.api.get(node.func)
                in (names.FREEZE, names.UNFREEZE, names.FROZEN_DICT)
                and len(node.args) == 1
            ):
                node = node.args[0].value
            else:
                return None, ()

    # --- freshness --------------------------------------------------------------------

    def is_fresh_dict(self, expr: cst.BaseExpression) -> bool:
        """Whether ``expr`` builds plain dicts nobody else holds (init results, ...)."""
        if self.flag_on:
            return False
        node = expr
        while m.matches(node, m.Subscript()):
            node = node.value
        if not m.matches(node, m.Call()):
            return False
        if (
            m.matches(node.func, m.Attribute())
            and node.func.attr.value in names.FRESH_DICT_METHODS
        ):
            return True
        return bool(self.qualified(node.func) & names.FRESH_DICT_CALLS)

    def is_init_call(self, expr: cst.BaseExpression) -> bool:
        node = expr
        while m.matches(node, m.Subscript()):
            node = node.value
        return m.matches(
            node,
            m.Call(func=m.Attribute(attr=m.Name("init") | m.Name("init_with_output"))),
        )

    def owned_and_dead(self, expr: cst.BaseExpression) -> bool:
        """``expr`` reads a fresh value (an ``init``/``apply`` result) seen only here.

        Either the local ``expr`` starts from is bound once, to a fresh call, and
        read only here; or, outside loops, the binding this read sees (see
        ``_dominating_bind``) is a fresh call, or a name that holds one and is
        unpacked again (``out = m.apply(...)`` then ``out, mut = out``), and no
        other read can see the same value (``_unseen_elsewhere``).
        """
        root, _ = self.access_path(expr)
        if root is None or self.flag_on:
            return False
        scope = self.scope_of(expr)
        if scope.kind != "function":
            return False
        binds = scope.binds.get(root.value, [])
        if (
            root.value not in scope.params
            and len(binds) == 1
            and binds[0][1] is not None
            and (self.is_fresh_dict(binds[0][1]) or self.is_fresh_tuple(binds[0][1]))
            and self._loads(scope, root.value, -1) == [root]
        ):
            return True
        return self._owned_at(scope, root, 0)

    def _owned_at(self, scope: Scope, load: cst.Name, depth: int) -> bool:
        """The value ``load`` reads is fresh, and no other load can see it."""
        name = load.value
        if (
            depth > 3
            or name in scope.declared_global
            or name in scope.declared_nonlocal
            or self._in_loop(load, scope)
        ):
            return False
        index = self._dominating_bind(scope, name, load)
        if index is None:
            return False
        value = scope.binds[name][index][1]
        if value is None:
            return False
        if not (self.is_fresh_dict(value) or self.is_fresh_tuple(value)) and not (
            isinstance(value, cst.Name)
            and self.scope_of(value) is scope
            and self._owned_at(scope, value, depth + 1)
        ):
            return False
        return self._unseen_elsewhere(scope, name, index, load)

    def _small_statement(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The small statement (``x = ...``, ``return ...``) ``node`` is part of."""
        child = node
        for ancestor in self.ancestors(node):
            if isinstance(
                ancestor, (cst.SimpleStatementLine, cst.SimpleStatementSuite)
            ):
                return child
            child = ancestor
        return None

    def _in_loop(self, node: cst.CSTNode, scope: Scope) -> bool:
        for ancestor in self.ancestors(node):
            if ancestor is scope.node:
                return False
            if isinstance(ancestor, (*_LOOPS, *_COMPREHENSIONS)):
                return True
        return False

    def _within(self, node: cst.CSTNode, region: cst.CSTNode | None) -> bool:
        return region is not None and (
            self.order[region] <= self.order[node] < self.end[region]
        )

    def _exclusive(self, a: cst.CSTNode, b: cst.CSTNode) -> bool:
        """``a`` and ``b`` are in different branches of one ``if`` (outside loops)."""
        for ancestor in self.ancestors(a):
            if ancestor in self.scopes:
                return False
            if isinstance(ancestor, cst.If) and self._within(b, ancestor):
                a_body = self._within(a, ancestor.body)
                b_body = self._within(b, ancestor.body)
                a_else = self._within(a, ancestor.orelse)
                b_else = self._within(b, ancestor.orelse)
                return (a_body and b_else) or (a_else and b_body)
        return False

    def _returns_before(self, load: cst.CSTNode, other: cst.CSTNode) -> bool:
        """After ``load``, a ``return``/``raise`` in a block around it, not around
        ``other``, always runs first (no ``try`` or ``with`` could resume)."""
        blocks = []
        for ancestor in self.ancestors(load):
            if ancestor in self.scopes:
                break
            if isinstance(ancestor, _RESUMING):
                return False
            blocks.append(ancestor)
        for ancestor in blocks:
            if isinstance(ancestor, cst.IndentedBlock) and not self._within(
                other, ancestor
            ):
                for statement in ancestor.body:
                    if (
                        self.end[statement] > self.order[load]
                        and isinstance(statement, cst.SimpleStatementLine)
                        and any(
                            isinstance(small, (cst.Return, cst.Raise))
                            for small in statement.body
                        )
                    ):
                        return True
        return False

    def _dominating_bind(self, scope: Scope, name: str, load: cst.Name) -> int | None:
        """Index in ``scope.binds[name]`` of the binding ``load`` reads, if certain.

        Meant for a load outside loops: the last binding above it, skipping those
        in another branch of an ``if`` that holds both and those always followed
        by a ``return`` before the load, must be a plain statement in a block
        around the load (so it runs, every time, before the load and after every
        earlier binding). None when that cannot be told.
        """
        targets = scope.bind_targets.get(name, [])
        at = self.order[load]
        around = set(self.ancestors(load))
        before = [i for i, t in enumerate(targets) if self.order[t] < at]
        for i in sorted(before, key=lambda i: self.order[targets[i]], reverse=True):
            target = targets[i]
            statement = self.statement_of(target)
            if statement is None:
                return None
            if statement in around:  # the load is in the binding statement
                if not isinstance(statement, cst.SimpleStatementLine) or isinstance(
                    self.parents.get(target), cst.NamedExpr
                ):
                    return None
                if self._small_statement(target) is self._small_statement(load):
                    continue  # `x, y = x`: bound once the load has run
                return i  # an earlier statement on the same line
            if self._exclusive(target, load) or self._returns_before(target, load):
                continue
            if (
                isinstance(statement, cst.SimpleStatementLine)
                and self.parents.get(statement) in around
            ):
                return i
            return None
        return None

    def _unseen_elsewhere(
        self, scope: Scope, name: str, index: int, load: cst.Name
    ) -> bool:
        """No load of ``name`` but ``load`` can read the value of binding ``index``."""
        own = scope.loads.get(name, [])
        if len(self._loads(scope, name, -1)) != len(own):
            return False  # a nested function or lambda reads it
        nested = list(scope.children)
        while nested:
            child = nested.pop()
            if name in child.declared_nonlocal:
                return False  # ... or may rebind it
            nested.extend(child.children)
        targets = scope.bind_targets[name]
        start = self.order[self.statement_of(targets[index])]
        statement = self.statement_of(load)
        after = self.end[statement]
        # The statement of `load` binds the name again: later loads see that.
        small = self._small_statement(load)
        rebinds = any(
            self.statement_of(t) is statement
            and not isinstance(self.parents.get(t), cst.NamedExpr)
            and (self._small_statement(t) is small or self.order[t] > self.order[load])
            for t in targets
        )
        for other in own:
            if other is load:
                continue
            at = self.order[other]
            if at < start or self._exclusive(other, load):
                continue
            if at < self.order[load] and self._returns_before(other, load):
                continue  # read on a path that has returned before `load`
            if at < after:
                return False
            if rebinds or self._returns_before(load, other):
                continue
            later = self._dominating_bind(scope, name, other)
            if later is None or self.order[targets[later]] < after:
                return False
        return True

    def is_fresh_tuple(self, value: cst.CSTNode) -> bool:
        return (
            m.matches(value, m.Call(func=m.Attribute()))
            and (value.func.attr.value in names.FRESH_DICT_METHODS)
            and not self.flag_on
        )

    # --- helpers ----------------------------------------------------------------------

    def code(self, node: cst.CSTNode) -> str:
        text = self.module.code_for_node(node).strip()
        return text if len(text) <= 60 else text[:57] + "..."

    def typepres_region(self, node: cst.CSTNode) -> bool:
        """Inside a function or conditional that returns a FrozenDict iff given one."""
        for ancestor in self.ancestors(node):
            marks = self.typepres.get(ancestor)
            if marks is None:
                continue
            if {"isinstance", "make"} <= marks:
                return True
            if "type-call" in marks and m.matches(ancestor, m.FunctionDef()):
                return True
        return False

    def in_property(self, node: cst.CSTNode) -> bool:
        function = self.enclosing_function(node)
        return function is not None and function in self.properties

    def frozen_receiver(self, call: cst.Call) -> bool:
        """``freeze(x).copy(...)``: the call is the receiver of a FrozenDict method.

        The family of the outer method decides for both calls (see the commands).
        """
        attribute = self.parents.get(call)
        if not m.matches(attribute, m.Attribute()) or attribute.value is not call:
            return False
        outer = self.parents.get(attribute)
        return (
            m.matches(outer, m.Call())
            and outer.func is attribute
            and attribute.attr.value in names.FROZEN_METHODS
        )

    def frozen_source(self, receiver: cst.BaseExpression) -> cst.BaseExpression | None:
        """``x`` for a receiver ``freeze(x)`` / ``FrozenDict(x)``, else None."""
        if m.matches(
            receiver, m.Call(args=[m.Arg(keyword=None, star="")])
        ) and self.api.get(receiver.func) in (names.FREEZE, names.FROZEN_DICT):
            return receiver.args[0].value
        return None

    def is_module_like(self, receiver: cst.BaseExpression) -> bool:
        """``np``, ``copy.copy``, ``tf.io.gfile``: a dotted name rooted at an import."""
        if not m.matches(receiver, m.Name() | m.Attribute()):
            return False
        root = names.chain_root(receiver)
        return root is not None and root.value in self.imports

    def in_wrapper(self, node: cst.CSTNode) -> bool:
        return any(a in self.wrappers for a in self.ancestors(node))


# --- small helpers ----------------------------------------------------------------


def is_two_target_pop(call: cst.Call, parents: dict) -> bool:
    """``a, b = x.pop(k)``: FrozenDict.pop (returns ``(rest, value)``), not dict.pop."""
    parent = parents.get(call)
    return (
        m.matches(
            parent, m.Assign(targets=[m.AssignTarget(target=m.Tuple() | m.List())])
        )
        and parent.value is call
        and len(parent.targets[0].target.elements) == 2
        and not any(
            m.matches(e, m.StarredElement()) for e in parent.targets[0].target.elements
        )
    )


def _target_names(target: cst.CSTNode) -> list[str]:
    if m.matches(target, m.Name()):
        return [target.value]
    if m.matches(target, m.Tuple() | m.List()):
        out: list[str] = []
        for element in target.elements:
            out.extend(_target_names(element.value))
        return out
    if m.matches(target, m.StarredElement()):
        return _target_names(target.value)
    return []


def _position(call: cst.Call, arg: cst.Arg) -> int | None:
    if arg.keyword is not None or arg.star:
        return None
    index = 0
    for other in call.args:
        if other is arg:
            return index
        if other.keyword is None and not other.star:
            index += 1
    return None


def _positional_count(call: cst.Call) -> int:
    return sum(1 for a in call.args if a.keyword is None and not a.star)


def _param_name(
    function: cst.FunctionDef, position: int | None, keyword: str | None
) -> str | None:
    if keyword is not None:
        return keyword
    if position is None:
        return None
    positional = [*function.params.posonly_params, *function.params.params]
    if positional and positional[0].name.value in ("self", "cls"):
        positional = positional[1:]
    if position < len(positional):
        return positional[position].name.value
    return None


def _key_of(subscript: cst.Subscript) -> tuple:
    if len(subscript.slice) == 1 and m.matches(subscript.slice[0].slice, m.Index()):
        value = names.literal_string(subscript.slice[0].slice.value)
        if value is not None:
            return ("key", value)
    return ("key", None)


def _path_prefix(prefix: tuple, path: tuple) -> bool:
    if len(prefix) > len(path):
        return False
    for a, b in zip(prefix, path):
        if a[0] != b[0]:
            return False
        if a[1] is not None and b[1] is not None and a[1] != b[1]:
            return False
    return True


_STRENGTH = {MUTATE: 3, ESCAPE: 2, UNKNOWN_CALL: 2}


def _strongest(uses: list[Use]) -> Use:
    best = Use(READ)
    for use in uses:
        if _STRENGTH.get(use.kind, 0) > _STRENGTH.get(best.kind, 0):
            best = use
    return best


# --- building the facts: one visit -------------------------------------------------


def build_facts(module: cst.Module, qualify: Qualify | None = None) -> Facts:
    """Runs the analysis pass over ``module``.

    ``qualify`` answers qualified-name questions; by default the pass's own scopes
    do (``Facts._qualify``). The pass reads the tree with ``_walk.walk`` (no
    rebuilding) and resolves names only once every binding of the module is known,
    in source order, so the answers do not depend on where a name is bound.
    """
    facts = Facts(module, qualify)
    walk(module, _FactsVisitor(facts))
    return facts


_DISPATCH: dict[tuple[type, type, str], Callable | None] = {}


def _dispatch(visitor: type, node: type, prefix: str) -> Callable | None:
    """``visitor``'s ``visit_<Node>``/``leave_<Node>`` function, looked up once."""
    key = (visitor, node, prefix)
    try:
        return _DISPATCH[key]
    except KeyError:
        name = prefix + node.__name__
        function = getattr(visitor, name, None)
        if function is getattr(cst.CSTVisitor, name, None):
            function = None  # LibCST's default does nothing
        _DISPATCH[key] = function
        return function


class _FactsVisitor(cst.CSTVisitor):
    def __init__(self, facts: Facts) -> None:
        super().__init__()
        self.f = facts
        self.stack: list[cst.CSTNode] = []
        self.scope_stack: list[Scope] = []
        self.counter = 0
        self.not_load: set[cst.CSTNode] = set()
        self.comprehension: cst.CSTNode | None = None  # binding its targets
        # The statement whose end is when the names being bound take their value
        # (``x = f(x)`` reads the old ``x``); None: at the binding name itself.
        self.binding_anchor: cst.CSTNode | None = None
        # Work that needs qualified names, run in source order once every binding
        # of the module is known (see ``leave_Module``).
        self.pending: list[tuple[Callable[..., None], tuple]] = []

    def _later(self, function: Callable[..., None], *args) -> None:
        self.pending.append((function, args))

    # bookkeeping for every node

    def on_visit(self, node: cst.CSTNode) -> bool:
        kind = type(node)
        if kind is cst.Name and node.value in _HOT_WORDS:
            self.f._hot.append(node)
        if self.stack:
            self.f.parents[node] = self.stack[-1]
        self.f.order[node] = self.counter
        self.counter += 1
        self.stack.append(node)
        visit = _dispatch(type(self), kind, "visit_")
        return True if visit is None else visit(self, node) is not False

    def on_leave(self, original_node: cst.CSTNode) -> None:
        leave = _dispatch(type(self), type(original_node), "leave_")
        if leave is not None:
            leave(self, original_node)
        self.stack.pop()
        self.f.end[original_node] = self.counter

    @property
    def scope(self) -> Scope:
        return self.scope_stack[-1]

    def _push(self, node: cst.CSTNode, kind: str, params: list[str]) -> None:
        parent = self.scope_stack[-1] if self.scope_stack else None
        scope = Scope(node, kind, parent, params)
        if parent is not None:
            parent.children.append(scope)
        self.f.scopes[node] = scope
        self.scope_stack.append(scope)

    def _bind(self, name: cst.Name, value: cst.CSTNode | None = None) -> None:
        self.not_load.add(name)
        if self.comprehension is None:
            self.scope.plain_binds.setdefault(name.value, []).append(
                self.f.order.get(name, self.counter)
                if self.binding_anchor is None
                else self.binding_anchor
            )
        else:
            self.scope.comprehension_binds.setdefault(name.value, []).append(
                self.comprehension
            )
        self.scope.binds.setdefault(name.value, []).append(
            (self.f.order.get(name, self.counter), value)
        )
        self.scope.bind_targets.setdefault(name.value, []).append(name)
        if self.scope.kind == "module":
            self.f.module_names[name.value] = self.f.module_names.get(name.value, 0) + 1

    def _bind_target(self, target: cst.CSTNode, value: cst.CSTNode | None) -> None:
        if m.matches(target, m.Name()):
            self._bind(target, value)
        elif m.matches(target, m.Tuple() | m.List()):
            for element in target.elements:
                self._bind_target(element.value, value)
        elif m.matches(target, m.StarredElement()):
            self._bind_target(target.value, value)

    # module and the first scan of its body

    def visit_Module(self, node: cst.Module) -> None:
        self._push(node, "module", [])

    def leave_Module(self, original_node: cst.Module) -> None:
        self.scope_stack.pop()
        end = self.f.end
        for scope in self.f.scopes.values():
            for orders in scope.plain_binds.values():
                orders[:] = [o if type(o) is int else end[o] for o in orders]
        self._scan_aliases(original_node)
        for function, args in self.pending:
            function(*args)
        self.pending.clear()
        self.f._mark_hot_path()

    def _scan_aliases(self, module: cst.Module) -> None:
        for statement in module.body:
            if m.matches(
                statement,
                m.SimpleStatementLine(
                    body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])]
                ),
            ):
                assign = statement.body[0]
                api = (
                    self.f.resolve(assign.value)
                    if m.matches(assign.value, m.Name() | m.Attribute())
                    else None
                )
                if api is not None and api not in (names.DUAL_POP, names.DUAL_COPY):
                    alias = assign.targets[0].target.value
                    self.f.aliases[alias] = api
                    self.f.alias_defs[alias] = statement
            elif m.matches(statement, m.FunctionDef(decorators=[])) and (
                statement.name.value.startswith("_")
            ):
                api = self._wrapper_api(statement)
                if api is not None:
                    self.f.aliases[statement.name.value] = api
                    self.f.alias_defs[statement.name.value] = statement
                    self.f.wrappers.add(statement)
        counts: dict[str, int] = {}
        for statement in module.body:
            for bound in _module_level_names(statement):
                counts[bound] = counts.get(bound, 0) + 1
        # Bound once, and only there: anywhere else at module level (inside an
        # `if`/`try`, by an import, a loop, `global` in a function) makes it a
        # variable, not an alias.
        home = self.f.scopes[module]
        for alias in [
            a
            for a in self.f.aliases
            if counts.get(a, 0) != 1
            or len(home.binding_orders(a)) != 1
            or a in home.comprehension_binds
            or a in self.f._global_names
        ]:
            del self.f.aliases[alias]
            self.f.wrappers.discard(self.f.alias_defs.pop(alias))

    def _wrapper_api(self, function: cst.FunctionDef) -> str | None:
        params = function.params
        if (
            len(params.params) != 1
            or params.posonly_params
            or params.kwonly_params
            or params.params[0].default is not None
            or isinstance(params.star_arg, (cst.Param, cst.ParamStar))
            or params.star_kwarg is not None
            or not m.matches(function.body, m.IndentedBlock())
        ):
            return None
        body = list(function.body.body)
        if body and m.matches(
            body[0], m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString())])
        ):
            body = body[1:]
        param = params.params[0].name.value
        pattern = m.SimpleStatementLine(
            body=[
                m.Return(
                    value=m.Call(
                        args=[m.Arg(value=m.Name(param), keyword=None, star="")]
                    )
                )
            ]
        )
        if len(body) != 1 or not m.matches(body[0], pattern):
            return None
        api = self.f.resolve(body[0].body[0].value.func)
        return api if api in (names.FREEZE, names.UNFREEZE, names.FROZEN_DICT) else None

    # imports

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            module = _dotted(alias.name)
            asname = alias.evaluated_alias
            local = asname or module.partition(".")[0]
            self._record_import(local, (module, None, asname))
            if module.partition(".")[0] == "flax":
                self.f.flaxy = True
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if node.relative or node.module is None:
            self._record_relative(node)
            return False
        module = _dotted(node.module)
        if module.partition(".")[0] == "flax":
            self.f.flaxy = True
        if m.matches(node.names, m.ImportStar()):
            return False
        for alias in node.names:
            obj = _dotted(alias.name)
            asname = alias.evaluated_alias
            self._record_import(asname or obj, (module, obj, asname))
        return False

    def _record_relative(self, node: cst.ImportFrom) -> None:
        """``from . import x``: binds ``x`` (to a name that is never flax's)."""
        if m.matches(node.names, m.ImportStar()):
            return
        module = "." * len(node.relative) + (
            _dotted(node.module) if node.module is not None else ""
        )
        for alias in node.names:
            asname = alias.evaluated_alias
            obj = _dotted(alias.name)
            self.scope.imports.setdefault(asname or obj, []).append(
                (module, obj, asname)
            )
            self._import_order(asname or obj)

    def _import_order(self, local: str) -> None:
        order = self.counter  # after the import statement, before what follows
        self.scope.import_orders.setdefault(local, []).append(order)

    def _record_import(self, local: str, spec: tuple) -> None:
        module, obj, _ = spec
        if (obj or module).rpartition(".")[2] in names.INTERESTING_LEAVES:
            self.f.imported_as.add(local)
        self.f.imports.setdefault(local, []).append(spec)
        self.scope.imports.setdefault(local, []).append(spec)
        self._import_order(local)
        if self.scope.kind == "module":
            self.f.module_imports.setdefault(local, spec)
            self.f.module_names[local] = self.f.module_names.get(local, 0) + 1

    # scopes

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._bind(node.name)
        self.f.defined_functions.add(node.name.value)
        in_class = self.scope.kind == "class"
        if self.scope.kind == "module":
            self._later(self.f.functions.__setitem__, node.name.value, node)
        self._later(self._decorators, node, in_class)
        params = _param_names(node.params)
        for param in _all_params(node.params):
            self.not_load.add(param.name)
        self._push(node, "function", params)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scope_stack.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        for param in _all_params(node.params):
            self.not_load.add(param.name)
        self._push(node, "lambda", _param_names(node.params))

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.scope_stack.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._bind(node.name)
        self._later(self._class_def, node, self.scope.kind == "module")
        self._push(node, "class", [])

    def _class_def(self, node: cst.ClassDef, at_module_level: bool) -> None:
        info = self._class_info(node)
        self.f.class_of[node] = info
        if at_module_level:
            self.f.classes[node.name.value] = info

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scope_stack.pop()

    # bindings

    def visit_Assign(self, node: cst.Assign) -> None:
        single = len(node.targets) == 1
        self.binding_anchor = node  # bound after the value is computed
        try:
            for target in node.targets:
                self._bind_target(target.target, node.value if single else None)
        finally:
            self.binding_anchor = None
        if self.scope.kind == "module" and single:
            self._later(self._jit_assignment, node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and m.matches(node.target, m.Name()):
            self.binding_anchor = node
            try:
                self._bind(node.target, node.value)
            finally:
                self.binding_anchor = None
        elif m.matches(node.target, m.Name()):
            self.not_load.add(node.target)
        if self.scope.kind == "class" and m.matches(node.target, m.Name()):
            self._later(self._class_field, node, self.scope.node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if m.matches(node.target, m.Name()):
            self.scope.binds.setdefault(node.target.value, []).append(
                (self.f.order.get(node.target, self.counter), None)
            )
            self.scope.bind_targets.setdefault(node.target.value, []).append(
                node.target
            )
            self.scope.plain_binds.setdefault(node.target.value, []).append(node)

    def visit_For(self, node: cst.For) -> None:
        self._bind_target(node.target, None)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        comprehension = self.f.parents.get(node)
        while comprehension is not None and not isinstance(
            comprehension, _COMPREHENSIONS
        ):
            comprehension = self.f.parents.get(comprehension)
        self.comprehension = comprehension
        try:
            self._bind_target(node.target, None)
        finally:
            self.comprehension = None

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind_target(node.name, None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.binding_anchor = node
        try:
            self._bind_target(node.target, node.value)
        finally:
            self.binding_anchor = None

    def visit_Global(self, node: cst.Global) -> bool:
        for item in node.names:
            self.scope.declared_global.add(item.name.value)
            self.f._global_names.add(item.name.value)
        return False

    def visit_Nonlocal(self, node: cst.Nonlocal) -> bool:
        for item in node.names:
            self.scope.declared_nonlocal.add(item.name.value)
        return False

    def _api(self, node: cst.CSTNode) -> None:
        api = self.f.resolve(node)
        if api is not None:
            self.f.api[node] = api

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.not_load.add(node.attr)
        self._later(self._api, node)

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.not_load.add(node.keyword)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if "rozen" in node.value and any(g in node.value for g in _GOLDEN_MARKS):
            self.f.golden.add(self.scope.node)

    visit_FormattedStringText = visit_SimpleString

    def visit_Name(self, node: cst.Name) -> None:
        if node in self.not_load:
            return
        self.scope.loads.setdefault(node.value, []).append(node)
        self._later(self._api, node)

    # calls: type-preserving markers and the flag

    def visit_Call(self, node: cst.Call) -> None:
        self._later(self._call, node, self.stack[-2] if len(self.stack) > 1 else None)

    def _call(self, node: cst.Call, parent: cst.CSTNode | None) -> None:
        func = node.func
        if m.matches(func, m.Name("isinstance")) and len(node.args) == 2:
            if self._mentions_frozen_dict(node.args[1].value):
                self._mark("isinstance", node)
        elif m.matches(func, m.Call(func=m.Name("type"))):
            self._mark("type-call", node)
        elif m.matches(func, m.Attribute(attr=m.Name("update"))) and node.args:
            flag = names.literal_string(node.args[0].value)
            if flag == names.RETURN_FROZENDICT_FLAG:
                self.f.flag_calls.append(node)
                if len(node.args) > 1 and m.matches(node.args[1].value, m.Name("True")):
                    self.f.flag_on = True
        else:
            api = (
                self.f.resolve(func)
                if m.matches(func, m.Name() | m.Attribute())
                else None
            )
            receiver = m.matches(parent, m.Attribute()) and (
                parent.attr.value in names.FROZEN_METHODS
            )
            # freeze(x).unfreeze() is a copy idiom, not half of a round trip.
            if api in (names.FREEZE, names.FROZEN_DICT) and not receiver:
                self._mark("make", node)

    def _mentions_frozen_dict(self, node: cst.BaseExpression) -> bool:
        """A check that tells FrozenDicts from dicts (not ``(dict, FrozenDict)``)."""
        candidates = (
            [e.value for e in node.elements] if m.matches(node, m.Tuple()) else [node]
        )
        frozen = any(
            m.matches(c, m.Name() | m.Attribute())
            and self.f.resolve(c) == names.FROZEN_DICT
            for c in candidates
        )
        mapping = any(
            (names.dotted_name(c) or "").rpartition(".")[2]
            in ("dict", "Dict", "Mapping", "MutableMapping")
            for c in candidates
        )
        return frozen and not mapping

    def _mark(self, marker: str, node: cst.CSTNode) -> None:
        for ancestor in self.f.ancestors(node):
            if m.matches(ancestor, m.FunctionDef() | m.IfExp() | m.If()):
                self.f.typepres.setdefault(ancestor, set()).add(marker)
            if m.matches(ancestor, m.FunctionDef()):
                return

    # decorators, classes, jit static arguments

    def _decorators(self, node: cst.FunctionDef, in_class: bool) -> None:
        static_names: set[str] = set()
        static_nums: set[int] = set()
        jitted = False
        for decorator in node.decorators:
            expr = decorator.decorator
            qualified = self.f.qualified(
                expr.func if m.matches(expr, m.Call()) else expr
            )
            dotted = names.dotted_name(expr) or ""
            if (
                qualified & names.PROPERTY_DECORATORS
                or dotted.endswith((".setter", ".deleter"))
                or dotted in ("property", "cached_property")
            ):
                self.f.properties.add(node)
            if qualified & names.CACHING_DECORATORS:
                self.f.cached_functions.add(node.name.value)
            if not m.matches(expr, m.Call()):
                jitted = jitted or bool(qualified & names.JIT_LIKE)
                continue
            target = qualified
            args = list(expr.args)
            if "functools.partial" in qualified and args:
                target = self.f.qualified(args[0].value)
                args = args[1:]
            if target & names.JIT_LIKE:
                jitted = True
                _static_from_args(args, static_names, static_nums)
        if jitted and (static_names or static_nums) and not in_class:
            self.f.static_args[node.name.value] = (
                frozenset(static_names),
                frozenset(static_nums),
            )

    def _jit_assignment(self, node: cst.Assign) -> None:
        value = node.value
        if not m.matches(node.targets[0].target, m.Name()) or not m.matches(
            value, m.Call()
        ):
            return
        if not self.f.qualified(value.func) & names.JIT_LIKE:
            return
        static_names: set[str] = set()
        static_nums: set[int] = set()
        _static_from_args(value.args[1:], static_names, static_nums)
        if static_names or static_nums:
            self.f.static_args[node.targets[0].target.value] = (
                frozenset(static_names),
                frozenset(static_nums),
            )
            wrapped = value.args[0].value if value.args else None
            if m.matches(wrapped, m.Name()) and wrapped.value in self.f.functions:
                self.f.functions[node.targets[0].target.value] = self.f.functions[
                    wrapped.value
                ]

    def _class_info(self, node: cst.ClassDef) -> ClassInfo:
        info = ClassInfo(node)
        for decorator in node.decorators:
            expr = decorator.decorator
            func = expr.func if m.matches(expr, m.Call()) else expr
            dotted = names.dotted_name(func) or ""
            qualified = self.f.qualified(func) | {dotted}
            if not any(q.endswith("dataclass") for q in qualified):
                continue
            info.dataclass_like = True
            flax_struct = any(
                q.startswith(("flax.struct", "struct.")) for q in qualified
            )
            if flax_struct:
                info.hashed_fields = info.hashed_fields or frozenset()
            elif m.matches(expr, m.Call()) and any(
                m.matches(
                    a,
                    m.Arg(
                        keyword=m.Name("frozen") | m.Name("unsafe_hash"),
                        value=m.Name("True"),
                    ),
                )
                for a in expr.args
            ):
                info.hashed_fields = frozenset({"*"})
        for base in node.bases:
            dotted = names.dotted_name(base.value) or ""
            qualified = self.f.qualified(base.value) | {dotted}
            if any(q.endswith("NamedTuple") for q in qualified):
                info.hashed_fields = frozenset({"*"})
            if any(q.endswith("PyTreeNode") for q in qualified):
                info.dataclass_like = True
                info.hashed_fields = info.hashed_fields or frozenset()
            local = self.f.classes.get(dotted)
            if (
                any(q.endswith("Module") for q in qualified)
                or "flax.linen.Module" in qualified
                or (local is not None and local.linen)
            ):
                info.linen = True
                info.dataclass_like = True
        return info

    def _class_field(self, node: cst.AnnAssign, class_node: cst.CSTNode) -> None:
        info = self.f.class_of.get(class_node)
        if info is None or info.hashed_fields is None or "*" in info.hashed_fields:
            return
        if (
            node.value is not None
            and m.matches(node.value, m.Call())
            and any(
                m.matches(a, m.Arg(keyword=m.Name("pytree_node") | m.Name("static")))
                and (
                    m.matches(a.value, m.Name("False"))
                    if a.keyword.value == "pytree_node"
                    else m.matches(a.value, m.Name("True"))
                )
                for a in node.value.args
            )
        ):
            info.hashed_fields = info.hashed_fields | {node.target.value}
            self.f.hash_replace_fields.add(node.target.value)


def _static_from_args(args, static_names: set[str], static_nums: set[int]) -> None:
    for arg in args:
        if arg.keyword is None:
            continue
        values = (
            [e.value for e in arg.value.elements]
            if m.matches(arg.value, m.Tuple() | m.List())
            else [arg.value]
        )
        if arg.keyword.value == "static_argnames":
            static_names.update(
                v for v in (names.literal_string(x) for x in values) if v is not None
            )
        elif arg.keyword.value in ("static_argnums", "static_broadcasted_argnums"):
            static_nums.update(
                int(x.value) for x in values if m.matches(x, m.Integer())
            )


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    out = [*params.posonly_params, *params.params, *params.kwonly_params]
    if m.matches(params.star_arg, m.Param()):
        out.append(params.star_arg)
    if params.star_kwarg is not None:
        out.append(params.star_kwarg)
    return out


def _param_names(params: cst.Parameters) -> list[str]:
    return [p.name.value for p in _all_params(params)]


def _dotted(node: cst.CSTNode) -> str:
    return names.dotted_name(node) or ""


def _module_level_names(statement: cst.CSTNode) -> list[str]:
    if m.matches(statement, m.FunctionDef() | m.ClassDef()):
        return [statement.name.value]
    if not m.matches(statement, m.SimpleStatementLine()):
        return []
    out: list[str] = []
    for small in statement.body:
        if m.matches(small, m.Assign()):
            for target in small.targets:
                out.extend(_target_names(target.target))
        elif m.matches(small, m.AnnAssign() | m.AugAssign()):
            out.extend(_target_names(small.target))
    return out
