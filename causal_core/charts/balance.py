"""Love plot: absolute standardised mean differences before and after adjustment."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from causal_core.charts._style import NEUTRAL_COLOUR, base_layout, empty_figure, series_styles

#: Colour of the balance threshold's dashed line.
THRESHOLD_COLOUR = "#b00020"
from causal_core.charts._text import plotly_text

__all__ = ["love_plot"]


def _covariates(table: pd.DataFrame) -> list[str]:
    if "covariate" in table.columns:
        return [plotly_text(v) for v in table["covariate"]]
    return [plotly_text(v) for v in table.index]


def love_plot(balance_tables: dict[str, pd.DataFrame], *, threshold: float = 0.1) -> go.Figure:
    """Absolute SMD per covariate: unadjusted once, then one marker series per method.

    Parameters
    ----------
    balance_tables : dict
        Method label -> balance table (from :func:`causal_core.balance_table`)
        with ``smd_before`` and ``smd_after`` columns and covariates as the
        index or a ``covariate`` column.
    threshold : float
        Conventional balance threshold drawn as a dashed line (0.1).
    """
    tables = {name: t for name, t in balance_tables.items() if t is not None and len(t) and "smd_after" in t}
    if not tables:
        return empty_figure("No balance tables: run a weighting or matching method.")
    first = next(iter(tables.values()))
    covariates = _covariates(first)
    before = np.abs(pd.to_numeric(first["smd_before"], errors="coerce").to_numpy(dtype=float))
    order = np.argsort(np.nan_to_num(before, nan=-1.0))  # largest imbalance at the top
    ordered = [covariates[i] for i in order]
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=before[order], y=ordered, mode="markers", name="Unadjusted",
        marker=dict(symbol="circle-open", size=10, color=NEUTRAL_COLOUR, line=dict(width=2)),
        hovertemplate="%{y}: |SMD| %{x:.3f}<extra>Unadjusted</extra>",
    ))
    for (name, table), (colour, symbol) in zip(tables.items(), series_styles(len(tables))):
        after = pd.Series(np.abs(pd.to_numeric(table["smd_after"], errors="coerce").to_numpy(dtype=float)),
                          index=_covariates(table))
        figure.add_trace(go.Scatter(
            x=after.reindex(ordered).to_numpy(), y=ordered, mode="markers", name=plotly_text(name),
            marker=dict(symbol=symbol, size=9, color=colour),
            hovertemplate="%{y}: |SMD| %{x:.3f}<extra>" + plotly_text(name) + "</extra>",
        ))
    line = dict(color=THRESHOLD_COLOUR, width=1.5, dash="dash")
    figure.add_vline(x=threshold, line=line)
    # The threshold is named in the legend, not by a label on the line, which would print over the top row.
    figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line, name=f"Threshold {threshold:g}",
                                hoverinfo="skip"))
    figure.update_xaxes(title="Absolute standardised mean difference", rangemode="tozero")
    figure.update_yaxes(title=None, type="category")
    return base_layout(figure, height=max(300, 110 + 26 * len(ordered)))
