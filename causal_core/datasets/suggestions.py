"""Suggest columns for the treatment and outcome roles and flag identifiers."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from causal_core.datasets.profile import column_kind, date_columns, hashable_values

__all__ = ["RoleSuggestions", "suggest_roles", "looks_like_identifier"]

_IDENTIFIER_NAMES = {"id", "seqn", "index", "idx", "row", "rowid", "row_id", "unnamed: 0", "key", "uid", "uuid",
                     "record", "record_id", "respondent", "respondent_id", "subject", "subject_id", "patient_id"}


def looks_like_identifier(series: pd.Series) -> bool:
    """True for an obvious row identifier: a name like id/seqn, or integer/text values unique in every row."""
    name = str(series.name).strip().lower()
    if name in _IDENTIFIER_NAMES or name.endswith("_id") or name.endswith(" id"):
        return True
    present = hashable_values(series).dropna()
    if len(present) < 20 or present.nunique() != len(series):
        return False
    return bool(pd.api.types.is_integer_dtype(series) or not pd.api.types.is_numeric_dtype(series))


@dataclass(frozen=True)
class RoleSuggestions:
    """Columns suggested for each role.

    Attributes
    ----------
    treatment : tuple of str
        Binary columns (exactly two values), the usual treatment candidates.
    outcome : tuple of str
        Numeric or binary columns that are not identifiers.
    confounders : tuple of str
        Every other usable column (not an identifier, not constant).
    identifiers : tuple of str
        Columns that look like row identifiers; never suggested.
    dates : tuple of str
        Columns holding dates (typed or written as text); never suggested as confounders: convert them to a
        number first (days since the first date) or leave them out.
    """

    treatment: tuple[str, ...]
    outcome: tuple[str, ...]
    confounders: tuple[str, ...]
    identifiers: tuple[str, ...]
    dates: tuple[str, ...] = ()


def suggest_roles(df: pd.DataFrame) -> RoleSuggestions:
    """Suggest role candidates from column types and names (nothing is assigned); dates are never suggested."""
    identifiers, treatment, outcome, confounders = [], [], [], []
    dates = date_columns(df)
    for column in df.columns:
        series = df[column]
        if str(column) in dates:
            continue
        if looks_like_identifier(series):
            identifiers.append(str(column))
            continue
        kind = column_kind(series)
        if kind == "constant" or kind == "datetime":
            continue
        if kind == "binary":
            treatment.append(str(column))
        if kind in ("binary", "numeric"):
            outcome.append(str(column))
        confounders.append(str(column))
    return RoleSuggestions(tuple(treatment), tuple(outcome), tuple(confounders), tuple(identifiers), tuple(dates))
