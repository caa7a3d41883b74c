"""The programmatic entry points: ``transform_source`` and ``migrate_paths``."""

from __future__ import annotations

import ast
import dataclasses
import io
import multiprocessing
import os
import tempfile
import tokenize
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import libcst as cst
from libcst.codemod import CodemodContext, SkipFile

from migration._base import LINES_KEY, Refusal, state_of, statement_lines
from migration._facts import may_need_migration, mentions_flax

__all__ = ["MigrationResult", "Refusal", "migrate_paths", "transform_source"]

_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        "node_modules",
        "build",
        "dist",
    }
)


@dataclasses.dataclass(frozen=True)
class MigrationResult:
    """What the codemod did to one file.

    Attributes:
        filename: the file (or the ``filename`` given to ``transform_source``).
        original: the source as read.
        code: the migrated source; equal to ``original`` when nothing changed.
        changed: whether ``code`` differs from ``original``.
        rewrites: pattern id (``"P04a"``, ...) -> number of rewrites.
        refusals: the places left unchanged on purpose, with the reason.
        error: set when the file could not be read or parsed (then nothing changed).
    """

    filename: str
    original: str
    code: str
    changed: bool
    rewrites: dict[str, int]
    refusals: tuple[Refusal, ...]
    error: str | None


def transform_source(
    source: str,
    *,
    use_variables: bool = False,
    annotate: bool = False,
    filename: str = "<string>",
) -> MigrationResult:
    """Migrates one module's source text; never raises on bad input.

    Args:
        source: Python source code.
        use_variables: allow rewrites that use the ``variables`` library
            (``vs.clone_pytree``, ``vs.at``) where flax alone would refuse.
        annotate: put a ``# variables-migration: <reason>`` comment above every
            place the codemod refused to rewrite.
        filename: the name used in refusals and errors.

    Returns:
        A ``MigrationResult``; ``error`` is set (and ``code == source``) when the
        source does not parse.

    Examples:
        >>> source = "from flax.core import freeze\\nx = freeze({})\\n"
        >>> result = transform_source(source)
        >>> print(result.code, end="")
        x = {}
        >>> result.rewrites
        {'P01': 1, 'P04a': 1}
    """
    if not isinstance(source, str):
        kind = type(source).__name__
        return MigrationResult(
            filename, "", "", False, {}, (), f"expected source text (str), got {kind}"
        )
    unchanged = MigrationResult(filename, source, source, False, {}, (), None)
    relevant = mentions_flax(source) and may_need_migration(source)
    error, syntax = _syntax_error(source, full_parse_follows=relevant)
    if error or not relevant:
        return dataclasses.replace(unchanged, error=error) if error else unchanged
    try:
        module = cst.parse_module(source)
    except Exception as exc:  # noqa: BLE001 - any parser failure is "does not parse"
        return dataclasses.replace(unchanged, error=_parse_error(exc))
    from migration._pipeline import MigrateFrozenDictCommand

    context = CodemodContext(filename=filename)
    if syntax is not None:
        lines = statement_lines(module, syntax)
        if lines is not None:
            context.scratch[LINES_KEY] = lines
    command = MigrateFrozenDictCommand(
        context, use_variables=use_variables, annotate=annotate
    )
    command.fresh_parse = True
    try:
        new_module = command.transform_module(module)
        code = new_module.code
    except SkipFile:
        return unchanged
    except Exception as exc:  # noqa: BLE001 - a codemod bug must not lose a file
        return dataclasses.replace(
            unchanged, error=f"internal error: {type(exc).__name__}: {_one_line(exc)}"
        )
    state = state_of(context)
    rewrites = {k: v for k, v in state.rewrites.items() if v}
    if code != source:
        removed = _removed_imports(module, new_module)
        if removed:
            rewrites["P01"] = rewrites.get("P01", 0) + removed
    refusals = tuple(sorted(state.refusals, key=lambda r: (r.line, r.pattern)))
    return MigrationResult(
        filename,
        source,
        code,
        code != source,
        dict(sorted(rewrites.items())),
        refusals,
        None,
    )


