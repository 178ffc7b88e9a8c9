"""Identifiability limits of each method, declared as data and checked before it runs.

Every :class:`~causal_core.core.registry.MethodInfo` carries a :class:`MethodLimits`:
how many rows its design needs for the number of covariates (full column
rank of an OLS outcome model or an unpenalised logit, in all rows or within
each arm), the fewest rows per arm, whether it needs overlap (propensity,
weighting and matching methods) and, for regularised methods, what they do
when there are more covariates than rows. :func:`check_limits` checks them on
the :class:`~causal_core.core.data.PreparedData`: broken limits raise
:class:`CausalInputError` before the (possibly slow) method starts; soft ones
(tiny arms, a separating covariate for a method that extrapolates, weak
overlap) come back as warnings for the result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from causal_core.core.errors import CausalInputError

__all__ = ["MethodLimits", "check_limits", "rows_needed_per_arm", "separating_covariate", "linearly_separated"]

#: Arms smaller than this get a warning (the estimate rests on very few units).
SMALL_ARM = 20
#: Model option values that mean the method's linear default (OLS or the unpenalised logit).
LINEAR_VALUES = (None, "default", "linear", "logit")
#: Above this many cells (rows x covariates) the linear-programming separation check is skipped.
LP_MAX_CELLS = 2_000_000


@dataclass(frozen=True)
class MethodLimits:
    """What a method needs for its effect to be identified on a given table.

    Attributes
    ----------
    rows_beyond_covariates : int
        When positive, the method needs at least ``p + rows_beyond_covariates``
        rows, ``p`` being the number of encoded columns in ``covariate_roles``
        (an OLS or unpenalised logit design of full column rank, with
        residual degrees of freedom left for its standard error).
    arm_rows_beyond_covariates : int
        When positive, each arm needs at least ``p + arm_rows_beyond_covariates``
        rows (a regression or a covariance fitted within each arm).
    arm_rule_option : str
        When set, the per-arm rule applies only when this boolean option is true
        (e.g. ``interactions``).
    linear_options : tuple of str
        Model options whose default is linear; the row rules apply only while at
        least one of them is left at a linear value (a user-chosen flexible
        learner is trusted with p > n). Empty: the rules always apply.
    min_rows_per_arm : int
        Fewest treated and fewest control rows (bootstrap, cross-fitting and
        mixture methods need more than the two every method needs).
    covariate_roles : tuple of str
        Encoded roles whose columns enter the design counted by the row rules.
    needs_overlap : bool
        The method weights, matches or models the propensity, so treated and
        control rows must overlap: perfect separation is refused and extreme
        propensities are warned about.
    reports_overlap : bool
        The method fits a propensity itself and warns on extreme values, so no
        extra logit is fitted here.
    high_dimensional : str
        For methods that cope with more covariates than rows, how they do it
        (said in a warning when p >= n); empty otherwise.
    """

    rows_beyond_covariates: int = 0
    arm_rows_beyond_covariates: int = 0
    arm_rule_option: str = ""
    linear_options: tuple[str, ...] = ()
    min_rows_per_arm: int = 2
    covariate_roles: tuple[str, ...] = ("confounders",)
    needs_overlap: bool = False
    reports_overlap: bool = False
    high_dimensional: str = ""


_ROLE_BLOCKS = {"confounders": "X", "instruments": "Z", "mechanisms": "M", "proxies": "P", "exclusions": "E"}


def _option(info: Any, options: dict[str, Any], name: str) -> Any:
    if name in options:
        return options[name]
    return next((spec.default for spec in info.options if spec.name == name), None)


def _design_width(limits: MethodLimits, data: Any) -> int:
    return int(sum(getattr(data, _ROLE_BLOCKS[role]).shape[1] for role in limits.covariate_roles))


def _rules_apply(info: Any, options: dict[str, Any]) -> bool:
    """Whether the row rules hold: always, or while one of the declared model options is linear."""
    names = info.limits.linear_options
    if not names:
        return True
    for name in names:
        value = _option(info, options, name)
        if value is None or (isinstance(value, str) and value in LINEAR_VALUES):
            return True
    return False


def rows_needed_per_arm(info: Any, p: int, options: dict[str, Any] | None = None) -> int:
    """Fewest rows per arm method ``info`` needs with ``p`` design columns under ``options``."""
    options = options or {}
    limits = info.limits
    need = limits.min_rows_per_arm
    arm_rule = limits.arm_rows_beyond_covariates > 0 and (
        not limits.arm_rule_option or bool(_option(info, options, limits.arm_rule_option)))
    if arm_rule and _rules_apply(info, options):
        need = max(need, p + limits.arm_rows_beyond_covariates)
    return need


def separating_covariate(X: np.ndarray, t: np.ndarray, names: tuple[str, ...]) -> str | None:
    """Name of the first covariate whose treated and control ranges do not overlap, or ``None``."""
    treated = t == 1
    for j, name in enumerate(names):
        column = X[:, j]
        if np.ptp(column) == 0:
            continue
        if column[treated].min() > column[~treated].max() or column[treated].max() < column[~treated].min():
            return name
    return None


#: Rows of the subset tried first by :func:`linearly_separated` on bigger tables.
SEPARATION_SUBSET_ROWS = 500


def linearly_separated(X: np.ndarray, t: np.ndarray) -> bool:
    """Whether a hyperplane strictly separates treated from control rows (one small LP, HiGHS).

    Feasibility of ``s_i (x_i w + b) >= 1`` with ``s_i = +1`` for treated and
    ``-1`` for control rows, on standardised covariates. A hyperplane that
    separates the table separates every subset of its rows, so on tables of
    more than twice ``SEPARATION_SUBSET_ROWS`` rows a fixed seeded subset is
    tried first: when no hyperplane separates it, none separates the table,
    and the LP over every row is skipped (at 4,000 rows it was about a tenth
    of an X-learner's run). Otherwise the answer comes from all rows.
    """
    n = t.shape[0]
    scale = X.std(axis=0)
    Xs = (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    if n > 2 * SEPARATION_SUBSET_ROWS:
        subset = np.random.default_rng(0).choice(n, SEPARATION_SUBSET_ROWS, replace=False)
        if not _separable(Xs[subset], t[subset]):
            return False
    return _separable(Xs, t)


def _separable(Xs: np.ndarray, t: np.ndarray) -> bool:
    from scipy.optimize import linprog

    n, p = Xs.shape
    sign = np.where(t == 1, 1.0, -1.0)
    A = -sign[:, None] * np.column_stack([Xs, np.ones(n)])
    result = linprog(np.zeros(p + 1), A_ub=A, b_ub=-np.ones(n), bounds=[(None, None)] * (p + 1), method="highs")
    return bool(result.status == 0)


def _arm_text(n_treated: int, n_control: int) -> tuple[str, int]:
    return ("treated", n_treated) if n_treated <= n_control else ("control", n_control)


def check_limits(info: Any, data: Any, estimand: str, options: dict[str, Any]) -> tuple[str, ...]:
    """Check method ``info``'s declared limits on ``data``; raise or return warnings.

    Raises
    ------
    CausalInputError
        When the method's effect is not identified on this table: too few rows
        for its covariates (overall or in an arm), too few rows per arm, or
        perfect separation for a method that needs overlap.

    Returns
    -------
    tuple of str
        Warnings for the result (very small arms, more covariates than rows
        for a regularised method, a separating covariate for a method that
        extrapolates, extreme estimated propensities).
    """
    limits: MethodLimits = info.limits
    warnings: list[str] = []
    p = _design_width(limits, data)
    n = data.n
    rules = _rules_apply(info, options)
    what = "covariates" if limits.covariate_roles == ("confounders",) else "design columns (" + ", ".join(
        limits.covariate_roles) + ")"
    if rules and limits.rows_beyond_covariates and n < p + limits.rows_beyond_covariates:
        raise CausalInputError(
            f"Method '{info.id}' needs more rows than {what} (at least {p + limits.rows_beyond_covariates}); "
            f"the data have {n} rows for {p} {what.split(' (')[0]}, so drop covariates or use a regularised "
            "method such as 'approximate_residual_balancing'."
        )
    if limits.high_dimensional and p >= n:
        warnings.append(
            f"There are {p} {what.split(' (')[0]} for {n} rows; method '{info.id}' {limits.high_dimensional}"
        )
    if info.treatment_kind != "binary":
        return tuple(warnings)

    t = data.t
    n_treated, n_control = int(t.sum()), int((1 - t).sum())
    arm, arm_n = _arm_text(n_treated, n_control)
    need = rows_needed_per_arm(info, p, options)
    if arm_n < need:
        per_arm_covariates = need > limits.min_rows_per_arm and need >= p + max(limits.arm_rows_beyond_covariates, 1)
        if per_arm_covariates and limits.arm_rows_beyond_covariates:
            raise CausalInputError(
                f"Method '{info.id}' needs more rows than covariates in each arm (at least {need}); "
                f"the {arm} arm has {arm_n} rows for {p} covariates."
            )
        raise CausalInputError(
            f"Method '{info.id}' needs at least {need} rows in each arm; the {arm} arm has {arm_n} rows."
        )
    if arm_n < SMALL_ARM:
        warnings.append(
            f"Small-sample caution: the {arm} arm has only {arm_n} of {n} rows, so the estimate rests on very few "
            "units and its standard error, confidence interval and p-value come from large-sample approximations "
            "that can be far too optimistic here."
        )

    X = data.X
    if X.shape[1] == 0:
        return tuple(warnings)
    column = separating_covariate(X, t, data.covariate_names)
    if column is not None:
        if limits.needs_overlap:
            raise CausalInputError(
                f"Covariate '{column}' perfectly separates treated from control rows (perfect separation); "
                f"method '{info.id}' needs overlap, so drop it or restrict the sample."
            )
        warnings.append(
            f"Covariate '{column}' perfectly separates treated from control rows (no overlap); "
            f"method '{info.id}' compares units that are not comparable on it (any adjustment extrapolates)."
        )
        return tuple(warnings)
    if X.shape[1] + 1 >= n or n * X.shape[1] > LP_MAX_CELLS:
        return tuple(warnings)  # any table this wide is separable; the row rules or the method speak for it
    if limits.needs_overlap and linearly_separated(X, t):
        raise CausalInputError(
            "A linear combination of the covariates perfectly separates treated from control rows (perfect "
            f"separation); method '{info.id}' needs overlap, so drop covariates that determine treatment or restrict "
            "the sample."
        )
    if limits.needs_overlap and not limits.reports_overlap:
        warnings.extend(_overlap_warnings(X, t))
    return tuple(warnings)


def _overlap_warnings(X: np.ndarray, t: np.ndarray) -> list[str]:
    """One logit of T on X; warnings when estimated propensities fall outside [0.01, 0.99]."""
    from causal_core.nuisance.models import default_propensity_model, overlap_warnings

    model = default_propensity_model().fit(X, t.astype(int))
    return overlap_warnings(model.predict_proba(X)[:, 1], t)
