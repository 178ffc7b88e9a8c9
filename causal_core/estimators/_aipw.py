"""The augmented IPW (doubly robust) contrast and its influence function, shared by the AIPW-based methods.

Used by the doubly robust estimator, the DR-learner and TARNet's doubly
robust average; each supplies its own propensities and arm-wise outcome
predictions (cross-fitted or not).
"""
from __future__ import annotations

import numpy as np

from causal_core.core.errors import CausalInputError

__all__ = ["aipw_effect", "aipw_terms"]


def aipw_terms(
    y: np.ndarray, t: np.ndarray, ps: np.ndarray, mu1: np.ndarray, mu0: np.ndarray, estimand: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``(core, base)``: the estimate is ``sum core / sum base`` and the influence function
    ``(core - base * estimate) / mean(base)`` (``base`` is 1, T or 1 - T). Streamed passes sum them by partition."""
    if estimand == "ATE":
        return mu1 - mu0 + t * (y - mu1) / ps - (1 - t) * (y - mu0) / (1 - ps), np.ones_like(y)
    if estimand == "ATT":
        return t * (y - mu0) - (1 - t) * ps / (1 - ps) * (y - mu0), t.astype(float)
    if estimand == "ATC":
        return (1 - t) * (mu1 - y) + t * (1 - ps) / ps * (y - mu1), (1 - t).astype(float)
    raise CausalInputError(f"Estimand '{estimand}' is not one of ATE, ATT, ATC.")  # pragma: no cover


def aipw_effect(
    y: np.ndarray, t: np.ndarray, ps: np.ndarray, mu1: np.ndarray, mu0: np.ndarray, estimand: str
) -> tuple[float, np.ndarray]:
    """Doubly robust estimate and its influence function (one value per row)."""
    core, base = aipw_terms(y, t, ps, mu1, mu0, estimand)
    if estimand == "ATE":
        estimate = float(core.mean())
        return estimate, core - estimate
    estimate = float(core.sum() / base.sum())
    return estimate, (core - base * estimate) / base.mean()
