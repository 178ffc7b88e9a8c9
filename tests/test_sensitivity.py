"""Sensitivity analyses against published numbers and closed forms.

* E-values: VanderWeele & Ding (2017), Ann. Intern. Med. 167(4): RR 3.9 (95% CI 1.8 to 8.7) gives
  E-values 7.26 and 3.0.
* OVB: the Cinelli & Hazlett (2020) Darfur numbers (sensemakr) are checked from
  tests/reference/darfur_sensemakr.json by test_reference_outputs.py; the fixture
  here reuses that data for the contour grid.
* Rosenbaum bounds: exact brute force over all sign patterns on a tiny example.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded
from causal_core.robustness.sensitivity import e_value_rr, matched_pair_differences, ovb_sensitivity, rosenbaum_bounds
from causal_core.robustness.sensitivity.ovb import adjusted_estimate, ovb_bias, robustness_value
from causal_core.robustness.sensitivity.rosenbaum import signed_rank_upper_p_value

DARFUR = Path(__file__).resolve().parent / "data" / "darfur.csv"


@pytest.mark.parametrize("rr, expected", [(3.9, 7.26), (1.8, 3.0), (1.0, 1.0), (1 / 3.9, 7.26)])
def test_e_value_of_a_risk_ratio_matches_vanderweele_ding(rr, expected):
    assert e_value_rr(rr) == pytest.approx(expected, abs=0.005)


def test_e_value_of_the_paper_example_uses_the_ci_limit_closer_to_null():
    ev = cc.e_value(3.9, 1.8, 8.7, scale="risk_ratio")
    assert ev.e_value_estimate == pytest.approx(7.26, abs=0.005)
    assert ev.e_value_ci == pytest.approx(3.0, abs=0.005)


@pytest.mark.parametrize("low, high", [(0.8, 1.3), (-0.1, 0.4)])
def test_e_value_of_an_interval_covering_the_null_is_one(low, high):
    scale = "risk_ratio" if low > 0 else "difference"
    ev = cc.e_value(1.1 if scale == "risk_ratio" else 0.15, low, high, scale=scale,
                    sd_outcome=None if scale == "risk_ratio" else 1.0)
    assert ev.e_value_ci == 1.0


def test_e_value_of_a_risk_difference_uses_the_baseline_risk():
    ev = cc.e_value(0.1, 0.05, 0.15, baseline_risk=0.2)  # RR 1.5, CI 1.25 to 1.75
    assert ev.risk_ratio == pytest.approx(1.5)
    assert ev.e_value_estimate == pytest.approx(1.5 + np.sqrt(1.5 * 0.5))
    assert ev.e_value_ci == pytest.approx(1.25 + np.sqrt(1.25 * 0.25))


def test_e_value_of_a_continuous_difference_uses_exp_091_d():
    ev = cc.e_value(-2.0, -3.0, -1.0, sd_outcome=4.0)  # d = -0.5
    rr = np.exp(0.91 * 0.5)
    assert ev.risk_ratio == pytest.approx(1 / rr)
    assert ev.e_value_estimate == pytest.approx(rr + np.sqrt(rr * (rr - 1)))
    rr_limit = np.exp(0.91 * 0.25)
    assert ev.e_value_ci == pytest.approx(rr_limit + np.sqrt(rr_limit * (rr_limit - 1)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(), "baseline_risk"),
    (dict(baseline_risk=1.2), "baseline_risk"),
    (dict(sd_outcome=0.0), "sd_outcome"),
    (dict(scale="odds", sd_outcome=1.0), "scale"),
])
def test_e_value_rejects_bad_options(kwargs, match):
    with pytest.raises(cc.CausalInputError, match=match):
        cc.e_value(0.1, 0.0, 0.2, **kwargs)


@pytest.fixture(scope="module")
def darfur():
    df = pd.read_csv(DARFUR)
    dummies = pd.get_dummies(df["village"], prefix="village", drop_first=True, dtype=float)
    data = pd.concat([df.drop(columns="village"), dummies], axis=1)
    roles = cc.Roles(treatment="directlyharmed", outcome="peacefactor",
                     confounders=["female", "age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur",
                                  *dummies.columns])
    return ovb_sensitivity(data, roles, benchmarks=["female"], kd=[1, 2, 3])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ovb_bias_formula_equals_the_actual_omitted_variable_bias(seed):
    """In-sample identity: the short-minus-long coefficient equals the formula at the omitted variable's partial R2s."""
    rng = np.random.default_rng(seed)
    n = 500
    x, z = rng.normal(size=(2, n))
    d = 0.5 * x + 0.8 * z + rng.normal(size=n)
    y = 1.0 * d + 0.7 * x + 1.2 * z + rng.normal(size=n)
    df = pd.DataFrame({"x": x, "z": z, "d": d, "y": y})
    short = ovb_sensitivity(df, cc.Roles("d", "y", ["x"]), benchmarks=[])
    long_y = ovb_sensitivity(df, cc.Roles("d", "y", ["x", "z"]), benchmarks=["z"], kd=[1.0])
    row = long_y.benchmarks.iloc[0]
    r2yz_dx, r2dz_x = row["r2yx_benchmark"], row["r2dx_benchmark"]
    bias = ovb_bias(short.std_error, short.dof, r2dz_x, r2yz_dx)
    assert abs(short.estimate - long_y.estimate) == pytest.approx(float(bias), rel=1e-8)
    assert float(adjusted_estimate(short.estimate, short.std_error, short.dof, r2dz_x, r2yz_dx)) == \
        pytest.approx(long_y.estimate, rel=1e-8)


