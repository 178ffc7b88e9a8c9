"""Pages keep every session value behind pages/_state.py and draw method options with one widget."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import causal_core as cc
from causal_core.core.options import validate_options

ROOT = Path(__file__).resolve().parents[1]
#: The session-state module, and the infrastructure it is built on.
ALLOWED = {"_state.py", "_session_store.py"}
PAGE_FILES = sorted(p for p in (ROOT / "pages").glob("*.py") if p.name not in ALLOWED) + [ROOT / "app.py"]


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_no_page_touches_session_state_directly(path: Path):
    text = path.read_text(encoding="utf-8")
    uses = [i + 1 for i, line in enumerate(text.splitlines()) if re.search(r"\bsession_state\b", line)]
    assert not uses, f"{path.name} uses st.session_state on line(s) {uses}; go through pages/_state.py instead."


def test_page_caches_and_values_are_declared_in_the_state_docstring():
    import pages._state as state

    for name in (*state.CACHES, *state.PAGE_VALUES):
        assert f'``"{name}"``' in state.__doc__, name


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_method_options_come_from_the_shared_widget(path: Path):
    if path.name == "_widgets.py":
        return
    text = path.read_text(encoding="utf-8")
    by_hand = re.findall(r"spec\.(?:kind|low|high|choices|also|nullable)\b|MODEL_CHOICES|MIN_BOOTSTRAP_REPLICATES", text)
    assert not by_hand, f"{path.name} builds option widgets by hand ({sorted(set(by_hand))}); use option_widget"
    if re.search(r"for spec in [^\n]*\.options", text):
        assert "option_widget(" in text, f"{path.name} renders method options without pages/_widgets.option_widget"


def _render_every_method_with_defaults():
    import streamlit as st

    import causal_core as cc
    from pages._widgets import option_widget

    out = {}
    for info in cc.list_methods():
        out[info.id] = {spec.name: option_widget(spec, key=f"t_{info.id}_{spec.name}", value=spec.default)
                        for spec in info.options}
    st.session_state["rendered_options"] = out


def _render_every_method_with_bounds():
    """Each numeric option shown at its lowest and highest allowed value (exclusive bounds moved inside)."""
    import streamlit as st

    import causal_core as cc
    from pages._widgets import option_widget

    out = {}
    for info in cc.list_methods():
        for spec in info.options:
            if spec.kind in ("int", "float"):
                for end, value in (("low", spec.low), ("high", spec.high)):
                    if value is not None:
                        out[(info.id, spec.name, end)] = option_widget(spec, key=f"t_{info.id}_{spec.name}_{end}",
                                                                       value=value)
    st.session_state["rendered_bounds"] = out


def test_option_widgets_with_defaults_give_valid_options_for_every_method():
    at = AppTest.from_function(_render_every_method_with_defaults, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    rendered = at.session_state["rendered_options"]
    for info in cc.list_methods():
        options = rendered[info.id]
        validate_options(info, options)
        assert options == {spec.name: spec.default for spec in info.options}, info.id


def test_option_widgets_at_their_bounds_give_valid_options():
    at = AppTest.from_function(_render_every_method_with_bounds, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    for (method, name, _end), value in at.session_state["rendered_bounds"].items():
        validate_options(cc.get_method(method), {name: value})


def test_option_widget_follows_exclusive_bounds():
    from pages._widgets import _numeric_bounds

    caliper = next(s for s in cc.get_method("propensity_score_matching").options if s.name == "caliper")
    low, _ = _numeric_bounds(caliper)
    assert low > 0.0
    zeta = next(s for s in cc.get_method("approximate_residual_balancing").options if s.name == "zeta")
    low, high = _numeric_bounds(zeta)
    assert 0.0 < low and high < 1.0
