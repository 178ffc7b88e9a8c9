"""Robustness page: sensitivity to hidden confounding, refutation tests, a method lab and agreement across methods."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

import causal_core as cc
from causal_core.charts.robustness import method_lab_plot, ovb_contour_plot, refutation_plot, rosenbaum_plot
from causal_core.core.labels import labelled_table
from causal_core.robustness.agreement import is_unadjusted
from causal_core.robustness.method_lab import SCENARIOS, lab_methods
from causal_core.robustness.refute import REFUTERS
from pages._state import ResultsBundle, cache_result, cached, get_results, results_staleness
from pages._ui import attempt, link_to, require_dataset, require_roles

TEST_LABELS = {
    "placebo_treatment": "Placebo treatment (permuted)",
    "random_common_cause": "Random common cause",
    "data_subset": "Random 80% subsets",
    "dummy_outcome": "Dummy outcome (no effect)",
}


_MISSING = object()


def _key(bundle: ResultsBundle, *parts: Any) -> tuple:
    return (bundle.data_version, bundle.roles, bundle.estimand, bundle.seed, *parts)


def _sensitivity_section(bundle: ResultsBundle, df: pd.DataFrame, method: str) -> None:
    key = _key(bundle, "sensitivity", method)
    report = cached("robustness", key, _MISSING)
    if report is _MISSING:
        report = cache_result("robustness", key, attempt(cc.sensitivity_for_result, bundle.results[method], df,
                                                         what="The sensitivity analysis"))
    if report is None:
        return
    if report.e_value is not None:
        ev = report.e_value
        c1, c2, c3 = st.columns(3)
        c1.metric("E-value (estimate)", f"{ev.e_value_estimate:.2f}")
        c2.metric("E-value (CI limit)", f"{ev.e_value_ci:.2f}")
        c3.metric("Risk ratio used", f"{ev.risk_ratio:.3g}", help=f"Scale: {ev.scale}")
        st.caption(ev.explanation)
    if report.ovb is not None:
        ovb = report.ovb
        st.markdown("**Omitted-variable bias** (Cinelli & Hazlett 2020)")
        c1, c2, c3 = st.columns(3)
        c1.metric("Robustness value RV", f"{100 * ovb.robustness_value:.1f}%")
        c2.metric("RV at alpha 0.05", f"{100 * ovb.robustness_value_alpha:.1f}%")
        c3.metric("Partial R² of treatment with outcome", f"{100 * ovb.partial_r2_treatment:.1f}%")
        st.caption(ovb.explanation)
        for warning in ovb.warnings:
            st.warning(warning)
        st.plotly_chart(ovb_contour_plot(ovb), key=f"rob_ovb_chart_{method}")
        if len(ovb.benchmarks):
            st.dataframe(labelled_table(ovb.benchmarks), hide_index=True, width="stretch")
    if report.rosenbaum is not None:
        st.markdown("**Rosenbaum bounds** (matched pairs, Wilcoxon signed-rank)")
        st.caption(report.rosenbaum.explanation)
        st.plotly_chart(rosenbaum_plot(report.rosenbaum), key=f"rob_rosenbaum_chart_{method}")
    for note in report.notes:
        st.info(note)


def _refutation_section(bundle: ResultsBundle, df: pd.DataFrame, method: str) -> None:
    tests = st.multiselect("Tests", list(REFUTERS), default=list(REFUTERS), key="rob_ref_tests",
                           format_func=lambda t: TEST_LABELS[t])
    repeats = st.number_input("Repetitions per test", min_value=2, max_value=200, value=10, step=1, key="rob_ref_reps")
    if st.button("Run refutation tests", key="rob_ref_run", disabled=not tests):
        bar = st.progress(0.0, text="Starting...")

        def progress(done: int, total: int, message: str) -> None:
            bar.progress(done / total, text=f"{TEST_LABELS[message]}: {done} of {total}")

        results = attempt(cc.refute, bundle.results[method], df, tests=tests, n_repeats=int(repeats),
                          progress=progress, what="The refutation tests")
        if results is not None:
            cache_result("robustness", _key(bundle, "refute", method), results)
            bar.progress(1.0, text="Done.")
    results = cached("robustness", _key(bundle, "refute", method))
    if results:
        table = pd.DataFrame([r.summary() for r in results])
        table["test"] = table["test"].map(TEST_LABELS)
        st.dataframe(labelled_table(table[["test", "passed", "original", "expected", "refuted_mean", "refuted_sd",
                                           "p_value"]]), hide_index=True, width="stretch")
        for r in results:
            (st.success if r.passed else st.warning)(f"{TEST_LABELS[r.name]}: {r.explanation}")
        st.plotly_chart(refutation_plot(results), key=f"rob_ref_chart_{method}")
        st.caption("No refutation test can detect an unmeasured confounder; see the sensitivity analyses for that.")


def _lab_section(bundle: ResultsBundle, df: pd.DataFrame) -> None:
    eligible = lab_methods(bundle.estimand)
    default = [m for m in bundle.results if m in eligible] or eligible[:3]
    methods = st.multiselect("Methods to compare", eligible, default=default, key="rob_lab_methods",
                             format_func=lambda m: cc.get_method(m).label)
    c1, c2, c3, c4 = st.columns(4)
    scenario = c1.selectbox("Outcome shape", SCENARIOS, key="rob_lab_scenario")
    effect = c2.number_input("Effect (noise SDs)", value=0.5, step=0.1, key="rob_lab_effect")
    confounding = c3.number_input("Confounding strength", value=1.0, step=0.25, key="rob_lab_confounding")
    reps = c4.number_input("Replications", min_value=2, max_value=1000, value=50, step=10, key="rob_lab_reps")
    if st.button("Run the method lab", key="rob_lab_run", disabled=not methods):
        bar = st.progress(0.0, text="Starting...")
        lab = attempt(cc.method_lab, df, bundle.roles, methods, estimand=bundle.estimand, scenario=scenario,
                      effect=float(effect), confounding=float(confounding), n_replications=int(reps),
                      seed=bundle.seed, options={m: bundle.options.get(m, {}) for m in methods},
                      progress=lambda d, t, _m: bar.progress(d / t, text=f"Replication {d} of {t}"),
                      what="The method lab")
        if lab is not None:
            cache_result("robustness", _key(bundle, "lab"), lab)
            bar.progress(1.0, text="Done.")
    lab = cached("robustness", _key(bundle, "lab"))
    if lab is not None:
        (st.success if lab.reliable else st.warning)(lab.recommendation)
        st.plotly_chart(method_lab_plot(lab), key="rob_lab_chart")
        st.dataframe(labelled_table(lab.table), hide_index=True, width="stretch")
        for method, message in lab.errors.items():
            st.warning(f"{cc.get_method(method).label} failed in some replications: {message}")


st.title("Robustness")
st.caption("How much to trust an estimate: sensitivity to unmeasured confounding, refutation tests, "
           "a method lab on your own design, and agreement across estimators.")
dataset = require_dataset()
require_roles()
bundle = get_results()
if bundle is None or not bundle.results:
    st.info("No estimates yet. Run one or more estimators on the **Estimate** page first.")
    link_to("pages/4_Estimate.py", "Go to Estimate", icon=":material/calculate:")
    st.stop()
stale = results_staleness()
if stale:
    st.warning(stale + " The robustness checks below use the data and roles of those results only if they match.")
    st.stop()

df = dataset.df
st.subheader("Agreement across estimators")
if sum(not is_unadjusted(r.method) for r in bundle.results.values()) >= 2:
    agreement = attempt(cc.agreement_summary, bundle.results, what="The agreement summary")
    if agreement is not None:
        (st.success if agreement.agree else st.warning)(agreement.verdict)
        st.dataframe(labelled_table(agreement.table), hide_index=True, width="stretch")
else:
    st.caption("Run at least two estimators that adjust for the confounders to compare them "
               "(the naive difference in means is a reference, not counted).")

method = st.selectbox("Estimator", list(bundle.results), key="rob_method",
                      format_func=lambda m: cc.get_method(m).label)
sensitivity_tab, refutation_tab, lab_tab = st.tabs(["Sensitivity", "Refutation tests", "Method lab"])
with sensitivity_tab:
    _sensitivity_section(bundle, df, method)
with refutation_tab:
    _refutation_section(bundle, df, method)
with lab_tab:
    _lab_section(bundle, df)
