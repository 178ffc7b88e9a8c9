"""Covariate balance before and after weighting or matching (cobalt's conventions).

Balance code never estimates effects: it takes the weights an estimator returned
(``EstimateResult.weights``, one per used row) and compares the covariate
distributions of the two arms with and without them.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData, prepare
from causal_core.core.errors import CausalInputError, plain
from causal_core.core.provenance import design_for
from causal_core.core.registry import ESTIMANDS, get_method
from causal_core.core.results import EstimateResult, kish_ess
from causal_core.core.roles import Roles

__all__ = [
    "balance_covariates",
    "balance_table",
    "check_balance_options",
    "max_abs_smd",
    "smd_before_after",
    "effective_sample_size",
    "standardized_mean_difference",
    "variance_ratio",
    "weighted_ks",
    "weighted_mean",
    "weighted_variance",
]

VARIANCE_RATIO_RANGE = (0.5, 2.0)


def effective_sample_size(weights: Any) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``.

    Equals the number of units for equal weights and shrinks as weights become
    uneven. Returns 0.0 when every weight is zero.

    Raises
    ------
    CausalInputError
        If a weight is negative, missing or infinite.
    """
    w = np.asarray(weights, dtype=float).ravel()
    if not np.all(np.isfinite(w)):
        raise CausalInputError("Weights must be finite numbers; some are missing or infinite.")
    if np.any(w < 0):
        raise CausalInputError("Weights must be non-negative; some are below zero.")
    return kish_ess(w)


def weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    """``sum(w x) / sum(w)``."""
    return float(np.sum(w * x) / np.sum(w))


def weighted_variance(x: np.ndarray, w: np.ndarray, *, binary: bool = False) -> float:
    """Weighted variance; with equal weights it is the usual ``ddof=1`` sample variance.

    Continuous: ``sum(w) / (sum(w)^2 - sum(w^2)) * sum(w (x - m)^2)`` (the
    reliability-weights unbiased form cobalt uses). Binary: ``p (1 - p)`` with
    ``p`` the weighted proportion. NaN when it is undefined (one unit with weight).
    """
    if binary:
        p = weighted_mean(x, w)
        return p * (1.0 - p)
    total = float(np.sum(w))
    denominator = total**2 - float(np.sum(w**2))
    if denominator <= 0:
        return float("nan")
    mean = float(np.sum(w * x) / total)
    return total / denominator * float(np.sum(w * (x - mean) ** 2))


