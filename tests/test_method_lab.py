"""Method lab: known-truth simulations over the analyst's design; coverage figures must be honest."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.charts.robustness import method_lab_plot
from causal_core.datasets.simulate import linear_confounded
from causal_core.robustness.method_lab import simulate_outcome

ROLES = cc.Roles("treat", "y", ["x1", "x2", "x3", "x4", "region"])


@pytest.fixture(scope="module")
def design():
    return linear_confounded(n=400, seed=6)[0]


def test_regression_covers_95_percent_and_difference_in_means_does_not(design):
    reps = 200
    lab = cc.method_lab(design, ROLES, ["regression_adjustment", "difference_in_means"], scenario="linear",
                        effect=0.5, confounding=1.0, n_replications=reps, seed=0)
    rows = lab.table.set_index("method")
    reg = rows.loc["regression_adjustment"]
    # 4 Monte Carlo SEs of a 95% coverage with 200 replications: 0.062 (tells 95% from 80%)
    assert abs(reg["coverage"] - 0.95) <= 4 * np.sqrt(0.95 * 0.05 / reps)
    assert abs(reg["bias"]) <= 4 * reg["sd_estimate"] / np.sqrt(reps)
    naive = rows.loc["difference_in_means"]
    assert naive["coverage"] < 0.5 and naive["bias"] > 10 * naive["sd_estimate"] / np.sqrt(reps)
    assert lab.recommended == "regression_adjustment" and lab.truth == pytest.approx(0.5)


@pytest.mark.parametrize("scenario", ["linear", "nonlinear", "heterogeneous"])
def test_simulated_truth_is_the_sample_estimand(design, scenario):
    sim, truth = simulate_outcome(design, ROLES, scenario=scenario, effect=1.0, confounding=1.0, seed=2)
    assert len(sim) == len(design) and list(sim.columns) == ["treat", *ROLES.confounders, "y"]
    if scenario == "heterogeneous":
        assert truth["ATT"] > truth["ATE"] > truth["ATC"]  # effect grows with the propensity
    else:
        assert truth["ATE"] == truth["ATT"] == pytest.approx(1.0)


def test_method_lab_is_seeded_and_parallel_agrees(design):
    args = dict(scenario="heterogeneous", estimand="ATT", n_replications=6, seed=4)
    a = cc.method_lab(design, ROLES, ["ipw", "regression_adjustment"], **args)
    b = cc.method_lab(design, ROLES, ["ipw", "regression_adjustment"], n_jobs=2, **args)
    cols = ["method", "bias", "rmse", "coverage"]
    pd.testing.assert_frame_equal(a.table[cols], b.table[cols])
    assert len(method_lab_plot(a).data) == 2


def test_method_lab_does_not_modify_the_data(design):
    before = design.copy()
    cc.method_lab(design, ROLES, ["regression_adjustment"], n_replications=2)
    pd.testing.assert_frame_equal(design, before)


@pytest.mark.parametrize("kwargs, match", [
    (dict(methods=["two_stage_least_squares"]), "needs roles"),
    (dict(methods=[]), "at least one method"),
    (dict(scenario="quadratic"), "scenario"),
    (dict(n_replications=1), "n_replications"),
    (dict(effect=float("nan")), "effect"),
])
def test_method_lab_rejects_bad_options(design, kwargs, match):
    args = dict(methods=["regression_adjustment"], n_replications=2) | kwargs
    methods = args.pop("methods")
    with pytest.raises(cc.CausalInputError, match=match):
        cc.method_lab(design, ROLES, methods, **args)


def test_a_seed_at_the_top_of_the_range_runs_every_replication(design):
    """Replicate r is seeded with seed + r wrapped below 2**32, so the largest seed is not refused mid-run."""
    from causal_core.core.seeds import MAX_SEED, offset_seed

    assert offset_seed(5, 3) == 8 and offset_seed(MAX_SEED, 1) == 0
    lab = cc.method_lab(design, ROLES, ["regression_adjustment"], n_replications=3, seed=MAX_SEED)
    row = lab.table.set_index("method").loc["regression_adjustment"]
    assert row["n_ok"] == 3 and row["n_failed"] == 0, lab.errors
