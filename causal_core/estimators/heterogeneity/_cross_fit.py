"""Cross-fitting shared by the meta-learners: fold models, their averaged predictions and the AIPW influence function.

Every outcome model is fitted once per fold on the other folds' rows. Two
things come out of the same fits:

* the out-of-fold predictions ``mu1, mu0`` (each row predicted by models that
  never saw it), for the efficient influence function of the average effect,
  ``phi = mu1 - mu0 + T (Y - mu1) / e - (1 - T) (Y - mu0) / (1 - e)``
  (ATE; the ATT/ATC forms are in :func:`causal_core.estimators._aipw.aipw_effect`),
  with a cross-fitted propensity ``e`` (Chernozhukov et al. 2018);
* the mean over the folds of each fold model's predictions at every row, the
  plug-in learners' point predictions (the fold models, bagged), so no extra
  full-sample fit is needed for the unit effects.

With the default of 2 folds a learner fits each of its outcome models twice
on half the rows, where a learner without a standard error fits it once on
all rows; at a few thousand rows a histogram-boosting fit costs about the same
at either size (its 100 trees' fixed costs dominate).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from causal_core.core.errors import CausalInputError
from causal_core.estimators._aipw import aipw_effect
from causal_core.nuisance.models import fit_propensity, overlap_warnings

__all__ = ["stratified_folds", "FoldArms", "cross_fitted_arms", "cross_fitted_propensity", "plug_in_influence"]

#: ``arms(X_train, t_train, y_train, X_new) -> (mu1_new, mu0_new)``: one learner's outcome models, fitted and predicting.
ArmPredictor = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def stratified_folds(t: np.ndarray, n_folds: int, *, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded ``(train, test)`` index pairs with both arms in every fold (stratified by treatment)."""
    from sklearn.model_selection import StratifiedKFold
    splitter = StratifiedKFold(n_splits=int(n_folds), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((t.shape[0], 1)), t))


@dataclass(frozen=True)
class FoldArms:
    """Both arms' predicted outcomes from the fold models.

    ``mu1``/``mu0``: out-of-fold (row ``i`` from the models fitted without
    its fold). ``mu1_mean``/``mu0_mean``: the mean over the folds of each fold
    model's prediction at every row (``None`` when not asked for).
    """

    mu1: np.ndarray
    mu0: np.ndarray
    mu1_mean: np.ndarray | None = None
    mu0_mean: np.ndarray | None = None


def cross_fitted_arms(arms: ArmPredictor, X: np.ndarray, t: np.ndarray, y: np.ndarray,
                      folds: list[tuple[np.ndarray, np.ndarray]], *, method: str,
                      average: bool = True) -> FoldArms:
    """Fit ``arms`` once per fold; out-of-fold predictions and (``average``) the fold models' mean prediction.

    Raises :class:`CausalInputError` when a training fold has fewer than 2
    treated or control rows.
    """
    from causal_core.compute.backend import map_tasks  # one task per fold on a Dask backend, in fold order

    n = t.shape[0]
    mu1, mu0 = np.empty(n), np.empty(n)
    sum1, sum0 = (np.zeros(n), np.zeros(n)) if average else (None, None)
    for train, _ in folds:
        arms_in_train = np.bincount(t[train].astype(int), minlength=2)
        if arms_in_train.min() < 2:
            raise CausalInputError(
                f"With n_folds={len(folds)} a training fold of method '{method}' has fewer than 2 treated or "
                "control rows; use fewer folds.")

    def fit_fold(fold: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        train, test = fold
        return arms(X[train], t[train], y[train], X if average else X[test])

    for (train, test), (pred1, pred0) in zip(folds, map_tasks(fit_fold, folds)):
        if average:
            mu1[test], mu0[test] = pred1[test], pred0[test]
            sum1 += pred1
            sum0 += pred0
        else:
            mu1[test], mu0[test] = pred1, pred0
    if not average:
        return FoldArms(mu1, mu0)
    return FoldArms(mu1, mu0, sum1 / len(folds), sum0 / len(folds))


def cross_fitted_propensity(X: np.ndarray, t: np.ndarray, names: tuple[str, ...], model: Any,
                            folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold propensities P(T=1|X) from ``model`` (``None``: the logit)."""
    from causal_core.compute.backend import map_tasks  # one task per fold on a Dask backend, in fold order

    ps = np.empty(t.shape[0])
    fitted = map_tasks(lambda fold: fit_propensity(X, t, names, model, train=fold[0], predict=fold[1]), folds)
    for (_, test), values in zip(folds, fitted):
        ps[test] = values
    return ps


def plug_in_influence(fold_arms: FoldArms, ps: np.ndarray, t: np.ndarray, y: np.ndarray, *, estimand: str,
                      floor: float, where: str = "influence function") -> tuple[float, np.ndarray, np.ndarray, list[str]]:
    """Cross-fitted AIPW estimate, its influence function, the bounded propensities and overlap warnings.

    ``ps`` are the out-of-fold propensities; ``floor`` bounds them to
    ``[floor, 1 - floor]`` (said in a warning, naming ``where``, when any is bounded).
    """
    warnings = overlap_warnings(ps, t)
    bounded = np.clip(ps, floor, 1 - floor)
    if np.any(bounded != ps):
        warnings.append(f"Propensities were bounded to [{floor:g}, {1 - floor:g}] in the {where}.")
    estimate, influence = aipw_effect(y, t, bounded, fold_arms.mu1, fold_arms.mu0, estimand)
    return estimate, influence, bounded, warnings
