"""Double machine learning: the partially linear model and its R-learner, with sandwich standard errors.

With cross-fitted residuals ``Y~ = Y - m(X)`` (``m(x) = E[Y|X=x]``) and
``T~ = T - e(X)`` (``e(x) = P(T=1|X=x)``), each from models fitted on the
other folds (Chernozhukov et al. 2018), the R-learner (Nie & Wager 2021)
minimises ``sum (Y~ - tau(X) T~)^2`` over ``tau(x) = F(x)' beta`` for a basis
``F`` of the covariates (:mod:`._cate_basis`), i.e. the OLS of ``Y~`` on
``T~ F(X)``:

* ``final_model="constant"``: ``F = 1``, the residual-on-residual slope
  ``theta = sum T~ Y~ / sum T~^2`` of the partially linear model
  ``Y = theta T + g(X) + e``. With varying effects it is the average effect
  weighted by ``e(1 - e)`` (the overlap-weighted average), not the ATE.
* ``final_model="linear"`` (EconML's ``LinearDML``): ``F = [1, x]``.
* ``"polynomial"`` (squares), ``"polynomial_interactions"`` (squares and
  pairwise products), ``"splines"`` (additive cubic B-splines).
* ``"auto"`` (default): the smallest of the non-constant bases within one
  paired standard error of the lowest cross-validated R-loss
  (:func:`._cate_basis.choose_basis`), reported in the diagnostics. On
  ``bench/heterogeneity_forest.py`` it kept ``"linear"`` in 8 of 8 draws of
  a linear effect and took squares in 8 of 8 of a quadratic one (sqrt(PEHE)
  0.317 against 0.744 for ``"linear"``, per-row coverage 0.93 against 0.52);
  on LaLonde it keeps ``"linear"`` except on PSID.

The ATE, ATT or ATC is the mean of ``tau`` over all, treated or control rows.
Its standard error comes from the influence function of that mean: the
sandwich (HC0) influence of ``beta`` (cross-fitting makes the nuisances'
estimation negligible: Neyman orthogonality) carried through the target
mean, plus the sampling of the target rows' covariates. Each row's 95% CATE
interval is ``F(x)' beta +- 1.96 sqrt(F(x)' V F(x))`` with ``V`` the same HC0
sandwich covariance of ``beta``; it is valid for ``tau(x)`` when the effect
lies in the basis (otherwise it covers the effect's best approximation in the
basis), and with ``"auto"`` it is conditional on the chosen basis.
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
from causal_core.estimators.heterogeneity._cate_basis import (AUTO_CANDIDATES, ROWS_PER_TERM, Basis,
                                                              BasisFitsRows, cate_basis, choose_basis, unit_scaled)
from causal_core.estimators.heterogeneity._cross_fit import cross_fitted_propensity, stratified_folds
from causal_core.estimators.heterogeneity._dml_nuisance import OUTCOME_MODELS, nuisance_models
from causal_core.inference import Z_95, InfluenceFunction
from causal_core.nuisance.models import MODEL_CHOICES, fit_outcome, overlap_warnings

__all__ = ["dml", "dml_residuals", "r_learner_fit", "cate_intervals", "FINAL_MODELS"]

#: The final stage's bases and "auto", the choice among the non-constant ones.
FINAL_MODELS = ("linear", "constant", "polynomial", "polynomial_interactions", "splines", "auto")


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
    Both are computed on columns scaled to unit root mean square and scaled
    back, the same numbers in exact arithmetic: squares of earnings (about
    1e9) beside 0/1 columns would otherwise make ``D'D`` too ill-conditioned
    for the pseudo-inverse, which would drop directions and shrink the SEs.
    """
    D, scale = unit_scaled(t_res[:, None] * F)
    beta, *_ = np.linalg.lstsq(D, y_res, rcond=None)
    residual = y_res - D @ beta
    bread = np.linalg.pinv(D.T @ D / D.shape[0])
    return beta / scale, ((D * residual[:, None]) @ bread.T) / scale


