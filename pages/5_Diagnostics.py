"""Diagnostics page: balance, overlap, weights, covariate distributions and each method's own diagnostics.

Everything slow is kept per results bundle (the prepared design, the balance
tables and every chart, in the caches of ``pages/_state.py``), so changing a
dropdown draws one new chart at most.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

import causal_core as cc
from causal_core.charts import covariate_distribution_plot, love_plot, overlap_plot, response_curve_plot, weight_plot
from causal_core.core.data import PreparedData
from causal_core.core.formatting import format_number, format_table_value
from causal_core.core.labels import diagnostic_label, labelled_table
from causal_core.core.provenance import design_for
from causal_core.diagnostics.balance_tables import balance_tables
from causal_core.diagnostics.diagnostic_parts import is_scalar, split_diagnostics
from pages._state import (ResultsBundle, cache_result, cached, get_results, page_value, results_staleness,
                          set_page_value)
from pages._ui import attempt, link_to, require_dataset, show_error

_MISSING = object()


def _prepared(bundle: ResultsBundle, df: pd.DataFrame, method: str) -> PreparedData | None:
    """The rows and encoded covariates the method's result used (cached per results bundle)."""
    key = (id(bundle), method)
    prepared = cached("_diag_prepared", key, _MISSING)
    if prepared is _MISSING:
        prepared = cache_result("_diag_prepared", key,
                                attempt(design_for, bundle.results[method], df, what="Preparing the data"), keep=20)
    return prepared


def _figure(bundle: ResultsBundle, key: tuple, make: Callable[[], Any]) -> Any:
    """The chart ``key`` of this results bundle: drawn by ``make()`` the first time, then kept."""
    kept = cached("_diag_figures", (id(bundle), *key))
    if kept is not None and kept[0] is bundle:
        return kept[1]
    return cache_result("_diag_figures", (id(bundle), *key), (bundle, make()), keep=40)[1]


def _balance_tables(bundle: ResultsBundle, df: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """(label -> balance table, errors) of the weighting/matching methods, computed once per results bundle."""
    stored = cached("_diag_balance", id(bundle))
    if stored is None:
        stored = cache_result("_diag_balance", id(bundle),
                              balance_tables(bundle.results, df, roles=bundle.roles, estimand=bundle.estimand), keep=1)
    return stored


def _balance_detail(table: pd.DataFrame) -> None:
    """The main balance columns with readable names, and the effective sample size per arm."""
    names = {"type": "Type", "smd_before": "SMD before", "smd_after": "SMD after", "var_ratio_before": "Variance ratio before",
             "var_ratio_after": "Variance ratio after", "ks_after": "KS after", "balanced": "Balanced (|SMD| ≤ 0.1)"}
    shown = table[[c for c in names if c in table.columns]].astype(object)
    shown = shown.map(lambda v: "" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                      else (format_number(v) if isinstance(v, (float, np.floating)) else str(v)))
    st.dataframe(shown.rename(columns=names), width="stretch", column_config={
        name: st.column_config.TextColumn(name, alignment="right")
        for name in names.values() if name not in ("Type", names["balanced"])})
    ess = table.attrs.get("ess")
    if isinstance(ess, dict):
        parts = []
        for arm, value in ess.items():
            if isinstance(value, dict):
                parts.append(f"{arm} {format_number(value.get('after', float('nan')))} of "
                             f"{format_number(int(round(value.get('before', 0))))} rows")
            else:
                parts.append(f"{arm}: {format_number(value)}")
        st.caption("Effective sample size (Kish) of each arm's weights: " + "; ".join(parts) + ".")


def _generic_diagnostics(result: cc.EstimateResult, bundle: ResultsBundle) -> None:
    diagnostics = result.diagnostics
    scalars, frames, others = split_diagnostics(diagnostics)
    curve = diagnostics.get("response_curve")
    if isinstance(curve, pd.DataFrame):
        st.markdown("**Response curve**")
        st.plotly_chart(_figure(bundle, (result.method, "response_curve"), lambda: response_curve_plot(
            curve, treatment=bundle.roles.treatment, outcome=bundle.roles.outcome)),
                        width="stretch", key="diag_response_curve")
    summary = {"Estimate": result.estimate, "Standard error": result.std_error, "95% CI low": result.ci_low,
               "95% CI high": result.ci_high, "Rows used (enter the estimate)": result.n_used}
    for arm, count in result.n_used_by_arm.items():
        summary[f"Rows used: {arm}"] = int(count)
    summary["Rows in the design (after dropping missing values)"] = result.n_rows
    if result.weight_diagnostics is not None:
        for arm, after in result.weight_diagnostics.ess_after.items():
            summary[f"Effective sample size (Kish): {arm}"] = after
    summary["Seconds"] = result.seconds
    labelled = {diagnostic_label(k): v for k, v in scalars.items()}
    rows = [{"quantity": k, "value": format_table_value(v, "seconds" if k == "Seconds" else "")}
            for k, v in (summary | labelled).items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"quantity": "Quantity", "value": "Value"})
    for name, frame in frames.items():
        st.markdown(f"**{diagnostic_label(name)}**")
        st.dataframe(labelled_table(frame), width="stretch")
    for name, value in others.items():
        if isinstance(value, dict) and all(is_scalar(v) for v in value.values()):
            st.markdown(f"**{diagnostic_label(name)}**")
            st.dataframe(pd.DataFrame({"key": list(map(str, value)), "value": [_format(v) for v in value.values()]}),
                         hide_index=True, width="stretch", column_config={"key": "Item", "value": "Value"})
        elif isinstance(value, (np.ndarray, list, tuple)):
            size = np.asarray(value, dtype=object).size if not isinstance(value, np.ndarray) else value.size
            st.caption(f"{diagnostic_label(name)}: {size:,} values (shown in the plots above where relevant).")
    for warning in result.warnings:
        st.warning(warning)


