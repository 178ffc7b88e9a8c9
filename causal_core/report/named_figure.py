"""A chart with a title for people and a slug for file names."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import plotly.graph_objects as go

__all__ = ["FigurePlan", "NamedFigure"]


@dataclass(frozen=True)
class NamedFigure:
    """A chart with a title for people and a slug for file names.

    Attributes
    ----------
    slug : str
        File-name-safe identifier, unique within one analysis (characters other than
        letters, digits, ``-`` and ``_`` are replaced by ``_``).
    title : str
        Heading shown above the chart.
    figure : plotly Figure
    method : str or None
        Method id when the chart is one of that method's own diagnostics (the
        HTML report shows it in the method's diagnostics block); ``None`` for
        charts of the whole analysis.
    """

    slug: str
    title: str
    figure: go.Figure
    method: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "slug", re.sub(r"[^A-Za-z0-9_-]", "_", str(self.slug)))


@dataclass(frozen=True)
class FigurePlan:
    """A chart (or one method's set of charts) named before it is drawn: the Report page lists plans and
    draws only those asked for.

    Attributes
    ----------
    slug : str
        File-name-safe identifier, unique within one analysis (cleaned as in :class:`NamedFigure`).
    title : str
        Heading shown before the chart is drawn.
    build : callable
        No-argument function returning the drawn charts: a list of :class:`NamedFigure`, empty when the
        chart turns out not to apply.
    method : str or None
        Method id when the plan is one method's own diagnostics.
    kind : str
        The kind of step (``"overlap"``, ``"balance"``, ``"weights"``...), for its expected time.
    """

    slug: str
    title: str
    build: Callable[[], list[NamedFigure]]
    method: str | None = None
    kind: str = "chart"

    def __post_init__(self) -> None:
        object.__setattr__(self, "slug", re.sub(r"[^A-Za-z0-9_-]", "_", str(self.slug)))
