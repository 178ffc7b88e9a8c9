"""Crafted uploads that would kill or stall the server are refused with one sentence, or repaired with a note.

Every file is built here. The dangerous workbooks go only through the guarded
reader (size checks in this process, parsing in a capped child), never straight
to calamine in the test process.
"""
from __future__ import annotations

import io
import os
import time
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import causal_core as cc
from causal_core.datasets.profile import describe_columns
from causal_core.datasets.safe_read import read_upload
from causal_core.datasets.suggestions import suggest_roles
from causal_core.datasets.table_reader import excel_sheet_names, read_table, read_table_in_process
from causal_core.datasets.upload_limits import MAX_COLUMNS

_CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_HEAD = '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
_SHEET_TAIL = "</sheetData></worksheet>"


def _workbook(sheet_xml: str | None = None, *, sheet_chunks=None) -> bytes:
    """A minimal .xlsx written by hand: one sheet 'Data' whose XML is given whole or as a stream of chunks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        if sheet_chunks is None:
            book.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        else:
            with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
                for chunk in sheet_chunks:
                    member.write(chunk)
    return buffer.getvalue()


def _sheet(rows: str, dimension: str | None = None) -> str:
    head = _SHEET_HEAD + (f'<dimension ref="{dimension}"/>' if dimension else "") + "<sheetData>"
    return head + rows + _SHEET_TAIL


_CORNERS = '<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>'


def _plain(message: str) -> None:
    assert "np." not in message and "int64(" not in message, message


def test_a_well_formed_handmade_workbook_reads():
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c><c r="B1" t="inlineStr"><is><t>y</t></is></c>'
            '</row><row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>2.5</v></c></row>')
    data = _workbook(_sheet(rows, "A1:B2"))
    assert excel_sheet_names(data, "ok.xlsx") == ["Data"]
    frame = read_table(data, "ok.xlsx")
    assert list(frame.columns) == ["x", "y"] and frame.iloc[0].tolist() == [1, 2.5]


@pytest.mark.parametrize("dimension, how", [("A1:XFD1048576", "declares"), (None, "has cells reaching")])
def test_corner_cells_workbook_is_refused_and_this_process_survives(dimension, how):
    data = _workbook(_sheet(_CORNERS, dimension))
    assert len(data) < 3000  # a couple of kilobytes that would make calamine allocate 512 GiB
    start = time.monotonic()
    with pytest.raises(cc.CausalInputError, match=f"Sheet 'Data' of 'corners.xlsx' {how} 16,384 columns; "
                                                  f"uploads may have at most {MAX_COLUMNS:,} columns"):
        read_upload(data, "corners.xlsx")
    assert time.monotonic() - start < 60
    assert read_table(b"a,b\n1,2\n", "after.csv").shape == (1, 2)  # the test process and the reader still work


def test_sparse_tall_workbook_is_refused():
    data = _workbook(_sheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="2000000"><c r="Z2000000"><v>2</v></c></row>'))
    with pytest.raises(cc.CausalInputError, match=r"has cells reaching 2,000,000 rows x 26 columns = 52,000,000 cells; "
                                                  r"sheets may span at most 25,000,000 cells") as info:
        read_upload(data, "sparse.xlsx")
    _plain(str(info.value))


def test_zip_bomb_is_refused_before_unpacking():
    row = b'<row><c t="inlineStr"><is><t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</t></is></c></row>'
    block = row * (4 * 2**20 // len(row))
    chunks = [_SHEET_HEAD.encode() + b"<sheetData>"] + [block] * 75 + [_SHEET_TAIL.encode()]  # ~315 MB unpacked
    data = _workbook(sheet_chunks=iter(chunks))
    assert len(data) < 5_000_000
    start = time.monotonic()
    with pytest.raises(cc.CausalInputError, match=r"member 'xl/worksheets/sheet1.xml' unpacks [\d,]+ times its packed "
                                                  r"size .*at most 100 times"):
        read_upload(data, "bomb.xlsx")
    with pytest.raises(cc.CausalInputError, match="unpacks"):
        excel_sheet_names(data, "bomb.xlsx")
    assert time.monotonic() - start < 10  # refused from the zip directory, never unpacked


@pytest.mark.parametrize("rows, dimension", [
    (f'<row r="1">{"<c><v>1</v></c>" * 16384}</row><row r="1048576"><c><v>2</v></c></row>', None),  # no references
    (_CORNERS, "A1:B2"),  # a dimension that lies
])
def test_what_the_checks_cannot_see_is_caught_by_the_child_guard(rows, dimension):
    """The checks pass these; calamine then asks for 512 GiB, aborts, and only the capped child dies."""
    data = _workbook(_sheet(rows, dimension))
    with pytest.raises(cc.CausalInputError, match=r"Reading 'hidden.xlsx' needed more than 6 GiB of memory, the most "
                                                  r"an upload may use"):
        read_upload(data, "hidden.xlsx")
    assert read_table(b"a\n1\n2\n", "after.csv")["a"].tolist() == [1, 2]


def test_time_cap_kills_the_child():
    with pytest.raises(cc.CausalInputError, match=r"Reading 'slow.csv' took longer than 0.05 s, the most an upload"):
        read_upload(b"a,b\n1,2\n", "slow.csv", seconds=0.05)


def test_two_million_columns_csv_is_refused_fast():
    start = time.monotonic()
    with pytest.raises(cc.CausalInputError, match=r"File 'wide.csv' has 2,000,001 columns in its first line \(',' "
                                                  r"between them\); uploads may have at most 10,000 columns"):
        read_upload(b"," * 2_000_000 + b"\n1\n", "wide.csv")
    assert time.monotonic() - start < 5  # refused here, before a child starts


def test_parquet_beyond_the_column_limit_is_refused_from_its_footer():
    table = pa.table({f"c{i}": pa.array([0], type=pa.int8()) for i in range(MAX_COLUMNS + 1)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    with pytest.raises(cc.CausalInputError, match="File 'wide.parquet' has 10,001 columns; uploads may have at most"):
        read_upload(buffer.getvalue(), "wide.parquet")


def _nested_parquet() -> bytes:
    n = 40
    table = pa.table({
        "t": pa.array([0, 1] * (n // 2)),
        "y": pa.array(np.arange(n, dtype=float)),
        "info": pa.array([{"a": i % 2, "b": "x"} if i % 7 else None for i in range(n)]),
        "tags": pa.array([[i % 3, 1] for i in range(n)]),
        "attrs": pa.array([[("k", i % 2)] for i in range(n)], type=pa.map_(pa.string(), pa.int64())),
    })
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_nested_parquet_columns_become_json_text_with_a_note():
    result = read_upload(_nested_parquet(), "nested.parquet")
    frame = result.frame
    assert result.notes == ("File 'nested.parquet': column(s) 'info', 'tags', 'attrs' hold nested values "
                            "(struct, list or map); they were converted to JSON text, so use them only as "
                            "categories or flatten them before uploading.",)
    assert frame["info"].iloc[1] == '{"a": 1, "b": "x"}' and pd.isna(frame["info"].iloc[0])
    assert frame["tags"].iloc[2] == "[2, 1]" and frame["attrs"].iloc[1] == '[["k", 1]]'
    assert describe_columns(frame).set_index("column").loc["info", "distinct"] == 2
    assert cc.subgroup_table(frame, "t", "y", by="tags").table.shape[0] == 4


def test_profile_suggestions_and_subgroups_accept_unhashable_values():
    frame = pq.read_table(pa.BufferReader(_nested_parquet())).to_pandas()  # dicts, arrays, lists of tuples
    before = frame.copy(deep=True)
    described = describe_columns(frame).set_index("column")
    assert described.loc["info", "kind"] == "binary" and described.loc["tags", "distinct"] == 3
    assert described.loc["info", "dtype"] == "object"
    suggestions = suggest_roles(frame)
    assert "tags" in suggestions.confounders and "t" in suggestions.treatment
    table = cc.subgroup_table(frame, "t", "y", by="tags")
    assert table.table.loc["All", "n_treated"] == 20
    scan = cc.scan_reversals(frame, "t", "y")
    assert set(scan["column"]) == {"info", "tags", "attrs"}
    pd.testing.assert_frame_equal(frame.drop(columns=["tags"]), before.drop(columns=["tags"]))
    assert all(np.array_equal(a, b) for a, b in zip(frame["tags"], before["tags"]))


def test_utf16_without_byte_order_mark_names_the_encoding_to_choose():
    data = "name,score\nAnna,1\nJürgen,2\n".encode("utf-16-le")
    with pytest.raises(cc.CausalInputError, match=r"File 'u16.csv' looks like UTF-16 text without a byte-order mark "
                                                  r"\(a NUL byte at every other position\); choose the encoding "
                                                  r"utf-16-le\."):
        read_upload(data, "u16.csv")
    with pytest.raises(cc.CausalInputError, match="choose the encoding utf-16-be"):
        read_upload("name,score\nAnna,1\n".encode("utf-16-be"), "u16be.csv")
    frame = read_upload(data, "u16.csv", encoding="utf-16-le").frame
    assert frame["name"].tolist() == ["Anna", "Jürgen"] and frame["score"].tolist() == [1, 2]


def test_stray_nul_bytes_are_removed_with_a_note():
    result = read_upload(b"a,b\n1,2\x00\n3,\x004\n", "nul.csv")
    assert result.frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    assert result.notes == ("File 'nul.csv' holds 2 NUL byte(s), which are not text; they were removed before "
                            "reading.",)


def test_decimal_commas_with_semicolons_are_read_as_numbers():
    data = "id;price;label\n1;1,5;a\n2;2,75;b\n3;-1.234,5;c\n4;;d\n".encode()
    result = read_upload(data, "eu.csv")
    assert result.frame["price"].tolist()[:3] == [1.5, 2.75, -1234.5] and pd.isna(result.frame["price"].iloc[3])
    assert result.frame["label"].tolist() == ["a", "b", "c", "d"]
    assert result.notes == ("File 'eu.csv': column(s) 'price' hold numbers with decimal commas; they were read as "
                            "numbers (',' as the decimal mark, '.' between thousands).",)


def test_decimal_commas_between_commas_are_kept_as_text_with_a_note():
    result = read_upload(b'id,price\n1,"1,5"\n2,"2,75"\n', "quoted.csv")
    assert result.frame["price"].tolist() == ["1,5", "2,75"]
    assert "look like numbers with decimal commas but were kept as text" in result.notes[0]


def test_guarded_read_gives_the_same_frame_as_the_in_process_reader():
    frame = pd.DataFrame({"i": [1, 2, 3], "f": [0.5, np.nan, 2.0], "s": ["x", None, "z"], "b": [True, False, True],
                          "d": pd.to_datetime(["2020-01-01", "2021-06-30", None])})
    data = frame.to_csv(index=False).encode()
    guarded = read_table(data, "same.csv")
    pd.testing.assert_frame_equal(guarded, read_table_in_process(data, "same.csv")[0])
    buffer = io.BytesIO()
    pd.DataFrame({"mixed": [1, "a", 2.5], "n": [1, 2, 3]}).to_excel(buffer, index=False, sheet_name="S")
    book = read_table(buffer.getvalue(), "mixed.xlsx")  # a column Arrow cannot type comes back intact
    assert book["mixed"].tolist() == [1, "a", 2.5] and book["n"].tolist() == [1, 2, 3]


def test_unreadable_legacy_xls_is_refused_in_the_child():
    with pytest.raises(cc.CausalInputError, match="not a readable Excel workbook"):
        excel_sheet_names(b"\xd0\xcf\x11\xe0 not really a workbook", "old.xls")
    with pytest.raises(cc.CausalInputError, match="not a readable Excel workbook"):
        read_upload(b"\xd0\xcf\x11\xe0 not really a workbook", "old.xls")
    assert os.getpid() > 0
