"""Results carry their analysis: rows used, roles, options, seed, weight diagnostics and library warnings.

Every registered method runs once on its contract design (tests/test_contract.py) with a non-default,
shuffled string index and a few rows made incomplete, so a result that lost track of its rows, or
aligned them by position, fails here. Balance, refutation and sensitivity started from a result must
give the numbers of the older calls that re-derived everything from (df, roles).
"""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.core.data import prepare
from causal_core.core.library_warnings import LIBRARY_WARNING_PREFIX, capture_library_warnings, summarise_warnings
from causal_core.core.provenance import design_for, used_rows
from causal_core.core.results import FrozenMapping, WeightDiagnostics, kish_ess
from causal_core.datasets.simulate import linear_confounded
from causal_core.diagnostics.balance import smd_before_after, standardized_mean_difference
from causal_core.robustness.sensitivity import matched_pair_differences
from test_bad_input import TINY_TORCH
from test_contract import _design_for

N_INCOMPLETE = 7
_RUNS: dict[str, tuple] = {}


def _scrambled(df: pd.DataFrame, roles: cc.Roles) -> tuple[pd.DataFrame, pd.Index]:
    """Rows shuffled, string labels, the treatment missing in a few rows; and the labels of the complete rows."""
    rng = np.random.default_rng(5)
    order = rng.permutation(len(df))
    out = df.iloc[order].copy()
    out.index = pd.Index([f"row{i}" for i in order], name="unit")
    poisoned = out.index[rng.choice(len(out), size=N_INCOMPLETE, replace=False)]
    out[roles.treatment] = out[roles.treatment].astype(object)
    out.loc[poisoned, roles.treatment] = np.nan
    return out, poisoned


def _expected_rows(df: pd.DataFrame, roles: cc.Roles, info: cc.MethodInfo) -> pd.Index:
    columns = [c for c in roles.columns() if not (info.outcome_may_be_missing and c == roles.outcome)]
    complete = df[columns].notna().all(axis=1)
    return df.index[complete.to_numpy()]


def _run(info: cc.MethodInfo) -> tuple:
    """(scrambled df, its copy, roles, options, result) for the method, computed once."""
    if info.id not in _RUNS:
        design = _design_for(info)
        assert design is not None, f"method '{info.id}' has no contract design"
        df, roles, _, options = design(0)
        options = {**options, **info.cheap_options, **TINY_TORCH.get(info.id, {})}
        df, _ = _scrambled(df, roles)
        before = df.copy(deep=True)
        result = cc.estimate(df, roles, info.id, estimand=info.estimands[0], seed=11, **options)
        _RUNS[info.id] = (df, before, roles, options, result)
    return _RUNS[info.id]


def _methods(flag: str | None = None):
    return [pytest.param(m, id=m.id) for m in cc.list_methods() if flag is None or getattr(m, flag)]


@pytest.mark.parametrize("info", _methods())
def test_result_records_rows_roles_options_and_seed(info):
    df, before, roles, options, result = _run(info)
    pd.testing.assert_frame_equal(df, before)  # the caller's data is untouched
    expected = _expected_rows(df, roles, info)
    assert len(expected) <= len(df) - N_INCOMPLETE
    assert list(result.row_index) == list(expected)
    assert result.n_design == result.n_rows == len(result.row_index)  # the rows of the design
    assert result.n_used == (len(result.row_index) if result.weights is None else int(np.sum(result.weights > 0)))
    assert result.roles == roles
    assert dict(result.options) == options and isinstance(result.options, FrozenMapping)
    assert result.seed == 11
    data = prepare(df, roles, info)
    assert result.covariate_names == data.covariate_names
    if info.treatment_kind == "binary":
        assert result.treated.dtype == bool and result.treated.shape == (result.n_rows,)
        labels = df.loc[result.row_index, roles.treatment]
        assert np.array_equal(result.treated, (labels == result.treated_level).to_numpy())
        assert set(pd.unique(labels)) == {result.treated_level, result.control_level}
    else:
        assert result.treated is None


@pytest.mark.parametrize("info", _methods())
def test_result_pickles_without_the_data(info):
    df, _, _, _, result = _run(info)
    blob = pickle.dumps(result)
    back = pickle.loads(blob)
    assert list(back.row_index) == list(result.row_index) and back.options == result.options
    assert back.weight_diagnostics == result.weight_diagnostics
    for name in ("row_index", "treated", "weights", "unit_effects", "roles", "options", "weight_diagnostics"):
        assert not isinstance(getattr(result, name), (pd.DataFrame, pd.Series)), name
    for name, value in result.diagnostics.items():  # no copy of the table hides in the diagnostics
        assert not (isinstance(value, pd.DataFrame) and set(df.columns) <= set(value.columns)), name
    assert len(blob) < len(pickle.dumps(df)) + 16 * result.n_used + 50_000


