"""The mechanism-learning page, driven through AppTest with widgets addressed by key."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from causal_core.studies.mechanism import mechanism_learning_data
from causal_core.studies.mechanism.evaluate import compare_classifiers

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages" / "7_Mechanism_learning.py")
TIMEOUT = 120


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_bundled_sample_trains_and_shows_both_classifiers():
    at = _page()
    at.selectbox(key="ml_method").set_value("bootstrap").run()
    at.button(key="ml_run").click().run()
    assert not at.exception and not at.error, ([e.value for e in at.exception], [e.value for e in at.error])
    metrics = at.dataframe[0].value  # labelled columns, numbers as the one formatter writes them
    assert list(metrics["Model"]) == ["Ordinary (confounded data)", "Mechanism-learned"]
    ordinary, learned = (float(v) for v in metrics["Accuracy"])
    assert learned > ordinary + 0.05, (learned, ordinary)  # the sample's test half is non-confounded
    assert len(at.get("plotly_chart")) == 1
    assert at.get("download_button")


def test_bad_choice_shows_a_message_not_a_traceback():
    at = _page()
    at.radio(key="ml_eval").set_value("Random held-out split").run()
    at.multiselect(key="ml_features").set_value(["x1", "split"]).run()  # text feature: cw_gmm refuses it
    at.button(key="ml_run").click().run()
    assert not at.exception
    assert at.error and "Feature column 'split' is not numeric" in at.error[0].value


def test_compare_classifiers_reports_metrics_and_rejects_unknown_classifier():
    import pytest

    import causal_core as cc

    train = mechanism_learning_data(600, seed=1)
    test = mechanism_learning_data(600, seed=2, confounding=0.5)
    result = compare_classifiers(train, test, "y", "z", ["x1", "x2"], method="bootstrap")
    assert isinstance(result.metrics, pd.DataFrame) and len(result.metrics) == 2
    assert all(m.to_numpy().sum() == 600 for m in result.confusion.values())
    with pytest.raises(cc.CausalInputError, match="Classifier 'tree' is unknown"):
        compare_classifiers(train, test, "y", "z", ["x1", "x2"], classifier="tree")
    with pytest.raises(cc.CausalInputError, match="Column 'x2' is not in the test table"):
        compare_classifiers(train, test.drop(columns="x2"), "y", "z", ["x1", "x2"])


def test_split_column_is_never_the_cause_or_a_feature():
    """With a loaded table, the first few-valued column used to be the cause itself, which the split then dropped."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    at.selectbox(key="data_sample").set_value("latent_confounder").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/7_Mechanism_learning.py").run()
    assert at.radio(key="ml_source").value == "The loaded table"
    used = {at.selectbox(key="ml_cause").value, *at.multiselect(key="ml_mechanism").value,
            *at.multiselect(key="ml_features").value}
    assert at.selectbox(key="ml_split_column").value not in used
    at.button(key="ml_run").click().run()
    assert not at.exception and not at.error, ([e.value for e in at.exception], [e.value for e in at.error])


def test_switching_from_the_loaded_table_to_the_sample_gives_the_sample_defaults():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    at.selectbox(key="data_sample").set_value("lalonde_experimental").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/7_Mechanism_learning.py").run()
    at.radio(key="ml_source").set_value("Bundled simulation (hidden confounder)").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="ml_cause").value == "y"
    assert at.multiselect(key="ml_mechanism").value == ["z"]
    assert at.multiselect(key="ml_features").value == ["x1", "x2"]
    assert at.selectbox(key="ml_split_column").value == "split"
