"""Estimate page: choose the estimand and methods, run them, compare the estimates side by side."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

import causal_core as cc
from causal_core.charts import forest_plot
from causal_core.core.formatting import format_number
from causal_core.report.reference_effect import reference_effect
from causal_core.robustness.agreement import disagreement_note
from causal_core.core.labels import RESULT_NUMBER_COLUMNS, column_label, formatted_results
from causal_core.diagnostics.identification import identify, roles_problem_text
from causal_core.outofcore.streamed import DEFAULT_SAMPLE_ROWS, STREAMED_METHODS
from pages._runs import TABLE_COLUMNS, last_run_note, run_on_disk, start_run
from pages._state import (
    ResultsBundle,
    get_active_run,
    get_estimand,
    get_method_options,
    get_methods,
    methods_were_chosen,
    get_results,
    get_seed,
    results_staleness,
    set_estimand,
    set_method_options,
    set_methods,
    set_seed,
)
from pages._ui import link_to, require_dataset, require_roles, show_error
from pages._widgets import option_widget

STANDARD_ESTIMANDS = ("ATE", "ATT", "ATC")
ESTIMAND_HELP = ("ATE: average effect over everyone. ATT: average effect among the treated. "
                 "ATC: among the controls. LATE: among those whose treatment the instrument changes (IV).")


def _method_picker(estimand: str, identification) -> tuple[list[str], dict]:
    """Checkboxes grouped by family with their options; returns the chosen ids and every method's options."""
    available = set(identification.available_methods)
    unavailable = identification.unavailable
    stored_methods = get_methods()
    stored_options = get_method_options()
    usable = {info.id for info in cc.list_methods() if info.id in available and estimand in info.estimands}
    # Defaults (the identification's recommended methods) on a first visit and after a data change (which
    # forgets the ticks), and also when none of the stored choices can run any more (new roles or estimand):
    # an empty page of unticked boxes would hide that the old choice no longer applies.
    if not methods_were_chosen() or (stored_methods and not set(stored_methods) & usable):
        stored_methods = [m for m in identification.recommended_methods if m in usable]
    chosen: list[str] = []
    options: dict[str, dict[str, Any]] = {}
    families: dict[str, list[cc.MethodInfo]] = {}
    for info in cc.list_methods():
        families.setdefault(info.family, []).append(info)
    columns = st.columns(2, gap="large")
    for i, (family, infos) in enumerate(families.items()):
        with columns[i % 2].container(border=True):
            st.markdown(f"**{family}**")
            for info in infos:
                reason = unavailable.get(info.id)
                if reason is None and estimand not in info.estimands:
                    reason = f"Does not estimate the {estimand} (it estimates {', '.join(info.estimands)})."
                if reason is not None:
                    st.checkbox(info.label, value=False, disabled=True, key=f"est_use_{info.id}", help=info.summary)
                    st.caption(f":gray[{reason}]")
                    continue
                use = st.checkbox(info.label, value=info.id in stored_methods, key=f"est_use_{info.id}",
                                  help=info.reference)
                st.caption(info.summary + (" Loads PyTorch when run." if info.needs_torch else ""))
                if info.id in identification.not_identified:
                    st.caption(f":orange[:material/warning: {identification.not_identified[info.id]}]")
                if info.options:
                    with st.expander(f"Options for {info.label}"):
                        stored = stored_options.get(info.id, {})
                        options[info.id] = {
                            spec.name: option_widget(spec, key=f"est_opt_{info.id}_{spec.name}",
                                                     value=stored.get(spec.name, spec.default))
                            for spec in info.options}
                if use:
                    chosen.append(info.id)
    return chosen, options


def _reference(dataset, estimand: str) -> tuple[float | None, str]:
    """The sample's known effect, from the same engine function the report's forest plot uses."""
    found = reference_effect(dataset.sample_id if dataset.source == "sample" else None, estimand)
    return (None, "") if found is None else (found.value, found.label)


def _show_results(bundle: ResultsBundle, reference: float | None, reference_label: str) -> None:
    table = bundle.table
    n_ok = int((table["error"] == "").sum())
    st.subheader(f"Estimates of the {bundle.estimand} of {bundle.roles.treatment} on {bundle.roles.outcome}")
    st.caption(f"{n_ok} of {len(table)} method(s) gave an estimate · data '{bundle.data_name}' · seed {bundle.seed}. "
               "95% confidence intervals. Rows used: units that enter the estimate (matched, or kept after "
               "trimming), per arm beside; ESS: Kish's effective sample size of each arm's weights (for the ATT the "
               "controls' ESS is the one that matters). The CSV and XLSX exports keep every number at full precision.")
    shown = TABLE_COLUMNS + (["computed_on"] if "computed_on" in table.columns else [])
    if bundle.scale_notes:
        st.caption("Table kept on disk: the **Computed on** column says whether each method streamed over every "
                   "row or ran on a seeded sample.")
    st.dataframe(
        formatted_results(table[shown]), hide_index=True, width="stretch", key="est_results_table",
        column_config={
            "computed_on": st.column_config.TextColumn("Computed on", width="medium"),
            "label": st.column_config.TextColumn("Method", pinned=True),  # sized to the longest label
            "family": st.column_config.TextColumn("Family"),
            **{column: st.column_config.TextColumn(column_label(column), alignment="right")
               for column in RESULT_NUMBER_COLUMNS + ("n_design",)},
            "warnings": st.column_config.TextColumn("Warnings", width="medium"),
            "error": st.column_config.TextColumn("Error", width="medium"),
        },
    )
    disagreement = disagreement_note(bundle.results)
    if disagreement:
        st.warning(disagreement, icon=":material/compare_arrows:")
    if reference is not None:
        st.caption(f"{reference_label} for this sample: {format_number(reference)} (dashed green line).")
    st.plotly_chart(forest_plot(table, outcome=bundle.roles.outcome, estimand=bundle.estimand,
                                reference=reference, reference_label=reference_label),
                    width="stretch", key="est_forest")
    failed = table[table["error"].fillna("") != ""]
    # one box per distinct message: the same failure of many methods is said once, naming them all
    for message, rows in failed.groupby("error", sort=False):
        labels = ", ".join(rows["label"].astype(str))
        st.error(f"**{labels}:** {message}", icon=":material/error:")
    warned = table[(table["error"].fillna("") == "") & (table["warnings"].fillna("") != "")]
    if len(warned):
        with st.expander(f"Warnings from {len(warned)} method(s)"):
            for _, row in warned.iterrows():
                st.markdown(f"**{row['label']}**")
                for text in str(row["warnings"]).split(" | "):
                    st.markdown(f"- {text}")


