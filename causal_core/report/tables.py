"""The results table as files: CSV and Excel (XLSX) bytes.

The exported table is the comparison table of :func:`causal_core.compare`
with each method's human label added beside its id; numbers keep full
precision.

Column names, levels and data names come from uploads, so every text cell is
written as text, never as a formula: in the workbook each string cell has
type ``'s'`` and, when it starts with ``= + - @``, a tab or a carriage return,
the "quote prefix" style (Excel's leading apostrophe); in CSV such a text
cell gets a leading ``'`` (OWASP's advice against CSV injection). Numbers
stay numbers (a negative number is never prefixed).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.registry import list_methods
from causal_core.report.analysis_file import AnalysisSpec

__all__ = ["FORMULA_PREFIXES", "export_frame", "frame_csv", "neutralise_text", "results_table_csv",
           "results_table_xlsx"]

#: First characters that make a spreadsheet read a text cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_text(value: Any) -> Any:
    """A text value with a leading ``'`` when a spreadsheet would read it as a formula; any other value as is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and column name neutralised (numbers untouched)."""
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        text_like = pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column) or \
            isinstance(column.dtype, pd.CategoricalDtype)
        if text_like:  # numbers, booleans and dates are written as they are
            out.isetitem(position, column.astype(object).map(neutralise_text, na_action="ignore"))
    out.columns = [neutralise_text(str(c)) for c in out.columns]
    return out


def frame_csv(frame: pd.DataFrame) -> bytes:
    """Any table as UTF-8 CSV bytes (no index) that a spreadsheet opens without running a formula.

    Text cells and column names starting with ``= + - @``, a tab or a carriage
    return get a leading ``'``; numbers are written as they are. The caller's
    table is not modified.
    """
    if not isinstance(frame, pd.DataFrame):
        raise CausalInputError(f"The table to export must be a pandas DataFrame; got {type(frame).__name__}.")
    return _neutralised(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


def export_frame(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of the results table with a ``label`` column (the method's name) after ``method``."""
    if not isinstance(table, pd.DataFrame):
        raise CausalInputError(f"The results table must be a pandas DataFrame; got {type(table).__name__}.")
    if "method" not in table.columns:
        raise CausalInputError("The results table has no 'method' column; pass the table returned by cc.compare.")
    frame = table.reset_index(drop=True).copy()
    if "label" not in frame.columns:
        labels = {info.id: info.label for info in list_methods()}
        frame.insert(frame.columns.get_loc("method") + 1, "label", frame["method"].map(labels).fillna(""))
    return frame


def results_table_csv(table: pd.DataFrame) -> bytes:
    """The results table as UTF-8 CSV bytes (no index; formula-like text prefixed with ``'``, see :func:`frame_csv`)."""
    return frame_csv(export_frame(table))


def results_table_xlsx(table: pd.DataFrame, *, spec: AnalysisSpec | None = None) -> bytes:
    """The results table as an Excel workbook: sheet ``Results`` and, given ``spec``, sheet ``Analysis``.

    The workbook with every table of the analysis is :func:`causal_core.report.workbook.analysis_workbook`.
    """
    from causal_core.report.workbook import analysis_workbook  # it imports this module

    return analysis_workbook({"Results": export_frame(table)}, spec=spec)
