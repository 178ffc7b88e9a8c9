"""Data page: upload a table or load a bundled sample, look at it, or restore a saved analysis."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

import causal_core as cc
from causal_core.core.formatting import format_number
from causal_core.datasets.profile import date_columns, describe_columns
from causal_core.datasets.table_fixes import dates_to_days
from causal_core.datasets.safe_read import read_upload
from causal_core.datasets.samples import get_sample, list_samples, load_sample
from causal_core.datasets.table_reader import SUPPORTED_EXTENSIONS, excel_sheet_names
from causal_core.outofcore import open_query, open_table, preview, profile
from causal_core.outofcore.large_run import (IN_MEMORY_CELL_LIMIT, ROLES_FRAME_ROWS, choose_path, load_in_memory,
                                             roles_frame)
from pages._state import (
    cache_result,
    cached,
    get_dataset,
    page_value,
    set_page_value,
    set_dataset,
    set_estimand,
    set_method_options,
    set_methods,
    set_roles,
    set_seed,
)
from pages._ui import attempt, link_to, show_error

ENCODINGS = ["utf-8", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be"]
#: The server setting naming the folder whose Parquet/CSV files may be opened by path (unset: no such section).
DATA_DIR_ENV = "CAUSAL_WORKBENCH_DATA_DIR"
PATH_MODES = {"auto": f"Automatic by size (on disk above {IN_MEMORY_CELL_LIMIT:,} cells)",
              "memory": "Load into memory", "disk": "Keep on disk (DuckDB)"}


def _describe(version: int, df: pd.DataFrame) -> pd.DataFrame:
    """Column summary, computed once per loaded table (kept in session state)."""
    described = cached("_data_described", version)
    if described is None:
        described = cache_result("_data_described", version, describe_columns(df), keep=1)
    return described


def _use_sample(sample_id: str) -> None:
    info = get_sample(sample_id)
    df = load_sample(sample_id)
    set_dataset(df, name=info.title, source="sample", sample_id=sample_id)
    set_roles(info.roles)
    if info.estimand:  # the Estimate page falls back to the ATE where the roles do not allow this estimand
        set_estimand(info.estimand)
    set_page_value("_data_message", ("success", f"Loaded sample '{info.title}' with its suggested roles."))


def _sheet_names(upload) -> list[str] | None:
    """The workbook's sheet names, listed once per uploaded file (a legacy .xls needs a child process)."""
    sheets = cached("_data_sheet_names", upload.file_id)
    if sheets is not None:
        return sheets
    sheets = attempt(excel_sheet_names, upload.getvalue(), upload.name, what="Reading the workbook")
    if sheets:
        cache_result("_data_sheet_names", upload.file_id, sheets, keep=1)
    return sheets


def _upload_section() -> None:
    st.subheader("Upload a file")
    st.caption("CSV or TSV (comma, semicolon, tab or bar separated), Excel (.xlsx) or Parquet; up to 1 GB.")
    upload = st.file_uploader("Data file", type=list(SUPPORTED_EXTENSIONS), key="data_upload",
                              help="The first row must hold the column names.")
    encoding = st.selectbox("Text encoding (CSV/TSV only)", ENCODINGS, key="data_encoding",
                            help="Change this if accents or symbols look wrong or the file is refused.")
    if upload is None:
        return
    sheet = None
    if upload.name.lower().endswith((".xlsx", ".xlsm", ".xls")):
        sheets = _sheet_names(upload)
        if not sheets:
            return
        sheet = st.selectbox("Sheet", sheets, key="data_sheet")
    signature = (upload.file_id, upload.name, encoding, sheet)
    if page_value("_data_upload_signature") == signature:
        return
    set_page_value("_data_upload_signature", signature)
    data = upload.getvalue()  # a copy of the upload: taken only when it is read, not on every rerun
    try:
        with st.spinner(f"Reading {upload.name}..."):
            result = read_upload(data, upload.name, encoding=encoding, sheet=sheet)  # size checks, capped child
    except Exception as exc:
        keep = " The data already loaded is unchanged." if get_dataset() is not None else ""
        if isinstance(exc, cc.CausalInputError):
            text = str(exc) + keep
        else:
            text = f"'{upload.name}' could not be read ({type(exc).__name__}: {exc}).{keep}"
        set_page_value("_data_message", ("error", text))
        return
    df = result.frame
    name = upload.name if sheet is None else f"{upload.name} [{sheet}]"
    set_dataset(df, name=name, source="upload")
    text = f"Loaded '{name}': {int(df.shape[0]):,} rows, {int(df.shape[1])} columns."
    set_page_value("_data_message", ("warning", " ".join([text, *result.notes])) if result.notes
                   else ("success", text))


