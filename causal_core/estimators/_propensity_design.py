"""Propensity weighting maths shared by the weighting methods (IPW, D2VD, GMM subgroups, IPSW, shadow variable).

* :func:`arm_weights`: treated/control weights of an estimand and their
  derivatives in the propensity.
* :func:`logit_design` and :func:`logit_influence`: the regressors of the
  default logit propensity model and the influence function of its
  maximum-likelihood coefficients.
* :func:`hajek_ipw`: the Hajek contrast with its influence function, stacked
  with the logit's when the propensity came from it.
"""
from __future__ import annotations

import numpy as np

from causal_core.core.errors import CausalInputError

__all__ = ["arm_weights", "logit_design", "logit_influence", "hajek_ipw"]


def arm_weights(ps: np.ndarray, t: np.ndarray, estimand: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Treated-arm and control-arm weights for ``estimand`` and their derivatives in the propensity.

    Returns ``(w1, w0, dw1_de, dw0_de)``; ``w1`` is zero on control rows and
    ``w0`` zero on treated rows.
    """
    treated, control = t == 1, t == 0
    e = ps
    if estimand == "ATE":
        w1, d1 = 1 / e, -1 / e**2
        w0, d0 = 1 / (1 - e), 1 / (1 - e) ** 2
    elif estimand == "ATT":
        w1, d1 = np.ones_like(e), np.zeros_like(e)
        w0, d0 = e / (1 - e), 1 / (1 - e) ** 2
    elif estimand == "ATC":
        w1, d1 = (1 - e) / e, -1 / e**2
        w0, d0 = np.ones_like(e), np.zeros_like(e)
    else:  # pragma: no cover - the registry refuses other estimands
        raise CausalInputError(f"Estimand '{estimand}' is not one of ATE, ATT, ATC.")
    return w1 * treated, w0 * control, d1 * treated, d0 * control


def logit_design(X: np.ndarray) -> np.ndarray:
    """Intercept plus standardised covariates: the regressors of the default logit propensity model."""
    if X.shape[1] == 0:
        return np.ones((X.shape[0], 1))
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    return np.column_stack([np.ones(X.shape[0]), (X - X.mean(axis=0)) / sd])


def logit_influence(design: np.ndarray, target: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Influence function (n, k) of the maximum-likelihood logit coefficients on ``design``."""
    score = (target - fitted)[:, None] * design
    information = (design * (fitted * (1 - fitted))[:, None]).T @ design / design.shape[0]
    return score @ np.linalg.pinv(information)


def hajek_ipw(
    y: np.ndarray,
    t: np.ndarray,
    ps: np.ndarray,
    estimand: str,
    *,
    keep: np.ndarray | None = None,
    logit_X: np.ndarray | None = None,
    ps_raw: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Hajek IPW contrast and its influence function.

    Parameters
    ----------
    y, t : ndarray (n,)
        Outcome and 0/1 treatment.
    ps : ndarray (n,)
        Propensities used in the weights (possibly clipped).
    estimand : {"ATE", "ATT", "ATC"}
    keep : bool ndarray (n,), optional
        Rows kept (trimming); dropped rows get weight 0. The kept set is treated as fixed.
    logit_X : ndarray (n, k), optional
        Regressors of a logit propensity model fitted by maximum likelihood on
        all ``n`` rows. When given, the influence function includes the
        propensity-estimation term (stacked M-estimation).
    ps_raw : ndarray (n,), optional
        Fitted logit propensities before clipping (needed with ``logit_X``;
        defaults to ``ps``). Clipped rows do not move with the logit coefficients.

    Returns
    -------
    estimate : float
    influence : ndarray (n,)
        Influence function of the estimate (one value per row).
    weights : ndarray (n,)
        The weight of each row (zero where dropped).
    """
    keep = np.ones(t.shape[0], dtype=bool) if keep is None else keep
    w1, w0, d1, d0 = arm_weights(ps, t, estimand)
    w1, w0, d1, d0 = w1 * keep, w0 * keep, d1 * keep, d0 * keep
    mean_w1, mean_w0 = w1.mean(), w0.mean()
    mu1 = np.sum(w1 * y) / np.sum(w1)
    mu0 = np.sum(w0 * y) / np.sum(w0)
    psi1, psi0 = w1 * (y - mu1), w0 * (y - mu0)
    if logit_X is not None:
        raw = ps if ps_raw is None else ps_raw
        moves = (ps == raw).astype(float)  # clipped propensities do not respond to the coefficients
        de_dbeta = (moves * raw * (1 - raw))[:, None] * logit_X
        beta_influence = logit_influence(logit_X, t, raw)  # (n, k)
        h1 = np.mean((d1 * (y - mu1))[:, None] * de_dbeta, axis=0)
        h0 = np.mean((d0 * (y - mu0))[:, None] * de_dbeta, axis=0)
        psi1 = psi1 + beta_influence @ h1
        psi0 = psi0 + beta_influence @ h0
    influence = psi1 / mean_w1 - psi0 / mean_w0
    return float(mu1 - mu0), influence, w1 + w0
