"""Hostile analysis files: load_analysis refuses each with one sentence, and the Data page keeps the analysis."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import causal_core as cc
from causal_core.datasets.samples import load_sample
from causal_core.report.analysis_file import AnalysisSpec, dump_analysis, load_analysis
from causal_core.report.analysis_schema import ANALYSIS_FILE_SCHEMA, MAX_FILE_BYTES, MAX_NESTING

ROOT = Path(__file__).resolve().parents[1]
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=("x1", "x2"))
METHODS = ["difference_in_means", "ipw", "regression_adjustment"]


@pytest.fixture(scope="module")
def valid_text() -> str:
    spec = AnalysisSpec.from_data(
        load_sample("simulated_linear"), data_name="simulated_linear", roles=ROLES, estimand="ATE",
        methods=METHODS, method_options={"ipw": {"trim": 0.01}, "regression_adjustment": {"n_boot": 50}},
        seed=7, app_version="0.1.0",
    )
    return dump_analysis(spec)


def _edited(text: str, edit) -> str:
    document = json.loads(text)
    edit(document)
    return json.dumps(document)


def _set(*path_and_value):
    *path, key, value = path_and_value

    def edit(document):
        node = document
        for part in path:
            node = node[part]
        node[key] = value
    return edit


HOSTILE = {
    "seed -5": (_set("seed", -5), r"'seed'.*non-negative integer below 2\*\*32.*; got -5\."),
    "seed 2**60": (_set("seed", 2**60), r"'seed'.*below 2\*\*32.*got 1152921504606846976"),
    "seed 1.5": (_set("seed", 1.5), r"'seed'.*integer.*got 1\.5"),
    "seed 1.0": (_set("seed", 1.0), r"'seed'.*integer.*got 1\.0"),
    "seed text": (_set("seed", "x"), r"'seed'.*integer.*got 'x'"),
    "trim text": (_set("method_options", "ipw", "trim", "abc"), r"'trim' option of method 'ipw'.*got 'abc'"),
    "trim too large": (_set("method_options", "ipw", "trim", 0.9), r"'trim' option of method 'ipw'.*0\.49"),
    "n_boot -5": (_set("method_options", "regression_adjustment", "n_boot", -5),
                  r"'n_boot' option of method 'regression_adjustment'.*integer.*got -5"),
    "n_boot float": (_set("method_options", "regression_adjustment", "n_boot", 50.0), r"'n_boot'.*integer"),
    "bool option as 1": (_set("method_options", "regression_adjustment", "interactions", 1),
                         r"'interactions'.*True or False"),
    "model not a choice": (_set("method_options", "ipw", "propensity_model", "svm"),
                           r"'propensity_model' option of method 'ipw' must be one of"),
    "unknown method": (_set("methods", METHODS + ["no_such_method"]), "Unknown method"),
    "method twice": (_set("methods", METHODS + ["ipw"]), "lists a method twice"),
    "unknown option": (_set("method_options", "ipw", "colour", 3), r"no option\(s\) \['colour'\]"),
    "wrong estimand": (_set("estimand", "LATE"), "does not estimate the LATE"),
    "estimand not a word": (_set("estimand", "ATE; rm"), "'estimand'"),
    "role column not a string": (_set("roles", "confounders", ["x1", 3]), r"'roles\.confounders\.1'.*column name"),
    "role column missing": (_set("roles", "outcome", "nope"), "not among its data columns"),
    "unknown field": (_set("payload", "x"), r"unknown field\(s\) \['payload'\]"),
    "app_version newline": (_set("app_version", "1.0\nimport os"), r"'app_version'.*version"),
    "app_version quotes": (_set("app_version", '1.0" + "x'), r"'app_version'.*version"),
    "app_version triple quotes": (_set("app_version", '"""; import os; """'), r"'app_version'.*version"),
    "engine_version long": (_set("engine_version", "1" * 500), r"'engine_version'.*version"),
    "data name newline": (_set("data", "name", "a\nb.csv"), r"'data\.name'.*printable"),
    "data name triple quotes": (_set("data", "name", 'a""".csv'), r"'data\.name'.*double quotes"),
    "data name long": (_set("data", "name", "a" * 1000), r"'data\.name'.*255"),
    "n_rows negative": (_set("data", "n_rows", -1), r"'data\.n_rows'.*non-negative"),
    "refutation repeats huge": (_set("robustness", "refutations", [
        {"method": "ipw", "tests": ["placebo_treatment"], "n_repeats": 10**9}]), r"n_repeats.*at most 10,000"),
    "lab effect huge": (_set("robustness", "method_lab", {
        "methods": ["ipw"], "scenario": "linear", "effect": 1e300, "confounding": 1.0, "n_replications": 10}),
        r"method_lab\.effect.*finite number between"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_field_is_refused_with_one_sentence(valid_text, case):
    edit, message = HOSTILE[case]
    with pytest.raises(cc.CausalInputError, match=message) as caught:
        load_analysis(_edited(valid_text, edit))
    assert "\n" not in str(caught.value) and str(caught.value).endswith(".")  # one sentence


RAW_FILES = {
    "deep nesting": ("[" * 100_000, f"nests lists or objects 100000 deep.*at most {MAX_NESTING}"),
    "deep nesting inside a field": (None, "nests lists or objects"),
    "5000-digit integer": (None, "integer of 5000 digits"),
    "huge float": (None, "finite"),
    "NaN": (None, "NaN.*finite"),
    "10 MB file": (None, f"at most {MAX_FILE_BYTES:,} bytes"),
    "non-UTF-8 bytes": (b'{"format": "causal-workbench-analysis", "x": "\xff\xfe"}', "not UTF-8"),
    "not JSON": ('{"format": ', "not valid JSON"),
    "a list": ("[1, 2]", "not an analysis saved by the workbench"),
}


def _raw(case: str, valid_text: str) -> bytes | str:
    raw, _ = RAW_FILES[case]
    if raw is not None:
        return raw
    if case == "deep nesting inside a field":
        return valid_text.replace('"seed": 7', '"seed": ' + "[" * 5000 + "]" * 5000)
    if case == "5000-digit integer":
        return valid_text.replace('"seed": 7', '"seed": ' + "9" * 5000)
    if case == "huge float":
        return valid_text.replace('"trim": 0.01', '"trim": 1e400')
    if case == "NaN":
        return valid_text.replace('"trim": 0.01', '"trim": NaN')
    if case == "10 MB file":
        return valid_text.replace('"0.1.0"', '"0.1.0", "padding": "' + "x" * 10_000_000 + '"').encode()
    raise AssertionError(case)


@pytest.mark.parametrize("case", list(RAW_FILES))
def test_hostile_file_is_refused_before_or_while_parsing(valid_text, case):
    raw = _raw(case, valid_text)
    assert raw != valid_text
    with pytest.raises(cc.CausalInputError, match=RAW_FILES[case][1]):
        load_analysis(raw)


def test_valid_files_still_load(valid_text):
    spec = load_analysis(valid_text)
    assert spec.seed == 7 and spec.method_options["ipw"] == {"trim": 0.01}
    assert load_analysis(valid_text.encode("utf-8")) == spec
    version_1 = _edited(valid_text, lambda d: (d.pop("robustness"), d.update(format_version=1)))
    assert load_analysis(version_1).methods == tuple(METHODS)
    largest = _edited(valid_text, _set("seed", 2**32 - 1))
    assert load_analysis(largest).seed == 2**32 - 1


@pytest.mark.parametrize("info", cc.list_methods(), ids=lambda info: info.id)
def test_every_methods_default_options_round_trip(info):
    """What the Estimate page saves (every option at its default) loads back unchanged."""
    columns = ["t", "y", "x", "z", "m", "p", "g", "s", "w"]
    roles = cc.Roles(treatment="t", outcome="y")
    defaults = {spec.name: spec.default for spec in info.options}
    spec = AnalysisSpec(data_name="d.csv", n_rows=10, columns=tuple(columns), data_sha256="0" * 64, roles=roles,
                        estimand=info.estimands[0], methods=(info.id,), method_options={info.id: defaults})
    assert load_analysis(dump_analysis(spec)) == spec


def test_every_schema_node_states_its_rule():
    """Each schema node that can fail has an ``x-rule``, so every violation reads as one sentence."""
    missing = []

    def walk(node, path):
        if not isinstance(node, dict):
            return
        if any(k in node for k in ("type", "enum", "const", "pattern")) and "x-rule" not in node:
            missing.append(path)
        for key in ("properties",):
            for name, child in node.get(key, {}).items():
                walk(child, f"{path}.{name}")
        for key in ("items", "additionalProperties", "propertyNames"):
            walk(node.get(key), f"{path}[{key}]")

    walk(ANALYSIS_FILE_SCHEMA, "")
    assert missing == []


# --- the Data page ------------------------------------------------------------------------------------------


def test_data_page_refuses_hostile_files_and_keeps_the_analysis(valid_text):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.selectbox(key="data_sample").set_value("simulated_linear").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/2_Roles.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("pages/4_Estimate.py").run()
    for info in cc.list_methods():
        box = at.checkbox(key=f"est_use_{info.id}")
        if not box.disabled:
            box.set_value(info.id == "difference_in_means")
    at.run()
    at.button(key="est_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    before = {key: at.session_state[key] for key in ("dataset", "roles", "estimand", "methods", "seed", "results")}
    before_options = dict(at.session_state["method_options"])
    assert before["roles"] is not None and before["results"] is not None

    hostile = {
        "seed.json": _edited(valid_text, _set("seed", -5)).encode(),
        "trim.json": _edited(valid_text, _set("method_options", "ipw", "trim", "abc")).encode(),
        "boot.json": _edited(valid_text, _set("method_options", "regression_adjustment", "n_boot", -5)).encode(),
        "deep.json": b"[" * 100_000,
        "digits.json": valid_text.replace('"seed": 7', '"seed": ' + "9" * 5000).encode(),
    }
    at.switch_page("pages/1_Data.py").run()
    for name, content in hostile.items():
        at.file_uploader(key="data_restore").set_value((name, content, "application/json")).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        assert any(name in e.value and "Nothing was changed" in e.value for e in at.error), (name, at.error)
        for key, value in before.items():
            assert at.session_state[key] is value or at.session_state[key] == value, (name, key)
        assert at.session_state["method_options"] == before_options, name

    at.switch_page("pages/4_Estimate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.button(key="est_run") is not None and not at.button(key="est_run").disabled
    assert at.session_state["results"] is before["results"]
