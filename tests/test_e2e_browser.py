"""End to end in a real browser: upload a CSV, assign roles, run estimators, download the HTML report.

Starts ``streamlit run app.py`` on a free port and drives Debian's headless
Chromium (``/usr/bin/chromium``) with Playwright; no browser is ever
downloaded. Screenshots of every step go to ``test-artifacts/e2e/`` at the
repository root, with the server log. Skipped only when Chromium is absent
(CI installs it with ``.ci/setup.sh``).
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded
from causal_core.datasets.table_reader import read_table
from causal_core.report import load_analysis, static_export_problem

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
METHODS = ("difference_in_means", "regression_adjustment", "ipw")
CONFOUNDERS = ("x1", "x2", "x3", "x4", "region")
WAIT_MS = 90_000  # the machine may be busy; every wait is for a condition, never a fixed sleep

pytestmark = pytest.mark.skipif(not os.path.isfile(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_health(url: str, server: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with code {server.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)  # polling interval of the health check, not a wait for the UI
    pytest.fail(f"streamlit did not answer {url}/_stcore/health in {timeout:.0f} s; log:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running_app(log: Path, script: str = "app.py", **env_extra: str):
    """``streamlit run app.py`` (or ``script``) on a free port of 127.0.0.1, yielding (process, url); stopped by its pid.

    Every browser test starts the app through this, with its log file and any extra environment.
    """
    port = _free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", PYTHONPATH=str(ROOT), **env_extra)
    command = [
        sys.executable, "-m", "streamlit", "run", script,
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
    ]
    with open(log, "w") as log_file:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url, server, log)
        yield server, url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def app_url():
    """A running ``streamlit run app.py`` on a free port; stopped (by its own pid) at teardown."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*"):  # screenshots of an earlier run must not pass for this one's
        if old.is_file():
            old.unlink()
    with running_app(ARTIFACTS / "server.log") as (_, url):
        yield url


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(WAIT_MS)
            yield context.new_page()
        finally:
            browser.close()


def _shot(page, name: str, focus=None) -> None:
    """Screenshot of the viewport (Streamlit scrolls inside the page), after scrolling ``focus`` into view."""
    if focus is not None:
        focus.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _download(page, button, folder: Path) -> Path:
    """Click a download button and save what the browser receives."""
    with page.expect_download(timeout=WAIT_MS) as info:
        button.click()
    download = info.value
    path = folder / download.suggested_filename
    download.save_as(str(path))
    return path


def _wait_idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached")


def _widget(page, key: str, inner: str = ""):
    """The live (not stale) element of the widget with ``key``, or an element inside it."""
    return page.locator(f".st-key-{key}:not([data-stale='true']) {inner}".rstrip()).first


def _go_to(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for()
    _wait_idle(page)


def _checkboxes(page, prefix: str) -> dict[str, dict[str, bool]]:
    """Widget key -> {checked, disabled} of every live checkbox whose key starts with ``prefix``.

    Waits until each of them is drawn: Streamlit shows a skeleton in a widget's place until the browser has
    loaded that widget's code, which takes a while on a busy machine.
    """
    handle = page.wait_for_function(
        "(prefix) => {"
        "  const found = {};"
        "  const elements = document.querySelectorAll(`[class*='st-key-${prefix}']:not([data-stale='true'])`);"
        "  for (const element of elements) {"
        "    const key = [...element.classList].find(c => c.startsWith(`st-key-${prefix}`)).slice('st-key-'.length);"
        "    const box = element.querySelector(\"input[type='checkbox']\");"
        "    if (!box) return false;"
        "    found[key] = {checked: box.checked, disabled: box.disabled};"
        "  }"
        "  return elements.length > 0 && found; }",
        arg=prefix,
    )
    return handle.json_value()


def _run_button_says(page, text: str) -> None:
    """Wait until the server has re-rendered the Estimate page's run button with ``text``, then for the run's end."""
    label = re.compile(rf"^{re.escape(text)}$")
    page.locator(".st-key-est_run:not([data-stale='true']) button", has_text=label).wait_for()
    _wait_idle(page)


def _choose(page, key: str, option: str | re.Pattern) -> None:
    """Pick ``option`` in the selectbox whose widget key is ``key``."""
    _widget(page, key, "button[aria-label='Open']").click()
    page.get_by_role("option", name=option).first.click()
    page.wait_for_function(
        "([key, pattern]) => {"
        "  const input = document.querySelector(`.st-key-${key}:not([data-stale='true']) input`);"
        "  return input && new RegExp(pattern).test(input.value); }",
        arg=[key, option.pattern if isinstance(option, re.Pattern) else re.escape(option)],
    )
    _wait_idle(page)


def _expected_results(csv_path: Path) -> dict[str, cc.EstimateResult]:
    """What the engine gives on the uploaded file read as the app reads it (default options, seed 0)."""
    df = read_table(csv_path.read_bytes(), csv_path.name)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=CONFOUNDERS)
    return {m: cc.estimate(df, roles, m, estimand="ATE", seed=0) for m in METHODS}


