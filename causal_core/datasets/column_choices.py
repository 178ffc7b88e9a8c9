"""Which columns of a table fit which choice on a page: treatments, outcomes, splits, measurements, levels.

Pure functions of the table (never modifying it), so that pages only arrange
what they return and tests reach them directly.
"""
from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from causal_core.datasets.profile import column_kind

__all__ = [
    "columns_of_kind",
    "split_candidates",
    "treatment_levels",
    "is_zero_one",
    "needs_treated_level",
    "default_treated_level",
    "unassigned_columns",
    "binary_columns",
    "count_columns",
]


def columns_of_kind(df: pd.DataFrame, kinds: Iterable[str]) -> list[str]:
    """Names (as text) of the columns whose :func:`~causal_core.datasets.profile.column_kind` is one of ``kinds``."""
    wanted = set(kinds)
    return [str(c) for c in df.columns if column_kind(df[c]) in wanted]


def split_candidates(df: pd.DataFrame, *, exclude: Iterable[str] = (), max_levels: int = 20) -> list[str]:
    """Columns with between 2 and ``max_levels`` distinct values (missing ignored), except ``exclude``."""
    excluded = set(map(str, exclude))
    return [str(c) for c in df.columns
            if str(c) not in excluded and 2 <= df[c].nunique(dropna=True) <= max_levels]


def _native(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def treatment_levels(series: pd.Series) -> list[Any]:
    """The distinct non-missing values of a column as plain Python values, sorted by their text."""
    return sorted((_native(v) for v in series.dropna().unique()), key=str)


def is_zero_one(levels: list[Any]) -> bool:
    """True for numeric or boolean 0/1 levels, whose treated level the engine infers (1 / True)."""
    if any(isinstance(v, str) for v in levels):
        return False
    try:
        return sorted(float(v) for v in levels) == [0.0, 1.0]
    except (TypeError, ValueError):
        return False


def needs_treated_level(levels: list[Any]) -> bool:
    """True when the analyst must say which level is treated (anything but 0/1 or False/True)."""
    return any(isinstance(v, str) for v in levels) or sorted(map(str, levels)) not in (["0", "1"], ["False", "True"])


def default_treated_level(levels: list[Any]) -> Any:
    """The level treated by default: 1 / True for 0/1 levels, else the last level in sorted order."""
    if is_zero_one(levels):
        return next(v for v in levels if float(v) == 1.0)
    return levels[-1]


def unassigned_columns(candidates: Iterable[str], used: Iterable[Any]) -> list[str]:
    """``candidates`` in order, without those already ``used`` in another role (None entries ignored)."""
    taken = {u for u in used if u is not None}
    return [c for c in candidates if c not in taken]


def binary_columns(df: pd.DataFrame) -> list[str]:
    """Columns whose non-missing values, read as numbers, are all 0 or 1 (and there is at least one)."""
    out = []
    for column in df.columns:
        values = pd.to_numeric(df[column], errors="coerce").dropna()
        if len(values) and values.isin([0, 1]).all():
            out.append(str(column))
    return out


def count_columns(df: pd.DataFrame) -> list[str]:
    """Columns whose non-missing values, read as numbers, are all non-negative whole numbers."""
    out = []
    for column in df.columns:
        values = pd.to_numeric(df[column], errors="coerce").dropna()
        if len(values) and (values >= 0).all() and (values == values.round()).all():
            out.append(str(column))
    return out
