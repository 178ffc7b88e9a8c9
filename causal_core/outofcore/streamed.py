"""Estimators over a table on disk, by map-reduce of sufficient statistics over fixed partitions.

Memory is set by the partition size, not by the number of rows: each pass
reads one partition at a time (:func:`causal_core.outofcore.source.partitions`),
reduces it to a few small arrays and combines them, in partition order, with
what came before. The formulas are the in-memory estimators' own, so the
numbers agree with ``cc.estimate`` on the loaded table to rounding (the tests
check 1e-10):

* ``difference_in_means`` — per-arm count, mean and sum of squared deviations,
  combined exactly (Chan, Golub & LeVeque 1979); Neyman (Welch) standard error.
* ``regression_adjustment`` — OLS of Y on T and the confounders, centred at the
  target population's means (first pass), with HC2 errors: ``D'D`` and ``D'y``
  (second pass), then the leverages ``h = d'(D'D)^-1 d`` and the HC2 meat
  ``sum d d' e^2/(1-h)`` (third pass); with ``interactions`` the target means'
  sampling variance is added as in memory.

``ipw`` and ``doubly_robust`` are in :mod:`causal_core.outofcore.streamed_weighting`
(the exact Newton logit over the partitions), ``entropy_balancing`` in
:mod:`causal_core.outofcore.streamed_balancing` (the Newton dual); every pass of
all of them is a :class:`~causal_core.outofcore.mapped.Pass`, mapped to the
cluster's workers under a Dask backend.

Rows with a missing value in a used column are dropped, as in memory. The
other methods have no such form; :func:`estimate_large` runs them on a seeded
DuckDB sample and says so in the result.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from causal_core.compute.backend import current_backend
from causal_core.core.data import binary_treatment, target_rows
from causal_core.core.errors import CausalInputError
from causal_core.core.library_warnings import LIBRARY_WARNING_PREFIX, capture_library_warnings, summarise_warnings
from causal_core.core.results import FrozenMapping
from causal_core.core.roles import Roles
from causal_core.inference import analytic_inference
from causal_core.outofcore.mapped import Pass
from causal_core.outofcore.source import DEFAULT_PARTITION_ROWS, TableSource, distinct_values, sample

__all__ = ["StreamedEstimate", "streamed_estimate", "estimate_large", "STREAMED_METHODS", "DEFAULT_SAMPLE_ROWS"]

#: Rows of the seeded sample a method without a streamed form is run on.
DEFAULT_SAMPLE_ROWS = 200_000
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN", "REAL")


@dataclass(frozen=True)
class StreamedEstimate:
    """An effect estimated from a table on disk, with what was read."""

    method: str
    estimand: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n_used: int
    n_rows: int
    n_partitions: int
    partition_rows: int
    se_method: str
    covariate_names: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    #: Warnings raised by the kernels (here or on the workers), one deduplicated line each, as ``cc.estimate``
    #: keeps them; also in ``warnings``, prefixed "Library warning: ".
    library_warnings: tuple[str, ...] = ()
    #: Where it was computed: the backend, its address and workers, and the package versions
    #: (:meth:`causal_core.compute.backend.BackendInfo.as_dict`, as :attr:`EstimateResult.compute`).
    compute: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"method": self.method, "estimand": self.estimand, "estimate": self.estimate,
                "std_error": self.std_error, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "p_value": self.p_value, "n_used": self.n_used, "warnings": " ".join(self.warnings)}


@dataclass(frozen=True)
class _Encoding:
    """How each partition becomes arrays: the treated label and each confounder's encoded columns."""

    treatment: str
    outcome: str
    treated: Any
    confounders: tuple[str, ...]
    levels: tuple[tuple[str, ...] | None, ...]  # None for a numeric column, else the kept levels (first dropped)

    @property
    def names(self) -> tuple[str, ...]:
        out: list[str] = []
        for column, levels in zip(self.confounders, self.levels):
            out += [column] if levels is None else [f"{column}={level}" for level in levels]
        return tuple(out)

    def arrays(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, t, y)`` of the partition's complete rows."""
        used = [self.treatment, self.outcome, *self.confounders]
        frame = frame.loc[frame[used].notna().all(axis=1)]
        t = (frame[self.treatment] == self.treated).to_numpy(dtype=float)
        y = frame[self.outcome].to_numpy(dtype=float)
        blocks = []
        for column, levels in zip(self.confounders, self.levels):
            if levels is None:
                blocks.append(frame[column].to_numpy(dtype=float)[:, None])
            else:
                text = frame[column].astype(str)
                blocks += [(text == level).to_numpy(dtype=float)[:, None] for level in levels]
        X = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
        return X, t, y


