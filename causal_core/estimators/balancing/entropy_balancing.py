"""Entropy balancing (Hainmueller 2012): weights closest to uniform that balance covariate moments exactly.

ATT reweights the controls to the treated means, ATC the treated to the control
means, ATE each arm to the full-sample means. The weights solve a convex
problem (see :mod:`._entropy_dual`); the standard error is the M-estimation
sandwich of the stacked estimating equations (target moments, balance
conditions, weighted arm means), so the uncertainty of the target moments and
of the fitted dual parameters is carried into the effect's standard error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput, kish_ess
from causal_core.estimators.balancing._entropy_dual import ConstraintBasis, DualSolution, cvxpy_primal, newton_dual, whitened_constraints
from causal_core.inference import InfluenceFunction
from causal_core.nuisance.features import AUTO_ROWS_PER_TERM, CandidateBasis, auto_basis_candidates, expand_covariates, pooled_scale

__all__ = ["entropy_balancing", "entropy_balancing_weights", "EntropyBalancingFit"]

SOLVERS = ("newton", "cvxpy")
BASES = ("moments", "auto")
MAX_NAMED = 5
#: ``basis="auto"`` keeps a richer basis only while every reweighted arm keeps this share of the means basis's ESS.
AUTO_ESS_SHARE = 0.3
#: Range of the relaxed dual's penalty (searched by bisection) when even the means cannot be balanced exactly.
RELAXED_PENALTIES = (1e-4, 1e2)
RELAXED_BISECTIONS = 14
#: Weights with a Kish ESS below this share of the arm's rows are reported as concentrated.
CONCENTRATED_SHARE = 0.1


@dataclass(frozen=True)
class EntropyBalancingFit:
    """Weights over the reweighted rows (summing to 1) and the solver's record."""

    weights: np.ndarray
    basis: ConstraintBasis
    solution: DualSolution

    @property
    def max_abs_imbalance(self) -> float:
        return float(np.max(np.abs(self.solution.imbalance))) if self.solution.imbalance.size else 0.0


def _named(names: list[str]) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


class BalanceInfeasible(CausalInputError):
    """Exact balance is impossible: the target lies outside the convex hull; ``columns`` names the terms at fault."""

    def __init__(self, message: str, columns: tuple[str, ...]) -> None:
        super().__init__(message)
        self.columns = columns


def _infeasible(names: list[str], arm_label: str, target_label: str) -> BalanceInfeasible:
    return BalanceInfeasible(
        f"Entropy balancing cannot reweight the {arm_label} to the {target_label} of {_named(names)}: "
        f"the target lies outside the convex hull of the {arm_label}; drop or coarsen these covariates, "
        "lower 'moments', restrict the sample or use basis='auto' (which balances approximately when it must).",
        tuple(names),
    )


