"""Describe the columns of a table: type, distinct values and missing values."""
from __future__ import annotations

import json

import pandas as pd

__all__ = ["column_kind", "describe_columns", "hashable_values"]


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


def column_kind(series: pd.Series) -> str:
    """``"binary"``, ``"numeric"``, ``"categorical"``, ``"datetime"`` or ``"constant"`` (ignoring missing values)."""
    n_levels = hashable_values(series).dropna().nunique()
    if n_levels <= 1:
        return "constant"
    if n_levels == 2:
        return "binary"
    if pd.api.types.is_datetime64_any_dtype(series):
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