def _encoding(source: TableSource, roles: Roles) -> _Encoding:
    if roles.treatment is None or roles.outcome is None:
        raise CausalInputError("Choose a treatment and an outcome column.")
    types = dict(zip(source.columns, source.types))
    for column in (roles.treatment, roles.outcome, *roles.confounders):
        if column not in types:
            raise CausalInputError(f"Column '{column}' given in the roles is not in {source.path!r}.")
    if not types[roles.outcome].startswith(_NUMERIC_TYPES):
        raise CausalInputError(f"Outcome column '{roles.outcome}' is {types[roles.outcome]}; it must be numeric.")
    values = distinct_values(source, roles.treatment, limit=3)
    _, treated, _ = binary_treatment(pd.Series(values, name=roles.treatment), roles.treated_level)
    levels = []
    for column in roles.confounders:
        if types[column].startswith(_NUMERIC_TYPES):
            levels.append(None)
            continue
        found = sorted({str(v) for v in distinct_values(source, column, limit=51)})
        if len(found) > 50:
            raise CausalInputError(f"Confounder column '{column}' is text with more than 50 distinct values; "
                                   "recode it or drop it (at most 50 categories are one-hot encoded).")
        levels.append(tuple(found[1:]))
    return _Encoding(roles.treatment, roles.outcome, treated, tuple(roles.confounders), tuple(levels))


def encoded_passes(source: TableSource, enc: _Encoding, rows: int,
                   progress: Callable[[int, int, int], None] | None = None) -> Pass:
    """The streamed passes of one estimate: each partition's complete rows as ``(X, t, y)`` for the kernels.

    On a Dask backend every ``Pass.run`` is one task per partition on the workers.
    """
    return Pass(source, tuple(dict.fromkeys([enc.treatment, enc.outcome, *enc.confounders])), enc.arrays,
                rows, progress)


def _combine_moments(a: tuple[int, float, float], n: int, mean: float, m2: float) -> tuple[int, float, float]:
    """Chan et al.'s exact merge of (count, mean, sum of squared deviations)."""
    na, ma, m2a = a
    if n == 0:
        return a
    total = na + n
    delta = mean - ma
    return total, ma + delta * n / total, m2a + m2 + delta * delta * na * n / total


