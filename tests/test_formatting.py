"""The one number formatter (causal_core.core.formatting) and the one catalogue of named models."""
from __future__ import annotations

import numpy as np
import pytest

from causal_core.core.errors import CausalInputError
from causal_core.core.formatting import format_interval, format_number, format_table_value
from causal_core.estimators.heterogeneity.meta_learners import base_regressor, final_regressor
from causal_core.nuisance.models import resolve_model


@pytest.mark.parametrize("value, digits, expected", [
    (1234.5678, 4, "1,234.57"), (0.0123456, 4, "0.01235"), (np.float64(-2.5), 4, "-2.500"), (12345, 4, "12,345"),
    (np.int64(7), 4, "7"), (float("nan"), 4, ""), (float("inf"), 4, "inf"), (None, 4, ""), (True, 4, "True"),
    ("text", 4, "text"), (1.2345678, 6, "1.23457"), (-15204.78, 4, "-15,204.78"), (2.5e-7, 4, "2.500e-07"),
])
def test_format_number(value, digits, expected):
    assert format_number(value, digits=digits) == expected


def test_format_interval():
    assert format_interval(1.23456, 2345.678) == "1.235 to 2,345.68"


@pytest.mark.parametrize("value, column, expected", [
    (0.0004, "p_value", "<0.001"), (0.25, "p_value", "0.250"), (1500.0, "n_used", "1,500"), (12.34, "ess_control", "12.34"),
    (1.234, "seconds", "1.23"), (1234.5, "", "1,234.50"), (0.5, "", "0.5000"), (float("nan"), "", ""), (3, "", "3"),
])
def test_format_table_value(value, column, expected):
    assert format_table_value(value, column) == expected


def test_named_models_are_fresh_seeded_and_objects_cloned():
    from sklearn.linear_model import LogisticRegression
    a = resolve_model("random_forest", option="propensity_model", method="ipw", kind="classifier", seed=5)
    b = resolve_model("random_forest", option="propensity_model", method="ipw", kind="classifier", seed=5)
    assert a is not b and a.get_params() == b.get_params() and a.random_state == 5 and a.n_estimators == 200
    given = LogisticRegression(C=2.0)
    cloned = resolve_model(given, option="propensity_model", method="ipw", kind="classifier", seed=0)
    assert cloned is not given and cloned.get_params() == given.get_params()
    assert resolve_model("default", option="propensity_model", method="ipw", kind="classifier", seed=0) is None


def test_meta_learner_models_come_from_the_catalogue_with_their_own_settings():
    assert base_regressor("random_forest", method="t_learner", seed=1).n_estimators == 100
    assert type(base_regressor(None, method="t_learner", seed=1)).__name__ == "HistGradientBoostingRegressor"
    final = final_regressor("regularised_boosting", None, seed=2)
    assert (final.max_depth, final.learning_rate, final.min_samples_leaf, final.random_state) == (2, 0.05, 50, 2)
    assert final_regressor("random_forest", None, seed=2).min_samples_leaf == 50
    with pytest.raises(CausalInputError, match="'base_model' option of method 't_learner' must be one of"):
        base_regressor("svm", method="t_learner", seed=1)
