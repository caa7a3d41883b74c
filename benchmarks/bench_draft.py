"""One-leaf edit through a draft vs vs.at vs unfreeze-edit-freeze.

Trees have a realistic shape: params/stage_i/block_j/Dense_k/{kernel, bias} (blocks of
modules of leaves), no dict wider than 100 entries. Every tool replaces one kernel
deep in the tree and returns a new tree, leaving the input unchanged:

* ``vs.unfrozen``: ``with vs.unfrozen(t) as d: d[...]["kernel"] = v``, then
  ``vs.result(d)``;
* ``vs.produce``: the same edit as a recipe;
* ``vs.at``: ``vs.at(t)[...]["kernel"].set(v)``;
* ``flax.core.unfreeze`` / ``freeze``: what FrozenDict users write today.

Prints median times and ratios as Markdown tables.

    python benchmarks/bench_draft.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import sys

import flax
import flax.core
import jax
import numpy as np

import variables as vs
from _common import make_tree, time_all

PATH = ("params", "stage_0", "block_3", "Dense_4", "kernel")


def cases(tree, frozen, v):
    def draft_edit(t):
        with vs.unfrozen(t) as d:
            d["params"]["stage_0"]["block_3"]["Dense_4"]["kernel"] = v
        return vs.result(d)

    def recipe(d):
        d["params"]["stage_0"]["block_3"]["Dense_4"]["kernel"] = v

    def at_edit(t):
        return vs.at(t)["params"]["stage_0"]["block_3"]["Dense_4"]["kernel"].set(v)

    def unfreeze_freeze():
        d = flax.core.unfreeze(frozen)
        d["params"]["stage_0"]["block_3"]["Dense_4"]["kernel"] = v
        return flax.core.freeze(d)

    return {
        "dict: vs.unfrozen": lambda: draft_edit(tree),
        "dict: vs.produce": lambda: vs.produce(tree, recipe),
        "dict: vs.at": lambda: at_edit(tree),
        "FrozenDict: vs.unfrozen": lambda: draft_edit(frozen),
        "FrozenDict: vs.at": lambda: at_edit(frozen),
        "FrozenDict: unfreeze-edit-freeze": unfreeze_freeze,
    }


def check(fns, tree, frozen, v) -> None:
    for name, fn in fns.items():
        out = fn()
        assert vs.get(out, PATH) is v, name
        src = frozen if name.startswith("FrozenDict") else tree
        assert type(out) is type(src), name
        assert vs.get(src, PATH) is not v, name  # the input is unchanged
        if "unfreeze" not in name:  # copy on write: untouched subtrees are shared
            other = ("params", "stage_0", "block_4", "Dense_4", "kernel")
            assert vs.get(out, other) is vs.get(src, other), name


def run(sizes, budget):
    v = np.float32(-1)
    rows = []
    for n in sizes:
        tree = make_tree(n)
        frozen = flax.core.freeze(tree)
        fns = cases(tree, frozen, v)
        check(fns, tree, frozen, v)
        times = time_all(fns, budget)
        rows.append((len(vs.flatten(tree)), times))
        print(f"measured {rows[-1][0]} leaves", file=sys.stderr)
    return rows


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def report(rows) -> str:
    names = list(rows[0][1])
    head = "| one-leaf edit | " + " | ".join(f"{n:,} leaves" for n, _ in rows) + " |"
    lines = [head, "|---" * (len(rows) + 1) + "|"]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(us(t[name]) for _, t in rows) + " |")
    lines += ["", "| ratio | " + " | ".join(f"{n:,} leaves" for n, _ in rows) + " |"]
    lines.append("|---" * (len(rows) + 1) + "|")
    ratios = {
        "vs.unfrozen / vs.at (dict; target <= 3)": (
            "dict: vs.unfrozen",
            "dict: vs.at",
        ),
        "vs.produce / vs.at (dict)": ("dict: vs.produce", "dict: vs.at"),
        "vs.unfrozen / vs.at (FrozenDict; target <= 3)": (
            "FrozenDict: vs.unfrozen",
            "FrozenDict: vs.at",
        ),
        "unfreeze-edit-freeze / vs.unfrozen (FrozenDict)": (
            "FrozenDict: unfreeze-edit-freeze",
            "FrozenDict: vs.unfrozen",
        ),
    }
    for label, (a, b) in ratios.items():
        lines.append(
            f"| {label} | " + " | ".join(f"{t[a] / t[b]:.2f}x" for _, t in rows) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small trees, short runs")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    budget = 0.2 if args.quick else 1.0
    rows = run(sizes, budget)
    print(
        f"Python {platform.python_version()}, jax {jax.__version__}, "
        f"flax {flax.__version__}, {platform.machine()}\n"
    )
    print(report(rows))


if __name__ == "__main__":
    main()
