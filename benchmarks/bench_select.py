"""Split a tree and put it back: vs.partition + vs.merge vs equinox.partition + combine.

Trees have a realistic shape: {params: {encoder, decoder}: block_i: {Dense_0, Dense_1,
LayerNorm_0}: {kernel|scale, bias}}, plus batch_stats, with float32 and bfloat16
leaves. Each case splits the tree in two and merges the halves back:

- ``subtree``: ``"params/encoder/**"`` (half the leaves, one whole subtree);
- ``by name``: ``"**/kernel"`` (a third of the leaves, spread over every module);
- ``by dtype``: ``where=lambda l: l.value.dtype == bfloat16`` (a predicate on leaves).

Equinox has no path filters, so it gets the boolean filter tree for free (built
outside the timed region: its best case) for the two path cases, and the same leaf
predicate for the dtype case. A second equinox column times what a user would write
to filter by path with it: ``jax.tree_util.tree_map_with_path`` to build the filter
tree, then partition and combine. Times are the median CPU time of this thread per
call (other tenants' load on a shared VM does not count); ratios are equinox's time
divided by ours (above 1: `variables` is faster). Prints a Markdown table.

    python benchmarks/bench_select.py [--quick]
"""

from __future__ import annotations

import argparse
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import variables as vs
from _common import time_it

BF16 = jnp.bfloat16


def make_tree(n_leaves: int) -> dict:
    n_blocks = max(1, n_leaves // 14)  # 12 params + 2 stats leaves per block pair

    def block(dtype):
        return {
            "Dense_0": {"kernel": np.zeros(4, dtype), "bias": np.zeros(4, dtype)},
            "Dense_1": {"kernel": np.zeros(4, np.float32), "bias": np.zeros(4)},
            "LayerNorm_0": {"scale": np.ones(4, np.float32), "bias": np.zeros(4)},
        }

    return {
        "params": {
            "encoder": {f"block_{i}": block(BF16) for i in range(n_blocks)},
            "decoder": {f"block_{i}": block(np.float32) for i in range(n_blocks)},
        },
        "batch_stats": {
            "encoder": {
                f"block_{i}": {"mean": np.zeros(4), "var": np.ones(4)}
                for i in range(n_blocks)
            }
        },
    }


def path_spec(tree, pattern: str):
    """The filter tree an equinox user builds for a path pattern."""
    compiled = vs.Pattern.compile(pattern)
    return jax.tree_util.tree_map_with_path(
        lambda kp, _: compiled.matches(vs._tree.keypath_to_path(kp)), tree
    )


def check(tree, ours, theirs) -> None:
    """Both tools select the same leaves, and both round trips rebuild the tree."""
    ours_sel = {p for p, leaf in vs._tree.walk(ours[0]) if leaf is not None}
    theirs_sel = {p for p, leaf in vs._tree.walk(theirs[0]) if leaf is not None}
    assert ours_sel == theirs_sel and ours_sel, "the tools disagree"
    merged = vs.merge(*ours)
    assert jax.tree.structure(merged) == jax.tree.structure(tree)
    assert all(a is b for a, b in zip(jax.tree.leaves(merged), jax.tree.leaves(tree)))


def measure(tree, patterns, where, budget):
    """Times of (vs.partition, vs.merge, eqx.partition, eqx.combine, eqx by path)."""
    if where is None:
        spec = path_spec(tree, patterns[0])
    else:
        spec = lambda x: x.dtype == BF16  # noqa: E731
    ours = vs.partition(tree, *patterns, where=where)
    theirs = eqx.partition(tree, spec)
    check(tree, ours, theirs)
    times = [
        time_it(
            lambda: vs.partition(tree, *patterns, where=where), budget, batch_seconds=0.05
        ),
        time_it(lambda: vs.merge(*ours), budget, batch_seconds=0.05),
        time_it(lambda: eqx.partition(tree, spec), budget, batch_seconds=0.05),
        time_it(lambda: eqx.combine(*theirs), budget, batch_seconds=0.05),
    ]
    if where is None:

        def by_path():
            return eqx.combine(*eqx.partition(tree, path_spec(tree, *patterns)))

        times.append(time_it(by_path, budget, batch_seconds=0.05))
    else:
        times.append(None)
    return times


def run(sizes, budget):
    rows = []
    is_bf16 = lambda leaf: leaf.value.dtype == BF16  # noqa: E731
    cases = {
        "subtree `params/encoder/**`": (("params/encoder/**",), None),
        "by name `**/kernel`": (("**/kernel",), None),
        "by dtype `where=`": ((), is_bf16),
    }
    for n in sizes:
        tree = make_tree(n)
        n_leaves = len(jax.tree.leaves(tree))
        for name, (patterns, where) in cases.items():
            rows.append((n_leaves, name, *measure(tree, patterns, where, budget)))
            print(f"  measured {n_leaves} leaves, {name}", file=sys.stderr)
    return rows


def fmt(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.0f} µs" if us >= 10 else f"{us:.1f} µs"


def table(rows) -> str:
    lines = [
        "| leaves | case | vs.partition | vs.merge | vs total | eqx.partition "
        "| eqx.combine | eqx total (ratio) | eqx with path filter (ratio) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, name, tp, tm, ep, ec, epath in rows:
        ours = tp + tm
        theirs = ep + ec
        path = f"{fmt(epath)} ({epath / ours:.1f}x)" if epath is not None else "n/a"
        lines.append(
            f"| {n:,} | {name} | {fmt(tp)} | {fmt(tm)} | {fmt(ours)} | {fmt(ep)} "
            f"| {fmt(ec)} | {fmt(theirs)} ({theirs / ours:.1f}x) | {path} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size, short runs")
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [1_000, 10_000]
    budget = 0.5 if args.quick else 3.0
    rows = run(sizes, budget)
    print(
        f"Python {sys.version.split()[0]}, jax {jax.__version__}, "
        f"equinox {eqx.__version__}; median CPU time per call\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
