"""The compute backend: the same numbers, bit for bit, serially and on a real Dask cluster (2 worker processes).

Everything runs on one module-scoped ``LocalCluster`` bound to 127.0.0.1 with
no dashboard, stopped at the end of the module; each test is bounded in time.
"""
from __future__ import annotations

import os
import signal
import sys
import time
import types

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.compute import backend as backend_module
from causal_core.datasets.simulate import linear_confounded
from causal_core.inference.bootstrap import bootstrap_inference
from causal_core.outofcore import open_table, streamed_estimate

CONFOUNDERS = ["x1", "x2", "x3", "x4", "region"]
BOOTSTRAPPED = {"outcome_model": "gradient_boosting", "n_boot": 20}


@pytest.fixture(scope="module")
def design():
    df, _ = linear_confounded(n=200, seed=11)
    return df, cc.Roles(treatment="treat", outcome="y", confounders=CONFOUNDERS)


@pytest.fixture(scope="module")
def cluster():
    # A Streamlit page test run earlier in this process leaves its page installed as ``__main__``; a worker the
    # nanny restarts (after the kill test) would re-run that page. The engine hides ``__main__`` for the spawns it
    # makes itself; restarts happen later, on the nanny's own schedule, so the module runs with a bare ``__main__``.
    original_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        with cc.backend("local", n_workers=2) as info:
            yield info
    finally:
        sys.modules["__main__"] = original_main


def test_serial_is_the_default_and_describes_itself():
    info = cc.current_backend()
    assert info.kind == "serial" and info.n_workers == 1
    assert info.versions["numpy"] == np.__version__


@pytest.mark.parametrize("spec, kwargs, fragment", [
    ("spark", {}, "not known"),
    ("serial", {"n_workers": 2}, "'n_workers'"),
    ("local", {"n_workers": 0}, "'n_workers' must be an integer from 1 to 256"),
    ("local", {"threads_per_worker": 2}, "bit for bit"),
])
def test_bad_backend_specs_are_refused(spec, kwargs, fragment):
    with pytest.raises(cc.CausalInputError, match=fragment):
        cc.set_backend(spec, **kwargs)
    assert cc.current_backend().kind == "serial"


def test_version_differences_name_package_and_worker():
    here = {"causal_core": "0.1.0", "numpy": "2.4.6", "scipy": "1", "pandas": "3", "scikit-learn": "1.9",
            "python": "3.11.7"}
    there = {**here, "numpy": "2.3.0"}
    assert backend_module.version_differences(here, {"tcp://w1": here, "tcp://w2": there}) == [
        "numpy 2.4.6 here, 2.3.0 on worker tcp://w2"]


def _ols_slope(X: np.ndarray, y: np.ndarray):
    """A BLAS-heavy bootstrap statistic: its last bits depend on the memory alignment of the arrays it reads."""
    return lambda rows: float(np.linalg.lstsq(X[rows], y[rows], rcond=None)[0][1])


def test_bootstrap_replicates_are_identical_with_one_and_two_workers(cluster):
    rng = np.random.default_rng(8)
    X = np.column_stack([np.ones(2000), rng.normal(size=(2000, 6))])
    y = X @ np.arange(7.0) + rng.normal(size=2000)
    statistic = _ols_slope(X, y)
    with cc.backend("serial"):
        serial = bootstrap_inference(1.0, statistic, 2000, seed=9, n_boot=200)
    two = bootstrap_inference(1.0, statistic, 2000, seed=9, n_boot=200)
    with cc.backend("local", n_workers=1):
        one = bootstrap_inference(1.0, statistic, 2000, seed=9, n_boot=200)
    assert cc.current_backend().kind == "local" and cc.current_backend().n_workers == 2  # the outer one is back
    for got in (one, two):
        np.testing.assert_array_equal(got.replicates, serial.replicates)
        assert (got.std_error, got.ci_low, got.ci_high) == (serial.std_error, serial.ci_low, serial.ci_high)


