"""Readable names for what the engine computes: one label table for the app, the report and the charts.

* :func:`method_label`: a method id's label from the registry.
* :func:`column_label`: a results-table (or agreement, balance, sensitivity) column.
* :func:`diagnostic_label`: a key of ``EstimateResult.diagnostics``; a key that
  has no entry is made readable (underscores to spaces, first letter capital).
* :func:`labelled_table`: a copy of a table with labelled columns and method
  ids replaced by their labels, every number through the one formatter.

Raw ids stay in the CSV/XLSX exports and the JSON analysis file, where programs read them.
"""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from causal_core.core.formatting import format_table_value

__all__ = ["COLUMN_LABELS", "DIAGNOSTIC_LABELS", "RESULT_NUMBER_COLUMNS", "column_label", "diagnostic_label",
           "formatted_results",
           "labelled_table",
           "method_label"]

#: Columns of the results, agreement and robustness tables.
COLUMN_LABELS: Mapping[str, str] = {
    "method": "Method",
    "label": "Method",
    "family": "Family",
    "estimand": "Estimand",
    "estimate": "Estimate",
    "std_error": "Std. error",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "p_value": "p-value",
    "n_used": "Rows used",
    "n_treated": "Treated used",
    "n_control": "Controls used",
    "n_design": "Rows in design",
    "ess_treated": "ESS treated",
    "ess_control": "ESS control",
    "ess": "ESS (both arms pooled)",
    "seconds": "Seconds",
    "warnings": "Warnings",
    "error": "Error",
    "distance_in_se": "Distance from the median estimate (own SEs)",
    "kd": "Strength vs benchmark (treatment, kd)",
    "ky": "Strength vs benchmark (outcome, ky)",
    "r2dx_benchmark": "Benchmark's partial R² with treatment",
    "r2yx_benchmark": "Benchmark's partial R² with outcome",
    "r2dz_x": "Confounder's partial R² with treatment",
    "r2yz_dx": "Confounder's partial R² with outcome",
    "adjusted_estimate": "Adjusted estimate",
    "adjusted_se": "Adjusted std. error",
    "adjusted_t": "Adjusted t",
    "adjusted_ci_low": "Adjusted 95% CI low",
    "adjusted_ci_high": "Adjusted 95% CI high",
    "benchmark": "Benchmark covariate",
    "n_boot": "Bootstrap replicates",
    "n_ok": "Replications that ran",
    "n_failed": "Replications that failed",
    "bias": "Bias",
    "rmse": "RMSE",
    "coverage": "Coverage of 95% CI",
    "coverage_mc_se": "Coverage Monte Carlo SE",
    "test": "Test",
    "passed": "Passed",
    "original": "Original estimate",
    "expected": "Expected",
    "refuted_mean": "Mean under the test",
    "refuted_sd": "SD under the test",
    "refuted_low": "Low under the test",
    "refuted_high": "High under the test",
    "n_repeats": "Repetitions",
    "explanation": "What it means",
}

#: The number columns of the results table as the app's grid and the report show them, in order.
RESULT_NUMBER_COLUMNS = ("estimate", "std_error", "ci_low", "ci_high", "p_value", "n_used", "n_treated",
                         "n_control", "ess_treated", "ess_control", "seconds")

#: Keys of ``EstimateResult.diagnostics`` (and of the typed weight diagnostics) shown to people.
DIAGNOSTIC_LABELS: Mapping[str, str] = {
    "se_method": "Standard error computed by",
    "n_trimmed": "Rows trimmed (propensity outside the trim range)",
    "n_clipped": "Propensities clipped",
    "n_boot": "Bootstrap replicates",
    "n_bootstrap": "Bootstrap replicates",
    "max_abs_smd_before": "Largest |SMD| before (balance table)",
    "max_abs_smd_after": "Largest |SMD| after (balance table)",
    "n_matched_treated": "Treated rows matched",
    "n_matched_control": "Control rows matched",
    "n_strata": "Strata",
    "n_matched_strata": "Strata with both arms",
    "n_balance_terms": "Balance terms",
    "iterations": "Iterations",
    "converged": "Converged",
    "propensity": "Propensity score",
    "max_weight_share": "Largest weight share",
    "ess": "Effective sample size (Kish)",
    "bootstrap_estimates": "Bootstrap estimates",
    "n_dropped_treated": "Treated rows dropped",
    "n_dropped_control": "Control rows dropped",
    "std_error_sample": "Std. error (sample variance)",
    "n_bins": "Bins per covariate",
    "n_zero": "Rows with zero weight",
    "first_stage_f": "First-stage F statistic",
    "n_subgroups": "Subgroups",
    "n_selected": "Rows selected",
    "caliper": "Caliper",
}


def method_label(method_id: Any) -> str:
    """The registry label of a method id (the id itself when it is not registered)."""
    from causal_core.core.registry import get_method

    try:
        return get_method(str(method_id)).label
    except Exception:
        return str(method_id)


def _readable(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else key


def column_label(column: Any) -> str:
    """The label of a table column (its readable form when it has no entry)."""
    return COLUMN_LABELS.get(str(column), _readable(str(column)))


def diagnostic_label(key: Any) -> str:
    """The label of a diagnostics key, ``"name: inner"`` keys labelled part by part."""
    parts = str(key).split(": ")
    return ": ".join(DIAGNOSTIC_LABELS.get(part, _readable(part)) if i == 0 else part
                     for i, part in enumerate(parts))


def formatted_results(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of a results table with each number as text by the one formatter, column names kept.

    What the app's results grid shows (the same text as the HTML report's
    results table): nothing is rounded to a few figures or clipped by the grid;
    missing values are empty cells. ``table`` is not modified.
    """
    shown = table.copy()
    for column in shown.columns:
        values = shown[column]
        if column in RESULT_NUMBER_COLUMNS or column == "n_design":
            numbers = pd.to_numeric(values, errors="coerce").astype(object)
            shown[column] = [format_table_value(v, str(column)) for v in numbers]
        else:
            shown[column] = ["" if pd.isna(v) else str(v) for v in values.astype(object)]
    return shown


def labelled_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` to show: method ids as labels, every cell as text by the one formatter, labelled columns.

    Missing values are empty cells (never "None" or "nan"). ``frame`` is not modified.
    """
    shown = frame.reset_index(drop=True).copy()
    if "method" in shown.columns and "label" not in shown.columns:
        shown["method"] = shown["method"].map(method_label)
    elif "method" in shown.columns:
        shown = shown.drop(columns=["method"])
    out = pd.DataFrame(index=shown.index)
    for column in shown.columns:
        out[column_label(column)] = [format_table_value(v, str(column)) for v in shown[column].astype(object)]
    return out
