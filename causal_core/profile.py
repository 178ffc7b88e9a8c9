"""Describe the columns of a table: type, distinct values and missing values."""
from __future__ import annotations

import pandas as pd

__all__ = ["column_kind", "describe_columns"]


def column_kind(series: pd.Series) -> str:
    """``"binary"``, ``"numeric"``, ``"categorical"``, ``"datetime"`` or ``"constant"`` (ignoring missing values)."""
    n_levels = series.dropna().nunique()
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
        series = df[column]
        missing = int(series.isna().sum())
        present = series.dropna()
        rows.append({
            "column": str(column),
            "kind": column_kind(series),
            "dtype": str(series.dtype),
            "distinct": int(present.nunique()),
            "missing": missing,
            "missing_pct": 100.0 * missing / n if n else 0.0,
            "example": str(present.iloc[0]) if len(present) else "",
        })
    return pd.DataFrame(rows, columns=["column", "kind", "dtype", "distinct", "missing", "missing_pct", "example"])
