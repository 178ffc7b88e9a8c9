"""Approximate residual balancing (Athey, Imbens & Wager 2018).

For each arm whose counterfactual mean is needed: fit a cross-validated
elastic net of the outcome on the (standardised) covariates in that arm, then
find approximately balancing weights from the quadratic programme

    minimise (1 - zeta) ||gamma||^2 + zeta ||target - X' gamma||_inf^2   s.t.  gamma >= 0, sum gamma = 1,

(solved through its dual, one multiplier per balance term, and certified by
the duality gap; cvxpy is the fallback) and correct the model's prediction at the target with the weighted residuals:
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
from causal_core.estimators.balancing._residual_variance import residual_balancing_variance
from causal_core.inference import analytic_inference
from causal_core.nuisance.features import AUTO_ROWS_PER_TERM, auto_basis_candidates, expand_covariates, pooled_scale

__all__ = ["approximate_residual_balancing", "approximate_balancing_weights", "approximate_balancing_weights_cvxpy",
           "balancing_weights_dual"]

L1_RATIO = 0.9  # the elastic-net mixing used by the authors' balanceHD package
CV_FOLDS = 5
QP_SOLVERS = ("CLARABEL", "OSQP", "SCS")


#: The dual solution is accepted once its duality gap (primal minus dual objective) is at most this; the
#: primal weights are then within ``sqrt(gap / (1 - zeta))`` of the exact ones in the Euclidean norm.
DUAL_GAP_TOL = 1e-10  # a hundred times tighter than the 1e-8 gap CLARABEL stops at
POLISH_ROUNDS = 5


def _simplex_weights(v: np.ndarray) -> np.ndarray:
    """``argmin_{g in simplex} ||g - v||``: ``max(v - tau, 0)`` with ``tau`` making the sum 1."""
    descending = np.sort(v)[::-1]
    partial = np.cumsum(descending) - 1.0
    last = np.flatnonzero(descending - partial / np.arange(1, v.size + 1) > 0)[-1]
    return np.maximum(v - partial[last] / (last + 1), 0.0)


def balancing_objective(X_arm: np.ndarray, target: np.ndarray, zeta: float, gamma: np.ndarray) -> float:
    """The primal objective ``(1 - zeta) ||gamma||^2 + zeta ||target - X' gamma||_inf^2``."""
    return float((1 - zeta) * gamma @ gamma + zeta * np.max(np.abs(target - X_arm.T @ gamma)) ** 2)


def balancing_dual(X_arm: np.ndarray, target: np.ndarray, zeta: float, lam: np.ndarray) -> tuple[float, np.ndarray]:
    """The dual objective at ``lam`` (one multiplier per balance term) and the primal weights it implies.

    ``D(lam) = lam'target - ||lam||_1^2 / (4 zeta) - max_{g in simplex} [(X lam)'g - (1 - zeta) ||g||^2]``,
    a lower bound on the primal objective for every ``lam``.
    """
    c = 1 - zeta
    v = X_arm @ lam
    gamma = _simplex_weights(v / (2 * c))
    return float(lam @ target - np.abs(lam).sum() ** 2 / (4 * zeta) - (v @ gamma - c * gamma @ gamma)), gamma


def _polish(X_arm: np.ndarray, target: np.ndarray, zeta: float, lam: np.ndarray, from_primal: bool) -> np.ndarray:
    """Exact dual point on the structure of ``lam``: weight support, nonzero multipliers and their signs.

    On that structure the optimality conditions are linear in (multipliers, simplex shift): the weights are
    ``X_S lam / (2(1 - zeta)) - tau`` on the support and sum to 1, and every balance term with a nonzero
    multiplier sits at the largest imbalance ``||lam||_1 / (2 zeta)`` with the multiplier's sign. The
    terms are those with a nonzero multiplier or (``from_primal``) those within 1e-6 of the largest imbalance
    of the weights ``lam`` implies, with the imbalance's sign.
    """
    c = 1 - zeta
    _, gamma = balancing_dual(X_arm, target, zeta, lam)
    if from_primal:
        imbalance = target - X_arm.T @ gamma
        terms = np.flatnonzero(np.abs(imbalance) >= (1 - 1e-6) * np.abs(imbalance).max())
        signs = np.sign(imbalance[terms])
    else:
        terms = np.flatnonzero(np.abs(lam) > 1e-12 * np.abs(lam).max(initial=0.0))
        signs = np.sign(lam[terms])
    if terms.size == 0:
        return lam
    A = X_arm[gamma > 0][:, terms]
    m = terms.size
    column_sums = A.sum(axis=0)
    system = np.zeros((m + 1, m + 1))
    system[0, :m], system[0, m] = column_sums / (2 * c), -A.shape[0]
    system[1:, :m] = -signs[:, None] * (A.T @ A) / (2 * c) - np.outer(np.ones(m), signs) / (2 * zeta)
    system[1:, m] = signs * column_sums
    rhs = np.r_[1.0, -signs * target[terms]]
    solution = np.linalg.solve(system, rhs)
    polished = np.zeros_like(lam)
    polished[terms] = solution[:m]
    return polished


