"""Entropy balancing's ``basis`` option: the automatic richer basis, its fallbacks and where it is reported."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import causal_core as cc
from causal_core.nuisance.features import auto_basis_candidates
from causal_core.report.export_tables import diagnostics_frame

ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2"])
EFFECT = 2.0


def _misspecified(n: int, seed: int) -> pd.DataFrame:
    """Treatment and outcome linear in log(x1), x2 and log(x1) * x2; x1 = exp(z1) is skewed, so means-only balance is biased."""
    rng = np.random.default_rng(seed)
    z1, x2 = rng.normal(size=n), rng.normal(size=n)
    treat = rng.binomial(1, expit(0.8 * z1 - 0.4 * x2 + 0.5 * z1 * x2))
    y = 1.0 + EFFECT * treat + 3.0 * z1 + 1.0 * x2 + 2.0 * z1 * x2 + rng.normal(size=n)
    return pd.DataFrame({"x1": np.exp(z1), "x2": x2, "treat": treat, "y": y})


def _hull_design() -> pd.DataFrame:
    """Treated rows mostly beyond every control row: even the means cannot be balanced exactly."""
    rng = np.random.default_rng(0)
    controls = np.clip(rng.normal(0.2, 0.05, size=(200, 2)), 0, 1)
    treated = np.clip(rng.normal(0.6, 0.05, size=(50, 2)), 0, 1)
    treated[:5] = controls[:5]
    X = np.vstack([controls, treated])
    return pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "treat": np.r_[np.zeros(200), np.ones(50)],
                         "y": rng.normal(size=250)})


def _square_outside_hull() -> pd.DataFrame:
    """Means (and products) balanceable, but the treated mean of x1^2 exceeds every control's x1^2."""
    rng = np.random.default_rng(1)
    x1 = np.r_[rng.uniform(-1, 1, 300), rng.choice([-1.2, 1.2], 100)]
    x2 = rng.normal(size=400)
    treat = np.r_[np.zeros(300), np.ones(100)]
    return pd.DataFrame({"x1": x1, "x2": x2, "treat": treat, "y": x2 + EFFECT * treat + rng.normal(size=400)})


@pytest.mark.parametrize("value", ["splines", 1, None])
def test_basis_option_is_validated_by_its_option_spec(value):
    df = _misspecified(200, 0)
    with pytest.raises(cc.CausalInputError,
                       match=r"The 'basis' option of method 'entropy_balancing' must be one of 'moments', 'auto'"):
        cc.estimate(df, ROLES, "entropy_balancing", estimand="ATE", basis=value)


def test_basis_option_is_declared_for_the_app():
    info = next(m for m in cc.list_methods() if m.id == "entropy_balancing")
    spec = next(o for o in info.options if o.name == "basis")
    assert spec.kind == "choice" and spec.choices == ("moments", "auto") and spec.default == "moments"


def test_auto_ladder_adds_logs_of_skewed_columns_then_interactions_then_squares():
    df = _misspecified(500, 0)
    ladder = auto_basis_candidates(df[["x1", "x2"]].to_numpy(float), ["x1", "x2"], max_terms=100)
    assert [c.label for c in ladder] == ["means", "means + logs", "means + logs + interactions",
                                         "means + logs + interactions + squares"]
    assert ladder[1].names == ("x1", "x2", "log(x1)")  # x2 is symmetric: no log
    np.testing.assert_allclose(ladder[2].X[:, ladder[2].names.index("x2*log(x1)")], df["x2"] * np.log(df["x1"]))
    for poorer, richer in zip(ladder, ladder[1:]):
        assert set(poorer.names) < set(richer.names)
    assert len(auto_basis_candidates(df[["x1", "x2"]].to_numpy(float), ["x1", "x2"], max_terms=2)) == 1


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_auto_basis_recovers_the_effect_where_means_only_balance_is_biased(estimand):
    df = _misspecified(3000, 7)
    auto = cc.estimate(df, ROLES, "entropy_balancing", estimand=estimand, basis="auto")
    means = cc.estimate(df, ROLES, "entropy_balancing", estimand=estimand)
    # the outcome is linear in the "+ logs + interactions" basis, so balancing it removes the bias
    assert "log(x1)" in auto.diagnostics["basis_terms"] and "x2*log(x1)" in auto.diagnostics["basis_terms"]
    assert abs(auto.estimate - EFFECT) < 4 * auto.std_error, (auto.estimate, auto.std_error)
    assert abs(means.estimate - EFFECT) > 4 * means.std_error, (means.estimate, means.std_error)


