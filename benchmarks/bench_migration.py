"""Throughput of the FrozenDict migration codemod on a generated source tree.

Generates a tree of Python files shaped like a research monorepo, sizes 50-400
lines: 55% plain Python (data loading, metrics, utilities), 20% JAX code without
flax, 10% Flax code with nothing to migrate (Linen modules, optax) and 15% Flax
code with one to six of the catalogued FrozenDict patterns. Then times
``migration.migrate_paths(root, write=False)`` (the work of ``python -m migration
--diff`` before printing) with several ``jobs`` values, and prints files/s (wall
clock), files/s per core (files/s divided by the worker processes that can run at
once, ``min(jobs, cores)``), the CPU seconds of this process for ``jobs=1`` (which
other tenants of a shared machine do not inflate; worker processes of a
``forkserver`` pool are not this process's children, so their CPU time cannot be
read here) and the speed-up against ``jobs=1``, plus one-process
throughput by kind of file next to the cost of parsing the same files with LibCST
(the floor for any LibCST codemod) and with ``ast``.

    python benchmarks/bench_migration.py [--quick] [--files N] [--jobs 1,2,4]
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import libcst as cst

from migration import migrate_paths, transform_source

TARGET_PER_CORE = 50.0  # files/s per core, the target

# --- the generated tree --------------------------------------------------------------

PLAIN_HEADERS = [
    "import os\nimport json\nfrom pathlib import Path\n",
    "import numpy as np\nimport collections\n",
    "import dataclasses\nimport typing\nfrom typing import Any\n",
    "import jax\nimport jax.numpy as jnp\nimport numpy as np\n",
    "import logging\nimport time\nimport copy\n",
]

PLAIN_BLOCKS = [
    '''
def load_{n}(path, limit=None):
    """Reads up to ``limit`` JSON records from ``path``."""
    records = []
    with open(path) as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            records.append(json.loads(line))
    return records
''',
    '''
class Meter{n}:
    """Running mean of a scalar."""

    def __init__(self):
        self.total = 0.0
        self.count = 0

    def update(self, value, weight=1):
        self.total += float(value) * weight
        self.count += weight

    def compute(self):
        return self.total / max(self.count, 1)

    def state(self):
        snapshot = dict(total=self.total, count=self.count)
        return snapshot.copy()
''',
    """
def normalise_{n}(batch, mean, std, eps=1e-6):
    out = {{}}
    for key, value in batch.items():
        if key.endswith("_mask"):
            out[key] = value
            continue
        out[key] = (np.asarray(value) - mean) / (std + eps)
    stats = out.pop("stats", None)
    return out, stats
""",
    """
@dataclasses.dataclass(frozen=True)
class Config{n}:
    name: str = "run_{n}"
    steps: int = {n}
    lr: float = 1e-3
    layers: tuple = (64, 64)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
""",
    """
def schedule_{n}(step, warmup=100, peak=1e-3, total=10_000):
    if step < warmup:
        return peak * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1.0 + np.cos(np.pi * min(progress, 1.0)))
""",
    """
def shard_{n}(items, n_shards):
    shards = [[] for _ in range(n_shards)]
    for i, item in enumerate(items):
        shards[i % n_shards].append(item)
    head, *rest = shards
    return head, rest, copy.deepcopy(shards)
""",
    """
def summarise_{n}(metrics):
    lines = []
    for name in sorted(metrics):
        values = metrics[name]
        mean, top = np.mean(values), np.max(values)
        lines.append(f"{{name}}: mean={{mean:.4f}} max={{top:.4f}}")
    return "\\n".join(lines)
""",
]

FLAX_HEADERS = [
    "import flax\nimport flax.linen as nn\nimport jax\nimport jax.numpy as jnp\n"
    "from flax.core import freeze, unfreeze, FrozenDict\n",
    "import jax\nimport optax\nfrom flax import traverse_util\n"
    "from flax.core import frozen_dict\nfrom flax.training import train_state\n",
    "import flax\nimport jax\nfrom flax.core.frozen_dict import FrozenDict, freeze\n"
    "from flax.core import unfreeze\n",
]

FLAX_PLAIN_HEADERS = [
    "import flax\nimport flax.linen as nn\nimport jax\nimport jax.numpy as jnp\n",
    "import jax\nimport optax\nimport flax\nfrom flax.training import train_state\n",
]

FLAX_BLOCKS = [
    """
