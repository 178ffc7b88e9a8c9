"""The one nonparametric bootstrap: seeded row resampling (optionally within strata), failures counted."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from causal_core.inference._types import NORMAL_BOOTSTRAP, PERCENTILE, Inference, interval
from causal_core.inference.replicate import Backend, map_replicates

__all__ = ["MIN_BOOTSTRAP_REPLICATES", "Bootstrap", "draw_index_sets", "summarise_replicates",
           "bootstrap_inference", "failed_replicates_warning"]

#: Fewest replicates a bootstrap standard error is worth (relative error about 16%).
MIN_BOOTSTRAP_REPLICATES = 20


@dataclass(frozen=True)
class Bootstrap:
    """An estimator's inference input: refit ``statistic(row_indices)`` on resampled rows.

    ``interval`` is ``"percentile"`` or ``"normal"``; ``strata`` resamples
    within each level (each arm keeps its size); ``single_threaded`` runs the
    refits with one BLAS/OpenMP thread (many small fits).
    """

    statistic: Callable[[np.ndarray], float]
    n_boot: int
    strata: np.ndarray | None = None
    interval: str = "percentile"
    detail: str = ""
    single_threaded: bool = False


def draw_index_sets(n: int, n_boot: int, *, seed: int, strata: np.ndarray | None = None) -> list[np.ndarray]:
    """All ``n_boot`` resamples of ``range(n)`` from one seeded generator, drawn before any refit."""
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    return [np.concatenate([g[rng.integers(0, g.size, g.size)] for g in groups]) for _ in range(int(n_boot))]


def summarise_replicates(estimate: float, values: Sequence[float | None], *, interval_kind: str = "percentile",
                         detail: str = "") -> Inference:
    """Bootstrap SE (sd of the successful replicates) and 95% interval; NaN when fewer than 2 succeed.

    A replicate fails when it is ``None`` (its refit raised) or not finite.
    """
    method = {"percentile": PERCENTILE, "normal": NORMAL_BOOTSTRAP}[interval_kind]
    good = [float(v) for v in values if v is not None and np.isfinite(float(v))]
    n_failed = len(values) - len(good)
    arr = np.asarray(good, dtype=float)
    se = float(arr.std(ddof=1)) if arr.size >= 2 else float("nan")
    low, high = interval(method, float(estimate), se, 0.95, replicates=arr)
    if arr.size < 2:
        low = high = float("nan")
    return Inference(estimate=float(estimate), std_error=se, ci_low=low, ci_high=high, method=method, detail=detail,
                     n_replicates=len(values), n_failed=n_failed, replicates=arr)


def bootstrap_inference(estimate: float, statistic: Callable[[np.ndarray], float], n: int, *, seed: int,
                        n_boot: int, strata: np.ndarray | None = None, interval_kind: str = "percentile",
                        detail: str = "", backend: Backend | None = None) -> Inference:
    """Resample rows, refit ``statistic`` on each resample through :func:`map_replicates`, summarise."""
    index_sets = draw_index_sets(n, n_boot, seed=seed, strata=strata)

    def refit(rows: np.ndarray) -> float | None:
        value = statistic(rows)
        return None if value is None else float(value)

    values = map_replicates(refit, index_sets, backend=backend)
    return summarise_replicates(estimate, values, interval_kind=interval_kind, detail=detail)


def failed_replicates_warning(inference: Inference) -> str | None:
    """The one warning for failed bootstrap replicates, or ``None`` when none failed."""
    if not inference.n_failed:
        return None
    return (f"{inference.n_failed} of {inference.n_replicates} bootstrap replicates failed "
            "and were left out.")