def test_a_bootstrapped_method_is_identical_on_the_cluster(cluster, design):
    df, roles = design
    with cc.backend("serial"):
        serial = cc.estimate(df, roles, "regression_adjustment", seed=4, **BOOTSTRAPPED)
    got = cc.estimate(df, roles, "regression_adjustment", seed=4, **BOOTSTRAPPED)
    assert serial.inference.n_replicates == BOOTSTRAPPED["n_boot"]
    assert (got.estimate, got.std_error, got.ci_low, got.ci_high) == \
        (serial.estimate, serial.std_error, serial.ci_low, serial.ci_high)


def test_compare_is_identical_and_a_failing_method_fills_its_error(cluster, design):
    df, roles = design
    methods = ["difference_in_means", "ipw", "two_stage_least_squares", "entropy_balancing"]
    assert cc.current_backend().kind == "local"
    progress = []
    on_cluster = cc.compare(df, roles, methods, estimand="ATT", seed=2,
                            progress=lambda i, n, m: progress.append((i, m)))
    with cc.backend("serial"):
        serial = cc.compare(df, roles, methods, estimand="ATT", seed=2)
    numbers = ["estimate", "std_error", "ci_low", "ci_high", "p_value"]
    np.testing.assert_array_equal(on_cluster[numbers].to_numpy(float), serial[numbers].to_numpy(float))
    assert list(on_cluster["error"]) == list(serial["error"])
    assert "does not estimate the ATT" in on_cluster.loc[on_cluster["method"] == "two_stage_least_squares", "error"].item()
    assert [m for _, m in progress] == methods  # progress names each method, in order


def test_method_lab_and_refute_are_identical(cluster, design):
    df, roles = design
    lab_args = dict(methods=["regression_adjustment", "ipw"], estimand="ATE", n_replications=6, seed=3)
    on_cluster = cc.method_lab(df, roles, **lab_args)
    with cc.backend("serial"):
        serial = cc.method_lab(df, roles, **lab_args)
    columns = [c for c in serial.table.columns if "second" not in c and serial.table[c].dtype.kind == "f"]
    assert columns
    np.testing.assert_array_equal(on_cluster.table[columns].to_numpy(), serial.table[columns].to_numpy())
    refute_args = dict(method="ipw", tests=["placebo_treatment", "data_subset"], n_repeats=4, seed=5)
    got = cc.refute(df, roles, **refute_args)
    with cc.backend("serial"):
        want = cc.refute(df, roles, **refute_args)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(np.asarray(a.estimates), np.asarray(b.estimates))


def _sum_tail(data: np.ndarray):
    return lambda i: float(np.sum(data[i:] * 1.000001))


def test_a_task_on_a_worker_that_does_not_hold_the_data(cluster):
    client = backend_module.cluster_client()
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    assert len(workers) == 2
    data = np.random.default_rng(0).normal(size=20_000)
    payload = client.scatter(backend_module._Payload(_sum_tail(data)), workers=[workers[0]], hash=False)
    assert list(client.who_has(payload)[payload.key]) == [workers[0]]
    future = client.submit(backend_module._run_chunk, [0, 7, 19_000], payload, workers=[workers[1]],
                           allow_other_workers=False, pure=False)
    # each item comes back with the warnings it raised there (none here)
    assert future.result(timeout=60) == [(_sum_tail(data)(i), ()) for i in (0, 7, 19_000)]
    client.cancel(payload)


def test_a_worker_killed_mid_fan_out_changes_nothing_and_the_cluster_recovers(cluster):
    client = backend_module.cluster_client()
    data = np.random.default_rng(1).normal(size=50_000)

    def slow(i: int) -> float:
        time.sleep(0.05)
        return float(np.sum(data[i:] ** 2))

    items = list(range(0, 48))
    want = [slow(i) for i in items]
    pids = client.run(os.getpid)
    killed = []

    def kill_once(done: int, total: int) -> None:
        if not killed:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    got = backend_module.map_tasks(slow, items, progress=kill_once)
    assert killed and got == want
    deadline = time.monotonic() + 90
    while len(client.scheduler_info(n_workers=-1)["workers"]) < 2:
        assert time.monotonic() < deadline, "the nanny did not bring the killed worker back within 90 s"
        time.sleep(0.2)
    assert backend_module.map_tasks(slow, items[:4]) == want[:4]


