"""Matching estimators: exact/CEM, Mahalanobis nearest-neighbour and propensity-score matching.

Accuracy is checked against simulated truth within 4 of the method's own
standard error; coverage of the 95% interval over 200 small replications.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.linear_model import LinearRegression, LogisticRegression

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded
from causal_core.estimators.matching._shared import match_with_replacement, match_without_replacement

LINEAR_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
HETEROGENEOUS_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
METHODS = ["exact_matching", "nearest_neighbor_matching", "propensity_score_matching"]
ESTIMANDS = ["ATE", "ATT", "ATC"]
TARGET_ARM = {"ATE": (0, 1), "ATT": (1,), "ATC": (0,)}


def _matched_truth(unit_effects: np.ndarray, t: np.ndarray, weights: np.ndarray, estimand: str) -> float:
    """The average true unit effect over the matched units of the target arm(s) (the estimand after drops)."""
    keep = np.isin(t, TARGET_ARM[estimand]) & (weights > 0)
    return float(unit_effects[keep].mean())


@pytest.mark.parametrize("estimand", ESTIMANDS)
@pytest.mark.parametrize("method", METHODS)
def test_recovers_constant_effect(linear_design, method, estimand):
    df, truth = linear_design
    result = cc.estimate(df, LINEAR_ROLES, method, estimand=estimand)
    assert abs(result.estimate - truth[estimand]) < 4 * result.std_error, (result.estimate, result.std_error)
    naive = df.loc[df.treat == 1, "y"].mean() - df.loc[df.treat == 0, "y"].mean()
    assert abs(naive - truth[estimand]) > 4 * result.std_error  # the check above can fail


@pytest.mark.parametrize("estimand", ESTIMANDS)
@pytest.mark.parametrize("method", METHODS)
def test_recovers_heterogeneous_effects(heterogeneous_design, method, estimand):
    df, truth = heterogeneous_design
    t = df.treat.to_numpy()
    unit_effects = 1.0 + df.x1.to_numpy()
    result = cc.estimate(df, HETEROGENEOUS_ROLES, method, estimand=estimand)
    target = _matched_truth(unit_effects, t, result.weights, estimand)
    if method == "nearest_neighbor_matching":  # no unit is dropped: the target is the sample estimand
        assert target == pytest.approx(truth["S" + estimand])
    assert abs(result.estimate - target) < 4 * result.std_error, (result.estimate, result.std_error, target)
    if estimand != "ATE":  # the ATT and ATC differ by ~0.7; the estimate must tell which it is
        other = truth["SATC" if estimand == "ATT" else "SATT"]
        assert abs(result.estimate - other) > 4 * result.std_error


def _single_index_design(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """Outcome depends on the covariates only through the propensity index, constant effect 2.

    Here the Abadie-Imbens (2006) variance treating the estimated score as
    known is asymptotically exact (Abadie & Imbens 2016: the correction terms
    vanish); where covariates predict the outcome beyond the score it is
    conservative (measured 0.985-0.995 on ``linear_confounded``, n=400).
    """
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(2, n))
    index = 0.8 * x1 - 0.5 * x2
    t = rng.binomial(1, expit(index))
    y = 1.0 + 2.0 * t + 1.5 * index + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "treat": t, "y": y}), {"ATT": 2.0}


COVERAGE_DESIGNS = {
    "nearest_neighbor_matching": (lambda n, seed: linear_confounded(n=n, seed=seed), LINEAR_ROLES),
    "propensity_score_matching": (
        _single_index_design,
        cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2"]),
    ),
}


@pytest.mark.parametrize("method", sorted(COVERAGE_DESIGNS))
def test_att_interval_coverage(method):
    """200 replications at n=400: coverage of the 95% interval tells 95% from 80% (SE of coverage ~1.5%)."""
    simulate, roles = COVERAGE_DESIGNS[method]
    errors, covered = [], []
    for seed in range(200):
        df, truth = simulate(400, 10_000 + seed)
        result = cc.estimate(df, roles, method, estimand="ATT")
        errors.append(result.estimate - truth["ATT"])
        covered.append(result.ci_low <= truth["ATT"] <= result.ci_high)
    errors = np.asarray(errors)
    assert abs(errors.mean()) < 4 * errors.std() / np.sqrt(errors.size)  # no detectable bias
    assert 0.88 <= np.mean(covered) <= 0.99, np.mean(covered)


def _weak_overlap_design(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.binomial(1, expit(2.5 * x))
    y = 1.0 + 2.0 * t + x + rng.normal(size=n)
    return pd.DataFrame({"x": x, "treat": t, "y": y})


@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_caliper_drops_units_and_warns(estimand):
    df = _weak_overlap_design()
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x"])
    result = cc.estimate(df, roles, "propensity_score_matching", estimand=estimand, caliper=0.01)
    d = result.diagnostics
    dropped = d["n_dropped_treated"] + d["n_dropped_control"]
    assert dropped > 0
    assert any("dropped" in w and "caliper" in w and "matched" in w for w in result.warnings)
    t = df.treat.to_numpy()
    for arm, name in ((1, "treated"), (0, "control")):
        if arm in TARGET_ARM[estimand]:
            assert d[f"n_matched_{name}"] + d[f"n_dropped_{name}"] == np.sum(t == arm)
            assert np.sum(result.weights[t == arm] == 0) == d[f"n_dropped_{name}"]
    ess = result.weight_diagnostics
    assert ess.ess_after["treated"] <= ess.ess_before["treated"]
    no_caliper = cc.estimate(df, roles, "propensity_score_matching", estimand=estimand, caliper=None)
    assert no_caliper.diagnostics["n_dropped_treated"] + no_caliper.diagnostics["n_dropped_control"] == 0
    assert not any("dropped" in w for w in no_caliper.warnings)


@pytest.mark.parametrize("estimand", ["ATT", "ATC"])
@pytest.mark.parametrize("method", ["nearest_neighbor_matching", "propensity_score_matching"])
def test_without_replacement_never_reuses_a_unit(linear_design, method, estimand):
    df, _ = linear_design
    options = {"caliper": None} if method == "propensity_score_matching" else {}
    result = cc.estimate(df, LINEAR_ROLES, method, estimand=estimand, replace=False, **options)
    t = df.treat.to_numpy()
    target_arm = TARGET_ARM[estimand][0]
    pool_weights = result.weights[t != target_arm]
    assert set(np.unique(pool_weights)) <= {0.0, 1.0}  # a reused unit would weigh 2 or more
    n_matched_targets = int(np.sum(result.weights[t == target_arm] > 0))
    assert pool_weights.sum() == n_matched_targets
    n_targets, n_pool = np.sum(t == target_arm), np.sum(t != target_arm)
    assert n_matched_targets == min(n_targets, n_pool)
    if n_pool < n_targets:  # the pool ran out: the leftover targets are dropped with a warning
        assert any("dropped" in w for w in result.warnings)
    assert "paired-difference" in result.diagnostics["se_method"]


def test_without_replacement_k2_uses_distinct_pairs(linear_design):
    df, _ = linear_design
    df = df[(df.treat == 0) | (np.arange(len(df)) % 3 == 0)]  # about three controls per treated
    result = cc.estimate(df, LINEAR_ROLES, "nearest_neighbor_matching", estimand="ATT", replace=False, n_neighbors=2)
    t = df.treat.to_numpy()
    assert set(np.unique(result.weights[t == 0])) == {0.0, 0.5}
    assert np.sum(result.weights[t == 0] == 0.5) == 2 * np.sum(t == 1)


@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_nearest_neighbor_weights_count_uses(linear_design, estimand):
    df, _ = linear_design
    t = df.treat.to_numpy()
    y = df.y.to_numpy()
    result = cc.estimate(df, LINEAR_ROLES, "nearest_neighbor_matching", estimand=estimand, bias_adjustment=False, n_neighbors=3)
    w = result.weights
    assert w.shape == (len(df),) and np.all(w >= 0)
    n_targets = sum(np.sum(t == arm) for arm in TARGET_ARM[estimand])
    for arm in (0, 1):  # every target contributes one unit of weight to each arm
        assert w[t == arm].sum() == pytest.approx(n_targets)
    if estimand == "ATT":
        assert np.all(w[t == 1] == 1)
    # without bias adjustment the estimate is the weighted difference in means
    weighted = np.average(y[t == 1], weights=w[t == 1]) - np.average(y[t == 0], weights=w[t == 0])
    assert result.estimate == pytest.approx(weighted)


@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_cem_weights_and_drops(linear_design, estimand):
    df, _ = linear_design
    t = df.treat.to_numpy()
    result = cc.estimate(df, LINEAR_ROLES, "exact_matching", estimand=estimand)
    w, d = result.weights, result.diagnostics
    assert w.shape == (len(df),) and np.all(w >= 0)
    assert w[t == 1].sum() == pytest.approx(d["n_matched_treated"])
    assert w[t == 0].sum() == pytest.approx(d["n_matched_control"])
    assert d["n_matched_treated"] + d["n_dropped_treated"] == np.sum(t == 1)
    assert d["n_bins"] == int(np.ceil(np.log2(len(df)) + 1))  # Sturges
    assert any("strata without the other arm" in w and "overlap" in w for w in result.warnings)
    assert result.weight_diagnostics.ess_after["control"] < result.weight_diagnostics.ess_before["control"]
    # rows used: the matched units only, per arm
    assert result.n_used_by_arm == {"treated": d["n_matched_treated"], "control": d["n_matched_control"]}
    assert result.n_used == d["n_matched_treated"] + d["n_matched_control"] < result.n_rows == len(df)
    fewer_bins = cc.estimate(df, LINEAR_ROLES, "exact_matching", estimand=estimand, n_bins=4)
    assert fewer_bins.diagnostics["n_dropped_treated"] < d["n_dropped_treated"]


def _discrete_design(n: int = 3000, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n)
    flag = rng.binomial(1, 0.5, n)
    shift = pd.Series(group).map({"a": -1.0, "b": 0.0, "c": 1.0}).to_numpy() + flag
    t = rng.binomial(1, expit(shift))
    effect = 1.0 + shift  # heterogeneous across cells
    y = 2.0 * shift + effect * t + rng.normal(size=n)
    return pd.DataFrame({"group": group, "flag": flag, "treat": t, "y": y}), effect


@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_exact_matching_matches_hand_computed_stratified_estimate(estimand):
    df, effect = _discrete_design()
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["group", "flag"])
    result = cc.estimate(df, roles, "exact_matching", estimand=estimand)
    cells = df.groupby(["group", "flag", "treat"])["y"].agg(["mean", "count", "var"]).unstack("treat")
    share = {"ATE": cells["count"].sum(axis=1), "ATT": cells["count"][1], "ATC": cells["count"][0]}[estimand]
    share = share / share.sum()
    difference = cells["mean"][1] - cells["mean"][0]
    assert result.estimate == pytest.approx(float((share * difference).sum()))
    neyman = (share**2 * (cells["var"][1] / cells["count"][1] + cells["var"][0] / cells["count"][0])).sum()
    assert result.std_error == pytest.approx(float(np.sqrt(neyman)))
    assert result.diagnostics["n_dropped_treated"] == 0 and not result.warnings
    truth = _matched_truth(effect, df.treat.to_numpy(), result.weights, estimand)
    assert abs(result.estimate - truth) < 4 * result.std_error


def test_nearest_neighbor_with_ties_equals_exact_matching():
    """On discrete covariates every tie is kept, so 1-NN matching is exact matching on the cells."""
    df, _ = _discrete_design()
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["group", "flag"])
    exact = cc.estimate(df, roles, "exact_matching", estimand="ATT")
    nearest = cc.estimate(df, roles, "nearest_neighbor_matching", estimand="ATT", bias_adjustment=False)
    assert nearest.estimate == pytest.approx(exact.estimate)
    t = df.treat.to_numpy()
    assert nearest.weights[t == 0] == pytest.approx(exact.weights[t == 0] * t.sum() / exact.weights[t == 0].sum())


def test_match_with_replacement_keeps_ties_and_respects_caliper():
    points = np.array([1.0, 0.0, 2.0, 4.0, 3.9])
    matches = match_with_replacement(points, np.array([0, 4]), np.array([1, 2, 3]), 1)
    pairs = sorted(zip(matches.target.tolist(), matches.source.tolist(), matches.weight.tolist()))
    assert pairs == [(0, 1, 0.5), (0, 2, 0.5), (4, 3, 1.0)]
    narrow = match_with_replacement(points, np.array([0, 4]), np.array([1, 2, 3]), 1, caliper=0.5)
    assert narrow.unmatched.tolist() == [0] and narrow.source.tolist() == [3]


def test_match_without_replacement_serves_hardest_target_first():
    points = np.array([0.0, 0.9, 1.0, 5.0])  # targets 0 and 2 both want pool unit 1
    matches = match_without_replacement(points, np.array([0, 2]), np.array([1, 3]), 1)
    assert dict(zip(matches.target.tolist(), matches.source.tolist())) == {0: 1, 2: 3}


def test_propensity_diagnostics_and_model_swap(linear_design):
    df, _ = linear_design
    default = cc.estimate(df, LINEAR_ROLES, "propensity_score_matching", estimand="ATT")
    ps = default.diagnostics["propensity"]
    assert ps.shape == (len(df),) and np.all((ps > 0) & (ps < 1))
    assert default.diagnostics["caliper_sd"] == 0.2 and default.diagnostics["caliper_logit"] > 0
    assert "known" in default.diagnostics["se_method"]
    swapped = cc.estimate(df, LINEAR_ROLES, "propensity_score_matching", estimand="ATT",
                          propensity_model=LogisticRegression(C=0.001))
    assert not np.allclose(swapped.diagnostics["propensity"], ps)
    with pytest.raises(cc.CausalInputError, match="propensity_model"):
        cc.estimate(df, LINEAR_ROLES, "propensity_score_matching", propensity_model=LinearRegression())


@pytest.mark.parametrize(
    "method, options, message",
    [
        ("propensity_score_matching", {"caliper": 0}, "'caliper' option of method 'propensity_score_matching' must be a number greater than 0, or None"),
        ("propensity_score_matching", {"caliper": -0.1}, "'caliper' option .* must be a number greater than 0"),
        ("propensity_score_matching", {"caliper": "wide"}, "'caliper' option .* must be a number greater than 0"),
        ("propensity_score_matching", {"n_neighbors": 0}, "'n_neighbors' option .* must be an integer of at least 1"),
        ("nearest_neighbor_matching", {"n_neighbors": 0}, "'n_neighbors' option .* must be an integer of at least 1"),
        ("nearest_neighbor_matching", {"n_neighbors": 1.5}, "'n_neighbors' option .* must be an integer of at least 1"),
        ("nearest_neighbor_matching", {"n_neighbors": 500}, r"'n_neighbors' option .* must be at most \d+, one fewer than the \d+ rows of the smaller"),
        ("nearest_neighbor_matching", {"replace": "no"}, "'replace' option .* must be True or False"),
        ("nearest_neighbor_matching", {"bias_adjustment": 1}, "'bias_adjustment' option .* must be True or False"),
        ("nearest_neighbor_matching", {"replace": False}, "ATE only with replace=True"),
        ("propensity_score_matching", {"replace": False}, "ATE only with replace=True"),
        ("exact_matching", {"n_bins": 1}, "'n_bins' option .* must be an integer of at least 2"),
        ("exact_matching", {"n_bins": 3.5}, "'n_bins' option .* must be an integer of at least 2"),
    ],
)
def test_bad_options_are_refused(method, options, message):
    df, _ = linear_confounded(n=300, seed=0)
    with pytest.raises(cc.CausalInputError, match=message):
        cc.estimate(df, LINEAR_ROLES, method, estimand="ATE", **options)


def test_exact_matching_without_common_cells_is_refused():
    df = pd.DataFrame({"g": ["a", "a", "b", "b", "a", "b"], "treat": [1, 1, 0, 0, 1, 0], "y": [1.0, 2, 3, 4, 5, 6]})
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["g"])
    with pytest.raises(cc.CausalInputError, match="No stratum"):
        cc.estimate(df, roles, "exact_matching", estimand="ATT")
