"""Every export is safe against hostile user strings.

Column names, levels, data and sheet names, versions and option values come
from uploaded files or restored analysis files, so they are hostile input:
the reproduction script must hold them only as Python string literals, the
spreadsheet exports must hold them only as text (never formulas), and the
charts and the HTML report must show them as text (never as markup).
"""
from __future__ import annotations

import ast
import csv
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import tokenize
import types
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import plotly.graph_objects as go
import pytest

import causal_core as cc
from causal_core.charts import (
    causal_diagram,
    covariate_distribution_plot,
    forest_plot,
    interventional_plot,
    love_plot,
    overlap_plot,
    proxy_profile_plot,
    response_curve_plot,
    source_weights_plot,
    subgroup_chart,
)
from causal_core.charts.decision_boundary import decision_boundary_figure
from causal_core.charts.heterogeneity import effect_by_covariate_plot, subgroup_effects_plot
from causal_core.charts.robustness import ovb_contour_plot
from causal_core.charts.stable_learning import coefficients_figure, environment_errors_figure
from causal_core.report import (
    AnalysisSpec,
    MethodLabSettings,
    NamedFigure,
    RefutationSettings,
    build_html_report,
    figure_to_html,
    figure_to_svg,
    report_robustness,
    reproduction_script,
    results_table_csv,
    results_table_xlsx,
    static_export_problem,
)
from causal_core.datasets.table_reader import read_table

ROOT = Path(__file__).resolve().parents[1]

# --- payloads ------------------------------------------------------------------------------------

RUN = "__import__('os').system('touch MARKER')"
OPEN = "open('MARKER2', 'w')"
BREAK_DOUBLE = f'S""";{RUN};"""'
BREAK_REPR = 'S""";__import__("os").system("touch MARKER");"""'  # survives repr unchanged (the reported sheet name)
BREAK_SINGLE = f"'''\n{OPEN}\n'''"
BREAK_LINE = f"x\n{RUN}\n#"
BREAK_CR = f"x\r{OPEN}\r"
FSTRING = "f'{" + RUN + "}'"
MISC = "{x} %s \\ \\n #c \x0b\x0c\x1b\u2028 {{}} %(a)s"
SCRIPT_PAYLOADS = (BREAK_DOUBLE, BREAK_REPR, BREAK_SINGLE, BREAK_LINE, BREAK_CR, FSTRING, MISC, '"""', "'''", "\\")

LINK = '<a href="http://evil.example/">click</a>'
IMG = "<img src=x onerror=alert(1)>"
STYLE = '<span style="color:red;font-size:90px">big</span>'
SCRIPT_TAG = "</script><script>alert(1)</script>"
HTML_PAYLOADS = (LINK, IMG, STYLE, SCRIPT_TAG)

FORMULA = '=HYPERLINK("http://evil.example/","y")'
FORMULA_PAYLOADS = (FORMULA, "+1+2", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1")

# the markup Plotly would render from a payload: a tag with a link, an image, an inline style, a script
RAW_MARKUP = re.compile(r"<\s*/?\s*(a|img|span|script|iframe|svg|font)\b|<[^>]*\b(href|style|onerror)\s*=",
                        re.IGNORECASE)


# --- a data set whose every name is hostile -------------------------------------------------------

TREATMENT = "T" + BREAK_DOUBLE
OUTCOME = "Y" + BREAK_SINGLE
X_NUMERIC = "X" + BREAK_LINE + LINK
X_CATEGORY = "G" + BREAK_CR + IMG
SUBGROUP = "S" + FSTRING + STYLE
TREATED = FORMULA + BREAK_DOUBLE + LINK
CONTROL = "-ctrl" + BREAK_SINGLE + IMG
LEVELS = ("=1+1" + MISC + LINK, "@lvl" + STYLE)


def hostile_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    group = rng.integers(0, 2, n)
    t = rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(0.8 * x + 0.5 * group - 0.2)))
    y = 1.0 + 2.0 * t + x + 0.5 * group + rng.normal(size=n)
    return pd.DataFrame({
        TREATMENT: np.where(t, TREATED, CONTROL),
        OUTCOME: y,
        X_NUMERIC: x,
        X_CATEGORY: np.array(LEVELS, dtype=object)[group],
        SUBGROUP: np.where(rng.uniform(size=n) < 0.5, "=sub" + LINK, "+sub" + IMG),
    })


