"""Charts for stable learning: errors per environment and coefficients, ordinary vs stable side by side."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from causal_core.charts._text import plotly_text

__all__ = ["environment_errors_figure", "coefficients_figure"]

COLOURS = {"ordinary": "#d62728", "stable": "#1f77b4"}
NAMES = {"ordinary": "Ordinary", "stable": "Stable (reweighted)"}


def environment_errors_figure(table: pd.DataFrame, *, error_name: str = "RMSE") -> go.Figure:
    """Grouped bars of each model's error per environment (the training environment marked with *)."""
    labels = [plotly_text(f"{e} *" if t else e) for e, t in zip(table["environment"], table["training"])]
    figure = go.Figure()
    for model in ("ordinary", "stable"):
        figure.add_bar(x=labels, y=table[model], name=NAMES[model], marker_color=COLOURS[model])
    figure.update_layout(barmode="group", template="plotly_white", height=380,
                         title="Error in each environment (* = training environment)",
                         yaxis_title=plotly_text(error_name), xaxis_title="environment", legend=dict(orientation="h", y=-0.25))
    return figure


def coefficients_figure(ordinary: pd.Series, stable: pd.Series) -> go.Figure:
    """Horizontal bars of the two models' coefficients, feature by feature."""
    figure = go.Figure()
    for model, values in (("ordinary", ordinary), ("stable", stable)):
        figure.add_bar(y=[plotly_text(v) for v in values.index], x=values.to_numpy(), orientation="h", name=NAMES[model],
                       marker_color=COLOURS[model])
    figure.update_layout(barmode="group", template="plotly_white", height=120 + 45 * len(ordinary),
                         title="Learned coefficients", xaxis_title="coefficient", yaxis=dict(autorange="reversed"),
                         legend=dict(orientation="h", y=-0.2))
    return figure