@pytest.fixture(scope="module")
def parquet_table(tmp_path_factory):
    df, _ = linear_confounded(n=3000, seed=12)
    path = tmp_path_factory.mktemp("streamed") / "table.parquet"
    df.to_parquet(path, row_group_size=700)  # row groups that do not line up with the partitions
    return df, open_table(path)


def _wait_for_workers(client, n: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while len(client.scheduler_info(n_workers=-1)["workers"]) < n:
        assert time.monotonic() < deadline, f"the cluster did not get back to {n} workers within {seconds:.0f} s"
        time.sleep(0.2)


@pytest.mark.parametrize("method, estimand, options", [("ipw", "ATT", {"trim": 0.02}), ("doubly_robust", "ATE", {})])
def test_streamed_passes_on_the_workers_equal_the_serial_run(cluster, design, parquet_table, method, estimand,
                                                             options):
    from distributed import get_task_stream

    _, roles = design
    _, source = parquet_table
    client = backend_module.cluster_client()
    _wait_for_workers(client, 2)
    passes = []
    with get_task_stream(client) as stream:
        got = streamed_estimate(source, roles, method, estimand=estimand, rows_per_partition=500,
                                progress=lambda number, done, total: passes.append((number, done, total)), **options)
    with cc.backend("serial"):
        want = streamed_estimate(source, roles, method, estimand=estimand, rows_per_partition=500, **options)
    assert (got.estimate, got.std_error, got.ci_low, got.ci_high, got.n_used) == \
        (want.estimate, want.std_error, want.ci_low, want.ci_high, want.n_used)
    n_passes = max(number for number, _, _ in passes)
    assert n_passes > 4 and {total for _, _, total in passes} == {6}
    chunk_tasks = [t for t in stream.data if "run_chunk" in str(t["key"])]
    assert len(chunk_tasks) == 6 * n_passes  # one task per partition and pass, each read by its worker


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_streamed_entropy_balancing_on_one_and_two_workers_equals_the_serial_run(cluster, design, parquet_table,
                                                                                 estimand):
    from distributed import get_task_stream

    _, roles = design
    _, source = parquet_table
    client = backend_module.cluster_client()
    _wait_for_workers(client, 2)
    with cc.backend("serial"):
        want = streamed_estimate(source, roles, "entropy_balancing", estimand=estimand, rows_per_partition=500)
    passes = []
    with get_task_stream(client) as stream:
        two = streamed_estimate(source, roles, "entropy_balancing", estimand=estimand, rows_per_partition=500,
                                progress=lambda number, done, total: passes.append(number))
    n_passes = max(passes)
    assert n_passes >= 4  # moments, the dual at zero, at least one Newton trial, the SE
    assert len([t for t in stream.data if "run_chunk" in str(t["key"])]) == 6 * n_passes  # all of them on workers
    with cc.backend("local", n_workers=1):
        one = streamed_estimate(source, roles, "entropy_balancing", estimand=estimand, rows_per_partition=500)
    assert (two.estimate, two.std_error, two.n_used, two.n_partitions, two.warnings) == \
        (want.estimate, want.std_error, want.n_used, want.n_partitions, want.warnings)
    assert (one.estimate, one.std_error) == (want.estimate, want.std_error)


def test_the_streamed_balance_table_counts_its_ks_on_the_workers_as_serially(cluster, design, parquet_table):
    from distributed import get_task_stream

    from causal_core.outofcore.tables import streamed_balance_table

    _, roles = design
    _, source = parquet_table
    client = backend_module.cluster_client()
    _wait_for_workers(client, 2)
    with get_task_stream(client) as stream:
        got = streamed_balance_table(source, roles, estimand="ATT", rows_per_partition=500)
    with cc.backend("serial"):
        want = streamed_balance_table(source, roles, estimand="ATT", rows_per_partition=500)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs == want.attrs
    assert len([t for t in stream.data if "run_chunk" in str(t["key"])]) == 6  # one ECDF-count task per partition


def test_a_worker_killed_mid_irls_changes_nothing_and_the_cluster_recovers(cluster, design, parquet_table):
    _, roles = design
    _, source = parquet_table
    client = backend_module.cluster_client()
    _wait_for_workers(client, 2)
    with cc.backend("serial"):
        want = streamed_estimate(source, roles, "ipw", rows_per_partition=500)
    pids = client.run(os.getpid)
    killed = []

    def kill_in_a_newton_pass(number: int, done: int, total: int) -> None:
        # pass 1 is the covariate moments, pass 2 the logit at zero, pass 3 the first Newton step
        if number == 3 and not killed:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    got = streamed_estimate(source, roles, "ipw", rows_per_partition=500, progress=kill_in_a_newton_pass)
    assert killed and (got.estimate, got.std_error) == (want.estimate, want.std_error)
    _wait_for_workers(client, 2)
    again = streamed_estimate(source, roles, "ipw", rows_per_partition=500)
    assert (again.estimate, again.std_error) == (want.estimate, want.std_error)


def test_a_cluster_with_other_versions_is_refused(cluster):
    client = backend_module.cluster_client()
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])

    def pretend(version: str) -> None:
        import causal_core

        causal_core.__version__ = version

    client.run(pretend, "0.0.0-other", workers=[workers[0]])
    try:
        with pytest.raises(cc.CausalInputError, match=r"causal_core 0\.1\.0 here, 0\.0\.0-other on worker"):
            cc.set_backend(cluster.address)
    finally:
        client.run(pretend, cc.__version__, workers=[workers[0]])
    assert cc.current_backend().kind == "local"  # the refused connection left the active backend alone


