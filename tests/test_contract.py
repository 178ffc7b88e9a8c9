"""One contract test over the whole registry.

Every method: returns a result, leaves the input untouched, is deterministic
under a seed, recovers a simulated effect within its own sampling error, and
rejects bad input with a clear message. Methods that need roles other than
confounders get their design from ``DESIGNS`` (keyed by method id).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.simulate import linear_confounded

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


def _methods():
    return [pytest.param(m, id=m.id) for m in cc.list_methods()]


def _fast_options(info: cc.MethodInfo) -> dict:
    """Cheaper settings for slow methods (fewer bootstrap replicates), where the method has them."""
    names = {o.name for o in info.options}
    return {"n_boot": 50} if "n_boot" in names else {}


@pytest.mark.parametrize("info", _methods())
def test_method_contract(info: cc.MethodInfo):
    design = _design_for(info)
    if design is None:
        pytest.skip(f"no contract design for roles {info.required_roles}")
    df, roles, truth, options = design(7)
    options = {**_fast_options(info), **options}
    before = df.copy(deep=True)
    estimand = info.estimands[0]
    r1 = cc.estimate(df, roles, info.id, estimand=estimand, seed=3, **options)
    pd.testing.assert_frame_equal(df, before)  # caller's data untouched
    assert isinstance(r1, cc.EstimateResult)
    assert r1.method == info.id and r1.estimand == estimand
    assert np.isfinite(r1.estimate) and np.isfinite(r1.std_error) and r1.std_error > 0
    assert r1.ci_low < r1.estimate < r1.ci_high
    assert 0 < r1.n_used <= len(df)
    if r1.weights is not None:
        assert r1.weights.shape == (r1.n_used,)
    if r1.unit_effects is not None:
        assert r1.unit_effects.shape == (r1.n_used,)
    r2 = cc.estimate(df, roles, info.id, estimand=estimand, seed=3, **options)
    assert r2.estimate == r1.estimate and r2.std_error == r1.std_error  # deterministic under a seed
    if info.id != "difference_in_means":
        # recovers the truth within 4 of its own standard errors (a 4-sigma z-test)
        assert abs(r1.estimate - truth) < 4 * r1.std_error, (r1.estimate, r1.std_error, truth)


@pytest.mark.parametrize("info", _methods())
def test_method_rejects_missing_column(info: cc.MethodInfo):
    roles = cc.Roles(treatment="treat", outcome="no_such_column", confounders=["x1"])
    df, _ = linear_confounded(n=200, seed=0)
    with pytest.raises(cc.CausalInputError, match="no_such_column"):
        cc.estimate(df, roles, info.id, estimand=info.estimands[0])


@pytest.mark.parametrize("info", [p for p in _methods() if p.values[0].treatment_kind == "binary"])
def test_binary_method_rejects_three_level_treatment(info: cc.MethodInfo):
    design = _design_for(info)
    if design is None:
        pytest.skip("no contract design")
    df, roles, _, options = design(0)
    df = df.copy()
    df[roles.treatment] = np.arange(len(df)) % 3
    with pytest.raises(cc.CausalInputError, match=f"'{roles.treatment}' has 3 distinct values"):
        cc.estimate(df, roles, info.id, estimand=info.estimands[0], **options)


@pytest.mark.parametrize("info", [p for p in _methods() if p.values[0].required_roles])
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
