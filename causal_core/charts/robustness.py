"""Robustness charts: OVB bias contours, Rosenbaum bounds, refutation tests and the method lab."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from causal_core.charts._style import CONTROL_COLOUR, NEUTRAL_COLOUR, PALETTE, TREATED_COLOUR, base_layout, empty_figure
from causal_core.charts._text import plotly_text, plotly_texts

__all__ = ["ovb_contour_plot", "rosenbaum_plot", "refutation_plot", "method_lab_plot"]


#: Plot area of the OVB chart in pixels (900 x 480 export less margins and colour bar) and the label font's
#: average character width and line height, used to keep benchmark labels from printing over each other.
OVB_PLOT_PIXELS = (700.0, 380.0)
LABEL_CHAR_PIXELS = 7.0
LABEL_LINE_PIXELS = 16.0
MARKER_PIXELS = 6.0
#: Where a label may sit around its marker, in the order tried: (textposition, x direction, y direction).
_LABEL_PLACES = (("top right", 1, 1), ("top left", -1, 1), ("bottom right", 1, -1), ("bottom left", -1, -1))


def label_box(x: float, y: float, text: str, place: str) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a marker label in plot fractions (0..1 on each axis), for ``textposition`` ``place``."""
    width = (len(text) * LABEL_CHAR_PIXELS + 6.0) / OVB_PLOT_PIXELS[0]
    height = LABEL_LINE_PIXELS / OVB_PLOT_PIXELS[1]
    gap_x, gap_y = MARKER_PIXELS / OVB_PLOT_PIXELS[0], MARKER_PIXELS / OVB_PLOT_PIXELS[1]  # text starts past the marker
    dx = next(d for p, d, _ in _LABEL_PLACES if p == place)
    dy = next(d for p, _, d in _LABEL_PLACES if p == place)
    x0, x1 = (x + gap_x, x + gap_x + width) if dx > 0 else (x - gap_x - width, x - gap_x)
    y0, y1 = (y + gap_y, y + gap_y + height) if dy > 0 else (y - gap_y - height, y - gap_y)
    return x0, y0, x1, y1


def _marker_box(x: float, y: float) -> tuple[float, float, float, float]:
    """The box a marker (9 px) covers around (x, y), in plot fractions."""
    half_x, half_y = MARKER_PIXELS / OVB_PLOT_PIXELS[0], MARKER_PIXELS / OVB_PLOT_PIXELS[1]
    return x - half_x, y - half_y, x + half_x, y + half_y


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(xs, ys, texts, *, taken=()) -> tuple[list[str], list[str]]:
    """Shown text and ``textposition`` per point (plot fractions), so that no two labels overlap.

    Points are labelled in order; each label takes the first position around
    its marker that stays inside the plot and clear of the labels already
    placed (and of the boxes in ``taken``); a point with no free position
    gets no label (its hover text still names it).
    """
    boxes = list(taken)
    shown, places = [], []
    for x, y, text in zip(xs, ys, texts):
        for place, _, _ in _LABEL_PLACES:
            box = label_box(float(x), float(y), text, place)
            inside = box[0] >= 0 and box[2] <= 1 and box[1] >= 0 and box[3] <= 1
            if inside and not any(_overlaps(box, other) for other in boxes):
                boxes.append(box)
                shown.append(text)
                places.append(place)
                break
        else:
            shown.append("")
            places.append("top right")
    return shown, places


def ovb_contour_plot(sensitivity, grid=None, *, title: str | None = "Omitted-variable bias: adjusted estimate") -> go.Figure:
    """Contours of the bias-adjusted estimate over confounder strength, with benchmarks marked.

    Benchmark labels never print over each other, over a marker or over the
    observed estimate's label: a benchmark whose label has no free place keeps
    its marker and hover text only (the report's benchmark table lists them all).

    Parameters
    ----------
    sensitivity : causal_core.robustness.sensitivity.OVBSensitivity
    grid : DataFrame, optional
        From :func:`causal_core.robustness.sensitivity.bias_contour_grid` (computed when omitted).
    """
    from causal_core.robustness.sensitivity.ovb import bias_contour_grid

    grid = bias_contour_grid(sensitivity) if grid is None else grid
    xs = np.unique(grid["r2dz_x"].to_numpy())
    ys = np.unique(grid["r2yz_dx"].to_numpy())
    z = grid.pivot(index="r2yz_dx", columns="r2dz_x", values="adjusted_estimate").to_numpy()
    figure = go.Figure()
    figure.add_trace(go.Contour(x=xs, y=ys, z=z, colorscale="RdBu", zmid=0, name="adjusted estimate", ncontours=8,
                                contours=dict(showlabels=True, labelfont=dict(size=10, color="#262730")),
                                colorbar=dict(title="adjusted")))
    figure.add_trace(go.Contour(x=xs, y=ys, z=z, showscale=False, name="adjusted estimate 0", showlegend=True,
                                contours=dict(start=0, end=0, size=1, coloring="none", showlabels=False),
                                line=dict(color="#b00020", width=3, dash="dash")))
    observed = f"observed {sensitivity.estimate:.3g}"
    bench = sensitivity.benchmarks
    x_max, y_max = float(xs.max()) or 1.0, float(ys.max()) or 1.0
    fx = bench["r2dz_x"].to_numpy(dtype=float) / x_max if len(bench) else np.empty(0)
    fy = bench["r2yz_dx"].to_numpy(dtype=float) / y_max if len(bench) else np.empty(0)
    markers = [_marker_box(x, y) for x, y in zip(np.r_[0.0, fx], np.r_[0.0, fy])]  # labels keep off every marker
    (observed_text,), (observed_place,) = place_labels([0.0], [0.0], [observed], taken=markers[1:])
    observed_text = observed  # the observed estimate is always named; benchmark labels keep clear of it
    figure.add_trace(go.Scatter(x=[0], y=[0], mode="markers+text", text=[observed_text], textposition=observed_place,
                                hovertext=[observed], hoverinfo="text",
                                marker=dict(color=NEUTRAL_COLOUR, size=9, symbol="triangle-up"), name="observed"))
    if len(bench):
        labels = [f"{k:g}× {b}: {a:.3g}" for b, k, a in zip(bench["benchmark"], bench["kd"], bench["adjusted_estimate"])]
        taken = markers + [label_box(0.0, 0.0, observed, observed_place)]
        order = np.argsort(bench["kd"].to_numpy(dtype=float), kind="stable")  # every benchmark's 1x first
        placed, where = place_labels(fx[order], fy[order], [labels[i] for i in order], taken=taken)
        shown, places = [""] * len(labels), ["top right"] * len(labels)
        for rank, i in enumerate(order):
            shown[i], places[i] = placed[rank], where[rank]
        figure.add_trace(go.Scatter(x=bench["r2dz_x"], y=bench["r2yz_dx"], mode="markers+text",
                                    text=[plotly_text(t) for t in shown], textposition=places,
                                    hovertext=plotly_texts(labels), hoverinfo="text",
                                    marker=dict(color=TREATED_COLOUR, size=9, symbol="diamond"), name="benchmarks"))
    figure.update_xaxes(title="partial R² of confounder with treatment", range=[0, xs.max()])
    figure.update_yaxes(title="partial R² of confounder with outcome", range=[0, ys.max()])
    return base_layout(figure, title=title, height=480)