@pytest.mark.parametrize("info", _methods("gives_weights"))
def test_weight_diagnostics_are_kish_ess_by_arm(info):
    _, _, _, _, result = _run(info)
    diagnostics = result.weight_diagnostics
    assert isinstance(diagnostics, WeightDiagnostics)
    w, treated = np.asarray(result.weights, dtype=float), result.treated
    assert dict(diagnostics.ess_before) == {"treated": float(treated.sum()), "control": float((~treated).sum())}
    assert diagnostics.ess_after["treated"] == pytest.approx(kish_ess(w[treated]), rel=1e-12)
    assert diagnostics.ess_after["control"] == pytest.approx(kish_ess(w[~treated]), rel=1e-12)
    assert diagnostics.ess_total == pytest.approx(kish_ess(w)) == pytest.approx(result.effective_sample_size)
    assert diagnostics.max_weight_share == pytest.approx(w.max() / w.sum())
    assert diagnostics.n_zero == int(np.sum(w == 0))


def test_methods_without_weights_have_no_weight_diagnostics():
    _, _, _, _, result = _run(cc.get_method("regression_adjustment"))
    assert result.weights is None and result.weight_diagnostics is None


def _balance_methods():
    return [pytest.param(m, id=m.id) for m in cc.list_methods()
            if m.gives_weights and m.treatment_kind == "binary" and "confounders" in m.required_roles]


@pytest.mark.parametrize("info", _balance_methods())
def test_balance_from_result_equals_the_old_call(info):
    df, _, roles, _, result = _run(info)
    estimand = result.estimand if result.estimand in ("ATE", "ATT", "ATC") else "ATE"
    new = cc.balance_table(result, df)
    old = cc.balance_table(df, roles, weights=result.weights, estimand=estimand, method=info.id)
    pd.testing.assert_frame_equal(new, old)
    assert new.attrs == old.attrs
    ess = new.attrs["ess"]
    assert ess["treated"]["after"] == pytest.approx(result.weight_diagnostics.ess_after["treated"])


def test_design_for_refuses_a_table_that_is_not_the_results():
    df, _, _, _, result = _run(cc.get_method("ipw"))
    with pytest.raises(cc.CausalInputError, match="has no row with index 'row"):
        design_for(result, df.drop(index=result.row_index[:3]))
    changed = df.copy()
    first = result.row_index[0]
    changed.loc[first, "treat"] = 1 - changed.loc[first, "treat"]
    with pytest.raises(cc.CausalInputError, match="differ from those"):
        design_for(result, changed)
    with pytest.raises(cc.CausalInputError, match="repeated labels"):
        used_rows(result, df.set_axis(["same"] * len(df)))
    rows = used_rows(result, df)
    assert list(rows.index) == list(result.row_index)


def test_design_for_rebuilds_the_methods_covariates():
    df, _, roles, _, result = _run(cc.get_method("entropy_balancing"))
    data = design_for(result, df)
    old = prepare(df, roles, cc.get_method("entropy_balancing"))
    np.testing.assert_array_equal(data.X, old.X)
    assert data.covariate_names == result.covariate_names
    np.testing.assert_array_equal(data.treated, result.treated)


# ---- library warnings ----------------------------------------------------------------------------

