"""One contract test over the whole registry.

Every method: returns a result, leaves the input untouched, is deterministic
under a seed, recovers a simulated effect within its own sampling error, and
rejects bad input with a clear message. Methods that need roles other than
confounders get their design from ``DESIGNS`` (keyed by method id). A method
without a design fails the battery; a check a method cannot pass by
construction is listed in ``EXPECTED_FAILURES`` with its reason and runs as a
strict expected failure (so it must keep failing for that reason).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded

BACKDOOR_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])


def _backdoor_design(seed: int):
    df, truth = linear_confounded(n=1500, seed=seed)
    return df, BACKDOOR_ROLES, truth["ATE"], {}


def _collect_designs() -> dict[str, Callable]:
    """Method id -> function(seed) returning (df, roles, true effect, options).

    Method families whose roles are not plain back-door confounders put a
    ``DESIGNS`` dict in a ``tests/designs_<family>.py`` module; all are merged here.
    """
    import importlib
    from pathlib import Path

    designs: dict[str, Callable] = {}
    for path in sorted(Path(__file__).parent.glob("designs_*.py")):
        module = importlib.import_module(path.stem)
        designs.update(module.DESIGNS)
    return designs


DESIGNS = _collect_designs()


def _design_for(info: cc.MethodInfo):
    if info.id in DESIGNS:
        return DESIGNS[info.id]
    if set(info.required_roles) <= {"confounders"} and info.treatment_kind == "binary":
        return _backdoor_design
    return None


#: (method id, test name) -> why the method cannot pass that check of the battery.
EXPECTED_FAILURES = {
    ("difference_in_means", "test_method_recovers_simulated_effect"):
        "the unadjusted contrast is biased on the confounded design by construction (it is the baseline)",
}


def _methods(test_name: str | None = None):
    params = []
    for m in cc.list_methods():
        reason = EXPECTED_FAILURES.get((m.id, test_name))
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(m, id=m.id, marks=marks))
    return params


def _fast_options(info: cc.MethodInfo) -> dict:
    """Cheaper settings for slow methods, from the registry's ``cheap_test_options``."""
    return info.cheap_options


def _require_design(info: cc.MethodInfo) -> Callable:
    design = _design_for(info)
    assert design is not None, (
        f"Method '{info.id}' (roles {info.required_roles}) has no contract design; add one to a "
        "tests/designs_<family>.py module or list the check in EXPECTED_FAILURES with the reason."
    )
    return design


_RUNS: dict[str, tuple] = {}


def _contract_run(info: cc.MethodInfo) -> tuple:
    """(df, copy of df before, first result, second result, truth) on the method's design, computed once."""
    if info.id not in _RUNS:
        df, roles, truth, options = _require_design(info)(7)
        options = {**_fast_options(info), **options}
        before = df.copy(deep=True)
        estimand = info.estimands[0]
        r1 = cc.estimate(df, roles, info.id, estimand=estimand, seed=3, **options)
        r2 = cc.estimate(df, roles, info.id, estimand=estimand, seed=3, **options)
        _RUNS[info.id] = (df, before, r1, r2, truth)
    return _RUNS[info.id]


@pytest.mark.parametrize("info", _methods("test_method_contract"))
def test_method_contract(info: cc.MethodInfo):
    df, before, r1, r2, _ = _contract_run(info)
    estimand = info.estimands[0]
    pd.testing.assert_frame_equal(df, before)  # caller's data untouched
    assert isinstance(r1, cc.EstimateResult)
    assert r1.method == info.id and r1.estimand == estimand
    assert np.isfinite(r1.estimate) and np.isfinite(r1.std_error) and r1.std_error > 0
    assert r1.ci_low < r1.estimate < r1.ci_high
    assert 0 < r1.n_used <= r1.n_rows <= len(df)  # units entering the estimate, within the rows of the design
    if r1.weights is not None:
        assert r1.weights.shape == (r1.n_rows,)
        assert r1.n_used == int(np.sum(r1.weights > 0))
    if r1.unit_effects is not None:
        assert r1.unit_effects.shape == (r1.n_rows,)
    assert r2.estimate == r1.estimate and r2.std_error == r1.std_error  # deterministic under a seed


