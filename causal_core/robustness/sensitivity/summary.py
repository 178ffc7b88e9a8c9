"""Which sensitivity analyses apply to one estimate, computed together."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.provenance import design_for
from causal_core.core.registry import get_method
from causal_core.core.results import EstimateResult, FrozenMapping
from causal_core.core.roles import Roles
from causal_core.robustness.sensitivity.evalue import EValue, e_value
from causal_core.robustness.sensitivity.ovb import OVBSensitivity, _ovb_from_design, exact_regression
from causal_core.robustness.sensitivity.rosenbaum import RosenbaumBounds, matched_pair_differences, rosenbaum_bounds

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
    df: pd.DataFrame | EstimateResult,
    roles: Roles | pd.DataFrame,
    result: EstimateResult | None = None,
    *,
    options: dict[str, Any] | None = None,
    benchmarks: list[str] | None = None,
    kd: tuple[float, ...] = (1.0,),
) -> SensitivityReport:
    """E-value (always), OVB and Rosenbaum bounds where the method's registry entry says they apply.

    Call it as ``sensitivity_for_result(result, df)``: the rows, roles,
    options and estimand come from the result. The older
    ``sensitivity_for_result(df, roles, result, options=...)`` is accepted
    too (``roles`` must be the result's; ``options`` override the result's).

    OVB needs ``ovb_applicable`` (regression, doubly robust) and Rosenbaum
    bounds ``forms_matched_pairs`` with 1:1 matching without replacement.

    A binary 0/1 outcome gets the E-value on the risk-ratio scale from the
    control-arm risk; a continuous one through ``exp(0.91 d)`` with ``d`` the
    estimate over the outcome's standard deviation.
    """
    if isinstance(df, EstimateResult):
        if result is not None:
            raise CausalInputError("Call sensitivity_for_result(result, df), or the older (df, roles, result).")
        result, df = df, roles
    elif not isinstance(result, EstimateResult):
        raise CausalInputError(f"Expected an EstimateResult from causal_core.estimate; got {type(result).__name__}.")
    elif roles != result.roles:
        raise CausalInputError("The roles given differ from those the result was estimated with; pass the result's.")
    roles = result.roles
    if options is not None:  # the older call's options override what the result carries
        result = dataclasses.replace(result, options=FrozenMapping(options))
    options = dict(result.options)
    notes: list[str] = []
    info = get_method(result.method)
    data = design_for(result, df)
    y = data.y[np.isfinite(data.y)]
    evalue = None
    try:
        if np.isin(y, (0.0, 1.0)).all() and info.treatment_kind == "binary":
            evalue = e_value(result.estimate, result.ci_low, result.ci_high,
                             baseline_risk=float(np.nanmean(data.y[data.t == 0])))
        else:
            evalue = e_value(result.estimate, result.ci_low, result.ci_high, sd_outcome=float(np.std(y, ddof=1)))
    except CausalInputError as exc:
        notes.append(f"E-value not computed: {exc}")
    ovb = None
    if info.ovb_applicable and roles.confounders:
        exact = exact_regression(result)
        try:
            ovb = _ovb_from_design(data, roles, benchmarks=benchmarks, kd=kd, ky=None, q=1.0, alpha=0.05,
                                   estimate=None if exact else result.estimate,
                                   std_error=None if exact else result.std_error, max_benchmarks=10)
            if exact:
                notes.append("OVB analysis of the OLS coefficient with the classical standard error, as in sensemakr.")
        except CausalInputError as exc:
            notes.append(f"OVB analysis not computed: {exc}")
    rosenbaum = None
    if info.forms_matched_pairs:
        if options.get("replace", True) is False and options.get("n_neighbors", 1) == 1 and result.estimand in ("ATT", "ATC"):
            try:
                rosenbaum = rosenbaum_bounds(matched_pair_differences(result, df))
            except CausalInputError as exc:
                notes.append(f"Rosenbaum bounds not computed: {exc}")
        else:
            notes.append("Rosenbaum bounds need 1:1 matching without replacement for the ATT or ATC "
                         "(options n_neighbors=1, replace=False).")
    return SensitivityReport(result.method, evalue, ovb, rosenbaum, tuple(notes))
