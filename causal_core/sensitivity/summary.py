"""Which sensitivity analyses apply to one estimate, computed together."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data import prepare
from ..errors import CausalInputError
from ..registry import get_method
from ..results import EstimateResult
from ..roles import Roles
from .evalue import EValue, e_value
from .ovb import OVBSensitivity, ovb_sensitivity
from .rosenbaum import RosenbaumBounds, matched_pair_differences, rosenbaum_bounds

__all__ = ["SensitivityReport", "sensitivity_for_result"]


@dataclass(frozen=True)
class SensitivityReport:
    """The sensitivity analyses that apply to one estimate; ``None`` where one does not apply."""

    method: str
    e_value: EValue | None
    ovb: OVBSensitivity | None
    rosenbaum: RosenbaumBounds | None
    notes: tuple[str, ...] = ()


def sensitivity_for_result(
    df: pd.DataFrame,
    roles: Roles,
    result: EstimateResult,
    *,
    options: dict[str, Any] | None = None,
    benchmarks: list[str] | None = None,
    kd: tuple[float, ...] = (1.0,),
) -> SensitivityReport:
    """E-value (always), OVB and Rosenbaum bounds where the method's registry entry says they apply.

    OVB needs ``ovb_applicable`` (regression, doubly robust) and Rosenbaum
    bounds ``forms_matched_pairs`` with 1:1 matching without replacement.

    A binary 0/1 outcome gets the E-value on the risk-ratio scale from the
    control-arm risk; a continuous one through ``exp(0.91 d)`` with ``d`` the
    estimate over the outcome's standard deviation.
    """
    options = options or {}
    notes: list[str] = []
    info = get_method(result.method)
    data = prepare(df, roles, treatment_kind=info.treatment_kind)
    y = data.y[np.isfinite(data.y)]
    evalue = None
    try:
        if np.isin(y, (0.0, 1.0)).all() and info.treatment_kind == "binary":
            evalue = e_value(result.estimate, result.ci_low, result.ci_high,
                             baseline_risk=float(data.y[data.t == 0].mean()))
        else:
            evalue = e_value(result.estimate, result.ci_low, result.ci_high, sd_outcome=float(np.std(y, ddof=1)))
    except CausalInputError as exc:
        notes.append(f"E-value not computed: {exc}")
    ovb = None
    if info.ovb_applicable and roles.confounders:
        exact = result.method == "regression_adjustment" and not options.get("interactions") and \
            options.get("outcome_model") in (None, "default")
        try:
            ovb = ovb_sensitivity(df, roles, benchmarks=benchmarks, kd=kd,
                                  estimate=None if exact else result.estimate,
                                  std_error=None if exact else result.std_error)
            if exact:
                notes.append("OVB analysis of the OLS coefficient with the classical standard error, as in sensemakr.")
        except CausalInputError as exc:
            notes.append(f"OVB analysis not computed: {exc}")
    rosenbaum = None
    if info.forms_matched_pairs:
        if options.get("replace", True) is False and options.get("n_neighbors", 1) == 1 and result.estimand in ("ATT", "ATC"):
            try:
                differences = matched_pair_differences(df, roles, result.method, estimand=result.estimand,
                                                       **{k: v for k, v in options.items() if k != "bias_adjustment"})
                rosenbaum = rosenbaum_bounds(differences)
            except CausalInputError as exc:
                notes.append(f"Rosenbaum bounds not computed: {exc}")
        else:
            notes.append("Rosenbaum bounds need 1:1 matching without replacement for the ATT or ATC "
                         "(options n_neighbors=1, replace=False).")
    return SensitivityReport(result.method, evalue, ovb, rosenbaum, tuple(notes))