def weighted_ks(x1: np.ndarray, w1: np.ndarray, x0: np.ndarray, w0: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic between two weighted empirical CDFs, ``max |F1 - F0|``."""
    grid = np.union1d(x1, x0)
    order1, order0 = np.argsort(x1), np.argsort(x0)
    cdf1 = np.cumsum(w1[order1]) / np.sum(w1)
    cdf0 = np.cumsum(w0[order0]) / np.sum(w0)
    at1 = np.searchsorted(x1[order1], grid, side="right")
    at0 = np.searchsorted(x0[order0], grid, side="right")
    f1 = np.where(at1 > 0, cdf1[np.maximum(at1 - 1, 0)], 0.0)
    f0 = np.where(at0 > 0, cdf0[np.maximum(at0 - 1, 0)], 0.0)
    return float(np.max(np.abs(f1 - f0)))


def standardized_mean_difference(difference: Any, sd_treated: Any, sd_control: Any, estimand: str) -> Any:
    """Divide a mean difference by the estimand's standard deviation (cobalt's ``s.d.denom``).

    The one SMD of the package (:func:`smd_before_after` calls it for the balance
    table and for every result's ``max_abs_smd_before`` / ``max_abs_smd_after``). The
    standard deviations come from the *unadjusted* sample, so before and after
    share a scale. ATE: pooled ``sqrt((s1^2 + s0^2) / 2)``; ATT: treated
    ``s1``; ATC: control ``s0``. NaN where that standard deviation is zero.
    Scalars give a float, arrays (one entry per covariate) an array.
    """
    d = np.asarray(difference, dtype=float)
    s1, s0 = np.asarray(sd_treated, dtype=float), np.asarray(sd_control, dtype=float)
    if estimand == "ATT":
        scale = s1
    elif estimand == "ATC":
        scale = s0
    else:
        scale = np.sqrt((s1**2 + s0**2) / 2.0)
    scale = np.broadcast_to(scale, np.broadcast_shapes(d.shape, scale.shape))
    out = np.where(scale > 0, d / np.where(scale > 0, scale, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def variance_ratio(x1: np.ndarray, w1: np.ndarray, x0: np.ndarray, w0: np.ndarray) -> float:
    """Weighted treated variance over weighted control variance (NaN if undefined)."""
    v1, v0 = weighted_variance(x1, w1), weighted_variance(x0, w0)
    return float(v1 / v0) if v0 > 0 and np.isfinite(v1) else float("nan")


def _aligned_weights(df: pd.DataFrame, data: PreparedData, weights: Any) -> np.ndarray:
    """One weight per used row, from an array (already aligned) or a Series on ``df``'s index."""
    if weights is None:
        return np.ones(data.n)
    if isinstance(weights, pd.Series):
        missing = pd.Index(data.index).difference(weights.index)
        if len(missing):
            raise CausalInputError(
                f"Weights Series has no value for {len(missing)} used row(s) of the table "
                f"(e.g. index {plain(missing[0])!r}); index it like the data."
            )
        w = pd.to_numeric(weights, errors="coerce").reindex(data.index).to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape[0] != data.n:
            raise CausalInputError(
                f"Weights have {w.shape[0]} values but {data.n} rows are used (of {len(df)}, after dropping rows "
                "with missing values); pass one weight per used row, or a Series indexed like the data."
            )
    if not np.all(np.isfinite(w)):
        raise CausalInputError("Weights must be finite numbers; some are missing or infinite.")
    if np.any(w < 0):
        raise CausalInputError(f"Weights must be non-negative; the smallest is {w.min():.4g}.")
    for arm, mask in (("treated", data.treated), ("control", ~data.treated)):
        if not np.any(w[mask] > 0):
            raise CausalInputError(f"Every weight in the {arm} arm is zero; balance cannot be computed.")
    return w


def balance_covariates(data: PreparedData) -> tuple[np.ndarray, tuple[str, ...], tuple[bool, ...]]:
    """The covariates balance is checked on: ``data.X`` with every level of each categorical confounder.

    The estimators see categoricals one-hot with the first level dropped
    (:func:`causal_core.core.data.prepare`); balance shows that reference level
    too (as cobalt does), as ``1 -`` the sum of the other levels' indicators,
    placed before them. Returns the matrix, the names and whether each column is binary.
    """
    references = dict(data.reference_levels)
    sources = [str(source) for source in data.covariate_sources]
    columns: list[np.ndarray] = []
    names: list[str] = []
    binary: list[bool] = []
    added: set[str] = set()
    flags = data.binary_covariates or tuple(False for _ in data.covariate_names)
    for j, name in enumerate(data.covariate_names):
        source = sources[j] if j < len(sources) else name
        is_dummy = source in references and name != source
        if is_dummy and source not in added:
            dummies = [k for k, s in enumerate(sources) if s == source and data.covariate_names[k] != s]
            columns.append(1.0 - data.X[:, dummies].sum(axis=1))
            names.append(f"{source}={references[source]}")
            binary.append(True)
            added.add(source)
        columns.append(data.X[:, j])
        names.append(name)
        binary.append(bool(flags[j]))
    matrix = np.column_stack(columns) if columns else np.empty((data.n, 0))
    return matrix, tuple(names), tuple(binary)


def smd_before_after(
    x: np.ndarray, treated: np.ndarray, w: np.ndarray, *, is_binary: bool, estimand: str, binary: str = "raw"
) -> tuple[float, float]:
    """The SMD of one covariate before (equal weights) and after the weights ``w`` (cobalt's conventions).

    The one SMD computation of the package: :func:`balance_table` and the
    ``max_abs_smd_before`` / ``max_abs_smd_after`` of every result
    (:func:`max_abs_smd`) call it. Binary covariates give the raw difference in
    proportions (``binary="raw"``, cobalt's default) or the standardised one.
    """
    x1, x0 = x[treated], x[~treated]
    u1, u0 = np.ones(x1.size), np.ones(x0.size)
    sd1 = float(np.sqrt(weighted_variance(x1, u1, binary=is_binary)))
    sd0 = float(np.sqrt(weighted_variance(x0, u0, binary=is_binary)))
    out = []
    for a1, a0 in ((u1, u0), (w[treated], w[~treated])):
        difference = weighted_mean(x1, a1) - weighted_mean(x0, a0)
        if is_binary and binary == "raw":
            out.append(float(difference))
        else:
            out.append(standardized_mean_difference(difference, sd1, sd0, estimand))
    return out[0], out[1]


def max_abs_smd(data: PreparedData, weights: np.ndarray, estimand: str) -> tuple[float, float] | None:
    """Largest |SMD| before and after ``weights`` over every covariate of the balance table, or None.

    Exactly ``balance_table(result, df)["smd_before"].abs().max()`` (and
    ``"smd_after"``) for a result's rows and weights; None when the design has
    no covariate or an arm has no positive weight.
    """
    w = np.asarray(weights, dtype=float).ravel()
    treated = data.treated
    if data.X.shape[1] == 0 or w.shape != (data.n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        return None
    if not (np.any(w[treated] > 0) and np.any(w[~treated] > 0)):
        return None
    estimand = estimand if estimand in ESTIMANDS else "ATE"
    X, _, flags = balance_covariates(data)
    pairs = np.array([smd_before_after(X[:, j], treated, w, is_binary=flags[j], estimand=estimand)
                      for j in range(X.shape[1])], dtype=float)
    magnitudes = np.abs(pairs)
    if not np.isfinite(magnitudes).any():
        return None
    return float(np.nanmax(magnitudes[:, 0])), float(np.nanmax(magnitudes[:, 1]))


def _covariate_row(
    x: np.ndarray, treated: np.ndarray, w: np.ndarray, *, is_binary: bool, estimand: str, binary: str
) -> dict[str, Any]:
    x1, x0 = x[treated], x[~treated]
    u1, u0 = np.ones(x1.size), np.ones(x0.size)
    w1, w0 = w[treated], w[~treated]
    smd = smd_before_after(x, treated, w, is_binary=is_binary, estimand=estimand, binary=binary)
    row: dict[str, Any] = {"type": "binary" if is_binary else "continuous"}
    for i, (stage, (a1, a0)) in enumerate((("before", (u1, u0)), ("after", (w1, w0)))):
        row[f"mean_treated_{stage}"] = weighted_mean(x1, a1)
        row[f"mean_control_{stage}"] = weighted_mean(x0, a0)
        row[f"smd_{stage}"] = smd[i]
        row[f"var_ratio_{stage}"] = float("nan") if is_binary else variance_ratio(x1, a1, x0, a0)
        row[f"ks_{stage}"] = weighted_ks(x1, a1, x0, a0)
    return row


def check_balance_options(estimand: Any, binary: Any, threshold: Any, roles: Any) -> None:
    """Refuse a balance table's estimand, ``binary`` convention, threshold or roles, naming the problem."""
    if estimand not in ESTIMANDS:
        raise CausalInputError(f"Balance estimand must be one of {', '.join(ESTIMANDS)}; got {plain(estimand)!r}.")
    if binary not in ("raw", "std"):
        raise CausalInputError(f"Option 'binary' must be 'raw' or 'std'; got {plain(binary)!r}.")
    if not np.isfinite(threshold) or threshold <= 0:
        raise CausalInputError(f"Option 'threshold' must be a positive number; got {plain(threshold)!r}.")
    if not isinstance(roles, Roles):
        raise CausalInputError(f"Roles must be a causal_core.Roles; got {type(roles).__name__}.")


def balance_table(
    df: pd.DataFrame | EstimateResult,
    roles: Roles | pd.DataFrame,
    weights: Any = None,
    *,
    estimand: str | None = None,
    threshold: float = 0.1,
    binary: str = "raw",
    method: str | None = None,
) -> pd.DataFrame:
    """Covariate balance of the two arms, before and after weights, one row per encoded covariate.

    Called as ``balance_table(result, df)`` it starts from an
    :class:`EstimateResult`: its rows (``result.row_index``), roles, weights
    and estimand (the ATE's denominator for estimands other than ATE, ATT and
    ATC); ``weights`` and ``estimand`` then override the result's, and
    ``method`` is the result's own.
    Called as ``balance_table(df, roles, weights=..., estimand=...)`` it
    prepares the data itself.

    Parameters
    ----------
    df : DataFrame or EstimateResult
        The data (never modified), or a result (then ``roles`` is the data).
    roles : Roles or DataFrame
        Roles with a binary treatment and at least one confounder. Rows are
        dropped and categoricals one-hot encoded exactly as the estimators do
        (:func:`causal_core.core.data.prepare`).
    weights : array-like, Series or None
        One non-negative weight per *used* row, in the order of the prepared
        data (what ``EstimateResult.weights`` holds), or a Series indexed like
        ``df``. ``None`` means equal weights, so "after" equals "before".
    estimand : {"ATE", "ATT", "ATC"}, optional
        Chooses the SMD denominator (default ATE, or the result's).
    threshold : float
        A covariate is ``balanced`` when ``|smd_after| <= threshold``.
    binary : {"raw", "std"}
        For binary covariates, report the raw difference in proportions
        (``"raw"``, cobalt's default) or standardise it like a continuous one.
    method : str, optional
        Method id whose data needs (e.g. selection methods) should drive the
        row dropping; by default rows with any missing used value are dropped.

    Returns
    -------
    DataFrame
        Indexed by covariate name (every level of a categorical confounder,
        the reference level included, as ``"col=level"``), with columns ``type``, ``mean_treated_before``,
        ``mean_control_before``, ``mean_treated_after``, ``mean_control_after``,
        ``smd_before``, ``smd_after``, ``var_ratio_before``, ``var_ratio_after``,
        ``ks_before``, ``ks_after``, ``balanced`` and ``var_ratio_ok``.
        ``attrs["ess"]`` holds Kish's effective sample size per arm,
        ``{"treated": {"before": n1, "after": ess1}, "control": {...}}``;
        ``attrs`` also records ``estimand``, ``threshold`` and ``binary``.

    Notes
    -----
    Conventions follow R's cobalt:

    - Differences are treated minus control; means are weighted means per arm.
    - The SMD denominator is computed once, on the *unadjusted* sample, so the
      before and after SMDs share a scale: the pooled SD
      ``sqrt((s1^2 + s0^2) / 2)`` for the ATE, the treated SD ``s1`` for the ATT
      and the control SD ``s0`` for the ATC. Continuous SDs use ``ddof=1``;
      binary SDs use ``sqrt(p (1 - p))``.
    - Variance ratio (continuous only, else NaN): weighted treated variance over
      weighted control variance; ``var_ratio_ok`` is True within [0.5, 2].
    - KS: largest gap between the weighted empirical CDFs of the two arms.
    - Effective sample size: ``(sum w)^2 / sum w^2`` within each arm.
    """
    if isinstance(df, EstimateResult):
        result, df = df, roles
        roles = result.roles
        if estimand is None:
            estimand = result.estimand if result.estimand in ESTIMANDS else "ATE"
        if weights is None:
            weights = result.weights
    else:
        result = None
        estimand = "ATE" if estimand is None else estimand
    check_balance_options(estimand, binary, threshold, roles)
    if not roles.confounders:
        raise CausalInputError("Balance needs at least one column in the 'confounders' role; none is assigned.")
    if result is not None:
        data = design_for(result, df, treatment_kind="binary")
    else:
        info = get_method(method) if method is not None else None
        data = prepare(df, roles, info, treatment_kind="binary")
    w = _aligned_weights(df, data, weights)
    treated = data.treated
    X, names, flags = balance_covariates(data)
    rows = [
        _covariate_row(X[:, j], treated, w, is_binary=bool(flags[j]), estimand=estimand, binary=binary)
        for j in range(X.shape[1])
    ]
    table = pd.DataFrame(rows, index=pd.Index(list(names), name="covariate"))
    if table.empty:
        raise CausalInputError("No confounder is left after dropping constant columns; balance cannot be computed.")
    table["balanced"] = (table["smd_after"].abs() <= threshold).astype("boolean")
    table.loc[table["smd_after"].isna(), "balanced"] = pd.NA
    low, high = VARIANCE_RATIO_RANGE
    ratio = table["var_ratio_after"]
    table["var_ratio_ok"] = ((ratio >= low) & (ratio <= high)).astype("boolean")
    table.loc[ratio.isna(), "var_ratio_ok"] = pd.NA
    table.attrs["ess"] = {
        "treated": {"before": float(treated.sum()), "after": kish_ess(w[treated])},
        "control": {"before": float((~treated).sum()), "after": kish_ess(w[~treated])},
    }
    table.attrs["estimand"] = estimand
    table.attrs["threshold"] = float(threshold)
    table.attrs["binary"] = binary
    return table
