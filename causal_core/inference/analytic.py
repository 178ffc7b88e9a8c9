"""Inference from a standard error the estimator computed in closed form (or by a sandwich/jackknife)."""
from __future__ import annotations

from causal_core.inference._types import Inference, interval

__all__ = ["analytic_inference"]


def analytic_inference(estimate: float, std_error: float, *, method: str = "analytic", detail: str = "",
                       dof: float | None = None) -> Inference:
    """Normal (or t with ``dof``) interval around ``estimate`` from a ready standard error.

    ``method`` is ``"analytic"`` (Abadie-Imbens, Neyman, Heckman/Greene, 2SLS
    covariance), ``"sandwich"`` or ``"jackknife"``.
    """
    estimate, std_error = float(estimate), float(std_error)
    low, high = interval(method, estimate, std_error, 0.95, dof=dof)
    return Inference(estimate=estimate, std_error=std_error, ci_low=low, ci_high=high, method=method,
                     detail=detail, dof=dof)
