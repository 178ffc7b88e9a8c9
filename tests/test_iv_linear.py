"""Two-stage least squares: agreement with linearmodels, Card (1995) robust errors, recovery, coverage, refusals.

The Wooldridge Example 15.4 replication lives in tests/reference/card_2sls_wooldridge_15_4.json.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from linearmodels.iv import IV2SLS
from threadpoolctl import threadpool_limits

import causal_core as cc
from causal_core.estimators.instruments.iv_linear import wald_estimator
from designs_hidden import IV_ROLES, iv_data

METHOD = "two_stage_least_squares"
CARD = Path(__file__).resolve().parents[1] / "sample_data" / "card.csv"
CARD_CONTROLS = ["exper", "expersq", "black", "smsa", "south", "smsa66"] + [f"reg66{i}" for i in range(2, 10)]


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    with threadpool_limits(1):  # small matrices: threads only contend on a shared machine
        yield


def _two_instrument_frame(seed: int = 0, n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u, v, x1, x2, z2 = rng.normal(size=(5, n))
    z1 = rng.binomial(1, 0.5, n)
    treat = 0.7 * z1 + 0.4 * z2 + 0.5 * x1 + u + v
    y = 2.0 + 1.0 * treat - 0.5 * x1 + 0.3 * x2 + 1.5 * u + rng.normal(size=n) * (1 + np.abs(x2))
    return pd.DataFrame({"x1": x1, "x2": x2, "z1": z1, "z2": z2, "treat": treat, "y": y})


@pytest.mark.parametrize("cov_type", ["robust", "unadjusted"])
def test_matches_linearmodels_exactly(cov_type):
    df = _two_instrument_frame()
    roles = cc.Roles(treatment="treat", outcome="y", instruments=["z1", "z2"], confounders=["x1", "x2"])
    result = cc.estimate(df, roles, METHOD, estimand="LATE", cov_type=cov_type)
    exog = df[["x1", "x2"]].assign(const=1.0)
    reference = IV2SLS(df["y"], exog, df[["treat"]], df[["z1", "z2"]]).fit(cov_type=cov_type, debiased=True)
    assert result.estimate == pytest.approx(reference.params["treat"], rel=1e-12)
    assert result.std_error == pytest.approx(reference.std_errors["treat"], rel=1e-12)
    tests = result.diagnostics["tests"].set_index("test")
    overid = reference.sargan if cov_type == "unadjusted" else reference.wooldridge_overid
    assert tests.filter(like="over-identification", axis=0)["statistic"].iloc[0] == pytest.approx(overid.stat)
    assert tests.loc["endogeneity (Wu-Hausman)", "statistic"] == pytest.approx(reference.wu_hausman().stat)
    first = reference.first_stage.diagnostics.loc["treat"]
    scale = 2 if str(first["f.dist"]).startswith("chi2") else 1
    assert result.diagnostics["first_stage_f"] == pytest.approx(first["f.stat"] / scale)


def test_card_1995_robust_errors_keep_the_2sls_point_estimate():
    """Card (1995) data: the published classical 2SLS numbers are in tests/reference/card_2sls_wooldridge_15_4.json."""
    df = pd.read_csv(CARD)
    roles = cc.Roles(treatment="educ", outcome="lwage", instruments=["nearc4"], confounders=CARD_CONTROLS)
    classical = cc.estimate(df, roles, METHOD, estimand="LATE", cov_type="unadjusted")
    robust = cc.estimate(df, roles, METHOD, estimand="LATE")
    assert robust.estimate == classical.estimate
    assert 0.05 < robust.std_error < 0.06
    assert robust.diagnostics["first_stage_f"] > 10 and not robust.warnings


@pytest.mark.parametrize("binary_treatment", [False, True], ids=["continuous-treatment", "binary-treatment"])
def test_recovers_effect_under_hidden_confounding(binary_treatment):
    df, truth = iv_data(n=3000, seed=11, binary_treatment=binary_treatment)
    result = cc.estimate(df, IV_ROLES, METHOD, estimand="LATE")
    assert abs(result.estimate - truth) < 4 * result.std_error
    ols = result.diagnostics["ols_estimate"]
    assert abs(ols - truth) > 4 * result.std_error  # naive regression is far off, by its own yardstick


def test_confidence_interval_coverage():
    """200 replications: the 95% robust interval covers the truth 88-99% of the time (MC SE 1.5%)."""
    hits = []
    for seed in range(200):
        df, truth = iv_data(n=300, seed=1000 + seed)
        result = cc.estimate(df, IV_ROLES, METHOD, estimand="LATE")
        hits.append(result.ci_low <= truth <= result.ci_high)
    assert 0.88 <= np.mean(hits) <= 0.99, np.mean(hits)


def test_wald_estimator_equals_2sls_with_one_binary_instrument():
    df, _ = iv_data(n=2000, seed=3, binary_treatment=True)
    roles = cc.Roles(treatment="treat", outcome="y", instruments=["z"])
    result = cc.estimate(df, roles, METHOD, estimand="LATE")
    assert result.diagnostics["wald_estimate"] == pytest.approx(result.estimate, rel=1e-10)
    # delta-method SE and the small-sample-corrected robust SE agree to O(1/n)
    assert result.diagnostics["wald_std_error"] == pytest.approx(result.std_error, rel=0.01)
    ratio, se = wald_estimator(df["y"].to_numpy(), df["treat"].to_numpy(float), df["z"].to_numpy(float))
    assert ratio == result.diagnostics["wald_estimate"] and se == result.diagnostics["wald_std_error"]


def test_weak_instrument_and_ate_warnings():
    df, _ = iv_data(n=1000, seed=5, first_stage=0.12)
    result = cc.estimate(df, IV_ROLES, METHOD, estimand="ATE")
    assert result.diagnostics["first_stage_f"] < 10
    assert any("Weak instrument" in w for w in result.warnings)
    assert any("constant treatment effect" in w for w in result.warnings)


def _irrelevant_instrument_frame(leak: float = 0.0) -> pd.DataFrame:
    """An instrument orthogonal to treatment given x1 (exactly with ``leak=0``; first-stage F ~ 0.001 with 0.002)."""
    df, _ = iv_data(n=500, seed=2)
    rng = np.random.default_rng(9)
    noise = rng.normal(size=len(df))
    design = np.column_stack([np.ones(len(df)), df["x1"], df["treat"]])
    df["noise_z"] = noise - design @ np.linalg.lstsq(design, noise, rcond=None)[0] + leak * df["treat"]
    return df


@pytest.mark.parametrize(
    ("frame", "roles", "options", "match"),
    [
        (_irrelevant_instrument_frame, cc.Roles(treatment="treat", outcome="y", instruments=["noise_z"], confounders=["x1"]),
         {}, "Instrument column.*'noise_z' do not predict treatment 'treat'"),
        (lambda: _irrelevant_instrument_frame(0.002),
         cc.Roles(treatment="treat", outcome="y", instruments=["noise_z"], confounders=["x1"]),
         {}, r"'noise_z' do not predict treatment 'treat' \(first-stage F = 0\.00"),
        (lambda: iv_data(200)[0].assign(z=1.0), IV_ROLES, {}, "Instrument column 'z' is constant"),
        (lambda: iv_data(200)[0].assign(z2=lambda d: 2 * d["x1"]),
         cc.Roles(treatment="treat", outcome="y", instruments=["z2"], confounders=["x1"]), {}, "collinear"),
        (lambda: iv_data(200)[0], cc.Roles(treatment="treat", outcome="y", instruments=["z"], confounders=["z"]),
         {}, "Column 'z' is used both as"),
        (lambda: iv_data(200)[0], cc.Roles(treatment="treat", outcome="y", confounders=["x1"]),
         {}, "needs at least one column in the 'instruments' role"),
        (lambda: iv_data(200)[0], IV_ROLES, {"cov_type": "HC3"}, "'cov_type' option of method 'two_stage_least_squares' must be one of"),
    ],
    ids=["uncorrelated-instrument", "nearly-uncorrelated-instrument", "constant-instrument", "instrument-collinear-with-covariate",
         "instrument-also-covariate", "no-instrument", "bad-cov-type"],
)
def test_refusals(frame, roles, options, match):
    with pytest.raises(cc.CausalInputError, match=match):
        cc.estimate(frame(), roles, METHOD, estimand="LATE", **options)
