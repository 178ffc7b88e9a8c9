"""Causal forest (generalised random forest with honest splitting) over cross-fitted DML residuals, via EconML.

EconML's ``CausalForestDML`` (Athey, Tibshirani & Wager 2019; Wager & Athey
2018) first cross-fits the nuisances ``m(x) = E[Y|X=x]`` and
``e(x) = P(T=1|X=x)`` on the project's seeded folds, then grows an honest
forest (each tree splits on one half of its subsample and estimates its
leaves on the other) that solves the local residual-on-residual moment
``E[(Y - m - tau(x)(T - e))(T - e) | X = x] = 0``. Its intervals for
``tau(x)`` come from the bootstrap of little bags over sub-forests.

The average effect is the AIPW contrast built from the forest's out-of-bag
CATE and the cross-fitted nuisances (``mu1 = m + (1 - e) tau``,
``mu0 = m - e tau``), with its influence-function standard error, which for
the ATE is EconML's own ``ate_``; the ATT and ATC use their AIPW forms.
``unit_effects`` are the forest's CATE per row; the diagnostics carry each
row's 95% CATE interval, the variable importance, the best linear projection
of the CATE on the covariates and a calibration test
(:mod:`._cate_checks`). EconML (with numba) is imported only when the method runs.

The trees are grown on every core (EconML draws each tree's subsample and
seed before it starts the threads, so the forest is the same on any number of
them); everything after the fit runs on one thread, because EconML sums the
trees' predictions under a lock in the order the threads finish, and two
threads would give sums that differ in the last bits from run to run.
"""
from __future__ import annotations

import warnings as warnings_module
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.options import AtMostRows, AtMostSmallerArm
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators._aipw import aipw_effect
from causal_core.estimators.heterogeneity._cate_checks import (best_linear_projection, calibration_groups,
                                                               calibration_test, dr_scores)
from causal_core.estimators.heterogeneity._cross_fit import stratified_folds
from causal_core.estimators.heterogeneity._dml_nuisance import FOREST_OUTCOME_MODELS, nuisance_models
from causal_core.inference import InfluenceFunction
from causal_core.nuisance.models import MODEL_CHOICES, overlap_warnings

__all__ = ["causal_forest", "SUBFOREST_SIZE"]

#: Trees per sub-forest of the bootstrap of little bags; ``n_estimators`` must be a multiple of it.
SUBFOREST_SIZE = 4
#: Propensities are bounded to [PS_FLOOR, 1 - PS_FLOOR] in the doubly robust scores.
PS_FLOOR = 0.01
#: Quantile groups of the predicted CATE in the calibration table.
CALIBRATION_GROUPS = 4


@dataclass(frozen=True)
class MultipleOf:
    """The value must be a multiple of ``factor`` (``why`` says what needs it)."""

    factor: int
    why: str

    def problem(self, value: Any, data: Any, options: Any) -> str | None:
        if int(value) % self.factor == 0:
            return None
        return f"a multiple of {self.factor} ({self.why})"


def _importance_frame(names: tuple[str, ...], importance: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"covariate": list(names), "importance": np.asarray(importance, dtype=float).ravel()})
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


@register(
    id="causal_forest", label="Causal forest (CATE, EconML)", family="Heterogeneity",
    required_roles=("confounders",), estimands=("ATE", "ATT", "ATC"),
    summary="An honest generalised random forest on cross-fitted residuals (EconML CausalForestDML): a CATE with "
            "a 95% interval per row, variable importance, the best linear projection and a calibration test.",
    reference="Athey, Tibshirani & Wager (2019), Annals of Statistics 47, 1148-1178; Wager & Athey (2018), JASA "
              "113, 1228-1242; EconML (Battocchi et al. 2019).",
    options=(
        OptionSpec("n_estimators", "int", 200, "Trees in the forest (a multiple of 4: the intervals come from "
                   "sub-forests of 4 trees); more trees give steadier CATEs and intervals.", low=8, high=5000,
                   rules=(MultipleOf(SUBFOREST_SIZE, "the intervals come from sub-forests of 4 trees"),)),
        OptionSpec("min_samples_leaf", "int", 5, "Fewest rows in a leaf of each honest half-sample; larger leaves "
                   "smooth the CATE.", low=1, high=1000, rules=(AtMostRows(divisor=10),)),
        OptionSpec("outcome_model", "model", "linear", "Regressor of the outcome on the covariates, E[Y|X], "
                   "cross-fitted. Linear by default: with a correct propensity model the forest's residual "
                   "moment stays unbiased under a misspecified outcome model, and a flexible one only adds "
                   "noise (it was 8-14% worse in bench/results/heterogeneity_forest.md); 'auto' is EconML's "
                   "choice of the best linear or forest model by cross-validation (slower).",
                   choices=FOREST_OUTCOME_MODELS),
        OptionSpec("propensity_model", "model", None, "Classifier for P(T=1|X), cross-fitted; default the logit.",
                   choices=MODEL_CHOICES, learner="classifier"),
        OptionSpec("n_folds", "int", 5, "Cross-fitting folds of the nuisance models (seeded, stratified by arm).",
                   low=2, high=20, rules=(AtMostRows(divisor=10), AtMostSmallerArm())),
    ),
    limits=MethodLimits(min_rows_per_arm=10, linear_options=("outcome_model", "propensity_model"),
                        rows_beyond_covariates=3, needs_overlap=True, reports_overlap=True,
                        high_dimensional="grows its forest anyway, so it still runs, but the effect rests on the "
                                         "nuisance models' regularisation finding the confounders."),
    gives_unit_effects=True, explores_heterogeneity=True, order=222,
    cheap_test_options=(("n_estimators", 24), ("outcome_model", "linear"), ("n_folds", 2)),
)
def causal_forest(data: PreparedData, *, estimand: str, seed: int, n_estimators: int = 200, min_samples_leaf: int = 5,
                  outcome_model: Any = "linear", propensity_model: Any = None,
                  n_folds: int = 5) -> MethodOutput:
    """Causal-forest unit effects with 95% intervals and the AIPW average effect from the forest.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds the folds, the nuisance models and the forest.
    n_estimators : int
        Trees (a multiple of 4).
    min_samples_leaf : int
    outcome_model : {"linear", "gradient_boosting", "random_forest", "auto"} or scikit-learn regressor
        ``"auto"``: EconML's own selection among linear and forest models by cross-validation.
    propensity_model : None, str or scikit-learn classifier
    n_folds : int

    Returns
    -------
    MethodOutput
        ``unit_effects``: the forest's CATE per row; ``diagnostics["cate_ci_low"]`` and
        ``["cate_ci_high"]`` their 95% intervals; ``"variable_importance"``,
        ``"best_linear_projection"``, ``"calibration_test"`` and ``"calibration_groups"`` tables.
    """
    method = "causal_forest"
    model_y, model_t = nuisance_models(method, outcome_model, propensity_model, seed=seed)
    with threadpool_limits(1):
        return _fit(data, estimand, seed, model_y, model_t, int(n_estimators), int(min_samples_leaf), int(n_folds))


