"""Approximate residual balancing (Athey, Imbens & Wager 2018).

For each arm whose counterfactual mean is needed: fit a cross-validated
elastic net of the outcome on the (standardised) covariates in that arm, then
find approximately balancing weights from the quadratic programme

    minimise (1 - zeta) ||gamma||^2 + zeta ||target - X' gamma||_inf^2   s.t.  gamma >= 0, sum gamma = 1,

and correct the model's prediction at the target with the weighted residuals:
``mu = mean_target(m(X)) + sum gamma_i (Y_i - m(X_i))``. The variance is the
paper's ``sum gamma_i^2 (Y_i - m(X_i))^2`` plus the sampling variance of the
target-sample term.
"""
from __future__ import annotations

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput, kish_ess
from causal_core.inference import analytic_inference
from causal_core.nuisance.features import AUTO_ROWS_PER_TERM, auto_basis_candidates, expand_covariates, pooled_scale

__all__ = ["approximate_residual_balancing", "approximate_balancing_weights"]

L1_RATIO = 0.9  # the elastic-net mixing used by the authors' balanceHD package
CV_FOLDS = 5
QP_SOLVERS = ("CLARABEL", "OSQP", "SCS")


def approximate_balancing_weights(X_arm: np.ndarray, target: np.ndarray, zeta: float) -> np.ndarray:
    """Solve the approximate-balancing QP with cvxpy; columns of ``X_arm`` should be standardised."""
    import cvxpy as cp

    n = X_arm.shape[0]
    gamma = cp.Variable(n, nonneg=True)
    worst = cp.Variable()
    objective = (1 - zeta) * cp.sum_squares(gamma) + zeta * cp.square(worst)
    gap = target - X_arm.T @ gamma
    problem = cp.Problem(cp.Minimize(objective), [cp.sum(gamma) == 1, gap <= worst, -gap <= worst])
    installed = set(cp.installed_solvers())
    last_error: Exception | None = None
    for solver in (name for name in QP_SOLVERS if name in installed):
        try:
            problem.solve(solver=solver)
        except cp.error.SolverError as exc:
            last_error = exc
            continue
        if gamma.value is not None and problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            weights = np.clip(np.asarray(gamma.value, dtype=float), 0.0, None)
            return weights / weights.sum()
    raise CausalInputError(
        f"The approximate-balancing programme could not be solved ({last_error or problem.status}); "
        "check for covariates with extreme values or lower 'moments'."
    )


