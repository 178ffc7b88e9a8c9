"""Nuisance models shared by estimators: propensity scores and outcome regressions.

Models are scikit-learn estimators that the caller may swap (option
``propensity_model`` / ``outcome_model``); they are cloned before fitting, so
the caller's object is never fitted in place.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from causal_core.core.errors import CausalInputError, plain

__all__ = [
    "default_propensity_model",
    "default_outcome_model",
    "least_squares_regressor",
    "fit_propensity",
    "fit_outcome",
    "check_separation",
    "check_separation_ranges",
    "overlap_message",
    "overlap_warnings",
    "MODEL_CHOICES",
    "named_model",
    "resolve_model",
]

PS_EXTREME = 0.01


def default_propensity_model() -> Any:
    """Unpenalised logistic regression on standardised covariates, fitted exactly by Newton/IRLS (the textbook logit).

    The same kernel fits the streamed propensity model over partitions
    (:mod:`causal_core.nuisance.newton_logit`), so both paths agree to rounding.
    """
    from causal_core.nuisance.newton_logit import NewtonLogit
    return NewtonLogit()


def default_outcome_model() -> Any:
    """Ordinary least squares (:func:`least_squares_regressor`)."""
    return least_squares_regressor()


def least_squares_regressor() -> Any:
    """Ordinary least squares on standardised columns: ``StandardScaler`` then ``LinearRegression``.

    The fitted values are OLS's in exact arithmetic; the scaling is for
    conditioning. ``LinearRegression`` cuts singular values of the centred
    design below ``tol`` (1e-6) times the largest (scikit-learn >= 1.9 passes
    ``tol`` to ``scipy.linalg.lstsq`` as ``cond``), so on raw columns of very
    different sizes (squared earnings, about 1e9, beside 0/1 columns: a
    condition number of 1e10 or more) it silently dropped directions, the
    treatment's among them in an S-learner. Sample weights go to the
    regression as ``linearregression__sample_weight``.
    """
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), LinearRegression())


def check_separation(X: np.ndarray, t: np.ndarray, names: tuple[str, ...] | list[str]) -> None:
    """Raise if one covariate perfectly separates treated from control rows.

    A perfectly separating covariate makes the propensity 0 or 1 for every
    unit, so no adjustment is possible; the message names the column.
    """
    treated = t == 1
    if X.shape[1] == 0 or treated.all() or not treated.any():
        return
    check_separation_ranges(X[treated].min(axis=0), X[treated].max(axis=0), X[~treated].min(axis=0),
                            X[~treated].max(axis=0), names)


def check_separation_ranges(treated_min: np.ndarray, treated_max: np.ndarray, control_min: np.ndarray,
                            control_max: np.ndarray, names: tuple[str, ...] | list[str]) -> None:
    """:func:`check_separation` from each arm's covariate ranges (what a streamed pass collects)."""
    for j, name in enumerate(names):
        if max(treated_max[j], control_max[j]) == min(treated_min[j], control_min[j]):
            continue  # constant column
        if treated_min[j] > control_max[j] or treated_max[j] < control_min[j]:
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
    return overlap_message(int(np.sum(ps < threshold)), int(np.sum(ps > 1 - threshold)), threshold=threshold)


def overlap_message(low: int, high: int, *, threshold: float = PS_EXTREME) -> list[str]:
    """:func:`overlap_warnings` from the counts of propensities below ``threshold`` and above ``1 - threshold``."""
    out: list[str] = []
    if low or high:
        out.append(
            f"Weak overlap: {low} units have propensity below {threshold} and {high} above {1 - threshold}; "
            "estimates lean on few comparable units (consider trimming)."
        )
    return out


#: Names the app may pass for a ``"model"`` option instead of an estimator object.
MODEL_CHOICES = ("default", "random_forest", "gradient_boosting")

#: Trees of the ``"gradient_boosting"`` models: depth 3 as ``GradientBoosting*``'s default (the histogram
#: default of 31 leaves without a depth limit overfits arm-wise models of a few hundred rows: its
#: T-learner's sqrt(PEHE) was 40% worse on ``heterogeneous_confounded(1200)``), at least 5 rows a leaf.
_BOOSTED_TREES = {"max_depth": 3, "min_samples_leaf": 5}

