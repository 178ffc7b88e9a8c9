"""Bases of the R-learner's final stage and their choice by the cross-validated R-loss.

``dml`` models the effect as ``tau(x) = F(x)' beta`` for a basis ``F`` of the
covariates; this module builds ``F`` and, for ``final_model="auto"``, chooses
it. The bases, from the smallest:

* ``"constant"``: ``[1]`` (the partially linear model);
* ``"linear"``: ``[1, x]``;
* ``"polynomial"``: ``[1, x, x^2]`` (squares of the columns with more than two
  values: the square of a 0/1 column is the column);
* ``"polynomial_interactions"``: ``"polynomial"`` plus every product
  ``x_j x_k`` (``j < k``) that is not constant (products of one categorical's
  dummies are all zero and are left out);
* ``"splines"``: ``[1]`` plus an additive cubic B-spline basis of every column
  with at least :data:`MIN_SPLINE_VALUES` distinct values (scikit-learn's
  ``SplineTransformer``, :data:`SPLINE_KNOTS` knots at the quantiles, one
  spline per column dropped as it is spanned by the intercept, and splines that
  are constant on the data, as tied quantile knots of a column with many zeros
  leave, dropped too) and the other columns linear.

The basis depends on ``X`` only (no outcome), so building it on all rows
leaks nothing into the cross-validation below.

``"auto"`` (:func:`choose_basis`) fits every non-constant basis with at most
one term per :data:`ROWS_PER_TERM` rows on the cross-fitted residuals of each
fold's other folds and scores it on the fold by the R-loss of Nie & Wager
(2021), ``(Y~ - tau(X) T~)^2``, whose expectation is the noise plus
``E[T~^2 (tau_hat - tau)^2]``: an overlap-weighted PEHE. A richer basis
always fits better in sample and the final stage's variance grows with its
size, so the choice uses the one-standard-error rule (Hastie, Tibshirani &
Friedman 2009, 7.10) on paired differences: the smallest basis whose
cross-validated loss exceeds the lowest by at most one standard error of the
per-row loss difference. The constant is not a candidate: its average is
overlap-weighted, not the ATE.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["BASES", "AUTO_CANDIDATES", "ROWS_PER_TERM", "MIN_SPLINE_VALUES", "SPLINE_KNOTS", "SPLINE_DEGREE",
           "Basis", "cate_basis", "basis_size", "unit_scaled", "cv_r_loss", "choose_basis", "BasisFitsRows"]

#: Every basis ``dml``'s final stage takes, from the smallest.
BASES = ("constant", "linear", "polynomial", "polynomial_interactions", "splines")
#: The bases ``"auto"`` chooses among (all but the constant, whose average is overlap-weighted).
AUTO_CANDIDATES = ("linear", "polynomial", "polynomial_interactions", "splines")
#: A basis richer than linear needs at least this many rows per term (the R-learner's information is
#: ``sum T~^2``, about ``n e(1 - e)``, a fifth of the rows or less).
ROWS_PER_TERM = 10
#: Fewest distinct values of a column that gets a spline (fewer: it stays linear).
MIN_SPLINE_VALUES = 10
#: Knots (at the quantiles, ends included) and degree of each column's B-spline.
SPLINE_KNOTS = 5
SPLINE_DEGREE = 3


@dataclass(frozen=True)
class Basis:
    """A final-stage basis evaluated at every row: ``matrix`` (``n x k``, first column the intercept), its terms."""

    name: str
    matrix: np.ndarray
    terms: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.terms)


def _many_valued(column: np.ndarray, least: int) -> bool:
    return np.unique(column).size >= least


def _polynomial(X: np.ndarray, names: tuple[str, ...], interactions: bool) -> tuple[list[np.ndarray], list[str]]:
    columns, terms = [X[:, j] for j in range(X.shape[1])], list(names)
    for j, name in enumerate(names):
        if _many_valued(X[:, j], 3):
            columns.append(X[:, j] ** 2)
            terms.append(f"{name}^2")
    if interactions:
        for j in range(X.shape[1]):
            for k in range(j + 1, X.shape[1]):
                product = X[:, j] * X[:, k]
                if np.ptp(product) > 0:
                    columns.append(product)
                    terms.append(f"{names[j]} x {names[k]}")
    return columns, terms


def _splines(X: np.ndarray, names: tuple[str, ...]) -> tuple[list[np.ndarray], list[str]]:
    from sklearn.preprocessing import SplineTransformer

    columns: list[np.ndarray] = []
    terms: list[str] = []
    for j, name in enumerate(names):
        if not _many_valued(X[:, j], MIN_SPLINE_VALUES):
            columns.append(X[:, j])
            terms.append(name)
            continue
        spline = SplineTransformer(n_knots=SPLINE_KNOTS, degree=SPLINE_DEGREE, knots="quantile", include_bias=False)
        values = spline.fit_transform(X[:, [j]])
        kept = [b for b in range(values.shape[1]) if np.ptp(values[:, b]) > 0]  # tied quantile knots (a column
        columns += [values[:, b] for b in kept]                                # of many zeros) leave constants
        terms += [f"spline {b + 1} of {name}" for b in kept]
    return columns, terms


def cate_basis(X: np.ndarray, names: tuple[str, ...], name: str) -> Basis:
    """The basis ``name`` (one of :data:`BASES`) of the covariates ``X`` at every row, intercept first."""
    n = X.shape[0]
    if name == "constant":
        columns, terms = [], []
    elif name == "linear":
        columns, terms = [X[:, j] for j in range(X.shape[1])], list(names)
    elif name in ("polynomial", "polynomial_interactions"):
        columns, terms = _polynomial(X, names, interactions=name == "polynomial_interactions")
    elif name == "splines":
        columns, terms = _splines(X, names)
    else:
        raise ValueError(f"unknown basis {name!r}")
    matrix = np.column_stack([np.ones(n), *columns]) if columns else np.ones((n, 1))
    return Basis(name, matrix, ("effect",) if name == "constant" else ("intercept", *terms))


def basis_size(X: np.ndarray, name: str) -> int:
    """Terms of :func:`cate_basis` ``name`` on ``X`` (intercept included); built only for the richest bases."""
    p = X.shape[1]
    squared = sum(_many_valued(X[:, j], 3) for j in range(p))
    if name == "constant":
        return 1
    if name == "linear":
        return 1 + p
    if name == "polynomial":
        return 1 + p + squared
    return len(cate_basis(X, tuple(f"x{j}" for j in range(p)), name).terms)


def unit_scaled(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``D`` with each column divided by its root mean square (1 for an all-zero column), and those scales.

    The R-learner's design ``T~ F(X)`` is solved on these columns: squares of
    earnings (about 1e9) beside 0/1 columns would otherwise make ``D'D`` too
    ill-conditioned for a least-squares solve or pseudo-inverse, which would
    drop directions.
    """
    scale = np.sqrt(np.mean(D**2, axis=0))
    scale = np.where(scale > 0, scale, 1.0)
    return D / scale, scale


