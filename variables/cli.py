"""The ``variables`` command: inspect, compare and convert checkpoints.

::

    variables inspect FILE [--sep SEP] [--only PATTERN] [--depth N]
    variables diff A B [--atol X] [--rtol X] [--only PATTERN] [--sep SEP] [-q]
    variables convert SRC DST [--sep SEP] [--only PATTERN] [--force]

Formats follow the path, as in `vs.save` and `vs.load`: ``.msgpack``,
``.safetensors``, ``.npz``, or a directory (Orbax). Loads, saves and conversions
of large files show a progress bar on a terminal (``--progress`` always,
``--no-progress`` never). Bad input ends the command with status 2 and one line
on stderr, ``variables: error: ...``; ``variables --debug ...`` shows the
traceback instead. ``diff`` exits 0 when the checkpoints agree and 1 when they do
not, like ``diff(1)``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from . import __version__
from ._checkpoint import checkpoint_index, load, save
from ._paths import Pattern, parse_path
from ._summary import summary
from ._surgery import diff
from ._tree import unflatten

PROG = "variables"


class _UsageError(Exception):
    """A command line argparse rejected (reported in one line, status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Inspect, compare and convert checkpoints of JAX/Flax variables "
        "(.msgpack, .safetensors, .npz, or an Orbax directory).",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks instead of one-line errors",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    inspect = commands.add_parser(
        "inspect",
        help="list a checkpoint's entries (reads only the header where "
        "the format has one)",
        description="Print a table of a checkpoint's entries: path, shape, dtype, "
        "number of values and bytes, with totals. Only the header is read where the "
        "format has one (safetensors, npz, Orbax).",
    )
    inspect.add_argument("file", help="checkpoint file or Orbax directory")
    _add_sep(inspect)
    _add_only(inspect)
    inspect.add_argument(
        "--depth",
        type=int,
        default=None,
        metavar="N",
        help="instead of one row per entry, group rows by the first N path keys "
        "(the vs.summary table)",
    )

    compare = commands.add_parser(
        "diff",
        help="compare two checkpoints (exit 0: equal, 1: different)",
        description="Compare two checkpoints leaf by leaf: added, removed, changed "
        "shape or dtype, changed values (with the largest absolute difference). "
        "Exit status 0 when they agree, 1 when they differ, 2 on bad input.",
    )
    compare.add_argument("a", help="first checkpoint")
    compare.add_argument("b", help="second checkpoint")
    compare.add_argument("--atol", type=float, default=0.0, help="absolute tolerance")
    compare.add_argument("--rtol", type=float, default=0.0, help="relative tolerance")
    compare.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing; only the exit status tells",
    )
    _add_sep(compare)
    _add_only(compare)
    _add_progress(compare)

    convert = commands.add_parser(
        "convert",
        help="convert a checkpoint to another format",
        description="Read SRC and write DST; the formats follow the paths. The "
        "write is atomic.",
    )
    convert.add_argument("src", help="checkpoint to read")
    convert.add_argument(
        "dst",
        help="checkpoint to write (a path ending in '/' or "
        "without a suffix is an Orbax directory)",
    )
    _add_sep(convert)
    _add_only(convert)
    convert.add_argument(
        "--force", action="store_true", help="replace DST if it exists"
    )
    _add_progress(convert)
    return parser


def _add_sep(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sep",
        default="/",
        help="separator of the keys in flat formats (default '/'; '.' for Hugging "
        "Face style names)",
    )


def _add_only(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only",
        action="append",
        metavar="PATTERN",
        help="only entries whose path matches PATTERN, e.g. 'params/encoder/**' "
        "(repeatable)",
    )


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: for large files on a terminal)",
    )


# ---------------------------------------------------------------------------------
# Commands