HOSTILE_ROLES = cc.Roles(treatment=TREATMENT, outcome=OUTCOME, confounders=(X_NUMERIC, X_CATEGORY),
                         subgroups=(SUBGROUP,), treated_level=TREATED)
METHODS = ("difference_in_means", "regression_adjustment")
HOSTILE_METHOD = "m" + BREAK_DOUBLE + LINK


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return hostile_frame()


@pytest.fixture(scope="module")
def results(frame):
    return {m: cc.estimate(frame, HOSTILE_ROLES, m, estimand="ATE", seed=3) for m in METHODS}


@pytest.fixture(scope="module")
def table(frame):
    return cc.compare(frame, HOSTILE_ROLES, methods=list(METHODS), estimand="ATE", seed=3)


# --- 1. reproduction script ----------------------------------------------------------------------


def _with(spec: AnalysisSpec, **fields) -> AnalysisSpec:
    """The spec with fields set as a damaged or hand-edited analysis file could set them (no validation)."""
    copy = dataclasses.replace(spec)
    for name, value in fields.items():
        object.__setattr__(copy, name, value)
    return copy


def _runnable_spec(df: pd.DataFrame, data_name: str) -> AnalysisSpec:
    """Hostile names in every field that still lets the script run to the end."""
    spec = AnalysisSpec.from_data(
        df, data_name=data_name, roles=HOSTILE_ROLES, estimand="ATE", methods=list(METHODS) + [HOSTILE_METHOD],
        method_options={HOSTILE_METHOD: {"model": BREAK_DOUBLE, BREAK_LINE: [BREAK_SINGLE, 1.5]}}, seed=3,
        app_version=BREAK_DOUBLE,
    )
    return _with(spec, engine_version=BREAK_LINE + BREAK_CR)


def _everything_hostile(spec: AnalysisSpec, payload: str) -> AnalysisSpec:
    """Every string field of the spec set to ``payload`` (the script need not run, but must parse)."""
    roles = cc.Roles(treatment="t" + payload, outcome="y" + payload, confounders=("c" + payload,),
                     instruments=("z" + payload,), mechanisms=("m" + payload,), proxies=("p" + payload,),
                     subgroups=("g" + payload,), selection="s" + payload, shadow="w" + payload,
                     treated_level=payload)
    methods = ("regression_adjustment", payload)
    return _with(
        spec, data_name=payload, n_rows=payload, columns=(payload,), data_sha256=payload, roles=roles,
        estimand=payload, methods=methods, method_options={payload: {payload: payload, "k": [payload]}},
        seed=payload, app_version=payload, engine_version=payload,
        refutations=(RefutationSettings(payload, (payload,), payload),),
        method_lab=MethodLabSettings(methods, payload, payload, payload, payload),
    )


def _markers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("MARKER"))


def _run(script: str, folder: Path) -> subprocess.CompletedProcess:
    path = folder / "reproduce.py"
    path.write_text(script, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(path)], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def _check_payloads_are_string_constants(script: str, payloads) -> None:
    tree = ast.parse(script)  # a payload that broke out of a literal would make this fail or show below
    constants = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for payload in payloads:
        assert any(payload in c for c in constants), f"payload {payload!r} is not held as a string literal"
    # with every string literal blanked, no part of a payload is left in the code
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    code = ast.unparse(tree)
    for fragment in ("__import__", "MARKER", "system", "open('MARKER", "evil"):
        assert fragment not in code
    docstring = ast.get_docstring(ast.parse(script)) or ""
    comments = [t.string for t in tokenize.generate_tokens(io.StringIO(script).readline) if t.type == tokenize.COMMENT]
    for text in [docstring, *comments]:
        assert "MARKER" not in text and "evil" not in text and '"""' not in text