def test_robustness_value_removes_exactly_the_estimate():
    t_stat, dof = 4.18445, 783
    rv = robustness_value(t_stat, dof)
    se, est = 0.1, 0.418445
    assert float(ovb_bias(se, dof, rv, rv)) == pytest.approx(est, rel=1e-6)


def test_bias_contour_grid_is_zero_bias_at_the_origin(darfur):
    grid = cc.robustness.sensitivity.bias_contour_grid(darfur, n_points=11)
    assert len(grid) == 121
    origin = grid[(grid["r2dz_x"] == 0) & (grid["r2yz_dx"] == 0)].iloc[0]
    assert origin["adjusted_estimate"] == pytest.approx(darfur.estimate)


def test_ovb_rejects_an_unknown_benchmark():
    df, _ = linear_confounded(n=200, seed=0)
    with pytest.raises(cc.CausalInputError, match="Benchmark 'age'"):
        ovb_sensitivity(df, cc.Roles("treat", "y", ["x1", "x2"]), benchmarks=["age"])


def _brute_force_upper_p(differences, gamma):
    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    ranks = stats.rankdata(np.abs(d))
    observed = ranks[d > 0].sum()
    p = gamma / (1 + gamma)
    total = 0.0
    for signs in itertools.product((0, 1), repeat=d.size):
        signs = np.array(signs)
        if ranks[signs == 1].sum() >= observed - 1e-9:
            total += p ** signs.sum() * (1 - p) ** (d.size - signs.sum())
    return total


TINY = [1.5, -0.3, 2.2, 0.7, 0.7, -1.1, 3.0, 0.4, 1.9, 0.0, 2.6]


@pytest.mark.parametrize("gamma", [1.0, 1.5, 2.0, 3.0])
def test_rosenbaum_exact_bound_equals_brute_force(gamma):
    bounds = rosenbaum_bounds(TINY, gammas=[gamma])
    assert bounds.method == "exact" and bounds.n_zero == 1 and bounds.n_pairs == 10
    assert bounds.table["p_value_upper"].iloc[0] == pytest.approx(_brute_force_upper_p(TINY, gamma), rel=1e-10)


def test_rosenbaum_at_gamma_one_is_the_wilcoxon_test():
    d = np.array([1.2, -0.4, 2.5, 0.9, 3.1, -0.2, 1.7, 0.6, 2.2, -1.3, 0.8, 1.1])
    bounds = rosenbaum_bounds(d, gammas=[1.0])
    assert bounds.table["p_value_upper"].iloc[0] == pytest.approx(
        stats.wilcoxon(d, alternative="greater", method="exact").pvalue, rel=1e-10)


def test_rosenbaum_critical_gamma_is_where_the_bound_crosses_alpha():
    rng = np.random.default_rng(0)
    d = rng.normal(0.5, 1.0, size=150)
    bounds = rosenbaum_bounds(d)
    assert bounds.significant and bounds.critical_gamma > 1
    p_at = bounds.table.set_index("gamma")["p_value_upper"]
    assert p_at.is_monotonic_increasing
    ranks = stats.rankdata(np.abs(d))
    at_critical = signed_rank_upper_p_value(ranks, bounds.statistic, bounds.critical_gamma, exact=True)
    assert at_critical == pytest.approx(0.05, abs=1e-4)
    normal = rosenbaum_bounds(d, exact_max_pairs=0)
    assert normal.method == "normal" and normal.critical_gamma == pytest.approx(bounds.critical_gamma, rel=0.05)


