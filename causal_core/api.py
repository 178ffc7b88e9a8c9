"""The public entry points: :func:`estimate` and :func:`compare`."""
from __future__ import annotations

import time
import warnings as _warnings
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .data import prepare
from .errors import CausalInputError
from .limits import check_limits
from .options import validate_options
from .registry import get_method
from .results import EstimateResult, MethodOutput
from .roles import Roles
from .seeds import check_seed

__all__ = ["estimate", "compare"]

Z_95 = 1.959963984540054


def _checked_inference(method: str, output: MethodOutput) -> tuple[float, float, float, float, tuple[str, ...]]:
    """Estimate, SE and 95% interval as floats, never a silent NaN or infinity.

    A non-finite estimate raises :class:`CausalInputError`. A finite estimate
    whose standard error or interval is not finite is returned with the
    missing parts as NaN and a warning saying so.
    """
    point = float(output.estimate)
    if not np.isfinite(point):
        raise CausalInputError(
            f"Method '{method}' gave a non-finite estimate ({point}) on this data; the likely cause is "
            "extreme magnitudes (rescale the outcome and covariates), collinear covariates or an arm with too few rows."
        )
    se = float(output.std_error)
    notes: list[str] = []
    if not np.isfinite(se) or se < 0:
        notes.append(
            f"Method '{method}' could not compute a standard error on this data (it came out {se}); "
            "the standard error and the confidence interval are left empty (NaN)."
        )
        se = float("nan")
    ci_low = float(output.ci_low) if output.ci_low is not None else point - Z_95 * se
    ci_high = float(output.ci_high) if output.ci_high is not None else point + Z_95 * se
    if np.isfinite(se) and not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        notes.append(
            f"Method '{method}' could not compute a confidence interval on this data "
            f"(it came out [{ci_low}, {ci_high}]); the interval is left empty (NaN)."
        )
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        ci_low = ci_high = float("nan")
    return point, se, ci_low, ci_high, tuple(notes)


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
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        try:
            output: MethodOutput = info.function(data, estimand=estimand, seed=seed, **options)
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
    point, se, ci_low, ci_high, inference_warnings = _checked_inference(method, output)
    return EstimateResult(
        estimate=point,
        std_error=se,
        ci_low=ci_low,
        ci_high=ci_high,
        estimand=estimand,
        method=method,
        n_used=int(output.n_used if output.n_used is not None else data.n),
        weights=output.weights,
        unit_effects=output.unit_effects,
        diagnostics=dict(output.diagnostics),
        warnings=tuple(data.warnings) + limit_warnings + tuple(output.warnings) + inference_warnings,
        seconds=seconds,
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
    rows: list[dict[str, Any]] = []
    for i, method in enumerate(methods):
        if progress is not None:
            progress(i, len(methods), method)
        try:
            result = estimate(df, roles, method, estimand=estimand, seed=seed, **options.get(method, {}))
            row = result.summary()
            row["error"] = ""
        except CausalInputError as exc:
            row = {"method": method, "estimand": estimand, "error": str(exc)}
        except Exception as exc:  # one broken method must not stop the comparison
            row = {"method": method, "estimand": estimand, "error": f"Unexpected failure: {type(exc).__name__}: {exc}"}
        rows.append(row)
    columns = ["method", "estimand", "estimate", "std_error", "ci_low", "ci_high", "p_value",
               "n_used", "ess", "seconds", "warnings", "error"]
    return pd.DataFrame(rows).reindex(columns=columns)