def _fold_losses(y_res: np.ndarray, t_res: np.ndarray, F: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold R-loss of every row: ``(Y~ - T~ F beta)^2`` with ``beta`` fitted on the other folds."""
    D, _ = unit_scaled(t_res[:, None] * F)  # conditioning, as in the fit
    losses = np.empty(y_res.shape[0])
    for train, test in folds:
        beta, *_ = np.linalg.lstsq(D[train], y_res[train], rcond=None)
        losses[test] = (y_res[test] - D[test] @ beta) ** 2
    return losses


def cv_r_loss(y_res: np.ndarray, t_res: np.ndarray, bases: list[Basis],
              folds: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-row out-of-fold R-loss of each basis, by name."""
    return {basis.name: _fold_losses(y_res, t_res, basis.matrix, folds) for basis in bases}


def choose_basis(y_res: np.ndarray, t_res: np.ndarray, bases: list[Basis],
                 folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[str, pd.DataFrame]:
    """The smallest basis within one paired standard error of the lowest cross-validated R-loss, and the table.

    ``bases`` are the candidates, ordered from the smallest. The table has
    one row per candidate: ``basis``, ``n_terms``, ``cv_r_loss`` (mean
    out-of-fold loss), ``excess_loss`` (over the lowest), ``excess_std_error``
    (standard error of the mean per-row difference from the lowest basis) and
    ``chosen``.
    """
    losses = cv_r_loss(y_res, t_res, bases, folds)
    means = {name: float(values.mean()) for name, values in losses.items()}
    best = min(means, key=means.get)
    n = y_res.shape[0]
    rows = []
    for basis in bases:
        difference = losses[basis.name] - losses[best]
        rows.append({"basis": basis.name, "n_terms": basis.size, "cv_r_loss": means[basis.name],
                     "excess_loss": float(difference.mean()),
                     "excess_std_error": float(difference.std(ddof=1) / np.sqrt(n))})
    table = pd.DataFrame(rows)
    within = table["excess_loss"] <= table["excess_std_error"]  # the lowest itself always qualifies (0 <= 0)
    chosen = str(table.loc[within.idxmax(), "basis"])  # first qualifying row: the smallest basis
    table["chosen"] = table["basis"] == chosen
    return chosen, table


@dataclass(frozen=True)
class BasisFitsRows:
    """A final-stage basis richer than linear must have at most one term per :data:`ROWS_PER_TERM` rows."""

    def problem(self, value: Any, data: Any, options: Mapping[str, Any]) -> str | None:
        if value in ("constant", "linear", "auto") or getattr(data, "X", None) is None:
            return None
        terms = basis_size(data.X, value)
        limit = data.n // ROWS_PER_TERM
        if terms <= limit:
            return None
        return (f"a basis with at most {limit} terms (one per {ROWS_PER_TERM} of the {data.n} rows), but "
                f"{value!r} has {terms} on these covariates; use 'linear', 'auto' or fewer covariates")
