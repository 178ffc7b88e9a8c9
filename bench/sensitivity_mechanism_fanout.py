"""Seconds of a sensitivity grid and of mechanism learning, serially and on a local Dask cluster.

Each computation runs once to warm up (imports, the workers' first tasks), then three times timed (median), first on the
serial backend and then on ``cc.backend("local", n_workers=N)`` (the cluster's start-up is timed apart).
The numbers are checked equal on both backends before any time is reported.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python bench/sensitivity_mechanism_fanout.py [--workers 2]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import causal_core as cc  # noqa: E402
from causal_core.datasets.simulate import linear_confounded  # noqa: E402
from causal_core.studies.mechanism import mechanism_learning_data  # noqa: E402
from causal_core.studies.mechanism.evaluate import compare_classifiers  # noqa: E402

FEATURES = ["x1", "x2"]


def cases() -> dict:
    """name -> function returning the numbers to compare (default settings throughout)."""
    pairs = np.random.default_rng(0).normal(0.25, 1.0, 300)  # 300 pairs: the largest exact case
    big, _ = linear_confounded(n=200_000, seed=1)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
    train = mechanism_learning_data(2000, seed=0, confounding=0.9)
    test = mechanism_learning_data(5000, seed=10_000, confounding=0.5)

    def rosenbaum():
        b = cc.rosenbaum_bounds(pairs)
        return np.append(b.table.to_numpy(float).ravel(), b.critical_gamma)

    def ovb():
        return cc.ovb_sensitivity(big, roles).benchmarks.drop(columns="benchmark").to_numpy(float)

    def resample():
        return cc.front_door_resample(train, "y", "z", FEATURES, method="cw_gmm", seed=0)[FEATURES].to_numpy()

    def mechanism_learning():
        return compare_classifiers(train, test, "y", "z", FEATURES, seed=0).metrics[["accuracy", "f1_macro"]].to_numpy()

    return {"Rosenbaum bounds, 300 pairs, 12 Gammas": rosenbaum,
            "OVB benchmarks, 200,000 rows, 5 confounders": ovb,
            "front_door_resample cw_gmm, 2,000 rows": resample,
            "compare_classifiers (cw_gmm, logistic), 2,000 rows": mechanism_learning}


def timed(run, repeats: int = 3):
    """The value and the median seconds of ``repeats`` runs after a warm-up run (the machine may be shared)."""
    value = run()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return value, float(np.median(seconds))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    runs = cases()
    serial = {name: timed(run) for name, run in runs.items()}
    start = time.perf_counter()
    with cc.backend("local", n_workers=args.workers):
        started = time.perf_counter() - start
        cluster = {name: timed(run) for name, run in runs.items()}
    lines = [f"| computation | serial s | local cluster ({args.workers} workers) s | equal |", "|---|---|---|---|"]
    for name in runs:
        same = np.array_equal(serial[name][0], cluster[name][0], equal_nan=True)
        lines.append(f"| {name} | {serial[name][1]:.2f} | {cluster[name][1]:.2f} | {same} |")
    lines.append(f"\nCluster start-up: {started:.1f} s (not counted above).")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
