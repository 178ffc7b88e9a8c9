"""Covariate expansion and standardisation shared by the balancing methods.

``moments=1`` keeps the covariates as they are (LaLonde's V-RAW set);
``moments=2, interactions=True`` adds squares of the non-binary columns and
every pairwise product (LaLonde's V-INTERACTION set, Hainmueller 2012).
Columns that come out constant (for example the product of two levels of one
categorical) or duplicate an earlier column are dropped, so the expanded set
has no trivially redundant balance conditions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from causal_core.core.errors import CausalInputError, plain

__all__ = ["expand_covariates", "check_expansion_options", "pooled_scale", "CandidateBasis", "auto_basis_candidates",
           "AUTO_ROWS_PER_TERM"]

MAX_MOMENTS = 3
#: A non-negative column whose sample skewness exceeds this also enters the "auto" basis as a log.
SKEW_FOR_LOG = 1.0
#: ``basis="auto"`` considers a basis only while it has at most one term per this many rows of the smaller arm.
AUTO_ROWS_PER_TERM = 10


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


@dataclass(frozen=True)
class CandidateBasis:
    """One balance basis of the ``basis="auto"`` ladder: a label, its columns and their names."""

    label: str
    X: np.ndarray
    names: tuple[str, ...]


def _skewness(column: np.ndarray) -> float:
    centred = column - column.mean()
    spread = float(np.mean(centred**2))
    return float(np.mean(centred**3) / spread**1.5) if spread > 0 else 0.0


def _log_columns(X: np.ndarray, names: Sequence[str]) -> tuple[list[np.ndarray], list[str]]:
    """Logs of the non-binary, non-negative columns with skewness above ``SKEW_FOR_LOG``.

    A positive column enters as ``log(x)``; one with zeros as ``log(1 + x / m)``,
    ``m`` the mean of its positive values (so the feature does not depend on the unit).
    """
    blocks: list[np.ndarray] = []
    out: list[str] = []
    for j, name in enumerate(names):
        column = X[:, j]
        if _is_binary(column) or column.min() < 0 or _skewness(column) <= SKEW_FOR_LOG:
            continue
        if column.min() > 0:
            blocks.append(np.log(column)[:, None])
            out.append(f"log({name})")
        else:
            positive_mean = float(column[column > 0].mean())
            blocks.append(np.log1p(column / positive_mean)[:, None])
            out.append(f"log1p({name})")
    return blocks, out


def _dedupe(X: np.ndarray, names: list[str], n_original: int) -> tuple[np.ndarray, tuple[str, ...]]:
    keep: list[int] = []
    seen: set[bytes] = set()
    for j in range(X.shape[1]):
        column = X[:, j]
        key = column.tobytes()
        if j >= n_original and (np.ptp(column) == 0 or key in seen):
            continue
        seen.add(key)
        keep.append(j)
    return X[:, keep], tuple(names[j] for j in keep)


def auto_basis_candidates(X: np.ndarray, names: Sequence[str], *, max_terms: int) -> list[CandidateBasis]:
    """The nested ladder of balance bases that ``basis="auto"`` chooses from, poorest first.

    1. ``means``: the covariates as they are;
    2. ``+ logs``: also logs of the skewed non-negative columns (only when there are any);
    3. ``+ interactions``: also every pairwise product of those columns, logs included;
    4. ``+ squares``: also the square of every non-binary one of them.

    Each basis contains the one before it, so balancing a richer one also
    balances every poorer one. A basis with more than ``max_terms`` columns is
    left off (with every richer one).
    """
    X = np.asarray(X, dtype=float)
    names = [str(name) for name in names]
    p = X.shape[1]
    candidates = [CandidateBasis("means", X, tuple(names))]
    log_blocks, log_names = _log_columns(X, names)
    base = np.hstack([X, *log_blocks]) if log_blocks else X
    base_names = names + log_names
    if log_blocks:
        candidates.append(CandidateBasis("means + logs", *_dedupe(base, base_names, p)))
    pairs = [(j, k) for j in range(base.shape[1]) for k in range(j + 1, base.shape[1])]
    prefix = "means + logs" if log_blocks else "means"
    with_products, product_names = base, list(base_names)
    if pairs:
        products = np.hstack([base[:, j:j + 1] * base[:, k:k + 1] for j, k in pairs])
        with_products = np.hstack([base, products])
        product_names = base_names + [f"{base_names[j]}*{base_names[k]}" for j, k in pairs]
        candidates.append(CandidateBasis(f"{prefix} + interactions", *_dedupe(with_products, product_names, p)))
    square_blocks = [base[:, j:j + 1] ** 2 for j in range(base.shape[1]) if not _is_binary(base[:, j])]
    square_names = [f"{base_names[j]}^2" for j in range(base.shape[1]) if not _is_binary(base[:, j])]
    if square_blocks:
        full = np.hstack([with_products, *square_blocks])
        label = f"{prefix} + interactions + squares" if pairs else f"{prefix} + squares"
        candidates.append(CandidateBasis(label, *_dedupe(full, product_names + square_names, p)))
    kept: list[CandidateBasis] = []
    for candidate in candidates:
        if candidate.X.shape[1] > max_terms and kept:
            break
        kept.append(candidate)
    return kept
