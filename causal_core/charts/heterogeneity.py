"""Charts of effect heterogeneity: mixture BIC, latent subgroups, unit effects (with intervals), variable importance
and Qini curves."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from causal_core.core.formatting import format_interval, format_number

from causal_core.charts._style import CONTROL_COLOUR, NEUTRAL_COLOUR, PALETTE, TREATED_COLOUR, base_layout, empty_figure
from causal_core.charts._text import plotly_text

__all__ = [
    "bic_curve_plot",
    "subgroup_projection_plot",
    "subgroup_effects_plot",
    "unit_effects_histogram",
    "effect_by_covariate_plot",
    "qini_plot",
    "cate_intervals_plot",
    "effect_by_feature_plot",
    "variable_importance_plot",
]

#: Most rows a per-row interval chart draws (evenly spaced ranks beyond it), so the figure stays light.
MAX_INTERVAL_POINTS = 2000


def bic_curve_plot(bic: pd.DataFrame, *, chosen: int | None = None) -> go.Figure:
    """BIC against the number of mixture components (lower is better), the chosen number marked.

    Parameters
    ----------
    bic : DataFrame
        Columns ``n_components`` and ``bic`` (``diagnostics["bic"]`` of ``gmm_subgroups``).
    chosen : int, optional
        Number of subgroups used.
    """
    if bic is None or len(bic) == 0:
        return empty_figure("No BIC values to plot.")
    figure = go.Figure(go.Scatter(x=bic["n_components"], y=bic["bic"], mode="lines+markers",
                                  line=dict(color=CONTROL_COLOUR, width=2), name="BIC"))
    if chosen is not None and chosen in set(bic["n_components"]):
        value = float(bic.loc[bic["n_components"] == chosen, "bic"].iloc[0])
        figure.add_trace(go.Scatter(x=[chosen], y=[value], mode="markers", name=f"Used: {chosen}",
                                    marker=dict(size=14, color=TREATED_COLOUR, symbol="diamond")))
    figure.update_xaxes(title="Number of mixture components", dtick=1)
    figure.update_yaxes(title="BIC (lower is better)")
    return base_layout(figure, title="Choosing the number of subgroups", height=340)


def subgroup_projection_plot(projection: np.ndarray, assignments: np.ndarray) -> go.Figure:
    """Rows on the first two principal components of the standardised covariates, coloured by subgroup."""
    if projection is None or assignments is None or len(assignments) == 0:
        return empty_figure("No subgroup assignments to plot.")
    coords = np.asarray(projection, dtype=float)
    labels = np.asarray(assignments)
    figure = go.Figure()
    for i, g in enumerate(np.unique(labels)):
        rows = labels == g
        figure.add_trace(go.Scattergl(x=coords[rows, 0], y=coords[rows, 1], mode="markers",
                                      name=plotly_text(f"Subgroup {g} ({int(rows.sum())})"),
                                      marker=dict(size=5, opacity=0.6, color=PALETTE[i % len(PALETTE)])))
    figure.update_xaxes(title="First principal component")
    figure.update_yaxes(title="Second principal component")
    return base_layout(figure, title="Latent subgroups (principal-component projection)", height=420)


def subgroup_effects_plot(subgroups: pd.DataFrame, *, overall: float | None = None,
                          overall_ci: tuple[float, float] | None = None, outcome: str | None = None) -> go.Figure:
    """Forest plot of each subgroup's effect and 95% interval, with the overall effect below them."""
    if subgroups is None or len(subgroups) == 0:
        return empty_figure("No subgroup effects to plot.")
    labels = [f"Subgroup {int(g)} (n={int(n)})" for g, n in zip(subgroups["subgroup"], subgroups["size"])]
    estimate = subgroups["estimate"].to_numpy(dtype=float)
    low, high = subgroups["ci_low"].to_numpy(dtype=float), subgroups["ci_high"].to_numpy(dtype=float)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    if overall is not None and np.isfinite(overall):
        labels.append("Overall")
        estimate = np.r_[estimate, overall]
        lo, hi = overall_ci if overall_ci is not None else (overall, overall)
        low, high = np.r_[low, lo], np.r_[high, hi]
        colours.append(NEUTRAL_COLOUR)
    figure = go.Figure(go.Scatter(
        x=estimate, y=labels, mode="markers", marker=dict(size=11, color=colours, symbol="square"),
        error_x=dict(type="data", array=high - estimate, arrayminus=estimate - low, thickness=2, width=6,
                     color=NEUTRAL_COLOUR),
        hovertext=[f"<b>{lab}</b><br>estimate {format_number(e)}<br>95% CI {format_interval(a, b)}"
                   for lab, e, a, b in zip(labels, estimate, low, high)],
        hoverinfo="text", showlegend=False,
    ))
    figure.add_vline(x=0, line=dict(color="#999999", width=1))
    if overall is not None and np.isfinite(overall):
        figure.add_vline(x=overall, line=dict(color=NEUTRAL_COLOUR, width=1, dash="dot"))
    figure.update_xaxes(title=plotly_text(f"Effect on {outcome} (95% CI)") if outcome else "Effect (95% CI)")
    figure.update_yaxes(autorange="reversed")
    return base_layout(figure, title="Effect within each subgroup", height=max(260, 100 + 44 * len(labels)))


