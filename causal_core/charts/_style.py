"""Shared look of the charts: colours, fonts and an empty-figure helper."""
from __future__ import annotations

import plotly.graph_objects as go

from causal_core.charts._text import plotly_text

TREATED_COLOUR = "#d55e00"
CONTROL_COLOUR = "#0072b2"
NEUTRAL_COLOUR = "#444444"
#: Colour-blind-safe palette (Okabe-Ito) for one trace per method.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000")
FONT = dict(family="Source Sans Pro, Helvetica, Arial, sans-serif", size=13, color="#262730")


def base_layout(figure: go.Figure, *, title: str | None = None, height: int = 420) -> go.Figure:
    """Apply the house layout in place and return the figure (``title`` is plain text: it is escaped here)."""
    figure.update_layout(
        template="plotly_white",
        font=FONT,
        height=height,
        margin=dict(l=10, r=10, t=50 if title else 20, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
    )
    if title:
        # The title takes the top edge, so the legend goes to the bottom edge (in figure coordinates, where it
        # makes room for itself below the x-axis title); above the plot it would overprint a wrapped legend.
        figure.update_layout(title=dict(text=plotly_text(title), x=0, xanchor="left", font=dict(size=15)),
                             legend=dict(yref="container", yanchor="bottom", y=0))
    return figure


def empty_figure(message: str, *, height: int = 260) -> go.Figure:
    """A blank figure that says why there is nothing to draw."""
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                          font=dict(size=14, color="#777777"))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return base_layout(figure, height=height)