def test_results_and_the_report_say_where_they_were_computed(cluster, design):
    from causal_core.report.html_report import build_html_report

    df, roles = design
    on_cluster = cc.estimate(df, roles, "ipw", seed=1)
    assert on_cluster.compute["backend"] == "local" and on_cluster.compute["n_workers"] == 2
    assert on_cluster.compute["versions"]["numpy"] == np.__version__
    with cc.backend("serial"):
        here = cc.estimate(df, roles, "ipw", seed=1)
    assert here.compute["backend"] == "serial"
    assert (here.estimate, here.std_error) == (on_cluster.estimate, on_cluster.std_error)
    table = pd.DataFrame([on_cluster.summary()])
    html = build_html_report(data_name="sim", df=df, roles=roles, estimand="ATE", table=table,
                             results={"ipw": on_cluster}, seed=1)
    assert "computed on a local Dask cluster of 2 workers" in html


def test_a_background_run_sends_its_fan_outs_to_the_cluster(cluster, design):
    from causal_core.compute.jobs import JobRunner

    from sklearn.linear_model import LinearRegression

    df, roles = design
    client = backend_module.cluster_client()
    runner = JobRunner(max_workers=1, abandon_after=600)
    try:
        job_id = runner.submit(df, roles, ["ipw", "regression_adjustment"], estimand="ATE", seed=3, options={},
                               backend=cluster.address)
        status = runner.wait(job_id, timeout=180)
        bad = runner.submit(df, roles, ["ipw"], estimand="ATE", seed=3, options={}, backend="tcp://nowhere")
        refused = runner.wait(bad, timeout=180)
        # a long bootstrap on the cluster: its progress (fed by completed tasks) is on the status, and Cancel
        # stops its futures there
        long_id = runner.submit(df, roles, ["regression_adjustment"], estimand="ATE", seed=3,
                                options={"regression_adjustment": {"outcome_model": LinearRegression(),
                                                                   "n_boot": 2000}},
                                backend=cluster.address)
        deadline = time.monotonic() + 120
        running = runner.status(long_id)
        while running.tasks is None and not running.finished:
            assert time.monotonic() < deadline, "no task progress within 120 s"
            time.sleep(0.05)
            running = runner.status(long_id)
        assert not running.finished, running
        assert running.tasks[1] == 2000 and 0 < running.tasks[0] < 2000 and running.backend == cluster.address
        assert runner.cancel(long_id, reason="test").state == "cancelled"
        deadline = time.monotonic() + 20
        while client.run_on_scheduler(_scheduler_task_count) > 0:
            assert time.monotonic() < deadline, "the cancelled run's futures stayed on the cluster"
            time.sleep(0.1)
    finally:
        runner.shutdown()
    assert status.state == "done", status
    with cc.backend("serial"):
        want = cc.estimate(df, roles, "ipw", seed=3)
    got = status.outcomes["ipw"]
    assert got.compute["backend"] == "cluster" and got.compute["address"] == cluster.address
    assert (got.estimate, got.std_error) == (want.estimate, want.std_error)
    assert "Could not use the compute cluster tcp://nowhere" in refused.outcomes["ipw"]