def init_params_{n}(model, key, x):
    params = flax.core.unfreeze(model.init(key, x))["params"]
    return params
""",
    """
def set_bias_{n}(state, value):
    params = state.params.unfreeze()
    params["head"]["bias"] = params["head"]["bias"] * 0 + value
    return state.replace(params=flax.core.freeze(params))
""",
    """
def split_{n}(variables):
    rest, params = variables.pop("params")
    return rest, params
""",
    """
def merge_stats_{n}(variables, updates):
    return variables.copy(add_or_replace={{"batch_stats": updates["batch_stats"]}})
""",
    """
def log_shapes_{n}(params):
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
    return {{"/".join(k): v.shape for k, v in flat.items()}}
""",
    """
def decay_mask_{n}(params):
    flat = flax.traverse_util.flatten_dict(params)
    mask = {{k: k[-1] == "kernel" for k in flat}}
    return flax.core.freeze(flax.traverse_util.unflatten_dict(mask))
""",
    """
def is_tree_{n}(node):
    return isinstance(node, (dict, flax.core.FrozenDict))
""",
    """
def empty_{n}():
    return flax.core.freeze({{}}), flax.core.FrozenDict({{"params": {{}}}})
""",
    """
class Block{n}(flax.linen.Module):
    features: int = 8

    @flax.linen.compact
    def __call__(self, x):
        x = flax.linen.Dense(self.features)(x)
        return flax.linen.relu(x)
""",
]


KINDS = {
    # kind: (share of the tree, headers, FrozenDict pattern blocks per file)
    "plain": (0.55, PLAIN_HEADERS[:3] + PLAIN_HEADERS[4:], (0, 0)),
    "jax, no flax": (0.20, PLAIN_HEADERS[3:4], (0, 0)),
    "flax, no FrozenDict": (0.10, FLAX_PLAIN_HEADERS, (0, 0)),
    "flax + patterns": (0.15, FLAX_HEADERS, (1, 6)),
}


def make_file(rng: random.Random, index: int, kind: str) -> str:
    _, headers, (low, high) = KINDS[kind]
    target_lines = rng.randint(50, 400)
    parts = [f'"""Module {index} of the generated tree."""\n\n', rng.choice(headers)]
    if kind.startswith("flax"):
        parts.append("import flax.traverse_util\n")
    patterns = rng.randint(low, high)
    lines = sum(p.count("\n") for p in parts)
    n = 0
    while lines < target_lines:
        if kind == "flax, no FrozenDict" and rng.random() < 0.3:
            block = FLAX_BLOCKS[-1]  # a Linen module: flax, but nothing to migrate
        elif patterns and rng.random() < 0.4:
            block = rng.choice(FLAX_BLOCKS[:-1])
            patterns -= 1
        else:
            block = rng.choice(PLAIN_BLOCKS)
        text = "\n" + block.format(n=n)
        parts.append(text)
        lines += text.count("\n")
        n += 1
    return "".join(parts)


def make_tree(root: Path, n_files: int, seed: int = 0) -> dict[str, list[Path]]:
    """Writes ``n_files`` modules under ``root`` in nested packages, by kind."""
    rng = random.Random(seed)
    kinds = [
        k for k, (share, _, _) in KINDS.items() for _ in range(round(share * n_files))
    ]
    kinds = (kinds + ["plain"] * n_files)[:n_files]  # exact shares, rounding to plain
    rng.shuffle(kinds)
    by_kind: dict[str, list[Path]] = {k: [] for k in KINDS}
    for i, kind in enumerate(kinds):
        folder = root / f"pkg_{i % 20:02d}" / f"sub_{(i // 20) % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"mod_{i:04d}.py"
        path.write_text(make_file(rng, i, kind))
        by_kind[kind].append(path)
    return by_kind


# --- timing --------------------------------------------------------------------------


def _cpu_seconds() -> float:
    """CPU time of this process and its finished (joined) worker processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def time_paths(root: Path, jobs: int, repeats: int):
    """Median (wall seconds, CPU seconds) of ``migrate_paths`` over ``repeats``."""
    walls, cpus = [], []
    results = None
    for _ in range(repeats):
        cpu, start = _cpu_seconds(), time.perf_counter()
        results = migrate_paths([root], write=False, jobs=jobs)
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu_seconds() - cpu)
    return statistics.median(walls), statistics.median(cpus), results


