"""Dispatch cost of a jitted training step: vs.Model vs plain dicts and FrozenDict.

Run: ``python benchmarks/bench_model.py`` (``--quick`` for a short run).

One training step is ``jax.grad`` of a loss plus an optax update (``optax.sgd``,
whose state holds no arrays, so the variables are all that crosses the jit
boundary), jitted, called with the variables as

* ``vs.Model``: ``step(model, opt_state, x) -> (model, opt_state)``, the loss
  calling ``model(x)``;
* ``dict``: ``step(variables, opt_state, x)`` with plain nested dicts and
  ``module.apply(variables, x)``;
* ``FrozenDict``: the same with ``vs.freeze(variables)``.

The module is ``n / 2`` tiny submodules (a kernel and a bias of shape ``(2,)``
each, under ``params/cell_<i>/``), so the arrays are tiny and the cost of a call is
JAX's per-leaf work: flattening the arguments, checking them against the cached
signature, launching the computation and rebuilding the outputs. Each step's
outputs are the next step's inputs, as in a training loop.

Two numbers per candidate, median over many calls, the candidates taking turns:

* ``dispatch``: CPU time of the calling thread inside ``step(...)`` (the call returns
  once the computation is launched; waiting for its result is not counted, and
  neither is time other tenants of a shared machine take);
* ``step``: wall time of ``step(...)`` plus waiting for its result;
* ``flatten + unflatten``: CPU time of ``jax.tree.flatten`` plus
  ``jax.tree.unflatten`` of the variables alone, the part of the dispatch work
  that depends on the container.

Ratios are to plain dicts (above 1: slower than dicts). The target is vs.Model
within 1.1x of dicts at 1k and 10k leaves.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import variables as vs  # noqa: E402


class Cell(nn.Module):
    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.initializers.ones, (2,))
        bias = self.param("bias", nn.initializers.zeros, (2,))
        y = kernel + bias if x is None else kernel * x + bias
        return jnp.sum(y * y)


class Wide(nn.Module):
    """``cells`` independent tiny submodules whose outputs are summed pairwise."""

    cells: int

    @nn.compact
    def __call__(self, x):
        # Only the first cell sees the input, so the cells share no operand: the
        # XLA program is thousands of independent pieces, cheap to compile.
        outs = [Cell(name=f"cell_{i}")(None if i else x) for i in range(self.cells)]
        while len(outs) > 1:  # a balanced sum keeps the XLA program shallow
            pairs = [outs[i] + outs[i + 1] for i in range(0, len(outs) - 1, 2)]
            outs = pairs + ([outs[-1]] if len(outs) % 2 else [])
        return outs[0]


TX = optax.sgd(1e-3)


def make_steps(module: nn.Module) -> dict[str, Callable]:
    def make(apply: Callable) -> Callable:
        # The step returns no loss: summing thousands of cells into one scalar
        # makes one giant XLA fusion whose compile time grows quadratically, and
        # the dispatch work measured here does not depend on it.
        @jax.jit
        def step(variables, opt_state, x):
            grads = jax.grad(apply)(variables, x)
            updates, opt_state = TX.update(grads, opt_state, variables)
            return optax.apply_updates(variables, updates), opt_state

        return step

    return {
        "Model": make(lambda model, x: model(x)),
        "dict": make(module.apply),
        "FrozenDict": make(module.apply),
    }


def make_inputs(module: nn.Module, x: jax.Array) -> dict[str, Any]:
    model = vs.Model.init(module, 0, x)
    return {
        "Model": model,
        "dict": model.variables,
        "FrozenDict": vs.freeze(model.variables),
    }


def measure(n_leaves: int, calls: int) -> dict[str, tuple[float, float, float]]:
    """``{candidate: (median dispatch µs, median step µs, median round trip µs)}``."""
    module = Wide(cells=n_leaves // 2)
    x = jnp.ones((2,))
    steps = make_steps(module)
    state: dict[str, Any] = {}
    for name, variables in make_inputs(module, x).items():
        out = steps[name](variables, TX.init(variables), x)  # compile
        jax.block_until_ready(out)
        assert jax.tree.structure(out[0]) == jax.tree.structure(variables), name
        assert len(jax.tree.leaves(variables)) == n_leaves, name
        state[name] = out
    dispatch: dict[str, list[float]] = {k: [] for k in steps}
    total: dict[str, list[float]] = {k: [] for k in steps}
    trip: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(calls):
        for name, step in steps.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            out = step(*state[name], x)
            cpu = time.thread_time() - cpu
            jax.block_until_ready(out)
            wall = time.perf_counter() - wall
            dispatch[name].append(cpu)
            total[name].append(wall)
            state[name] = out
            cpu = time.thread_time()
            leaves, treedef = jax.tree.flatten(out[0])
            jax.tree.unflatten(treedef, leaves)
            trip[name].append(time.thread_time() - cpu)
    return {
        k: tuple(statistics.median(v[k]) * 1e6 for v in (dispatch, total, trip))
        for k in steps
    }


def _share_compilations(directory: str) -> None:
    # The three candidates lower to the very same XLA program (same leaves, same
    # paths), so a persistent compilation cache compiles it once, not three times.
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k leaves, fewer calls")
    args = parser.parse_args()
    sizes = (1000,) if args.quick else (1000, 10_000)
    calls = 30 if args.quick else 201
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, jax {jax.__version__}, "
        f"flax {flax.__version__}, optax {optax.__version__}, "
        f"backend {jax.default_backend()}"
    )
    cache = tempfile.TemporaryDirectory()
    _share_compilations(cache.name)
    names = ("Model", "dict", "FrozenDict")
    print(
        "\n| leaves | measure | "
        + " | ".join("vs.Model" if n == "Model" else n for n in names)
        + " |"
    )
    print("| ---: | --- |" + " ---: |" * len(names))
    for n in sizes:
        times = measure(n, calls)
        labels = ("dispatch (CPU µs)", "step (wall µs)", "flatten + unflatten (CPU µs)")
        for i, label in enumerate(labels):
            base = times["dict"][i]
            cells = [f"{times[k][i]:,.0f} ({times[k][i] / base:.2f}x)" for k in names]
            print(f"| {n:,} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
