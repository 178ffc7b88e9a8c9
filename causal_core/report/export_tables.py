"""The tables of an analysis, as plain DataFrames: results, balance, diagnostics, subgroups and sensitivity.

The workbook (:mod:`causal_core.report.workbook`) writes each as a sheet and
the bundle (:mod:`causal_core.report.bundle`) each as a CSV file, so both
carry the same numbers. Every table is long (one row per method and item), so
any number of methods fits the same columns; numbers stay numbers.

A table that does not apply (no method with weights, no subgroup column, no
sensitivity analysis) is left out, never an error.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.registry import get_method
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles
from causal_core.diagnostics.balance import balance_table
from causal_core.diagnostics.subgroups import subgroup_table
from causal_core.report.robustness import sensitivity_table
from causal_core.report.tables import export_frame

__all__ = ["TABLE_NAMES", "analysis_tables", "balance_frame", "diagnostics_frame", "subgroups_frame"]

#: Names of the tables, in the order :func:`analysis_tables` returns them (and the workbook shows them).
TABLE_NAMES = ("Results", "Balance", "Diagnostics", "Subgroups", "Sensitivity")
BALANCE_ESTIMANDS = ("ATE", "ATT", "ATC")
#: Quantile groups of a numeric subgroup column with many values.
SUBGROUP_BINS = 5


def _label(method: str) -> str:
    try:
        return get_method(method).label
    except CausalInputError:
        return method


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable (``<NA>``) columns as objects holding ``None``, which every writer accepts."""
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if pd.api.types.is_extension_array_dtype(column.dtype) and not isinstance(column.dtype, pd.CategoricalDtype):
            values = column.astype(object)
            out.isetitem(position, values.where(column.notna(), None))
    return out


def balance_frame(df: pd.DataFrame, results: Mapping[str, EstimateResult], *, estimand: str = "ATE") -> pd.DataFrame:
    """Covariate balance of every result with weights, one row per (method, covariate).

    Columns ``method``, ``label``, ``covariate``, then those of
    :func:`causal_core.balance_table` (before and after, side by side).
    Results without weights or with a non-binary treatment are left out.
    """
    target = estimand if estimand in BALANCE_ESTIMANDS else "ATE"
    parts = []
    for method, result in results.items():
        if result.weights is None or result.treated is None:
            continue
        try:
            table = balance_table(result, df, estimand=target)
        except CausalInputError:
            continue
        table = table.reset_index().rename(columns={table.index.name or "index": "covariate"})
        table.insert(0, "label", _label(method))
        table.insert(0, "method", method)
        parts.append(table)
    return _plain(pd.concat(parts, ignore_index=True)) if parts else pd.DataFrame()


def _scalar(value: Any) -> Any:
    """A number, boolean or text as a plain Python value; ``None`` for anything else."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    return None


def _diagnostic_rows(result: EstimateResult) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    weights = result.weight_diagnostics
    if weights is not None:
        for arm in weights.ess_after:
            rows.append((f"effective sample size before: {arm}", float(weights.ess_before[arm])))
            rows.append((f"effective sample size after: {arm}", float(weights.ess_after[arm])))
        rows.append(("effective sample size after: total", float(weights.ess_total)))
        rows.append(("largest weight share", float(weights.max_weight_share)))
        rows.append(("zero weights", int(weights.n_zero)))
    for name, value in result.diagnostics.items():
        plain = _scalar(value)
        if plain is not None:
            rows.append((str(name), plain))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                inner = _scalar(item)
                if inner is not None:
                    rows.append((f"{name}: {key}", inner))
    return rows


def diagnostics_frame(results: Mapping[str, EstimateResult]) -> pd.DataFrame:
    """Each result's scalar diagnostics, one row per (method, item): ``method, label, item, value``.

    The weights' effective sample sizes by arm, largest weight share and
    zero weights come first, then the method's own numbers (first-stage F,
    subgroups chosen, trimmed rows...) and the numbers of its dicts; arrays
    and tables stay in the HTML report.
    """
    rows = [
        (method, _label(method), item, value)
        for method, result in results.items()
        for item, value in _diagnostic_rows(result)
    ]
    frame = pd.DataFrame(rows, columns=["method", "label", "item", "value"])
    return frame.astype({"value": object})


def subgroups_frame(df: pd.DataFrame, roles: Roles) -> pd.DataFrame:
    """The Simpson's-paradox table of each subgroup column, one row per (column, level), with the overall row.

    Columns ``by``, ``level``, the columns of
    :func:`causal_core.subgroup_table`'s table and ``reversal``. A column the
    table cannot be made for (a treatment that is not binary...) is left out.
    """
    parts = []
    for by in roles.subgroups:
        try:
            made = subgroup_table(df, roles.treatment, roles.outcome, by, treated_level=roles.treated_level,
                                  bins=SUBGROUP_BINS)
        except CausalInputError:
            continue
        table = made.table.reset_index()
        table = table.rename(columns={table.columns[0]: "level"})
        table["level"] = table["level"].astype(str)
        table.insert(0, "by", str(by))
        table["reversal"] = made.reversal
        parts.append(table)
    return _plain(pd.concat(parts, ignore_index=True)) if parts else pd.DataFrame()


def analysis_tables(
    df: pd.DataFrame,
    roles: Roles,
    table: pd.DataFrame,
    results: Mapping[str, EstimateResult] | None = None,
    *,
    estimand: str = "ATE",
    sensitivity: Mapping[str, Any] | None = None,
) -> dict[str, pd.DataFrame]:
    """The analysis's tables by name, in :data:`TABLE_NAMES` order, leaving out those that are empty.

    Parameters
    ----------
    df : DataFrame
        The data the results were computed on (never modified).
    roles : Roles
        Its roles (``subgroups`` drive the subgroup tables).
    table : DataFrame
        The results table of :func:`causal_core.compare`.
    results : dict, optional
        Method id -> :class:`EstimateResult` (balance and diagnostics come from them).
    estimand : str
        The estimand of the run (balance is weighted for it).
    sensitivity : dict, optional
        Method id -> :class:`~causal_core.robustness.sensitivity.SensitivityReport`
        (the Robustness page's, or :func:`causal_core.report.report_robustness`'s).

    Returns
    -------
    dict of str to DataFrame
    """
    if not isinstance(df, pd.DataFrame):
        raise CausalInputError(f"The data must be a pandas DataFrame; got {type(df).__name__}.")
    if not isinstance(roles, Roles):
        raise CausalInputError(f"Roles must be a causal_core.Roles; got {type(roles).__name__}.")
    results = dict(results or {})
    tables = {
        "Results": _plain(export_frame(table)),
        "Balance": balance_frame(df, results, estimand=estimand),
        "Diagnostics": diagnostics_frame(results),
        "Subgroups": subgroups_frame(df, roles),
    }
    reports = {m: r for m, r in (sensitivity or {}).items() if r is not None}
    if reports:
        frame = sensitivity_table(reports)
        frame.insert(1, "label", [_label(m) for m in frame["method"]])
        tables["Sensitivity"] = frame
    return {name: tables[name] for name in TABLE_NAMES if name in tables and len(tables[name])}
