"""Each method's own diagnostics in the report: numbers, tables and charts, whatever the method.

:attr:`EstimateResult.diagnostics <causal_core.EstimateResult.diagnostics>` is read generically:

* numbers, strings and booleans, and (nested) dicts of them, form one key/value table;
* DataFrames become tables; long ones show their first and last rows, wide ones their first columns;
* ``response_curve`` is drawn with :func:`causal_core.charts.response_curve_plot`, ``subgroups``
  (GMM subgroups) as a forest chart of the subgroup effects, ``bic`` as the BIC curve, and the
  result's ``unit_effects`` as a histogram;
* arrays with one value per row (weights, propensity scores, subgroup assignments) are named,
  never dumped; other arrays (bootstrap replicates) are summarised by their mean and spread.

A chart that cannot be drawn is left out with a note; it never stops the report.
"""
from __future__ import annotations

import math
from html import escape
from typing import Any, Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from causal_core.core.formatting import format_number
from causal_core.core.labels import column_label, diagnostic_label

from causal_core.charts import heterogeneity as heterogeneity_charts
from causal_core.charts import response_curve_plot
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles
from causal_core.report.named_figure import NamedFigure

__all__ = ["diagnostic_figures", "diagnostics_html", "frame_html", "MAX_TABLE_ROWS", "MAX_TABLE_COLUMNS"]

#: Longer tables show their first ``HEAD_ROWS`` and last ``TAIL_ROWS`` rows.
MAX_TABLE_ROWS = 20
HEAD_ROWS = 12
TAIL_ROWS = 5
#: Wider tables show their first columns only.
MAX_TABLE_COLUMNS = 12
#: 1-D arrays up to this length (and not one value per row) are listed in full.
MAX_LISTED_VALUES = 10
#: Entries of one dict shown in the key/value table.
MAX_DICT_ENTRIES = 40
#: Unit effects beyond this many are drawn from their quantiles (same shape, smaller file).
MAX_HISTOGRAM_POINTS = 20_000
#: Diagnostics drawn as charts, not repeated as tables.
CHARTED = ("response_curve",)
#: Significant figures of scalar diagnostics and of the cells of diagnostic tables: the one formatter's
#: default, so a number shown here reads exactly as in the results table.
DIAGNOSTIC_DIGITS = 4
FRAME_DIGITS = 4


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int, float, np.bool_, np.integer, np.floating))


def _value_cell(value: Any) -> str:
    text = escape(format_number(value, digits=DIAGNOSTIC_DIGITS))
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if numeric and math.isfinite(float(value)):
        return f'<td class="number" data-value="{float(value)!r}">{text}</td>'
    return f'<td class="number">{text}</td>' if numeric else f"<td>{text}</td>"


def _flatten(name: str, value: dict, depth: int = 0) -> list[tuple[str, Any]] | None:
    """``name: key`` rows of a dict of scalars (two levels deep at most), or None when it holds other things."""
    rows: list[tuple[str, Any]] = []
    for key, item in list(value.items())[:MAX_DICT_ENTRIES]:
        label = f"{name}: {key}"
        if _is_scalar(item):
            rows.append((label, item))
        elif isinstance(item, dict) and depth == 0:
            inner = _flatten(label, item, depth + 1)
            if inner is None:
                return None
            rows.extend(inner)
        else:
            return None
    if len(value) > MAX_DICT_ENTRIES:
        rows.append((f"{name}: ...", f"{len(value) - MAX_DICT_ENTRIES} more entries not shown"))
    return rows


def _array_row(name: str, value: Any, n_rows: int) -> tuple[str, Any] | None:
    """A key/value row describing an array, or None when it has one value per data row (not shown)."""
    try:
        array = np.asarray(value)
    except Exception:  # ragged or exotic: describe its type only
        return name, f"{type(value).__name__} (not shown)"
    if array.ndim == 0:
        return name, array.item()
    if array.shape[0] == n_rows and n_rows > MAX_LISTED_VALUES:
        return None
    if array.ndim > 1:
        return name, f"array of shape {' x '.join(map(str, array.shape))} (not shown)"
    if array.size <= MAX_LISTED_VALUES:
        return name, ", ".join(format_number(v.item() if hasattr(v, "item") else v, digits=DIAGNOSTIC_DIGITS) for v in array)
    if np.issubdtype(array.dtype, np.number):
        finite = array[np.isfinite(array)].astype(float)
        if finite.size:
            return name, (f"{array.size:,} values: mean {format_number(finite.mean(), digits=DIAGNOSTIC_DIGITS)}, SD {format_number(finite.std(ddof=1) if finite.size > 1 else 0.0, digits=DIAGNOSTIC_DIGITS)}, "
                          f"from {format_number(finite.min(), digits=DIAGNOSTIC_DIGITS)} to {format_number(finite.max(), digits=DIAGNOSTIC_DIGITS)}")
    if array.size <= MAX_DICT_ENTRIES:  # names (selected variables...) are worth listing
        return name, ", ".join(str(v) for v in array)
    return name, f"{array.size:,} values (not shown)"


