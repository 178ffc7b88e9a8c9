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

import io
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


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _analysis_rows(spec: AnalysisSpec) -> pd.DataFrame:
    rows: list[tuple[str, Any]] = [
        ("data", spec.data_name),
        ("rows", spec.n_rows),
        ("data sha256", spec.data_sha256),
        ("estimand", spec.estimand),
        ("seed", spec.seed),
        ("methods", ", ".join(spec.methods)),
    ]
    rows += [(f"role: {role}", column) for role, column in spec.roles.assignments()]
    if spec.roles.treated_level is not None:
        rows.append(("treated level", str(spec.roles.treated_level)))
    rows += [(f"options: {m}", repr(dict(o))) for m, o in spec.method_options.items() if o]
    rows += [(f"refutation tests: {r.method}", f"{', '.join(r.tests)}; {r.n_repeats} repetitions each")
             for r in spec.refutations]
    if spec.method_lab is not None:
        lab = spec.method_lab
        rows.append(("method lab", f"{', '.join(map(str, lab.methods))}; scenario {lab.scenario}, "
                                   f"effect {_number(lab.effect)}, confounding {_number(lab.confounding)}, "
                                   f"{lab.n_replications} replications"))
    rows += [("app version", spec.app_version), ("engine version", spec.engine_version)]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def _cells_as_text(sheet) -> None:
    """Every string cell of the sheet typed as text (never a formula), formula-like ones quote-prefixed."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f" or isinstance(cell.value, str):
                cell.data_type = "s"
                if str(cell.value).startswith(FORMULA_PREFIXES):
                    cell.quotePrefix = True


def results_table_xlsx(table: pd.DataFrame, *, spec: AnalysisSpec | None = None) -> bytes:
    """The results table as an Excel workbook: sheet ``Results`` and, given ``spec``, sheet ``Analysis``."""
    frame = export_frame(table)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="Results", index=False)
        sheet = writer.sheets["Results"]
        sheet.freeze_panes = "A2"
        for i, column in enumerate(frame.columns, start=1):
            width = max([len(str(column))] + [len(str(v)) for v in frame[column].head(200)])
            sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = min(max(width, 8) + 2, 60)
        _cells_as_text(sheet)
        if spec is not None:
            _analysis_rows(spec).to_excel(writer, sheet_name="Analysis", index=False)
            writer.sheets["Analysis"].column_dimensions["A"].width = 24
            writer.sheets["Analysis"].column_dimensions["B"].width = 70
            _cells_as_text(writer.sheets["Analysis"])
    return buffer.getvalue()
