"""The two-sample KS statistic of a table on disk in bounded memory: exact ECDF counts at a fixed grid.

The exact KS, ``max_x |F_1(x) - F_0(x)|`` over the arms' empirical CDFs, needs
every value of a group at once. Here it is bracketed instead:

1. **grid** — per covariate, each arm's quantiles at ``k/G`` (``k = 0..G``) of a
   seeded DuckDB sample (:func:`~causal_core.outofcore.source.sample`), pooled with
   the covariate's exact minimum and maximum over the complete rows. The grid
   only decides where the CDFs are looked at; any grid gives a valid bracket,
   and per-arm quantiles put about ``1/G`` of each arm's mass between
   neighbouring points even when the arms differ in size.
2. **one pass** — per partition and arm, ``#(x <= g)`` and ``#(x < g)`` at every
   grid point ``g`` (two ``searchsorted`` on the partition's sorted values), summed
   in partition order: the arms' ECDFs ``F_a(g)`` and left limits ``F_a(g-)``
   exactly. The pass is a :class:`~causal_core.outofcore.mapped.Pass` kernel, so
   memory is set by the partition (and on a Dask backend it runs on the workers).
3. **bracket** — ``low = max_g max(|F_1(g) - F_0(g)|, |F_1(g-) - F_0(g-)|)`` is
   attained by the ECDFs, so ``low <= KS``. Between neighbouring points
   ``g_k < x < g_{k+1}`` each ``F_a`` is non-decreasing, so
   ``F_1(x) - F_0(x) <= F_1(g_{k+1}-) - F_0(g_k)`` and symmetrically; the largest
   of these (and of the two tails beyond the grid, empty when the grid holds
   the minimum and maximum) is ``high >= KS``. The table reports ``low`` and
   ``high - low`` as the bound; ``high - low`` never exceeds the largest mass of
   one arm strictly between two neighbouring grid points, which is 0 for a
   covariate whose values are all grid points (a few distinct values).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from causal_core.outofcore.mapped import map_partitions
from causal_core.outofcore.source import DEFAULT_PARTITION_ROWS, TableSource, sample
from causal_core.outofcore.streamed_iv import is_numeric_type

__all__ = ["GridKS", "grid_ks", "ks_bracket", "DEFAULT_KS_SAMPLE_ROWS"]

#: Rows of the seeded sample whose per-arm quantiles place the grid (memory: this many rows of the covariates).
DEFAULT_KS_SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class GridKS:
    """One covariate's KS bracket: the reported ``ks`` (a lower bound) and ``bound`` (``KS <= ks + bound``)."""

    ks: float
    bound: float
    grid_points: int


@dataclass(frozen=True)
class _CompleteRows:
    """A partition's complete rows (as ``complete_rows_sql`` keeps them): the KS covariates and the treated flag."""

    treatment: str
    treated: Any
    used: tuple[str, ...]
    numeric: tuple[str, ...]  # used columns whose non-finite values also drop the row
    covariates: tuple[str, ...]

    def __call__(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        keep = frame[list(self.used)].notna().all(axis=1).to_numpy()
        for column in self.numeric:
            keep = keep & np.isfinite(pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float))
        frame = frame.loc[keep]
        X = frame[list(self.covariates)].to_numpy(dtype=float) if self.covariates else np.empty((len(frame), 0))
        return X, (frame[self.treatment] == self.treated).to_numpy()


def _ecdf_counts_kernel(X: np.ndarray, treated: np.ndarray, grids: tuple[np.ndarray, ...]) -> tuple:
    """Per covariate and arm (treated, control): ``#(x <= g)`` and ``#(x < g)`` at each grid point, as int64."""
    out = []
    for j, grid in enumerate(grids):
        per_arm = []
        for mask in (treated, ~treated):
            values = np.sort(X[mask, j])
            per_arm.append((np.searchsorted(values, grid, side="right").astype(np.int64),
                            np.searchsorted(values, grid, side="left").astype(np.int64)))
        out.append(tuple(per_arm))
    return tuple(out)


def ks_bracket(at1: np.ndarray, below1: np.ndarray, n1: int, at0: np.ndarray, below0: np.ndarray,
               n0: int) -> tuple[float, float]:
    """``(low, high)`` with ``low <= KS <= high`` from the arms' counts ``#(x <= g)``, ``#(x < g)`` at a sorted grid."""
    f1, f1_left = at1 / n1, below1 / n1
    f0, f0_left = at0 / n0, below0 / n0
    low = float(max(np.max(np.abs(f1 - f0)), np.max(np.abs(f1_left - f0_left))))
    between = np.concatenate([f1_left[1:] - f0[:-1], f0_left[1:] - f1[:-1],
                              [f1_left[0], f0_left[0], 1.0 - f0[-1], 1.0 - f1[-1]]])  # the two tails
    return low, float(max(low, np.max(between)))


def _grids(source: TableSource, columns: Sequence[str], encode: _CompleteRows, lows: Sequence[float],
           highs: Sequence[float], points: int, sample_rows: int, seed: int) -> tuple[np.ndarray, ...]:
    """Each covariate's grid: per-arm sample quantiles at ``k / points`` with the exact minimum and maximum."""
    X, treated = encode(sample(source, sample_rows, seed, columns=list(columns)))
    levels = np.arange(points + 1) / points
    grids = []
    for j in range(X.shape[1]):
        pieces = [np.array([lows[j], highs[j]], dtype=float)]
        pieces += [np.quantile(X[mask, j], levels) for mask in (treated, ~treated) if mask.any()]
        grids.append(np.unique(np.concatenate(pieces)))
    return tuple(grids)


def grid_ks(source: TableSource, treatment: str, treated: Any, used: Sequence[str], covariates: Sequence[str],
            lows: Sequence[float], highs: Sequence[float], *, points: int, seed: int = 0,
            sample_rows: int = DEFAULT_KS_SAMPLE_ROWS,
            rows_per_partition: int = DEFAULT_PARTITION_ROWS) -> dict[str, GridKS]:
    """The KS bracket of each numeric covariate over the complete rows of ``used`` (both arms must have rows).

    ``lows``/``highs`` are the covariates' exact minima and maxima over the complete rows (from SQL).
    """
    if not covariates:
        return {}
    types = dict(zip(source.columns, source.types))
    columns = tuple(dict.fromkeys(used))
    numeric = tuple(c for c in columns if is_numeric_type(types[c]) and not types[c].startswith("BOOLEAN"))
    encode = _CompleteRows(treatment, treated, columns, numeric, tuple(covariates))
    grids = _grids(source, columns, encode, lows, highs, points, sample_rows, seed)
    parts = map_partitions(source, columns, encode, rows_per_partition, _ecdf_counts_kernel, (grids,))
    counts = [[[np.zeros(g.size, np.int64), np.zeros(g.size, np.int64)] for _ in range(2)] for g in grids]
    for part in parts:  # in partition order (integer sums: exact on every backend anyway)
        for j, per_arm in enumerate(part):
            for a, (at, below) in enumerate(per_arm):
                counts[j][a][0] += at
                counts[j][a][1] += below
    n1, n0 = int(counts[0][0][0][-1]), int(counts[0][1][0][-1])  # #(x <= max) is the arm's row count
    out = {}
    for j, name in enumerate(covariates):
        (at1, below1), (at0, below0) = counts[j]
        low, high = ks_bracket(at1, below1, n1, at0, below0, n0)
        out[str(name)] = GridKS(low, high - low, int(grids[j].size))
    return out
