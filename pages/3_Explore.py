"""Explore page: outcome by treatment within subgroups, Simpson's reversals explained."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import causal_core as cc
from causal_core.charts import subgroup_chart
from causal_core.datasets.column_choices import columns_of_kind, needs_treated_level, split_candidates, treatment_levels
from causal_core.diagnostics.subgroups import scan_reversals, subgroup_table
from pages._state import cache_result, cached, get_roles, page_value, set_page_value
from pages._ui import attempt, link_to, require_dataset, show_error

MAX_LEVELS = 20


def _scan(dataset_version: int, df: pd.DataFrame, treatment: str, outcome: str, treated_level) -> pd.DataFrame | None:
    """Reversal scan, computed once per (data, treatment, outcome, treated level) and kept in the session cache."""
    key = (dataset_version, treatment, outcome, repr(treated_level))
    table = cached("_explore_scan", key)
    if table is not None:
        return table
    with st.spinner(f"Checking every column with 2 to {MAX_LEVELS} values..."):
        table = attempt(scan_reversals, df, treatment, outcome, max_levels=MAX_LEVELS, treated_level=treated_level,
                        what="The reversal scan")
    if table is not None:
        cache_result("_explore_scan", key, table, keep=1)
    return table


st.title("Explore")
st.write("Compare the outcome between treated and control rows within groups of another column. When every group "
         "points one way and the total points the other, the aggregate comparison is misleading (Simpson's paradox).")
dataset = require_dataset()
df = dataset.df
roles = get_roles()
binary_columns = columns_of_kind(df, ("binary",))
numeric_columns = columns_of_kind(df, ("binary", "numeric"))
if not binary_columns:
    st.warning("No column has exactly two values, so there is no treatment to compare. Load another table.")
    st.stop()

c1, c2, c3 = st.columns(3)
treatment_default = roles.treatment if roles and roles.treatment in binary_columns else binary_columns[0]
treatment = c1.selectbox("Treatment (two values)", binary_columns, index=binary_columns.index(treatment_default),
                         key="explore_treatment", help="Defaults to the treatment chosen on the Roles page.")
outcomes = [c for c in numeric_columns if c != treatment]
if not outcomes:
    st.warning("No numeric column is left to serve as the outcome.")
    st.stop()
outcome_default = roles.outcome if roles and roles.outcome in outcomes else outcomes[0]
outcome = c2.selectbox("Outcome", outcomes, index=outcomes.index(outcome_default), key="explore_outcome")
candidates = split_candidates(df, exclude=(treatment, outcome), max_levels=MAX_LEVELS)
if not candidates:
    st.info(f"No other column has between 2 and {MAX_LEVELS} values to split by.")
    st.stop()
preferred = [c for c in (roles.subgroups if roles else ()) if c in candidates]
by = c3.selectbox("Split by", candidates, index=candidates.index(preferred[0]) if preferred else 0, key="explore_by",
                  help=f"Any column with 2 to {MAX_LEVELS} distinct values; subgroups from the Roles page come first.")
treated_level = roles.treated_level if roles and roles.treatment == treatment else None
levels = treatment_levels(df[treatment])
if needs_treated_level(levels):
    if treated_level not in levels:
        treated_level = levels[-1]
    treated_level = c1.selectbox("Treated level", levels, index=levels.index(treated_level),
                                 key=f"explore_treated_level_{treatment}", format_func=str)

result = attempt(subgroup_table, df, treatment, outcome, by, treated_level=treated_level, max_levels=MAX_LEVELS,
                 what="The subgroup table")
if result is None:
    st.caption("Tip: for a text treatment, set its treated level on the Roles page.")
else:
    if result.reversal and result.reversal_within_noise:
        st.warning(f"**Apparent Simpson's reversal on `{by}`, within noise.** {result.explanation}",
                   icon=":material/blur_on:")
    elif result.reversal:
        st.error(f"**Simpson's reversal on `{by}`.** {result.explanation}", icon=":material/swap_vert:")
    else:
        st.info(result.explanation)
    for warning in result.warnings:
        st.warning(warning)
    st.plotly_chart(subgroup_chart(result, by=by, outcome=outcome), width="stretch", key="explore_chart")
    table = result.table.reset_index()
    table["stratum"] = table["stratum"].astype(str)
    table = table.rename(columns={
        "stratum": by, "n_treated": f"n {result.treated_label}", "n_control": f"n {result.control_label}",
        "mean_treated": f"mean {outcome}: {result.treated_label}",
        "mean_control": f"mean {outcome}: {result.control_label}",
        "difference": "difference", "std_error": "SE", "ci_low": "95% CI low", "ci_high": "95% CI high",
        "z": "z", "share_of_treated": f"share of {result.treated_label}",
        "share_of_control": f"share of {result.control_label}",
    })
    numbers = [f"mean {outcome}: {result.treated_label}", f"mean {outcome}: {result.control_label}", "difference",
               "SE", "95% CI low", "95% CI high"]
    shares = [f"share of {result.treated_label}", f"share of {result.control_label}"]
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.4g") for c in numbers}
                 | {"z": st.column_config.NumberColumn(format="%.2f")}
                 | {c: st.column_config.NumberColumn(format="percent") for c in shares})
    st.caption("Difference = treated mean minus control mean, with its standard error (unequal variances) and "
               "95% confidence interval; an interval containing 0 means the group's difference could be chance. "
               "Shares: each group's share of that arm's rows; unequal shares are what make the aggregate differ "
               "from the groups.")

st.divider()
st.subheader("Scan every column for a reversal")
st.caption(f"Repeats the comparison for every column with 2 to {MAX_LEVELS} values and lists those that reverse "
           f"the aggregate comparison of `{outcome}` by `{treatment}`.")
if st.button("Scan all columns", key="explore_scan"):
    set_page_value("_explore_scan_requested", True)
if page_value("_explore_scan_requested"):
    scan = _scan(dataset.version, df, treatment, outcome, treated_level)
    if scan is not None:
        try:
            reversing = scan[scan["reversal"].fillna(False).astype(bool)]
            if len(reversing):
                noisy = reversing[reversing["within_noise"].fillna(False).astype(bool)]["column"].tolist()
                st.error(f"{len(reversing)} column(s) reverse the aggregate comparison: "
                         + ", ".join(f"`{c}`" for c in reversing["column"]) + "."
                         + (" Within noise (some 95% interval contains 0): " + ", ".join(f"`{c}`" for c in noisy)
                            + "." if noisy else ""), icon=":material/swap_vert:")
            else:
                st.success(f"No column among the {len(scan)} checked reverses the aggregate comparison.")
            st.dataframe(scan, hide_index=True, width="stretch", column_config={
                "column": "Column", "n_levels": "Groups", "overall_difference": st.column_config.NumberColumn(
                    "Aggregate difference", format="%.4g"),
                "min_difference": st.column_config.NumberColumn("Smallest within-group difference", format="%.4g"),
                "max_difference": st.column_config.NumberColumn("Largest within-group difference", format="%.4g"),
                "reversal": "Reversal", "within_noise": "Within noise", "explanation": st.column_config.TextColumn("Explanation", width="large"),
                "note": "Note"})
        except Exception as exc:
            show_error(exc, "Showing the scan")
link_to("pages/4_Estimate.py", "Next: estimate the effect", icon=":material/arrow_forward:")
