"""Simulated designs with a known effect, for tests, benchmarks and the sample data.

Each function returns ``(df, truth)`` where ``truth`` holds the population
ATE/ATT/ATC (and the sample versions from the simulated unit effects).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["linear_confounded", "heterogeneous_confounded", "kang_schafer"]


def _truth_from_units(unit_effects: np.ndarray, t: np.ndarray, population: dict[str, float]) -> dict[str, float]:
    truth = dict(population)
    truth["SATE"] = float(unit_effects.mean())
    truth["SATT"] = float(unit_effects[t == 1].mean())
    truth["SATC"] = float(unit_effects[t == 0].mean())
    return truth


def linear_confounded(n: int = 2000, seed: int = 0, effect: float = 2.0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Constant effect, linear outcome, logistic propensity; one categorical covariate.

    Naive difference in means is biased upward (about +1.3 at effect 2).
    """
    from scipy.special import expit
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    x4 = rng.binomial(1, 0.4, n)
    region = rng.choice(["north", "south", "west"], size=n, p=[0.5, 0.3, 0.2])
    region_shift = pd.Series(region).map({"north": 0.0, "south": 0.5, "west": -0.5}).to_numpy()
    p = expit(-0.3 + 0.8 * x1 - 0.5 * x2 + 0.4 * x4 + region_shift)
    t = rng.binomial(1, p)
    y = 1.0 + effect * t + 1.5 * x1 + 1.0 * x2 - 0.5 * x3 + 0.8 * x4 + 2 * region_shift + rng.normal(size=n)
    df = pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "x4": x4, "region": region, "treat": t, "y": y})
    population = {"ATE": effect, "ATT": effect, "ATC": effect}
    return df, _truth_from_units(np.full(n, effect), t, population)


def heterogeneous_confounded(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Effect 1 + x1 varies with a confounder, so ATE, ATT and ATC differ.

    x1 ~ N(0,1), P(T=1|x) = expit(0.8 x1 - 0.4 x2); the population ATE is 1,
    the ATT and ATC are 1 + E[x1 | T=1] and 1 + E[x1 | T=0] (computed by
    numerical integration below).
    """
    from scipy.special import expit
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    p = expit(0.8 * x1 - 0.4 * x2)
    t = rng.binomial(1, p)
    tau = 1.0 + x1
    y = 0.5 + tau * t + x1 + 0.5 * x2 + 0.5 * x3 + rng.normal(size=n)
    df = pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "treat": t, "y": y})
    # population truth: E[x1 * p(x)] / E[p(x)] by a fixed large quadrature sample
    grid = np.random.default_rng(12345).normal(size=(2, 2_000_000))
    pg = expit(0.8 * grid[0] - 0.4 * grid[1])
    att = 1.0 + float(np.sum(grid[0] * pg) / np.sum(pg))
    atc = 1.0 + float(np.sum(grid[0] * (1 - pg)) / np.sum(1 - pg))
    population = {"ATE": 1.0, "ATT": att, "ATC": atc}
    return df, _truth_from_units(tau, t, population)


def kang_schafer(n: int = 1000, seed: int = 0, effect: float = 0.0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Kang & Schafer (2007) design: the analyst sees only nonlinear transforms of the true covariates.

    With the observed columns ``w1..w4`` both the propensity and outcome models
    are misspecified; with ``z1..z4`` (also returned) both are correct.
    """
    from scipy.special import expit
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    y0 = 210 + 27.4 * z[:, 0] + 13.7 * z[:, 1] + 13.7 * z[:, 2] + 13.7 * z[:, 3] + rng.normal(size=n)
    p = expit(-z[:, 0] + 0.5 * z[:, 1] - 0.25 * z[:, 2] - 0.1 * z[:, 3])
    t = rng.binomial(1, p)
    y = y0 + effect * t
    w1 = np.exp(z[:, 0] / 2)
    w2 = z[:, 1] / (1 + np.exp(z[:, 0])) + 10
    w3 = (z[:, 0] * z[:, 2] / 25 + 0.6) ** 3
    w4 = (z[:, 1] + z[:, 3] + 20) ** 2
    df = pd.DataFrame({"w1": w1, "w2": w2, "w3": w3, "w4": w4,
                       "z1": z[:, 0], "z2": z[:, 1], "z3": z[:, 2], "z4": z[:, 3], "treat": t, "y": y})
    population = {"ATE": effect, "ATT": effect, "ATC": effect}
    return df, _truth_from_units(np.full(n, effect), t, population)
