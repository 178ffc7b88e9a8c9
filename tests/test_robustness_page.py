"""The Robustness page, driven through AppTest: sensitivity, refutation tests and the method lab."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def _app_with_results() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.selectbox(key="data_sample").set_value("simulated_linear").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/2_Roles.py").run()
    at.session_state["methods"] = ["difference_in_means", "regression_adjustment", "ipw"]
    at.switch_page("pages/4_Estimate.py").run()
    at.button(key="est_run").click().run()
    assert not at.exception
    return at


def test_robustness_page_without_results_says_where_to_go():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.selectbox(key="data_sample").set_value("simulated_linear").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/2_Roles.py").run()
    at.switch_page("pages/10_Robustness.py").run()
    assert not at.exception and not at.error
    assert any("Estimate" in i.value for i in at.info)


def test_robustness_page_runs_every_section_without_errors():
    at = _app_with_results()
    at.switch_page("pages/10_Robustness.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("estimates" in m.value for m in list(at.success) + list(at.warning))  # agreement verdict
    at.selectbox(key="rob_method").set_value("regression_adjustment").run()
    assert any(m.label.startswith("Robustness value") for m in at.metric)
    at.number_input(key="rob_ref_reps").set_value(3).run()
    at.button(key="rob_ref_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    stored = [v for k, v in at.session_state["robustness"].items() if k[-2] == "refute"]
    assert stored and len(stored[0]) == 4
    at.multiselect(key="rob_lab_methods").set_value(["regression_adjustment", "ipw"]).run()
    at.number_input(key="rob_lab_reps").set_value(4).run()
    at.button(key="rob_lab_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("lowest RMSE" in s.value or "coverage" in s.value for s in at.success)
    # moving away and back keeps the computed results
    at.switch_page("pages/5_Diagnostics.py").run()
    at.switch_page("pages/10_Robustness.py").run()
    assert any(k[-1] == "lab" for k in at.session_state["robustness"])
