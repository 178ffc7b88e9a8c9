"""Data-driven variable decomposition (D2VD; Kuang, Cui, Li, Jiang, Yang & Wang, AAAI 2017).

The paper splits the observed covariates U into confounders X (associated
with the treatment), adjustment variables Z (predict the outcome but are
independent of the treatment) and irrelevant ones, and estimates the effect
from the transformed outcome ``(Y - Z alpha) (T - e(X)) / (e(X)(1 - e(X)))``:
confounders enter the propensity, adjustment variables are regressed out of
the outcome, which removes their share of the outcome variance without
touching the bias (Z is independent of T given X). The paper fits all parts
jointly with L1 penalties and the separation constraint ``alpha * beta = 0``.

This module is a faithful two-stage practical version of it:

1. Standardise U. L1 logistic regression of T on U (penalty chosen by seeded
   K-fold cross-validated log-loss with the one-standard-error rule) gives
   the treatment support; L1 linear regression of Y on T and U (T
   unpenalised, via partialling it out; penalty by CV with the one-SE rule) gives the
   outcome support.
2. Roles, with the paper's separation constraint: a covariate with a
   non-zero treatment coefficient is a confounder; one with a zero
   treatment coefficient but a non-zero outcome coefficient is an
   adjustment variable; the rest are irrelevant.
3. Post-selection refits: an unpenalised logit of T on the confounders gives
   e(x); OLS of Y on T, confounders and adjustment variables gives the
   adjustment coefficients alpha, and Y_adj = Y - (Z - mean Z) alpha.
4. The effect is the Hajek-normalised form of the transformed-outcome (IPW)
   estimator applied to Y_adj, with the ATE/ATT/ATC weights of
   :mod:`causal_core.estimators._propensity_design` (as IPW).

Standard error: the stacked logit + weighted-means influence function of
step 4 (the estimation of alpha adds nothing at first order because Z is
balanced by the weights). It is conditional on the selected roles
(post-selection), so selection uncertainty is not reflected; the tests check
its coverage on a design with strong signals.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.options import AtMostRows, AtMostSmallerArm
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators._propensity_design import hajek_ipw, logit_design
from causal_core.inference import InfluenceFunction
from causal_core.nuisance.models import fit_propensity, overlap_warnings

if TYPE_CHECKING:
    from sklearn.model_selection import KFold

__all__ = ["d2vd", "treatment_support", "outcome_support", "variable_roles"]

N_PENALTIES = 15


def _standardise(X: np.ndarray) -> np.ndarray:
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    return (X - X.mean(axis=0)) / sd


def _one_se_index(mean_loss: np.ndarray, se_loss: np.ndarray, strength: np.ndarray, rule: str) -> int:
    """Index of the chosen penalty: the minimum CV loss, or (``"1se"``) the strongest penalty within one SE of it."""
    best = int(np.argmin(mean_loss))
    if rule == "min":
        return best
    eligible = np.flatnonzero(mean_loss <= mean_loss[best] + se_loss[best])
    return int(eligible[np.argmax(strength[eligible])])


def treatment_support(U: np.ndarray, t: np.ndarray, *, folds: KFold, rule: str) -> np.ndarray:
    """Boolean support of an L1 logistic regression of T on standardised U, penalty by CV log-loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import l1_min_c
    if np.max(np.abs(U.T @ (t - t.mean()))) / t.shape[0] < 1e-10:
        return np.zeros(U.shape[1], dtype=bool)  # no covariate is associated with treatment at all
    base = l1_min_c(U, t, loss="log")
    grid = base * np.logspace(0.05, 3, N_PENALTIES)  # C values, weakest penalty last
    losses = np.zeros((N_PENALTIES, folds.get_n_splits()))
    for f, (train, test) in enumerate(folds.split(U)):
        for j, c in enumerate(grid):
            model = LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear", intercept_scaling=100.0, max_iter=500)
            model.fit(U[train], t[train])
            p = np.clip(model.predict_proba(U[test])[:, 1], 1e-12, 1 - 1e-12)
            losses[j, f] = -np.mean(t[test] * np.log(p) + (1 - t[test]) * np.log(1 - p))
    mean, se = losses.mean(axis=1), losses.std(axis=1, ddof=1) / np.sqrt(losses.shape[1])
    chosen = grid[_one_se_index(mean, se, -grid, rule)]
    model = LogisticRegression(C=chosen, l1_ratio=1.0, solver="liblinear", intercept_scaling=100.0, max_iter=500)
    model.fit(U, t)
    return np.abs(model.coef_[0]) > 1e-8