@pytest.mark.parametrize("payload", SCRIPT_PAYLOADS + HTML_PAYLOADS)
def test_script_holds_hostile_strings_in_every_field_only_as_string_literals(frame, payload):
    spec = _everything_hostile(AnalysisSpec.from_data(frame, data_name="d", roles=HOSTILE_ROLES, estimand="ATE",
                                                      methods=list(METHODS)), payload)
    script = reproduction_script(spec, "data.csv")
    _check_payloads_are_string_constants(script, [payload])


@pytest.mark.parametrize("field", ["data_name", "app_version", "engine_version", "every field"])
def test_script_with_a_hostile_field_runs_no_code(tmp_path, frame, field):
    spec = AnalysisSpec.from_data(frame, data_name="d", roles=HOSTILE_ROLES, estimand="ATE",
                                  methods=["difference_in_means"])
    if field == "every field":
        spec = _everything_hostile(spec, BREAK_DOUBLE + BREAK_SINGLE + BREAK_LINE)
    else:  # one payload that closes the old docstring and stays valid Python: the reported attack
        spec = _with(spec, **{field: BREAK_REPR})
    frame.to_parquet(tmp_path / "data.parquet", index=False)
    done = _run(reproduction_script(spec, "data.parquet"), tmp_path)  # "every field" may fail on the settings
    assert _markers(tmp_path) == []
    if field != "every field":
        assert done.returncode == 0, done.stderr


def test_script_with_hostile_names_runs_and_reproduces_the_estimates(tmp_path, frame):
    name = 'data """ \'\'\' # {x} %s \\ ' + "\n" + "touch MARKER.parquet"
    (tmp_path / name).write_bytes(_parquet_bytes(frame))
    loaded = read_table((tmp_path / name).read_bytes(), name)  # what the app holds after the upload
    assert list(loaded.columns) == list(frame.columns)
    spec = _runnable_spec(loaded, data_name=f"{name} [sheet {BREAK_DOUBLE}]")
    script = reproduction_script(spec, name)
    _check_payloads_are_string_constants(script, [BREAK_DOUBLE, BREAK_SINGLE, BREAK_LINE, BREAK_CR, TREATED, name])

    done = _run(script, tmp_path)
    assert _markers(tmp_path) == []
    assert done.returncode == 0, done.stderr
    assert "differs from the data" not in done.stderr
    expected = cc.compare(loaded, HOSTILE_ROLES, methods=list(METHODS), estimand="ATE", seed=3).set_index("method")
    results = done.stdout.split("## Results\n", 1)[1].split("\n\n", 1)[0].splitlines()
    for method in METHODS:
        row = next(line.split() for line in results if line.split()[:1] == [method])
        estimate, std_error = float(row[2]), float(row[3])
        assert estimate == pytest.approx(expected.loc[method, "estimate"], rel=1e-10)
        assert std_error == pytest.approx(expected.loc[method, "std_error"], rel=1e-10)
    assert f"{HOSTILE_METHOD}: failed" in done.stderr  # an unknown method id is a clear failure, not code


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


# --- 2. spreadsheet exports ----------------------------------------------------------------------


def _results_with_hostile_text(table: pd.DataFrame) -> pd.DataFrame:
    extra = table.copy()
    extra["error"] = FORMULA_PAYLOADS[: len(extra)] if len(extra) <= len(FORMULA_PAYLOADS) else FORMULA
    extra[FORMULA] = ["@SUM(A1)", "-1+1"][: len(extra)]
    extra["negative"] = -1.5
    return extra


