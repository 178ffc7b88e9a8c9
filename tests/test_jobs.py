"""The background job runner: real worker processes, progress per method, cancel, crash and abandonment."""
from __future__ import annotations

import os
import sys
import time
import types

import numpy as np
import pytest

import causal_core as cc
from causal_core.compute.jobs import JobRunner, default_max_workers, run_methods
from causal_core.datasets.simulate import linear_confounded

CONFOUNDERS = ["x1", "x2", "x3", "x4", "region"]
QUICK = ["difference_in_means", "regression_adjustment", "ipw"]
#: Hundreds of random-forest fits: runs for minutes, so it is certainly still running when the test acts on it.
SLOW = {"regression_adjustment": {"outcome_model": "random_forest", "n_boot": 400}}


@pytest.fixture(scope="module")
def design():
    df, _ = linear_confounded(n=600, seed=3)
    return df, cc.Roles(treatment="treat", outcome="y", confounders=CONFOUNDERS)


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner(max_workers=1, abandon_after=600)
    yield runner
    runner.shutdown()


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _wait_running(runner: JobRunner, job_id: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = runner.status(job_id)
        if status.state == "running" and status.current is not None:
            return status
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not start computing in {timeout:.0f} s: {runner.status(job_id)}")


def test_results_equal_a_direct_estimate_call(runner, design):
    df, roles = design
    job_id = runner.submit(df, roles, QUICK + ["two_stage_least_squares"], estimand="ATE", seed=5, options={})
    status = runner.wait(job_id, timeout=120)
    assert status.state == "done", status
    assert list(status.outcomes) == QUICK + ["two_stage_least_squares"]
    for method in QUICK:
        direct = cc.estimate(df, roles, method, estimand="ATE", seed=5)
        got = status.outcomes[method]
        assert isinstance(got, cc.EstimateResult), got
        assert got.estimate == direct.estimate and got.std_error == direct.std_error, method
        assert (got.weights is None) == (direct.weights is None)
        if direct.weights is not None:
            np.testing.assert_array_equal(got.weights, direct.weights)
    # a method that cannot run gives its message, and the others still ran
    assert isinstance(status.outcomes["two_stage_least_squares"], str)
    assert "instrument" in status.outcomes["two_stage_least_squares"].lower()


def test_run_methods_reports_each_method_in_order(design):
    df, roles = design
    events = []
    outcomes = run_methods(df, roles, ["difference_in_means", "ipw"], estimand="ATT", seed=0, options={},
                           report=lambda event, method, outcome: events.append((event, method)))
    assert events == [("start", "difference_in_means"), ("done", "difference_in_means"),
                      ("start", "ipw"), ("done", "ipw")]
    assert outcomes["ipw"].estimate == cc.estimate(df, roles, "ipw", estimand="ATT", seed=0).estimate


def test_a_worker_does_not_rerun_the_main_script(runner, design, tmp_path, monkeypatch):
    """Under Streamlit ``__main__`` is the page that ran last; a worker must not re-run it (it died doing so)."""
    df, roles = design
    marker = tmp_path / "main_script_ran"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(1)\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(page)  # what Streamlit's script runner installs for each page run
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    job_id = runner.submit(df, roles, ["difference_in_means"], estimand="ATE", seed=0, options={})
    status = runner.wait(job_id, timeout=120)
    assert status.state == "done", status
    assert isinstance(status.outcomes["difference_in_means"], cc.EstimateResult)
    assert not marker.exists()
    assert sys.modules["__main__"] is fake_main  # put back after the start


def test_progress_then_cancel_kills_the_worker_and_keeps_finished_methods(runner, design):
    df, roles = design
    job_id = runner.submit(df, roles, ["difference_in_means", "regression_adjustment", "ipw"], estimand="ATE",
                           seed=0, options=SLOW)
    status = _wait_running(runner, job_id)
    deadline = time.monotonic() + 60
    while status.current != "regression_adjustment" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = runner.status(job_id)
    assert status.current == "regression_adjustment", status
    assert list(status.outcomes) == ["difference_in_means"] and status.n_done == 1
    pid = status.pid
    assert pid is not None and not _gone(pid, within=0.1)
    started = time.monotonic()
    cancelled = runner.cancel(job_id)
    assert cancelled.state == "cancelled" and cancelled.finished and cancelled.pid is None
    assert _gone(pid), f"worker {pid} still exists after cancel"
    assert time.monotonic() - started < 5
    assert list(cancelled.outcomes) == ["difference_in_means"]  # finished before the cancel: kept
    # the worker slot is free again: the next run starts and finishes
    again = runner.wait(runner.submit(df, roles, ["difference_in_means"], estimand="ATE", seed=0), timeout=60)
    assert again.state == "done"


def test_runs_queue_behind_the_worker_limit(runner, design):
    df, roles = design
    first = runner.submit(df, roles, ["regression_adjustment"], estimand="ATE", seed=0, options=SLOW)
    second = runner.submit(df, roles, ["difference_in_means"], estimand="ATE", seed=0)
    _wait_running(runner, first)
    queued = runner.status(second)
    assert queued.state == "queued" and queued.waiting_for == 1 and queued.pid is None
    runner.cancel(first)
    assert runner.wait(second, timeout=60).state == "done"


def test_a_worker_that_dies_marks_the_run_failed(runner, design):
    df, roles = design
    job_id = runner.submit(df, roles, ["regression_adjustment"], estimand="ATE", seed=0, options=SLOW)
    pid = _wait_running(runner, job_id).pid
    os.kill(pid, 9)
    status = runner.wait(job_id, timeout=30)
    assert status.state == "failed" and "stopped unexpectedly" in status.message


def test_abandoned_runs_are_cancelled(design):
    df, roles = design
    runner = JobRunner(max_workers=1, abandon_after=1.5)
    try:
        job_id = runner.submit(df, roles, ["regression_adjustment"], estimand="ATE", seed=0, options=SLOW)
        pid = _wait_running(runner, job_id).pid
        deadline = time.monotonic() + 30
        while runner.status(job_id, touch=False).state == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        status = runner.status(job_id)
        assert status.state == "cancelled" and "Nobody followed this run" in status.message
        assert _gone(pid)
    finally:
        runner.shutdown()


def test_unknown_ids_and_bad_arguments(runner, design):
    df, roles = design
    assert runner.status("no-such-job") is None and runner.cancel("no-such-job") is None
    with pytest.raises(ValueError, match="at least one method"):
        runner.submit(df, roles, [], estimand="ATE", seed=0)
    with pytest.raises(ValueError, match="'max_workers' parameter of JobRunner must be at least 1"):
        JobRunner(max_workers=0)
    assert default_max_workers() >= 1


@pytest.fixture(scope="module")
def table_on_disk(tmp_path_factory, design):
    from causal_core.outofcore import open_table

    df, _ = linear_confounded(n=3000, seed=8)
    path = tmp_path_factory.mktemp("on_disk") / "table.parquet"
    df.to_parquet(path, row_group_size=700)
    return open_table(path)


def test_a_run_on_a_table_on_disk_streams_in_the_worker_with_the_direct_numbers(runner, design, table_on_disk):
    from causal_core.outofcore import estimate_large

    _, roles = design
    options = {"ipw": {"rows_per_partition": 500}, "propensity_score_matching": {}}
    job_id = runner.submit(table_on_disk, roles, ["ipw", "propensity_score_matching", "no_such_method"],
                           estimand="ATT", seed=4, options=options, sample_rows=1000)
    status = runner.wait(job_id, timeout=120)
    assert status.state == "done", status
    streamed = estimate_large(table_on_disk, roles, "ipw", estimand="ATT", seed=4, sample_rows=1000,
                              rows_per_partition=500)
    sampled = estimate_large(table_on_disk, roles, "propensity_score_matching", estimand="ATT", seed=4,
                             sample_rows=1000)
    got = status.outcomes
    assert (got["ipw"].estimate, got["ipw"].std_error, got["ipw"].n_partitions) == \
        (streamed.estimate, streamed.std_error, 6)
    assert (got["propensity_score_matching"].estimate, got["propensity_score_matching"].std_error) == \
        (sampled.estimate, sampled.std_error)
    assert isinstance(got["no_such_method"], str) and "no_such_method" in got["no_such_method"]


def test_a_run_on_disk_tells_each_streamed_pass_s_partitions(design, table_on_disk):
    _, roles = design
    told = []
    outcomes = run_methods(table_on_disk, roles, ["ipw"], estimand="ATE", seed=0,
                           options={"ipw": {"rows_per_partition": 500}}, sample_rows=1000,
                           passes_progress=lambda number, done, total: told.append((number, done, total)))
    assert outcomes["ipw"].n_partitions == 6
    passes = max(number for number, _, _ in told)
    assert passes > 4 and told == [(p, d, 6) for p in range(1, passes + 1) for d in range(1, 7)]


def test_cancelling_a_run_on_disk_kills_the_worker_and_keeps_the_streamed_method(runner, design, table_on_disk):
    _, roles = design
    job_id = runner.submit(table_on_disk, roles, ["difference_in_means", "regression_adjustment"], estimand="ATE",
                           seed=0, options=SLOW, sample_rows=2000)  # random-forest bootstrap: on the sample, slow
    status = _wait_running(runner, job_id)
    deadline = time.monotonic() + 60
    while status.current != "regression_adjustment" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = runner.status(job_id)
    assert status.current == "regression_adjustment" and list(status.outcomes) == ["difference_in_means"], status
    pid = status.pid
    cancelled = runner.cancel(job_id)
    assert cancelled.state == "cancelled" and _gone(pid)
    assert cancelled.outcomes["difference_in_means"].n_rows == 3000  # streamed over the whole table: kept
