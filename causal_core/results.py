"""Frozen result objects returned by the engine."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .inference import Inference, InferenceInput

__all__ = ["EstimateResult", "MethodOutput"]


@dataclass(frozen=True)
class MethodOutput:
    """What an estimator function computes; :func:`causal_core.estimate` adds the bookkeeping.

    ``inference`` is the estimator's inference input, one of: an
    :class:`~causal_core.inference.InfluenceFunction`, a
    :class:`~causal_core.inference.Bootstrap` (a refit function to resample),
    or a ready :class:`~causal_core.inference.Inference` from a closed-form
    variance (:func:`~causal_core.inference.analytic_inference`). The
    standard error, interval and p-value are then computed in one place,
    :func:`causal_core.inference.resolve_inference`.
    """

    estimate: float
    inference: InferenceInput
    weights: np.ndarray | None = None
    unit_effects: np.ndarray | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    n_used: int | None = None


@dataclass(frozen=True)
class EstimateResult:
    """One causal effect estimate with its uncertainty and diagnostics.

    Attributes
    ----------
    estimate : float
        Point estimate of the effect on the outcome scale.
    std_error : float
        Standard error (how it was computed: ``inference.method``).
    ci_low, ci_high : float
        95% confidence interval.
    estimand : str
        ``"ATE"``, ``"ATT"``, ``"ATC"`` (or a method-specific estimand such as ``"LATE"``).
    method : str
        Method id from :func:`causal_core.list_methods`.
    n_used : int
        Rows used after dropping rows with missing values in the used columns.
    weights : ndarray or None
        One weight per used row (matching or weighting methods), else ``None``.
    unit_effects : ndarray or None
        One estimated individual effect per used row, where the method gives them.
    diagnostics : dict
        Method-specific numbers (effective sample size, convergence, selected variables...).
    warnings : tuple of str
        Soft problems worth the analyst's attention.
    seconds : float
        Wall-clock time of the estimation.
    inference : Inference or None
        Standard error, interval and p-value with how they were computed (``inference.method``,
        bootstrap replicates); :meth:`conf_int` and :attr:`p_value` follow it.
    """

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    estimand: str
    method: str
    n_used: int
    weights: np.ndarray | None = None
    unit_effects: np.ndarray | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    inference: Inference | None = None

    def _inference(self) -> Inference:
        if self.inference is not None:
            return self.inference
        return Inference(estimate=self.estimate, std_error=self.std_error, ci_low=self.ci_low, ci_high=self.ci_high,
                         method="analytic")

    def conf_int(self, level: float = 0.95) -> tuple[float, float]:
        """Interval at ``level`` as the inference method gives it (percentile bootstrap quantiles, else normal)."""
        return self._inference().conf_int(level)

    @property
    def p_value(self) -> float:
        """Two-sided p-value of 'no effect' (normal approximation, or t with degrees of freedom)."""
        return self._inference().p_value

    @property
    def effective_sample_size(self) -> float | None:
        """Kish's effective sample size of the weights, (sum w)^2 / sum w^2, or None."""
        if self.weights is None:
            return None
        return kish_ess(self.weights)

    def summary(self) -> dict[str, Any]:
        """One flat row for a comparison table."""
        return {
            "method": self.method,
            "estimand": self.estimand,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "n_used": self.n_used,
            "ess": self.effective_sample_size,
            "seconds": self.seconds,
            "warnings": " | ".join(self.warnings),
        }


def kish_ess(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of non-negative weights."""
    w = np.asarray(weights, dtype=float)
    denominator = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / denominator) if denominator > 0 else 0.0
