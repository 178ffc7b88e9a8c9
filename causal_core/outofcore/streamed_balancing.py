"""Entropy balancing over a table on disk: the in-memory Newton dual, one pass over the partitions per step.

The iteration is :func:`causal_core.estimators.balancing._entropy_dual.newton_dual`
run on sufficient statistics instead of rows:

1. **moments pass** — per arm the count, mean vector, scatter matrix about the
   arm mean (merged exactly across partitions, Chan et al. 1979), column minima
   and maxima and the outcome sum. They give the pooled scale, the target means,
   the convex-hull check and each reweighted arm's whitening Gram matrix
   ``D'D / m = (S + m (mean - target)(mean - target)') / (scale scale') / m``.
2. **one pass per Newton trial point** — for the reweighted arm at ``lambda``:
   ``sum e``, ``Z'e``, ``(Z e)'Z``, ``D'e``, ``y'e`` and ``sum e^2`` with
   ``e = exp(eta - shift)``; the shift is the running maximum of ``eta``, and
   sums gathered under an older shift are multiplied by ``exp(old - new)``, so
   nothing overflows. Gradient, Hessian, imbalance, dual objective and Armijo
   test are then the in-memory ones; so are the stopping and infeasibility rules.
3. **SE pass** — the stacked estimating equations of
   :func:`causal_core.estimators.balancing.entropy_balancing._sandwich_influence`:
   their Jacobian blocks, ``sum psi`` and ``sum psi psi'`` in one pass; the
   influence function's variance is ``d' (sum psi psi') d`` with ``d`` solving
   ``J' d = contrast``.

Only the default expansion (``moments=1``, no interactions) and the Newton
solver are streamed; other values are refused with a message.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from causal_core.core.errors import CausalInputError
from causal_core.core.options import validate_options
from causal_core.core.registry import get_method
from causal_core.estimators.balancing._entropy_dual import ARMIJO, MAX_HALVINGS, RANK_TOLERANCE, newton_direction
from causal_core.estimators.balancing.entropy_balancing import _infeasible

__all__ = ["EntropyBalancingStreamed", "streamed_entropy_balancing", "STREAMED_OPTIONS"]

#: Options of ``entropy_balancing`` the streamed form accepts (the first three only at their defaults).
STREAMED_OPTIONS = ("moments", "interactions", "solver", "max_iter", "tol")
_DEFAULTS = {"moments": 1, "interactions": False, "solver": "newton"}
_TARGET_LABEL = {"ATT": "treated means", "ATC": "control means", "ATE": "full-sample means"}
_REWEIGHTED = {"ATT": (False, True), "ATC": (True, False), "ATE": (True, True)}


@dataclass(frozen=True)
class EntropyBalancingStreamed:
    """The streamed fit: estimate, SE and what the solver did; ``weights`` only when asked for."""

    estimate: float
    std_error: float
    n_used: int
    n_partitions: int
    iterations: int
    converged: bool
    warnings: tuple[str, ...]
    weights: np.ndarray | None = None


def check_options(options: dict[str, Any]) -> tuple[int, float]:
    """Validate the options like ``cc.estimate`` does and refuse what is not streamed; ``(max_iter, tol)``."""
    validate_options(get_method("entropy_balancing"), options)
    for name, default in _DEFAULTS.items():
        if name in options and options[name] != default:
            raise CausalInputError(
                f"Option '{name}' is {options[name]!r}; the streamed entropy_balancing supports only "
                f"{name}={default!r} (run it in memory or on a sample with estimate_large for other values).")
    return int(options.get("max_iter", 200)), float(options.get("tol", 1e-8))


def _merge_scatter(acc: tuple, X: np.ndarray) -> tuple:
    """Chan et al.'s exact merge of (count, mean vector, scatter about the mean) with the rows ``X``."""
    na, ma, sa = acc
    n = X.shape[0]
    if n == 0:
        return acc
    mean = X.mean(axis=0)
    centred = X - mean
    scatter = centred.T @ centred
    total = na + n
    delta = mean - ma
    return total, ma + delta * n / total, sa + scatter + np.outer(delta, delta) * (na * n / total)


