"""Charts for mixtures of sources: fitted k coins against the count histogram, and a latent confounder's sources."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from causal_core.charts._style import NEUTRAL_COLOUR, PALETTE, base_layout, empty_figure
from causal_core.charts._text import plotly_text, plotly_texts

__all__ = ["mix_iid_plot", "source_weights_plot", "proxy_profile_plot", "interventional_plot"]


def mix_iid_plot(result, *, title: str | None = None) -> go.Figure:
    """Observed share of units with 0..m successes (bars), the fitted mixture (line) and each source (dashed).

    Parameters
    ----------
    result : causal_core.studies.mixtures.MixIIDResult
        A fitted k-coin mixture.
    """
    counts = np.arange(result.trials + 1)
    figure = go.Figure()
    figure.add_bar(x=counts, y=result.count_distribution, name="Observed", marker_color="#bbbbbb")
    figure.add_scatter(x=counts, y=result.fitted_count_distribution(), mode="lines+markers", name="Fitted mixture",
                       line=dict(color=NEUTRAL_COLOUR, width=2))
    for i, component in enumerate(result.component_count_distributions()):
        figure.add_scatter(
            x=counts, y=component, mode="lines", line=dict(color=PALETTE[i % len(PALETTE)], dash="dash"),
            name=f"Source {i + 1}: weight {result.weights[i]:.2f}, bias {result.biases[i]:.2f}",
        )
    figure.update_xaxes(title="Successes out of {}".format(result.trials), dtick=1)
    figure.update_yaxes(title="Share of units", rangemode="tozero")
    base_layout(figure, title=title or f"{result.k} sources fitted to {result.n_units} units", height=460)
    return figure  # a titled layout puts the legend at the bottom


def source_weights_plot(source_table: pd.DataFrame, *, title: str = "Hidden sources") -> go.Figure:
    """Bar per source: its weight, with P(T=1|source) and the within-source effect in the hover."""
    if source_table is None or source_table.empty:
        return empty_figure("No sources to show.")
    figure = go.Figure()
    figure.add_bar(
        x=plotly_texts(source_table["source"]), y=source_table["weight"],
        marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(source_table))],
        customdata=source_table[["P(T=1|source)", "effect within source"]].to_numpy(),
        hovertemplate="%{x}<br>weight %{y:.3f}<br>P(T=1|source) %{customdata[0]:.3f}"
                      "<br>effect within source %{customdata[1]:.3f}<extra></extra>",
        text=[f"{w:.2f}" for w in source_table["weight"]], textposition="outside", showlegend=False,
    )
    figure.update_yaxes(title="Weight P(U = u)", range=[0, 1.05])
    return base_layout(figure, title=title, height=340)


def proxy_profile_plot(proxy_table: pd.DataFrame, *, title: str = "Proxy distributions within each source") -> go.Figure:
    """Grouped bars: P(proxy = level | source) for every proxy level, one colour per source."""
    if proxy_table is None or proxy_table.empty:
        return empty_figure("No proxy distributions to show.")
    sources = [c for c in proxy_table.columns if c.startswith("source ")]
    labels = proxy_table["proxy"].astype(str) + " = " + proxy_table["level"].astype(str)
    figure = go.Figure()
    for i, source in enumerate(sources):
        figure.add_bar(x=plotly_texts(labels), y=proxy_table[source], name=plotly_text(source),
                       marker_color=PALETTE[i % len(PALETTE)])
    figure.update_layout(barmode="group")
    figure.update_yaxes(title="P(proxy = level | source)", range=[0, 1])
    base_layout(figure, title=title, height=400)
    return figure  # a titled layout puts the legend at the bottom


def interventional_plot(do_table: pd.DataFrame, *, naive: dict | None = None,
                        title: str = "Mean outcome: adjusted vs unadjusted") -> go.Figure:
    """Bars of E[Y | do(T = t)] per treatment value, with the unadjusted means beside them when given.

    ``naive`` maps treatment label -> observed mean outcome.
    """
    if do_table is None or do_table.empty:
        return empty_figure("No interventional distribution to show.")
    figure = go.Figure()
    figure.add_bar(x=plotly_texts(do_table["treatment"].astype(str)), y=do_table["E[Y|do(T=t)]"], name="E[Y | do(T=t)]",
                   marker_color=PALETTE[0], text=[f"{v:.3f}" for v in do_table["E[Y|do(T=t)]"]],
                   textposition="outside")
    if naive:
        labels = do_table["treatment"].astype(str)
        figure.add_bar(x=plotly_texts(labels), y=[naive.get(label, np.nan) for label in labels], name="E[Y | T=t] (unadjusted)",
                       marker_color="#bbbbbb", text=[f"{naive.get(label, np.nan):.3f}" for label in labels],
                       textposition="outside")
    figure.update_layout(barmode="group")
    figure.update_xaxes(title="Treatment")
    figure.update_yaxes(title="Mean outcome", rangemode="tozero")
    base_layout(figure, title=title, height=400)
    return figure  # a titled layout puts the legend at the bottom
