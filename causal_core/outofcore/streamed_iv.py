"""Two-stage least squares over a table on disk, by cross-products of partitions.

With ``x = [1, covariates, treatment]`` and ``z = [1, covariates, instruments]``
(the in-memory ``two_stage_least_squares``'s linearmodels ``IV2SLS`` design):

* pass 1 — ``z'z``, ``z'x``, ``z'y``: the 2SLS coefficients
  ``b = (x'z (z'z)^-1 z'x)^-1 x'z (z'z)^-1 z'y`` and the first stage
  ``g = (z'z)^-1 z't``;
* pass 2 — the meats: ``sum xhat xhat' e^2`` with ``xhat = z (z'z)^-1 z'x`` and
  ``e = y - x b`` (robust) or ``e'e`` (unadjusted), and the same for the first
  stage, whose Wald test of the excluded instruments gives the first-stage F.

Both covariances carry linearmodels' small-sample factor ``n / (n - k)``
(``debiased=True``). Each pass is a :class:`~causal_core.outofcore.mapped.Pass`: one task per partition on
the workers of a Dask backend, summed in partition order here, so the numbers are the serial run's bit for bit.
linearmodels projects with ``pinv(z)`` (an SVD) where this
module solves the normal equations ``z'z``; the two agree to about
``cond(z'z)`` times machine precision, far below 1e-10 on a well-conditioned
design (the tests use 1e-10).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from causal_core.core.errors import CausalInputError
from causal_core.core.options import validate_options
from causal_core.core.registry import get_method
from causal_core.core.roles import Roles
from causal_core.estimators.instruments.iv_linear import IRRELEVANT_P, WEAK_INSTRUMENT_F
from causal_core.inference import analytic_inference
from causal_core.outofcore.mapped import Pass
from causal_core.outofcore.source import DEFAULT_PARTITION_ROWS, TableSource, distinct_values

__all__ = ["streamed_2sls", "streamed_2sls_fit", "IVFit", "IVEncoding", "iv_encoding", "encode_block", "text_levels", "is_numeric_type"]

_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN", "REAL")
MAX_LEVELS = 50


def is_numeric_type(duckdb_type: str) -> bool:
    return str(duckdb_type).startswith(_NUMERIC_TYPES)


def text_levels(source: TableSource, column: str, role: str) -> tuple[str, ...]:
    """The sorted text levels of a text column (as ``prepare`` one-hot encodes them), at most 50."""
    found = sorted({str(v) for v in distinct_values(source, column, limit=MAX_LEVELS + 1)})
    if len(found) > MAX_LEVELS:
        raise CausalInputError(f"{role.capitalize()} column '{column}' is text with more than {MAX_LEVELS} distinct "
                               f"values; recode it or drop it (at most {MAX_LEVELS} categories are one-hot encoded).")
    return tuple(found)


def encode_block(frame: pd.DataFrame, columns: Sequence[str], levels: Sequence[tuple[str, ...] | None]) -> np.ndarray:
    """Columns as floats: numeric as is, text one-hot on ``levels[1:]`` (the first level dropped)."""
    blocks = []
    for column, kept in zip(columns, levels):
        if kept is None:
            blocks.append(frame[column].to_numpy(dtype=float)[:, None])
        else:
            text = frame[column].astype(str)
            blocks += [(text == level).to_numpy(dtype=float)[:, None] for level in kept[1:]]
    return np.hstack(blocks) if blocks else np.empty((len(frame), 0))


def _names(columns: Sequence[str], levels: Sequence[tuple[str, ...] | None]) -> tuple[str, ...]:
    out: list[str] = []
    for column, kept in zip(columns, levels):
        out += [column] if kept is None else [f"{column}={level}" for level in kept[1:]]
    return tuple(out)


@dataclass(frozen=True)
class IVEncoding:
    """How each partition becomes ``(W, t, y, Z)``: covariates, numeric treatment, outcome, instruments."""

    treatment: str
    outcome: str
    confounders: tuple[str, ...]
    confounder_levels: tuple[tuple[str, ...] | None, ...]
    instruments: tuple[str, ...]
    instrument_levels: tuple[tuple[str, ...] | None, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return _names(self.confounders, self.confounder_levels)

    @property
    def instrument_names(self) -> tuple[str, ...]:
        return _names(self.instruments, self.instrument_levels)

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys([self.treatment, self.outcome, *self.confounders, *self.instruments]))

    def arrays(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        frame = frame.loc[frame[self.columns].notna().all(axis=1)]
        W = encode_block(frame, self.confounders, self.confounder_levels)
        Z = encode_block(frame, self.instruments, self.instrument_levels)
        return W, frame[self.treatment].to_numpy(dtype=float), frame[self.outcome].to_numpy(dtype=float), Z


def iv_encoding(source: TableSource, roles: Roles) -> IVEncoding:
    """Check the roles against the table's columns and types and fix the encoding."""
    if roles.treatment is None or roles.outcome is None:
        raise CausalInputError("Choose a treatment and an outcome column.")
    if not roles.instruments:
        raise CausalInputError("Two-stage least squares needs at least one column in the 'instruments' role.")
    types = dict(zip(source.columns, source.types))
    for column in (roles.treatment, roles.outcome, *roles.confounders, *roles.instruments):
        if column not in types:
            raise CausalInputError(f"Column '{column}' given in the roles is not in {source.path!r}.")
    for column, role in ((roles.outcome, "Outcome"), (roles.treatment, "Treatment")):
        if not is_numeric_type(types[column]):
            raise CausalInputError(f"{role} column '{column}' is {types[column]}; it must be numeric.")

    def levels(columns: Sequence[str], role: str):
        return tuple(None if is_numeric_type(types[c]) else text_levels(source, c, role) for c in columns)

    return IVEncoding(roles.treatment, roles.outcome, tuple(roles.confounders), levels(roles.confounders, "confounder"),
                      tuple(roles.instruments), levels(roles.instruments, "instrument"))