def rosenbaum_plot(bounds, *, title: str | None = "Rosenbaum bounds: worst-case p-value by hidden bias") -> go.Figure:
    """Upper-bound p-value against Gamma with the significance level and the critical Gamma."""
    table = bounds.table
    figure = go.Figure(go.Scatter(x=table["gamma"], y=table["p_value_upper"], mode="lines+markers",
                                  line=dict(color=CONTROL_COLOUR), name="upper p-value"))
    figure.add_hline(y=bounds.alpha, line=dict(color="#b00020", dash="dash"), annotation_text=f"alpha {bounds.alpha:g}")
    if bounds.significant and np.isfinite(bounds.critical_gamma) and bounds.critical_gamma <= table["gamma"].max():
        figure.add_vline(x=bounds.critical_gamma, line=dict(color=NEUTRAL_COLOUR, dash="dot"),
                         annotation_text=f"Gamma {bounds.critical_gamma:.2f}")
    figure.update_xaxes(title="Gamma (odds of treatment within a pair)")
    figure.update_yaxes(title="largest one-sided p-value", range=[0, 1])
    return base_layout(figure, title=title, height=380)


def refutation_plot(results: Sequence, *, title: str | None = "Refutation tests") -> go.Figure:
    """Each test's refuted estimates (points) against what they should be (line) and the original estimate."""
    if not results:
        return empty_figure("No refutation test was run.")
    figure = go.Figure()
    for i, result in enumerate(results):
        colour = "#009e73" if result.passed else "#b00020"
        name = plotly_text(result.name)
        figure.add_trace(go.Box(x=list(result.estimates), y=[name] * len(result.estimates), orientation="h",
                                boxpoints="all", jitter=0.4, pointpos=0, marker=dict(color=colour, size=5),
                                line=dict(color=colour), name=f"{name}: {'passed' if result.passed else 'failed'}"))
        figure.add_trace(go.Scatter(x=[result.expected], y=[name], mode="markers",
                                    marker=dict(symbol="line-ns-open", size=26, color=NEUTRAL_COLOUR, line=dict(width=3)),
                                    name="expected", showlegend=i == 0))
    figure.add_vline(x=results[0].original_estimate, line=dict(color=TREATED_COLOUR, dash="dash"),
                     annotation_text="original estimate")
    figure.update_xaxes(title="estimate on altered data")
    return base_layout(figure, title=title, height=120 + 80 * len(results))


def method_lab_plot(lab, *, title: str | None = None) -> go.Figure:
    """Bias with RMSE whiskers, and CI coverage with its Monte Carlo error, per estimator."""
    from plotly.subplots import make_subplots

    table = lab.table
    if table.empty:
        return empty_figure("No method ran.")
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("bias (bars: ± RMSE)", "95% CI coverage"))
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(table))]
    labels = plotly_texts(table["label"])
    figure.add_trace(go.Scatter(x=table["bias"], y=labels, mode="markers", marker=dict(color=colours, size=10),
                                error_x=dict(type="data", array=table["rmse"], color=NEUTRAL_COLOUR), name="bias"), 1, 1)
    figure.add_trace(go.Scatter(x=table["coverage"], y=labels, mode="markers",
                                marker=dict(color=colours, size=10, symbol="square"),
                                error_x=dict(type="data", array=2 * table["coverage_mc_se"], color=NEUTRAL_COLOUR),
                                name="coverage"), 1, 2)
    figure.add_vline(x=0, line=dict(color=NEUTRAL_COLOUR, dash="dot"), row=1, col=1)
    figure.add_vline(x=0.95, line=dict(color="#b00020", dash="dash"), row=1, col=2)
    figure.update_xaxes(range=[min(0.5, float(np.nanmin(table["coverage"])) - 0.05), 1.02], row=1, col=2)
    figure.update_layout(showlegend=False)
    title = title or (f"Method lab: {lab.scenario} outcome, true {lab.estimand} {lab.truth:.3g}, "
                      f"{lab.n_replications} replications")
    return base_layout(figure, title=title, height=160 + 45 * len(table))
