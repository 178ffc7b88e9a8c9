"""The public entry points: :func:`estimate` and :func:`compare`."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Iterable

import numpy as np
import pandas as pd

from causal_core.core.data import prepare
from causal_core.compute.backend import current_backend
from causal_core.core.errors import CausalInputError
from causal_core.core.library_warnings import LIBRARY_WARNING_PREFIX, capture_library_warnings, summarise_warnings
from causal_core.core.limits import check_limits
from causal_core.core.options import validate_options
from causal_core.core.provenance import provenance_fields
from causal_core.core.registry import get_method
from causal_core.core.results import RESULT_COLUMNS, EstimateResult, FrozenMapping, MethodOutput
from causal_core.core.roles import Roles
from causal_core.core.seeds import check_seed
from causal_core.inference import Inference, failed_replicates_warning, resolve_inference

__all__ = ["estimate", "compare"]


def _checked_point(method: str, output: MethodOutput) -> float:
    """The estimate as a float; a non-finite one raises :class:`CausalInputError`."""
    point = float(output.estimate)
    if not np.isfinite(point):
        raise CausalInputError(
            f"Method '{method}' gave a non-finite estimate ({point}) on this data; the likely cause is "
            "extreme magnitudes (rescale the outcome and covariates), collinear covariates or an arm with too few rows."
        )
    return point


def _checked_inference(method: str, inference: Inference) -> tuple[Inference, tuple[str, ...]]:
    """The inference with finite SE and 95% interval, or the missing parts as NaN and a warning saying so.

    A bootstrap where fewer than two replicates succeeded raises :class:`CausalInputError`;
    failed replicates otherwise give the one warning of the inference layer.
    """
    notes: list[str] = []
    if inference.method.startswith("bootstrap") and not np.isfinite(inference.std_error):
        succeeded = inference.n_replicates - inference.n_failed
        raise CausalInputError(
            f"Method '{method}' could not bootstrap a standard error on this data: {succeeded} of "
            f"{inference.n_replicates} replicates succeeded and at least 2 are needed; the data are too sparse "
            "for refitting (too few rows per arm or level)."
        )
    failed = failed_replicates_warning(inference)
    if failed:
        notes.append(failed)
    se = float(inference.std_error)
    if not np.isfinite(se) or se < 0:
        notes.append(
            f"Method '{method}' could not compute a standard error on this data (it came out {se}); "
            "the standard error and the confidence interval are left empty (NaN)."
        )
        se = float("nan")
    ci_low, ci_high = float(inference.ci_low), float(inference.ci_high)
    if np.isfinite(se) and not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        notes.append(
            f"Method '{method}' could not compute a confidence interval on this data "
            f"(it came out [{ci_low}, {ci_high}]); the interval is left empty (NaN)."
        )
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        ci_low = ci_high = float("nan")
    if (se, ci_low, ci_high) != (inference.std_error, inference.ci_low, inference.ci_high):
        inference = replace(inference, std_error=se, ci_low=ci_low, ci_high=ci_high)
    return inference, tuple(notes)


def _units_used(output: MethodOutput, n_design: int) -> int:
    """Units that enter the estimate: the method's own count, else rows with a positive weight, else every row."""
    if output.n_used is not None:
        return int(output.n_used)
    if output.weights is not None:
        w = np.asarray(output.weights, dtype=float)
        if w.shape == (n_design,) and np.all(np.isfinite(w)):
            return int(np.sum(w > 0))
    return int(n_design)


def _balance_summary(info, data, weights, estimand: str) -> tuple[float, float] | None:
    """Largest |SMD| before and after the weights, as the balance table computes it (binary treatments only)."""
    if weights is None or info.treatment_kind != "binary":
        return None
    from causal_core.diagnostics.balance import max_abs_smd  # balance builds on the core, not the reverse

    return max_abs_smd(data, weights, estimand)


