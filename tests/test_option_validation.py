"""The one option validator: every declared constraint is checked once, before the method runs."""
from __future__ import annotations

import ast
import math
import pathlib
import time

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core import estimators
from causal_core.core.options import (
    MIN_BOOTSTRAP_REPLICATES,
    n_boot_option,
    option_value_problem,
    validate_options,
)

ESTIMATORS_DIR = pathlib.Path(estimators.__file__).parent
#: Any table and roles: static checks run before the data are even prepared.
ANY_FRAME = pd.DataFrame({"t": [0, 1, 0, 1], "y": [0.0, 1.0, 2.0, 3.0], "x": [1.0, 2.0, 3.0, 4.0]})
ANY_ROLES = cc.Roles(treatment="t", outcome="y", confounders=("x",))


def _step(value: float) -> float:
    return max(abs(value) * 1e-6, 1e-9)


def _bad_values(spec: cc.OptionSpec) -> list[tuple[str, object]]:
    """Values just outside each bound, of the wrong type, NaN, None (where not allowed), an unknown choice."""
    bad: list[tuple[str, object]] = [("nan", float("nan"))]
    if spec.kind in ("int", "float"):
        bad.append(("text", "text"))
        bad.append(("bool", True))
        if spec.low is not None:
            below = spec.low if not spec.low_inclusive else (spec.low - 1 if spec.kind == "int" else spec.low - _step(spec.low))
            bad.append(("below low", int(below) if spec.kind == "int" else float(below)))
        if spec.high is not None:
            above = spec.high if not spec.high_inclusive else (spec.high + 1 if spec.kind == "int" else spec.high + _step(spec.high))
            bad.append(("above high", int(above) if spec.kind == "int" else float(above)))
        if spec.kind == "int":
            bad.append(("float for int", 3.5))
    elif spec.kind == "bool":
        bad += [("text", "yes"), ("int for bool", 1)]
    else:
        bad += [("unknown choice", "no_such_choice"), ("wrong type", 42), ("object", object())]
    if not spec.accepts_none:
        bad.append(("None", None))
    return [(label, value) for label, value in bad if not any(
        type(value) is type(extra) and value == extra for extra in spec.also)]


def _cases():
    for info in cc.list_methods():
        for spec in info.options:
            for label, value in _bad_values(spec):
                yield pytest.param(info.id, spec.name, value, id=f"{info.id}-{spec.name}-{label}")


@pytest.mark.parametrize("method, option, value", list(_cases()))
def test_every_bad_value_is_refused_before_the_method_runs(method, option, value):
    info = cc.get_method(method)
    with pytest.raises(cc.CausalInputError, match=f"^The '{option}' option of method '{method}' must be ") as direct:
        validate_options(info, {option: value})
    start = time.perf_counter()
    with pytest.raises(cc.CausalInputError) as through_estimate:
        cc.estimate(ANY_FRAME, ANY_ROLES, method, estimand=info.estimands[0], **{option: value})
    assert time.perf_counter() - start < 1.0  # refused before prepare() and before the (possibly slow) method
    assert str(through_estimate.value) == str(direct.value)
    assert str(direct.value).endswith(".") and "; got " in str(direct.value)


@pytest.mark.parametrize("info", cc.list_methods(), ids=lambda info: info.id)
def test_declared_defaults_and_cheap_settings_pass(info):
    for spec in info.options:
        assert option_value_problem(info, spec, spec.default) is None, spec.name
    validate_options(info, {spec.name: spec.default for spec in info.options})
    validate_options(info, info.cheap_options)


def test_unknown_option_names_are_refused():
    with pytest.raises(cc.CausalInputError, match=r"Method 'ipw' has no option\(s\) \['trimm'\]; its options are"):
        cc.estimate(ANY_FRAME, ANY_ROLES, "ipw", trimm=0.1)


def test_the_message_shape_names_option_method_rule_and_value():
    ipw = cc.get_method("ipw")
    spec = {o.name: o for o in ipw.options}["trim"]
    assert option_value_problem(ipw, spec, 0.495) == "The 'trim' option of method 'ipw' must be a number from 0 to 0.49; got 0.495."
    shadow = cc.get_method("shadow_variable")
    n_boot = {o.name: o for o in shadow.options}["n_boot"]
    assert option_value_problem(shadow, n_boot, 0) is None
    assert option_value_problem(shadow, n_boot, 5) == (
        "The 'n_boot' option of method 'shadow_variable' must be 0 (the jackknife) or an integer from 20 to 5000; got 5.")


