"""Shared inference helpers: influence-function standard errors and a seeded bootstrap."""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["influence_se", "bootstrap"]


def influence_se(influence: np.ndarray) -> float:
    """Standard error of a mean-zero influence function: sqrt(var(psi) / n)."""
    psi = np.asarray(influence, dtype=float)
    n = psi.shape[0]
    return float(np.sqrt(np.sum((psi - psi.mean()) ** 2) / n / n))


def bootstrap(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    seed: int,
    n_boot: int = 200,
    strata: np.ndarray | None = None,
) -> tuple[float, float, float, int]:
    """Nonparametric bootstrap of ``statistic(row_indices)``.

    Resamples rows with replacement (within ``strata`` when given, so each arm
    keeps its size). Replicates where the statistic raises or is not finite are
    skipped and counted. Returns ``(std_error, percentile_low, percentile_high, n_failed)``.
    """
    rng = np.random.default_rng(seed)
    values: list[float] = []
    failed = 0
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for _ in range(n_boot):
        idx = np.concatenate([g[rng.integers(0, g.size, g.size)] for g in groups])
        try:
            value = float(statistic(idx))
        except Exception:
            failed += 1
            continue
        if np.isfinite(value):
            values.append(value)
        else:
            failed += 1
    if len(values) < 2:
        return float("nan"), float("nan"), float("nan"), failed
    arr = np.asarray(values)
    return float(arr.std(ddof=1)), float(np.quantile(arr, 0.025)), float(np.quantile(arr, 0.975)), failed