class _ArmMoments:
    """Per-arm sufficient statistics of the moments pass."""

    def __init__(self, k: int):
        self.acc = (0, np.zeros(k), np.zeros((k, k)))
        self.low = np.full(k, np.inf)
        self.high = np.full(k, -np.inf)
        self.y_sum = 0.0

    def add(self, X: np.ndarray, y: np.ndarray) -> None:
        self.acc = _merge_scatter(self.acc, X)
        if X.shape[0]:
            self.low = np.minimum(self.low, X.min(axis=0))
            self.high = np.maximum(self.high, X.max(axis=0))
        self.y_sum += float(y.sum())

    @property
    def n(self) -> int:
        return int(self.acc[0])


def _moments(stream, k: int) -> tuple[_ArmMoments, _ArmMoments, int, int]:
    arms = (_ArmMoments(k), _ArmMoments(k))  # treated, control
    n_parts = 0
    for X, t, y in stream():
        n_parts += 1
        for arm, mask in zip(arms, (t == 1, t == 0)):
            arm.add(X[mask], y[mask])
    return arms[0], arms[1], arms[0].n + arms[1].n, n_parts


def _pooled_scale(treated: _ArmMoments, control: _ArmMoments) -> np.ndarray:
    """:func:`causal_core.nuisance.features.pooled_scale` from the arms' scatter matrices."""
    k = treated.acc[1].size
    var_t = np.diag(treated.acc[2]) / (treated.n - 1) if treated.n > 1 else np.zeros(k)
    var_c = np.diag(control.acc[2]) / (control.n - 1) if control.n > 1 else np.zeros(k)
    scale = np.sqrt((var_t + var_c) / 2)
    n, _, overall = _merge_scatter_stats(treated.acc, control.acc)
    sd = np.sqrt(np.diag(overall) / (n - 1)) if n > 1 else np.ones(k)
    scale = np.where(scale > 0, scale, sd)
    return np.where(scale > 0, scale, 1.0)


def _merge_scatter_stats(a: tuple, b: tuple) -> tuple:
    (na, ma, sa), (nb, mb, sb) = a, b
    total = na + nb
    delta = mb - ma
    return total, ma + delta * nb / total, sa + sb + np.outer(delta, delta) * (na * nb / total)


