"""Size limits for untrusted uploads, checked before any parser sees the file.

A few kilobytes can make a parser allocate without bound: a workbook whose
only cells are A1 and XFD1048576 makes calamine allocate the whole
16,384 x 1,048,576 rectangle (512 GiB, and the process aborts); a zip of
highly compressible sheet XML expands to gigabytes; a CSV line of two million
commas makes pandas build two million columns. These checks read only
metadata (zip directory, the first bytes of each sheet, Parquet footers, the
first line of a text file) and refuse what is beyond the limits with one
sentence; :mod:`causal_core.datasets.safe_read` then parses in a child process with a
memory and time cap, which catches whatever a check cannot see.

Limits and why (a 2-core, 24 GB server shared by several analysts):

==========================  =================  ===============================================
limit                       value              reason
==========================  =================  ===============================================
``MAX_COLUMNS``             10,000             wider tables are not analysable here; pandas
                                               and the pages slow to a crawl
``MAX_CELLS``               200,000,000        rows x columns of CSV/Parquet: 1.6 GB as
                                               float64 (a 3M x 10 survey is 30M)
``MAX_SHEET_CELLS``         25,000,000         rows x columns of the rectangle a sheet spans:
                                               calamine holds 32 bytes per cell and pandas a
                                               Python object each (about 3 GB at the limit);
                                               a full-height Excel sheet of 20 columns is 21M
``MAX_UNCOMPRESSED_BYTES``  1,500,000,000      all members of a workbook together, as
                                               unpacked (XML at 25M cells is about 1.1 GB)
``MAX_COMPRESSION_RATIO``   100                for members over 16 MiB unpacked: real sheet
                                               XML packs 5-30x; zip bombs pack 1,000x
Parquet unpacked bytes      6,000,000,000      4 x ``MAX_UNCOMPRESSED_BYTES``, from the footer's
                                               row-group sizes: what 200M cells may take with
                                               text columns
==========================  =================  ===============================================
"""
from __future__ import annotations

import io
import re
import zipfile
from html import unescape
from posixpath import dirname, join, normpath

from causal_core.core.errors import CausalInputError

__all__ = [
    "MAX_COLUMNS",
    "MAX_CELLS",
    "MAX_SHEET_CELLS",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_COMPRESSION_RATIO",
    "check_workbook",
    "check_parquet",
    "check_text_shape",
    "workbook_sheet_names",
    "scan_sheet_extent",
    "column_number",
]

MAX_COLUMNS = 10_000
MAX_CELLS = 200_000_000
MAX_SHEET_CELLS = 25_000_000
MAX_UNCOMPRESSED_BYTES = 1_500_000_000
MAX_COMPRESSION_RATIO = 100
_RATIO_FLOOR = 16 * 2**20  # members smaller than this may pack as tightly as they like

_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_ATTRIBUTE = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s[^>]*?ref\s*=\s*"([A-Za-z]*)(\d*)(?::([A-Za-z]*)(\d*))?"')
_ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*? r="([0-9]{1,9})"')


def column_number(letters: str | bytes) -> int:
    """Excel column letters to a 1-based number (``"A"`` -> 1, ``"XFD"`` -> 16384)."""
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    number = 0
    for char in letters.upper():
        number = number * 26 + (ord(char) - 64)
    return number


