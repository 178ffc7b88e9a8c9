"""Read an uploaded file (CSV/TSV, Excel or Parquet) into a DataFrame with clear errors.

:func:`read_table` (and :func:`causal_core.datasets.safe_read.read_upload`, which also
returns notes) parse in a child process with memory and time caps, after the
size checks of :mod:`causal_core.datasets.upload_limits`, so that no upload can stall or
kill the calling process. :func:`read_table_in_process` is what that child runs;
call it directly only on files you trust.

Notes (returned with the frame, for the app to show): NUL bytes removed from
text, numbers with decimal commas converted, nested Parquet values turned into
JSON text. Text that looks like UTF-16 without a byte-order mark is refused
with a message naming the encoding to choose.
"""
from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import PurePath

import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.datasets.table_fixes import decimal_comma_columns, nested_to_json
from causal_core.datasets.upload_limits import check_parquet, check_text_shape, check_workbook, scan_sheet_extent, workbook_sheet_names

__all__ = ["read_table", "read_table_in_process", "excel_sheet_names", "SUPPORTED_EXTENSIONS"]

#: File name endings the reader understands.
SUPPORTED_EXTENSIONS = ("csv", "tsv", "tab", "txt", "xlsx", "xlsm", "xls", "parquet", "pq")

_DELIMITERS = ",;\t|"

#: pandas' Excel engine: calamine (Rust, about 5x faster than openpyxl on a 20 MB
#: workbook) when python-calamine is installed, else pandas' default.
_EXCEL_ENGINE = "calamine" if importlib.util.find_spec("python_calamine") is not None else None


def _extension(filename: str) -> str:
    return PurePath(filename).suffix.lower().lstrip(".")


def _guess_delimiter(sample: str, extension: str) -> str:
    if extension in ("tsv", "tab"):
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _wide_encoding(encoding: str) -> bool:
    return encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32"))


