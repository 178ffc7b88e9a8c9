"""Report and export: chart files, results tables, the analysis file, the reproduction script and the HTML report."""
from __future__ import annotations

import html
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import plotly.graph_objects as go
import pytest

import causal_core as cc
from causal_core.report import (
    AnalysisSpec,
    StaticExportError,
    analysis_figures,
    build_html_report,
    data_fingerprint,
    data_mismatches,
    dump_analysis,
    figure_to_html,
    figure_to_png,
    figure_to_svg,
    load_analysis,
    report_robustness,
    reproduction_script,
    results_table_csv,
    results_table_xlsx,
    static_export_problem,
)
from causal_core.report import static_export
from causal_core.report.method_diagnostics import HEAD_ROWS, TAIL_ROWS, diagnostics_html, frame_html
from causal_core.report.robustness_settings import (
    MethodLabSettings,
    RefutationSettings,
    method_lab_settings,
    refutation_settings,
)
from causal_core.datasets.simulate import linear_confounded
from causal_core.datasets.table_reader import read_table

ROOT = Path(__file__).resolve().parents[1]
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
METHODS = ("difference_in_means", "nearest_neighbor_matching", "propensity_score_matching")
OPTIONS = {"nearest_neighbor_matching": {"n_neighbors": 2}}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

needs_chromium = pytest.mark.skipif(static_export_problem() is not None, reason=str(static_export_problem()))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return linear_confounded(n=600, seed=3)[0]


@pytest.fixture(scope="module")
def table(data) -> pd.DataFrame:
    return cc.compare(data, ROLES, methods=METHODS, estimand="ATE", seed=4, options=OPTIONS)


@pytest.fixture(scope="module")
def spec(data) -> AnalysisSpec:
    return AnalysisSpec.from_data(
        data, data_name="trial.csv", roles=ROLES, estimand="ATE", methods=METHODS,
        method_options=OPTIONS, seed=4, app_version="test",
    )


def _figure() -> go.Figure:
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[2.0, 1.0, 3.0], mode="markers", name="points"))
    fig.update_layout(title="A test chart", width=500, height=350)
    return fig


# --- static chart export -------------------------------------------------------------------------


@needs_chromium
def test_figure_to_png_returns_png_bytes():
    png = figure_to_png(_figure(), scale=1)
    assert png[:8] == PNG_SIGNATURE
    # IHDR holds width and height as big-endian integers at bytes 16..24
    assert int.from_bytes(png[16:20], "big") == 500
    assert int.from_bytes(png[20:24], "big") == 350


