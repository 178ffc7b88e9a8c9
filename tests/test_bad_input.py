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
from test_contract import _design_for

#: Tiny training settings so the torch methods only reach their checks.
TINY_TORCH = {
    "deep_iv": {"n_boot": 0, "epochs": 2, "hidden_units": 4, "n_draws": 2, "batch_size": 500},
    "cb_iv": {"n_boot": 0, "epochs": 2, "hidden_units": 4, "n_draws": 2, "batch_size": 500},
    "tarnet": {"epochs": 2, "hidden_units": 4},
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
        options = {**options, **info.cheap_options, **TINY_TORCH.get(info.id, {})}
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


# ---- seeds, dates, extreme magnitudes, numpy reprs (hardening issue, items 5, 6, 7, 9)

BAD_SEEDS = ["x", -1, 1.5, None, 2**70, True]
NUMPY_REPRS = ("np.int64(", "np.float64(", "np.str_(", "np.True_", "np.False_", "np.bool_(")


def _dates(n: int) -> pd.Series:
    return pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(n), unit="D"))


@pytest.mark.parametrize("info", _infos())
@pytest.mark.parametrize("seed", BAD_SEEDS, ids=repr)
def test_bad_seed_is_refused(info, seed):
    df, roles, options = _design(info)
    with pytest.raises(cc.CausalInputError, match=r"Option 'seed' must be a whole number from 0 to 4294967295 "
                                                  r"\(numpy, scikit-learn and torch .*\); got "):
        cc.estimate(df, roles, info.id, estimand=info.estimands[0], seed=seed, **options)


def test_seed_accepts_numpy_integers_and_the_largest_value():
    from causal_core.core.seeds import MAX_SEED, check_seed
    assert check_seed(np.int64(3)) == 3 and type(check_seed(np.uint32(7))) is int
    assert check_seed(MAX_SEED) == 2**32 - 1
    with pytest.raises(cc.CausalInputError, match="got 4294967296"):
        check_seed(MAX_SEED + 1)
    with pytest.raises(cc.CausalInputError, match="got -2\\.$"):
        check_seed(np.int64(-2))  # shown as a plain number


def _seeded_entry_points():
    from causal_core.studies.stable_learning import stable_fit
    df, roles, _ = _design(cc.get_method("ipw"))
    yield "compare", lambda seed: cc.compare(df, roles, ["ipw"], seed=seed)
    yield "refute", lambda seed: cc.refute(df, roles, "ipw", seed=seed)
    yield "method_lab", lambda seed: cc.method_lab(df, roles, ["ipw"], seed=seed)
    yield "stable_fit", lambda seed: stable_fit(df, "y", ["x1", "x2"], seed=seed)
    yield "fit_mix_prod", lambda seed: cc.fit_mix_prod(df, ["treat", "region"], seed=seed)
    yield "front_door_resample", lambda seed: cc.front_door_resample(df, "treat", "x1", ["x2"], seed=seed)


@pytest.mark.parametrize("entry, call", list(_seeded_entry_points()), ids=[e for e, _ in _seeded_entry_points()])
@pytest.mark.parametrize("seed", ["x", -1, 2**70], ids=repr)
def test_every_public_seed_is_checked(entry, call, seed):
    with pytest.raises(cc.CausalInputError, match="Option 'seed' must be a whole number"):
        call(seed)


@pytest.mark.parametrize("info", _infos())
def test_datetime_outcome_is_refused(info):
    df, roles, options = _design(info)
    df[roles.outcome] = _dates(len(df)).to_numpy()
    with pytest.raises(cc.CausalInputError,
                       match=f"Outcome column '{roles.outcome}' holds dates; convert it to a number \\(for example days"):
        _estimate(df, roles, info, options)


@pytest.mark.parametrize("info", _infos())
def test_datetime_treatment_is_refused(info):
    df, roles, options = _design(info)
    dates = _dates(len(df)).to_numpy()
    df[roles.treatment] = np.where(df[roles.treatment] == 1, dates[1], dates[0]) if info.treatment_kind == "binary" else dates
    with pytest.raises(cc.CausalInputError, match=f"Treatment column '{roles.treatment}' holds dates"):
        _estimate(df, roles, info, options)


def test_duration_instrument_is_refused():
    info = cc.get_method("two_stage_least_squares")
    df, roles, options = _design(info)
    column = roles.instruments[0]
    df[column] = pd.to_timedelta(np.arange(len(df)), unit="h")
    with pytest.raises(cc.CausalInputError, match=f"Instrument column '{column}' holds durations; convert it"):
        _estimate(df, roles, info, options)


def test_datetime_confounder_is_encoded_as_days_since_1970():
    from causal_core.core.data import prepare
    df, roles, _ = _design(cc.get_method("ipw"))
    column = roles.confounders[0]
    df[column] = _dates(len(df)).to_numpy()
    before = df.copy(deep=True)
    data = prepare(df, roles, cc.get_method("ipw"))
    pd.testing.assert_frame_equal(df, before)
    j = data.covariate_names.index(column)
    # 2020-01-01 is day 18262 after 1970-01-01 (50 years, 12 of them leap years)
    np.testing.assert_array_equal(data.X[:, j], 18262.0 + np.arange(len(df)))
    assert f"Confounder column '{column}' holds dates; it is used as days since 1970-01-01." in data.warnings


@pytest.mark.parametrize("info", [p for p in _infos(runs_method=True)
                                  if _design(p.values[0])[1].confounders])
