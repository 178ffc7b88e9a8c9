"""The method registry: one :class:`MethodInfo` per estimator, filled by ``@register``.

The registry drives :func:`list_methods`, the app's method choices and the
shared contract test, so every estimator declares here what it needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits

__all__ = ["MethodInfo", "OptionSpec", "register", "list_methods", "get_method"]

ESTIMANDS = ("ATE", "ATT", "ATC")


@dataclass(frozen=True)
class OptionSpec:
    """One keyword option of a method and its declared constraints.

    :func:`causal_core.core.options.validate_options` checks every constraint once,
    before the method runs; methods never re-check their options.

    Attributes
    ----------
    name, kind, default, help
        ``kind`` is one of ``"float"``, ``"int"``, ``"bool"``, ``"choice"``, ``"model"``.
    choices : tuple
        The only values of a ``"choice"`` option; for a ``"model"`` option the
        named models (empty: ``causal_core.nuisance.models.MODEL_CHOICES``), estimator
        objects with the methods of ``learner`` being accepted as well.
    low, high : float or None
        Bounds of an ``"int"`` or ``"float"`` option; inclusive unless
        ``low_inclusive`` / ``high_inclusive`` is False.
    nullable : bool
        ``None`` is accepted (always so when ``default`` is ``None``);
        ``none_means`` says what it means in messages (e.g. ``"automatic"``).
    also : tuple
        Values accepted beside the kind and bounds (e.g. 0 replicates for an
        analytic fallback, ``"auto"``); ``also_means`` says what they mean.
    learner : str
        For ``"model"`` options: ``"classifier"`` (needs ``fit`` and
        ``predict_proba``) or ``"regressor"`` (``fit`` and ``predict``, the default).
    rules : tuple
        Data-dependent rules (objects of :mod:`causal_core.core.options` with
        ``problem(value, data, options)``), checked on the prepared data.
    """

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    nullable: bool = False
    none_means: str = ""
    also: tuple[Any, ...] = ()
    also_means: str = ""
    learner: str = ""
    rules: tuple[Any, ...] = ()

    @property
    def accepts_none(self) -> bool:
        """Whether ``None`` is a valid value (declared nullable, or ``None`` is the default)."""
        return self.nullable or self.default is None


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
        :func:`causal_core.core.limits.check_limits` before it runs.
    gives_weights : bool
        The result carries ``weights`` (one per used row): balance tables and ESS apply.
    gives_unit_effects : bool
        The result carries ``unit_effects`` (one predicted effect per used row).
    forms_matched_pairs : bool
        A matching method whose 1:1 matching without replacement forms treated-control
        pairs, so Rosenbaum bounds apply (:func:`causal_core.robustness.sensitivity.matched_pair_differences`).
    ovb_applicable : bool
        The Cinelli-Hazlett omitted-variable-bias formulas apply (exactly to the OLS
        coefficient, approximately to the other outcome-model based estimates).
    explores_heterogeneity : bool
        Built to show how the effect varies (latent subgroups or unit-level CATE);
        the app's Heterogeneity page offers these methods.
    unadjusted : bool
        A baseline that adjusts for nothing (the naive contrast): shown for
        reference, but left out when estimators are checked for agreement.
    default_ticked : bool
        Ticked by default on the app's Estimate page (each strategy's main methods).
    cheap_test_options : tuple of (name, value) pairs
        Cheaper settings (fewer replicates, iterations or folds) that keep the method's
        standard error meaningful; tests use them through :attr:`cheap_options`.
    order : int
        Position in :func:`list_methods` (and so in the app); ties keep registration order.
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
    gives_weights: bool = False
    gives_unit_effects: bool = False
    forms_matched_pairs: bool = False
    ovb_applicable: bool = False
    explores_heterogeneity: bool = False
    unadjusted: bool = False
    default_ticked: bool = False
    cheap_test_options: tuple[tuple[str, Any], ...] = ()
    order: int = 1000
    function: Callable[..., Any] | None = field(default=None, repr=False, compare=False)


    @property
    def cheap_options(self) -> dict[str, Any]:
        """:attr:`cheap_test_options` as a fresh keyword dict."""
        return dict(self.cheap_test_options)


_REGISTRY: dict[str, MethodInfo] = {}


def register(**info: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that records an estimator function under ``info['id']``.

    The function is called as ``function(data, *, estimand, seed, **options)``
    with a :class:`causal_core.core.data.PreparedData` and returns a
    :class:`causal_core.core.results.MethodOutput`.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        spec = MethodInfo(function=function, **info)
        if spec.id in _REGISTRY:
            raise RuntimeError(f"Method id '{spec.id}' is registered twice.")
        unknown = {name for name, _ in spec.cheap_test_options} - {o.name for o in spec.options}
        if unknown:
            raise RuntimeError(f"Method '{spec.id}' lists cheap_test_options {sorted(unknown)} it does not declare.")
        _REGISTRY[spec.id] = spec
        return function

    return decorate


def _load_estimators() -> None:
    from causal_core import estimators  # noqa: F401  (importing registers every method)


def list_methods() -> list[MethodInfo]:
    """Every available method, by :attr:`MethodInfo.order` (registration order among ties)."""
    _load_estimators()
    return sorted(_REGISTRY.values(), key=lambda info: info.order)


def get_method(method_id: str) -> MethodInfo:
    """The :class:`MethodInfo` for ``method_id``; unknown ids raise :class:`CausalInputError`."""
    _load_estimators()
    try:
        return _REGISTRY[method_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise CausalInputError(f"Unknown method '{method_id}'; choose one of: {known}.") from None
