"""Shared look of the charts: colours, fonts and an empty-figure helper."""
from __future__ import annotations

import plotly.graph_objects as go

from causal_core.charts._text import plotly_text

TREATED_COLOUR = "#d55e00"
CONTROL_COLOUR = "#0072b2"
NEUTRAL_COLOUR = "#444444"
#: Colour-blind-safe palette (Okabe-Ito) for one trace per method.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000")
#: Colours for charts with one series per method, any number of methods: Okabe-Ito without black, then Paul Tol's
#: muted colours, chosen so that every two (and each against NEUTRAL_COLOUR) are at least 25 apart in CIELAB.
SERIES_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#882255",
                  "#332288", "#999933", "#661100", "#aa4499", "#ee8866")
#: Marker symbols that tell series apart once the colours repeat (one symbol per round of SERIES_COLOURS).
SERIES_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "x", "star", "pentagon", "hexagon")
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


def series_styles(n: int) -> list[tuple[str, str]]:
    """(colour, marker symbol) for ``n`` series, every pair different.

    The first ``len(SERIES_COLOURS)`` series differ in colour; after that the
    colours repeat with the next symbol, so no two series look alike.
    """
    k = len(SERIES_COLOURS)
    return [(SERIES_COLOURS[i % k], SERIES_SYMBOLS[(i // k) % len(SERIES_SYMBOLS)]) for i in range(int(n))]
