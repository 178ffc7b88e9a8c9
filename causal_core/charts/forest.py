"""Forest plot: each method's estimate with its 95% confidence interval."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from causal_core.core.formatting import format_interval, format_number

from causal_core.charts._style import NEUTRAL_COLOUR, base_layout, empty_figure

#: Colour of the known or benchmark effect's dashed line.
REFERENCE_COLOUR = "#009e73"
from causal_core.charts._text import plotly_text

__all__ = ["forest_plot"]


def forest_plot(
    table: pd.DataFrame,
    *,
    outcome: str | None = None,
    estimand: str | None = None,
    reference: float | None = None,
    reference_label: str = "Reference",
) -> go.Figure:
    """Estimates and 95% intervals, one row per method.

    Parameters
    ----------
    table : DataFrame
        :func:`causal_core.compare`-style table with ``method``, ``estimate``,
        ``ci_low``, ``ci_high`` (and optionally ``label``, ``error``). Rows
        without an estimate (failed methods) are left out.
    outcome : str, optional
        Outcome column name, used in the axis title.
    estimand : str, optional
        Estimand shown in the axis title.
    reference : float, optional
        A known or benchmark effect drawn as a dashed vertical line, labelled
        ``"{reference_label}: {value}"`` above the plot.
    reference_label : str
        What the reference is ("Benchmark", "True ATT").
    """
    if table is None or len(table) == 0 or "estimate" not in table:
        return empty_figure("No estimates to plot.")
    rows = table[pd.to_numeric(table["estimate"], errors="coerce").notna()]
    if len(rows) == 0:
        return empty_figure("No method produced an estimate.")
    labels = rows["label"] if "label" in rows else rows["method"]
    labels = [plotly_text(v) for v in labels]
    estimate = rows["estimate"].astype(float).to_numpy()
    low = pd.to_numeric(rows["ci_low"], errors="coerce").to_numpy(dtype=float)
    high = pd.to_numeric(rows["ci_high"], errors="coerce").to_numpy(dtype=float)
    plus = np.where(np.isfinite(high), high - estimate, 0.0)
    minus = np.where(np.isfinite(low), estimate - low, 0.0)
    hover = [
        f"<b>{lab}</b><br>estimate {format_number(e)}<br>95% CI {format_interval(lo, hi)}"
        for lab, e, lo, hi in zip(labels, estimate, low, high)
    ]
    figure = go.Figure(go.Scatter(
        x=estimate, y=labels, mode="markers",
        marker=dict(size=10, color=NEUTRAL_COLOUR, symbol="square"),
        error_x=dict(type="data", array=plus, arrayminus=minus, thickness=2, width=6, color=NEUTRAL_COLOUR),
        hovertext=hover, hoverinfo="text", name="Estimate (95% CI)", showlegend=False,
    ))
    figure.add_vline(x=0, line=dict(color="#999999", width=1))
    has_reference = reference is not None and np.isfinite(reference)
    if has_reference:
        text = plotly_text(f"{reference_label}: {format_number(reference)}")
        figure.add_vline(x=reference, line=dict(color=REFERENCE_COLOUR, width=2, dash="dash"),
                         annotation_text=text, annotation_position="top")
    effect = f"{estimand} " if estimand else ""
    axis = f"Estimated {effect}effect on {outcome}" if outcome else f"Estimated {effect}effect"
    figure.update_xaxes(title=plotly_text(f"{axis} (95% CI)"), zeroline=False)
    figure.update_yaxes(autorange="reversed", title=None)
    figure = base_layout(figure, height=max(260, 90 + 42 * len(labels)))
    if has_reference:  # room above the plot for the reference's label (annotations do not grow the margin)
        figure.update_layout(margin=dict(t=40))
    return figure
