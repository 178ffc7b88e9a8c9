"""The registry's capability flags and option specs say what the methods actually do.

* Each flag agrees with the method's result on its contract design
  (``gives_weights`` exactly when ``weights`` is returned, and so on).
* Every documented option's default is the estimator function's own default
  (names and defaults, as scikit-learn's ``check_param_validation``).
* Every estimator module registers at least one method, so discovery cannot
  hide an empty or broken module.
"""
from __future__ import annotations

import inspect

import pytest

import causal_core as cc
from causal_core import estimators
from causal_core.datasets.simulate import linear_confounded
from causal_core.robustness.sensitivity.rosenbaum import matched_pair_differences
from test_contract import BACKDOOR_ROLES, _design_for

#: Settings that only make a neural method finish quickly; its result shape is all the flag test reads.
_TINY_TRAINING = {"epochs": 2, "hidden_units": 4, "n_draws": 2, "n_boot": 0}
#: Estimators that take ``**options`` and read every default from their OptionSpecs, so their
#: signature cannot disagree with the specs (the reason is checked below, not assumed).
_READS_DEFAULTS_FROM_SPECS = {
    "deep_iv": "iv_neural._settings fills every missing option from the OptionSpec default",
    "cb_iv": "iv_neural._settings fills every missing option from the OptionSpec default",
}
_CALL_ARGUMENTS = ("data", "estimand", "seed")


def _infos():
    return [pytest.param(info, id=info.id) for info in cc.list_methods()]


def _cheap_run(info: cc.MethodInfo) -> cc.EstimateResult:
    design = _design_for(info)
    assert design is not None, f"Method '{info.id}' has no contract design; add one to a tests/designs_*.py module."
    df, roles, _, options = design(0)
    options = {**options, **info.cheap_options}
    if info.needs_torch:
        declared = {o.name for o in info.options}
        options.update({k: v for k, v in _TINY_TRAINING.items() if k in declared})
    return cc.estimate(df, roles, info.id, estimand=info.estimands[0], seed=0, **options)


@pytest.mark.parametrize("info", _infos())
def test_result_flags_agree_with_what_the_method_returns(info: cc.MethodInfo):
    result = _cheap_run(info)
    assert info.gives_weights == (result.weights is not None), "gives_weights"
    assert info.gives_unit_effects == (result.unit_effects is not None), "gives_unit_effects"
    if info.explores_heterogeneity:  # the Heterogeneity page shows unit effects or subgroups
        assert result.unit_effects is not None or "subgroups" in result.diagnostics


@pytest.mark.parametrize("info", _infos())
def test_option_defaults_match_the_function_signature(info: cc.MethodInfo):
    parameters = inspect.signature(info.function).parameters
    specs = {o.name: o.default for o in info.options}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        assert info.id in _READS_DEFAULTS_FROM_SPECS, f"'{info.id}' takes **options; declare each as a keyword"
        return
    assert info.id not in _READS_DEFAULTS_FROM_SPECS, "stale entry"
    defaults = {name: p.default for name, p in parameters.items() if name not in _CALL_ARGUMENTS}
    assert set(defaults) == set(specs), "option names differ from the keyword parameters"
    for name, default in defaults.items():
        assert default == specs[name], f"option '{name}': signature {default!r}, OptionSpec {specs[name]!r}"


@pytest.mark.parametrize("info", _infos())
def test_cheap_test_options_are_accepted_values(info: cc.MethodInfo):
    """Each cheap setting is a declared option that passes its declared constraints (the one validator)."""
    from causal_core.core.options import option_value_problem
    specs = {o.name: o for o in info.options}
    for name, value in info.cheap_test_options:
        assert option_value_problem(info, specs[name], value) is None, name
    assert isinstance(info.cheap_options, dict) and info.cheap_options is not info.cheap_options  # a fresh copy


@pytest.mark.parametrize("module", estimators.ESTIMATOR_MODULES)
def test_every_estimator_module_registers_a_method(module: str):
    owners = {info.function.__module__ for info in cc.list_methods()}
    assert f"causal_core.estimators.{module}" in owners, f"estimators/{module.replace('.', '/')}.py registers no method"


def test_list_order_is_explicit_and_unique():
    methods = cc.list_methods()
    orders = [info.order for info in methods]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert methods[0].id == "difference_in_means"  # the baseline opens the app's method list


def test_each_identification_strategy_has_a_default_ticked_method():
    """Whatever roles the analyst fills, the Estimate page starts with one of that strategy's methods ticked."""
    strategies = {info.required_roles for info in cc.list_methods()}
    ticked = {info.required_roles for info in cc.list_methods() if info.default_ticked}
    assert strategies == ticked
    assert not any(info.default_ticked and info.needs_torch for info in cc.list_methods())


def test_ovb_flag_drives_the_sensitivity_report():
    df, _ = linear_confounded(n=400, seed=1)
    for method_id in ("regression_adjustment", "ipw"):
        result = cc.estimate(df, BACKDOOR_ROLES, method_id, estimand="ATE", seed=0)
        report = cc.sensitivity_for_result(df, BACKDOOR_ROLES, result)
        assert (report.ovb is not None) == cc.get_method(method_id).ovb_applicable


@pytest.mark.parametrize("info", [p for p in _infos() if not p.values[0].forms_matched_pairs])
def test_rosenbaum_pairs_are_refused_for_methods_without_matched_pairs(info: cc.MethodInfo):
    df, _ = linear_confounded(n=100, seed=1)
    with pytest.raises(cc.CausalInputError, match="nearest_neighbor_matching, propensity_score_matching"):
        matched_pair_differences(df, BACKDOOR_ROLES, info.id, estimand="ATT")
