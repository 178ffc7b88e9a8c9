"""The settings of the robustness checks an analyst ran, saved with the analysis so a script can rerun them.

The sensitivity analyses and the agreement summary have no settings beyond
the analysis itself (they are always rerun); refutation tests and the
method lab do. Their settings are read back from their results
(:func:`refutation_settings`, :func:`method_lab_settings`), written in the
``robustness`` field of the analysis file and validated when it is read.
Both reuse the analysis's estimand, seed and method options.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from causal_core.core.errors import CausalInputError
from causal_core.core.registry import get_method
from causal_core.robustness.method_lab import SCENARIOS, MethodLabResult
from causal_core.robustness.refute import REFUTERS, RefutationResult

#: Most refutation repeats or method-lab replications a file may ask for (the Robustness page offers 200 and 1,000).
MAX_REPETITIONS = 10_000
#: Largest simulated effect or confounding strength (in noise standard deviations) a file may hold.
MAX_STRENGTH = 1e6

#: JSON Schema of one entry of an analysis file's ``robustness.refutations`` (tests and methods are checked
#: against the registry by :meth:`RefutationSettings.from_dict`).
REFUTATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-rule": "a JSON object with 'method', 'tests' and 'n_repeats'",
    "required": ["method", "tests", "n_repeats"],
    "additionalProperties": False,
    "properties": {
        "method": {"type": "string", "maxLength": 64, "x-rule": "a method id"},
        "tests": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 64, "x-rule": "a test name"},
                  "x-rule": "a list of refutation test names"},
        "n_repeats": {"type": "integer", "minimum": 2, "maximum": MAX_REPETITIONS,
                      "x-rule": f"an integer of at least 2 and at most {MAX_REPETITIONS:,}"},
    },
}

#: JSON Schema of an analysis file's ``robustness.method_lab`` (``null`` when no lab was run).
METHOD_LAB_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "x-rule": "a JSON object with the lab's methods, scenario, effect, confounding and n_replications, or null",
    "required": ["methods", "scenario", "effect", "confounding", "n_replications"],
    "additionalProperties": False,
    "properties": {
        "methods": {"type": "array", "maxItems": 200,
                    "items": {"type": "string", "maxLength": 64, "x-rule": "a method id"},
                    "x-rule": "a list of at most 200 method ids"},
        "scenario": {"enum": list(SCENARIOS), "x-rule": f"one of {', '.join(SCENARIOS)}"},
        "effect": {"type": "number", "minimum": -MAX_STRENGTH, "maximum": MAX_STRENGTH,
                   "x-rule": f"a finite number between {-MAX_STRENGTH:g} and {MAX_STRENGTH:g}"},
        "confounding": {"type": "number", "minimum": -MAX_STRENGTH, "maximum": MAX_STRENGTH,
                        "x-rule": f"a finite number between {-MAX_STRENGTH:g} and {MAX_STRENGTH:g}"},
        "n_replications": {"type": "integer", "minimum": 2, "maximum": MAX_REPETITIONS,
                           "x-rule": f"an integer of at least 2 and at most {MAX_REPETITIONS:,}"},
    },
}

__all__ = [
    "METHOD_LAB_SCHEMA",
    "MAX_REPETITIONS",
    "MethodLabSettings",
    "REFUTATION_SCHEMA",
    "RefutationSettings",
    "method_lab_settings",
    "refutation_settings",
]


@dataclass(frozen=True)
class RefutationSettings:
    """Refutation tests of one method: :func:`causal_core.refute` with these arguments.

    Attributes
    ----------
    method : str
        The method refuted (one of the analysis's methods).
    tests : tuple of str
        Tests run, in order (from :data:`causal_core.robustness.refute.REFUTERS`).
    n_repeats : int
        Repetitions per test.
    """

    method: str
    tests: tuple[str, ...]
    n_repeats: int

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "tests": list(self.tests), "n_repeats": self.n_repeats}

    @classmethod
    def from_dict(cls, raw: Any, methods: Sequence[str]) -> "RefutationSettings":
        """Validate one entry of the file's ``robustness.refutations`` list."""
        where = "robustness.refutations"
        if not isinstance(raw, dict):
            raise CausalInputError(f"Each entry of '{where}' in the analysis file must be a JSON object.")
        method = _field(raw, "method", str, where)
        if method not in methods:
            raise CausalInputError(
                f"Field '{where}' names method '{method}', which is not in the file's 'methods' list."
            )
        tests = _field(raw, "tests", list, where)
        unknown = [t for t in tests if t not in REFUTERS]
        if not tests or unknown:
            raise CausalInputError(
                f"Field '{where}.tests' must list refutation tests from {', '.join(REFUTERS)}; got {tests!r}."
            )
        n_repeats = _field(raw, "n_repeats", int, where)
        if n_repeats < 2:
            raise CausalInputError(f"Field '{where}.n_repeats' must be an integer of at least 2; got {n_repeats}.")
        return cls(method, tuple(tests), n_repeats)


@dataclass(frozen=True)
class MethodLabSettings:
    """One method-lab run: :func:`causal_core.method_lab` with these arguments.

    Attributes
    ----------
    methods : tuple of str
        Methods compared (any back-door method, not only the analysis's own).
    scenario : str
        One of :data:`causal_core.robustness.method_lab.SCENARIOS`.
    effect, confounding : float
        Simulated effect and confounding strength, in noise standard deviations.
    n_replications : int
        Simulated outcomes.
    """

    methods: tuple[str, ...]
    scenario: str
    effect: float
    confounding: float
    n_replications: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "methods": list(self.methods), "scenario": self.scenario, "effect": self.effect,
            "confounding": self.confounding, "n_replications": self.n_replications,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> "MethodLabSettings":
        """Validate the file's ``robustness.method_lab`` object."""
        where = "robustness.method_lab"
        if not isinstance(raw, dict):
            raise CausalInputError(f"Field '{where}' of the analysis file must be a JSON object or null.")
        methods = _field(raw, "methods", list, where)
        if not methods or not all(isinstance(m, str) for m in methods):
            raise CausalInputError(f"Field '{where}.methods' must list at least one method id.")
        for method in methods:
            get_method(method)  # unknown ids raise CausalInputError naming the known ones
        scenario = _field(raw, "scenario", str, where)
        if scenario not in SCENARIOS:
            raise CausalInputError(
                f"Field '{where}.scenario' must be one of {', '.join(SCENARIOS)}; got {scenario!r}."
            )
        numbers = {}
        for name in ("effect", "confounding"):
            value = _field(raw, name, (int, float), where)
            if not math.isfinite(value):
                raise CausalInputError(f"Field '{where}.{name}' must be a finite number; got {value!r}.")
            numbers[name] = float(value)
        n_replications = _field(raw, "n_replications", int, where)
        if n_replications < 2:
            raise CausalInputError(
                f"Field '{where}.n_replications' must be an integer of at least 2; got {n_replications}."
            )
        return cls(tuple(methods), scenario, numbers["effect"], numbers["confounding"], n_replications)


def _field(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in raw:
        raise CausalInputError(f"The analysis file has no '{where}.{key}' field; it is incomplete or damaged.")
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CausalInputError(
            f"Field '{where}.{key}' of the analysis file must be of type {names}; got {type(value).__name__}."
        )
    return value


def refutation_settings(method: str, results: Sequence[RefutationResult]) -> RefutationSettings:
    """The settings that produced ``results`` (the refutation tests of ``method``).

    Raises
    ------
    CausalInputError
        When ``results`` is empty.
    """
    if not results:
        raise CausalInputError(f"No refutation results for method '{method}'; run at least one test.")
    return RefutationSettings(method, tuple(r.name for r in results), int(results[0].n_repeats))


def method_lab_settings(lab: MethodLabResult) -> MethodLabSettings:
    """The settings of a finished method-lab run (read from its result)."""
    return MethodLabSettings(
        methods=tuple(str(m) for m in lab.table["method"]),
        scenario=lab.scenario,
        effect=float(lab.effect),
        confounding=float(lab.confounding),
        n_replications=int(lab.n_replications),
    )
