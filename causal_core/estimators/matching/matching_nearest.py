"""Nearest-neighbour matching: on the Mahalanobis distance of the covariates, or on the logit propensity.

Both impute each target unit's missing potential outcome from its nearest
units of the other arm and share the Abadie-Imbens (2006) variance in
:mod:`._matching_core`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.limits import MethodLimits
from causal_core.core.options import AtMostSmallerArm
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.inference import analytic_inference
from causal_core.nuisance.models import MODEL_CHOICES, fit_propensity, overlap_warnings, resolve_model
from causal_core.estimators.matching._shared import (
    check_replace_supports,
    dropped_warning,
    fit_matching,
    matching_diagnostics,
    whiten_mahalanobis,
)

__all__ = ["nearest_neighbor_matching", "propensity_score_matching"]

_N_NEIGHBORS = OptionSpec(
    "n_neighbors", "int", 1, "Number of matches per unit (ties at the last distance are all kept when matching with replacement).", low=1,
    rules=(AtMostSmallerArm(minus=1),),
)
_REPLACE = OptionSpec(
    "replace", "bool", True, "Match with replacement (a unit may serve several); without replacement supports ATT/ATC only."
)
_TIES_WARNING = (
    "Too many exact ties in the matching distance (discrete covariates); ties were broken arbitrarily. "
    "Exact matching suits purely discrete covariates better."
)


@register(
    id="nearest_neighbor_matching",
    label="Nearest-neighbour matching (Mahalanobis)",
    family="Matching",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Each unit's missing outcome is taken from its nearest units of the other arm on the Mahalanobis "
    "distance of the confounders, with an optional regression bias adjustment.",
    reference="Abadie & Imbens (2006), Econometrica 74(1); Abadie & Imbens (2011), JBES 29(1).",
    options=(
        _N_NEIGHBORS,
        _REPLACE,
        OptionSpec(
            "bias_adjustment",
            "bool",
            True,
            "Abadie-Imbens (2011) regression adjustment for the remaining covariate differences within matches.",
        ),
    ),
    limits=MethodLimits(rows_beyond_covariates=2, arm_rows_beyond_covariates=2, arm_rule_option="bias_adjustment", needs_overlap=True),
    gives_weights=True, forms_matched_pairs=True, order=30,
)
def nearest_neighbor_matching(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    n_neighbors: int = 1,
    replace: bool = True,
    bias_adjustment: bool = True,
) -> MethodOutput:
    """Mahalanobis nearest-neighbour matching with the Abadie-Imbens (2006) standard error.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
        The ATE needs ``replace=True``.
    seed : int
        Unused (matching is deterministic); kept for the common signature.
    n_neighbors : int
        Matches per unit.
    replace : bool
        With replacement every target keeps its nearest matches; without,
        greedy matching (hardest targets first) uses each pool unit once.
    bias_adjustment : bool
        Abadie-Imbens (2011) bias adjustment by a least-squares fit of the
        outcome on the covariates in the pool arm. On by default for every
        estimand: it removes the matching-discrepancy bias that otherwise
        dominates with several continuous covariates.

    Notes
    -----
    The standard error is the Abadie-Imbens (2006) estimator for the
    population effect (conditional variances from matching units within
    their own arm); the conditional (sample) version is in
    ``diagnostics['std_error_sample']``. Without replacement no unit is
    reused and the formula is the paired-difference variance.
    """
    check_replace_supports(estimand, replace, "nearest_neighbor_matching")
    k = int(n_neighbors)
    points = whiten_mahalanobis(data.X)
    fit = fit_matching(
        points,
        data.y,
        data.t,
        estimand,
        n_neighbors=k,
        replace=bool(replace),
        adjust_X=data.X if bias_adjustment else None,
    )
    se_method = (
        "Abadie-Imbens (2006) matching variance" if replace else "paired-difference variance (no unit reused)"
    )
    diagnostics = matching_diagnostics(fit, data.t)
    diagnostics.update(n_neighbors=k, replace=bool(replace), bias_adjustment=bool(bias_adjustment))
    warnings = dropped_warning(fit, data.t, estimand, "no unused match was left for them")
    if fit.ties_broken:
        warnings += (_TIES_WARNING,)
    return MethodOutput(
        estimate=fit.estimate,
        inference=analytic_inference(fit.estimate, fit.std_error, detail=se_method),
        weights=fit.weights,
        diagnostics=diagnostics,
        warnings=warnings,
    )


@register(
    id="propensity_score_matching",
    label="Propensity-score matching",
    family="Matching",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Each unit's missing outcome is taken from its nearest units of the other arm on the logit of the "
    "estimated propensity score, within a caliper.",
    reference="Rosenbaum & Rubin (1983), Biometrika 70(1); Austin (2011), Pharm. Stat. 10(2); "
    "Abadie & Imbens (2006, 2016).",
    options=(
        OptionSpec(
            "propensity_model",
            "model",
            None,
            "scikit-learn classifier for P(T=1|X); default a logistic regression on standardised confounders.",
            choices=MODEL_CHOICES, learner="classifier",
        ),
        OptionSpec(
            "caliper",
            "float",
            0.2,
            "Largest allowed distance, in pooled standard deviations of the logit propensity; None disables it.",
            low=0.0, low_inclusive=False, nullable=True,
            none_means="no caliper",
        ),
        _N_NEIGHBORS,
        _REPLACE,
    ),
    limits=MethodLimits(rows_beyond_covariates=2, linear_options=("propensity_model",), needs_overlap=True, reports_overlap=True),
    gives_weights=True, forms_matched_pairs=True, order=40,
)
def propensity_score_matching(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    propensity_model: Any = None,
    caliper: float | None = 0.2,
    n_neighbors: int = 1,
    replace: bool = True,
) -> MethodOutput:
    """Matching on the logit propensity score within a caliper (Austin 2011: 0.2 pooled SD).

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
        The ATE needs ``replace=True``.
    seed : int
        Unused (the default model and the matching are deterministic).
    propensity_model : sklearn classifier or None
        Cloned and fitted by :func:`causal_core.nuisance.models.fit_propensity`.
    caliper : float or None
        Caliper in pooled standard deviations ``sqrt((s_T^2 + s_C^2) / 2)`` of the
        logit propensity. Target units with no match inside it are dropped.
    n_neighbors : int
        Matches per unit (fewer where the caliper leaves fewer).
    replace : bool
        With or without replacement (greedy, highest-distance targets first).

    Notes
    -----
    The standard error is Abadie & Imbens (2006) treating the estimated score
    as known. Abadie & Imbens (2016, Econometrica 84(2)) show that this is
    conservative for the ATE; for the ATT the correction for estimating the
    score can go either way. It is exact when the outcome depends on the
    covariates only through the score, and conservative when covariates
    predict the outcome beyond it (in simulation, 95% intervals covered the
    ATT in 98.5-99.5% of samples of ``simulate.linear_confounded``, n=400).
    """
    from scipy.special import logit
    check_replace_supports(estimand, replace, "propensity_score_matching")
    k = int(n_neighbors)
    caliper_sd = None if caliper is None else float(caliper)
    model = resolve_model(propensity_model, option="propensity_model", method="propensity_score_matching",
                          kind="classifier", seed=seed)
    propensity = fit_propensity(data.X, data.t, data.covariate_names, model)
    score = logit(np.clip(propensity, 1e-12, 1 - 1e-12))
    pooled_sd = float(np.sqrt((score[data.t == 1].var(ddof=1) + score[data.t == 0].var(ddof=1)) / 2))
    caliper_width = None if caliper_sd is None else caliper_sd * pooled_sd
    fit = fit_matching(score, data.y, data.t, estimand, n_neighbors=k, replace=bool(replace), caliper=caliper_width)
    se_method = (
        "Abadie-Imbens (2006) matching variance, propensity score treated as known (conservative for the ATE)"
        if replace
        else "paired-difference variance (no unit reused), propensity score treated as known"
    )
    diagnostics = matching_diagnostics(fit, data.t)
    diagnostics.update(
        n_neighbors=k,
        replace=bool(replace),
        caliper_sd=caliper_sd,
        caliper_logit=caliper_width,
        propensity=propensity,
    )
    reason = "no match within the caliper" if caliper_width is not None else "no unused match was left for them"
    if caliper_width is not None and not replace:
        reason = "no unused match within the caliper"
    warnings = tuple(overlap_warnings(propensity, data.t)) + dropped_warning(fit, data.t, estimand, reason)
    if fit.ties_broken:
        warnings += (_TIES_WARNING,)
    return MethodOutput(
        estimate=fit.estimate,
        inference=analytic_inference(fit.estimate, fit.std_error, detail=se_method),
        weights=fit.weights,
        diagnostics=diagnostics,
        warnings=warnings,
    )
