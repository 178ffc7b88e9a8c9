"""Repairs of freshly read tables that the reader reports as notes: nested values and decimal commas."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

__all__ = ["nested_to_json", "decimal_comma_columns", "days_since_first_date", "dates_to_days"]

_DECIMAL_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")


def _plain(value):
    """A nested value (dict, list, tuple, array, numpy scalar) as plain JSON-serialisable Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return value


def _is_nested(value) -> bool:
    return isinstance(value, (dict, list, tuple, np.ndarray))


def nested_to_json(frame: pd.DataFrame, where: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Replace columns holding dicts/lists/arrays (Parquet struct, list or map) by their JSON text.

    Returns the (possibly new) frame and a note naming the converted columns; the input is not modified.
    """
    nested = []
    for column in frame.columns:
        series = frame[column]
        if series.dtype != object:
            continue
        present = series.dropna()
        if len(present) and present.map(_is_nested).any():
            nested.append(column)
    if not nested:
        return frame, ()
    out = frame.copy()
    for column in nested:
        out[column] = frame[column].map(
            lambda v: json.dumps(_plain(v), default=str, ensure_ascii=False) if _is_nested(v) else v)
    names = ", ".join(f"'{c}'" for c in nested)
    return out, (f"{where}: column(s) {names} hold nested values (struct, list or map); they were converted to "
                 "JSON text, so use them only as categories or flatten them before uploading.",)


def decimal_comma_columns(frame: pd.DataFrame, where: str, delimiter: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Text columns whose every value reads as a number with a decimal comma ('1,5', '1.234,75').

    With a delimiter other than ',' they are converted to numbers; with ',' the note only says so.
    Returns the (possibly new) frame and its notes; the input is not modified.
    """
    found = []
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series) \
                or pd.api.types.is_datetime64_any_dtype(series):
            continue
        present = series.dropna()
        if not len(present) or not all(isinstance(v, str) for v in present.iloc[:200]):
            continue
        sample = present.iloc[:200].str.strip()
        if not sample.str.fullmatch(_DECIMAL_COMMA).all() or not sample.str.contains(",").any():
            continue
        text = present.astype(str).str.strip()
        if text.str.fullmatch(_DECIMAL_COMMA).all() and text.str.contains(",").any():
            found.append(column)
    if not found:
        return frame, ()
    names = ", ".join(f"'{c}'" for c in found)
    if delimiter == ",":
        return frame, (f"{where}: column(s) {names} look like numbers with decimal commas but were kept as text; "
                       "save the file with ';' between columns, or with '.' as the decimal mark.",)
    out = frame.copy()
    for column in found:
        text = frame[column].where(frame[column].isna(), frame[column].astype(str).str.strip())
        out[column] = pd.to_numeric(text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    return out, (f"{where}: column(s) {names} hold numbers with decimal commas; they were read as numbers "
                 "(',' as the decimal mark, '.' between thousands).",)


def days_since_first_date(series: pd.Series) -> pd.Series:
    """Dates (typed, or written as text) as days since the column's first date, floats; unreadable -> NaN.

    Text is read with each value's own format (``format="mixed"``) and time zones are brought to UTC.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = series
    else:
        stamps = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
    if pd.api.types.is_datetime64_any_dtype(stamps) and getattr(stamps.dt, "tz", None) is None:
        stamps = stamps.dt.tz_localize("UTC")
    first = stamps.min()
    return ((stamps - first) / pd.Timedelta(days=1)).astype(float)


def dates_to_days(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """A copy of ``frame`` with each date column of ``columns`` replaced by days since its first date.

    Returns the new frame and one note per column naming the first date (the input is not modified).
    """
    out = frame.copy()
    notes = []
    for column in columns:
        if column not in frame.columns:
            from causal_core.core.errors import CausalInputError
            raise CausalInputError(f"Column '{column}' to convert from dates is not in the data.")
        days = days_since_first_date(frame[column])
        unreadable = int((frame[column].notna() & days.isna()).sum())
        first = pd.to_datetime(frame[column], errors="coerce", format="mixed", utc=True).min()
        out[column] = days
        note = f"Column '{column}' now holds days since its first date ({first:%Y-%m-%d})"
        notes.append(note + (f"; {unreadable} value(s) that are not dates became missing." if unreadable else "."))
    return out, tuple(notes)
