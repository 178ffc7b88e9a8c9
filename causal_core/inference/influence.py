"""Standard error and interval from an estimator's influence function."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causal_core.inference._types import Inference
from causal_core.inference.analytic import analytic_inference

__all__ = ["InfluenceFunction", "influence_se", "influence_inference"]


def influence_se(influence: np.ndarray) -> float:
    """Standard error of a mean-zero influence function: sqrt(var(psi) / n)."""
    psi = np.asarray(influence, dtype=float)
    n = psi.shape[0]
    return float(np.sqrt(np.sum((psi - psi.mean()) ** 2) / n / n))


def influence_inference(estimate: float, influence: np.ndarray, *, method: str = "influence_function",
                        detail: str = "") -> Inference:
    """Normal interval ``estimate +/- z * influence_se(influence)``; ``method`` may be ``"sandwich"``."""
    return analytic_inference(estimate, influence_se(influence), method=method, detail=detail)


@dataclass(frozen=True)
class InfluenceFunction:
    """An estimator's inference input: one influence value per used row."""

    values: np.ndarray
    method: str = "influence_function"
    detail: str = ""