def time_each(fn, texts: list[str], repeats: int) -> float:
    """Median CPU seconds of this process for ``fn`` over all ``texts``."""
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        for text in texts:
            fn(text)
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 files")
    parser.add_argument("--files", type=int, default=None, help="default 2000")
    parser.add_argument("--jobs", default="1,2", help="comma-separated jobs values")
    parser.add_argument("--repeats", type=int, default=1, help="median of N runs")
    parser.add_argument(
        "--sample", type=int, default=60, help="files per kind in the by-kind table"
    )
    args = parser.parse_args(argv)
    n_files = args.files or (200 if args.quick else 2000)
    repeats = args.repeats
    jobs_list = [int(j) for j in args.jobs.split(",")]
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        by_kind = make_tree(root, n_files)
        texts = {k: [p.read_text() for p in paths] for k, paths in by_kind.items()}
        total_lines = sum(t.count("\n") for ts in texts.values() for t in ts)
        mix = ", ".join(f"{len(v)} {k}" for k, v in by_kind.items())
        print(f"{n_files} files ({mix}), {total_lines:,} lines; {cores} cores;")
        print(f"median of {repeats}; target {TARGET_PER_CORE:.0f} files/s per core")
        print()
        print(
            "| jobs | workers | wall s | files/s | files/s per core |"
            " CPU s (jobs=1) | files per CPU s (jobs=1) | speed-up vs jobs=1 |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        base = None
        results = None
        for jobs in jobs_list:
            wall, cpu, results = time_paths(root, jobs, repeats)
            workers = min(jobs, cores)
            rate = n_files / wall
            base = base or rate
            cpu_cells = (
                f"{cpu:.1f} | {n_files / cpu:,.1f}" if jobs == 1 else "n/a | n/a"
            )
            print(
                f"| {jobs} | {workers} | {wall:.1f} | {rate:,.1f} |"
                f" {rate / workers:,.1f} | {cpu_cells} | {rate / base:.2f}x |"
            )
        assert results is not None and len(results) == n_files
        changed = sum(r.changed for r in results)
        refusals = sum(len(r.refusals) for r in results)
        errors = sum(r.error is not None for r in results)
        print()
        print(f"changed {changed} files, {refusals} refusals, {errors} errors")
        print()
        print(
            f"One process (CPU time), up to {args.sample} files of each kind:"
            " `transform_source`"
            " against the floor of any LibCST codemod (`libcst.parse_module` +"
            " `.code`) and `ast.parse`:"
        )
        print()
        print(
            "| files | count | transform files/s | lines/s |"
            " libcst parse files/s | ast.parse files/s | transform / libcst parse |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for kind, kind_texts in texts.items():
            kind_texts = kind_texts[: args.sample]
            if not kind_texts:
                continue
            count = len(kind_texts)
            lines = sum(t.count("\n") for t in kind_texts)
            t_mig = time_each(transform_source, kind_texts, repeats)
            t_cst = time_each(lambda t: cst.parse_module(t).code, kind_texts, repeats)
            t_ast = time_each(ast.parse, kind_texts, repeats)
            print(
                f"| {kind} | {count} | {count / t_mig:,.1f} | {lines / t_mig:,.0f} |"
                f" {count / t_cst:,.1f} | {count / t_ast:,.0f} |"
                f" {t_mig / t_cst:.1f}x |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
