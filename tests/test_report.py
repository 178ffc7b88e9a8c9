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
    reproduction_script,
    results_table_csv,
    results_table_xlsx,
    static_export_problem,
)
from causal_core.report import static_export
from causal_core.simulate import linear_confounded
from causal_core.table_reader import read_table

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


def test_results_table_rejects_table_without_method_column():
    with pytest.raises(cc.CausalInputError, match="'method' column"):
        results_table_csv(pd.DataFrame({"estimate": [1.0]}))


# --- analysis file -------------------------------------------------------------------------------


def test_analysis_file_round_trips(spec):
    text = dump_analysis(spec)
    assert json.loads(text)["format_version"] == 1
    assert load_analysis(text) == spec
    assert load_analysis(text.encode("utf-8")) == spec
    assert load_analysis(b"\xef\xbb\xbf" + text.encode("utf-8")) == spec  # a BOM added by an editor


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
    "newer version": (lambda s: _edited(s, lambda d: d.update(format_version=2)), "version 2 is not supported"),
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
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_analysis_file_raises_clear_error(spec, case):
    make, message = BAD_FILES[case]
    with pytest.raises(cc.CausalInputError, match=message):
        load_analysis(make(spec))


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


def _run_script(script: str, folder: Path) -> pd.DataFrame:
    path = folder / "reproduce.py"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "differs from the data" not in done.stderr
    lines = [line.split() for line in done.stdout.strip().splitlines()]
    return pd.DataFrame(lines[1:], columns=lines[0])


def test_generated_script_reproduces_compare_from_a_csv_file(tmp_path, data):
    csv_path = tmp_path / "trial.csv"
    data.to_csv(csv_path, index=False)
    loaded = read_table(csv_path.read_bytes(), csv_path.name)  # what the app holds after an upload
    spec = AnalysisSpec.from_data(
        loaded, data_name="trial.csv", roles=ROLES, estimand="ATE", methods=METHODS, method_options=OPTIONS, seed=4,
    )
    expected = cc.compare(loaded, ROLES, methods=METHODS, estimand="ATE", seed=4, options=OPTIONS)
    printed = _run_script(reproduction_script(spec, "trial.csv"), tmp_path)  # relative: beside the script
    assert printed["method"].tolist() == list(METHODS)
    for column in ("estimate", "std_error", "ci_low", "ci_high"):
        assert printed[column].astype(float).tolist() == pytest.approx(expected[column].tolist(), rel=1e-10)
    assert printed["n_used"].astype(int).tolist() == expected["n_used"].tolist()


def test_generated_script_reproduces_compare_from_a_bundled_sample(tmp_path):
    from causal_core.samples import get_sample, load_sample

    info = get_sample("simulated_linear")
    df = load_sample(info.id)
    methods = ("difference_in_means", "propensity_score_matching")
    spec = AnalysisSpec.from_data(df, data_name=info.title, roles=info.roles, estimand="ATT", methods=methods, seed=7)
    expected = cc.compare(df, info.roles, methods=methods, estimand="ATT", seed=7)
    printed = _run_script(reproduction_script(spec, info.id), tmp_path)
    assert printed["estimate"].astype(float).tolist() == pytest.approx(expected["estimate"].tolist(), rel=1e-10)
    assert printed["estimand"].tolist() == ["ATT", "ATT"]


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


def test_analysis_figures_skip_what_does_not_apply(data):
    roles = cc.Roles(treatment="treat", outcome="y")  # no confounders: no overlap or balance chart
    table = cc.compare(data, roles, methods=["difference_in_means"])
    slugs = [f.slug for f in analysis_figures(data, roles, table)]
    assert slugs == ["causal_diagram", "forest_plot"]


# --- the Report page (Streamlit AppTest) ---------------------------------------------------------

REPORT_PAGE = str(ROOT / "pages" / "6_Report.py")
REPORT_KEYS = ("report_html", "report_table_csv", "report_table_xlsx", "report_analysis_json", "report_script")


def _report_app(data, table, *, data_version: int = 1, sample_id: str | None = None):
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
    return app.run()


def test_report_page_without_results_says_what_to_do(data):
    app = _report_app(data, None)
    assert not app.exception
    assert "No results yet" in app.info[0].value
    assert not app.get("download_button")


def test_report_page_offers_every_download(data, table):
    app = _report_app(data, table)
    assert not app.exception and not app.error
    keys = {button.key for button in app.get("download_button")}
    assert set(REPORT_KEYS) <= keys
    for slug in ("causal_diagram", "forest_plot", "love_plot"):
        assert {f"report_png_{slug}", f"report_svg_{slug}", f"report_chart_html_{slug}"} <= keys


def test_report_page_refuses_results_of_replaced_data(data, table):
    app = _report_app(data, table, data_version=0)
    assert not app.exception
    assert "replaced" in app.warning[0].value
    assert not app.get("download_button")
