"""Response curve: the estimated outcome (or effect) as a function of the treatment level."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from causal_core.charts._style import CONTROL_COLOUR, base_layout, empty_figure
from causal_core.charts._text import plotly_text

__all__ = ["response_curve_plot"]


def response_curve_plot(curve: pd.DataFrame, *, treatment: str = "treatment", outcome: str = "outcome") -> go.Figure:
    """Line of ``response`` against ``treatment`` with an optional ``ci_low``/``ci_high`` band.

    Parameters
    ----------
    curve : DataFrame
        Columns ``treatment``, ``response`` and optionally ``ci_low``, ``ci_high``
        (as in ``EstimateResult.diagnostics["response_curve"]``).
    treatment, outcome : str
        Column names used in the axis titles.
    """
    if curve is None or len(curve) == 0 or not {"treatment", "response"} <= set(curve.columns):
        return empty_figure("No response curve for this method.")
    data = curve.sort_values("treatment")
    figure = go.Figure()
    if {"ci_low", "ci_high"} <= set(data.columns):
        figure.add_trace(go.Scatter(
            x=list(data["treatment"]) + list(data["treatment"][::-1]),
            y=list(data["ci_high"]) + list(data["ci_low"][::-1]),
            fill="toself", fillcolor="rgba(0,114,178,0.15)", line=dict(width=0), hoverinfo="skip",
            name="95% confidence band",
        ))
    figure.add_trace(go.Scatter(x=data["treatment"], y=data["response"], mode="lines+markers",
                                line=dict(color=CONTROL_COLOUR, width=2.5), marker=dict(size=5),
                                name="Estimated response"))
    figure.update_xaxes(title=plotly_text(f"Treatment level ({treatment})"))
    figure.update_yaxes(title=plotly_text(f"Expected {outcome}"))
    return base_layout(figure, height=380)
