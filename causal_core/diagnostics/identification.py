"""Identification: which strategy the assigned roles support and which methods can therefore run.

The app draws the causal diagram and offers methods from :func:`identify`;
no estimation happens here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.registry import MethodInfo, list_methods
from causal_core.core.roles import Roles

__all__ = ["Strategy", "Identification", "identify", "treatment_kind_of", "method_availability", "method_strategy",
           "first_stage_f", "roles_problem_text", "WEAK_INSTRUMENT_F"]

#: First-stage F below which an instrument counts as weak (Staiger & Stock 1997): IV methods are then
#: not recommended (not ticked by default), since the estimate is then not identified in practice.
WEAK_INSTRUMENT_F = 10.0


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
    recommended_methods : tuple of str
        The available methods to tick by default: the main methods of the strategy the roles assert first
        (a declared design such as front door or selection before back-door adjustment) and the naive
        baseline for comparison, leaving out any
        whose check here already says the effect is not identified (a weak instrument).
    hidden_confounding : bool
        True when the roles declare a hidden confounder of treatment and outcome (mechanisms, instruments
        or proxies): back-door adjustment for the observed confounders alone is then not enough.
    not_identified : dict
        Method id -> why the data already say the method's effect is not identified (weak instrument).
    """

    strategies: tuple[Strategy, ...]
    available_methods: tuple[str, ...]
    unavailable: dict[str, str]
    treatment_kind: str
    notes: tuple[str, ...] = ()
    recommended_methods: tuple[str, ...] = ()
    hidden_confounding: bool = False
    not_identified: dict[str, str] = field(default_factory=dict)