def test_rosenbaum_negative_effect_is_tested_in_its_direction():
    bounds = rosenbaum_bounds(-np.asarray(TINY), gammas=[1.0])
    assert bounds.direction == "negative"
    assert bounds.table["p_value_upper"].iloc[0] == pytest.approx(_brute_force_upper_p(TINY, 1.0), rel=1e-10)


@pytest.mark.parametrize("method, options", [
    ("nearest_neighbor_matching", {"bias_adjustment": False}),
    ("propensity_score_matching", {}),
])
def test_matched_pair_differences_reproduce_the_matching_estimate(method, options):
    df, _ = linear_confounded(n=500, seed=3)
    roles = cc.Roles("treat", "y", ["x1", "x2", "x3", "x4", "region"])
    result = cc.estimate(df, roles, method, estimand="ATT", replace=False, **options)
    differences = matched_pair_differences(df, roles, method, estimand="ATT", replace=False)
    assert differences.mean() == pytest.approx(result.estimate, rel=1e-10)
    report = cc.sensitivity_for_result(df, roles, result, options={"replace": False, **options})
    assert report.rosenbaum is not None and report.rosenbaum.critical_gamma > 1


@pytest.mark.parametrize("args, match", [
    (dict(differences=[1.0]), "at least 2"),
    (dict(differences=[1.0, 2.0], gammas=[0.5]), "gammas"),
    (dict(differences=[1.0, np.nan]), "finite"),
])
def test_rosenbaum_rejects_bad_input(args, match):
    with pytest.raises(cc.CausalInputError, match=match):
        rosenbaum_bounds(args.pop("differences"), **args)


def test_sensitivity_for_regression_gives_exact_ovb_and_an_e_value():
    df, _ = linear_confounded(n=800, seed=4)
    roles = cc.Roles("treat", "y", ["x1", "x2", "x3", "x4", "region"])
    result = cc.estimate(df, roles, "regression_adjustment")
    report = cc.sensitivity_for_result(df, roles, result)
    assert report.ovb is not None and not report.ovb.approximate
    assert report.ovb.estimate == pytest.approx(result.estimate, rel=1e-8)
    assert report.e_value is not None and report.e_value.scale == "standardised difference"
    dr = cc.estimate(df, roles, "doubly_robust")
    approx = cc.sensitivity_for_result(df, roles, dr)
    assert approx.ovb.approximate and approx.ovb.estimate == dr.estimate


def test_agreement_summary_reads_sign_overlap_and_spread():
    def result(est, se):
        return cc.EstimateResult(est, se, est - 1.96 * se, est + 1.96 * se, "ATE", "m", 100)

    agree = cc.agreement_summary({"a": result(1.0, 0.2), "b": result(1.2, 0.2), "c": result(0.9, 0.3)})
    assert agree.same_sign and agree.common_overlap and agree.pairwise_overlap == 1.0
    assert agree.spread == pytest.approx(0.3) and agree.spread_in_se == pytest.approx(1.5)
    split = cc.agreement_summary({"a": result(1.0, 0.1), "b": result(-1.0, 0.1)})
    assert not split.same_sign and not split.common_overlap and "sign" in split.verdict
    with pytest.raises(cc.CausalInputError, match="at least 2"):
        cc.agreement_summary({"a": result(1.0, 0.1)})


def test_robustness_section_renders_html_and_figures():
    df, _ = linear_confounded(n=400, seed=8)
    roles = cc.Roles("treat", "y", ["x1", "x2", "x3", "x4", "region"])
    results = {m: cc.estimate(df, roles, m) for m in ("regression_adjustment", "ipw")}
    section = cc.robustness_section(
        sensitivity={"regression_adjustment": cc.sensitivity_for_result(df, roles, results["regression_adjustment"])},
        refutations={"ipw": cc.refute(df, roles, "ipw", tests=["placebo_treatment"], n_repeats=3)},
        agreement=cc.agreement_summary(results),
    )
    assert "<h2>Robustness</h2>" in section.html and "<script" not in section.html
    assert [slug for slug, _, _ in section.figures] == ["ovb_regression_adjustment", "refutation_ipw"]
