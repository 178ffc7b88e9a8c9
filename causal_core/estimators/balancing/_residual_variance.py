"""The plug-in variance of a balancing-weights estimate with an outcome model (Athey, Imbens & Wager 2018).

Shared by approximate residual balancing and differentiated confounder
balancing: each reweighted arm contributes ``sum gamma_i^2 (Y_i - m(X_i))^2``
(``gamma`` its weights, summing to 1; ``m`` its outcome model) and the target
sample adds its own sampling variance: ``var(Y - m_0(X)) / n_t`` over the
treated for the ATT, ``var(Y - m_1(X)) / n_c`` over the controls for the ATC,
``var(m_1(X) - m_0(X)) / n`` over everyone for the ATE.
"""
from __future__ import annotations

import numpy as np

__all__ = ["residual_balancing_variance"]


def residual_balancing_variance(y: np.ndarray, treated: np.ndarray, estimand: str,
                                arms: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
    """Plug-in variance from ``arms``: ``{"treated" | "control": (gamma, predicted)}`` for each reweighted arm.

    ``gamma`` holds the arm's weights (in the arm's row order, summing to 1) and
    ``predicted`` the arm's outcome model at every row. The ATT needs the
    control arm, the ATC the treated arm, the ATE both.
    """
    masks = {"treated": treated, "control": ~treated}
    variance = sum(float(np.sum(gamma**2 * (y[masks[arm]] - predicted[masks[arm]]) ** 2))
                   for arm, (gamma, predicted) in arms.items())
    if estimand == "ATE":
        return variance + float(np.var(arms["treated"][1] - arms["control"][1], ddof=1) / y.size)
    target_rows = treated if estimand == "ATT" else ~treated
    other_model = arms["control" if estimand == "ATT" else "treated"][1]
    observed = y[target_rows] - other_model[target_rows]
    return variance + float(observed.var(ddof=1) / observed.size)
