"""Issue 14, guidance: the suggested roles, identification, ticks and Explore follow the data.

Engine-level checks; the app's side (ticks reset on a data change, the samples' own methods ticked, reload)
is in tests/test_e2e_browser.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.charts import causal_diagram
from causal_core.core.data import prepare
from causal_core.datasets.profile import column_kind, date_columns, looks_like_date_text
from causal_core.datasets.samples import get_sample
from causal_core.datasets.suggestions import suggest_roles
from causal_core.datasets.table_fixes import dates_to_days, days_since_first_date
from causal_core.diagnostics.identification import (
    WEAK_INSTRUMENT_F,
    first_stage_f,
    identify,
    method_strategy,
    roles_problem_text,
)
from causal_core.diagnostics.subgroups import Z_95


def _sample(sample_id: str):
    return get_sample(sample_id), cc.load_sample(sample_id)


def _strategy_of(method_id: str) -> str:
    return method_strategy(cc.get_method(method_id))


# ------------------------------------------------------------------ item 11: identification from the samples


def test_simpson_sample_is_not_called_randomised():
    info, df = _sample("simpson_recommendation")
    assert "income" in info.roles.confounders and "income" in info.roles.subgroups
    result = identify(info.roles, df)
    assert [s.id for s in result.strategies] == ["back_door"]
    assert "randomised" not in {s.id for s in result.strategies}


def test_front_door_sample_asserts_the_front_door_first_and_ticks_only_its_design():
    info, df = _sample("front_door")
    result = identify(info.roles, df)
    assert result.strategies[0].id == "front_door"
    assert result.hidden_confounding
    back_door = next(s for s in result.strategies if s.id == "back_door")
    assert "contradicted" in back_door.name and "biased" in back_door.assumption
    assert "front_door" in result.recommended_methods
    assert not any(_strategy_of(m) == "back_door" for m in result.recommended_methods), result.recommended_methods


def test_selection_sample_keeps_the_exclusion_variable_out_of_the_instruments():
    info, df = _sample("selection_survey")
    assert info.roles.instruments == () and info.roles.exclusions == ("contact",)
    result = identify(info.roles, df)
    assert result.strategies[0].id == "selection"
    assert {"heckman", "ipsw", "shadow_variable"} <= set(result.recommended_methods)
    assert "two_stage_least_squares" not in result.available_methods
    assert "two_stage_least_squares" not in result.recommended_methods


def test_heckman_uses_the_exclusions_role_on_the_selection_sample():
    info, df = _sample("selection_survey")
    r = cc.estimate(df, info.roles, "heckman")
    # the simulated truth is 1; Heckman's model is correct here up to the normality of the errors
    assert r.ci_low <= info.effect <= r.ci_high, (r.ci_low, r.ci_high)
    assert list(r.diagnostics["selection_equation"].index)[-1] == "contact"
    with pytest.raises(cc.CausalInputError, match="needs at least one column in the 'exclusions' role"):
        cc.estimate(df, cc.Roles(treatment="graduate", outcome="income", confounders=("ability",),
                                 instruments=("contact",), selection="answered"), "heckman")


@pytest.mark.parametrize("roles, hidden", [
    (cc.Roles(treatment="t", outcome="y", mechanisms=("m",)), True),
    (cc.Roles(treatment="t", outcome="y", instruments=("z",)), True),
    (cc.Roles(treatment="t", outcome="y", proxies=("p",)), True),
    (cc.Roles(treatment="t", outcome="y", confounders=("x",)), False),
])
def test_diagram_draws_a_declared_hidden_confounder(roles, hidden):
    texts = [a.text or "" for a in causal_diagram(roles).layout.annotations]
    assert any("Hidden confounder U" in t for t in texts) is hidden


def test_diagram_gives_exclusion_variables_their_own_box():
    roles = cc.Roles(treatment="t", outcome="y", selection="s", exclusions=("contact",))
    texts = [a.text or "" for a in causal_diagram(roles).layout.annotations]
    assert any("Exclusion variables" in t for t in texts)
    assert not any("Instruments" in t for t in texts)


def test_every_strategy_is_phrased_as_an_assumption():
    df = pd.DataFrame({"t": [0, 1] * 10, "y": np.arange(20.0), "x": np.arange(20.0) % 3})
    result = identify(cc.Roles(treatment="t", outcome="y"), df)
    assert result.strategies[0].name == "No adjustment (assumes randomised treatment)"
    assert "only if" in result.strategies[0].assumption
    back_door = identify(cc.Roles(treatment="t", outcome="y", confounders=("x",)), df).strategies[0]
    assert back_door.assumption.startswith("Assumes")


def _iv_frame(strength: float, n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    u = rng.normal(size=n)
    t = strength * z + u + rng.normal(size=n)
    return pd.DataFrame({"z": z, "t": t, "y": 2 * t + 3 * u + rng.normal(size=n)})


def test_a_weak_instrument_is_not_ticked_and_says_why():
    roles = cc.Roles(treatment="t", outcome="y", instruments=("z",))
    weak = identify(roles, _iv_frame(0.0))
    f_weak = first_stage_f(_iv_frame(0.0), roles)
    # with no first stage, F is F(1, n-2) distributed: below 10 with probability well above 99.8%
    assert f_weak < WEAK_INSTRUMENT_F
    assert "two_stage_least_squares" in weak.available_methods
    assert "two_stage_least_squares" in weak.not_identified
    assert "two_stage_least_squares" not in weak.recommended_methods
    assert any("first-stage F" in note for note in weak.notes)
    strong = identify(roles, _iv_frame(1.0))
    # strength 1 against noise of variance 2 over 400 rows: expected F about 200
    assert first_stage_f(_iv_frame(1.0), roles) > 100
    assert "two_stage_least_squares" in strong.recommended_methods
    assert not strong.not_identified


def test_first_stage_f_matches_the_squared_t_statistic_of_one_instrument():
    df = _iv_frame(0.3)
    X = np.column_stack([np.ones(len(df)), df["z"]])
    coef, *_ = np.linalg.lstsq(X, df["t"], rcond=None)
    resid = df["t"] - X @ coef
    sigma2 = resid @ resid / (len(df) - 2)
    se = np.sqrt(sigma2 * np.linalg.inv(X.T @ X)[1, 1])
    f = first_stage_f(df, cc.Roles(treatment="t", outcome="y", instruments=("z",)))
    assert f == pytest.approx((coef[1] / se) ** 2, rel=1e-9)


# ------------------------------------------------------------------ item 12: confounder and subgroup at once


def test_a_confounder_may_also_be_a_subgroup():
    _, df = _sample("simpson_recommendation")
    roles = cc.Roles(treatment="algorithm", outcome="success", confounders=("income",), subgroups=("income",),
                     treated_level="A")
    data = prepare(df, roles)
    assert data.X.shape[1] == 1 and list(data.subgroups.columns) == ["income"]
    r = cc.estimate(df, roles, "regression_adjustment")
    assert np.isfinite(r.estimate)


def test_other_double_roles_are_still_refused():
    df = pd.DataFrame({"t": [0, 1] * 10, "y": np.arange(20.0), "x": np.arange(20.0) % 3})
    with pytest.raises(cc.CausalInputError, match="Column 'x' is used both as confounders and as instruments"):
        prepare(df, cc.Roles(treatment="t", outcome="y", confounders=("x",), instruments=("x",)))


# ------------------------------------------------------------------ item 14: roles checked once


def test_roles_problem_text_is_one_sentence_or_none():
    df = pd.DataFrame({"t": ["a", "b", "c"] * 5, "y": np.arange(15.0), "x": np.arange(15.0)})
    roles = cc.Roles(treatment="t", outcome="y", confounders=("x",))
    kind = identify(roles, df).treatment_kind
    problem = roles_problem_text(df, roles, kind)
    assert problem is not None and "'t'" in problem
    good = df.assign(t=[0, 1, 1] * 5)
    assert roles_problem_text(good, roles, identify(roles, good).treatment_kind) is None


# ------------------------------------------------------------------ item 15: reversal with uncertainty


def _counts_frame(counts: dict[tuple[str, str], tuple[int, int]], scale: int = 1) -> pd.DataFrame:
    rows = []
    for (arm, group), (successes, users) in counts.items():
        s, n = successes * scale, users * scale
        rows += [{"arm": arm, "group": group, "y": 1.0}] * s + [{"arm": arm, "group": group, "y": 0.0}] * (n - s)
    return pd.DataFrame(rows)


SIMPSON_COUNTS = {("A", "low"): (10, 400), ("A", "high"): (40, 600), ("B", "low"): (4, 200), ("B", "high"): (50, 800)}


def test_each_stratum_carries_its_welch_interval():
    result = cc.subgroup_table(_counts_frame(SIMPSON_COUNTS), "arm", "y", "group", treated_level="A")
    low = result.table.loc["low"]
    p_a, p_b = 10 / 400, 4 / 200
    # sample variance (ddof=1) of 0/1 outcomes: p(1-p) n/(n-1)
    se = np.sqrt(p_a * (1 - p_a) / 399 + p_b * (1 - p_b) / 199)
    assert low["std_error"] == pytest.approx(se, rel=1e-12)
    assert low["ci_low"] == pytest.approx(p_a - p_b - Z_95 * se, rel=1e-12)
    assert low["ci_high"] == pytest.approx(p_a - p_b + Z_95 * se, rel=1e-12)
    assert low["z"] == pytest.approx((p_a - p_b) / se, rel=1e-12)


def test_the_tutorial_reversal_is_said_to_be_within_noise():
    result = cc.subgroup_table(_counts_frame(SIMPSON_COUNTS), "arm", "y", "group", treated_level="A")
    assert result.reversal and result.reversal_within_noise
    assert "within noise" in result.explanation and "95% CI" in result.explanation


def test_the_same_reversal_on_100_times_the_rows_is_not_noise():
    # same proportions, 100x the rows: every z grows tenfold (0.3-0.4 -> 3-4), beyond 1.96
    result = cc.subgroup_table(_counts_frame(SIMPSON_COUNTS, scale=100), "arm", "y", "group", treated_level="A")
    assert result.reversal and not result.reversal_within_noise
    assert "within noise" not in result.explanation
    assert (result.table["z"].abs() > Z_95).all()


def test_the_scan_reports_within_noise():
    scan = cc.scan_reversals(_counts_frame(SIMPSON_COUNTS), "arm", "y", treated_level="A")
    row = scan.set_index("column").loc["group"]
    assert bool(row["reversal"]) and bool(row["within_noise"])


# ------------------------------------------------------------------ item 16: small data


def _rows(n_per_arm: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 2 * n_per_arm
    return pd.DataFrame({"t": [0, 1] * n_per_arm, "x": rng.normal(size=n), "y": rng.normal(size=n)})


def test_an_option_range_collapsed_to_one_value_is_said_in_words():
    roles = cc.Roles(treatment="t", outcome="y", confounders=("x",))
    # d2vd's n_folds is at least 3 and at most one per 10 rows: 30 rows allow exactly 3
    with pytest.raises(cc.CausalInputError) as caught:
        cc.estimate(_rows(15), roles, "d2vd", n_folds=5)
    message = str(caught.value)
    assert "can only be 3 on this data, because the data have 30 rows" in message
    assert "from 3 to 3" not in message


def test_an_option_range_the_data_empty_says_so():
    roles = cc.Roles(treatment="t", outcome="y", confounders=("x",))
    with pytest.raises(cc.CausalInputError, match=r"has no allowed value on this data: it must be at least 3, but "
                                                  r"the data have 20 rows .* allows at most 2"):
        cc.estimate(_rows(10), roles, "d2vd", n_folds=3)


def test_tiny_arms_carry_a_small_sample_caution():
    roles = cc.Roles(treatment="t", outcome="y", confounders=("x",))
    r = cc.estimate(_rows(5), roles, "propensity_score_matching")
    assert any(w.startswith("Small-sample caution") and "p-value" in w for w in r.warnings), r.warnings


# ------------------------------------------------------------------ item 17: dates


def _dated(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 412, n)
    dates = (pd.Timestamp("2023-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")
    return pd.DataFrame({"visit": dates, "t": rng.integers(0, 2, n), "x": rng.normal(size=n),
                         "y": rng.normal(size=n), "group": rng.choice(list("abc"), n)})


@pytest.mark.parametrize("values, expected", [
    (["2024-03-01", "2024-03-02", "2024-04-11"], True),
    (["2024-03-01T10:00:00Z", "2024-03-02 11:30", "2024-04-11"], True),
    (["01/03/2024", "15/03/2024", "30/04/2024"], True),
    (["1 Mar 2024", "2 Apr 2024", "3 May 2024"], True),
    (["a", "b", "c"], False),
    (["1.5", "2.25", "3"], False),
    (["2024-03-01", "next week", "soon", "later"], False),
])
def test_looks_like_date_text(values, expected):
    assert looks_like_date_text(pd.Series(values, dtype=object)) is expected


def test_dates_are_a_kind_of_their_own_and_never_suggested_as_confounders():
    df = _dated()
    assert column_kind(df["visit"]) == "datetime"
    assert date_columns(df) == ["visit"]
    suggestions = suggest_roles(df)
    assert "visit" not in suggestions.confounders and "visit" not in suggestions.identifiers
    assert suggestions.dates == ("visit",)
    assert "group" in suggestions.confounders


def test_dates_convert_to_days_since_the_first_date_without_touching_the_input():
    df = _dated()
    before = df.copy()
    converted, notes = dates_to_days(df, ["visit"])
    pd.testing.assert_frame_equal(df, before)
    expected = (pd.to_datetime(df["visit"]) - pd.to_datetime(df["visit"]).min()).dt.days.astype(float)
    np.testing.assert_array_equal(converted["visit"].to_numpy(), expected.to_numpy())
    assert "days since its first date" in notes[0]
    typed = days_since_first_date(pd.to_datetime(df["visit"]))
    np.testing.assert_array_equal(typed.to_numpy(), expected.to_numpy())


def test_a_date_text_confounder_is_refused_with_the_way_out():
    df = _dated()
    with pytest.raises(cc.CausalInputError, match="Confounder column 'visit' holds dates written as text"):
        cc.estimate(df, cc.Roles(treatment="t", outcome="y", confounders=("x", "visit")), "regression_adjustment")
