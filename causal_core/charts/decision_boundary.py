"""Decision boundaries of fitted classifiers over two features, as a Plotly figure."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from causal_core.charts._text import plotly_text

__all__ = ["decision_boundary_figure"]

_LINE_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd")
_POINT_COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3")


def decision_boundary_figure(
    classifiers: dict[str, Any],
    data: pd.DataFrame,
    features: Sequence[str],
    cause: str,
    *,
    grid_size: int = 150,
    max_points: int = 2000,
    seed: int = 0,
    title: str = "Decision boundaries",
) -> go.Figure:
    """Scatter of ``data`` coloured by ``cause`` with each classifier's decision boundary.

    Parameters
    ----------
    classifiers : dict
        Legend name -> fitted classifier with ``predict`` taking the two feature columns
        (as a DataFrame with those names).
    data : DataFrame
        Points to show (e.g. the test set).
    features : two column names
        The x and y axes.
    cause : str
        Column with the class labels.
    grid_size : int
        Grid points per axis for the boundary.
    max_points : int
        At most this many points are drawn (a seeded random subset).
    seed : int
        Seed of that subset.
    title : str
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        Boundaries are drawn as contour lines where the predicted class changes.
    """
    if len(features) != 2:
        raise ValueError("decision boundaries are drawn for exactly two features")
    fx, fy = features
    points = data if len(data) <= max_points else data.sample(max_points, random_state=seed)
    xs = np.linspace(*_padded_range(data[fx].to_numpy(dtype=float)), grid_size)
    ys = np.linspace(*_padded_range(data[fy].to_numpy(dtype=float)), grid_size)
    gx, gy = np.meshgrid(xs, ys)
    grid = pd.DataFrame({fx: gx.ravel(), fy: gy.ravel()})
    figure = go.Figure()
    levels = sorted(pd.unique(data[cause]), key=lambda v: (str(type(v)), v))
    for i, level in enumerate(levels):
        subset = points[points[cause] == level]
        figure.add_trace(go.Scatter(
            x=subset[fx], y=subset[fy], mode="markers", name=plotly_text(f"{cause} = {level}"),
            marker={"size": 5, "opacity": 0.5, "color": _POINT_COLOURS[i % len(_POINT_COLOURS)]},
        ))
    codes = {level: i for i, level in enumerate(levels)}
    for i, (name, model) in enumerate(classifiers.items()):
        predicted = pd.Series(model.predict(grid)).map(codes).to_numpy(dtype=float).reshape(gx.shape)
        colour = _LINE_COLOURS[i % len(_LINE_COLOURS)]
        figure.add_trace(go.Contour(
            x=xs, y=ys, z=predicted, name=plotly_text(name), showlegend=True, showscale=False, hoverinfo="skip",
            contours={"coloring": "none", "start": 0.5, "end": len(levels) - 1.5 if len(levels) > 2 else 0.5,
                      "size": 1.0},
            line={"color": colour, "width": 2.5, "dash": "solid" if i == 0 else "dash"},
        ))
    figure.update_layout(title=plotly_text(title), xaxis_title=plotly_text(fx), yaxis_title=plotly_text(fy), template="plotly_white",
                         legend={"orientation": "h", "y": -0.2})
    return figure


def _padded_range(values: np.ndarray) -> tuple[float, float]:
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.05 * (high - low) if high > low else 1.0
    return low - pad, high + pad
