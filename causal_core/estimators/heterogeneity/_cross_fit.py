"""The plug-in learners' default inference: a cross-fitted AIPW influence function (no bootstrap).

The S-, T- and X-learners report the plug-in average of their unit effects.
Its standard error comes from the efficient influence function of the same
average, ``phi = mu1 - mu0 + T (Y - mu1) / e - (1 - T) (Y - mu0) / (1 - e)``
(ATE; the ATT/ATC forms are in :func:`causal_core.estimators._aipw.aipw_effect`),
with the outcome predictions ``mu1, mu0`` and the propensity ``e`` cross-fitted:
every model is fitted once per fold on the other folds' rows and predicts the
held-out rows, so no row's residual comes from a model that saw it. That is
``n_folds`` refits instead of the bootstrap's hundreds, and the variance is
that of an efficient estimator of the same average (Chernozhukov et al. 2018).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from causal_core.estimators._aipw import aipw_effect
from causal_core.nuisance.models import fit_propensity, overlap_warnings

__all__ = ["stratified_folds", "cross_fitted_arms", "cross_fitted_propensity", "plug_in_influence"]

#: ``arms(X_train, t_train, y_train, X_test) -> (mu1_test, mu0_test)``: one learner's outcome models.
ArmPredictor = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def stratified_folds(t: np.ndarray, n_folds: int, *, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded ``(train, test)`` index pairs with both arms in every fold (stratified by treatment)."""
    from sklearn.model_selection import StratifiedKFold
    splitter = StratifiedKFold(n_splits=int(n_folds), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((t.shape[0], 1)), t))


def cross_fitted_arms(arms: ArmPredictor, X: np.ndarray, t: np.ndarray, y: np.ndarray,
                      folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions of both arms' outcomes: each fold predicted by models fitted without it."""
    mu1, mu0 = np.empty(t.shape[0]), np.empty(t.shape[0])
    for train, test in folds:
        mu1[test], mu0[test] = arms(X[train], t[train], y[train], X[test])
    return mu1, mu0


def cross_fitted_propensity(X: np.ndarray, t: np.ndarray, names: tuple[str, ...], model: Any,
                            folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold propensities P(T=1|X) from ``model`` (``None``: the logit)."""
    ps = np.empty(t.shape[0])
    for train, test in folds:
        ps[test] = fit_propensity(X, t, names, model, train=train, predict=test)
    return ps


def plug_in_influence(arms: ArmPredictor, X: np.ndarray, t: np.ndarray, y: np.ndarray, *, estimand: str,
                      n_folds: int, seed: int, names: tuple[str, ...], propensity_model: Any,
                      floor: float) -> tuple[float, np.ndarray, np.ndarray, list[str]]:
    """Cross-fitted AIPW estimate, its influence function, the out-of-fold propensities and overlap warnings.

    ``floor`` bounds the propensities to ``[floor, 1 - floor]`` in the
    influence function (said in a warning when any is bounded).
    """
    folds = stratified_folds(t, n_folds, seed=seed)
    mu1, mu0 = cross_fitted_arms(arms, X, t, y, folds)
    ps = cross_fitted_propensity(X, t, names, propensity_model, folds)
    warnings = overlap_warnings(ps, t)
    bounded = np.clip(ps, floor, 1 - floor)
    if np.any(bounded != ps):
        warnings.append(f"Propensities were bounded to [{floor:g}, {1 - floor:g}] in the influence function.")
    estimate, influence = aipw_effect(y, t, bounded, mu1, mu0, estimand)
    return estimate, influence, ps, warnings
