"""Stable learning page: an ordinary and a decorrelation-weighted linear model, judged across environments."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from causal_core.core.formatting import format_number
from causal_core.core.labels import labelled_table
from causal_core.charts.stable_learning import coefficients_figure, environment_errors_figure
from causal_core.studies.stable_learning import compare_across_environments, load_stable_sample
from pages._state import get_dataset, get_seed, page_value, set_page_value
from pages._ui import attempt, forget_choices_of_another_table

SOURCE_LOADED = "The loaded table"
SOURCE_SAMPLE = "Bundled simulation (environments b=+2 ... b=-2)"
BY_COLUMN = "Split by a column"
BY_SHIFT = "Simulated shifts"
TASK_LABELS = {"regression": "Regression (weighted least squares)",
               "classification": "Classification (weighted logistic regression)"}


@st.cache_data(show_spinner=False)
def _sample() -> pd.DataFrame:
    return load_stable_sample()


def _show(table: pd.DataFrame, ordinary, stable, task: str) -> None:
    error_name = "misclassification rate" if task == "classification" else "RMSE"
    spread = table[["ordinary", "stable"]].std()
    left, right = st.columns(2)
    left.metric("Error spread, ordinary (SD)", format_number(spread["ordinary"]))
    right.metric("Error spread, stable (SD)", format_number(spread["stable"]))
    st.plotly_chart(environment_errors_figure(table, error_name=error_name), key="sl_errors_chart")
    st.dataframe(labelled_table(table), hide_index=True, key="sl_table")
    st.plotly_chart(coefficients_figure(ordinary.coefficients, stable.coefficients), key="sl_coef_chart")
    summary = stable.weights_summary
    st.caption(
        f"Decorrelation weights: effective sample size {summary['ess']:.0f} of {summary['n']} rows "
        f"(largest weight {summary['max']:.2f}); decorrelation loss {stable.decorrelation_before:.3g} with equal "
        f"weights, {stable.decorrelation_after:.3g} after reweighting."
    )


DATA_WIDGETS = ("sl_target", "sl_features", "sl_env_column", "sl_train_env", "sl_shift_feature")


def main() -> None:
    st.title("Stable learning")
    st.markdown(
        "A linear model that misses part of the signal leans on any feature that happens to track the missing "
        "part in the training data; where that association changes, its error grows. **Stable learning** "
        "reweights the training rows so that every feature is uncorrelated with the others (and their squares), "
        "then fits a weighted model whose coefficients reflect each feature's own relation with the target "
        "(global balancing / decorrelated weighted regression: Kuang et al. 2018, 2020; Shen et al. 2020)."
    )
    dataset = get_dataset()
    sources = [SOURCE_LOADED, SOURCE_SAMPLE] if dataset is not None else [SOURCE_SAMPLE]
    source = st.radio("Data", sources, key="sl_source", horizontal=True)
    sample = source == SOURCE_SAMPLE
    df = _sample() if sample else dataset.df
    forget_choices_of_another_table(DATA_WIDGETS, "sample" if sample else dataset.version, marker="_sl_data_key")
    numeric = [str(c) for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    if len(numeric) < 2:
        st.info("Stable learning needs a numeric target and at least one numeric feature.")
        return
    target = st.selectbox("Target", numeric, index=numeric.index("y") if "y" in numeric else 0, key="sl_target")
    candidates = [c for c in numeric if c != target]
    default = [c for c in ("s1", "s2", "s3", "v1", "v2") if c in candidates] if sample else candidates[:5]
    features = st.multiselect("Features", candidates, default=default, key="sl_features")
    task = st.selectbox("Task", list(TASK_LABELS), format_func=TASK_LABELS.get, key="sl_task")
    mode = st.radio("Environments", [BY_COLUMN, BY_SHIFT], key="sl_mode", horizontal=True,
                    help="Split the rows by a column that marks environments, or make shifted test sets by "
                         "biased resampling of a held-out half.")
    kwargs: dict = {}
    if mode == BY_COLUMN:
        options = [str(c) for c in df.columns if 2 <= df[c].nunique() <= 20 and str(c) != target
                   and str(c) not in features]
        if not options:
            st.info("No column with 2 to 20 values can mark environments; use simulated shifts instead.")
            return
        column = st.selectbox("Environment column", options,
                              index=options.index("environment") if "environment" in options else 0,
                              key="sl_env_column")
        levels = [str(v) for v in pd.unique(df[column].dropna())]
        train_level = st.selectbox("Train on environment", levels, key="sl_train_env")
        kwargs = {"environment_column": column, "train_environment": train_level}
    elif features:
        shift = st.selectbox("Feature whose association with the target shifts", features,
                             index=len(features) - 1 if "v1" not in features else features.index("v1"),
                             key="sl_shift_feature")
        kwargs = {"shift_feature": shift}
    if not features:
        st.info("Choose at least one feature.")
        return
    seed = get_seed()
    signature = ("sample" if sample else dataset.version, target, tuple(features), task, mode,
                 tuple(sorted((k, str(v)) for k, v in kwargs.items())), seed)
    if st.button("Train both models", key="sl_run", type="primary"):
        with st.spinner("Learning decorrelation weights..."):
            out = attempt(compare_across_environments, df, target, features, task=task, seed=seed,
                          what="Stable learning", **kwargs)
        set_page_value("_sl_result", (signature, out) if out is not None else None)
    stored = page_value("_sl_result")
    if stored is not None and stored[0] == signature:
        _show(*stored[1], task)
    elif stored is not None:
        st.info("The choices have changed; train again to see the comparison.")


main()
