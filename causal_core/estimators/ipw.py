"""Inverse probability weighting (Hajek-normalised) with an M-estimation standard error.

The weights for each estimand are the usual ones (WeightIt's conventions):

====== ======================= =========================
        treated row             control row
====== ======================= =========================
ATE    1 / e                   1 / (1 - e)
ATT    1                       e / (1 - e)
ATC    (1 - e) / e             1
====== ======================= =========================

and the effect is the difference of the weighted arm means (each arm's
weights normalised to sum to one, Hajek's form). The influence function
stacks the logit score with the two weighted-mean equations (Lunceford &
Davidian 2004), so the standard error accounts for the propensity being
estimated; with a user-supplied propensity model the score is treated as
known (usually a little conservative for the ATE).

The module-level functions are shared with :mod:`causal_core.estimators.d2vd`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..data import PreparedData
from ..errors import CausalInputError
from ..inference import InfluenceFunction
from ..models import MODEL_CHOICES, fit_propensity, overlap_warnings, resolve_model
from ..limits import MethodLimits
from ..registry import OptionSpec, register
from ..results import MethodOutput, ess_by_arm, kish_ess

__all__ = ["arm_weights", "logit_design", "hajek_ipw", "ipw"]


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
        score = (t - raw)[:, None] * logit_X
        information = (logit_X * (raw * (1 - raw))[:, None]).T @ logit_X / t.shape[0]
        beta_influence = score @ np.linalg.pinv(information)  # (n, k); symmetric information
        h1 = np.mean((d1 * (y - mu1))[:, None] * de_dbeta, axis=0)
        h0 = np.mean((d0 * (y - mu0))[:, None] * de_dbeta, axis=0)
        psi1 = psi1 + beta_influence @ h1
        psi0 = psi0 + beta_influence @ h0
    influence = psi1 / mean_w1 - psi0 / mean_w0
    return float(mu1 - mu0), influence, w1 + w0


def _ess_by_arm(weights: np.ndarray, t: np.ndarray) -> dict[str, float]:
    return {**ess_by_arm(weights, t == 1), "all": kish_ess(weights)}


@register(
    id="ipw",
    label="Inverse probability weighting",
    family="Weighting",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Weights each unit by the inverse of its estimated probability of the treatment it got "
            "(Hajek-normalised), so the arms resemble the target population.",
    reference="Horvitz & Thompson (1952); Hirano, Imbens & Ridder (2003); Lunceford & Davidian (2004); "
              "Hernan & Robins, Causal Inference: What If, ch. 12.",
    options=(
        OptionSpec("propensity_model", "model", "default",
                   "Classifier for P(T=1|X); default the logit, whose estimation the standard error accounts for.",
                   choices=MODEL_CHOICES, learner="classifier"),
        OptionSpec("trim", "float", 0.0,
                   "Drop units whose propensity is outside [trim, 1 - trim]; changes the estimand to the overlap population.",
                   low=0.0, high=0.49),
        OptionSpec("clip", "float", 0.0,
                   "Clip propensities to [clip, 1 - clip] before weighting (caps extreme weights; adds bias).",
                   low=0.0, high=0.49),
    ),
    limits=MethodLimits(rows_beyond_covariates=2, linear_options=("propensity_model",), needs_overlap=True, reports_overlap=True),
    gives_weights=True, default_ticked=True, order=60,
)
def ipw(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    propensity_model: Any = "default",
    trim: float = 0.0,
    clip: float = 0.0,
) -> MethodOutput:
    """Hajek inverse probability weighting estimate of the ATE, ATT or ATC.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds a named random propensity model (e.g. ``"random_forest"``).
    propensity_model : None, str or scikit-learn classifier
        ``None`` fits the logit of T on all confounders; the standard error
        then comes from the stacked logit + weighted-means sandwich. Any other
        model's propensities are treated as known in the influence function.
    trim : float
        Rows with propensity outside ``[trim, 1 - trim]`` get weight 0
        (Crump et al. 2009); the estimand becomes the effect in the overlap population.
    clip : float
        Propensities are clipped to ``[clip, 1 - clip]`` before weighting.

    Returns
    -------
    MethodOutput
        ``weights`` (one per row, 0 for trimmed rows) and diagnostics
        ``propensity``, ``ess_before``/``ess_after`` (Kish, by arm), ``n_trimmed``, ``n_clipped``.
    """
    trim, clip = float(trim), float(clip)  # options checked by causal_core.options
    model = resolve_model(propensity_model, option="propensity_model", method="ipw", kind="classifier", seed=seed)
    t, y = data.t, data.y
    ps_raw = fit_propensity(data.X, t, data.covariate_names, model)
    warnings = overlap_warnings(ps_raw, t)

    keep = (ps_raw >= trim) & (ps_raw <= 1 - trim) if trim > 0 else np.ones(data.n, dtype=bool)
    n_trimmed = int(data.n - keep.sum())
    if keep[t == 1].sum() < 2 or keep[t == 0].sum() < 2:
        raise CausalInputError(
            f"The 'trim' option of method 'ipw' ({trim}) leaves fewer than 2 treated or control rows; use a smaller value."
        )
    ps = np.clip(ps_raw, clip, 1 - clip) if clip > 0 else ps_raw.copy()
    n_clipped = int(np.sum(ps != ps_raw))
    if np.any((ps[keep] <= 0) | (ps[keep] >= 1)):
        raise CausalInputError(
            "Some estimated propensities are exactly 0 or 1, so their weights are infinite; "
            "set the 'trim' or 'clip' option of method 'ipw' above 0."
        )
    if n_trimmed:
        warnings.append(
            f"Trimming dropped {n_trimmed} of {data.n} units with propensity outside [{trim:g}, {1 - trim:g}]; "
            f"the estimate refers to the overlap population, not the whole sample's {estimand}."
        )
    if n_clipped:
        warnings.append(
            f"Clipping moved the propensity of {n_clipped} of {data.n} units into [{clip:g}, {1 - clip:g}]; "
            f"the estimate is no longer the {estimand} of the whole sample but a capped-weight approximation."
        )

    default_logit = model is None and data.X.shape[1] > 0
    estimate, influence, weights = hajek_ipw(
        y, t, ps, estimand, keep=keep,
        logit_X=logit_design(data.X) if default_logit else None, ps_raw=ps_raw,
    )
    raw_weights = arm_weights(np.clip(ps_raw, 1e-12, 1 - 1e-12), t, estimand)
    diagnostics = {
        "propensity": ps_raw,
        "ess_before": _ess_by_arm(raw_weights[0] + raw_weights[1], t),
        "ess_after": _ess_by_arm(weights, t),
        "n_trimmed": n_trimmed,
        "n_clipped": n_clipped,
    }
    inference = (InfluenceFunction(influence, "sandwich", "sandwich (stacked logit and weighted means)")
                 if default_logit else
                 InfluenceFunction(influence, detail="influence function, propensity treated as known"))
    return MethodOutput(
        estimate=estimate,
        inference=inference,
        weights=weights,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
