"""Identification: which strategy the assigned roles support and which methods can therefore run.

The app draws the causal diagram and offers methods from :func:`identify`;
no estimation happens here.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.registry import MethodInfo, list_methods
from causal_core.core.roles import Roles

__all__ = ["Strategy", "Identification", "identify", "treatment_kind_of", "method_availability"]


@dataclass(frozen=True)
class Strategy:
    """One identification strategy the roles make possible.

    Attributes
    ----------
    id : str
        ``"back_door"``, ``"instrument"``, ``"front_door"``, ``"selection"``,
        ``"latent_confounder"`` or ``"randomised"``.
    name : str
        Human name.
    assumption : str
        The assumption it rests on, in one sentence.
    """

    id: str
    name: str
    assumption: str


@dataclass(frozen=True)
class Identification:
    """What the roles identify.

    Attributes
    ----------
    strategies : tuple of Strategy
        Every strategy the roles support, most common first.
    available_methods : tuple of str
        Ids of the methods whose required roles are filled and whose treatment kind matches.
    unavailable : dict
        Method id -> one sentence saying why it cannot run with these roles.
    treatment_kind : str
        ``"binary"`` (exactly two values), ``"continuous"`` (numeric, more than two values),
        ``"categorical"`` (text with more than two values) or ``"constant"``.
    notes : tuple of str
        Caveats for the analyst.
    """

    strategies: tuple[Strategy, ...]
    available_methods: tuple[str, ...]
    unavailable: dict[str, str]
    treatment_kind: str
    notes: tuple[str, ...] = ()


_STRATEGIES = {
    "randomised": Strategy(
        "randomised", "Randomised comparison",
        "Treatment was assigned at random, so the treated and control groups are comparable as they are.",
    ),
    "back_door": Strategy(
        "back_door", "Back-door adjustment",
        "The confounders block every back-door path: given them, treatment is as good as random.",
    ),
    "instrument": Strategy(
        "instrument", "Instrumental variable",
        "The instruments move the treatment and affect the outcome only through it (exclusion restriction).",
    ),
    "front_door": Strategy(
        "front_door", "Front-door adjustment",
        "The mechanisms carry the whole effect of treatment and are not confounded with it.",
    ),
    "selection": Strategy(
        "selection", "Selection correction",
        "Whether the outcome was recorded is explained by the observed variables (and the shadow or "
        "exclusion variables), so the recorded rows can be re-weighted to stand for everyone.",
    ),
    "latent_confounder": Strategy(
        "latent_confounder", "Latent confounder through proxies",
        "A hidden confounder is measured with error by the proxies, so it can be recovered and adjusted for.",
    ),
}


def treatment_kind_of(series: pd.Series) -> str:
    """Classify a treatment column: ``"binary"``, ``"continuous"``, ``"categorical"`` or ``"constant"``."""
    n_levels = series.dropna().nunique()
    if n_levels < 2:
        return "constant"
    if n_levels == 2:
        return "binary"
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return "continuous"
    return "categorical"


def _filled(roles: Roles, role: str) -> bool:
    value = getattr(roles, role)
    return bool(value) if isinstance(value, tuple) else value is not None


def method_availability(info: MethodInfo, roles: Roles, treatment_kind: str) -> str | None:
    """Why ``info`` cannot run with these roles and this treatment, or None when it can.

    A binary method needs exactly two treatment values; a continuous method
    needs a numeric treatment (two-valued 0/1 treatments included).
    """
    missing = [role for role in info.required_roles if role not in ("treatment", "outcome") and not _filled(roles, role)]
    if missing:
        names = " and ".join(f"'{role}'" for role in missing)
        return f"Needs a column in the {names} role."
    if info.treatment_kind == "binary" and treatment_kind != "binary":
        return f"Needs a treatment with exactly two values; '{roles.treatment}' is {treatment_kind}."
    if info.treatment_kind == "continuous" and treatment_kind not in ("binary", "continuous"):
        return f"Needs a numeric treatment; '{roles.treatment}' is {treatment_kind}."
    return None


def identify(roles: Roles, df: pd.DataFrame) -> Identification:
    """Name the identification strategies the roles support and the methods that can run.

    Parameters
    ----------
    roles : Roles
        The assigned roles.
    df : DataFrame
        The data (only the treatment column is inspected; nothing is modified).

    Returns
    -------
    Identification

    Raises
    ------
    CausalInputError
        If the treatment column is not in ``df``.
    """
    if roles.treatment not in df.columns:
        raise CausalInputError(f"Column '{roles.treatment}' given as treatment is not in the data.")
    kind = treatment_kind_of(df[roles.treatment])
    strategies: list[Strategy] = []
    notes: list[str] = []
    if roles.confounders:
        strategies.append(_STRATEGIES["back_door"])
    if roles.instruments:
        strategies.append(_STRATEGIES["instrument"])
    if roles.mechanisms:
        strategies.append(_STRATEGIES["front_door"])
    if roles.selection is not None:
        strategies.append(_STRATEGIES["selection"])
    if roles.proxies:
        strategies.append(_STRATEGIES["latent_confounder"])
    if not strategies:
        strategies.append(_STRATEGIES["randomised"])
        notes.append(
            "No confounders are assigned: any estimate is causal only if treatment was randomised. "
            "Add the pre-treatment variables that affect both treatment and outcome as confounders."
        )
    if kind == "constant":
        notes.append(f"Treatment column '{roles.treatment}' has fewer than two values; no method can run.")
    elif kind == "categorical":
        notes.append(
            f"Treatment column '{roles.treatment}' is text with more than two values; "
            "recode it into two groups (treated vs control) to use the binary methods."
        )
    elif kind == "continuous":
        notes.append(
            f"Treatment column '{roles.treatment}' is numeric with more than two values: only methods for "
            "continuous treatments (such as instrumental variables) apply."
        )
    if roles.shadow is not None and roles.selection is None:
        notes.append("A shadow variable is used only together with a selection indicator; assign one.")

    available: list[str] = []
    unavailable: dict[str, str] = {}
    for info in list_methods():
        reason = method_availability(info, roles, kind)
        if reason is None:
            available.append(info.id)
        else:
            unavailable[info.id] = reason
    return Identification(
        strategies=tuple(strategies),
        available_methods=tuple(available),
        unavailable=unavailable,
        treatment_kind=kind,
        notes=tuple(notes),
    )
