"""Nuisance models shared by estimators: propensity scores and outcome regressions.

Models are scikit-learn estimators that the caller may swap (option
``propensity_model`` / ``outcome_model``); they are cloned before fitting, so
the caller's object is never fitted in place.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import CausalInputError, plain

__all__ = [
    "default_propensity_model",
    "default_outcome_model",
    "fit_propensity",
    "fit_outcome",
    "check_separation",
    "overlap_warnings",
    "MODEL_CHOICES",
    "resolve_model",
]

PS_EXTREME = 0.01


def default_propensity_model() -> Any:
    """Unpenalised logistic regression on standardised covariates (the textbook logit)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=5000))


def default_outcome_model() -> Any:
    """Ordinary least squares."""
    from sklearn.linear_model import LinearRegression
    return LinearRegression()


def check_separation(X: np.ndarray, t: np.ndarray, names: tuple[str, ...] | list[str]) -> None:
    """Raise if one covariate perfectly separates treated from control rows.

    A perfectly separating covariate makes the propensity 0 or 1 for every
    unit, so no adjustment is possible; the message names the column.
    """
    treated = t == 1
    for j, name in enumerate(names):
        column = X[:, j]
        if np.ptp(column) == 0:
            continue
        if column[treated].min() > column[~treated].max() or column[treated].max() < column[~treated].min():
            raise CausalInputError(
                f"Covariate '{name}' perfectly separates treated from control rows (perfect separation); "
                "the groups do not overlap, so drop it or restrict the sample."
            )


def fit_propensity(
    X: np.ndarray,
    t: np.ndarray,
    names: tuple[str, ...] | list[str] = (),
    model: Any = None,
    *,
    train: np.ndarray | None = None,
    predict: np.ndarray | None = None,
) -> np.ndarray:
    """Estimated P(T=1 | X) for the rows in ``predict`` (default all), fitted on ``train`` (default all).

    Raises :class:`CausalInputError` on perfect separation (one covariate or
    the fitted model classifying every unit with certainty).
    """
    from sklearn.base import clone, is_classifier
    if X.shape[1] == 0:
        share = float(t.mean() if train is None else t[train].mean())
        n = X.shape[0] if predict is None else int(np.size(X[predict], 0))
        return np.full(n, share)
    names = list(names) or [f"x{j}" for j in range(X.shape[1])]
    check_separation(X, t, names)
    model = clone(model) if model is not None else default_propensity_model()
    if not is_classifier(model) and not hasattr(model, "predict_proba"):
        raise CausalInputError("Option 'propensity_model' must be a scikit-learn classifier with predict_proba.")
    rows = slice(None) if train is None else train
    model.fit(X[rows], t[rows].astype(int))
    target = X if predict is None else X[predict]
    ps = model.predict_proba(target)[:, list(model.classes_).index(1)]
    fitted = ps if predict is None and train is None else model.predict_proba(X[rows])[:, list(model.classes_).index(1)]
    tt = t[rows]
    if np.all((fitted > 1 - 1e-8) == (tt == 1)) and np.all((fitted < 1e-8) == (tt == 0)):
        raise CausalInputError(
            "The covariates perfectly separate treated from control rows (perfect separation in the propensity model); "
            "remove covariates that determine treatment or restrict the sample."
        )
    return ps


def fit_outcome(
    X: np.ndarray,
    y: np.ndarray,
    model: Any = None,
    *,
    train: np.ndarray | None = None,
    predict: np.ndarray | None = None,
) -> np.ndarray:
    """Predicted E[Y | X] for ``predict`` rows from a model fitted on ``train`` rows."""
    from sklearn.base import clone
    model = clone(model) if model is not None else default_outcome_model()
    rows = slice(None) if train is None else train
    Xt = X[rows] if X.shape[1] else np.zeros((np.size(y[rows]), 1))
    model.fit(Xt, y[rows])
    target = X if predict is None else X[predict]
    if target.shape[1] == 0:
        target = np.zeros((target.shape[0], 1))
    return np.asarray(model.predict(target), dtype=float)


def overlap_warnings(ps: np.ndarray, t: np.ndarray, *, threshold: float = PS_EXTREME) -> list[str]:
    """Warnings for propensities near 0 or 1 (weak overlap)."""
    out: list[str] = []
    low, high = int(np.sum(ps < threshold)), int(np.sum(ps > 1 - threshold))
    if low or high:
        out.append(
            f"Weak overlap: {low} units have propensity below {threshold} and {high} above {1 - threshold}; "
            "estimates lean on few comparable units (consider trimming)."
        )
    return out


#: Names the app may pass for a ``"model"`` option instead of an estimator object.
MODEL_CHOICES = ("default", "random_forest", "gradient_boosting")


def resolve_model(value: Any, *, option: str, method: str, kind: str, seed: int) -> Any:
    """Turn a ``propensity_model``/``outcome_model`` option into a scikit-learn estimator or ``None`` (default).

    ``value`` may be ``None`` or ``"default"`` (the textbook logit / OLS), one
    of the names in :data:`MODEL_CHOICES`, or an unfitted scikit-learn
    estimator (a classifier with ``predict_proba`` when ``kind`` is
    ``"classifier"``, a regressor otherwise). Named random models are seeded.
    """
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    if value is None or (isinstance(value, str) and value == "default"):
        return None
    if isinstance(value, str):
        catalogue = {
            ("random_forest", "classifier"): lambda: RandomForestClassifier(
                n_estimators=200, min_samples_leaf=5, random_state=seed),
            ("random_forest", "regressor"): lambda: RandomForestRegressor(
                n_estimators=200, min_samples_leaf=5, random_state=seed),
            ("gradient_boosting", "classifier"): lambda: GradientBoostingClassifier(random_state=seed),
            ("gradient_boosting", "regressor"): lambda: GradientBoostingRegressor(random_state=seed),
        }
        if (value, kind) not in catalogue:
            raise CausalInputError(
                f"The '{option}' option of method '{method}' must be one of {list(MODEL_CHOICES)} "
                f"or a scikit-learn {kind}; got {plain(value)!r}."
            )
        return catalogue[(value, kind)]()
    needed = ("fit", "predict_proba") if kind == "classifier" else ("fit", "predict")
    if not all(callable(getattr(value, name, None)) for name in needed):
        raise CausalInputError(
            f"The '{option}' option of method '{method}' must be a scikit-learn {kind} "
            f"with {' and '.join(needed)}; got {type(value).__name__}."
        )
    return value