def test_xlsx_holds_hostile_strings_as_text_never_formulas(table, frame):
    hostile = _results_with_hostile_text(table)
    spec = _runnable_spec(frame, data_name=FORMULA)
    spec = _with(spec, estimand="+" + FORMULA, app_version="@" + FORMULA)
    book = openpyxl.load_workbook(io.BytesIO(results_table_xlsx(hostile, spec=spec)))
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    if cell.value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        assert cell.quotePrefix, f"{sheet.title}!{cell.coordinate} is not marked as text"
    for payload in (FORMULA, "+1+2", "@SUM(A1)", TREATED, "+" + FORMULA, "@" + FORMULA):
        assert any(payload in text for text in texts), payload
    results = book["Results"]
    header = [c.value for c in results[1]]
    assert FORMULA in header  # the column name survives as text
    negative = [row[header.index("negative")] for row in results.iter_rows(min_row=2)]
    assert all(c.data_type == "n" and c.value == -1.5 for c in negative)  # numbers stay numbers
    estimates = [row[header.index("estimate")].value for row in results.iter_rows(min_row=2)]
    assert estimates == pytest.approx(table["estimate"].tolist(), rel=1e-12)


def _csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_results_csv_neutralises_formula_text_and_keeps_numbers(table):
    hostile = _results_with_hostile_text(table)
    rows = _csv_cells(results_table_csv(hostile))
    header, body = rows[0], rows[1:]
    assert "'" + FORMULA in header
    errors = [row[header.index("error")] for row in body]
    assert errors == ["'" + e for e in hostile["error"]]
    assert [row[header.index("'" + FORMULA)] for row in body] == ["'@SUM(A1)", "'-1+1"][: len(body)]
    assert [float(row[header.index("negative")]) for row in body] == [-1.5] * len(body)  # not prefixed
    assert [float(row[header.index("estimate")]) for row in body] == pytest.approx(table["estimate"].tolist(),
                                                                                   rel=1e-12)
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "@", "\t", "\r") and not (cell[:1] == "-" and not _is_number(cell))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_frame_csv_neutralises_formula_text_of_any_table(frame):
    """The CSV of a table the app offers (e.g. the deconfounded samples of mechanism learning)."""
    from causal_core.report.tables import frame_csv

    sample = frame.head(20).assign(**{"-1 negative": -np.arange(20.0)})
    rows = _csv_cells(frame_csv(sample))
    header, body = rows[0], rows[1:]
    assert header == [("'" + c if c[:1] in "=+-@\t\r" else c) for c in sample.columns]
    treatment = [row[0] for row in body]
    assert set(treatment) == {"'" + TREATED, "'" + CONTROL}
    assert [float(row[-1]) for row in body] == (-np.arange(20.0)).tolist()
    assert set(sample[TREATMENT]) == {TREATED, CONTROL}  # the caller's table is untouched


# --- 3. charts -----------------------------------------------------------------------------------


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [s for v in value.tolist() for s in _strings(v)]
    return []


def _assert_no_markup(figure: go.Figure) -> None:
    assert isinstance(figure, go.Figure)
    strings = _strings(figure.to_plotly_json())
    found = [s for s in strings if RAW_MARKUP.search(s)]
    assert not found, f"raw markup reaches the chart: {found[:3]}"
    assert any("evil.example" in s or "onerror" in s or "color:red" in s for s in strings), "payload not shown"


def _mixture_tables():
    sources = pd.DataFrame({"source": ["=src" + LINK, "src" + IMG], "weight": [0.4, 0.6],
                            "P(T=1|source)": [0.3, 0.7], "effect within source": [1.0, 2.0]})
    proxies = pd.DataFrame({"proxy": [X_CATEGORY, X_CATEGORY], "level": list(LEVELS),
                            "source 1": [0.2, 0.8], "source 2": [0.6, 0.4]})
    do = pd.DataFrame({"treatment": [CONTROL, TREATED], "E[Y|do(T=t)]": [1.0, 3.0]})
    return sources, proxies, do


