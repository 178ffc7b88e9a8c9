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
   ``e = exp(eta - shift)``; each partition uses its own maximum of ``eta`` as
   the shift, and the driver merges the partitions in partition order under the
   running maximum (sums under a smaller shift are multiplied by
   ``exp(old - new)``), so nothing overflows. Gradient, Hessian, imbalance, dual objective and Armijo
   test are then the in-memory ones; so are the stopping and infeasibility rules.
3. **SE pass** — the stacked estimating equations of
   :func:`causal_core.estimators.balancing.entropy_balancing._sandwich_influence`:
   their Jacobian blocks, ``sum psi`` and ``sum psi psi'`` in one pass; the
   influence function's variance is ``d' (sum psi psi') d`` with ``d`` solving
   ``J' d = contrast``.

Every pass is :meth:`causal_core.outofcore.mapped.Pass.run` of a module-level
kernel returning small arrays (``return_weights`` aside): on a Dask backend one
task per partition on the workers, each reading its own rows; the reduction is
in partition order here, so estimate and SE are the serial run's bit for bit.

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


def _arm_moments_kernel(X: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple:
    """One partition's per-arm (treated, control) ``(count, mean, scatter, minima, maxima, outcome sum)``."""
    out = []
    for mask in (t == 1, t == 0):
        X_arm, y_arm = X[mask], y[mask]
        if X_arm.shape[0] == 0:
            out.append(None)
            continue
        mean = X_arm.mean(axis=0)
        centred = X_arm - mean
        out.append((X_arm.shape[0], mean, centred.T @ centred, X_arm.min(axis=0), X_arm.max(axis=0),
                    float(y_arm.sum())))
    return tuple(out)


class _ArmMoments:
    """Per-arm sufficient statistics of the moments pass, merged partition by partition in partition order."""

    def __init__(self, k: int):
        self.acc = (0, np.zeros(k), np.zeros((k, k)))
        self.low = np.full(k, np.inf)
        self.high = np.full(k, -np.inf)
        self.y_sum = 0.0

    def merge(self, part: tuple | None) -> None:
        """Chan et al.'s exact merge with one partition's ``(count, mean, scatter, minima, maxima, y sum)``."""
        if part is None:
            return
        n, mean, scatter, low, high, y_sum = part
        self.acc = _merge_scatter_stats(self.acc, (n, mean, scatter))
        self.low = np.minimum(self.low, low)
        self.high = np.maximum(self.high, high)
        self.y_sum += y_sum

    @property
    def n(self) -> int:
        return int(self.acc[0])


def _moments(passes, k: int) -> tuple[_ArmMoments, _ArmMoments, int, int]:
    arms = (_ArmMoments(k), _ArmMoments(k))  # treated, control
    parts = passes.run(_arm_moments_kernel)
    for part in parts:  # in partition order
        for arm, arm_part in zip(arms, part):
            arm.merge(arm_part)
    return arms[0], arms[1], arms[0].n + arms[1].n, len(parts)


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


def _arm_rows(X, t, y, arm_value, target, scale, transform):
    mask = t == arm_value
    D = (X[mask] - target) / scale
    return D, D @ transform, y[mask]


def _dual_sums_kernel(X, t, y, arm_value, target, scale, transform, log_q, lam) -> tuple | None:
    """One partition's sums over the arm's rows at ``lam``, under the partition's own shift ``max eta``.

    ``(shift, sum e, Z'e, (Z e)'Z, D'e, y'e, sum e^2)`` with ``e = exp(eta - shift)``; ``None`` without rows.
    """
    D, Z, y_arm = _arm_rows(X, t, y, arm_value, target, scale, transform)
    eta = log_q + Z @ lam
    if eta.size == 0:
        return None
    shift = float(eta.max())
    e = np.exp(eta - shift)
    return shift, float(e.sum()), Z.T @ e, (Z * e[:, None]).T @ Z, D.T @ e, float(e @ y_arm), float(e @ e)


class _DualSums:
    """Shifted sums over one arm's rows at one ``lambda``: sum e, Z'e, (Ze)'Z, D'e, y'e, sum e^2.

    Partitions' sums, each under its own shift, are merged in partition order under the running
    maximum shift: sums gathered under a smaller shift are multiplied by ``exp(old - new)``, so
    nothing overflows and the result does not depend on where the partitions ran.
    """

    def __init__(self, r: int, p: int):
        self.shift = -np.inf
        self.s0, self.sz, self.szz = 0.0, np.zeros(r), np.zeros((r, r))
        self.sd, self.sy, self.se2 = np.zeros(p), 0.0, 0.0

    def merge(self, part: tuple | None) -> None:
        if part is None:
            return
        shift, s0, sz, szz, sd, sy, se2 = part
        if shift > self.shift:  # rescale what was gathered under the old shift
            factor = np.exp(self.shift - shift) if np.isfinite(self.shift) else 0.0
            self.s0 *= factor
            self.sz = self.sz * factor
            self.szz = self.szz * factor
            self.sd = self.sd * factor
            self.sy *= factor
            self.se2 *= factor * factor
            self.shift = shift
            self.s0 += s0
            self.sz = self.sz + sz
            self.szz = self.szz + szz
            self.sd = self.sd + sd
            self.sy += sy
            self.se2 += se2
            return
        factor = float(np.exp(shift - self.shift))
        self.s0 += s0 * factor
        self.sz = self.sz + sz * factor
        self.szz = self.szz + szz * factor
        self.sd = self.sd + sd * factor
        self.sy += sy * factor
        self.se2 += se2 * factor * factor

    @property
    def objective(self) -> float:
        return float(self.shift + np.log(self.s0))


def _dual_pass(passes, arm_value, target, scale, transform, log_q, lam) -> _DualSums:
    sums = _DualSums(transform.shape[1], target.size)
    for part in passes.run(_dual_sums_kernel, arm_value, target, scale, transform, log_q, lam):
        sums.merge(part)  # in partition order
    return sums


def _newton(passes, arm_value, n_arm, target, scale, transform, *, max_iter: int, tol: float):
    """:func:`newton_dual` with uniform base weights, each objective evaluation one pass over the partitions."""
    log_q = -np.log(n_arm)
    bound = log_q
    lam = np.zeros(transform.shape[1])
    sums = _dual_pass(passes, arm_value, target, scale, transform, log_q, lam)
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
            trial = _dual_pass(passes, arm_value, target, scale, transform, log_q, lam + size * step)
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


def _stacked_se_kernel(X, t, y, arms, target, scale, estimand, starts) -> tuple:
    """One partition's ``(sum psi psi', sum psi, its part of the Jacobian, target rows)`` of the stacked equations."""
    p, k = target.size, int(starts[-1])
    mu = target / scale
    jacobian = np.zeros((k, k))
    psi = np.zeros((t.size, k))
    X_std = X / scale
    centred = X_std - mu
    target_rows = {"ATT": t == 1, "ATC": t == 0, "ATE": np.ones(t.size, dtype=bool)}[estimand]
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
    return psi.T @ psi, psi.sum(axis=0), jacobian, int(target_rows.sum())


def _stacked_se(passes, arms: list[_ArmFit], target: np.ndarray, scale: np.ndarray, estimand: str,
                n: int) -> float:
    """The sandwich SE of ``m_treated - m_control`` from one pass of sufficient statistics."""
    p = target.size
    ranks = [arm.transform.shape[1] for arm in arms if arm.transform is not None]
    sizes = [p] + ranks + [1, 1]
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(int)
    k = int(starts[-1])
    meat, psi_sum, jacobian = np.zeros((k, k)), np.zeros(k), np.zeros((k, k))
    n_target = 0
    for part_meat, part_psi, part_jacobian, part_target in passes.run(_stacked_se_kernel, tuple(arms), target,
                                                                      scale, estimand, starts):
        meat += part_meat  # in partition order
        psi_sum += part_psi
        jacobian += part_jacobian
        n_target += part_target
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


def _weights_kernel(X, t, y, arms, target, scale, n_target: int) -> np.ndarray:
    """One partition's weights, as ``cc.estimate`` reports them (one per complete row)."""
    w = np.ones(t.size)
    for arm in arms:
        if arm.transform is not None:
            mask = t == arm.value
            Z = ((X[mask] - target) / scale) @ arm.transform
            w[mask] = arm.e(Z) / arm.n * n_target
    return w


def _weights(passes, arms: list[_ArmFit], target, scale, n_target: int) -> np.ndarray:
    """One weight per used row, in file order (an array of ``n`` rows: only when asked for)."""
    out = passes.run(_weights_kernel, tuple(arms), target, scale, n_target)
    return np.concatenate(out) if out else np.empty(0)


def streamed_entropy_balancing(passes, enc, estimand: str, *, return_weights: bool = False,
                               **options: Any) -> EntropyBalancingStreamed:
    """Entropy balancing (means) over the partitions of ``passes`` (a :class:`~causal_core.outofcore.mapped.Pass`).

    Every pass is ``passes.run(kernel, ...)``: on a Dask backend one task per
    partition on the workers, reduced here in partition order, so the numbers
    are the serial run's bit for bit.
    """
    max_iter, tol = check_options(options)
    names = enc.names
    k = len(names)
    if k == 0:
        raise CausalInputError("Entropy balancing needs at least one confounder; none is assigned.")
    treated, control, n, n_parts = _moments(passes, k)
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
        lam, sums, imbalance, steps, ok, infeasible = _newton(passes, value, arm.n, target, scale, transform,
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
    se = _stacked_se(passes, arms, target, scale, estimand, n)
    weights = _weights(passes, arms, target, scale, n_target) if return_weights else None
    return EntropyBalancingStreamed(float(estimate), se, n, n_parts, iterations, converged, tuple(warnings), weights)


def kernel(passes, enc, estimand: str, **options: Any) -> tuple:
    """The ``streamed_estimate`` kernel: ``(estimate, se, n_used, n_partitions, detail, warnings)``."""
    fit = streamed_entropy_balancing(passes, enc, estimand, **options)
    return fit.estimate, fit.std_error, fit.n_used, fit.n_partitions, "sandwich (M-estimation)", fit.warnings
