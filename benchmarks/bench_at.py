"""One-leaf edit: vs.at vs equinox.tree_at vs flax.traverse_util vs hand-written copying.

Trees have a realistic shape: params/stage_i/block_j/Dense_k/{kernel, bias}, no dict
wider than 100 entries. Each tool replaces one kernel deep in the tree and returns a
new tree, leaving the input unchanged. Prints median times and ratios (Markdown).

    python benchmarks/bench_at.py [--quick]
"""

from __future__ import annotations

import argparse
import sys

import equinox as eqx
import numpy as np
from flax import traverse_util
from flax.core import FrozenDict

import variables as vs
from _common import make_tree, time_all

PATH = ("params", "stage_0", "block_3", "Dense_4", "kernel")


def hand_unrolled(t, v):
    p = t["params"]
    s = p["stage_0"]
    b = s["block_3"]
    d = b["Dense_4"]
    return {**t, "params": {**p, "stage_0": {**s, "block_3": {**b, "Dense_4": {**d, "kernel": v}}}}}


def hand_recursive(t, path, v):
    if not path:
        return v
    return {**t, path[0]: hand_recursive(t[path[0]], path[1:], v)}


def run(sizes, budget):
    v = np.float32(-1)
    rows = []
    for n in sizes:
        tree = make_tree(n)
        frozen = vs.freeze(tree)
        n_leaves = len(vs.flatten(tree))
        assert vs.get(hand_unrolled(tree, v), PATH) is v
        assert vs.get(vs.at(tree, "params/stage_0/block_3/Dense_4/kernel").set(v), PATH) is v

        def traverse_round_trip():
            flat = traverse_util.flatten_dict(tree)
            flat[PATH] = v
            return traverse_util.unflatten_dict(flat)

        def eqx_tree_at():
            return eqx.tree_at(
                lambda t: t["params"]["stage_0"]["block_3"]["Dense_4"]["kernel"], tree, v
            )

        cases = {
            "hand-written, unrolled": lambda: hand_unrolled(tree, v),
            "hand-written, recursive": lambda: hand_recursive(tree, PATH, v),
            "vs.at(t, 'a/b/c').set": lambda: vs.at(
                tree, "params/stage_0/block_3/Dense_4/kernel"
            ).set(v),
            "vs.at(t)[a][b][c].set": lambda: vs.at(tree)["params"]["stage_0"]["block_3"][
                "Dense_4"
            ]["kernel"].set(v),
            "vs.at(t, path).multiply": lambda: vs.at(
                tree, "params/stage_0/block_3/Dense_4/kernel"
            ).multiply(v),
            "vs.at on a FrozenDict tree": lambda: vs.at(
                frozen, "params/stage_0/block_3/Dense_4/kernel"
            ).set(v),
            "equinox.tree_at": eqx_tree_at,
            "traverse_util round trip": traverse_round_trip,
        }
        times = time_all(cases, budget / len(cases))
        rows.append((n_leaves, times))
        print(f"measured {n_leaves} leaves", file=sys.stderr)
    return rows


def report(rows) -> str:
    base = "hand-written, unrolled"
    names = list(rows[0][1])
    head = "| tool | " + " | ".join(f"{n:,} leaves" for n, _ in rows) + " |"
    lines = [head, "|---" * (len(rows) + 1) + "|"]
    for name in names:
        cells = []
        for _, times in rows:
            t = times[name]
            cells.append(f"{t * 1e6:,.1f} us ({t / times[base]:.1f}x)")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines.append("")
    first, last = rows[0][1], rows[-1][1]
    at = "vs.at(t, 'a/b/c').set"
    lines.append(
        f"vs.at growth from {rows[0][0]:,} to {rows[-1][0]:,} leaves: "
        f"{last[at] / first[at]:.2f}x; at {rows[-1][0]:,} leaves vs.at is "
        f"{last['equinox.tree_at'] / last[at]:,.0f}x faster than equinox.tree_at and "
        f"{last['traverse_util round trip'] / last[at]:,.0f}x faster than the "
        f"traverse_util round trip."
    )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    args = parser.parse_args(argv)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    print(report(run(sizes, budget=1.0 if args.quick else 8.0)))


if __name__ == "__main__":
    main()
