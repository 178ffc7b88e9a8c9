"""Moment solvers: k coins by Prony (k-MixIID), Jennrich for k-MixProd, and the identifiability rules."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import causal_core as cc
from causal_core.studies.mixtures import repeated_measurements_frame
from causal_core.studies.mixtures.identifiability import kruskal_identifiable, mix_iid_identifiable, mix_prod_identifiable
from causal_core.studies.mixtures.moments_iid import iid_moments, prony_sources
from causal_core.studies.mixtures.moments_prod import fit_mix_prod_codes


@pytest.mark.parametrize("trials, p, order", [(5, 0.3, 4), (8, 0.85, 6), (3, 0.5, 3)])
def test_count_moments_are_unbiased_for_powers_of_the_bias(trials, p, order):
    counts = np.arange(trials + 1)
    per_count = np.vstack([iid_moments(np.array([c]), trials, order) for c in counts])
    expected = stats.binom.pmf(counts, trials, p) @ per_count
    np.testing.assert_allclose(expected, p ** np.arange(order + 1), atol=1e-12)


@pytest.mark.parametrize("weights, biases", [
    ((1.0,), (0.4,)),
    ((0.3, 0.7), (0.2, 0.75)),
    ((0.2, 0.5, 0.3), (0.1, 0.5, 0.9)),
])
def test_prony_recovers_sources_from_exact_moments(weights, biases):
    k = len(weights)
    mu = np.array([np.dot(weights, np.power(biases, j)) for j in range(2 * k)])
    w, p, condition, notes = prony_sources(mu, k)
    np.testing.assert_allclose(p, sorted(biases), atol=1e-8)
    np.testing.assert_allclose(w, np.asarray(weights)[np.argsort(biases)], atol=1e-8)
    assert np.isfinite(condition) and not notes


def test_fit_mix_iid_recovers_two_coins_within_sampling_error():
    """Across 40 seeded samples of 3,000 units the mean estimate is within 4 standard errors of the truth."""
    estimates = []
    for seed in range(40):
        df, truth = repeated_measurements_frame(n=3000, seed=seed, trials=6)
        r = cc.fit_mix_iid(df, count="successes", trials=6, k=2)
        estimates.append(np.r_[r.weights, r.biases])
    estimates = np.asarray(estimates)
    target = np.r_[truth["weights"], truth["biases"]]
    standard_error = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(np.abs(estimates.mean(axis=0) - target) < 4 * standard_error + 1e-3), (estimates.mean(0), target)
    assert np.all(estimates.std(axis=0) < 0.05)  # each sample is close, not just the average


def test_columns_and_count_give_the_same_fit_and_the_result_is_frozen():
    df, _ = repeated_measurements_frame(n=500, seed=3, trials=5)
    before = df.copy()
    by_columns = cc.fit_mix_iid(df, columns=[f"trial_{i}" for i in range(1, 6)], k=2)
    by_count = cc.fit_mix_iid(df, count="successes", trials=5, k=2)
    pd.testing.assert_frame_equal(df, before)
    assert by_columns == by_count
    assert by_columns.fitted_count_distribution().sum() == pytest.approx(1.0)
    assert by_columns.component_count_distributions().shape == (2, 6)
    with pytest.raises(AttributeError):
        by_columns.k = 3  # type: ignore[misc]


@pytest.mark.parametrize("k, trials", [(3, 4), (4, 6), (2, 2)])
def test_fit_mix_iid_refuses_k_too_large_for_the_trials(k, trials):
    df, _ = repeated_measurements_frame(n=300, seed=0, trials=trials)
    with pytest.raises(cc.CausalInputError, match=f"'k'={k} is too large.*{2 * k - 1} trials"):
        cc.fit_mix_iid(df, count="successes", trials=trials, k=k)


def test_fit_mix_iid_warns_when_the_hankel_matrix_is_ill_conditioned():
    df, _ = repeated_measurements_frame(n=2000, seed=1, trials=7, weights=(1.0,), biases=(0.5,))
    r = cc.fit_mix_iid(df, count="successes", trials=7, k=3)  # one coin fitted as three: singular Hankel
    assert r.condition_number > 1e3
    assert any("ill-conditioned" in w for w in r.warnings)
    separated, _ = repeated_measurements_frame(n=2000, seed=1, trials=7)
    fine = cc.fit_mix_iid(separated, count="successes", trials=7, k=2)
    assert fine.condition_number < 100 and not fine.warnings


@pytest.mark.parametrize("kwargs, message", [
    ({"count": "successes", "trials": 6, "columns": ["trial_1"]}, "either 'columns'"),
    ({"count": "nope", "trials": 6}, "'nope'"),
    ({"count": "successes", "trials": 3}, "from 0 to trials=3"),
    ({"columns": ["trial_1", "successes"]}, "'successes' must hold only 0/1"),
    ({"count": "successes", "trials": 6, "k": 0}, "'k' must be"),
])
def test_fit_mix_iid_rejects_bad_input(kwargs, message):
    df, _ = repeated_measurements_frame(n=200, seed=0, trials=6)
    with pytest.raises(cc.CausalInputError, match=message):
        cc.fit_mix_iid(df, **kwargs)


def _exact_population(weights, probs):
    """Every binary pattern with its exact probability under the mixture (probs: (m, k) of P(x_j=1|u))."""
    probs = np.asarray(probs)
    patterns = np.array(list(itertools.product((0, 1), repeat=probs.shape[0])))
    likelihood = np.prod(np.where(patterns[:, :, None] == 1, probs[None], 1 - probs[None]), axis=1)
    return patterns, likelihood @ np.asarray(weights)


@pytest.mark.parametrize("weights, probs", [
    ((0.6, 0.4), [[0.2, 0.8], [0.3, 0.85], [0.25, 0.75]]),
    ((0.5, 0.3, 0.2), [[0.1, 0.5, 0.9], [0.8, 0.2, 0.6], [0.3, 0.9, 0.1], [0.5, 0.1, 0.7], [0.2, 0.6, 0.4]]),
])
def test_jennrich_recovers_sources_from_exact_moments(weights, probs):
    patterns, frequency = _exact_population(weights, probs)
    k = len(weights)
    fit = fit_mix_prod_codes(patterns, (2,) * patterns.shape[1], k, seed=0, row_weights=frequency)
    recovered = np.column_stack([p[:, 1] for p in fit.proxy_probs])  # (k, m)
    truth = np.asarray(probs).T
    order = [int(np.argmin(np.abs(recovered - row).sum(axis=1))) for row in truth]
    assert sorted(order) == list(range(k))
    np.testing.assert_allclose(recovered[order], truth, atol=1e-6)
    np.testing.assert_allclose(fit.weights[order], weights, atol=1e-6)
    assert fit.identifiability.holds and not fit.warnings


def test_jennrich_on_a_data_frame_and_refusal():
    df, truth = cc.studies.mixtures.latent_confounder_frame(n=20000, seed=0, n_proxies=5)
    fit = cc.fit_mix_prod(df, [f"proxy{j}" for j in range(1, 6)], k=2, seed=1)
    order = np.argsort(fit.proxy_probs[0][:, 1])
    # 20,000 rows: each P(proxy=1|u) has sampling SD well under 0.02, so 0.06 is a > 3-sigma bound
    assert np.max(np.abs(fit.weights[order] - truth["weights"])) < 0.06
    with pytest.raises(cc.CausalInputError, match="'k'=3 is too large.*5 binary proxies"):
        cc.fit_mix_prod(df[["proxy1", "proxy2", "proxy3", "proxy4"]], ["proxy1", "proxy2", "proxy3", "proxy4"], k=3)


@pytest.mark.parametrize("levels, k, holds", [
    ((2, 2, 2), 2, True),
    ((2, 2), 2, False),
    ((2, 2, 2, 2), 3, False),
    ((2, 2, 2, 2, 2), 3, True),
    ((3, 3, 3), 3, True),
    ((2, 2, 2, 2, 2, 2), 4, True),
    ((2,) * 6, 5, True),
    ((2,) * 6, 6, False),
])
def test_kruskal_rule(levels, k, holds):
    assert kruskal_identifiable(levels, k).holds is holds


@pytest.mark.parametrize("levels, k, holds", [
    ((2, 2, 2), 2, True), ((2, 2, 2, 2), 3, False), ((2,) * 5, 3, True), ((2,) * 6, 4, False), ((2,) * 7, 4, True),
])
def test_mix_prod_rule_needs_2k_minus_1_binary_proxies(levels, k, holds):
    report = mix_prod_identifiable(levels, k)
    assert report.holds is holds and "2k-1" in report.detail


@pytest.mark.parametrize("k, trials, holds", [(2, 3, True), (3, 4, False), (3, 5, True), (1, 1, True)])
def test_mix_iid_rule(k, trials, holds):
    assert mix_iid_identifiable(k, trials).holds is holds