st.title("Estimate")
st.write("Choose what to estimate and which estimators to compare. Each method's options have sensible defaults.")
dataset = require_dataset(whole_table=True)
roles = require_roles()
stale_slot = st.empty()  # filled at the end: a run on this page makes the stored results current again
try:
    identification = identify(roles, dataset.df)
except Exception as exc:
    show_error(exc, "Identification")
    if results_staleness():
        stale_slot.warning(results_staleness(), icon=":material/sync_problem:")
    st.stop()
available = set(identification.available_methods)
methods_info = {info.id: info for info in cc.list_methods()}
estimands = list(STANDARD_ESTIMANDS) + sorted({e for m in available for e in methods_info[m].estimands}
                                              - set(STANDARD_ESTIMANDS))
current_estimand = get_estimand() if get_estimand() in estimands else estimands[0]
c1, c2, c3 = st.columns([1, 1, 2])
estimand = c1.selectbox("Estimand", estimands, index=estimands.index(current_estimand), key="est_estimand",
                        help=ESTIMAND_HELP)
seed = c2.number_input("Seed", value=get_seed(), step=1, min_value=0, key="est_seed",
                       help="Seed for every random step (bootstrap, cross-fitting); the same seed gives the same numbers.")
c3.caption(f"Treatment `{roles.treatment}` · outcome `{roles.outcome}` · {len(roles.confounders)} confounder(s). "
           "Methods that cannot run with these roles are greyed out with the reason.")
set_estimand(estimand)
set_seed(int(seed))
chosen, options = _method_picker(estimand, identification)
set_methods(chosen)
set_method_options({**get_method_options(), **options})

# the roles are checked once, before a run is offered: bad roles give one message, not one per method, and
# the previous results stay as they are
roles_problem = roles_problem_text(dataset.df, roles, identification.treatment_kind)
if roles_problem:
    st.error(f"{roles_problem} Fix the roles on the Roles page to run the methods; earlier results are kept.",
             icon=":material/error:")
sample_rows = DEFAULT_SAMPLE_ROWS
if dataset.table is not None:
    st.info(f"This table ({dataset.n_rows:,} rows) is kept on disk. "
            f"{', '.join(cc.get_method(m).label for m in STREAMED_METHODS)} stream over every row (with their "
            "default options); the other methods run on a seeded sample of the rows below. The run computes in "
            "this page.", icon=":material/database:")
    sample_rows = int(st.number_input("Rows of the sample for methods without a streamed form", min_value=100,
                                      value=min(DEFAULT_SAMPLE_ROWS, max(100, dataset.n_rows)), step=10_000,
                                      key="est_sample_rows"))
run_column, note_column = st.columns([1, 3])
running = get_active_run() is not None
run = run_column.button(f"Run {len(chosen)} method(s)", key="est_run", type="primary",
                        disabled=not chosen or running or roles_problem is not None,
                        help="A run is going (see the panel at the top of the page)." if running else None)
note_column.caption("Results of unchanged settings are reused instantly; change a setting to recompute that method. "
                    "Runs compute in the background: you can move to other pages, reload, or cancel.")
if run:
    try:
        if dataset.table is not None:  # a background run too: streamed passes count as its progress
            run_on_disk(dataset, roles, estimand, chosen, options, int(seed), sample_rows)
        else:
            start_run(dataset, roles, estimand, chosen, options, int(seed))
    except Exception as exc:
        show_error(exc, "Estimation")
note = last_run_note()
if get_active_run() is not None:
    st.info("Estimation is running in the background; its progress and a Cancel button are at the top of the page.",
            icon=":material/hourglass_top:")
elif note is not None and note[0] == "done":
    st.progress(1.0, text=note[1])
elif note is not None:
    st.warning(note[1], icon=":material/cancel:")
stale = results_staleness()
if stale:
    stale_slot.warning(stale, icon=":material/sync_problem:")
bundle = get_results()
if bundle is not None:
    st.divider()
    if results_staleness():
        st.caption("The results below are out of date (see the note at the top); run again to refresh them.")
    reference, reference_label = _reference(dataset, bundle.estimand) if not results_staleness() else (None, "")
    try:
        _show_results(bundle, reference, reference_label)
    except Exception as exc:
        show_error(exc, "Showing the results")
    link_to("pages/5_Diagnostics.py", "Next: check balance, overlap and weights", icon=":material/arrow_forward:")