def _classifier(f: pd.DataFrame):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(f[[X_NUMERIC, OUTCOME]], f[X_CATEGORY])


def _ovb(f: pd.DataFrame):
    """The OVB analysis with hostile confounder names as benchmarks (it needs a 0/1 treatment)."""
    coded = f.assign(**{TREATMENT: (f[TREATMENT] == TREATED).astype(int)})
    roles = dataclasses.replace(HOSTILE_ROLES, treated_level=None)
    result = cc.estimate(coded, roles, "regression_adjustment", estimand="ATE", seed=3)
    return cc.sensitivity_for_result(coded, roles, result, options={}).ovb


CHARTS = {
    "forest": lambda f, t, r: forest_plot(t.assign(label=[LINK, IMG]), outcome=OUTCOME + STYLE, estimand=IMG),
    "love": lambda f, t, r: love_plot({LINK: cc.balance_table(f, HOSTILE_ROLES, weights=np.ones(len(f)))}),
    "overlap": lambda f, t, r: overlap_plot(np.linspace(0.1, 0.9, 10), np.arange(10) % 2 == 0,
                                            treated_label=TREATED, control_label=CONTROL),
    "covariates": lambda f, t, r: covariate_distribution_plot(f[X_CATEGORY], f[TREATMENT] == TREATED,
                                                              weights=np.ones(len(f)), name=X_CATEGORY),
    "subgroups": lambda f, t, r: subgroup_chart(cc.subgroup_table(f, TREATMENT, OUTCOME, SUBGROUP,
                                                                  treated_level=TREATED),
                                                by=SUBGROUP, outcome=OUTCOME + LINK),
    "response": lambda f, t, r: response_curve_plot(pd.DataFrame({"treatment": [0, 1], "response": [1.0, 2.0]}),
                                                    treatment=TREATMENT + LINK, outcome=OUTCOME + IMG),
    "diagram": lambda f, t, r: causal_diagram(cc.Roles(treatment=LINK, outcome=IMG, confounders=(STYLE,),
                                                       instruments=(SCRIPT_TAG,), selection="s" + LINK)),
    "subgroup_effects": lambda f, t, r: subgroup_effects_plot(
        pd.DataFrame({"subgroup": [0, 1], "size": [5, 6], "estimate": [1.0, 2.0], "ci_low": [0.0, 1.0],
                      "ci_high": [2.0, 3.0]}), overall=1.5, outcome=OUTCOME + LINK),
    "effect_by_covariate": lambda f, t, r: effect_by_covariate_plot(f[X_NUMERIC], f[OUTCOME], name=X_NUMERIC),
    "source_weights": lambda f, t, r: source_weights_plot(_mixture_tables()[0], title=STYLE),
    "proxy_profile": lambda f, t, r: proxy_profile_plot(_mixture_tables()[1], title=IMG),
    "interventional": lambda f, t, r: interventional_plot(_mixture_tables()[2], naive={TREATED: 2.0}, title=LINK),
    "ovb": lambda f, t, r: ovb_contour_plot(_ovb(f)),
    "environments": lambda f, t, r: environment_errors_figure(
        pd.DataFrame({"environment": [LINK, IMG], "training": [True, False], "ordinary": [1.0, 2.0],
                      "stable": [1.1, 1.5]}), error_name=STYLE),
    "coefficients": lambda f, t, r: coefficients_figure(pd.Series([1.0, 2.0], index=[LINK, IMG]),
                                                        pd.Series([1.5, 0.5], index=[LINK, IMG])),
    "decision_boundary": lambda f, t, r: decision_boundary_figure(
        {LINK: _classifier(f)}, f, [X_NUMERIC, OUTCOME], X_CATEGORY, grid_size=10, title=IMG),
}


@pytest.mark.parametrize("chart", list(CHARTS))
def test_chart_shows_hostile_names_as_text(chart, frame, table, results):
    _assert_no_markup(CHARTS[chart](frame, table, results))


