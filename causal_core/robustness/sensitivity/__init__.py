"""Sensitivity of an estimate to unmeasured confounding: E-values, omitted-variable bias, Rosenbaum bounds."""
from causal_core.robustness.sensitivity.evalue import EValue, e_value, e_value_rr
from causal_core.robustness.sensitivity.ovb import OVBSensitivity, bias_contour_grid, ovb_sensitivity, robustness_value
from causal_core.robustness.sensitivity.rosenbaum import RosenbaumBounds, matched_pair_differences, rosenbaum_bounds
from causal_core.robustness.sensitivity.section import RobustnessSection, robustness_section
from causal_core.robustness.sensitivity.summary import SensitivityReport, sensitivity_for_result

__all__ = [
    "EValue",
    "OVBSensitivity",
    "RobustnessSection",
    "RosenbaumBounds",
    "SensitivityReport",
    "bias_contour_grid",
    "e_value",
    "e_value_rr",
    "matched_pair_differences",
    "ovb_sensitivity",
    "robustness_section",
    "robustness_value",
    "rosenbaum_bounds",
    "sensitivity_for_result",
]
