"""Sensitivity grids and mechanism learning's mixture fits on a real Dask cluster: the serial numbers, bit for bit.

Runs on test_compute_backend's module-scoped ``LocalCluster`` (2 worker processes, 127.0.0.1, no dashboard,
stopped at the end of this module). Each grid is run serially and on the cluster and compared with
``np.array_equal``; the tasks' presence on the workers is read from the scheduler's task stream.
``MIN_TASK_SECONDS`` is set to 0 where a test needs the fan-out to happen whatever this machine's speed
(the grids here are small enough to cost well under the 100 ms a task is otherwise worth).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.compute import grouped
from causal_core.compute.backend import cluster_client
from causal_core.datasets.simulate import linear_confounded
from causal_core.studies.mechanism import mechanism_learning_data
from causal_core.studies.mechanism.weighted_gmm import fit_weighted_gmm, select_weighted_gmms
from tests.test_compute_backend import cluster  # noqa: F401  (the module-scoped LocalCluster fixture)

FEATURES = ["x1", "x2"]
CONFOUNDERS = ["x1", "x2", "x3", "x4", "region"]


@pytest.fixture
def always_fan_out(monkeypatch):
    monkeypatch.setattr(grouped, "MIN_TASK_SECONDS", 0.0)


def _tasks(run):
    """``run()``'s result and how many tasks the cluster ran for it."""
    from distributed import get_task_stream

    with get_task_stream(cluster_client()) as stream:
        value = run()
    return value, len(stream.data)


def _pair_differences(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.25, 1.0, n)


def _rosenbaum_numbers(bounds) -> np.ndarray:
    return np.append(bounds.table.to_numpy(float).ravel(), bounds.critical_gamma)


def _ovb_numbers(sensitivity) -> np.ndarray:
    return sensitivity.benchmarks.drop(columns="benchmark").to_numpy(float)


def _front_door(method: str) -> pd.DataFrame:
    df = mechanism_learning_data(400, seed=5, confounding=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cc.CausalWarning)
        return cc.front_door_resample(df, "y", "z", FEATURES, method=method, seed=7)


@pytest.fixture(scope="module")
def ovb_design():
    df, _ = linear_confounded(n=400, seed=21)
    return df, cc.Roles(treatment="treat", outcome="y", confounders=CONFOUNDERS)


def test_rosenbaum_gamma_grid_on_the_workers_equals_the_serial_grid(cluster, always_fan_out):  # noqa: F811
    d = _pair_differences(300, seed=1)  # 300 pairs: the exact convolution, the costliest grid point there is
    gammas = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0]
    with cc.backend("serial"):
        serial = cc.rosenbaum_bounds(d, gammas=gammas)
    got, n_tasks = _tasks(lambda: cc.rosenbaum_bounds(d, gammas=gammas))
    assert n_tasks >= 2
    assert np.array_equal(_rosenbaum_numbers(got), _rosenbaum_numbers(serial))
    normal, n_tasks = _tasks(lambda: cc.rosenbaum_bounds(d, gammas=gammas, exact_max_pairs=0))
    with cc.backend("serial"):
        assert np.array_equal(_rosenbaum_numbers(normal),
                              _rosenbaum_numbers(cc.rosenbaum_bounds(d, gammas=gammas, exact_max_pairs=0)))


def test_a_grid_that_costs_microseconds_stays_in_this_process(cluster):  # noqa: F811
    d = _pair_differences(20, seed=2)  # 20 pairs: each Gamma costs microseconds, far below a task's 100 ms
    got, n_tasks = _tasks(lambda: cc.rosenbaum_bounds(d))
    assert n_tasks == 0
    with cc.backend("serial"):
        assert np.array_equal(_rosenbaum_numbers(got), _rosenbaum_numbers(cc.rosenbaum_bounds(d)))


def test_each_gamma_depends_on_itself_alone(cluster, always_fan_out):  # noqa: F811
    d = _pair_differences(120, seed=3)
    gammas = [1.0, 1.3, 1.8, 2.4, 3.5]
    table = cc.rosenbaum_bounds(d, gammas=gammas).table
    one_by_one = [cc.rosenbaum_bounds(d, gammas=[g]).table["p_value_upper"].item() for g in reversed(gammas)]
    assert np.array_equal(table["p_value_upper"].to_numpy(), np.array(one_by_one[::-1]))


