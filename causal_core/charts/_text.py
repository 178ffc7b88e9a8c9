"""User text in Plotly figures: shown as the characters, never read as Plotly's HTML subset.

Plotly renders a few HTML tags (links, images in some versions, ``<span style>``,
``<b>``, ``<br>``...) in titles, axis titles, tick labels, legend names, hover
text and annotations, and shows the entities ``&lt;`` ``&gt;`` ``&amp;`` as
the characters. Every column name, level, category, data name or label that
reaches a figure goes through :func:`plotly_text` exactly once, where it
enters the figure.
"""
from __future__ import annotations

from typing import Any, Iterable

__all__ = ["plotly_text", "plotly_texts"]


def plotly_text(value: Any) -> str:
    """``str(value)`` with ``&``, ``<`` and ``>`` written as HTML entities (Plotly shows them as the characters)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plotly_texts(values: Iterable[Any]) -> list[str]:
    """:func:`plotly_text` of each value."""
    return [plotly_text(v) for v in values]
