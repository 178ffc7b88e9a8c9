"""Validation and encoding at the boundary: every bad input names its column and rule."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.core.data import prepare


def _df(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "t": np.tile([0, 1], n // 2),
        "y": rng.normal(size=n),
        "x": rng.normal(size=n),
        "cat": rng.choice(["a", "b", "c"], n),
        "flag": rng.random(n) > 0.5,
    })


def test_categorical_and_boolean_covariates_are_encoded():
    data = prepare(_df(), cc.Roles(treatment="t", outcome="y", confounders=["x", "cat", "flag"]))
    assert data.covariate_names == ("x", "cat=b", "cat=c", "flag")
    assert data.X.shape == (40, 4)
    assert set(np.unique(data.X[:, 1])) <= {0.0, 1.0}


def test_two_label_treatment_needs_treated_level():
    df = _df()
    df["t"] = np.where(df["t"] == 1, "drug", "placebo")
    with pytest.raises(cc.CausalInputError, match="say which is treated"):
        prepare(df, cc.Roles(treatment="t", outcome="y"))
    data = prepare(df, cc.Roles(treatment="t", outcome="y", treated_level="drug"))
    assert data.t.sum() == 20 and data.treated_level == "drug" and data.control_level == "placebo"


def test_boolean_treatment_is_accepted():
    df = _df()
    df["t"] = df["t"].astype(bool)
    assert prepare(df, cc.Roles(treatment="t", outcome="y")).t.sum() == 20


def test_missing_rows_are_dropped_and_counted():
    df = _df()
    df.loc[[1, 2, 3], "x"] = np.nan
    df.loc[4, "y"] = np.inf
    data = prepare(df, cc.Roles(treatment="t", outcome="y", confounders=["x"]))
    assert data.n == 36 and data.n_dropped == 4
    assert "4 of 40 rows dropped" in data.warnings[0]


@pytest.mark.parametrize(
    "mutate, roles, message",
    [
        (lambda d: d, dict(treatment="t", outcome="nope"), "Column 'nope' given as outcome is not in the data"),
        (lambda d: d.assign(y="text"), dict(treatment="t", outcome="y"), "Outcome column 'y' must be numeric"),
        (lambda d: d.assign(t=1), dict(treatment="t", outcome="y"), "Treatment column 't' is constant"),
        (lambda d: d.assign(t=np.arange(40) % 3), dict(treatment="t", outcome="y"), "'t' has 3 distinct values"),
        (lambda d: d, dict(treatment="t", outcome="y", confounders=["y"]), "Column 'y' is used both as outcome and as confounders"),
        (lambda d: d.assign(x=np.nan), dict(treatment="t", outcome="y", confounders=["x"]), "Column 'x' has no usable values"),
        (lambda d: d.assign(t=[1] + [0] * 39), dict(treatment="t", outcome="y"), "1 treated and 39 control rows"),
        (lambda d: d, dict(treatment="t", outcome="y", treated_level=5), "Treated level 5 does not occur"),
    ],
    ids=["missing-column", "text-outcome", "constant-treatment", "three-levels", "double-role",
         "all-missing", "too-few-per-arm", "bad-treated-level"],
)
def test_bad_input_raises_clear_error(mutate, roles, message):
    with pytest.raises(cc.CausalInputError, match=message):
        prepare(mutate(_df()), cc.Roles(**roles))


def test_causal_input_error_is_value_error():
    assert issubclass(cc.CausalInputError, ValueError)


def test_roles_round_trip_through_dict():
    roles = cc.Roles(treatment="t", outcome="y", confounders=["x", "cat"], treated_level=1)
    assert cc.Roles.from_dict(roles.to_dict()) == roles
