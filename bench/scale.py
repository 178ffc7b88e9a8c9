"""Peak memory and time of the in-memory and the streamed path, and the fan-out overhead of a local cluster.

Usage::

    .venv/bin/python bench/scale.py --rows 1000000 5000000 [--out bench/results/scale.md]
    .venv/bin/python bench/scale.py --rows 1000000 5000000 --methods ipw doubly_robust --no-fan-out --out /tmp/x.md

For each size a Parquet file of ``rows`` × 10 covariates (+ treatment, outcome)
is written in chunks (never whole in memory). Each measurement runs in a fresh
child process, whose own peak resident memory is read with ``wait4``: the in-memory path reads the Parquet file into pandas and calls
``cc.estimate``; the streamed path calls ``streamed_estimate`` on the file.
Where both ran, their estimates and SEs are compared. The last table times
the method lab (100 replications) serially and on a 2-worker LocalCluster.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
COVARIATES = [f"x{j}" for j in range(10)]
METHODS = ["difference_in_means", "regression_adjustment", "ipw", "doubly_robust", "entropy_balancing"]

CHILD = r"""
import json, sys, time
import causal_core as cc
path, method, mode = sys.argv[1:4]
roles = cc.Roles(treatment="treat", outcome="y", confounders=[f"x{j}" for j in range(10)])
start = time.perf_counter()
if mode == "memory":
    import pandas as pd
    r = cc.estimate(pd.read_parquet(path), roles, method)
    out = {"estimate": r.estimate, "std_error": r.std_error}
else:
    from causal_core.outofcore import open_table, streamed_estimate
    r = streamed_estimate(open_table(path), roles, method)
    out = {"estimate": r.estimate, "std_error": r.std_error, "partitions": r.n_partitions}
out["seconds"] = time.perf_counter() - start
print(json.dumps(out))
"""


def write_parquet(path: Path, rows: int, chunk: int = 500_000, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    try:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            X = rng.normal(size=(n, 10))
            t = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] - 0.5 * X[:, 1])))).astype(np.int8)
            y = 2.0 * t + X @ np.linspace(1, 0.1, 10) + rng.normal(size=n)
            table = pa.table({**{f"x{j}": X[:, j] for j in range(10)}, "treat": t, "y": y})
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def measure(path: Path, method: str, mode: str, timeout: float) -> dict:
    """Run one estimate in a child process; its own peak RSS comes from ``wait4`` on that child."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), method, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    timer = __import__("threading").Timer(timeout, proc.kill)
    timer.start()
    try:
        stdout, stderr = proc.stdout.read(), proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return {"error": f"over {timeout:.0f} s" if proc.returncode < 0 else
                (stderr.strip().splitlines() or ["failed"])[-1][:120]}
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_mib"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return out


def fan_out_overhead(replications: int) -> dict:
    import causal_core as cc
    from causal_core.datasets.simulate import linear_confounded

    df, _ = linear_confounded(n=500, seed=1)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
    args = dict(methods=["regression_adjustment", "ipw"], n_replications=replications, seed=0)
    start = time.perf_counter()
    serial = cc.method_lab(df, roles, **args)
    serial_s = time.perf_counter() - start
    start = time.perf_counter()
    with cc.backend("local", n_workers=2):
        started = time.perf_counter() - start
        start = time.perf_counter()
        cluster = cc.method_lab(df, roles, **args)
        cluster_s = time.perf_counter() - start
    same = serial.table.drop(columns=[c for c in serial.table.columns if "second" in c]).equals(
        cluster.table.drop(columns=[c for c in cluster.table.columns if "second" in c]))
    return {"serial_s": serial_s, "cluster_start_s": started, "cluster_s": cluster_s, "identical": same}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--memory-limit-rows", type=int, default=20_000_000,
                        help="skip the in-memory path above this many rows")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--no-fan-out", action="store_true", help="skip the method-lab fan-out table")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scale.md"))
    args = parser.parse_args()
    lines = ["# Scale: in-memory vs streamed (DuckDB partitions), and the fan-out overhead", "",
             f"Machine: {os.cpu_count()} cores. Each cell is a fresh child process; its peak RSS from wait4. "
             "Written by `bench/scale.py`.", "",
             "| rows | method | in-memory s | in-memory peak MiB | streamed s | streamed peak MiB | partitions | "
             "max relative difference |", "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = Path(tmp) / f"data_{rows}.parquet"
            write_parquet(path, rows)
            for method in args.methods:
                streamed = measure(path, method, "streamed", args.timeout)
                memory = measure(path, method, "memory", args.timeout) if rows <= args.memory_limit_rows \
                    else {"error": "not run"}
                diff = "—"
                if "error" not in memory and "error" not in streamed:
                    diff = f"{max(abs(streamed[k] / memory[k] - 1) for k in ('estimate', 'std_error')):.1e}"

                def cell(result: dict, key: str, fmt: str) -> str:
                    if "error" in result:
                        return result["error"]
                    value = result.get(key)
                    return "n/a" if value is None else format(value, fmt)

                lines.append(f"| {rows:,} | {method} | {cell(memory, 'seconds', '.1f')} | "
                             f"{cell(memory, 'peak_mib', '.0f')} | {cell(streamed, 'seconds', '.1f')} | "
                             f"{cell(streamed, 'peak_mib', '.0f')} | {streamed.get('partitions', '—')} | {diff} |")
                print(lines[-1], flush=True)
            path.unlink()
    if args.no_fan_out:
        Path(args.out).write_text("\n".join(lines) + "\n")
        return
    fan = fan_out_overhead(args.replications)
    lines += ["", f"## Fan-out: method lab, {args.replications} replications × 2 methods, n = 500", "",
              "| serial s | LocalCluster(2) start s | LocalCluster(2) s | identical to serial |", "|---|---|---|---|",
              f"| {fan['serial_s']:.1f} | {fan['cluster_start_s']:.1f} | {fan['cluster_s']:.1f} | {fan['identical']} |"]
    print("\n".join(lines[-4:]))
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
