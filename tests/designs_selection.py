"""Simulated designs where the outcome is recorded for some rows only, with a known effect.

``outcome_selection_data`` is the tutorial's survey: income (the outcome) is
answered more often by people who earn more, so high-income non-graduates
answer and low-income graduates do not. ``mar_selection_data`` records the
outcome at random given covariates and treatment. ``DESIGNS`` maps the
selection methods to contract-test designs ``function(seed) -> (df, roles,
true_effect, options)``; ``bench/selection.py`` reuses the generators.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

import causal_core as cc

SHADOW_ROLES = cc.Roles(treatment="graduate", outcome="income", confounders=["ability", "contact"],
                        selection="answered", shadow="parent_income")
IPSW_ROLES = cc.Roles(treatment="graduate", outcome="income", confounders=["ability", "contact"],
                      selection="answered")
HECKMAN_ROLES = cc.Roles(treatment="graduate", outcome="income", confounders=["ability", "parent_income"],
                         instruments=["contact"], selection="answered")
ERRORS = ("normal", "skewed", "uniform")  # the main benchmark's shapes; "bimodal" is also available
#: Half the distance between the two modes of the "bimodal" errors (each mode has SD sqrt(1 - m^2)).
BIMODAL_MODE = 0.95


def _errors(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Mean-zero, unit-variance outcome errors of the given shape."""
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "skewed":
        return (rng.chisquare(1, n) - 1.0) / np.sqrt(2.0)
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3), np.sqrt(3), n)
    if kind == "bimodal":
        m = BIMODAL_MODE
        return rng.choice([-m, m], n) + rng.normal(scale=np.sqrt(1 - m * m), size=n)
    raise ValueError(f"unknown error kind {kind!r}")


def outcome_selection_data(n: int = 2000, seed: int = 0, effect: float = 1.0, gamma: float = 1.0,
                           errors: str = "skewed", shadow_strength: float = 1.0,
                           shadow_on_selection: float = 0.0, contact_strength: float = 0.8,
                           graduate_on_answering: float = -1.5) -> tuple[pd.DataFrame, float]:
    """Income answered with log odds rising by ``gamma`` per unit of income (MNAR).

    ``graduate ~ Bernoulli(expit(0.6 ability))``;
    ``income = 1 + effect * graduate + 0.5 ability + shadow_strength * parent_income + 1.5 e`` with
    ``e`` of the shape ``errors`` (mean 0, variance 1; "skewed" is a centred chi-square(1), skewness 2.8;
    "bimodal" an equal mixture of N(+-0.95, 0.31^2));
    ``answered ~ Bernoulli(expit(0.3 + contact_strength * contact + graduate_on_answering * graduate
    + gamma (income - 1.5)))`` with defaults 0.8 and -1.5.
    ``parent_income`` is a shadow variable (it moves income, not answering
    given income); ``contact`` (call attempts) moves answering only, which
    also makes it Heckman's exclusion variable (weak at ``contact_strength=0.1``, where Heckman's
    correction rests on its normality assumption). ``shadow_on_selection`` adds
    ``shadow_on_selection * (parent_income^2 - 1)`` to the answering index,
    breaking the shadow-variable assumption. Graduates answer less, so the
    recorded graduates are the high earners, and so are the recorded non-graduates.
    """
    rng = np.random.default_rng(seed)
    ability, contact, parent_income = rng.normal(size=(3, n))
    graduate = rng.binomial(1, expit(0.6 * ability))
    income = 1.0 + effect * graduate + 0.5 * ability + shadow_strength * parent_income + 1.5 * _errors(rng, errors, n)
    answered = rng.binomial(1, expit(0.3 + contact_strength * contact + graduate_on_answering * graduate
                                      + gamma * (income - 1.5)
                                      + shadow_on_selection * (parent_income**2 - 1)))
    frame = pd.DataFrame({
        "ability": ability, "contact": contact, "parent_income": parent_income, "graduate": graduate,
        "answered": answered, "income": np.where(answered == 1, income, np.nan),
    })
    return frame, effect


def mar_selection_data(n: int = 2000, seed: int = 0, effect: float = 1.0) -> tuple[pd.DataFrame, float]:
    """Income answered depending on ability, contact and graduation only (MAR): IPSW's design."""
    rng = np.random.default_rng(seed)
    ability, contact, parent_income = rng.normal(size=(3, n))
    graduate = rng.binomial(1, expit(0.6 * ability))
    income = 1.0 + effect * graduate + 0.5 * ability + parent_income + rng.normal(size=n)
    answered = rng.binomial(1, expit(0.3 + 0.8 * contact - 0.8 * graduate + 1.0 * ability))
    frame = pd.DataFrame({
        "ability": ability, "contact": contact, "parent_income": parent_income, "graduate": graduate,
        "answered": answered, "income": np.where(answered == 1, income, np.nan),
    })
    return frame, effect


def _ipsw_design(seed: int):
    df, truth = mar_selection_data(n=2000, seed=seed)
    return df, IPSW_ROLES, truth, {}


def _shadow_design(seed: int):
    df, truth = outcome_selection_data(n=2000, seed=seed)
    return df, SHADOW_ROLES, truth, {}


DESIGNS = {"ipsw": _ipsw_design, "shadow_variable": _shadow_design}
