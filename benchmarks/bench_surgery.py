"""Weight surgery: vs.transplant / vs.diff / vs.rename vs what users write instead.

Trees: ``params/backbone/block_i/Dense_j/{kernel, bias}`` plus a two-leaf
``params/head``, small float32 arrays (so the cost measured is the bookkeeping,
not the arithmetic). Every contender returns a new tree and leaves its inputs
unchanged.

- transplant: fill the backbone of a fresh model from a pretrained one, keep the
  new head. Contenders: `vs.transplant` with a mapping (shape/dtype checks and a
  report); ``flax.traverse_util`` flatten, copy matching keys with the same checks,
  unflatten; ``equinox.tree_at`` over the backbone's leaves (no checks); and the
  hand-written subtree swap ``{**t, "params": {**p, "backbone": ...}}`` (no checks:
  the floor).
- diff: compare two trees that differ in one leaf. `vs.diff` vs a hand-written
  ``traverse_util.flatten_dict`` loop (keys, shapes, dtypes, ``np.array_equal``,
  max abs difference) vs ``jax.tree.map`` of the max abs difference (same structure
  only).
- rename: ``block_(\\d+) -> layer_\\1`` on every path. `vs.rename` vs
  ``traverse_util.flatten_dict(sep="/")`` + ``re.sub`` + ``unflatten_dict``.

Prints median CPU times and ratios (Markdown).

    python benchmarks/bench_surgery.py [--quick]
"""

from __future__ import annotations

import argparse
import functools
import re
import sys

import equinox as eqx
import jax
import numpy as np
from flax import traverse_util

import variables as vs
from _common import time_it


def make_tree(n_leaves: int, head: int, seed: float = 0.0) -> dict:
    n_modules = max(1, (n_leaves - 2) // 2)
    per_block = 10
    backbone: dict = {}
    for m in range(n_modules):
        block = backbone.setdefault(f"block_{m // per_block}", {})
        block[f"Dense_{m % per_block}"] = {
            "kernel": np.full((4, 4), seed, np.float32),
            "bias": np.full(4, seed, np.float32),
        }
    return {
        "params": {
            "backbone": backbone,
            "head": {
                "kernel": np.zeros((4, head), np.float32),
                "bias": np.zeros(head, np.float32),
            },
        }
    }


# -- transplant contenders ---------------------------------------------------------


def with_vs(dst, src):
    return vs.transplant(dst, src, {"params/backbone": "params/backbone"})[0]


def with_traverse_util(dst, src):
    flat_dst = traverse_util.flatten_dict(dst)
    flat_src = traverse_util.flatten_dict(src)
    for key, value in flat_src.items():
        if key[:2] == ("params", "backbone"):
            old = flat_dst[key]
            if old.shape != value.shape or old.dtype != value.dtype:
                raise ValueError(f"mismatch at {key}")
            flat_dst[key] = value
    return traverse_util.unflatten_dict(flat_dst)


def with_equinox(dst, src):
    return eqx.tree_at(
        lambda t: jax.tree_util.tree_leaves(t["params"]["backbone"]),
        dst,
        replace=jax.tree_util.tree_leaves(src["params"]["backbone"]),
    )


def by_hand(dst, src):
    return {**dst, "params": {**dst["params"], "backbone": src["params"]["backbone"]}}


# -- diff contenders ---------------------------------------------------------------


def diff_by_hand(a, b):
    fa, fb = traverse_util.flatten_dict(a), traverse_util.flatten_dict(b)
    added = [k for k in fb if k not in fa]
    removed = [k for k in fa if k not in fb]
    changed = []
    for k, x in fa.items():
        y = fb.get(k)
        if y is None:
            continue
        if x.shape != y.shape or x.dtype != y.dtype:
            changed.append((k, "type"))
        elif not np.array_equal(x, y):
            changed.append((k, float(np.max(np.abs(x - y)))))
    return added, removed, changed


def diff_tree_map(a, b):
    gaps = jax.tree.map(lambda x, y: float(np.max(np.abs(x - y))), a, b)
    return [(p, g) for p, g in vs.flatten(gaps).items() if g]


# -- rename contenders -------------------------------------------------------------

RULE = re.compile(r"block_(\d+)")


def rename_by_hand(tree):
    flat = traverse_util.flatten_dict(tree, sep="/")
    return traverse_util.unflatten_dict(
        {RULE.sub(r"layer_\1", k): v for k, v in flat.items()}, sep="/"
    )


def rename_with_vs(tree):
    return vs.rename(tree, {r"block_(\d+)": r"layer_\1"})


# -- timing ------------------------------------------------------------------------


def fmt(seconds: float, base: float) -> str:
    return f"{seconds * 1e6:,.0f} ({seconds / base:.2f}x)"


def table(title: str, names: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title} (median CPU µs per call; in brackets: time / vs time)\n")
    print("| leaves | " + " | ".join(names) + " |")
    print("| ---: | " + " | ".join("---:" for _ in names) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def check(sizes) -> None:
    dst, src = make_tree(sizes[0], 3), make_tree(sizes[0], 5, seed=1.0)
    expected = with_vs(dst, src)
    for fn in (with_traverse_util, with_equinox, by_hand):
        assert not vs.diff(expected, fn(dst, src)), fn.__name__
    b = vs.at(src, "params/backbone/block_0/Dense_1/bias").add(0.5)
    assert vs.diff(src, b).changed_value == (
        ("params/backbone/block_0/Dense_1/bias", 0.5),
    )
    assert len(diff_by_hand(src, b)[2]) == 1 and len(diff_tree_map(src, b)) == 1
    assert vs.flatten(rename_with_vs(src)) == vs.flatten(rename_by_hand(src))


def row(contenders, args: tuple, budget: float) -> list[str]:
    """Timings of ``f(*args)`` for each contender, the first one the base."""
    times = [time_it(functools.partial(f, *args), budget) for f in contenders]
    return [fmt(t, times[0]) for t in times]


def run(sizes, budget: float) -> None:
    check(sizes)
    t_rows, d_rows, r_rows = [], [], []
    for n in sizes:
        dst, src = make_tree(n, 3), make_tree(n, 5, seed=1.0)
        changed = vs.at(src, "params/backbone/block_0/Dense_1/bias").add(0.5)
        leaves = f"{len(vs.flatten(dst)):,}"
        transplants = (with_vs, with_traverse_util, with_equinox, by_hand)
        t_rows.append([leaves, *row(transplants, (dst, src), budget)])
        diffs = (vs.diff, diff_by_hand, diff_tree_map)
        d_rows.append([leaves, *row(diffs, (src, changed), budget)])
        renames = (rename_with_vs, rename_by_hand)
        r_rows.append([leaves, *row(renames, (src,), budget)])
        print(f"done: {leaves} leaves", file=sys.stderr)
    table(
        "transplant a backbone",
        [
            "vs.transplant",
            "traverse_util + checks",
            "equinox.tree_at",
            "subtree swap by hand",
        ],
        t_rows,
    )
    table("diff two trees", ["vs.diff", "traverse_util loop", "jax.tree.map"], d_rows)
    table("rename every block", ["vs.rename", "traverse_util + re.sub"], r_rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    args = parser.parse_args(argv)
    if args.quick:
        run([100, 1_000], budget=0.2)
    else:
        run([100, 1_000, 10_000], budget=2.0)


if __name__ == "__main__":
    main()
