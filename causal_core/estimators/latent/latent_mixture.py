"""Latent discrete confounder: learn a k-source mixture from proxies, then adjust for the hidden source.

An unobserved discrete U acts on treatment and outcome; the proxies are
discrete and independent of each other and of (T, Y) given U. The mixture
``P(U), P(proxy_j | U), P(T | U), P(Y | T, U)`` is learnt by EM (seeded random
restarts), by Jennrich's moment solver, or by EM started from the moments, and
the effect is the back-door adjustment over the learnt source:
``P(Y | do(t)) = sum_u P(u) P(Y | t, u)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData
from causal_core.core.limits import MethodLimits
from causal_core.core.options import n_boot_option
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.inference import bootstrap, Bootstrap
from causal_core.studies.mixtures.em import fit_em
from causal_core.studies.mixtures.encoding import MAX_OUTCOME_LEVELS, codes_from_values, proxy_codes_from_prepared
from causal_core.studies.mixtures.fit import SOLVERS, MixtureFit, fit_latent_mixture, moment_parameters
from causal_core.studies.mixtures.identifiability import kruskal_identifiable
from causal_core.studies.mixtures.latent_class import LatentClassData, LatentClassParameters, align_to, interventional_means

__all__ = ["latent_mixture", "encode_latent_class_data"]

K_CHOICES = (2, 3, 4, 1, "auto")
OUTCOME_MODELS = ("auto", "discrete", "gaussian")
AUTO_K_RANGE = (1, 2, 3, 4)


def encode_latent_class_data(data: PreparedData, outcome_model: str = "auto"
                             ) -> tuple[LatentClassData, np.ndarray]:
    """Encode proxies, treatment and outcome; compress identical rows when the outcome is discrete.

    Returns the (compressed) data and, for each original row, the index of its pattern.
    """
    codes, levels = proxy_codes_from_prepared(data.P, data.P_names, data.roles.proxies)
    t = data.t.astype(int)
    y = data.y
    whole = np.all(np.isclose(y, np.round(y)))
    discrete = outcome_model == "discrete" or (
        outcome_model == "auto" and whole and np.unique(y).size <= MAX_OUTCOME_LEVELS
    )
    if not discrete:
        return LatentClassData(codes, levels, t, y.astype(float), None, np.ones(t.size)), np.arange(t.size)
    y_codes, y_values = codes_from_values(y, data.roles.outcome, role="outcome", max_levels=MAX_OUTCOME_LEVELS)
    stacked = np.column_stack([codes, t, y_codes])
    patterns, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    compressed = LatentClassData(patterns[:, :-2], levels, patterns[:, -2], patterns[:, -1], y_values,
                                 counts.astype(float))
    return compressed, inverse.ravel()


def _bic(fit: MixtureFit, n: int) -> float:
    return float(-2 * fit.log_likelihood + fit.params.n_free_parameters() * np.log(n))


def _choose_k(encoded: LatentClassData, *, solver: str, n_restarts: int, seed: int) -> tuple[int, pd.DataFrame]:
    rows = []
    fits = {}
    for k in AUTO_K_RANGE:
        if not kruskal_identifiable(encoded.levels, k).holds:
            continue
        fit = fit_latent_mixture(encoded, k, solver="em" if k == 1 else solver, n_restarts=n_restarts, seed=seed)
        fits[k] = fit
        rows.append({"k": k, "log_likelihood": fit.log_likelihood,
                     "parameters": fit.params.n_free_parameters(), "bic": _bic(fit, encoded.n_rows)})
    table = pd.DataFrame(rows)
    return int(table.loc[table["bic"].idxmin(), "k"]), table


def _ate(params: LatentClassParameters, outcome_values) -> float:
    means = interventional_means(params, outcome_values)
    return float(means[1] - means[0])


def _refit(encoded: LatentClassData, counts: np.ndarray, fit: MixtureFit, k: int, seed: int) -> float:
    """ATE on a bootstrap replicate: EM from the full-data solution (or the moment solver alone)."""
    replicate = encoded.with_counts(counts)
    if fit.solver == "moments":
        params, _ = moment_parameters(replicate, k, seed=seed)
        params = align_to(params, fit.params)
    else:
        params = fit_em(replicate, k, n_restarts=0, start=fit.params, tol=1e-8, max_iter=500).params
    return _ate(params, encoded.outcome_values)


def _tables(params: LatentClassParameters, data: PreparedData, encoded: LatentClassData, levels_text: dict
            ) -> dict[str, pd.DataFrame]:
    k = params.k
    sources = [f"source {u + 1}" for u in range(k)]
    if params.outcome_probs is not None:
        within = params.outcome_probs @ np.asarray(encoded.outcome_values)
    else:
        within = params.outcome_mean
    source_table = pd.DataFrame({
        "source": sources,
        "weight": params.weights,
        "P(T=1|source)": params.treat_prob,
        "E[Y|T=0,source]": within[:, 0],
        "E[Y|T=1,source]": within[:, 1],
        "effect within source": within[:, 1] - within[:, 0],
    })
    proxy_rows = []
    for j, proxy in enumerate(data.roles.proxies):
        for level in range(encoded.levels[j]):
            row = {"proxy": proxy, "level": levels_text[proxy][level]}
            row.update({sources[u]: float(params.proxy_probs[j][u, level]) for u in range(k)})
            proxy_rows.append(row)
    means = interventional_means(params, encoded.outcome_values)
    do_table = pd.DataFrame({"treatment": [str(data.control_level), str(data.treated_level)],
                             "E[Y|do(T=t)]": means})
    if params.outcome_probs is not None:
        for level, value in enumerate(encoded.outcome_values):
            do_table[f"P(Y={value:g}|do(T=t))"] = params.weights @ params.outcome_probs[:, :, level]
        outcome_rows = []
        for u in range(k):
            for arm, label in ((0, data.control_level), (1, data.treated_level)):
                row = {"source": sources[u], "treatment": str(label)}
                row.update({f"P(Y={v:g})": float(params.outcome_probs[u, arm, i])
                            for i, v in enumerate(encoded.outcome_values)})
                outcome_rows.append(row)
        outcome_table = pd.DataFrame(outcome_rows)
    else:
        outcome_table = pd.DataFrame({
            "source": np.repeat(sources, 2),
            "treatment": [str(label) for _ in range(k) for label in (data.control_level, data.treated_level)],
            "mean": params.outcome_mean.ravel(), "sd": params.outcome_sd.ravel(),
        })
    return {"interventional": do_table, "source_weights": source_table,
            "proxy_distributions": pd.DataFrame(proxy_rows), "outcome_distributions": outcome_table}


def _proxy_level_labels(data: PreparedData, levels: tuple[int, ...]) -> dict[str, list[str]]:
    labels = {}
    names = list(data.P_names)
    for j, proxy in enumerate(data.roles.proxies):
        if proxy in names:
            values = np.unique(data.P[:, names.index(proxy)])
            labels[proxy] = [f"{v:g}" for v in values]
        else:
            block = [name.split("=", 1)[1] for name in names if name.startswith(f"{proxy}=")]
            labels[proxy] = ["(first level)"] + block
    return labels


@register(
    id="latent_mixture",
    label="Latent discrete confounder (mixture of sources)",
    family="Hidden confounding",
    required_roles=("proxies",),
    estimands=("ATE",),
    summary=(
        "Learns a hidden discrete confounder with k states from conditionally independent discrete proxies "
        "(EM and/or Jennrich moments), then adjusts: P(Y|do(t)) = sum_u P(u) P(Y|t,u)."
    ),
    reference=(
        "Kuroki & Pearl (2014) Biometrika 101(2); Allman, Matias & Rhodes (2009) Ann. Statist. 37(6A); "
        "Anandkumar et al. (2014) JMLR 15; Gordon, Mazaheri, Rabani & Schulman (2021) COLT."
    ),
    options=(
        OptionSpec("k", "choice", 2, "Number of hidden confounder states ('auto': BIC over 1..4).",
                   choices=K_CHOICES),
        OptionSpec("solver", "choice", "auto",
                   "EM, Jennrich moments, or EM started from the moments ('auto': moments+em when identifiable).",
                   choices=SOLVERS),
        OptionSpec("n_restarts", "int", 10, "Seeded random EM starts.", low=0, high=1000),
        n_boot_option(200),
        OptionSpec("outcome_model", "choice", "auto",
                   "Discrete (at most 10 whole-number values) or Gaussian within each source.",
                   choices=OUTCOME_MODELS),
    ),
    limits=MethodLimits(min_rows_per_arm=10, covariate_roles=("proxies",)),
    default_ticked=True, order=240,
    cheap_test_options=(("n_boot", 20), ("n_restarts", 1)),
)
def latent_mixture(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    k: Any = 2,
    solver: str = "auto",
    n_restarts: int = 10,
    n_boot: int = 200,
    outcome_model: str = "auto",
) -> MethodOutput:
    """ATE under a hidden discrete confounder identified by proxies; bootstrap SE and percentile CI."""
    k = k if k == "auto" else int(k)  # options checked by causal_core.core.options
    encoded, row_pattern = encode_latent_class_data(data, outcome_model)
    warnings: list[str] = []
    if data.roles.confounders:
        warnings.append("Confounders are ignored by this method; it adjusts only for the hidden source.")
    k_table = None
    if k == "auto":
        k, k_table = _choose_k(encoded, solver=solver, n_restarts=n_restarts, seed=seed)
    fit = fit_latent_mixture(encoded, k, solver=solver, n_restarts=n_restarts, seed=seed)
    warnings.extend(fit.warnings)
    params = fit.params
    estimate = _ate(params, encoded.outcome_values)

    n_patterns = encoded.t.size

    def statistic(idx: np.ndarray) -> float:
        counts = np.bincount(row_pattern[idx], minlength=n_patterns).astype(float)
        return _refit(encoded, counts, fit, k, seed)

    if np.min(params.weights) < 0.02 and k > 1:
        warnings.append(f"One source has weight {np.min(params.weights):.3f}; k={k} may be more sources than the "
                        "data support (try k='auto').")
    if k > 1 and np.any((params.treat_prob < 0.01) | (params.treat_prob > 0.99)):
        warnings.append("In some source almost no one (or everyone) is treated; its within-source effect is "
                        "an extrapolation (weak overlap within sources).")
    restart_lls = np.asarray(fit.em_fit.restart_log_likelihoods) if fit.em_fit is not None else np.array([])
    naive = float(data.y[data.treated].mean() - data.y[~data.treated].mean())
    levels_text = _proxy_level_labels(data, encoded.levels)
    diagnostics: dict[str, Any] = {
        **_tables(params, data, encoded, levels_text),
        "k": int(k),
        "solver": fit.solver,
        "outcome_model": "discrete" if encoded.discrete_outcome else "gaussian",
        "log_likelihood": fit.log_likelihood,
        "bic": _bic(fit, encoded.n_rows),
        "naive_difference": naive,
        "identifiability": fit.identifiability.detail,
        "identifiable_max_k": fit.identifiability.max_k,
        "moment_condition": fit.moment_identifiability.detail,
        "moment_condition_holds": fit.moment_identifiability.holds,
    }
    inference = Bootstrap(statistic, n_boot=n_boot, detail="bootstrap (EM warm-started at the full-data fit)"
                          if fit.solver != "moments" else "bootstrap (moment solver refitted)")
    if restart_lls.size:
        diagnostics["em_runs"] = int(restart_lls.size)
        diagnostics["em_runs_below_best"] = int(np.sum(restart_lls < fit.log_likelihood - 0.01))
    if fit.moment_params is not None:
        rows = [{"solver": "moments", "log_likelihood": fit.moment_log_likelihood,
                 "ATE": _ate(fit.moment_params, encoded.outcome_values)}]
        if fit.em_fit is not None:
            rows.append({"solver": fit.solver, "log_likelihood": fit.log_likelihood, "ATE": estimate})
        diagnostics["solver_comparison"] = pd.DataFrame(rows)
        diagnostics.update({f"agreement_{key}": value for key, value in fit.agreement.items()})
    if k_table is not None:
        diagnostics["k_selection"] = k_table
    return MethodOutput(estimate=estimate, inference=inference, diagnostics=diagnostics, warnings=tuple(warnings))
