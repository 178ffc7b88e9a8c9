"""Stable learning: decorrelation weights, stable vs ordinary models across environments, and its page."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import causal_core as cc
from causal_core.charts.stable_learning import coefficients_figure, environment_errors_figure
from causal_core.studies.stable_learning import (
    compare_across_environments, decorrelation_loss, decorrelation_weights, load_stable_sample,
    stable_fit, stable_learning_data,
)

FEATURES = ["s1", "s2", "s3", "v1", "v2"]
PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "11_Stable_learning.py")


@pytest.fixture(scope="module")
def comparison():
    df = stable_learning_data(1000, seed=1)
    return compare_across_environments(df, "y", FEATURES, "environment", train_environment="b=+2")


def test_stable_model_error_varies_less_across_environments(comparison):
    table, ordinary, stable = comparison
    assert list(table["environment"]) == ["b=+2", "b=+1", "b=+0", "b=-1", "b=-2"]
    # each RMSE has sampling SD about 0.03 at n = 1000; the spreads differ by ~0.5 (measured 0.64 vs 0.08)
    assert table["stable"].std() < table["ordinary"].std() - 0.3, table
    assert table["stable"].max() < table["ordinary"].max() - 0.4, table


def test_stable_coefficients_on_unstable_features_shrink_toward_zero(comparison):
    _, ordinary, stable = comparison
    # OLS standard error of the v1 coefficient is about 0.025 here; 4 SE = 0.1
    assert ordinary.coefficients["v1"] > 0.5
    assert abs(stable.coefficients["v1"]) < 0.15 and abs(stable.coefficients["v2"]) < 0.1
    assert np.allclose(stable.coefficients[["s1", "s2", "s3"]], [1, 1, -1], atol=0.15)
    assert stable.decorrelation_after < stable.decorrelation_before / 100
    assert stable.weights_summary["ess"] > 0.5 * stable.weights_summary["n"]


def test_decorrelation_weights_are_positive_with_mean_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 1))
    X = np.column_stack([x, x + rng.normal(size=(500, 1))])
    weights, _ = decorrelation_weights(X)
    assert np.all(weights > 0) and abs(weights.mean() - 1) < 1e-9
    assert decorrelation_loss(X, weights) < 0.1 * decorrelation_loss(X, np.ones(500))


def test_classification_and_simulated_shifts_run():
    df = stable_learning_data(600, seed=2, biases=(2.0,))
    df = df.assign(high=(df["y"] > df["y"].median()).astype(int))
    table, ordinary, stable = compare_across_environments(df, "high", FEATURES, task="classification",
                                                          shift_feature="v1", seed=0)
    assert table.shape[0] == 7 and table[["ordinary", "stable"]].apply(lambda c: c.between(0, 1).all()).all()
    assert abs(stable.coefficients["v1"]) < abs(ordinary.coefficients["v1"])
    assert ((0 <= stable.predict(df)) & (stable.predict(df) <= 1)).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"features": ["s1", "environment"]}, "Feature column 'environment' is not numeric"),
        ({"task": "ranking"}, "'task' option of stable learning"),
        ({"features": ["s1", "y"]}, "Target column 'y' is also listed as a feature"),
        ({"task": "classification"}, "Target column 'y' must be 0/1"),
        ({"features": ["s1", "nope"]}, "Feature column 'nope' is not in the data"),
    ],
)
def test_stable_fit_refusals(kwargs, match):
    df = stable_learning_data(100, seed=0, biases=(1.0,))
    args = {"features": ["s1", "v1"], "task": "regression", **kwargs}
    with pytest.raises(cc.CausalInputError, match=match):
        stable_fit(df, "y", args["features"], args["task"])


def test_environment_refusals_and_input_untouched():
    df = stable_learning_data(100, seed=0, biases=(1.0, -1.0))
    before = df.copy(deep=True)
    with pytest.raises(cc.CausalInputError, match="Environment column 'site' is not in the data"):
        compare_across_environments(df, "y", FEATURES, "site")
    with pytest.raises(cc.CausalInputError, match=r"Training environment 'b=\+9' does not occur"):
        compare_across_environments(df, "y", FEATURES, "environment", train_environment="b=+9")
    compare_across_environments(df, "y", FEATURES, "environment")
    pd.testing.assert_frame_equal(df, before)


def test_sample_file_matches_its_generator_and_charts_build(comparison):
    pd.testing.assert_frame_equal(load_stable_sample(), stable_learning_data(), check_dtype=False, atol=1e-9)
    table, ordinary, stable = comparison
    assert len(environment_errors_figure(table).data) == 2
    assert len(coefficients_figure(ordinary.coefficients, stable.coefficients).data) == 2


def test_page_trains_both_models_on_the_sample():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="sl_train_env").set_value("b=+2").run()
    at.button(key="sl_run").click().run()
    assert not at.exception and not at.error, ([e.value for e in at.exception], [e.value for e in at.error])
    table = at.dataframe[0].value  # labelled columns, numbers as the one formatter writes them
    assert list(table.columns) == ["Environment", "N", "Ordinary", "Stable", "Training"]
    errors = table[["Ordinary", "Stable"]].apply(lambda column: column.str.replace(",", "").astype(float))
    assert errors["Stable"].std() < errors["Ordinary"].std()
    assert len(at.get("plotly_chart")) == 2


def test_page_shows_a_message_not_a_traceback():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.selectbox(key="sl_task").set_value("classification").run()
    at.button(key="sl_run").click().run()
    assert not at.exception
    assert at.error and "must be 0/1 for task 'classification'" in at.error[0].value


def test_switching_from_the_loaded_table_to_the_sample_gives_the_sample_defaults():
    """The loaded table's feature choice used to survive the switch as an empty multiselect (no run button)."""
    at = AppTest.from_file(str(Path(PAGE).parents[1] / "app.py"), default_timeout=60)
    at.run()
    at.selectbox(key="data_sample").set_value("lalonde_experimental").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/11_Stable_learning.py").run()
    assert at.radio(key="sl_source").value == "The loaded table"
    at.radio(key="sl_source").set_value("Bundled simulation (environments b=+2 ... b=-2)").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="sl_target").value == "y"
    assert at.multiselect(key="sl_features").value == ["s1", "s2", "s3", "v1", "v2"]
    assert at.selectbox(key="sl_env_column").value == "environment"
    assert at.button(key="sl_run") is not None
