"""Streamed IPW (Hajek, trimming, clipping) and AIPW with GLM nuisances, by passes over fixed partitions.

Both start from the exact Newton logit of :mod:`causal_core.nuisance.newton_logit`,
run over the partitions (one pass per Newton evaluation), so the propensities
are the in-memory default model's to rounding. Every pass returns small
per-partition arrays (:class:`~causal_core.outofcore.mapped.Pass`) that are
summed in partition order; the formulas are the in-memory estimators' own:

* ``ipw`` — :func:`~causal_core.estimators._propensity_design.hajek_ipw`: the
  Hajek contrast (pass A), the logit correction ``h1, h0`` of the stacked
  influence function (pass B, it needs the arm means) and the variance of the
  influence function (pass C), as exact per-partition moments merged in order.
* ``doubly_robust`` — the in-memory ``doubly_robust`` with its default
  (``cross_fit=False``): OLS outcome models in each arm by a streamed QR of the
  arm-standardised ``[X, y]`` (TSQR: each partition's R stacked on the running R and
  re-factorised; the solution is the in-memory OLS's to rounding; standardised so
  that columns of very different sizes do not limit its accuracy), then
  :func:`~causal_core.estimators._aipw.aipw_terms` summed (pass A) and the
  influence function's variance (pass B).

Passes before the logit: per-column moments (the logit's standardisation) and
each arm's covariate ranges (the single-covariate separation check of
:func:`~causal_core.nuisance.models.check_separation`; the in-memory path's LP
check for separation by a combination has no streamed form, so a logit that
does not converge is refused instead).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from causal_core.core.errors import CausalInputError
from causal_core.estimators._aipw import aipw_terms
from causal_core.estimators._propensity_design import arm_weights
from causal_core.estimators.outcome.doubly_robust import PS_FLOOR
from causal_core.estimators.weighting.ipw import trim_clip_warnings
from causal_core.nuisance.models import PS_EXTREME, check_separation_ranges, overlap_message
from causal_core.nuisance.newton_logit import (column_moments, combine_moments, logit_chunk, newton_logit,
                                               standardisation, standardised_design)
from causal_core.outofcore.mapped import Pass

__all__ = ["streamed_ipw", "streamed_aipw"]


# ---- kernels: one partition in, a few small arrays out (run on the workers) ----

def _moments_kernel(X: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple:
    treated = t == 1
    Xy = np.column_stack([X, y])
    k = X.shape[1]
    ranges = np.full((4, k), np.nan)
    if treated.any():
        ranges[0], ranges[1] = X[treated].min(axis=0), X[treated].max(axis=0)
    if (~treated).any():
        ranges[2], ranges[3] = X[~treated].min(axis=0), X[~treated].max(axis=0)
    return column_moments(X), column_moments(Xy[treated]), column_moments(Xy[~treated]), ranges


def _logit_kernel(X, t, y, mean, sd, beta) -> tuple:
    return logit_chunk(standardised_design(X, mean, sd), t, beta)


def _propensity(X, mean, sd, beta) -> tuple[np.ndarray, np.ndarray]:
    Z = standardised_design(X, mean, sd)
    return Z, expit(Z @ beta)


def _ipw_arrays(X, t, mean, sd, beta, estimand, trim, clip):
    Z, raw = _propensity(X, mean, sd, beta)
    keep = (raw >= trim) & (raw <= 1 - trim) if trim > 0 else np.ones(t.size, dtype=bool)
    ps = np.clip(raw, clip, 1 - clip) if clip > 0 else raw.copy()
    w1, w0, d1, d0 = arm_weights(ps, t, estimand)
    return Z, raw, ps, keep, w1 * keep, w0 * keep, d1 * keep, d0 * keep


def _ipw_sums_kernel(X, t, y, mean, sd, beta, estimand, trim, clip) -> tuple:
    _, raw, ps, keep, w1, w0, _, _ = _ipw_arrays(X, t, mean, sd, beta, estimand, trim, clip)
    counts = np.array([t.size, np.sum(raw < PS_EXTREME), np.sum(raw > 1 - PS_EXTREME), np.sum(~keep),
                       np.sum(keep & (t == 1)), np.sum(keep & (t == 0)), np.sum(ps != raw),
                       np.sum(keep & ((ps <= 0) | (ps >= 1)))], dtype=np.int64)
    return counts, np.array([np.sum(w1), np.sum(w1 * y), np.sum(w0), np.sum(w0 * y)])


def _ipw_correction_kernel(X, t, y, mean, sd, beta, estimand, trim, clip, mu1, mu0) -> np.ndarray:
    Z, raw, ps, _, _, _, d1, d0 = _ipw_arrays(X, t, mean, sd, beta, estimand, trim, clip)
    de_dbeta = ((ps == raw) * raw * (1 - raw))[:, None] * Z
    return np.vstack([np.sum((d1 * (y - mu1))[:, None] * de_dbeta, axis=0),
                      np.sum((d0 * (y - mu0))[:, None] * de_dbeta, axis=0)])


def _ipw_influence_kernel(X, t, y, mean, sd, beta, estimand, trim, clip, mu1, mu0, c1, c0, mean_w1, mean_w0):
    Z, raw, _, _, w1, w0, _, _ = _ipw_arrays(X, t, mean, sd, beta, estimand, trim, clip)
    score = (t - raw)[:, None] * Z
    psi1 = w1 * (y - mu1) + score @ c1
    psi0 = w0 * (y - mu0) + score @ c0
    return column_moments((psi1 / mean_w1 - psi0 / mean_w0)[:, None])


def _ols_kernel(X, t, y, centre1, centre0, scale1, scale0) -> tuple:
    out = []
    for arm, centre, scale in ((t == 1, centre1, scale1), (t == 0, centre0, scale0)):
        A = (np.column_stack([X[arm], y[arm]]) - centre) / scale
        out.append(np.linalg.qr(A, mode="r") if A.shape[0] else np.zeros((0, A.shape[1])))
    return tuple(out)


def _aipw_arrays(X, t, y, mean, sd, beta, fits, estimand):
    _, ps = _propensity(X, mean, sd, beta)
    (coef1, intercept1), (coef0, intercept0) = fits
    mu1, mu0 = X @ coef1 + intercept1, X @ coef0 + intercept0
    core, base = aipw_terms(y, t, np.clip(ps, PS_FLOOR, 1 - PS_FLOOR), mu1, mu0, estimand)
    return ps, core, base


def _aipw_sums_kernel(X, t, y, mean, sd, beta, fits, estimand) -> tuple:
    ps, core, base = _aipw_arrays(X, t, y, mean, sd, beta, fits, estimand)
    counts = np.array([t.size, np.sum(ps < PS_EXTREME), np.sum(ps > 1 - PS_EXTREME),
                       np.sum((ps < PS_FLOOR) | (ps > 1 - PS_FLOOR))], dtype=np.int64)
    return counts, np.array([np.sum(core), np.sum(base)])


def _aipw_influence_kernel(X, t, y, mean, sd, beta, fits, estimand, estimate, share):
    _, core, base = _aipw_arrays(X, t, y, mean, sd, beta, fits, estimand)
    return column_moments(((core - base * estimate) / share)[:, None])


# ---- the driver: passes, reductions in partition order, and the estimates ----

def _sum(parts: list) -> Any:
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _merge_moments(parts: list) -> tuple:
    out = parts[0]
    for part in parts[1:]:
        out = combine_moments(out, part)
    return out


def _fit_logit(passes: Pass, enc: Any) -> tuple:
    """Moments, the separation check and the Newton logit over the partitions."""
    first = passes.run(_moments_kernel)
    moments = _merge_moments([m for m, _, _, _ in first])
    arms = (_merge_moments([a for _, a, _, _ in first]), _merge_moments([c for _, _, c, _ in first]))
    if min(arms[0][0], arms[1][0]) < 2:
        raise CausalInputError(f"Treatment column '{enc.treatment}' needs at least 2 complete rows in each arm.")
    ranges = np.stack([r for _, _, _, r in first])
    check_separation_ranges(np.nanmin(ranges[:, 0], axis=0), np.nanmax(ranges[:, 1], axis=0),
                            np.nanmin(ranges[:, 2], axis=0), np.nanmax(ranges[:, 3], axis=0), enc.names)
    mean, sd = standardisation(moments)
    fit = newton_logit(lambda beta: passes.run(_logit_kernel, mean, sd, beta), moments[1].size + 1)
    if not fit.converged:
        raise CausalInputError(
            f"The logit propensity model did not converge in {fit.n_iter} Newton steps: the confounders nearly "
            "separate treated from control rows; drop the confounders that determine treatment or restrict the rows.")
    return moments[0], mean, sd, fit, arms


def streamed_ipw(passes: Pass, enc: Any, estimand: str, *, trim: float = 0.0, clip: float = 0.0) -> tuple:
    """Hajek IPW over the partitions: ``(estimate, se, n_used, n_partitions, detail, warnings)``."""
    trim, clip = _fraction("trim", trim), _fraction("clip", clip)
    n, mean, sd, fit, _ = _fit_logit(passes, enc)
    args = (mean, sd, fit.beta, estimand, trim, clip)
    sums = passes.run(_ipw_sums_kernel, *args)
    counts = _sum([c for c, _ in sums])
    s1, s1y, s0, s0y = _sum([s for _, s in sums])
    _, low, high, n_trimmed, kept1, kept0, n_clipped, n_infinite = (int(v) for v in counts)
    if kept1 < 2 or kept0 < 2:
        raise CausalInputError(
            f"The 'trim' option of method 'ipw' ({trim}) leaves fewer than 2 treated or control rows; "
            "use a smaller value.")
    if n_infinite:
        raise CausalInputError("Some estimated propensities are exactly 0 or 1, so their weights are infinite; "
                               "set the 'trim' or 'clip' option of method 'ipw' above 0.")
    mu1, mu0 = s1y / s1, s0y / s0
    h1, h0 = _sum(passes.run(_ipw_correction_kernel, *args, mu1, mu0)) / n
    inverse_information = np.linalg.pinv(fit.hessian / n)
    c1, c0 = inverse_information @ h1, inverse_information @ h0
    count, _, squares = _merge_moments(passes.run(_ipw_influence_kernel, *args, mu1, mu0, c1, c0, s1 / n, s0 / n))
    se = float(np.sqrt(squares[0] / count / count))
    warnings = overlap_message(low, high) + trim_clip_warnings(n, n_trimmed, n_clipped, trim, clip, estimand)
    return (float(mu1 - mu0), se, kept1 + kept0, -(-passes.source.n_rows // passes.rows),
            "sandwich (stacked logit and weighted means)", tuple(warnings))


def streamed_aipw(passes: Pass, enc: Any, estimand: str) -> tuple:
    """AIPW with the Newton logit and arm-wise OLS: ``(estimate, se, n_used, n_partitions, detail, warnings)``."""
    n, mean, sd, fit, arms = _fit_logit(passes, enc)
    centres, scales = zip(*(standardisation(arm) for arm in arms))  # each arm's means and SDs of [X, y]
    factors = passes.run(_ols_kernel, *centres, *scales)
    fits = []
    for a in (0, 1):
        R = factors[0][a]
        for part in factors[1:]:  # TSQR, in partition order
            R = np.linalg.qr(np.vstack([R, part[a]]), mode="r")
        k = R.shape[1] - 1
        coef = np.linalg.lstsq(R[:k, :k], R[:k, k], rcond=None)[0] * scales[a][k] / scales[a][:k]
        fits.append((coef, float(centres[a][k] - centres[a][:k] @ coef)))
    fits_arg = tuple(fits)
    sums = passes.run(_aipw_sums_kernel, mean, sd, fit.beta, fits_arg, estimand)
    _, low, high, n_floored = (int(v) for v in _sum([c for c, _ in sums]))
    core_sum, base_sum = _sum([s for _, s in sums])
    estimate = float(core_sum / base_sum)
    count, _, squares = _merge_moments(passes.run(_aipw_influence_kernel, mean, sd, fit.beta, fits_arg, estimand,
                                                  estimate, base_sum / n))
    se = float(np.sqrt(squares[0] / count / count))
    warnings = overlap_message(low, high)
    if n_floored:
        warnings.append(
            f"{n_floored} estimated propensities were within {PS_FLOOR:g} of 0 or 1 and were bounded there "
            "to keep the weights finite; the estimate leans heavily on the outcome model.")
    return (estimate, se, n, -(-passes.source.n_rows // passes.rows), "efficient influence function",
            tuple(warnings))


def _fraction(option: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 0.49:
        raise CausalInputError(f"Option '{option}' of the streamed ipw must be a number from 0 to 0.49; got {value!r}.")
    return float(value)
