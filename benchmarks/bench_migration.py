"""Throughput of the FrozenDict migration codemod on a generated source tree.

Generates a tree of Python files shaped like a research monorepo: most files never
touch flax (data loading, metrics, utilities), a quarter are Flax model/training code
with a few of the catalogued FrozenDict patterns each, sizes 50-400 lines. Then times
``migration.migrate_paths(root, write=False)`` (what ``python -m migration --diff``
does before printing) with several ``jobs`` values, and prints files/s, files/s per
core and the scaling against ``jobs=1`` as Markdown tables, plus single-process
throughput by kind of file.

    python benchmarks/bench_migration.py [--quick] [--files N] [--jobs 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

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
        lines.append(f"{{name}}: mean={{np.mean(values):.4f}} max={{np.max(values):.4f}}")
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


def make_file(rng: random.Random, index: int, flax_file: bool) -> str:
    target_lines = rng.randint(50, 400)
    header = rng.choice(FLAX_HEADERS if flax_file else PLAIN_HEADERS)
    parts = [f'"""Module {index} of the generated tree."""\n\n', header]
    if flax_file:
        parts.append("import flax.traverse_util\n")
    patterns = rng.randint(2, 6) if flax_file else 0
    lines = sum(p.count("\n") for p in parts)
    n = 0
    while lines < target_lines:
        if patterns and rng.random() < 0.4:
            block = rng.choice(FLAX_BLOCKS)
            patterns -= 1
        else:
            block = rng.choice(PLAIN_BLOCKS)
        text = "\n" + block.format(n=n)
        parts.append(text)
        lines += text.count("\n")
        n += 1
    return "".join(parts)


def make_tree(root: Path, n_files: int, flax_share: float = 0.25, seed: int = 0):
    """Writes ``n_files`` modules under ``root`` in nested packages.

    Returns:
        (flax files, other files, total lines)
    """
    rng = random.Random(seed)
    kinds: dict[bool, list[Path]] = {True: [], False: []}
    total_lines = 0
    for i in range(n_files):
        folder = root / f"pkg_{i % 20:02d}" / f"sub_{(i // 20) % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        flax_file = rng.random() < flax_share
        text = make_file(rng, i, flax_file)
        path = folder / f"mod_{i:04d}.py"
        path.write_text(text)
        kinds[flax_file].append(path)
        total_lines += text.count("\n")
    return kinds[True], kinds[False], total_lines


# --- timing --------------------------------------------------------------------------


def time_paths(root: Path, jobs: int, repeats: int):
    samples = []
    results = None
    for _ in range(repeats):
        start = time.perf_counter()
        results = migrate_paths([root], write=False, jobs=jobs)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), results


def time_sources(paths: list[Path], repeats: int) -> float:
    sources = [(str(p), p.read_text()) for p in paths]
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for name, text in sources:
            transform_source(text, filename=name)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 files, 1 repeat")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--jobs", default="1,2", help="comma-separated jobs values")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    n_files = args.files or (200 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 3)
    jobs_list = [int(j) for j in args.jobs.split(",")]
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        flax_files, other_files, total_lines = make_tree(root, n_files)
        print(
            f"{n_files} files ({len(flax_files)} with flax, {len(other_files)} without),"
            f" {total_lines:,} lines; {cores} cores; median of {repeats}"
        )
        print()
        print("| jobs | seconds | files/s | files/s per core | scaling vs jobs=1 |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        base = None
        summary = None
        for jobs in jobs_list:
            seconds, results = time_paths(root, jobs, repeats)
            rate = n_files / seconds
            base = base or rate
            per_core = rate / min(jobs, cores)
            flag = "" if per_core >= TARGET_PER_CORE else " (below target)"
            print(
                f"| {jobs} | {seconds:.2f} | {rate:,.0f} | {per_core:,.0f}{flag} |"
                f" {rate / base:.2f}x |"
            )
            summary = results
        assert summary is not None and len(summary) == n_files
        changed = sum(r.changed for r in summary)
        refusals = sum(len(r.refusals) for r in summary)
        errors = sum(r.error is not None for r in summary)
        print()
        print(
            f"changed {changed} files, {refusals} refusals, {errors} parse errors;"
            f" target {TARGET_PER_CORE:.0f} files/s per core"
        )
        print()
        print("Single process, `transform_source` on the files of one kind:")
        print()
        print("| files | count | seconds | files/s | lines/s |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, paths in (("with flax", flax_files), ("without flax", other_files)):
            if not paths:
                continue
            seconds = time_sources(paths, repeats)
            lines = sum(p.read_text().count("\n") for p in paths)
            print(
                f"| {label} | {len(paths)} | {seconds:.2f} | {len(paths) / seconds:,.0f}"
                f" | {lines / seconds:,.0f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