def _remembered_select(label: str, options: list[Any], *, key: str, **kwargs: Any) -> Any:
    """A selectbox whose choice outlives leaving the page (Streamlit drops a widget's key when its page is
    not shown); the choice is kept as a page value and forgotten with the table."""
    choices = dict(page_value("_diag_choices") or {})
    stored = choices.get(key)
    index = options.index(stored) if stored in options else 0
    value = st.selectbox(label, options, index=index, key=key, **kwargs)
    if choices.get(key) != value:
        choices[key] = value
        set_page_value("_diag_choices", choices)
    return value


def _format(value: Any) -> str:
    return format_table_value(value)


st.title("Diagnostics")
st.write("Check whether the adjustment worked: balance of the confounders, overlap of the propensity scores and how "
         "uneven the weights are. A method whose diagnostics look poor deserves less trust, whatever its estimate.")
dataset = require_dataset(whole_table=True)
bundle = get_results()
if bundle is not None and bundle.scale_notes and not bundle.results:
    st.info("Every method of the last run streamed over the table on disk ("
            + "; ".join(f"{cc.get_method(m).label}: {note}" for m, note in bundle.scale_notes.items())
            + "). Streamed estimates keep no per-row weights, so there is nothing to diagnose here; run a weighting "
            "or matching method (it runs on a seeded sample) to see balance and overlap.", icon=":material/database:")
    st.stop()
if bundle is None or not bundle.results:
    st.info("No estimates yet. Run at least one method on the **Estimate** page.")
    link_to("pages/4_Estimate.py", "Go to Estimate", icon=":material/calculate:")
    st.stop()
stale = results_staleness()
if stale:
    st.warning(stale + " The diagnostics below describe the old results.", icon=":material/sync_problem:")
    if dataset.version != bundle.data_version:
        st.stop()
df = dataset.df if bundle.frame is None else bundle.frame  # a table on disk: the sample the methods ran on
if bundle.scale_notes:
    st.info("Table kept on disk: these diagnostics describe the seeded sample the methods below ran on ("
            + "; ".join(f"{cc.get_method(m).label}: {bundle.scale_notes[m]}" for m in bundle.results)
            + ")" + ("; streamed methods (" + ", ".join(cc.get_method(m).label for m in bundle.scale_notes
                                                         if m not in bundle.results)
                     + ") keep no per-row weights and are not shown." if set(bundle.scale_notes) - set(bundle.results)
                     else "."), icon=":material/database:")