#: The one catalogue of named models: (name, kind) -> (scikit-learn class path, settings).
#: ``"gradient_boosting"`` is scikit-learn's histogram gradient boosting (binned features,
#: tens of times faster than ``GradientBoosting*`` from a few thousand rows on); the name
#: is kept so that saved analyses still restore, and an exact ``GradientBoostingRegressor``
#: may still be passed as an estimator object.
#: ``"random_state"`` is added for the classes that take one. Methods that want
#: other settings of a named model pass them as ``settings`` to :func:`resolve_model`.
_NAMED_MODELS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("random_forest", "classifier"): ("sklearn.ensemble.RandomForestClassifier",
                                      {"n_estimators": 200, "min_samples_leaf": 5}),
    ("random_forest", "regressor"): ("sklearn.ensemble.RandomForestRegressor",
                                     {"n_estimators": 200, "min_samples_leaf": 5}),
    ("gradient_boosting", "classifier"): ("sklearn.ensemble.HistGradientBoostingClassifier", _BOOSTED_TREES),
    ("gradient_boosting", "regressor"): ("sklearn.ensemble.HistGradientBoostingRegressor", _BOOSTED_TREES),
    ("regularised_boosting", "regressor"): ("sklearn.ensemble.HistGradientBoostingRegressor",
                                            {"max_depth": 2, "learning_rate": 0.05, "min_samples_leaf": 50}),
    ("linear", "regressor"): ("causal_core.nuisance.models.least_squares_regressor", {}),
}


def named_model(name: str, *, kind: str, seed: int, settings: dict[str, Any] | None = None) -> Any:
    """A fresh, seeded scikit-learn estimator from the catalogue of named models.

    Parameters
    ----------
    name : str
        A catalogue name (``"random_forest"``, ``"gradient_boosting"``, ...).
    kind : {"classifier", "regressor"}
    seed : int
        ``random_state`` of the models that take one.
    settings : dict, optional
        Hyper-parameters that replace the catalogue's for this name.
    """
    import importlib
    import inspect

    path, defaults = _NAMED_MODELS[(name, kind)]
    module, _, class_name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), class_name)
    params = {**defaults, **(settings or {})}
    if "random_state" in inspect.signature(cls).parameters:
        params["random_state"] = seed
    return cls(**params)


def resolve_model(
    value: Any,
    *,
    option: str,
    method: str,
    kind: str,
    seed: int,
    choices: tuple[str, ...] = MODEL_CHOICES,
    default: str | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
) -> Any:
    """Turn a model option into a fresh scikit-learn estimator, or ``None`` for the method's built-in default.

    ``value`` may be ``None`` or ``"default"`` (the textbook logit / OLS, or
    the catalogue model named by ``default``), one of the names in
    ``choices``, or an unfitted scikit-learn estimator (a classifier with
    ``predict_proba`` when ``kind`` is ``"classifier"``, a regressor
    otherwise), which is cloned. Named models come from the one catalogue
    (:func:`named_model`), seeded with ``seed``; ``settings`` maps a name to
    the hyper-parameters this method uses instead of the catalogue's.
    """
    from sklearn.base import clone

    if value is None or (isinstance(value, str) and value == "default"):
        if default is None:
            return None
        value = default
    if isinstance(value, str):
        if value not in choices or (value, kind) not in _NAMED_MODELS:
            raise CausalInputError(
                f"The '{option}' option of method '{method}' must be one of {list(choices)} "
                f"or a scikit-learn {kind}; got {plain(value)!r}."
            )
        return named_model(value, kind=kind, seed=seed, settings=(settings or {}).get(value))
    needed = ("fit", "predict_proba") if kind == "classifier" else ("fit", "predict")
    if not all(callable(getattr(value, name, None)) for name in needed):
        raise CausalInputError(
            f"The '{option}' option of method '{method}' must be a scikit-learn {kind} "
            f"with {' and '.join(needed)}; got {type(value).__name__}."
        )
    return clone(value)