def test_chart_text_is_escaped_once_and_keeps_the_characters():
    from causal_core.charts._text import plotly_text

    assert plotly_text('a<b>&c "d"') == 'a&lt;b&gt;&amp;c "d"'
    assert plotly_text(3) == "3"
    figure = forest_plot(pd.DataFrame({"method": ["m"], "label": ["x & <y>"], "estimate": [1.0],
                                       "ci_low": [0.0], "ci_high": [2.0]}))
    assert list(figure.data[0].y) == ["x &amp; &lt;y&gt;"]  # Plotly shows the entities as the characters


needs_chromium = pytest.mark.skipif(static_export_problem() is not None, reason=str(static_export_problem()))


@needs_chromium
def test_svg_export_has_no_live_link_from_a_payload(table):
    figure = forest_plot(table.assign(label=[LINK, STYLE]), outcome=LINK)
    svg = figure_to_svg(figure)
    root = ET.fromstring(svg)
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    assert "a" not in tags
    for element in root.iter():
        for name, value in element.attrib.items():
            assert "evil.example" not in value, (element.tag, name)
            assert "font-size:90px" not in value.replace(" ", "")
    assert "evil.example" in svg.decode("utf-8")  # shown as text


def test_interactive_chart_export_shows_hostile_names_as_text(table):
    page = figure_to_html(forest_plot(table.assign(label=[LINK, IMG]), outcome=STYLE), title=IMG + SCRIPT_TAG)
    parsed = _parse(page)
    assert "img" not in parsed.tags and "a" not in parsed.tags
    data = _figure_payloads(page)
    assert data and not any(RAW_MARKUP.search(s) for s in data)


# --- 4. HTML report ------------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    return parser


def _figure_payloads(page: str) -> list[str]:
    """Every string of the data and layout of every figure handed to Plotly.newPlot in the page."""
    decoder = json.JSONDecoder()
    strings: list[str] = []
    for match in re.finditer(r"Plotly\.newPlot\(", page):
        position = match.end()
        for _ in range(3):  # the div id, the traces, the layout
            while page[position] in " \n\t,":
                position += 1
            value, position = decoder.raw_decode(page, position)
            strings += _strings(value)
    return strings


REPORT_TAGS = {"html", "head", "meta", "title", "style", "script", "body", "h1", "h2", "h3", "h4", "p", "b",
               "code", "div", "table", "thead", "tbody", "tr", "th", "td", "br", "span", "section"}
REPORT_ATTRIBUTES = {"lang", "charset", "name", "content", "type", "class", "id", "colspan", "data-value",
                     "data-method", "style", "border"}


def test_html_report_shows_hostile_strings_in_every_field_as_text(frame, table, results):
    hostile_table = pd.concat([table, pd.DataFrame([{"method": HOSTILE_METHOD, "estimand": "ATE",
                                                     "error": "failed: " + IMG + LINK}])], ignore_index=True)
    warned = {m: dataclasses.replace(r, warnings=(STYLE + LINK, IMG)) for m, r in results.items()}
    warned[HOSTILE_METHOD] = results["regression_adjustment"]
    chart = forest_plot(table.assign(label=[LINK, IMG]), outcome=OUTCOME)
    robustness, _ = report_robustness(frame, HOSTILE_ROLES, results)
    page = build_html_report(
        data_name=BREAK_DOUBLE + LINK, df=frame, roles=HOSTILE_ROLES, estimand=IMG, table=hostile_table,
        results=warned, seed=IMG + LINK, title=STYLE + SCRIPT_TAG, notes=[LINK, SCRIPT_TAG],
        method_options={"regression_adjustment": {IMG: LINK, "model": STYLE}, HOSTILE_METHOD: {"k": IMG}},
        figures=[NamedFigure("hostile", IMG + LINK, chart), NamedFigure("own", LINK, chart, method=HOSTILE_METHOD)],
        diagram=causal_diagram(HOSTILE_ROLES), robustness=robustness,
    )
    parsed = _parse(page)
    assert set(parsed.tags) <= REPORT_TAGS, set(parsed.tags) - REPORT_TAGS
    for tag, name, value in parsed.attributes:
        assert name in REPORT_ATTRIBUTES, (tag, name, value)
        assert not name.startswith("on")
        if name == "style":  # plotly's chart divs and pandas' table heads carry a fixed style
            assert tag in ("div", "tr") and "color:red" not in (value or "").replace(" ", "")
        if name == "id":
            assert re.fullmatch(r"[A-Za-z0-9_-]+", value or ""), value
    # plotly.js itself, then one call per chart: a payload never closes a script or opens a new one
    assert parsed.tags.count("script") == 1 + page.count("Plotly.newPlot(")
    figure_strings = _figure_payloads(page)
    assert figure_strings and not any(RAW_MARKUP.search(s) for s in figure_strings)
    text = "".join(parsed.text)
    for payload in (LINK, IMG, STYLE, SCRIPT_TAG, BREAK_DOUBLE):
        assert payload in text  # shown as text, character for character


