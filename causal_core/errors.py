"""Error and warning types raised by the engine.

Every bad input raises :class:`CausalInputError` with one sentence that names
the column or option and the rule it breaks, so that the app can show it as is.
"""
from __future__ import annotations

__all__ = ["CausalInputError", "CausalWarning"]


class CausalInputError(ValueError):
    """Raised for every input the engine cannot use (bad column, role, option or data)."""


class CausalWarning(UserWarning):
    """A soft problem (weak overlap, non-convergence, dropped rows) carried on a result."""