def test_convergence_warning_of_sklearn_is_carried_on_the_result():
    from sklearn.linear_model import LogisticRegression

    df, _ = linear_confounded(n=400, seed=2)
    roles = cc.Roles("treat", "y", ["x1", "x2", "x3", "x4", "region"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may leak to the caller either
        result = cc.estimate(df, roles, "ipw", propensity_model=LogisticRegression(max_iter=1))
    convergence = [w for w in result.library_warnings if w.startswith("ConvergenceWarning from sklearn.")]
    assert convergence, result.library_warnings
    assert "failed to converge" in convergence[0]
    assert LIBRARY_WARNING_PREFIX + convergence[0] in result.warnings


def test_a_quiet_fit_has_no_library_warnings():
    df, _ = linear_confounded(n=400, seed=2)
    result = cc.estimate(df, cc.Roles("treat", "y", ["x1", "x2"]), "regression_adjustment")
    assert result.library_warnings == ()
    assert not any(w.startswith(LIBRARY_WARNING_PREFIX) for w in result.warnings)


def test_library_warnings_are_deduplicated_with_source_and_count():
    from sklearn.exceptions import ConvergenceWarning

    with capture_library_warnings() as caught:
        for _ in range(3):
            warnings.warn("lbfgs failed to converge", ConvergenceWarning)
        warnings.warn("a renamed argument", FutureWarning)  # about the library's API: left out by category
        warnings.warn("old API", DeprecationWarning)
        warnings.warn("overflow in exp", RuntimeWarning)
    lines = summarise_warnings(caught)
    assert lines == (
        f"ConvergenceWarning from {__name__}: lbfgs failed to converge (3 times)",
        f"RuntimeWarning from {__name__}: overflow in exp",
    )


# ---- refutation and sensitivity from a result ----------------------------------------------------

@pytest.fixture(scope="module")
def backdoor():
    df, _ = linear_confounded(n=500, seed=4)
    df = df.set_axis([f"u{i}" for i in np.random.default_rng(0).permutation(len(df))])
    df.loc[df.index[:5], "x1"] = np.nan
    return df, cc.Roles("treat", "y", ["x1", "x2", "x3", "x4", "region"])


def test_refute_from_result_gives_the_old_numbers(backdoor):
    df, roles = backdoor
    options = {"trim": 0.01} if "trim" in {o.name for o in cc.get_method("ipw").options} else {}
    result = cc.estimate(df, roles, "ipw", estimand="ATT", seed=3, **options)
    tests = ("placebo_treatment", "data_subset")
    new = cc.refute(result, df, tests=tests, n_repeats=3)
    old = cc.refute(df, roles, "ipw", estimand="ATT", seed=3, options=options, tests=tests, n_repeats=3)
    for a, b in zip(new, old):
        assert a.name == b.name
        assert a.original_estimate == pytest.approx(b.original_estimate, rel=1e-10)
        assert a.estimates == pytest.approx(b.estimates, rel=1e-10)
        assert a.passed == b.passed
    with pytest.raises(cc.CausalInputError, match="takes the method"):
        cc.refute(result, df, "ipw")


def test_sensitivity_from_result_gives_the_old_numbers(backdoor):
    df, roles = backdoor
    result = cc.estimate(df, roles, "regression_adjustment")
    report = cc.sensitivity_for_result(result, df)
    older_call = cc.sensitivity_for_result(df, roles, result, options={})
    direct = cc.ovb_sensitivity(df, roles)  # prepares (df, roles) itself
    for ovb in (report.ovb, older_call.ovb, cc.ovb_sensitivity(result, df)):
        assert ovb.robustness_value == pytest.approx(direct.robustness_value, rel=1e-10)
        pd.testing.assert_frame_equal(ovb.benchmarks, direct.benchmarks)
    data = prepare(df, roles)
    evalue = cc.e_value(result.estimate, result.ci_low, result.ci_high, sd_outcome=float(np.std(data.y, ddof=1)))
    assert report.e_value.e_value_estimate == pytest.approx(evalue.e_value_estimate, rel=1e-12)
    dr = cc.estimate(df, roles, "doubly_robust")
    approx = cc.sensitivity_for_result(dr, df).ovb
    assert approx.approximate and approx.estimate == dr.estimate
    with pytest.raises(cc.CausalInputError, match="roles given differ"):
        cc.sensitivity_for_result(df, cc.Roles("treat", "y", ["x1"]), result)


def test_rosenbaum_pairs_from_result_equal_the_old_call(backdoor):
    df, roles = backdoor
    options = {"replace": False, "n_neighbors": 1}
    result = cc.estimate(df, roles, "propensity_score_matching", estimand="ATT", **options)
    new = matched_pair_differences(result, df)
    old = matched_pair_differences(df, roles, "propensity_score_matching", estimand="ATT", **options)
    np.testing.assert_allclose(new, old)
    report = cc.sensitivity_for_result(result, df)
    assert report.rosenbaum is not None
    assert report.rosenbaum.n_pairs + report.rosenbaum.n_zero == new.size


# ---- one SMD, one ESS ----------------------------------------------------------------------------

def test_balancing_smd_is_the_balance_tables_smd():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3))
    treated = rng.random(60) < 0.4
    weights = rng.uniform(0.5, 2.0, size=60)
    for j in range(3):
        _, got = smd_before_after(X[:, j], treated, weights, is_binary=False, estimand="ATE")
        m1 = np.average(X[treated, j], weights=weights[treated])
        m0 = np.average(X[~treated, j], weights=weights[~treated])
        sd1, sd0 = X[treated, j].std(ddof=1), X[~treated, j].std(ddof=1)
        assert got == pytest.approx(standardized_mean_difference(m1 - m0, sd1, sd0, "ATE"), rel=1e-12)
    assert np.isnan(standardized_mean_difference(1.0, 0.0, 0.0, "ATE"))
    vector = standardized_mean_difference(np.array([1.0, 2.0]), np.array([1.0, 0.0]), np.array([1.0, 0.0]), "ATT")
    assert vector[0] == 1.0 and np.isnan(vector[1])


def test_one_ess():
    w = np.array([1.0, 2.0, 3.0, 0.0])
    assert cc.effective_sample_size(w) == kish_ess(w) == pytest.approx(36 / 14)
    diagnostics = WeightDiagnostics.from_weights(w, np.array([True, False, True, False]))
    assert dict(diagnostics.ess_after) == {"treated": kish_ess(w[[0, 2]]), "control": kish_ess(w[[1, 3]])}
    assert diagnostics.n_zero == 1 and diagnostics.max_weight_share == pytest.approx(0.5)
    with pytest.raises((AttributeError, TypeError)):
        diagnostics.ess_after["treated"] = 0.0