def _designs(W: np.ndarray, t: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ones = np.ones((t.size, 1))
    return np.hstack([ones, W, t[:, None]]), np.hstack([ones, W, Z])


def _cross_products_kernel(W: np.ndarray, t: np.ndarray, y: np.ndarray, Z: np.ndarray) -> tuple:
    """One partition's ``z'z``, ``z'x``, ``z'y``, row count and each instrument's range (empty: +inf, -inf)."""
    x, z = _designs(W, t, Z)
    if t.size:
        low, high = Z.min(axis=0), Z.max(axis=0)
    else:
        low, high = np.full(Z.shape[1], np.inf), np.full(Z.shape[1], -np.inf)
    return z.T @ z, z.T @ x, z.T @ y, int(t.size), low, high


def _meats_kernel(W, t, y, Z, beta, gamma, projection) -> tuple:
    """One partition's second- and first-stage meats and residual sums of squares."""
    x, z = _designs(W, t, Z)
    e, u = y - x @ beta, t - z @ gamma
    xhat_e = (z @ projection) * e[:, None]
    zu = z * u[:, None]
    return xhat_e.T @ xhat_e, zu.T @ zu, float(e @ e), float(u @ u)


def _check_rank(zz: np.ndarray, k_exog: int, enc: IVEncoding) -> None:
    """The in-memory checks (constant or collinear instruments, collinear covariates) on the Gram matrix."""
    scale = np.sqrt(np.diag(zz))
    normal = zz / np.outer(scale, scale)
    if np.linalg.matrix_rank(normal) < zz.shape[0]:
        raise CausalInputError(f"Instrument column(s) {list(enc.instrument_names)} are collinear with the covariates "
                               "or each other; each instrument must add variation the covariates do not explain.")
    if np.linalg.matrix_rank(normal[:k_exog, :k_exog]) < k_exog:
        raise CausalInputError(f"Covariates {list(enc.names)} are collinear; drop redundant columns.")


@dataclass(frozen=True)
class IVFit:
    """A streamed 2SLS estimate and its first-stage F (robust: Wald / q) and p-value, as in memory."""

    estimate: Any  # StreamedEstimate
    first_stage_f: float
    first_stage_f_p_value: float


def streamed_2sls_fit(source: TableSource, roles: Roles, *, estimand: str = "LATE",
                      rows_per_partition: int = DEFAULT_PARTITION_ROWS, cov_type: str = "robust") -> IVFit:
    """2SLS of the outcome on the treatment, instrumented, covariates exogenous; equal to ``cc.estimate``'s."""
    from causal_core.outofcore.streamed import StreamedEstimate  # that module imports this one when dispatching

    validate_options(get_method("two_stage_least_squares"), {"cov_type": cov_type})
    if estimand not in ("LATE", "ATE"):
        raise CausalInputError(f"Estimand {estimand!r} is not one of LATE, ATE for two_stage_least_squares.")
    _check_rows(rows_per_partition)
    enc = iv_encoding(source, roles)

    passes = Pass(source, tuple(enc.columns), enc.arrays, rows_per_partition)  # on the workers under Dask

    # pass 1: cross-products; constant instruments are refused from their range
    zz = zx = zy = None
    n, n_parts = 0, 0
    low = high = None
    for part_zz, part_zx, part_zy, part_n, part_low, part_high in passes.run(_cross_products_kernel):
        n_parts += 1
        if zz is None:
            zz, zx, zy = np.zeros_like(part_zz), np.zeros_like(part_zx), np.zeros_like(part_zy)
            low, high = np.full(part_low.size, np.inf), np.full(part_high.size, -np.inf)
        zz += part_zz
        zx += part_zx
        zy += part_zy
        n += part_n
        low, high = np.minimum(low, part_low), np.maximum(high, part_high)
    if zz is None or n == 0:
        raise CausalInputError("No rows are left after dropping rows with missing values in the used columns.")
    for j, name in enumerate(enc.instrument_names):
        if low[j] == high[j]:
            raise CausalInputError(f"Instrument column '{name}' is constant; an instrument must vary.")
    k_exog = 1 + len(enc.names)
    k_x, k_z = zx.shape[1], zz.shape[0]
    if n <= k_z + 3:
        raise CausalInputError(f"Only {n} complete rows for {k_z} instruments and covariates.")
    _check_rank(zz, k_exog, enc)
    projection = np.linalg.solve(zz, zx)  # (z'z)^-1 z'x
    v = zx.T @ projection / n
    irrelevant = ("Instrument column(s) " + ", ".join(f"'{c}'" for c in enc.instrument_names)
                  + f" do not predict treatment '{enc.treatment}' (first-stage F = {{f:.3g}}, p = {{p:.2f}}); an "
                  "instrument must be correlated with the treatment.")
    try:
        beta = np.linalg.solve(v, projection.T @ zy / n)
    except np.linalg.LinAlgError:
        raise CausalInputError(irrelevant.format(f=0.0, p=1.0)) from None
    gamma = projection[:, -1]  # first stage: treatment on all instruments
    # pass 2: residual meats of the second and the first stage
    meat, first_meat, ee, uu = np.zeros((k_x, k_x)), np.zeros((k_z, k_z)), 0.0, 0.0
    for part_meat, part_first, part_ee, part_uu in passes.run(_meats_kernel, beta, gamma, projection):
        meat += part_meat
        first_meat += part_first
        ee += part_ee
        uu += part_uu
    vinv = np.linalg.inv(v)
    if cov_type == "robust":
        covariance = vinv @ (meat / n * n / (n - k_x)) @ vinv / n
    else:
        covariance = vinv * (ee / (n - k_x)) / n
    covariance = (covariance + covariance.T) / 2
    estimate, se = float(beta[-1]), float(np.sqrt(covariance[-1, -1]))
    f_stat, f_pval = _first_stage_f(zz, first_meat, uu, gamma, n, k_exog, cov_type)
    if f_stat < 1 and f_pval > IRRELEVANT_P:
        raise CausalInputError(irrelevant.format(f=f_stat, p=f_pval))
    warnings: list[str] = []
    names = ", ".join(f"'{c}'" for c in enc.instrument_names)
    if f_stat < WEAK_INSTRUMENT_F:
        warnings.append(f"Weak instrument: first-stage F = {f_stat:.2f} < {WEAK_INSTRUMENT_F:g} for {names}; "
                        "2SLS is biased towards OLS and its confidence interval is unreliable.")
    if estimand == "ATE":
        warnings.append("2SLS estimates the ATE only under a constant treatment effect; otherwise it is a LATE.")
    detail = f"2SLS analytic ({cov_type}, small-sample corrected)"
    inference = analytic_inference(estimate, se, detail=detail)
    result = StreamedEstimate("two_stage_least_squares", estimand, estimate, se, inference.ci_low, inference.ci_high,
                              inference.p_value, n, source.n_rows, n_parts, rows_per_partition, detail, enc.names,
                              tuple(warnings))
    return IVFit(result, f_stat, f_pval)


def streamed_2sls(source: TableSource, roles: Roles, *, estimand: str = "LATE",
                  rows_per_partition: int = DEFAULT_PARTITION_ROWS, cov_type: str = "robust"):
    """The ``streamed_estimate`` kernel: :func:`streamed_2sls_fit`'s estimate."""
    return streamed_2sls_fit(source, roles, estimand=estimand, rows_per_partition=rows_per_partition,
                             cov_type=cov_type).estimate


def _first_stage_f(zz, meat, uu, gamma, n, k_exog, cov_type) -> tuple[float, float]:
    """linearmodels' first-stage Wald test of the excluded instruments, on the F scale."""
    k_z = zz.shape[0]
    inverse = np.linalg.inv(zz / n)
    if cov_type == "robust":
        covariance = inverse @ (meat / n * n / (n - k_z)) @ inverse / n
    else:
        covariance = inverse * (uu / (n - k_z)) / n
    covariance = (covariance + covariance.T) / 2
    excluded = gamma[k_exog:]
    q = excluded.size
    stat = float(excluded @ np.linalg.inv(covariance[k_exog:, k_exog:]) @ excluded)
    if cov_type == "robust":
        return stat / q, float(stats.chi2.sf(stat, q))
    return stat / q, float(stats.f.sf(stat / q, q, n - k_z))


def _check_rows(rows: Any) -> None:
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 100:
        raise CausalInputError(f"Option 'rows_per_partition' must be an integer of at least 100; got {rows!r}.")
