"""The public entry points: :func:`estimate` and :func:`compare`."""
from __future__ import annotations

import time
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .data import prepare
from .errors import CausalInputError, plain
from .library_warnings import LIBRARY_WARNING_PREFIX, capture_library_warnings, summarise_warnings
from .limits import check_limits
from .provenance import provenance_fields
from .registry import MethodInfo, OptionSpec, get_method
from .results import EstimateResult, MethodOutput
from .roles import Roles
from .seeds import check_seed

__all__ = ["estimate", "compare"]

Z_95 = 1.959963984540054


def _range_text(spec: OptionSpec) -> str:
    if spec.low is not None and spec.high is not None:
        return f" from {spec.low:g} to {spec.high:g}"
    if spec.low is not None:
        return f" of at least {spec.low:g}"
    if spec.high is not None:
        return f" of at most {spec.high:g}"
    return ""


def _option_value_problem(info: MethodInfo, spec: OptionSpec, value: Any) -> str | None:
    """Why ``value`` breaks the declared kind or (inclusive) bounds of ``spec``, or ``None``.

    ``"choice"`` and ``"model"`` options are left to the method, which may
    accept more than the listed choices (estimator objects, extra levels).
    """
    if value is None and spec.default is None:
        return None
    prefix = f"The '{spec.name}' option of method '{info.id}'"
    is_bool = isinstance(value, (bool, np.bool_))
    if spec.kind == "bool":
        return None if is_bool else f"{prefix} must be True or False; got {plain(value)!r}."
    if spec.kind not in ("int", "float"):
        return None
    if spec.kind == "int":
        ok, what = isinstance(value, (int, np.integer)) and not is_bool, "an integer"
    else:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not is_bool and bool(np.isfinite(value))
        what = "a finite number"
    if ok and spec.low is not None and value < spec.low:
        ok = False
    if ok and spec.high is not None and value > spec.high:
        ok = False
    return None if ok else f"{prefix} must be {what}{_range_text(spec)}; got {plain(value)!r}."


def _check_option_values(
    info: MethodInfo, options: dict[str, Any], *, before_method: bool = False, method_succeeded: bool = False
) -> None:
    """Raise :class:`CausalInputError` for the first option value outside its ``OptionSpec``.

    With ``before_method``, only what is safe to refuse first (NaN or infinite
    numbers, which no method expects, and integers above their bound, such as
    replicate counts that would run for long); in full after the method, or when it
    fails, so that the method's own, more specific messages come first and
    nothing outside the declared kind or bounds is ever returned silently.
    With ``method_succeeded``, ``None`` is accepted (a method may read it as
    "off", e.g. no caliper).
    """
    for spec in info.options:
        if spec.name not in options:
            continue
        value = options[spec.name]
        if method_succeeded and value is None:
            continue
        if before_method and not (
            (isinstance(value, (float, np.floating)) and not np.isfinite(value) and spec.kind in ("int", "float"))
            or (spec.kind == "int" and spec.high is not None and isinstance(value, (int, np.integer))
                and not isinstance(value, (bool, np.bool_)) and value > spec.high)
        ):
            continue
        problem = _option_value_problem(info, spec, value)
        if problem:
            raise CausalInputError(problem)


def _check_options(info: MethodInfo, options: dict[str, Any]) -> None:
    known = {o.name for o in info.options}
    unknown = sorted(set(options) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise CausalInputError(
            f"Method '{info.id}' has no option(s) {unknown}; its options are: {listed}."
        )
    _check_option_values(info, options, before_method=True)


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
    _check_options(info, options)
    seed = check_seed(seed)
    start = time.perf_counter()
    data = prepare(df, roles, info)
    limit_warnings = check_limits(info, data, estimand, options)
    # library warnings (convergence of scikit-learn, statsmodels, cvxpy...) are recorded and carried on the result
    with capture_library_warnings() as caught:
        try:
            output: MethodOutput = info.function(data, estimand=estimand, seed=seed, **options)
        except CausalInputError:
            raise
        except Exception as exc:
            _check_option_values(info, options)  # a bad option value is the likeliest cause: name it
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
    _check_option_values(info, options, method_succeeded=True)  # values the method took but its OptionSpec does not
    seconds = time.perf_counter() - start
    point, se, ci_low, ci_high, inference_warnings = _checked_inference(method, output)
    library_warnings = summarise_warnings(caught)
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
        warnings=tuple(data.warnings) + limit_warnings + tuple(output.warnings) + inference_warnings
        + tuple(LIBRARY_WARNING_PREFIX + text for text in library_warnings),
        seconds=seconds,
        **provenance_fields(data, info, options, seed, output.weights),
        library_warnings=library_warnings,
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