def test_upload_roles_estimate_and_download_report(app_url, page, tmp_path):
    df, truth = linear_confounded(n=800, seed=11)
    csv_path = tmp_path / "trial.csv"
    df.to_csv(csv_path, index=False)

    # 1. the app opens on the Data page; upload the CSV
    page.goto(app_url)
    page.get_by_role("heading", name="Data", exact=True).first.wait_for()
    _wait_idle(page)
    _shot(page, "01_start")
    page.locator(".st-key-data_upload input[type='file']").set_input_files(str(csv_path))
    page.get_by_text("Loaded 'trial.csv': 800 rows, 7 columns.").wait_for()
    _wait_idle(page)
    _shot(page, "02_uploaded")

    # 2. roles: treatment, outcome, and every other column as confounders
    _go_to(page, "Roles")
    # Each wait is for something only the server draws after the change, then for that script run to end:
    # the browser shows a new selection at once, and "Roles check out" already shows before confounders are
    # filled, so waiting on either alone could move on mid-run and lose the confounders (roles without
    # confounders leave only difference in means available on the Estimate page).
    _choose(page, "roles_treatment", re.compile(r"^treat\b"))
    page.get_by_text(re.compile(r"^Treated: treat = 1; comparison: treat = 0\.$")).wait_for()
    _wait_idle(page)
    _choose(page, "roles_outcome", re.compile(r"^y\b"))
    page.get_by_text(re.compile(r"Roles check out: 800 rows usable")).wait_for()
    _wait_idle(page)
    _widget(page, "roles_fill_confounders", "button").click()
    page.wait_for_function(
        "(wanted) => {"
        "  const tags = document.querySelectorAll(\".st-key-roles_confounders:not([data-stale='true']) [data-tag]\");"
        "  return [...tags].map(tag => tag.getAttribute('aria-label')).sort().join(',') === wanted; }",
        arg=",".join(sorted(CONFOUNDERS)),
    )
    _wait_idle(page)
    _shot(page, "03_roles")

    # 3. estimate: exactly the three methods, then run. The page lists every registered method (some ticked by
    # default, some greyed out), so the boxes to click are read from the page itself: untick the extra ones,
    # then tick the missing ones. Each click changes the count by one, and the run button's label, which only
    # the server redraws, says when that click has been taken in.
    _go_to(page, "Estimate")
    page.get_by_text(f"{len(CONFOUNDERS)} confounder(s)").first.wait_for()
    _widget(page, "est_run", "button").wait_for()
    _wait_idle(page)
    boxes = _checkboxes(page, "est_use_")
    for method in METHODS:
        state = boxes.get(f"est_use_{method}")
        assert state is not None and not state["disabled"], f"{method} is not offered on the Estimate page: {state}"
    checked = {key for key, state in boxes.items() if state["checked"] and not state["disabled"]}
    wanted = {f"est_use_{method}" for method in METHODS}
    n_checked = len(checked)
    for key in sorted(checked - wanted) + sorted(wanted - checked):
        _widget(page, key, "label").click()
        n_checked += -1 if key in checked else 1
        _run_button_says(page, f"Run {n_checked} method(s)")
    boxes = _checkboxes(page, "est_use_")
    assert {key for key, state in boxes.items() if state["checked"]} == wanted, boxes
    run_button = _widget(page, "est_run", "button")
    _run_button_says(page, f"Run {len(METHODS)} method(s)")
    run_button.click()
    page.get_by_text(f"Done: {len(METHODS)} of {len(METHODS)} method(s) gave an estimate.").wait_for()
    _wait_idle(page)
    _widget(page, "est_forest", "svg.main-svg").wait_for(state="visible")
    forest_labels = _widget(page, "est_forest", "svg.main-svg").inner_html()
    # the results grid draws on a canvas; its accessible table holds the same cells
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.locator("[role='gridcell']").first.wait_for(state="attached")
    grid_text = grid.evaluate("element => element.textContent")
    for method in METHODS:
        label = cc.get_method(method).label
        assert label in grid_text, f"{label} is not in the results table"
        assert label in forest_labels, f"{label} is not in the forest plot"
    _shot(page, "04_estimates", focus=_widget(page, "est_forest"))

    # 4. report: download the self-contained HTML report and read it
    _go_to(page, "Report")
    report_button = _widget(page, "report_html", "button")
    report_button.wait_for(state="visible")
    _shot(page, "05_report_page")
    report_path = _download(page, report_button, ARTIFACTS)
    report = report_path.read_text(encoding="utf-8")
    assert report_path.name == "trial_report.html"
    assert not re.search(r"<script[^>]*\bsrc\s*=", report, flags=re.IGNORECASE)
    assert "trial.csv" in report and "800 rows" in report
    expected = _expected_results(csv_path)
    for method, result in expected.items():
        row = re.search(rf'<tr><td data-method="{method}">.*?</tr>', report, flags=re.DOTALL)
        assert row is not None, f"{method} is not in the report's results table"
        shown = float(re.search(r'data-value="([^"]+)"', row.group(0)).group(1))
        assert shown == pytest.approx(result.estimate, rel=1e-9), method
    # the adjusted estimators recover the simulated effect (within 4 of their own standard errors)
    for method in ("regression_adjustment", "ipw"):
        assert abs(expected[method].estimate - truth["ATE"]) < 4 * expected[method].std_error, method

    # 5. the analysis file restores the same run; a chart comes back as PNG rendered on the server
    analysis = load_analysis(_download(page, _widget(page, "report_analysis_json", "button"), tmp_path).read_bytes())
    assert analysis.methods == METHODS and analysis.roles.treatment == "treat" and analysis.n_rows == 800
    page.get_by_text("Estimates of the ATE with 95% intervals").first.click()  # open the chart's expander
    png_button = _widget(page, "report_png_forest_plot", "button")
    png_button.wait_for(state="visible")
    _shot(page, "06_report_chart", focus=png_button)
    if static_export_problem() is None:
        png = _download(page, png_button, tmp_path).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"

    # 5b. the one-click bundle: every file of the analysis in one zip, charts rendered on the server
    bundle = zipfile.ZipFile(_download(page, _widget(page, "report_bundle", "button"), tmp_path))
    names = {name.split("/", 1)[1] for name in bundle.namelist()}
    assert {"report.html", "analysis.json", "reproduce.py", "data_fingerprint.json", "tables/results.csv",
            "tables/analysis.xlsx"} <= names
    if static_export_problem() is None:
        assert {"charts/forest_plot.svg", "charts/forest_plot.png"} <= names
    assert load_analysis(bundle.read(next(n for n in bundle.namelist() if n.endswith("/analysis.json")))) == analysis

    # 6. the report renders offline in the same browser, charts included
    page.goto(report_path.as_uri())
    page.locator(".js-plotly-plot svg.main-svg").first.wait_for(state="visible")
    assert page.locator(".js-plotly-plot").count() >= 3
    _shot(page, "07_report_file")