def entropy_balancing_weights(
    X_arm: np.ndarray,
    target: np.ndarray,
    scale: np.ndarray,
    *,
    names: tuple[str, ...] | None = None,
    solver: str = "newton",
    max_iter: int = 200,
    tol: float = 1e-8,
    base_weights: np.ndarray | None = None,
    arm_label: str = "reweighted rows",
    target_label: str = "target means",
    penalty: float = 0.0,
) -> EntropyBalancingFit:
    """Entropy-balancing weights for the rows ``X_arm`` so their weighted means equal ``target``.

    Parameters
    ----------
    X_arm : ndarray (m, p)
        Covariates of the rows being reweighted.
    target : ndarray (p,)
        Means to reproduce.
    scale : ndarray (p,)
        Column scales; ``tol`` applies to the imbalance divided by them.
    names : tuple of str, optional
        Column names, for messages.
    solver : {"newton", "cvxpy"}
        Newton on the dual, or the primal through cvxpy (exponential cone).
    max_iter : int
        Newton iterations at most.
    tol : float
        Largest standardised imbalance accepted as converged.
    base_weights : ndarray (m,), optional
        Base weights ``q`` (uniform by default).
    arm_label, target_label : str
        Words for the error message (e.g. ``"control rows"``, ``"treated means"``).
    penalty : float
        0 for exact balance; ``kappa > 0`` solves the relaxed (ridge-penalised)
        dual with Newton whatever ``solver`` says: weights that balance only
        approximately but exist even outside the convex hull.

    Returns
    -------
    EntropyBalancingFit

    Raises
    ------
    CausalInputError
        When no positive weights can balance the target, naming the covariates at fault.
    """
    names = tuple(names) if names is not None else tuple(f"x{j}" for j in range(X_arm.shape[1]))
    D = (X_arm - target) / scale
    outside = [names[j] for j in range(D.shape[1]) if D[:, j].min() > 1e-12 or D[:, j].max() < -1e-12]
    if outside and penalty == 0:
        raise _infeasible(outside, arm_label, target_label)
    q = np.full(D.shape[0], 1.0 / D.shape[0]) if base_weights is None else np.asarray(base_weights, dtype=float)
    basis = whitened_constraints(D)
    if penalty > 0:
        solution = newton_dual(basis, q, max_iter=max_iter, tol=tol, penalty=penalty)
    elif solver == "newton":
        solution = newton_dual(basis, q, max_iter=max_iter, tol=tol)
    else:
        solution = cvxpy_primal(basis, q, tol=min(tol, 1e-7))
    if solution.infeasible:
        imbalance = np.abs(solution.imbalance)
        order = np.argsort(-imbalance)
        worst = [names[j] for j in order if imbalance[j] >= 0.1 * imbalance[order[0]]]
        raise _infeasible(worst, arm_label, target_label)
    return EntropyBalancingFit(weights=solution.weights, basis=basis, solution=solution)


def _sandwich_influence(
    X_std: np.ndarray,
    y: np.ndarray,
    target_rows: np.ndarray,
    arms: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    ridges: tuple[tuple[float, np.ndarray] | None, ...] = (None, None),
) -> np.ndarray:
    """Influence function of ``m_treated - m_control`` from the stacked estimating equations.

    ``arms`` holds, for the treated then the control arm, ``(mask, e, transform)``:
    ``e`` are the arm's weights scaled to mean 1 within the arm (1 when not
    reweighted) and ``transform`` the whitening map (``None`` when not reweighted).
    ``ridges`` holds, per arm, ``(c, lambda)`` with ``c = (n_arm / n) kappa``
    when that arm was balanced by the relaxed dual (its balance equation then
    reads ``mean(w z) + c lambda = 0``), else ``None``.
    Parameters: target moments ``mu``, one dual vector per reweighted arm, and
    the two weighted arm means.
    """
    n, p = X_std.shape
    mu = target_rows @ X_std / target_rows.sum()
    centred = X_std - mu
    sizes = [p] + [transform.shape[1] for _, _, transform in arms if transform is not None] + [1, 1]
    starts = np.concatenate(([0], np.cumsum(sizes)))
    k = int(starts[-1])
    psi = np.zeros((n, k))
    jacobian = np.zeros((k, k))
    psi[:, :p] = target_rows[:, None] * centred
    jacobian[:p, :p] = -target_rows.mean() * np.eye(p)
    block = 1
    mean_index = k - 2
    for (mask, e, transform), ridge in zip(arms, ridges):
        weight = mask * e
        m = float(weight @ y / weight.sum())
        psi[:, mean_index] = weight * (y - m)
        jacobian[mean_index, mean_index] = -weight.mean()
        if transform is not None:
            rows = slice(starts[block], starts[block + 1])
            features = X_std @ transform
            psi[:, rows] = weight[:, None] * (centred @ transform)
            jacobian[rows, :p] = -weight.mean() * transform.T
            jacobian[rows, rows] = (centred @ transform).T @ (features * weight[:, None]) / n
            if ridge is not None:
                coefficient, lam = ridge
                psi[:, rows] += coefficient * lam
                jacobian[rows, rows] += coefficient * np.eye(lam.size)
            jacobian[mean_index, rows] = (weight * (y - m)) @ features / n
            block += 1
        mean_index += 1
    contrast = np.zeros(k)
    contrast[k - 2], contrast[k - 1] = 1.0, -1.0
    direction = np.linalg.solve(jacobian.T, contrast)
    return -psi @ direction


