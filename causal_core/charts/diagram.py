"""The causal diagram implied by the assigned roles, drawn as boxes and arrows."""
from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from causal_core.charts._style import FONT
from causal_core.charts._text import plotly_text
from causal_core.core.roles import Roles

__all__ = ["causal_diagram", "group_label"]

_CHAR_WIDTH = 0.125  # data units per character at the default font and size
_LINE_HEIGHT = 0.34


@dataclass(frozen=True)
class _Node:
    key: str
    title: str
    detail: str
    x: float
    y: float
    fill: str
    dashed: bool = False

    @property
    def lines(self) -> list[str]:
        return [self.title] + ([self.detail] if self.detail else [])

    @property
    def half_width(self) -> float:
        return max(0.75, _CHAR_WIDTH * max(len(line) for line in self.lines) / 2 + 0.25)

    @property
    def half_height(self) -> float:
        return _LINE_HEIGHT * len(self.lines) / 2 + 0.18


def group_label(columns: tuple[str, ...], *, shown: int = 3, width: int = 30) -> str:
    """Column names for a box: all of them if short, else the first few and 'and N more'."""
    text = ", ".join(columns)
    if len(columns) <= shown and len(text) <= width:
        return text
    head = ", ".join(columns[:shown])
    if len(head) > width:
        head = head[: width - 1] + "…"
    return f"{head} +{len(columns) - shown} more" if len(columns) > shown else head


def _edge_point(node: _Node, towards_x: float, towards_y: float) -> tuple[float, float]:
    """Where the segment from the node's centre towards a point leaves its box."""
    dx, dy = towards_x - node.x, towards_y - node.y
    if dx == 0 and dy == 0:
        return node.x, node.y
    scale = min(node.half_width / abs(dx) if dx else float("inf"), node.half_height / abs(dy) if dy else float("inf"))
    return node.x + dx * scale, node.y + dy * scale


def _arrow(figure: go.Figure, source: _Node, target: _Node, *, colour: str = "#555555") -> None:
    start = _edge_point(source, target.x, target.y)
    end = _edge_point(target, source.x, source.y)
    figure.add_annotation(
        x=end[0], y=end[1], ax=start[0], ay=start[1], xref="x", yref="y", axref="x", ayref="y",
        showarrow=True, arrowhead=3, arrowsize=1.2, arrowwidth=1.6, arrowcolor=colour, text="",
        standoff=2,
    )


def _nodes(roles: Roles) -> dict[str, _Node]:
    nodes = {
        "T": _Node("T", "Treatment", roles.treatment, 0.0, 0.0, "#fde0c5"),
        "Y": _Node("Y", "Outcome", roles.outcome, 6.0, 0.0, "#cfe3f3"),
    }
    if roles.confounders:
        nodes["C"] = _Node("C", f"Confounders ({len(roles.confounders)})", group_label(roles.confounders),
                           3.0, 2.3, "#e6e6e6")
    if roles.subgroups:
        nodes["G"] = _Node("G", "Subgroups", group_label(roles.subgroups), -3.0, 2.3, "#fff2b3")
    if roles.instruments:
        nodes["Z"] = _Node("Z", "Instruments", group_label(roles.instruments), -3.2, 0.0, "#d4efdf")
    if roles.mechanisms:
        nodes["M"] = _Node("M", "Mechanisms", group_label(roles.mechanisms), 3.0, 0.0, "#e8dcf0")
    if roles.proxies or roles.mechanisms or roles.instruments:
        # mechanisms, instruments and proxies each declare a hidden confounder of treatment and outcome
        nodes["U"] = _Node("U", "Hidden confounder U", "(not measured)", 3.0, -2.1, "#ffffff", dashed=True)
    if roles.proxies:
        nodes["P"] = _Node("P", "Proxies of U", group_label(roles.proxies), 3.0, -3.6, "#f2f2f2")
    if roles.selection is not None:
        nodes["S"] = _Node("S", "Outcome recorded", roles.selection, 7.9, -3.0, "#f6d5d5")
    if roles.exclusions:
        nodes["E"] = _Node("E", "Exclusion variables", group_label(roles.exclusions), 5.6, -4.6, "#f9e6d0")
    if roles.shadow is not None:
        nodes["W"] = _Node("W", "Shadow variable", roles.shadow, 8.9, 2.3, "#d0efef")
    return nodes