def _arm_mean(
    X_std: np.ndarray,
    y: np.ndarray,
    arm: np.ndarray,
    target_rows: np.ndarray,
    zeta: float,
    seed: int,
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Counterfactual mean of ``arm``'s outcome over ``target_rows``; returns (mean, variance, gamma, predictions)."""
    from sklearn.linear_model import ElasticNetCV
    from sklearn.model_selection import KFold
    folds = min(CV_FOLDS, int(arm.sum()))
    model = ElasticNetCV(l1_ratio=L1_RATIO, alphas=50, cv=KFold(folds, shuffle=True, random_state=seed), max_iter=5000)
    # the elastic-net path is equivariant in the scale of y: fit on unit scale so that large outcomes cannot overflow
    scale = float(np.std(y[arm])) or 1.0
    model.fit(X_std[arm], y[arm] / scale)
    predicted = model.predict(X_std) * scale
    target = X_std[target_rows].mean(axis=0)
    gamma = approximate_balancing_weights(X_std[arm], target, zeta)
    residual = y[arm] - predicted[arm]
    mean = float(predicted[target_rows].mean() + gamma @ residual)
    variance = float(np.sum(gamma**2 * residual**2))
    return mean, variance, gamma, predicted


@register(
    id="approximate_residual_balancing",
    label="Approximate residual balancing",
    family="Balancing weights",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Elastic-net outcome model plus approximately balancing weights on its residuals; built for many covariates.",
    reference="Athey, Imbens & Wager (2018), JRSS-B 80(4), 597-623.",
    options=(
        OptionSpec("zeta", "float", 0.5, "Trade-off in the weight programme: 0 = uniform weights, near 1 = tight balance.",
                   low=0.0, high=1.0, low_inclusive=False, high_inclusive=False),
        OptionSpec("basis", "choice", "moments",
                   "What to balance and model: 'moments' = the covariates and the moments/interactions chosen below; "
                   "'auto' = the richest of means, + logs of skewed columns, + pairwise interactions, + squares with "
                   f"at most one term per {AUTO_ROWS_PER_TERM} rows of the smaller arm (the balance is approximate, "
                   "so no basis is infeasible).", choices=("moments", "auto")),
        OptionSpec("moments", "int", 1, "Balance means (1), also squares (2) or also cubes (3) (basis 'moments').",
                   low=1, high=3),
        OptionSpec("interactions", "bool", False, "Also use all pairwise products of covariates (basis 'moments')."),
    ),
    limits=MethodLimits(min_rows_per_arm=10, needs_overlap=True, high_dimensional="fits a cross-validated elastic net and balances approximately, as designed for p > n, but the result rests on a sparse outcome model."),
    gives_weights=True, order=130,
)
def approximate_residual_balancing(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    zeta: float = 0.5,
    basis: str = "moments",
    moments: int = 1,
    interactions: bool = False,
) -> MethodOutput:
    """ARB estimate with the paper's plug-in variance; ``seed`` fixes the cross-validation folds."""
    moments, interactions = int(moments), bool(interactions)  # options checked by causal_core.core.options
    if basis == "auto":
        smallest_arm = min(int(data.treated.sum()), int((~data.treated).sum()))
        ladder = auto_basis_candidates(data.X, data.covariate_names,
                                       max_terms=max(data.X.shape[1], smallest_arm // AUTO_ROWS_PER_TERM))
        X, names = ladder[-1].X, ladder[-1].names
        basis_line = f"auto: {ladder[-1].label} ({len(names)} terms)"
    else:
        X, names = expand_covariates(data.X, data.covariate_names, moments=moments, interactions=interactions)
        parts = ["means"] + (["squares"] if moments >= 2 else []) + (["cubes"] if moments >= 3 else []) + (
            ["pairwise interactions"] if interactions else [])
        basis_line = f"moments: {' + '.join(parts)} ({len(names)} terms)"
    treated = data.treated
    scale = pooled_scale(X, treated)
    X_std = (X - X.mean(axis=0)) / scale
    y = data.y
    weights = np.zeros(data.n)
    diagnostics: dict[str, object] = {"zeta": float(zeta), "basis": basis_line, "basis_terms": ", ".join(names),
                                      "n_balance_terms": len(names)}
    if estimand in ("ATT", "ATC"):
        target_rows = treated if estimand == "ATT" else ~treated
        arm = ~target_rows
        mean, variance, gamma, predicted = _arm_mean(X_std, y, arm, target_rows, zeta, seed)
        # the observed arm: mean of Y - m(X) over the target rows carries both the outcome noise
        # and the sampling of the target covariates
        observed = y[target_rows] - predicted[target_rows]
        observed_mean = float(y[target_rows].mean())
        variance += float(observed.var(ddof=1) / observed.size)
        estimate = observed_mean - mean if estimand == "ATT" else mean - observed_mean
        weights[target_rows] = 1.0
        weights[arm] = gamma * target_rows.sum()
    else:
        everyone = np.ones(data.n, dtype=bool)
        mean_t, var_t, gamma_t, pred_t = _arm_mean(X_std, y, treated, everyone, zeta, seed)
        mean_c, var_c, gamma_c, pred_c = _arm_mean(X_std, y, ~treated, everyone, zeta, seed)
        estimate = mean_t - mean_c
        variance = var_t + var_c + float(np.var(pred_t - pred_c, ddof=1) / data.n)
        weights[treated] = gamma_t * data.n
        weights[~treated] = gamma_c * data.n
    inference = analytic_inference(estimate, np.sqrt(variance), detail="ARB plug-in variance")
    return MethodOutput(estimate=float(estimate), inference=inference, weights=weights,
                        diagnostics=diagnostics)
