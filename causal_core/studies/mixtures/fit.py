"""Fit the latent class model with EM, the moment solver, or moments as EM's start, and compare them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causal_core.core.errors import CausalInputError, plain
from causal_core.core.seeds import check_seed
from causal_core.studies.mixtures.em import EMFit, fit_em
from causal_core.studies.mixtures.identifiability import IdentifiabilityReport, kruskal_identifiable, mix_prod_identifiable
from causal_core.studies.mixtures.latent_class import LatentClassData, LatentClassParameters, align_to, interventional_means, log_likelihood
from causal_core.studies.mixtures.moments_prod import conditional_from_view, fit_mix_prod_codes, view_cells

__all__ = ["SOLVERS", "MixtureFit", "moment_parameters", "fit_latent_mixture"]

SOLVERS = ("auto", "em", "moments", "moments+em")


@dataclass(frozen=True)
class MixtureFit:
    """The fitted latent class model and how the solvers compare.

    Attributes
    ----------
    params : LatentClassParameters
        The reported solution (sources in canonical order).
    log_likelihood : float
    solver : str
        The solver that produced ``params`` (``"em"``, ``"moments"`` or ``"moments+em"``).
    moment_params : LatentClassParameters or None
        The moment solution, when the moment solver ran.
    moment_log_likelihood : float or None
    em_fit : EMFit or None
    agreement : dict
        When both ran: largest absolute difference of weights, of proxy
        probabilities and of the ATE between the moment and the EM solutions.
    warnings : tuple of str
    identifiability : IdentifiabilityReport
        Kruskal's condition for the proxies.
    moment_identifiability : IdentifiabilityReport
        The moment solver's condition.
    """

    params: LatentClassParameters
    log_likelihood: float
    solver: str
    moment_params: LatentClassParameters | None
    moment_log_likelihood: float | None
    em_fit: EMFit | None
    agreement: dict
    warnings: tuple[str, ...]
    identifiability: IdentifiabilityReport
    moment_identifiability: IdentifiabilityReport


def moment_parameters(data: LatentClassData, k: int, *, seed: int = 0) -> tuple[LatentClassParameters, tuple[str, ...]]:
    """All model parameters by moments: Jennrich on the proxies, then linear solves for (T, Y) given U."""
    prod = fit_mix_prod_codes(data.proxies, data.levels, k, seed=seed, row_weights=data.counts)
    view_a = view_cells(data.proxies, data.levels, prod.views[0])
    t = data.t.astype(float)
    if data.discrete_outcome:
        n_levels = len(data.outcome_values)
        features = np.zeros((t.size, 2 * n_levels))
        features[np.arange(t.size), data.t * n_levels + data.y.astype(int)] = 1.0
        joint = np.clip(conditional_from_view(view_a, prod.view_a_probs, prod.weights, features, data.counts), 0, None)
        joint = joint.reshape(k, 2, n_levels) + 1e-9
        arm_mass = joint.sum(axis=2)
        treat_prob = np.clip(arm_mass[:, 1] / arm_mass.sum(axis=1), 1e-6, 1 - 1e-6)
        params = LatentClassParameters(prod.weights, prod.proxy_probs, treat_prob,
                                       outcome_probs=joint / arm_mass[:, :, None])
    else:
        y = data.y
        features = np.column_stack([1 - t, t, (1 - t) * y, t * y, (1 - t) * y**2, t * y**2])
        solved = conditional_from_view(view_a, prod.view_a_probs, prod.weights, features, data.counts)
        arm = np.clip(solved[:, :2], 1e-6, None)
        mean = solved[:, 2:4] / arm
        variance = solved[:, 4:6] / arm - mean**2
        spread = float(np.std(y)) or 1.0
        sd = np.sqrt(np.clip(variance, (0.05 * spread) ** 2, None))
        treat_prob = np.clip(arm[:, 1] / arm.sum(axis=1), 1e-6, 1 - 1e-6)
        params = LatentClassParameters(prod.weights, prod.proxy_probs, treat_prob, outcome_mean=mean, outcome_sd=sd)
    return params.canonical(), prod.warnings


def _agreement(a: LatentClassParameters, b: LatentClassParameters, outcome_values) -> dict:
    b = align_to(b, a)
    effect_a = np.diff(interventional_means(a, outcome_values))[0]
    effect_b = np.diff(interventional_means(b, outcome_values))[0]
    return {
        "max_weight_difference": float(np.max(np.abs(a.weights - b.weights))),
        "max_proxy_probability_difference": float(max(np.max(np.abs(p - q)) for p, q in zip(a.proxy_probs, b.proxy_probs))),
        "ate_difference": float(effect_b - effect_a),
    }


def fit_latent_mixture(
    data: LatentClassData,
    k: int,
    *,
    solver: str = "auto",
    n_restarts: int = 10,
    seed: int = 0,
) -> MixtureFit:
    """Fit k sources with the chosen solver.

    ``"auto"`` is ``"moments+em"`` when the moment solver's condition holds and
    ``"em"`` otherwise. With ``"moments+em"`` EM starts from the moment solution
    and from ``n_restarts`` random starts, and the best log-likelihood wins.

    Raises
    ------
    CausalInputError
        When Kruskal's condition fails for k (too many sources for the proxies),
        or when ``"moments"`` is asked for and its condition fails.
    """
    seed = check_seed(seed)
    if solver not in SOLVERS:
        raise CausalInputError(f"Option 'solver' must be one of {', '.join(SOLVERS)}; got {plain(solver)!r}.")
    report = kruskal_identifiable(data.levels, k)
    if not report.holds:
        raise CausalInputError(f"Option 'k'={k} is too large for the proxies: {report.detail}")
    moment_report = mix_prod_identifiable(data.levels, k)
    if solver == "auto":
        solver = "moments+em" if moment_report.holds else "em"
    if solver in ("moments", "moments+em") and not moment_report.holds:
        raise CausalInputError(f"Option solver='{solver}' cannot be used with k={k}: {moment_report.detail}")
    warnings: list[str] = []
    moment_params = moment_ll = None
    if solver in ("moments", "moments+em"):
        moment_params, notes = moment_parameters(data, k, seed=seed)
        moment_ll = log_likelihood(moment_params, data)
        warnings.extend(notes)
    em_fit = None
    if solver in ("em", "moments+em"):
        em_fit = fit_em(data, k, n_restarts=n_restarts, seed=seed, start=moment_params)
        if not em_fit.converged:
            warnings.append(f"EM stopped after {em_fit.n_iter} iterations without meeting its tolerance.")
    if em_fit is not None:
        params, ll = em_fit.params, em_fit.log_likelihood
    else:
        params, ll = moment_params, moment_ll
    agreement: dict = {}
    if moment_params is not None and em_fit is not None:
        agreement = _agreement(em_fit.params, moment_params, data.outcome_values)
        agreement["log_likelihood_gap"] = float(em_fit.log_likelihood - moment_ll)
    return MixtureFit(params=params, log_likelihood=float(ll), solver=solver, moment_params=moment_params,
                      moment_log_likelihood=None if moment_ll is None else float(moment_ll), em_fit=em_fit,
                      agreement=agreement, warnings=tuple(warnings), identifiability=report,
                      moment_identifiability=moment_report)
