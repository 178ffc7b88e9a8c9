"""The exact Newton logit: the unpenalised MLE, the same on one chunk and on many, and a scikit-learn classifier."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import causal_core as cc
from causal_core.nuisance.models import default_propensity_model
from causal_core.nuisance.newton_logit import (NewtonLogit, column_moments, combine_moments, logit_chunk,
                                               newton_logit, standardisation, standardised_design)

LALONDE = ["age", "educ", "black", "hispanic", "married", "nodegree", "re74", "re75", "u74", "u75"]


@pytest.fixture(scope="module")
def lalonde():
    df = cc.load_sample("lalonde_psid")
    return df[LALONDE].to_numpy(float), df["treat"].to_numpy()


def test_the_fit_solves_the_score_equations_and_matches_statsmodels(lalonde):
    import statsmodels.api as sm

    X, t = lalonde
    model = NewtonLogit().fit(X, t)
    assert model.converged_ and model.n_iter_ < 20
    Z = standardised_design(X, model.mean_, model.scale_)
    p = model.predict_proba(X)[:, 1]
    # at the MLE the score Z'(t - p) is zero up to rounding of n terms of size ~1 (n * eps ~ 5e-13)
    assert np.max(np.abs(Z.T @ (t - p))) < 1e-9
    reference = sm.Logit(t, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-14, maxiter=200)
    # both are the exact MLE: coefficients agree to the rounding the design's conditioning allows
    np.testing.assert_allclose(model.coef_[0], reference.params[1:], rtol=1e-8)
    np.testing.assert_allclose(p, reference.predict(sm.add_constant(X)), rtol=0, atol=1e-12)


def test_many_chunks_give_the_one_chunk_fit(lalonde):
    X, t = lalonde
    whole = NewtonLogit().fit(X, t)
    chunks = np.array_split(np.arange(t.size), 7)
    moments = column_moments(X[chunks[0]])
    for rows in chunks[1:]:
        moments = combine_moments(moments, column_moments(X[rows]))
    mean, sd = standardisation(moments)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(sd, X.std(axis=0), rtol=1e-12)
    designs = [(standardised_design(X[rows], mean, sd), t[rows]) for rows in chunks]
    fit = newton_logit(lambda beta: [logit_chunk(Z, tt, beta) for Z, tt in designs], X.shape[1] + 1)
    assert fit.converged
    np.testing.assert_allclose(fit.beta, whole.beta_, rtol=1e-10, atol=1e-12)


def test_it_is_a_scikit_learn_classifier_and_the_default_propensity_model(lalonde):
    X, t = lalonde
    assert isinstance(default_propensity_model(), NewtonLogit)
    labels = np.where(t == 1, "trained", "control")
    model = clone(NewtonLogit(max_iter=30)).fit(X, labels)
    assert list(model.classes_) == ["control", "trained"] and model.get_params()["max_iter"] == 30
    piped = make_pipeline(StandardScaler(), NewtonLogit()).fit(X, labels)
    np.testing.assert_allclose(piped.predict_proba(X), model.predict_proba(X), atol=1e-12)  # affine invariance
    assert set(model.predict(X)) <= {"control", "trained"}
    np.testing.assert_allclose(model.decision_function(X), X @ model.coef_[0] + model.intercept_[0], atol=1e-9)


def test_the_default_ipw_uses_it():
    df = cc.load_sample("lalonde_psid")
    roles = cc.Roles(treatment="treat", outcome="re78", confounders=LALONDE)
    r = cc.estimate(df, roles, "ipw", estimand="ATT")
    want = NewtonLogit().fit(df[LALONDE].to_numpy(float), df["treat"].to_numpy()).predict_proba(
        df[LALONDE].to_numpy(float))[:, 1]
    # the engine's prepared design rounds differently in the last bits; the old lbfgs fit (tol 1e-4) was up to 2e-3 away
    np.testing.assert_allclose(r.diagnostics["propensity"], want, rtol=1e-10, atol=1e-14)


def test_non_convergence_warns_instead_of_passing_silently():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    t = (X.sum(axis=1) > 0).astype(int)  # separated by a combination: the likelihood has no maximum
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = NewtonLogit().fit(X, t)
    assert not model.converged_
    assert any(issubclass(w.category, ConvergenceWarning) and "did not converge" in str(w.message) for w in caught)


def test_one_class_is_refused():
    with pytest.raises(cc.CausalInputError, match="exactly 2 treatment values; got 1"):
        NewtonLogit().fit(np.ones((5, 1)), np.zeros(5))
