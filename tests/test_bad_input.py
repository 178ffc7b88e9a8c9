"""Bad and unusual input across the whole registry.

Every bad table, role or option must raise :class:`causal_core.CausalInputError`
naming the column or option (never a raw numpy/sklearn/torch error), and
:func:`causal_core.compare` must carry each error in its ``error`` column.
Unusual but valid input (boolean or labelled treatments) must give the same
estimate as the 0/1 coding. Each method runs on its contract design (from
``test_contract``); torch methods get tiny training settings or are skipped
where the case would train a network.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from test_contract import _design_for, _fast_options

#: Tiny training settings so the torch methods only reach their checks.
TINY_TORCH = {
    "deep_iv": {"n_boot": 2, "epochs": 2, "hidden_units": 4, "n_draws": 1, "batch_size": 500},
    "cb_iv": {"n_boot": 2, "epochs": 2, "hidden_units": 4, "n_draws": 1, "batch_size": 500},
    "tarnet": {"epochs": 2, "hidden_units": 4},
}
#: Cheaper settings for the valid-input runs of slower methods.
CHEAP = {
    "differentiated_confounder_balancing": {"n_boot": 20, "max_iter": 20},
    "latent_mixture": {"n_boot": 20, "n_restarts": 1},
    "dr_learner": {"base_model": "linear", "n_folds": 2},
    "gmm_subgroups": {"within_method": "regression_adjustment", "max_components": 2, "n_init": 1},
    "gmm_weighting": {"max_components": 2, "n_init": 1},
    "shadow_variable": {"n_boot": 0},
}
LIST_ROLE_NAMES = ("confounders", "instruments", "mechanisms", "proxies")
_DESIGN_CACHE: dict[str, tuple] = {}


def _infos(*, binary: bool = False, runs_method: bool = False):
    out = []
    for info in cc.list_methods():
        if _design_for(info) is None or (binary and info.treatment_kind != "binary"):
            continue
        if runs_method and info.needs_torch:
            continue
        out.append(pytest.param(info, id=info.id))
    return out


def _design(info: cc.MethodInfo):
    """(df, roles, options) of the method's contract design, with cheap options; the frame is a fresh copy."""
    if info.id not in _DESIGN_CACHE:
        df, roles, _, options = _design_for(info)(0)
        options = {**_fast_options(info), **options, **TINY_TORCH.get(info.id, {}), **CHEAP.get(info.id, {})}
        _DESIGN_CACHE[info.id] = (df, roles, options)
    df, roles, options = _DESIGN_CACHE[info.id]
    return df.copy(), roles, dict(options)


def _estimate(df, roles, info, options, **extra):
    return cc.estimate(df, roles, info.id, estimand=info.estimands[0], seed=1, **{**options, **extra})


@pytest.mark.parametrize("info", _infos())
def test_text_in_outcome_is_refused(info):
    df, roles, options = _design(info)
    outcome = df[roles.outcome].astype(object)
    outcome.iloc[int(np.flatnonzero(outcome.notna())[0])] = "n/a"
    df[roles.outcome] = outcome
    with pytest.raises(cc.CausalInputError, match=f"Outcome column '{roles.outcome}' must be numeric"):
        _estimate(df, roles, info, options)


@pytest.mark.parametrize("info", _infos())
def test_constant_treatment_is_refused(info):
    df, roles, options = _design(info)
    df[roles.treatment] = 1
    with pytest.raises(cc.CausalInputError, match=f"Treatment column '{roles.treatment}' is constant"):
        _estimate(df, roles, info, options)


@pytest.mark.parametrize("info", _infos(binary=True))
def test_single_treated_row_is_refused(info):
    df, roles, options = _design(info)
    treated = np.flatnonzero(df[roles.treatment].to_numpy() == 1)
    df[roles.treatment] = 0
    df.loc[df.index[treated[0]], roles.treatment] = 1
    with pytest.raises(cc.CausalInputError, match=f"'{roles.treatment}' has 1 treated and .* each arm needs"):
        _estimate(df, roles, info, options)


def _role_columns():
    cases = []
    for param in _infos():
        info = param.values[0]
        _, roles, _ = _design(info)
        for role in LIST_ROLE_NAMES:
            if getattr(roles, role):
                cases.append(pytest.param(info, getattr(roles, role)[0], id=f"{info.id}-{role}"))
    return cases


@pytest.mark.parametrize("info, column", _role_columns())
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["all_missing", "all_infinite"])
def test_unusable_role_column_is_refused(info, column, bad):
    df, roles, options = _design(info)
    df[column] = bad
    with pytest.raises(cc.CausalInputError, match=f"Column '{column}' has no usable values"):
        _estimate(df, roles, info, options)


@pytest.mark.parametrize("info", _infos())
def test_duplicated_column_name_is_refused(info):
    df, roles, options = _design(info)
    column = roles.treatment
    df = pd.concat([df, df[[column]]], axis=1)
    with pytest.raises(cc.CausalInputError, match=f"Column name\\(s\\) \\['{column}'\\] appear more than once"):
        _estimate(df, roles, info, options)


def _required_roles():
    return [pytest.param(p.values[0], role, id=f"{p.values[0].id}-{role}")
            for p in _infos() for role in p.values[0].required_roles]


