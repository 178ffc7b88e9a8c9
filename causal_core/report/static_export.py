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
from typing import Any, Sequence

import plotly.graph_objects as go

from causal_core.core.errors import CausalInputError

__all__ = [
    "DEFAULT_CHROMIUM",
    "StaticExportError",
    "chromium_path",
    "figure_to_html",
    "figure_to_png",
    "figure_to_svg",
    "figures_to_images",
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


def _options(figure: go.Figure, image_format: str, width: int | None, height: int | None, scale: float) -> dict:
    layout = figure.layout
    return {
        "format": image_format,
        "width": int(width or layout.width or DEFAULT_WIDTH),
        "height": int(height or layout.height or DEFAULT_HEIGHT),
        "scale": float(scale),
    }


def _browser_options() -> dict:
    return {"path": chromium_path(), "mathjax": False, "timeout": RENDER_TIMEOUT_SECONDS}


def _render(fig: Any, image_format: str, width: int | None, height: int | None, scale: float) -> bytes:
    figure = _check_figure(fig)
    problem = static_export_problem()
    if problem:
        raise StaticExportError(problem)
    import kaleido

    options = _options(figure, image_format, width, height, scale)
    browser_options = _browser_options()
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


def figures_to_images(
    figures: Sequence[Any], *, formats: Sequence[str] = ("svg", "png"), scale: float = 2.0
) -> list[dict[str, bytes]]:
    """Many charts in several formats, rendered in one Chromium session (one browser start for all of them).

    Parameters
    ----------
    figures : sequence of plotly Figure
    formats : sequence of {"png", "svg"}
        The formats wanted for every chart.
    scale : float
        Pixel multiplier of the PNGs (SVG is drawn at scale 1).

    Returns
    -------
    list of dict
        One ``{format: bytes}`` per figure, in order.

    Raises
    ------
    StaticExportError
        When Chromium is missing or a render fails.
    """
    checked = [_check_figure(f) for f in figures]
    wanted = [str(f).lower() for f in formats]
    unknown = sorted(set(wanted) - {"png", "svg"})
    if unknown:
        raise CausalInputError(f"Chart export format '{unknown[0]}' is not offered; choose png or svg.")
    if not checked or not wanted:
        return [{} for _ in checked]
    problem = static_export_problem()
    if problem:
        raise StaticExportError(problem)
    import asyncio

    import kaleido

    jobs = [(i, image_format, figure.to_dict(), _options(figure, image_format, None, None,
                                                         scale if image_format == "png" else 1.0))
            for i, figure in enumerate(checked) for image_format in wanted]

    async def render_all() -> list[bytes]:
        async with kaleido.Kaleido(n=1, **_browser_options()) as session:
            return [await session.calc_fig(spec, opts=options) for _, _, spec, options in jobs]

    outcome: dict[str, Any] = {}

    def run() -> None:  # its own thread and event loop, whatever loop the caller (Streamlit) runs
        try:
            outcome["images"] = asyncio.run(render_all())
        except BaseException as exc:  # noqa: BLE001 - reported below in one sentence
            outcome["error"] = exc

    with _RENDER_LOCK:
        worker = threading.Thread(target=run, name="chart-export", daemon=True)
        worker.start()
        worker.join()
    if "error" in outcome:
        exc = outcome["error"]
        raise StaticExportError(
            f"Rendering the charts as {'/'.join(f.upper() for f in wanted)} failed ({type(exc).__name__}: {exc}); "
            "try the interactive HTML downloads instead."
        ) from exc
    images: list[dict[str, bytes]] = [{} for _ in checked]
    for (i, image_format, _, _), data in zip(jobs, outcome["images"]):
        images[i][image_format] = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return images


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
