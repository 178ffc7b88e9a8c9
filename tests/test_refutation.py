"""Refutation tests: each passes where the estimator is right and fails where it is wrong in the way it can detect.

What each can and cannot detect (none detects an unmeasured confounder):

* placebo treatment fails for an estimate that does not come from the treatment column as given
  (here: a stale estimator that returns its first answer whatever data it gets);
* random common cause fails for an estimator unstable to an irrelevant covariate (here: Mahalanobis
  matching without bias adjustment, whose match quality on the real confounder degrades);
* data subsets fail for a standard error too small for the estimate's real variability (here: an
  estimator reporting a third of its standard error);
* dummy outcome fails for adjustment that does not remove measured confounding (difference in means).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded

ROLES = cc.Roles("treat", "y", ["x1", "x2", "x3", "x4", "region"])


@pytest.fixture(scope="module")
def design():
    return linear_confounded(n=600, seed=5)[0]


@pytest.fixture(scope="module")
def one_confounder():
    rng = np.random.default_rng(3)
    n = 400
    x = rng.normal(size=n)
    t = rng.binomial(1, expit(1.5 * x))
    return pd.DataFrame({"x": x, "treat": t, "y": 2 * t + 5 * x + rng.normal(size=n)})


@pytest.mark.parametrize("method", ["regression_adjustment", "ipw"])
def test_every_refuter_passes_for_a_correct_estimator(design, method):
    results = cc.refute(design, ROLES, method, n_repeats=12, seed=1)
    assert [r.name for r in results] == list(cc.refute.__globals__["REFUTERS"])
    for r in results:
        assert r.passed, (r.name, r.explanation)
        assert r.n_failed == 0 and len(r.estimates) == 12


def test_placebo_fails_for_an_estimate_that_ignores_the_treatment_column(design):
    first = cc.estimate(design, ROLES, "regression_adjustment")

    def stale(df, roles):  # a cached answer returned whatever data it is given
        return first.estimate, first.std_error

    placebo = cc.refute(design, ROLES, stale, tests=["placebo_treatment"], n_repeats=10)[0]
    assert not placebo.passed
    assert placebo.refuted_mean == pytest.approx(first.estimate)


def test_random_common_cause_fails_for_matching_without_bias_adjustment(one_confounder):
    roles = cc.Roles("treat", "y", ["x"])
    matching = cc.refute(one_confounder, roles, "nearest_neighbor_matching", tests=["random_common_cause"],
                         n_repeats=8, options={"bias_adjustment": False})[0]
    regression = cc.refute(one_confounder, roles, "regression_adjustment", tests=["random_common_cause"],
                           n_repeats=8)[0]
    assert not matching.passed, matching.explanation
    assert regression.passed, regression.explanation


def test_data_subset_fails_for_a_standard_error_too_small(design):
    def overconfident(df, roles):
        r = cc.estimate(df, roles, "regression_adjustment")
        return r.estimate, r.std_error / 3

    honest = cc.refute(design, ROLES, "regression_adjustment", tests=["data_subset"], n_repeats=20)[0]
    wrong = cc.refute(design, ROLES, overconfident, tests=["data_subset"], n_repeats=20)[0]
    assert honest.passed, honest.explanation
    assert not wrong.passed, wrong.explanation


def test_dummy_outcome_fails_when_confounding_is_not_adjusted(design):
    naive = cc.refute(design, ROLES, "difference_in_means", tests=["dummy_outcome"], n_repeats=5)[0]
    assert not naive.passed and abs(naive.refuted_mean) > 2 * naive.original_std_error


def test_refutation_is_seeded_and_parallel_gives_the_same_numbers(design):
    a = cc.refute(design, ROLES, "ipw", tests=["placebo_treatment", "data_subset"], n_repeats=4, seed=3)
    b = cc.refute(design, ROLES, "ipw", tests=["placebo_treatment", "data_subset"], n_repeats=4, seed=3, n_jobs=2)
    assert [r.estimates for r in a] == [r.estimates for r in b]


def test_refutation_reports_progress_and_leaves_the_data_alone(design):
    before = design.copy()
    calls = []
    cc.refute(design, ROLES, "regression_adjustment", n_repeats=3, progress=lambda d, t, m: calls.append((d, t, m)))
    pd.testing.assert_frame_equal(design, before)
    assert calls[-1][:2] == (12, 12) and [c[0] for c in calls] == list(range(1, 13))


@pytest.mark.parametrize("kwargs, match", [
    (dict(tests=["bogus"]), "Unknown refutation test"),
    (dict(n_repeats=1), "n_repeats"),
    (dict(subset_fraction=1.5), "subset_fraction"),
    (dict(dummy_model="tree"), "dummy_model"),
])
def test_refute_rejects_bad_options(design, kwargs, match):
    with pytest.raises(cc.CausalInputError, match=match):
        cc.refute(design, ROLES, "regression_adjustment", **kwargs)
