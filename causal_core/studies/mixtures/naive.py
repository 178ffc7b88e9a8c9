"""The unadjusted comparison shown beside an interventional distribution: the outcome's mean per treatment level."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

__all__ = ["naive_outcome_means"]


def naive_outcome_means(df: pd.DataFrame, treatment: str, outcome: str, levels: Iterable[object]) -> dict[str, float]:
    """Mean of ``outcome`` (read as numbers) among the rows whose ``treatment``, as text, equals each level.

    A level with no rows gets NaN. The table is not modified.
    """
    as_text = df[treatment].astype(str)
    values = pd.to_numeric(df[outcome], errors="coerce")
    return {str(level): float(values[as_text == str(level)].mean()) for level in levels}
