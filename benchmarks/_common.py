"""Shared pieces of the benchmarks: the realistic parameter tree and the timers.

Timers measure the CPU time of the benchmarking thread, not wall time: the machines
these run on are often shared, and time spent waiting for a core is not the code's.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def make_tree(n_leaves: int) -> dict:
    """About ``n_leaves`` leaves: params/stage_i/block_j/Dense_k/{kernel, bias}.

    Stages hold up to 100 blocks of 10 Dense modules, so no dict is wider than 100.
    """
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


def _batch_size(fn, batch_seconds: float) -> int:
    fn()
    start = time.thread_time()
    fn()
    return max(1, int(batch_seconds / max(time.thread_time() - start, 1e-7)))


def time_it(fn, budget: float, batch_seconds: float = 0.02) -> float:
    """Median CPU seconds per call of ``fn``, batches filling about ``budget``."""
    return time_all({"fn": fn}, budget, batch_seconds)["fn"]


def time_all(fns: dict, budget: float, batch_seconds: float = 0.01) -> dict:
    """Median CPU seconds per call of each function, the functions taking turns.

    One batch of each per round, so a change in machine load affects all alike;
    ``budget`` is the wall-clock seconds allowed per function.
    """
    numbers = {name: _batch_size(fn, batch_seconds) for name, fn in fns.items()}
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
