"""The Streamlit app, driven through AppTest with widgets addressed by key."""
from __future__ import annotations

import io
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import causal_core as cc
from causal_core.datasets.samples import get_sample

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGES = sorted((p for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_")),
               key=lambda p: int(re.match(r"(\d+)", p.name).group(1)) if re.match(r"\d+", p.name) else 10_000)
TIMEOUT = 120


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    return at


def _assert_clean(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"


def _load_sample(at: AppTest, sample_id: str) -> None:
    at.selectbox(key="data_sample").set_value(sample_id).run()
    at.button(key="data_load_sample").click().run()
    _assert_clean(at, "load sample")


@pytest.mark.parametrize("page", [p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_page_renders_without_data(page):
    at = _app()
    at.switch_page(page).run()
    _assert_clean(at, page)
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", [p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_page_renders_with_a_sample_loaded(page):
    at = _app()
    _load_sample(at, "simpson_recommendation")
    at.switch_page(page).run()
    _assert_clean(at, page)


def test_whole_flow_sample_roles_estimate_diagnostics():
    at = _app()
    _load_sample(at, "simulated_linear")
    truth = get_sample("simulated_linear").effect
    at.switch_page("pages/2_Roles.py").run()
    _assert_clean(at, "roles")
    assert any("Roles check out" in s.value for s in at.success)
    assert at.multiselect(key="roles_confounders").value == ["x1", "x2", "x3", "x4", "region"]

    at.switch_page("pages/4_Estimate.py").run()
    _assert_clean(at, "estimate")
    back_door = [m.id for m in cc.list_methods() if m.id in ("ipw", "entropy_balancing", "regression_adjustment",
                                                                "doubly_robust")]
    chosen = ["difference_in_means"] + back_door
    for info in cc.list_methods():
        box = at.checkbox(key=f"est_use_{info.id}")
        if not box.disabled:
            box.set_value(info.id in chosen)
    at.run()
    at.button(key="est_run").click().run()
    _assert_clean(at, "run")
    bundle = at.session_state["results"]
    assert list(bundle.table["method"]) == [m.id for m in cc.list_methods() if m.id in chosen]
    assert len(bundle.results) >= 3
    assert (bundle.table["error"] == "").all(), bundle.table["error"].tolist()
    for method in back_door:  # adjusted methods recover the true effect within 4 of their own SEs
        result = bundle.results[method]
        assert abs(result.estimate - truth) < 4 * result.std_error, (method, result.estimate)
    assert not at.error

    first = dict(bundle.results)
    at.button(key="est_run").click().run()  # unchanged settings: taken from the cache, the same objects
    assert all(at.session_state["results"].results[m] is first[m] for m in first)

    at.switch_page("pages/5_Diagnostics.py").run()
    _assert_clean(at, "diagnostics")
    assert not at.error, [e.value for e in at.error]
    for method in bundle.results:
        at.selectbox(key="diag_method").set_value(method).run()
        _assert_clean(at, f"diagnostics {method}")
    # moving back keeps the roles, the settings and the results
    at.switch_page("pages/2_Roles.py").run()
    at.switch_page("pages/4_Estimate.py").run()
    assert at.session_state["results"] is not None
    assert at.checkbox(key="est_use_difference_in_means").value is True
    assert not at.warning or all("out of date" not in w.value for w in at.warning)


def test_failing_method_shows_its_message_while_others_run():
    at = _app()
    _load_sample(at, "simulated_linear")
    at.session_state["methods"] = ["difference_in_means", "ipw"]
    at.session_state["method_options"] = {"ipw": {"propensity_model": "no_such_model"}}
    at.switch_page("pages/4_Estimate.py").run()
    at.button(key="est_run").click().run()
    _assert_clean(at, "run")
    table = at.session_state["results"].table.set_index("method")
    assert table.loc["difference_in_means", "error"] == ""
    assert "propensity_model" in table.loc["ipw", "error"]
    assert any("propensity_model" in e.value for e in at.error)


def test_bad_upload_keeps_the_loaded_data_and_new_data_marks_results_stale():
    at = _app()
    _load_sample(at, "simulated_linear")
    before = at.session_state["dataset"]
    at.file_uploader(key="data_upload").set_value(("broken.csv", b"\xff\xfe\x00\x81 not text", "text/csv")).run()
    _assert_clean(at, "bad upload")
    assert any("broken.csv" in e.value and "unchanged" in e.value for e in at.error)
    assert at.session_state["dataset"] is before
    at.file_uploader(key="data_upload").set_value(("empty.csv", b"", "text/csv")).run()
    assert at.session_state["dataset"] is before
    assert any("empty" in e.value for e in at.error)

    at.switch_page("pages/4_Estimate.py").run()
    at.button(key="est_run").click().run()
    at.switch_page("pages/1_Data.py").run()
    good = pd.DataFrame({"t": [0, 1] * 20, "y": range(40), "x": range(40)}).to_csv(index=False).encode()
    at.file_uploader(key="data_upload").set_value(("good.csv", good, "text/csv")).run()
    _assert_clean(at, "good upload")
    assert at.session_state["dataset"].name == "good.csv"
    assert at.session_state["dataset"].version == before.version + 1
    assert at.session_state["roles"] is None  # the old roles name columns the new table lacks
    at.switch_page("pages/5_Diagnostics.py").run()
    assert any("has since been replaced" in w.value for w in at.warning)


@pytest.mark.parametrize("name, content, message", [
    ("table.xlsx", b"not a workbook", "not a readable Excel workbook"),
    ("table.parquet", b"PAR1 nonsense", "not a readable Parquet file"),
    ("table.csv", "a,b\n1,\xe9\n".encode("latin-1"), "not valid utf-8"),
])
def test_unreadable_files_give_a_clear_message(name, content, message):
    at = _app()
    at.file_uploader(key="data_upload").set_value((name, content, "application/octet-stream")).run()
    _assert_clean(at, name)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["dataset"] is None if "dataset" in at.session_state else True


def test_excel_and_latin1_uploads_load():
    at = _app()
    buffer = io.BytesIO()
    pd.DataFrame({"t": [0, 1, 0, 1], "y": [1.0, 2.0, 3.0, 4.0]}).to_excel(buffer, index=False, sheet_name="data")
    at.file_uploader(key="data_upload").set_value(("book.xlsx", buffer.getvalue(), "application/vnd.ms-excel")).run()
    _assert_clean(at, "excel")
    assert at.session_state["dataset"].df.shape == (4, 2)
    at.selectbox(key="data_encoding").set_value("latin-1").run()
    at.file_uploader(key="data_upload").set_value(("l.csv", "a;b\n1;\xe9\n2;x\n".encode("latin-1"), "text/csv")).run()
    assert list(at.session_state["dataset"].df["b"]) == ["\xe9", "x"]


def test_roles_page_shows_validation_errors():
    at = _app()
    _load_sample(at, "simulated_linear")
    at.switch_page("pages/2_Roles.py").run()
    at.multiselect(key="roles_instruments").set_value(["x1"]).run()  # x1 is also a confounder
    _assert_clean(at, "roles")
    assert any("Column 'x1' is used both as" in e.value for e in at.error)
    at.multiselect(key="roles_instruments").set_value([]).run()
    assert not at.error


def test_restore_analysis_file():
    from causal_core.report.analysis_file import AnalysisSpec, dump_analysis
    from causal_core.datasets.samples import load_sample

    roles = cc.Roles(treatment="treat", outcome="y", confounders=("x1", "x2"))
    spec = AnalysisSpec.from_data(load_sample("simulated_linear"), data_name="simulated_linear", roles=roles,
                                  estimand="ATT", methods=["difference_in_means", "ipw"], seed=7)
    at = _app()
    at.file_uploader(key="data_restore").set_value(("bad.json", b"{not json", "application/json")).run()
    _assert_clean(at, "bad restore")
    assert any("bad.json" in e.value for e in at.error)
    at.file_uploader(key="data_restore").set_value(("a.json", dump_analysis(spec).encode(), "application/json")).run()
    _assert_clean(at, "restore")
    assert at.session_state["roles"] == roles
    assert at.session_state["estimand"] == "ATT" and at.session_state["seed"] == 7
    assert at.session_state["methods"] == ["difference_in_means", "ipw"]
    assert at.session_state["dataset"].sample_id == "simulated_linear"
    at.switch_page("pages/4_Estimate.py").run()
    assert at.selectbox(key="est_estimand").value == "ATT"
    assert at.checkbox(key="est_use_ipw").value and not at.checkbox(key="est_use_doubly_robust").value


def test_explore_flags_the_simpson_reversal_and_scan_finds_it():
    at = _app()
    _load_sample(at, "simpson_recommendation")
    at.switch_page("pages/3_Explore.py").run()
    _assert_clean(at, "explore")
    assert at.selectbox(key="explore_by").value == "income"
    # 2,000 users: every within-group difference is within noise (z about 0.3-0.4), and the page says so
    assert any("Simpson's reversal on `income`, within noise" in w.value and "95% CI" in w.value for w in at.warning)
    assert not any("Simpson's reversal" in e.value for e in at.error)
    at.button(key="explore_scan").click().run()
    _assert_clean(at, "scan")
    assert any("1 column(s) reverse" in e.value for e in at.error)


def test_switching_samples_gives_a_runnable_choice_and_the_sample_estimand():
    """Card's sample targets the LATE with 2SLS; after a LaLonde run (ATT, backdoor methods) loading Card must
    preselect 2SLS for the LATE, and going back to LaLonde must tick its defaults again, not an empty set."""
    at = _app()
    _load_sample(at, "lalonde_experimental")
    at.switch_page("pages/4_Estimate.py").run()
    assert at.checkbox(key="est_use_ipw").value
    at.switch_page("pages/1_Data.py").run()
    _load_sample(at, "card")
    at.switch_page("pages/4_Estimate.py").run()
    _assert_clean(at, "estimate on card")
    assert at.selectbox(key="est_estimand").value == "LATE"
    assert at.checkbox(key="est_use_two_stage_least_squares").value
    assert not at.button(key="est_run").disabled
    at.switch_page("pages/1_Data.py").run()
    _load_sample(at, "nhefs")
    at.switch_page("pages/4_Estimate.py").run()
    _assert_clean(at, "estimate on nhefs")
    assert at.checkbox(key="est_use_ipw").value and at.checkbox(key="est_use_doubly_robust").value
    assert not at.button(key="est_run").disabled


def test_running_again_on_new_data_clears_the_out_of_date_warning():
    at = _app()
    _load_sample(at, "simulated_linear")
    at.switch_page("pages/4_Estimate.py").run()
    at.button(key="est_run").click().run()
    at.switch_page("pages/1_Data.py").run()
    _load_sample(at, "nhefs")
    at.switch_page("pages/4_Estimate.py").run()
    assert any("has since been replaced" in w.value for w in at.warning)
    at.button(key="est_run").click().run()
    _assert_clean(at, "run on the new data")
    assert at.session_state["results"].data_name.startswith("NHEFS")
    assert not any("has since been replaced" in w.value for w in at.warning)


def _run_methods(at: AppTest, chosen: list[str]):
    """Tick exactly ``chosen`` on the Estimate page, run them and return the results bundle."""
    at.switch_page("pages/4_Estimate.py").run()
    _assert_clean(at, "estimate")
    for info in cc.list_methods():
        box = at.checkbox(key=f"est_use_{info.id}")
        if not box.disabled:
            box.set_value(info.id in chosen)
    at.run()
    for method in chosen:
        assert not at.checkbox(key=f"est_use_{method}").disabled, method
    at.button(key="est_run").click().run()
    _assert_clean(at, "run")
    return at.session_state["results"]


def test_selection_sample_runs_the_selection_methods():
    at = _app()
    _load_sample(at, "selection_survey")
    info = get_sample("selection_survey")
    at.switch_page("pages/2_Roles.py").run()
    _assert_clean(at, "roles")
    assert at.session_state["roles"] == info.roles
    assert at.multiselect(key="roles_exclusions").value == ["contact"]
    assert at.multiselect(key="roles_instruments").value == []
    assert not at.error, [e.value for e in at.error]

    chosen = ["heckman", "ipsw", "shadow_variable"]
    bundle = _run_methods(at, chosen)
    table = bundle.table.set_index("method")
    for method in chosen:
        assert table.loc[method, "error"] == "", (method, table.loc[method, "error"])
        assert math.isfinite(bundle.results[method].estimate), method
    shadow = bundle.results["shadow_variable"]
    assert shadow.ci_low <= info.effect <= shadow.ci_high, (shadow.ci_low, shadow.ci_high)
    assert not at.error, [e.value for e in at.error]


def test_front_door_sample_runs_front_door():
    at = _app()
    _load_sample(at, "front_door")
    info = get_sample("front_door")
    at.switch_page("pages/2_Roles.py").run()
    _assert_clean(at, "roles")
    assert at.session_state["roles"] == info.roles
    assert any("Roles check out" in s.value for s in at.success)

    bundle = _run_methods(at, ["front_door", "difference_in_means"])
    table = bundle.table.set_index("method")
    assert (table["error"] == "").all(), table["error"].tolist()
    front_door, naive = bundle.results["front_door"], bundle.results["difference_in_means"]
    assert front_door.ci_low <= info.effect <= front_door.ci_high, (front_door.ci_low, front_door.ci_high)
    assert naive.ci_low > info.effect  # the hidden confounder biases the naive contrast far upward


# ---------------------------------------------------------------- issue 14: guidance follows the data


def _ticked(at: AppTest) -> set[str]:
    return {info.id for info in cc.list_methods()
            if not at.checkbox(key=f"est_use_{info.id}").disabled and at.checkbox(key=f"est_use_{info.id}").value}


def test_a_data_change_forgets_hand_ticks_and_each_sample_ticks_its_own_design():
    at = _app()
    _load_sample(at, "lalonde_psid")
    at.switch_page("pages/4_Estimate.py").run()
    at.checkbox(key="est_use_ipw").set_value(False).run()
    at.checkbox(key="est_use_d2vd").set_value(True).run()
    assert "d2vd" in _ticked(at) and "ipw" not in _ticked(at)
    at.switch_page("pages/1_Data.py").run()
    _load_sample(at, "front_door")
    at.switch_page("pages/4_Estimate.py").run()
    _assert_clean(at, "front door")
    assert _ticked(at) == {"front_door", "difference_in_means"}
    at.switch_page("pages/1_Data.py").run()
    _load_sample(at, "selection_survey")
    at.switch_page("pages/4_Estimate.py").run()
    _assert_clean(at, "selection")
    assert {"heckman", "ipsw", "shadow_variable"} <= _ticked(at)
    assert at.checkbox(key="est_use_two_stage_least_squares").disabled
    assert not any(method_strategy_is_back_door(m) for m in _ticked(at))


def method_strategy_is_back_door(method_id: str) -> bool:
    from causal_core.diagnostics.identification import method_strategy
    return method_strategy(cc.get_method(method_id)) == "back_door"


def test_invalid_roles_give_one_message_no_run_and_keep_the_results():
    at = _app()
    _load_sample(at, "simulated_linear")
    at.switch_page("pages/4_Estimate.py").run()
    at.button(key="est_run").click().run()
    before = at.session_state["results"]
    assert before is not None and before.results
    at.session_state["roles"] = cc.Roles(treatment="treat", outcome="region", confounders=("x1",))
    at.run()
    _assert_clean(at, "bad roles")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Outcome column 'region' must be numeric" in errors[0], errors
    assert at.button(key="est_run").disabled
    assert at.session_state["results"] is before


def test_diagnostics_remembers_its_choices_across_pages():
    at = _app()
    _load_sample(at, "simulated_linear")
    _run_methods(at, ["ipw", "entropy_balancing"])
    at.switch_page("pages/5_Diagnostics.py").run()
    _assert_clean(at, "diagnostics")
    at.selectbox(key="diag_method").set_value("entropy_balancing").run()
    at.selectbox(key="diag_covariate").set_value("x3").run()
    at.switch_page("pages/1_Data.py").run()
    at.switch_page("pages/5_Diagnostics.py").run()
    assert at.selectbox(key="diag_method").value == "entropy_balancing"
    assert at.selectbox(key="diag_covariate").value == "x3"


def test_restoring_an_analysis_loads_the_sample_it_names_over_another_table():
    from causal_core.datasets.samples import load_sample
    from causal_core.report.analysis_file import AnalysisSpec, dump_analysis

    info = get_sample("front_door")
    spec = AnalysisSpec.from_data(load_sample("front_door"), data_name="front_door", roles=info.roles,
                                  estimand="ATE", methods=["front_door"], seed=3)
    at = _app()
    _load_sample(at, "lalonde_psid")
    at.file_uploader(key="data_restore").set_value(("fd.json", dump_analysis(spec).encode(), "application/json")).run()
    _assert_clean(at, "restore")
    assert at.session_state["dataset"].sample_id == "front_door"
    assert at.session_state["roles"] == info.roles and at.session_state["methods"] == ["front_door"]


@pytest.mark.parametrize("page, source_key, widget_key", [
    ("pages/11_Stable_learning.py", "sl_source", "sl_features"),
    ("pages/7_Mechanism_learning.py", "ml_source", "ml_features"),
])
def test_study_pages_take_the_columns_of_the_new_table(page, source_key, widget_key):
    at = _app()
    _load_sample(at, "lalonde_psid")
    at.switch_page(page).run()
    _assert_clean(at, page)
    at.radio(key=source_key).set_value(at.radio(key=source_key).options[0]).run()  # the loaded table
    old = list(at.multiselect(key=widget_key).value)
    assert old and set(old) <= set(cc.load_sample("lalonde_psid").columns)
    at.switch_page("pages/1_Data.py").run()
    _load_sample(at, "simulated_linear")
    at.switch_page(page).run()
    _assert_clean(at, page)
    new_columns = set(cc.load_sample("simulated_linear").columns)
    assert at.multiselect(key=widget_key).value and set(at.multiselect(key=widget_key).value) <= new_columns


def test_mixtures_example_says_it_replaces_the_loaded_table():
    at = _app()
    _load_sample(at, "lalonde_psid")
    before = at.session_state["dataset"].name
    at.switch_page("pages/9_Mixtures.py").run()
    _assert_clean(at, "mixtures")
    assert any("replaces the loaded table" in c.value for c in at.caption)
    at.button(key="mix_latent_load").click().run()
    _assert_clean(at, "mixtures example")
    assert at.session_state["dataset"].sample_id == "latent_confounder"
    assert any(f"replacing '{before}'" in i.value for i in at.info), [i.value for i in at.info]


def test_a_run_where_every_method_fails_keeps_the_earlier_results():
    at = _app()
    _load_sample(at, "simulated_linear")
    at.switch_page("pages/4_Estimate.py").run()
    at.button(key="est_run").click().run()
    before = at.session_state["results"]
    assert before is not None and before.results
    at.session_state["methods"] = ["ipw"]
    at.session_state["method_options"] = {"ipw": {"propensity_model": "no_such_model"}}
    at.switch_page("pages/1_Data.py").run()  # the Estimate page's checkboxes are drawn afresh from the choice
    at.switch_page("pages/4_Estimate.py").run()
    at.button(key="est_run").click().run()
    _assert_clean(at, "failing run")
    assert at.session_state["results"] is before
    assert any("No method gave an estimate" in w.value and "earlier results are kept" in w.value
               for w in at.warning), [w.value for w in at.warning]


def test_heterogeneity_choices_are_forgotten_with_the_table():
    at = _app()
    _load_sample(at, "lalonde_psid")
    at.switch_page("pages/8_Heterogeneity.py").run()
    _assert_clean(at, "heterogeneity")
    default = at.selectbox(key="het_estimand").value
    other = next(e for e in at.selectbox(key="het_estimand").options if e != default)
    at.selectbox(key="het_estimand").set_value(other).run()
    at.switch_page("pages/1_Data.py").run()
    at.switch_page("pages/8_Heterogeneity.py").run()
    assert at.selectbox(key="het_estimand").value == other  # kept while the table is the same
    at.switch_page("pages/1_Data.py").run()
    _load_sample(at, "lalonde_psid")  # loading a table again is a new table: its choices start afresh
    at.switch_page("pages/8_Heterogeneity.py").run()
    _assert_clean(at, "heterogeneity after a new table")
    assert at.selectbox(key="het_estimand").value == default
