"""Covariate expansion and standardisation shared by the balancing methods.

``moments=1`` keeps the covariates as they are (LaLonde's V-RAW set);
``moments=2, interactions=True`` adds squares of the non-binary columns and
every pairwise product (LaLonde's V-INTERACTION set, Hainmueller 2012).
Columns that come out constant (for example the product of two levels of one
categorical) or duplicate an earlier column are dropped, so the expanded set
has no trivially redundant balance conditions.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from causal_core.core.errors import CausalInputError, plain

__all__ = ["expand_covariates", "check_expansion_options", "pooled_scale"]

MAX_MOMENTS = 3


def check_expansion_options(moments: object, interactions: object) -> tuple[int, bool]:
    """Validate the ``moments`` and ``interactions`` options and return them typed."""
    if isinstance(moments, bool) or not isinstance(moments, (int, np.integer)) or not 1 <= int(moments) <= MAX_MOMENTS:
        raise CausalInputError(f"Option 'moments' must be an integer from 1 to {MAX_MOMENTS}; got {plain(moments)!r}.")
    if not isinstance(interactions, (bool, np.bool_)):
        raise CausalInputError(f"Option 'interactions' must be True or False; got {plain(interactions)!r}.")
    return int(moments), bool(interactions)


def _is_binary(column: np.ndarray) -> bool:
    return bool(np.isin(column, (0.0, 1.0)).all())


def expand_covariates(
    X: np.ndarray,
    names: Sequence[str],
    *,
    moments: int = 1,
    interactions: bool = False,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Add powers and pairwise products of the covariates.

    Parameters
    ----------
    X : ndarray (n, p)
        Encoded covariates.
    names : sequence of str
        Name of each column of ``X``.
    moments : {1, 2, 3}
        Highest power added for each non-binary column (a binary column's powers equal itself).
    interactions : bool
        Add the product of every pair of original columns.

    Returns
    -------
    X_expanded : ndarray (n, k)
        The original columns first, then squares, cubes and products.
    names : tuple of str
        ``"x"``, ``"x^2"``, ``"x^3"``, ``"x*z"``.
    """
    moments, interactions = check_expansion_options(moments, interactions)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise CausalInputError(f"Covariate matrix has {X.shape[-1]} columns but {len(names)} names were given.")
    blocks: list[np.ndarray] = [X]
    out_names: list[str] = [str(name) for name in names]
    binary = [_is_binary(X[:, j]) for j in range(X.shape[1])]
    for power in range(2, moments + 1):
        for j, name in enumerate(names):
            if not binary[j]:
                blocks.append(X[:, j : j + 1] ** power)
                out_names.append(f"{name}^{power}")
    if interactions:
        for j in range(X.shape[1]):
            for k in range(j + 1, X.shape[1]):
                blocks.append(X[:, j : j + 1] * X[:, k : k + 1])
                out_names.append(f"{names[j]}*{names[k]}")
    expanded = np.hstack(blocks)
    keep: list[int] = []
    seen: set[bytes] = set()
    for j in range(expanded.shape[1]):
        column = expanded[:, j]
        key = column.tobytes()
        if j >= X.shape[1] and (np.ptp(column) == 0 or key in seen):
            continue
        seen.add(key)
        keep.append(j)
    return expanded[:, keep], tuple(out_names[j] for j in keep)


def pooled_scale(X: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Scale of each column for standardised differences: sqrt((var_treated + var_control) / 2).

    Computed on the unweighted sample (as cobalt does); a column with no spread
    within either arm falls back to its full-sample standard deviation, then to 1.
    """
    var_treated = X[treated].var(axis=0, ddof=1) if treated.sum() > 1 else np.zeros(X.shape[1])
    var_control = X[~treated].var(axis=0, ddof=1) if (~treated).sum() > 1 else np.zeros(X.shape[1])
    scale = np.sqrt((var_treated + var_control) / 2)
    overall = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.ones(X.shape[1])
    scale = np.where(scale > 0, scale, overall)
    return np.where(scale > 0, scale, 1.0)
