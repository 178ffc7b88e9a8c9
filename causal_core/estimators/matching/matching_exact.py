"""Exact matching, coarsened where covariates are continuous (CEM, Iacus, King & Porro 2012).

Every unit is placed in the stratum of its (coarsened) covariate values;
strata holding only one arm are dropped and the effect is the weighted
average of the within-stratum differences in means.
"""
from __future__ import annotations


import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators.matching._shared import ess_by_arm
from causal_core.inference import analytic_inference

__all__ = ["exact_matching", "coarsen", "sturges_bins", "cem_weights"]


def sturges_bins(n: int) -> int:
    """Sturges' rule: ``ceil(log2(n) + 1)`` bins."""
    return int(np.ceil(np.log2(max(n, 1)) + 1))


def coarsen(X: np.ndarray, binary: tuple[bool, ...] | list[bool], n_bins: int) -> np.ndarray:
    """Integer codes per column: binary columns and columns with at most ``n_bins`` distinct values as they are,
    other columns cut into ``n_bins`` equal-width bins over their range."""
    codes = np.empty(X.shape, dtype=np.int64)
    for j in range(X.shape[1]):
        column = X[:, j]
        levels, inverse = np.unique(column, return_inverse=True)
        if (j < len(binary) and binary[j]) or levels.size <= n_bins:
            codes[:, j] = inverse
        else:
            edges = np.histogram_bin_edges(column, bins=n_bins)
            codes[:, j] = np.searchsorted(edges[1:-1], column, side="right")
    return codes


def cem_weights(stratum: np.ndarray, t: np.ndarray, estimand: str) -> np.ndarray:
    """CEM weights: zero outside matched strata; within a matched stratum ``s``,

    ATT: treated 1, controls ``(m_T^s / m_C^s) (M_C / M_T)``; ATC: the mirror
    image; ATE: treated ``(n_s / m_T^s)(M_T / M)``, controls ``(n_s / m_C^s)(M_C / M)``,
    where ``m`` are stratum counts and ``M`` matched totals. Each arm's weights
    sum to its matched count.
    """
    treated_count = np.bincount(stratum, weights=t)
    control_count = np.bincount(stratum, weights=1 - t)
    matched_stratum = (treated_count > 0) & (control_count > 0)
    m_t = treated_count[stratum]
    m_c = control_count[stratum]
    matched = matched_stratum[stratum]
    total_t, total_c = float(np.sum(t * matched)), float(np.sum((1 - t) * matched))
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimand == "ATT":
            share = m_t / total_t
        elif estimand == "ATC":
            share = m_c / total_c
        else:
            share = (m_t + m_c) / (total_t + total_c)
        weights = np.where(t == 1, share * total_t / m_t, share * total_c / m_c)
    return np.where(matched, weights, 0.0)


def _stratified_variance(stratum: np.ndarray, y: np.ndarray, t: np.ndarray, matched: np.ndarray, estimand: str) -> float:
    """Neyman variance sum_s W_s^2 (s_T^2 / m_T + s_C^2 / m_C) over matched strata.

    A stratum with a single unit of an arm borrows that arm's pooled
    within-stratum variance (from the strata with two or more of its units).
    """
    s, yy, tt = stratum[matched], y[matched], t[matched]
    n_strata = int(s.max()) + 1
    arm_terms: list[np.ndarray] = []
    counts: dict[int, np.ndarray] = {}
    for arm in (1, 0):
        in_arm = tt == arm
        count = np.bincount(s[in_arm], minlength=n_strata).astype(float)
        total = np.bincount(s[in_arm], weights=yy[in_arm], minlength=n_strata)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / count
        squares = np.bincount(s[in_arm], weights=(yy[in_arm] - mean[s[in_arm]]) ** 2, minlength=n_strata)
        counts[arm] = count
        arm_terms.append(np.stack([count, squares]))
    pooled = []
    for count, squares in arm_terms:
        dof = np.sum(np.maximum(count - 1, 0))
        pooled.append(np.sum(squares) / dof if dof > 0 else np.nan)
    fallback = np.nanmean(pooled) if np.isfinite(pooled).any() else float(np.var(yy, ddof=1))
    pooled = [p if np.isfinite(p) else fallback for p in pooled]
    present = (counts[1] > 0) & (counts[0] > 0)
    share = {"ATT": counts[1], "ATC": counts[0], "ATE": counts[1] + counts[0]}[estimand] * present
    share = share / share.sum()
    variance = 0.0
    for (count, squares), pooled_arm in zip(arm_terms, pooled):
        with np.errstate(divide="ignore", invalid="ignore"):
            within = np.where(count >= 2, squares / (count - 1), pooled_arm)
            variance += float(np.sum(np.where(present, share**2 * within / count, 0.0)))
    return variance


