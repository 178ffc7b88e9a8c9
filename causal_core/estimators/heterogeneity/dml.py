"""Double machine learning: the partially linear model and its linear R-learner, with a sandwich standard error.

With cross-fitted residuals ``Y~ = Y - m(X)`` (``m(x) = E[Y|X=x]``) and
``T~ = T - e(X)`` (``e(x) = P(T=1|X=x)``), each from models fitted on the
other folds (Chernozhukov et al. 2018), the R-learner (Nie & Wager 2021)
minimises ``sum (Y~ - tau(X) T~)^2``:

* ``final_model="constant"``: ``tau`` is one number, the residual-on-residual
  OLS slope ``theta = sum T~ Y~ / sum T~^2`` of the partially linear model
  ``Y = theta T + g(X) + e``. With varying effects it is the average effect
  weighted by ``e(1 - e)`` (the overlap-weighted average), not the ATE.
* ``final_model="linear"`` (default, EconML's ``LinearDML``): ``tau(x) =
  [1, x]' beta``, the OLS of ``Y~`` on ``T~ [1, X]``; the ATE, ATT or ATC is
  the mean of ``tau`` over all, treated or control rows.

The standard error comes from the influence function of that mean: the
sandwich (HC0) influence of ``beta`` (cross-fitting makes the nuisances'
estimation negligible: Neyman orthogonality) carried through the target
mean, plus the sampling of the target rows' covariates.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from causal_core.core.data import PreparedData, target_rows
from causal_core.core.limits import MethodLimits
from causal_core.core.options import AtMostRows, AtMostSmallerArm
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators.heterogeneity._cross_fit import cross_fitted_propensity, stratified_folds
from causal_core.estimators.heterogeneity._dml_nuisance import OUTCOME_MODELS, nuisance_models
from causal_core.inference import InfluenceFunction
from causal_core.nuisance.models import MODEL_CHOICES, fit_outcome, overlap_warnings

__all__ = ["dml", "dml_residuals", "r_learner_fit"]

FINAL_MODELS = ("linear", "constant")


def dml_residuals(X: np.ndarray, t: np.ndarray, y: np.ndarray, names: tuple[str, ...], model_y: Any, model_t: Any,
                  folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-fitted ``(Y - m(X), T - e(X), e(X))``: every row predicted by models fitted without its fold."""
    m = np.empty(t.shape[0])
    for train, test in folds:
        m[test] = fit_outcome(X, y, model_y, train=train, predict=test)
    ps = cross_fitted_propensity(X, t, names, model_t, folds)
    return y - m, t - ps, ps


