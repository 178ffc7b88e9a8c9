"""One covariate's distribution among treated and control rows, before and after weighting."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from causal_core.charts._style import CONTROL_COLOUR, TREATED_COLOUR, base_layout, empty_figure
from causal_core.charts._text import plotly_text

__all__ = ["covariate_distribution_plot"]


def _shares(values: pd.Series, weights: np.ndarray, levels: list) -> np.ndarray:
    total = weights.sum()
    if total <= 0:
        return np.zeros(len(levels))
    return np.array([weights[(values == level).to_numpy()].sum() / total for level in levels])


def covariate_distribution_plot(
    values: np.ndarray | pd.Series,
    treated: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    name: str = "covariate",
    bins: int = 30,
) -> go.Figure:
    """Treated vs control distribution of one covariate, unweighted and (when given) weighted.

    Numeric covariates with more than 10 values are drawn as histograms of the
    share of each group's (weighted) total in each bin; others as bars per value.

    Parameters
    ----------
    values : array or Series (n,)
        The covariate for the used rows.
    treated : array (n,)
        Boolean or 0/1 treatment indicator of the same rows.
    weights : array (n,), optional
        One weight per row (a second panel shows the weighted distribution).
    name : str
        Covariate name for the axis title.
    """
    series = pd.Series(np.asarray(values)).reset_index(drop=True)
    is_treated = np.asarray(treated).astype(bool)
    if len(series) == 0 or len(series) != len(is_treated):
        return empty_figure("No covariate values to plot.")
    panels = [("Unweighted", np.ones(len(series)))]
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape == is_treated.shape:
            panels.append(("Weighted", np.where(np.isfinite(w), w, 0.0)))
    figure = make_subplots(rows=1, cols=len(panels), shared_yaxes=True,
                           subplot_titles=[title for title, _ in panels], horizontal_spacing=0.05)
    numeric = pd.api.types.is_numeric_dtype(series) and series.nunique() > 10
    if numeric:
        x = series.astype(float).to_numpy()
        finite = x[np.isfinite(x)]
        edges = np.histogram_bin_edges(finite, bins=bins) if finite.size else np.linspace(0, 1, bins + 1)
        centres = (edges[:-1] + edges[1:]) / 2
    else:
        levels = sorted(series.dropna().unique().tolist(), key=str)
    for col, (title, w) in enumerate(panels, start=1):
        for mask, group, colour in ((is_treated, "Treated", TREATED_COLOUR), (~is_treated, "Control", CONTROL_COLOUR)):
            if numeric:
                counts, _ = np.histogram(x[mask], bins=edges, weights=w[mask])
                share = counts / counts.sum() if counts.sum() > 0 else counts
                trace = go.Bar(x=centres, y=share, width=edges[1] - edges[0], opacity=0.55)
            else:
                share = _shares(series[mask].reset_index(drop=True), w[mask], levels)
                trace = go.Bar(x=[plotly_text(v) for v in levels], y=share, opacity=0.85)
            trace.update(name=group, marker_color=colour, legendgroup=group, showlegend=(col == 1),
                         hovertemplate=f"%{{x}}: %{{y:.1%}} of {group.lower()} ({title.lower()})<extra></extra>")
            figure.add_trace(trace, row=1, col=col)
        figure.update_xaxes(title_text=plotly_text(name), row=1, col=col)
    figure.update_layout(barmode="overlay" if numeric else "group", bargap=0 if numeric else 0.2)
    figure.update_yaxes(title_text="Share of group", tickformat=".0%", row=1, col=1)
    base_layout(figure, height=380)
    figure.update_layout(legend=dict(y=1.14), margin=dict(t=70))  # keep the legend clear of the panel titles
    return figure
