"""Every simulated design with a known truth, for tests, benchmarks and the sample data.

Designs with a known effect
---------------------------
Simulated designs with a known effect, for tests, benchmarks and the sample data.

Each function returns ``(df, truth)`` where ``truth`` holds the population
ATE/ATT/ATC (and the sample versions from the simulated unit effects).

Mechanism learning
------------------
A mechanism-learning simulation: a hidden confounder links the label to a spurious feature.

The design follows the synthetic example of Mao & Little (mechanism learning):

* cause/label ``Y`` (0/1) and a hidden binary confounder ``U``;
* mechanism ``Z = Y + N(0, 0.6²)`` — the only path from ``Y`` to the features;
* features ``x1 = Z + N(0, 0.4²)`` (carries the causal signal) and
  ``x2 = 1.2 (2U - 1) + 0.4 Z + N(0, 0.5²)`` (mostly driven by the confounder).

In the confounded (training) population ``P(Y = U) = confounding`` (0.9 by
default), so ``x2`` predicts the label well; in the non-confounded (deployment)
population ``U`` is independent of ``Y`` and ``x2`` says almost nothing. A
classifier trained naively leans on ``x2`` and loses accuracy out of sample;
one trained on front-door deconfounded samples does not.

Mixtures of discrete sources
----------------------------
Simulated data with known sources: a hidden discrete confounder with proxies, and k-coin repeated trials.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError, plain

__all__ = [
    "linear_confounded",
    "heterogeneous_confounded",
    "kang_schafer",
    "outcome_dependent_selection",
    "front_door_confounded",
    "SELECTION_ERRORS",
    "load_mechanism_sample",
    "mechanism_learning_data",
    "mechanism_learning_sample_frame",
    "MECHANISM_SAMPLE_ROLES",
    "LATENT_CONFOUNDER_TRUTH",
    "latent_confounder_frame",
    "repeated_measurements_frame",
    "latent_confounder_sample",
    "repeated_measurements_sample",
    "write_sample_files",
]


# -------------------- Designs with a known effect

#: Shapes of the outcome errors of :func:`outcome_dependent_selection`.
SELECTION_ERRORS = ("normal", "skewed", "uniform", "bimodal")
#: Half the distance between the two modes of the "bimodal" errors (each mode has SD sqrt(1 - m^2)).
BIMODAL_MODE = 0.95
#: Mechanism models of :func:`front_door_confounded`.
FRONT_DOOR_KINDS = ("discrete", "linear", "nonparametric")


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



def _constant_truth(effect: float) -> dict[str, float]:
    """Population and sample ATE/ATT/ATC of a design whose expected unit effect is the same for every unit."""
    value = float(effect)
    return {name: value for name in ("ATE", "ATT", "ATC", "SATE", "SATT", "SATC")}


def _selection_errors(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Mean-zero, unit-variance outcome errors of the given shape."""
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "skewed":
        return (rng.chisquare(1, n) - 1.0) / np.sqrt(2.0)
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3), np.sqrt(3), n)
    m = BIMODAL_MODE
    return rng.choice([-m, m], n) + rng.normal(scale=np.sqrt(1 - m * m), size=n)


