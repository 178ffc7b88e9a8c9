"""The augmented IPW (doubly robust) contrast and its influence function, shared by the AIPW-based methods.

Used by the doubly robust estimator, the DR-learner and TARNet's doubly
robust average; each supplies its own propensities and arm-wise outcome
predictions (cross-fitted or not).
"""
from __future__ import annotations

import numpy as np

from causal_core.core.errors import CausalInputError

__all__ = ["aipw_effect"]


def aipw_effect(
    y: np.ndarray, t: np.ndarray, ps: np.ndarray, mu1: np.ndarray, mu0: np.ndarray, estimand: str
) -> tuple[float, np.ndarray]:
    """Doubly robust estimate and its influence function (one value per row)."""
    if estimand == "ATE":
        phi = mu1 - mu0 + t * (y - mu1) / ps - (1 - t) * (y - mu0) / (1 - ps)
        estimate = float(phi.mean())
        return estimate, phi - estimate
    if estimand == "ATT":
        share = t.mean()
        core = t * (y - mu0) - (1 - t) * ps / (1 - ps) * (y - mu0)
        estimate = float(core.sum() / t.sum())
        return estimate, (core - t * estimate) / share
    if estimand == "ATC":
        share = 1 - t.mean()
        core = (1 - t) * (mu1 - y) + t * (1 - ps) / ps * (y - mu1)
        estimate = float(core.sum() / (1 - t).sum())
        return estimate, (core - (1 - t) * estimate) / share
    raise CausalInputError(f"Estimand '{estimand}' is not one of ATE, ATT, ATC.")  # pragma: no cover