def test_datetime_confounder_gives_a_warned_finite_answer(info):
    df, roles, options = _design(info)
    column = roles.confounders[0]
    df[column] = _dates(len(df)).to_numpy()
    result = _estimate(df, roles, info, options)
    assert np.isfinite(result.estimate) and np.isfinite(result.std_error)
    assert any(f"Confounder column '{column}' holds dates" in w for w in result.warnings)


def _magnitude_cases():
    cases = []
    for param in _infos():
        info = param.values[0]
        df, roles, _ = _design(info)
        cases.append(pytest.param(info, roles.outcome, "Outcome", id=f"{info.id}-outcome"))
        numeric = [c for c in roles.confounders if pd.api.types.is_float_dtype(df[c])]
        if numeric:
            cases.append(pytest.param(info, numeric[0], "Confounder", id=f"{info.id}-confounder"))
    return cases


@pytest.mark.parametrize("info, column, label", _magnitude_cases())
def test_values_whose_squares_overflow_are_refused(info, column, label):
    df, roles, options = _design(info)
    df[column] = df[column] * 1e300
    with pytest.raises(cc.CausalInputError,
                       match=f"{label} column '{column}' has values as large as .*e\\+30\\d in absolute value; rescale it"):
        _estimate(df, roles, info, options)


@pytest.mark.parametrize("method", ["d2vd", "approximate_residual_balancing", "regression_adjustment"])
def test_large_but_safe_outcome_scales_the_estimate(method):
    # lasso/elastic-net paths are equivariant in the outcome's scale: 1e100 * y gives 1e100 * the estimate
    info = cc.get_method(method)
    df, roles, options = _design(info)
    reference = _estimate(df, roles, info, options)
    scaled = _estimate(df.assign(**{roles.outcome: df[roles.outcome] * 1e100}), roles, info, options)
    assert scaled.estimate / 1e100 == pytest.approx(reference.estimate, rel=1e-4)
    assert scaled.std_error / 1e100 == pytest.approx(reference.std_error, rel=1e-4)


def test_non_finite_inference_is_an_error_or_a_warning():
    from causal_core.core.api import _checked_inference, _checked_point
    from causal_core.inference import Inference, analytic_inference, summarise_replicates
    from causal_core.core.results import MethodOutput
    with pytest.raises(cc.CausalInputError, match="Method 'ipw' gave a non-finite estimate \\(nan\\)"):
        _checked_point("ipw", MethodOutput(estimate=float("nan"), inference=analytic_inference(0.0, 1.0)))
    inference, notes = _checked_inference("ipw", analytic_inference(2.0, float("inf")))
    assert inference.estimate == 2.0 and math.isnan(inference.std_error)
    assert math.isnan(inference.ci_low) and math.isnan(inference.ci_high)
    assert notes and "could not compute a standard error" in notes[0]
    inference, notes = _checked_inference(
        "ipw", Inference(estimate=2.0, std_error=0.5, ci_low=float("nan"), ci_high=3.0, method="analytic"))
    assert inference.std_error == 0.5 and math.isnan(inference.ci_low) and math.isnan(inference.ci_high)
    assert "could not compute a confidence interval" in notes[0]
    inference, notes = _checked_inference("ipw", analytic_inference(2.0, 0.5))
    assert (inference.std_error, inference.ci_low, inference.ci_high, notes) == (
        0.5, 2.0 - 1.959963984540054 * 0.5, 2.0 + 1.959963984540054 * 0.5, ())
    with pytest.raises(cc.CausalInputError, match="Method 'ipw' could not bootstrap a standard error on this data: "
                                                  "1 of 3 replicates succeeded"):
        _checked_inference("ipw", summarise_replicates(2.0, [None, 1.0, None]))


def _numpy_valued_cases():
    """Cheap bad inputs whose values are numpy scalars, one group per method."""
    cases = []
    for param in _infos():
        info = param.values[0]
        cases.append(pytest.param(info, id=info.id))
    return cases


@pytest.mark.parametrize("info", _numpy_valued_cases())
def test_messages_show_plain_numbers(info):
    df, roles, options = _design(info)
    messages = []

    def collect(**extra):
        frame = extra.pop("df", df)
        call_roles = extra.pop("roles", roles)
        seed = extra.pop("seed", 1)
        with pytest.raises(cc.CausalInputError) as caught:
            cc.estimate(frame, call_roles, info.id, estimand=info.estimands[0], seed=seed, **{**options, **extra})
        messages.append(str(caught.value))

    collect(seed=np.int64(-1))
    collect(df=df.assign(**{roles.treatment: np.int64(1)}))
    if info.treatment_kind == "binary":
        collect(roles=replace(roles, treated_level=np.int64(5)))
    for spec in info.options:
        if spec.kind == "int" and spec.high is not None:
            collect(**{spec.name: np.int64(int(spec.high) + 1)})
        elif spec.kind == "float":
            collect(**{spec.name: np.float64("nan")})
        elif spec.kind == "bool":
            collect(**{spec.name: np.str_("yes")})
    leaks = [m for m in messages if any(r in m for r in NUMPY_REPRS)]
    assert not leaks, leaks


@pytest.mark.parametrize("method", ["dr_learner", "tarnet"])
def test_covariates_beyond_float32_are_refused(method):
    # tree models and torch hold features as 32-bit floats (largest about 3.4e38)
    info = cc.get_method(method)
    df, roles, options = _design(info)
    column = next(c for c in roles.confounders if pd.api.types.is_float_dtype(df[c]))
    df[column] = df[column] * 1e50
    with pytest.raises(cc.CausalInputError, match=f"Confounder column '{column}' has values as large as .*e\\+5\\d in "
                                                  "absolute value; rescale it .* 32-bit floats .*limit is 1e\\+38"):
        _estimate(df, roles, info, options)