st.subheader("Covariate balance")
if not bundle.roles.confounders:
    st.info("No confounders are assigned, so there is no balance to check.")
else:
    tables, balance_errors = attempt(_balance_tables, bundle, df, what="The balance tables") or ({}, [])
    if tables:
        st.caption("Absolute standardised mean difference of each confounder between treated and control, before "
                   "(open circles) and after each method's weights. Below 0.1 (dashed line) is conventionally balanced.")
        st.plotly_chart(_figure(bundle, ("love_plot",), lambda: love_plot(tables)), width="stretch",
                        key="diag_love_plot")
        chosen_table = _remembered_select("Balance table for", list(tables), key="diag_balance_method")
        _balance_detail(tables[chosen_table])
    elif not balance_errors:
        st.info("None of the methods run produced weights (weighting and matching methods do). Run one to see balance.")
    for text in balance_errors or []:
        st.warning(f"Balance could not be computed for {text}")

st.divider()
st.subheader("One method in detail")
labels = {m: cc.get_method(m).label for m in bundle.results}
method = _remembered_select("Method", list(bundle.results), format_func=labels.get, key="diag_method")
result = bundle.results[method]
data = _prepared(bundle, df, method)


def _overlap_tab() -> None:
    propensity = result.diagnostics.get("propensity")
    if propensity is not None and data is not None and np.asarray(propensity).shape == (len(result.row_index),):
        st.caption("Distribution of the estimated probability of treatment. Where one group has scores the other "
                   "lacks (near 0 or 1), effects rest on extrapolation.")
        figure = _figure(bundle, (method, "overlap"), lambda: overlap_plot(
            np.asarray(propensity), data.treated,
            treated_label=f"Treated ({bundle.roles.treatment} = {data.treated_level})",
            control_label=f"Control ({bundle.roles.treatment} = {data.control_level})"))
        st.plotly_chart(figure, width="stretch", key="diag_overlap")
    else:
        st.info(f"{labels[method]} does not report propensity scores; methods that fit a propensity model "
                "(such as inverse probability weighting) do.")


def _weights_tab() -> None:
    diagnostics = result.weight_diagnostics
    if diagnostics is not None and result.treated is not None:
        by_arm = "; ".join(f"{arm} {diagnostics.ess_after[arm]:,.1f} of {diagnostics.ess_before[arm]:,.0f} rows"
                           for arm in diagnostics.ess_after)
        st.caption(f"Effective sample size (Kish, (Σw)²/Σw²): {by_arm}; largest weight "
                   f"{diagnostics.max_weight_share:.1%} of the total, {diagnostics.n_zero:,} zero weights. "
                   "A few very large weights mean the estimate rests on few rows.")
        st.plotly_chart(_figure(bundle, (method, "weights"), lambda: weight_plot(result.weights, result.treated)),
                        width="stretch", key="diag_weights")
    else:
        st.info(f"{labels[method]} does not produce one weight per row.")


def _covariate_tab() -> None:
    if data is None or data.X.shape[1] == 0:
        st.info("No confounders to show.")
        return
    names = list(data.covariate_names)
    covariate = _remembered_select("Covariate", names, key="diag_covariate")
    weights = result.weights if result.weight_diagnostics is not None else None
    st.caption("Share of treated and control rows at each value, before and after the method's weights; "
               "after good weighting the two groups' distributions look alike.")
    try:
        figure = _figure(bundle, (method, "covariate", covariate), lambda: covariate_distribution_plot(
            data.X[:, names.index(covariate)], data.treated, weights=weights, name=covariate))
        st.plotly_chart(figure, width="stretch", key="diag_covariate_plot")
    except Exception as exc:
        show_error(exc, "The covariate plot")


def _details_tab() -> None:
    try:
        _generic_diagnostics(result, bundle)
    except Exception as exc:
        show_error(exc, "Showing the diagnostics")


tabs = st.tabs(["Propensity overlap", "Weights", "Covariate distributions", "Method diagnostics"])
for tab, draw in zip(tabs, (_overlap_tab, _weights_tab, _covariate_tab, _details_tab)):
    with tab:  # every tab is drawn (their charts are kept), so a choice made in one survives leaving the page
        draw()