def _inspect(args: argparse.Namespace) -> int:
    index = checkpoint_index(args.file, sep=args.sep)
    if args.only:
        patterns = [Pattern.compile(p) for p in args.only]
        index = {
            path: entry
            for path, entry in index.items()
            if any(p.matches(parse_path(path)) for p in patterns)
        }
    if args.depth is not None:
        if args.depth < 0:
            raise ValueError(f"--depth must be 0 or more, got {args.depth}")
        stand_ins = {
            path: _stand_in(shape, dtype) for path, (shape, dtype) in index.items()
        }
        print(summary(_nest(stand_ins), depth=args.depth))
        return 0
    rows, total_count, total_bytes = [], 0, 0
    for path, (shape, dtype) in index.items():
        count, nbytes = _size(shape, dtype)
        total_count += count or 0
        total_bytes += nbytes or 0
        rows.append(
            [
                path,
                "-" if shape is None else _shape_text(shape),
                str(dtype),
                "-" if count is None else f"{count:,}",
                "-" if nbytes is None else _human_bytes(nbytes),
            ]
        )
    n = len(rows)
    rows.append(
        [
            f"total ({n} {'entry' if n == 1 else 'entries'})",
            "",
            "",
            f"{total_count:,}",
            _human_bytes(total_bytes),
        ]
    )
    print(_table(["path", "shape", "dtype", "count", "bytes"], rows, numeric={3, 4}))
    return 0


def _diff(args: argparse.Namespace) -> int:
    trees = [
        load(path, sep=args.sep, only=args.only, progress=args.progress)
        for path in (args.a, args.b)
    ]
    result = diff(*trees, atol=args.atol, rtol=args.rtol)
    if not args.quiet:
        print(result)
    return 1 if result else 0


def _convert(args: argparse.Namespace) -> int:
    if os.path.exists(args.dst) and not args.force:
        raise FileExistsError(
            f"{args.dst}: exists; pass --force to replace it (the write is atomic)"
        )
    if os.path.abspath(args.dst.rstrip("/")) == os.path.abspath(args.src.rstrip("/")):
        raise ValueError(f"{args.src}: source and destination are the same path")
    tree = load(args.src, sep=args.sep, only=args.only, progress=args.progress)
    save(args.dst, tree, progress=args.progress)
    return 0


_COMMANDS = {"inspect": _inspect, "diff": _diff, "convert": _convert}


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``variables`` command; returns the exit status.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 on success (for ``diff``: the checkpoints agree), 1 when ``diff`` finds
        differences, 2 on bad input (a one-line message on stderr).

    Examples:
        >>> import os, shutil, tempfile
        >>> import numpy as np
        >>> import variables as vs
        >>> folder = tempfile.mkdtemp()
        >>> path = os.path.join(folder, "w.npz")
        >>> vs.save(path, {"dense": {"kernel": np.ones((2, 3), np.float32)}})
        >>> main(["inspect", path])
        path             shape   dtype    count  bytes
        ---------------  ------  -------  -----  -----
        dense/kernel     (2, 3)  float32      6   24 B
        total (1 entry)                       6   24 B
        0
        >>> main(["diff", path, path])
        no differences
        0
        >>> shutil.rmtree(folder)
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    debug = "--debug" in args_list
    try:
        args = parser.parse_args(args_list)
        return _COMMANDS[args.command](args)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `variables inspect big.safetensors | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        if debug:
            raise
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------------------------
# Formatting


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _size(shape: Any, dtype: Any) -> tuple[int | None, int | None]:
    if shape is None:
        return None, None
    count = math.prod(shape)
    itemsize = getattr(dtype, "itemsize", None)
    return count, None if itemsize is None else count * itemsize


def _shape_text(shape: tuple[int, ...]) -> str:
    return (
        "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _table(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str], is_header: bool = False) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric and not is_header else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header, True), rule, *(line(r) for r in rows)])


def _stand_in(shape: Any, dtype: Any) -> Any:
    """A leaf `vs.summary` can size without data: a ShapeDtypeStruct, or a scalar."""
    if isinstance(dtype, np.dtype) and shape is not None:
        return jax.ShapeDtypeStruct(tuple(shape), dtype)
    return {"int": 0, "float": 0.0, "bool": False, "complex": 0j}.get(
        str(dtype), str(dtype)
    )


def _nest(flat: dict[str, Any]) -> dict:
    return unflatten({parse_path(k): v for k, v in flat.items()}, sep=None)


if __name__ == "__main__":
    sys.exit(main())
