"""Entropy-balancing weights: a Newton solver on the convex dual and a cvxpy primal for checking.

The primal problem (Hainmueller 2012) is

    minimise  sum_i w_i log(w_i / q_i)   subject to  sum_i w_i (x_i - target) = 0,  sum_i w_i = 1,  w >= 0,

with base weights ``q`` summing to 1. Its dual is the unconstrained, convex
log-sum-exp problem ``min_lambda f(lambda) = log sum_i q_i exp(z_i' lambda)``
whose solution gives ``w_i ∝ q_i exp(z_i' lambda)``. The constraints are first
standardised and whitened (an eigen-decomposition of their Gram matrix), so the
Newton system is well conditioned and redundant constraints (collinear or
already-satisfied columns) drop out.

Weak duality gives an exact infeasibility test: for a feasible problem
``-f(lambda) <= KL(w* || q) <= log(1 / min q)`` for every ``lambda``, so an
iterate with ``f(lambda) < log(min q)`` proves that the target lies outside the
convex hull of the rows being reweighted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causal_core.core.errors import CausalInputError

__all__ = [
    "ConstraintBasis",
    "DualSolution",
    "whitened_constraints",
    "newton_dual",
    "newton_direction",
    "cvxpy_primal",
    "CVXPY_SOLVERS",
]

RANK_TOLERANCE = 1e-12
ARMIJO = 1e-4
MAX_HALVINGS = 60
CVXPY_SOLVERS = ("CLARABEL", "ECOS", "SCS")


@dataclass(frozen=True)
class ConstraintBasis:
    """Whitened balance constraints ``Z = D @ transform``.

    ``D`` holds the rows being reweighted minus the target, each column divided
    by its scale; ``Z`` has orthogonal columns with unit mean square.
    """

    Z: np.ndarray
    transform: np.ndarray
    D: np.ndarray

    @property
    def rank(self) -> int:
        return int(self.Z.shape[1])


@dataclass(frozen=True)
class DualSolution:
    """Weights (summing to 1) over the reweighted rows and how the solver got there."""

    weights: np.ndarray
    imbalance: np.ndarray
    iterations: int
    converged: bool
    infeasible: bool
    dual: np.ndarray | None = None


def whitened_constraints(D: np.ndarray) -> ConstraintBasis:
    """Whiten the standardised, target-centred constraint matrix ``D`` (n, p).

    Uses the eigen-decomposition of the small Gram matrix ``D'D / n`` (one pass
    over the rows, far cheaper than an SVD of the tall matrix); directions with
    eigenvalue below ``RANK_TOLERANCE`` times the largest are redundant and
    dropped. Convergence is still judged on every column of ``D``.
    """
    n = D.shape[0]
    eigenvalues, vectors = np.linalg.eigh(D.T @ D / n)
    top = eigenvalues[-1] if eigenvalues.size else 0.0
    if top <= 0:
        return ConstraintBasis(Z=np.zeros((n, 0)), transform=np.zeros((D.shape[1], 0)), D=D)
    keep = eigenvalues > top * RANK_TOLERANCE
    transform = vectors[:, keep] / np.sqrt(eigenvalues[keep])
    return ConstraintBasis(Z=D @ transform, transform=transform, D=D)


def _log_sum_exp_weights(Z: np.ndarray, log_q: np.ndarray, lam: np.ndarray) -> tuple[float, np.ndarray]:
    """Dual objective ``log sum q exp(Z lam)`` and the normalised weights, computed stably."""
    eta = log_q + Z @ lam
    top = eta.max()
    expo = np.exp(eta - top)
    total = expo.sum()
    return float(top + np.log(total)), expo / total


def newton_direction(hessian: np.ndarray, gradient: np.ndarray) -> tuple[np.ndarray, float]:
    """The Newton step ``-H^-1 g`` (least squares when ``H`` is singular) and its slope ``g'step``.

    Falls back to steepest descent when the step is not a descent direction, so
    the Armijo line search that follows always has one.
    """
    try:
        step = -np.linalg.solve(hessian, gradient)
    except np.linalg.LinAlgError:
        step = -np.linalg.lstsq(hessian, gradient, rcond=None)[0]
    slope = float(gradient @ step)
    if not np.isfinite(slope) or slope >= 0:
        step, slope = -gradient, -float(gradient @ gradient)
    return step, slope


def newton_dual(
    basis: ConstraintBasis,
    base_weights: np.ndarray,
    *,
    max_iter: int = 200,
    tol: float = 1e-8,
    penalty: float = 0.0,
) -> DualSolution:
    """Minimise the dual by Newton's method with a backtracking (Armijo) line search.

    Converged when every standardised imbalance ``|sum w (x - target) / scale|``
    is below ``tol``. Stops early, flagged ``infeasible``, when the weak-duality
    bound proves there is no solution.

    With ``penalty = kappa > 0`` it minimises the relaxed dual
    ``f(lambda) + kappa / 2 ||lambda||^2`` instead: strongly convex, so it has
    a solution even when the target lies outside the convex hull; its weights
    balance only approximately (the whitened imbalance is ``-kappa lambda``).
    It is then converged when that penalised gradient is below ``tol``.
    """
    Z, D = basis.Z, basis.D
    q = base_weights / base_weights.sum()
    log_q = np.log(q)
    bound = float(log_q.min())  # f(lambda) >= log(min q) on every feasible problem
    lam = np.zeros(Z.shape[1])
    f, w = _log_sum_exp_weights(Z, log_q, lam)
    f += 0.5 * penalty * float(lam @ lam)
    iterations = 0
    while True:
        gradient = Z.T @ w + penalty * lam
        imbalance = D.T @ w
        done = np.max(np.abs(gradient)) < tol if penalty > 0 else np.max(np.abs(imbalance)) < tol
        if not imbalance.size or done:
            return DualSolution(w, imbalance, iterations, True, False, lam)
        if penalty == 0 and f < bound - 1e-9:
            return DualSolution(w, imbalance, iterations, False, True, lam)
        if iterations >= max_iter:
            return DualSolution(w, imbalance, iterations, False, False, lam)
        iterations += 1
        zw = Z.T @ w
        hessian = (Z * w[:, None]).T @ Z - np.outer(zw, zw) + penalty * np.eye(Z.shape[1])
        step, slope = newton_direction(hessian, gradient)
        size = 1.0
        for _ in range(MAX_HALVINGS):
            trial = lam + size * step
            f_new, w_new = _log_sum_exp_weights(Z, log_q, trial)
            f_new += 0.5 * penalty * float(trial @ trial)
            if f_new <= f + ARMIJO * size * slope:
                break
            size /= 2
        else:
            # no decrease possible at machine precision: the iterate is as good as it gets
            small = np.max(np.abs(gradient if penalty > 0 else imbalance)) < 10 * tol
            return DualSolution(w, imbalance, iterations, bool(small), False, lam)
        lam = lam + size * step
        f, w = f_new, w_new


def cvxpy_primal(basis: ConstraintBasis, base_weights: np.ndarray, *, tol: float = 1e-8) -> DualSolution:
    """Solve the primal with cvxpy and an exponential-cone solver (CLARABEL, ECOS or SCS)."""
    import cvxpy as cp

    installed = set(cp.installed_solvers())
    solver = next((name for name in CVXPY_SOLVERS if name in installed), None)
    if solver is None:
        raise CausalInputError(
            "Option 'solver' is 'cvxpy' but no exponential-cone solver (CLARABEL, ECOS or SCS) is installed; use 'newton'."
        )
    q = base_weights / base_weights.sum()
    n = q.size
    # the variable is the ratio v = w / q (about 1), which keeps the solver's absolute tolerances meaningful
    v = cp.Variable(n, nonneg=True)
    constraints = [q @ v == 1]
    if basis.rank:
        constraints.append((basis.Z * q[:, None]).T @ v == 0)
    problem = cp.Problem(cp.Minimize(q @ -cp.entr(v)), constraints)
    settings = {"CLARABEL": {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol},
                "ECOS": {"abstol": tol, "reltol": tol, "feastol": tol},
                "SCS": {"eps": tol}}[solver]
    try:
        problem.solve(solver=solver, **settings)
    except cp.error.SolverError as exc:
        raise CausalInputError(
            f"Option 'solver' is 'cvxpy' and the {solver} solver failed on this problem ({exc}); use solver='newton'."
        ) from exc
    iterations = int(getattr(problem.solver_stats, "num_iters", 0) or 0)
    if problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE) or v.value is None:
        return DualSolution(np.full(n, 1.0 / n), np.full(basis.D.shape[1], np.inf), iterations, False, True)
    weights = q * np.clip(np.asarray(v.value, dtype=float), 0.0, None)
    weights = weights / weights.sum()
    imbalance = basis.D.T @ weights
    return DualSolution(weights, imbalance, iterations, problem.status == cp.OPTIMAL, False)
