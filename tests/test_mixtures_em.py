"""EM for the latent class model: exact recovery at the population, monotone likelihood, restarts, moment start."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from causal_core.studies.mixtures.em import fit_em, m_step, random_parameters
from causal_core.studies.mixtures.fit import moment_parameters
from causal_core.studies.mixtures.latent_class import LatentClassData, align_to, log_likelihood, posterior

WEIGHTS = np.array([0.6, 0.4])
PROXY_PROBS = np.array([[0.2, 0.8], [0.3, 0.85], [0.25, 0.75], [0.15, 0.7]])  # (m, k): P(x_j=1|u)
TREAT = np.array([0.2, 0.8])
OUTCOME = np.array([[0.1, 0.4], [0.5, 0.6]])  # P(Y=1|t,u): [u][t]


def _population(n_proxies: int, total: float = 1e5) -> LatentClassData:
    """Every (proxies, t, y) pattern with its exact expected count: the MLE is the truth."""
    probs = PROXY_PROBS[:n_proxies]
    rows, counts = [], []
    for pattern in itertools.product((0, 1), repeat=n_proxies + 2):
        x, t, y = np.array(pattern[:-2]), pattern[-2], pattern[-1]
        per_source = WEIGHTS * np.prod(np.where(x[:, None] == 1, probs, 1 - probs), axis=0)
        per_source = per_source * np.where(t == 1, TREAT, 1 - TREAT)
        per_source = per_source * np.where(y == 1, OUTCOME[:, t], 1 - OUTCOME[:, t])
        rows.append(pattern)
        counts.append(total * per_source.sum())
    rows = np.array(rows)
    return LatentClassData(rows[:, :-2], (2,) * n_proxies, rows[:, -2], rows[:, -1], (0.0, 1.0), np.array(counts))


def _truth_errors(params) -> tuple[float, float, float]:
    order = np.argsort(params.proxy_probs[0][:, 1])  # truth: source 0 has the lower P(proxy1 = 1)
    params = params.permuted(order)
    proxy = np.column_stack([p[:, 1] for p in params.proxy_probs]).T
    outcome = params.outcome_probs[:, :, 1]
    return (float(np.max(np.abs(params.weights - WEIGHTS))),
            float(np.max(np.abs(proxy - PROXY_PROBS[: proxy.shape[0]]))),
            float(np.max(np.abs(outcome - OUTCOME))))


@pytest.mark.parametrize("n_proxies", [3, 4])
def test_em_recovers_the_truth_from_the_exact_population(n_proxies):
    fit = fit_em(_population(n_proxies), 2, n_restarts=5, seed=0, tol=1e-13, max_iter=20000)
    assert max(_truth_errors(fit.params)) < 1e-3


@pytest.mark.parametrize("n_proxies", [3, 4])
def test_moment_solution_is_exact_at_the_population(n_proxies):
    params, notes = moment_parameters(_population(n_proxies), 2, seed=0)
    assert max(_truth_errors(params)) < 1e-6 and not notes
    np.testing.assert_allclose(params.treat_prob, TREAT, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_em_never_decreases_the_log_likelihood(seed):
    data = _population(4, total=3000)
    params = random_parameters(data, 2, np.random.default_rng(seed))
    values = [log_likelihood(params, data)]
    for _ in range(40):
        params = m_step(data, posterior(params, data))
        values.append(log_likelihood(params, data))
    assert np.all(np.diff(values) > -1e-7)


def test_best_restart_is_reported_and_moment_start_reaches_it():
    data = _population(3, total=2000)
    fit = fit_em(data, 2, n_restarts=8, seed=4)
    assert fit.log_likelihood == pytest.approx(max(fit.restart_log_likelihoods))
    start, _ = moment_parameters(data, 2, seed=0)
    from_moments = fit_em(data, 2, n_restarts=0, start=start)
    # EM stops when the log-likelihood changes by < tol = 1e-9 per row, i.e. < 2e-6 in total over 2000 rows; at a
    # linear rate r it is then within 2e-6 * r / (1 - r) of the shared optimum, so abs=1e-4 on the total
    # log-likelihood holds from either start for rates up to 0.98.
    assert from_moments.log_likelihood == pytest.approx(fit.log_likelihood, abs=1e-4)
    assert len(from_moments.restart_log_likelihoods) == 1
    aligned = align_to(from_moments.params, fit.params)
    np.testing.assert_allclose(aligned.weights, fit.params.weights, atol=1e-3)


def test_fit_em_is_deterministic_under_a_seed():
    data = _population(4, total=1000)
    first, second = fit_em(data, 2, n_restarts=3, seed=9), fit_em(data, 2, n_restarts=3, seed=9)
    assert first.restart_log_likelihoods == second.restart_log_likelihoods
