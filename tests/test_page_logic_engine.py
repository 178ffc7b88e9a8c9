"""Engine functions that pages call instead of computing themselves (column choices, balance tables, lab methods)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.diagnostics.balance_tables import balance_tables
from causal_core.datasets.column_choices import (binary_columns, columns_of_kind, count_columns, default_treated_level,
                                        is_zero_one, needs_treated_level, split_candidates, treatment_levels,
                                        unassigned_columns)
from causal_core.robustness.method_lab import lab_methods
from causal_core.studies.mixtures.naive import naive_outcome_means


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame({
        "t": [0, 1, 0, 1, 1, 0],
        "arm": ["a", "b", "a", "b", "b", "a"],
        "y": [1.0, 2.5, 0.5, 3.0, 2.0, 1.5],
        "count": [0, 3, 2, 1, 4, 2],
        "many": [1.1, 2.2, 3.3, 4.4, 5.5, 6.6],
        "flag": [True, False, True, False, True, np.nan],
    })


def test_columns_of_kind_and_split_candidates(table):
    before = table.copy()
    assert columns_of_kind(table, ("binary",)) == ["t", "arm", "flag"]
    assert "y" in columns_of_kind(table, ("binary", "numeric"))
    assert split_candidates(table, exclude=("t", "y"), max_levels=5) == ["arm", "count", "flag"]
    pd.testing.assert_frame_equal(table, before)


@pytest.mark.parametrize("levels, zero_one, needs, default", [
    ([0, 1], True, False, 1),
    ([False, True], True, False, True),
    (["no", "yes"], False, True, "yes"),
    ([1, 2], False, True, 2),
])
def test_treated_levels(levels, zero_one, needs, default):
    assert is_zero_one(levels) is zero_one
    assert needs_treated_level(levels) is needs
    assert default_treated_level(levels) == default


def test_treatment_levels_are_plain_and_sorted(table):
    levels = treatment_levels(table["t"])
    assert levels == [0, 1] and all(type(v) is int for v in levels)


def test_unassigned_columns_keeps_order_and_ignores_none():
    assert unassigned_columns(["a", "b", "c", "d"], ["c", None, "a"]) == ["b", "d"]


def test_binary_and_count_columns(table):
    assert binary_columns(table) == ["t", "flag"]
    assert count_columns(table) == ["t", "count", "flag"]


def test_naive_outcome_means(table):
    means = naive_outcome_means(table, "arm", "y", ["a", "b", "c"])
    assert means["a"] == pytest.approx(1.0) and means["b"] == pytest.approx(2.5) and np.isnan(means["c"])


def test_balance_tables_one_per_weighting_result():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    df = pd.DataFrame({"x": x, "t": t, "y": x + t + rng.normal(size=n)})
    roles = cc.Roles(treatment="t", outcome="y", confounders=("x",))
    results = {m: cc.estimate(df, roles, m, seed=0) for m in ("difference_in_means", "ipw")}
    tables, errors = balance_tables(results, df, roles=roles, estimand="LATE")
    assert list(tables) == [cc.get_method("ipw").label] and errors == []
    assert "smd_after" in tables[cc.get_method("ipw").label].columns
    assert balance_tables(results, df, roles=cc.Roles(treatment="t", outcome="y"), estimand="ATE") == ({}, [])


def test_lab_methods_follow_the_registry_flags():
    ids = lab_methods("ATE")
    assert "difference_in_means" in ids and "ipw" in ids
    for method in ids:
        info = cc.get_method(method)
        assert not info.needs_torch and "ATE" in info.estimands and set(info.required_roles) <= {"confounders"}


def test_split_diagnostics_sorts_by_shape():
    from causal_core.diagnostics.diagnostic_parts import split_diagnostics

    frame, curve = pd.DataFrame({"a": [1]}), pd.DataFrame({"x": [0.0]})
    scalars, frames, others = split_diagnostics({"n": 3, "note": "ok", "none": None, "table": frame,
                                                 "response_curve": curve, "arr": np.zeros(3), "d": {"k": 1}})
    assert list(scalars) == ["n", "note", "none"] and list(frames) == ["table"] and list(others) == ["arr", "d"]
