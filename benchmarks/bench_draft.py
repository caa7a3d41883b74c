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
import statistics
import sys
import time

import flax
import flax.core
import jax
import numpy as np

import variables as vs

PATH = ("params", "stage_0", "block_3", "Dense_4", "kernel")


def make_tree(n_leaves: int) -> dict:
    """About ``n_leaves`` leaves: stages of up to 100 blocks of 10 Dense modules."""
    modules_per_block, blocks_per_stage = 10, 100
    n_blocks = max(1, n_leaves // (2 * modules_per_block))
    params: dict = {}
    for b in range(n_blocks):
        stage = params.setdefault(f"stage_{b // blocks_per_stage}", {})
        stage[f"block_{b % blocks_per_stage}"] = {
            f"Dense_{m}": {"kernel": np.float32(b), "bias": np.float32(m)}
            for m in range(modules_per_block)
        }
    return {"params": params}


def time_all(fns: dict, budget: float) -> dict:
    """Median seconds per call of each function, in CPU time of this thread.

    CPU time rather than wall time, because the VM is shared: time spent waiting for
    a core is not the function's. The functions take turns (one batch each per
    round), so a change in machine load affects all of them alike.
    """
    numbers = {}
    for name, fn in fns.items():
        fn()
        start = time.thread_time()
        fn()
        numbers[name] = max(1, int(0.01 / max(time.thread_time() - start, 1e-7)))
    samples: dict = {name: [] for name in fns}
    deadline = time.perf_counter() + budget * len(fns)
    rounds = 0
    while rounds < 5 or (time.perf_counter() < deadline and rounds < 300):
        for name, fn in fns.items():
            number = numbers[name]
            t0 = time.thread_time()
            for _ in range(number):
                fn()
            samples[name].append((time.thread_time() - t0) / number)
        rounds += 1
    return {name: statistics.median(s) for name, s in samples.items()}


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