@needs_chromium
def test_figure_to_svg_parses_as_svg_xml():
    svg = figure_to_svg(_figure())
    assert svg.lstrip().startswith(b"<svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "A test chart" in svg.decode("utf-8")


def test_static_export_without_browser_raises_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(static_export, "DEFAULT_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "Chromium" in static_export_problem()
    with pytest.raises(StaticExportError, match="needs Chromium"):
        figure_to_png(_figure())
    with pytest.raises(cc.CausalInputError, match="needs Chromium"):
        figure_to_svg(_figure())


def test_figure_export_rejects_non_figure():
    with pytest.raises(cc.CausalInputError, match="plotly Figure"):
        figure_to_html("not a figure")


def test_figure_to_html_is_interactive_and_offline():
    page = figure_to_html(_figure(), title="Chart")
    assert "<html" in page[:200] and page.rstrip().endswith("</html>")
    assert "<title>Chart</title>" in page
    assert "Plotly.newPlot" in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.IGNORECASE)


# --- results tables ------------------------------------------------------------------------------


def test_results_csv_round_trips(table):
    back = pd.read_csv(io.BytesIO(results_table_csv(table)))
    assert list(back["method"]) == list(METHODS)
    assert back["label"].str.len().gt(0).all()
    for column in ("estimate", "std_error", "ci_low", "ci_high"):
        assert back[column].tolist() == pytest.approx(table[column].tolist(), rel=1e-15)


def test_results_xlsx_opens_with_openpyxl_and_has_one_row_per_method(table, spec):
    book = openpyxl.load_workbook(io.BytesIO(results_table_xlsx(table, spec=spec)))
    assert book.sheetnames == ["Results", "Analysis"]
    rows = list(book["Results"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == len(METHODS)
    assert header[:3] == ("method", "label", "estimand")
    estimate_at = header.index("estimate")
    for row, (_, expected) in zip(body, table.iterrows()):
        assert row[0] == expected["method"]
        assert row[estimate_at] == pytest.approx(expected["estimate"], rel=1e-15)
    analysis = dict(book["Analysis"].iter_rows(min_row=2, values_only=True))
    assert analysis["data sha256"] == spec.data_sha256
    assert analysis["role: treatment"] == "treat"


def test_results_xlsx_lists_robustness_settings(table, robust_spec):
    book = openpyxl.load_workbook(io.BytesIO(results_table_xlsx(table, spec=robust_spec)))
    analysis = dict(book["Analysis"].iter_rows(min_row=2, values_only=True))
    assert analysis["refutation tests: nearest_neighbor_matching"] == "placebo_treatment, data_subset; 5 repetitions each"
    assert "scenario nonlinear" in analysis["method lab"] and "20 replications" in analysis["method lab"]


def test_results_table_rejects_table_without_method_column():
    with pytest.raises(cc.CausalInputError, match="'method' column"):
        results_table_csv(pd.DataFrame({"estimate": [1.0]}))


# --- analysis file -------------------------------------------------------------------------------


ROBUST_SPEC_SETTINGS = dict(
    refutations=(RefutationSettings("nearest_neighbor_matching", ("placebo_treatment", "data_subset"), 5),),
    method_lab=MethodLabSettings(("ipw", "difference_in_means"), "nonlinear", 0.5, 1.25, 20),
)


@pytest.fixture(scope="module")
def robust_spec(data) -> AnalysisSpec:
    return AnalysisSpec.from_data(
        data, data_name="trial.csv", roles=ROLES, estimand="ATE", methods=METHODS,
        method_options=OPTIONS, seed=4, app_version="test", **ROBUST_SPEC_SETTINGS,
    )


def test_analysis_file_round_trips(spec):
    text = dump_analysis(spec)
    assert json.loads(text)["format_version"] == 2
    assert load_analysis(text) == spec
    assert load_analysis(text.encode("utf-8")) == spec
    assert load_analysis(b"\xef\xbb\xbf" + text.encode("utf-8")) == spec  # a BOM added by an editor


def test_analysis_file_keeps_robustness_settings(robust_spec):
    document = json.loads(dump_analysis(robust_spec))
    assert document["robustness"]["refutations"] == [
        {"method": "nearest_neighbor_matching", "tests": ["placebo_treatment", "data_subset"], "n_repeats": 5}
    ]
    assert document["robustness"]["method_lab"]["scenario"] == "nonlinear"
    assert load_analysis(json.dumps(document)) == robust_spec


#: An analysis file as format version 1 wrote it (before the robustness settings existed).
VERSION_1_FILE = """{
  "format": "causal-workbench-analysis",
  "format_version": 1,
  "app_version": "0.1.0",
  "engine_version": "0+unknown",
  "data": {"name": "simulated_linear", "n_rows": 2000, "columns": ["x1", "x2", "x3", "x4", "region", "treat", "y"],
           "sha256": "0daebb5841419c73e3d14ca5e791f226bddb07331c3a7dd4932424601de6f3b1"},
  "roles": {"treatment": "treat", "outcome": "y", "confounders": ["x1", "x2"], "instruments": [], "mechanisms": [],
            "proxies": [], "subgroups": [], "selection": null, "shadow": null, "treated_level": null},
  "estimand": "ATT",
  "methods": ["difference_in_means", "nearest_neighbor_matching"],
  "method_options": {"nearest_neighbor_matching": {"n_neighbors": 3}},
  "seed": 7
}"""


def test_version_1_analysis_file_still_loads():
    spec = load_analysis(VERSION_1_FILE)
    assert spec.methods == ("difference_in_means", "nearest_neighbor_matching")
    assert spec.method_options == {"nearest_neighbor_matching": {"n_neighbors": 3}}
    assert spec.roles.confounders == ("x1", "x2") and spec.estimand == "ATT" and spec.seed == 7
    assert spec.refutations == () and spec.method_lab is None
    assert json.loads(dump_analysis(spec))["format_version"] == 2  # saved again in the current format


def test_robustness_settings_are_read_back_from_results(data):
    tests = cc.refute(data, ROLES, "difference_in_means", tests=["dummy_outcome", "placebo_treatment"], n_repeats=2,
                      seed=4)
    assert refutation_settings("difference_in_means", tests) == RefutationSettings(
        "difference_in_means", ("dummy_outcome", "placebo_treatment"), 2)
    lab = cc.method_lab(data, ROLES, ["ipw", "difference_in_means"], scenario="heterogeneous", effect=0.25,
                        confounding=0.5, n_replications=2, seed=4)
    settings = method_lab_settings(lab)
    assert (set(settings.methods), settings.scenario, settings.effect, settings.confounding, settings.n_replications) \
        == ({"ipw", "difference_in_means"}, "heterogeneous", 0.25, 0.5, 2)


def test_analysis_file_keeps_treated_level_and_other_roles(data):
    roles = cc.Roles(treatment="region", outcome="y", confounders=["x1"], subgroups=["x4"], treated_level="south")
    spec = AnalysisSpec.from_data(data, data_name="d", roles=roles, estimand="ATT", methods=["difference_in_means"])
    assert load_analysis(dump_analysis(spec)).roles == roles


def _edited(spec: AnalysisSpec, edit) -> str:
    document = json.loads(dump_analysis(spec))
    edit(document)
    return json.dumps(document)


BAD_FILES = {
    "not json": (lambda s: '{"format": "causal-workbench-analysis", ', "not valid JSON"),
    "not utf8": (lambda s: b"\xff\xfe\x00bad", "not UTF-8"),
    "foreign json": (lambda s: json.dumps({"hello": 1}), "not an analysis saved by the workbench"),
    "json list": (lambda s: "[1, 2]", "not an analysis saved by the workbench"),
    "newer version": (lambda s: _edited(s, lambda d: d.update(format_version=3)), "version 3 is not supported"),
    "version 0": (lambda s: _edited(s, lambda d: d.update(format_version=0)), "version 0 is not supported"),
    "version as text": (lambda s: _edited(s, lambda d: d.update(format_version="1")), "format_version"),
    "missing roles": (lambda s: _edited(s, lambda d: d.pop("roles")), "no 'roles' field"),
    "seed as text": (lambda s: _edited(s, lambda d: d.update(seed="4")), "'seed'.*int"),
    "seed as bool": (lambda s: _edited(s, lambda d: d.update(seed=True)), "'seed'.*int"),
    "bad sha": (lambda s: _edited(s, lambda d: d["data"].update(sha256="xyz")), "sha256"),
    "unknown method": (lambda s: _edited(s, lambda d: d.update(methods=["no_such_method"])), "Unknown method"),
    "no methods": (lambda s: _edited(s, lambda d: d.update(methods=[])), "lists no methods"),
    "unknown role": (lambda s: _edited(s, lambda d: d["roles"].update(colour="x1")), "Unknown role"),
    "role column not in data": (
        lambda s: _edited(s, lambda d: d["roles"].update(outcome="income")), "not among its data columns"
    ),
    "unknown option": (
        lambda s: _edited(s, lambda d: d["method_options"].update(nearest_neighbor_matching={"k": 3})),
        "no option",
    ),
    "options for unlisted method": (
        lambda s: _edited(s, lambda d: d["method_options"].update(exact_matching={})), "not in the file's 'methods'"
    ),
    "unsupported estimand": (lambda s: _edited(s, lambda d: d.update(estimand="LATE")), "does not estimate the LATE"),
    "robustness not an object": (lambda s: _edited(s, lambda d: d.update(robustness=[1])), "'robustness'.*object"),
    "refutation of unlisted method": (
        lambda s: _edited(s, lambda d: d["robustness"]["refutations"][0].update(method="ipw")),
        "names method 'ipw', which is not in",
    ),
    "unknown refutation test": (
        lambda s: _edited(s, lambda d: d["robustness"]["refutations"][0].update(tests=["coin_flip"])),
        "refutations.tests",
    ),
    "one refutation repeat": (
        lambda s: _edited(s, lambda d: d["robustness"]["refutations"][0].update(n_repeats=1)), "at least 2",
    ),
    "refutation twice": (
        lambda s: _edited(s, lambda d: d["robustness"]["refutations"].append(d["robustness"]["refutations"][0])),
        "lists a method twice",
    ),
    "unknown lab scenario": (
        lambda s: _edited(s, lambda d: d["robustness"]["method_lab"].update(scenario="wild")), "scenario",
    ),
    "unknown lab method": (
        lambda s: _edited(s, lambda d: d["robustness"]["method_lab"].update(methods=["nope"])), "Unknown method",
    ),
    "lab effect as text": (
        lambda s: _edited(s, lambda d: d["robustness"]["method_lab"].update(effect="big")), "method_lab.effect",
    ),
    "lab effect not finite": (
        lambda s: _edited(s, lambda d: d["robustness"]["method_lab"].update(effect=float("nan"))), "finite",
    ),
    "lab without replications": (
        lambda s: _edited(s, lambda d: d["robustness"]["method_lab"].pop("n_replications")), "n_replications",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_analysis_file_raises_clear_error(robust_spec, case):
    make, message = BAD_FILES[case]
    with pytest.raises(cc.CausalInputError, match=message):
        load_analysis(make(robust_spec))


def test_unsaveable_option_value_raises_clear_error(data):
    spec = AnalysisSpec.from_data(
        data, data_name="d", roles=ROLES, estimand="ATE", methods=["nearest_neighbor_matching"],
        method_options={"nearest_neighbor_matching": {"n_neighbors": object()}},
    )
    with pytest.raises(cc.CausalInputError, match="cannot be saved"):
        dump_analysis(spec)


def test_data_mismatches_name_what_changed(data, spec):
    assert data_mismatches(spec, data) == ()
    assert data_fingerprint(data) == spec.data_sha256
    changed = data.copy()
    changed.loc[0, "y"] += 1.0
    assert any("fingerprint" in p for p in data_mismatches(spec, changed))
    assert any("rows" in p for p in data_mismatches(spec, data.iloc[:-5]))
    assert any("'y'" in p for p in data_mismatches(spec, data.drop(columns="y")))


# --- reproduction script -------------------------------------------------------------------------


def _sections(stdout: str) -> dict[str, pd.DataFrame]:
    """The script's output: '## title' then a whitespace-separated table, until a blank line."""
    blocks: dict[str, list[list[str]]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("## "):
            current = line[3:]
            blocks[current] = []
        elif not line.strip():
            current = None
        elif current is not None:
            blocks[current].append(line.split())
    return {title: pd.DataFrame(rows[1:], columns=rows[0]) for title, rows in blocks.items()}


def _run_script(script: str, folder: Path) -> dict[str, pd.DataFrame]:
    path = folder / "reproduce.py"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "differs from the data" not in done.stderr
    return _sections(done.stdout)


def test_generated_script_reproduces_compare_from_a_csv_file(tmp_path, data):
    csv_path = tmp_path / "trial.csv"
    data.to_csv(csv_path, index=False)
    loaded = read_table(csv_path.read_bytes(), csv_path.name)  # what the app holds after an upload
    spec = AnalysisSpec.from_data(
        loaded, data_name="trial.csv", roles=ROLES, estimand="ATE", methods=METHODS, method_options=OPTIONS, seed=4,
    )
    expected = cc.compare(loaded, ROLES, methods=METHODS, estimand="ATE", seed=4, options=OPTIONS)
    printed = _run_script(reproduction_script(spec, "trial.csv"), tmp_path)["Results"]  # relative: beside the script
    assert printed["method"].tolist() == list(METHODS)
    for column in ("estimate", "std_error", "ci_low", "ci_high"):
        assert printed[column].astype(float).tolist() == pytest.approx(expected[column].tolist(), rel=1e-10)
    assert printed["n_used"].astype(int).tolist() == expected["n_used"].tolist()


def test_generated_script_reproduces_compare_from_a_bundled_sample(tmp_path):
    from causal_core.datasets.samples import get_sample, load_sample

    info = get_sample("simulated_linear")
    df = load_sample(info.id)
    methods = ("difference_in_means", "propensity_score_matching")
    spec = AnalysisSpec.from_data(df, data_name=info.title, roles=info.roles, estimand="ATT", methods=methods, seed=7)
    expected = cc.compare(df, info.roles, methods=methods, estimand="ATT", seed=7)
    printed = _run_script(reproduction_script(spec, info.id), tmp_path)["Results"]
    assert printed["estimate"].astype(float).tolist() == pytest.approx(expected["estimate"].tolist(), rel=1e-10)
    assert printed["estimand"].tolist() == ["ATT", "ATT"]


def test_generated_script_reproduces_the_robustness_checks(tmp_path, data):
    csv_path = tmp_path / "trial.csv"
    data.to_csv(csv_path, index=False)
    loaded = read_table(csv_path.read_bytes(), csv_path.name)
    methods = ("difference_in_means", "regression_adjustment", "ipw")
    refutation = RefutationSettings("regression_adjustment", ("placebo_treatment", "random_common_cause"), 3)
    lab_settings = MethodLabSettings(("regression_adjustment", "ipw"), "nonlinear", 0.5, 1.0, 3)
    spec = AnalysisSpec.from_data(loaded, data_name="trial.csv", roles=ROLES, estimand="ATT", methods=methods,
                                  seed=9, refutations=[refutation], method_lab=lab_settings)
    sections = _run_script(reproduction_script(spec, "trial.csv"), tmp_path)

    # in process, as the Robustness page computes them
    results = {m: cc.estimate(loaded, ROLES, m, estimand="ATT", seed=9) for m in methods}
    sensitivity = {m: cc.sensitivity_for_result(loaded, ROLES, r, options={}) for m, r in results.items()}
    printed = sections["Sensitivity to unmeasured confounding"].set_index("method")
    assert list(printed.index) == list(methods)
    for method, report in sensitivity.items():
        assert float(printed.loc[method, "e_value"]) == pytest.approx(report.e_value.e_value_estimate, rel=1e-10)
        assert float(printed.loc[method, "e_value_ci"]) == pytest.approx(report.e_value.e_value_ci, rel=1e-10)
    ovb = sensitivity["regression_adjustment"].ovb
    assert float(printed.loc["regression_adjustment", "robustness_value"]) == pytest.approx(ovb.robustness_value,
                                                                                            rel=1e-10)
    assert printed.loc["ipw", "robustness_value"] == "NaN"  # no OVB analysis for weighting

    agreement = cc.agreement_summary(results)
    shown = sections["Agreement across estimators"]
    assert shown["distance_in_se"].astype(float).tolist() == pytest.approx(
        agreement.table["distance_in_se"].tolist(), rel=1e-10)

    tests = cc.refute(loaded, ROLES, "regression_adjustment", estimand="ATT", tests=list(refutation.tests),
                      n_repeats=3, seed=9, options={})
    refuted = sections["Refutation tests"]
    assert refuted["test"].tolist() == list(refutation.tests)
    assert refuted["refuted_mean"].astype(float).tolist() == pytest.approx([t.refuted_mean for t in tests], rel=1e-10)

    lab = cc.method_lab(loaded, ROLES, list(lab_settings.methods), estimand="ATT", scenario="nonlinear", effect=0.5,
                        confounding=1.0, n_replications=3, seed=9)
    shown_lab = sections["Method lab"]
    assert shown_lab["method"].tolist() == lab.table["method"].tolist()
    assert shown_lab["rmse"].astype(float).tolist() == pytest.approx(lab.table["rmse"].tolist(), rel=1e-10)


def test_script_without_robustness_runs_skips_refutations_and_lab(spec):
    script = reproduction_script(spec, "trial.csv")
    assert "cc.sensitivity_for_result" in script and "cc.agreement_summary" in script
    assert "cc.refute" not in script and "cc.method_lab" not in script


@pytest.mark.parametrize("source, message", [("data.sav", "extension '.sav'"), ("", "empty")])
def test_script_rejects_unreadable_source(spec, source, message):
    with pytest.raises(cc.CausalInputError, match=message):
        reproduction_script(spec, source)


# --- HTML report ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(data, table) -> str:
    results = {m: cc.estimate(data, ROLES, m, estimand="ATE", seed=4, **OPTIONS.get(m, {})) for m in METHODS}
    failed = pd.concat(
        [table, pd.DataFrame([{"method": "exact_matching", "estimand": "ATE", "error": "Too few rows in a stratum."}])],
        ignore_index=True,
    )
    return build_html_report(
        data_name="trial <data>.csv", df=data, roles=ROLES, estimand="ATE", table=failed, results=results,
        figures=[("Estimates", _figure())], diagram=_figure(), seed=4, method_options=OPTIONS,
        notes=["These results are a test."],
    )


def test_html_report_contains_every_estimate(report, table):
    for row in table.itertuples():
        assert f'data-method="{row.method}"' in report
        for value in (row.estimate, row.std_error, row.ci_low, row.ci_high):
            assert f'data-value="{float(value)!r}"' in report
        assert html.escape(cc.get_method(row.method).label) in report
    assert "Too few rows in a stratum." in report  # a failed method shows its error
    assert "trial &lt;data&gt;.csv" in report  # text is escaped
    assert "These results are a test." in report


def test_html_report_is_self_contained(report):
    assert report.count("<script") >= 3  # plotly.js plus the diagram and one chart
    assert not re.search(r"<script[^>]*\bsrc\s*=", report, flags=re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", report, flags=re.IGNORECASE)
    assert not re.search(r"@import", report)
    assert report.count("Plotly.newPlot") == 2
    assert len(re.findall(r"plotly\.js v\d", report)) == 1  # the library is embedded exactly once


def test_html_report_lists_methods_warnings_and_roles(report):
    for method in METHODS:
        assert html.escape(cc.get_method(method).summary) in report
    assert "n_neighbors=2" in report
    assert "Confounders are ignored by this method" in report  # difference in means warns
    assert "<code>region</code>" in report and "categorical, 3 levels" in report
    assert report.lstrip().startswith("<!DOCTYPE html>") and report.rstrip().endswith("</html>")


def _section(report: str, method: str) -> str:
    """The HTML of one method's diagnostics block."""
    match = re.search(rf'<section class="method-diagnostics" id="diagnostics-{method}">(.*?)</section>', report,
                      flags=re.DOTALL)
    assert match is not None, f"no diagnostics block for {method}"
    return match.group(1)


@pytest.fixture(scope="module")
def iv_analysis():
    """Instrumental-variable data with 2SLS and a short CB-IV run (which draws a response curve)."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    u, v, e, x1 = rng.normal(size=(4, 400))
    z = rng.binomial(1, 0.5, 400)
    treat = 0.8 * z + 0.5 * x1 + u + v
    df = pd.DataFrame({"x1": x1, "z": z, "treat": treat, "y": 1.0 + 1.5 * treat + 0.5 * x1 + 2.0 * u + e})
    roles = cc.Roles(treatment="treat", outcome="y", instruments=["z"], confounders=["x1"])
    results = {
        "two_stage_least_squares": cc.estimate(df, roles, "two_stage_least_squares", estimand="ATE", seed=1),
        "cb_iv": cc.estimate(df, roles, "cb_iv", estimand="ATE", seed=1, epochs=5, n_boot=0, hidden_units=8),
    }
    table = pd.DataFrame([{**r.summary(), "error": ""} for r in results.values()])
    return df, roles, results, table


@pytest.fixture(scope="module")
def iv_report(iv_analysis) -> str:
    df, roles, results, table = iv_analysis
    robustness, _ = report_robustness(df, roles, results)
    return build_html_report(
        data_name="iv.csv", df=df, roles=roles, estimand="ATE", table=table, results=results,
        figures=analysis_figures(df, roles, table, results, estimand="ATE"), seed=1, robustness=robustness,
    )


def test_html_report_shows_each_methods_own_diagnostics(iv_report, iv_analysis):
    _, _, results, _ = iv_analysis
    two_sls = _section(iv_report, "two_stage_least_squares")
    first_stage_f = results["two_stage_least_squares"].diagnostics["first_stage_f"]
    assert "<th>First-stage F statistic</th>" in two_sls  # labelled, not the raw key
    assert f'data-value="{float(first_stage_f)!r}"' in two_sls
    assert "<h4>Coefficients</h4>" in two_sls and "<h4>Tests</h4>" in two_sls  # DataFrames as tables
    neural = _section(iv_report, "cb_iv")
    assert "Response curve: " in neural and "Plotly.newPlot" in neural
    assert "Estimated response" in neural  # the response curve's trace
    assert "<th>Bootstrap estimates</th>" in neural  # two replicates: listed, not per row
    assert "<h4>Response curve</h4>" not in neural  # drawn, not repeated as a table


def test_html_report_has_the_robustness_section(iv_report, iv_analysis):
    df, roles, results, _ = iv_analysis
    assert "<h2>Robustness</h2>" in iv_report and "Agreement across estimators" in iv_report
    for method, result in results.items():
        e_value = cc.sensitivity_for_result(df, roles, result).e_value
        assert f"Sensitivity: {cc.get_method(method).label}" in iv_report  # the label, not the id
        assert f"E-value {e_value.e_value_estimate:.2f} (confidence limit {e_value.e_value_ci:.2f}" in iv_report
    assert len(re.findall(r"plotly\.js v\d", iv_report)) == 1  # still one copy of the library
    assert not re.search(r"<script[^>]*\bsrc\s*=", iv_report, flags=re.IGNORECASE)


def test_html_report_robustness_includes_refutations_and_method_lab(data, table):
    results = {m: cc.estimate(data, ROLES, m, estimand="ATE", seed=4, **OPTIONS.get(m, {})) for m in METHODS}
    tests = cc.refute(data, ROLES, "difference_in_means", tests=["placebo_treatment"], n_repeats=2, seed=4)
    lab = cc.method_lab(data, ROLES, ["difference_in_means"], n_replications=2, seed=4)
    robustness, reports = report_robustness(data, ROLES, results, method_options=OPTIONS,
                                            refutations={"difference_in_means": tests}, lab=lab)
    assert set(reports) == set(METHODS)
    page = build_html_report(data_name="trial.csv", df=data, roles=ROLES, estimand="ATE", table=table,
                             results=results, robustness=robustness)
    assert "Refutation tests: Difference in means" in page and "Method lab" in page
    assert html.escape(lab.recommendation) in page
    assert page.count("Plotly.newPlot") == len(robustness.figures)  # no diagnostic chart applies here


def test_per_row_arrays_are_named_not_dumped(data):
    methods = {"ipw": {}, "gmm_subgroups": {"within_method": "regression_adjustment", "max_components": 3, "n_init": 1},
               "t_learner": {"base_model": "linear", "n_boot": 20}}
    results = {m: cc.estimate(data, ROLES, m, estimand="ATE", seed=4, **o) for m, o in methods.items()}
    table = pd.DataFrame([{**r.summary(), "error": ""} for r in results.values()])
    page = build_html_report(data_name="trial.csv", df=data, roles=ROLES, estimand="ATE", table=table,
                             results=results)
    ipw, gmm, learner = (_section(page, m) for m in methods)
    assert "One value per row, not listed here: Propensity score" in ipw
    assert "Assignments" in gmm and "Projection" in gmm
    for block in (ipw, gmm, learner):
        assert block.count("<tr") < 60  # nothing with one line per data row
    assert "Effect within each subgroup" in gmm and "Number of subgroups (BIC)" in gmm
    assert "Unit-level effects: " in learner  # the T-learner's unit effects as a histogram
    assert "Unit-level effects" not in ipw
    assert "Effective sample size (Kish): treated" in ipw  # the typed weight diagnostics, labelled
    assert "Rows used: control" in ipw


def _result(diagnostics: dict, n_used: int = 100) -> cc.EstimateResult:
    return cc.EstimateResult(estimate=1.0, std_error=0.1, ci_low=0.8, ci_high=1.2, estimand="ATE", method="ipw",
                             n_used=n_used, diagnostics=diagnostics)


def test_long_diagnostic_tables_are_truncated():
    frame = pd.DataFrame({"epoch": range(50), "loss": np.linspace(1.0, 0.1, 50)})
    shown = frame_html(frame)
    assert shown.count("<tr") == 1 + HEAD_ROWS + 1 + TAIL_ROWS  # header, head, gap, tail
    assert f"first {HEAD_ROWS} and last {TAIL_ROWS} of 50 rows" in shown
    assert "<td>49</td>" in shown and "<td>20</td>" not in shown
    wide = frame_html(pd.DataFrame(np.ones((2, 30)), columns=[f"c{i}" for i in range(30)]))
    assert "first 12 of 30 columns" in wide and "c29" not in wide


def test_diagnostics_html_describes_arrays_by_size():
    block = diagnostics_html(_result({
        "propensity": np.linspace(0.1, 0.9, 100), "weights_matrix": np.ones((100, 3)),
        "bootstrap_estimates": np.arange(30.0), "n_boot": 30, "converged": True, "note": "<b>bold</b>",
        "selected": [f"x{i}" for i in range(15)],
        "ess": {"treated": {"before": 50.0, "after": 40.5}, "control": 50},
    }))
    assert "One value per row, not listed here: Propensity score, Weights matrix" in block
    assert "30 values: mean 14.50" in block
    assert "x0, x1, x2" in block and "x14" in block  # names are listed
    assert "Effective sample size (Kish): treated: after" in block and 'data-value="40.5"' in block
    assert "&lt;b&gt;bold&lt;/b&gt;" in block  # text is escaped
    assert diagnostics_html(_result({})) == "<p>This method reports no diagnostics of its own.</p>"


# --- standard figures ----------------------------------------------------------------------------


def test_analysis_figures_cover_results_and_diagnostics(data, table):
    results = {m: cc.estimate(data, ROLES, m, estimand="ATE", seed=4, **OPTIONS.get(m, {})) for m in METHODS}
    figures = analysis_figures(data, ROLES, table, results, estimand="ATE")
    slugs = [f.slug for f in figures]
    assert slugs[:4] == ["causal_diagram", "forest_plot", "propensity_overlap", "love_plot"]
    assert "weights_nearest_neighbor_matching" in slugs and "weights_difference_in_means" not in slugs
    assert all(isinstance(f.figure, go.Figure) and f.title for f in figures)
    forest = next(f.figure for f in figures if f.slug == "forest_plot")
    assert cc.get_method("nearest_neighbor_matching").label in set(forest.data[0].y)
    assert all(f.method is None for f in figures)  # none of these methods has charts of its own


def test_analysis_figures_include_method_diagnostic_charts(iv_analysis):
    df, roles, results, table = iv_analysis
    figures = {f.slug: f for f in analysis_figures(df, roles, table, results, estimand="ATE")}
    curve = figures["response_curve_cb_iv"]
    assert curve.method == "cb_iv" and curve.title == f"Response curve: {cc.get_method('cb_iv').label}"
    assert list(curve.figure.data[-1].x) == sorted(results["cb_iv"].diagnostics["response_curve"]["treatment"])


def test_analysis_figures_skip_what_does_not_apply(data):
    roles = cc.Roles(treatment="treat", outcome="y")  # no confounders: no overlap or balance chart
    table = cc.compare(data, roles, methods=["difference_in_means"])
    slugs = [f.slug for f in analysis_figures(data, roles, table)]
    assert slugs == ["causal_diagram", "forest_plot"]


# --- the Report page (Streamlit AppTest) ---------------------------------------------------------

REPORT_PAGE = str(ROOT / "pages" / "6_Report.py")
REPORT_KEYS = ("report_html", "report_bundle", "report_table_csv", "report_table_xlsx", "report_analysis_json",
               "report_script")


def _report_app(data, table, *, data_version: int = 1, sample_id: str | None = None, robustness: dict | None = None):
    from streamlit.testing.v1 import AppTest

    from pages._state import Dataset, ResultsBundle

    app = AppTest.from_file(REPORT_PAGE, default_timeout=60)
    if table is not None:
        results = {m: cc.estimate(data, ROLES, m, estimand="ATE", seed=4, **OPTIONS.get(m, {})) for m in METHODS}
        source = "sample" if sample_id else "upload"
        app.session_state["dataset"] = Dataset(name="trial.csv", df=data, version=1, source=source, sample_id=sample_id)
        app.session_state["roles"] = ROLES
        app.session_state["results"] = ResultsBundle(
            data_version=data_version, data_name="trial.csv", roles=ROLES, estimand="ATE", seed=4,
            table=table, results=results, options=OPTIONS,
        )
        if robustness is not None:
            app.session_state["robustness"] = robustness
    return app.run()


def test_report_page_without_results_says_what_to_do(data):
    app = _report_app(data, None)
    assert not app.exception
    assert "No results yet" in app.info[0].value
    assert not app.get("download_button")


def test_report_page_offers_every_download(data, table):
    app = _report_app(data, table)
    assert not app.exception and not app.error
    for slug in ("causal_diagram", "forest_plot", "love_plot"):  # charts are drawn when their expander opens
        app.session_state[f"report_open_{slug}"] = True
    app.run()
    keys = {button.key for button in app.get("download_button")}
    assert set(REPORT_KEYS) <= keys
    for slug in ("causal_diagram", "forest_plot", "love_plot"):
        assert {f"report_png_{slug}", f"report_svg_{slug}", f"report_chart_html_{slug}"} <= keys


def test_report_page_refuses_results_of_replaced_data(data, table):
    app = _report_app(data, table, data_version=0)
    assert not app.exception
    assert "replaced" in app.warning[0].value
    assert not app.get("download_button")


def test_report_page_includes_the_robustness_pages_results(data, table):
    run = (1, ROLES, "ATE", 4)  # how the Robustness page keys its results: data version, roles, estimand, seed
    tests = cc.refute(data, ROLES, "difference_in_means", tests=["placebo_treatment"], n_repeats=2, seed=4)
    lab = cc.method_lab(data, ROLES, ["difference_in_means"], n_replications=2, seed=4)
    stale = cc.refute(data, ROLES, "difference_in_means", tests=["dummy_outcome"], n_repeats=2, seed=5)
    app = _report_app(data, table, robustness={
        (*run, "refute", "difference_in_means"): tests, (*run, "lab"): lab, (*run, "sensitivity", "ipw"): None,
        (1, ROLES, "ATE", 5, "refute", "difference_in_means"): stale,  # another seed: another run
    })
    assert not app.exception and not app.error, [e.value for e in app.error]
    app.session_state["report_open_robustness"] = True  # the robustness charts are drawn when asked for
    app.run()
    keys = {button.key for button in app.get("download_button")}
    assert {"report_png_robustness_refutation_difference_in_means", "report_png_robustness_method_lab"} <= keys
    assert any("refutation tests of Difference in means and the method lab" in c.value for c in app.caption)
    ((_, kept),) = app.session_state["_report_robustness"].values()  # the one kept entry
    robustness = kept.settings
    assert robustness.refutations == (RefutationSettings("difference_in_means", ("placebo_treatment",), 2),)
    assert robustness.method_lab == method_lab_settings(lab)


def test_report_page_always_has_agreement_and_sensitivity(data, table):
    app = _report_app(data, table)
    assert not app.exception and not app.error
    assert any("Run refutation tests or the method lab" in c.value for c in app.caption)
    ((_, kept),) = app.session_state["_report_robustness"].values()  # the one kept entry
    assert not kept.summary.done  # computed only when a download or the robustness charts ask for it
    section = kept.summary.get().section
    assert "Agreement across estimators" in section.html
    assert all(f"Sensitivity: {cc.get_method(m).label}" in section.html for m in METHODS)
    assert kept.settings.refutations == () and kept.settings.method_lab is None
