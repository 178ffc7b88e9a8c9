"""TARNet / CFR against simulated unit effects; seeded determinism and option checks."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import causal_core as cc
from causal_core.datasets.simulate import heterogeneous_confounded

ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
FAST = {"epochs": 60, "hidden_units": 24}


@pytest.fixture(scope="module")
def design():
    df, truth = heterogeneous_confounded(n=1200, seed=5)
    return df, truth, 1.0 + df["x1"].to_numpy()


@pytest.mark.parametrize("options", [{}, {"cfr_penalty": 1.0}, {"cfr_penalty": 0.5, "ipm": "wasserstein"}],
                         ids=["tarnet", "cfr_mmd", "cfr_wasserstein"])
def test_tarnet_beats_the_constant_effect_and_recovers_the_ate(design, options):
    df, truth, tau = design
    r = cc.estimate(df, ROLES, "tarnet", seed=0, **FAST, **options)
    pehe = np.sqrt(np.mean((r.unit_effects - tau) ** 2))
    constant = np.sqrt(np.mean((tau - tau.mean()) ** 2))
    assert pehe < 0.7 * constant, (options, pehe, constant)
    assert abs(r.estimate - truth["SATE"]) < 4 * r.std_error
    history = r.diagnostics["training"]
    assert len(history) <= FAST["epochs"] and history["factual_mse"].iloc[-1] < history["factual_mse"].iloc[0]
    assert history["best"].sum() == 1 and r.diagnostics["best_epoch"] == history.loc[history["best"], "epoch"].iloc[0]
    assert r.diagnostics["device"] in ("cpu", "cuda")


def test_plug_in_estimate_and_att(design):
    df, truth, _ = design
    r = cc.estimate(df, ROLES, "tarnet", estimand="ATT", seed=0, dr_correction=False, **FAST)
    treated = df["treat"].to_numpy() == 1
    assert r.estimate == pytest.approx(r.unit_effects[treated].mean())
    assert abs(r.estimate - truth["SATT"]) < 4 * r.std_error
    assert any("plug-in mean" in w for w in r.warnings)


def test_tarnet_is_deterministic_and_leaves_global_torch_state_alone(design):
    import torch

    df, _, _ = design
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = cc.estimate(df.head(400), ROLES, "tarnet", seed=2, epochs=20, hidden_units=8)
    after = torch.rand(1)
    b = cc.estimate(df.head(400), ROLES, "tarnet", seed=2, epochs=20, hidden_units=8)
    assert torch.equal(before, after)  # the caller's random stream is untouched
    assert a.estimate == b.estimate and np.array_equal(a.unit_effects, b.unit_effects)


def test_early_stopping_keeps_the_best_validation_epoch_and_can_be_switched_off(design):
    df, _, _ = design
    stopped = cc.estimate(df.head(600), ROLES, "tarnet", seed=1, epochs=400, hidden_units=8, learning_rate=0.05)
    history = stopped.diagnostics["training"]
    best = stopped.diagnostics["best_epoch"]
    assert len(history) == best + 10 < 400  # stopped 10 epochs after the last improvement
    assert history["validation_mse"].iloc[best - 1] == history["validation_mse"].min()
    fixed = cc.estimate(df.head(600), ROLES, "tarnet", seed=1, epochs=7, hidden_units=8, early_stopping=False)
    assert len(fixed.diagnostics["training"]) == 7 and "validation_mse" not in fixed.diagnostics["training"]


def test_importing_the_engine_does_not_import_torch():
    import subprocess

    code = "import causal_core as cc, sys; cc.list_methods(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("options, match", [
    ({"cfr_penalty": -1.0}, "'cfr_penalty' option of method 'tarnet' must be a number from 0"),
    ({"epochs": 0}, "'epochs' option"),
    ({"ipm": "kl"}, "'ipm' option"),
    ({"device": "tpu"}, "'device' option"),
    ({"dr_correction": "yes"}, "'dr_correction' option"),
])
def test_bad_options_are_refused(design, options, match):
    df, _, _ = design
    with pytest.raises(cc.CausalInputError, match=match):
        cc.estimate(df.head(100), ROLES, "tarnet", **options)
