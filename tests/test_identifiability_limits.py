"""Identifiability limits over the whole registry (rows for covariates, arm sizes, overlap).

Three hard tables, built from each method's contract design: more covariates
than rows (500 noise covariates, 300 rows), 2 treated rows of 10,000, and a
covariate that perfectly separates the arms. Each method must refuse with a
:class:`causal_core.CausalInputError` that says what is wrong, or return a
finite answer whose warnings say it, and do so quickly (slow methods must be
refused before they start). The contract designs themselves must draw no
limit warning. Torch methods run with tiny training settings.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

import causal_core as cc
from causal_core.core.limits import check_limits, linearly_separated, separating_covariate
from test_bad_input import TINY_TORCH
from test_contract import _design_for

#: Generous wall-clock guard: refusals are instant and warned answers take seconds; the issue saw > 120 s.
SECONDS_GUARD = 60.0
_CACHE: dict[str, tuple] = {}


def _infos(*, binary: bool = False, uses_confounders: bool = False):
    out = []
    for info in cc.list_methods():
        if _design_for(info) is None or (binary and info.treatment_kind != "binary"):
            continue
        if uses_confounders and "confounders" not in info.limits.covariate_roles:
            continue
        out.append(pytest.param(info, id=info.id))
    return out


def _design(info: cc.MethodInfo):
    if info.id not in _CACHE:
        df, roles, _, options = _design_for(info)(0)
        options = {**options, **info.cheap_options, **TINY_TORCH.get(info.id, {})}
        _CACHE[info.id] = (df, roles, options)
    df, roles, options = _CACHE[info.id]
    return df.copy(), roles, dict(options)


def _run(df, roles, info, options):
    """(result or None, error message or None, seconds)."""
    start = time.perf_counter()
    try:
        result = cc.estimate(df, roles, info.id, estimand=info.estimands[0], seed=0, **options)
        return result, None, time.perf_counter() - start
    except cc.CausalInputError as exc:
        return None, str(exc), time.perf_counter() - start


def _assert_refused_or_warned(result, error, pattern: str, seconds: float):
    import re
    assert seconds < SECONDS_GUARD, seconds
    if error is not None:
        assert re.search(pattern, error), error
        return
    assert np.isfinite(result.estimate) and np.isfinite(result.std_error) and result.std_error > 0
    assert any(re.search(pattern, w) for w in result.warnings), result.warnings


@pytest.mark.parametrize("info", _infos())
def test_more_covariates_than_rows_is_refused_or_warned(info):
    df, roles, options = _design(info)
    df = df.iloc[:300].reset_index(drop=True)
    rng = np.random.default_rng(0)
    role = "proxies" if info.limits.covariate_roles == ("proxies",) else "confounders"
    noise = rng.integers(0, 2, size=(300, 500)) if role == "proxies" else rng.normal(size=(300, 500))
    names = [f"noise{j}" for j in range(500)]
    df = df.join(type(df)(noise, columns=names, index=df.index))
    roles = replace(roles, **{role: tuple(getattr(roles, role)) + tuple(names)})
    result, error, seconds = _run(df, roles, info, options)
    print(f"{info.id}: {'refused' if error else 'warned'} in {seconds:.2f} s: {error or result.warnings}")
    _assert_refused_or_warned(result, error, r"rows|fewer confounders|ignored|proxies", seconds)


@pytest.mark.parametrize("info", _infos(binary=True))
def test_two_treated_of_ten_thousand_is_refused_or_warned(info):
    df, roles, options = _design(info)
    rows = np.random.default_rng(1).choice(len(df), size=10_000, replace=True)
    df = df.iloc[rows].reset_index(drop=True)
    treatment = np.zeros(10_000)
    treatment[[0, 1]] = 1
    df[roles.treatment] = treatment
    result, error, seconds = _run(df, roles, info, options)
    print(f"{info.id}: {'refused' if error else 'warned'} in {seconds:.2f} s: {error or result.warnings}")
    _assert_refused_or_warned(result, error, r"treated arm has (only )?2 |has [12] treated and", seconds)


@pytest.mark.parametrize("info", _infos(binary=True, uses_confounders=True))
def test_perfectly_separating_covariate_is_refused_or_warned(info):
    df, roles, options = _design(info)
    treated = df[roles.treatment].to_numpy() == 1
    spread = np.random.default_rng(2).uniform(size=len(df))
    df["sep"] = np.where(treated, 1.0 + spread, -1.0 - spread)
    roles = replace(roles, confounders=tuple(roles.confounders) + ("sep",))
    result, error, seconds = _run(df, roles, info, options)
    print(f"{info.id}: {'refused' if error else 'warned'} in {seconds:.2f} s: {error or result.warnings}")
    _assert_refused_or_warned(result, error, r"'sep' perfectly separates|perfect(ly)? separat|No stratum .* holds both treated and control", seconds)


@pytest.mark.parametrize("info", _infos())
def test_contract_designs_draw_no_limit_warning(info):
    df, roles, options = _design(info)
    data = cc.core.data.prepare(df, roles, info)
    assert check_limits(info, data, info.estimands[0], options) == ()


def test_regression_adjustment_refuses_p_over_n_naming_the_counts():
    df, roles, _ = _design(cc.get_method("regression_adjustment"))
    df = df.iloc[:30].reset_index(drop=True)
    extra = [f"z{j}" for j in range(40)]
    df = df.join(type(df)(np.random.default_rng(3).normal(size=(30, 40)), columns=extra))
    roles = replace(roles, confounders=tuple(roles.confounders) + tuple(extra))
    with pytest.raises(cc.CausalInputError, match="needs more rows than covariates .* 30 rows for 4[0-9] covariates"):
        cc.estimate(df, roles, "regression_adjustment")
    with pytest.raises(cc.CausalInputError, match="needs more rows than covariates in each arm"):
        cc.estimate(df, replace(roles, confounders=roles.confounders[:20]), "regression_adjustment", interactions=True)


def test_separation_helpers():
    t = np.array([0, 0, 0, 1, 1, 1], dtype=float)
    x_single = np.array([[0.1], [0.2], [0.3], [0.4], [0.5], [0.6]])
    assert separating_covariate(x_single, t, ("a",)) == "a"
    # neither column separates alone, their difference does
    X = np.array([[0, 1], [1, 2], [2, 3], [1, 0], [2, 1], [3, 2]], dtype=float)
    assert separating_covariate(X, t, ("a", "b")) is None
    assert linearly_separated(X, t)
    overlapping = np.array([[0.0], [1.0], [2.0], [0.5], [1.5], [0.2]])
    assert not linearly_separated(overlapping, t)


def test_separation_on_bigger_tables_is_decided_by_all_rows():
    """Past 1,000 rows a seeded subset is tried first; it can only prove non-separation, so the answer is
    the LP over every row: a separated table stays separated, and one control row on the treated side
    (which a 500-row subset misses 5 times in 6) still makes the table not separated."""
    from causal_core.core.limits import SEPARATION_SUBSET_ROWS

    rng = np.random.default_rng(4)
    n = 6 * SEPARATION_SUBSET_ROWS
    X = rng.normal(size=(n, 3))
    t = (X[:, 0] + X[:, 1] > 0).astype(float)       # separated by x1 + x2, by neither column alone
    assert separating_covariate(X, t, ("a", "b", "c")) is None
    assert linearly_separated(X, t)
    stray = int(np.flatnonzero(t == 0)[0])
    X_stray = X.copy()
    X_stray[stray, :2] = 3.0                         # a control row deep on the treated side
    assert not linearly_separated(X_stray, t)
    overlapping = rng.normal(size=(n, 3))
    assert not linearly_separated(overlapping, rng.binomial(1, 0.5, n).astype(float))
