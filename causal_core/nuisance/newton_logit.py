"""The exact logistic propensity model: unpenalised maximum likelihood by Newton/IRLS on sufficient statistics.

One kernel serves the table in memory and the table streamed from disk:

* :func:`column_moments` / :func:`combine_moments` — per-chunk count, mean and
  sum of squared deviations of the covariates, merged exactly in chunk order
  (Chan, Golub & LeVeque 1979); they give the standardisation
  ``(x - mean) / sd`` (``sd`` with divisor n, 1 for a constant column), the same
  as :func:`causal_core.estimators._propensity_design.logit_design`.
* :func:`logit_chunk` — one chunk's log-likelihood, gradient ``Z'(t - p)`` and
  Hessian ``Z'WZ`` (``W = p(1 - p)``) at coefficients ``beta``, ``Z`` the intercept
  plus the standardised covariates.
* :func:`newton_logit` — Newton's method on the summed chunk statistics: the
  caller's ``evaluate(beta)`` returns one triple per chunk (in memory: one
  chunk; streamed: one pass over the partitions, possibly on cluster workers),
  summed here in chunk order.
* :class:`NewtonLogit` — the in-memory default propensity model, a
  scikit-learn classifier (``fit`` / ``predict_proba`` / ``classes_``), so
  ``clone``, pipelines and the ``propensity_model=`` options keep working.

Because the fit is the exact unpenalised MLE, the stacked-logit influence
function in :mod:`causal_core.estimators._propensity_design` is exactly right
for it, and the in-memory and streamed fits agree to rounding (the tests check 1e-10).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning

from causal_core.core.errors import CausalInputError

__all__ = ["NewtonLogit", "NewtonFit", "newton_logit", "logit_chunk", "column_moments", "combine_moments",
           "standardised_design", "NEWTON_TOL", "NEWTON_MAX_ITER"]

#: A Newton step whose largest coefficient change is at most NEWTON_TOL * (1 + max|beta|) ends the iterations.
NEWTON_TOL = 1e-10
#: Newton steps before giving up (a well-posed logit converges in under 15; more means near-separation).
NEWTON_MAX_ITER = 50
#: Step halvings tried per Newton step before the step is declared stalled.
MAX_HALVINGS = 30
#: A log-likelihood lower than the current one by less than this (relative) counts as not lower: rounding.
LOGLIK_ROUNDING = 1e-12


def column_moments(X: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n, mean, sum of squared deviations)`` of each column of one chunk."""
    n = X.shape[0]
    if n == 0:
        return 0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
    mean = X.mean(axis=0)
    return n, mean, np.sum((X - mean) ** 2, axis=0)


def combine_moments(a: tuple[int, np.ndarray, np.ndarray], b: tuple[int, np.ndarray, np.ndarray]
                    ) -> tuple[int, np.ndarray, np.ndarray]:
    """Chan et al.'s exact merge of two chunks' moments (``a`` first)."""
    na, ma, qa = a
    nb, mb, qb = b
    if nb == 0:
        return a
    if na == 0:
        return b
    total = na + nb
    delta = mb - ma
    return total, ma + delta * nb / total, qa + qb + delta * delta * na * nb / total


