"""Qini (uplift) curves: how well a ranking by predicted effect finds the units who gain most.

Rows are sorted by decreasing score (ties keep their original order). After
the first ``k`` rows, with ``N_T, N_C`` treated and control rows and outcome
sums ``Y_T, Y_C`` among them, the Qini value is (Radcliffe 2007)::

    Q(k) = Y_T(k) - Y_C(k) * N_T(k) / N_C(k)        (Y_C term 0 while N_C(k) = 0)

the incremental outcome gained by treating the top ``k`` rows, scaled to the
treated count. The random-targeting baseline is the straight line from 0 to
``Q(n)``. Without randomisation the raw contrast is confounded; pass inverse
probability ``weights`` to weight every count and sum.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError

__all__ = ["qini_curve", "qini_coefficient"]


def qini_curve(scores: np.ndarray, y: np.ndarray, t: np.ndarray, *, weights: np.ndarray | None = None) -> pd.DataFrame:
    """The Qini curve of ``scores`` (predicted effects) on observed outcomes ``y`` and 0/1 treatment ``t``.

    Parameters
    ----------
    scores, y, t : array (n,)
    weights : array (n,), optional
        Non-negative row weights (e.g. inverse probability weights).

    Returns
    -------
    DataFrame
        ``n + 1`` rows from the empty targeting set: ``fraction`` (share of
        rows targeted), ``n_targeted``, ``qini`` and ``random`` (the baseline).
    """
    scores, y, t = (np.asarray(a, dtype=float) for a in (scores, y, t))
    if not scores.shape == y.shape == t.shape or scores.ndim != 1:
        raise CausalInputError("Qini curve: scores, outcomes and treatment must be 1-D arrays of the same length.")
    if scores.size == 0 or not set(np.unique(t)) <= {0.0, 1.0}:
        raise CausalInputError("Qini curve: the treatment must be coded 0/1 and the arrays must not be empty.")
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != y.shape or np.any(w < 0) or not np.all(np.isfinite(np.r_[scores, y, w])):
        raise CausalInputError("Qini curve: scores, outcomes and weights must be finite and weights non-negative.")
    order = np.argsort(-scores, kind="stable")
    t, y, w = t[order], y[order], w[order]
    n_treated = np.cumsum(w * t)
    n_control = np.cumsum(w * (1 - t))
    sum_treated = np.cumsum(w * t * y)
    sum_control = np.cumsum(w * (1 - t) * y)
    ratio = np.divide(n_treated, n_control, out=np.zeros_like(n_treated), where=n_control > 0)
    qini = np.r_[0.0, sum_treated - sum_control * ratio]
    n = scores.size
    fraction = np.arange(n + 1) / n
    return pd.DataFrame({"fraction": fraction, "n_targeted": np.arange(n + 1), "qini": qini,
                         "random": fraction * qini[-1]})


def qini_coefficient(curve: pd.DataFrame) -> float:
    """Area between the Qini curve and the random baseline (trapezoid rule over the targeted fraction)."""
    gap = (curve["qini"] - curve["random"]).to_numpy()
    fraction = curve["fraction"].to_numpy()
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(fraction)))