def test_the_cluster_report_lists_each_worker(cluster):
    report = backend_module.cluster_report()
    assert len(report) == 2 and report["versions_match"].all() and (report["threads"] == 1).all()
    with cc.backend("serial"):
        assert backend_module.cluster_report().empty


def test_the_compute_setting_in_the_app_reports_a_bad_address_and_keeps_the_backend():
    from streamlit.testing.v1 import AppTest

    def sidebar():
        from pages._compute import render_compute_setting

        render_compute_setting()

    with cc.backend("serial"):  # whatever an earlier test of this module left active
        at = AppTest.from_function(sidebar, default_timeout=60).run()
        assert "this process (serial)" in at.sidebar.caption[0].value
        at.sidebar.radio(key="compute_choice").set_value("Cluster address").run()
        at.sidebar.text_input(key="compute_address").set_value("tcp://127.0.0.1:9").run()
        at.sidebar.button(key="compute_apply").click().run()
        assert not at.exception
        assert any("127.0.0.1:9" in e.value for e in at.error), [e.value for e in at.error]
        assert cc.current_backend().kind == "serial"


def _scheduler_task_count(dask_scheduler=None) -> int:
    return len(dask_scheduler.tasks)


def _slow_first(i: int) -> int:
    time.sleep(0.02)
    return i * i


def _first_waits_for(flag: str):
    """Item 0 finishes only once the driver has been told of another item's completion (or after 60 s)."""
    def task(i: int) -> tuple[int, bool]:
        if i == 0:
            deadline = time.monotonic() + 60
            while not os.path.exists(flag) and time.monotonic() < deadline:
                time.sleep(0.01)
            return i, os.path.exists(flag)
        return i * i, True
    return task


def test_progress_is_told_as_tasks_complete_and_results_stay_in_item_order(cluster, tmp_path):
    flag = str(tmp_path / "told")
    told, heard = [], []

    def progress(done: int, total: int) -> None:
        told.append((done, total))
        open(flag, "w").close()

    with backend_module.progress_listener(lambda done, total: heard.append((done, total))):
        got = backend_module.map_tasks(_first_waits_for(flag), range(8), chunk_size=1, progress=progress)
    # item 0 finished only after progress was told of a later item (completion order), yet the results come in
    # item order
    assert got == [(0, True)] + [(i * i, True) for i in range(1, 8)]
    assert told == [(d, 8) for d in range(1, 9)] == heard


def test_a_broken_progress_listener_changes_nothing(cluster):
    def broken(done, total):
        raise RuntimeError("listener")

    with backend_module.progress_listener(broken):
        assert backend_module.map_tasks(_slow_first, range(1, 5)) == [1, 4, 9, 16]


def test_the_local_cluster_serves_its_dashboard_on_127_0_0_1(cluster):
    import urllib.request

    assert cluster.dashboard is not None and cluster.dashboard.startswith("http://127.0.0.1:"), cluster.dashboard
    with urllib.request.urlopen(cluster.dashboard, timeout=20) as response:
        assert response.status == 200


class _Stop(BaseException):
    """What SIGTERM raises in a cancelled background run."""