def _open_path(typed: str, mode: str) -> None:
    """Open ``typed`` under the data folder: into memory or kept on disk; on failure the loaded table stays."""
    def opener(root: str):
        if not typed.strip():
            raise cc.CausalInputError("Type the path of a Parquet file or folder, or a CSV file, in the data folder.")
        source = open_table(typed.strip(), data_root=root)
        return source, Path(source.path).name

    _open_source(opener, mode, what=repr(typed))


def _open_query(sql: str, mode: str) -> None:
    """Open a DuckDB query over files in the data folder, as a path is opened; on failure the loaded table stays."""
    _open_source(lambda root: (open_query(sql, data_root=root), "DuckDB query"), mode, what="The query")


def _open_source(opener, mode: str, *, what: str) -> None:
    """Open a table source (``opener(data_root) -> (source, name)``) into memory or kept on disk, with one message."""
    root = os.environ.get(DATA_DIR_ENV, "")
    keep = " The data already loaded is unchanged." if get_dataset() is not None else ""
    try:
        source, name = opener(root)
        where = choose_path(source.n_rows, len(source.columns), mode)
        if where == "memory":
            set_dataset(load_in_memory(source), name=name, source="path")
            text = f"Loaded '{name}' into memory: {source.n_rows:,} rows, {len(source.columns)} columns."
        else:
            set_dataset(roles_frame(source), name=name, source="large", table=source)
            text = (f"Opened '{name}' on disk: {source.n_rows:,} rows, {len(source.columns)} columns, nothing "
                    "loaded. Streamed methods read every row; the others run on a seeded sample.")
    except cc.CausalInputError as exc:
        set_page_value("_data_message", ("error", f"{exc}{keep}"))
        return
    except Exception as exc:  # never a traceback on the page
        set_page_value("_data_message", ("error", f"{what} could not be opened ({type(exc).__name__}: {exc}).{keep}"))
        return
    set_page_value("_data_message", ("success", text))


def _path_section() -> None:
    """Open a table by its path under the server's data folder (shown only when that folder is configured)."""
    if not os.environ.get(DATA_DIR_ENV):
        return
    with st.expander("Open a large table by path on the server", expanded=False):
        root = str(Path(os.environ[DATA_DIR_ENV]).resolve())
        st.caption("A Parquet file, a folder of Parquet files or a CSV file inside the data folder configured on "
                   f"the server ({DATA_DIR_ENV}); paths outside it are refused. Nothing is uploaded: DuckDB reads "
                   "the file where it is.")
        typed = st.text_input("Path inside the data folder", key="data_path", placeholder="claims/2025.parquet")
        mode = st.radio("How to handle it", list(PATH_MODES), format_func=PATH_MODES.get, key="data_path_mode",
                        horizontal=True, help="Small tables are loaded into memory and run every method as usual; "
                        "a table kept on disk streams the methods that can be streamed and runs the others on a "
                        "seeded sample.")
        if st.button("Open", key="data_path_open", icon=":material/folder_open:"):
            with st.spinner("Reading the table's size and columns..."):
                _open_path(typed, mode)
        sql = st.text_area(
            "Or a DuckDB query over files in the data folder", key="data_query", height=100,
            placeholder=f"SELECT c.*, p.region FROM '{root}/claims.parquet' c\n"
                        f"JOIN '{root}/patients.parquet' p USING (patient_id) WHERE c.year >= 2020",
            help="One read-only SELECT statement. Name files by their full path inside the data folder "
                 f"({root}); DuckDB refuses every other file, and any statement that writes or changes settings. "
                 "The result is handled as a table of that size (the choice above applies); add ORDER BY to fix "
                 "its row order by the data.")
        if st.button("Run the query and open its result", key="data_query_open", icon=":material/database:"):
            with st.spinner("Reading the query's columns and counting its rows..."):
                _open_query(sql, mode)


