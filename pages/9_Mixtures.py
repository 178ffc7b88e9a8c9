"""Mixtures page: k coins from repeated 0/1 measurements, and the hidden discrete confounder behind proxies."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import causal_core as cc
from causal_core.core.formatting import format_number
from causal_core.core.labels import labelled_table
from causal_core.charts import interventional_plot, mix_iid_plot, proxy_profile_plot, source_weights_plot
from causal_core.datasets.column_choices import binary_columns, count_columns
from causal_core.datasets.samples import get_sample, load_sample
from causal_core.datasets.simulate import repeated_measurements_sample
from causal_core.studies.mixtures.naive import naive_outcome_means
from pages._state import (get_dataset, get_roles, get_seed, page_value, pop_page_value, set_dataset, set_page_value,
                          set_roles)
from pages._ui import show_error

LATENT_SAMPLE = "latent_confounder"
BUNDLED = "Bundled example (1,000 units, 6 trials)"
LOADED = "The loaded table"


@st.cache_data(show_spinner=False)
def _bundled_repeated_measurements() -> pd.DataFrame:
    return repeated_measurements_sample()[0]


def _repeated_measurements_section() -> None:
    st.markdown(
        "Each unit belongs to one of **k hidden sources** and makes **m repeated 0/1 measurements** of the same "
        "quantity. The first 2k−1 moments of the success counts fix the sources' weights and success rates "
        "(Prony's method), so k can be at most (m+1)/2."
    )
    dataset = get_dataset()
    sources = [BUNDLED] + ([LOADED] if dataset is not None else [])
    choice = st.radio("Data", sources, key="mix_iid_source", horizontal=True)
    df = _bundled_repeated_measurements() if choice == BUNDLED else dataset.df
    mode = st.radio("Measurements are", ["several 0/1 columns", "a count column out of m trials"],
                    key="mix_iid_mode", horizontal=True)
    kwargs: dict = {}
    if mode == "several 0/1 columns":
        options = binary_columns(df)
        default = [c for c in options if c.startswith("trial_")] or options[:4]
        columns = st.multiselect("0/1 columns (one per trial)", options, default=default, key="mix_iid_columns")
        kwargs["columns"] = columns
        trials = len(columns)
    else:
        options = count_columns(df)
        count = st.selectbox("Count column", options, index=options.index("successes") if "successes" in options else 0,
                             key="mix_iid_count") if options else None
        maximum = int(pd.to_numeric(df[count], errors="coerce").max()) if count else 1
        trials = st.number_input("Trials per unit (m)", min_value=1, max_value=1000, value=max(maximum, 1),
                                 step=1, key="mix_iid_trials")
        kwargs.update(count=count, trials=int(trials))
    k = st.number_input("Sources (k)", min_value=1, max_value=10, value=2, step=1, key="mix_iid_k",
                        help="Needs 2k−1 ≤ m.")
    if st.button("Fit sources", key="mix_iid_fit", type="primary"):
        try:
            if not kwargs.get("columns") and not kwargs.get("count"):
                raise cc.CausalInputError("Choose the measurement columns (or a count column) first.")
            set_page_value("mix_iid_result", cc.fit_mix_iid(df, k=int(k), **kwargs))
            pop_page_value("mix_iid_error")
        except Exception as exc:  # shown below, never as a traceback
            set_page_value("mix_iid_result", None)
            set_page_value("mix_iid_error", exc)
    error = page_value("mix_iid_error")
    if error is not None:
        show_error(error, "Fitting the sources")
    result = page_value("mix_iid_result")
    if result is None:
        return
    left, right = st.columns([1, 2])
    with left:
        st.dataframe(labelled_table(result.summary_frame()), hide_index=True, width="stretch")
        st.metric("Hankel condition number", format_number(result.condition_number))
        st.caption(result.identifiability)
        for warning in result.warnings:
            st.warning(warning, icon=":material/warning:")
    with right:
        st.plotly_chart(mix_iid_plot(result), key="mix_iid_chart")


def _load_latent_sample() -> None:
    info = get_sample(LATENT_SAMPLE)
    previous = get_dataset()
    if previous is not None:
        set_page_value("_mix_loaded_note", f"Loaded '{info.title}' as the table of the whole analysis, replacing "
                                           f"'{previous.name}' on every page (load it again on the Data page to "
                                           "go back).")
    set_dataset(load_sample(LATENT_SAMPLE), name=info.title, source="sample", sample_id=LATENT_SAMPLE)
    set_roles(info.roles)
    pop_page_value("mix_latent_result")


def _latent_confounder_section() -> None:
    st.markdown(
        "A **hidden discrete confounder U** with k states drives treatment and outcome. Observed **proxies** "
        "(discrete, independent of each other and of treatment and outcome given U) reveal it: the mixture "
        "P(U), P(proxy | U), P(T | U), P(Y | T, U) is learnt, then P(Y | do(t)) = Σ_u P(u) P(Y | t, u)."
    )
    roles, dataset = get_roles(), get_dataset()
    if dataset is None or roles is None or not roles.proxies:
        st.info("This needs a table with treatment, outcome and at least three discrete **proxies** "
                "(Roles page), or the bundled example.")
        if dataset is not None:
            st.caption(f":orange[The example replaces the loaded table **{dataset.name}** and its roles on every "
                       "page.]")
        label = ("Load the hidden-confounder example" if dataset is None
                 else "Replace the loaded table with the hidden-confounder example")
        st.button(label, key="mix_latent_load", on_click=_load_latent_sample)
        return
    note = page_value("_mix_loaded_note")
    if note:
        st.info(note, icon=":material/swap_horiz:")
    st.caption(f"Data: **{dataset.name}**; treatment **{roles.treatment}**, outcome **{roles.outcome}**, "
               f"proxies {', '.join(roles.proxies)}.")
    c1, c2, c3 = st.columns(3)
    k = c1.selectbox("Hidden states (k)", [2, 3, 4, 1, "auto"], key="mix_latent_k", format_func=str)
    solver = c2.selectbox("Solver", ["auto", "moments+em", "em", "moments"], key="mix_latent_solver")
    n_boot = c3.number_input("Bootstrap replicates", min_value=20, max_value=2000, value=200, step=20,
                             key="mix_latent_boot")
    settings = (dataset.version, roles, k, solver, int(n_boot), get_seed())
    if st.button("Estimate", key="mix_latent_run", type="primary"):
        try:
            with st.spinner("Fitting the mixture and bootstrapping..."):
                result = cc.estimate(dataset.df, roles, "latent_mixture", seed=get_seed(), k=k, solver=solver,
                                     n_boot=int(n_boot))
            set_page_value("mix_latent_result", (settings, result, None))
        except Exception as exc:
            set_page_value("mix_latent_result", (settings, None, exc))
    stored = page_value("mix_latent_result")
    if stored is None:
        return
    stored_settings, result, error = stored
    if stored_settings[:2] != settings[:2]:
        st.warning("The data or roles changed since this result; press Estimate again.", icon=":material/update:")
    if error is not None:
        show_error(error, "The latent-confounder estimate")
        return
    _show_latent_result(result, dataset.df, roles)


def _show_latent_result(result: cc.EstimateResult, df: pd.DataFrame, roles: cc.Roles) -> None:
    d = result.diagnostics
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("ATE (adjusted for U)", format_number(result.estimate), help="Bootstrap percentile 95% interval.")
    m2.metric("Bootstrap SE", format_number(result.std_error))
    m3.metric("Naive difference", format_number(d["naive_difference"]))
    m4.metric("Log-likelihood", format_number(d["log_likelihood"]), help=f"k={d['k']}, solver {d['solver']}")
    st.markdown(f"95% interval **{format_number(result.ci_low)} to {format_number(result.ci_high)}** "
                f"(k={d['k']}, solver {d['solver']}).")
    for warning in result.warnings:
        st.warning(warning, icon=":material/warning:")
    st.caption(f"Identifiability: {d['identifiability']}  Moment solver: {d['moment_condition']}")
    naive = naive_outcome_means(df, roles.treatment, roles.outcome, d["interventional"]["treatment"])
    left, right = st.columns(2)
    with left:
        st.plotly_chart(source_weights_plot(d["source_weights"]), key="mix_latent_weights")
    with right:
        st.plotly_chart(interventional_plot(d["interventional"], naive=naive), key="mix_latent_do")
    st.plotly_chart(proxy_profile_plot(d["proxy_distributions"]), key="mix_latent_proxies")
    with st.expander("Tables: sources, outcome within sources, solver comparison"):
        st.dataframe(labelled_table(d["source_weights"]), hide_index=True, width="stretch")
        st.dataframe(labelled_table(d["outcome_distributions"]), hide_index=True, width="stretch")
        st.dataframe(labelled_table(d["interventional"]), hide_index=True, width="stretch")
        if "solver_comparison" in d:
            st.dataframe(labelled_table(d["solver_comparison"]), hide_index=True, width="stretch")
        if "k_selection" in d:
            st.dataframe(labelled_table(d["k_selection"]), hide_index=True, width="stretch")


st.title("Mixtures of hidden sources")
repeated_tab, latent_tab = st.tabs(["Mixture of repeated measurements", "Hidden discrete confounder"])
with repeated_tab:
    _repeated_measurements_section()
with latent_tab:
    _latent_confounder_section()
