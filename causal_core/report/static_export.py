"""Charts as files: PNG and SVG rendered on the server by Kaleido in the system's Chromium, or interactive HTML.

Kaleido 1.x drives a headless Chromium through choreographer. We never let it
download a browser: it is pointed at Debian's ``/usr/bin/chromium`` (or at the
``BROWSER_PATH`` environment variable, which choreographer also honours), and
a missing browser raises :class:`StaticExportError` saying what to install.
MathJax is switched off so rendering never reaches the network.
"""
from __future__ import annotations

import os
import shutil
import threading
from typing import Any

import plotly.graph_objects as go

from causal_core.core.errors import CausalInputError

__all__ = [
    "DEFAULT_CHROMIUM",
    "StaticExportError",
    "chromium_path",
    "figure_to_html",
    "figure_to_png",
    "figure_to_svg",
    "static_export_problem",
]

#: Where Debian's chromium package puts the browser.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
DEFAULT_WIDTH = 900
DEFAULT_HEIGHT = 550
RENDER_TIMEOUT_SECONDS = 90

# One browser at a time: each render starts its own Chromium, and the machine is small.
_RENDER_LOCK = threading.Lock()


class StaticExportError(CausalInputError):
    """A chart could not be rendered to PNG/SVG (no browser, or the render failed)."""


def chromium_path() -> str | None:
    """The Chromium to render with: ``$BROWSER_PATH``, else ``/usr/bin/chromium``, else ``chromium`` on PATH."""
    candidates = [os.environ.get("BROWSER_PATH"), DEFAULT_CHROMIUM, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def static_export_problem() -> str | None:
    """Why PNG/SVG export cannot work here (one sentence), or ``None`` when it can."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "PNG/SVG export needs the 'kaleido' package (version 1 or later); install the pinned requirements."
    if chromium_path() is None:
        return (
            f"PNG/SVG export needs Chromium at {DEFAULT_CHROMIUM} (or the BROWSER_PATH environment variable); "
            "install it with 'apt-get install chromium' (bash .ci/setup.sh does this)."
        )
    return None


def _check_figure(fig: Any) -> go.Figure:
    if isinstance(fig, go.Figure):
        return fig
    if isinstance(fig, dict):
        return go.Figure(fig)
    raise CausalInputError(f"Chart export needs a plotly Figure; got {type(fig).__name__}.")


def _render(fig: Any, image_format: str, width: int | None, height: int | None, scale: float) -> bytes:
    figure = _check_figure(fig)
    problem = static_export_problem()
    if problem:
        raise StaticExportError(problem)
    import kaleido

    layout = figure.layout
    options = {
        "format": image_format,
        "width": int(width or layout.width or DEFAULT_WIDTH),
        "height": int(height or layout.height or DEFAULT_HEIGHT),
        "scale": float(scale),
    }
    browser_options = {"path": chromium_path(), "mathjax": False, "timeout": RENDER_TIMEOUT_SECONDS}
    with _RENDER_LOCK:
        try:
            data = kaleido.calc_fig_sync(figure.to_dict(), opts=options, kopts=browser_options)
        except Exception as exc:  # browser crash, timeout, plotly.js error: say so in one sentence
            raise StaticExportError(
                f"Rendering the chart as {image_format.upper()} failed ({type(exc).__name__}: {exc}); "
                "try the interactive HTML download instead."
            ) from exc
    if isinstance(data, str):
        data = data.encode("utf-8")
    return bytes(data)


def figure_to_png(fig: go.Figure, *, width: int | None = None, height: int | None = None, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (``scale=2`` doubles the pixels for sharp slides).

    Raises
    ------
    StaticExportError
        When Chromium is missing or the render fails.
    """
    return _render(fig, "png", width, height, scale)


def figure_to_svg(fig: go.Figure, *, width: int | None = None, height: int | None = None) -> bytes:
    """The chart as SVG bytes (UTF-8 XML with an ``<svg>`` root).

    Raises
    ------
    StaticExportError
        When Chromium is missing or the render fails.
    """
    return _render(fig, "svg", width, height, 1.0)


def figure_to_html(fig: go.Figure, *, title: str | None = None) -> str:
    """The chart as a standalone interactive HTML page with plotly.js inline (works offline)."""
    figure = _check_figure(fig)
    body = figure.to_html(
        full_html=True,
        include_plotlyjs=True,
        include_mathjax=False,
        config={"displaylogo": False, "responsive": True},
    )
    if title:
        from html import escape

        body = body.replace("<head>", f"<head><title>{escape(title)}</title>", 1)
    return body