@pytest.mark.parametrize("info, role", _required_roles())
def test_each_empty_required_role_is_refused(info, role):
    df, roles, options = _design(info)
    roles = replace(roles, **{role: () if role in LIST_ROLE_NAMES else None})
    with pytest.raises(cc.CausalInputError, match=f"needs at least one column in the '{role}' role|needs a '{role}'"):
        _estimate(df, roles, info, options)


@pytest.mark.parametrize("info", _infos())
def test_unknown_option_is_refused(info):
    df, roles, options = _design(info)
    with pytest.raises(cc.CausalInputError, match=f"Method '{info.id}' has no option\\(s\\) \\['bogus'\\]"):
        _estimate(df, roles, info, options, bogus=1)


def _bad_option_values(spec: cc.OptionSpec) -> list:
    if spec.kind == "int":
        return ["many", 2.5] + ([int(spec.high) + 1] if spec.high is not None else [])
    if spec.kind == "float":
        return ["big", math.nan, math.inf] + ([spec.high * 2 + 1] if spec.high is not None else [])
    if spec.kind == "bool":
        return ["yes"]
    if spec.kind == "choice":
        return ["no_such_choice"]
    if spec.kind == "model":
        return ["no_such_model", 42]
    return []


def _option_cases():
    cases = []
    for param in _infos():
        info = param.values[0]
        for spec in info.options:
            for value in _bad_option_values(spec):
                cases.append(pytest.param(info, spec.name, value, id=f"{info.id}-{spec.name}={value!r}"))
    return cases


@pytest.mark.parametrize("info, option, value", _option_cases())
def test_bad_option_value_is_refused_naming_the_option(info, option, value):
    df, roles, options = _design(info)
    with pytest.raises(cc.CausalInputError, match=f"'{option}'"):
        _estimate(df, roles, info, options, **{option: value})


def test_dr_learner_bad_final_model_names_final_model():
    df, roles, options = _design(cc.get_method("dr_learner"))
    with pytest.raises(cc.CausalInputError, match="'final_model' option of method 'dr_learner'"):
        _estimate(df, roles, cc.get_method("dr_learner"), options, final_model=42)


@pytest.mark.parametrize("info", _infos(binary=True, runs_method=True))
def test_boolean_and_labelled_treatments_match_zero_one(info):
    df, roles, options = _design(info)
    reference = _estimate(df, roles, info, options)
    as_bool = df.assign(**{roles.treatment: df[roles.treatment].astype(bool)})
    labelled = df.assign(**{roles.treatment: np.where(df[roles.treatment] == 1, "yes", "no")})
    before = labelled.copy(deep=True)
    r_bool = _estimate(as_bool, roles, info, options)
    r_label = _estimate(labelled, replace(roles, treated_level="yes"), info, options)
    pd.testing.assert_frame_equal(labelled, before)
    assert r_bool.estimate == pytest.approx(reference.estimate, rel=1e-9, abs=1e-12)
    assert r_label.estimate == pytest.approx(reference.estimate, rel=1e-9, abs=1e-12)
    assert r_label.std_error == pytest.approx(reference.std_error, rel=1e-9, abs=1e-12)
    with pytest.raises(cc.CausalInputError, match=f"Treatment column '{roles.treatment}' has values .* treated_level"):
        _estimate(labelled, roles, info, options)


@pytest.mark.parametrize("info", _infos(binary=True, runs_method=True))
def test_infinite_values_drop_rows_with_a_warning(info):
    df, roles, options = _design(info)
    column = roles.columns()[-1] if roles.confounders == () else roles.confounders[0]
    if not pd.api.types.is_float_dtype(df[column]):
        pytest.skip("no float column to corrupt")
    df.loc[df.index[:3], column] = np.inf
    result = _estimate(df, roles, info, options)
    assert np.isfinite(result.estimate) and np.isfinite(result.std_error)
    assert any("3 of" in w and "rows dropped" in w for w in result.warnings)


def test_compare_puts_every_error_in_its_row():
    df, roles, _ = _design(cc.get_method("ipw"))
    df[roles.treatment] = np.arange(len(df)) % 3
    methods = [info.id for info in cc.list_methods()]
    table = cc.compare(df, roles, methods + ["no_such_method"], options={"ipw": {"trim": "wide"}})
    assert list(table["method"]) == methods + ["no_such_method"]
    assert table["error"].map(lambda e: isinstance(e, str) and len(e) > 0).all()
    assert not table["error"].str.startswith("Unexpected failure").any()
    assert table["error"].iloc[-1].startswith("Unknown method 'no_such_method'")


@pytest.mark.parametrize("method, option", [("propensity_score_matching", "propensity_model"),
                                            ("front_door", "mechanism_model")])
def test_model_option_accepts_the_app_model_names(method, option):
    # the app offers MODEL_CHOICES for every "model" option without declared choices
    info = cc.get_method(method)
    df, roles, options = _design(info)
    result = _estimate(df, roles, info, {**options, "n_boot": 20} if method == "front_door" else options,
                       **{option: "gradient_boosting"})
    assert np.isfinite(result.estimate) and np.isfinite(result.std_error)