def outcome_dependent_selection(
    n: int = 2000,
    seed: int = 0,
    effect: float = 1.0,
    *,
    gamma: float = 1.0,
    errors: str = "skewed",
    shadow_strength: float = 1.0,
    shadow_on_selection: float = 0.0,
    contact_strength: float = 0.8,
    graduate_on_answering: float = -1.5,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Income survey where income is recorded only for those who answer, and answering depends on income.

    The tutorial's story: the effect of graduating on income, where high-income
    non-graduates answer and low-income graduates do not, so the recorded
    graduates are the high earners and complete-case analysis is biased.

    ``graduate ~ Bernoulli(expit(0.6 ability))``;
    ``income = 1 + effect * graduate + 0.5 ability + shadow_strength * parent_income + 1.5 e`` with
    ``e`` of the shape ``errors`` (mean 0, variance 1; "skewed" is a centred chi-square(1), skewness 2.8;
    "bimodal" an equal mixture of N(+-0.95, 0.31^2));
    ``answered ~ Bernoulli(expit(0.3 + contact_strength * contact + graduate_on_answering * graduate
    + gamma (income - 1.5) + shadow_on_selection (parent_income^2 - 1)))``.

    ``parent_income`` is a shadow variable: it moves income but not answering
    given income (unless ``shadow_on_selection`` is non-zero, which breaks that
    assumption). ``contact`` (call attempts) moves answering only: Heckman's
    exclusion-restriction variable (weak at ``contact_strength=0.1``).

    Parameters
    ----------
    n, seed : int
        Number of rows and seed of the random generator.
    effect : float
        The constant effect of ``graduate`` on ``income``.
    gamma, errors, shadow_strength, shadow_on_selection, contact_strength, graduate_on_answering
        The design's coefficients and error shape, as in the formulas above;
        ``errors`` is one of :data:`SELECTION_ERRORS`.

    Returns
    -------
    df : DataFrame
        Columns ``ability``, ``contact``, ``parent_income``, ``graduate`` (0/1),
        ``answered`` (0/1) and ``income`` (missing where ``answered`` is 0).
    truth : dict
        ATE/ATT/ATC and SATE/SATT/SATC, all equal to ``effect``.
    """
    from scipy.special import expit

    if errors not in SELECTION_ERRORS:
        raise CausalInputError(f"The 'errors' option must be one of {list(SELECTION_ERRORS)}; got {plain(errors)!r}.")
    rng = np.random.default_rng(seed)
    ability, contact, parent_income = rng.normal(size=(3, n))
    graduate = rng.binomial(1, expit(0.6 * ability))
    income = (1.0 + effect * graduate + 0.5 * ability + shadow_strength * parent_income
              + 1.5 * _selection_errors(rng, errors, n))
    answered = rng.binomial(1, expit(0.3 + contact_strength * contact + graduate_on_answering * graduate
                                      + gamma * (income - 1.5)
                                      + shadow_on_selection * (parent_income**2 - 1)))
    frame = pd.DataFrame({
        "ability": ability, "contact": contact, "parent_income": parent_income, "graduate": graduate,
        "answered": answered, "income": np.where(answered == 1, income, np.nan),
    })
    return frame, _constant_truth(effect)


def front_door_confounded(
    n: int = 2000, seed: int = 0, *, kind: str = "discrete", with_covariate: bool = True
) -> tuple[pd.DataFrame, dict[str, float]]:
    """A hidden U drives treatment and outcome; the treatment acts on the outcome only through ``m``.

    ``treat ~ Bernoulli(expit(1.5 u + 0.5 x1))``, with ``u`` hidden (not in the
    returned table) and ``x1`` observed (left out, with its terms, when
    ``with_covariate`` is False). ``kind``:

    * ``"discrete"``: ``m ~ Bernoulli(0.2 + 0.6 treat)``, ``y = 1 + 2 m + 2 u + 0.5 x1 + e``; ATE 1.2.
    * ``"linear"``: ``m = 0.8 treat + 0.5 x1 + v``, ``y = 1.5 m + 2 u + 0.5 x1 + e``; ATE 1.2.
    * ``"nonparametric"``: ``m = treat + v``, ``y = m + 0.5 m^2 + 2 u + 0.5 x1 + e``; ATE 1 + 0.5 = 1.5.

    The naive contrast is biased upward by the hidden ``u``; adjusting for ``x1``
    does not remove that bias, front-door adjustment through ``m`` does.

    Parameters
    ----------
    n, seed : int
        Number of rows and seed of the random generator.
    kind : {"discrete", "linear", "nonparametric"}
        How the mechanism and the outcome are generated.
    with_covariate : bool
        Whether the observed covariate ``x1`` exists (first column).

    Returns
    -------
    df : DataFrame
        Columns ``x1`` (with ``with_covariate``), ``treat`` (0/1), ``m`` and ``y``.
    truth : dict
        ATE/ATT/ATC and SATE/SATT/SATC. The mechanism does not depend on ``u``
        or ``x1``, so every unit's expected effect is the ATE and all six are equal.
    """
    from scipy.special import expit

    if kind not in FRONT_DOOR_KINDS:
        raise CausalInputError(f"The 'kind' option must be one of {list(FRONT_DOOR_KINDS)}; got {plain(kind)!r}.")
    rng = np.random.default_rng(seed)
    u, v, e, x1 = rng.normal(size=(4, n))
    shift = x1 if with_covariate else np.zeros(n)
    treat = rng.binomial(1, expit(1.5 * u + 0.5 * shift), n)
    if kind == "discrete":
        m = rng.binomial(1, 0.2 + 0.6 * treat)
        y, effect = 1.0 + 2.0 * m + 2.0 * u + 0.5 * shift + e, 1.2
    elif kind == "linear":
        m = 0.8 * treat + 0.5 * shift + v
        y, effect = 1.5 * m + 2.0 * u + 0.5 * shift + e, 1.2
    else:
        m = treat + v
        y, effect = m + 0.5 * m**2 + 2.0 * u + 0.5 * shift + e, 1.5
    df = pd.DataFrame({"treat": treat, "m": m, "y": y})
    if with_covariate:
        df.insert(0, "x1", x1)
    return df, _constant_truth(effect)


# -------------------- Mechanism learning

#: Suggested roles for :func:`causal_core.front_door_resample` on this design.
MECHANISM_SAMPLE_ROLES = {"cause": "y", "mechanism": ["z"], "features": ["x1", "x2"]}


def mechanism_learning_data(
    n: int = 2000,
    seed: int = 0,
    *,
    confounding: float = 0.9,
    prevalence: float = 0.5,
) -> pd.DataFrame:
    """Simulate the design described in the module docstring.

    Parameters
    ----------
    n : int
        Rows.
    seed : int
        Seed of the random generator.
    confounding : float
        P(U = Y): 0.5 means no confounding (the deployment population), 0.9 strong.
    prevalence : float
        P(Y = 1).

    Returns
    -------
    DataFrame
        Columns ``y`` (label/cause, 0/1), ``z`` (mechanism), ``x1``, ``x2`` (features).
        The confounder ``U`` is not returned: it is hidden.
    """
    rng = np.random.default_rng(seed)
    y = rng.binomial(1, prevalence, n)
    u = np.where(rng.random(n) < confounding, y, 1 - y)
    z = y + rng.normal(0, 0.6, n)
    x1 = z + rng.normal(0, 0.4, n)
    x2 = 1.2 * (2 * u - 1) + 0.4 * z + rng.normal(0, 0.5, n)
    return pd.DataFrame({"y": y, "z": z, "x1": x1, "x2": x2})


def mechanism_learning_sample_frame() -> pd.DataFrame:
    """The bundled sample ``sample_data/mechanism_learning.csv``.

    2,000 confounded training rows (``split == "train"``, P(U = Y) = 0.9) and
    2,000 non-confounded rows (``split == "test"``, P(U = Y) = 0.5) from the same
    mechanisms, so the app can train on one and judge on the other.
    """
    train = mechanism_learning_data(2000, seed=2024, confounding=0.9).assign(split="train")
    test = mechanism_learning_data(2000, seed=2025, confounding=0.5).assign(split="test")
    return pd.concat([train, test], ignore_index=True).round(6)


#: Where the bundled copy of :func:`mechanism_learning_sample_frame` lives.
SAMPLE_PATH = Path(__file__).resolve().parents[2] / "sample_data" / "mechanism_learning.csv"


def load_mechanism_sample() -> pd.DataFrame:
    """The bundled sample from ``sample_data/mechanism_learning.csv`` (regenerated if the file is absent)."""
    if SAMPLE_PATH.exists():
        return pd.read_csv(SAMPLE_PATH)
    return mechanism_learning_sample_frame()


# -------------------- Mixtures of discrete sources

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
