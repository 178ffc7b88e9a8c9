"""Peak memory and time of the streamed balance table (KS from exact ECDF counts at a grid) as the table grows.

Usage::

    .venv/bin/python bench/balance_table_memory.py --rows 1000000 5000000 [--out /tmp/table.md]

For each size the Parquet file of ``bench/scale.py`` (``rows`` x 10 normal
covariates, treatment, outcome; written in chunks) is built once, then
``streamed_balance_table`` runs in a fresh child process whose own peak
resident memory is read with ``wait4``. Prints one Markdown row per size (and
writes the table to ``--out``); ``bench/results/balance_table_memory.md`` holds a run
with its context.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHILD = r"""
import json, sys, time
import causal_core as cc
from causal_core.outofcore import open_table
from causal_core.outofcore.tables import streamed_balance_table
roles = cc.Roles(treatment="treat", outcome="y", confounders=[f"x{j}" for j in range(10)])
start = time.perf_counter()
table = streamed_balance_table(open_table(sys.argv[1]), roles)
print(json.dumps({"seconds": time.perf_counter() - start, "ks_bound": table.attrs["ks_bound"]}))
"""


def measure(path: Path) -> dict:
    """One balance table in a child process; its peak RSS (MiB) from ``wait4``."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return {"error": (stderr.strip().splitlines() or ["failed"])[-1][:160]}
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_mib"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return out


def main() -> None:
    from scale import write_parquet

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lines = ["| rows | peak MiB | seconds | ks_bound |", "|---:|---:|---:|---:|"]
    print("\n".join(lines))
    with tempfile.TemporaryDirectory() as folder:
        for rows in args.rows:
            path = Path(folder) / f"t{rows}.parquet"
            write_parquet(path, rows)
            got = measure(path)
            if "error" in got:
                lines.append(f"| {rows:,} | {got['error']} | | |")
            else:
                lines.append(f"| {rows:,} | {got['peak_mib']:.0f} | {got['seconds']:.1f} | {got['ks_bound']:.4f} |")
            print(lines[-1])
            path.unlink()
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
