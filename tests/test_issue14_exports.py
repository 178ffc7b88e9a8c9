"""Issue 14, exports: the benchmark on every forest plot export, the all-tables workbook, love plot and OVB chart
legibility, report tables that fit the page, and the one-click bundle."""
from __future__ import annotations

import ast
import io
import itertools
import json
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

import causal_core as cc
from causal_core.charts import love_plot
from causal_core.charts._style import NEUTRAL_COLOUR, SERIES_COLOURS, series_styles
from causal_core.charts.robustness import (LABEL_CHAR_PIXELS, LABEL_LINE_PIXELS, MARKER_PIXELS, OVB_PLOT_PIXELS,
                                          ovb_contour_plot)
from causal_core.datasets.simulate import linear_confounded
from causal_core.report import (
    AnalysisSpec,
    NamedFigure,
    ReferenceEffect,
    analysis_figures,
    analysis_tables,
    analysis_workbook,
    build_bundle,
    build_html_report,
    data_fingerprint,
    figure_to_html,
    figures_to_images,
    load_analysis,
    reference_effect,
    report_robustness,
    static_export_problem,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"], subgroups=["region", "x4"])
METHODS = ("ipw", "regression_adjustment", "entropy_balancing")
OPTIONS = {"ipw": {"trim": 0.01}, "regression_adjustment": {"interactions": True}}
BENCHMARK = ReferenceEffect(2.0, "Benchmark")
needs_chromium = pytest.mark.skipif(static_export_problem() is not None, reason=str(static_export_problem()))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return linear_confounded(n=400, seed=5)[0]


@pytest.fixture(scope="module")
def run(data):
    table = cc.compare(data, ROLES, methods=METHODS, estimand="ATE", seed=3, options=OPTIONS)
    results = {m: cc.estimate(data, ROLES, m, estimand="ATE", seed=3, **OPTIONS.get(m, {})) for m in METHODS}
    _, reports = report_robustness(data, ROLES, results, method_options=OPTIONS)
    return table, results, reports


@pytest.fixture(scope="module")
def spec(data) -> AnalysisSpec:
    return AnalysisSpec.from_data(data, data_name="trial.csv", roles=ROLES, estimand="ATE", methods=METHODS,
                                  method_options=OPTIONS, seed=3, app_version="test")


@pytest.fixture(scope="module")
def tables(data, run):
    table, results, reports = run
    return analysis_tables(data, ROLES, table, results, estimand="ATE", sensitivity=reports)


# --- 6. the benchmark travels with the forest plot -------------------------------------------------


def test_reference_effect_of_samples():
    assert reference_effect("lalonde_psid", "ATT") == ReferenceEffect(1794.34, "Benchmark")
    assert reference_effect("lalonde_psid", "ATE") is None  # the benchmark is an ATT
    truth = reference_effect("simulated_linear", "ATE")
    assert truth is not None and truth.label == "True ATE"
    assert reference_effect(None, "ATE") is None and reference_effect("no_such_sample", "ATE") is None


def test_forest_plot_of_the_report_carries_the_benchmark(data, run):
    table, results, _ = run
    lalonde = ReferenceEffect(1794.34, "Benchmark")
    figures = {f.slug: f.figure for f in analysis_figures(data, ROLES, table, results, reference=lalonde)}
    forest = figures["forest_plot"]
    assert any(shape.x0 == 1794.34 and shape.line.dash == "dash" for shape in forest.layout.shapes)
    assert "Benchmark: 1,794" in forest.to_json()
    assert "Benchmark: 1,794" in figure_to_html(forest)
    page = build_html_report(data_name="trial.csv", df=data, roles=ROLES, estimand="ATE", table=table,
                             results=results, figures=list(figures.items()))
    assert "Benchmark: 1,794" in page
    plain = {f.slug: f.figure for f in analysis_figures(data, ROLES, table, results)}["forest_plot"]
    assert "Benchmark" not in plain.to_json()


# --- 19. every table in the workbook, numbers as numbers -------------------------------------------


def _sheet(book, name) -> tuple[list, list[list]]:
    rows = [list(r) for r in book[name].iter_rows()]
    return [c.value for c in rows[0]], rows[1:]


def test_workbook_has_every_table_and_the_analysis(tables, spec):
    book = openpyxl.load_workbook(io.BytesIO(analysis_workbook(tables, spec=spec)))
    assert book.sheetnames == ["Results", "Balance", "Diagnostics", "Subgroups", "Sensitivity", "Analysis"]
    header, rows = _sheet(book, "Balance")
    assert header[:3] == ["method", "label", "covariate"]
    assert {r[0].value for r in rows} == {"ipw", "entropy_balancing"}  # the methods with weights
    expected = tables["Balance"]
    smd = header.index("smd_after")
    assert all(r[smd].data_type == "n" for r in rows)
    assert [r[smd].value for r in rows] == pytest.approx(expected["smd_after"].tolist(), rel=1e-12)
    header, rows = _sheet(book, "Subgroups")
    assert {r[0].value for r in rows} == {"region", "x4"}
    difference = header.index("difference")
    assert all(r[difference].data_type == "n" for r in rows)
    header, rows = _sheet(book, "Sensitivity")
    e_value = header.index("e_value")
    assert all(r[e_value].data_type == "n" and r[e_value].value > 1 for r in rows)
    header, rows = _sheet(book, "Diagnostics")
    ess = [r for r in rows if r[0].value == "ipw" and r[2].value == "effective sample size after: treated"]
    assert len(ess) == 1 and ess[0][3].data_type == "n"
    assert ess[0][3].value == pytest.approx(tables["Diagnostics"].query("method == 'ipw'").iloc[1]["value"])


def test_workbook_analysis_sheet_has_numbers_and_readable_options(tables, spec):
    book = openpyxl.load_workbook(io.BytesIO(analysis_workbook(tables, spec=spec)))
    cells = {row[0].value: row[1] for row in book["Analysis"].iter_rows(min_row=2)}
    for item, value in (("rows", 400), ("seed", 3), ("columns", len(spec.columns))):
        assert cells[item].data_type == "n" and cells[item].value == value
    assert cells["option: ipw: trim"].data_type == "n" and cells["option: ipw: trim"].value == 0.01
    assert cells["option: regression_adjustment: interactions"].value is True
    assert not any(isinstance(c.value, str) and c.value.startswith("{") for c in cells.values())  # no dict strings


def test_workbook_keeps_hostile_text_as_text_in_every_sheet(data):
    hostile = data.rename(columns={"x1": "=HYPERLINK(\"http://x\")", "region": "@region"})
    hostile["@region"] = hostile["@region"].map({"north": "+north", "south": "-south", "west": "west"})
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["=HYPERLINK(\"http://x\")", "x2"],
                     subgroups=["@region"])
    result = cc.estimate(hostile, roles, "ipw", estimand="ATE", seed=1)
    table = cc.compare(hostile, roles, methods=["ipw"], estimand="ATE", seed=1)
    book = openpyxl.load_workbook(io.BytesIO(analysis_workbook(analysis_tables(hostile, roles, table, {"ipw": result}))))
    assert book.sheetnames == ["Results", "Balance", "Diagnostics", "Subgroups"]
    seen = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str) and cell.value[:1] in ("=", "+", "-", "@"):
                    assert cell.quotePrefix, f"{sheet.title}!{cell.coordinate} is not marked as text"
                    seen.add(cell.value)
    assert {"=HYPERLINK(\"http://x\")", "@region", "+north", "-south"} <= seen