def _fit(data: PreparedData, estimand: str, seed: int, model_y: Any, model_t: Any, n_estimators: int,
         min_samples_leaf: int, n_folds: int) -> MethodOutput:
    from econml.dml import CausalForestDML

    X, t, y = data.X, data.t, data.y
    folds = stratified_folds(t, n_folds, seed=seed)
    forest = CausalForestDML(model_y=model_y, model_t=model_t, discrete_treatment=True, cv=folds,
                             n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, honest=True,
                             inference=True, subforest_size=SUBFOREST_SIZE, random_state=seed, n_jobs=-1,
                             drate=False)
    try:
        with warnings_module.catch_warnings():  # said below in the project's words, with what stands in
            warnings_module.filterwarnings("ignore", message="Could not generate out-of-bag predictions")
            forest.fit(y, t.astype(int), X=X, cache_values=True)
    except ValueError as exc:  # EconML's own refusals (e.g. a fold too small for a leaf) said as ours
        raise CausalInputError(
            f"The causal forest could not be fitted on this data ({exc}); use fewer folds, a smaller "
            "'min_samples_leaf' or more rows.") from None
    for grown in forest.model_final_.estimators_:  # one thread from here on: the trees' predictions are summed
        grown.n_jobs = 1                           # under a lock in thread order, so two threads, two sums
    inference = forest.effect_inference(X)  # the point CATE and its variance in one pass over the trees
    cate = np.asarray(inference.point_estimate, dtype=float).ravel()
    low, high = (np.asarray(bound, dtype=float).ravel() for bound in inference.conf_int(alpha=0.05))
    y_res, t_res = (np.asarray(r, dtype=float).reshape(data.n, -1)[:, 0] for r in forest.residuals_[:2])
    oob = np.asarray(forest.model_final_.oob_predict(X), dtype=float).reshape(data.n)
    warnings: list[str] = []
    if np.any(np.isnan(oob)):
        missing = int(np.isnan(oob).sum())
        rows = "1 row has" if missing == 1 else f"{missing} rows have"
        warnings.append(f"{rows} no out-of-bag forest prediction; the in-sample CATE stands in for it in the "
                        "average effect and the checks (grow more trees).")
        oob = np.where(np.isnan(oob), cate, oob)
    ps = t - t_res
    warnings += overlap_warnings(ps, t)
    ps_used = np.clip(ps, PS_FLOOR, 1 - PS_FLOOR)
    if np.any(ps_used != ps):
        warnings.append(f"Propensities were bounded to [{PS_FLOOR:g}, {1 - PS_FLOOR:g}] in the doubly robust scores.")
    outcome_mean = y - y_res
    mu1, mu0 = outcome_mean + (1 - ps_used) * oob, outcome_mean - ps_used * oob
    estimate, influence = aipw_effect(y, t, ps_used, mu1, mu0, estimand)
    scores = dr_scores(y, t, y_res, t_res, oob, floor=PS_FLOOR)
    names = data.covariate_names
    return MethodOutput(
        estimate=estimate,
        inference=InfluenceFunction(influence, detail=f"influence function of the AIPW average from the forest's "
                                                      f"out-of-bag CATE ({n_folds}-fold cross-fitted nuisances)"),
        unit_effects=cate,
        diagnostics={
            "cate_ci_low": low, "cate_ci_high": high, "cate_sd": float(cate.std()),
            "cate_interval_method": "bootstrap of little bags over sub-forests of 4 trees (EconML), 95%",
            "variable_importance": _importance_frame(names, forest.feature_importances_),
            "best_linear_projection": best_linear_projection(scores, X, names),
            "calibration_test": calibration_test(scores, oob),
            "calibration_groups": calibration_groups(scores, oob, CALIBRATION_GROUPS),
            "propensity": ps, "dr_score": scores, "n_estimators": n_estimators,
        },
        warnings=tuple(warnings),
    )
