"""Propensity-score overlap: the score's distribution among treated and control rows."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from causal_core.charts._style import CONTROL_COLOUR, TREATED_COLOUR, base_layout, empty_figure
from causal_core.charts._text import plotly_text

__all__ = ["overlap_plot"]


def overlap_plot(
    propensity: np.ndarray,
    treated: np.ndarray,
    *,
    bins: int = 40,
    treated_label: str = "Treated",
    control_label: str = "Control",
) -> go.Figure:
    """Mirrored histograms of the propensity score: treated above the axis, control below.

    Parameters
    ----------
    propensity : array (n,)
        Estimated P(treated | confounders), one per used row.
    treated : array (n,)
        Boolean or 0/1 treatment indicator of the same rows.
    """
    score = np.asarray(propensity, dtype=float)
    is_treated = np.asarray(treated).astype(bool)
    if score.ndim != 1 or score.shape != is_treated.shape or score.size == 0:
        return empty_figure("No propensity scores to plot.")
    edges = np.linspace(0.0, 1.0, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    counts_t, _ = np.histogram(score[is_treated], bins=edges)
    counts_c, _ = np.histogram(score[~is_treated], bins=edges)
    share_t = counts_t / max(counts_t.sum(), 1)
    share_c = counts_c / max(counts_c.sum(), 1)
    width = edges[1] - edges[0]
    figure = go.Figure()
    figure.add_trace(go.Bar(x=centres, y=share_t, width=width, name=plotly_text(f"{treated_label} (n={int(is_treated.sum())})"),
                            marker_color=TREATED_COLOUR, opacity=0.8,
                            hovertemplate="score %{x:.2f}: %{y:.1%} of treated<extra></extra>"))
    figure.add_trace(go.Bar(x=centres, y=-share_c, width=width, name=plotly_text(f"{control_label} (n={int((~is_treated).sum())})"),
                            marker_color=CONTROL_COLOUR, opacity=0.8, customdata=share_c,
                            hovertemplate="score %{x:.2f}: %{customdata:.1%} of controls<extra></extra>"))
    figure.update_layout(barmode="overlay", bargap=0)
    top = float(max(share_t.max(initial=0), share_c.max(initial=0))) * 1.1 or 1.0
    ticks = np.linspace(-top, top, 5)
    figure.update_yaxes(title="Share of group (treated up, control down)", range=[-top, top],
                        tickvals=ticks, ticktext=[f"{abs(v):.0%}" for v in ticks])
    figure.update_xaxes(title="Propensity score, P(treated | confounders)", range=[0, 1])
    figure.add_hline(y=0, line=dict(color="#666666", width=1))
    return base_layout(figure, height=380)
