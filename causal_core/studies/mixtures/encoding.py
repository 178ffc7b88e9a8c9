"""Turn discrete proxy columns (and a discrete outcome) into level codes for the mixture solvers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError

__all__ = ["MAX_PROXY_LEVELS", "MAX_OUTCOME_LEVELS", "codes_from_values", "encode_discrete_frame",
           "proxy_codes_from_prepared"]

#: Most distinct values a proxy may have.
MAX_PROXY_LEVELS = 10
#: A numeric outcome with at most this many distinct whole-number values is treated as discrete.
MAX_OUTCOME_LEVELS = 10


def codes_from_values(values: np.ndarray, name: str, role: str = "proxy", max_levels: int = MAX_PROXY_LEVELS
                      ) -> tuple[np.ndarray, tuple[float, ...]]:
    """Level codes 0..L-1 of a numeric column and the sorted distinct values behind them."""
    levels, codes = np.unique(np.asarray(values, dtype=float), return_inverse=True)
    if levels.size > max_levels:
        raise CausalInputError(
            f"{role.capitalize()} column '{name}' has {levels.size} distinct values; mixture methods need "
            f"discrete {role}s with at most {max_levels} levels (recode or bin it)."
        )
    if levels.size < 2:
        raise CausalInputError(f"{role.capitalize()} column '{name}' is constant; a {role} needs at least two levels.")
    return codes.astype(int), tuple(float(v) for v in levels)


def encode_discrete_frame(df: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, tuple[int, ...], int]:
    """Codes (n, m), levels per column and rows dropped, for discrete columns of a DataFrame."""
    if not isinstance(df, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(df).__name__}.")
    for column in columns:
        if column not in df.columns:
            raise CausalInputError(f"Column '{column}' given as a proxy is not in the data.")
    block = df[list(columns)].dropna()
    codes, levels = [], []
    for column in columns:
        series = block[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            column_codes, values = codes_from_values(series.to_numpy(dtype=float), column)
        else:
            as_text = series.astype(str).to_numpy()
            values_text, column_codes = np.unique(as_text, return_inverse=True)
            if not 2 <= values_text.size <= MAX_PROXY_LEVELS:
                raise CausalInputError(
                    f"Proxy column '{column}' has {values_text.size} distinct values; mixture methods need "
                    f"between 2 and {MAX_PROXY_LEVELS}."
                )
            values = tuple(range(values_text.size))
        codes.append(column_codes)
        levels.append(len(values))
    return np.column_stack(codes).astype(int), tuple(levels), int(len(df) - len(block))


def proxy_codes_from_prepared(P: np.ndarray, P_names: tuple[str, ...], proxies: tuple[str, ...]
                              ) -> tuple[np.ndarray, tuple[int, ...]]:
    """Level codes of each proxy role column from the encoded matrix of :func:`causal_core.core.data.prepare`.

    A numeric proxy is one encoded column; a text proxy is one-hot with its first
    level dropped, so its code is 0 when the whole block is 0 and ``1 + argmax`` otherwise.
    """
    codes, levels = [], []
    names = list(P_names)
    for proxy in proxies:
        if proxy in names:
            column_codes, values = codes_from_values(P[:, names.index(proxy)], proxy)
            codes.append(column_codes)
            levels.append(len(values))
            continue
        block = [i for i, name in enumerate(names) if name.startswith(f"{proxy}=")]
        if not block:
            raise CausalInputError(f"Proxy column '{proxy}' could not be encoded.")
        if len(block) + 1 > MAX_PROXY_LEVELS:
            raise CausalInputError(
                f"Proxy column '{proxy}' has {len(block) + 1} distinct values; mixture methods need discrete "
                f"proxies with at most {MAX_PROXY_LEVELS} levels (recode or bin it)."
            )
        one_hot = P[:, block]
        column_codes = np.where(one_hot.sum(axis=1) > 0, 1 + np.argmax(one_hot, axis=1), 0)
        codes.append(column_codes.astype(int))
        levels.append(len(block) + 1)
    return np.column_stack(codes).astype(int), tuple(levels)
