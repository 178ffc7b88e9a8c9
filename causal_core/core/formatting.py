"""How numbers are shown: one formatter for the report, diagnostics tables, chart hover texts and the app.

* :func:`format_number`: significant figures with thousands separators (the
  default for effects in captions, hover texts and diagnostics).
* :func:`format_interval`: ``"low to high"`` with the same rule.
* :func:`format_table_value`: the report's results-table cells, fixed
  decimals chosen by the column (p-values, counts, ESS, seconds).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["format_number", "format_interval", "format_table_value"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def format_number(value: Any, *, digits: int = 4) -> str:
    """A number with ``digits`` significant figures and thousands separators.

    Parameters
    ----------
    value : Any
        Integers are shown in full (``12,345``); floats to ``digits``
        significant figures (``1,234``, ``0.01235``); non-finite floats as
        ``nan`` / ``inf``; booleans as ``True`` / ``False``; ``None`` as an
        empty string; anything else with ``str``.
    digits : int
        Significant figures of a float.

    Returns
    -------
    str
    """
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(number) if not math.isfinite(number) else f"{number:,.{digits}g}"
    return str(value)


def format_interval(low: Any, high: Any, *, digits: int = 4) -> str:
    """An interval as ``"low to high"``, each end by :func:`format_number`."""
    return f"{format_number(low, digits=digits)} to {format_number(high, digits=digits)}"


def format_table_value(value: Any, column: str = "") -> str:
    """A results-table cell: 4 decimals, thousands separators above 1,000, '<0.001' p-values.

    ``column`` picks the rule: ``"p_value"`` (3 decimals, ``<0.001``),
    ``"n_used"`` and integers (whole numbers), ``"ess"`` (1 decimal),
    ``"seconds"`` (2 decimals); missing values are an empty string.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if not _is_number(value):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if column == "p_value":
        return "<0.001" if number < 0.001 else f"{number:.3f}"
    if column in ("n_used",) or (isinstance(value, (int, np.integer))):
        return f"{int(round(number)):,}"
    if column in ("ess", "seconds"):
        return f"{number:,.1f}" if column == "ess" else f"{number:.2f}"
    if abs(number) >= 1000:
        return f"{number:,.1f}"
    return f"{number:.4f}"
