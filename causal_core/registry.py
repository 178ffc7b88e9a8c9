"""The method registry: one :class:`MethodInfo` per estimator, filled by ``@register``.

The registry drives :func:`list_methods`, the app's method choices and the
shared contract test, so every estimator declares here what it needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import CausalInputError
from .limits import MethodLimits

__all__ = ["MethodInfo", "OptionSpec", "register", "list_methods", "get_method"]

ESTIMANDS = ("ATE", "ATT", "ATC")


@dataclass(frozen=True)
class OptionSpec:
    """One keyword option of a method, described for docs and the app.

    ``kind`` is one of ``"float"``, ``"int"``, ``"bool"``, ``"choice"``, ``"model"``.
    """

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class MethodInfo:
    """What a method is, needs and supports.

    Attributes
    ----------
    id, label, family : str
        Machine id, human label and family (e.g. ``"Matching"``, ``"Weighting"``).
    required_roles : tuple of str
        Roles that must be non-empty (``"treatment"`` and ``"outcome"`` are always required).
    estimands : tuple of str
        Estimands the method supports.
    summary : str
        One-line explanation shown in the app.
    reference : str
        Where the method comes from.
    treatment_kind : str
        ``"binary"`` (two levels) or ``"continuous"`` (numeric, any values).
    options : tuple of OptionSpec
        Documented keyword options.
    outcome_may_be_missing : bool
        True for selection methods, whose outcome is missing where ``selection`` is 0.
    needs_torch : bool
        True when the method imports torch (loaded only when run).
    limits : MethodLimits
        Its identifiability limits (rows for its covariates, rows per arm,
        overlap, what it does with more covariates than rows), checked by
        :func:`causal_core.limits.check_limits` before it runs.
    """

    id: str
    label: str
    family: str
    required_roles: tuple[str, ...]
    estimands: tuple[str, ...]
    summary: str
    reference: str
    treatment_kind: str = "binary"
    options: tuple[OptionSpec, ...] = ()
    outcome_may_be_missing: bool = False
    needs_torch: bool = False
    limits: MethodLimits = MethodLimits()
    function: Callable[..., Any] | None = field(default=None, repr=False, compare=False)


_REGISTRY: dict[str, MethodInfo] = {}


def register(**info: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that records an estimator function under ``info['id']``.

    The function is called as ``function(data, *, estimand, seed, **options)``
    with a :class:`causal_core.data.PreparedData` and returns a
    :class:`causal_core.results.MethodOutput`.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        spec = MethodInfo(function=function, **info)
        if spec.id in _REGISTRY:
            raise RuntimeError(f"Method id '{spec.id}' is registered twice.")
        _REGISTRY[spec.id] = spec
        return function

    return decorate


def _load_estimators() -> None:
    from . import estimators  # noqa: F401  (importing registers every method)


def list_methods() -> list[MethodInfo]:
    """Every available method, in registration order."""
    _load_estimators()
    return list(_REGISTRY.values())


def get_method(method_id: str) -> MethodInfo:
    """The :class:`MethodInfo` for ``method_id``; unknown ids raise :class:`CausalInputError`."""
    _load_estimators()
    try:
        return _REGISTRY[method_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise CausalInputError(f"Unknown method '{method_id}'; choose one of: {known}.") from None