def _sleeper(i: int) -> int:
    time.sleep(0.5)
    return i


def test_a_fan_out_stopped_midway_cancels_its_futures(cluster):
    client = backend_module.cluster_client()

    def stop(done: int, total: int) -> None:
        raise _Stop()

    start = time.monotonic()
    with pytest.raises(_Stop):
        backend_module.map_tasks(_sleeper, range(40), chunk_size=1, progress=stop)  # 10 s of work on 2 workers
    deadline = time.monotonic() + 5
    while client.run_on_scheduler(_scheduler_task_count) > 0:
        assert time.monotonic() < deadline, "the stopped fan-out's futures stayed on the cluster"
        time.sleep(0.05)
    assert time.monotonic() - start < 9  # the remaining tasks were cancelled, not run


def test_the_compute_setting_links_the_local_clusters_dashboard(cluster):
    from streamlit.testing.v1 import AppTest

    def sidebar():
        from pages._compute import render_compute_setting

        render_compute_setting()

    at = AppTest.from_function(sidebar, default_timeout=60).run()
    assert not at.exception
    links = [element.proto.url for element in at.get("link_button")]
    assert links == [cluster.dashboard], links
    assert any("127.0.0.1 only" in c.value for c in at.sidebar.caption)


def test_cross_fitting_folds_and_em_restarts_run_on_the_workers_with_the_serial_numbers(cluster, design):
    """Folds of the cross-fitted doubly robust estimator and EM restarts are tasks on the cluster; same numbers."""
    from distributed import get_task_stream

    from causal_core.compute.backend import cluster_client
    from causal_core.studies.mixtures.em import fit_em

    df, roles = design
    options = {"cross_fit": True, "n_folds": 3, "outcome_model": "gradient_boosting"}
    with cc.backend("serial"):
        serial = cc.estimate(df, roles, "doubly_robust", seed=2, **options)
    with get_task_stream(cluster_client()) as stream:
        got = cc.estimate(df, roles, "doubly_robust", seed=2, **options)
    assert len(stream.data) >= 3  # one task per fold
    assert (got.estimate, got.std_error) == (serial.estimate, serial.std_error)

    from causal_core.studies.mixtures.latent_class import LatentClassData

    rng = np.random.default_rng(0)
    rows = rng.integers(0, 2, size=(60, 5))  # 3 binary proxies, t, y
    data = LatentClassData(rows[:, :3], (2, 2, 2), rows[:, 3], rows[:, 4].astype(float), (0.0, 1.0),
                           rng.integers(1, 30, 60).astype(float))
    with cc.backend("serial"):
        serial_em = fit_em(data, 2, n_restarts=4, seed=3)
    with get_task_stream(cluster_client()) as stream:
        cluster_em = fit_em(data, 2, n_restarts=4, seed=3)
    assert len(stream.data) >= 2
    assert cluster_em.log_likelihood == serial_em.log_likelihood
    assert cluster_em.restart_log_likelihoods == serial_em.restart_log_likelihoods


def test_streamed_2sls_passes_run_on_the_workers_with_the_serial_numbers(cluster, tmp_path):
    from distributed import get_task_stream

    rng = np.random.default_rng(21)
    n = 2400
    u, x1, z = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    dose = 0.8 * z + 0.5 * x1 + u + rng.normal(size=n)
    df = pd.DataFrame({"dose": dose, "x1": x1, "z": z, "y": 1.5 * dose + x1 - 2 * u + rng.normal(size=n)})
    df.to_parquet(tmp_path / "iv.parquet", row_group_size=700)
    source = open_table(tmp_path / "iv.parquet")
    roles = cc.Roles(treatment="dose", outcome="y", confounders=["x1"], instruments=["z"])
    client = backend_module.cluster_client()
    _wait_for_workers(client, 2)
    with get_task_stream(client) as stream:
        got = streamed_estimate(source, roles, "two_stage_least_squares", estimand="LATE", rows_per_partition=500)
    with cc.backend("serial"):
        want = streamed_estimate(source, roles, "two_stage_least_squares", estimand="LATE", rows_per_partition=500)
    assert (got.estimate, got.std_error, got.n_used, got.n_partitions) == \
        (want.estimate, want.std_error, want.n_used, want.n_partitions)
    assert len([t for t in stream.data if "run_chunk" in str(t["key"])]) == 2 * 5  # two passes, five partitions
    in_memory = cc.estimate(df, roles, "two_stage_least_squares", estimand="LATE")
    np.testing.assert_allclose([got.estimate, got.std_error], [in_memory.estimate, in_memory.std_error], rtol=1e-10)