@register(
    id="exact_matching",
    label="Exact / coarsened exact matching (CEM)",
    family="Matching",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Units are grouped by identical (coarsened) confounder values; groups lacking either arm are "
    "dropped and the effect averages the within-group differences.",
    reference="Iacus, King & Porro (2012), Political Analysis 20(1); Imbens & Rubin (2015), ch. 9-10.",
    options=(
        OptionSpec(
            "n_bins",
            "int",
            None,
            "Equal-width bins per continuous confounder; None uses Sturges' rule ceil(log2(n) + 1). "
            "Fewer bins keep more units but leave more confounding within bins.",
            low=2, none_means="Sturges' rule",
        ),
    ),
    # no overlap rule here: a separating covariate leaves no stratum with both arms, which the method
    # itself refuses with the more specific message
    limits=MethodLimits(),
    gives_weights=True, order=20,
)
def exact_matching(data: PreparedData, *, estimand: str, seed: int, n_bins: int | None = None) -> MethodOutput:
    """Coarsened exact matching with a stratified Neyman standard error.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
        Within the matched (overlap) strata.
    seed : int
        Unused (the method is deterministic).
    n_bins : int or None
        Bins per continuous confounder (binary, categorical and few-valued
        columns are matched exactly).

    Notes
    -----
    The standard error is the stratified Neyman variance, conditional on the
    strata: it targets the effect in the matched sample. The usual weighted
    regression with a sandwich (HC2) variance ignores the stratification and
    is conservative whenever the confounders predict the outcome.
    """
    bins = None if n_bins is None else int(n_bins)  # options checked by causal_core.core.options
    bins_used = sturges_bins(data.n) if bins is None else bins
    codes = coarsen(data.X, data.binary_covariates, bins_used)
    _, stratum = np.unique(codes, axis=0, return_inverse=True)
    stratum = stratum.ravel()
    t, y = data.t, data.y
    weights = cem_weights(stratum, t, estimand)
    matched = weights > 0
    if not matched[t == 1].any() or not matched[t == 0].any():
        raise CausalInputError(
            "No stratum of the coarsened confounders holds both treated and control rows; "
            "lower option 'n_bins' or use fewer confounders."
        )
    treated_mean = np.average(y[t == 1], weights=weights[t == 1])
    control_mean = np.average(y[t == 0], weights=weights[t == 0])
    estimate = float(treated_mean - control_mean)
    std_error = float(np.sqrt(_stratified_variance(stratum, y, t, matched, estimand)))
    dropped_treated = int(np.sum((t == 1) & ~matched))
    dropped_control = int(np.sum((t == 0) & ~matched))
    n_strata = int(stratum.max()) + 1
    warnings: tuple[str, ...] = ()
    if dropped_treated or dropped_control:
        warnings = (
            f"{dropped_treated} treated and {dropped_control} control units fell in strata without the other arm "
            f"and were dropped; the estimate is the {estimand} in the matched (overlap) population, "
            "not the whole sample.",
        )
    diagnostics = {
        "n_matched_treated": int(np.sum((t == 1) & matched)),
        "n_matched_control": int(np.sum((t == 0) & matched)),
        "n_dropped_treated": dropped_treated,
        "n_dropped_control": dropped_control,
        "n_strata": n_strata,
        "n_matched_strata": int(np.unique(stratum[matched]).size),
        "n_bins": bins_used,
    }
    inference = analytic_inference(estimate, std_error, detail="stratified Neyman variance conditional on the "
                                   "strata (pooled within-stratum variance for single-unit cells)")
    return MethodOutput(
        estimate=estimate,
        inference=inference,
        weights=weights,
        diagnostics=diagnostics,
        warnings=warnings,
    )
