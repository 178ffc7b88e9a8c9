"""EM for the latent class model (k-MixBND setting) with seeded random restarts or a given start.

Works on count-weighted rows, so identical rows can be compressed into one
pattern and a bootstrap replicate is just a new vector of counts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causal_core.studies.mixtures.latent_class import (
    LatentClassData,
    LatentClassParameters,
    component_log_densities,
    log_likelihood,
    row_logsumexp,
)

__all__ = ["EMFit", "fit_em", "m_step", "random_parameters"]

PSEUDO_COUNT = 1e-6


@dataclass(frozen=True)
class EMFit:
    """The best EM run.

    Attributes
    ----------
    params : LatentClassParameters
        Parameters of the run with the highest log-likelihood (sources in canonical order).
    log_likelihood : float
        Its log-likelihood.
    n_iter : int
        Iterations of that run.
    converged : bool
        Whether that run met the tolerance before ``max_iter``.
    restart_log_likelihoods : tuple of float
        Final log-likelihood of every run (random restarts and the given start, if any).
    """

    params: LatentClassParameters
    log_likelihood: float
    n_iter: int
    converged: bool
    restart_log_likelihoods: tuple[float, ...]


def m_step(data: LatentClassData, responsibilities: np.ndarray) -> LatentClassParameters:
    """Weighted maximum-likelihood parameters given posterior source probabilities."""
    r = responsibilities * data.counts[:, None]
    mass = r.sum(axis=0) + PSEUDO_COUNT
    weights = mass / mass.sum()
    proxy_probs = []
    for j, n_levels in enumerate(data.levels):
        table = np.zeros((r.shape[1], n_levels))
        for level in range(n_levels):
            table[:, level] = r[data.proxies[:, j] == level].sum(axis=0)
        table += PSEUDO_COUNT
        proxy_probs.append(table / table.sum(axis=1, keepdims=True))
    treated = data.t == 1
    treat_prob = (r[treated].sum(axis=0) + PSEUDO_COUNT) / (mass + 2 * PSEUDO_COUNT)
    if data.discrete_outcome:
        n_levels = len(data.outcome_values)
        probs = np.zeros((r.shape[1], 2, n_levels))
        for arm in (0, 1):
            for level in range(n_levels):
                probs[:, arm, level] = r[(data.t == arm) & (data.y == level)].sum(axis=0)
        probs += PSEUDO_COUNT
        return LatentClassParameters(weights, tuple(proxy_probs), treat_prob,
                                     outcome_probs=probs / probs.sum(axis=2, keepdims=True))
    mean = np.zeros((r.shape[1], 2))
    sd = np.zeros((r.shape[1], 2))
    spread = float(np.std(data.y)) or 1.0
    for arm in (0, 1):
        rows = data.t == arm
        arm_mass = r[rows].sum(axis=0) + PSEUDO_COUNT
        mean[:, arm] = (r[rows] * data.y[rows, None]).sum(axis=0) / arm_mass
        variance = (r[rows] * (data.y[rows, None] - mean[None, :, arm]) ** 2).sum(axis=0) / arm_mass
        sd[:, arm] = np.sqrt(np.maximum(variance, (1e-3 * spread) ** 2))
    return LatentClassParameters(weights, tuple(proxy_probs), treat_prob, outcome_mean=mean, outcome_sd=sd)


def random_parameters(data: LatentClassData, k: int, rng: np.random.Generator) -> LatentClassParameters:
    """A random start: Dirichlet(1) weights and proxy/outcome distributions, uniform P(T=1|u)."""
    weights = rng.dirichlet(np.ones(k))
    proxy_probs = tuple(rng.dirichlet(np.ones(n_levels), size=k) for n_levels in data.levels)
    treat_prob = rng.uniform(0.1, 0.9, size=k)
    if data.discrete_outcome:
        probs = rng.dirichlet(np.ones(len(data.outcome_values)), size=(k, 2))
        return LatentClassParameters(weights, proxy_probs, treat_prob, outcome_probs=probs)
    picks = rng.choice(data.y.shape[0], size=(k, 2), p=data.counts / data.counts.sum())
    spread = float(np.std(data.y)) or 1.0
    return LatentClassParameters(weights, proxy_probs, treat_prob, outcome_mean=data.y[picks],
                                 outcome_sd=np.full((k, 2), spread))


def _run(data: LatentClassData, start: LatentClassParameters, *, tol: float, max_iter: int
         ) -> tuple[LatentClassParameters, float, int, bool]:
    params = start
    previous = -np.inf
    scale = max(float(data.counts.sum()), 1.0)
    for iteration in range(1, max_iter + 1):
        log_density = component_log_densities(params, data)
        row_ll = row_logsumexp(log_density)
        current = float(np.sum(data.counts * row_ll))
        if abs(current - previous) <= tol * scale:
            return params, current, iteration, True
        previous = current
        params = m_step(data, np.exp(log_density - row_ll[:, None]))
    return params, log_likelihood(params, data), max_iter, False


def fit_em(
    data: LatentClassData,
    k: int,
    *,
    n_restarts: int = 10,
    seed: int = 0,
    start: LatentClassParameters | None = None,
    tol: float = 1e-9,
    max_iter: int = 2000,
) -> EMFit:
    """Maximum likelihood by EM: ``n_restarts`` seeded random starts plus ``start`` when given.

    Parameters
    ----------
    data : LatentClassData
        Encoded (possibly compressed) rows.
    k : int
        Number of sources.
    n_restarts : int
        Random starts (0 is allowed when ``start`` is given).
    seed : int
        Seed of the random starts.
    start : LatentClassParameters, optional
        An extra start, e.g. the moment solution.
    tol : float
        Stop when the log-likelihood changes by less than ``tol`` per row.
    max_iter : int
        Most iterations per run.
    """
    rng = np.random.default_rng(seed)
    starts = ([start] if start is not None else []) + [random_parameters(data, k, rng) for _ in range(n_restarts)]
    if not starts:
        starts = [random_parameters(data, k, rng)]
    from causal_core.compute.backend import map_tasks  # the restarts, on a Dask backend's workers when one is set

    best: tuple[LatentClassParameters, float, int, bool] | None = None
    finals: list[float] = []
    for run in map_tasks(lambda initial: _run(data, initial, tol=tol, max_iter=max_iter), starts):
        finals.append(run[1])
        if best is None or run[1] > best[1] + 1e-9:
            best = run
    params, ll, n_iter, converged = best
    return EMFit(params.canonical(), ll, n_iter, converged, tuple(finals))