def _sample_section() -> None:
    st.subheader("Or use a bundled sample")
    samples = list_samples()
    ids = [s.id for s in samples]
    titles = {s.id: s.title for s in samples}
    chosen = st.selectbox("Sample data set", ids, format_func=titles.get, key="data_sample")
    info = get_sample(chosen)
    st.caption(info.description)
    if info.effect is not None:
        label = "True effect" if info.effect_kind == "truth" else "Published benchmark"
        st.caption(f"**{label} ({info.estimand}):** {format_number(info.effect)}. {info.effect_note}")
    if st.button("Load this sample", key="data_load_sample", type="primary"):
        attempt(_use_sample, chosen, what="Loading the sample")


def _restore_section() -> None:
    with st.expander("Restore a saved analysis (JSON)"):
        st.caption("Restores the roles, estimand, methods, their options and the seed saved from the Report page. "
                   "A bundled sample named in the file is loaded with it; an uploaded table is not in the file, "
                   "so load the same data here as well.")
        upload = st.file_uploader("Analysis file", type=["json"], key="data_restore")
        if upload is None:
            return
        signature = (upload.file_id, upload.name)
        if page_value("_data_restore_signature") == signature:
            return
        set_page_value("_data_restore_signature", signature)
        try:
            from causal_core.report.analysis_file import data_mismatches, load_analysis

            spec = load_analysis(upload.getvalue())
        except Exception as exc:
            if isinstance(exc, cc.CausalInputError):
                set_page_value("_data_message", ("error", f"'{upload.name}': {exc} Nothing was changed."))
            else:
                set_page_value("_data_message", (
                    "error", f"'{upload.name}' is not a readable analysis file ({type(exc).__name__}). Nothing was changed."))
            return
        sample_ids = {s.id for s in list_samples()}
        loaded = get_dataset()
        loaded_sample = None if loaded is None or loaded.source != "sample" else loaded.sample_id
        if spec.data_name in sample_ids and loaded_sample != spec.data_name:
            # the file names a bundled sample: load it (replacing any other table), so the analysis is whole
            _use_sample(spec.data_name)
        set_roles(spec.roles)
        set_estimand(spec.estimand)
        set_methods(list(spec.methods))
        set_method_options({m: dict(o) for m, o in spec.method_options.items()})
        set_seed(spec.seed)
        notes = []
        dataset = get_dataset()
        if dataset is not None:
            notes = list(data_mismatches(spec, dataset.df))
        text = (f"Restored the analysis of '{spec.data_name}': roles, estimand {spec.estimand}, "
                f"{len(spec.methods)} method(s), seed {spec.seed}.")
        if dataset is None:
            text += " Now load its data above."
        set_page_value("_data_message", ("warning" if notes else "success", " ".join([text] + notes)))


def _convert_dates(columns: list[str]) -> None:
    dataset = get_dataset()
    if dataset is None:
        return
    converted, notes = dates_to_days(dataset.df, columns)
    # a changed table is no longer the bundled sample: the report's script must not reload the original
    set_dataset(converted, name=f"{dataset.name} (dates as days)", source="upload" if dataset.source == "sample"
                else dataset.source)
    set_page_value("_data_message", ("success", " ".join(notes)))


def _dates_section(df: pd.DataFrame) -> None:
    dates = date_columns(df)
    if not dates:
        return
    names = ", ".join(f"`{c}`" for c in dates)
    st.info(f"Column(s) {names} hold dates. They are never added as confounders automatically (a date is not a "
            "category). Convert them to a number, days since the column's first date, to use them in a role, or "
            "leave them out.", icon=":material/calendar_month:")
    st.button("Convert the dates to days since the first date", key="data_convert_dates", on_click=_convert_dates,
              args=(dates,))


