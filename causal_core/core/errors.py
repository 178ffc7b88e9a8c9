"""Error and warning types raised by the engine.

Every bad input raises :class:`CausalInputError` with one sentence that names
the column or option and the rule it breaks, so that the app can show it as is.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CausalInputError", "CausalWarning", "plain"]


class CausalInputError(ValueError):
    """Raised for every input the engine cannot use (bad column, role, option or data)."""


class CausalWarning(UserWarning):
    """A soft problem (weak overlap, non-convergence, dropped rows) carried on a result."""


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain Python, for messages.

    Under numpy 2, ``repr(np.int64(0))`` is ``'np.int64(0)'``; messages show ``0``.
    Lists, tuples, sets and dicts are converted element by element.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value
