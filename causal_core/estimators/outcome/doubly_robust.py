"""Doubly robust (augmented IPW) estimators of the ATE, ATT and ATC.

With propensity e(x) and arm-wise outcome regressions m1(x), m0(x):

* ATE (Robins, Rotnitzky & Zhao 1994; Bang & Robins 2005)::

      phi = m1 - m0 + T (Y - m1) / e - (1 - T) (Y - m0) / (1 - e)

* ATT (Mercatanti & Li 2014; Moodie, Saarela & Stephens 2018)::

      tau = sum[ T (Y - m0) - (1 - T) e / (1 - e) (Y - m0) ] / sum T

* ATC, the mirror image::

      tau = sum[ (1 - T) (m1 - Y) + T (1 - e) / e (Y - m1) ] / sum (1 - T)

Each is consistent when either the propensity or the outcome model is right.
The standard error is that of the efficient influence function with the
nuisance functions plugged in (valid when both are consistent; with
cross-fitting this holds for flexible learners too, Chernozhukov et al. 2018).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.options import AtMostRows, AtMostSmallerArm
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators._aipw import aipw_effect
from causal_core.inference import InfluenceFunction
from causal_core.nuisance.models import MODEL_CHOICES, fit_outcome, fit_propensity, overlap_warnings, resolve_model

__all__ = ["doubly_robust", "nuisance_predictions"]

PS_FLOOR = 1e-6


def nuisance_predictions(
    data: PreparedData,
    propensity_model: Any,
    outcome_model: Any,
    *,
    cross_fit: bool,
    n_folds: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Propensity and arm-wise outcome predictions for every row, in-sample or cross-fitted.

    With ``cross_fit`` each row's predictions come from models fitted on the
    other folds (seeded ``KFold``), outcome models within each arm of those folds.
    """
    from sklearn.model_selection import KFold
    X, t, y, names = data.X, data.t, data.y, data.covariate_names
    treated = t == 1
    if not cross_fit:
        ps = fit_propensity(X, t, names, propensity_model)
        mu1 = fit_outcome(X, y, outcome_model, train=treated)
        mu0 = fit_outcome(X, y, outcome_model, train=~treated)
        return ps, mu1, mu0
    from causal_core.compute.backend import map_tasks  # one task per fold on a Dask backend, in fold order

    folds = list(KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(X))
    for train, _ in folds:
        if min(int(treated[train].sum()), int((~treated[train]).sum())) < 2:
            raise CausalInputError(
                f"With n_folds={n_folds} a training fold of method 'doubly_robust' has fewer than 2 treated or "
                "control rows; use fewer folds or cross_fit=False."
            )

    def fit_fold(fold: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        train, test = fold
        return (fit_propensity(X, t, names, propensity_model, train=train, predict=test),
                fit_outcome(X, y, outcome_model, train=train[treated[train]], predict=test),
                fit_outcome(X, y, outcome_model, train=train[~treated[train]], predict=test))

    ps, mu1, mu0 = np.empty(data.n), np.empty(data.n), np.empty(data.n)
    for (_, test), (ps_fold, mu1_fold, mu0_fold) in zip(folds, map_tasks(fit_fold, folds)):
        ps[test], mu1[test], mu0[test] = ps_fold, mu1_fold, mu0_fold
    return ps, mu1, mu0


@register(
    id="doubly_robust",
    label="Doubly robust (AIPW)",
    family="Doubly robust",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Combines an outcome model and a propensity model (augmented IPW); consistent if either is right, "
            "optionally cross-fitted for flexible learners.",
    reference="Robins, Rotnitzky & Zhao (1994); Bang & Robins (2005); Mercatanti & Li (2014); "
              "Moodie, Saarela & Stephens (2018); Chernozhukov et al. (2018).",
    options=(
        OptionSpec("propensity_model", "model", "default", "Classifier for P(T=1|X); default the logit.",
                   choices=MODEL_CHOICES, learner="classifier"),
        OptionSpec("outcome_model", "model", "default", "Regressor for E[Y|X] fitted in each arm; default OLS.",
                   choices=MODEL_CHOICES),
        OptionSpec("cross_fit", "bool", False, "Predict each row from models fitted on the other folds."),
        OptionSpec("n_folds", "int", 5, "Number of cross-fitting folds (seeded).", low=2, high=20,
                   rules=(AtMostRows(divisor=4, when="cross_fit"), AtMostSmallerArm(when="cross_fit"))),
    ),
    limits=MethodLimits(rows_beyond_covariates=2, arm_rows_beyond_covariates=2, linear_options=("propensity_model", "outcome_model"), needs_overlap=True, reports_overlap=True),
    gives_unit_effects=True, ovb_applicable=True, default_ticked=True, order=70,
)
def doubly_robust(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    propensity_model: Any = "default",
    outcome_model: Any = "default",
    cross_fit: bool = False,
    n_folds: int = 5,
) -> MethodOutput:
    """Augmented IPW estimate of the ATE, ATT or ATC with an influence-function standard error.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds the fold split and named random models.
    propensity_model : None, str or scikit-learn classifier
    outcome_model : None, str or scikit-learn regressor
    cross_fit : bool
    n_folds : int

    Returns
    -------
    MethodOutput
        ``unit_effects`` holds m1(x) - m0(x); diagnostics ``propensity``.
    """
    ps_model = resolve_model(propensity_model, option="propensity_model", method="doubly_robust",
                             kind="classifier", seed=seed)
    y_model = resolve_model(outcome_model, option="outcome_model", method="doubly_robust",
                            kind="regressor", seed=seed)
    ps, mu1, mu0 = nuisance_predictions(data, ps_model, y_model, cross_fit=bool(cross_fit),
                                        n_folds=int(n_folds), seed=seed)
    warnings = overlap_warnings(ps, data.t)
    n_floored = int(np.sum((ps < PS_FLOOR) | (ps > 1 - PS_FLOOR)))
    if n_floored:
        warnings.append(
            f"{n_floored} estimated propensities were within {PS_FLOOR:g} of 0 or 1 and were bounded there "
            "to keep the weights finite; the estimate leans heavily on the outcome model."
        )
    ps_used = np.clip(ps, PS_FLOOR, 1 - PS_FLOOR)
    estimate, influence = aipw_effect(data.y, data.t, ps_used, mu1, mu0, estimand)
    diagnostics = {
        "propensity": ps,
    }
    detail = "efficient influence function" + (f" ({n_folds}-fold cross-fitted)" if cross_fit else "")
    return MethodOutput(
        estimate=estimate,
        inference=InfluenceFunction(influence, detail=detail),
        unit_effects=mu1 - mu0,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