def _arm_moments_kernel(X: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple:
    out = []
    for arm in (1.0, 0.0):
        values = y[t == arm]
        mean = float(np.mean(values)) if values.size else 0.0
        out.append((values.size, mean, float(np.sum((values - mean) ** 2)) if values.size else 0.0))
    return tuple(out)


def _difference_in_means(passes, enc: _Encoding, estimand: str) -> tuple[float, float, int, int, str, tuple]:
    arms = [(0, 0.0, 0.0), (0, 0.0, 0.0)]
    parts = passes.run(_arm_moments_kernel)
    for part in parts:  # in partition order
        arms = [_combine_moments(arms[a], *part[a]) for a in (0, 1)]
    (n1, m1, q1), (n0, m0, q0) = arms
    if min(n1, n0) < 2:
        raise CausalInputError(f"Treatment column '{enc.treatment}' needs at least 2 complete rows in each arm.")
    se = float(np.sqrt(q1 / (n1 - 1) / n1 + q0 / (n0 - 1) / n0))
    warnings = ("Confounders are ignored by this method; the contrast is causal only if treatment was randomised.",)
    return m1 - m0, se, n1 + n0, len(parts), "Neyman (Welch) variance", warnings


def _design(X: np.ndarray, t: np.ndarray, centre: np.ndarray, interactions: bool) -> np.ndarray:
    k = X.shape[1]
    centred = X - centre if k else X
    blocks = [np.ones_like(t), t, centred] + ([centred * t[:, None]] if interactions and k else [])
    return np.column_stack(blocks)


def _target_sums_kernel(X, t, y, estimand) -> tuple:
    target = target_rows(t, estimand)
    return X[target].sum(axis=0), int(target.sum())


def _normal_equations_kernel(X, t, y, centre, estimand, interactions) -> tuple:
    D = _design(X, t, centre, interactions)
    rows = X[target_rows(t, estimand)] - centre
    return D.T @ D, D.T @ y, t.size, rows.T @ rows, rows.shape[0]


def _hc2_meat_kernel(X, t, y, centre, interactions, beta, inverse) -> np.ndarray:
    D = _design(X, t, centre, interactions)
    residual = y - D @ beta
    leverage = np.einsum("ij,jk,ik->i", D, inverse, D)
    return (D * (residual ** 2 / (1.0 - leverage))[:, None]).T @ D


def _regression(passes, enc: _Encoding, estimand: str, interactions: bool) -> tuple:
    k = len(enc.names)
    # pass 1: target means of the confounders
    total, count = np.zeros(k), 0
    parts = passes.run(_target_sums_kernel, estimand)
    for part_total, part_count in parts:
        total += part_total
        count += part_count
    if count == 0:
        raise CausalInputError(f"No complete rows in the {estimand} target population.")
    centre = total / count

    # pass 2: normal equations, and the target rows' scatter for the means' sampling variance
    p = 2 + k * (2 if interactions and k else 1)
    gram, cross, n_used = np.zeros((p, p)), np.zeros(p), 0
    scatter, n_target = np.zeros((k, k)), 0
    for part_gram, part_cross, part_n, part_scatter, part_target in passes.run(
            _normal_equations_kernel, centre, estimand, interactions):
        gram += part_gram
        cross += part_cross
        n_used += part_n
        scatter += part_scatter
        n_target += part_target
    if n_used <= p:
        raise CausalInputError(f"Only {n_used} complete rows for {p} regression coefficients.")
    inverse = np.linalg.inv(gram)
    beta = inverse @ cross
    # pass 3: HC2 meat
    meat = np.zeros((p, p))
    for part in passes.run(_hc2_meat_kernel, centre, interactions, beta, inverse):
        meat += part
    covariance = inverse @ meat @ inverse
    estimate, variance = float(beta[1]), float(covariance[1, 1])
    detail = "HC2 robust"
    if interactions and k:
        delta = beta[2 + k: 2 + 2 * k]
        mean_cov = np.atleast_2d(scatter / (n_target - 1)) / n_target
        variance += float(delta @ mean_cov @ delta)
        detail += " plus sampling of target means"
    warnings: tuple[str, ...] = ()
    if not interactions and estimand != "ATE":
        warnings = (f"Without interactions the coefficient on treatment is the {estimand} only if the effect is "
                    "the same for everyone; set interactions=True to let it vary with the confounders.",)
    return estimate, float(np.sqrt(variance)), n_used, len(parts), detail, warnings


#: Methods with a streamed form and the options it supports.
STREAMED_METHODS: dict[str, tuple[str, ...]] = {"difference_in_means": (), "regression_adjustment": ("interactions",)}
#: Kernels in their own modules (imported when used: they import this one): method -> (module, function).
#: Partition kernels take ``(passes, enc, estimand, **options)``; source kernels the whole request.
_PARTITION_KERNELS = {"entropy_balancing": ("causal_core.outofcore.streamed_balancing", "kernel")}
_SOURCE_KERNELS = {"two_stage_least_squares": ("causal_core.outofcore.streamed_iv", "streamed_2sls"),
                   "exact_matching": ("causal_core.outofcore.cells", "streamed_exact_matching")}
STREAMED_METHODS.update({"entropy_balancing": ("moments", "interactions", "solver", "max_iter", "tol"),
                         "two_stage_least_squares": ("cov_type",), "exact_matching": ("n_bins",)})


def _kernel(table: dict, method: str) -> Callable:
    import importlib

    module, name = table[method]
    return getattr(importlib.import_module(module), name)

STREAMED_METHODS["ipw"] = ("trim", "clip")  # streamed_weighting: Newton logit, Hajek, stacked sandwich
STREAMED_METHODS["doubly_robust"] = ()  # streamed_weighting: Newton logit + arm-wise OLS, no cross-fitting


def streamed_estimate(source: TableSource, roles: Roles, method: str, *, estimand: str = "ATE",
                      rows_per_partition: int = DEFAULT_PARTITION_ROWS,
                      progress: Callable[[int, int, int], None] | None = None, **options: Any) -> StreamedEstimate:
    """Estimate ``method`` over the table on disk, one partition in memory at a time.

    Under an active Dask backend each pass over the partitions runs on the
    workers (one task per partition, each reading its own rows from the file,
    combined in partition order: the numbers equal the serial run's bit for
    bit); ``progress(pass_number, done, total)`` follows the passes. Warnings
    the passes raise, here or on the workers, are kept on the result as
    ``cc.estimate`` keeps them (``library_warnings``; in ``warnings`` prefixed
    "Library warning: "), the same lines and counts on every backend.
    """
    with capture_library_warnings() as caught:
        result = _streamed_estimate(source, roles, method, estimand, rows_per_partition, progress, options)
    library = summarise_warnings(caught)
    result = dataclasses.replace(result, compute=FrozenMapping(current_backend().as_dict()))
    if not library:
        return result
    return dataclasses.replace(result, library_warnings=library,
                               warnings=result.warnings + tuple(LIBRARY_WARNING_PREFIX + line for line in library))


def _streamed_estimate(source: TableSource, roles: Roles, method: str, estimand: str, rows_per_partition: int,
                       progress: Callable[[int, int, int], None] | None, options: dict) -> StreamedEstimate:
    if method not in STREAMED_METHODS:
        raise CausalInputError(f"Method '{method}' has no streamed form; use estimate_large, which runs it on a "
                               f"seeded sample. Streamed methods: {', '.join(STREAMED_METHODS)}.")
    unknown = sorted(set(options) - set(STREAMED_METHODS[method]))
    if unknown:
        raise CausalInputError(f"Option '{unknown[0]}' is not available for the streamed {method}.")
    if method in _SOURCE_KERNELS:
        return _kernel(_SOURCE_KERNELS, method)(source, roles, estimand=estimand,
                                                rows_per_partition=rows_per_partition, **options)
    if estimand not in ("ATE", "ATT", "ATC"):
        raise CausalInputError(f"Estimand {estimand!r} is not one of ATE, ATT, ATC.")
    if isinstance(rows_per_partition, bool) or not isinstance(rows_per_partition, int) or rows_per_partition < 100:
        raise CausalInputError(f"Option 'rows_per_partition' must be an integer of at least 100; got {rows_per_partition!r}.")
    enc = _encoding(source, roles)
    passes = encoded_passes(source, enc, rows_per_partition, progress)  # each pass one task per partition on Dask
    if method in ("ipw", "doubly_robust"):
        from causal_core.outofcore.streamed_weighting import streamed_aipw, streamed_ipw

        estimate, se, n_used, n_parts, detail, warnings = (
            streamed_ipw(passes, enc, estimand, **options) if method == "ipw" else streamed_aipw(passes, enc, estimand))
    elif method == "difference_in_means":
        estimate, se, n_used, n_parts, detail, warnings = _difference_in_means(passes, enc, estimand)
    elif method in _PARTITION_KERNELS:
        estimate, se, n_used, n_parts, detail, warnings = _kernel(_PARTITION_KERNELS, method)(passes, enc, estimand,
                                                                                            **options)
    else:
        estimate, se, n_used, n_parts, detail, warnings = _regression(passes, enc, estimand,
                                                                      bool(options.get("interactions", False)))
    inference = analytic_inference(estimate, se, detail=detail)  # the in-memory methods' interval and p-value
    return StreamedEstimate(method, estimand, estimate, se, inference.ci_low, inference.ci_high, inference.p_value,
                            n_used, source.n_rows, n_parts, rows_per_partition, detail, enc.names, warnings)


def estimate_large(source: TableSource, roles: Roles, method: str, *, estimand: str = "ATE", seed: int = 0,
                   sample_rows: int = DEFAULT_SAMPLE_ROWS, rows_per_partition: int = DEFAULT_PARTITION_ROWS,
                   progress: Callable[[int, int, int], None] | None = None, **options: Any):
    """A streamed estimate where the method has one, else ``cc.estimate`` on a seeded sample, saying so.

    ``progress(pass_number, done, total)`` follows a streamed estimate's passes (see :func:`streamed_estimate`).
    """
    if method in STREAMED_METHODS and set(options) <= set(STREAMED_METHODS[method]):
        return streamed_estimate(source, roles, method, estimand=estimand, rows_per_partition=rows_per_partition,
                                 progress=progress, **options)
    from causal_core.core.api import estimate

    frame = sample(source, sample_rows, seed, columns=list(dict.fromkeys(roles.columns())))
    result = estimate(frame, roles, method, estimand=estimand, seed=seed, **options)
    if len(frame) < source.n_rows:
        note = (f"Estimated on a seeded sample of {len(frame):,} of {source.n_rows:,} rows (DuckDB reservoir "
                f"sample, seed {seed}): this method has no streamed form.")
        result = dataclasses.replace(result, warnings=(note, *result.warnings))
    return result