def check_utf16_without_bom(data: bytes, filename: str, encoding: str) -> None:
    """Refuse UTF-16 text (a NUL byte at every other position) that is about to be read as an 8-bit encoding."""
    if _wide_encoding(encoding) or b"\x00" not in data[:65536]:
        return
    head = data[:65536]
    half = max(len(head) // 2, 1)
    nul_even, nul_odd = head[0::2].count(0), head[1::2].count(0)
    for nul_here, nul_there, order in ((nul_odd, nul_even, "le"), (nul_even, nul_odd, "be")):
        if nul_here > 0.3 * half and nul_there < 0.05 * half:
            raise CausalInputError(
                f"File '{filename}' looks like UTF-16 text without a byte-order mark (a NUL byte at every other "
                f"position); choose the encoding utf-16-{order}."
            )


def _check_nul_bytes(data: bytes, filename: str, encoding: str) -> tuple[bytes, tuple[str, ...]]:
    """Refuse UTF-16 text read as an 8-bit encoding; strip stray NUL bytes from other text, with a note."""
    if _wide_encoding(encoding) or b"\x00" not in data:
        return data, ()
    check_utf16_without_bom(data, filename, encoding)
    count = int(data.count(b"\x00"))
    return data.replace(b"\x00", b""), (
        f"File '{filename}' holds {count:,} NUL byte(s), which are not text; they were removed before reading.",)


def _read_text(data: bytes, filename: str, extension: str, encoding: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    try:
        "".encode(encoding)
    except LookupError:
        raise CausalInputError(f"Encoding '{encoding}' is unknown; choose utf-8, latin-1, cp1252 or utf-16.") from None
    data, notes = _check_nul_bytes(data, filename, encoding)
    try:
        head = data[:65536].decode(encoding, errors="ignore" if len(data) > 65536 else "strict")
    except UnicodeDecodeError as exc:
        raise CausalInputError(
            f"File '{filename}' is not valid {encoding} text (byte {data[exc.start:exc.start + 1]!r} at position "
            f"{exc.start}); choose its encoding (for example latin-1 or cp1252) or save it as UTF-8."
        ) from None
    if not head.strip():
        raise CausalInputError(f"File '{filename}' is empty.")
    delimiter = _guess_delimiter(head, extension)
    check_text_shape(data, filename, delimiter, encoding)
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=delimiter, encoding=encoding, low_memory=False)
    except UnicodeDecodeError as exc:
        raise CausalInputError(
            f"File '{filename}' is not valid {encoding} text (position {exc.start}); "
            "choose its encoding (for example latin-1 or cp1252) or save it as UTF-8."
        ) from None
    except pd.errors.EmptyDataError:
        raise CausalInputError(f"File '{filename}' has no columns to read.") from None
    except pd.errors.ParserError as exc:
        raise CausalInputError(
            f"File '{filename}' could not be read as a table with '{delimiter}' between columns ({exc}); "
            "check that every row has the same number of fields."
        ) from None
    frame, decimal_notes = decimal_comma_columns(frame, f"File '{filename}'", delimiter)
    return frame, notes + decimal_notes


def _open_workbook(data: bytes) -> pd.ExcelFile:
    try:
        return pd.ExcelFile(io.BytesIO(data), engine=_EXCEL_ENGINE)
    except Exception as exc:  # calamine/openpyxl/xlrd raise many types for a broken file
        raise CausalInputError(f"This file is not a readable Excel workbook ({type(exc).__name__}).") from None


def excel_sheet_names(data: bytes, filename: str = "workbook.xlsx") -> list[str]:
    """The sheet names of an Excel workbook; unreadable or oversized files raise :class:`CausalInputError`.

    .xlsx/.xlsm names come from the workbook's directory without parsing a sheet; legacy .xls
    workbooks are opened in a guarded child process (:mod:`causal_core.datasets.safe_read`).
    """
    if data[:2] == b"PK":
        return workbook_sheet_names(data, filename)
    from causal_core.datasets.safe_read import upload_sheet_names

    return upload_sheet_names(data, filename)


def sheet_names_in_process(data: bytes) -> list[str]:
    """Sheet names as the Excel engine lists them (run inside the guarded child for .xls)."""
    with _open_workbook(data) as book:
        return [str(name) for name in book.sheet_names]


def _read_excel(data: bytes, filename: str, sheet: str | int | None) -> tuple[pd.DataFrame, str]:
    if data[:2] == b"PK":  # .xlsx/.xlsm: refuse oversized sheets before the engine allocates them
        check_workbook(data, filename, sheet)
        scan_sheet_extent(data, filename, sheet)
    with _open_workbook(data) as book:
        names = list(book.sheet_names)
        chosen = names[0] if sheet is None else sheet
        if isinstance(chosen, str) and chosen not in names:
            raise CausalInputError(f"Workbook '{filename}' has no sheet '{chosen}'; its sheets are {names}.")
        try:
            frame = pd.read_excel(book, sheet_name=chosen)
        except Exception as exc:
            raise CausalInputError(f"Sheet '{chosen}' of '{filename}' could not be read ({type(exc).__name__}).") from None
    return frame, f"Sheet '{chosen}' of '{filename}'"


def _nested_parquet_to_text(table, filename: str):
    """Struct, list and map columns of an Arrow table as JSON text (exact values), and a note naming them."""
    import json

    import pyarrow as pa

    nested = [i for i, field in enumerate(table.schema) if pa.types.is_nested(field.type)]
    if not nested:
        return table, ()
    for i in nested:
        values = [None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                  for v in table.column(i).to_pylist()]
        table = table.set_column(i, table.schema.field(i).name, pa.array(values, type=pa.string()))
    names = ", ".join(f"'{table.schema.field(i).name}'" for i in nested)
    return table, (f"File '{filename}': column(s) {names} hold nested values (struct, list or map); they were "
                   "converted to JSON text, so use them only as categories or flatten them before uploading.",)


def _read_parquet(data: bytes, filename: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_parquet(data, filename)
    try:
        # BufferReader wraps the bytes without copying them, and pyarrow's reader threads
        # never call back into Python (as they do through an io.BytesIO)
        table = pq.read_table(pa.BufferReader(data))
        table, notes = _nested_parquet_to_text(table, filename)
        return table.to_pandas(), notes
    except Exception as exc:
        raise CausalInputError(f"File '{filename}' is not a readable Parquet file ({type(exc).__name__}).") from None


def read_table(data: bytes, filename: str, *, encoding: str = "utf-8", sheet: str | int | None = None) -> pd.DataFrame:
    """Read the bytes of an uploaded file into a new DataFrame, in a guarded child process.

    Parameters
    ----------
    data : bytes
        File contents.
    filename : str
        Original name; its ending chooses the reader (CSV/TSV/TXT, XLSX/XLS, Parquet).
    encoding : str
        Text encoding of CSV/TSV files.
    sheet : str or int, optional
        Excel sheet (the first by default).

    Raises
    ------
    CausalInputError
        If the file type is not supported, the file is empty, beyond the limits of
        :mod:`causal_core.datasets.upload_limits`, needs more memory or time than the reader may
        take, or cannot be read (the message says what to change).

    See Also
    --------
    causal_core.datasets.safe_read.read_upload : the same, with the notes about repairs made while reading.
    """
    from causal_core.datasets.safe_read import read_upload

    return read_upload(data, filename, encoding=encoding, sheet=sheet).frame


def read_table_in_process(data: bytes, filename: str, *, encoding: str = "utf-8",
                          sheet: str | int | None = None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Parse in this process: the frame and the notes about repairs made while reading.

    The size checks run first, but a parser may still exhaust memory on a file they
    cannot see through (a legacy .xls, a lying zip): use :func:`read_table` for uploads.
    """
    extension = _extension(filename)
    if extension not in SUPPORTED_EXTENSIONS:
        raise CausalInputError(
            f"File '{filename}' has type '.{extension}'; upload a CSV/TSV, Excel (.xlsx) or Parquet file."
        )
    if not data:
        raise CausalInputError(f"File '{filename}' is empty.")
    notes: tuple[str, ...] = ()
    if extension in ("xlsx", "xlsm", "xls"):
        frame, where = _read_excel(data, filename, sheet)
    elif extension in ("parquet", "pq"):
        frame, notes = _read_parquet(data, filename)
        where = f"File '{filename}'"
    else:
        frame, notes = _read_text(data, filename, extension, encoding)
        where = f"File '{filename}'"
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise CausalInputError(
            f"{where} is empty: it has {int(frame.shape[0])} rows and {int(frame.shape[1])} columns.")
    frame.columns = [str(c) for c in frame.columns]
    frame, nested_notes = nested_to_json(frame, where)
    return frame, notes + nested_notes
