"""``python -m migration PATH...`` / ``variables-migrate``: diff, write or check."""

from __future__ import annotations

import argparse
import collections
import difflib
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from migration._api import MigrationResult, migrate_paths

EXIT_OK = 0
EXIT_WOULD_CHANGE = 1
EXIT_ERRORS = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="variables-migrate",
        description=(
            "Port Flax code off FrozenDict. Prints a unified diff by default; "
            "--write rewrites the files, --check only reports (for CI)."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--diff", action="store_true", help="print a unified diff (default)"
    )
    mode.add_argument(
        "--write", action="store_true", help="rewrite files in place, atomically"
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if any file would change; print no diff",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (0: one per CPU)",
    )
    parser.add_argument(
        "--use-variables",
        action="store_true",
        help="allow rewrites that use the variables library (vs.clone_pytree, vs.at)",
    )
    parser.add_argument(
        "--annotate",
        action="store_true",
        help="comment '# variables-migration: <reason>' where a rewrite was refused",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print only the summary line"
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Runs the command line; returns the exit status.

    Exit status: 0 on success, 1 with ``--check`` when a file would change, 2 when a
    file could not be read, parsed or written (those files are left untouched).
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    args = build_parser().parse_args(argv)
    if args.jobs < 0:
        print("variables-migrate: --jobs must be 0 (one per CPU) or more", file=err)
        return EXIT_ERRORS
    start = time.perf_counter()
    bar = _ProgressBar(err) if not args.quiet and _is_terminal(err) else None
    try:
        results = migrate_paths(
            args.paths,
            write=args.write,
            use_variables=args.use_variables,
            annotate=args.annotate,
            jobs=args.jobs,
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - start
    if not args.write and not args.check and not args.quiet:
        for result in results:
            if result.changed:
                out.write(unified_diff(result))
    err.write(
        summary(results, elapsed=elapsed, wrote=args.write, verbose=not args.quiet)
    )
    if any(r.error for r in results):
        return EXIT_ERRORS
    if args.check and any(r.changed for r in results):
        return EXIT_WOULD_CHANGE
    return EXIT_OK


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _ProgressBar:
    """A ``tqdm`` progress bar on a terminal, made once the total is known."""

    def __init__(self, stream: TextIO, delay: float = 0.5) -> None:
        self.stream = stream
        self.delay = delay  # seconds before a bar appears: quick runs show none
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total,
                unit="file",
                file=self.stream,
                leave=False,
                delay=self.delay,
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def unified_diff(result: MigrationResult) -> str:
    """The ``--diff`` output for one file."""
    lines = difflib.unified_diff(
        result.original.splitlines(keepends=True),
        result.code.splitlines(keepends=True),
        fromfile=_label("a", result.filename),
        tofile=_label("b", result.filename),
    )
    text = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
        for line in lines
    )
    return text


def _label(side: str, filename: str) -> str:
    return filename if filename.startswith("/") else f"{side}/{filename}"


def summary(
    results: Sequence[MigrationResult],
    *,
    elapsed: float | None = None,
    wrote: bool = False,
    verbose: bool = True,
) -> str:
    """The end-of-run report: counts, rewrites per pattern, refusals, errors."""
    changed = [r for r in results if r.changed]
    errors = [r for r in results if r.error]
    rewrites: collections.Counter = collections.Counter()
    for result in results:
        rewrites.update(result.rewrites)
    refusals = [f for r in results for f in r.refusals]
    verb = "changed" if wrote else "would change"
    head = (
        f"variables-migrate: {len(results)} files scanned, "
        f"{len(changed)} files {verb}, {sum(rewrites.values())} rewrites, "
        f"{len(refusals)} refused, {len(errors)} errors"
    )
    if elapsed is not None:
        head += f" ({elapsed:.2f}s)"
    lines = [head]
    if verbose and rewrites:
        lines.append("rewrites per pattern:")
        lines.extend(
            f"  {pattern:<6} {count}" for pattern, count in sorted(rewrites.items())
        )
    if verbose and refusals:
        lines.append("refused (left unchanged):")
        lines.extend(
            f"  {f.filename}:{f.line}: {f.pattern}: {f.reason}" for f in refusals
        )
    if errors:
        lines.append("errors (files skipped, nothing written):")
        lines.extend(f"  {r.filename}: {r.error}" for r in errors)
    return "\n".join(lines) + "\n"
