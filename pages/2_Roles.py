"""Roles page: say what each column is, see the causal diagram and which methods apply."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

import causal_core as cc
from causal_core.charts import causal_diagram
from causal_core.core.data import prepare
from causal_core.datasets.column_choices import default_treated_level, is_zero_one, treatment_levels, unassigned_columns
from causal_core.datasets.profile import column_kind
from causal_core.datasets.suggestions import suggest_roles
from causal_core.diagnostics.identification import identify
from pages._state import get_roles, has_widget_value, set_roles, set_widget_value, widget_value
from pages._ui import link_to, require_dataset, show_error

NONE = "— none —"

HELP = {
    "treatment": "The cause whose effect you want, usually with two values (treated / control). "
                 "Example: `treat` = 1 if the person joined the job-training programme.",
    "treated_level": "Which of the two treatment values counts as 'treated'; the other is the comparison group.",
    "outcome": "The result you measure after treatment. Example: `re78`, earnings in 1978.",
    "confounders": "Variables measured before treatment that affect both who is treated and the outcome. "
                   "Example: age and prior earnings, which drive both enrolment and later earnings.",
    "instruments": "Variables that shift treatment but affect the outcome only through it. "
                   "Example: living near a college (`nearc4`) as an instrument for years of schooling.",
    "mechanisms": "Variables through which the whole effect passes (front-door). "
                  "Example: tar deposits in the lungs between smoking and cancer.",
    "proxies": "Noisy measurements of a confounder you could not measure directly. "
               "Example: several test scores standing in for unobserved ability.",
    "subgroups": "Columns whose groups you want to compare separately (Explore page). A column may be both a "
                 "confounder and a subgroup. Example: income group, to check for Simpson's paradox.",
    "exclusions": "Heckman's exclusion restriction: variables that move whether the outcome was recorded but not "
                  "the outcome itself. Example: `contact`, the number of call attempts of a survey. They are not "
                  "instruments for the treatment.",
    "selection": "A 0/1 column that is 1 where the outcome was recorded and 0 where it is missing. "
                 "Example: `observed` = 1 if the follow-up survey was answered.",
    "shadow": "A variable associated with the outcome but not with whether the outcome was recorded, "
              "e.g. a prior measurement of the outcome that does not itself influence who answers the follow-up.",
}


def _index(options: list[Any], value: Any) -> int | None:
    return options.index(value) if value in options else None


def _fill_confounders(candidates: list[str]) -> None:
    used = [widget_value("roles_treatment"), widget_value("roles_outcome"), widget_value("roles_selection"),
            widget_value("roles_shadow")]
    # subgroups stay eligible: a column may be both a confounder and a subgroup (a Simpson table stratifies by one)
    for key in ("roles_instruments", "roles_mechanisms", "roles_proxies", "roles_exclusions"):
        used += list(widget_value(key) or [])
    set_widget_value("roles_confounders", unassigned_columns(candidates, used))


def _role_widgets(df: pd.DataFrame, current: cc.Roles | None) -> cc.Roles | None:
    suggestions = suggest_roles(df)
    identifiers = set(suggestions.identifiers)
    in_use = set(current.columns()) if current else set()
    columns = [str(c) for c in df.columns if str(c) not in identifiers or str(c) in in_use]
    kinds = {c: column_kind(df[c]) for c in columns}

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Treatment and outcome")
        treatment_default = current.treatment if current else (suggestions.treatment[0] if suggestions.treatment else None)
        treatment = st.selectbox(
            "Treatment", columns, index=_index(columns, treatment_default), key="roles_treatment",
            placeholder="Choose the treatment column", help=HELP["treatment"],
            format_func=lambda c: f"{c}  ·  {kinds[c]}",
        )
        if suggestions.treatment:
            st.caption("Binary columns (treatment candidates): " + ", ".join(f"`{c}`" for c in suggestions.treatment[:12])
                       + (" …" if len(suggestions.treatment) > 12 else ""))
        treated_level = None
        if treatment is not None and kinds.get(treatment) == "binary":
            levels = treatment_levels(df[treatment])
            default_level = default_treated_level(levels)
            stored = current.treated_level if current and current.treatment == treatment else None
            chosen_default = stored if stored in levels else default_level
            chosen = st.selectbox("Treated level", levels, index=levels.index(chosen_default),
                                  key=f"roles_treated_level_{treatment}", help=HELP["treated_level"], format_func=str)
            other = next(v for v in levels if v != chosen)
            st.caption(f"Treated: `{treatment}` = {chosen!s}; comparison: `{treatment}` = {other!s}.")
            # Store None where the engine's default (1/True of a 0/1 column) is chosen, so roles stay comparable.
            treated_level = None if (is_zero_one(levels) and float(chosen) == 1.0) else chosen
        outcome_options = [c for c in columns if c != treatment]
        outcome_default = current.outcome if current else None
        outcome = st.selectbox(
            "Outcome", outcome_options, index=_index(outcome_options, outcome_default), key="roles_outcome",
            placeholder="Choose the outcome column", help=HELP["outcome"],
            format_func=lambda c: f"{c}  ·  {kinds[c]}",
        )
        st.subheader("Missing outcomes (optional)")
        single = [NONE] + columns
        selection = st.selectbox("Selection indicator", single,
                                 index=_index(single, current.selection if current and current.selection else NONE),
                                 key="roles_selection", help=HELP["selection"])
        shadow = st.selectbox("Shadow variable", single,
                              index=_index(single, current.shadow if current and current.shadow else NONE),
                              key="roles_shadow", help=HELP["shadow"])
    with right:
        st.subheader("Adjustment and design")
        lists: dict[str, list[str]] = {}
        for role, label in (("confounders", "Confounders"), ("instruments", "Instruments"),
                            ("mechanisms", "Mechanisms (front-door)"), ("proxies", "Proxies of a hidden confounder"),
                            ("subgroups", "Subgroups"),
                            ("exclusions", "Exclusion variables (Heckman selection)")):
            key = f"roles_{role}"
            # A default only for a new widget: once the key is in session state (the widget's own value, or the
            # fill button's callback), the value comes from there and a default would clash with it.
            default = None if has_widget_value(key) else [
                c for c in (getattr(current, role) if current else ()) if c in columns]
            lists[role] = st.multiselect(label, columns, default=default, key=key, help=HELP[role],
                                         placeholder="None")
            if role == "confounders":
                st.button("Use all other columns as confounders", key="roles_fill_confounders",
                          on_click=_fill_confounders, args=(list(suggestions.confounders),),
                          help="Fills the list with every column not used in another role (identifiers excluded). "
                               "Then remove anything measured after treatment.")
        if suggestions.dates:
            st.caption("Dates, never added by \"Use all other columns\": "
                       + ", ".join(f"`{c}`" for c in suggestions.dates)
                       + ". Convert them to days since the first date on the Data page, or leave them out.")
        if identifiers:
            st.caption("Not offered (look like row identifiers): " + ", ".join(f"`{c}`" for c in sorted(identifiers)))
    if treatment is None or outcome is None:
        return None
    return cc.Roles(
        treatment=treatment, outcome=outcome, treated_level=treated_level,
        selection=None if selection == NONE else selection, shadow=None if shadow == NONE else shadow,
        **{role: tuple(values) for role, values in lists.items()},
    )


def _validate(df: pd.DataFrame, roles: cc.Roles, kind: str) -> None:
    try:
        data = prepare(df, roles, treatment_kind="binary" if kind == "binary" else "continuous",
                       outcome_may_be_missing=roles.selection is not None)
    except cc.CausalInputError as exc:
        st.error(f"{exc}", icon=":material/error:")
        return
    except Exception as exc:
        show_error(exc, "Checking the roles")
        return
    message = f"Roles check out: {data.n:,} rows usable"
    if data.n_dropped:
        message += f" ({data.n_dropped:,} dropped for missing values)"
    if kind == "binary":
        message += f"; {int(data.treated.sum()):,} treated, {int((~data.treated).sum()):,} control"
    st.success(message + ".", icon=":material/check_circle:")
    for warning in data.warnings:
        if "dropped for missing" not in warning:
            st.warning(warning)


def _methods_panel(identification) -> None:
    by_family: dict[str, list[tuple[cc.MethodInfo, str | None]]] = {}
    for info in cc.list_methods():
        by_family.setdefault(info.family, []).append((info, identification.unavailable.get(info.id)))
    st.markdown(f"**Methods available with these roles: {len(identification.available_methods)} "
                f"of {sum(len(v) for v in by_family.values())}**")
    blocks = []
    for family, items in by_family.items():
        lines = [f"**{family}**  "]
        for info, reason in items:
            if reason is None:
                lines.append(f":green[:material/check:] {info.label}  ")
            else:
                lines.append(f":gray[:material/block: {info.label} — {reason}]  ")
        blocks.append("\n".join(lines))
    st.markdown("\n\n".join(blocks))


st.title("Roles")
st.write("Tell the workbench what each column is. The diagram below follows your choices and shows which "
         "identification strategy and which estimators they allow.")
dataset = require_dataset()
df = dataset.df
roles = _role_widgets(df, get_roles())
if roles is None:
    st.info("Choose a treatment and an outcome to continue.")
    set_roles(None)
    st.stop()
if roles != get_roles():
    set_roles(roles)

st.divider()
try:
    identification = identify(roles, df)
except Exception as exc:
    show_error(exc, "Identification")
    st.stop()
_validate(df, roles, identification.treatment_kind)
for note in identification.notes:
    st.info(note)

diagram_column, methods_column = st.columns([3, 2], gap="large")
with diagram_column:
    st.subheader("Causal diagram")
    st.plotly_chart(causal_diagram(roles, identification), width="stretch", key="roles_diagram",
                    config={"displayModeBar": False})
    for strategy in identification.strategies:
        st.markdown(f"**{strategy.name}.** {strategy.assumption}")
with methods_column:
    st.subheader("What you can estimate")
    _methods_panel(identification)
link_to("pages/3_Explore.py", "Next: explore subgroups", icon=":material/arrow_forward:")
link_to("pages/4_Estimate.py", "Or go straight to estimation", icon=":material/arrow_forward:")
