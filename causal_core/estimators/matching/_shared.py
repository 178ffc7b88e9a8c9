"""Private maths shared by nearest-neighbour and propensity-score matching.

Matching imputes the missing potential outcome of each *target* unit from its
nearest units of the other arm (the *pool*). Matching is done on any point
cloud (whitened covariates or the logit propensity) with :class:`scipy.spatial.cKDTree`.

The variance is Abadie & Imbens (2006): with ``a_i`` = 1 when unit ``i`` is a
matched target, ``w_i`` = the number of times it is used as a match (each use
counted ``1 / #matches`` of the target it serves) and ``w2_i`` = the sum of
those shares squared,

* population (PATE/PATT/PATC) variance
  ``[sum_targets (tau_l - tau)^2 + sum_i ((a_i + w_i)^2 - a_i - w2_i) sigma2_i] / N^2``;
* conditional (sample) variance ``sum_i (a_i + w_i)^2 sigma2_i / N^2``,

where ``sigma2_i`` is the conditional outcome variance estimated by matching
each unit to its nearest units of its own arm. When no unit is used twice
(matching without replacement) the population formula reduces to the
paired-difference variance.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from causal_core.core.errors import CausalInputError
from causal_core.core.results import ess_by_arm  # the one ESS, re-exported for the matching estimators

__all__ = [
    "Matches",
    "MatchingFit",
    "whiten_mahalanobis",
    "match_with_replacement",
    "match_without_replacement",
    "conditional_variance",
    "fit_matching",
    "check_replace_supports",
    "target_arms",
    "ess_by_arm",
    "matching_diagnostics",
    "dropped_warning",
]

VARIANCE_NEIGHBORS = 2
MAX_TIED_PAIRS = 5_000_000


@dataclass(frozen=True)
class Matches:
    """Matched pairs of one direction (targets of one arm matched into the other).

    ``target``/``source`` are row indices into the full data, one entry per
    pair; ``weight`` is ``1 / number of matches of the target``.
    """

    target: np.ndarray
    source: np.ndarray
    weight: np.ndarray
    unmatched: np.ndarray
    ties_broken: bool = False


@dataclass(frozen=True)
class MatchingFit:
    """Estimate, standard errors and usage weights of a matching estimator."""

    estimate: float
    std_error: float
    std_error_sample: float
    weights: np.ndarray
    matched_targets: np.ndarray
    unmatched_targets: np.ndarray
    ties_broken: bool


def target_arms(estimand: str) -> tuple[int, ...]:
    """Arms whose units get a missing potential outcome imputed: ATT -> (1,), ATC -> (0,), ATE -> both."""
    return {"ATT": (1,), "ATC": (0,), "ATE": (1, 0)}[estimand]


def check_replace_supports(estimand: str, replace: bool, method: str) -> None:
    """Matching without replacement cannot target the ATE (the options themselves are declared and checked upstream)."""
    if not replace and estimand == "ATE":
        raise CausalInputError(
            f"Method '{method}' estimates the ATE only with replace=True; matching without replacement "
            "cannot match every unit of both arms, so choose the ATT or ATC or set replace=True."
        )


def whiten_mahalanobis(X: np.ndarray) -> np.ndarray:
    """Covariates rotated and scaled so that Euclidean distance is the Mahalanobis distance.

    Uses the full-sample covariance; directions with (numerically) zero
    variance, e.g. collinear dummies, are dropped (a pseudo-inverse). The
    covariance is taken of columns scaled to unit standard deviation, which
    leaves the Mahalanobis distance unchanged: on raw columns of very different
    sizes (squared earnings beside 0/1 columns, variances 1e18 against 0.2) the
    relative eigenvalue cut dropped every small column's direction.
    """
    centred = X - X.mean(axis=0)
    sd = centred.std(axis=0)
    centred = centred / np.where(sd > 0, sd, 1.0)
    covariance = np.atleast_2d(np.cov(centred, rowvar=False))
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    keep = eigenvalues > max(eigenvalues.max(), 0.0) * 1e-10
    return centred @ (eigenvectors[:, keep] / np.sqrt(eigenvalues[keep]))


def _as_matrix(points: np.ndarray) -> np.ndarray:
    return points[:, None] if points.ndim == 1 else points


def match_with_replacement(
    points: np.ndarray,
    targets: np.ndarray,
    pool: np.ndarray,
    n_neighbors: int,
    *,
    caliper: float | None = None,
) -> Matches:
    """The ``n_neighbors`` nearest pool units of each target, ties at the last distance all kept.

    With a ``caliper``, only pool units within that distance count; a target
    with none is returned in ``unmatched``. Should the ties amount to more than
    ``MAX_TIED_PAIRS`` pairs (purely discrete covariates), ties are broken by
    tree order and ``ties_broken`` is set.
    """
    from scipy.spatial import cKDTree
    points = _as_matrix(points)
    tree = cKDTree(points[pool])
    n_targets, n_pool = targets.size, pool.size
    k = min(n_neighbors, n_pool)
    n_query = min(k + 1, n_pool)
    dist, idx = tree.query(points[targets], k=n_query)
    dist, idx = dist.reshape(n_targets, n_query), idx.reshape(n_targets, n_query)
    kth = dist[:, k - 1]
    tolerance = 1e-10 * (1.0 + kth)
    tied = dist[:, k] <= kth + tolerance if n_query > k else np.zeros(n_targets, dtype=bool)
    if caliper is not None:
        tied &= kth <= caliper
    ties_broken = False
    if tied.any():
        radius = kth[tied] + tolerance[tied]
        if caliper is not None:
            radius = np.minimum(radius, caliper + tolerance[tied])
        lengths = np.asarray(tree.query_ball_point(points[targets[tied]], r=radius, return_length=True))
        if lengths.sum() > MAX_TIED_PAIRS:
            tied[:] = False
            ties_broken = True
    plain = np.flatnonzero(~tied)
    rows = np.repeat(plain, k)
    cols = idx[plain, :k].ravel()
    if caliper is not None:
        inside = dist[plain, :k].ravel() <= caliper
        rows, cols = rows[inside], cols[inside]
    if tied.any():
        tied_rows = np.flatnonzero(tied)
        lists = tree.query_ball_point(points[targets[tied_rows]], r=radius)
        rows = np.concatenate([rows, np.repeat(tied_rows, lengths)])
        cols = np.concatenate([cols, np.fromiter(itertools.chain.from_iterable(lists), dtype=np.intp)])
    counts = np.bincount(rows, minlength=n_targets)
    return Matches(
        target=targets[rows],
        source=pool[cols],
        weight=1.0 / counts[rows],
        unmatched=targets[counts == 0],
        ties_broken=ties_broken,
    )


def match_without_replacement(
    points: np.ndarray,
    targets: np.ndarray,
    pool: np.ndarray,
    n_neighbors: int,
    *,
    caliper: float | None = None,
) -> Matches:
    """Greedy matching in which every pool unit is used at most once.

    Targets are served hardest first (largest distance to their nearest pool
    unit), each taking its ``n_neighbors`` nearest unused pool units (within the
    ``caliper``). Targets left without any match are returned in ``unmatched``.
    """
    from scipy.spatial import cKDTree
    points = _as_matrix(points)
    tree = cKDTree(points[pool])
    n_targets, n_pool = targets.size, pool.size
    n_query = min(n_pool, n_neighbors + 8)
    dist, idx = tree.query(points[targets], k=n_query)
    dist, idx = dist.reshape(n_targets, n_query), idx.reshape(n_targets, n_query)
    limit = np.inf if caliper is None else caliper
    used = np.zeros(n_pool, dtype=bool)
    rows: list[int] = []
    cols: list[int] = []
    for row in np.argsort(-dist[:, 0], kind="stable"):
        if used.all():
            break
        row_dist, row_idx, width = dist[row], idx[row], n_query
        while True:
            free = ~used[row_idx] & (row_dist <= limit)
            chosen = row_idx[free][:n_neighbors]
            if chosen.size == n_neighbors or width >= n_pool or row_dist[-1] > limit:
                break
            width = min(n_pool, 2 * width)
            row_dist, row_idx = tree.query(points[targets[row]], k=width)
            row_dist, row_idx = np.atleast_1d(row_dist), np.atleast_1d(row_idx)
        used[chosen] = True
        rows.extend([int(row)] * chosen.size)
        cols.extend(int(c) for c in chosen)
    rows_arr = np.asarray(rows, dtype=np.intp)
    cols_arr = np.asarray(cols, dtype=np.intp)
    counts = np.bincount(rows_arr, minlength=n_targets)
    return Matches(
        target=targets[rows_arr],
        source=pool[cols_arr],
        weight=1.0 / counts[rows_arr],
        unmatched=targets[counts == 0],
    )


def conditional_variance(points: np.ndarray, y: np.ndarray, t: np.ndarray, n_matches: int = VARIANCE_NEIGHBORS) -> np.ndarray:
    """Abadie-Imbens estimate of Var(Y | X_i, T_i) by matching each unit to its nearest units of its own arm.

    ``sigma2_i = J / (J + 1) * (y_i - mean of its J nearest same-arm outcomes)^2``.
    """
    from scipy.spatial import cKDTree
    points = _as_matrix(points)
    sigma2 = np.zeros(y.size)
    for arm in (0, 1):
        rows = np.flatnonzero(t == arm)
        m = rows.size
        J = min(n_matches, m - 1)
        if J < 1:
            continue
        _, idx = cKDTree(points[rows]).query(points[rows], k=J + 1)
        idx = idx.reshape(m, J + 1)
        is_self = idx == np.arange(m)[:, None]
        is_self[~is_self.any(axis=1), -1] = True
        neighbours = idx[~is_self].reshape(m, J)
        sigma2[rows] = J / (J + 1) * (y[rows] - y[rows][neighbours].mean(axis=1)) ** 2
    return sigma2


def _bias_adjustment(X: np.ndarray, y: np.ndarray, matches: Matches, pool_rows: np.ndarray) -> np.ndarray:
    """Per-pair correction mu(x_target) - mu(x_source), mu a least-squares fit on the pool arm.

    As in Abadie & Imbens (2011) the regression is fitted on the pool units
    used as matches, weighted by how often they are used (all pool units when
    too few are used).
    """
    from causal_core.nuisance.models import least_squares_regressor
    use = np.bincount(matches.source, weights=matches.weight, minlength=y.size)[pool_rows]
    rows, weight = pool_rows[use > 0], use[use > 0]
    if rows.size <= X.shape[1] + 1:
        rows, weight = pool_rows, np.ones(pool_rows.size)
    model = least_squares_regressor().fit(X[rows], y[rows], linearregression__sample_weight=weight)
    return model.predict(X[matches.target]) - model.predict(X[matches.source])


def fit_matching(
    points: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    estimand: str,
    *,
    n_neighbors: int,
    replace: bool,
    caliper: float | None = None,
    adjust_X: np.ndarray | None = None,
) -> MatchingFit:
    """Match, impute, estimate and compute the Abadie-Imbens standard errors.

    Parameters
    ----------
    points : ndarray (n, d) or (n,)
        Coordinates to match on (whitened covariates, or the logit propensity).
    y, t : ndarray (n,)
        Outcome and 0/1 treatment.
    estimand : {"ATE", "ATT", "ATC"}
    n_neighbors, replace, caliper
        Matching settings (``caliper`` in the units of ``points``).
    adjust_X : ndarray (n, p) or None
        Covariates for the Abadie-Imbens (2011) regression bias adjustment; None skips it.
    """
    n = y.size
    tau_parts: list[np.ndarray] = []
    target_parts: list[np.ndarray] = []
    unmatched_parts: list[np.ndarray] = []
    use = np.zeros(n)
    use_squared = np.zeros(n)
    ties_broken = False
    for arm in target_arms(estimand):
        targets, pool = np.flatnonzero(t == arm), np.flatnonzero(t == 1 - arm)
        matcher = match_with_replacement if replace else match_without_replacement
        matches = matcher(points, targets, pool, n_neighbors, caliper=caliper)
        ties_broken |= matches.ties_broken
        borrowed = y[matches.source]
        if adjust_X is not None and matches.source.size:
            borrowed = borrowed + _bias_adjustment(adjust_X, y, matches, pool)
        imputed = np.bincount(matches.target, weights=matches.weight * borrowed, minlength=n)
        matched = np.setdiff1d(targets, matches.unmatched, assume_unique=True)
        sign = 1.0 if arm == 1 else -1.0
        tau_parts.append(sign * (y[matched] - imputed[matched]))
        target_parts.append(matched)
        unmatched_parts.append(matches.unmatched)
        use += np.bincount(matches.source, weights=matches.weight, minlength=n)
        use_squared += np.bincount(matches.source, weights=matches.weight**2, minlength=n)
    tau = np.concatenate(tau_parts)
    matched_targets = np.concatenate(target_parts)
    if tau.size == 0:
        raise CausalInputError(
            "No unit found a match (option 'caliper' too narrow or no overlap between the arms); "
            "widen the caliper or check overlap."
        )
    is_target = np.zeros(n)
    is_target[matched_targets] = 1.0
    weights = is_target + use
    sigma2 = conditional_variance(points, y, t)
    n_targets = tau.size
    estimate = float(tau.mean())
    variance_population = (
        np.sum((tau - estimate) ** 2) + np.sum((weights**2 - is_target - use_squared) * sigma2)
    ) / n_targets**2
    variance_sample = np.sum(weights**2 * sigma2) / n_targets**2
    return MatchingFit(
        estimate=estimate,
        std_error=float(np.sqrt(variance_population)),
        std_error_sample=float(np.sqrt(variance_sample)),
        weights=weights,
        matched_targets=np.sort(matched_targets),
        unmatched_targets=np.sort(np.concatenate(unmatched_parts)),
        ties_broken=ties_broken,
    )


def matching_diagnostics(fit: MatchingFit, t: np.ndarray) -> dict[str, object]:
    """The diagnostics every matching method reports (matched counts, ESS, drops)."""
    return {
        "n_matched_treated": int(np.sum((fit.weights > 0) & (t == 1))),
        "n_matched_control": int(np.sum((fit.weights > 0) & (t == 0))),
        "n_dropped_treated": int(np.sum(t[fit.unmatched_targets] == 1)),
        "n_dropped_control": int(np.sum(t[fit.unmatched_targets] == 0)),
        "std_error_sample": fit.std_error_sample,
    }


def dropped_warning(fit: MatchingFit, t: np.ndarray, estimand: str, reason: str) -> tuple[str, ...]:
    """A warning naming how many target units were dropped and that the estimand changed."""
    if fit.unmatched_targets.size == 0:
        return ()
    n_treated = int(np.sum(t[fit.unmatched_targets] == 1))
    n_control = int(np.sum(t[fit.unmatched_targets] == 0))
    population = {"ATT": "matched treated units", "ATC": "matched control units", "ATE": "matched units"}[estimand]
    return (
        f"{n_treated} treated and {n_control} control units were dropped ({reason}); "
        f"the estimate is the {estimand} among the {population} only, not the whole sample.",
    )