def test_frame_csv_writes_dates_and_booleans_as_pandas_does():
    from causal_core.report.tables import frame_csv

    table = pd.DataFrame({"day": pd.to_datetime(["2024-01-02", "2024-03-04"]), "flag": [True, False],
                          "note": ["-minus", "plain"]})
    rows = _csv_cells(frame_csv(table))
    assert rows == [["day", "flag", "note"], ["2024-01-02", "True", "'-minus"], ["2024-03-04", "False", "plain"]]


def test_named_figure_slug_is_file_name_safe():
    figure = NamedFigure("weights_" + "../" + LINK, "title", go.Figure())
    assert re.fullmatch(r"[A-Za-z0-9_-]+", figure.slug)
    assert NamedFigure("love_plot", "t", go.Figure()).slug == "love_plot"


@pytest.mark.parametrize("payload", SCRIPT_PAYLOADS + HTML_PAYLOADS)
def test_script_writes_a_hostile_cluster_address_only_as_a_literal(frame, payload):
    spec = AnalysisSpec.from_data(frame, data_name="d", roles=HOSTILE_ROLES, estimand="ATE",
                                  methods=["difference_in_means"])
    address = "tcp://" + payload
    script = reproduction_script(spec, "data.csv", compute={"backend": "cluster", "address": address,
                                                            "n_workers": 2})
    _check_payloads_are_string_constants(script, [payload])
    calls = [node for node in ast.walk(ast.parse(script)) if isinstance(node, ast.Call)
             and ast.unparse(node.func) == "cc.set_backend"]
    assert len(calls) == 1 and ast.literal_eval(calls[0].args[0]) == address


def test_script_sets_the_local_backend_and_nothing_for_a_serial_run(frame):
    from causal_core.report.script import analysis_compute

    spec = AnalysisSpec.from_data(frame, data_name="d", roles=HOSTILE_ROLES, estimand="ATE",
                                  methods=["difference_in_means"])
    local = reproduction_script(spec, "data.csv", compute={"backend": "local", "address": "tcp://127.0.0.1:1",
                                                           "n_workers": 3})
    assert "\ncc.set_backend('local', n_workers=3)\n" in local
    assert "set_backend" not in reproduction_script(spec, "data.csv", compute={"backend": "serial"})
    assert "set_backend" not in reproduction_script(spec, "data.csv")
    with pytest.raises(cc.CausalInputError, match="'compute.n_workers' must be a positive integer"):
        reproduction_script(spec, "data.csv", compute={"backend": "local", "n_workers": "3; import os"})
    results = {"a": types.SimpleNamespace(compute={"backend": "serial"}),
               "b": types.SimpleNamespace(compute={"backend": "local", "n_workers": 2})}
    assert analysis_compute(results) == {"backend": "local", "n_workers": 2}
    assert analysis_compute({"a": results["a"]}) is None
