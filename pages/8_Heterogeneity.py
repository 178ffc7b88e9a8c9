"""Heterogeneity page: latent Gaussian-mixture subgroups or a CATE learner, with their charts.

Settings are copied into the page value ``"het_settings"`` of ``pages/_state.py``
(widget keys are dropped when the page is not shown) and results are kept in its
``"het_cache"`` by (data version, roles, method, estimand, options, seed), so
returning to the page shows the last run instantly. The method's options are
drawn from its registry entry by ``pages/_widgets.py``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import causal_core as cc
from causal_core.core.formatting import format_interval, format_number
from causal_core.core.labels import labelled_table
from causal_core.charts.heterogeneity import (bic_curve_plot, cate_intervals_plot, effect_by_covariate_plot,
                                              effect_by_feature_plot, qini_plot, subgroup_effects_plot,
                                              subgroup_projection_plot, unit_effects_histogram,
                                              variable_importance_plot)
from causal_core.core.provenance import design_for
from causal_core.diagnostics.uplift import qini_coefficient, qini_curve
from pages._state import cache_result, cached, get_estimand, get_seed, page_value, set_page_value
from pages._ui import require_dataset, require_roles, show_error
from pages._widgets import option_widget

#: Method id -> label, every method whose registry entry says ``explores_heterogeneity``.
METHODS = {info.id: info.label for info in cc.list_methods() if info.explores_heterogeneity}
ESTIMANDS = ("ATE", "ATT", "ATC")
DEFAULTS: dict[str, Any] = {"method": "gmm_subgroups", "estimand": None, "options": {}, "covariate": None}
#: Column names of the CATE check tables (diagnostics of ``causal_forest`` and ``dml``) as shown; the
#: standard ones (estimate, std_error, ci_low, ci_high, p_value) keep the labels of ``labelled_table``.
CHECK_COLUMNS = {"covariate": "Covariate", "importance": "Importance", "term": "Term",
                 "group": "Quantile group of the predicted CATE (1 = lowest)", "n_rows": "Rows",
                 "mean_predicted": "Mean predicted CATE", "basis": "Basis", "n_terms": "Terms",
                 "cv_r_loss": "Cross-validated R-loss", "excess_loss": "Excess over the lowest",
                 "excess_std_error": "Std. error of the excess", "chosen": "Chosen"}
GROUP_EFFECT_LABEL = "Group average effect (mean DR score)"
#: (diagnostics key, heading, caption) of the CATE check tables, in the order shown.
CHECK_TABLES = (
    ("cate_basis_selection", "Choice of the CATE basis",
     "Each basis's R-loss on held-out folds of the cross-fitted residuals (lower fits the effect better); the "
     "chosen one is the smallest whose excess over the lowest is at most one standard error."),
    ("cate_coefficients", "Coefficients of the CATE",
     "The effect as a function of the covariates, tau(x) = sum of coefficient x term of the basis, with "
     "sandwich standard errors (with the 'constant' final model, one term: the effect)."),
    ("variable_importance", "Variable importance",
     "How much of the forest's split improvement each covariate gives (shares summing to 1): the covariates "
     "the effect varies with."),
    ("best_linear_projection", "Best linear projection of the CATE",
     "Doubly robust scores regressed on the covariates (HC2 errors): the best linear summary of how the effect "
     "varies with each covariate, valid even where the forest is not."),
    ("calibration_test", "Calibration test",
     "Doubly robust scores regressed on the mean and the differential forest prediction: 1 is perfect calibration; "
     "a differential coefficient clearly above 0 (one-sided p-value) says the heterogeneity is real."),
    ("calibration_groups", "Group average effects by quantile of the predicted CATE",
     "Within each quarter of the rows ranked by predicted CATE, the doubly robust group effect beside the mean "
     "prediction: calibrated predictions line up with the group effects."),
)


def _settings() -> dict[str, Any]:
    stored = page_value("het_settings") or {}
    return {**DEFAULTS, **stored, "options": {m: dict(o) for m, o in stored.get("options", {}).items()}}


def _run(dataset, roles: cc.Roles, method: str, estimand: str, options: dict, seed: int) -> cc.EstimateResult:
    key = (dataset.version, repr(roles), method, estimand, repr(sorted(options.items())), seed)
    result = cached("het_cache", key)
    if result is None:
        with st.spinner(f"Running {METHODS[method]}..."):
            result = cache_result("het_cache", key, cc.estimate(dataset.df, roles, method, estimand=estimand,
                                                                seed=seed, **options))
    set_page_value("het_last", key)
    return result


def _last_result(dataset, roles: cc.Roles) -> cc.EstimateResult | None:
    key = page_value("het_last")
    if key is None or key[0] != dataset.version or key[1] != repr(roles):
        return None
    return cached("het_cache", key)


def _headline(result: cc.EstimateResult) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Overall {result.estimand}", format_number(result.estimate))
    c2.metric("95% CI", format_interval(result.ci_low, result.ci_high))
    c3.metric("Rows used", f"{result.n_used:,}")
    st.caption(f"Standard error: {result.diagnostics.get('se_method', 'see the method description')}.")
    if result.warnings:
        with st.expander(f"{len(result.warnings)} warning(s)"):
            for text in result.warnings:
                st.markdown(f"- {text}")


def _show_subgroups(result: cc.EstimateResult, outcome: str) -> None:
    diagnostics = result.diagnostics
    table: pd.DataFrame = diagnostics["subgroups"]
    st.plotly_chart(subgroup_effects_plot(table, overall=result.estimate, overall_ci=(result.ci_low, result.ci_high),
                                          outcome=outcome), width="stretch", key="het_forest")
    left, right = st.columns(2)
    left.plotly_chart(bic_curve_plot(diagnostics["bic"], chosen=diagnostics["n_subgroups"]), width="stretch",
                      key="het_bic")
    right.plotly_chart(subgroup_projection_plot(diagnostics["projection"], diagnostics["assignments"]),
                       width="stretch", key="het_projection")
    st.dataframe(labelled_table(table), hide_index=True, width="stretch", key="het_subgroup_table")


def _check_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A CATE check table to show: its own columns named (the group table's estimate as a group effect), then labelled."""
    columns = dict(CHECK_COLUMNS, estimate=GROUP_EFFECT_LABEL) if name == "calibration_groups" else CHECK_COLUMNS
    return labelled_table(frame.rename(columns=columns))


