"""Identification strategies and method availability from roles."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.datasets.suggestions import looks_like_identifier, suggest_roles
from causal_core.diagnostics.identification import identify, method_availability, treatment_kind_of


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame({
        "id": np.arange(n), "t": rng.integers(0, 2, n), "dose": rng.normal(size=n), "arm": rng.choice(list("abc"), n),
        "y": rng.normal(size=n), "x1": rng.normal(size=n), "x2": rng.normal(size=n), "z": rng.normal(size=n),
        "m": rng.normal(size=n), "p": rng.normal(size=n), "s": rng.integers(0, 2, n), "w": rng.normal(size=n),
    })


@pytest.mark.parametrize("values, kind", [
    ([0, 1, 1, 0], "binary"), (["a", "b", "a", "b"], "binary"), ([1.0, 2.5, 3.1, 0.2], "continuous"),
    (["a", "b", "c", "a"], "categorical"), ([1, 1, 1, None], "constant"), ([True, False, True, True], "binary"),
])
def test_treatment_kind_of(values, kind):
    assert treatment_kind_of(pd.Series(values)) == kind


@pytest.mark.parametrize("extra, strategy", [
    ({}, "randomised"),
    ({"confounders": ("x1", "x2")}, "back_door"),
    ({"instruments": ("z",)}, "instrument"),
    ({"mechanisms": ("m",)}, "front_door"),
    ({"selection": "s"}, "selection"),
    ({"proxies": ("p",)}, "latent_confounder"),
])
def test_identify_names_the_strategy(frame, extra, strategy):
    result = identify(cc.Roles(treatment="t", outcome="y", **extra), frame)
    assert [s.id for s in result.strategies] == [strategy]
    assert result.treatment_kind == "binary"


def test_identify_lists_several_strategies_in_a_stable_order(frame):
    roles = cc.Roles(treatment="t", outcome="y", confounders=("x1",), instruments=("z",), proxies=("p",))
    assert [s.id for s in identify(roles, frame).strategies] == ["instrument", "latent_confounder", "back_door"]


def test_available_methods_follow_required_roles_and_treatment_kind(frame):
    roles = cc.Roles(treatment="t", outcome="y", confounders=("x1", "x2"))
    result = identify(roles, frame)
    methods = {info.id: info for info in cc.list_methods()}
    for method_id, info in methods.items():
        required = [r for r in info.required_roles if r not in ("treatment", "outcome")]
        runnable = all(getattr(roles, r) for r in required)
        assert (method_id in result.available_methods) == runnable, method_id
        if not runnable:
            assert "Needs a column in the" in result.unavailable[method_id]
    assert "difference_in_means" in result.available_methods
    assert set(result.available_methods).isdisjoint(result.unavailable)
    assert set(result.available_methods) | set(result.unavailable) == set(methods)


def test_continuous_treatment_excludes_binary_methods(frame):
    result = identify(cc.Roles(treatment="dose", outcome="y", confounders=("x1",), instruments=("z",)), frame)
    assert result.treatment_kind == "continuous"
    assert "difference_in_means" not in result.available_methods
    assert "exactly two values" in result.unavailable["difference_in_means"]
    for method_id in result.available_methods:
        assert cc.get_method(method_id).treatment_kind == "continuous"
    assert any("continuous" in note for note in result.notes)


def test_text_treatment_with_three_levels_gets_a_recode_note(frame):
    result = identify(cc.Roles(treatment="arm", outcome="y", confounders=("x1",)), frame)
    assert result.treatment_kind == "categorical"
    assert result.available_methods == ()
    assert any("recode" in note for note in result.notes)


def test_method_availability_reason_names_missing_roles():
    info = cc.MethodInfo(id="demo", label="Demo", family="Demo", required_roles=("instruments", "selection"),
                         estimands=("ATE",), summary="", reference="")
    reason = method_availability(info, cc.Roles(treatment="t", outcome="y"), "binary")
    assert reason == "Needs a column in the 'instruments' and 'selection' role."


def test_identify_rejects_unknown_treatment(frame):
    with pytest.raises(cc.CausalInputError, match="Column 'nope' given as treatment is not in the data"):
        identify(cc.Roles(treatment="nope", outcome="y"), frame)


def test_identify_does_not_modify_data(frame):
    before = frame.copy()
    identify(cc.Roles(treatment="t", outcome="y", confounders=("x1",)), frame)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("name, values, expected", [
    ("id", list(range(30)), True), ("SEQN", list(range(30)), True), ("patient_id", [1.5] * 30, True),
    ("code", [f"c{i}" for i in range(30)], True), ("x", list(np.linspace(0, 1, 30)), False),
    ("age", [20 + i % 5 for i in range(30)], False),
])
def test_looks_like_identifier(name, values, expected):
    assert looks_like_identifier(pd.Series(values, name=name)) is expected


def test_suggest_roles_offers_binary_treatments_and_excludes_identifiers(frame):
    suggestions = suggest_roles(frame)
    assert suggestions.identifiers == ("id",)
    assert set(suggestions.treatment) == {"t", "s"}
    assert "id" not in suggestions.confounders and "id" not in suggestions.outcome
    assert "arm" not in suggestions.outcome