@pytest.mark.parametrize("info", _methods("test_method_recovers_simulated_effect"))
def test_method_recovers_simulated_effect(info: cc.MethodInfo):
    """The estimate is within 4 of its own standard errors of the truth (a 4-sigma z-test)."""
    _, _, r1, _, truth = _contract_run(info)
    assert abs(r1.estimate - truth) < 4 * r1.std_error, (r1.estimate, r1.std_error, truth)


@pytest.mark.parametrize("info", _methods("test_method_rejects_missing_column"))
def test_method_rejects_missing_column(info: cc.MethodInfo):
    roles = cc.Roles(treatment="treat", outcome="no_such_column", confounders=["x1"])
    df, _ = linear_confounded(n=200, seed=0)
    with pytest.raises(cc.CausalInputError, match="no_such_column"):
        cc.estimate(df, roles, info.id, estimand=info.estimands[0])


@pytest.mark.parametrize("info", [p for p in _methods("test_binary_method_rejects_three_level_treatment")
                                  if p.values[0].treatment_kind == "binary"])
def test_binary_method_rejects_three_level_treatment(info: cc.MethodInfo):
    df, roles, _, options = _require_design(info)(0)
    df = df.copy()
    df[roles.treatment] = np.arange(len(df)) % 3
    with pytest.raises(cc.CausalInputError, match=f"'{roles.treatment}' has 3 distinct values"):
        cc.estimate(df, roles, info.id, estimand=info.estimands[0], **options)


@pytest.mark.parametrize("info", [p for p in _methods("test_method_rejects_empty_required_role")
                                  if p.values[0].required_roles])
def test_method_rejects_empty_required_role(info: cc.MethodInfo):
    df, _ = linear_confounded(n=200, seed=0)
    roles = cc.Roles(treatment="treat", outcome="y")
    with pytest.raises(cc.CausalInputError, match=f"needs at least one column in the '{info.required_roles[0]}' role"):
        cc.estimate(df, roles, info.id, estimand=info.estimands[0])


def test_unknown_method_and_option_are_refused():
    df, _ = linear_confounded(n=200, seed=0)
    with pytest.raises(cc.CausalInputError, match="Unknown method 'nope'"):
        cc.estimate(df, BACKDOOR_ROLES, "nope")
    with pytest.raises(cc.CausalInputError, match="has no option"):
        cc.estimate(df, BACKDOOR_ROLES, "difference_in_means", bogus=1)


def test_every_method_declares_complete_info():
    for info in cc.list_methods():
        assert info.label and info.family and info.summary and info.reference, info.id
        assert info.estimands, info.id
        assert info.treatment_kind in ("binary", "continuous"), info.id


def test_expected_failures_name_registered_methods_and_tests():
    ids = {info.id for info in cc.list_methods()}
    for (method_id, test_name), reason in EXPECTED_FAILURES.items():
        assert method_id in ids and callable(globals().get(test_name)) and reason, (method_id, test_name)


@pytest.mark.parametrize("info", _methods("test_method_inference_is_one_of_the_closed_set"))
def test_method_inference_is_one_of_the_closed_set(info: cc.MethodInfo):
    """The result's SE, interval and p-value come from one ``Inference`` whose method is a known name."""
    _, _, r1, _, _ = _contract_run(info)
    assert r1.inference is not None and r1.inference.method in cc.inference.INFERENCE_METHODS
    assert (r1.std_error, r1.ci_low, r1.ci_high) == (r1.inference.std_error, r1.inference.ci_low, r1.inference.ci_high)
    assert r1.conf_int(0.95) == pytest.approx((r1.ci_low, r1.ci_high), rel=1e-12, abs=0)
    assert r1.p_value == r1.inference.p_value
    assert r1.diagnostics["se_method"]  # readable copy of the inference's description