def _key_value_rows(result: EstimateResult) -> tuple[list[tuple[str, Any]], list[str]]:
    """Rows of the key/value table and the names of per-row arrays left out."""
    rows: list[tuple[str, Any]] = []
    per_row: list[str] = []
    weights = result.weight_diagnostics
    if result.weights is not None:  # matching and weighting drop units: say how many enter the estimate
        rows.append(("Rows used (enter the estimate)", result.n_used))
        for arm, count in result.n_used_by_arm.items():
            rows.append((f"Rows used: {arm}", int(count)))
        rows.append(("Rows in the design (after dropping missing values)", result.n_rows))
    if weights is not None:  # the typed record first: the same names for every weighting or matching method
        for arm, after in weights.ess_after.items():
            rows.append((f"Effective sample size (Kish): {arm}",
                         f"{format_number(after, digits=DIAGNOSTIC_DIGITS)} of "
                         f"{format_number(int(round(weights.ess_before[arm])))} rows"))
        rows.append((diagnostic_label("max_weight_share"), weights.max_weight_share))
        rows.append((diagnostic_label("n_zero"), weights.n_zero))
    for name, value in result.diagnostics.items():
        if name in CHARTED or isinstance(value, pd.DataFrame):
            continue
        label = diagnostic_label(name)
        if _is_scalar(value):
            rows.append((label, value))
        elif isinstance(value, dict):
            flat = _flatten(label, value)
            rows.extend(flat if flat is not None else [(label, f"table of {len(value)} entries (not shown)")])
        elif isinstance(value, (pd.Series, np.ndarray, list, tuple)):
            row = _array_row(label, value.to_numpy() if isinstance(value, pd.Series) else value, result.n_rows)
            if row is None:
                per_row.append(label)
            else:
                rows.append(row)
        else:
            rows.append((label, f"{type(value).__name__} (not shown)"))
    return rows, per_row


def _frame_cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return "" if math.isnan(number) else format_number(number, digits=FRAME_DIGITS)
    return format_number(value, digits=DIAGNOSTIC_DIGITS)


def frame_html(frame: pd.DataFrame) -> str:
    """A diagnostics DataFrame as an HTML table: numbers to 4 significant digits, long and wide tables cut.

    The index is shown when it carries labels (not a plain 0, 1, 2... range).
    """
    n_rows, n_columns = frame.shape
    shown = frame.iloc[:, :MAX_TABLE_COLUMNS]
    shown.columns = [str(c) for c in shown.columns]
    labelled = not isinstance(shown.index, pd.RangeIndex)
    if labelled:
        shown = shown.reset_index()
        shown.columns = [str(c) for c in shown.columns]
    text = shown.astype(object).map(_frame_cell) if len(shown) else shown.astype(object)
    text.columns = [column_label(c) for c in text.columns]
    notes = []
    if n_rows > MAX_TABLE_ROWS:
        gap = pd.DataFrame([["..."] * text.shape[1]], columns=text.columns)
        text = pd.concat([text.iloc[:HEAD_ROWS], gap, text.iloc[-TAIL_ROWS:]], ignore_index=True)
        notes.append(f"first {HEAD_ROWS} and last {TAIL_ROWS} of {n_rows:,} rows")
    if n_columns > MAX_TABLE_COLUMNS:
        notes.append(f"first {MAX_TABLE_COLUMNS} of {n_columns} columns")
    table = text.to_html(index=False, border=0, escape=True, classes="diagnostics-table")
    caption = f'<p class="meta">Showing the {" and the ".join(notes)}.</p>' if notes else ""
    return table + caption