def _whitening(arm: _ArmMoments, target: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``transform`` of :func:`whitened_constraints` from the Gram matrix of ``D = (x - target) / scale``."""
    n, mean, scatter = arm.acc
    offset = mean - target
    gram = (scatter + n * np.outer(offset, offset)) / np.outer(scale, scale) / n
    eigenvalues, vectors = np.linalg.eigh(gram)
    top = eigenvalues[-1] if eigenvalues.size else 0.0
    if top <= 0:
        return np.zeros((target.size, 0))
    keep = eigenvalues > top * RANK_TOLERANCE
    return vectors[:, keep] / np.sqrt(eigenvalues[keep])


class _DualSums:
    """Shifted sums over one arm's rows at one ``lambda``: sum e, Z'e, (Ze)'Z, D'e, y'e, sum e^2."""

    def __init__(self, r: int, p: int):
        self.shift = -np.inf
        self.s0, self.sz, self.szz = 0.0, np.zeros(r), np.zeros((r, r))
        self.sd, self.sy, self.se2 = np.zeros(p), 0.0, 0.0

    def add(self, eta: np.ndarray, Z: np.ndarray, D: np.ndarray, y: np.ndarray) -> None:
        if eta.size == 0:
            return
        top = float(eta.max())
        if top > self.shift:  # rescale what was gathered under the old shift
            factor = np.exp(self.shift - top) if np.isfinite(self.shift) else 0.0
            self.s0 *= factor
            self.sz *= factor
            self.szz *= factor
            self.sd *= factor
            self.sy *= factor
            self.se2 *= factor * factor
            self.shift = top
        e = np.exp(eta - self.shift)
        self.s0 += float(e.sum())
        self.sz += Z.T @ e
        self.szz += (Z * e[:, None]).T @ Z
        self.sd += D.T @ e
        self.sy += float(e @ y)
        self.se2 += float(e @ e)

    @property
    def objective(self) -> float:
        return float(self.shift + np.log(self.s0))


def _arm_rows(X, t, y, arm_value, target, scale, transform):
    mask = t == arm_value
    D = (X[mask] - target) / scale
    return D, D @ transform, y[mask]


def _dual_pass(stream, arm_value, target, scale, transform, log_q, lam) -> _DualSums:
    sums = _DualSums(transform.shape[1], target.size)
    for X, t, y in stream():
        D, Z, y_arm = _arm_rows(X, t, y, arm_value, target, scale, transform)
        sums.add(log_q + Z @ lam, Z, D, y_arm)
    return sums


def _newton(stream, arm_value, n_arm, target, scale, transform, *, max_iter: int, tol: float):
    """:func:`newton_dual` with uniform base weights, each objective evaluation one pass over the partitions."""
    log_q = -np.log(n_arm)
    bound = log_q
    lam = np.zeros(transform.shape[1])
    sums = _dual_pass(stream, arm_value, target, scale, transform, log_q, lam)
    f = sums.objective
    iterations = 0
    while True:
        gradient, imbalance = sums.sz / sums.s0, sums.sd / sums.s0
        if not imbalance.size or np.max(np.abs(imbalance)) < tol:
            return lam, sums, imbalance, iterations, True, False
        if f < bound - 1e-9:
            return lam, sums, imbalance, iterations, False, True
        if iterations >= max_iter:
            return lam, sums, imbalance, iterations, False, False
        iterations += 1
        hessian = sums.szz / sums.s0 - np.outer(gradient, gradient)
        step, slope = newton_direction(hessian, gradient)
        size = 1.0
        for _ in range(MAX_HALVINGS):
            trial = _dual_pass(stream, arm_value, target, scale, transform, log_q, lam + size * step)
            if trial.objective <= f + ARMIJO * size * slope:
                break
            size /= 2
        else:
            return lam, sums, imbalance, iterations, bool(np.max(np.abs(imbalance)) < 10 * tol), False
        lam = lam + size * step
        sums, f = trial, trial.objective


@dataclass(frozen=True)
class _ArmFit:
    """How one arm enters the stacked equations: its rows' weights ``e`` (mean 1 in the arm) and transform."""

    value: float
    n: int
    mean_y: float
    transform: np.ndarray | None = None
    lam: np.ndarray | None = None
    shift: float = 0.0
    s0: float = 1.0

    def e(self, Z: np.ndarray) -> np.ndarray:
        if self.transform is None:
            return np.ones(Z.shape[0])
        return self.n * np.exp(-np.log(self.n) + Z @ self.lam - self.shift) / self.s0


def _stacked_se(stream, arms: list[_ArmFit], target: np.ndarray, scale: np.ndarray, estimand: str,
                n: int) -> float:
    """The sandwich SE of ``m_treated - m_control`` from one pass of sufficient statistics."""
    p = target.size
    mu = target / scale
    ranks = [arm.transform.shape[1] for arm in arms if arm.transform is not None]
    sizes = [p] + ranks + [1, 1]
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(int)
    k = int(starts[-1])
    meat, psi_sum, jacobian = np.zeros((k, k)), np.zeros(k), np.zeros((k, k))
    n_target = 0
    for X, t, y in stream():
        psi = np.zeros((t.size, k))
        X_std = X / scale
        centred = X_std - mu
        target_rows = {"ATT": t == 1, "ATC": t == 0, "ATE": np.ones(t.size, dtype=bool)}[estimand]
        n_target += int(target_rows.sum())
        psi[:, :p] = target_rows[:, None] * centred
        block, mean_index = 1, k - 2
        for arm in arms:
            mask = t == arm.value
            weight = np.zeros(t.size)
            if arm.transform is not None:
                Z = ((X[mask] - target) / scale) @ arm.transform
                weight[mask] = arm.e(Z)
                rows = slice(starts[block], starts[block + 1])
                features = X_std @ arm.transform
                psi[:, rows] = weight[:, None] * (centred @ arm.transform)
                jacobian[rows, rows] += (centred @ arm.transform).T @ (features * weight[:, None])
                jacobian[mean_index, rows] += (weight * (y - arm.mean_y)) @ features
                block += 1
            else:
                weight[mask] = 1.0
            psi[:, mean_index] = weight * (y - arm.mean_y)
            mean_index += 1
        meat += psi.T @ psi
        psi_sum += psi.sum(axis=0)
    jacobian /= n
    jacobian[:p, :p] = -(n_target / n) * np.eye(p)
    block, mean_index = 1, k - 2
    for arm in arms:
        share = arm.n / n  # every arm's weights sum to its row count
        jacobian[mean_index, mean_index] = -share
        if arm.transform is not None:
            jacobian[starts[block]:starts[block + 1], :p] = -share * arm.transform.T
            block += 1
        mean_index += 1
    contrast = np.zeros(k)
    contrast[k - 2], contrast[k - 1] = 1.0, -1.0
    direction = np.linalg.solve(jacobian.T, contrast)
    total, squares = -float(psi_sum @ direction), float(direction @ meat @ direction)
    return float(np.sqrt(max(squares - total * total / n, 0.0)) / n)


def _weights(stream, arms: list[_ArmFit], target, scale, n_target: int) -> np.ndarray:
    """One weight per used row, in file order, as ``cc.estimate`` reports them."""
    out = []
    for X, t, _ in stream():
        w = np.ones(t.size)
        for arm in arms:
            if arm.transform is not None:
                mask = t == arm.value
                Z = ((X[mask] - target) / scale) @ arm.transform
                w[mask] = arm.e(Z) / arm.n * n_target
        out.append(w)
    return np.concatenate(out) if out else np.empty(0)


def streamed_entropy_balancing(stream, enc, estimand: str, *, return_weights: bool = False,
                               **options: Any) -> EntropyBalancingStreamed:
    """Entropy balancing (means) over ``stream``, the partitions of :func:`causal_core.outofcore.streamed._passes`."""
    max_iter, tol = check_options(options)
    names = enc.names
    k = len(names)
    if k == 0:
        raise CausalInputError("Entropy balancing needs at least one confounder; none is assigned.")
    treated, control, n, n_parts = _moments(stream, k)
    for arm_name, arm in (("treated", treated), ("control", control)):
        if arm.n < k + 2:  # the in-memory limit: an arm needs more rows than balance terms
            raise CausalInputError(f"Treatment column '{enc.treatment}' has {arm.n} complete {arm_name} rows for "
                                   f"{k} balance terms; entropy balancing needs at least {k + 2} in each arm.")
    scale = _pooled_scale(treated, control)
    target = {"ATT": treated.acc[1], "ATC": control.acc[1],
              "ATE": _merge_scatter_stats(treated.acc, control.acc)[1]}[estimand]
    n_target = {"ATT": treated.n, "ATC": control.n, "ATE": n}[estimand]
    arms: list[_ArmFit] = []
    warnings: list[str] = []
    iterations, converged = 0, True
    for value, arm, reweight, arm_name in ((1.0, treated, _REWEIGHTED[estimand][0], "treated"),
                                           (0.0, control, _REWEIGHTED[estimand][1], "control")):
        if not reweight:
            arms.append(_ArmFit(value, arm.n, arm.y_sum / arm.n))
            continue
        labels = (f"{arm_name} rows", _TARGET_LABEL[estimand])
        low, high = (arm.low - target) / scale, (arm.high - target) / scale
        outside = [names[j] for j in range(k) if low[j] > 1e-12 or high[j] < -1e-12]
        if outside:
            raise _infeasible(outside, *labels)
        transform = _whitening(arm, target, scale)
        lam, sums, imbalance, steps, ok, infeasible = _newton(stream, value, arm.n, target, scale, transform,
                                                              max_iter=max_iter, tol=tol)
        if infeasible:
            size = np.abs(imbalance)
            order = np.argsort(-size)
            raise _infeasible([names[j] for j in order if size[j] >= 0.1 * size[order[0]]], *labels)
        iterations += steps
        converged = converged and ok
        arms.append(_ArmFit(value, arm.n, sums.sy / sums.s0, transform, lam, sums.shift, sums.s0))
        if not ok:
            warnings.append(
                f"Entropy balancing of the {arm_name} rows did not converge in {steps} iterations "
                f"(largest standardised imbalance {float(np.max(np.abs(imbalance))):.2g}); raise 'max_iter' or "
                "loosen 'tol'.")
        ess_after = sums.s0 * sums.s0 / sums.se2
        if ess_after < 0.1 * arm.n:
            warnings.append(f"The {arm_name} weights are concentrated: effective sample size {ess_after:.0f} of "
                            f"{arm.n} rows; the estimate leans on few units.")
    estimate = arms[0].mean_y - arms[1].mean_y
    se = _stacked_se(stream, arms, target, scale, estimand, n)
    weights = _weights(stream, arms, target, scale, n_target) if return_weights else None
    return EntropyBalancingStreamed(float(estimate), se, n, n_parts, iterations, converged, tuple(warnings), weights)


def kernel(stream, enc, estimand: str, **options: Any) -> tuple:
    """The ``streamed_estimate`` kernel: ``(estimate, se, n_used, n_partitions, detail, warnings)``."""
    fit = streamed_entropy_balancing(stream, enc, estimand, **options)
    return fit.estimate, fit.std_error, fit.n_used, fit.n_partitions, "sandwich (M-estimation)", fit.warnings
