"""Neural IV (deep_iv, cb_iv): nonlinear response recovered better than a linear IV fit, average derivative recovered
in the treatment's units, the sieve sandwich standard error, early stopping and the size-based training settings."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.estimators._torch_runtime import auto_batch_size, auto_max_epochs
from causal_core.estimators.instruments._torch_iv import TrainSettings, sieve_influence, unbiased_squared_error
from causal_core.estimators.instruments.iv_neural import first_stage_f_statistic, fit_response_function
from causal_core.inference import influence_se
from designs_neural_iv import (BINARY_INSTRUMENT_SLOPE, FAST_OPTIONS, ROLES, binary_instrument_frame,
                               nonlinear_iv_frame, true_average_derivative)

#: The network's capacity, without early stopping: on 1,000 rows the held-out 20% and the noisy validation loss
#: stop it at a curve MSE of about 0.55 (against 0.93 for 2SLS), short of the factor 2 asked here.
TEST_SETTINGS = TrainSettings(epochs=150, batch_size=500, hidden_units=16, n_draws=4, early_stopping=False)


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
    result = cc.estimate(df, ROLES, method, seed=0, **FAST_OPTIONS)
    assert abs(result.estimate - truth) < 4 * result.std_error, (result.estimate, result.std_error, truth)
    curve = result.diagnostics["response_curve"]
    assert list(curve.columns) == ["treatment", "response", "ci_low", "ci_high"]
    assert len(curve) == 25 and (curve["ci_low"] <= curve["response"]).all() and (curve["response"] <= curve["ci_high"]).all()
    assert result.diagnostics["first_stage_f"] > 100


def _fit(df: pd.DataFrame, settings: TrainSettings, **kwargs):
    return fit_response_function(df[["x"]].to_numpy(), df[["z"]].to_numpy(), df["t"].to_numpy(), df["y"].to_numpy(),
                                 seed=0, settings=settings, **kwargs)


def test_average_derivative_is_in_outcome_units_per_unit_of_treatment():
    # Schooling in decades instead of years and wages in cents: the same fit, slope times 100 / 10.
    df, _ = binary_instrument_frame(600, seed=3)
    settings = TrainSettings(epochs=20, hidden_units=8, n_draws=2, early_stopping=False)
    base = _fit(df, settings)
    rescaled = _fit(df.assign(t=df["t"] / 10 + 1.0, y=100 * df["y"] - 5.0), settings)
    assert rescaled.average_derivative == pytest.approx(base.average_derivative * 100 * 10, rel=1e-3)


@pytest.mark.parametrize("method", ["deep_iv", "cb_iv"])
def test_binary_instrument_linear_design_recovers_the_slope_like_2sls(method):
    # Card-like scales: a treatment in years (sd about 2.4), a log-wage-like outcome (sd about 0.4), slope 0.1 and
    # a binary instrument; OLS is biased by about 0.09. The neural slope must sit within sampling error of the
    # truth and of 2SLS, on the original scale (a slope left in standardised units would be about 0.6).
    df, _ = binary_instrument_frame(1500, seed=0)
    roles = cc.Roles(treatment="t", outcome="y", confounders=["x"], instruments=["z"])
    # Two draws a row: squaring their mean (the old loss) shrank the slope here to about 0.04.
    neural = cc.estimate(df, roles, method, seed=0, **{**FAST_OPTIONS, "n_boot": 0, "n_draws": 2})
    two_sls = cc.estimate(df, roles, "two_stage_least_squares", estimand="LATE")
    assert neural.inference.method == "sandwich" and "sieve sandwich" in neural.inference.detail
    assert abs(neural.estimate - BINARY_INSTRUMENT_SLOPE) < 4 * neural.std_error, (neural.estimate, neural.std_error)
    assert abs(neural.estimate - two_sls.estimate) < 4 * np.hypot(neural.std_error, two_sls.std_error)
    assert neural.std_error >= 0.5 * two_sls.std_error  # not cheaper than the efficient linear IV estimator


def test_second_stage_loss_averages_pairs_of_distinct_draws_without_the_variance_penalty():
    import itertools

    import torch

    rng = np.random.default_rng(0)
    y, responses = rng.normal(size=6), rng.normal(loc=1.0, size=(5, 6))
    pairs = [np.mean([(y[i] - responses[d, i]) * (y[i] - responses[e, i])
                      for d, e in itertools.permutations(range(5), 2)]) for i in range(6)]
    got = float(unbiased_squared_error(torch.tensor(y), torch.tensor(responses)))
    assert got == pytest.approx(np.mean(pairs), rel=1e-12)
    naive = np.mean((y - responses.mean(axis=0)) ** 2)  # larger by the mean of Var_d(h) / D
    assert naive - got == pytest.approx(np.mean(responses.var(axis=0, ddof=1)) / 5, rel=1e-12)


def test_sieve_influence_on_a_linear_basis_is_the_2sls_robust_sandwich():
    from linearmodels.iv import IV2SLS

    df, _ = binary_instrument_frame(2000, seed=4)
    n = len(df)
    exog, instruments = np.c_[np.ones(n), df["x"]], np.c_[np.ones(n), df["x"], df["z"]]
    t_hat = instruments @ np.linalg.lstsq(instruments, df["t"].to_numpy(), rcond=None)[0]
    fit = IV2SLS(df["y"], exog, df[["t"]], df[["z"]]).fit(cov_type="robust", debiased=False)
    theta = fit.params.to_numpy()  # const, x, t
    basis_bar = np.c_[exog, t_hat]  # the basis [1, x, t] averaged over the first stage
    residual = df["y"].to_numpy() - np.c_[exog, df["t"]] @ theta
    direction = np.array([0.0, 0.0, 1.0])  # d/dt of basis @ theta picks the t coefficient
    psi = sieve_influence(basis_bar, residual, direction, np.full(n, theta[2]), ridge=0.0)
    assert influence_se(psi) == pytest.approx(float(fit.std_errors.iloc[2]), rel=1e-8)


def test_default_standard_error_is_the_sieve_sandwich_and_bootstrap_is_on_request():
    df, _ = nonlinear_iv_frame(300, seed=2, linear=True)
    cheap = {**FAST_OPTIONS, "epochs": 30}
    default = cc.estimate(df, ROLES, "deep_iv", seed=0, **{k: v for k, v in cheap.items() if k != "n_boot"})
    assert default.inference.method == "sandwich" and default.inference.n_replicates == 0
    assert default.std_error == pytest.approx(default.diagnostics["sieve_std_error"])
    assert any("set n_boot" in w for w in default.warnings)
    boot = cc.estimate(df, ROLES, "deep_iv", seed=0, **{**cheap, "n_boot": 20, "epochs": 5})
    assert boot.inference.method == "bootstrap_normal" and boot.inference.n_replicates == 20
    assert len(boot.diagnostics["bootstrap_estimates"]) == 20
    with pytest.raises(cc.CausalInputError, match="'n_boot' option of method 'deep_iv' must be 0 .* or an integer "
                                                  "from 20 to 5000; got 5"):
        cc.estimate(df, ROLES, "deep_iv", n_boot=5)


def test_early_stopping_ends_before_the_epoch_cap_and_can_be_switched_off():
    df, _ = nonlinear_iv_frame(400, seed=5, linear=True)
    settings = TrainSettings(epochs=300, hidden_units=8, n_draws=2, learning_rate=0.05)
    stopped = _fit(df, settings)
    assert all(e < 300 for e in stopped.epochs), stopped.epochs
    fixed = _fit(df, TrainSettings(**{**settings.__dict__, "epochs": 7, "early_stopping": False}))
    assert fixed.epochs == (7, 7)


@pytest.mark.parametrize("n_train, batch, epochs", [(40, 64, 200), (2408, 120, 143), (4000, 200, 150),
                                                    (40_000, 512, 38), (400_000, 512, 30)])
def test_batch_size_and_epoch_cap_follow_the_data_size(n_train, batch, epochs):
    assert auto_batch_size(n_train) == batch
    assert auto_max_epochs(n_train, batch) == epochs


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
        cc.estimate(df, ROLES, "deep_iv", **options)


def test_text_treatment_is_refused():
    df, _ = nonlinear_iv_frame(200, seed=0)
    df = df.assign(t=np.where(df["t"] > 0, "high", "low"))
    with pytest.raises(cc.CausalInputError, match="Treatment column 't' must be numeric"):
        cc.estimate(df, ROLES, "cb_iv")


def test_importing_the_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, causal_core as cc; cc.list_methods(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