def test_auto_basis_balances_approximately_instead_of_refusing_outside_the_hull():
    df = _hull_design()
    with pytest.raises(cc.CausalInputError, match="convex hull"):
        cc.estimate(df, ROLES, "entropy_balancing", estimand="ATT")
    result = cc.estimate(df, ROLES, "entropy_balancing", estimand="ATT", basis="auto")
    assert np.isfinite(result.estimate) and result.std_error > 0
    assert result.diagnostics["basis"] == "auto: means (2 terms, approximate)"
    assert any("infeasible for the control rows" in w and "relaxed dual" in w for w in result.warnings), result.warnings
    # unweighted, the standardised gaps are 3.7; the best any weights on the controls can do is about 2.2
    assert 2.0 < result.diagnostics["max_abs_imbalance_control"] < 3.6
    assert result.weight_diagnostics.ess_after["control"] >= 0.1 * 200


def test_auto_basis_leaves_out_an_infeasible_square_with_a_warning():
    df = _square_outside_hull()
    with pytest.raises(cc.CausalInputError, match="'x1\\^2'"):
        cc.estimate(df, ROLES, "entropy_balancing", estimand="ATT", moments=2)
    result = cc.estimate(df, ROLES, "entropy_balancing", estimand="ATT", basis="auto")
    terms = result.diagnostics["basis_terms"].split(", ")
    assert "x1^2" not in terms and "x2^2" in terms and "x1*x2" in terms
    assert any("'x1^2' is infeasible" in w and "left these terms out" in w for w in result.warnings), result.warnings
    assert abs(result.estimate - EFFECT) < 4 * result.std_error


def test_basis_used_is_on_the_result_and_in_the_diagnostics_table():
    df = _misspecified(600, 3)
    default = cc.estimate(df, ROLES, "entropy_balancing", estimand="ATE", moments=2)
    auto = cc.estimate(df, ROLES, "entropy_balancing", estimand="ATE", basis="auto")
    assert default.diagnostics["basis"] == "moments: means + variances (4 terms)"
    assert auto.diagnostics["basis"].startswith("auto: means + logs")
    assert auto.diagnostics["basis_candidates"]["means"] == "passed"
    table = diagnostics_frame({"entropy_balancing": auto})
    shown = dict(zip(table["item"], table["value"]))
    assert shown["basis"] == auto.diagnostics["basis"]
    assert shown["n_balance_terms"] == len(auto.diagnostics["basis_terms"].split(", "))


def test_estimate_page_offers_the_basis_option_and_runs_it():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.run()
    at.selectbox(key="data_sample").set_value("simulated_linear").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/4_Estimate.py").run()
    assert not at.exception
    widget = at.selectbox(key="est_opt_entropy_balancing_basis")
    assert widget.value == "moments" and list(widget.options) == ["moments", "auto"]
    widget.set_value("auto")
    for info in cc.list_methods():
        box = at.checkbox(key=f"est_use_{info.id}")
        if not box.disabled:
            box.set_value(info.id == "entropy_balancing")
    at.run()
    at.button(key="est_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    result = at.session_state["results"].results["entropy_balancing"]
    assert result.options["basis"] == "auto" and result.diagnostics["basis"].startswith("auto: ")


def test_residual_balancing_takes_the_auto_basis_and_reports_it():
    df = _misspecified(3000, 7)
    auto = cc.estimate(df, ROLES, "approximate_residual_balancing", estimand="ATE", seed=0, basis="auto")
    means = cc.estimate(df, ROLES, "approximate_residual_balancing", estimand="ATE", seed=0)
    assert auto.diagnostics["basis"] == "auto: means + logs + interactions + squares (9 terms)"
    assert means.diagnostics["basis"] == "moments: means (2 terms)"
    assert abs(auto.estimate - EFFECT) < 4 * auto.std_error, (auto.estimate, auto.std_error)
    with pytest.raises(cc.CausalInputError, match="The 'basis' option of method 'approximate_residual_balancing'"):
        cc.estimate(df, ROLES, "approximate_residual_balancing", estimand="ATE", basis="kernel")
