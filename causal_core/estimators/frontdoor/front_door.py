"""Front-door adjustment: treatment -> mechanism(s) -> outcome, with a hidden treatment-outcome confounder.

Identification (Pearl 1995): if the mechanisms M carry every effect of T on Y,
nothing confounds T -> M, and T blocks every back-door path from M to Y, then
(given the observed covariates X)::

    E[Y | do(t)] = E_X sum_m P(m | t, X) sum_t' E[Y | m, t', X] P(t' | X).

The estimator uses the plug-in form

    ATE = mean_i (T_i / e(X_i) - (1 - T_i) / (1 - e(X_i))) h(M_i, X_i),
    h(m, x) = e(x) mu(m, 1, x) + (1 - e(x)) mu(m, 0, x),

with ``mu(m, t, x) = E[Y | m, t, x]`` and ``e(x) = P(T=1 | x)``. Without
covariates ``e`` is the treated share and the sum runs over the empirical
distribution of M in each arm; with discrete M and ``mu`` the cell means this
is exactly the front-door formula. ``mechanism_type``:

* ``"discrete"`` - ``mu`` from cell means of the (joint) mechanism levels x
  treatment (plus a linear shift in X when covariates are given);
* ``"linear"`` - product of coefficients, sum_k a_k b_k, with a_k the effect
  of T on M_k and b_k the effect of M_k on Y given T (and X); the front-door
  estimate in the linear structural model;
* ``"nonparametric"`` - ``mu`` from a flexible regressor (``mechanism_model``)
  on (M, T, X).

Uncertainty is a seeded nonparametric bootstrap (percentile CI, bootstrap SE).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError, plain
from causal_core.core.limits import MethodLimits
from causal_core.core.options import n_boot_option
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.inference import Bootstrap
from causal_core.nuisance.models import MODEL_CHOICES, fit_propensity, resolve_model

__all__ = ["front_door", "front_door_discrete", "front_door_linear", "front_door_regression"]

MECHANISM_TYPES = ("auto", "discrete", "linear", "nonparametric")
#: "auto" treats the mechanisms as discrete when their joint levels number at most this.
MAX_DISCRETE_LEVELS = 10


def _joint_levels(M: np.ndarray) -> np.ndarray:
    """Integer code of each row's combination of mechanism values."""
    return np.unique(M, axis=0, return_inverse=True)[1].reshape(-1)


def front_door_discrete(y: np.ndarray, t: np.ndarray, levels: np.ndarray) -> float:
    """The front-door formula with empirical probabilities, no covariates.

    ``sum_m [P(m|1) - P(m|0)] sum_t' E[y|m,t'] P(t')``; every mechanism level
    must occur in both arms (checked by the caller).
    """
    p1 = t.mean()
    effect = 0.0
    for m in np.unique(levels):
        in_m = levels == m
        mu1 = y[in_m & (t == 1)].mean()
        mu0 = y[in_m & (t == 0)].mean()
        h = p1 * mu1 + (1 - p1) * mu0
        effect += (in_m[t == 1].mean() - in_m[t == 0].mean()) * h
    return float(effect)


def front_door_linear(y: np.ndarray, t: np.ndarray, M: np.ndarray, X: np.ndarray) -> float:
    """Product of coefficients, sum_k a_k b_k: T -> M_k (given X) times M_k -> Y (given T, X)."""
    ones = np.ones((t.shape[0], 1))
    design_m = np.column_stack([ones, t, X])
    a = np.linalg.lstsq(design_m, M, rcond=None)[0][1]
    design_y = np.column_stack([ones, M, t, X])
    b = np.linalg.lstsq(design_y, y, rcond=None)[0][1 : 1 + M.shape[1]]
    return float(np.dot(a, b))


def front_door_regression(
    y: np.ndarray, t: np.ndarray, features_m: np.ndarray, X: np.ndarray, model: Any,
    names: tuple[str, ...] = (),
) -> float:
    """Plug-in front-door estimate with ``mu`` fitted by ``model`` on (mechanism features, T, X).

    ``names`` are the columns of ``X``, so that a propensity refusal (perfect separation) names the column.
    """
    from sklearn.base import clone
    if X.shape[1]:
        e = np.clip(fit_propensity(X, t, names), 1e-3, 1 - 1e-3)
    else:
        e = np.full(t.shape[0], t.mean())
    fitted = clone(model).fit(np.column_stack([features_m, t, X]), y)
    mu1 = fitted.predict(np.column_stack([features_m, np.ones_like(t), X]))
    mu0 = fitted.predict(np.column_stack([features_m, np.zeros_like(t), X]))
    h = e * mu1 + (1 - e) * mu0
    weight = t / e - (1 - t) / (1 - e)
    return float(np.mean(weight * h))


