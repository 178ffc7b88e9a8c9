"""The latent class model behind ``latent_mixture``: parameters, encoded data and the log-likelihood.

A hidden source U in {0..k-1} with weights ``P(U)``; given U the discrete
proxies, the treatment T (0/1) and the outcome Y are independent, except that
Y depends on T inside each source: ``P(Y | T, U)`` is categorical (discrete
outcome) or Gaussian (continuous outcome).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["row_logsumexp", "LatentClassData", "LatentClassParameters", "component_log_densities", "log_likelihood",
           "posterior", "interventional_means", "align_to"]

PROBABILITY_FLOOR = 1e-10


def row_logsumexp(values: np.ndarray) -> np.ndarray:
    """log(sum(exp(values), axis=1)) computed stably (a lean stand-in for scipy's, called every EM step)."""
    top = values.max(axis=1)
    return top + np.log(np.exp(values - top[:, None]).sum(axis=1))


@dataclass(frozen=True)
class LatentClassData:
    """Encoded rows (possibly compressed to distinct patterns with counts).

    Attributes
    ----------
    proxies : ndarray (n, m) of int
        Level code of each proxy, 0..levels[j]-1.
    levels : tuple of int
        Number of levels of each proxy.
    t : ndarray (n,) of int
        Treatment 0/1.
    y : ndarray (n,)
        Outcome level code (discrete outcome) or value (Gaussian outcome).
    outcome_values : tuple of float or None
        The numeric value of each outcome level (discrete outcome), else None.
    counts : ndarray (n,)
        How many original rows each row stands for.
    """

    proxies: np.ndarray
    levels: tuple[int, ...]
    t: np.ndarray
    y: np.ndarray
    outcome_values: tuple[float, ...] | None
    counts: np.ndarray

    @property
    def discrete_outcome(self) -> bool:
        return self.outcome_values is not None

    @property
    def n_rows(self) -> int:
        return int(round(float(self.counts.sum())))

    def with_counts(self, counts: np.ndarray) -> "LatentClassData":
        """The same patterns with other counts (a bootstrap replicate)."""
        return LatentClassData(self.proxies, self.levels, self.t, self.y, self.outcome_values,
                               np.asarray(counts, dtype=float))


@dataclass(frozen=True)
class LatentClassParameters:
    """Parameters of a k-source latent class model.

    Attributes
    ----------
    weights : ndarray (k,)
        P(U = u).
    proxy_probs : tuple of ndarray (k, levels_j)
        P(proxy_j = level | U = u).
    treat_prob : ndarray (k,)
        P(T = 1 | U = u).
    outcome_probs : ndarray (k, 2, L) or None
        P(Y = level | T = t, U = u) for a discrete outcome.
    outcome_mean, outcome_sd : ndarray (k, 2) or None
        Gaussian outcome: mean and SD of Y given T = t, U = u.
    """

    weights: np.ndarray
    proxy_probs: tuple[np.ndarray, ...]
    treat_prob: np.ndarray
    outcome_probs: np.ndarray | None = None
    outcome_mean: np.ndarray | None = None
    outcome_sd: np.ndarray | None = None

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    def n_free_parameters(self) -> int:
        """Free parameters (for BIC)."""
        count = (self.k - 1) + sum(self.k * (p.shape[1] - 1) for p in self.proxy_probs) + self.k
        if self.outcome_probs is not None:
            count += self.k * 2 * (self.outcome_probs.shape[2] - 1)
        else:
            count += self.k * 4
        return int(count)

    def permuted(self, order: np.ndarray) -> "LatentClassParameters":
        """The same model with sources relabelled so that new source i is old source ``order[i]``."""
        return LatentClassParameters(
            weights=self.weights[order],
            proxy_probs=tuple(p[order] for p in self.proxy_probs),
            treat_prob=self.treat_prob[order],
            outcome_probs=None if self.outcome_probs is None else self.outcome_probs[order],
            outcome_mean=None if self.outcome_mean is None else self.outcome_mean[order],
            outcome_sd=None if self.outcome_sd is None else self.outcome_sd[order],
        )

    def canonical(self) -> "LatentClassParameters":
        """Sources sorted by their mean proxy score (the average of P(proxy_j = last level | u))."""
        score = np.mean([p[:, -1] for p in self.proxy_probs], axis=0)
        return self.permuted(np.argsort(score, kind="stable"))


def component_log_densities(params: LatentClassParameters, data: LatentClassData) -> np.ndarray:
    """(n, k) array of log P(U = u) + log P(row | U = u)."""
    log_density = np.tile(np.log(np.clip(params.weights, PROBABILITY_FLOOR, None)), (data.proxies.shape[0], 1))
    for j, probs in enumerate(params.proxy_probs):
        log_density += np.log(np.clip(probs, PROBABILITY_FLOOR, None))[:, data.proxies[:, j]].T
    tau = np.clip(params.treat_prob, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    t = data.t[:, None]
    log_density += t * np.log(tau)[None, :] + (1 - t) * np.log1p(-tau)[None, :]
    if data.discrete_outcome:
        probs = np.clip(params.outcome_probs, PROBABILITY_FLOOR, None)  # (k, 2, L)
        log_density += np.log(probs[:, data.t, data.y.astype(int)]).T
    else:
        mean = params.outcome_mean[:, data.t].T  # (n, k)
        sd = params.outcome_sd[:, data.t].T
        log_density += -0.5 * ((data.y[:, None] - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
    return log_density


def log_likelihood(params: LatentClassParameters, data: LatentClassData) -> float:
    """Count-weighted log-likelihood of the data."""
    return float(np.sum(data.counts * row_logsumexp(component_log_densities(params, data))))


def posterior(params: LatentClassParameters, data: LatentClassData) -> np.ndarray:
    """(n, k) posterior P(U = u | row)."""
    log_density = component_log_densities(params, data)
    return np.exp(log_density - row_logsumexp(log_density)[:, None])


def interventional_means(params: LatentClassParameters, outcome_values: tuple[float, ...] | None) -> np.ndarray:
    """E[Y | do(T = t)] = sum_u P(u) E[Y | t, u] for t = 0, 1."""
    if params.outcome_probs is not None:
        within = params.outcome_probs @ np.asarray(outcome_values, dtype=float)  # (k, 2)
    else:
        within = params.outcome_mean
    return params.weights @ within


def align_to(params: LatentClassParameters, reference: LatentClassParameters) -> LatentClassParameters:
    """Relabel ``params``' sources to best match ``reference`` (Hungarian on proxy distributions)."""
    from scipy.optimize import linear_sum_assignment

    cost = np.zeros((reference.k, params.k))
    for ref_probs, probs in zip(reference.proxy_probs, params.proxy_probs):
        cost += np.abs(ref_probs[:, None, :] - probs[None, :, :]).sum(axis=2)
    _, order = linear_sum_assignment(cost)
    return params.permuted(order)
