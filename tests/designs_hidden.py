"""Simulated designs with a hidden confounder or hidden selection, where the naive contrast is far off.

Each generator returns ``(df, truth)``; ``DESIGNS`` maps the method ids of the
instrumental-variable, Heckman and front-door methods to contract-test designs
``function(seed) -> (df, roles, true_effect, options)``. The benchmark
``bench/hidden_confounding.py`` reuses the generators.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

import causal_core as cc
from causal_core.datasets import simulate

IV_ROLES = cc.Roles(treatment="treat", outcome="y", instruments=["z"], confounders=["x1"])
HECKMAN_ROLES = cc.Roles(treatment="treat", outcome="y", exclusions=["z"], confounders=["x1"], selection="observed")
FRONT_DOOR_ROLES = cc.Roles(treatment="treat", outcome="y", mechanisms=["m"])


def iv_data(n: int = 1000, seed: int = 0, effect: float = 1.5, binary_treatment: bool = False,
            first_stage: float = 0.8) -> tuple[pd.DataFrame, float]:
    """Hidden U drives treatment and outcome; a 0/1 instrument z shifts treatment only.

    ``treat = first_stage * z + 0.5 x1 + u + v`` (or its indicator above 0.4
    when ``binary_treatment``); ``y = 1 + effect * treat + 0.5 x1 + 2 u + e``.
    OLS is biased upward by about 0.8 (continuous treatment).
    """
    rng = np.random.default_rng(seed)
    u, v, e, x1 = rng.normal(size=(4, n))
    z = rng.binomial(1, 0.5, n)
    latent = first_stage * z + 0.5 * x1 + u + v
    treat = (latent > 0.4).astype(int) if binary_treatment else latent
    y = 1.0 + effect * treat + 0.5 * x1 + 2.0 * u + e
    return pd.DataFrame({"x1": x1, "z": z, "treat": treat, "y": y}), effect


def selection_data(n: int = 2000, seed: int = 0, effect: float = 1.0, rho: float = 0.8,
                   sigma: float = 1.0) -> tuple[pd.DataFrame, float]:
    """Outcome seen only when a latent index is positive; selection errors correlate with outcome errors.

    ``observed = 1[0.2 + 0.5 x1 - 1.2 treat + z + u > 0]``, ``y = 1 + effect * treat + 0.5 x1 + e``,
    ``corr(u, e) = rho``; treated units are selected less often, so the ones who
    are have high ``u`` and hence high ``e``: OLS on selected rows is biased upward.
    """
    rng = np.random.default_rng(seed)
    x1, z = rng.normal(size=(2, n))
    treat = rng.binomial(1, expit(0.5 * x1), n)
    u = rng.normal(size=n)
    e = sigma * (rho * u + np.sqrt(1 - rho**2) * rng.normal(size=n))
    observed = (0.2 + 0.5 * x1 - 1.2 * treat + z + u > 0).astype(int)
    y = 1.0 + effect * treat + 0.5 * x1 + e
    y = np.where(observed == 1, y, np.nan)
    return pd.DataFrame({"x1": x1, "z": z, "treat": treat, "observed": observed, "y": y}), effect


def front_door_data(n: int = 2000, seed: int = 0, kind: str = "discrete",
                    with_covariate: bool = False) -> tuple[pd.DataFrame, float]:
    """Hidden U drives treatment and outcome; treatment acts on the outcome only through m.

    :func:`causal_core.datasets.simulate.front_door_confounded` (``kind`` "discrete" or
    "linear": ATE 1.2; "nonparametric": 1.5), without the covariate x1 unless
    ``with_covariate``, with the ATE as a number.
    """
    frame, truth = simulate.front_door_confounded(n=n, seed=seed, kind=kind, with_covariate=with_covariate)
    return frame, truth["ATE"]


def _iv_design(seed: int):
    df, truth = iv_data(n=1500, seed=seed)
    return df, IV_ROLES, truth, {}


def _heckman_design(seed: int):
    df, truth = selection_data(n=2000, seed=seed)
    return df, HECKMAN_ROLES, truth, {}


def _front_door_design(seed: int):
    df, truth = front_door_data(n=2000, seed=seed, kind="discrete")
    return df, FRONT_DOOR_ROLES, truth, {}


DESIGNS = {
    "two_stage_least_squares": _iv_design,
    "heckman": _heckman_design,
    "front_door": _front_door_design,
}
