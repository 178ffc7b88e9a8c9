"""The results table (and report) say when adjusting methods disagree by more than sampling error."""
from __future__ import annotations

import numpy as np

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded
from causal_core.report.html_report import build_html_report
from causal_core.robustness.agreement import disagreement_note

CONFOUNDERS = ["x1", "x2", "x3", "x4", "region"]


def _design():
    df, _ = linear_confounded(n=3000, seed=5)
    return df, cc.Roles(treatment="treat", outcome="y", confounders=CONFOUNDERS)


def test_methods_that_share_the_right_adjustment_raise_no_note():
    df, roles = _design()
    results = {m: cc.estimate(df, roles, m, seed=0) for m in ("regression_adjustment", "ipw", "difference_in_means")}
    # the naive contrast is far from both (confounding), but it is a reference, not an estimator to agree with
    dim, ra = results["difference_in_means"], results["regression_adjustment"]
    assert abs(dim.estimate - ra.estimate) / np.hypot(dim.std_error, ra.std_error) > 3
    assert disagreement_note(results) is None


def test_a_method_missing_the_confounders_is_named_with_the_distance():
    df, roles = _design()
    right = cc.estimate(df, roles, "regression_adjustment", seed=0)
    wrong = cc.estimate(df, cc.Roles(treatment="treat", outcome="y", confounders=["x4"]), "ipw", seed=0)
    z = abs(right.estimate - wrong.estimate) / np.hypot(right.std_error, wrong.std_error)
    assert z > 2  # the simulated confounding is strong: leaving out x1-x3 biases IPW by many SEs
    note = disagreement_note({"regression_adjustment": right, "ipw": wrong})
    assert note is not None and f"{z:.1f} combined standard errors apart" in note
    assert "Outcome regression" in note and "Inverse probability weighting" in note
    table = cc.compare(df, roles, ["regression_adjustment"], seed=0)
    html = build_html_report(data_name="sim", df=df, roles=roles, estimand="ATE", table=table,
                             results={"regression_adjustment": right, "ipw": wrong}, seed=0)
    assert "combined standard errors apart" in html
