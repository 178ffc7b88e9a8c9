"""Charts as files: PNG and SVG rendered on the server by Kaleido in the system's Chromium, or interactive HTML.

Kaleido 1.x drives a headless Chromium through choreographer. We never let it
download a browser: it is pointed at Debian's ``/usr/bin/chromium`` (or at the
``BROWSER_PATH`` environment variable, which choreographer also honours), and
a missing browser raises :class:`StaticExportError` saying what to install.
MathJax is switched off so rendering never reaches the network.

One Chromium serves every export of the process (:class:`_PersistentChromium`):
it is started by the first PNG/SVG, kept open for the next ones (starting it
costs seconds, a render a fraction of one), used by one render at a time, started
again when it has died, and closed when the process exits.
"""
from __future__ import annotations

import asyncio
import atexit
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
    "chromium_pid",
    "close_chromium",
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
START_TIMEOUT_SECONDS = 60
CLOSE_TIMEOUT_SECONDS = 10


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


async def _cancel_pending() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class _PersistentChromium:
    """One headless Chromium (a kaleido session) kept open across exports, on its own thread and event loop.

    Renders run one at a time under a lock (the machine is small, and the
    session has one tab). A browser that has died, been killed or lost its
    thread is noticed before the next render and started again; a render that
    fails because the browser died under it is tried once more on a fresh one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: Any = None

    # -- lifecycle (callers hold the lock)
    def _alive(self) -> bool:
        session, thread = self._session, self._thread
        return (session is not None and thread is not None and thread.is_alive()
                and getattr(session, "subprocess", None) is not None and session.subprocess.poll() is None)

    def _call(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _open(self) -> None:
        import kaleido

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="chart-export", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

        async def start() -> Any:
            session = kaleido.Kaleido(n=1, **_browser_options())
            await session.open()
            return session

        try:
            self._session = self._call(start(), START_TIMEOUT_SECONDS)
        except BaseException:
            self._shutdown()
            raise

    def _shutdown(self) -> None:
        loop, thread, session = self._loop, self._thread, self._session
        self._loop = self._thread = self._session = None
        if loop is None:
            return
        if session is not None and thread is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(session.close(), loop).result(CLOSE_TIMEOUT_SECONDS)
            except BaseException:  # noqa: BLE001 - a dead browser cannot close cleanly; it is killed below
                pass
        process = getattr(session, "subprocess", None)
        if process is not None and process.poll() is None:
            process.kill()
            try:
                process.wait(CLOSE_TIMEOUT_SECONDS)
            except Exception:  # noqa: BLE001
                pass
        if thread is not None and thread.is_alive():
            try:  # the browser's watchdog and reader tasks end with the loop, not after it
                asyncio.run_coroutine_threadsafe(_cancel_pending(), loop).result(CLOSE_TIMEOUT_SECONDS)
            except BaseException:  # noqa: BLE001
                pass
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CLOSE_TIMEOUT_SECONDS)
        if thread is None or not thread.is_alive():
            loop.close()

    # -- public
    def render(self, jobs: Sequence[tuple[dict, dict]]) -> list[bytes]:
        """Render (figure dict, kaleido options) jobs in order, starting the browser when it is not running."""
        with self._lock:
            for attempt in range(2):
                if not self._alive():
                    self._shutdown()
                    self._open()
                try:
                    images = [self._call(self._session.calc_fig(spec, opts=options), RENDER_TIMEOUT_SECONDS)
                              for spec, options in jobs]
                except BaseException:
                    browser_died = not self._alive()
                    self._shutdown()  # a failed session is never reused
                    if attempt == 0 and browser_died:
                        continue
                    raise
                return [data.encode("utf-8") if isinstance(data, str) else bytes(data) for data in images]
        raise AssertionError("unreachable")

    def pid(self) -> int | None:
        with self._lock:
            return self._session.subprocess.pid if self._alive() else None

    def close(self) -> None:
        with self._lock:
            self._shutdown()

    def forget_after_fork(self) -> None:
        """In a forked child the thread is gone and the browser is the parent's: drop both, touch nothing."""
        self._lock = threading.Lock()
        self._loop = self._thread = self._session = None


_CHROMIUM = _PersistentChromium()
atexit.register(_CHROMIUM.close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_CHROMIUM.forget_after_fork)


def chromium_pid() -> int | None:
    """The process id of the Chromium kept for exports, or ``None`` when none is running."""
    return _CHROMIUM.pid()


def close_chromium() -> None:
    """Close the Chromium kept for exports (the next export starts a new one); also done at exit."""
    _CHROMIUM.close()


def _render(fig: Any, image_format: str, width: int | None, height: int | None, scale: float) -> bytes:
    figure = _check_figure(fig)
    problem = static_export_problem()
    if problem:
        raise StaticExportError(problem)
    options = _options(figure, image_format, width, height, scale)
    try:
        return _CHROMIUM.render([(figure.to_dict(), options)])[0]
    except Exception as exc:  # browser crash, timeout, plotly.js error: say so in one sentence
        raise StaticExportError(
            f"Rendering the chart as {image_format.upper()} failed ({type(exc).__name__}: {exc}); "
            "try the interactive HTML download instead."
        ) from exc


def figures_to_images(
    figures: Sequence[Any], *, formats: Sequence[str] = ("svg", "png"), scale: float = 2.0
) -> list[dict[str, bytes]]:
    """Many charts in several formats, rendered by the one Chromium kept for exports (started if needed).

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
    jobs = [(i, image_format, figure.to_dict(), _options(figure, image_format, None, None,
                                                         scale if image_format == "png" else 1.0))
            for i, figure in enumerate(checked) for image_format in wanted]
    try:
        rendered = _CHROMIUM.render([(spec, options) for _, _, spec, options in jobs])
    except Exception as exc:
        raise StaticExportError(
            f"Rendering the charts as {'/'.join(f.upper() for f in wanted)} failed ({type(exc).__name__}: {exc}); "
            "try the interactive HTML downloads instead."
        ) from exc
    images: list[dict[str, bytes]] = [{} for _ in checked]
    for (i, image_format, _, _), data in zip(jobs, rendered):
        images[i][image_format] = data
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