# --- 20. love plot colours, threshold label, OVB labels, report tables -----------------------------


def _lab(colour: str) -> np.ndarray:
    """CIELAB (D65) of a hex colour."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    rgb = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_series_colours_are_far_apart_and_styles_never_repeat():
    colours = list(SERIES_COLOURS) + [NEUTRAL_COLOUR]
    for a, b in itertools.combinations(colours, 2):
        assert np.linalg.norm(_lab(a) - _lab(b)) >= 25, (a, b)  # a just noticeable difference is about 2.3
    styles = series_styles(40)
    assert len(set(styles)) == 40


def test_love_plot_with_twelve_methods_has_distinct_colours_and_a_threshold_clear_of_the_rows():
    covariates = [f"x{i}" for i in range(6)]
    rng = np.random.default_rng(0)
    tables = {f"Method {i}": pd.DataFrame({"smd_before": rng.normal(0, 0.4, 6), "smd_after": rng.normal(0, 0.05, 6)},
                                          index=covariates) for i in range(12)}
    figure = love_plot(tables)
    methods = [t for t in figure.data if t.name.startswith("Method")]
    assert len(methods) == 12
    colours = [t.marker.color for t in methods]
    assert len(set(colours)) == 12 and NEUTRAL_COLOUR not in colours
    assert not figure.layout.annotations  # no "0.1" label printed over the top row
    threshold = [t for t in figure.data if t.name == "Threshold 0.1"]
    assert len(threshold) == 1 and threshold[0].line.dash == "dash"
    assert any(shape.x0 == 0.1 for shape in figure.layout.shapes)


def _box(x: float, y: float, text: str, place: str) -> tuple[float, float, float, float]:
    """Where a label prints (plot fractions): beside its marker, in the direction of its text position."""
    width = len(text) * LABEL_CHAR_PIXELS / OVB_PLOT_PIXELS[0]
    height = LABEL_LINE_PIXELS / OVB_PLOT_PIXELS[1]
    gap_x, gap_y = MARKER_PIXELS / OVB_PLOT_PIXELS[0], MARKER_PIXELS / OVB_PLOT_PIXELS[1]
    left = x - gap_x - width if "left" in place else x + gap_x
    bottom = y - gap_y - height if "bottom" in place else y + gap_y
    return left, bottom, left + width, bottom + height


def _marker(x: float, y: float) -> tuple[float, float, float, float]:
    half_x, half_y = MARKER_PIXELS / OVB_PLOT_PIXELS[0], MARKER_PIXELS / OVB_PLOT_PIXELS[1]
    return x - half_x, y - half_y, x + half_x, y + half_y


def _apart(a, b) -> bool:
    return not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_ovb_benchmark_labels_do_not_overlap(data):
    sensitivity = cc.ovb_sensitivity(data, cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4"]),
                                     kd=(1, 2, 3, 4))
    figure = ovb_contour_plot(sensitivity)
    bench = figure.data[-1]
    assert len(bench.x) == 16 and all(bench.hovertext)  # every benchmark keeps its marker and hover text
    x_max, y_max = figure.layout.xaxis.range[1], figure.layout.yaxis.range[1]
    observed = figure.data[-2]
    assert observed.text[0].startswith("observed")
    boxes = [_box(0.0, 0.0, observed.text[0], observed.textposition[0])]
    markers = [_marker(0.0, 0.0)]
    for x, y, text, place in zip(bench.x, bench.y, bench.text, bench.textposition):
        markers.append(_marker(x / x_max, y / y_max))
        if text:
            boxes.append(_box(x / x_max, y / y_max, text, place))
    assert len(boxes) >= 3
    for a, b in itertools.combinations(boxes, 2):
        assert _apart(a, b), (a, b)
    for label in boxes[1:]:  # benchmark labels also keep off every marker
        assert all(_apart(label, marker) for marker in markers), label
    assert not figure.data[1].contours.showlabels  # the zero line is not labelled twice


def test_robustness_tables_of_the_report_scroll_instead_of_overflowing(data, run):
    _, results, reports = run
    section, _ = report_robustness(data, ROLES, results, method_options=OPTIONS, sensitivity=reports)
    assert section.html.count("<table") >= 2
    assert section.html.count("<table") == section.html.count('<div class="table-wrap"><table')
    page = build_html_report(data_name="d", df=data, roles=ROLES, estimand="ATE", table=run[0], robustness=section)
    assert ".table-wrap { max-width: 100%; overflow-x: auto;" in page


# --- 21. the bundle --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle_inputs(data, run):
    table, results, _ = run
    figures = [f for f in analysis_figures(data, ROLES, table, results, reference=BENCHMARK)
               if f.slug in ("forest_plot", "love_plot")]
    report = build_html_report(data_name="trial.csv", df=data, roles=ROLES, estimand="ATE", table=table,
                               results=results, figures=figures)
    return figures, report


def _members(archive: zipfile.ZipFile) -> dict[str, bytes]:
    return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


COMMON = {"README.txt", "report.html", "analysis.json", "reproduce.py", "data_fingerprint.json",
          "tables/results.csv", "tables/balance.csv", "tables/diagnostics.csv", "tables/subgroups.csv",
          "tables/sensitivity.csv", "tables/analysis.xlsx"}


@needs_chromium
def test_bundle_holds_every_file_and_each_parses(data, run, spec, tables, bundle_inputs):
    figures, report = bundle_inputs
    archive = zipfile.ZipFile(io.BytesIO(build_bundle(spec=spec, tables=tables, figures=figures, report_html=report,
                                                      data_source="trial.csv", stem="trial")))
    assert all(name.startswith("trial/") for name in archive.namelist())
    files = _members(archive)
    charts = {f"charts/{slug}.{ext}" for slug in ("forest_plot", "love_plot") for ext in ("svg", "png")}
    assert set(files) == COMMON | charts
    assert load_analysis(files["analysis.json"].decode("utf-8")) == spec
    ast.parse(files["reproduce.py"].decode("utf-8"))
    fingerprint = json.loads(files["data_fingerprint.json"])
    assert fingerprint["sha256"] == data_fingerprint(data) and fingerprint["rows"] == len(data)
    for name in charts:
        if name.endswith(".png"):
            assert files[name][:8] == PNG_SIGNATURE
        else:
            assert ET.fromstring(files[name]).tag.endswith("svg")
    assert "Benchmark: 2" in files["charts/forest_plot.svg"].decode("utf-8")  # the benchmark is in the export
    for name, frame in tables.items():
        back = pd.read_csv(io.BytesIO(files[f"tables/{name.lower()}.csv"]))
        assert back.shape == frame.shape
    results = pd.read_csv(io.BytesIO(files["tables/results.csv"]))
    assert results["estimate"].tolist() == pytest.approx(run[0]["estimate"].tolist(), rel=1e-15)
    book = openpyxl.load_workbook(io.BytesIO(files["tables/analysis.xlsx"]))
    assert book.sheetnames == [*tables, "Analysis"]
    assert "Benchmark: 2" in files["report.html"].decode("utf-8")
    assert data_fingerprint(data) in files["README.txt"].decode("utf-8")


def test_bundle_without_images_has_everything_else_and_says_why(data, run, spec, tables, bundle_inputs):
    figures, report = bundle_inputs
    archive = zipfile.ZipFile(io.BytesIO(build_bundle(spec=spec, tables=tables, figures=figures, report_html=report,
                                                      data_source="trial.csv", images=False)))
    files = _members(archive)
    assert set(files) == COMMON
    assert "No SVG/PNG charts" in files["README.txt"].decode("utf-8")


def test_bundle_and_image_export_reject_bad_input(data, run, spec, tables, bundle_inputs):
    figures, report = bundle_inputs
    twice = [figures[0], NamedFigure(figures[0].slug, "again", figures[0].figure)]
    with pytest.raises(cc.CausalInputError, match="Chart file name 'forest_plot' is used twice"):
        build_bundle(spec=spec, tables=tables, figures=twice, report_html=report, data_source="x.csv", images=False)
    with pytest.raises(cc.CausalInputError, match="needs an AnalysisSpec"):
        build_bundle(spec=None, tables=tables, figures=[], report_html=report, data_source="x.csv")
    with pytest.raises(cc.CausalInputError, match="format 'jpeg' is not offered"):
        figures_to_images([figures[0].figure], formats=("jpeg",))


def test_bundle_of_an_analysis_that_cannot_be_saved_still_has_the_rest(data, spec, tables, bundle_inputs):
    figures, report = bundle_inputs
    unsaveable = AnalysisSpec.from_data(data, data_name="trial.csv", roles=ROLES, estimand="ATE", methods=METHODS,
                                        method_options={"ipw": {"propensity_model": object()}}, seed=3)
    archive = zipfile.ZipFile(io.BytesIO(build_bundle(spec=unsaveable, tables=tables, figures=figures,
                                                      report_html=report, data_source="trial.csv", images=False)))
    files = _members(archive)
    assert set(files) == COMMON - {"analysis.json", "reproduce.py"}
    readme = files["README.txt"].decode("utf-8")
    assert "No analysis.json: Option value" in readme and "No reproduce.py: The method options" in readme