def diagnostics_html(result: EstimateResult) -> str:
    """The tables of one result's diagnostics (its charts come from :func:`diagnostic_figures`).

    Parameters
    ----------
    result : EstimateResult

    Returns
    -------
    str
        HTML without scripts: a key/value table of the scalar diagnostics,
        then one table per DataFrame diagnostic.
    """
    rows, per_row = _key_value_rows(result)
    parts = []
    if rows:
        body = "".join(
            f'<tr><th>{escape(str(name))}</th>{_value_cell(value)}</tr>' for name, value in rows
        )
        parts.append(f'<table class="diagnostics-values"><tbody>{body}</tbody></table>')
    for name, value in result.diagnostics.items():
        if isinstance(value, pd.DataFrame) and name not in CHARTED:
            parts.append(f"<h4>{escape(diagnostic_label(name))}</h4>")
            parts.append(frame_html(value) if len(value.columns) else "<p>Empty table.</p>")
    if per_row:
        listed = ", ".join(escape(n) for n in per_row)
        parts.append(f'<p class="meta">One value per row, not listed here: {listed}.</p>')
    return "".join(parts) or "<p>This method reports no diagnostics of its own.</p>"


def _response_curve(result: EstimateResult, roles: Roles, label: str) -> NamedFigure | None:
    curve = result.diagnostics.get("response_curve")
    if not isinstance(curve, pd.DataFrame) or not {"treatment", "response"} <= set(curve.columns):
        return None
    figure = response_curve_plot(curve, treatment=roles.treatment, outcome=roles.outcome)
    return NamedFigure(f"response_curve_{result.method}", f"Response curve: {label}", figure, result.method)


def _subgroups(result: EstimateResult, roles: Roles, label: str) -> NamedFigure | None:
    table = result.diagnostics.get("subgroups")
    chart = getattr(heterogeneity_charts, "subgroup_effects_plot", None)
    needed = {"subgroup", "size", "estimate", "ci_low", "ci_high"}
    if chart is None or not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        return None
    figure = chart(table, overall=result.estimate, overall_ci=(result.ci_low, result.ci_high), outcome=roles.outcome)
    return NamedFigure(f"subgroup_effects_{result.method}", f"Effect within each subgroup: {label}", figure,
                       result.method)


def _bic(result: EstimateResult, roles: Roles, label: str) -> NamedFigure | None:
    bic = result.diagnostics.get("bic")
    chart = getattr(heterogeneity_charts, "bic_curve_plot", None)
    if chart is None or not isinstance(bic, pd.DataFrame) or not {"n_components", "bic"} <= set(bic.columns):
        return None
    chosen = result.diagnostics.get("n_subgroups")
    figure = chart(bic, chosen=int(chosen) if isinstance(chosen, (int, np.integer)) else None)
    return NamedFigure(f"bic_{result.method}", f"Number of subgroups (BIC): {label}", figure, result.method)


def _unit_effects(result: EstimateResult, roles: Roles, label: str) -> NamedFigure | None:
    chart = getattr(heterogeneity_charts, "unit_effects_histogram", None)
    if chart is None or result.unit_effects is None:
        return None
    effects = np.asarray(result.unit_effects, dtype=float).ravel()
    effects = effects[np.isfinite(effects)]
    if effects.size < 2 or np.ptp(effects) <= 1e-9 * (1.0 + abs(float(effects.mean()))):
        return None  # all rows share one effect: a histogram would be one bar
    averages = result.unit_effect_averages()
    title = f"Unit-level effects: {label}"
    if effects.size > MAX_HISTOGRAM_POINTS:
        effects = np.quantile(effects, np.linspace(0.0, 1.0, MAX_HISTOGRAM_POINTS))
        title += f" ({MAX_HISTOGRAM_POINTS:,} quantiles of {result.unit_effects.size:,} rows)"
    return NamedFigure(f"unit_effects_{result.method}", title, chart(effects, averages=averages), result.method)


_CHARTS: tuple[Callable[[EstimateResult, Roles, str], NamedFigure | None], ...] = (
    _response_curve, _subgroups, _bic, _unit_effects,
)


def diagnostic_figures(result: EstimateResult, roles: Roles, *, label: str | None = None) -> tuple[
        list[NamedFigure], list[str]]:
    """Charts of one result's own diagnostics, and a sentence for each chart that failed.

    Parameters
    ----------
    result : EstimateResult
    roles : Roles
        Used for the axis titles.
    label : str, optional
        Method name for the chart titles (the method id by default).

    Returns
    -------
    figures : list of NamedFigure
        Response curve, subgroup forest chart, BIC curve and unit-effect
        histogram, where the result has what they need; each carries
        ``method=result.method``.
    problems : list of str
        One sentence per chart that could not be drawn.
    """
    label = label or result.method
    figures: list[NamedFigure] = []
    problems: list[str] = []
    for make in _CHARTS:
        try:
            figure = make(result, roles, label)
        except Exception as exc:  # a chart must never stop the report
            problems.append(f"A chart of {label} could not be drawn ({type(exc).__name__}: {exc}).")
            continue
        if figure is not None and isinstance(figure.figure, go.Figure):
            figures.append(figure)
    return figures, problems
