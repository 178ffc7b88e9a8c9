"""Gaussian mixtures fitted by weighted EM, with the number of components chosen by BIC.

scikit-learn's ``GaussianMixture`` takes no sample weights, and the causally
weighted GMM of mechanism learning needs them: each row counts in proportion
to its front-door weight. The EM here is the textbook one with every sum
weighted (full covariances, ``reg_covar`` added to each diagonal, log-sum-exp
responsibilities); k-means with sample weights (scikit-learn) gives the
starting partition.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from causal_core.core.seeds import offset_seed

__all__ = [
    "GaussianMixtureFit",
    "fit_weighted_gmm",
    "select_weighted_gmm",
    "select_weighted_gmms",
    "candidate_sizes",
    "gmm_log_density",
    "sample_gmm",
    "n_gmm_parameters",
]

LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class GaussianMixtureFit:
    """A fitted mixture of full-covariance Gaussians.

    Attributes
    ----------
    mixing : ndarray (k,)
        Component probabilities (sum to 1).
    means : ndarray (k, d)
    covariances : ndarray (k, d, d)
    mean_log_likelihood : float
        Weighted mean log-density of the fitting data, sum_n w_n log p(x_n) / sum_n w_n.
    effective_n : float
        Kish's effective sample size of the fitting weights.
    n_iter : int
        EM iterations of the best initialisation.
    converged : bool
        Whether that initialisation met the tolerance before ``max_iter``.
    """

    mixing: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    mean_log_likelihood: float
    effective_n: float
    n_iter: int
    converged: bool

    @property
    def n_components(self) -> int:
        return int(self.mixing.shape[0])

    @property
    def bic(self) -> float:
        """-2 n_eff mean log-likelihood + (number of parameters) log n_eff."""
        d = self.means.shape[1]
        n_eff = self.effective_n
        return float(-2 * n_eff * self.mean_log_likelihood + n_gmm_parameters(self.n_components, d) * np.log(n_eff))


def n_gmm_parameters(n_components: int, dim: int) -> int:
    """Free parameters of a full-covariance mixture: weights, means and covariances."""
    return int(n_components - 1 + n_components * dim + n_components * dim * (dim + 1) // 2)


def _component_log_densities(X: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """log N(x_n | mu_k, Sigma_k) as an (n, k) matrix, through batched Cholesky factors."""
    d = X.shape[1]
    chol = np.linalg.cholesky(covariances)  # (k, d, d), lower
    precision_chol = np.linalg.inv(chol)  # L^{-1}: the Mahalanobis term is |L^{-1}(x - mu)|^2
    centred = X[None, :, :] - means[:, None, :]  # (k, n, d)
    solved = np.einsum("kij,knj->kni", precision_chol, centred)
    log_det = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)  # (k,)
    return (-0.5 * (d * LOG_2PI + log_det[:, None] + np.sum(solved**2, axis=2))).T


def gmm_log_density(X: np.ndarray, fit: GaussianMixtureFit) -> np.ndarray:
    """Log-density of each row of ``X`` under a fitted mixture."""
    from scipy.special import logsumexp
    X = np.atleast_2d(np.asarray(X, dtype=float))
    return logsumexp(_component_log_densities(X, fit.means, fit.covariances) + np.log(fit.mixing), axis=1)


def _m_step(X: np.ndarray, w: np.ndarray, resp: np.ndarray, reg_covar: float):
    """Weighted M-step: ``w`` sums to 1, ``resp`` is (n, k)."""
    wr = resp * w[:, None]
    nk = wr.sum(axis=0) + 10 * np.finfo(float).eps
    means = (wr.T @ X) / nk[:, None]
    d = X.shape[1]
    covariances = np.empty((nk.size, d, d))
    for k in range(nk.size):
        centred = X - means[k]
        covariances[k] = (wr[:, k, None] * centred).T @ centred / nk[k] + reg_covar * np.eye(d)
    return nk / nk.sum(), means, covariances


def _em_once(X, w, n_components, seed, reg_covar, max_iter, tol):
    from scipy.special import logsumexp
    from sklearn.cluster import KMeans
    labels = KMeans(n_clusters=n_components, n_init=1, random_state=seed).fit(X, sample_weight=w).labels_
    resp = np.zeros((X.shape[0], n_components))
    resp[np.arange(X.shape[0]), labels] = 1.0
    mixing, means, covariances = _m_step(X, w, resp, reg_covar)
    previous = -np.inf
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        log_joint = _component_log_densities(X, means, covariances) + np.log(mixing)
        log_norm = logsumexp(log_joint, axis=1)
        current = float(np.sum(w * log_norm))
        resp = np.exp(log_joint - log_norm[:, None])
        mixing, means, covariances = _m_step(X, w, resp, reg_covar)
        if abs(current - previous) < tol:
            converged = True
            break
        previous = current
    final = float(np.sum(w * logsumexp(_component_log_densities(X, means, covariances) + np.log(mixing), axis=1)))
    return mixing, means, covariances, final, n_iter, converged


def fit_weighted_gmm(
    X: np.ndarray,
    weights: np.ndarray | None = None,
    n_components: int = 1,
    *,
    seed: int = 0,
    n_init: int = 3,
    reg_covar: float = 1e-6,
    max_iter: int = 200,
    tol: float = 1e-4,
) -> GaussianMixtureFit:
    """Fit a full-covariance Gaussian mixture by EM with one non-negative weight per row.

    Parameters
    ----------
    X : ndarray (n, d)
        Data rows.
    weights : ndarray (n,) or None
        Non-negative row weights (rescaled to sum to 1); ``None`` means equal weights,
        which reproduces ordinary maximum likelihood (scikit-learn's ``GaussianMixture``).
    n_components : int
        Number of mixture components.
    seed : int
        Seed of the k-means starts; start ``i`` uses ``seed + i`` (wrapped below 2**32).
    n_init : int
        Number of starts; the one with the highest weighted log-likelihood is kept.
    reg_covar : float
        Added to every covariance diagonal (keeps them positive definite).
    max_iter : int
        EM iterations per start.
    tol : float
        Stop when the weighted mean log-likelihood changes by less than this.

    Returns
    -------
    GaussianMixtureFit
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n = X.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative, one per row and not all zero")
    keep = w > 0
    X, w = X[keep], w[keep] / w[keep].sum()
    n_components = int(min(n_components, X.shape[0]))
    best = None
    with threadpool_limits(limits=1):  # tiny matrices: threading only adds contention
        from causal_core.compute.backend import map_tasks  # the starts, on a Dask backend's workers when one is set

        for candidate in map_tasks(lambda start: _em_once(X, w, n_components, offset_seed(seed, start), reg_covar,
                                                          max_iter, tol), range(n_init)):
            if best is None or candidate[3] > best[3]:
                best = candidate
    mixing, means, covariances, loglik, n_iter, converged = best
    return GaussianMixtureFit(
        mixing=mixing,
        means=means,
        covariances=covariances,
        mean_log_likelihood=loglik,
        effective_n=float(1.0 / np.sum(w**2)),
        n_iter=n_iter,
        converged=converged,
    )


def candidate_sizes(n_eff: float, dim: int, max_components: int) -> list[int]:
    """Component counts 1..``max_components`` with fewer free parameters than the effective sample size."""
    sizes = []
    for k in range(1, max_components + 1):
        if n_gmm_parameters(k, dim) >= n_eff:
            break
        sizes.append(k)
    return sizes


def select_weighted_gmm(
    X: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    max_components: int = 5,
    seed: int = 0,
    n_init: int = 3,
    reg_covar: float = 1e-6,
) -> tuple[GaussianMixtureFit, dict[int, float]]:
    """Fit mixtures with 1..``max_components`` components and keep the lowest BIC.

    The BIC uses the weighted log-likelihood scaled to Kish's effective sample
    size, so heavily weighted data are not credited with more information than
    they carry. Returns the chosen fit and the BIC of every size tried.
    """
    return select_weighted_gmms([(X, weights)], max_components=max_components, seed=seed, n_init=n_init,
                                reg_covar=reg_covar)[0]


def select_weighted_gmms(
    problems: Sequence[tuple[np.ndarray, np.ndarray | None]],
    *,
    max_components: int = 5,
    seed: int = 0,
    n_init: int = 3,
    reg_covar: float = 1e-6,
) -> list[tuple[GaussianMixtureFit, dict[int, float]]]:
    """:func:`select_weighted_gmm` of several ``(X, weights)`` data sets (one per cause value), in one fan-out.

    Every (data set, number of components) fit is one task of
    :func:`~causal_core.compute.backend.map_tasks`: each is ``n_init`` EM runs,
    tens of ms for one component on a thousand rows and up to about a second
    for five on a few thousand, and there are at most 20 x ``max_components``
    of them, so one per task, the largest first, balances the workers best
    (grouped, the large sizes of one data set would share a task). The data
    are scattered once. The fits depend on their item alone and the BIC choice
    is made here, in size order, so the result is the serial one.
    """
    prepared = []
    for X, weights in problems:
        X = np.asarray(X, dtype=float)
        X = X[:, None] if X.ndim == 1 else X
        n_eff = X.shape[0] if weights is None else float(np.sum(weights) ** 2 / np.sum(np.asarray(weights) ** 2))
        prepared.append((X, weights, candidate_sizes(n_eff, X.shape[1], max_components)))
    items = sorted(((i, k) for i, (_, _, sizes) in enumerate(prepared) for k in sizes), key=lambda ik: -ik[1])

    def fit(item: tuple[int, int]) -> GaussianMixtureFit:
        i, k = item
        X, weights, _ = prepared[i]
        return fit_weighted_gmm(X, weights, k, seed=seed, n_init=n_init, reg_covar=reg_covar)

    from causal_core.compute.backend import map_tasks  # on a Dask backend's workers when one is set

    fits = dict(zip(items, map_tasks(fit, items, chunk_size=1)))
    out = []
    for i, (X, weights, sizes) in enumerate(prepared):
        bics: dict[int, float] = {}
        best: GaussianMixtureFit | None = None
        for k in sizes:
            candidate = fits[(i, k)]
            bics[k] = candidate.bic
            if best is None or candidate.bic < best.bic:
                best = candidate
        if best is None:  # too few effective rows for even one full-covariance component: the one fit there is
            best = fit_weighted_gmm(X, weights, 1, seed=seed, n_init=1, reg_covar=reg_covar)
            bics[1] = best.bic
        out.append((best, bics))
    return out


def sample_gmm(fit: GaussianMixtureFit, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n_samples`` rows from a fitted mixture."""
    counts = rng.multinomial(n_samples, fit.mixing)
    d = fit.means.shape[1]
    blocks = []
    for k, count in enumerate(counts):
        if count == 0:
            continue
        chol = np.linalg.cholesky(fit.covariances[k])
        blocks.append(fit.means[k] + rng.standard_normal((count, d)) @ chol.T)
    draws = np.vstack(blocks) if blocks else np.empty((0, d))
    return draws[rng.permutation(draws.shape[0])]