def unit_effects_histogram(unit_effects: np.ndarray, *, average: float | None = None,
                           averages: list[tuple[str, float]] | None = None) -> go.Figure:
    """Distribution of the estimated unit-level effects, with their averages marked and named.

    ``averages`` is ``EstimateResult.unit_effect_averages()``: (population, mean)
    pairs, the estimand's population first (drawn dashed), e.g. "mean over
    treated rows (the ATT population)" beside "mean over all rows (the ATE)".
    A bare ``average`` is the mean over all rows.
    """
    if unit_effects is None or len(unit_effects) == 0:
        return empty_figure("This method gives no unit-level effects.")
    figure = go.Figure(go.Histogram(x=np.asarray(unit_effects, dtype=float), nbinsx=40,
                                    marker=dict(color=CONTROL_COLOUR), opacity=0.8, name="Unit effects"))
    if averages is None:
        averages = [("mean over all rows (the ATE)", average)] if average is not None else []
    for i, (population, value) in enumerate(averages):
        if value is None or not np.isfinite(value):
            continue
        text = f"{population[:1].upper()}{population[1:]}: {format_number(float(value))}"
        figure.add_vline(x=value, line=dict(color=TREATED_COLOUR if i == 0 else NEUTRAL_COLOUR, width=2,
                                            dash="dash" if i == 0 else "dot"),
                         annotation_text=plotly_text(text), annotation_position="top" if i == 0 else "bottom")
    figure.update_xaxes(title="Estimated unit effect")
    figure.update_yaxes(title="Rows")
    return base_layout(figure, title="Distribution of unit-level effects", height=340)


def effect_by_covariate_plot(covariate: np.ndarray, unit_effects: np.ndarray, *, name: str = "covariate",
                             n_bins: int = 10) -> go.Figure:
    """Unit effects against one covariate, with the mean effect in each decile of the covariate."""
    if unit_effects is None or len(unit_effects) == 0:
        return empty_figure("This method gives no unit-level effects.")
    x, effect = np.asarray(covariate, dtype=float), np.asarray(unit_effects, dtype=float)
    figure = go.Figure(go.Scattergl(x=x, y=effect, mode="markers", name="Rows",
                                    marker=dict(size=4, opacity=0.35, color=CONTROL_COLOUR)))
    if np.unique(x).size > n_bins:
        bins = pd.qcut(x, n_bins, duplicates="drop")
        means = pd.DataFrame({"x": x, "effect": effect}).groupby(bins, observed=True).mean()
    else:
        means = pd.DataFrame({"x": x, "effect": effect}).groupby("x", as_index=False).mean()
    figure.add_trace(go.Scatter(x=means["x"], y=means["effect"], mode="lines+markers", name="Mean by bin",
                                line=dict(color=TREATED_COLOUR, width=2.5)))
    figure.update_xaxes(title=plotly_text(name))
    figure.update_yaxes(title="Estimated unit effect")
    return base_layout(figure, title=f"Effect against {name}", height=380)


def qini_plot(curve: pd.DataFrame) -> go.Figure:
    """Qini curve of a ranking by predicted effect against random targeting (from :func:`causal_core.diagnostics.uplift.qini_curve`)."""
    if curve is None or len(curve) == 0:
        return empty_figure("No Qini curve to plot.")
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=curve["fraction"], y=curve["qini"], mode="lines", name="Ranked by predicted effect",
                                line=dict(color=TREATED_COLOUR, width=2.5)))
    figure.add_trace(go.Scatter(x=curve["fraction"], y=curve["random"], mode="lines", name="Random targeting",
                                line=dict(color=NEUTRAL_COLOUR, width=1.5, dash="dash")))
    figure.update_xaxes(title="Share of rows targeted (highest predicted effect first)", tickformat=".0%")
    figure.update_yaxes(title="Incremental outcome (Qini)")
    return base_layout(figure, title="Qini curve", height=380)


def _finite_rows(*arrays: np.ndarray) -> np.ndarray:
    return np.all([np.isfinite(a) for a in arrays], axis=0)