def _overflowing(i: int) -> float:
    """exp(1000) overflows (numpy's RuntimeWarning) for odd items; the value is inf or 1."""
    return float(np.exp(np.float64(1000.0) * (i % 2)))


def _overflowing_kernel(X: np.ndarray, t: np.ndarray, y: np.ndarray) -> float:
    """A partition kernel that overflows once per partition (numpy's RuntimeWarning)."""
    return float(np.exp(np.float64(800.0) + t.size))


def _caught_lines(run) -> tuple:
    from causal_core.core.library_warnings import capture_library_warnings, summarise_warnings

    with capture_library_warnings() as caught:
        value = run()
    return value, summarise_warnings(caught)


def test_warnings_raised_on_the_workers_come_back_with_the_serial_lines_and_counts(cluster, design, parquet_table):
    from causal_core.outofcore.mapped import Pass
    from causal_core.outofcore.streamed import _encoding

    _, roles = design
    _, source = parquet_table
    _wait_for_workers(backend_module.cluster_client(), 2)
    items = list(range(9))
    passes = Pass(source, ("treat", "y", *CONFOUNDERS), _encoding(source, roles).arrays, 500)
    on_cluster = _caught_lines(lambda: backend_module.map_tasks(_overflowing, items, chunk_size=2))
    on_cluster_parts = _caught_lines(lambda: passes.run(_overflowing_kernel))
    with cc.backend("serial"):
        serial = _caught_lines(lambda: backend_module.map_tasks(_overflowing, items))
        serial_parts = _caught_lines(lambda: passes.run(_overflowing_kernel))
    assert on_cluster == serial and on_cluster_parts == serial_parts
    assert serial[1] == (f"RuntimeWarning from {__name__}: overflow encountered in exp (4 times)",)
    assert serial_parts[1] == (f"RuntimeWarning from {__name__}: overflow encountered in exp (6 times)",)
    # nothing is lost on the way back to a caller that does not capture them either: the driver's filters decide
    with pytest.warns(RuntimeWarning, match="overflow encountered in exp"):
        backend_module.map_tasks(_overflowing, [1])


def test_a_streamed_estimate_carries_the_workers_warnings_as_the_serial_run(cluster, design, tmp_path):
    df, roles = design
    path = tmp_path / "huge.parquet"
    df.assign(y=df["y"] * 1e155).to_parquet(path)  # squared deviations overflow: numpy warns in every partition
    _wait_for_workers(backend_module.cluster_client(), 2)
    got = streamed_estimate(open_table(path), roles, "difference_in_means", rows_per_partition=100)
    with cc.backend("serial"):
        want = streamed_estimate(open_table(path), roles, "difference_in_means", rows_per_partition=100)
    line = "RuntimeWarning from causal_core.outofcore.streamed: overflow encountered in square (4 times)"
    assert got.library_warnings == want.library_warnings == (line,)  # 2 partitions x 2 arms
    assert got.warnings == want.warnings and got.warnings[-1] == "Library warning: " + line

def test_warnings_raised_in_joblib_processes_come_back_too():
    with cc.backend("serial"):
        in_processes = _caught_lines(lambda: backend_module.map_tasks(_overflowing, list(range(5)), n_jobs=2))
        here = _caught_lines(lambda: backend_module.map_tasks(_overflowing, list(range(5))))
    assert in_processes == here
    assert here[1] == (f"RuntimeWarning from {__name__}: overflow encountered in exp (2 times)",)
