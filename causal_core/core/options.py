"""The one option validator: declared :class:`~causal_core.core.registry.OptionSpec` constraints, checked once.

Each method declares its options in the registry (kind, bounds with inclusive
or exclusive ends, whether ``None`` is allowed and what it means, choices,
named models, extra accepted values) and, for rules that depend on the table,
small frozen rule objects with ``problem(value, data, options)``. Like
scikit-learn's ``_parameter_constraints``, :func:`validate_options` checks
them before the method runs: the static constraints before the data are
prepared, the data rules on the :class:`~causal_core.core.data.PreparedData` right
after. Every refusal is one sentence of one shape::

    The 'trim' option of method 'ipw' must be a number from 0 to 0.49; got 0.495.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from causal_core.core.errors import CausalInputError, plain
from causal_core.core.registry import MethodInfo, OptionSpec

__all__ = [
    "MIN_BOOTSTRAP_REPLICATES",
    "MAX_BOOTSTRAP_REPLICATES",
    "n_boot_option",
    "AtMostRows",
    "AtMostSmallerArm",
    "option_value_problem",
    "validate_options",
]

#: Fewest bootstrap replicates any method accepts (fewer give no usable standard error).
MIN_BOOTSTRAP_REPLICATES = 20
#: Most bootstrap replicates any method accepts.
MAX_BOOTSTRAP_REPLICATES = 5000

#: Named models a ``"model"`` option accepts when its spec lists no choices of its own.
_DEFAULT_MODEL_NAMES = ("default", "random_forest", "gradient_boosting")


def n_boot_option(default: int, help: str = "Bootstrap replicates for the standard error.", *,
                  allow_zero: bool = False, zero_means: str = "") -> OptionSpec:
    """The shared ``n_boot`` option: an integer from 20 to 5000, or 0 where 0 switches to an analytic fallback.

    ``allow_zero`` is for methods whose standard error has an analytic (or
    jackknife) fallback that ``n_boot=0`` selects; ``zero_means`` says which.
    """
    return OptionSpec("n_boot", "int", default, help, low=MIN_BOOTSTRAP_REPLICATES, high=MAX_BOOTSTRAP_REPLICATES,
                      also=(0,) if allow_zero else (), also_means=zero_means if allow_zero else "")


# --------------------------------------------------------------------------- data rules


def _arm_counts(data: Any) -> tuple[str, int]:
    n_treated = int(np.sum(data.t == 1))
    n_control = int(data.t.shape[0] - n_treated)
    return ("treated", n_treated) if n_treated <= n_control else ("control", n_control)


def _applies(when: str, options: Mapping[str, Any]) -> bool:
    return not when or bool(options.get(when))


@dataclass(frozen=True)
class AtMostSmallerArm:
    """The value may be at most the rows of the smaller arm, minus ``minus``.

    E.g. ``n_neighbors`` of k-NN matching (``minus=1``: each unit needs ``k``
    matches and the arm one row more), ``n_folds`` of cross-fitting
    (``minus=0``: every fold needs a row of each arm). With ``when``, the rule
    applies only while that boolean option is true.
    """

    minus: int = 0
    when: str = ""

    def limit(self, data: Any, options: Mapping[str, Any]) -> tuple[int, str] | None:
        """(largest allowed value, what sets it in words), or None when the rule does not apply."""
        if not _applies(self.when, options) or getattr(data, "t", None) is None:
            return None
        arm, rows = _arm_counts(data)
        return rows - self.minus, f"the smaller ({arm}) arm has {rows} rows"

    def problem(self, value: Any, data: Any, options: Mapping[str, Any]) -> str | None:
        if not _applies(self.when, options) or getattr(data, "t", None) is None:
            return None
        arm, rows = _arm_counts(data)
        limit = rows - self.minus
        if value <= limit:
            return None
        if self.minus == 1:
            return f"at most {limit}, one fewer than the {rows} rows of the smaller ({arm}) arm"
        if self.minus:
            return f"at most {limit}, {self.minus} fewer than the {rows} rows of the smaller ({arm}) arm"
        return f"at most {limit}, the rows of the smaller ({arm}) arm"


@dataclass(frozen=True)
class AtMostRows:
    """The value may be at most the number of rows divided by ``divisor`` (rounded down).

    E.g. ``n_folds`` of cross-validated penalties (one fold per 10 rows), the
    largest number of mixture components (one row per component). With
    ``when``, the rule applies only while that boolean option is true.
    """

    divisor: int = 1
    when: str = ""

    def limit(self, data: Any, options: Mapping[str, Any]) -> tuple[int, str] | None:
        """(largest allowed value, what sets it in words), or None when the rule does not apply."""
        if not _applies(self.when, options):
            return None
        if self.divisor == 1:
            return data.n, f"the data have {data.n} rows"
        return data.n // self.divisor, f"the data have {data.n} rows (one per {self.divisor} is needed)"

    def problem(self, value: Any, data: Any, options: Mapping[str, Any]) -> str | None:
        if not _applies(self.when, options):
            return None
        limit = data.n // self.divisor
        if value <= limit:
            return None
        if self.divisor == 1:
            return f"at most {limit}, the number of rows"
        during = f" while '{self.when}' is True" if self.when else ""
        return f"at most {limit} (one per {self.divisor} of the {data.n} rows){during}"


# --------------------------------------------------------------------------- static constraints


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _same_value(value: Any, choice: Any) -> bool:
    """``value == choice`` without counting ``True`` as 1 or ``1.0`` as the integer 1."""
    value, choice = plain(value), plain(choice)
    return type(value) is type(choice) and value == choice


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bounds_text(spec: OptionSpec) -> str:
    low, high = spec.low, spec.high
    if low is not None and high is not None and spec.low_inclusive and spec.high_inclusive:
        return f" from {_number(low)} to {_number(high)}"
    parts = []
    if low is not None:
        parts.append(f"{'at least' if spec.low_inclusive else 'greater than'} {_number(low)}")
    if high is not None:
        parts.append(f"{'at most' if spec.high_inclusive else 'less than'} {_number(high)}")
    if len(parts) == 1 and parts[0].startswith("at "):
        return " of " + parts[0]  # "an integer of at least 1"
    return (" " + " and ".join(parts)) if parts else ""


def _extras_text(spec: OptionSpec) -> str:
    """The values accepted beyond the kind and bounds, as a leading or trailing phrase."""
    extras = [repr(plain(v)) for v in spec.also]
    if spec.accepts_none:
        extras.append("None")
    return " or ".join(extras)


def _rule_text(spec: OptionSpec) -> str:
    """What ``spec`` accepts, e.g. ``'a number from 0 to 0.49'`` or ``'0 or an integer from 20 to 5000'``."""
    if spec.kind == "bool":
        core = "True or False"
    elif spec.kind == "int":
        core = "an integer" + _bounds_text(spec)
    elif spec.kind == "float":
        core = "a number" + _bounds_text(spec)
    else:
        core = "one of " + ", ".join(repr(plain(c)) for c in spec.choices)
    extras = _extras_text(spec)
    if not extras:
        return core
    meaning = spec.none_means or spec.also_means
    meaning = f" ({meaning})" if meaning else ""
    if spec.also and not spec.accepts_none and spec.kind in ("int", "float"):
        return f"{extras}{meaning} or {core}"
    return f"{core}, or {extras}{meaning}"


def _shown(value: Any) -> str:
    value = plain(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    return type(value).__name__


def _model_problem(spec: OptionSpec, value: Any) -> str | None:
    names = tuple(spec.choices) or _DEFAULT_MODEL_NAMES
    learner = spec.learner or "regressor"
    needed = ("fit", "predict_proba") if learner == "classifier" else ("fit", "predict")
    listed = ", ".join(repr(n) for n in names)
    kind_text = f"a scikit-learn {learner} with {' and '.join(needed)}"
    if isinstance(value, str):
        if any(_same_value(value, n) for n in names):
            return None
        return f"one of {listed} or {kind_text}"
    if not isinstance(value, (bool, int, float, np.generic)) and all(
            callable(getattr(value, name, None)) for name in needed):
        return None
    return f"{kind_text} or one of {listed}"


def _value_rule_problem(spec: OptionSpec, value: Any) -> str | None:
    """The rule ``value`` breaks (the text after "must be"), or ``None``."""
    if value is None:
        if spec.accepts_none:
            return None
        return _model_problem(spec, value) if spec.kind == "model" else _rule_text(spec)
    if any(_same_value(value, extra) for extra in spec.also):
        return None
    if spec.kind == "model":
        return _model_problem(spec, value)
    if spec.kind == "choice":
        return None if any(_same_value(value, c) for c in spec.choices) else _rule_text(spec)
    if spec.kind == "bool":
        return None if _is_bool(value) else _rule_text(spec)
    if _is_bool(value):
        return _rule_text(spec)
    if spec.kind == "int":
        ok = isinstance(value, (int, np.integer))
    else:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(float(value))
    if ok and spec.low is not None:
        ok = value >= spec.low if spec.low_inclusive else value > spec.low
    if ok and spec.high is not None:
        ok = value <= spec.high if spec.high_inclusive else value < spec.high
    return None if ok else _rule_text(spec)


def _message(info: MethodInfo, spec: OptionSpec, rule: str, value: Any) -> str:
    return f"The '{spec.name}' option of method '{info.id}' must be {rule}; got {_shown(value)}."


def option_value_problem(info: MethodInfo, spec: OptionSpec, value: Any) -> str | None:
    """Why ``value`` breaks the static constraints of ``spec`` (kind, bounds, None, choices), or ``None``."""
    rule = _value_rule_problem(spec, value)
    return None if rule is None else _message(info, spec, rule, value)


def _check_names(info: MethodInfo, options: Mapping[str, Any]) -> None:
    known = {o.name for o in info.options}
    unknown = sorted(set(options) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise CausalInputError(f"Method '{info.id}' has no option(s) {unknown}; its options are: {listed}.")


def validate_options(info: MethodInfo, options: Mapping[str, Any], data: Any = None) -> None:
    """Raise :class:`CausalInputError` for the first option that breaks its declared constraints.

    Without ``data``: unknown option names and the static constraints of every
    given option (kind, bounds, ``None``, choices, named models). With ``data``
    (the :class:`~causal_core.core.data.PreparedData`): the data rules of every
    option, on its given or default value, so that a value the table cannot
    support is refused before the method runs.
    """
    if data is None:
        _check_names(info, options)
        for spec in info.options:
            if spec.name in options:
                problem = option_value_problem(info, spec, options[spec.name])
                if problem:
                    raise CausalInputError(problem)
        return
    effective = {spec.name: options.get(spec.name, spec.default) for spec in info.options}
    for spec in info.options:
        value = effective[spec.name]
        if value is None or any(_same_value(value, extra) for extra in spec.also):
            continue
        for rule in spec.rules:
            text = rule.problem(value, data, effective)
            if text:
                collapsed = _collapsed_range(info, spec, rule, data, effective, value)
                raise CausalInputError(collapsed or _message(info, spec, text, value))


def _collapsed_range(info: MethodInfo, spec: OptionSpec, rule: Any, data: Any, options: Mapping[str, Any],
                     value: Any) -> str | None:
    """The message when the data shrink the option's range to one value or to none, said in words.

    A range "from 3 to 3" reads as a bug; the analyst needs to hear what the data allow.
    """
    found = rule.limit(data, options) if hasattr(rule, "limit") else None
    if found is None or spec.low is None:
        return None
    limit, why = found
    low = spec.low if spec.low_inclusive else spec.low + 1
    if limit > low:
        return None
    if limit == low:
        return (f"The '{spec.name}' option of method '{info.id}' can only be {_number(low)} on this data, because "
                f"{why}; got {_shown(value)}.")
    return (f"The '{spec.name}' option of method '{info.id}' has no allowed value on this data: it must be at "
            f"least {_number(low)}, but {why}, which allows at most {limit}; use more rows or another method.")