def cate_intervals_plot(unit_effects: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray, *,
                        average: float | None = None, average_label: str = "Average") -> go.Figure:
    """Each row's estimated CATE with its 95% interval, rows ranked by the CATE (the band shows the intervals).

    More than :data:`MAX_INTERVAL_POINTS` rows are thinned to evenly spaced ranks;
    ``average`` (e.g. the ATE, named by ``average_label``) is drawn as a dashed line, 0 as a thin one.
    """
    if unit_effects is None or ci_low is None or ci_high is None or len(unit_effects) == 0:
        return empty_figure("This method gives no per-row CATE intervals.")
    effect, low, high = (np.asarray(a, dtype=float) for a in (unit_effects, ci_low, ci_high))
    keep = _finite_rows(effect, low, high)
    effect, low, high = effect[keep], low[keep], high[keep]
    if effect.size == 0:
        return empty_figure("No finite CATE intervals to plot.")
    order = np.argsort(effect, kind="stable")
    if order.size > MAX_INTERVAL_POINTS:
        order = order[np.linspace(0, order.size - 1, MAX_INTERVAL_POINTS).round().astype(int)]
    rank = np.linspace(0, 1, order.size) if order.size > 1 else np.array([0.5])
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=rank, y=high[order], mode="lines", line=dict(width=0), showlegend=False,
                                hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=rank, y=low[order], mode="lines", line=dict(width=0), fill="tonexty",
                                fillcolor="rgba(120, 120, 120, 0.25)", name="95% interval of the row's CATE"))
    figure.add_trace(go.Scatter(x=rank, y=effect[order], mode="lines", line=dict(color=TREATED_COLOUR, width=2.5),
                                name="Estimated CATE"))
    figure.add_hline(y=0, line=dict(color="#999999", width=1))
    if average is not None and np.isfinite(average):
        figure.add_hline(y=float(average), line=dict(color=NEUTRAL_COLOUR, width=1.5, dash="dash"),
                         annotation_text=plotly_text(f"{average_label}: {format_number(float(average))}"))
    share_above = float(np.mean(low > 0))
    share_below = float(np.mean(high < 0))
    figure.update_xaxes(title="Rows ranked by estimated CATE (share of rows)", tickformat=".0%")
    figure.update_yaxes(title="Estimated unit effect (95% CI)")
    return base_layout(figure, title=plotly_text(f"CATE with 95% intervals ({share_above:.0%} of rows above 0, "
                                                 f"{share_below:.0%} below)"), height=380)


def effect_by_feature_plot(covariate: np.ndarray, unit_effects: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray,
                           *, name: str = "covariate", n_bins: int = 10) -> go.Figure:
    """Unit effects against one covariate: the rows, the mean CATE by decile and the mean 95% interval bounds there."""
    if unit_effects is None or ci_low is None or ci_high is None or len(unit_effects) == 0:
        return empty_figure("This method gives no per-row CATE intervals.")
    x, effect, low, high = (np.asarray(a, dtype=float) for a in (covariate, unit_effects, ci_low, ci_high))
    keep = _finite_rows(x, effect, low, high)
    x, effect, low, high = x[keep], effect[keep], low[keep], high[keep]
    if effect.size == 0:
        return empty_figure("No finite CATE intervals to plot.")
    frame = pd.DataFrame({"x": x, "effect": effect, "low": low, "high": high})
    if np.unique(x).size > n_bins:
        means = frame.groupby(pd.qcut(x, n_bins, duplicates="drop"), observed=True).mean()
    else:
        means = frame.groupby("x", as_index=False).mean()
    figure = go.Figure(go.Scattergl(x=x, y=effect, mode="markers", name="Rows",
                                    marker=dict(size=4, opacity=0.3, color=CONTROL_COLOUR)))
    figure.add_trace(go.Scatter(x=means["x"], y=means["high"], mode="lines", line=dict(width=0), showlegend=False,
                                hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=means["x"], y=means["low"], mode="lines", line=dict(width=0), fill="tonexty",
                                fillcolor="rgba(120, 120, 120, 0.25)", name="Mean 95% interval bounds by bin"))
    figure.add_trace(go.Scatter(x=means["x"], y=means["effect"], mode="lines+markers", name="Mean CATE by bin",
                                line=dict(color=TREATED_COLOUR, width=2.5)))
    figure.add_hline(y=0, line=dict(color="#999999", width=1))
    figure.update_xaxes(title=plotly_text(name))
    figure.update_yaxes(title="Estimated unit effect (95% CI)")
    return base_layout(figure, title=plotly_text(f"Effect against {name}"), height=380)


def variable_importance_plot(importance: pd.DataFrame, *, top: int = 20) -> go.Figure:
    """Horizontal bars of the ``importance`` column by ``covariate`` (largest first, at most ``top``)."""
    if importance is None or len(importance) == 0:
        return empty_figure("No variable importance to plot.")
    shown = importance.sort_values("importance", ascending=False, kind="stable").head(top)
    figure = go.Figure(go.Bar(x=shown["importance"], y=[plotly_text(str(c)) for c in shown["covariate"]],
                              orientation="h", marker=dict(color=CONTROL_COLOUR),
                              hovertext=[plotly_text(f"{c}: {format_number(float(v))}") for c, v in
                                         zip(shown["covariate"], shown["importance"])], hoverinfo="text"))
    figure.update_xaxes(title="Importance (share of the forest's split improvement)")
    figure.update_yaxes(autorange="reversed")
    return base_layout(figure, title="Which covariates drive the effect's variation", height=max(240, 90 + 28 * len(shown)))
