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
from causal_core.nuisance.features import expand_covariates, pooled_scale

__all__ = ["entropy_balancing", "entropy_balancing_weights", "EntropyBalancingFit"]

SOLVERS = ("newton", "cvxpy")
MAX_NAMED = 5


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


def _infeasible(names: list[str], arm_label: str, target_label: str) -> CausalInputError:
    return CausalInputError(
        f"Entropy balancing cannot reweight the {arm_label} to the {target_label} of {_named(names)}: "
        f"the target lies outside the convex hull of the {arm_label}; drop or coarsen these covariates, "
        "lower 'moments' or restrict the sample."
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
    if outside:
        raise _infeasible(outside, arm_label, target_label)
    q = np.full(D.shape[0], 1.0 / D.shape[0]) if base_weights is None else np.asarray(base_weights, dtype=float)
    basis = whitened_constraints(D)
    if solver == "newton":
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
) -> np.ndarray:
    """Influence function of ``m_treated - m_control`` from the stacked estimating equations.

    ``arms`` holds, for the treated then the control arm, ``(mask, e, transform)``:
    ``e`` are the arm's weights scaled to mean 1 within the arm (1 when not
    reweighted) and ``transform`` the whitening map (``None`` when not reweighted).
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
    for mask, e, transform in arms:
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
            jacobian[mean_index, rows] = (weight * (y - m)) @ features / n
            block += 1
        mean_index += 1
    contrast = np.zeros(k)
    contrast[k - 2], contrast[k - 1] = 1.0, -1.0
    direction = np.linalg.solve(jacobian.T, contrast)
    return -psi @ direction


@register(
    id="entropy_balancing",
    label="Entropy balancing",
    family="Balancing weights",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Weights as close to uniform as possible (in entropy) that make covariate means (and chosen moments) match exactly.",
    reference="Hainmueller (2012), Political Analysis 20(1); Zhao & Percival (2017), J. Causal Inference.",
    options=(
        OptionSpec("moments", "int", 1, "Balance means (1), also variances (2) or also skewness (3).", low=1, high=3),
        OptionSpec("interactions", "bool", False, "Also balance all pairwise products of covariates."),
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
    moments: int = 1,
    interactions: bool = False,
    solver: str = "newton",
    max_iter: int = 200,
    tol: float = 1e-8,
) -> MethodOutput:
    """Entropy-balancing estimate with a sandwich standard error; ``seed`` is unused (no randomness)."""
    moments, interactions = int(moments), bool(interactions)  # options checked by causal_core.core.options
    X, names = expand_covariates(data.X, data.covariate_names, moments=moments, interactions=interactions)
    treated = data.treated
    scale = pooled_scale(X, treated)
    target_rows = {"ATT": treated, "ATC": ~treated, "ATE": np.ones(data.n, dtype=bool)}[estimand]
    target = X[target_rows].mean(axis=0)
    target_label = {"ATT": "treated means", "ATC": "control means", "ATE": "full-sample means"}[estimand]
    reweighted = {"ATT": (False, True), "ATC": (True, False), "ATE": (True, True)}[estimand]

    weights = np.zeros(data.n)
    arms: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    warnings: list[str] = []
    diagnostics: dict[str, object] = {"solver": solver, "moments": moments, "interactions": interactions,
                                      "n_balance_terms": len(names), "iterations": 0, "converged": True}
    for mask, reweight, arm_name in ((treated, reweighted[0], "treated"), (~treated, reweighted[1], "control")):
        n_arm = int(mask.sum())
        if not reweight:
            weights[mask] = 1.0
            arms.append((mask.astype(float), np.ones(data.n), None))
            continue
        fit = entropy_balancing_weights(
            X[mask], target, scale, names=names, solver=solver, max_iter=max_iter, tol=tol,
            arm_label=f"{arm_name} rows", target_label=target_label,
        )
        e = np.zeros(data.n)
        e[mask] = fit.weights * n_arm
        arms.append((mask.astype(float), e, fit.basis.transform))
        # reported weights sum to the target size in each reweighted arm (n for the ATE, as IPW weights do)
        weights[mask] = fit.weights * int(target_rows.sum())
        diagnostics["iterations"] = int(diagnostics["iterations"]) + fit.solution.iterations
        diagnostics["converged"] = bool(diagnostics["converged"]) and fit.solution.converged
        ess_after = kish_ess(fit.weights)  # for the warning; the result's weight_diagnostics reports it
        if not fit.solution.converged:
            warnings.append(
                f"Entropy balancing of the {arm_name} rows did not converge in {fit.solution.iterations} iterations "
                f"(largest standardised imbalance {fit.max_abs_imbalance:.2g}); raise 'max_iter' or loosen 'tol'."
            )
        if ess_after < 0.1 * n_arm:
            warnings.append(
                f"The {arm_name} weights are concentrated: effective sample size {ess_after:.0f} of {n_arm} rows; "
                "the estimate leans on few units."
            )

    # the transform was built for covariates divided by ``scale``: use the same standardised covariates here
    X_std = X / scale
    (mask_t, e_t, _), (mask_c, e_c, _) = arms
    mean_treated = float((mask_t * e_t) @ data.y / (mask_t * e_t).sum())
    mean_control = float((mask_c * e_c) @ data.y / (mask_c * e_c).sum())
    influence = _sandwich_influence(X_std, data.y, target_rows.astype(float), arms)
    return MethodOutput(
        estimate=mean_treated - mean_control,
        inference=InfluenceFunction(influence, "sandwich", "sandwich (M-estimation)"),
        weights=weights,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
