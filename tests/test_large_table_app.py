"""Opening a table by server-side path on the Data page, and running it on disk (streamed or on a seeded sample).

A real Parquet file in a data folder configured by ``CAUSAL_WORKBENCH_DATA_DIR``; the app driven through
AppTest with widgets addressed by key.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import causal_core as cc
from causal_core.outofcore import open_table
from causal_core.outofcore.large_run import IN_MEMORY_CELL_LIMIT, ROLES_FRAME_ROWS, choose_path, report_notes, run_large
from causal_core.report.html_report import build_html_report

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
N_ROWS = 3000
SAMPLE_ROWS = 800
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2"])


def _table(n: int = N_ROWS, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    treat = (rng.random(n) < 1 / (1 + np.exp(-(0.6 * x1 - 0.4 * x2)))).astype(int)
    y = 1.5 * treat + x1 + 0.5 * x2 + rng.normal(size=n)
    frame = pd.DataFrame({"treat": treat, "y": y, "x1": x1, "x2": x2, "note": (["a", "b", None] * n)[:n]})
    return frame


@pytest.fixture()
def data_folder(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    _table().to_parquet(folder / "big.parquet", index=False)
    _table(50).to_parquet(tmp_path / "outside.parquet", index=False)
    monkeypatch.setenv("CAUSAL_WORKBENCH_DATA_DIR", str(folder))
    return folder


def _grid(at: AppTest, column: str) -> pd.DataFrame:
    """The one data grid on the page with this column (AppTest's grids carry no key)."""
    grids = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(grids) == 1, [list(d.value.columns) for d in at.dataframe]
    return grids[0]


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    return at


def _open(at: AppTest, path: str, mode: str) -> None:
    at.text_input(key="data_path").set_value(path)
    at.radio(key="data_path_mode").set_value(mode)
    at.button(key="data_path_open").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_the_path_section_is_offered_only_with_a_data_folder(monkeypatch):
    monkeypatch.delenv("CAUSAL_WORKBENCH_DATA_DIR", raising=False)
    at = _app()
    assert not at.exception
    with pytest.raises(KeyError):
        at.text_input(key="data_path")


def test_a_path_outside_the_data_folder_is_refused_and_the_loaded_data_stays(data_folder):
    at = _app()
    at.selectbox(key="data_sample").set_value("simulated_linear").run()
    at.button(key="data_load_sample").click().run()
    before = at.session_state["dataset"]
    for typed in ("../outside.parquet", str(data_folder.parent / "outside.parquet")):
        _open(at, typed, "auto")
        errors = [e.value for e in at.error]
        assert any("is outside the data folder" in e and "already loaded is unchanged" in e for e in errors), errors
        assert at.session_state["dataset"] is before
    _open(at, "missing.parquet", "auto")
    assert any("does not exist in the data folder" in e.value for e in at.error)
    assert at.session_state["dataset"] is before


def test_a_small_table_opens_into_memory_automatically(data_folder):
    at = _app()
    _open(at, "big.parquet", "auto")
    dataset = at.session_state["dataset"]
    assert dataset.source == "path" and dataset.table is None
    pd.testing.assert_frame_equal(dataset.df, _table())
    assert any("into memory" in s.value for s in at.success)


def test_the_choice_is_by_size_with_an_override():
    assert choose_path(1_000, 10) == "memory"
    assert choose_path(IN_MEMORY_CELL_LIMIT // 10 + 1, 10) == "disk"
    assert choose_path(1_000, 10, "disk") == "disk"
    assert choose_path(IN_MEMORY_CELL_LIMIT, 2, "memory") == "memory"
    with pytest.raises(cc.CausalInputError, match="at most 200,000,000 are loaded into memory"):
        choose_path(100_000_000, 3, "memory")
    with pytest.raises(cc.CausalInputError, match="Option 'override' must be one of auto, memory, disk"):
        choose_path(10, 10, "ram")


def test_on_disk_profile_streamed_and_sampled_estimates_diagnostics_and_report(data_folder):
    at = _app()
    _open(at, "big.parquet", "disk")
    dataset = at.session_state["dataset"]
    assert dataset.source == "large" and dataset.n_rows == N_ROWS and len(dataset.df) == min(ROLES_FRAME_ROWS, N_ROWS)
    assert any("on disk" in s.value and "3,000 rows" in s.value for s in at.success)
    profile = _grid(at, "distinct").set_index("column")
    assert list(profile.index) == ["treat", "y", "x1", "x2", "note"]
    assert profile.loc["note", "missing"] == N_ROWS // 3 and profile.loc["treat", "distinct"] == 2
    assert len(_grid(at, "note")) == 20 and "distinct" not in _grid(at, "note").columns

    # roles are marked on the Roles page as for an uploaded table, from the table's columns
    at.switch_page("pages/2_Roles.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="roles_treatment").set_value("treat").run()
    at.selectbox(key="roles_outcome").set_value("y").run()
    at.multiselect(key="roles_confounders").set_value(["x1", "x2"]).run()
    assert list(at.session_state["roles"].confounders) == ["x1", "x2"]

    at.switch_page("pages/4_Estimate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    chosen = ("difference_in_means", "regression_adjustment", "propensity_score_matching")
    for info in cc.list_methods():
        box = at.checkbox(key=f"est_use_{info.id}")
        if not box.disabled:
            box.set_value(info.id in chosen)
    at.number_input(key="est_sample_rows").set_value(SAMPLE_ROWS)
    at.run()
    at.button(key="est_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    bundle = at.session_state["results"]
    notes = bundle.scale_notes
    assert notes["difference_in_means"].startswith("Streamed over all 3,000 rows")
    assert notes["regression_adjustment"].startswith("Streamed over all 3,000 rows")
    assert notes["propensity_score_matching"].startswith("Estimated on a sample of 800 of 3,000 rows")
    shown = _grid(at, "computed_on")
    assert sorted(shown["computed_on"]) == sorted(notes[m] for m in chosen)

    # the streamed numbers are the in-memory estimator's on the whole table; the sampled one is on its sample
    full = _table()
    for method in ("difference_in_means", "regression_adjustment"):
        want = cc.estimate(full, ROLES, method)
        row = bundle.table.set_index("method").loc[method]
        assert abs(row["estimate"] - want.estimate) < 1e-10 and abs(row["std_error"] - want.std_error) < 1e-10
    sampled = bundle.results["propensity_score_matching"]
    assert len(bundle.frame) == SAMPLE_ROWS and set(sampled.row_index) <= set(bundle.frame.index)
    again = cc.estimate(bundle.frame, ROLES, "propensity_score_matching", seed=0)
    assert (again.estimate, again.std_error) == (sampled.estimate, sampled.std_error)

    at.switch_page("pages/5_Diagnostics.py").run()
    assert not at.exception, [e.value for e in at.exception]
    infos = [i.value for i in at.info]
    assert any("seeded sample" in i and "Estimated on a sample of 800 of 3,000 rows" in i
               and "keep no per-row weights" in i for i in infos), infos

    at.switch_page("pages/6_Report.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Streamed over all 3,000 rows" in i.value for i in at.info)
    assert any("Reopens the table where it lies" in c.value for c in at.caption), [c.value for c in at.caption]
    html = build_html_report(data_name=dataset.name, df=bundle.frame, roles=bundle.roles, estimand="ATE",
                             table=bundle.table, results=bundle.results, seed=0,
                             notes=report_notes(dataset.name, dataset.n_rows, notes))
    assert "Estimated on a sample of 800 of 3,000 rows" in html and "Streamed over all 3,000 rows" in html


def test_a_run_where_every_method_streams_says_so_on_diagnostics(data_folder):
    source = open_table("big.parquet", data_root=data_folder)
    run = run_large(source, ROLES, ["difference_in_means", "no_such_method"], sample_rows=500)
    assert run.frame is None and not run.results
    assert run.table.set_index("method").loc["no_such_method", "error"]
    assert run.notes == {"difference_in_means": run.notes["difference_in_means"]}
    with pytest.raises(cc.CausalInputError, match="Option 'sample_rows' must be an integer of at least 100"):
        run_large(source, ROLES, ["ipw"], sample_rows=5)


def _open_query_in_app(at: AppTest, sql: str, mode: str) -> None:
    at.text_area(key="data_query").set_value(sql)
    at.radio(key="data_path_mode").set_value(mode)
    at.button(key="data_query_open").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_duckdb_query_opens_on_disk_and_its_streamed_estimates_equal_the_engines(data_folder):
    from causal_core.outofcore import open_query, streamed_estimate

    sql = f"SELECT * FROM '{data_folder / 'big.parquet'}' WHERE x2 > -1.5"
    at = _app()
    _open_query_in_app(at, sql, "disk")
    dataset = at.session_state["dataset"]
    source = open_query(sql, data_root=data_folder)
    assert dataset.source == "large" and dataset.table == source and dataset.n_rows == source.n_rows < N_ROWS
    assert any("Opened 'DuckDB query' on disk" in s.value for s in at.success)

    at.switch_page("pages/2_Roles.py").run()
    at.selectbox(key="roles_treatment").set_value("treat").run()
    at.selectbox(key="roles_outcome").set_value("y").run()
    at.multiselect(key="roles_confounders").set_value(["x1", "x2"]).run()
    at.switch_page("pages/4_Estimate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    for info in cc.list_methods():
        box = at.checkbox(key=f"est_use_{info.id}")
        if not box.disabled:
            box.set_value(info.id in ("difference_in_means", "ipw"))
    at.run()
    at.button(key="est_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    bundle = at.session_state["results"]
    from pages._runs import job_runner

    jobs = [job for job in job_runner()._jobs.values() if job.methods == ("difference_in_means", "ipw")]
    assert jobs and jobs[-1].state == "done"  # computed by a background job, not in the page's own run
    for method in ("difference_in_means", "ipw"):
        want = streamed_estimate(source, ROLES, method)
        row = bundle.table.set_index("method").loc[method]
        assert (row["estimate"], row["std_error"]) == (want.estimate, want.std_error)
        assert bundle.scale_notes[method].startswith(f"Streamed over all {source.n_rows:,} rows")


def test_a_hostile_query_shows_one_message_and_the_loaded_data_stays(data_folder):
    at = _app()
    at.selectbox(key="data_sample").set_value("simulated_linear").run()
    at.button(key="data_load_sample").click().run()
    before = at.session_state["dataset"]
    for sql, fragment in ((f"COPY (SELECT 1) TO '{data_folder / 'x.csv'}'", "of type COPY"),
                          (f"SELECT * FROM '{data_folder.parent / 'outside.parquet'}'", "outside the data folder"),
                          ("SELECT 1; SELECT 2", "2 statements")):
        _open_query_in_app(at, sql, "auto")
        errors = [e.value for e in at.error]
        assert any(fragment in e and "already loaded is unchanged" in e for e in errors), errors
        assert at.session_state["dataset"] is before
    assert not (data_folder / "x.csv").exists()


def _script_results(script: str, folder: Path) -> tuple[pd.DataFrame, str]:
    import subprocess
    import sys

    path = folder / "reproduce.py"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = lines.index("## Results") + 1
    rows = [line.split() for line in lines[start:lines.index("", start)]]
    return pd.DataFrame(rows[1:], columns=rows[0]), done.stdout


@pytest.mark.parametrize("kind", ["path", "query"])
def test_the_on_disk_script_reopens_the_table_and_prints_the_apps_numbers(data_folder, tmp_path, kind):
    from causal_core.outofcore import open_query
    from causal_core.report.analysis_file import AnalysisSpec
    from causal_core.report.script_on_disk import on_disk_reproduction_script

    # a hostile file name: quotes, a newline and code; it must stay data in the script
    name = "big'\"\n__import__('os').system('touch PWNED').parquet"
    (data_folder / name).write_bytes((data_folder / "big.parquet").read_bytes())
    if kind == "path":
        source = open_table(name, data_root=data_folder)
    else:
        literal = str(data_folder / name).replace("'", "''")
        source = open_query(f"SELECT * FROM '{literal}' WHERE x1 > -1 -- \"\"\" comment", data_root=data_folder)
    methods = ["difference_in_means", "ipw", "propensity_score_matching"]
    run = run_large(source, ROLES, methods, estimand="ATT", seed=3, sample_rows=SAMPLE_ROWS)
    spec = AnalysisSpec.from_data(run.frame, data_name=name, roles=ROLES, estimand="ATT", methods=methods, seed=3)
    script = on_disk_reproduction_script(spec, source, n_rows=source.n_rows, sample_rows=SAMPLE_ROWS)
    printed, stdout = _script_results(script, tmp_path)
    assert printed["method"].tolist() == methods
    np.testing.assert_allclose(printed["estimate"].astype(float), run.table["estimate"], rtol=1e-12)
    np.testing.assert_allclose(printed["std_error"].astype(float), run.table["std_error"], rtol=1e-12)
    assert f"- propensity_score_matching: Estimated on a sample of {SAMPLE_ROWS:,} of {source.n_rows:,} rows" in stdout
    assert not (tmp_path / "PWNED").exists() and not (ROOT / "PWNED").exists()