def _open_zip(data: bytes, filename: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CausalInputError(f"File '{filename}' is not a readable Excel workbook (it is not a valid .xlsx zip).") from None


def _attributes(tag: bytes) -> dict[str, str]:
    return {key.decode("ascii", "replace").split(":")[-1]: unescape(value.decode("utf-8", "replace"))
            for key, value in _ATTRIBUTE.findall(tag)}


def _read_member(book: zipfile.ZipFile, name: str, limit: int = 50_000_000) -> bytes:
    info = book.getinfo(name)
    if info.file_size > limit:
        return b""
    with book.open(info) as member:
        return member.read(limit)


def _sheets(book: zipfile.ZipFile) -> list[tuple[str, str | None]]:
    """(sheet name, zip member of its XML or None) in workbook order."""
    names = set(book.namelist())
    workbook = next((n for n in ("xl/workbook.xml", "xl/workbook.bin") if n in names), None)
    if workbook is None or workbook.endswith(".bin"):
        return []
    targets: dict[str, str] = {}
    rels = join(dirname(workbook), "_rels", "workbook.xml.rels")
    if rels in names:
        for tag in _RELATIONSHIP.findall(_read_member(book, rels)):
            attrs = _attributes(tag)
            target = attrs.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else normpath(join(dirname(workbook), target))
            targets[attrs.get("Id", "")] = path
    sheets = []
    for tag in _SHEET.findall(_read_member(book, workbook)):
        attrs = _attributes(tag)
        if "name" in attrs:
            member = targets.get(attrs.get("id", ""))
            sheets.append((attrs["name"], member if member in names else None))
    return sheets


def workbook_sheet_names(data: bytes, filename: str) -> list[str]:
    """Sheet names of an .xlsx/.xlsm workbook from its ``workbook.xml``, without parsing any sheet."""
    with _open_zip(data, filename) as book:
        check_zip_sizes(book, filename)
        names = [name for name, _ in _sheets(book)]
    if not names:
        raise CausalInputError(f"File '{filename}' is not a readable Excel workbook (it lists no sheets).")
    return names


def check_zip_sizes(book: zipfile.ZipFile, filename: str) -> None:
    """Refuse a workbook whose members unpack beyond ``MAX_UNCOMPRESSED_BYTES`` or pack suspiciously tightly."""
    total = 0
    for info in book.infolist():
        total += int(info.file_size)
        ratio = info.file_size / max(int(info.compress_size), 1)
        if info.file_size > _RATIO_FLOOR and ratio > MAX_COMPRESSION_RATIO:
            raise CausalInputError(
                f"Workbook '{filename}' member '{info.filename}' unpacks {int(ratio):,} times its packed size "
                f"({int(info.file_size):,} bytes); uploads may unpack at most {MAX_COMPRESSION_RATIO} times, "
                "so save the data as CSV or Parquet."
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise CausalInputError(
            f"Workbook '{filename}' unpacks to {total:,} bytes; uploads may unpack to at most "
            f"{MAX_UNCOMPRESSED_BYTES:,} bytes, so save the data as CSV or Parquet."
        )


def _check_extent(rows: int, columns: int, where: str, how: str) -> None:
    if columns > MAX_COLUMNS:
        raise CausalInputError(
            f"{where} {how} {columns:,} columns; uploads may have at most {MAX_COLUMNS:,} columns."
        )
    if rows * columns > MAX_SHEET_CELLS:
        raise CausalInputError(
            f"{where} {how} {rows:,} rows x {columns:,} columns = {rows * columns:,} cells; sheets may span at most "
            f"{MAX_SHEET_CELLS:,} cells, so save the data as CSV or Parquet."
        )


def _dimension(head: bytes) -> tuple[int, int] | None:
    """(rows, columns) spanned by a sheet's declared ``<dimension ref=...>``, or None when it has none."""
    match = _DIMENSION.search(head)
    if match is None:
        return None
    first_col, first_row, last_col, last_row = (g.decode("ascii") if g else "" for g in match.groups())
    if not last_col and not last_row:
        last_col, last_row = first_col, first_row
    cols = (column_number(first_col or "A"), column_number(last_col or first_col or "A"))
    rows = (int(first_row or 1), int(last_row or first_row or 1))
    return max(rows) - min(rows) + 1, max(cols) - min(cols) + 1


def _chosen_member(book: zipfile.ZipFile, filename: str, sheet: str | int | None) -> tuple[str, str | None]:
    sheets = _sheets(book)
    if not sheets:
        return "first sheet", None
    if sheet is None:
        return sheets[0]
    if isinstance(sheet, int):
        return sheets[sheet] if 0 <= sheet < len(sheets) else (str(sheet), None)
    return next(((name, member) for name, member in sheets if name == sheet), (sheet, None))


def check_workbook(data: bytes, filename: str, sheet: str | int | None = None) -> None:
    """Cheap pre-checks of an .xlsx/.xlsm upload: zip sizes and ratios, and the sheet's declared dimension."""
    with _open_zip(data, filename) as book:
        check_zip_sizes(book, filename)
        name, member = _chosen_member(book, filename, sheet)
        members = [member] if member else [n for n in book.namelist() if n.startswith("xl/worksheets/")
                                           and n.endswith(".xml")]
        for part in members:
            with book.open(part) as stream:
                head = stream.read(65536)
            extent = _dimension(head)
            if extent is not None:
                _check_extent(*extent, f"Sheet '{name}' of '{filename}'", "declares")


def scan_sheet_extent(data: bytes, filename: str, sheet: str | int | None = None, *, chunk: int = 8 * 2**20) -> None:
    """Stream the chosen sheet's XML and refuse it as soon as a cell or row lies beyond the limits.

    Runs only on a sheet without a ``<dimension>`` (Excel, openpyxl and xlsxwriter always write one, and
    :func:`check_workbook` checks it), so real workbooks pay nothing; a dimension that lies is left to the
    capped child process of :mod:`causal_core.datasets.safe_read`. Reads the XML once, in chunks.
    """
    with _open_zip(data, filename) as book:
        name, member = _chosen_member(book, filename, sheet)
        if member is None:
            return
        with book.open(member) as stream:
            if _dimension(stream.read(65536)) is not None:
                return
        where = f"Sheet '{name}' of '{filename}'"
        max_row = max_column = 0
        tail = b""
        with book.open(member) as stream:
            while True:
                block = stream.read(chunk)
                if not block:
                    break
                text = tail + block
                cut = text.rfind(b"<")
                text, tail = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
                rows = _ROW_REF.findall(text)
                max_row = max(max_row, max(map(int, rows)) if rows else 0, text.count(b"<row"))
                for width in (4, 3, 2, 1):  # the widest column is among the longest letter groups
                    letters = set(re.findall(rb' r="([A-Z]{%d})[0-9]' % width, text))
                    if letters:
                        max_column = max(max_column, max(map(column_number, letters)))
                        break
                _check_extent(max_row, max_column, where, "has cells reaching")


def check_parquet(data: bytes, filename: str) -> None:
    """Refuse a Parquet file whose footer declares more than the limits, before reading any column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    except Exception as exc:
        raise CausalInputError(f"File '{filename}' is not a readable Parquet file ({type(exc).__name__}).") from None
    rows, columns = int(meta.num_rows), int(meta.num_columns)
    if columns > MAX_COLUMNS:
        raise CausalInputError(f"File '{filename}' has {columns:,} columns; uploads may have at most {MAX_COLUMNS:,}.")
    if rows * columns > MAX_CELLS:
        raise CausalInputError(
            f"File '{filename}' has {rows:,} rows x {columns:,} columns = {rows * columns:,} cells; "
            f"uploads may have at most {MAX_CELLS:,} cells."
        )
    unpacked = sum(int(meta.row_group(i).total_byte_size) for i in range(meta.num_row_groups))
    if unpacked > 4 * MAX_UNCOMPRESSED_BYTES:
        raise CausalInputError(
            f"File '{filename}' unpacks to {unpacked:,} bytes; uploads may unpack to at most "
            f"{4 * MAX_UNCOMPRESSED_BYTES:,} bytes."
        )


def check_text_shape(data: bytes, filename: str, delimiter: str | None, encoding: str) -> None:
    """Refuse a delimited text file whose first line has more than ``MAX_COLUMNS`` fields or too many cells.

    With ``delimiter=None`` (before it is known) the most frequent of ``, ; tab |`` counts.
    """
    end = data.find(b"\n", 0, 64 * 2**20)
    first = data[: end if end >= 0 else 64 * 2**20]
    candidates = [delimiter] if delimiter else [",", ";", "\t", "|"]
    if encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32")):
        text = first.decode(encoding, errors="ignore")
        columns, delimiter = max((text.count(d) + 1, d) for d in candidates)
    else:
        columns, delimiter = max((first.count(d.encode("ascii")) + 1, d) for d in candidates)
    lines = data.count(b"\n") + 1  # about one per row in every encoding offered
    if columns > MAX_COLUMNS:
        raise CausalInputError(
            f"File '{filename}' has {columns:,} columns in its first line ('{delimiter}' between them); "
            f"uploads may have at most {MAX_COLUMNS:,} columns."
        )
    if lines * columns > MAX_CELLS:
        raise CausalInputError(
            f"File '{filename}' has about {lines:,} rows x {columns:,} columns = {lines * columns:,} cells; "
            f"uploads may have at most {MAX_CELLS:,} cells."
        )
