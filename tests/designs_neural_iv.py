"""Contract designs for the neural IV methods (``deep_iv``, ``cb_iv``) and the simulation the tests share.

:func:`nonlinear_iv_frame` has a hidden confounder ``u`` shifting both the
treatment and the outcome, an instrument ``z`` and an observed covariate ``x``;
the structural response is ``h(t, x) = 2 sin(t) + t + x`` so the average
derivative at the observed treatments is ``mean(2 cos(t_i)) + 1``. The contract
uses the linear version (``h = 1.5 t + x``, average derivative 1.5).

:func:`binary_instrument_frame` is a linear design on Card's scales: a binary
instrument, a treatment in "years" and a log-wage-like outcome with slope 0.1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import causal_core as cc

ROLES = cc.Roles(treatment="t", outcome="y", confounders=["x"], instruments=["z"])
FAST_OPTIONS = {"n_boot": 0, "epochs": 150, "hidden_units": 16, "n_draws": 4, "batch_size": 500}
LINEAR_EFFECT = 1.5
BINARY_INSTRUMENT_SLOPE = 0.1


def nonlinear_iv_frame(n: int, seed: int, *, linear: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Simulate the design; returns the table and the structural response h(t_i, x_i) of each row."""
    rng = np.random.default_rng(seed)
    x, z, u = rng.normal(size=(3, n))
    t = 1.2 * z + 0.5 * x + 0.8 * u + 0.4 * rng.normal(size=n)
    h = LINEAR_EFFECT * t + x if linear else 2 * np.sin(t) + t + x
    y = h + 1.5 * u + 0.3 * rng.normal(size=n)
    return pd.DataFrame({"x": x, "z": z, "t": t, "y": y}), h


def binary_instrument_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Linear IV with a binary instrument: t about 13 +/- 2.4 (years), y = 0.1 t + 0.2 x + 0.3 u + noise."""
    rng = np.random.default_rng(seed)
    x, u, v, e = rng.normal(size=(4, n))
    z = rng.binomial(1, 0.5, n).astype(float)
    t = 12.0 + 2.0 * z + 1.0 * x + 1.5 * u + v
    h = BINARY_INSTRUMENT_SLOPE * t + 0.2 * x
    y = 1.0 + h + 0.3 * u + 0.2 * e
    return pd.DataFrame({"x": x, "z": z, "t": t, "y": y}), h


def true_average_derivative(t: np.ndarray) -> float:
    """Average derivative of the nonlinear response at the given treatments."""
    return float(np.mean(2 * np.cos(t) + 1))


def _linear_design(seed: int):
    df, _ = nonlinear_iv_frame(800, seed, linear=True)
    return df, ROLES, LINEAR_EFFECT, dict(FAST_OPTIONS)


DESIGNS = {"deep_iv": _linear_design, "cb_iv": _linear_design}
