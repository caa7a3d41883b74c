"""Checkpoint loading: vs.load vs safetensors.numpy.load_file and Flax's msgpack.

Every load runs in its own fresh subprocess (imports done before the clock starts),
which reports the wall and CPU seconds the load took (CPU time, user plus system, is
the steadier number on a shared machine) and the peak resident memory it added: the
process's high-water mark (VmHWM, reset after the imports where Linux allows it)
minus its resident size before the load. "speed" is the baseline's time divided by
the row's (above 1: faster than the baseline). The files are read once beforehand, so
every load finds them in the page cache; runs alternate between the tools.

Safetensors: one file of 1 GiB (100 MiB with --quick) of float32 and bfloat16
tensors, loaded whole. Targets: vs.load at least 0.9x the throughput of
safetensors.numpy.load_file, and peak memory at most 1.2x the file size.
msgpack: a Flax msgpack file of 256 MiB (25 MiB with --quick) against
flax.serialization.msgpack_restore / from_bytes. Target: no slower.

    python benchmarks/bench_checkpoint.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20


# ---------------------------------------------------------------------------------
# Child side: one load, measured


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)  # pragma: no cover


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(kind: str, path: str) -> None:
    import numpy as np
    import safetensors.numpy
    from flax import serialization

    import variables as vs

    if kind.endswith("target"):
        index = vs.checkpoint_index(path)
        target = vs.unflatten(
            {k: np.zeros(shape, dtype) for k, (shape, dtype) in index.items()}
        )
    loads = {
        "st-lib": lambda: safetensors.numpy.load_file(path),
        "st-lib-pread": lambda: safetensors.numpy.load_file(path, backend="pread"),
        "st-vs": lambda: vs.load(path),
        "st-vs-target": lambda: vs.load(path, target),
        "mp-flax": lambda: serialization.msgpack_restore(_read(path)),
        "mp-vs": lambda: vs.load(path),
        "mp-flax-target": lambda: serialization.from_bytes(target, _read(path)),
        "mp-vs-target": lambda: vs.load(path, target),
    }
    load = loads[kind]
    if kind.endswith("target"):
        del index
    exact = _reset_peak()
    before = _rss_kib("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    tree = load()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if exact:
        peak = _rss_kib("VmHWM")
    else:  # the high-water mark since start: includes the imports
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = sum(np.asarray(x).nbytes for x in vs.flatten(tree).values())
    added = (peak - before) * 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "added": added, "bytes": n}))


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------------
# Parent side: files, runs, tables


def make_safetensors(path: str, size: int) -> None:
    import ml_dtypes
    import numpy as np
    import safetensors.numpy

    tensors, left, i = {}, size, 0
    rng = np.random.default_rng(0)
    embed = size // 4 // 4 // 1024 * 1024
    tensors["params/embed/embedding"] = rng.random(embed, np.float32).reshape(-1, 1024)
    left -= tensors["params/embed/embedding"].nbytes
    while left > 0:
        n = min(left // 4, 1 << 20)
        if n == 0:
            break
        block = rng.random(n, np.float32).reshape(-1, 1024 if n % 1024 == 0 else 1)
        if i % 4 == 3:
            block = block.astype(ml_dtypes.bfloat16)
        tensors[f"params/layer_{i // 2}/{'kernel' if i % 2 == 0 else 'bias'}"] = block
        left -= block.nbytes
        i += 1
    safetensors.numpy.save_file(tensors, path)


def make_msgpack(path: str, size: int) -> None:
    import numpy as np
    from flax import serialization

    rng = np.random.default_rng(0)
    n_leaves = max(1, size // (2 * MiB))
    tree = {
        "params": {
            f"layer_{i}": {"kernel": rng.random((512, 1024), np.float32)}
            for i in range(n_leaves)
        }
    }
    with open(path, "wb") as f:
        f.write(serialization.to_bytes(tree))


def run_child(kind: str, path: str) -> dict:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", kind, path],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(kinds: list[str], path: str, repeats: int) -> dict[str, dict]:
    _read(path)  # page cache
    results: dict[str, list] = {k: [] for k in kinds}
    for r in range(repeats):
        order = kinds if r % 2 == 0 else kinds[::-1]
        for kind in order:
            results[kind].append(run_child(kind, path))
    size = os.path.getsize(path)
    table = {}
    for kind, runs in results.items():
        seconds = statistics.median(x["seconds"] for x in runs)
        table[kind] = {
            "seconds": seconds,
            "cpu": statistics.median(x["cpu"] for x in runs),
            "gbps": size / seconds / 1e9,
            "mem": statistics.median(x["added"] for x in runs) / size,
        }
    return table


def print_table(title: str, rows: dict[str, dict], labels: dict, base: str) -> None:
    print(f"\n{title}\n")
    print(
        "| load | wall s | GB/s | speed (wall) | CPU s | speed (CPU) "
        "| peak memory added / file size |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind, row in rows.items():
        wall = rows[base]["seconds"] / row["seconds"]
        cpu = rows[base]["cpu"] / row["cpu"]
        print(
            f"| {labels[kind]} | {row['seconds']:.3f} | {row['gbps']:.2f} | "
            f"{wall:.2f}x | {row['cpu']:.3f} | {cpu:.2f}x | {row['mem']:.2f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 MiB / 25 MiB files")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    import flax
    import jax
    import safetensors

    st_size = (100 if args.quick else 1024) * MiB
    mp_size = (25 if args.quick else 256) * MiB
    repeats = args.repeats or (3 if args.quick else 5)
    folder = tempfile.mkdtemp(prefix="bench_checkpoint_")
    try:
        print(
            f"jax {jax.__version__}, flax {flax.__version__}, safetensors "
            f"{safetensors.__version__}, numpy {__import__('numpy').__version__}, "
            f"{os.cpu_count()} CPUs; median of {repeats} runs, each in a fresh process"
        )
        st_path = os.path.join(folder, "model.safetensors")
        make_safetensors(st_path, st_size)
        st_kinds = ["st-lib", "st-lib-pread", "st-vs", "st-vs-target"]
        rows = measure(st_kinds, st_path, repeats)
        actual = os.path.getsize(st_path)
        os.remove(st_path)
        print_table(
            f"safetensors, {actual / MiB:.0f} MiB file",
            rows,
            {
                "st-lib": "safetensors.numpy.load_file (baseline)",
                "st-lib-pread": "safetensors.numpy.load_file(backend='pread')",
                "st-vs": "vs.load(path)",
                "st-vs-target": "vs.load(path, target)",
            },
            "st-lib",
        )
        mp_path = os.path.join(folder, "state.msgpack")
        make_msgpack(mp_path, mp_size)
        rows = measure(
            ["mp-flax", "mp-vs", "mp-flax-target", "mp-vs-target"], mp_path, repeats
        )
        actual = os.path.getsize(mp_path)
        print_table(
            f"msgpack, {actual / MiB:.0f} MiB file",
            rows,
            {
                "mp-flax": "flax msgpack_restore(bytes) (baseline)",
                "mp-vs": "vs.load(path)",
                "mp-flax-target": "flax from_bytes(target, bytes)",
                "mp-vs-target": "vs.load(path, target)",
            },
            "mp-flax",
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