_STRATEGIES = {
    "randomised": Strategy(
        "randomised", "No adjustment (assumes randomised treatment)",
        "No confounders are declared, so a plain comparison is causal only if treatment was assigned at "
        "random; nothing in the data checks that assumption.",
    ),
    "back_door": Strategy(
        "back_door", "Back-door adjustment",
        "Assumes the confounders block every back-door path: given them, treatment is as good as random "
        "(no hidden confounder).",
    ),
    "instrument": Strategy(
        "instrument", "Instrumental variable",
        "Assumes the instruments move the treatment and affect the outcome only through it (exclusion "
        "restriction), whatever hidden confounder links treatment and outcome.",
    ),
    "front_door": Strategy(
        "front_door", "Front-door adjustment",
        "Assumes a hidden confounder links treatment and outcome, but the mechanisms carry the whole "
        "effect of treatment and the hidden confounder does not touch them.",
    ),
    "selection": Strategy(
        "selection", "Selection correction",
        "Assumes whether the outcome was recorded is explained by the observed variables (and the shadow or "
        "exclusion variables), so the recorded rows can be corrected to stand for everyone.",
    ),
    "latent_confounder": Strategy(
        "latent_confounder", "Latent confounder through proxies",
        "Assumes a hidden confounder is measured with error by the proxies, so it can be recovered and "
        "adjusted for.",
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


def method_strategy(info: MethodInfo) -> str:
    """The identification strategy a method rests on, read from its required roles."""
    required = set(info.required_roles)
    if "mechanisms" in required:
        return "front_door"
    if "instruments" in required:
        return "instrument"
    if required & {"selection", "exclusions", "shadow"}:
        return "selection"
    if "proxies" in required:
        return "latent_confounder"
    if "confounders" in required:
        return "back_door"
    return "randomised"


def first_stage_f(df: pd.DataFrame, roles: Roles) -> float | None:
    """Partial F statistic of the instruments in the OLS of the treatment on confounders and instruments.

    None when it cannot be computed (no instruments, unusable columns, too few rows).
    """
    from causal_core.core.data import prepare
    if not roles.instruments:
        return None
    try:
        data = prepare(df, Roles(treatment=roles.treatment, outcome=roles.outcome, confounders=roles.confounders,
                                 instruments=roles.instruments), treatment_kind="continuous")
    except Exception:  # the roles check on the page reports the reason
        return None
    n, k = data.n, data.Z.shape[1]
    restricted = np.column_stack([np.ones(n), data.X])
    full = np.column_stack([restricted, data.Z])
    if k == 0 or n <= full.shape[1]:
        return None

    def rss(design: np.ndarray) -> float:
        coef, *_ = np.linalg.lstsq(design, data.t, rcond=None)
        return float(np.sum((data.t - design @ coef) ** 2))

    rss_full, rss_restricted = rss(full), rss(restricted)
    if rss_full <= 0:
        return float("inf")
    return float(((rss_restricted - rss_full) / k) / (rss_full / (n - full.shape[1])))


#: Strategies declared by a design role, in the order they are preferred to back-door adjustment.
_DESIGN_ORDER = ("front_door", "instrument", "selection", "latent_confounder")


def identify(roles: Roles, df: pd.DataFrame) -> Identification:
    """Name the identification strategies the roles support and the methods that can run.

    A design role (mechanisms, instruments, a selection indicator, proxies) is an assertion about how the
    effect is identified, so its strategy is listed before back-door adjustment and its methods are the
    recommended ones; mechanisms, instruments and proxies also declare a hidden confounder.

    Parameters
    ----------
    roles : Roles
        The assigned roles.
    df : DataFrame
        The data (the treatment column is inspected, and with instruments the first stage is fitted;
        nothing is modified).

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
    notes: list[str] = []
    declared = {
        "front_door": bool(roles.mechanisms), "instrument": bool(roles.instruments),
        "selection": roles.selection is not None, "latent_confounder": bool(roles.proxies),
    }
    hidden = bool(roles.mechanisms or roles.instruments or roles.proxies)
    strategies = [_STRATEGIES[s] for s in _DESIGN_ORDER if declared[s]]
    if roles.confounders:
        if hidden:
            strategies.append(Strategy(
                "back_door", "Back-door adjustment (contradicted by the declared hidden confounder)",
                "Adjusting for the observed confounders alone assumes no hidden confounder, which the "
                "mechanisms, instruments or proxies you assigned say there is: back-door estimates are then "
                "biased and serve only as a comparison.",
            ))
        else:
            strategies.append(_STRATEGIES["back_door"])
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
    if roles.exclusions and roles.selection is None:
        notes.append("Exclusion variables are used only by Heckman's selection model, together with a selection "
                     "indicator; assign one.")

    available: list[str] = []
    unavailable: dict[str, str] = {}
    infos = list_methods()
    for info in infos:
        reason = method_availability(info, roles, kind)
        if reason is None:
            available.append(info.id)
        else:
            unavailable[info.id] = reason

    not_identified: dict[str, str] = {}
    f_stat = first_stage_f(df, roles) if roles.instruments and kind in ("binary", "continuous") else None
    if f_stat is not None and f_stat < WEAK_INSTRUMENT_F:
        reason = (f"The instruments {list(roles.instruments)} barely move treatment '{roles.treatment}' "
                  f"(first-stage F = {f_stat:.2f}, below {WEAK_INSTRUMENT_F:g}): the IV effect is not "
                  "identified in practice, so IV methods are not ticked.")
        notes.append(reason)
        for info in infos:
            if method_strategy(info) == "instrument":
                not_identified[info.id] = reason

    primary = [s.id for s in strategies if s.id in _DESIGN_ORDER] or [strategies[0].id]
    recommended = tuple(
        info.id for info in infos
        if info.default_ticked and info.id in available and info.id not in not_identified
        and (method_strategy(info) in primary or method_strategy(info) == "randomised")
    )
    return Identification(
        strategies=tuple(strategies),
        available_methods=tuple(available),
        unavailable=unavailable,
        treatment_kind=kind,
        notes=tuple(notes),
        recommended_methods=recommended,
        hidden_confounding=hidden,
        not_identified=not_identified,
    )


def roles_problem_text(df: pd.DataFrame, roles: Roles, treatment_kind: str) -> str | None:
    """Why the roles cannot be used on ``df`` at all (one sentence), or None when they check out.

    The check every method shares (columns exist, one role per column except confounder-and-subgroup,
    usable values, two arms), done once so that a page can refuse a run with one message instead of one
    error per method.
    """
    from causal_core.core.data import prepare
    try:
        prepare(df, roles, treatment_kind="binary" if treatment_kind == "binary" else "continuous",
                outcome_may_be_missing=roles.selection is not None)
    except CausalInputError as exc:
        return str(exc)
    return None
