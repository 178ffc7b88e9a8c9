"""Bundled samples: shapes, suggested roles, published benchmarks and reproducibility of the files."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from linearmodels.iv import IV2SLS

import causal_core as cc
from causal_core.core.data import prepare
from causal_core.datasets import simulate
from causal_core.datasets.samples import SIMPSON_COUNTS, simpson_recommendation_frame, simulated_sample_frame

LALONDE_COLUMNS = ["treat", "age", "educ", "black", "hispanic", "married", "nodegree",
                   "re74", "re75", "re78", "u74", "u75"]

SHAPES = {
    "lalonde_experimental": (445, 12),
    "lalonde_cps": (16177, 12),
    "lalonde_psid": (2675, 12),
    "nhefs": (1629, 12),
    "card": (3010, 34),
    "simpson_recommendation": (2000, 3),
    "simulated_linear": (2000, 7),
    "simulated_heterogeneous": (2000, 5),
    "simulated_kang_schafer": (1000, 10),
    "selection_survey": (3000, 6),
    "front_door": (2000, 4),
    "latent_confounder": (3000, 6),
}
IDS = [info.id for info in cc.list_samples()]


def test_catalogue_lists_every_file_once():
    assert sorted(IDS) == sorted(SHAPES)
    for info in cc.list_samples():
        assert info.path.exists(), info.filename
        assert info.effect_kind in ("truth", "benchmark", "none")
        assert (info.effect is None) == (info.effect_kind == "none")


@pytest.mark.parametrize("sample_id", IDS)
def test_sample_loads_with_shape_and_its_roles_prepare(sample_id):
    info = cc.get_sample(sample_id)
    df = cc.load_sample(sample_id)
    assert df.shape == SHAPES[sample_id]
    kind = "continuous" if sample_id == "card" else "binary"
    data = prepare(df, info.roles, treatment_kind=kind)
    assert data.n > 0
    if info.roles.confounders:
        assert data.X.shape[1] >= len(info.roles.confounders)


@pytest.mark.parametrize(
    "sample_id, n_treated, n_control",
    [("lalonde_experimental", 185, 260), ("lalonde_cps", 185, 15992), ("lalonde_psid", 185, 2490)],
)
def test_lalonde_files_share_columns_and_treated_rows(sample_id, n_treated, n_control):
    df = cc.load_sample(sample_id)
    assert list(df.columns) == LALONDE_COLUMNS
    assert df["treat"].value_counts().to_dict() == {1: n_treated, 0: n_control}
    assert (df["u74"] == (df["re74"] == 0)).all() and (df["u75"] == (df["re75"] == 0)).all()
    experimental = cc.load_sample("lalonde_experimental")
    pd.testing.assert_frame_equal(df[df["treat"] == 1].reset_index(drop=True),
                                  experimental[experimental["treat"] == 1].reset_index(drop=True))


def test_lalonde_experimental_benchmark_is_1794_dollars():
    df = cc.load_sample("lalonde_experimental")
    difference = df.loc[df["treat"] == 1, "re78"].mean() - df.loc[df["treat"] == 0, "re78"].mean()
    assert difference == pytest.approx(1794.34, abs=0.01)
    assert cc.get_sample("lalonde_cps").effect == pytest.approx(difference, abs=0.01)
    assert cc.get_sample("lalonde_psid").roles.confounders == (
        "age", "educ", "black", "hispanic", "married", "nodegree", "re74", "re75", "u74", "u75")


def test_nhefs_keeps_missing_outcomes_and_reproduces_hernan_robins_ipw():
    df = cc.load_sample("nhefs")
    assert int(df["wt82_71"].isna().sum()) == 63
    assert all(isinstance(df[c].dtype, pd.CategoricalDtype) for c in ("education", "exercise", "active"))
    data = prepare(df, cc.get_sample("nhefs").roles)
    assert data.n == 1566 and data.X.shape[1] == 14
    used = df.dropna(subset=["wt82_71"])
    model = smf.logit(
        "qsmk ~ sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)"
        " + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)", used).fit(disp=0)
    p = model.predict(used).to_numpy()
    t, y = used["qsmk"].to_numpy(), used["wt82_71"].to_numpy()
    w = np.where(t == 1, 1 / p, 1 / (1 - p))
    ate = np.sum(w * t * y) / np.sum(w * t) - np.sum(w * (1 - t) * y) / np.sum(w * (1 - t))
    assert ate == pytest.approx(3.44, abs=0.005)  # Hernán & Robins, Program 12.2: 3.44


def test_card_reproduces_wooldridge_2sls():
    df = cc.load_sample("card")
    roles = cc.get_sample("card").roles
    controls = " + ".join(roles.confounders)
    fit = IV2SLS.from_formula(f"lwage ~ 1 + {controls} + [educ ~ nearc4]", df).fit(cov_type="unadjusted")
    assert fit.params["educ"] == pytest.approx(0.1315, abs=5e-4)  # Wooldridge Example 15.4
    assert fit.std_errors["educ"] == pytest.approx(0.055, abs=1e-3)


def test_simpson_file_matches_counts():
    df = cc.load_sample("simpson_recommendation")
    pd.testing.assert_frame_equal(df, simpson_recommendation_frame())
    for (algorithm, income), (successes, users) in SIMPSON_COUNTS.items():
        part = df[(df["algorithm"] == algorithm) & (df["income"] == income)]
        assert (int(part["success"].sum()), len(part)) == (successes, users)
    roles = cc.get_sample("simpson_recommendation").roles
    assert roles.treated_level == "A" and roles.subgroups == ("income",)


@pytest.mark.parametrize("sample_id", ["simulated_linear", "simulated_heterogeneous", "simulated_kang_schafer",
                                       "selection_survey", "front_door"])
def test_simulated_files_equal_a_fresh_simulation(sample_id):
    stored, fresh = cc.load_sample(sample_id), simulated_sample_frame(sample_id)
    pd.testing.assert_frame_equal(stored, fresh, check_dtype=False, rtol=1e-9, atol=1e-12)
    info = cc.get_sample(sample_id)
    assert info.effect == info.true_effects[info.estimand]
    assert {"ATE", "ATT", "ATC", "SATE", "SATT", "SATC"} <= set(info.true_effects)


def test_loaded_frames_are_independent_copies():
    first = cc.load_sample("simpson_recommendation")
    first.loc[0, "success"] = 99
    assert cc.load_sample("simpson_recommendation").loc[0, "success"] != 99


@pytest.mark.parametrize("bad", ["lalonde", "", "NHEFS"])
def test_unknown_sample_id_lists_the_ids(bad):
    with pytest.raises(cc.CausalInputError, match=f"Unknown sample '{bad}'; choose one of: lalonde_experimental"):
        cc.load_sample(bad)


def test_unknown_simulated_id_raises():
    with pytest.raises(cc.CausalInputError, match="'nhefs' is not a simulated sample"):
        simulated_sample_frame("nhefs")


@pytest.mark.parametrize("function, option, message", [
    (simulate.outcome_dependent_selection, {"errors": "cauchy"}, "The 'errors' option must be one of"),
    (simulate.front_door_confounded, {"kind": "cubic"}, "The 'kind' option must be one of"),
])
def test_simulated_designs_refuse_unknown_shapes(function, option, message):
    with pytest.raises(cc.CausalInputError, match=message):
        function(n=50, seed=0, **option)