def causal_diagram(roles: Roles, identification=None, *, height: int | None = None) -> go.Figure:
    """Draw the diagram the roles imply: T -> Y with confounders, instruments, mechanisms, proxies and selection.

    Mechanisms, instruments and proxies declare a hidden confounder, drawn as a dashed node U with dashed
    arrows into treatment and outcome.

    Parameters
    ----------
    roles : Roles
        The assigned roles; many columns in one role are grouped into one box.
    identification : causal_core.diagnostics.identification.Identification, optional
        When given, its strategies are named in the title.
    height : int, optional
        Figure height in pixels (by default it follows the diagram's extent).
    """
    nodes = _nodes(roles)
    figure = go.Figure()
    for node in nodes.values():
        figure.add_shape(
            type="rect", x0=node.x - node.half_width, x1=node.x + node.half_width,
            y0=node.y - node.half_height, y1=node.y + node.half_height,
            line=dict(color="#555555", width=1.5, dash="dash" if node.dashed else "solid"),
            fillcolor=node.fill, layer="below",
        )
        figure.add_annotation(x=node.x, y=node.y, text=f"<b>{plotly_text(node.title)}</b>" + (f"<br>{plotly_text(node.detail)}" if node.detail else ""),
                              showarrow=False, font=dict(size=13, color="#1a1a1a"), align="center")
    edges: list[tuple[str, str, bool]] = []
    if "M" in nodes:
        edges += [("T", "M", False), ("M", "Y", False)]
    else:
        edges.append(("T", "Y", False))
    if "C" in nodes:
        edges += [("C", "T", False), ("C", "Y", False)]
    if "G" in nodes:
        edges += [("G", "T", False), ("G", "Y", False)]
    if "Z" in nodes:
        edges.append(("Z", "T", False))
    if "U" in nodes:
        edges += [("U", "T", True), ("U", "Y", True)]
        if "P" in nodes:
            edges.append(("U", "P", True))
    if "S" in nodes:
        edges.append(("T", "S", False))
        if "C" in nodes:
            edges.append(("C", "S", False))
        if "W" in nodes:
            edges.append(("Y", "S", False))
        if "E" in nodes:
            edges.append(("E", "S", False))
    if "W" in nodes:
        edges.append(("W", "Y", False))
    for source, target, dashed in edges:
        _arrow(figure, nodes[source], nodes[target], colour="#888888" if dashed else "#555555")
    xs = [n.x - n.half_width for n in nodes.values()] + [n.x + n.half_width for n in nodes.values()]
    ys = [n.y - n.half_height for n in nodes.values()] + [n.y + n.half_height for n in nodes.values()]
    x_range = [min(min(xs) - 0.3, -1.5), max(max(xs) + 0.3, 7.5)]
    y_range = [min(min(ys) - 0.3, -1.2), max(max(ys) + 0.3, 3.3)]
    figure.update_xaxes(visible=False, range=x_range, fixedrange=True)
    figure.update_yaxes(visible=False, range=y_range, fixedrange=True, scaleanchor="x", scaleratio=1)
    if height is None:
        height = int(62 * (y_range[1] - y_range[0])) + 60
    title = None
    if identification is not None and identification.strategies:
        title = "Identification: " + ", ".join(s.name for s in identification.strategies)
    figure.update_layout(
        template="plotly_white", font=FONT, height=height, showlegend=False,
        margin=dict(l=10, r=10, t=44 if title else 10, b=10),
        plot_bgcolor="white", paper_bgcolor="white",
    )
    if title:
        figure.update_layout(title=dict(text=plotly_text(title), x=0, xanchor="left", font=dict(size=15)))
    return figure
