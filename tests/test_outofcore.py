"""Tables on disk through DuckDB, and the streamed estimators, against the in-memory engine on the same rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded
from causal_core.outofcore import (estimate_large, open_table, partitions, preview, profile, resolve_under, sample,
                                   streamed_estimate)

CONFOUNDERS = ["x1", "x2", "x3", "x4", "region"]
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=CONFOUNDERS)
#: Streamed and in-memory sums differ only in the order of additions: relative error ~ n·eps·condition ≪ 1e-10.
RTOL = 1e-10


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    df, _ = linear_confounded(n=4000, seed=21)
    df.loc[[3, 500, 2999], "x1"] = np.nan  # dropped, as in memory
    df.loc[1200, "region"] = None
    folder = tmp_path_factory.mktemp("data")
    df.to_parquet(folder / "one.parquet")
    parts = folder / "parts"
    parts.mkdir()
    df.iloc[:2500].to_parquet(parts / "a.parquet")
    df.iloc[2500:].to_parquet(parts / "b.parquet")
    df.to_csv(folder / "one.csv", index=False)
    return df, folder


def test_open_profile_and_preview_do_not_need_the_rows_in_memory(table):
    df, folder = table
    source = open_table(folder / "one.parquet")
    assert source.n_rows == len(df) and source.columns == tuple(df.columns)
    prof = profile(source).set_index("column")
    assert prof.loc["x1", "missing"] == 3 and prof.loc["region", "missing"] == 1
    assert prof.loc["treat", "distinct"] == 2
    head = preview(source, 5)
    pd.testing.assert_frame_equal(head.reset_index(drop=True), df.head(5).reset_index(drop=True), check_dtype=False)
    assert open_table(folder / "parts").n_rows == len(df)
    assert open_table(folder / "one.csv").n_rows == len(df)


def test_partitions_are_fixed_ordered_and_exactly_sized(table):
    df, folder = table
    source = open_table(folder / "parts")
    parts = list(partitions(source, ["y", "treat"], rows=700))
    assert [len(p) for p in parts] == [700] * 5 + [500]
    np.testing.assert_array_equal(pd.concat(parts)["y"].to_numpy(), df["y"].to_numpy())


def test_seeded_sample_is_repeatable_and_depends_on_the_seed(table):
    _, folder = table
    source = open_table(folder / "one.parquet")
    a, b, c = sample(source, 300, 7), sample(source, 300, 7), sample(source, 300, 8)
    assert len(a) == 300
    pd.testing.assert_frame_equal(a, b)
    assert not a["y"].equals(c["y"])


@pytest.mark.parametrize("method, options, estimand", [
    ("difference_in_means", {}, "ATE"),
    ("regression_adjustment", {}, "ATE"),
    ("regression_adjustment", {}, "ATT"),
    ("regression_adjustment", {"interactions": True}, "ATE"),
    ("regression_adjustment", {"interactions": True}, "ATT"),
    ("regression_adjustment", {"interactions": True}, "ATC"),
])
@pytest.mark.parametrize("name, rows", [("one.parquet", 700), ("parts", 4000), ("one.csv", 999)])
def test_streamed_estimates_equal_the_in_memory_estimator(table, method, options, estimand, name, rows):
    df, folder = table
    got = streamed_estimate(open_table(folder / name), ROLES, method, estimand=estimand, rows_per_partition=rows,
                            **options)
    want = cc.estimate(df, ROLES, method, estimand=estimand, **options)
    np.testing.assert_allclose([got.estimate, got.std_error, got.ci_low, got.ci_high, got.p_value],
                               [want.estimate, want.std_error, want.ci_low, want.ci_high, want.p_value], rtol=RTOL)
    assert got.n_used == want.summary()["n_used"] == len(df) - 4
    assert got.covariate_names == want.covariate_names
    assert got.n_partitions == -(-len(df) // rows)


def test_a_method_without_a_streamed_form_runs_on_a_seeded_sample_and_says_so(table):
    df, folder = table
    source = open_table(folder / "one.parquet")
    result = estimate_large(source, ROLES, "propensity_score_matching", seed=3, sample_rows=1500)
    assert result.warnings[0].startswith("Estimated on a seeded sample of 1,500 of 4,000 rows")
    again = estimate_large(source, ROLES, "propensity_score_matching", seed=3, sample_rows=1500)
    assert (again.estimate, again.std_error) == (result.estimate, result.std_error)
    direct = cc.estimate(sample(source, 1500, 3, columns=["treat", "y", *CONFOUNDERS]), ROLES,
                         "propensity_score_matching", seed=3)
    assert (direct.estimate, direct.std_error) == (result.estimate, result.std_error)
    streamed = estimate_large(source, ROLES, "difference_in_means")
    assert streamed.n_used == len(df) - 4 and not streamed.warnings[0].startswith("Estimated on a seeded sample")


def test_paths_outside_the_data_folder_are_refused(table, tmp_path):
    _, folder = table
    assert resolve_under("one.parquet", folder) == (folder / "one.parquet").resolve()
    for typed in ("../one.parquet", "/etc/passwd", "parts/../../x"):
        with pytest.raises(cc.CausalInputError, match="outside the data folder"):
            open_table(typed, data_root=folder)
    with pytest.raises(cc.CausalInputError, match="does not exist"):
        open_table("nothing.parquet", data_root=folder)


@pytest.mark.parametrize("roles, method, options, fragment", [
    (cc.Roles(treatment="treat", outcome="nope", confounders=["x1"]), "difference_in_means", {}, "Column 'nope'"),
    (cc.Roles(treatment="treat", outcome="region", confounders=["x1"]), "difference_in_means", {}, "must be numeric"),
    (ROLES, "regression_adjustment", {"outcome_model": "random_forest"}, "Option 'outcome_model'"),
    (ROLES, "propensity_score_matching", {}, "no streamed form"),
    (ROLES, "ipw", {"propensity_model": "random_forest"}, "Option 'propensity_model'"),
    (ROLES, "ipw", {"trim": 0.7}, "Option 'trim' of the streamed ipw must be a number from 0 to 0.49"),
    (ROLES, "doubly_robust", {"cross_fit": True}, "Option 'cross_fit'"),
])
def test_bad_streamed_requests_name_the_problem(table, roles, method, options, fragment):
    _, folder = table
    with pytest.raises(cc.CausalInputError, match=fragment):
        streamed_estimate(open_table(folder / "one.parquet"), roles, method, **options)


@pytest.mark.parametrize("method, options, estimand", [
    ("ipw", {}, "ATE"), ("ipw", {}, "ATT"), ("ipw", {}, "ATC"), ("ipw", {"trim": 0.05}, "ATT"),
    ("ipw", {"clip": 0.1}, "ATE"), ("doubly_robust", {}, "ATE"), ("doubly_robust", {}, "ATT"),
    ("doubly_robust", {}, "ATC"),
])
def test_streamed_ipw_and_aipw_equal_the_in_memory_estimator(table, method, options, estimand):
    df, folder = table  # "parts" is two files: partitions of 1,500 rows cross the file boundary
    got = streamed_estimate(open_table(folder / "parts"), ROLES, method, estimand=estimand, rows_per_partition=1500,
                            **options)
    want = cc.estimate(df, ROLES, method, estimand=estimand, **options)
    np.testing.assert_allclose([got.estimate, got.std_error, got.ci_low, got.ci_high, got.p_value],
                               [want.estimate, want.std_error, want.ci_low, want.ci_high, want.p_value], rtol=RTOL)
    assert got.n_used == want.n_used and got.n_partitions == 3 and got.se_method == want.inference.detail
    assert set(got.warnings) <= set(want.warnings)  # the in-memory one adds the note on dropped rows
    if "trim" in options:
        assert any(w.startswith("Trimming dropped") for w in got.warnings) and got.n_used < len(df) - 4


def test_a_streamed_logit_that_does_not_converge_is_refused(tmp_path):
    # the confounders' sum separates the arms (no single one does): the likelihood has no maximum
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=400), rng.normal(size=400)
    df = pd.DataFrame({"a": a, "b": b, "treat": (a + b > 0).astype(int), "y": rng.normal(size=400)})
    df.to_parquet(tmp_path / "separated.parquet")
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["a", "b"])
    with pytest.raises(cc.CausalInputError, match="did not converge in 50 Newton steps"):
        streamed_estimate(open_table(tmp_path / "separated.parquet"), roles, "ipw", rows_per_partition=100)
