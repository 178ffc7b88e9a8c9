"""Stable learning by sample reweighting: decorrelate the features, then fit a weighted linear model.

A misspecified linear model trained where an irrelevant feature ``V`` happens
to track an omitted nonlinear part of the signal leans on ``V``; where that
association changes (another environment), its error grows. Global balancing /
decorrelated weighted regression (Kuang et al. 2018, 2020; Shen et al. 2020)
learns sample weights under which every feature is uncorrelated with every
other feature and with their squares, so that each coefficient reflects only
the feature's own relation with the target, then fits weighted least squares
(or weighted logistic regression).

The weights are ``n * softmax(theta)`` (positive, mean 1), minimising

    sum_j || cov_w(x_j, [x_-j, x_-j^2]) ||^2 + penalty * (mean(w^2) - 1)

on standardised features; the penalty keeps the weights spread (effective
sample size up). Solved with L-BFGS on the analytic gradient.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError, plain
from causal_core.core.seeds import check_seed

__all__ = [
    "StableModel",
    "decorrelation_weights",
    "decorrelation_loss",
    "stable_fit",
    "compare_across_environments",
    "stable_learning_data",
    "simulated_shifts",
    "load_stable_sample",
    "TASKS",
]

TASKS = ("regression", "classification")
SAMPLE_FILE = "stable_learning.csv"


@dataclass(frozen=True)
class StableModel:
    """A fitted (stable or ordinary) linear model, kept as numbers only.

    Attributes
    ----------
    task : {"regression", "classification"}
    target : str
    features : tuple of str
    intercept : float
    coefficients : Series
        One coefficient per feature (log odds for classification).
    reweighted : bool
        True for the stable model (decorrelation weights), False for the ordinary one.
    weights_summary : dict
        ``ess`` (Kish effective sample size), ``n``, ``max``, ``min`` of the weights.
    decorrelation_before, decorrelation_after : float
        The decorrelation loss with equal weights and with the learned weights.
    """

    task: str
    target: str
    features: tuple[str, ...]
    intercept: float
    coefficients: pd.Series
    reweighted: bool
    weights_summary: dict
    decorrelation_before: float
    decorrelation_after: float

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predictions for ``df``: the fitted value (regression) or P(target = 1) (classification)."""
        from scipy.special import expit
        X = _feature_matrix(df, self.features)
        linear = self.intercept + X @ self.coefficients.to_numpy()
        return expit(linear) if self.task == "classification" else linear

    def error(self, df: pd.DataFrame) -> float:
        """Root mean squared error (regression) or misclassification rate at 0.5 (classification)."""
        y = _target(df, self.target, self.task)
        prediction = self.predict(df)
        if self.task == "classification":
            return float(np.mean((prediction >= 0.5) != (y == 1)))
        return float(np.sqrt(np.mean((y - prediction) ** 2)))