class _CellMeans:
    """``mu(m, t, x)``: one mean per (mechanism level, treatment) cell plus a linear shift in x (OLS).

    A plain class with scikit-learn's ``fit``/``predict`` and ``__sklearn_clone__``, so that
    ``sklearn.base.clone`` works without importing scikit-learn when this module loads.
    """

    def __init__(self, n_levels: int = 1):
        self.n_levels = n_levels

    def __sklearn_clone__(self) -> "_CellMeans":
        return _CellMeans(self.n_levels)

    def _design(self, features: np.ndarray) -> np.ndarray:
        level, t, x = features[:, 0].astype(int), features[:, 1], features[:, 2:]
        cells = np.zeros((features.shape[0], 2 * self.n_levels))
        cells[np.arange(features.shape[0]), 2 * level + (t == 1)] = 1.0
        return np.column_stack([cells, x - self.x_mean])

    def fit(self, features: np.ndarray, y: np.ndarray) -> "_CellMeans":
        self.x_mean = features[:, 2:].mean(axis=0)
        self.coef = np.linalg.lstsq(self._design(features), y, rcond=None)[0]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self._design(features) @ self.coef


def _resolve_mechanism_model(value: Any, *, seed: int) -> Any:
    """The ``mechanism_model`` option (checked upstream) as a regressor, or ``None`` for the default."""
    return resolve_model(value, option="mechanism_model", method="front_door", kind="regressor", seed=seed)


def default_mechanism_model() -> Any:
    """Cubic splines of each input with all pairwise products, ridge-penalised: fast and deterministic.

    Flexible enough for smooth nonlinear ``E[Y | M, T, X]`` with treatment-mechanism
    interactions, and cheap enough to refit in every bootstrap replicate.
    """
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, SplineTransformer
    return make_pipeline(
        SplineTransformer(n_knots=5, degree=3),
        PolynomialFeatures(degree=2, interaction_only=True, include_bias=False),
        Ridge(alpha=1e-3),
    )


def _check_mechanisms(data: PreparedData) -> None:
    treated = data.t == 1
    for j, name in enumerate(data.M_names):
        column = data.M[:, j]
        if np.ptp(column) == 0:
            raise CausalInputError(f"Mechanism column '{name}' is constant; a mechanism must vary with the treatment.")
        if np.ptp(column[treated]) == 0 and np.ptp(column[~treated]) == 0:
            raise CausalInputError(
                f"Mechanism column '{name}' is a function of the treatment (constant within each arm); "
                "the front-door formula needs the mechanism to vary among units with the same treatment."
            )
        scale = column.std()
        if abs(column[treated].mean() - column[~treated].mean()) <= 1e-10 * scale:
            raise CausalInputError(
                f"Mechanism column '{name}' does not vary with treatment '{data.roles.treatment}' "
                "(identical means in both arms); the front-door effect runs through the mechanism, "
                "so it must respond to treatment."
            )


def _resolve_type(mechanism_type: str, M: np.ndarray) -> str:
    if mechanism_type != "auto":
        return mechanism_type
    n_levels = np.unique(M, axis=0).shape[0]
    return "discrete" if n_levels <= MAX_DISCRETE_LEVELS else "linear"


def _estimator(data: PreparedData, kind: str, model: Any):
    """A function of row indices returning the front-door estimate on those rows."""
    y, t, M, X = data.y, data.t, data.M, data.X
    names = tuple(data.covariate_names)
    if kind == "linear":
        return lambda idx: front_door_linear(y[idx], t[idx], M[idx], X[idx])
    if kind == "discrete":
        levels = _joint_levels(M)
        n_levels = int(levels.max()) + 1
        if X.shape[1] == 0:
            return lambda idx: front_door_discrete(y[idx], t[idx], levels[idx])
        cells = _CellMeans(n_levels)
        return lambda idx: front_door_regression(y[idx], t[idx], levels[idx, None].astype(float), X[idx], cells, names)
    return lambda idx: front_door_regression(y[idx], t[idx], M[idx], X[idx], model, names)


