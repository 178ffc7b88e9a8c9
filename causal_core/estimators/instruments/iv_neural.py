"""Neural instrumental-variable regression for a continuous treatment: DeepIV and CB-IV.

Both estimate the structural response ``h(t, x)`` in ``y = h(t, x) + e`` where
``e`` is correlated with ``t`` (hidden confounding) but not with the
instruments ``z``:

``deep_iv``
    DeepIV (Hartford et al., 2017). First stage: a mixture density network
    for ``t | z, x``. Second stage: a network ``h(t, x)`` trained so that its
    average over treatments sampled from the first stage matches ``y``.
``cb_iv``
    CB-IV (Wu et al., 2022): the same two stages, but the response network
    sees ``x`` only through a representation ``phi(x)`` penalised by the HSIC
    dependence between ``phi(x)`` and the sampled treatment, so that the
    representation is balanced across treatment values (confounder balancing).

Estimand ("ATE"): the **average derivative** ``mean_i dh/dt (t_i, x_i)`` over
the used rows -- the average effect of a one-unit increase of the treatment
when ``h`` is linear in ``t``, and its local version otherwise.
``diagnostics["response_curve"]`` holds the average response
``mean_i h(t, x_i)`` on a grid of treatment values.

Scale: every variable is standardised for training and the derivative is
multiplied back by ``sd(y) / sd(t)``, so the estimate is in outcome units per
unit of the treatment (tested by rescaling both). The second-stage loss is an
unbiased estimate of ``(y - E_T h(T, x))^2`` over pairs of distinct
first-stage draws: squaring the mean of the draws would add ``Var_T(h) /
n_draws``, a penalty on the slope in ``t`` that with a weak binary instrument
(Card) pulled the average derivative to nearly zero.

Training: each stage stops early on a seeded 20% validation split (best
epoch's weights kept); batch size and epoch cap follow the data size; CUDA is
used when present.

Uncertainty, by default (``n_boot=0``): a **sieve sandwich** standard error.
The response network's last hidden layer is held fixed as a basis, so its
output weights are a 2SLS-like least-squares fit of ``y`` on the basis averaged
over first-stage draws; the delta method for the average derivative (a linear
functional of those weights) plus the averaging over rows gives one influence
value per row (``Inference.method == "sandwich"``). It treats the hidden
layers, the first stage and the training noise as known, so it can be
optimistic -- most where the instrument is weak and the basis identifies the
slope through its functional form. ``n_boot`` of 20 or more asks for a seeded
nonparametric bootstrap instead: each replicate refits both stages on rows
resampled with replacement (its own network initialisation), so the standard
error covers sampling and training variability; normal intervals (estimate
+/- 1.96 SE; pointwise for the curve).

torch is imported only inside the functions that fit, so importing this module is cheap.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.options import n_boot_option
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators._torch_runtime import seeded_torch, torch_device, validation_split
from causal_core.inference import (Z_95, InfluenceFunction, draw_index_sets, influence_se, map_replicates,
                                   summarise_replicates)

__all__ = ["fit_response_function", "NeuralIVFit", "first_stage_f_statistic"]

GRID_POINTS = 25

_COMMON_OPTIONS = (
    n_boot_option(0, "Bootstrap refits for the standard error (each refits both networks; slow on a CPU).",
                  allow_zero=True, zero_means="no bootstrap: the sieve sandwich standard error"),
    OptionSpec("epochs", "int", None, "Most training passes over the data, each stage.", low=1, high=2000,
               none_means="chosen by data size (about 3,000 gradient steps, 30 to 200 epochs)"),
    OptionSpec("early_stopping", "bool", True,
               "Hold out 20% of the rows and stop each stage 10 epochs after its validation loss last improved."),
    OptionSpec("hidden_units", "int", 32, "Units in each of the two hidden layers.", low=2, high=1024),
    OptionSpec("n_components", "int", 5, "Gaussian components of the first-stage mixture density network.", low=1, high=20),
    OptionSpec("n_draws", "int", 8, "Treatments sampled per row from the first stage in each second-stage step "
               "(at least 2: the loss pairs distinct draws so that it is unbiased).", low=2, high=100),
    OptionSpec("learning_rate", "float", 1e-2, "Adam learning rate.", low=1e-5, high=1.0),
    OptionSpec("weight_decay", "float", 1e-4, "L2 penalty on the network weights (Adam weight decay).", low=0.0, high=1.0),
    OptionSpec("batch_size", "int", None, "Rows per optimisation step.", low=8, high=100000,
               none_means="chosen by data size (a twentieth of the training rows, 64 to 512)"),
    OptionSpec("device", "choice", "auto", "'auto' uses CUDA when available, else the CPU.",
               choices=("auto", "cpu", "cuda")),
)
_CB_OPTIONS = _COMMON_OPTIONS + (
    OptionSpec("balance_weight", "float", 0.1, "Weight of the HSIC penalty between representation and treatment.",
               low=0.0, high=100.0, low_inclusive=False),
)


@dataclass(frozen=True)
class NeuralIVFit:
    """A fitted response function on the original scale.

    ``predict(t, X)`` returns ``h(t_i, x_i)`` for arrays ``t`` (n,) and ``X`` (n, p).
    ``slope_influence`` (n,) and ``curve_influence`` (n, G) are the sieve
    sandwich influence values of the average derivative and of the curve
    (original units; None unless asked for). ``epochs`` are those each stage
    trained (first, second).
    """

    predict: Callable[[np.ndarray, np.ndarray], np.ndarray]
    average_derivative: float
    curve_grid: np.ndarray
    curve: np.ndarray
    first_stage_log_likelihood: float
    epochs: tuple[int, int] = (0, 0)
    slope_influence: np.ndarray | None = None
    curve_influence: np.ndarray | None = None


def _settings(options: dict[str, Any], balance_weight: float):
    from causal_core.estimators.instruments._torch_iv import TrainSettings

    keys = ("hidden_units", "epochs", "batch_size", "learning_rate", "weight_decay", "n_components", "n_draws",
            "early_stopping")
    return TrainSettings(**{k: options[k] for k in keys if k in options}, balance_weight=balance_weight)


def _standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    centre = values.mean(axis=0)
    scale = values.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (values - centre) / scale, centre, scale


def fit_response_function(
    X: np.ndarray,
    Z: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    *,
    seed: int = 0,
    settings: Any = None,
    device: str = "auto",
    grid: np.ndarray | None = None,
    influence: bool = False,
) -> NeuralIVFit:
    """Fit DeepIV (``settings.balance_weight == 0``) or CB-IV once and return ``h`` on the original scale.

    Every variable is standardised for training; the derivative ``dh/dt`` of
    the standardised fit is ``y_scale / t_scale`` times the derivative on the
    original scale, so the average derivative is in outcome units per unit of
    treatment.

    Parameters
    ----------
    X : ndarray (n, p)
        Observed covariates (p may be 0).
    Z : ndarray (n, q)
        Instruments.
    t, y : ndarray (n,)
        Continuous treatment and outcome.
    seed : int
        Seed of initialisation, validation split, batching and treatment sampling.
    settings : TrainSettings, optional
        Network and optimiser settings (defaults of :class:`TrainSettings`:
        early stopping, epochs and batch size by data size).
    device : {"auto", "cpu", "cuda"}
    grid : ndarray, optional
        Treatment values for the average response curve (default: 25 points
        between the 2.5% and 97.5% quantiles of ``t``).
    influence : bool
        Also return the sieve sandwich influence values (see
        :func:`~causal_core.estimators.instruments._torch_iv.sieve_influence`).
    """
    import torch

    from causal_core.estimators.instruments._torch_iv import (TrainSettings, average_derivative, fit_mixture_density,
                                                              fit_response, predict_response, response_surface,
                                                              sieve_influence, sieve_parts)
    settings = settings or TrainSettings()
    dev = torch_device(device, method="deep_iv" if settings.balance_weight == 0 else "cb_iv")
    Xs, x_centre, x_scale = _standardise(X) if X.shape[1] else (X, np.zeros(0), np.ones(0))
    Zs, _, _ = _standardise(Z)
    (ts, t_centre, t_scale), (ys, y_centre, y_scale) = (_standardise(v[:, None]) for v in (t, y))
    ts, ys = ts[:, 0], ys[:, 0]
    t_centre, t_scale, y_centre, y_scale = float(t_centre[0]), float(t_scale[0]), float(y_centre[0]), float(y_scale[0])
    if grid is None:
        grid = np.linspace(*np.quantile(t, [0.025, 0.975]), GRID_POINTS)
    grid_std = (np.asarray(grid, dtype=float) - t_centre) / t_scale

    def tensor(a: np.ndarray) -> "torch.Tensor":
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=dev)

    slope_psi = curve_psi = None
    with seeded_torch(seed):
        generator = torch.Generator().manual_seed(seed)
        split = validation_split(t.shape[0], settings.validation_fraction, generator, enabled=settings.early_stopping)
        settings = settings.resolved(int(split[0].numel()))
        x_t, t_t, y_t = tensor(Xs), tensor(ts), tensor(ys)
        stage_inputs = tensor(np.hstack([Zs, Xs]))
        first, first_ll, first_epochs = fit_mixture_density(stage_inputs, t_t, settings, generator, split)
        model, second_epochs = fit_response(x_t, y_t, first, stage_inputs, settings, generator, split)
        slope = average_derivative(model, x_t, t_t) * y_scale / t_scale
        curve = response_surface(model, x_t, grid_std) * y_scale + y_centre
        if influence:
            parts = sieve_parts(model, x_t, t_t, first, stage_inputs, grid_std, generator)
            residual = ys - parts["fitted"]
            ridge = settings.weight_decay / 2
            slope_psi = sieve_influence(parts["basis_bar"], residual, parts["slope_direction"],
                                        parts["slope_terms"], ridge) * y_scale / t_scale
            curve_psi = sieve_influence(parts["basis_bar"], residual, parts["curve_directions"],
                                        parts["curve_terms"], ridge) * y_scale

    def predict(t_new: np.ndarray, X_new: np.ndarray) -> np.ndarray:
        X_new = np.asarray(X_new, dtype=float).reshape(len(t_new), -1)
        Xn = (X_new - x_centre) / x_scale if X_new.shape[1] else X_new
        with torch.no_grad():
            out = predict_response(model, tensor((np.asarray(t_new, float) - t_centre) / t_scale), tensor(Xn))
        return out * y_scale + y_centre

    return NeuralIVFit(predict=predict, average_derivative=float(slope), curve_grid=np.asarray(grid),
                       curve=np.asarray(curve), first_stage_log_likelihood=first_ll,
                       epochs=(first_epochs, second_epochs), slope_influence=slope_psi, curve_influence=curve_psi)


def first_stage_f_statistic(X: np.ndarray, Z: np.ndarray, t: np.ndarray) -> float:
    """Linear first-stage F statistic of the instruments (regression of t on [1, X, Z] against [1, X])."""
    n = t.shape[0]
    restricted = np.hstack([np.ones((n, 1)), X])
    full = np.hstack([restricted, Z])

    def rss(design: np.ndarray) -> float:
        coef, *_ = np.linalg.lstsq(design, t, rcond=None)
        return float(np.sum((t - design @ coef) ** 2))

    q, dof = Z.shape[1], n - full.shape[1]
    rss_full = rss(full)
    if dof <= 0 or rss_full <= 0:
        return float("inf")
    return ((rss(restricted) - rss_full) / q) / (rss_full / dof)


SIEVE_DETAIL = ("sieve sandwich: the response network's last hidden layer held fixed as a basis, its output weights "
                "a 2SLS fit on the basis averaged over first-stage draws, plus the averaging over rows; the hidden "
                "layers, the first stage and the training noise are treated as known")


def _neural_iv(data: PreparedData, *, seed: int, options: dict[str, Any], balance_weight: float) -> MethodOutput:
    n_boot = int(options.get("n_boot", 0))
    settings = _settings(options, balance_weight)
    device = options.get("device", "auto")
    if data.n < 50:
        raise CausalInputError(f"Neural IV needs at least 50 rows; {data.n} are left after dropping missing values.")
    warnings: list[str] = []
    f_stat = first_stage_f_statistic(data.X, data.Z, data.t)
    if f_stat < 10:
        warnings.append(
            f"Weak instruments: the linear first-stage F statistic is {f_stat:.1f} (< 10); the estimate may be "
            "biased towards the confounded regression."
        )
    grid = np.linspace(*np.quantile(data.t, [0.025, 0.975]), GRID_POINTS)
    main = fit_response_function(data.X, data.Z, data.t, data.y, seed=seed, settings=settings, device=device, grid=grid,
                                 influence=True)
    sieve_se = influence_se(main.slope_influence)
    curve_sieve_se = np.array([influence_se(main.curve_influence[:, g]) for g in range(grid.size)])
    if n_boot == 0:
        inference = InfluenceFunction(main.slope_influence, method="sandwich", detail=SIEVE_DETAIL)
        curve_se = curve_sieve_se
        slopes_arr = np.zeros(0)
        warnings.append("The standard error is the approximate sieve sandwich (network layers treated as known); "
                        "set n_boot (20 or more) for a bootstrap that refits both networks.")
    else:
        def refit(task: tuple[int, np.ndarray]) -> tuple[float, np.ndarray]:
            b, rows = task
            replicate = fit_response_function(data.X[rows], data.Z[rows], data.t[rows], data.y[rows],
                                              seed=seed * 7919 + b + 1, settings=settings, device=device, grid=grid)
            return replicate.average_derivative, replicate.curve

        index_sets = draw_index_sets(data.n, n_boot, seed=seed)
        replicates = map_replicates(refit, list(enumerate(index_sets)))
        inference = summarise_replicates(main.average_derivative, [None if r is None else r[0] for r in replicates],
                                         interval_kind="normal",
                                         detail=f"nonparametric bootstrap, {n_boot} refits of both stages")
        kept = [r for r in replicates if r is not None and np.isfinite(r[0])]
        slopes_arr = np.asarray([r[0] for r in kept], dtype=float)
        curves_arr = np.asarray([r[1] for r in kept], dtype=float).reshape(len(kept), grid.size)
        curve_se = curves_arr.std(axis=0, ddof=1) if len(kept) >= 2 else np.full(grid.size, np.nan)
    response_curve = pd.DataFrame({
        "treatment": grid,
        "response": main.curve,
        "ci_low": main.curve - Z_95 * curve_se,
        "ci_high": main.curve + Z_95 * curve_se,
    })
    diagnostics = {
        "response_curve": response_curve,
        "estimand_detail": "average derivative mean_i dh/dt(t_i, x_i) of the structural response, in outcome units "
                           "per unit of the treatment",
        "first_stage_f": f_stat,
        "first_stage_log_likelihood": main.first_stage_log_likelihood,
        "epochs_trained": {"first_stage": main.epochs[0], "response": main.epochs[1]},
        "sieve_std_error": sieve_se,
        "bootstrap_estimates": slopes_arr,
        "device": str(torch_device(device, method="deep_iv" if balance_weight == 0 else "cb_iv")),
    }
    return MethodOutput(estimate=main.average_derivative, inference=inference, diagnostics=diagnostics,
                        warnings=tuple(warnings))


#: What DeepIV and CB-IV share in the registry.
_NEURAL_IV = dict(
    family="Instrumental variables",
    required_roles=("instruments",),
    estimands=("ATE",),
    treatment_kind="continuous",
    limits=MethodLimits(min_rows_per_arm=10, covariate_roles=("confounders", "instruments"),
                        high_dimensional="trains neural networks with weight decay, so it still runs, but nothing "
                                         "guarantees identification."),
    needs_torch=True,
    cheap_test_options=(("n_boot", 0), ("epochs", 150), ("hidden_units", 16), ("n_draws", 4), ("batch_size", 500)),
)


@register(
    id="deep_iv",
    label="DeepIV (neural IV)",
    summary="Mixture-density first stage for T | Z, X, then a response network trained on sampled treatments; "
            "reports the average derivative dh/dt and the average response curve.",
    reference="Hartford, Lewis, Leyton-Brown & Taddy (2017), Deep IV, ICML.",
    options=_COMMON_OPTIONS,
    **_NEURAL_IV,
    order=150,
)
def deep_iv(data: PreparedData, *, estimand: str, seed: int, **options: Any) -> MethodOutput:
    """DeepIV; see the module docstring for the estimand and the bootstrap standard error."""
    return _neural_iv(data, seed=seed, options=options, balance_weight=0.0)


@register(
    id="cb_iv",
    label="CB-IV (confounder-balanced neural IV)",
    summary="Neural IV whose response network sees X through a representation balanced against the "
            "treatment (HSIC penalty); reports the average derivative and the average response curve.",
    reference="Wu, Kuang, Li et al. (2022), Instrumental Variable Regression with Confounder Balancing, ICML.",
    options=_CB_OPTIONS,
    **_NEURAL_IV,
    order=160,
)
def cb_iv(data: PreparedData, *, estimand: str, seed: int, **options: Any) -> MethodOutput:
    """CB-IV; see the module docstring for the estimand and the bootstrap standard error."""
    balance = float(options.get("balance_weight", 0.1))  # declared greater than 0 (0 is deep_iv)
    return _neural_iv(data, seed=seed, options=options, balance_weight=balance)
