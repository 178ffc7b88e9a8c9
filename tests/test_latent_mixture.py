"""latent_mixture: the ATE under a hidden discrete confounder, each solver, refusals and diagnostics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.studies.mixtures import latent_confounder_frame

PROXIES = ["proxy1", "proxy2", "proxy3", "proxy4"]
ROLES = cc.Roles(treatment="treat", outcome="outcome", proxies=PROXIES)


@pytest.fixture(scope="module")
def binary_design():
    return latent_confounder_frame(n=4000, seed=11)


@pytest.mark.parametrize("solver", ["em", "moments", "moments+em"])
def test_each_solver_recovers_the_ate_where_the_naive_contrast_is_far_off(binary_design, solver):
    df, truth = binary_design
    r = cc.estimate(df, ROLES, "latent_mixture", seed=1, solver=solver, n_boot=50, n_restarts=3)
    assert abs(r.estimate - truth["ATE"]) < 4 * r.std_error, (r.estimate, r.std_error, truth["ATE"])
    naive = r.diagnostics["naive_difference"]
    assert abs(naive - truth["ATE"]) > 4 * r.std_error  # confounding the method removes
    assert r.diagnostics["solver"] == solver
    weights = r.diagnostics["source_weights"]["weight"].to_numpy()
    # weights within 4 sampling SDs of a 4,000-row multinomial share (SD <= 0.008) plus proxy noise: 0.06
    assert np.max(np.abs(np.sort(weights) - np.sort(truth["weights"]))) < 0.06


def test_both_solvers_are_compared_when_both_run(binary_design):
    df, _ = binary_design
    r = cc.estimate(df, ROLES, "latent_mixture", seed=0, n_boot=30, n_restarts=2)
    assert r.diagnostics["solver"] == "moments+em"
    table = r.diagnostics["solver_comparison"]
    assert list(table["solver"]) == ["moments", "moments+em"]
    assert table["log_likelihood"].iloc[1] >= table["log_likelihood"].iloc[0] - 1e-6  # EM only climbs
    assert abs(r.diagnostics["agreement_ate_difference"]) < 0.05
    do = r.diagnostics["interventional"]
    np.testing.assert_allclose(do[["P(Y=0|do(T=t))", "P(Y=1|do(T=t))"]].sum(axis=1), 1.0)
    assert do["E[Y|do(T=t)]"].diff().iloc[1] == pytest.approx(r.estimate)
    proxies = r.diagnostics["proxy_distributions"]
    np.testing.assert_allclose(proxies.groupby("proxy")[["source 1", "source 2"]].sum().to_numpy(), 1.0)


def test_gaussian_outcome_within_sources():
    df, truth = latent_confounder_frame(n=2000, seed=5, outcome="gaussian")
    r = cc.estimate(df, ROLES, "latent_mixture", seed=0, n_boot=30, n_restarts=2)
    assert r.diagnostics["outcome_model"] == "gaussian"
    assert abs(r.estimate - truth["ATE"]) < 4 * r.std_error
    assert abs(r.diagnostics["naive_difference"] - truth["ATE"]) > 4 * r.std_error


def test_text_proxies_give_the_same_answer_as_numeric_ones(binary_design):
    df, _ = binary_design
    df = df.iloc[:1500]
    as_text = df.assign(proxy2=np.where(df["proxy2"] == 1, "yes", "no"))
    numeric = cc.estimate(df, ROLES, "latent_mixture", seed=0, n_boot=20, n_restarts=2)
    text = cc.estimate(as_text, ROLES, "latent_mixture", seed=0, n_boot=20, n_restarts=2)
    assert text.estimate == pytest.approx(numeric.estimate, abs=1e-8)


def test_k_auto_chooses_two_sources_by_bic(binary_design):
    df, _ = binary_design
    r = cc.estimate(df, ROLES, "latent_mixture", k="auto", n_boot=20, n_restarts=2)
    assert r.diagnostics["k"] == 2
    assert set(r.diagnostics["k_selection"]["k"]) == {1, 2}  # four binary proxies identify at most k=2


@pytest.mark.parametrize("proxies, options, message", [
    (PROXIES[:3], {"k": 3}, "'k'=3 is too large for the proxies.*at most k=2"),
    (PROXIES[:2], {"k": 2}, "'k'=2 is too large.*at least three conditionally independent proxies"),
    (PROXIES, {"k": 3, "solver": "moments"}, "'k'=3 is too large for the proxies"),
    (PROXIES, {"k": 0}, "'k' option of method 'latent_mixture' must be one of"),
    (PROXIES, {"solver": "magic"}, "'solver' option of method 'latent_mixture' must be one of"),
    (PROXIES, {"outcome_model": "poisson"}, "'outcome_model' option of method 'latent_mixture' must be one of"),
    (PROXIES, {"n_boot": 5}, "'n_boot' option of method 'latent_mixture' must be an integer from 20 to 5000"),
])
def test_refusals(binary_design, proxies, options, message):
    df, _ = binary_design
    roles = cc.Roles(treatment="treat", outcome="outcome", proxies=proxies)
    with pytest.raises(cc.CausalInputError, match=message):
        cc.estimate(df.iloc[:500], roles, "latent_mixture", **options)


def test_continuous_proxy_is_refused_with_its_name(binary_design):
    df, _ = binary_design
    df = df.iloc[:300].assign(proxy4=np.linspace(0, 1, 300))
    with pytest.raises(cc.CausalInputError, match="Proxy column 'proxy4' has 300 distinct values"):
        cc.estimate(df, ROLES, "latent_mixture")


def test_confounders_are_ignored_with_a_warning(binary_design):
    df, _ = binary_design
    df = df.iloc[:800].assign(x=np.arange(800) % 7)
    roles = cc.Roles(treatment="treat", outcome="outcome", proxies=PROXIES, confounders=["x"])
    r = cc.estimate(df, roles, "latent_mixture", n_boot=20, n_restarts=1)
    assert any("Confounders are ignored" in w for w in r.warnings)


def test_bundled_sample_files_equal_a_fresh_simulation():
    from causal_core.datasets.simulate import latent_confounder_sample, repeated_measurements_sample

    pd.testing.assert_frame_equal(cc.load_sample("latent_confounder"), latent_confounder_sample()[0],
                                  check_dtype=False)
    stored = pd.read_csv(cc.get_sample("latent_confounder").path.parent / "repeated_measurements.csv")
    pd.testing.assert_frame_equal(stored, repeated_measurements_sample()[0], check_dtype=False)
    assert cc.get_sample("latent_confounder").effect == pytest.approx(0.22)


def test_mixtures_page_fits_coins_refuses_large_k_and_estimates_the_hidden_confounder():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/9_Mixtures.py").run()
    assert not at.exception and not at.error
    at.button(key="mix_iid_fit").click().run()
    assert not at.exception and not at.error
    fit = at.session_state["mix_iid_result"]
    # bundled truth: weights (0.35, 0.65), biases (0.2, 0.7); 1,000 units give SDs near 0.03
    np.testing.assert_allclose(fit.biases, (0.2, 0.7), atol=0.12)
    at.number_input(key="mix_iid_k").set_value(4).run()
    at.button(key="mix_iid_fit").click().run()
    assert not at.exception
    assert any("too large" in e.value for e in at.error)

    at.button(key="mix_latent_load").click().run()
    assert not at.exception
    at.number_input(key="mix_latent_boot").set_value(40).run()
    at.button(key="mix_latent_run").click().run()
    assert not at.exception
    _, result, error = at.session_state["mix_latent_result"]
    assert error is None
    assert abs(result.estimate - 0.22) < 4 * result.std_error
    at.switch_page("pages/2_Roles.py").run()  # state survives moving between pages
    at.switch_page("pages/9_Mixtures.py").run()
    assert not at.exception and at.session_state["mix_latent_result"][1] is result