@dataclass(frozen=True)
class _ArmFit:
    """One reweighted arm's fit on one basis: its weights (sum 1), the fit, and the relaxed dual's penalty."""

    name: str
    mask: np.ndarray
    fit: EntropyBalancingFit
    penalty: float


def _fit_arms(
    X: np.ndarray,
    names: tuple[str, ...],
    data: PreparedData,
    estimand: str,
    *,
    solver: str,
    max_iter: int,
    tol: float,
    relax: bool,
) -> list[_ArmFit]:
    """Entropy-balance every arm the estimand reweights on the columns ``X``.

    Raises :class:`CausalInputError` when exact balance is infeasible, unless
    ``relax``: then that arm takes the relaxed dual with the smallest penalty
    (in ``RELAXED_PENALTIES``) that converges with effective sample size at
    least ``CONCENTRATED_SHARE`` of the arm's rows.
    """
    treated = data.treated
    scale = pooled_scale(X, treated)
    target_rows = _target_rows(data, estimand)
    target = X[target_rows].mean(axis=0)
    target_label = {"ATT": "treated means", "ATC": "control means", "ATE": "full-sample means"}[estimand]
    reweighted = {"ATT": (False, True), "ATC": (True, False), "ATE": (True, True)}[estimand]
    fits: list[_ArmFit] = []
    for mask, reweight, arm_name in ((treated, reweighted[0], "treated"), (~treated, reweighted[1], "control")):
        if not reweight:
            continue
        common = dict(names=names, solver=solver, max_iter=max_iter, tol=tol,
                      arm_label=f"{arm_name} rows", target_label=target_label)
        try:
            fits.append(_ArmFit(arm_name, mask, entropy_balancing_weights(X[mask], target, scale, **common), 0.0))
            continue
        except CausalInputError:
            if not relax:
                raise
        fit, penalty = _relaxed_fit(X[mask], target, scale, CONCENTRATED_SHARE * int(mask.sum()), common)
        fits.append(_ArmFit(arm_name, mask, fit, penalty))
    return fits


def _relaxed_fit(X_arm: np.ndarray, target: np.ndarray, scale: np.ndarray, floor: float,
                 common: dict) -> tuple[EntropyBalancingFit, float]:
    """The relaxed dual with the smallest penalty whose weights keep a Kish ESS of at least ``floor``.

    The ESS grows with the penalty (from the hull's vertices towards uniform
    weights), so the penalty is found by bisection on its logarithm between
    ``RELAXED_PENALTIES[0]`` and ``RELAXED_PENALTIES[1]``.
    """
    low, high = np.log(RELAXED_PENALTIES[0]), np.log(RELAXED_PENALTIES[1])

    def solve(log_penalty: float) -> EntropyBalancingFit:
        return entropy_balancing_weights(X_arm, target, scale, penalty=float(np.exp(log_penalty)), **common)

    fit = solve(low)
    if fit.solution.converged and kish_ess(fit.weights) >= floor:
        return fit, float(np.exp(low))
    best = solve(high)
    for _ in range(RELAXED_BISECTIONS):
        middle = (low + high) / 2
        trial = solve(middle)
        if trial.solution.converged and kish_ess(trial.weights) >= floor:
            high, best = middle, trial
        else:
            low = middle
    return best, float(np.exp(high))


def _target_rows(data: PreparedData, estimand: str) -> np.ndarray:
    return {"ATT": data.treated, "ATC": ~data.treated, "ATE": np.ones(data.n, dtype=bool)}[estimand]