def outcome_support(U: np.ndarray, t: np.ndarray, y: np.ndarray, *, folds: KFold, rule: str) -> np.ndarray:
    """Boolean support of U in an L1 regression of Y on (T, U) with T unpenalised.

    T is partialled out of Y and of every column of U first (Frisch-Waugh),
    which is the same as leaving its coefficient out of the penalty.
    """
    from sklearn.linear_model import Lasso, LassoCV
    design_t = np.column_stack([np.ones_like(t), t])
    stacked = np.column_stack([y, U])
    coef, *_ = np.linalg.lstsq(design_t, stacked, rcond=None)
    resid = stacked - design_t @ coef
    y_resid, U_resid = resid[:, 0], resid[:, 1:]
    # the lasso path is equivariant in the scale of y: fit on unit scale so that large outcomes cannot overflow
    scale = float(np.std(y_resid))
    y_resid = y_resid / scale if scale > 0 else y_resid
    path = LassoCV(alphas=N_PENALTIES * 2, cv=folds, max_iter=5000).fit(U_resid, y_resid)
    mse = path.mse_path_
    mean, se = mse.mean(axis=1), mse.std(axis=1, ddof=1) / np.sqrt(mse.shape[1])
    alpha = path.alphas_[_one_se_index(mean, se, path.alphas_, rule)]
    coef = Lasso(alpha=alpha, max_iter=5000).fit(U_resid, y_resid).coef_
    return np.abs(coef) > 1e-8


def variable_roles(in_treatment: np.ndarray, in_outcome: np.ndarray) -> list[str]:
    """D2VD's separation: treatment support -> confounder, else outcome support -> adjustment, else irrelevant."""
    return ["confounder" if a else "adjustment" if b else "irrelevant" for a, b in zip(in_treatment, in_outcome)]


@register(
    id="d2vd",
    label="Data-driven variable decomposition (D2VD)",
    family="Weighting",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Sorts covariates into confounders, adjustment variables and irrelevant ones with L1 models, "
            "weights on the confounders and regresses the adjustment variables out of the outcome.",
    reference="Kuang, Cui, Li, Jiang, Yang & Wang (2017), Treatment effect estimation with data-driven "
              "variable decomposition, AAAI.",
    options=(
        OptionSpec("n_folds", "int", 5, "Cross-validation folds for the two L1 penalties (seeded).", low=3, high=20,
                   rules=(AtMostRows(divisor=10), AtMostSmallerArm())),
        OptionSpec("penalty_rule", "choice", "1se",
                   "'1se': strongest penalty within one standard error of the best CV loss (sparser); "
                   "'min': the best CV loss.", choices=("1se", "min")),
    ),
    limits=MethodLimits(min_rows_per_arm=10, needs_overlap=True, reports_overlap=True, high_dimensional="selects covariates with cross-validated L1 penalties, so it still runs, but the effect rests on the lasso finding a sparse confounder set."),
    gives_weights=True, order=80,
)
def d2vd(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    n_folds: int = 5,
    penalty_rule: str = "1se",
) -> MethodOutput:
    """D2VD estimate of the ATE, ATT or ATC (two-stage practical version, see the module docstring).

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds the cross-validation folds.
    n_folds : int
        Folds for choosing the L1 penalties.
    penalty_rule : {"1se", "min"}
        How the cross-validated penalty is chosen.

    Returns
    -------
    MethodOutput
        ``weights`` (one per row), diagnostics ``variable_roles`` (encoded
        covariate -> role), ``propensity`` and ``adjustment_coefficients``.
    """
    from sklearn import config_context
    from sklearn.model_selection import KFold
    X, t, y, names = data.X, data.t, data.y, data.covariate_names
    U = _standardise(X)
    folds = KFold(n_splits=int(n_folds), shuffle=True, random_state=seed)
    with config_context(assume_finite=True, skip_parameter_validation=True):  # inputs checked by prepare()
        in_treatment = treatment_support(U, t, folds=folds, rule=penalty_rule)
        in_outcome = outcome_support(U, t, y, folds=folds, rule=penalty_rule)
    roles = variable_roles(in_treatment, in_outcome)
    confounders = np.array([r == "confounder" for r in roles], dtype=bool)
    adjustment = np.array([r == "adjustment" for r in roles], dtype=bool)
    warnings: list[str] = []
    if not confounders.any():
        warnings.append("No covariate predicts treatment after L1 selection; the estimate is an adjusted "
                        "difference in means, unconfounded only if treatment is as good as random.")

    Xc = X[:, confounders]
    ps = fit_propensity(Xc, t, [n for n, c in zip(names, confounders) if c])
    warnings += overlap_warnings(ps, t)
    Z = X[:, adjustment]
    coefficients = np.zeros(0)
    y_adjusted = y
    if adjustment.any():
        design = np.column_stack([np.ones_like(t), t, Xc, Z])
        fitted, *_ = np.linalg.lstsq(design, y, rcond=None)
        coefficients = fitted[-Z.shape[1]:]
        y_adjusted = y - (Z - Z.mean(axis=0)) @ coefficients
    if np.any((ps <= 0) | (ps >= 1)):
        raise CausalInputError("Some estimated propensities in method 'd2vd' are exactly 0 or 1; "
                               "the selected confounders separate the arms, so no weighting is possible.")
    estimate, influence, weights = hajek_ipw(
        y_adjusted, t, ps, estimand, logit_X=logit_design(Xc) if confounders.any() else None,
    )
    diagnostics = {
        "variable_roles": dict(zip(names, roles)),
        "propensity": ps,
        "adjustment_coefficients": dict(zip([n for n, a in zip(names, adjustment) if a], map(float, coefficients))),
    }
    return MethodOutput(
        estimate=estimate,
        inference=InfluenceFunction(
            influence, "sandwich", "sandwich (stacked logit and weighted means), conditional on the selected roles"),
        weights=weights,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
