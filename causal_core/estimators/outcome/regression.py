"""Outcome-regression adjustment: OLS with robust standard errors, or imputation with any regressor.

* Default: OLS of Y on T and the confounders; the coefficient on T with an
  HC2 (heteroskedasticity-robust) standard error. It equals the ATE, ATT and
  ATC only when the effect is the same for everyone.
* ``interactions=True``: OLS of Y on T, the confounders centred at the mean
  of the target population (all rows, treated or control rows) and their
  products with T (Lin 2013; Imbens & Wooldridge 2009, sec. 5.3). The
  coefficient on T is then the target population's average effect. Its
  standard error adds to the HC2 variance the sampling variance of the
  target means, delta' Cov(mean X) delta, where delta are the interaction
  coefficients, so the interval covers the population (not only the
  in-sample) effect.
* ``outcome_model`` given: a regressor is fitted separately in each arm
  (a "T-learner") and the potential outcomes are imputed (g-computation,
  Hernan & Robins ch. 13); the standard error is a seeded bootstrap that
  refits both models (stratified by arm).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.limits import MethodLimits
from causal_core.core.options import n_boot_option
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.inference import bootstrap, Bootstrap, analytic_inference
from causal_core.nuisance.models import MODEL_CHOICES, fit_outcome, resolve_model

__all__ = ["regression_adjustment", "ols_effect", "imputation_effect"]


def _target_rows(t: np.ndarray, estimand: str) -> np.ndarray:
    if estimand == "ATT":
        return t == 1
    if estimand == "ATC":
        return t == 0
    return np.ones(t.shape[0], dtype=bool)


def ols_effect(X: np.ndarray, t: np.ndarray, y: np.ndarray, estimand: str, *, interactions: bool) -> tuple[float, float, np.ndarray]:
    """OLS coefficient on the treatment and its robust standard error.

    Returns ``(estimate, std_error, unit_effects)``; with ``interactions`` the
    unit effects vary with the covariates, otherwise they are constant.
    """
    import statsmodels.api as sm
    target = _target_rows(t, estimand)
    centred = X - X[target].mean(axis=0) if X.shape[1] else X
    blocks = [np.ones_like(t), t, centred]
    if interactions and X.shape[1]:
        blocks.append(centred * t[:, None])
    design = np.column_stack(blocks)
    fit = sm.OLS(y, design).fit(cov_type="HC2")
    estimate = float(fit.params[1])
    variance = float(fit.cov_params()[1, 1])
    if interactions and X.shape[1]:
        k = X.shape[1]
        delta = np.asarray(fit.params[2 + k: 2 + 2 * k])
        rows = X[target]
        mean_cov = np.atleast_2d(np.cov(rows, rowvar=False)) / rows.shape[0]
        variance += float(delta @ mean_cov @ delta)
        unit_effects = estimate + centred @ delta
    else:
        unit_effects = np.full(t.shape[0], estimate)
    return estimate, float(np.sqrt(variance)), unit_effects


def imputation_effect(
    X: np.ndarray, t: np.ndarray, y: np.ndarray, estimand: str, model: Any
) -> tuple[float, np.ndarray]:
    """Impute both potential outcomes with one model per arm and average over the target rows.

    For the ATT the treated rows' observed outcomes are used (only Y(0) is
    imputed there), for the ATC the controls' (only Y(1) is imputed).
    Returns ``(estimate, unit_effects)``.
    """
    treated = t == 1
    mu1 = fit_outcome(X, y, model, train=treated)
    mu0 = fit_outcome(X, y, model, train=~treated)
    if estimand == "ATT":
        estimate = float(np.mean(y[treated] - mu0[treated]))
    elif estimand == "ATC":
        estimate = float(np.mean(mu1[~treated] - y[~treated]))
    else:
        estimate = float(np.mean(mu1 - mu0))
    return estimate, mu1 - mu0


@register(
    id="regression_adjustment",
    label="Outcome regression (g-computation)",
    family="Outcome regression",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Models the outcome given treatment and confounders and contrasts the predictions "
            "(OLS with robust errors, optionally treatment-by-covariate interactions or any regressor).",
    reference="Imbens & Wooldridge (2009), sec. 5.3; Lin (2013); Hernan & Robins, Causal Inference: What If, ch. 13.",
    options=(
        OptionSpec("interactions", "bool", False,
                   "Interact treatment with the (centred) confounders so the effect may vary with them."),
        OptionSpec("outcome_model", "model", "default",
                   "Regressor fitted in each arm to impute potential outcomes; default OLS as described above.",
                   choices=MODEL_CHOICES),
        n_boot_option(200, "Bootstrap replicates for the standard error when an outcome_model is given."),
    ),
    limits=MethodLimits(rows_beyond_covariates=3, arm_rows_beyond_covariates=2, arm_rule_option="interactions", linear_options=("outcome_model",)),
    gives_unit_effects=True, ovb_applicable=True, default_ticked=True, order=50,
    cheap_test_options=(("n_boot", 50),),
)
def regression_adjustment(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    interactions: bool = False,
    outcome_model: Any = "default",
    n_boot: int = 200,
) -> MethodOutput:
    """Regression adjustment estimate of the ATE, ATT or ATC.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds the bootstrap (and a named random outcome model).
    interactions : bool
        Fit treatment-by-covariate interactions (ignored with an ``outcome_model``,
        which is always fitted separately by arm).
    outcome_model : None, str or scikit-learn regressor
        When given, the imputation (T-learner) estimator with a bootstrap standard error.
    n_boot : int
        Bootstrap replicates (only with ``outcome_model``).

    Returns
    -------
    MethodOutput
        ``unit_effects`` holds each row's predicted effect.
    """
    model = resolve_model(outcome_model, option="outcome_model", method="regression_adjustment",
                          kind="regressor", seed=seed)
    X, t, y = data.X, data.t, data.y
    warnings: list[str] = []
    if model is None:
        estimate, se, unit_effects = ols_effect(X, t, y, estimand, interactions=bool(interactions))
        inference = analytic_inference(estimate, se, detail="HC2 robust" + (" plus sampling of target means"
                                                                            if interactions else ""))
        if not interactions and estimand != "ATE":
            warnings.append(
                f"Without interactions the coefficient on treatment is the {estimand} only if the effect is the same "
                "for everyone; set interactions=True to let it vary with the confounders."
            )
        return MethodOutput(estimate=estimate, inference=inference, unit_effects=unit_effects,
                            warnings=tuple(warnings))

    estimate, unit_effects = imputation_effect(X, t, y, estimand, model)
    inference = Bootstrap(lambda idx: imputation_effect(X[idx], t[idx], y[idx], estimand, model)[0],
                          n_boot=int(n_boot), strata=t, interval="normal",
                          detail=f"bootstrap ({n_boot} replicates, stratified by arm)")
    return MethodOutput(estimate=estimate, inference=inference, unit_effects=unit_effects, warnings=tuple(warnings))
