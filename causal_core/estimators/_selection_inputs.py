"""Checks and warnings shared by the selection-bias methods (IPSW, shadow variable, Heckman): outcome recorded for some rows only."""
from __future__ import annotations

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError

__all__ = ["MIN_SELECTED_PER_ARM", "SELECTION_EXTREME", "check_selection_inputs", "selection_warnings"]

#: Recorded outcomes each arm needs.
MIN_SELECTED_PER_ARM = 2
#: Selection probabilities below this get an overlap warning.
SELECTION_EXTREME = 0.02


def check_selection_inputs(data: PreparedData, method: str) -> np.ndarray:
    """Refuse a constant selection indicator or an arm without recorded outcomes; return the selected mask."""
    selection = data.roles.selection
    if data.S is None or np.ptp(data.S) == 0:
        value = None if data.S is None else int(data.S[0])
        raise CausalInputError(
            f"Selection column '{selection}' is constant ({value}); method '{method}' needs both rows with "
            "and rows without a recorded outcome."
        )
    selected = data.S == 1
    n_treated, n_control = int(data.t[selected].sum()), int((1 - data.t[selected]).sum())
    if min(n_treated, n_control) < MIN_SELECTED_PER_ARM:
        raise CausalInputError(
            f"Among rows with selection column '{selection}' = 1, treatment '{data.roles.treatment}' has "
            f"{n_treated} treated and {n_control} control rows; each arm needs at least {MIN_SELECTED_PER_ARM}."
        )
    return selected


def selection_warnings(pi: np.ndarray, selected: np.ndarray, selection: str) -> list[str]:
    """Weak-overlap warning for recorded rows whose selection probability is near 0 (huge weights)."""
    low = int(np.sum(pi[selected] < SELECTION_EXTREME))
    if low:
        return [
            f"Weak overlap in selection column '{selection}': {low} recorded rows have an estimated selection "
            f"probability below {SELECTION_EXTREME}; their weights dominate the estimate."
        ]
    return []
