"""Simpson tables: the tutorial's reversal reproduced exactly, the reversal rule, input checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.datasets.samples import simpson_recommendation_frame
from causal_core.diagnostics.subgroups import is_reversal

SIMPSON = simpson_recommendation_frame()


def _counts_frame(counts: dict[tuple[str, str], tuple[int, int]]) -> pd.DataFrame:
    parts = [
        pd.DataFrame({"arm": arm, "group": group, "y": np.r_[np.ones(s), np.zeros(n - s)]})
        for (arm, group), (s, n) in counts.items()
    ]
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize(
    "stratum, n_a, n_b, rate_a, rate_b",
    [
        ("low", 400, 200, 0.025, 0.020),
        ("high", 600, 800, 40 / 600, 0.0625),
        ("All", 1000, 1000, 0.050, 0.054),
    ],
)
def test_simpson_example_numbers(stratum, n_a, n_b, rate_a, rate_b):
    table = cc.subgroup_table(SIMPSON, "algorithm", "success", "income", treated_level="A").table
    row = table.loc[stratum]
    assert (row["n_treated"], row["n_control"]) == (n_a, n_b)
    assert row["mean_treated"] == pytest.approx(rate_a, abs=1e-12)
    assert row["mean_control"] == pytest.approx(rate_b, abs=1e-12)
    assert row["difference"] == pytest.approx(rate_a - rate_b, abs=1e-12)


def test_simpson_example_reverses_and_explains():
    result = cc.subgroup_table(SIMPSON, "algorithm", "success", "income", treated_level="A")
    assert result.reversal is True
    assert list(result.table.index)[-1] == "All"
    text = result.explanation
    for piece in ("A 2.50% vs B 2.00%", "A 6.67% vs B 6.25%", "B 5.40% vs A 5.00%", "income = low",
                  "40% of A's rows vs 20% of B's"):
        assert piece in text
    with pytest.raises(Exception):
        result.reversal = False  # frozen


def test_swapping_treated_level_keeps_the_reversal():
    result = cc.subgroup_table(SIMPSON, "algorithm", "success", "income", treated_level="B")
    assert result.reversal is True
    assert result.table.loc["All", "difference"] == pytest.approx(0.004)


@pytest.mark.parametrize(
    "case, counts",
    [
        ("same direction everywhere",
         {("A", "low"): (30, 400), ("A", "high"): (60, 600), ("B", "low"): (4, 200), ("B", "high"): (40, 800)}),
        ("mixed within-group signs",
         {("A", "low"): (2, 400), ("A", "high"): (60, 600), ("B", "low"): (8, 200), ("B", "high"): (40, 800)}),
        ("tie in one stratum",
         {("A", "low"): (10, 400), ("A", "high"): (45, 600), ("B", "low"): (5, 200), ("B", "high"): (56, 800)}),
    ],
)
def test_non_reversing_tables_say_no_reversal(case, counts):
    df = _counts_frame(counts)
    result = cc.subgroup_table(df, "arm", "y", "group", treated_level="A")
    assert result.reversal is False, case
    assert "reversal" in result.explanation.lower()


@pytest.mark.parametrize(
    "overall, within, expected",
    [
        (-0.4, [0.5, 0.42], True),
        (0.4, [-0.5, -0.42], True),
        (-0.4, [0.5, -0.1], False),
        (-0.4, [0.5, 0.0], False),  # a tie within is not a reversal
        (0.0, [0.5, 0.4], False),  # a zero overall difference is not a reversal
        (-0.4, [0.5], False),  # one stratum cannot reverse
        (-0.4, [0.5, np.nan, 0.3], True),  # strata missing an arm are left out
    ],
)
def test_reversal_rule(overall, within, expected):
    assert is_reversal(overall, within) is expected


def test_stratum_missing_an_arm_is_warned_and_ignored():
    df = _counts_frame({("A", "low"): (10, 400), ("A", "high"): (40, 600), ("B", "low"): (4, 200),
                        ("B", "high"): (50, 800), ("A", "mid"): (5, 50)})
    result = cc.subgroup_table(df, "arm", "y", "group", treated_level="A")
    assert np.isnan(result.table.loc["mid", "difference"])
    assert any("mid" in w for w in result.warnings)


def test_numeric_zero_one_treatment_and_missing_rows():
    df = pd.DataFrame({"t": [1, 0, 1, 0, 1, 0, None], "y": [1.0, 0, 2, 1, 3, np.nan, 1], "g": list("aabbccc")})
    result = cc.subgroup_table(df, "t", "y", "g")
    assert result.treated_label == "t=1" and result.control_label == "t=0"
    assert result.table.loc["All", "n_treated"] + result.table.loc["All", "n_control"] == 5
    assert "2 of 7 rows dropped" in result.warnings[0]


def test_continuous_by_is_refused_unless_binned():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"t": rng.integers(0, 2, 200), "y": rng.normal(size=200), "age": rng.normal(40, 10, 200)})
    with pytest.raises(cc.CausalInputError, match="Subgroup column 'age' has 200 distinct values.*bins=4"):
        cc.subgroup_table(df, "t", "y", "age")
    binned = cc.subgroup_table(df, "t", "y", "age", bins=4).table
    assert len(binned) == 5
    assert binned.drop(index="All")[["n_treated", "n_control"]].to_numpy().sum() == 200


def test_scan_reversals_finds_the_reversing_column():
    df = SIMPSON.copy()
    df["coin"] = np.arange(len(df)) % 2  # splits every stratum evenly: no reversal
    df["user_id"] = np.arange(len(df))  # too many levels: skipped
    scan = cc.scan_reversals(df, "algorithm", "success", treated_level="A")
    assert list(scan["column"]) == ["income", "coin"]
    assert list(scan["reversal"]) == [True, False]
    explicit = cc.scan_reversals(df, "algorithm", "success", candidates=["user_id"], treated_level="A")
    assert "skipped" in explicit.loc[0, "note"] and pd.isna(explicit.loc[0, "reversal"])


def test_input_is_not_modified():
    before = SIMPSON.copy()
    cc.subgroup_table(SIMPSON, "algorithm", "success", "income", treated_level="A")
    pd.testing.assert_frame_equal(SIMPSON, before)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("algorithm", "success", "region"), {"treated_level": "A"}, "Column 'region' given as subgroup"),
        (("algo", "success", "income"), {"treated_level": "A"}, "Column 'algo' given as treatment"),
        (("algorithm", "income", "success"), {"treated_level": "A"}, "Outcome column 'income' must be numeric"),
        (("algorithm", "success", "income"), {}, "say which is treated with treated_level"),
        (("algorithm", "success", "income"), {"treated_level": "C"}, "Treated level 'C'"),
        (("algorithm", "success", "algorithm"), {"treated_level": "A"}, "three different columns"),
    ],
)
def test_bad_input_raises_naming_the_column(args, kwargs, match):
    with pytest.raises(cc.CausalInputError, match=match):
        cc.subgroup_table(SIMPSON, *args, **kwargs)


def test_scan_rejects_unknown_candidate():
    with pytest.raises(cc.CausalInputError, match="Column 'nope' given as candidate subgroup"):
        cc.scan_reversals(SIMPSON, "algorithm", "success", candidates=["nope"], treated_level="A")
