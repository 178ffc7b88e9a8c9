"""Simulated data with known sources: a hidden discrete confounder with proxies, and k-coin repeated trials."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LATENT_CONFOUNDER_TRUTH", "latent_confounder_frame", "repeated_measurements_frame",
           "latent_confounder_sample", "repeated_measurements_sample", "write_sample_files"]

#: The default hidden-confounder design: two sources.
LATENT_CONFOUNDER_TRUTH = {
    "weights": (0.6, 0.4),
    "proxy_probs": ((0.2, 0.8), (0.3, 0.85), (0.25, 0.75), (0.15, 0.7)),  # P(proxy_j = 1 | u) per u
    "treat_prob": (0.2, 0.8),
    "outcome_prob": ((0.1, 0.4), (0.5, 0.6)),  # P(Y = 1 | T = t, U = u): [u][t]
    "gaussian_mean": ((0.0, 1.5), (2.0, 4.0)),  # E[Y | T = t, U = u]: [u][t]
}


def latent_confounder_frame(
    n: int = 3000,
    seed: int = 0,
    *,
    n_proxies: int = 4,
    outcome: str = "binary",
    weights: tuple[float, ...] | None = None,
    proxy_probs: np.ndarray | None = None,
    treat_prob: tuple[float, ...] | None = None,
    outcome_prob: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict]:
    """A hidden discrete confounder U drives treatment, outcome and binary proxies.

    Parameters
    ----------
    n, seed : int
        Rows and seed.
    n_proxies : int
        Binary proxies (the default design cycles through four proxy profiles).
    outcome : {"binary", "gaussian"}
        Bernoulli outcome with ``outcome_prob[u][t]``, or Gaussian with mean
        ``gaussian_mean[u][t]`` and SD 1 (default design only).
    weights, proxy_probs, treat_prob, outcome_prob : optional
        Override the default two-source design (``proxy_probs`` is (n_proxies, k)
        with P(proxy = 1 | u); ``outcome_prob`` is (k, 2)).

    Returns
    -------
    df : DataFrame
        Columns ``treat``, ``outcome``, ``proxy1..proxyM`` (U is not included).
    truth : dict
        ``ATE``, ``naive`` (population difference of means), ``weights``,
        ``proxy_probs`` (k, M), ``treat_prob``, ``outcome_mean`` (k, 2) and the sample ``u``.
    """
    default = LATENT_CONFOUNDER_TRUTH
    w = np.asarray(weights if weights is not None else default["weights"], dtype=float)
    k = w.size
    if proxy_probs is None:
        profiles = np.asarray(default["proxy_probs"], dtype=float)
        proxy_probs = profiles[np.arange(n_proxies) % profiles.shape[0]]
    proxy_probs = np.asarray(proxy_probs, dtype=float)
    tau = np.asarray(treat_prob if treat_prob is not None else default["treat_prob"], dtype=float)
    if outcome == "binary":
        within = np.asarray(outcome_prob if outcome_prob is not None else default["outcome_prob"], dtype=float)
    else:
        within = np.asarray(default["gaussian_mean"], dtype=float)
    rng = np.random.default_rng(seed)
    u = rng.choice(k, size=n, p=w)
    proxies = (rng.random((n, proxy_probs.shape[0])) < proxy_probs[:, u].T).astype(int)
    t = (rng.random(n) < tau[u]).astype(int)
    mean = within[u, t]
    y = (rng.random(n) < mean).astype(int) if outcome == "binary" else mean + rng.standard_normal(n)
    df = pd.DataFrame({"treat": t, "outcome": y})
    for j in range(proxies.shape[1]):
        df[f"proxy{j + 1}"] = proxies[:, j]
    p_u_given_t = [(w * np.where(arm, tau, 1 - tau)) / np.sum(w * np.where(arm, tau, 1 - tau)) for arm in (0, 1)]
    truth = {
        "ATE": float(w @ (within[:, 1] - within[:, 0])),
        "naive": float(p_u_given_t[1] @ within[:, 1] - p_u_given_t[0] @ within[:, 0]),
        "weights": w,
        "proxy_probs": proxy_probs.T.copy(),
        "treat_prob": tau,
        "outcome_mean": within.copy(),
        "u": u,
    }
    return df, truth


def repeated_measurements_frame(
    n: int = 1000,
    seed: int = 0,
    *,
    trials: int = 6,
    weights: tuple[float, ...] = (0.35, 0.65),
    biases: tuple[float, ...] = (0.2, 0.7),
) -> tuple[pd.DataFrame, dict]:
    """k coins: each unit picks a source, then makes ``trials`` independent 0/1 measurements.

    Returns the frame (``trial_1..trial_m`` and their sum ``successes``) and the
    truth (``weights``, ``biases``, ``trials``, ``source`` per unit).
    """
    rng = np.random.default_rng(seed)
    w, p = np.asarray(weights, dtype=float), np.asarray(biases, dtype=float)
    source = rng.choice(w.size, size=n, p=w)
    outcomes = (rng.random((n, trials)) < p[source][:, None]).astype(int)
    df = pd.DataFrame(outcomes, columns=[f"trial_{i + 1}" for i in range(trials)])
    df["successes"] = outcomes.sum(axis=1)
    return df, {"weights": w, "biases": p, "trials": trials, "source": source}


#: Arguments of the bundled sample files (sample_data/latent_confounder.csv, repeated_measurements.csv).
LATENT_CONFOUNDER_SAMPLE = {"n": 3000, "seed": 2026}
REPEATED_MEASUREMENTS_SAMPLE = {"n": 1000, "seed": 2026, "trials": 6}


def latent_confounder_sample() -> tuple[pd.DataFrame, dict]:
    """The bundled hidden-confounder sample: ``latent_confounder_frame(n=3000, seed=2026)``."""
    return latent_confounder_frame(**LATENT_CONFOUNDER_SAMPLE)


def repeated_measurements_sample() -> tuple[pd.DataFrame, dict]:
    """The bundled k-coin sample: ``repeated_measurements_frame(n=1000, seed=2026, trials=6)``."""
    return repeated_measurements_frame(**REPEATED_MEASUREMENTS_SAMPLE)


def write_sample_files(directory) -> list[str]:
    """Write ``latent_confounder.csv`` and ``repeated_measurements.csv`` into ``directory``; return their paths."""
    from pathlib import Path

    directory = Path(directory)
    paths = []
    for name, frame in (("latent_confounder", latent_confounder_sample()[0]),
                        ("repeated_measurements", repeated_measurements_sample()[0])):
        path = directory / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths.append(str(path))
    return paths