def estimate(
    df: pd.DataFrame,
    roles: Roles,
    method: str,
    estimand: str = "ATE",
    seed: int = 0,
    **options: Any,
) -> EstimateResult:
    """Estimate a causal effect with one method.

    Parameters
    ----------
    df : DataFrame
        The data; it is never modified.
    roles : Roles
        What each column is.
    method : str
        A method id from :func:`list_methods`.
    estimand : {"ATE", "ATT", "ATC"} or a method-specific estimand
        Must be among the method's supported estimands.
    seed : int
        Seed for every random step (bootstrap, cross-fitting, initialisations).
    **options
        Method options, documented in ``MethodInfo.options``.

    Returns
    -------
    EstimateResult
    """
    info = get_method(method)
    if estimand not in info.estimands:
        raise CausalInputError(
            f"Method '{method}' does not estimate the {estimand}; it supports {', '.join(info.estimands)}."
        )
    validate_options(info, options)  # unknown names and the static constraints, before anything runs
    seed = check_seed(seed)
    start = time.perf_counter()
    data = prepare(df, roles, info)
    # the method's identifiability limits first (a 2-row arm is the problem, not the n_folds it caps),
    # then the options' data rules, both before the (possibly slow) method
    limit_warnings = check_limits(info, data, estimand, options)
    validate_options(info, options, data)
    # library warnings (convergence of scikit-learn, statsmodels, cvxpy...) are recorded and carried on the result
    with capture_library_warnings() as caught:
        try:
            output: MethodOutput = info.function(data, estimand=estimand, seed=seed, **options)
            point = _checked_point(method, output)
            inference = resolve_inference(point, output.inference, n=data.n, seed=seed)
        except CausalInputError:
            raise
        except Exception as exc:
            if isinstance(exc, (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError)):
                raise CausalInputError(
                    f"Method '{method}' failed on this data ({type(exc).__name__}: {exc}); "
                    "check for collinear or constant covariates and too few rows per arm."
                ) from exc
            # last safety net: the bad-input battery (bench/bad_input_battery.py) counts these as bugs
            raise CausalInputError(
                f"Method '{method}' failed unexpectedly ({type(exc).__name__}: {exc}); "
                "this is a bug, please report it."
            ) from exc
    seconds = time.perf_counter() - start
    inference, inference_warnings = _checked_inference(method, inference)
    diagnostics = dict(output.diagnostics)
    smd = _balance_summary(info, data, output.weights, estimand)
    if smd is not None:  # the balance table's own numbers, so the method diagnostics and the table agree
        diagnostics["max_abs_smd_before"], diagnostics["max_abs_smd_after"] = smd
    diagnostics["se_method"] = inference.detail or inference.method  # readable copy; the source is inference.method
    library_warnings = summarise_warnings(caught)
    return EstimateResult(
        estimate=point,
        std_error=inference.std_error,
        ci_low=inference.ci_low,
        ci_high=inference.ci_high,
        estimand=estimand,
        method=method,
        n_used=_units_used(output, data.n),
        weights=output.weights,
        unit_effects=output.unit_effects,
        diagnostics=diagnostics,
        warnings=tuple(data.warnings) + limit_warnings + tuple(output.warnings) + inference_warnings
        + tuple(LIBRARY_WARNING_PREFIX + text for text in library_warnings),
        seconds=seconds,
        inference=inference,
        **provenance_fields(data, info, options, seed, output.weights),
        library_warnings=library_warnings,
        n_design=data.n,
        compute=FrozenMapping(current_backend().as_dict()),
    )


def compare(
    df: pd.DataFrame,
    roles: Roles,
    methods: Iterable[str],
    estimand: str = "ATE",
    seed: int = 0,
    options: dict[str, dict[str, Any]] | None = None,
    progress: Any = None,
) -> pd.DataFrame:
    """Run several methods on the same data and roles, one row per method.

    A method that fails shows its message in the ``error`` column and never
    stops the others. ``options`` maps a method id to its keyword options;
    ``progress(i, n, method_id)`` is called before each method when given.
    """
    methods = list(methods)
    options = options or {}
    seed = check_seed(seed)
    from causal_core.compute.backend import current_backend, map_tasks

    def row_for(method: str) -> dict[str, Any]:
        try:
            result = estimate(df, roles, method, estimand=estimand, seed=seed, **options.get(method, {}))
            row = result.summary()
            row["error"] = ""
        except CausalInputError as exc:
            row = {"method": method, "estimand": estimand, "error": str(exc)}
        except Exception as exc:  # one broken method must not stop the comparison
            row = {"method": method, "estimand": estimand, "error": f"Unexpected failure: {type(exc).__name__}: {exc}"}
        return row

    if current_backend().kind == "serial":
        rows: list[dict[str, Any]] = []
        for i, method in enumerate(methods):
            if progress is not None:
                progress(i, len(methods), method)
            rows.append(row_for(method))
    else:  # one task per method on the cluster; progress as methods finish, in order
        def report(done: int, total: int) -> None:
            if progress is not None and done < total:
                progress(done, total, methods[done])

        if progress is not None and methods:
            progress(0, len(methods), methods[0])
        rows = map_tasks(row_for, methods, progress=report, chunk_size=1)
    return pd.DataFrame(rows).reindex(columns=list(RESULT_COLUMNS))
