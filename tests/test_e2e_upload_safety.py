"""In a real browser: a crafted workbook uploaded in one session neither kills the server nor disturbs another.

Starts ``streamlit run app.py`` on 127.0.0.1 and a free port, opens two
Chromium contexts (two independent sessions; Debian's ``/usr/bin/chromium``,
no browser download). Session B loads a sample; session A uploads a 1.5 KB
workbook whose only cells are A1 and XFD1048576 (calamine would allocate
512 GiB for it and abort the process), then one whose cells carry no
references (only the capped child process stops that one). A must see clear
messages, the server must still run, and B must still hold its data and
navigate. Screenshots and the server log go to ``test-artifacts/e2e_upload/``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from test_e2e_browser import BROWSER_ARGS, CHROMIUM, _go_to, _wait_idle, running_app
from test_upload_limits import _CORNERS, _sheet, _workbook

import causal_core as cc

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "e2e_upload"
WAIT_MS = 90_000  # every wait is for a condition; the bound only matters on a very busy machine

pytestmark = pytest.mark.skipif(not os.path.isfile(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM}")


@pytest.fixture(scope="module")
def server():
    """A running ``streamlit run app.py`` (its Popen and URL); stopped by its own pid at teardown."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_app(ARTIFACTS / "server.log") as (process, url):
        yield process, url


def _upload(page, path: Path) -> None:
    page.locator(".st-key-data_upload input[type='file']").set_input_files(str(path))


def test_crafted_workbook_leaves_the_server_and_other_sessions_alive(server, tmp_path):
    from playwright.sync_api import sync_playwright

    process, url = server
    corners = tmp_path / "corners.xlsx"
    corners.write_bytes(_workbook(_sheet(_CORNERS)))
    assert corners.stat().st_size < 2000
    norefs = tmp_path / "norefs.xlsx"
    norefs.write_bytes(_workbook(_sheet(f'<row r="1">{"<c><v>1</v></c>" * 16384}</row>'
                                        '<row r="1048576"><c><v>2</v></c></row>')))
    sample = cc.list_samples()[0]
    loaded = f"Loaded: {sample.title}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            session_a, session_b = (browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2))
            a, b = session_a.new_page(), session_b.new_page()
            for page in (a, b):
                page.set_default_timeout(WAIT_MS)
                page.goto(url)
                page.get_by_role("heading", name="Data", exact=True).first.wait_for()
                _wait_idle(page)

            b.locator(".st-key-data_load_sample button").click()
            b.get_by_role("heading", name=loaded).wait_for()

            _upload(a, corners)
            a.get_by_text("has cells reaching 16,384 columns; uploads may have at most 10,000 columns").wait_for()
            a.screenshot(path=str(ARTIFACTS / "a_corners_refused.png"), full_page=True)
            assert process.poll() is None

            _upload(a, norefs)
            a.get_by_text("Reading 'norefs.xlsx' needed more than 6 GiB of memory").wait_for()
            a.screenshot(path=str(ARTIFACTS / "a_norefs_refused.png"), full_page=True)
            assert process.poll() is None, "the server process died"
            assert a.locator("[data-testid='stException']").count() == 0

            b.get_by_role("heading", name=loaded).wait_for()
            _go_to(b, "Roles")
            _go_to(b, "Data")
            b.get_by_role("heading", name=loaded).wait_for()
            b.screenshot(path=str(ARTIFACTS / "b_still_loaded.png"), full_page=True)
            assert b.locator("[data-testid='stException']").count() == 0
        finally:
            browser.close()
    assert process.poll() is None