def standardisation(moments: tuple[int, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, sd)`` from combined moments; ``sd`` divides by n and is 1 for a constant column."""
    n, mean, squares = moments
    sd = np.sqrt(squares / n)
    sd[sd == 0] = 1.0
    return mean, sd


def standardised_design(X: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Intercept plus ``(X - mean) / sd``: the regressors the logit is fitted on."""
    return np.column_stack([np.ones(X.shape[0]), (X - mean) / sd])


def logit_chunk(Z: np.ndarray, t: np.ndarray, beta: np.ndarray, weight: np.ndarray | None = None
                ) -> tuple[float, np.ndarray, np.ndarray]:
    """One chunk's log-likelihood, gradient ``Z'(t - p)`` and Hessian ``Z'WZ`` at ``beta`` (optionally weighted)."""
    eta = Z @ beta
    p = expit(eta)
    terms = t * eta - np.logaddexp(0.0, eta)
    residual = t - p
    curvature = p * (1.0 - p)
    if weight is not None:
        terms, residual, curvature = terms * weight, residual * weight, curvature * weight
    return float(np.sum(terms)), Z.T @ residual, (Z * curvature[:, None]).T @ Z


@dataclass(frozen=True)
class NewtonFit:
    """The fitted coefficients (on the standardised design) and how the iterations went."""

    beta: np.ndarray
    loglik: float
    gradient: np.ndarray
    hessian: np.ndarray
    n_iter: int
    n_evaluations: int
    converged: bool


def _summed(chunks: Sequence[tuple[float, np.ndarray, np.ndarray]]) -> tuple[float, np.ndarray, np.ndarray]:
    loglik, gradient, hessian = chunks[0]
    gradient, hessian = gradient.copy(), hessian.copy()
    for ll, g, h in chunks[1:]:  # in chunk order, on the driver: the same sums serially and on a cluster
        loglik += ll
        gradient += g
        hessian += h
    return loglik, gradient, hessian


def newton_logit(evaluate: Callable[[np.ndarray], Sequence[tuple[float, np.ndarray, np.ndarray]]], k: int, *,
                 tol: float = NEWTON_TOL, max_iter: int = NEWTON_MAX_ITER) -> NewtonFit:
    """Maximise the logit log-likelihood by Newton's method with step halving.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(beta)`` returns one ``(loglik, gradient, hessian)`` per chunk
        (:func:`logit_chunk`), in chunk order; one call is one pass over the data.
    k : int
        Number of coefficients (intercept included).
    tol : float
        Stopping rule: the iterations end after the first accepted step whose
        largest coefficient change is at most ``tol * (1 + max|beta|)``.
        Newton's convergence is quadratic, so the coefficients are then the
        maximum-likelihood estimate to rounding. A step that lowers the
        log-likelihood (beyond rounding, :data:`LOGLIK_ROUNDING` relative) is
        halved until it does not, up to :data:`MAX_HALVINGS` times; a step
        that still cannot be taken ends the iterations as converged only if
        it was already below ``1e-6`` (relative).
    max_iter : int
        Newton steps before giving up; then ``converged`` is False (the callers
        warn or raise, never silently use the result).

    The step solves ``H step = g`` by least squares (SVD), so exactly
    collinear covariates give the minimum-norm step instead of failing.
    """
    beta = np.zeros(k)
    loglik, gradient, hessian = _summed(evaluate(beta))
    evaluations, converged, iteration = 1, False, 0
    for iteration in range(1, max_iter + 1):
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        size = float(np.max(np.abs(step))) if k else 0.0
        scale = 1.0 + float(np.max(np.abs(beta))) if k else 1.0
        fraction, accepted = 1.0, None
        for _ in range(MAX_HALVINGS + 1):
            candidate = beta + fraction * step
            stats = _summed(evaluate(candidate))
            evaluations += 1
            if stats[0] >= loglik - LOGLIK_ROUNDING * (1.0 + abs(loglik)):
                accepted = stats
                break
            fraction /= 2.0
        if accepted is None:  # no step raises the log-likelihood: at the maximum, or stuck
            converged = size <= 1e-6 * scale
            break
        beta = candidate
        loglik, gradient, hessian = accepted
        if fraction == 1.0 and size <= tol * scale:
            converged = True
            break
    return NewtonFit(beta, loglik, gradient, hessian, iteration, evaluations, converged)


class NewtonLogit(ClassifierMixin, BaseEstimator):
    """Unpenalised logistic regression fitted exactly by Newton/IRLS (the default propensity model).

    The covariates are standardised (mean and divisor-n SD, as
    :func:`causal_core.estimators._propensity_design.logit_design`) and the
    intercept added; :func:`newton_logit` then runs on one chunk, the whole
    table, with the same kernel the streamed estimators use over partitions.
    ``coef_`` and ``intercept_`` are on the original scale; ``predict_proba``
    uses the standardised coefficients ``beta_``.

    Parameters
    ----------
    tol : float
        Newton stopping rule (see :func:`newton_logit`).
    max_iter : int
        Newton steps before a ``ConvergenceWarning``.
    """

    def __init__(self, tol: float = NEWTON_TOL, max_iter: int = NEWTON_MAX_ITER):
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y, sample_weight=None) -> "NewtonLogit":
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise CausalInputError(f"The propensity model needs a 2-d covariate array; got {X.ndim} dimensions.")
        y = np.asarray(y)
        classes = np.unique(y)
        if classes.size != 2:
            raise CausalInputError(f"The logit propensity model needs exactly 2 treatment values; got {classes.size}.")
        self.classes_ = classes
        t = (y == classes[1]).astype(float)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.mean_, self.scale_ = standardisation(column_moments(X))
        Z = standardised_design(X, self.mean_, self.scale_)
        fit = newton_logit(lambda beta: [logit_chunk(Z, t, beta, weight)], Z.shape[1], tol=self.tol,
                           max_iter=self.max_iter)
        if not fit.converged:
            warnings.warn(f"The Newton logit did not converge in {fit.n_iter} steps (the covariates may nearly "
                          "separate treated from control rows); its propensities are unreliable.",
                          ConvergenceWarning, stacklevel=2)
        self.beta_, self.n_iter_, self.converged_ = fit.beta, fit.n_iter, fit.converged
        self.coef_ = (fit.beta[1:] / self.scale_)[None, :]
        self.intercept_ = np.array([fit.beta[0] - float(np.sum(fit.beta[1:] * self.mean_ / self.scale_))])
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return standardised_design(X, self.mean_, self.scale_) @ self.beta_

    def predict_proba(self, X) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