def test_validation_leaves_the_options_untouched():
    options = {"trim": 0.1, "clip": 0.0}
    validate_options(cc.get_method("ipw"), options)
    assert options == {"trim": 0.1, "clip": 0.0}


def test_every_bootstrap_option_follows_the_one_rule():
    shared = n_boot_option(100)
    assert (shared.low, shared.high, shared.also) == (MIN_BOOTSTRAP_REPLICATES, 5000, ())
    assert n_boot_option(0, allow_zero=True).also == (0,)
    for info in cc.list_methods():
        for spec in info.options:
            if spec.name == "n_boot":
                assert (spec.low, spec.high) == (MIN_BOOTSTRAP_REPLICATES, 5000), info.id
                assert spec.also in ((), (0,)), info.id


# ------------------------------------------------------------------ data rules, before the method


def _two_arms(n_treated: int, n_control: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.r_[np.ones(n_treated), np.zeros(n_control)]
    x = rng.normal(size=t.size) + 0.5 * t
    return pd.DataFrame({"t": t.astype(int), "x": x, "y": x + t + rng.normal(size=t.size)})


def test_k_above_the_smaller_arm_is_refused_with_the_counts():
    df = _two_arms(70, 30)
    with pytest.raises(cc.CausalInputError, match=(
            r"^The 'n_neighbors' option of method 'nearest_neighbor_matching' must be at most 29, one fewer than "
            r"the 30 rows of the smaller \(control\) arm; got 30\.$")):
        cc.estimate(df, ANY_ROLES, "nearest_neighbor_matching", estimand="ATT", n_neighbors=30)
    assert cc.estimate(df, ANY_ROLES, "nearest_neighbor_matching", estimand="ATT", n_neighbors=29).n_used > 0


def test_n_folds_above_the_smaller_arm_is_refused_with_the_counts():
    df = _two_arms(15, 185)
    with pytest.raises(cc.CausalInputError, match=(
            r"^The 'n_folds' option of method 'doubly_robust' must be at most 15, the rows of the smaller "
            r"\(treated\) arm; got 18\.$")):
        cc.estimate(df, ANY_ROLES, "doubly_robust", cross_fit=True, n_folds=18)
    cc.estimate(df, ANY_ROLES, "doubly_robust", cross_fit=False, n_folds=18)  # the rule holds only when cross-fitting


def test_data_rules_apply_to_defaults_too():
    df = _two_arms(20, 20)
    with pytest.raises(cc.CausalInputError, match=(
            r"^The 'n_folds' option of method 'd2vd' must be at most 4 \(one per 10 of the 40 rows\); got 5\.$")):
        cc.estimate(df, ANY_ROLES, "d2vd")


def test_data_rules_are_checked_on_prepared_data_directly():
    from causal_core.core.data import prepare
    info = cc.get_method("gmm_subgroups")
    data = prepare(_two_arms(6, 6), ANY_ROLES, info)
    validate_options(info, {"n_components": 12}, data)
    with pytest.raises(cc.CausalInputError, match="'n_components' option of method 'gmm_subgroups' must be at most 12"):
        validate_options(info, {"n_components": 13}, data)


def test_ipw_trim_just_above_its_bound_is_refused_before_running():
    df = _two_arms(20_000, 20_000)
    start = time.perf_counter()
    with pytest.raises(cc.CausalInputError) as refused:
        cc.estimate(df, ANY_ROLES, "ipw", trim=0.495)
    assert time.perf_counter() - start < 1.0
    assert str(refused.value) == "The 'trim' option of method 'ipw' must be a number from 0 to 0.49; got 0.495."


# ------------------------------------------------------------------ no second validator


def _raised_texts(node: ast.AST) -> list[str]:
    """The literal text of every ``raise CausalInputError(...)`` message under ``node``."""
    texts = []
    for raise_node in (n for n in ast.walk(node) if isinstance(n, ast.Raise)):
        call = raise_node.exc
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "CausalInputError":
            texts.append(" ".join(c.value for c in ast.walk(call) if isinstance(c, ast.Constant)
                                  and isinstance(c.value, str)))
    return texts


@pytest.mark.parametrize("path", sorted(ESTIMATORS_DIR.rglob("*.py")), ids=lambda p: p.relative_to(ESTIMATORS_DIR).as_posix())
def test_no_estimator_checks_option_values_itself(path):
    tree = ast.parse(path.read_text())
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        if function.name.startswith("_check"):
            for text in _raised_texts(function):
                assert "option" not in text.lower(), f"{path}:{function.name} checks an option: {text!r}"
    for text in _raised_texts(tree):
        lowered = text.lower()
        assert not ("option" in lowered and "must be" in lowered), f"{path} re-validates an option: {text!r}"