def test_ovb_benchmark_refits_on_the_workers_equal_the_serial_ones(cluster, always_fan_out, ovb_design):  # noqa: F811
    df, roles = ovb_design
    with cc.backend("serial"):
        serial = cc.ovb_sensitivity(df, roles, kd=[1.0, 2.0])
    got, n_tasks = _tasks(lambda: cc.ovb_sensitivity(df, roles, kd=[1.0, 2.0]))
    assert n_tasks >= 2
    assert np.array_equal(_ovb_numbers(got), _ovb_numbers(serial), equal_nan=True)
    assert list(got.benchmarks["benchmark"]) == list(serial.benchmarks["benchmark"])
    assert (got.robustness_value, got.robustness_value_alpha) == (serial.robustness_value, serial.robustness_value_alpha)


def test_ovb_benchmarks_in_any_order_give_the_same_rows(cluster, always_fan_out, ovb_design):  # noqa: F811
    df, roles = ovb_design
    forward = cc.ovb_sensitivity(df, roles, benchmarks=CONFOUNDERS).benchmarks.set_index("benchmark")
    backward = cc.ovb_sensitivity(df, roles, benchmarks=CONFOUNDERS[::-1]).benchmarks.set_index("benchmark")
    assert np.array_equal(forward.loc[CONFOUNDERS].to_numpy(float), backward.loc[CONFOUNDERS].to_numpy(float),
                          equal_nan=True)


@pytest.mark.parametrize("method", ["cw_gmm", "bootstrap"])
def test_front_door_resample_on_the_workers_equals_the_serial_samples(cluster, method):  # noqa: F811
    with cc.backend("serial"):
        serial = _front_door(method)
    got, n_tasks = _tasks(lambda: _front_door(method))
    assert n_tasks >= 2  # the mixtures of the continuous mechanism z (and, for cw_gmm, of the features)
    assert np.array_equal(got[FEATURES].to_numpy(), serial[FEATURES].to_numpy())
    assert np.array_equal(got["y"].to_numpy(), serial["y"].to_numpy())
    assert got.attrs["front_door"] == serial.attrs["front_door"]


def test_mixture_fits_do_not_depend_on_the_order_of_the_data_sets(cluster):  # noqa: F811
    rng = np.random.default_rng(4)
    problems = [(rng.normal(size=(150, 2)) + shift, rng.uniform(0.5, 2.0, 150)) for shift in (0.0, 3.0, -2.0)]
    forward = select_weighted_gmms(problems, max_components=3, seed=2, n_init=2)
    backward = select_weighted_gmms(problems[::-1], max_components=3, seed=2, n_init=2)[::-1]
    for (a, bic_a), (b, bic_b) in zip(forward, backward):
        assert bic_a == bic_b
        assert np.array_equal(a.means, b.means) and np.array_equal(a.covariances, b.covariances)
    X, w = problems[1]  # the chosen fit is the one a lone fit of that size gives, here in this process
    alone = fit_weighted_gmm(X, w, forward[1][0].n_components, seed=2, n_init=2)
    assert np.array_equal(alone.means, forward[1][0].means) and alone.bic == forward[1][0].bic


def test_one_worker_gives_the_two_worker_numbers(cluster, always_fan_out, ovb_design):  # noqa: F811
    df, roles = ovb_design
    d = _pair_differences(200, seed=6)
    two = (_rosenbaum_numbers(cc.rosenbaum_bounds(d)), _ovb_numbers(cc.ovb_sensitivity(df, roles)),
           _front_door("cw_gmm")[FEATURES].to_numpy())
    with cc.backend("local", n_workers=1):
        one = (_rosenbaum_numbers(cc.rosenbaum_bounds(d)), _ovb_numbers(cc.ovb_sensitivity(df, roles)),
               _front_door("cw_gmm")[FEATURES].to_numpy())
    assert cc.current_backend().n_workers == 2  # the module's cluster is back
    for a, b in zip(one, two):
        assert np.array_equal(a, b, equal_nan=True)
