"""The analysis as an Excel workbook: one sheet per table, and a sheet ``Analysis`` saying what was run.

Numbers are numeric cells (rows, seed, option values, every statistic), so a
spreadsheet can compute with them; options are one row each (``option:
ipw: trim`` -> ``0.01``), never a printed dict.

Column names, levels and data names come from uploads, so every text cell is
written as text, never as a formula: each string cell has type ``'s'`` and,
when it starts with ``= + - @``, a tab or a carriage return, the "quote
prefix" style (Excel's leading apostrophe). Numbers stay numbers (a negative
number is never prefixed).
"""
from __future__ import annotations

import io
from typing import Any, Mapping

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.report.analysis_file import AnalysisSpec
from causal_core.report.tables import FORMULA_PREFIXES

__all__ = ["analysis_rows", "analysis_workbook", "readable_value"]

#: Widest column, in characters.
MAX_COLUMN_WIDTH = 60
#: Excel's limit on sheet names.
MAX_SHEET_NAME = 31


def readable_value(value: Any) -> Any:
    """A cell value: numbers and booleans as they are, lists as ``a, b``, dicts as ``k=v, ...``, other values as text.

    ``None`` (an option left at its default) reads ``default``.
    """
    if value is None:
        return "default"
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _text(value: Any) -> str:
    item = readable_value(value)
    return f"{item:g}" if isinstance(item, float) else str(item)


def analysis_rows(spec: AnalysisSpec) -> pd.DataFrame:
    """What was run, as ``item, value`` rows: data, rows, fingerprint, estimand, seed, methods, roles, each option,
    the refutation tests and the method lab, and the versions; numbers as numbers."""
    rows: list[tuple[str, Any]] = [
        ("data", spec.data_name),
        ("rows", int(spec.n_rows)),
        ("columns", len(spec.columns)),
        ("data sha256", spec.data_sha256),
        ("estimand", spec.estimand),
        ("seed", int(spec.seed)),
        ("methods", ", ".join(spec.methods)),
    ]
    rows += [(f"role: {role}", column) for role, column in spec.roles.assignments()]
    if spec.roles.treated_level is not None:
        rows.append(("treated level", readable_value(spec.roles.treated_level)))
    for method, options in spec.method_options.items():
        rows += [(f"option: {method}: {name}", readable_value(value)) for name, value in dict(options).items()]
    rows += [(f"refutation tests: {r.method}", f"{', '.join(r.tests)}; {r.n_repeats} repetitions each")
             for r in spec.refutations]
    if spec.method_lab is not None:
        lab = spec.method_lab
        rows.append(("method lab", f"{', '.join(map(str, lab.methods))}; scenario {lab.scenario}, "
                                   f"effect {_text(lab.effect)}, confounding {_text(lab.confounding)}, "
                                   f"{lab.n_replications} replications"))
    rows += [("app version", spec.app_version), ("engine version", spec.engine_version)]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": object})


def _cells_as_text(sheet) -> None:
    """Every string cell of the sheet typed as text (never a formula), formula-like ones quote-prefixed."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f" or isinstance(cell.value, str):
                cell.data_type = "s"
                if str(cell.value).startswith(FORMULA_PREFIXES):
                    cell.quotePrefix = True


def _fit_columns(sheet, frame: pd.DataFrame) -> None:
    for i, column in enumerate(frame.columns, start=1):
        width = max([len(str(column))] + [len(str(v)) for v in frame[column].head(200)])
        sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = min(max(width, 8) + 2,
                                                                                       MAX_COLUMN_WIDTH)


def analysis_workbook(tables: Mapping[str, pd.DataFrame], *, spec: AnalysisSpec | None = None) -> bytes:
    """The tables as an Excel workbook, one sheet each in the order given, then sheet ``Analysis`` given ``spec``.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Sheet name -> table, e.g. :func:`causal_core.report.export_tables.analysis_tables`
        (``Results``, ``Balance``, ``Diagnostics``, ``Subgroups``, ``Sensitivity``).
    spec : AnalysisSpec, optional
        What was run (:func:`analysis_rows`).

    Returns
    -------
    bytes
        The ``.xlsx`` file. The callers' tables are not modified.
    """
    if not tables:
        raise CausalInputError("The workbook needs at least one table; pass the results table.")
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        sheets = dict(tables)
        if spec is not None:
            sheets["Analysis"] = analysis_rows(spec)
        for name, frame in sheets.items():
            if not isinstance(frame, pd.DataFrame):
                raise CausalInputError(f"Sheet '{name}' must be a pandas DataFrame; got {type(frame).__name__}.")
            sheet_name = str(name)[:MAX_SHEET_NAME]
            frame.to_excel(writer, sheet_name=sheet_name, index=False)
            sheet = writer.sheets[sheet_name]
            sheet.freeze_panes = "A2"
            _fit_columns(sheet, frame)
            _cells_as_text(sheet)
    return buffer.getvalue()