def cate_intervals(F: np.ndarray, beta: np.ndarray, influence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row 95% intervals of ``F(x)' beta`` from the HC0 covariance ``V = influence' influence / n^2``.

    ``se_i = sqrt(F_i' V F_i)``, computed through the ``k x k`` matrix ``V`` so
    that memory stays ``n x k``.
    """
    n = influence.shape[0]
    covariance = influence.T @ influence / n**2
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", F, covariance, F), 0.0))
    effects = F @ beta
    return effects - Z_95 * se, effects + Z_95 * se


def _coefficient_frame(terms: tuple[str, ...], beta: np.ndarray, influence: np.ndarray) -> pd.DataFrame:
    from scipy import stats

    n = influence.shape[0]
    se = np.sqrt(np.sum(influence**2, axis=0)) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(beta / se))
    return pd.DataFrame({"term": list(terms), "estimate": beta, "std_error": se, "ci_low": beta - Z_95 * se,
                         "ci_high": beta + Z_95 * se, "p_value": p})


def _final_basis(data: PreparedData, final_model: str, y_res: np.ndarray, t_res: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Basis, pd.DataFrame | None, list[str]]:
    """The final stage's basis (chosen by the cross-validated R-loss for "auto"), the choice table, notes."""
    X, names = data.X, data.covariate_names
    if final_model != "auto":
        return cate_basis(X, names, final_model), None, []
    limit = data.n // ROWS_PER_TERM
    built = [cate_basis(X, names, name) for name in AUTO_CANDIDATES]
    bases = [basis for basis in built if basis.name == "linear" or basis.size <= limit]
    skipped = [basis.name for basis in built if basis.name != "linear" and basis.size > limit]
    notes = [f"final_model='auto' left out {', '.join(repr(s) for s in skipped)}: more than one term per "
             f"{ROWS_PER_TERM} rows on these covariates."] if skipped else []
    bases.sort(key=lambda basis: basis.size)
    chosen, table = choose_basis(y_res, t_res, bases, folds)
    return next(basis for basis in bases if basis.name == chosen), table, notes


_BASIS_WORDS = {"constant": "constant effect (partially linear)", "linear": "effect linear in the covariates",
                "polynomial": "effect quadratic in each covariate",
                "polynomial_interactions": "effect quadratic with pairwise interactions",
                "splines": "effect additive in cubic splines of the covariates"}


@register(
    id="dml", label="Double ML (partially linear / R-learner)", family="Heterogeneity",
    required_roles=("confounders",), estimands=("ATE", "ATT", "ATC"),
    summary="Cross-fitted outcome and treatment residuals; the effect is the residual-on-residual regression "
            "(constant, linear as EconML's LinearDML, polynomial or splines in the covariates, or the basis chosen "
            "by the cross-validated R-loss) with sandwich standard errors and a 95% CATE interval per row.",
    reference="Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins (2018), Econometrics Journal 21, "
              "C1-C68; Nie & Wager (2021), Biometrika 108, 299-319.",
    options=(
        OptionSpec("final_model", "choice", "auto", "The basis of the effect tau(x) (an R-learner CATE per row "
                   "with a sandwich 95% interval): 'linear' in the covariates; 'polynomial' adds their squares, "
                   "'polynomial_interactions' also their pairwise products; 'splines' is additive cubic splines; "
                   "'auto' takes the smallest of these whose cross-validated R-loss is within one standard error "
                   "of the best (reported with the result); 'constant': one effect, the partially linear model "
                   "(with varying effects, an average weighted by e(1 - e)). A basis richer than linear needs 10 "
                   "rows per term.", choices=FINAL_MODELS, rules=(BasisFitsRows(),)),
        OptionSpec("outcome_model", "model", "gradient_boosting", "Regressor of the outcome on the covariates, "
                   "E[Y|X], cross-fitted.", choices=OUTCOME_MODELS),
        OptionSpec("propensity_model", "model", None, "Classifier for P(T=1|X), cross-fitted; default the logit.",
                   choices=MODEL_CHOICES, learner="classifier"),
        OptionSpec("n_folds", "int", 5, "Cross-fitting folds of the nuisance models (seeded, stratified by arm); "
                   "'auto' scores the bases on the same folds.",
                   low=2, high=20, rules=(AtMostRows(divisor=10), AtMostSmallerArm())),
    ),
    limits=MethodLimits(min_rows_per_arm=10, rows_beyond_covariates=3, needs_overlap=True, reports_overlap=True),
    gives_unit_effects=True, explores_heterogeneity=True, order=221,
    cheap_test_options=(("outcome_model", "linear"), ("n_folds", 3)),
)
def dml(data: PreparedData, *, estimand: str, seed: int, final_model: str = "auto",
        outcome_model: Any = "gradient_boosting", propensity_model: Any = None, n_folds: int = 5) -> MethodOutput:
    """Double machine learning effect (partially linear or R-learner) with influence-function SEs.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds the folds and the nuisance models.
    final_model : {"linear", "constant", "polynomial", "polynomial_interactions", "splines", "auto"}
    outcome_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
    propensity_model : None, str or scikit-learn classifier
    n_folds : int

    Returns
    -------
    MethodOutput
        ``unit_effects``: ``tau(x)`` per row; ``diagnostics["cate_ci_low"]`` and ``["cate_ci_high"]`` their
        95% sandwich intervals, ``"cate_coefficients"`` the coefficients of the basis, ``"cate_basis"`` its
        name and, for ``"auto"``, ``"cate_basis_selection"`` the cross-validated R-loss of every candidate.
    """
    model_y, model_t = nuisance_models("dml", outcome_model, propensity_model, seed=seed)
    X, t, y = data.X, data.t, data.y
    with threadpool_limits(1):  # one thread: the same numbers on every machine, and the basis choice with them
        folds = stratified_folds(t, int(n_folds), seed=seed)
        y_res, t_res, ps = dml_residuals(X, t, y, data.covariate_names, model_y, model_t, folds)
        basis, selection, notes = _final_basis(data, final_model, y_res, t_res, folds)
        F = basis.matrix
        beta, beta_influence = r_learner_fit(y_res, t_res, F)
    effects = F @ beta
    low, high = cate_intervals(F, beta, beta_influence)
    target = target_rows(t, estimand)
    share = float(target.mean())
    estimate = float(effects[target].mean())
    influence = beta_influence @ F[target].mean(axis=0) + target / share * (effects - estimate)
    warnings = overlap_warnings(ps, t) + notes
    if basis.name == "constant":
        warnings.append("The partially linear model gives every row the same effect, the average weighted by "
                        "e(1 - e); its ATT and ATC equal it, and it is the ATE only when the effect does not vary.")
    final = _BASIS_WORDS[basis.name] + (" (R-learner)" if basis.name != "constant" else "")
    chosen = " chosen by cross-validated R-loss" if selection is not None else ""
    diagnostics = {"cate_coefficients": _coefficient_frame(basis.terms, beta, beta_influence),
                   "cate_basis": basis.name, "cate_ci_low": low, "cate_ci_high": high,
                   "cate_interval_method": f"HC0 sandwich of the final-stage OLS ({basis.name} basis{chosen}, "
                                           f"{basis.size} terms), 95%; it covers the effect where the effect lies "
                                           "in the basis",
                   "propensity": ps, "cate_sd": float(effects.std()),
                   "residual_treatment_variance": float(np.mean(t_res**2))}
    if selection is not None:
        diagnostics["cate_basis_selection"] = selection
    return MethodOutput(
        estimate=estimate,
        inference=InfluenceFunction(influence, method="sandwich",
                                    detail=f"sandwich influence function of the {final}{chosen} on {n_folds}-fold "
                                           "cross-fitted residuals, plus the sampling of the target rows"),
        unit_effects=effects,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
