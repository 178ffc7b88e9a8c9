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

The weighting maths (arm weights, the logit design, the Hajek contrast with its
stacked influence function) lives in :mod:`causal_core.estimators._propensity_design`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators._propensity_design import hajek_ipw, logit_design
from causal_core.inference import InfluenceFunction
from causal_core.nuisance.models import MODEL_CHOICES, fit_propensity, overlap_warnings, resolve_model

__all__ = ["ipw", "trim_clip_warnings"]


def trim_clip_warnings(n: int, n_trimmed: int, n_clipped: int, trim: float, clip: float, estimand: str) -> list[str]:
    """What trimming and clipping did, in words (the in-memory and the streamed IPW say the same)."""
    out = []
    if n_trimmed:
        out.append(
            f"Trimming dropped {n_trimmed} of {n} units with propensity outside [{trim:g}, {1 - trim:g}]; "
            f"the estimate refers to the overlap population, not the whole sample's {estimand}."
        )
    if n_clipped:
        out.append(
            f"Clipping moved the propensity of {n_clipped} of {n} units into [{clip:g}, {1 - clip:g}]; "
            f"the estimate is no longer the {estimand} of the whole sample but a capped-weight approximation."
        )
    return out


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
        ``propensity``, ``n_trimmed``, ``n_clipped`` (the effective sample size by arm is
        ``EstimateResult.weight_diagnostics``).
    """
    trim, clip = float(trim), float(clip)  # options checked by causal_core.core.options
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
    warnings += trim_clip_warnings(data.n, n_trimmed, n_clipped, trim, clip, estimand)

    default_logit = model is None and data.X.shape[1] > 0
    estimate, influence, weights = hajek_ipw(
        y, t, ps, estimand, keep=keep,
        logit_X=logit_design(data.X) if default_logit else None, ps_raw=ps_raw,
    )
    # effective sample sizes by arm are the result's weight_diagnostics (the one ESS), not repeated here
    diagnostics = {
        "propensity": ps_raw,
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
