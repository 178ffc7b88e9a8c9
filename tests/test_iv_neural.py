"""Neural IV (deep_iv, cb_iv): nonlinear response recovered better than a linear IV fit, average derivative recovered."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.estimators.instruments._torch_iv import TrainSettings
from causal_core.estimators.instruments.iv_neural import first_stage_f_statistic, fit_response_function
from designs_neural_iv import FAST_OPTIONS, ROLES, nonlinear_iv_frame, true_average_derivative

TEST_SETTINGS = TrainSettings(epochs=150, batch_size=500, hidden_units=16, n_draws=4)


def _two_sls_curve(df: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """Linear 2SLS of y on [1, x, t] with instruments [1, x, z], evaluated at mean x."""
    n = len(df)
    exog = np.c_[np.ones(n), df["x"]]
    first = np.c_[exog, df["z"]]
    t_hat = first @ np.linalg.lstsq(first, df["t"].to_numpy(), rcond=None)[0]
    coef = np.linalg.lstsq(np.c_[exog, t_hat], df["y"].to_numpy(), rcond=None)[0]
    return coef[0] + coef[1] * df["x"].mean() + coef[2] * grid


@pytest.mark.parametrize("balance_weight", [0.0, 0.1], ids=["deep_iv", "cb_iv"])
def test_neural_curve_beats_linear_iv_on_nonlinear_response(balance_weight):
    df, _ = nonlinear_iv_frame(1000, seed=0)
    grid = np.linspace(*np.quantile(df["t"], [0.025, 0.975]), 25)
    truth = 2 * np.sin(grid) + grid + df["x"].mean()
    settings = TrainSettings(**{**TEST_SETTINGS.__dict__, "balance_weight": balance_weight})
    fit = fit_response_function(df[["x"]].to_numpy(), df[["z"]].to_numpy(), df["t"].to_numpy(), df["y"].to_numpy(),
                                seed=0, settings=settings, grid=grid)
    neural_mse = np.mean((fit.curve - truth) ** 2)
    linear_mse = np.mean((_two_sls_curve(df, grid) - truth) ** 2)
    assert neural_mse < 0.5 * linear_mse, (neural_mse, linear_mse)


@pytest.mark.parametrize("method", ["deep_iv", "cb_iv"])
def test_average_derivative_recovers_truth_and_returns_curve(method):
    df, _ = nonlinear_iv_frame(1000, seed=1)
    truth = true_average_derivative(df["t"].to_numpy())
    result = cc.estimate(df, ROLES, method, seed=0, **{**FAST_OPTIONS, "n_boot": 6})
    assert abs(result.estimate - truth) < 4 * result.std_error, (result.estimate, result.std_error, truth)
    curve = result.diagnostics["response_curve"]
    assert list(curve.columns) == ["treatment", "response", "ci_low", "ci_high"]
    assert len(curve) == 25 and (curve["ci_low"] <= curve["response"]).all() and (curve["response"] <= curve["ci_high"]).all()
    assert result.diagnostics["first_stage_f"] > 100


def test_first_stage_f_statistic_flags_irrelevant_instrument():
    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(500, 1)), rng.normal(size=(500, 1))
    assert first_stage_f_statistic(X, Z, X[:, 0] + rng.normal(size=500)) < 10
    assert first_stage_f_statistic(X, Z, X[:, 0] + Z[:, 0] + rng.normal(size=500)) > 100


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epochs": 0}, "'epochs' option of method 'deep_iv' must be an integer from 1 to 2000"),
        ({"learning_rate": "fast"}, "'learning_rate' option of method 'deep_iv' must be a number"),
        ({"device": "tpu"}, "'device' option of method 'deep_iv' must be one of"),
        ({"balance_weight": 0.5}, "has no option"),
    ],
    ids=["epochs", "learning_rate", "device", "deep_iv_has_no_balance"],
)
def test_bad_options_are_refused(options, message):
    df, _ = nonlinear_iv_frame(200, seed=0)
    with pytest.raises(cc.CausalInputError, match=message):
        cc.estimate(df, ROLES, "deep_iv", n_boot=2, **options)


def test_text_treatment_is_refused():
    df, _ = nonlinear_iv_frame(200, seed=0)
    df = df.assign(t=np.where(df["t"] > 0, "high", "low"))
    with pytest.raises(cc.CausalInputError, match="Treatment column 't' must be numeric"):
        cc.estimate(df, ROLES, "cb_iv", n_boot=2)


def test_importing_the_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, causal_core as cc; cc.list_methods(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