def balancing_weights_dual(X_arm: np.ndarray, target: np.ndarray, zeta: float
                           ) -> tuple[np.ndarray, float] | None:
    """Weights from the ``p``-dimensional dual, or ``None`` if the duality gap stays above ``DUAL_GAP_TOL``.

    L-BFGS-B maximises the dual over ``lam = lam_plus - lam_minus`` (both nonnegative, so the l1 term is
    smooth); a few exact polishing solves on the identified structure then close the gap to rounding.
    Returns the weights and the certified duality gap.
    """
    from scipy.optimize import minimize

    p = X_arm.shape[1]

    def negative_dual(z: np.ndarray) -> tuple[float, np.ndarray]:
        lam = z[:p] - z[p:]
        value, gamma = balancing_dual(X_arm, target, zeta, lam)
        gap = target - X_arm.T @ gamma
        shrink = z.sum() / (2 * zeta)
        return -value, -np.r_[gap - shrink, -gap - shrink]

    options = {"maxiter": 5000, "ftol": 1e-16, "gtol": 1e-12, "maxcor": 30}
    z = np.zeros(2 * p)
    best: tuple[np.ndarray, float] | None = None
    for _ in range(POLISH_ROUNDS):
        z = minimize(negative_dual, z, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * (2 * p),
                     options=options).x
        lam = z[:p] - z[p:]
        value, gamma = balancing_dual(X_arm, target, zeta, lam)
        for _ in range(POLISH_ROUNDS):
            gap = balancing_objective(X_arm, target, zeta, gamma) - value
            if best is None or gap < best[1]:
                best = (gamma, gap)
            if gap <= DUAL_GAP_TOL:
                return best
            # keep the dual rising: of the two structures' polished points, the longest of the steps 1, 1/2,
            # 1/4... towards one that raises the dual
            trial_value, trial, trial_gamma = value, lam, gamma
            for from_primal in (False, True):
                try:
                    polished = _polish(X_arm, target, zeta, lam, from_primal)
                except np.linalg.LinAlgError:
                    continue
                for step in 0.5 ** np.arange(6):
                    candidate = lam + step * (polished - lam)
                    candidate_value, candidate_gamma = balancing_dual(X_arm, target, zeta, candidate)
                    if candidate_value > trial_value:
                        trial_value, trial, trial_gamma = candidate_value, candidate, candidate_gamma
                        break
            if trial_value <= value:
                break
            lam, value, gamma = trial, trial_value, trial_gamma
        z = np.r_[np.maximum(lam, 0.0), np.maximum(-lam, 0.0)]  # restart L-BFGS-B from the best point so far
    return None


def approximate_balancing_weights_cvxpy(X_arm: np.ndarray, target: np.ndarray, zeta: float) -> np.ndarray:
    """Solve the approximate-balancing QP with cvxpy (the reference formulation, and the fallback)."""
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


def approximate_balancing_weights(X_arm: np.ndarray, target: np.ndarray, zeta: float) -> np.ndarray:
    """Approximately balancing weights; columns of ``X_arm`` should be standardised.

    Solved through the dual (:func:`balancing_weights_dual`, certified by its duality gap); if that gap
    cannot be closed, by cvxpy (:func:`approximate_balancing_weights_cvxpy`).
    """
    solved = balancing_weights_dual(X_arm, target, zeta)
    if solved is None:
        return approximate_balancing_weights_cvxpy(X_arm, target, zeta)
    return solved[0]


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
    model = ElasticNetCV(l1_ratio=L1_RATIO, alphas=50, cv=KFold(folds, shuffle=True, random_state=seed), max_iter=5000,
                         precompute=True)
    # precompute=True: the Gram-matrix coordinate descent, same stopping rule, several times faster at n >> p
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
        mean, _, gamma, predicted = _arm_mean(X_std, y, arm, target_rows, zeta, seed)
        # the observed arm: mean of Y - m(X) over the target rows carries both the outcome noise
        # and the sampling of the target covariates
        observed_mean = float(y[target_rows].mean())
        reweighted = "control" if estimand == "ATT" else "treated"
        variance = residual_balancing_variance(y, treated, estimand, {reweighted: (gamma, predicted)})
        estimate = observed_mean - mean if estimand == "ATT" else mean - observed_mean
        weights[target_rows] = 1.0
        weights[arm] = gamma * target_rows.sum()
    else:
        everyone = np.ones(data.n, dtype=bool)
        mean_t, _, gamma_t, pred_t = _arm_mean(X_std, y, treated, everyone, zeta, seed)
        mean_c, _, gamma_c, pred_c = _arm_mean(X_std, y, ~treated, everyone, zeta, seed)
        estimate = mean_t - mean_c
        variance = residual_balancing_variance(y, treated, "ATE", {"treated": (gamma_t, pred_t),
                                                                   "control": (gamma_c, pred_c)})
        weights[treated] = gamma_t * data.n
        weights[~treated] = gamma_c * data.n
    inference = analytic_inference(estimate, np.sqrt(variance), detail="ARB plug-in variance")
    return MethodOutput(estimate=float(estimate), inference=inference, weights=weights,
                        diagnostics=diagnostics)
