"""The FrozenDict migration codemod on real, published Flax code.

Runs ``migration.migrate_paths(files, write=False, jobs=1)`` over corpora of real
code and prints, per corpus, a Markdown table: files, files that import flax, files
changed, rewrites per pattern, refusals per pattern/trap, errors, wall and CPU
seconds, files/s. Then it checks every changed file:

  (a) the output parses (``ast.parse``);
  (b) the codemod run on its own output changes nothing (idempotency);
  (c) no file that never imports flax was touched;
  (d) no file hit an internal error of the codemod (a crash caught by
      ``transform_source``; a file of the corpus that does not parse is only
      counted).

and exits 1 if any check fails (2 if no corpus could be had).

By default the corpora are Flax code shipped inside published distributions
(transformers 4.30.2, diffusers 0.20.2, and the examples and tests of the flax
0.6.11 source distribution; ``--corpus`` picks others, see ``CORPORA``), downloaded
with ``pip download NAME==VERSION --no-deps`` into a cache directory under the
system temp dir: nothing is written to the repository, nothing is installed.
Directories or files given on the command line are used instead, one corpus each.

    python benchmarks/bench_migration_real.py [--quick] [paths...]
    python benchmarks/bench_migration_real.py --corpus transformers-4.30.2
    python benchmarks/bench_migration_real.py --diffs /tmp/migration-diffs

``--diffs DIR`` writes each changed file's unified diff and every refusal to DIR
for reading. ``--quick`` keeps at most ``--max-files`` (default 40) files per
corpus, half of them files that import flax.
"""

from __future__ import annotations