# ---------------------------------------------------------------- issue 14: guidance follows the data

GUIDANCE_ARTIFACTS = ROOT / "test-artifacts" / "issue14"


def _load_sample_in_browser(page, sample_id: str) -> None:
    title = cc.get_sample(sample_id).title
    _go_to(page, "Data")
    _choose(page, "data_sample", re.compile(rf"^{re.escape(title)}$"))
    _widget(page, "data_load_sample", "button").click()
    page.get_by_text(f"Loaded sample '{title}' with its suggested roles.").wait_for()
    _wait_idle(page)


def _ticks_on_estimate(page) -> dict[str, dict[str, bool]]:
    _go_to(page, "Estimate")
    _widget(page, "est_run", "button").wait_for()
    _wait_idle(page)
    return {key.removeprefix("est_use_"): state for key, state in _checkboxes(page, "est_use_").items()}


def _ticked_ids(boxes: dict[str, dict[str, bool]]) -> set[str]:
    return {method for method, state in boxes.items() if state["checked"] and not state["disabled"]}


def test_samples_tick_their_own_design_a_data_change_resets_ticks_and_reload_keeps_the_analysis(app_url, page):
    GUIDANCE_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(app_url)
    page.get_by_role("heading", name="Data", exact=True).first.wait_for()
    _wait_idle(page)

    # 1. LaLonde PSID: run the recommended (back-door) methods; screenshots of Estimate, Diagnostics, Report
    _load_sample_in_browser(page, "lalonde_psid")
    boxes = _ticks_on_estimate(page)
    lalonde = _ticked_ids(boxes)
    assert {"regression_adjustment", "ipw", "doubly_robust", "entropy_balancing"} <= lalonde, boxes
    _run_button_says(page, f"Run {len(lalonde)} method(s)")
    _widget(page, "est_run", "button").click()
    page.get_by_text(f"Done: {len(lalonde)} of {len(lalonde)} method(s) gave an estimate.").wait_for()
    _wait_idle(page)
    _widget(page, "est_forest", "svg.main-svg").wait_for(state="visible")
    page.get_by_role("heading", name=re.compile(r"^Estimates of the ATT")).first.evaluate(
        "element => element.scrollIntoView({block: 'start'})")  # the results, not the method list
    page.screenshot(path=str(GUIDANCE_ARTIFACTS / "lalonde_psid_estimate.png"), full_page=True)
    _go_to(page, "Diagnostics")
    _widget(page, "diag_love_plot", "svg.main-svg").wait_for(state="visible")
    page.screenshot(path=str(GUIDANCE_ARTIFACTS / "lalonde_psid_diagnostics.png"), full_page=True)
    _go_to(page, "Report")
    _widget(page, "report_html", "button").wait_for(state="visible")
    page.screenshot(path=str(GUIDANCE_ARTIFACTS / "lalonde_psid_report.png"), full_page=True)

    # 2. a hand tick, then a data change: the front-door sample ticks front door, not the old ticks
    _ticks_on_estimate(page)
    _widget(page, "est_use_d2vd", "label").click()
    _run_button_says(page, f"Run {len(lalonde) + 1} method(s)")
    _load_sample_in_browser(page, "front_door")
    front_door = _ticked_ids(_ticks_on_estimate(page))
    assert "front_door" in front_door and "d2vd" not in front_door, front_door
    assert not front_door & {"regression_adjustment", "ipw", "doubly_robust", "entropy_balancing"}, front_door

    # 3. the selection survey ticks its selection methods; its exclusion variable is no instrument, so no 2SLS
    _load_sample_in_browser(page, "selection_survey")
    boxes = _ticks_on_estimate(page)
    selection = _ticked_ids(boxes)
    assert {"heckman", "ipsw", "shadow_variable"} <= selection, selection
    assert boxes["two_stage_least_squares"]["disabled"] and not boxes["two_stage_least_squares"]["checked"]

    # 4. a reload (same ?analysis= URL) keeps the data, roles and ticks
    assert "analysis=" in page.url
    page.reload()
    page.get_by_role("heading", name="Estimate", exact=True).first.wait_for()
    _wait_idle(page)
    after = _ticked_ids({key.removeprefix("est_use_"): state for key, state in _checkboxes(page, "est_use_").items()})
    assert after == selection, (after, selection)
    _go_to(page, "Data")
    page.get_by_text(f"Loaded: {cc.get_sample('selection_survey').title}").first.wait_for()
