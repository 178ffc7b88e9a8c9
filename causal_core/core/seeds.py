"""One check for every ``seed`` the public API accepts."""
from __future__ import annotations

from typing import Any

import numpy as np

from causal_core.core.errors import CausalInputError

__all__ = ["check_seed", "offset_seed", "MAX_SEED"]

#: Seeds must fit numpy's legacy ``RandomState`` and scikit-learn's ``random_state`` (below 2**32).
MAX_SEED = 2**32 - 1


def check_seed(seed: Any) -> int:
    """Return ``seed`` as a plain int, or raise :class:`CausalInputError`.

    A seed is a whole number from 0 to 2**32 - 1 (numpy integers are accepted,
    booleans are not): numpy, scikit-learn and torch seed their generators with
    unsigned 32-bit integers.
    """
    ok = isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
    if ok and 0 <= int(seed) <= MAX_SEED:
        return int(seed)
    shown = seed.item() if isinstance(seed, np.generic) else seed
    raise CausalInputError(
        f"Option 'seed' must be a whole number from 0 to {MAX_SEED} (numpy, scikit-learn and torch seed "
        f"their random generators with unsigned 32-bit integers); got {shown!r}."
    )


def offset_seed(seed: int, offset: int) -> int:
    """``seed + offset`` wrapped into 0..MAX_SEED: the seed of the ``offset``-th replicate or start.

    Identical to ``seed + offset`` whenever that fits, so stored results do not
    move; a seed near the top of the range wraps instead of being refused
    half-way through a run.
    """
    return (int(seed) + int(offset)) % (MAX_SEED + 1)
