"""E-values (VanderWeele & Ding 2017): how strong an unmeasured confounder would have to be.

The E-value is the minimum strength of association, on the risk-ratio scale,
that an unmeasured confounder would need with both the treatment and the
outcome, conditional on the measured covariates, to fully explain away an
observed risk ratio ``RR``: ``E = RR + sqrt(RR * (RR - 1))`` for ``RR >= 1``
(apply it to ``1 / RR`` when ``RR < 1``).

* binary outcomes: a risk difference ``RD`` with control-arm risk ``p0`` is
  the risk ratio ``(p0 + RD) / p0``;
* continuous outcomes: the standardised difference ``d = estimate / SD(Y)``
  is converted with ``RR ~ exp(0.91 d)`` (VanderWeele & Ding 2017, section 4,
  after Hasselblad & Hedges 1995), and its CI limits the same way.

The E-value of the confidence interval is that of the limit closer to the
null (1 when the interval covers the null).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causal_core.core.errors import CausalInputError, plain

__all__ = ["EValue", "e_value", "e_value_rr", "risk_ratio_from_difference", "risk_ratio_from_smd"]

SMD_TO_LOG_RR = 0.91


@dataclass(frozen=True)
class EValue:
    """E-values of a point estimate and of its confidence interval.

    Attributes
    ----------
    scale : str
        How the estimate was put on the risk-ratio scale: ``"risk ratio"``,
        ``"risk difference"`` or ``"standardised difference"``.
    risk_ratio, risk_ratio_low, risk_ratio_high : float
        The estimate and its CI limits as risk ratios.
    e_value_estimate : float
        E-value of the point estimate (1 means no confounding is needed).
    e_value_ci : float
        E-value of the CI limit closer to the null (1 when the CI covers it).
    explanation : str
        One sentence for the analyst.
    """

    scale: str
    risk_ratio: float
    risk_ratio_low: float
    risk_ratio_high: float
    e_value_estimate: float
    e_value_ci: float
    explanation: str


def e_value_rr(rr: float) -> float:
    """E-value of a risk ratio: ``RR + sqrt(RR (RR - 1))`` after folding ``RR < 1`` to ``1 / RR``."""
    rr = float(rr)
    if not np.isfinite(rr) or rr <= 0:
        raise CausalInputError(f"A risk ratio must be a positive finite number to compute an E-value; got {plain(rr)!r}.")
    if rr < 1:
        rr = 1.0 / rr
    return float(rr + np.sqrt(rr * (rr - 1.0)))


def risk_ratio_from_difference(difference: float, baseline_risk: float) -> float:
    """Risk ratio ``(p0 + RD) / p0`` of a risk difference ``RD`` at control-arm risk ``p0``."""
    if not (0 < baseline_risk < 1):
        raise CausalInputError(
            f"Option 'baseline_risk' must be strictly between 0 and 1 to turn a risk difference into a risk ratio; "
            f"got {plain(baseline_risk)!r}."
        )
    treated_risk = baseline_risk + difference
    # a limit beyond the possible range is clipped to the nearest possible risk
    treated_risk = float(np.clip(treated_risk, 1e-9, 1.0))
    return treated_risk / baseline_risk


def risk_ratio_from_smd(difference: float, sd_outcome: float) -> float:
    """Approximate risk ratio ``exp(0.91 * difference / sd_outcome)`` of a continuous outcome's difference."""
    if not (np.isfinite(sd_outcome) and sd_outcome > 0):
        raise CausalInputError(
            f"Option 'sd_outcome' must be a positive number (the outcome's standard deviation); got {plain(sd_outcome)!r}."
        )
    return float(np.exp(SMD_TO_LOG_RR * difference / sd_outcome))


def _ci_e_value(rr_low: float, rr_high: float) -> float:
    if rr_low <= 1.0 <= rr_high:
        return 1.0
    closer = rr_low if rr_low > 1.0 else rr_high
    return e_value_rr(closer)


def e_value(
    estimate: float,
    ci_low: float,
    ci_high: float,
    *,
    scale: str = "difference",
    sd_outcome: float | None = None,
    baseline_risk: float | None = None,
) -> EValue:
    """E-values of an effect estimate and its confidence interval.

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        The effect and its confidence interval.
    scale : {"difference", "risk_ratio"}
        ``"risk_ratio"`` when the numbers already are risk ratios; with
        ``"difference"`` give ``baseline_risk`` (binary outcome: the numbers
        are risk differences) or ``sd_outcome`` (continuous outcome).
    sd_outcome : float, optional
        Standard deviation of a continuous outcome.
    baseline_risk : float, optional
        Outcome risk in the control arm, for a binary outcome.

    Returns
    -------
    EValue
    """
    values = np.array([estimate, ci_low, ci_high], dtype=float)
    if not np.all(np.isfinite(values)):
        raise CausalInputError("The estimate and its confidence interval must be finite numbers to compute an E-value.")
    if ci_low > ci_high:
        raise CausalInputError(f"The confidence interval must have ci_low <= ci_high; got {ci_low} > {ci_high}.")
    if scale == "risk_ratio":
        rr, low, high = (float(v) for v in values)
        label = "risk ratio"
    elif scale == "difference":
        if baseline_risk is not None:
            rr, low, high = (risk_ratio_from_difference(v, baseline_risk) for v in values)
            label = "risk difference"
        elif sd_outcome is not None:
            rr, low, high = (risk_ratio_from_smd(v, sd_outcome) for v in values)
            label = "standardised difference"
        else:
            raise CausalInputError(
                "To compute an E-value of a difference give 'baseline_risk' (binary outcome) or 'sd_outcome' "
                "(continuous outcome)."
            )
    else:
        raise CausalInputError(f"Option 'scale' must be 'difference' or 'risk_ratio'; got {plain(scale)!r}.")
    e_point = e_value_rr(rr)
    e_ci = _ci_e_value(low, high)
    if e_ci <= 1.0:
        ci_text = "the confidence interval already includes no effect, so no confounding is needed to explain it"
    else:
        ci_text = f"one of strength {e_ci:.2f} could move the confidence interval to include no effect"
    explanation = (
        f"An unmeasured confounder associated with both treatment and outcome by a risk ratio of {e_point:.2f} "
        f"each, beyond the measured covariates, could explain away the estimate; {ci_text}."
    )
    return EValue(label, rr, low, high, e_point, e_ci, explanation)
