"""A self-contained HTML report of one analysis: it opens offline, in any browser, years later.

plotly.js is embedded inline once in the page head; every chart is a ``<div>``
with its figure JSON, so the file has no external script, style or font.
Each number in the results table and in the method diagnostics carries its
full-precision value in a ``data-value`` attribute, for anyone who reads the
report by program. After the results come each method's own diagnostics
(:mod:`causal_core.report.method_diagnostics`) and, when given, the
robustness section (:func:`causal_core.report.robustness.report_robustness`).
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from html import escape
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from causal_core.core.formatting import format_table_value
from causal_core.core.labels import RESULT_NUMBER_COLUMNS, column_label

from causal_core.core.errors import CausalInputError
from causal_core.core.registry import get_method
from causal_core.compute.backend import describe_compute
from causal_core.core.results import EstimateResult
from causal_core.robustness.agreement import disagreement_note
from causal_core.core.roles import Roles
from causal_core.report.analysis_file import data_fingerprint, engine_version
from causal_core.report.method_diagnostics import diagnostic_figures, diagnostics_html
from causal_core.report.named_figure import NamedFigure
from causal_core.robustness.sensitivity import RobustnessSection

__all__ = ["build_html_report"]

_RESULT_COLUMNS = tuple((column, column_label(column)) for column in RESULT_NUMBER_COLUMNS)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #1f2933; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #d9dee4; padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin-bottom: 0.2rem; }
.meta { color: #52606d; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d9dee4; padding: 0.3rem 0.55rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.failed td { color: #9b1c1c; }
.warning { background: #fff8e6; border-left: 4px solid #e0a800; padding: 0.4rem 0.7rem; margin: 0.3rem 0; }
.error { background: #fdecec; border-left: 4px solid #c81e1e; padding: 0.4rem 0.7rem; margin: 0.3rem 0; }
.figure { margin: 1rem 0 1.6rem 0; }
code { background: #f3f5f7; padding: 0 0.2rem; }
h4 { font-size: 0.95rem; margin: 0.9rem 0 0.2rem 0; }
table.diagnostics-values th { font-weight: normal; }
section.method-diagnostics { margin-bottom: 1.6rem; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: 0.6rem 0; }
.table-wrap table { margin: 0; }
.figure { max-width: 100%; overflow-x: auto; }
table.diagnostics-table { display: block; max-width: 100%; overflow-x: auto; }
"""


def _cell(value: Any, column: str) -> str:
    text = escape(format_table_value(value, column))
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        if math.isfinite(float(value)):
            return f'<td class="number" data-value="{float(value)!r}">{text}</td>'
    return f'<td class="number">{text}</td>'