def _check_discrete_positivity(data: PreparedData) -> None:
    levels = _joint_levels(data.M)
    values = np.unique(data.M, axis=0)
    for code in np.unique(levels):
        for arm in (0.0, 1.0):
            if not np.any((levels == code) & (data.t == arm)):
                label = ", ".join(f"{n}={v:g}" for n, v in zip(data.M_names, values[code]))
                raise CausalInputError(
                    f"Mechanism level ({label}) never occurs with treatment '{data.roles.treatment}' = {int(arm)}; "
                    "the discrete front-door formula needs every mechanism level in both arms "
                    "(use mechanism_type='linear' or 'nonparametric')."
                )


@register(
    id="front_door",
    label="Front-door adjustment",
    family="Front door",
    required_roles=("mechanisms",),
    estimands=("ATE",),
    summary="Effect carried entirely by measured mechanisms; works despite a hidden treatment-outcome confounder.",
    reference="Pearl (1995), Biometrika 82:669-688; Pearl, Glymour & Jewell (2016), sec. 3.4.",
    treatment_kind="binary",
    options=(
        OptionSpec("mechanism_type", "choice", "auto",
                   "How mechanisms are modelled: discrete levels, linear (product of coefficients) or a "
                   "flexible regression; 'auto' picks discrete when there are at most 10 levels, else linear.",
                   choices=MECHANISM_TYPES),
        OptionSpec("mechanism_model", "model", None,
                   "Regressor for E[Y | M, T, X] when mechanism_type='nonparametric' "
                   "(default: ridge on cubic splines with pairwise interactions).", choices=MODEL_CHOICES),
        n_boot_option(200, "Bootstrap replicates for the SE and percentile CI."),
    ),
    limits=MethodLimits(rows_beyond_covariates=3, min_rows_per_arm=10, covariate_roles=("confounders", "mechanisms")),
    default_ticked=True, order=110,
    cheap_test_options=(("n_boot", 50),),
)
def front_door(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    mechanism_type: str = "auto",
    mechanism_model: Any = None,
    n_boot: int = 200,
) -> MethodOutput:
    """Front-door ATE with a seeded bootstrap SE and percentile CI.

    Parameters
    ----------
    data : PreparedData
        0/1 treatment, mechanisms in ``M``, optional observed covariates in ``X``.
    estimand : {"ATE"}
    seed : int
        Seeds the bootstrap and the mechanism model.
    mechanism_type : {"auto", "discrete", "linear", "nonparametric"}
    mechanism_model : sklearn regressor, optional
        Cloned before fitting; used only for ``"nonparametric"``.
    n_boot : int
        Bootstrap replicates.

    Returns
    -------
    MethodOutput
        Diagnostics: ``mechanism_type`` used, ``naive_difference``, ``treatment_to_mechanism``
        (arm means of each mechanism), bootstrap failures.
    """
    _check_mechanisms(data)
    kind = _resolve_type(mechanism_type, data.M)
    if kind == "discrete":
        _check_discrete_positivity(data)
    chosen = _resolve_mechanism_model(mechanism_model, seed=seed)
    model = chosen if chosen is not None else default_mechanism_model()
    statistic = _estimator(data, kind, model)
    estimate = statistic(np.arange(data.n))
    warnings: list[str] = []
    if chosen is not None and kind != "nonparametric":
        warnings.append(f"Option 'mechanism_model' is ignored for mechanism_type='{kind}'.")
    treated = data.t == 1
    arms = pd.DataFrame(
        {"treated_mean": data.M[treated].mean(axis=0), "control_mean": data.M[~treated].mean(axis=0)},
        index=list(data.M_names),
    )
    diagnostics: dict[str, Any] = {
        "mechanism_type": kind,
        "naive_difference": float(data.y[treated].mean() - data.y[~treated].mean()),
        "treatment_to_mechanism": arms,
        "n_boot": int(n_boot),
    }
    return MethodOutput(
        estimate=float(estimate),
        inference=Bootstrap(statistic, n_boot=int(n_boot),
                            detail=f"nonparametric bootstrap ({n_boot} replicates), percentile CI"),
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
