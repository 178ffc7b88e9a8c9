"""Mechanism learning page: train a classifier on front-door deconfounded samples and compare it with an ordinary one."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from causal_core.core.formatting import format_number
from causal_core.core.labels import labelled_table
from causal_core.charts.decision_boundary import decision_boundary_figure
from causal_core.datasets.table_reader import read_table
from causal_core.report.tables import frame_csv
from causal_core.studies.mechanism import load_mechanism_sample
from causal_core.studies.mechanism.evaluate import CLASSIFIERS, compare_classifiers
from pages._state import get_dataset, get_seed, page_value, set_page_value
from pages._ui import attempt, forget_choices_of_another_table

SOURCE_LOADED = "The loaded table"
SOURCE_SAMPLE = "Bundled simulation (hidden confounder)"
EVAL_SPLIT_COLUMN = "Rows marked by a column"
EVAL_RANDOM = "Random held-out split"
EVAL_UPLOAD = "Upload a non-confounded table"
SAMPLERS = {"cw_gmm": "Causally weighted Gaussian mixtures", "bootstrap": "Causal bootstrap (weighted resampling)"}


@st.cache_data(show_spinner=False)
def _sample() -> pd.DataFrame:
    return load_mechanism_sample()


def _defaults(columns: list[str], sample: bool) -> tuple[str, list[str], list[str]]:
    if sample:
        return "y", ["z"], ["x1", "x2"]
    return columns[0], columns[1:2], columns[2:4]


def _split(df: pd.DataFrame, seed: int, used: set[str]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    mode = st.radio("Judge the classifiers on", [EVAL_SPLIT_COLUMN, EVAL_RANDOM, EVAL_UPLOAD], key="ml_eval",
                    help="Ideally a table where the hidden confounding is absent (e.g. a randomised or "
                         "differently recruited sample).")
    if mode == EVAL_RANDOM:
        share = st.slider("Share of rows held out", 0.1, 0.5, 0.3, 0.05, key="ml_test_share")
        test = df.sample(frac=share, random_state=seed)
        return df.drop(index=test.index), test
    if mode == EVAL_SPLIT_COLUMN:
        # The marking column is dropped from both halves, so the cause, mechanism and features cannot mark them.
        candidates = [c for c in df.columns if str(c) not in used and 2 <= df[c].nunique() <= 10]
        if not candidates:
            st.info("No column with 2 to 10 values, other than the cause, mechanism and features, marks a test "
                    "set; choose another way to judge.")
            return None
        default = candidates.index("split") if "split" in candidates else 0
        column = st.selectbox("Column marking the test rows", candidates, index=default, key="ml_split_column")
        values = [str(v) for v in pd.unique(df[column].dropna())]
        value = st.selectbox("Test rows are those where it equals", values,
                             index=values.index("test") if "test" in values else 0, key="ml_split_value")
        marked = df[column].astype(str) == value
        return df.loc[~marked].drop(columns=column), df.loc[marked].drop(columns=column)
    upload = st.file_uploader("Non-confounded test table", type=["csv", "tsv", "txt", "xlsx", "parquet"],
                              key="ml_upload")
    if upload is None:
        st.info("Upload a table with the cause and feature columns to judge the classifiers on.")
        return None
    test = attempt(read_table, upload.getvalue(), upload.name, what="Reading the test table")
    if test is None:
        return None
    return df, test


def _show(result, features: list[str], cause: str, test: pd.DataFrame) -> None:
    st.subheader("Held-out performance")
    st.dataframe(labelled_table(result.metrics), hide_index=True)
    ess = result.diagnostics["effective_sample_size"]
    st.caption("Effective sample size of the front-door weights: "
               + ", ".join(f"{cause} = {level}: {format_number(value)}" for level, value in ess.items())
               + f" (of {result.diagnostics['n_used']} rows).")
    for message in result.diagnostics.get("warnings", ()):
        st.warning(message)
    columns = st.columns(len(result.confusion))
    for column, (name, matrix) in zip(columns, result.confusion.items()):
        column.markdown(f"**{name}**: confusion matrix")
        column.dataframe(matrix)
    if len(features) == 2:
        figure = attempt(decision_boundary_figure, result.models, test, features, cause,
                         title="Decision boundaries on the test rows", what="Drawing the decision boundaries")
        if figure is not None:
            st.plotly_chart(figure, key="ml_boundary")
    else:
        st.caption("Decision boundaries are drawn when exactly two features are chosen.")
    st.download_button("Download the deconfounded samples (CSV)", frame_csv(result.deconfounded),
                       file_name="deconfounded_samples.csv", mime="text/csv", key="ml_download")


DATA_WIDGETS = ("ml_cause", "ml_mechanism", "ml_features", "ml_split_column", "ml_split_value")


def main() -> None:
    st.title("Mechanism learning")
    st.markdown(
        "A hidden confounder can tie a label (the **cause**, e.g. a diagnosis) to features that do not "
        "reflect it, so a classifier learns a shortcut that fails where the confounding differs. "
        "When a **mechanism** carries every effect of the cause on the features, the front-door "
        "criterion gives samples of the features under *do(cause)*; a classifier trained on them leans "
        "only on the causal signal (Mao & Little, mechanism learning; Little & Badawy, causal bootstrap)."
    )
    dataset = get_dataset()
    sources = [SOURCE_LOADED, SOURCE_SAMPLE] if dataset is not None else [SOURCE_SAMPLE]
    source = st.radio("Data", sources, key="ml_source", horizontal=True)
    sample = source == SOURCE_SAMPLE
    df = _sample() if sample else dataset.df
    forget_choices_of_another_table(DATA_WIDGETS, "sample" if sample else dataset.version, marker="_ml_data_key")
    if sample:
        st.caption("2,000 confounded training rows and 2,000 non-confounded test rows (column 'split'); "
                   "cause y, mechanism z, features x1 (causal) and x2 (mostly the hidden confounder).")
    columns = [str(c) for c in df.columns]
    if len(columns) < 3:
        st.info("Mechanism learning needs at least three columns: a cause, a mechanism and a feature.")
        return
    cause_default, mechanism_default, feature_default = _defaults(columns, sample)
    cause = st.selectbox("Cause (the label to predict)", columns, index=columns.index(cause_default), key="ml_cause")
    mechanism = st.multiselect("Mechanism column(s)", [c for c in columns if c != cause],
                               default=[c for c in mechanism_default if c != cause], key="ml_mechanism")
    features = st.multiselect("Feature columns", [c for c in columns if c != cause and c not in mechanism],
                              default=[c for c in feature_default if c != cause and c not in mechanism],
                              key="ml_features")
    left, right = st.columns(2)
    method = left.selectbox("Deconfounding sampler", list(SAMPLERS), format_func=SAMPLERS.get, key="ml_method")
    classifier = right.selectbox("Classifier", list(CLASSIFIERS), format_func=CLASSIFIERS.get, key="ml_classifier")
    seed = get_seed()
    split = _split(df, seed, {cause, *mechanism, *features})
    if split is None:
        return
    train, test = split
    if not mechanism or not features:
        st.info("Choose at least one mechanism column and one feature column.")
        return
    data_key = "sample" if sample else dataset.version
    signature = (data_key, cause, tuple(mechanism), tuple(features), method, classifier, seed, len(train), len(test))
    if st.button("Train both classifiers", key="ml_run", type="primary"):
        with st.spinner("Deconfounding and training..."):
            result = attempt(compare_classifiers, train, test, cause, mechanism, features, classifier=classifier,
                             method=method, seed=seed, what="Mechanism learning")
        set_page_value("_ml_result", (signature, result) if result is not None else None)
    stored = page_value("_ml_result")
    if stored is not None and stored[0] == signature:
        _show(stored[1], features, cause, test)
    elif stored is not None:
        st.info("The choices have changed; train again to see the comparison.")


main()
