"""A result's free-form diagnostics sorted by how they can be shown: single values, tables, and the rest."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["is_scalar", "split_diagnostics"]

#: Diagnostics with a chart of their own, left out of the generic parts.
CHARTED = ("response_curve",)


def is_scalar(value: Any) -> bool:
    """True for a single number, text, boolean or None (what fits one cell of a table)."""
    return isinstance(value, (int, float, str, bool, np.integer, np.floating, np.bool_)) or value is None


def split_diagnostics(diagnostics: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, pd.DataFrame], dict[str, Any]]:
    """(scalars, data frames, everything else) of ``diagnostics``, keeping their order; charted entries left out."""
    scalars = {k: v for k, v in diagnostics.items() if is_scalar(v)}
    frames = {k: v for k, v in diagnostics.items() if isinstance(v, pd.DataFrame) and k not in CHARTED}
    others = {k: v for k, v in diagnostics.items() if k not in scalars and k not in frames and k not in CHARTED}
    return scalars, frames, others
