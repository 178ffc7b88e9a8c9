"""Mechanism learning: weighted EM, front-door weights, deconfounded classifiers, validation."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier

import causal_core as cc
from causal_core.studies.mechanism import (fit_weighted_gmm, front_door_weights, mechanism_learning_data,
                                   mechanism_learning_sample_frame, select_weighted_gmm)

FEATURES = ["x1", "x2"]


@pytest.fixture(scope="module")
def three_clusters():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal([0, 0], 1, (300, 2)), rng.normal([4, 1], 0.5, (200, 2)),
                      rng.normal([0, 5], [1, 0.3], (250, 2))])


@pytest.mark.parametrize("k", [1, 2, 3])
def test_weighted_em_with_equal_weights_matches_sklearn(three_clusters, k):
    ours = fit_weighted_gmm(three_clusters, None, k, seed=0, n_init=3, tol=1e-7)
    sk = GaussianMixture(k, n_init=3, random_state=0, tol=1e-7, reg_covar=1e-6).fit(three_clusters)
    # Both EMs stop once an iteration raises the mean log-likelihood by less than tol = 1e-7; converging linearly
    # at rate r, they stop within tol * r / (1 - r) of the optimum, so abs=1e-4 holds for any rate up to 0.999
    # (not a machine's printout: the two start from different initialisations and BLAS kernels).
    assert ours.mean_log_likelihood == pytest.approx(sk.score(three_clusters), abs=1e-4)


def test_integer_weights_equal_duplicated_rows(three_clusters):
    rng = np.random.default_rng(1)
    rows = rng.integers(0, len(three_clusters), len(three_clusters))
    counts = np.bincount(rows, minlength=len(three_clusters)).astype(float)
    ours = fit_weighted_gmm(three_clusters, counts, 3, seed=0, tol=1e-7)
    sk = GaussianMixture(3, n_init=3, random_state=0, tol=1e-7).fit(three_clusters[rows])
    assert ours.mean_log_likelihood == pytest.approx(sk.score(three_clusters[rows]), abs=1e-4)  # as above


def test_bic_picks_the_true_number_of_components(three_clusters):
    best, bics = select_weighted_gmm(three_clusters, max_components=5)
    assert best.n_components == 3 and min(bics, key=bics.get) == 3


def test_discrete_front_door_weights_match_the_formula():
    once = pd.DataFrame({"y": [0, 0, 0, 1, 1, 1, 1, 1, 0, 1], "z": ["a", "a", "b", "a", "b", "b", "b", "a", "b", "b"]})
    df = pd.concat([once, once], ignore_index=True)  # each cause value needs 5 rows
    weights = front_door_weights(df, "y", "z")
    p = {0: {"a": 2 / 4, "b": 2 / 4}, 1: {"a": 2 / 6, "b": 4 / 6}}
    for level in (0, 1):
        raw = np.array([p[level][z] / p[y][z] for y, z in zip(df["y"], df["z"])])
        np.testing.assert_allclose(weights[level].to_numpy(), raw / raw.sum())


@pytest.mark.parametrize("level", [0, 1])
def test_front_door_weights_recover_the_interventional_mean(level):
    # under do(Y = y) the hidden confounder keeps its marginal, so E[x2 | do(y)] = 0.4 y exactly,
    # while the confounded E[x2 | y] is 0.4 y -/+ 0.96
    df = mechanism_learning_data(3000, seed=5)
    w = front_door_weights(df, "y", "z")[level].to_numpy()
    x2 = df["x2"].to_numpy()
    mean = np.sum(w * x2)
    se = np.sqrt(np.sum(w**2 * (x2 - mean) ** 2))
    assert abs(mean - 0.4 * level) < 4 * se, (mean, se)
    assert abs(df.loc[df["y"] == level, "x2"].mean() - 0.4 * level) > 0.8


def _paired_gap(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[float, float]:
    diff = correct_a.astype(float) - correct_b.astype(float)
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(diff.size))


@pytest.fixture(scope="module")
def simulation():
    train = mechanism_learning_data(1000, seed=11, confounding=0.9)
    test = mechanism_learning_data(4000, seed=12, confounding=0.5)
    return train, test


@pytest.mark.parametrize("method", ["cw_gmm", "bootstrap"])
@pytest.mark.parametrize(
    "make_classifier",
    [LogisticRegression, GaussianNB, lambda: KNeighborsClassifier(25)],
    ids=["logistic", "naive_bayes", "knn"],
)
def test_mechanism_learned_classifier_beats_naive_on_unconfounded_data(simulation, method, make_classifier):
    train, test = simulation
    deconfounded = front_door_resample_quiet(train, method)
    naive = make_classifier().fit(train[FEATURES], train["y"])
    learned = make_classifier().fit(deconfounded[FEATURES], deconfounded["y"])
    correct_learned = learned.predict(test[FEATURES]) == test["y"]
    correct_naive = naive.predict(test[FEATURES]) == test["y"]
    gap, se = _paired_gap(correct_learned, correct_naive)
    assert gap > 4 * se and gap > 0.05, (gap, se, correct_learned.mean(), correct_naive.mean())


def front_door_resample_quiet(train: pd.DataFrame, method: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error", cc.CausalWarning)  # no low-ESS warning expected here
        return cc.front_door_resample(train, "y", "z", FEATURES, method=method, seed=0)


@pytest.mark.parametrize("method", ["cw_gmm", "bootstrap"])
def test_resample_shape_determinism_and_untouched_input(method):
    df = mechanism_learning_data(400, seed=3)
    before = df.copy(deep=True)
    a = cc.front_door_resample(df, "y", ["z"], FEATURES, method=method, n_samples=301, seed=4)
    b = cc.front_door_resample(df, "y", ["z"], FEATURES, method=method, n_samples=301, seed=4)
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["y"] + FEATURES and len(a) == 301
    share = (df["y"] == 1).mean()
    assert abs((a["y"] == 1).sum() - 301 * share) <= 1
    assert a["y"].is_monotonic_increasing  # one block per cause value
    diagnostics = a.attrs["front_door"]
    assert set(diagnostics["effective_sample_size"]) == {0, 1}
    if method == "bootstrap":
        assert a[FEATURES].merge(df[FEATURES], how="left", indicator=True)["_merge"].eq("both").all()


def test_discrete_text_mechanism_and_text_cause():
    df = mechanism_learning_data(600, seed=2)
    df = df.assign(y=np.where(df["y"] == 1, "sick", "healthy"), z=pd.cut(df["z"], 4, labels=list("abcd")).astype(str))
    out = cc.front_door_resample(df, "y", "z", FEATURES, method="bootstrap", seed=0)
    assert set(out["y"]) == {"sick", "healthy"}
    assert out.attrs["front_door"]["mechanism_discrete"] is True


def _base() -> pd.DataFrame:
    return mechanism_learning_data(200, seed=0)


@pytest.mark.parametrize(
    "kwargs, data_change, message",
    [
        ({"cause": "nope"}, None, "Column 'nope' given as cause is not in the data"),
        ({"mechanism": ["z", "zz"]}, None, "Column 'zz' given as mechanism is not in the data"),
        ({"features": ["x1", "x9"]}, None, "Column 'x9' given as feature is not in the data"),
        ({"features": ["x1", "z"]}, None, "Column 'z' is both a mechanism and a feature"),
        ({"features": ["y", "x1"]}, None, "Column 'y' is the cause"),
        ({"method": "gmm"}, None, "Method 'gmm' is not a front-door sampler"),
        ({"n_samples": 0}, None, "n_samples must be a positive integer"),
        ({"bogus": 1}, None, r"has no option\(s\) \['bogus'\]"),
        ({"mechanism_kind": "fuzzy"}, None, "Option 'mechanism_kind' must be"),
        ({}, lambda d: d.assign(y=np.arange(len(d))), "Cause column 'y' has 200 distinct values"),
        ({}, lambda d: d.assign(y=1), "Cause column 'y' is constant"),
        ({}, lambda d: d.assign(z=3.0), "Mechanism column 'z' is constant"),
        ({}, lambda d: d.assign(x2="a"), "Feature column 'x2' is not numeric"),
        ({}, lambda d: d.assign(y=np.r_[np.ones(3), np.zeros(197)]), "only 3 row"),
        ({"mechanism_kind": "continuous"}, lambda d: d.assign(z=np.where(d["z"] > 0, "a", "b")),
         "Mechanism column 'z' is not numeric"),
    ],
    ids=["cause", "mechanism", "feature", "double_role", "cause_as_feature", "method", "n_samples", "option",
         "mechanism_kind", "continuous_cause", "constant_cause", "constant_mechanism", "text_feature",
         "rare_level", "text_continuous_mechanism"],
)
def test_bad_input_is_refused(kwargs, data_change, message):
    df = _base()
    if data_change is not None:
        df = data_change(df)
    args = {"cause": "y", "mechanism": "z", "features": FEATURES, "method": "cw_gmm", **kwargs}
    with pytest.raises(cc.CausalInputError, match=message):
        cc.front_door_resample(df, **args)


def test_missing_rows_are_dropped_and_reported():
    df = _base()
    df.loc[:9, "x1"] = np.nan
    out = cc.front_door_resample(df, "y", "z", FEATURES, method="bootstrap")
    assert len(out) == 190 and out.attrs["front_door"]["n_dropped"] == 10


def test_sample_frame_matches_the_bundled_csv():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "sample_data" / "mechanism_learning.csv"
    stored = pd.read_csv(path)
    pd.testing.assert_frame_equal(stored, mechanism_learning_sample_frame(), check_dtype=False, atol=1e-6)
