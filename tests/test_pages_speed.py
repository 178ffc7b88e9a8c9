"""Pages that answer at once (issue 15 item 6): charts drawn lazily and kept per results bundle, and PNG/SVG
export through one persistent Chromium that is started again when it dies."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

import causal_core as cc
from causal_core.datasets.samples import get_sample, load_sample
from causal_core.report import analysis_figures
from causal_core.report.figures import FigureCache, analysis_figure_plans
from causal_core.report.static_export import (chromium_pid, close_chromium, figure_to_png, figure_to_svg,
                                              static_export_problem)

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METHODS = ("difference_in_means", "ipw", "regression_adjustment")
SAMPLE = "simulated_linear"


@pytest.fixture(scope="module")
def analysis():
    df = load_sample(SAMPLE)
    roles = get_sample(SAMPLE).roles
    results = {m: cc.estimate(df, roles, m, estimand="ATE", seed=3) for m in METHODS}
    rows = [r.summary() | {"error": "", "label": cc.get_method(m).label, "family": cc.get_method(m).family}
            for m, r in results.items()]
    return df, roles, pd.DataFrame(rows), results


def _page(analysis, page: str) -> AppTest:
    from pages._state import Dataset, ResultsBundle

    df, roles, table, results = analysis
    app = AppTest.from_file(str(ROOT / page), default_timeout=120)
    app.session_state["dataset"] = Dataset(name="sim.csv", df=df, version=1, source="sample", sample_id=SAMPLE)
    app.session_state["roles"] = roles
    app.session_state["results"] = ResultsBundle(data_version=1, data_name="sim.csv", roles=roles, estimand="ATE",
                                                 seed=3, table=table, results=results,
                                                 options={m: {} for m in METHODS})
    return app.run()


def _clean(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def _charts(app: AppTest) -> FigureCache:
    ((_, charts),) = app.session_state["_report_figures"].values()  # one results bundle, one entry
    return charts


def test_plans_draw_the_same_charts_as_analysis_figures(analysis):
    df, roles, table, results = analysis
    plans = analysis_figure_plans(df, roles, table, results, estimand="ATE")
    cache = FigureCache(plans)
    assert not cache.builds  # naming the charts draws nothing
    eager = analysis_figures(df, roles, table, results, estimand="ATE")
    lazy = cache.all_figures()
    assert [f.slug for f in lazy] == [f.slug for f in eager]
    assert [f.title for f in lazy] == [f.title for f in eager]
    assert {"causal_diagram", "forest_plot", "propensity_overlap", "love_plot", "weights_ipw"} <= {p.slug for p in plans}
    assert cache.all_figures()[0] is lazy[0]  # asked again: kept, not drawn again
    assert set(cache.builds.values()) == {1}
    with pytest.raises(cc.CausalInputError, match="Chart 'no_such_chart' is not one of this analysis's charts"):
        cache.figures("no_such_chart")


def test_report_first_render_draws_nothing_and_a_second_render_does_not_redraw(analysis):
    app = _page(analysis, "pages/6_Report.py")
    _clean(app)
    charts = _charts(app)
    assert charts.builds == {}  # no chart drawn before it is asked for
    ((_, robustness),) = app.session_state["_report_robustness"].values()
    assert not robustness.summary.done  # nor the agreement and sensitivity summary
    assert not app.get("plotly_chart")
    assert {"report_html", "report_bundle", "report_table_xlsx"} <= {b.key for b in app.get("download_button")}

    app.session_state["report_open_forest_plot"] = True
    app.session_state["report_open_love_plot"] = True
    app.run()
    _clean(app)
    assert charts.builds == {"forest_plot": 1, "love_plot": 1}
    assert {"report_png_forest_plot", "report_svg_love_plot"} <= {b.key for b in app.get("download_button")}
    assert len(app.get("plotly_chart")) == 2
    for _ in range(2):  # reruns, and a closed then reopened expander, use what was drawn
        app.run()
        _clean(app)
    app.session_state["report_open_forest_plot"] = False
    app.run()
    app.session_state["report_open_forest_plot"] = True
    app.run()
    _clean(app)
    assert _charts(app) is charts
    assert charts.builds == {"forest_plot": 1, "love_plot": 1}
    step_seconds = app.session_state["_report_step_seconds"]
    assert {"forest", "balance"} <= set(step_seconds)  # the measured cost behind the next expected time


def test_report_robustness_charts_are_summarised_once(analysis):
    app = _page(analysis, "pages/6_Report.py")
    app.session_state["report_open_robustness"] = True
    app.run()
    _clean(app)
    ((_, robustness),) = app.session_state["_report_robustness"].values()
    assert robustness.summary.done
    summary = robustness.summary.get()
    app.run()
    ((_, again),) = app.session_state["_report_robustness"].values()
    assert again is robustness and again.summary.get() is summary


def test_diagnostics_keeps_its_charts_across_dropdown_changes(analysis):
    app = _page(analysis, "pages/5_Diagnostics.py")
    _clean(app)
    app.selectbox(key="diag_method").set_value("ipw").run()
    _clean(app)
    kept = dict(app.session_state["_diag_figures"])
    assert any(key[1:] == ("ipw", "overlap") for key in kept)
    assert any(key[1:] == ("ipw", "weights") for key in kept)
    app.selectbox(key="diag_method").set_value("difference_in_means").run()
    app.selectbox(key="diag_method").set_value("ipw").run()
    _clean(app)
    now = app.session_state["_diag_figures"]
    for key, (bundle, figure) in kept.items():  # the same objects: nothing drawn again
        assert now[key][1] is figure


needs_chromium = pytest.mark.skipif(static_export_problem() is not None, reason=str(static_export_problem()))


def _gone(pid: int, seconds: float = 10.0) -> bool:
    """Whether the process has ended (exited or a zombie waiting to be reaped) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def export_browser():
    """The export browser of these tests, closed after them (the tests below may share it: each start costs
    seconds)."""
    close_chromium()
    yield
    close_chromium()


CHART = go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 0, 1]), layout={"width": 300, "height": 200})


@needs_chromium
def test_exports_after_the_first_reuse_the_same_chromium(export_browser):
    close_chromium()
    assert chromium_pid() is None
    first = figure_to_png(CHART)
    pid = chromium_pid()
    assert first[:8] == PNG_MAGIC and pid is not None
    svg = figure_to_svg(CHART)
    again = figure_to_png(CHART, scale=1)
    assert svg.lstrip().startswith(b"<svg") and again[:8] == PNG_MAGIC
    assert chromium_pid() == pid  # one browser for every export
    assert not _gone(pid, seconds=0.2)  # and it is kept running for the next one


@needs_chromium
def test_an_export_after_the_browser_was_killed_starts_a_new_one(export_browser):
    figure_to_png(CHART)
    pid = chromium_pid()
    os.kill(pid, signal.SIGKILL)
    assert _gone(pid)
    png = figure_to_png(CHART)
    assert png[:8] == PNG_MAGIC
    new_pid = chromium_pid()
    assert new_pid is not None and new_pid != pid


@needs_chromium
def test_closing_the_export_browser_ends_its_process(export_browser):
    figure_to_png(CHART)
    pid = chromium_pid()
    close_chromium()
    assert chromium_pid() is None and _gone(pid)