def _html_id(*parts: Any) -> str:
    """An element id from trusted and user parts: letters, digits, '-' and '_' only (it also names a chart's div)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", "-".join(str(p) for p in parts))


def _present(value: Any) -> bool:
    """True for a non-empty string (NaN and None count as absent)."""
    return isinstance(value, str) and value.strip() != ""


def _method_label(method_id: str) -> str:
    try:
        return get_method(method_id).label
    except CausalInputError:
        return method_id


def _computed_on(results: Mapping[str, EstimateResult]) -> str:
    """Where the estimates' fan-outs ran, from the results' provenance (each result records its backend)."""
    places = list(dict.fromkeys(describe_compute(dict(getattr(r, "compute", None) or {})) for r in results.values()))
    return "; ".join(places) or describe_compute({})


def _results_table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{escape(title)}</th>" for _, title in _RESULT_COLUMNS)
    rows = []
    for record in table.to_dict("records"):
        method = str(record.get("method", ""))
        label = record.get("label") if _present(record.get("label")) else _method_label(method)
        failed = _present(record.get("error"))
        name = f'<td data-method="{escape(method)}">{escape(str(label))}<br><code>{escape(method)}</code></td>'
        if failed:
            cells = f'<td colspan="{len(_RESULT_COLUMNS)}">Failed: {escape(str(record["error"]))}</td>'
            rows.append(f'<tr class="failed">{name}{cells}</tr>')
        else:
            cells = "".join(_cell(record.get(column), column) for column, _ in _RESULT_COLUMNS)
            rows.append(f"<tr>{name}{cells}</tr>")
    return (
        '<table class="results" id="results-table"><thead><tr><th>Method</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _column_summary(df: pd.DataFrame, roles: Roles) -> str:
    rows = []
    for role, column in roles.assignments():
        if column not in df.columns:
            continue
        series = df[column]
        missing = int(series.isna().sum())
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = pd.to_numeric(series, errors="coerce")
            kind = "numeric"
            described = (
                f"mean {format_table_value(values.mean())}, sd {format_table_value(values.std())}, "
                f"min {format_table_value(values.min())}, max {format_table_value(values.max())}"
            )
        else:
            counts = series.astype(str).where(series.notna()).value_counts()
            kind = f"categorical, {counts.size} levels"
            described = ", ".join(f"{escape(str(k))}: {v:,}" for k, v in counts.head(6).items())
            if counts.size > 6:
                described += ", ..."
        rows.append(
            f"<tr><td>{escape(str(role))}</td><td><code>{escape(str(column))}</code></td><td>{escape(kind)}</td>"
            f'<td class="number">{missing:,}</td><td>{escape(described) if kind == "numeric" else described}</td></tr>'
        )
    return (
        "<table><thead><tr><th>Role</th><th>Column</th><th>Type</th><th>Missing</th><th>Summary</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _treatment_counts(df: pd.DataFrame, roles: Roles) -> str:
    if roles.treatment not in df.columns:
        return ""
    counts = df[roles.treatment].value_counts(dropna=False)
    if counts.size > 10:
        return ""
    items = ", ".join(f"{escape(str(level))}: {n:,}" for level, n in counts.sort_index().items())
    return f"<p>Treatment <code>{escape(str(roles.treatment))}</code> arms: {items}.</p>"


def _figure_div(fig: go.Figure, div_id: str) -> str:
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def _warnings_section(table: pd.DataFrame, results: Mapping[str, EstimateResult]) -> str:
    blocks = []
    for record in table.to_dict("records"):
        method = str(record.get("method", ""))
        label = escape(_method_label(method))
        if _present(record.get("error")):
            blocks.append(f'<div class="error"><b>{label}</b> failed: {escape(str(record["error"]))}</div>')
            continue
        result = results.get(method)
        messages = list(result.warnings) if result is not None else (
            str(record["warnings"]).split(" | ") if _present(record.get("warnings")) else []
        )
        for message in dict.fromkeys(messages):
            blocks.append(f'<div class="warning"><b>{label}</b>: {escape(str(message))}</div>')
    return "".join(blocks) or "<p>No method reported a warning.</p>"


def _methods_section(methods: Sequence[str], options: Mapping[str, Mapping[str, Any]]) -> str:
    blocks = []
    for method in methods:
        try:
            info = get_method(method)
        except CausalInputError:
            blocks.append(f"<h3><code>{escape(str(method))}</code></h3><p>Not a registered method.</p>")
            continue
        used = options.get(method) or {}
        described = ", ".join(f"<code>{escape(str(k))}={escape(repr(v))}</code>" for k, v in used.items())
        blocks.append(
            f"<h3>{escape(info.label)} <code>{escape(info.id)}</code></h3>"
            f"<p>{escape(info.summary)}<br><span class=\"meta\">Family: {escape(info.family)}. "
            f"Reference: {escape(info.reference)}</span>"
            + (f"<br>Options: {described}" if described else "")
            + "</p>"
        )
    return "".join(blocks)


def _diagnostics_section(
    methods: Sequence[str],
    results: Mapping[str, EstimateResult],
    roles: Roles,
    figures: Sequence[NamedFigure],
) -> str:
    """One block per method that ran: its diagnostics tables, then its charts (given, or drawn here)."""
    blocks = []
    for method in methods:
        result = results.get(method)
        if result is None:
            continue
        label = _method_label(method)
        own = [f for f in figures if f.method == method]
        problems: list[str] = []
        if not own:
            own, problems = diagnostic_figures(result, roles, label=label)
        try:
            tables = diagnostics_html(result)
        except Exception as exc:  # an odd diagnostic value must not stop the report
            tables = f'<p class="meta">The diagnostics could not be shown ({escape(type(exc).__name__)}: {escape(str(exc))}).</p>'
        parts = [
            f'<section class="method-diagnostics" id="{_html_id("diagnostics", method)}">',
            f"<h3>{escape(label)} <code>{escape(method)}</code></h3>",
            tables,
        ]
        for j, item in enumerate(own):
            parts.append(f"<h4>{escape(str(item.title))}</h4>")
            parts.append(f'<div class="figure">{_figure_div(item.figure, _html_id("figure", method, j))}</div>')
        parts += [f'<p class="meta">{escape(p)}</p>' for p in problems]
        parts.append("</section>")
        blocks.append("".join(parts))
    return "".join(blocks) or "<p>No method gave a result.</p>"


def _robustness_part(section: RobustnessSection) -> str:
    parts = [section.html]
    for j, (_, figure_title, figure) in enumerate(section.figures):
        parts.append(f"<h4>{escape(str(figure_title))}</h4>")
        parts.append(f'<div class="figure">{_figure_div(figure, f"figure-robustness-{j}")}</div>')
    return "\n".join(parts)


def _named(item: NamedFigure | tuple[str, go.Figure], i: int) -> NamedFigure:
    if isinstance(item, NamedFigure):
        return item
    figure_title, figure = item
    return NamedFigure(f"figure_{i}", figure_title, figure)


def build_html_report(
    *,
    data_name: str,
    df: pd.DataFrame,
    roles: Roles,
    estimand: str,
    table: pd.DataFrame,
    results: Mapping[str, EstimateResult] | None = None,
    figures: Sequence[NamedFigure | tuple[str, go.Figure]] = (),
    diagram: go.Figure | None = None,
    seed: int = 0,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "Causal analysis report",
    notes: Sequence[str] = (),
    robustness: RobustnessSection | None = None,
) -> str:
    """One self-contained HTML page describing the analysis and its results.

    Parameters
    ----------
    data_name : str
        Name of the data set.
    df : DataFrame
        The data analysed (summarised, never embedded).
    roles : Roles
        Column roles.
    estimand : str
        The estimand.
    table : DataFrame
        Results table of :func:`causal_core.compare` (optionally with ``label``).
    results : dict, optional
        Method id -> :class:`EstimateResult`, for the full warnings.
    figures : sequence of NamedFigure or (title, Figure)
        Result charts, shown in order after the results table; a
        :class:`NamedFigure` with ``method`` set is shown with that method's
        diagnostics instead (methods given none get their charts drawn here).
    diagram : Figure, optional
        The causal diagram, shown with the roles.
    seed : int
        Seed of the run.
    method_options : dict, optional
        Method id -> options used.
    title : str
        Page title.
    notes : sequence of str
        Extra sentences shown under the title (e.g. "results are out of date").
    robustness : RobustnessSection, optional
        Agreement, sensitivity, refutation and method-lab results
        (:func:`causal_core.report.robustness.report_robustness`), shown after
        the method diagnostics.

    Returns
    -------
    str
        The HTML document (UTF-8); plotly.js is inline, so it works offline.
    """
    if not isinstance(df, pd.DataFrame) or not isinstance(table, pd.DataFrame):
        raise CausalInputError("build_html_report needs the data and the results table as pandas DataFrames.")
    if not isinstance(roles, Roles):
        raise CausalInputError(f"Roles must be a causal_core.Roles; got {type(roles).__name__}.")
    results = dict(results or {})
    options = dict(method_options or {})
    methods = [str(m) for m in table["method"]] if "method" in table.columns else list(results)
    generated = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(str(title))}: {escape(str(data_name))}</title>",
        f"<style>{_CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>{escape(str(title))}</h1>",
        f'<p class="meta">Data <b>{escape(str(data_name))}</b>; estimand <b>{escape(str(estimand))}</b>; '
        f"seed {escape(str(seed))}; "
        f"generated {escape(generated)} with causal_core {escape(engine_version())}; "
        f"computed on {escape(_computed_on(results))}.</p>",
    ]
    disagreement = disagreement_note(results)
    notes = [*notes, *([disagreement] if disagreement else [])]
    parts += [f'<div class="warning">{escape(str(note))}</div>' for note in notes]

    parts.append("<h2>Data</h2>")
    parts.append(
        f"<p>{df.shape[0]:,} rows and {df.shape[1]:,} columns. SHA-256 fingerprint "
        f"<code>{data_fingerprint(df)}</code>.</p>"
    )
    parts.append(_treatment_counts(df, roles))
    parts.append("<h2>Roles</h2>")
    if roles.treated_level is not None:
        parts.append(f"<p>Treated level: <code>{escape(str(roles.treated_level))}</code>.</p>")
    parts.append(_column_summary(df, roles))
    if diagram is not None:
        parts.append(f'<div class="figure">{_figure_div(diagram, "figure-diagram")}</div>')

    parts.append(f"<h2>Results: {escape(str(estimand))}</h2>")
    parts.append(_results_table(table))
    named = [_named(item, i) for i, item in enumerate(figures)]
    for i, item in enumerate(f for f in named if f.method is None):
        parts.append(f"<h3>{escape(str(item.title))}</h3>")
        parts.append(f'<div class="figure">{_figure_div(item.figure, f"figure-{i}")}</div>')

    if results:
        parts.append("<h2>Method diagnostics</h2>")
        parts.append(_diagnostics_section(methods + [m for m in results if m not in methods], results, roles, named))
    if robustness is not None:
        parts.append(_robustness_part(robustness))

    parts.append("<h2>Warnings</h2>")
    parts.append(_warnings_section(table, results))
    parts.append("<h2>Methods</h2>")
    parts.append(_methods_section(methods, options))
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)
