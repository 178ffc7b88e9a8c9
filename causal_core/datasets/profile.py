"""Describe the columns of a table: type, distinct values and missing values."""
from __future__ import annotations

import json
import re

import pandas as pd

__all__ = ["column_kind", "describe_columns", "hashable_values", "looks_like_date_text", "date_columns"]

#: Dates written as text: ISO (2024-03-01, optionally with a time and zone), day/month/year or month/day/year
#: with '/', '-' or '.', and written-out months (1 Mar 2024, March 1, 2024).
_DATE_TEXT = re.compile(
    r"\s*(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}[ -][A-Za-z]{3,9}\.?[ -]\d{2,4}"
    r"|[A-Za-z]{3,9}\.? \d{1,2},? \d{4})"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|UTC|[+-]\d{2}:?\d{2})?)?\s*"
)
#: Values inspected to decide whether a text column holds dates.
_DATE_SAMPLE = 500
#: Share of the inspected values that must read as dates.
_DATE_SHARE = 0.95


def _json_default(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _as_text(value):
    """An unhashable value (dict, list, set, array) as JSON-like text; anything else unchanged."""
    try:
        hash(value)
        return value
    except TypeError:
        try:
            return json.dumps(value, default=_json_default, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            return str(value)


def hashable_values(series: pd.Series) -> pd.Series:
    """``series`` itself, or (when it holds dicts, lists, sets or arrays) a copy with those values as text.

    Counting distinct values then works on every column; the input is not modified.
    """
    if series.dtype != object:
        return series
    try:
        series.nunique(dropna=True)
        return series
    except TypeError:
        return series.map(_as_text)


def looks_like_date_text(series: pd.Series) -> bool:
    """True for a text column whose values are dates written out (``"2024-03-01"``, ``"01/03/2024"``...).

    At least 95% of the first 500 non-missing values must have a date's shape and parse as one.
    """
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series) \
            or pd.api.types.is_datetime64_any_dtype(series):
        return False
    present = series.dropna()
    if not len(present):
        return False
    sample = present.iloc[:_DATE_SAMPLE]
    if not all(isinstance(v, str) for v in sample):
        return False
    shaped = sample.str.fullmatch(_DATE_TEXT)
    if shaped.mean() < _DATE_SHARE:
        return False
    parsed = pd.to_datetime(sample[shaped], errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().sum() >= _DATE_SHARE * len(sample))


def _is_time_dtype(series: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in ("datetime", "datetime64", "date")


def date_columns(df: pd.DataFrame) -> list[str]:
    """Columns holding dates, typed (datetime) or written as text, whatever their number of values."""
    return [str(c) for c in df.columns if _is_time_dtype(df[c]) or looks_like_date_text(df[c])]


def column_kind(series: pd.Series) -> str:
    """``"binary"``, ``"numeric"``, ``"categorical"``, ``"datetime"`` or ``"constant"`` (ignoring missing values).

    Dates written as text count as ``"datetime"``, so they are never suggested as categories or confounders.
    """
    n_levels = hashable_values(series).dropna().nunique()
    if n_levels <= 1:
        return "constant"
    if n_levels == 2:
        return "binary"
    if _is_time_dtype(series) or looks_like_date_text(series):
        return "datetime"
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return "numeric"
    return "categorical"


def describe_columns(df: pd.DataFrame) -> pd.DataFrame:
    """One row per column: kind, storage type, distinct values, missing count and share, an example value.

    The input is not modified.
    """
    rows = []
    n = len(df)
    for column in df.columns:
        series = hashable_values(df[column])
        missing = int(series.isna().sum())
        present = series.dropna()
        rows.append({
            "column": str(column),
            "kind": column_kind(series),
            "dtype": str(df[column].dtype),
            "distinct": int(present.nunique()),
            "missing": missing,
            "missing_pct": 100.0 * missing / n if n else 0.0,
            "example": str(present.iloc[0]) if len(present) else "",
        })
    return pd.DataFrame(rows, columns=["column", "kind", "dtype", "distinct", "missing", "missing_pct", "example"])