def _show_cate_checks(result: cc.EstimateResult) -> None:
    """The tables (and importance chart) of a CATE method's checks, where its diagnostics carry them."""
    for name, heading, caption in CHECK_TABLES:
        frame = result.diagnostics.get(name)
        if not isinstance(frame, pd.DataFrame):
            continue
        st.markdown(f"**{heading}**")
        if name == "variable_importance":
            st.plotly_chart(variable_importance_plot(frame), width="stretch", key="het_importance")
        st.dataframe(_check_table(name, frame), hide_index=True, width="stretch", key=f"het_{name}")
        st.caption(caption)


def _show_unit_effects(result: cc.EstimateResult, dataset, roles: cc.Roles, settings: dict[str, Any]) -> None:
    data = design_for(result, dataset.df)  # the rows and encoded covariates the result's unit effects belong to
    effects = result.unit_effects
    st.plotly_chart(unit_effects_histogram(effects, averages=result.unit_effect_averages()), width="stretch",
                    key="het_histogram")
    names = list(data.covariate_names)
    current = settings["covariate"] if settings["covariate"] in names else names[0]
    covariate = st.selectbox("Covariate", names, index=names.index(current), key="het_covariate",
                             help="Plot the estimated unit effects against this covariate.")
    settings["covariate"] = covariate
    low, high = result.diagnostics.get("cate_ci_low"), result.diagnostics.get("cate_ci_high")
    if low is not None and high is not None:  # a method with per-row CATE intervals (causal forest, dml)
        st.plotly_chart(cate_intervals_plot(effects, low, high, average=result.estimate,
                                            average_label=result.estimand), width="stretch",
                        key="het_cate_intervals")
        if result.diagnostics.get("cate_interval_method"):
            st.caption(f"Per-row intervals: {result.diagnostics['cate_interval_method']}.")
        st.plotly_chart(effect_by_feature_plot(data.X[:, names.index(covariate)], effects, low, high, name=covariate),
                        width="stretch", key="het_by_covariate")
    else:
        st.plotly_chart(effect_by_covariate_plot(data.X[:, names.index(covariate)], effects, name=covariate),
                        width="stretch", key="het_by_covariate")
    curve = qini_curve(effects, data.y, data.t)
    st.plotly_chart(qini_plot(curve), width="stretch", key="het_qini")
    st.caption(f"Qini coefficient (area above random targeting): {format_number(qini_coefficient(curve))}. The Qini curve "
               "compares raw treated and control outcomes among the top-ranked rows, so it is only causal when "
               "treatment was randomised; with confounding read it as a rough check of the ranking.")
    _show_cate_checks(result)


st.title("Heterogeneity")
st.write("Does the effect differ between units? Find latent subgroups of similar units with a Gaussian mixture, "
         "or estimate an effect for every unit with a CATE learner.")
dataset = require_dataset()
roles = require_roles()
if not roles.confounders:
    st.info("These methods need at least one confounder; assign some on the **Roles** page.")
    st.stop()

settings = _settings()
c1, c2, c3 = st.columns([2, 1, 1])
method_ids = list(METHODS)
method = c1.selectbox("Method", method_ids, index=method_ids.index(settings["method"]),
                      format_func=METHODS.get, key="het_method")
default_estimand = settings["estimand"] or (get_estimand() if get_estimand() in ESTIMANDS else "ATE")
estimand = c2.selectbox("Estimand", ESTIMANDS, index=ESTIMANDS.index(default_estimand), key="het_estimand")
seed = int(c3.number_input("Seed", value=get_seed(), min_value=0, step=1, key="het_seed"))
settings.update(method=method, estimand=estimand)

stored_options = settings["options"].get(method, {})
with st.expander("Options", expanded=False):
    options = {spec.name: option_widget(spec, key=f"het_{spec.name}", value=stored_options.get(spec.name, spec.default))
               for spec in cc.get_method(method).options}
settings["options"][method] = options
set_page_value("het_settings", settings)
st.caption(cc.get_method(method).summary)

if st.button("Run", key="het_run", type="primary"):
    try:
        _run(dataset, roles, method, estimand, options, seed)
    except Exception as exc:  # the page must never show a traceback
        show_error(exc, "The heterogeneity analysis")

result = _last_result(dataset, roles)
if result is not None:
    st.divider()
    st.subheader(f"{METHODS.get(result.method, result.method)}: {result.estimand} of {roles.treatment} on {roles.outcome}")
    try:
        _headline(result)
        if "subgroups" in result.diagnostics:
            _show_subgroups(result, roles.outcome)
        else:
            _show_unit_effects(result, dataset, roles, settings)
    except Exception as exc:
        show_error(exc, "Showing the results")
else:
    st.info("Choose a method and press **Run**.")