def _feature_matrix(df: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    for column in features:
        if column not in df.columns:
            raise CausalInputError(f"Feature column '{column}' is not in the data.")
        if not pd.api.types.is_numeric_dtype(df[column]) or pd.api.types.is_bool_dtype(df[column]):
            if not pd.api.types.is_bool_dtype(df[column]):
                raise CausalInputError(f"Feature column '{column}' is not numeric; stable learning needs numbers.")
    X = df[list(features)].to_numpy(dtype=float)
    if not np.isfinite(X).all():
        bad = [c for c in features if not np.isfinite(df[c].to_numpy(dtype=float)).all()]
        raise CausalInputError(f"Feature column '{bad[0]}' has missing or infinite values; drop or fill them first.")
    return X


def _target(df: pd.DataFrame, target: str, task: str) -> np.ndarray:
    if target not in df.columns:
        raise CausalInputError(f"Target column '{target}' is not in the data.")
    series = df[target]
    if not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        raise CausalInputError(f"Target column '{target}' is not numeric.")
    y = series.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise CausalInputError(f"Target column '{target}' has missing or infinite values; drop or fill them first.")
    if task == "classification" and not set(np.unique(y)) <= {0.0, 1.0}:
        raise CausalInputError(f"Target column '{target}' must be 0/1 for task 'classification'.")
    return y


def _balance_terms(Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The moments each feature is decorrelated from, ``[X, X^2 standardised]``, and the mask of pairs used."""
    squares = Xs**2
    squares = (squares - squares.mean(axis=0)) / np.where(squares.std(axis=0) > 0, squares.std(axis=0), 1.0)
    A = np.column_stack([Xs, squares])
    p = Xs.shape[1]
    mask = np.ones((p, 2 * p))
    for j in range(p):
        mask[j, j] = 0.0
        mask[j, p + j] = 0.0
    return A, mask


def decorrelation_loss(X: np.ndarray, weights: np.ndarray) -> float:
    """Sum of squared weighted covariances of each standardised feature with the others and their squares."""
    Xs = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    A, mask = _balance_terms(Xs)
    p = weights / weights.sum()
    cov = (Xs * p[:, None]).T @ A - np.outer(p @ Xs, p @ A)
    return float(np.sum((cov * mask) ** 2))


def decorrelation_weights(X: np.ndarray, *, penalty: float = 0.01, max_iter: int = 500) -> tuple[np.ndarray, bool]:
    """Positive sample weights (mean 1) that decorrelate the columns of ``X``; returns ``(weights, converged)``."""
    from scipy import optimize
    from scipy.special import softmax
    n = X.shape[0]
    Xs = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    A, mask = _balance_terms(Xs)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = softmax(theta)
        mu, nu = p @ Xs, p @ A
        cov = ((Xs * p[:, None]).T @ A - np.outer(mu, nu)) * mask
        loss = np.sum(cov**2) + penalty * (n * np.sum(p**2) - 1)
        # d cov_jk / d p_i = x_ij a_ik - x_ij nu_k - mu_j a_ik
        grad_p = 2 * (np.einsum("ij,jk,ik->i", Xs, cov, A) - Xs @ (cov @ nu) - A @ (cov.T @ mu))
        grad_p += penalty * 2 * n * p
        grad_theta = p * (grad_p - p @ grad_p)
        return float(loss), grad_theta

    fit = optimize.minimize(objective, np.zeros(n), jac=True, method="L-BFGS-B",
                            options={"maxiter": max_iter, "gtol": 1e-7, "ftol": 1e-10})
    return n * softmax(fit.x), bool(fit.success)


def _check(df: pd.DataFrame, target: str, features: Sequence[str], task: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(df, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(df).__name__}.")
    if task not in TASKS:
        raise CausalInputError(f"The 'task' option of stable learning must be one of {list(TASKS)}; got {plain(task)!r}.")
    features = list(features)
    if not features:
        raise CausalInputError("Stable learning needs at least one feature column.")
    if target in features:
        raise CausalInputError(f"Target column '{target}' is also listed as a feature; remove it from the features.")
    X, y = _feature_matrix(df, features), _target(df, target, task)
    if X.shape[0] < 2 * len(features) + 10:
        raise CausalInputError(
            f"Stable learning needs at least {2 * len(features) + 10} rows for {len(features)} features; "
            f"the data has {X.shape[0]}."
        )
    constant = [c for c, s in zip(features, X.std(axis=0)) if s == 0]
    if constant:
        raise CausalInputError(f"Feature column '{constant[0]}' is constant; drop it.")
    if task == "classification" and np.ptp(y) == 0:
        raise CausalInputError(f"Target column '{target}' is constant; classification needs both 0 and 1.")
    return X, y


def stable_fit(
    df: pd.DataFrame,
    target: str,
    features: Sequence[str],
    task: str = "regression",
    seed: int = 0,
    *,
    reweight: bool = True,
    penalty: float = 0.01,
) -> StableModel:
    """Fit a stable (decorrelation-weighted) or ordinary linear model of ``target`` on ``features``.

    Parameters
    ----------
    df : DataFrame
        Training rows; never modified.
    target : str
        Numeric target (0/1 for classification).
    features : list of str
        Numeric feature columns.
    task : {"regression", "classification"}
        Weighted least squares or weighted (unpenalised) logistic regression.
    seed : int
        Kept for a uniform signature; the fit is deterministic.
    reweight : bool
        False fits the ordinary (equally weighted) model.
    penalty : float
        Weight on ``mean(w^2) - 1`` in the decorrelation objective; larger keeps weights more even.

    Returns
    -------
    StableModel
    """
    seed = check_seed(seed)
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or penalty < 0:
        raise CausalInputError(f"The 'penalty' option of stable learning must be a number >= 0; got {plain(penalty)!r}.")
    X, y = _check(df, target, features, task)
    equal = np.ones(X.shape[0])
    weights, converged = decorrelation_weights(X, penalty=float(penalty)) if reweight else (equal, True)
    # Fitted on standardised columns and mapped back (the same model): on raw columns of very different sizes
    # LinearRegression's singular-value cut (tol=1e-6 of the largest) dropped the small columns' directions.
    centre, scale = X.mean(axis=0), np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    Xs = (X - centre) / scale
    if task == "classification":
        model = LogisticRegression(C=1e6, max_iter=5000).fit(Xs, y.astype(int), sample_weight=weights)
        intercept, coefficients = float(model.intercept_[0]), model.coef_[0]
    else:
        model = LinearRegression().fit(Xs, y, sample_weight=weights)
        intercept, coefficients = float(model.intercept_), model.coef_
    coefficients = coefficients / scale
    intercept -= float(coefficients @ centre)
    ess = float(weights.sum() ** 2 / np.sum(weights**2))
    return StableModel(
        task=task,
        target=target,
        features=tuple(features),
        intercept=intercept,
        coefficients=pd.Series(coefficients, index=list(features), name="stable" if reweight else "ordinary"),
        reweighted=reweight,
        weights_summary={"n": int(X.shape[0]), "ess": ess, "max": float(weights.max()), "min": float(weights.min()),
                         "converged": converged},
        decorrelation_before=decorrelation_loss(X, equal),
        decorrelation_after=decorrelation_loss(X, weights),
    )


def simulated_shifts(
    df: pd.DataFrame, target: str, feature: str, *, strengths: Sequence[float] = (-3.0, -2.0, -1.5, 1.5, 2.0, 3.0),
    size: int | None = None, seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Environments made by biased resampling: row i kept with probability ``|r|^(-5 |y_i - sign(r) v_i|)``.

    ``y`` and ``v`` are the standardised target and ``feature``; ``r > 1`` makes
    ``feature`` track the target, ``r < -1`` makes it track minus the target
    (Kuang et al. 2020's selection-bias design). Returns name -> resampled rows.
    """
    rng = np.random.default_rng(seed)
    y = df[target].to_numpy(dtype=float)
    v = df[feature].to_numpy(dtype=float)
    ys, vs = (y - y.mean()) / (y.std() or 1.0), (v - v.mean()) / (v.std() or 1.0)
    size = size or len(df)
    out: dict[str, pd.DataFrame] = {}
    for r in strengths:
        if abs(r) <= 1:
            raise CausalInputError(f"Shift strengths must have |r| > 1; got {r}.")
        logp = -5 * np.abs(ys - np.sign(r) * vs) * np.log(abs(r))
        p = np.exp(logp - logp.max())
        rows = rng.choice(len(df), size=size, replace=True, p=p / p.sum())
        out[f"r = {r:+g}"] = df.iloc[rows].reset_index(drop=True)
    return out


def compare_across_environments(
    df: pd.DataFrame,
    target: str,
    features: Sequence[str],
    environment_column: str | None = None,
    *,
    train_environment: object = None,
    shift_feature: str | None = None,
    task: str = "regression",
    seed: int = 0,
    penalty: float = 0.01,
) -> tuple[pd.DataFrame, StableModel, StableModel]:
    """Errors of the ordinary and the stable model in each environment.

    With ``environment_column``, both models are trained on the rows whose
    environment equals ``train_environment`` (default: the most frequent value)
    and scored on every environment. Without it, they are trained on a random
    half and scored on the other half and on :func:`simulated_shifts` of it
    along ``shift_feature`` (default: the last feature).

    Returns
    -------
    table : DataFrame
        One row per environment: ``environment``, ``n``, ``ordinary``, ``stable`` (errors), ``training`` (bool).
    ordinary, stable : StableModel
    """
    seed = check_seed(seed)
    features = list(features)
    if environment_column is not None:
        if environment_column not in df.columns:
            raise CausalInputError(f"Environment column '{environment_column}' is not in the data.")
        if environment_column in features or environment_column == target:
            raise CausalInputError(f"Environment column '{environment_column}' cannot also be the target or a feature.")
        labels = df[environment_column]
        if labels.isna().any():
            raise CausalInputError(f"Environment column '{environment_column}' has missing values.")
        if labels.nunique() < 2:
            raise CausalInputError(f"Environment column '{environment_column}' has one value; it needs at least two.")
        if train_environment is None:
            train_environment = labels.value_counts().index[0]
        matches = labels.astype(str) == str(train_environment)
        if not matches.any():
            raise CausalInputError(
                f"Training environment {plain(train_environment)!r} does not occur in column '{environment_column}'."
            )
        train = df.loc[matches]
        environments = {str(level): df.loc[labels == level] for level in pd.unique(labels)}
        training_name = str(labels[matches].iloc[0])
    else:
        shift_feature = shift_feature or (features[-1] if features else None)
        if shift_feature not in features:
            raise CausalInputError(f"Shift feature '{shift_feature}' must be one of the features.")
        _check(df, target, features, task)
        order = np.random.default_rng(seed).permutation(len(df))
        train, held_out = df.iloc[order[: len(df) // 2]], df.iloc[order[len(df) // 2:]]
        environments = {"held-out (no shift)": held_out}
        environments.update(simulated_shifts(held_out, target, shift_feature, seed=seed))
        training_name = None
    ordinary = stable_fit(train, target, features, task, seed, reweight=False)
    stable = stable_fit(train, target, features, task, seed, reweight=True, penalty=penalty)
    rows = []
    for name, frame in environments.items():
        if len(frame) == 0:
            continue
        rows.append({"environment": name, "n": len(frame), "ordinary": ordinary.error(frame),
                     "stable": stable.error(frame), "training": name == training_name})
    return pd.DataFrame(rows), ordinary, stable


def stable_learning_data(n_per_environment: int = 1000, seed: int = 0,
                         biases: Sequence[float] = (2.0, 1.0, 0.0, -1.0, -2.0)) -> pd.DataFrame:
    """The classic stable-learning simulation: stable features S, unstable V, an omitted nonlinear term.

    ``s1, s2, s3 ~ N(0, 1)``; ``y = s1 + s2 - s3 + (s1^2 - 1) + N(0, 0.5^2)``, so a linear model is
    misspecified. In environment ``b`` the unstable features are
    ``v1 = b (s1^2 - 1) / sqrt(2) * 0.7 + N(0, 1)`` (tracking the omitted term, with a sign and strength
    that change across environments) and ``v2 ~ N(0, 1)`` (pure noise). ``y`` never depends on ``v``.
    Column ``environment`` holds ``"b=+2"``, ... ; train on ``"b=+2"`` and the ordinary model leans on ``v1``.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for b in biases:
        s = rng.normal(size=(n_per_environment, 3))
        omitted = s[:, 0] ** 2 - 1
        y = s[:, 0] + s[:, 1] - s[:, 2] + omitted + rng.normal(scale=0.5, size=n_per_environment)
        v1 = b * 0.7 * omitted / np.sqrt(2) + rng.normal(size=n_per_environment)
        v2 = rng.normal(size=n_per_environment)
        frames.append(pd.DataFrame({"environment": f"b={b:+g}", "s1": s[:, 0], "s2": s[:, 1], "s3": s[:, 2],
                                    "v1": v1, "v2": v2, "y": y}))
    return pd.concat(frames, ignore_index=True).round(5)


def load_stable_sample() -> pd.DataFrame:
    """The bundled ``sample_data/stable_learning.csv`` (``stable_learning_data()`` with its defaults)."""
    from causal_core.datasets.samples import SAMPLE_DATA_DIR

    return pd.read_csv(SAMPLE_DATA_DIR / SAMPLE_FILE)
