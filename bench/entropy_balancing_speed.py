"""Speed of entropy balancing: our Newton dual solver against cvxpy's primal, on one ATT problem.

n = 200,000 rows, 10 covariates (8 continuous, 2 binary), ATT: the controls
are reweighted to the treated means. Both solvers get the same whitened
constraints (``entropy_balancing_weights``); cvxpy runs in a child process with
a wall-clock cap, and if it hits the cap the ratio is reported as a lower
bound. Results go to ``bench/results/entropy_balancing_speed.md`` and stdout.

Run from the repository root::

    .venv/bin/python bench/entropy_balancing_speed.py [--n 200000] [--cvxpy-time-limit 300]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_core.estimators.balancing.entropy_balancing import entropy_balancing_weights  # noqa: E402
from causal_core.nuisance.features import pooled_scale  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "entropy_balancing_speed.md"


def make_problem(n: int, seed: int = 2024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Control covariates, treated means and column scales of a confounded design."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=(n, 8)), rng.binomial(1, [0.3, 0.6], size=(n, 2))]).astype(float)
    score = X @ np.array([0.5, -0.4, 0.3, 0.2, -0.2, 0.1, 0.0, 0.0, 0.4, -0.3]) - 0.5
    treated = rng.random(n) < expit(score)
    return X[~treated], X[treated].mean(axis=0), pooled_scale(X, treated)


def _cvxpy_child(n: int, queue: mp.Queue) -> None:
    X_arm, target, scale = make_problem(n)
    start = time.perf_counter()
    fit = entropy_balancing_weights(X_arm, target, scale, solver="cvxpy")
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, fit.weights, fit.solution.converged, fit.solution.iterations, fit.max_abs_imbalance, peak_mib))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--cvxpy-time-limit", type=float, default=300.0)
    parser.add_argument("--repeats", type=int, default=5, help="Newton timings (the median is reported).")
    args = parser.parse_args()

    X_arm, target, scale = make_problem(args.n)
    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        newton = entropy_balancing_weights(X_arm, target, scale, solver="newton")
        timings.append(time.perf_counter() - start)
    newton_seconds = float(np.median(timings))
    tracemalloc.start()
    entropy_balancing_weights(X_arm, target, scale, solver="newton")
    _, newton_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    newton_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    queue: mp.Queue = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_cvxpy_child, args=(args.n, queue))
    wall = time.perf_counter()
    child.start()
    result = None
    try:
        result = queue.get(timeout=args.cvxpy_time_limit)
    except Exception:
        pass
    child.join(timeout=5)
    if child.is_alive():
        child.kill()
        child.join()
    capped = result is None
    cvxpy_seconds = result[0] if result else time.perf_counter() - wall

    ratio = cvxpy_seconds / newton_seconds
    lines = [
        "# Entropy balancing: Newton dual vs cvxpy primal",
        "",
        f"Problem: ATT, n = {args.n:,} rows ({X_arm.shape[0]:,} controls reweighted to the treated means), "
        f"{X_arm.shape[1]} covariates. Machine: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}.",
        "",
        "| solver | seconds | iterations | converged | max standardised imbalance | peak memory |",
        "|---|---|---|---|---|---|",
        f"| Newton dual (median of {args.repeats}) | {newton_seconds:.3f} | {newton.solution.iterations} | "
        f"{newton.solution.converged} | {newton.max_abs_imbalance:.1e} | "
        f"{newton_peak / 2**20:.0f} MiB traced (process RSS {newton_rss:.0f} MiB) |",
    ]
    if capped:
        lines.append(f"| cvxpy primal | > {cvxpy_seconds:.1f} (stopped at the cap) | - | - | - | - |")
        lines += ["", f"**Speed ratio: > {ratio:.0f}x** (a lower bound: cvxpy did not finish within "
                      f"{args.cvxpy_time_limit:.0f} s)."]
    else:
        _, weights, converged, iterations, imbalance, peak_mib = result
        difference = np.max(np.abs(weights - newton.weights))
        relative = np.max(np.abs(weights - newton.weights) / newton.weights)
        lines.append(f"| cvxpy primal (CLARABEL) | {cvxpy_seconds:.2f} | {iterations} | {converged} | "
                     f"{imbalance:.1e} | child process RSS {peak_mib:.0f} MiB |")
        lines += ["", f"**Speed ratio: {ratio:.0f}x** (cvxpy time includes building the problem).", "",
                  f"Agreement of weights: max |w_newton - w_cvxpy| = {difference:.2e} "
                  f"(weights sum to 1, mean {1 / weights.size:.1e}); max relative difference {relative:.2e}."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