import argparse
import ast
import collections
import dataclasses
import difflib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from migration import MigrationResult, migrate_paths, transform_source  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "variables-bench-migration-real"
QUICK_FILES = 40
MAX_FILES = 1000  # per corpus: keeps one run of the benchmark within minutes


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A published distribution and the part of it that is measured.

    Attributes:
        name: the table heading.
        spec: what ``pip download`` gets (``NAME==VERSION``).
        roots: directory names inside the distribution (the shallowest match of
            each is taken): the import package, or ``examples``/``tests``.
        sdist: download the source distribution (wheels ship no examples/tests).
        scope: ``"all"`` for every file under the roots, ``"flax-dirs"`` for every
            file of each directory that holds a file with ``flax`` in its name (the
            flax models of transformers together with their PyTorch/TF/config
            neighbours, which must come out untouched).
    """

    name: str
    spec: str
    roots: tuple[str, ...]
    sdist: bool = False
    scope: str = "all"


_TRANSFORMERS = ("transformers",)
CORPORA = {
    c.name: c
    for c in (
        Corpus(
            "transformers-4.30.2",
            "transformers==4.30.2",
            _TRANSFORMERS,
            scope="flax-dirs",
        ),
        Corpus(
            "transformers-4.57.6",
            "transformers==4.57.6",
            _TRANSFORMERS,
            scope="flax-dirs",
        ),
        Corpus("diffusers-0.20.2", "diffusers==0.20.2", ("diffusers",)),
        Corpus("diffusers-0.32.2", "diffusers==0.32.2", ("diffusers",)),
        Corpus(
            "flax-0.6.11-examples-tests", "flax==0.6.11", ("examples", "tests"), True
        ),
        Corpus("dopamine-rl-4.1.2", "dopamine-rl==4.1.2", ("dopamine",)),
        Corpus("praxis-1.4.0", "praxis==1.4.0", ("praxis",)),
        Corpus("clu-0.0.12", "clu==0.0.12", ("clu",)),
        Corpus("evojax-0.2.17", "evojax==0.2.17", ("evojax",)),
        Corpus("flaxmodels-0.1.3", "flaxmodels==0.1.3", ("flaxmodels",)),
    )
}
DEFAULT = ("transformers-4.30.2", "diffusers-0.20.2", "flax-0.6.11-examples-tests")


# --- getting the code ----------------------------------------------------------------


class Unavailable(Exception):
    """A corpus that could not be downloaded or unpacked."""


def fetch(corpus: Corpus, cache: Path) -> tuple[list[Path], str]:
    """Downloads and unpacks ``corpus`` once: its root directories, the archive."""
    target = cache / "src" / corpus.name
    done = target / ".unpacked"
    wheels = cache / "dist" / corpus.name
    wheels.mkdir(parents=True, exist_ok=True)
    archives = _archives(wheels)
    if not done.exists() or not archives:
        if not archives:
            command = [
                sys.executable, "-m", "pip", "download", corpus.spec, "--no-deps",
                *(["--no-binary", ":all:"] if corpus.sdist else []),
                "--quiet", "--disable-pip-version-check", "-d", str(wheels),
            ]  # fmt: skip
            try:
                proc = subprocess.run(
                    command, check=False, capture_output=True, text=True, timeout=600
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise Unavailable(
                    f"`pip download {corpus.spec}` failed: {exc}"
                ) from exc
            archives = _archives(wheels)
            if proc.returncode != 0 or not archives:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise Unavailable(
                    f"`pip download {corpus.spec} --no-deps` failed ({last}); "
                    "offline? pass directories of Flax code on the command line instead"
                )
        target.mkdir(parents=True, exist_ok=True)
        _unpack(archives[0], target)
        done.touch()
    roots = []
    for name in corpus.roots:
        found = [p for p in target.rglob(name) if p.is_dir() and any(p.rglob("*.py"))]
        if not found:
            raise Unavailable(f"{corpus.spec}: no directory `{name}` in the archive")
        roots.append(min(found, key=lambda p: len(p.parts)))
    return roots, archives[0].name


def _archives(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix == ".whl" or p.name.endswith(".tar.gz")
    )


def _unpack(archive: Path, target: Path) -> None:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if member.endswith(".py") and _safe(member):
                    zf.extract(member, target)
    else:
        with tarfile.open(archive) as tf:
            members = [
                m for m in tf.getmembers()
                if m.isfile() and m.name.endswith(".py") and _safe(m.name)
            ]  # fmt: skip
            try:
                tf.extractall(target, members=members, filter="data")
            except TypeError:  # Python without extraction filters: members are
                tf.extractall(target, members=members)  # checked plain files


def _safe(name: str) -> bool:
    return not name.startswith(("/", "\\")) and ".." not in Path(name).parts


def select_files(corpus: Corpus, roots: list[Path]) -> list[Path]:
    """The files under ``roots`` that make up ``corpus``."""
    files = sorted(p for root in roots for p in root.rglob("*.py"))
    if corpus.scope == "flax-dirs":
        dirs = {p.parent for p in files if "flax" in p.name}
        files = [p for p in files if p.parent in dirs]
    return files


# --- measuring -----------------------------------------------------------------------


_FLAX_WORD = re.compile(r"\bflax\b")


def imports_flax(source: str) -> bool:
    """Whether the module has an ``import flax...`` / ``from flax... import``.

    Independent of the codemod's own gate: it is what check (c) holds it to.
    """
    if not _FLAX_WORD.search(source):
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[0] == "flax" for a in node.names):
                return True
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "flax"
        ):
            return True
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def limit_files(files: list[Path], limit: int) -> list[Path]:
    """At most ``limit`` files, evenly spread, half of them files importing flax."""
    if len(files) <= limit:
        return files
    flax = [p for p in files if imports_flax(_read(p))]
    other = [p for p in files if p not in set(flax)]
    n_flax = min(len(flax), max(limit // 2, limit - len(other)))
    return sorted(_spread(flax, n_flax) + _spread(other, limit - n_flax))


def _spread(items: list, n: int) -> list:
    if n >= len(items):
        return list(items)
    if n <= 0:
        return []
    return [items[i * len(items) // n] for i in range(n)]


@dataclasses.dataclass
class Report:
    name: str
    about: str
    results: list[MigrationResult]
    wall: float
    cpu: float
    with_flax: set[str]
    failures: list[str]

    @property
    def changed(self) -> list[MigrationResult]:
        return [r for r in self.results if r.changed]


def measure(name: str, about: str, files: list[Path], use_variables: bool) -> Report:
    paths = [str(p) for p in files]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    results = migrate_paths(paths, write=False, use_variables=use_variables, jobs=1)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    with_flax = {r.filename for r in results if imports_flax(r.original)}
    failures = check(results, with_flax, use_variables)
    return Report(name, about, results, wall, cpu, with_flax, failures)


def check(
    results: list[MigrationResult], with_flax: set[str], use_variables: bool
) -> list[str]:
    """Checks (a)-(d) from the module docstring; one line per failure."""
    failures = []
    for r in results:
        if r.error and r.error.startswith("internal error"):
            failures.append(f"(d) {r.filename}: {r.error}")
        if not r.changed:
            continue
        if r.filename not in with_flax:
            failures.append(f"(c) {r.filename}: changed, but it never imports flax")
        try:
            ast.parse(r.code)
        except SyntaxError as exc:
            failures.append(
                f"(a) {r.filename}: output does not parse: line {exc.lineno}: {exc.msg}"
            )
            continue
        again = transform_source(
            r.code, use_variables=use_variables, filename=r.filename
        )
        if again.error:
            failures.append(f"(b) {r.filename}: second run failed: {again.error}")
        elif again.changed:
            line = _first_difference(r.code, again.code)
            failures.append(f"(b) {r.filename}: a second run changes line {line}")
    return failures


def _first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return i
    return min(len(a.splitlines()), len(b.splitlines())) + 1


# --- printing ------------------------------------------------------------------------


def rows(report: Report) -> list[tuple[str, str]]:
    results = report.results
    rewrites: collections.Counter = collections.Counter()
    refusals: collections.Counter = collections.Counter()
    for r in results:
        rewrites.update(r.rewrites)
        refusals.update(x.pattern for x in r.refusals)
    errors = [r for r in results if r.error]
    crashes = [r for r in errors if r.error.startswith("internal error")]
    out = [
        ("files", f"{len(results)}"),
        ("files importing flax", f"{len(report.with_flax)}"),
        ("files changed", f"{len(report.changed)}"),
        ("files with refusals", f"{sum(1 for r in results if r.refusals)}"),
        ("rewrites (all)", f"{sum(rewrites.values())}"),
    ]
    out += [(f"rewrites {k}", f"{v}") for k, v in sorted(rewrites.items())]
    out.append(("refusals (all)", f"{sum(refusals.values())}"))
    out += [(f"refusals {k}", f"{v}") for k, v in sorted(refusals.items())]
    n_flax, failed = len(report.with_flax), len(report.failures)
    out += [
        (
            "errors: does not parse / codemod crash",
            f"{len(errors) - len(crashes)} / {len(crashes)}",
        ),
        ("wall s", f"{report.wall:.2f}"),
        ("CPU s", f"{report.cpu:.2f}"),
        ("files/s (wall)", f"{len(results) / max(report.wall, 1e-9):.1f}"),
        ("flax files/CPU s", f"{n_flax / max(report.cpu, 1e-9):.2f}"),
        ("checks (a)-(d)", f"{failed} FAILED" if failed else "ok"),
    ]
    return out


def print_table(report: Report) -> None:
    print(f"\n### {report.name}\n\n{report.about}\n")
    print("| measure | value |")
    print("| --- | ---: |")
    for key, value in rows(report):
        print(f"| {key} | {value} |")
    for r in report.results:
        if r.error:
            print(f"\nerror: {r.filename}: {r.error}")
    for line in report.failures:
        print(f"\nFAILED {line}")


def print_summary(reports: list[Report]) -> None:
    """One table, a column per corpus (the same rows, missing ones as 0)."""
    keys: list[str] = []
    per: list[dict[str, str]] = []
    for report in reports:
        table = dict(rows(report))
        per.append(table)
        keys += [k for k in table if k not in keys]
    fixed = ["files", "files importing flax", "files changed", "files with refusals"]
    tail = [
        k for k in keys if not k.startswith(("rewrites", "refusals")) and k not in fixed
    ]
    middle = [k for k in keys if k.startswith("rewrites")] + [
        k for k in keys if k.startswith("refusals")
    ]
    print("\n### all corpora\n")
    print("| measure | " + " | ".join(r.name for r in reports) + " |")
    print("| --- |" + " ---: |" * len(reports))
    for key in fixed + middle + tail:
        print(f"| {key} | " + " | ".join(t.get(key, "0") for t in per) + " |")


def write_diffs(report: Report, directory: Path) -> None:
    out = directory / f"{_slug(report.name)}.diff"
    with out.open("w", encoding="utf-8") as f:
        for r in report.results:
            if r.changed:
                f.writelines(
                    difflib.unified_diff(
                        r.original.splitlines(keepends=True),
                        r.code.splitlines(keepends=True),
                        r.filename,
                        r.filename + " (migrated)",
                        n=2,
                    )
                )
    with (directory / f"{_slug(report.name)}.refusals.txt").open(
        "w", encoding="utf-8"
    ) as f:
        for r in report.results:
            lines = r.original.splitlines()
            for x in r.refusals:
                code = lines[x.line - 1].strip() if 0 < x.line <= len(lines) else ""
                f.write(f"{x.filename}:{x.line}: {x.pattern}: {x.reason}\n    {code}\n")
    print(f"\ndiffs and refusals of {report.name} written to {directory}")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip("/")) or "corpus"


# --- main ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "paths", nargs="*", help="directories or files, one corpus each"
    )
    parser.add_argument(
        "--quick", action="store_true", help="at most --max-files files per corpus"
    )
    parser.add_argument(
        "--max-files",
        type=int,
        default=None,
        help=f"files per corpus (default {MAX_FILES}, {QUICK_FILES} with --quick)",
    )
    parser.add_argument(
        "--corpus",
        action="append",
        choices=sorted(CORPORA),
        help=f"a published corpus (repeatable; default: {', '.join(DEFAULT)})",
    )
    parser.add_argument(
        "--cache", type=Path, default=CACHE, help=f"download cache (default {CACHE})"
    )
    parser.add_argument(
        "--use-variables", action="store_true", help="migrate with use_variables=True"
    )
    parser.add_argument(
        "--diffs",
        type=Path,
        help="write diffs and refusals per corpus to this directory",
    )
    args = parser.parse_args(argv)
    limit = args.max_files or (QUICK_FILES if args.quick else MAX_FILES)

    corpora: list[tuple[str, str, list[Path]]] = []
    for path in args.paths:
        p = Path(path)
        if not p.exists():
            print(f"no such file or directory: {path}", file=sys.stderr)
            return 2
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        corpora.append((str(p), f"`{p}`", files))
    if not args.paths or args.corpus:
        for name in args.corpus or DEFAULT:
            corpus = CORPORA[name]
            try:
                roots, archive = fetch(corpus, args.cache)
            except Unavailable as exc:
                print(f"skipped {name}: {exc}", file=sys.stderr)
                continue
            where = ", ".join(f"`{r.name}/`" for r in roots)
            if corpus.scope == "flax-dirs":
                where += " (directories holding a file with `flax` in its name)"
            about = f"`{corpus.spec}` (`{archive}`): {where}"
            corpora.append((name, about, select_files(corpus, roots)))
    if not corpora:
        print("no corpus to measure", file=sys.stderr)
        return 2

    print("## FrozenDict migration on real code\n")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, jobs=1, "
        f"use_variables={args.use_variables}, at most {limit} files per corpus"
    )
    reports = []
    for name, about, files in corpora:
        picked = limit_files(files, limit)
        report = measure(name, about, picked, args.use_variables)
        reports.append(report)
        print_table(report)
        if args.diffs:
            args.diffs.mkdir(parents=True, exist_ok=True)
            write_diffs(report, args.diffs)
    if len(reports) > 1:
        print_summary(reports)
    failed = sum(len(r.failures) for r in reports)
    print(f"\nchecks (a) parses, (b) idempotent, (c) flax files only, (d) no crash: "
          f"{'all passed' if not failed else f'{failed} FAILED'}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
