"""The results table as files: CSV and Excel (XLSX) bytes.

The exported table is the comparison table of :func:`causal_core.compare`
with each method's human label added beside its id; numbers keep full
precision.
"""
from __future__ import annotations

import io
from typing import Any

import pandas as pd

from ..errors import CausalInputError
from ..registry import list_methods
from .analysis_file import AnalysisSpec

__all__ = ["export_frame", "results_table_csv", "results_table_xlsx"]


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
    """The results table as UTF-8 CSV bytes (no index)."""
    return export_frame(table).to_csv(index=False, lineterminator="\n").encode("utf-8")


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
        rows.append(("method lab", f"{', '.join(lab.methods)}; scenario {lab.scenario}, effect {lab.effect:g}, "
                                   f"confounding {lab.confounding:g}, {lab.n_replications} replications"))
    rows += [("app version", spec.app_version), ("engine version", spec.engine_version)]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


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
        if spec is not None:
            _analysis_rows(spec).to_excel(writer, sheet_name="Analysis", index=False)
            writer.sheets["Analysis"].column_dimensions["A"].width = 24
            writer.sheets["Analysis"].column_dimensions["B"].width = 70
    return buffer.getvalue()