def _auto_fit(
    X0: np.ndarray,
    names0: tuple[str, ...],
    data: PreparedData,
    estimand: str,
    *,
    solver: str,
    max_iter: int,
    tol: float,
) -> tuple[CandidateBasis, list[_ArmFit], dict[str, str], list[str]]:
    """Choose the balance basis for ``basis="auto"``: the richest rung of the ladder that passes.

    Rungs (:func:`~causal_core.nuisance.features.auto_basis_candidates`) are
    tried poorest first; a richer rung is kept when exact balance is feasible,
    the dual converges and, in every reweighted arm, the effective sample size
    stays at least ``AUTO_ESS_SHARE`` of the one on the means (a variance
    criterion: the weighted means' variance grows at most about 1 /
    ``AUTO_ESS_SHARE``-fold). New terms that the infeasibility test names are
    left out of their rung (and of the richer ones) and the rung retried. The
    first rung that fails stops the climb (richer rungs contain it). The means
    rung never refuses: where it is infeasible it is balanced approximately
    (relaxed dual).
    Returns the chosen basis, its fits, what happened to each rung, and warnings.
    """
    smallest_arm = min(int(data.treated.sum()), int((~data.treated).sum()))
    candidates = auto_basis_candidates(X0, names0, max_terms=max(len(names0), smallest_arm // AUTO_ROWS_PER_TERM))
    outcome = {candidate.label: "not tried" for candidate in candidates}
    warnings: list[str] = []
    chosen = candidates[0]
    fits = _fit_arms(chosen.X, chosen.names, data, estimand, solver=solver, max_iter=max_iter, tol=tol, relax=True)
    reference_ess = {arm.name: kish_ess(arm.fit.weights) for arm in fits}
    relaxed = [arm for arm in fits if arm.penalty > 0]
    if relaxed:
        outcome[chosen.label] = "chosen (approximate: relaxed dual)"
        for arm in relaxed:
            warnings.append(
                f"Exact balance of the covariate means is infeasible for the {arm.name} rows (the target lies outside "
                f"their convex hull), so basis 'auto' balanced them approximately with a relaxed dual (penalty "
                f"{arm.penalty:.3g}, the smallest that keeps an effective sample size of {CONCENTRATED_SHARE:.0%} of "
                f"the rows); the largest standardised imbalance left is {arm.fit.max_abs_imbalance:.2g}."
            )
        return chosen, fits, outcome, warnings
    outcome[chosen.label] = "chosen"
    dropped: list[str] = []
    for candidate in candidates[1:]:
        candidate = _without(candidate, dropped)
        trial, newly_dropped = _fit_dropping(candidate, chosen.names, data, estimand,
                                             solver=solver, max_iter=max_iter, tol=tol)
        if trial is None:
            outcome[candidate.label] = "infeasible (target outside the convex hull)"
            warnings.append(
                f"Exact balance on the basis '{candidate.label}' is infeasible (the target lies outside the convex "
                f"hull of the reweighted rows), so basis 'auto' kept the richest feasible basis '{chosen.label}'."
            )
            break
        if not all(arm.fit.solution.converged for arm in trial):
            outcome[candidate.label] = "did not converge"
            break
        shares = [kish_ess(arm.fit.weights) / reference_ess[arm.name] for arm in trial]
        if min(shares) < AUTO_ESS_SHARE:
            outcome[candidate.label] = (f"effective sample size {min(shares):.2f} of the means basis's, "
                                        f"below {AUTO_ESS_SHARE:g}")
            break
        if newly_dropped:
            dropped.extend(newly_dropped)
            candidate = _without(candidate, newly_dropped)
            warnings.append(
                f"Exact balance of {_named(newly_dropped)} is infeasible (the target lies outside the convex hull of "
                f"the reweighted rows), so basis 'auto' left these terms out of '{candidate.label}'."
            )
        outcome[chosen.label] = "passed"
        outcome[candidate.label] = "chosen"
        chosen, fits = candidate, trial
    return chosen, fits, outcome, warnings


def _without(candidate: CandidateBasis, dropped: list[str]) -> CandidateBasis:
    """``candidate`` less the terms named in ``dropped``; its label says how many were left out."""
    keep = [j for j, name in enumerate(candidate.names) if name not in dropped]
    if len(keep) == len(candidate.names):
        return candidate
    label = candidate.label.split(" (less ")[0]
    return CandidateBasis(f"{label} (less {len(candidate.names) - len(keep)} terms)", candidate.X[:, keep],
                          tuple(candidate.names[j] for j in keep))


def _fit_dropping(
    candidate: CandidateBasis,
    poorer: tuple[str, ...],
    data: PreparedData,
    estimand: str,
    *,
    solver: str,
    max_iter: int,
    tol: float,
) -> tuple[list[_ArmFit] | None, list[str]]:
    """Exact balance on ``candidate``, leaving out the new terms (not in ``poorer``) that make it infeasible.

    Each infeasible try names the terms at fault; those among the new ones are
    dropped and the fit retried. Returns ``(None, [])`` when a term at fault
    belongs to the poorer basis or every new term is gone.
    """
    dropped: list[str] = []
    current = candidate
    while True:
        try:
            return _fit_arms(current.X, current.names, data, estimand, solver=solver, max_iter=max_iter, tol=tol,
                             relax=False), dropped
        except BalanceInfeasible as exc:
            fault = [name for name in exc.columns if name not in poorer and name in current.names]
            if not fault or len(current.names) - len(fault) <= len(poorer):
                return None, []
            dropped.extend(fault)
            current = _without(candidate, dropped)


@register(
    id="entropy_balancing",
    label="Entropy balancing",
    family="Balancing weights",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Weights as close to uniform as possible (in entropy) that make covariate means (and chosen moments, or with basis='auto' logs, interactions and squares) match exactly.",
    reference="Hainmueller (2012), Political Analysis 20(1); Zhao & Percival (2017), J. Causal Inference.",
    options=(
        OptionSpec("basis", "choice", "moments",
                   "What to balance: 'moments' = the covariates' means and the moments/interactions chosen below; "
                   "'auto' = the richest of means, + logs of skewed columns, + pairwise interactions, + squares "
                   f"whose exact balance is feasible and keeps at least {AUTO_ESS_SHARE:.0%} of the effective sample "
                   "size of the means (infeasible new terms are left out; when even the means are outside the convex "
                   "hull it balances them approximately instead of refusing).",
                   choices=BASES),
        OptionSpec("moments", "int", 1, "Balance means (1), also variances (2) or also skewness (3) (basis 'moments').",
                   low=1, high=3),
        OptionSpec("interactions", "bool", False, "Also balance all pairwise products of covariates (basis 'moments')."),
        OptionSpec("solver", "choice", "newton", "Newton on the convex dual (fast) or the primal through cvxpy.",
                   choices=SOLVERS),
        OptionSpec("max_iter", "int", 200, "Most Newton iterations.", low=1, high=10_000),
        OptionSpec("tol", "float", 1e-8, "Largest standardised imbalance accepted as balanced.", low=1e-12, high=0.1),
    ),
    limits=MethodLimits(arm_rows_beyond_covariates=2, needs_overlap=True),
    gives_weights=True, default_ticked=True, order=120,
)
def entropy_balancing(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    basis: str = "moments",
    moments: int = 1,
    interactions: bool = False,
    solver: str = "newton",
    max_iter: int = 200,
    tol: float = 1e-8,
) -> MethodOutput:
    """Entropy-balancing estimate with a sandwich standard error; ``seed`` is unused (no randomness)."""
    moments, interactions = int(moments), bool(interactions)  # options checked by causal_core.core.options
    warnings: list[str] = []
    if basis == "auto":
        chosen, fits, outcome, basis_warnings = _auto_fit(data.X, tuple(data.covariate_names), data, estimand,
                                                          solver=solver, max_iter=max_iter, tol=tol)
        X, names = chosen.X, chosen.names
        warnings.extend(basis_warnings)
        relaxed = any(arm.penalty > 0 for arm in fits)
        basis_line = f"auto: {chosen.label} ({len(names)} terms{', approximate' if relaxed else ''})"
    else:
        X, names = expand_covariates(data.X, data.covariate_names, moments=moments, interactions=interactions)
        fits = _fit_arms(X, names, data, estimand, solver=solver, max_iter=max_iter, tol=tol, relax=False)
        outcome = {}
        parts = ["means"] + (["variances"] if moments >= 2 else []) + (["skewness"] if moments >= 3 else []) + (
            ["pairwise interactions"] if interactions else [])
        basis_line = f"moments: {' + '.join(parts)} ({len(names)} terms)"
    treated = data.treated
    scale = pooled_scale(X, treated)
    target_rows = _target_rows(data, estimand)

    weights = np.zeros(data.n)
    arms: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    ridges: list[tuple[float, np.ndarray] | None] = []
    diagnostics: dict[str, object] = {"basis": basis_line, "basis_terms": ", ".join(names), "solver": solver,
                                      "moments": moments, "interactions": interactions,
                                      "n_balance_terms": len(names), "iterations": 0, "converged": True}
    if outcome:
        diagnostics["basis_candidates"] = outcome
    by_arm = {arm.name: arm for arm in fits}
    for mask, arm_name in ((treated, "treated"), (~treated, "control")):
        n_arm = int(mask.sum())
        if arm_name not in by_arm:
            weights[mask] = 1.0
            arms.append((mask.astype(float), np.ones(data.n), None))
            ridges.append(None)
            continue
        arm = by_arm[arm_name]
        fit = arm.fit
        e = np.zeros(data.n)
        e[mask] = fit.weights * n_arm
        arms.append((mask.astype(float), e, fit.basis.transform))
        ridges.append((n_arm / data.n * arm.penalty, fit.solution.dual) if arm.penalty > 0 else None)
        # reported weights sum to the target size in each reweighted arm (n for the ATE, as IPW weights do)
        weights[mask] = fit.weights * int(target_rows.sum())
        diagnostics["iterations"] = int(diagnostics["iterations"]) + fit.solution.iterations
        diagnostics["converged"] = bool(diagnostics["converged"]) and fit.solution.converged
        if arm.penalty > 0:
            diagnostics[f"max_abs_imbalance_{arm_name}"] = fit.max_abs_imbalance
        ess_after = kish_ess(fit.weights)  # for the warning; the result's weight_diagnostics reports it
        if not fit.solution.converged:
            warnings.append(
                f"Entropy balancing of the {arm_name} rows did not converge in {fit.solution.iterations} iterations "
                f"(largest standardised imbalance {fit.max_abs_imbalance:.2g}); raise 'max_iter' or loosen 'tol'."
            )
        if ess_after < CONCENTRATED_SHARE * n_arm:
            warnings.append(
                f"The {arm_name} weights are concentrated: effective sample size {ess_after:.0f} of {n_arm} rows; "
                "the estimate leans on few units."
            )

    # the transform was built for covariates divided by ``scale``: use the same standardised covariates here
    X_std = X / scale
    (mask_t, e_t, _), (mask_c, e_c, _) = arms
    mean_treated = float((mask_t * e_t) @ data.y / (mask_t * e_t).sum())
    mean_control = float((mask_c * e_c) @ data.y / (mask_c * e_c).sum())
    influence = _sandwich_influence(X_std, data.y, target_rows.astype(float), arms, tuple(ridges))
    return MethodOutput(
        estimate=mean_treated - mean_control,
        inference=InfluenceFunction(influence, "sandwich", "sandwich (M-estimation)"),
        weights=weights,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
