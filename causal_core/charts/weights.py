"""Weight distribution by treatment group, with the effective sample size."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from causal_core.charts._style import CONTROL_COLOUR, TREATED_COLOUR, base_layout, empty_figure
from causal_core.core.results import kish_ess

__all__ = ["weight_plot"]


def weight_plot(weights: np.ndarray, treated: np.ndarray, *, bins: int = 40) -> go.Figure:
    """Histograms of the weights among treated and control rows, with each group's Kish ESS in the legend.

    Parameters
    ----------
    weights : array (n,)
        One non-negative weight per used row.
    treated : array (n,)
        Boolean or 0/1 treatment indicator of the same rows.
    """
    w = np.asarray(weights, dtype=float)
    is_treated = np.asarray(treated).astype(bool)
    if w.ndim != 1 or w.shape != is_treated.shape or w.size == 0:
        return empty_figure("No weights to plot.")
    finite = w[np.isfinite(w)]
    edges = np.linspace(0.0, float(finite.max()) if finite.size and finite.max() > 0 else 1.0, bins + 1)
    figure = go.Figure()
    for mask, name, colour in ((is_treated, "Treated", TREATED_COLOUR), (~is_treated, "Control", CONTROL_COLOUR)):
        group = w[mask]
        counts, _ = np.histogram(group, bins=edges)
        ess = kish_ess(group) if group.size else 0.0
        figure.add_trace(go.Bar(
            x=(edges[:-1] + edges[1:]) / 2, y=counts, width=edges[1] - edges[0], opacity=0.7,
            name=f"{name}: n={group.size}, ESS={ess:,.1f}", marker_color=colour,
            hovertemplate="weight %{x:.3g}: %{y} rows<extra>" + name + "</extra>",
        ))
    figure.update_layout(barmode="overlay", bargap=0)
    figure.update_xaxes(title="Weight given to the row")
    figure.update_yaxes(title="Number of rows")
    return base_layout(figure, height=340)
