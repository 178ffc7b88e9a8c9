"""Simpson's-paradox chart: mean outcome by arm within each stratum and overall."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from causal_core.charts._style import CONTROL_COLOUR, TREATED_COLOUR, base_layout, empty_figure
from causal_core.charts._text import plotly_text

__all__ = ["subgroup_chart"]


def subgroup_chart(result, *, by: str = "subgroup", outcome: str = "outcome") -> go.Figure:
    """Grouped bars of each arm's mean outcome per stratum, the overall comparison last.

    Parameters
    ----------
    result : causal_core.diagnostics.subgroups.SubgroupTable
        Output of :func:`causal_core.subgroup_table`; its ``table`` has one row
        per stratum and a final ``"All"`` row with ``mean_treated``,
        ``mean_control``, ``n_treated``, ``n_control``.
    by, outcome : str
        Column names used in the axis titles.
    """
    table = getattr(result, "table", None)
    if table is None or len(table) == 0:
        return empty_figure("No subgroup table to plot.")
    labels = [("All (aggregate)" if str(s) == "All" else plotly_text(s)) for s in table.index]
    values_t = table["mean_treated"].to_numpy(dtype=float)
    values_c = table["mean_control"].to_numpy(dtype=float)
    looks_like_rate = np.nanmax(np.r_[values_t, values_c]) <= 1 and np.nanmin(np.r_[values_t, values_c]) >= 0
    fmt = ".1%" if looks_like_rate else ".4g"
    figure = go.Figure()
    for arm, values, counts, colour in (
        (getattr(result, "treated_label", "treated"), values_t, table["n_treated"], TREATED_COLOUR),
        (getattr(result, "control_label", "control"), values_c, table["n_control"], CONTROL_COLOUR),
    ):
        arm = plotly_text(arm)
        figure.add_trace(go.Bar(
            x=labels, y=values, name=arm, marker_color=colour, customdata=np.asarray(counts),
            text=[("" if not np.isfinite(v) else format(v, fmt)) for v in values], textposition="outside",
            hovertemplate="%{x}: mean %{y:" + fmt + "} (n=%{customdata})<extra>" + arm + "</extra>",
        ))
    figure.add_vline(x=len(labels) - 1.5, line=dict(color="#999999", width=1, dash="dot"))
    figure.update_layout(barmode="group", bargap=0.25, uniformtext_minsize=9)
    figure.update_xaxes(title=plotly_text(f"{by} (strata), then the aggregate"), type="category")
    figure.update_yaxes(title=plotly_text(f"Mean {outcome}") + (" (rate)" if looks_like_rate else ""),
                        tickformat=".0%" if looks_like_rate else None, rangemode="tozero")
    if getattr(result, "reversal", False):
        figure.add_annotation(text="Reversal: the aggregate comparison points the other way",
                              xref="paper", yref="paper", x=1, y=1.08, xanchor="right", showarrow=False,
                              font=dict(color="#b00020", size=13))
    return base_layout(figure, height=400)
