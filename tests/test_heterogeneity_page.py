"""The Heterogeneity page driven through AppTest (widgets by key)."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/8_Heterogeneity.py"


def _app_with_sample(sample_id: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.selectbox(key="data_sample").set_value(sample_id).run()
    at.button(key="data_load_sample").click().run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_gmm_subgroups_run_shows_the_charts_and_survives_a_page_switch():
    at = _app_with_sample("simulated_heterogeneous")
    at.selectbox(key="het_method").set_value("gmm_subgroups").run()
    at.selectbox(key="het_within_method").set_value("regression_adjustment").run()
    at.button(key="het_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) == 3
    key = at.session_state["het_last"]
    assert key[2] == "gmm_subgroups"
    at.switch_page("pages/1_Data.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.selectbox(key="het_method").value == "gmm_subgroups"
    assert len(at.get("plotly_chart")) == 3  # the cached result is shown again


def test_learner_run_and_clear_error_for_a_bad_setting():
    at = _app_with_sample("simulated_heterogeneous")
    at.selectbox(key="het_method").set_value("t_learner").run()
    at.selectbox(key="het_base_model").set_value("linear").run()
    assert at.checkbox(key="het_n_boot_also").value  # the influence-function SE by default, no bootstrap
    at.checkbox(key="het_n_boot_also").uncheck().run()
    at.number_input(key="het_n_boot").set_value(20).run()  # the bootstrap, on request
    at.button(key="het_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 3  # histogram, effect by covariate, Qini
    at.selectbox(key="het_covariate").set_value("x2").run()
    assert not at.exception


def test_refusal_is_shown_as_a_message_not_a_traceback():
    from designs_heterogeneity import CLUSTER_ROLES, three_cluster_design
    from pages._state import Dataset

    df, _, _ = three_cluster_design(600, seed=3, treat_in_last=False)  # the third cluster is never treated
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.session_state["dataset"] = Dataset(name="clusters", df=df, version=1, source="upload")
    at.session_state["roles"] = CLUSTER_ROLES
    at.run()
    at.selectbox(key="het_method").set_value("gmm_subgroups").run()
    at.number_input(key="het_n_components").set_value(3).run()
    at.button(key="het_run").click().run()
    assert not at.exception
    assert at.error and "Subgroup 3 of the 3-component mixture has 0 treated" in at.error[0].value