def _large_overview(dataset) -> None:
    """A table kept on disk: DuckDB's profile and preview, nothing loaded."""
    kept = cached("_data_table_profile", dataset.version)
    if kept is None:
        kept = cache_result("_data_table_profile", dataset.version,
                            (profile(dataset.table), preview(dataset.table, 20)), keep=1)
    columns, first_rows = kept
    st.divider()
    st.subheader(f"Opened on disk: {dataset.name}")
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows", f"{dataset.n_rows:,}")
    c2.metric("Columns", f"{len(dataset.table.columns):,}")
    c3.metric("Columns with a missing value", f"{int((columns['missing'] > 0).sum()):,}")
    st.caption(f"Kept on disk and read by DuckDB. The Roles and Explore pages see a seeded sample of "
               f"{min(ROLES_FRAME_ROWS, dataset.n_rows):,} rows; on the Estimate page, streamed methods read all "
               f"{dataset.n_rows:,} rows and the others run on a seeded sample (the results say which).")
    tab_preview, tab_columns = st.tabs(["Preview (first 20 rows)", "Columns: types, missing and distinct values"])
    with tab_preview:
        st.dataframe(first_rows, width="stretch", key="data_large_preview")
    with tab_columns:
        st.dataframe(columns, width="stretch", hide_index=True, key="data_large_profile",
                     column_config={"column": "Column", "type": "DuckDB type",
                                    "missing": st.column_config.NumberColumn("Missing"),
                                    "distinct": st.column_config.NumberColumn(
                                        "Distinct values", help="Approximate (HyperLogLog) for large counts.")})
    link_to("pages/2_Roles.py", "Next: assign roles", icon=":material/arrow_forward:")


def _overview() -> None:
    dataset = get_dataset()
    if dataset is None:
        st.info("No data loaded yet: upload a file or load a sample above.")
        return
    if dataset.table is not None:
        _large_overview(dataset)
        return
    df = dataset.df
    st.divider()
    st.subheader(f"Loaded: {dataset.name}")
    described = _describe(dataset.version, df)
    rows_with_missing = int(df.isna().any(axis=1).sum())
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rows", f"{df.shape[0]:,}")
    c2.metric("Columns", f"{df.shape[1]:,}")
    c3.metric("Rows with a missing value", f"{rows_with_missing:,}",
              help="Rows missing a value in a column used by the analysis are dropped by the estimators.")
    c4.metric("Binary columns", f"{int((described['kind'] == 'binary').sum())}",
              help="Columns with exactly two values: the usual treatment candidates.")
    _dates_section(df)
    tab_preview, tab_columns = st.tabs(["Preview (first 200 rows)", "Columns: types and missing values"])
    with tab_preview:
        st.dataframe(df.head(200), width="stretch", height=360)
    with tab_columns:
        st.dataframe(
            described, width="stretch", hide_index=True,
            column_config={
                "column": "Column",
                "kind": st.column_config.TextColumn("Kind", help="binary, numeric, categorical, datetime or constant"),
                "dtype": "Stored as",
                "distinct": st.column_config.NumberColumn("Distinct values"),
                "missing": st.column_config.NumberColumn("Missing"),
                "missing_pct": st.column_config.ProgressColumn("Missing %", min_value=0, max_value=100, format="%.1f%%"),
                "example": "Example value",
            },
        )
    link_to("pages/2_Roles.py", "Next: assign roles", icon=":material/arrow_forward:")


st.title("Data")
st.write("Load the table you want to analyse: one row per unit (person, firm, visit), one column per variable.")
left, right = st.columns(2, gap="large")
with left:
    _upload_section()
with right:
    _sample_section()
_path_section()
_restore_section()
message = page_value("_data_message")
if message:
    kind, text = message
    show = {"success": st.success, "error": st.error, "warning": st.warning}[kind]
    show(text)
try:
    _overview()
except Exception as exc:  # never a traceback on the page
    show_error(exc, "Describing the data")