def r_learner_fit(y_res: np.ndarray, t_res: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients ``beta`` of ``tau(x) = F(x)' beta`` and their influence (one row per unit, ``n x k``).

    ``beta`` is the OLS of ``y_res`` on ``t_res * F``; the influence of row i is
    ``(D'D / n)^-1 D_i e_i`` (the HC0 sandwich: ``cov = influence' influence / n^2``).
    """
    D = t_res[:, None] * F
    beta, *_ = np.linalg.lstsq(D, y_res, rcond=None)
    residual = y_res - D @ beta
    bread = np.linalg.pinv(D.T @ D / D.shape[0])
    return beta, (D * residual[:, None]) @ bread.T


def _coefficient_frame(terms: list[str], beta: np.ndarray, influence: np.ndarray) -> pd.DataFrame:
    from scipy import stats

    n = influence.shape[0]
    se = np.sqrt(np.sum(influence**2, axis=0)) / n
    z = stats.norm.ppf(0.975)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(beta / se))
    return pd.DataFrame({"term": terms, "estimate": beta, "std_error": se, "ci_low": beta - z * se,
                         "ci_high": beta + z * se, "p_value": p})


@register(
    id="dml", label="Double ML (partially linear / R-learner)", family="Heterogeneity",
    required_roles=("confounders",), estimands=("ATE", "ATT", "ATC"),
    summary="Cross-fitted outcome and treatment residuals; the effect is the residual-on-residual regression "
            "(constant, or linear in the covariates as EconML's LinearDML) with a sandwich standard error.",
    reference="Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins (2018), Econometrics Journal 21, "
              "C1-C68; Nie & Wager (2021), Biometrika 108, 299-319.",
    options=(
        OptionSpec("final_model", "choice", "linear", "'linear': the effect is linear in the covariates (an R-learner "
                   "CATE per row); 'constant': one effect, the partially linear model (with varying effects, an "
                   "average weighted by e(1 - e)).", choices=FINAL_MODELS),
        OptionSpec("outcome_model", "model", "gradient_boosting", "Regressor of the outcome on the covariates, "
                   "E[Y|X], cross-fitted.", choices=OUTCOME_MODELS),
        OptionSpec("propensity_model", "model", None, "Classifier for P(T=1|X), cross-fitted; default the logit.",
                   choices=MODEL_CHOICES, learner="classifier"),
        OptionSpec("n_folds", "int", 5, "Cross-fitting folds of the nuisance models (seeded, stratified by arm).",
                   low=2, high=20, rules=(AtMostRows(divisor=10), AtMostSmallerArm())),
    ),
    limits=MethodLimits(min_rows_per_arm=10, rows_beyond_covariates=3, needs_overlap=True, reports_overlap=True),
    gives_unit_effects=True, explores_heterogeneity=True, order=221,
    cheap_test_options=(("outcome_model", "linear"), ("n_folds", 3)),
)
def dml(data: PreparedData, *, estimand: str, seed: int, final_model: str = "linear",
        outcome_model: Any = "gradient_boosting", propensity_model: Any = None, n_folds: int = 5) -> MethodOutput:
    """Double machine learning effect (partially linear or linear R-learner) with an influence-function SE.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds the folds and the nuisance models.
    final_model : {"linear", "constant"}
    outcome_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
    propensity_model : None, str or scikit-learn classifier
    n_folds : int

    Returns
    -------
    MethodOutput
        ``unit_effects``: ``tau(x)`` per row; ``diagnostics["cate_coefficients"]`` its coefficients.
    """
    model_y, model_t = nuisance_models("dml", outcome_model, propensity_model, seed=seed)
    X, t, y = data.X, data.t, data.y
    with threadpool_limits(1):
        folds = stratified_folds(t, int(n_folds), seed=seed)
        y_res, t_res, ps = dml_residuals(X, t, y, data.covariate_names, model_y, model_t, folds)
    constant = final_model == "constant"
    F = np.ones((data.n, 1)) if constant else np.column_stack([np.ones(data.n), X])
    terms = ["effect"] if constant else ["intercept", *data.covariate_names]
    beta, beta_influence = r_learner_fit(y_res, t_res, F)
    effects = F @ beta
    target = target_rows(t, estimand)
    share = float(target.mean())
    estimate = float(effects[target].mean())
    influence = beta_influence @ F[target].mean(axis=0) + target / share * (effects - estimate)
    warnings = overlap_warnings(ps, t)
    if constant:
        warnings.append("The partially linear model gives every row the same effect, the average weighted by "
                        "e(1 - e); its ATT and ATC equal it, and it is the ATE only when the effect does not vary.")
    final = "constant effect (partially linear)" if constant else "effect linear in the covariates (R-learner)"
    return MethodOutput(
        estimate=estimate,
        inference=InfluenceFunction(influence, method="sandwich",
                                    detail=f"sandwich influence function of the {final} on {n_folds}-fold "
                                           "cross-fitted residuals, plus the sampling of the target rows"),
        unit_effects=effects,
        diagnostics={"cate_coefficients": _coefficient_frame(terms, beta, beta_influence),
                     "propensity": ps, "cate_sd": float(effects.std()),
                     "residual_treatment_variance": float(np.mean(t_res**2))},
        warnings=tuple(warnings),
    )
