"""How numbers are shown: the one formatter of the app, the report, diagnostics tables, charts and exports.

* :func:`format_number`: any number. Integers in full with thousands
  separators (``12,345``); floats of magnitude 1 and above with at least two
  decimals and at least ``digits`` significant figures (``-15,204.78``,
  ``1.842``); smaller floats to ``digits`` significant figures in plain
  notation (``0.009934``), below ``1e-4`` in scientific notation
  (``5.310e-134``). Large numbers are never rounded to their leading digits.
* :func:`format_interval`: ``"low to high"`` with the same rule.
* :func:`format_table_value`: a results-table cell; the column picks counts
  (whole numbers), p-values (three decimals, ``<0.001``) and seconds (two
  decimals), every other number goes through :func:`format_number`.

Shown text is for reading; CSV and XLSX exports keep every number at full
precision (:mod:`causal_core.report.tables`), and the HTML report carries it
in each cell's ``data-value``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COUNT_COLUMNS", "format_number", "format_interval", "format_table_value"]

#: Results-table columns that hold counts of rows.
COUNT_COLUMNS = ("n_used", "n_treated", "n_control", "n_design", "n_zero")
#: Below this magnitude a float is written in scientific notation.
SCIENTIFIC_BELOW = 1e-4


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _format_float(number: float, digits: int) -> str:
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if number == 0:
        return "0"
    magnitude = abs(number)
    if magnitude >= 1:
        integer_digits = int(math.floor(math.log10(magnitude))) + 1
        decimals = max(2, digits - integer_digits)
        text = f"{number:,.{decimals}f}"
        return text
    if magnitude < SCIENTIFIC_BELOW:
        return f"{number:.{max(digits - 1, 0)}e}"
    decimals = digits - 1 - int(math.floor(math.log10(magnitude)))
    return f"{number:.{decimals}f}"


def format_number(value: Any, *, digits: int = 4) -> str:
    """A number as text by the one rule of the package (see the module docstring).

    Parameters
    ----------
    value : Any
        Integers are shown in full (``12,345``); floats by the rule above;
        a missing float (NaN) and ``None`` as an empty string; infinities as
        ``inf`` / ``-inf``; booleans as ``True`` / ``False``; anything else with ``str``.
    digits : int
        Least number of significant figures of a float.

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
        return _format_float(float(value), digits)
    return str(value)


def format_interval(low: Any, high: Any, *, digits: int = 4) -> str:
    """An interval as ``"low to high"``, each end by :func:`format_number`."""
    return f"{format_number(low, digits=digits)} to {format_number(high, digits=digits)}"


def format_table_value(value: Any, column: str = "") -> str:
    """A results-table cell as text: the same text in the app's grid and the HTML report.

    ``column`` picks the rule: ``"p_value"`` (3 decimals, ``<0.001``), the
    counts of :data:`COUNT_COLUMNS` and integers (whole numbers with
    separators), ``"seconds"`` (2 decimals); every other number goes through
    :func:`format_number`. Missing values (``None``, NaN, ``pd.NA``) are an empty string.
    """
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)) and math.isnan(float(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if not _is_number(value):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return _format_float(number, 4)
    if column == "p_value":
        return "<0.001" if number < 0.001 else f"{number:.3f}"
    if column in COUNT_COLUMNS or isinstance(value, (int, np.integer)):
        return f"{int(round(number)):,}"
    if column == "seconds":
        return f"{number:.2f}"
    return format_number(number)
