"""Flatten + unflatten of pytree dataclasses: vs.dataclass against the alternatives.

Run: ``python benchmarks/bench_dataclass.py`` (``--quick`` for a short run).

One round trip is ``leaves, treedef = jax.tree.flatten(tree)`` followed by
``jax.tree.unflatten(treedef, leaves)``, the work JAX does on every `jax.jit` call
and every `jax.tree.map`. Two shapes, each at 100, 1k and 10k leaves:

* ``layers``: a list of small dataclass nodes, ``Layer(kernel, bias, scale, offset,
  name)`` with ``name`` static, so n/4 nodes. This is where the dataclass
  implementation decides the cost.
* ``train_state``: one ``TrainState(step, params, opt_state, apply_fn)`` whose
  ``params`` is a dict of n-1 arrays, as in a training loop; the node itself is a
  small part of the work there.

Each class is made by: vs.dataclass, flax.struct.dataclass, chex.dataclass,
equinox.Module and jax.tree_util.register_dataclass on a frozen dataclass. The
table shows median microseconds per round trip and each time divided by the
vs.dataclass time (above 1: vs.dataclass is faster). Times are this thread's CPU
time, so that other work on a shared machine does not count.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

import chex
import equinox as eqx
import flax
import jax
import numpy as np
from flax import struct

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import variables as vs  # noqa: E402


def _jax_dataclass(cls: type) -> type:
    return jax.tree_util.register_dataclass(dataclasses.dataclass(frozen=True)(cls))


def _static(kind: str, default: Any) -> Any:
    if kind == "vs":
        return vs.field(static=True, default=default)
    if kind == "flax":
        return struct.field(pytree_node=False, default=default)
    if kind == "equinox":
        return eqx.field(static=True, default=default)
    if kind == "jax":
        return dataclasses.field(default=default, metadata={"static": True})
    return default  # chex has no static fields: the name becomes a leaf


DECORATORS: dict[str, Callable[[type], type]] = {
    "vs": vs.dataclass,
    "flax": struct.dataclass,
    "chex": chex.dataclass,
    "equinox": lambda cls: cls,  # made a Module by its base class below
    "jax": _jax_dataclass,
}
LABELS = {
    "vs": "vs.dataclass",
    "flax": "flax.struct",
    "chex": "chex.dataclass",
    "equinox": "equinox.Module",
    "jax": "register_dataclass",
}


def make_classes(kind: str) -> tuple[type, type]:
    base = (eqx.Module,) if kind == "equinox" else ()
    name = _static(kind, "layer") if kind != "chex" else None
    apply_fn = _static(kind, None)
    layer = DECORATORS[kind](
        type(
            "Layer",
            base,
            {
                "__annotations__": {
                    "kernel": Any,
                    "bias": Any,
                    "scale": Any,
                    "offset": Any,
                    **({"name": str} if kind != "chex" else {}),
                },
                **({"name": name} if kind != "chex" else {}),
                "__module__": __name__,
            },
        )
    )
    state = DECORATORS[kind](
        type(
            "TrainState",
            base,
            {
                "__annotations__": {
                    "step": Any,
                    "params": Any,
                    "opt_state": Any,
                    "apply_fn": Any,
                },
                "apply_fn": apply_fn,
                "__module__": __name__,
            },
        )
    )
    return layer, state


def build(kind: str, shape: str, n: int) -> Any:
    layer, state = make_classes(kind)
    leaf = np.zeros((), np.float32)
    if shape == "layers":
        return [
            layer(kernel=leaf, bias=leaf, scale=leaf, offset=leaf)
            for _ in range(n // 4)
        ]
    params = {f"w{i}": leaf for i in range(n - 1)}
    return state(step=leaf, params=params, opt_state=None, apply_fn=None)


def round_trip(tree: Any) -> Callable[[], Any]:
    def once() -> Any:
        leaves, treedef = jax.tree.flatten(tree)
        return jax.tree.unflatten(treedef, leaves)

    assert type(once()) is type(tree)
    return once


def median_us(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median CPU time per call, in µs.

    The candidates take turns (so load drift hits all alike), and the clock is this
    thread's CPU time (`time.thread_time`): on a shared machine, time spent waiting
    for a core is not counted.
    """
    timers = {k: timeit.Timer(f, timer=time.thread_time) for k, f in fns.items()}
    number = {k: max(1, int(0.005 / max(t.timeit(1), 1e-7))) for k, t in timers.items()}
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, t in timers.items():
            samples[k].append(t.timeit(number[k]) / number[k])
    return {k: statistics.median(v) * 1e6 for k, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = parser.parse_args()
    sizes = (100, 1000) if args.quick else (100, 1000, 10_000)
    repeats = 9 if args.quick else 41
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, "
        f"jax {jax.__version__}, flax {flax.__version__}, chex {chex.__version__}, "
        f"equinox {eqx.__version__}"
    )
    for shape in ("layers", "train_state"):
        print(
            f"\n### `{shape}`: median CPU µs per flatten + unflatten "
            "(ratio to vs.dataclass)\n"
        )
        print("| leaves | " + " | ".join(LABELS.values()) + " |")
        print("| ---: |" + " ---: |" * len(LABELS))
        for n in sizes:
            fns = {kind: round_trip(build(kind, shape, n)) for kind in LABELS}
            times = median_us(fns, repeats)
            cells = [f"{times[k]:,.0f} ({times[k] / times['vs']:.2f}x)" for k in LABELS]
            print(f"| {n:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
