"""Streamed entropy balancing, 2SLS, exact matching, balance and Simpson tables against the in-memory engine.

Every table is a real Parquet file (one file, or a folder of several) written
here and read back through DuckDB in small partitions. Streamed and in-memory
numbers differ only in the order of additions (partition sums vs whole-array
sums, normal equations vs linearmodels' pseudo-inverse): relative error of a few
n·eps·condition ~ 1e-13 on these designs, so 1e-10 leaves a wide margin and still
catches any formula that differs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded
from causal_core.outofcore import estimate_large, open_table, streamed_estimate
from causal_core.outofcore.streamed import _encoding, encoded_passes
from causal_core.outofcore.streamed_balancing import streamed_entropy_balancing
from causal_core.outofcore.streamed_iv import streamed_2sls_fit
from causal_core.outofcore.grid_ks import ks_bracket
from causal_core.outofcore.tables import streamed_balance_table, streamed_subgroup_table

RTOL = 1e-10
CONFOUNDERS = ["x1", "x2", "x3", "x4", "region", "small", "flag"]
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=CONFOUNDERS)
ROWS = 700  # rows per partition: several partitions, the last one short


def _frame() -> pd.DataFrame:
    df, _ = linear_confounded(n=3000, seed=21)
    rng = np.random.default_rng(3)
    df["small"] = rng.integers(0, 4, size=len(df))
    df["flag"] = (df["x2"] + rng.normal(size=len(df)) > 0).astype(int)
    df.loc[[3, 500, 2999], "x1"] = np.nan  # dropped, as in memory
    df.loc[1200, "region"] = None
    return df


def _iv_frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 3000
    u, x1, x2 = rng.normal(size=n), rng.normal(size=n), rng.uniform(size=n)
    region = rng.choice(["north", "south", "east"], size=n)
    z1, z2 = rng.binomial(1, 0.5, size=n).astype(float), rng.normal(size=n)
    dose = 0.6 * z1 + 0.3 * z2 + 0.5 * x1 + u + rng.normal(size=n)
    y = 1.5 * dose + x1 - x2 + (region == "south") + u + rng.normal(size=n) * (1 + np.abs(x1))
    df = pd.DataFrame({"dose": dose, "y": y, "x1": x1, "x2": x2, "region": region, "z1": z1, "z2": z2,
                       "zc": 1.0, "noise": rng.normal(size=n), "label": rng.choice(["a", "b"], size=n)})
    df.loc[[4, 77], "z2"] = np.nan
    return df


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("more")
    df, iv = _frame(), _iv_frame()
    df.to_parquet(folder / "one.parquet")
    parts = folder / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, len(df), 1100)):
        df.iloc[start:start + 1100].to_parquet(parts / f"p{i}.parquet")
    iv.to_parquet(folder / "iv.parquet")
    simpson = cc.load_sample("simpson_recommendation")
    simpson.to_parquet(folder / "simpson.parquet")
    return {"df": df, "iv": iv, "simpson": simpson, "folder": folder}


def _same(got, want) -> None:
    np.testing.assert_allclose([got.estimate, got.std_error, got.ci_low, got.ci_high, got.p_value],
                               [want.estimate, want.std_error, want.ci_low, want.ci_high, want.p_value], rtol=RTOL)


# --- entropy balancing ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
def test_streamed_entropy_balancing_equals_the_in_memory_estimator_and_weights(tables, estimand):
    source = open_table(tables["folder"] / "parts")
    enc = _encoding(source, ROLES)
    fit = streamed_entropy_balancing(encoded_passes(source, enc, ROWS), enc, estimand, return_weights=True)
    want = cc.estimate(tables["df"], ROLES, "entropy_balancing", estimand=estimand)
    np.testing.assert_allclose([fit.estimate, fit.std_error], [want.estimate, want.std_error], rtol=RTOL)
    assert fit.n_used == want.n_design == len(tables["df"]) - 4
    assert fit.iterations == want.diagnostics["iterations"] and fit.converged
    # weights sum to the target size per arm (thousands): compare on that scale
    np.testing.assert_allclose(fit.weights, want.weights, rtol=RTOL, atol=RTOL * np.max(want.weights))


def test_streamed_estimate_runs_entropy_balancing_with_the_in_memory_interval(tables):
    source = open_table(tables["folder"] / "one.parquet")
    got = streamed_estimate(source, ROLES, "entropy_balancing", estimand="ATT", rows_per_partition=ROWS,
                            max_iter=50, tol=1e-9)
    want = cc.estimate(tables["df"], ROLES, "entropy_balancing", estimand="ATT", max_iter=50, tol=1e-9)
    _same(got, want)
    assert got.covariate_names == want.covariate_names
    assert got.n_partitions == -(-got.n_used // ROWS)
    assert got.se_method == "sandwich (M-estimation)"


@pytest.mark.parametrize("options, fragment", [
    ({"moments": 2}, "Option 'moments' is 2; the streamed entropy_balancing supports only moments=1"),
    ({"interactions": True}, "Option 'interactions' is True"),
    ({"solver": "cvxpy"}, "Option 'solver' is 'cvxpy'"),
    ({"tol": 5.0}, "'tol' option of method 'entropy_balancing'"),
    ({"max_iter": 0}, "'max_iter' option of method 'entropy_balancing'"),
    ({"trim": 0.1}, "Option 'trim' is not available for the streamed entropy_balancing"),
])
def test_streamed_entropy_balancing_refuses_options_it_does_not_stream(tables, options, fragment):
    source = open_table(tables["folder"] / "one.parquet")
    with pytest.raises(cc.CausalInputError, match=fragment):
        streamed_estimate(source, ROLES, "entropy_balancing", estimand="ATT", rows_per_partition=ROWS, **options)


def test_streamed_entropy_balancing_names_a_target_outside_the_hull(tables, tmp_path):
    rank = tables["df"]["x2"].rank(pct=True)  # treated in [0.5, 2], controls in [0, 1]: overlap, target outside
    df = tables["df"].assign(sep=np.where(tables["df"]["treat"] == 1, 0.5 + 1.5 * rank, rank))
    df.to_parquet(tmp_path / "sep.parquet")
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "sep"])
    with pytest.raises(cc.CausalInputError) as in_memory:
        cc.estimate(df, roles, "entropy_balancing", estimand="ATT")
    with pytest.raises(cc.CausalInputError, match="control rows to the treated means of 'sep'") as streamed:
        streamed_estimate(open_table(tmp_path / "sep.parquet"), roles, "entropy_balancing", estimand="ATT",
                          rows_per_partition=ROWS)
    assert str(streamed.value) == str(in_memory.value)


def test_estimate_large_streams_entropy_balancing_instead_of_sampling(tables):
    source = open_table(tables["folder"] / "one.parquet")
    got = estimate_large(source, ROLES, "entropy_balancing", estimand="ATT", sample_rows=500,
                         rows_per_partition=ROWS)
    assert got.n_used == len(tables["df"]) - 4
    assert not any(w.startswith("Estimated on a seeded sample") for w in got.warnings)


# --- two-stage least squares ------------------------------------------------------------------------------------

@pytest.mark.parametrize("instruments", [["z1"], ["z1", "z2"]])
@pytest.mark.parametrize("cov_type", ["robust", "unadjusted"])
@pytest.mark.parametrize("estimand", ["LATE", "ATE"])
def test_streamed_2sls_equals_the_in_memory_estimator(tables, instruments, cov_type, estimand):
    roles = cc.Roles(treatment="dose", outcome="y", confounders=["x1", "x2", "region"], instruments=instruments)
    fit = streamed_2sls_fit(open_table(tables["folder"] / "iv.parquet"), roles, estimand=estimand,
                            rows_per_partition=ROWS, cov_type=cov_type)
    want = cc.estimate(tables["iv"], roles, "two_stage_least_squares", estimand=estimand, cov_type=cov_type)
    _same(fit.estimate, want)
    assert fit.estimate.n_used == want.n_design
    np.testing.assert_allclose([fit.first_stage_f], [want.diagnostics["first_stage_f"]], rtol=RTOL)
    assert fit.estimate.covariate_names == ("x1", "x2", "region=north", "region=south")


def test_streamed_estimate_dispatches_2sls_and_warns_as_in_memory(tables):
    roles = cc.Roles(treatment="dose", outcome="y", confounders=["x1"], instruments=["z1"])
    got = streamed_estimate(open_table(tables["folder"] / "iv.parquet"), roles, "two_stage_least_squares",
                            estimand="ATE", rows_per_partition=ROWS)
    want = cc.estimate(tables["iv"], roles, "two_stage_least_squares", estimand="ATE")
    _same(got, want)
    assert "2SLS estimates the ATE only under a constant treatment effect; otherwise it is a LATE." in got.warnings


@pytest.mark.parametrize("roles, options, fragment", [
    (cc.Roles(treatment="dose", outcome="y", confounders=["x1"], instruments=["zc"]), {},
     "Instrument column 'zc' is constant"),
    (cc.Roles(treatment="dose", outcome="y", confounders=["x1"], instruments=["noise"]), {},
     "Instrument column\\(s\\) 'noise' do not predict treatment 'dose'"),
    (cc.Roles(treatment="label", outcome="y", confounders=["x1"], instruments=["z1"]), {},
     "Treatment column 'label' is VARCHAR; it must be numeric"),
    (cc.Roles(treatment="dose", outcome="y", confounders=["x1"], instruments=["nope"]), {}, "Column 'nope'"),
    (cc.Roles(treatment="dose", outcome="y", confounders=["x1"], instruments=["z1"]), {"cov_type": "hc3"},
     "'cov_type' option of method 'two_stage_least_squares'"),
    (cc.Roles(treatment="dose", outcome="y", confounders=["x1"], instruments=["z1"]), {"estimand": "ATT"},
     "Estimand 'ATT' is not one of LATE, ATE"),
])
def test_bad_streamed_2sls_requests_name_the_problem(tables, roles, options, fragment):
    with pytest.raises(cc.CausalInputError, match=fragment):
        streamed_estimate(open_table(tables["folder"] / "iv.parquet"), roles, "two_stage_least_squares",
                          **{"estimand": "LATE", **options})


# --- exact matching ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("confounders", [["x1", "region", "small"], ["x1", "x2", "flag"], ["region", "small"]])
@pytest.mark.parametrize("n_bins", [None, 3])
@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_streamed_exact_matching_equals_the_in_memory_estimator(tables, confounders, n_bins, estimand):
    roles = cc.Roles(treatment="treat", outcome="y", confounders=confounders)
    options = {} if n_bins is None else {"n_bins": n_bins}
    got = streamed_estimate(open_table(tables["folder"] / "parts"), roles, "exact_matching", estimand=estimand,
                            **options)
    want = cc.estimate(tables["df"], roles, "exact_matching", estimand=estimand, **options)
    _same(got, want)
    assert got.n_used == want.n_used
    assert (len(got.warnings) > 0) == (want.diagnostics["n_dropped_treated"] + want.diagnostics["n_dropped_control"] > 0)


@pytest.mark.parametrize("roles, options, fragment", [
    (ROLES, {"n_bins": 1}, "'n_bins' option of method 'exact_matching'"),
    (cc.Roles(treatment="treat", outcome="y", confounders=["nope"]), {}, "Column 'nope'"),
    (cc.Roles(treatment="treat", outcome="region", confounders=["x1"]), {}, "Outcome column 'region'"),
    (ROLES, {"caliper": 0.2}, "Option 'caliper' is not available for the streamed exact_matching"),
])
def test_bad_streamed_exact_matching_requests_name_the_problem(tables, roles, options, fragment):
    with pytest.raises(cc.CausalInputError, match=fragment):
        streamed_estimate(open_table(tables["folder"] / "one.parquet"), roles, "exact_matching", **options)


# --- balance and subgroup tables --------------------------------------------------------------------------------

@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
@pytest.mark.parametrize("binary", ["raw", "std"])
def test_streamed_balance_table_equals_the_in_memory_table(tables, estimand, binary):
    got = streamed_balance_table(open_table(tables["folder"] / "parts"), ROLES, estimand=estimand, binary=binary)
    want = cc.balance_table(tables["df"], ROLES, estimand=estimand, binary=binary)
    assert list(got.index) == list(want.index) and list(got.columns) == list(want.columns)
    exact = [c for c in want.columns if c.startswith(("mean_", "smd_", "var_ratio_")) and c != "var_ratio_ok"]
    np.testing.assert_allclose(got[exact].to_numpy(float), want[exact].to_numpy(float), rtol=RTOL, atol=1e-13)
    for column in ("type", "balanced", "var_ratio_ok"):
        pd.testing.assert_series_equal(got[column], want[column])
    assert got.attrs["ess"] == want.attrs["ess"]
    bounds = got.attrs["ks_bounds"]
    assert got.attrs["ks_bound"] == max(bounds.values()) and list(bounds) == list(want.index)
    for name in want.index:  # the streamed KS is a lower bound, the exact one at most its bound above
        exact, streamed = want.loc[name, "ks_before"], got.loc[name, "ks_before"]
        assert streamed <= exact + 1e-15 and exact <= streamed + bounds[name] + 1e-15, name
    assert (got["ks_after"] == got["ks_before"]).all()
    assert bounds["small"] == 0.0 and got.loc["small", "ks_before"] == pytest.approx(want.loc["small", "ks_before"],
                                                                                   abs=1e-15)  # all values on the grid
    binary_rows = want["type"] == "binary"
    np.testing.assert_allclose(got.loc[binary_rows, "ks_before"], want.loc[binary_rows, "ks_before"], rtol=RTOL)


def test_the_streamed_ks_bound_is_small_on_100k_rows_and_holds(tmp_path):
    df, _ = linear_confounded(n=100_000, seed=4)
    df["skewed"] = np.exp(2 * df["x1"])  # heavy right tail: a min/max grid would fail here, quantiles do not
    df.to_parquet(tmp_path / "big.parquet")
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "skewed"])
    got = streamed_balance_table(open_table(tmp_path / "big.parquet"), roles, rows_per_partition=30_000)
    want = cc.balance_table(df, roles)
    # the grid holds each arm's quantiles at k/1000 (the sample is the whole table here): about 1/1000 of an arm
    # lies between neighbouring points, so the bound is near 0.001; 2/1000 leaves room for ties and arm sizes
    assert 0 < got.attrs["ks_bound"] < 2 / 1000
    for name, bound in got.attrs["ks_bounds"].items():
        exact, streamed = want.loc[name, "ks_before"], got.loc[name, "ks_before"]
        assert streamed <= exact + 1e-15 and exact <= streamed + bound + 1e-15, name


def test_a_balance_table_of_0_1_covariates_has_exact_ks_and_no_bound(tables):
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["flag", "region"])
    got = streamed_balance_table(open_table(tables["folder"] / "one.parquet"), roles)
    want = cc.balance_table(tables["df"], roles)
    assert got.attrs["ks_bound"] == 0.0 and set(got.attrs["ks_bounds"].values()) == {0.0}
    np.testing.assert_allclose(got["ks_before"], want["ks_before"], rtol=RTOL)


def _bracket(x1: np.ndarray, x0: np.ndarray, grid: np.ndarray) -> tuple[float, float]:
    counts = [np.searchsorted(np.sort(x), grid, side=side) for x in (x1, x0) for side in ("right", "left")]
    return ks_bracket(counts[0], counts[1], x1.size, counts[2], counts[3], x0.size)


def test_the_grid_ks_brackets_the_exact_ks_on_any_grid():
    from causal_core.diagnostics.balance import weighted_ks

    rng = np.random.default_rng(11)
    for n1, n0, points in ((50, 70, 5), (400, 900, 40), (3000, 2000, 200)):
        x1, x0 = rng.gamma(2.0, size=n1), rng.gamma(2.5, size=n0).round(1)  # ties in one arm
        exact = weighted_ks(x1, np.ones(n1), x0, np.ones(n0))
        coarse = np.unique(np.quantile(np.concatenate([x1, x0]), np.linspace(0.05, 0.95, points)))  # tails off it
        low, high = _bracket(x1, x0, coarse)
        assert low <= exact <= high
        # the gap is at most the largest mass of one arm strictly between neighbouring grid points (or beyond them)
        edges = np.concatenate(([-np.inf], coarse, [np.inf]))
        strictly_between = max(np.max(((x[:, None] > edges[:-1]) & (x[:, None] < edges[1:])).mean(axis=0))
                               for x in (x1, x0))
        assert high - low <= strictly_between + 1e-15
        low, high = _bracket(x1, x0, np.union1d(x1, x0))  # a grid holding every value: the bracket closes
        assert low == high == pytest.approx(exact, abs=1e-15)


@pytest.mark.parametrize("by, sample", [("income", "simpson"), ("region", "df"), ("small", "df")])
def test_streamed_subgroup_table_equals_the_in_memory_table(tables, by, sample):
    df = tables[sample]
    treatment, outcome, level = ("algorithm", "success", "A") if sample == "simpson" else ("treat", "y", None)
    path = tables["folder"] / ("simpson.parquet" if sample == "simpson" else "one.parquet")
    got = streamed_subgroup_table(open_table(path), treatment, outcome, by, treated_level=level)
    want = cc.subgroup_table(df, treatment, outcome, by=by, treated_level=level)
    assert list(got.table.index) == list(want.table.index)
    np.testing.assert_allclose(got.table.to_numpy(float), want.table.to_numpy(float), rtol=RTOL)
    assert (got.reversal, got.reversal_within_noise) == (want.reversal, want.reversal_within_noise)
    assert got.explanation == want.explanation
    assert got.warnings == want.warnings
    assert (got.treated_label, got.control_label) == (want.treated_label, want.control_label)
    assert sample != "simpson" or got.reversal  # the sample is a reversal: the explanation's hardest branch


@pytest.mark.parametrize("call, fragment", [
    (lambda s: streamed_subgroup_table(s, "treat", "y", "x1"), "Subgroup column 'x1' has 2997 distinct values"),
    (lambda s: streamed_subgroup_table(s, "treat", "y", "nope"), "Column 'nope' given as subgroup"),
    (lambda s: streamed_subgroup_table(s, "treat", "region", "small"), "Outcome column 'region' must be numeric"),
    (lambda s: streamed_subgroup_table(s, "treat", "y", "y"), "must be three different columns"),
    (lambda s: streamed_balance_table(s, ROLES, estimand="LATE"), "Balance estimand must be one of ATE, ATT, ATC"),
    (lambda s: streamed_balance_table(s, ROLES, binary="yes"), "Option 'binary' must be 'raw' or 'std'"),
    (lambda s: streamed_balance_table(s, ROLES, ks_grid=3), "Option 'ks_grid' must be an integer"),
    (lambda s: streamed_balance_table(s, cc.Roles(treatment="treat", outcome="y", confounders=["nope"])),
     "Column 'nope'"),
])
def test_bad_table_requests_name_the_problem(tables, call, fragment):
    with pytest.raises(cc.CausalInputError, match=fragment):
        call(open_table(tables["folder"] / "one.parquet"))
