"""Gaussian-mixture subgroups and mixture density-ratio weighting against simulated truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded
from causal_core.estimators.heterogeneity.gmm_subgroups import combine_subgroups
from designs_heterogeneity import CLUSTER_EFFECTS, CLUSTER_ROLES, three_cluster_design


@pytest.fixture(scope="module")
def clusters():
    return three_cluster_design(1500, seed=11)


@pytest.mark.parametrize("within_method", ["doubly_robust", "regression_adjustment"])
def test_three_clusters_are_found_and_their_effects_recovered(clusters, within_method):
    df, cluster, tau = clusters
    r = cc.estimate(df, CLUSTER_ROLES, "gmm_subgroups", seed=0, within_method=within_method, n_init=2)
    assert r.diagnostics["n_subgroups"] == 3
    labels = r.diagnostics["assignments"]
    assert labels.shape == (len(df),)
    table = r.diagnostics["subgroups"]
    assert list(table["subgroup"]) == [1, 2, 3] and table["size"].sum() == len(df)
    for _, row in table.iterrows():
        members = labels == row["subgroup"]
        true_cluster = np.bincount(cluster[members]).argmax()
        assert np.mean(cluster[members] == true_cluster) > 0.99  # well separated: near-perfect recovery
        truth = CLUSTER_EFFECTS[true_cluster]
        assert abs(row["estimate"] - truth) < 4 * row["std_error"], (row["subgroup"], row["estimate"], truth)
        assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert abs(r.estimate - tau.mean()) < 4 * r.std_error
    bic = r.diagnostics["bic"]
    assert list(bic["n_components"]) == list(range(1, 7))
    assert int(bic.loc[bic["bic"].idxmin(), "n_components"]) == 3


def test_att_weights_subgroups_by_treated_counts(clusters):
    df, cluster, tau = clusters
    r = cc.estimate(df, CLUSTER_ROLES, "gmm_subgroups", estimand="ATT", seed=0, n_init=1,
                    within_method="regression_adjustment")
    table = r.diagnostics["subgroups"]
    expected = float(np.sum(table["estimate"] * table["n_treated"]) / table["n_treated"].sum())
    assert r.estimate == pytest.approx(expected)
    att = tau[df["treat"].to_numpy() == 1].mean()
    assert abs(r.estimate - att) < 4 * r.std_error


def test_combine_subgroups_by_hand():
    estimate, se = combine_subgroups(np.array([1.0, 3.0]), np.array([0.1, 0.2]), np.array([30.0, 10.0]))
    assert estimate == pytest.approx(0.75 * 1 + 0.25 * 3)
    share_var = (0.75 * (1 - 1.5) ** 2 + 0.25 * (3 - 1.5) ** 2) / 40
    assert se == pytest.approx(np.sqrt(0.75**2 * 0.01 + 0.25**2 * 0.04 + share_var))


def test_forced_components_with_an_untreated_subgroup_are_refused():
    df, _, _ = three_cluster_design(900, seed=3, treat_in_last=False)
    with pytest.raises(cc.CausalInputError, match=r"Subgroup 3 of the 3-component mixture has 0 treated"):
        cc.estimate(df, CLUSTER_ROLES, "gmm_subgroups", seed=0, n_components=3, n_init=1)


def test_automatic_choice_skips_partitions_without_both_arms():
    df, _, _ = three_cluster_design(900, seed=3, treat_in_last=False)
    r = cc.estimate(df, CLUSTER_ROLES, "gmm_subgroups", seed=0, n_init=1, within_method="regression_adjustment")
    assert r.diagnostics["subgroups"][["n_treated", "n_control"]].to_numpy().min() >= 5
    assert any("BIC prefers 3 subgroups" in w for w in r.warnings)


def test_single_component_warns_and_matches_the_within_method():
    df, truth = linear_confounded(n=600, seed=4)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
    r = cc.estimate(df, roles, "gmm_subgroups", seed=0, n_init=1, within_method="regression_adjustment")
    assert r.diagnostics["n_subgroups"] == 1
    assert any("Only one subgroup" in w for w in r.warnings)
    direct = cc.estimate(df, roles, "regression_adjustment", seed=0)
    assert r.estimate == pytest.approx(direct.estimate)
    assert abs(r.estimate - truth["ATE"]) < 4 * r.std_error


@pytest.mark.parametrize("options, match", [
    ({"n_components": 1}, "'n_components' option of method 'gmm_subgroups' must be an integer from 2"),
    ({"within_method": "two_stage_least_squares"}, "'within_method' option of method 'gmm_subgroups' must be one of"),
    ({"within_method": "no_such_method"}, "'within_method' option of method 'gmm_subgroups' must be one of"),
    ({"covariance_type": "banded"}, "'covariance_type' option"),
    ({"reweighting": "kernel"}, "'reweighting' option"),
    ({"max_components": 0}, "'max_components' option"),
])
def test_bad_options_are_refused(clusters, options, match):
    df, _, _ = clusters
    with pytest.raises(cc.CausalInputError, match=match):
        cc.estimate(df.head(300), CLUSTER_ROLES, "gmm_subgroups", **options)


def test_gmm_weighting_and_reweighting_option_recover_the_effect():
    df, truth = linear_confounded(n=1500, seed=7)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
    naive = cc.estimate(df, roles, "difference_in_means")
    r = cc.estimate(df, roles, "gmm_weighting", seed=0, n_init=1, max_components=4)
    assert abs(r.estimate - truth["ATE"]) < 4 * r.std_error
    assert abs(r.estimate - truth["ATE"]) < abs(naive.estimate - truth["ATE"]) / 2  # removes most confounding bias
    assert r.weights.shape == (len(df),)
    via = cc.estimate(df, roles, "gmm_subgroups", seed=0, n_init=1, max_components=4,
                      within_method="regression_adjustment", reweighting="gmm_density_ratio")
    assert via.estimate == pytest.approx(r.estimate)
    assert "subgroup_average" in via.diagnostics


def test_deterministic_and_input_untouched(clusters):
    df, _, _ = clusters
    before = df.copy()
    a = cc.estimate(df, CLUSTER_ROLES, "gmm_subgroups", seed=5, n_init=1, within_method="regression_adjustment")
    b = cc.estimate(df, CLUSTER_ROLES, "gmm_subgroups", seed=5, n_init=1, within_method="regression_adjustment")
    pd.testing.assert_frame_equal(df, before)
    assert a.estimate == b.estimate and np.array_equal(a.diagnostics["assignments"], b.diagnostics["assignments"])


def test_gmm_weighting_warns_when_its_weights_collapse():
    """On the LaLonde experiment (many binary covariates) the per-arm mixtures fit poorly; the result must say so."""
    sample = cc.get_sample("lalonde_experimental")
    result = cc.estimate(cc.load_sample(sample.id), sample.roles, "gmm_weighting", estimand="ATT")
    assert result.diagnostics["ess"] < 0.05 * result.n_used
    assert any("very concentrated" in w for w in result.warnings)


def test_doubly_robust_without_cross_fitting_accepts_small_samples():
    """Small subgroups (as gmm_subgroups produces) must not trip the cross-fitting fold check."""
    df, truth = linear_confounded(n=16, seed=5)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1"])
    assert np.isfinite(cc.estimate(df, roles, "doubly_robust").estimate)
    with pytest.raises(cc.CausalInputError, match=r"'n_folds' option of method 'doubly_robust' must be at most 4 \(one per 4 of the 16 rows\) while 'cross_fit' is True"):
        cc.estimate(df, roles, "doubly_robust", cross_fit=True, n_folds=5)
