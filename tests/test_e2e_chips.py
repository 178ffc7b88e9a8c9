"""In a real browser: the chips of a multiselect with many long names all stay visible (Roles' Confounders box).

Streamlit keeps a multiselect's chips on one line inside a fixed-height box,
so with ten confounders most were cut off. The app's global CSS lets them wrap.
The same small page is served with and without that CSS: without it some chip
lies outside the visible box (so the check can fail), with it none does.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from test_e2e_browser import BROWSER_ARGS, CHROMIUM, WAIT_MS, running_app

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is needed (the README's test command installs it)")

NAMES = [f"a_rather_long_confounder_name_{i:02d}" for i in range(12)]
PAGE = f'''
import os
import streamlit as st
from pages._ui import apply_global_style
if os.environ.get("CHIPS_CSS") == "1":
    apply_global_style()
left, _ = st.columns([1, 2])
with left:
    st.multiselect("Confounders", {NAMES!r}, default={NAMES!r}, key="roles_confounders")
'''

#: For each chip: does it lie inside every clipping ancestor up to the widget (1 px of rounding allowed)?
CHIPS_INSIDE = """() => {
  const widget = document.querySelector('.st-key-roles_confounders');
  return [...widget.querySelectorAll('[data-tag]')].map(chip => {
    const r = chip.getBoundingClientRect();
    for (let node = chip.parentElement; node && node !== widget.parentElement; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
      const box = node.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        return false;
    }
    return true;
  });
}"""


def _chips_inside(tmp_path: Path, css: str) -> list[bool]:
    from playwright.sync_api import sync_playwright

    script = tmp_path / f"chips_{css}.py"
    script.write_text(PAGE)
    with running_app(tmp_path / f"chips_{css}.log", script=str(script), CHIPS_CSS=css) as (_, url):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.set_default_timeout(WAIT_MS)
                page.goto(url)
                page.locator(".st-key-roles_confounders [data-tag]").nth(len(NAMES) - 1).wait_for(state="attached")
                return page.evaluate(CHIPS_INSIDE)
            finally:
                browser.close()


def test_every_chip_is_visible_with_the_app_css_and_not_without(tmp_path):
    without = _chips_inside(tmp_path, "0")
    with_css = _chips_inside(tmp_path, "1")
    assert len(without) == len(with_css) == len(NAMES)
    assert not all(without), "the check cannot fail: every chip fits even without the CSS"
    assert all(with_css), with_css