def migrate_paths(
    paths: Iterable[str | os.PathLike],
    *,
    write: bool = False,
    use_variables: bool = False,
    annotate: bool = False,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[MigrationResult]:
    """Migrates every ``.py`` file under ``paths``; writes them back if ``write``.

    Args:
        paths: files and directories (searched recursively for ``*.py``).
        write: replace each changed file, atomically (temporary file + rename).
        use_variables: see ``transform_source``.
        annotate: see ``transform_source``.
        jobs: worker processes (``0``: one per CPU).
        progress: called as ``progress(done, total)`` after each file (in order).

    Returns:
        One ``MigrationResult`` per file, sorted by file name. A file that cannot
        be read or parsed has ``error`` set and is never written.
    """
    files = sorted(set(_expand(paths)))
    options = (write, use_variables, annotate)
    workers = (os.cpu_count() or 1) if jobs == 0 else max(1, jobs)
    results: list[MigrationResult] = []
    if workers == 1 or len(files) < 2:
        for path in files:
            results.append(_migrate_file(path, *options))
            if progress is not None:
                progress(len(results), len(files))
        return results
    # Small chunks keep the workers busy to the end and the progress moving.
    chunk = max(1, min(16, len(files) // (workers * 4)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        for result in pool.map(
            _migrate_file,
            files,
            *([option] * len(files) for option in options),
            chunksize=chunk,
        ):
            results.append(result)
            if progress is not None:
                progress(len(results), len(files))
    return results


def _migrate_file(
    path: str, write: bool, use_variables: bool, annotate: bool
) -> MigrationResult:
    try:
        raw = Path(path).read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        source = raw.decode(encoding)
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError) as exc:
        return MigrationResult(
            path, "", "", False, {}, (), f"cannot read: {_one_line(exc)}"
        )
    result = transform_source(
        source, use_variables=use_variables, annotate=annotate, filename=path
    )
    if write and result.changed and result.error is None:
        try:
            _write_atomically(Path(path), result.code, encoding)
        except OSError as exc:
            return dataclasses.replace(result, error=f"cannot write: {_one_line(exc)}")
    return result


def _write_atomically(path: Path, text: str, encoding: str) -> None:
    data = text.encode(encoding)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _expand(paths: Iterable[str | os.PathLike]) -> Iterator[str]:
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(
                    d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")
                )
                for name in sorted(files):
                    if name.endswith(".py"):
                        yield str(Path(root) / name)
        else:
            yield str(path)


def _removed_imports(before: cst.Module, after: cst.Module) -> int:
    return len(_import_names(before) - _import_names(after))


def _import_names(module: cst.Module) -> set[tuple[str, str]]:
    found = set()
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    found.add(("import", module.code_for_node(alias).rstrip(", ")))
            elif isinstance(small, cst.ImportFrom) and not isinstance(
                small.names, cst.ImportStar
            ):
                base = module.code_for_node(small.module) if small.module else "."
                for alias in small.names:
                    found.add(
                        (base, module.code_for_node(alias).strip().rstrip(",").strip())
                    )
    return found


def _syntax_error(
    source: str, *, full_parse_follows: bool
) -> tuple[str | None, ast.Module | None]:
    """A parse error found cheaply, before (or instead of) the LibCST parse.

    ``ast.parse`` is the fast check; its tree is returned too (the line numbers
    of refusals come from it). Where it fails, LibCST decides (it knows newer
    grammar than the running Python), except for nesting beyond what CPython
    accepts, which LibCST's native parser does not survive.
    """
    try:
        return None, ast.parse(source)
    except SyntaxError as exc:
        if "too many nested" in str(exc):
            return f"does not parse: line {exc.lineno}: {exc.msg}", None
    except (RecursionError, MemoryError) as exc:
        return f"does not parse: {type(exc).__name__}", None
    except Exception:  # noqa: BLE001 - ValueError (null bytes) and the like
        pass
    if full_parse_follows:
        return None, None
    try:
        cst.parse_module(source)
    except Exception as exc:  # noqa: BLE001
        return _parse_error(exc), None
    return None, None


def _parse_error(exc: BaseException) -> str:
    if isinstance(exc, cst.ParserSyntaxError):
        where = f"line {exc.raw_line}, column {exc.raw_column}"
        return f"does not parse: {where}: {exc.message}"
    return f"does not parse: {_one_line(exc)}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _pool_context():
    # Never plain fork: the caller may be a multithreaded process (JAX, for one),
    # and forking one can deadlock. forkserver forks from a clean server process.
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    return multiprocessing.get_context(method)
