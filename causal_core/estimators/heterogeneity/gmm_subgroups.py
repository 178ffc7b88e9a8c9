"""Latent subgroups from a Gaussian mixture of the covariates, and mixture density-ratio weighting.

``gmm_subgroups``
    A Gaussian mixture is fitted to the standardised confounders, its number
    of components chosen by BIC (Fraley & Raftery 2002). Each row is assigned
    to its most probable component, the effect is estimated within each
    subgroup with a back-door method (``within_method``, doubly robust by
    default) and the overall effect is the subgroup-share-weighted average
    (shares of all rows for the ATE, of treated rows for the ATT, of control
    rows for the ATC). Conditional on the partition, which uses the
    covariates only, the variance is ``sum w_g^2 se_g^2`` plus the
    multinomial variance of the shares, ``sum w_g (tau_g - tau)^2 / n``.

``gmm_weighting``
    Inverse probability weighting whose propensity comes from one mixture per
    arm: ``logit e(x) = log p1(x) - log p0(x) + log(n1 / n0)`` (Bayes' rule on
    mixture densities). The standard error treats the propensities as known.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits, check_limits, rows_needed_per_arm
from causal_core.core.options import AtMostRows
from causal_core.core.registry import OptionSpec, get_method, register
from causal_core.core.results import MethodOutput, kish_ess
from causal_core.estimators._propensity_design import hajek_ipw
from causal_core.estimators.heterogeneity._gmm import COVARIANCE_TYPES, density_ratio_propensity, fit_mixture_path, standardise
from causal_core.inference import InfluenceFunction, analytic_inference, resolve_inference
from causal_core.nuisance.models import overlap_warnings

__all__ = ["gmm_subgroups", "gmm_weighting", "subgroup_data", "combine_subgroups"]

#: Fewest treated and control rows a subgroup needs for its own effect estimate.
MIN_ROWS_PER_ARM = 5
WITHIN_CHOICES = ("doubly_robust", "regression_adjustment", "ipw", "difference_in_means")
PS_CLIP = 1e-3
#: Below this share of rows as effective sample size, gmm_weighting warns that its weights are unreliable.
LOW_ESS_SHARE = 0.05

_MIXTURE_OPTIONS = (
    OptionSpec("max_components", "int", 6, "Largest number of mixture components tried by BIC.", low=1, high=15,
               rules=(AtMostRows(),)),
    OptionSpec("covariance_type", "choice", "full", "Covariance structure of each component.",
               choices=COVARIANCE_TYPES),
    OptionSpec("n_init", "int", 3, "Seeded initialisations per mixture (the best likelihood is kept).", low=1, high=20),
)


def subgroup_data(data: PreparedData, rows: np.ndarray) -> PreparedData:
    """The rows ``rows`` of ``data`` as their own :class:`PreparedData`, covariates constant there dropped."""
    X = data.X[rows]
    varying = [j for j in range(X.shape[1]) if np.ptp(X[:, j]) > 0] if X.shape[0] else []
    binary = data.binary_covariates
    return dataclasses.replace(
        data,
        X=X[:, varying],
        covariate_names=tuple(data.covariate_names[j] for j in varying),
        covariate_sources=tuple(data.covariate_sources[j] for j in varying),
        binary_covariates=tuple(binary[j] for j in varying) if binary else (),
        t=data.t[rows],
        y=data.y[rows],
        Z=data.Z[rows],
        M=data.M[rows],
        P=data.P[rows],
        S=None if data.S is None else data.S[rows],
        shadow=None if data.shadow is None else data.shadow[rows],
        subgroups=data.subgroups.iloc[np.flatnonzero(rows)].reset_index(drop=True),
        index=data.index[rows],
        n_dropped=0,
        warnings=(),
    )


def combine_subgroups(estimates: np.ndarray, std_errors: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Share-weighted average of subgroup effects and its standard error.

    ``counts`` are the subgroup sizes in the target population (all, treated
    or control rows). The variance adds the subgroup sampling variances and
    the multinomial variance of the estimated shares, conditional on the partition.
    """
    share = counts / counts.sum()
    overall = float(share @ estimates)
    variance = float(np.sum(share**2 * std_errors**2) + np.sum(share * (estimates - overall) ** 2) / counts.sum())
    return overall, float(np.sqrt(variance))


def _arm_counts(labels: np.ndarray, t: np.ndarray, k: int) -> np.ndarray:
    """(k, 2) counts of control and treated rows per subgroup label 1..k."""
    return np.array([[int(np.sum((labels == g) & (t == 0))), int(np.sum((labels == g) & (t == 1)))]
                     for g in range(1, k + 1)])


def _ordered_labels(model: Any, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels 1..k ordered by decreasing mixture weight, and the weights in that order."""
    order = np.argsort(-model.weights_, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[model.predict(Z)] + 1, model.weights_[order]


def _resolve_within(within_method: str, estimand: str) -> Any:
    """The within-subgroup method (one of the declared ``WITHIN_CHOICES``, checked upstream)."""
    info = get_method(within_method)
    if estimand not in info.estimands:
        raise CausalInputError(
            f"Within-subgroup method '{within_method}' does not estimate the {estimand}; choose another within_method."
        )
    return info


@register(
    id="gmm_subgroups",
    label="Gaussian-mixture subgroups",
    family="Heterogeneity",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Finds latent subgroups with a Gaussian mixture of the covariates (components by BIC), estimates "
            "the effect within each and averages them by subgroup share.",
    reference="Fraley & Raftery (2002), JASA 97, 611-631; McLachlan & Peel (2000), Finite Mixture Models.",
    options=(
        OptionSpec("n_components", "int", None, "Number of subgroups; empty for automatic choice by BIC.",
                   low=2, high=15, also=("auto",), none_means="automatic, by BIC", rules=(AtMostRows(),)),
        *_MIXTURE_OPTIONS,
        OptionSpec("within_method", "choice", "doubly_robust", "Back-door method used inside each subgroup.",
                   choices=WITHIN_CHOICES),
        OptionSpec("reweighting", "choice", "none",
                   "'gmm_density_ratio' replaces the overall estimate by mixture density-ratio weighting.",
                   choices=("none", "gmm_density_ratio")),
    ),
    limits=MethodLimits(rows_beyond_covariates=2, min_rows_per_arm=5, needs_overlap=True),
    explores_heterogeneity=True, order=170,
    cheap_test_options=(("within_method", "regression_adjustment"), ("max_components", 2), ("n_init", 1)),
)
def gmm_subgroups(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    n_components: Any = None,
    max_components: int = 6,
    covariance_type: str = "full",
    n_init: int = 3,
    within_method: str = "doubly_robust",
    reweighting: str = "none",
) -> MethodOutput:
    """Effects within Gaussian-mixture subgroups of the covariates and their share-weighted average.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds the mixture initialisations and the within-subgroup method.
    n_components : int, "auto" or None
        Number of subgroups; ``None``/``"auto"`` picks the BIC-best number
        whose subgroups all hold at least 5 treated and 5 control rows.
    max_components : int
        Largest number of components tried.
    covariance_type : {"full", "diag", "tied", "spherical"}
    n_init : int
        Initialisations per mixture.
    within_method : str
        A back-door method id run on each subgroup with its default options.
    reweighting : {"none", "gmm_density_ratio"}
        With ``"gmm_density_ratio"`` the overall estimate and its standard
        error come from :func:`gmm_weighting` instead of the subgroup average.

    Returns
    -------
    MethodOutput
        diagnostics ``subgroups`` (one row per subgroup), ``bic`` (BIC per
        number of components), ``assignments`` (label 1..k per used row),
        ``projection`` (2-D principal components of the standardised covariates).
    """
    method = "gmm_subgroups"
    max_components, n_init = int(max_components), int(n_init)  # options checked by causal_core.core.options
    forced = None if n_components is None or (isinstance(n_components, str) and n_components == "auto") else \
        int(n_components)
    info = _resolve_within(within_method, estimand)
    # rows per arm each subgroup needs: the mixture's own minimum, or more for a within-method regression
    need = max(MIN_ROWS_PER_ARM, rows_needed_per_arm(info, data.X.shape[1]),
               -(-(data.X.shape[1] + info.limits.rows_beyond_covariates) // 2))
    Z = standardise(data.X)
    warnings: list[str] = []
    ks = range(1, max(max_components, forced or 1) + 1)
    models, bic = fit_mixture_path(Z, ks, covariance_type=covariance_type, n_init=n_init, seed=seed)
    if forced is not None:
        if forced not in models:
            raise CausalInputError(f"The 'n_components' option of method '{method}' ({forced}) exceeds the {data.n} rows.")
        k = forced
        labels, mix_weights = _ordered_labels(models[k], Z)
        counts = _arm_counts(labels, data.t, k)
        for g, (n0, n1) in enumerate(counts, start=1):
            if min(n0, n1) < need:
                raise CausalInputError(
                    f"Subgroup {g} of the {k}-component mixture has {n1} treated and {n0} control rows; each subgroup "
                    f"needs at least {need} of each for its effect to be identified, so choose fewer "
                    "components or leave 'n_components' empty (automatic)."
                )
    else:
        best = int(bic.loc[bic["bic"].idxmin(), "n_components"])
        k = 1
        for candidate in bic.sort_values("bic", kind="stable")["n_components"]:
            labels, mix_weights = _ordered_labels(models[int(candidate)], Z)
            if _arm_counts(labels, data.t, int(candidate)).min() >= need:
                k = int(candidate)
                break
        labels, mix_weights = _ordered_labels(models[k], Z)
        if k != best:
            warnings.append(
                f"BIC prefers {best} subgroups, but some of them hold fewer than {need} treated or "
                f"control rows (no overlap there); the best-BIC partition with both arms in every subgroup, "
                f"{k} subgroups, is used."
            )
        if k == 1:
            warnings.append(
                "Only one subgroup: BIC finds no distinct latent subgroups in the covariates (or none with both arms), "
                f"so the estimate is simply '{within_method}' on all rows and no heterogeneity is shown."
            )
    if not models[k].converged_:
        warnings.append(f"The {k}-component mixture did not converge; subgroup boundaries are approximate.")

    rows = []
    for g in range(1, k + 1):
        members = labels == g
        sub = subgroup_data(data, members)
        try:
            sub_warnings = check_limits(info, sub, estimand, {})
        except CausalInputError as exc:
            raise CausalInputError(f"Subgroup {g} of method 'gmm_subgroups': {exc}") from None
        output: MethodOutput = info.function(sub, estimand=estimand, seed=seed)
        warnings.extend(f"Subgroup {g}: {w}" for w in sub_warnings + tuple(output.warnings))
        inference = resolve_inference(float(output.estimate), output.inference, n=sub.n, seed=seed)
        se = float(inference.std_error)
        row = {
            "subgroup": g,
            "size": int(members.sum()),
            "n_treated": int(sub.t.sum()),
            "n_control": int((1 - sub.t).sum()),
            "mixture_weight": float(mix_weights[g - 1]),
            "estimate": float(output.estimate),
            "std_error": se,
            "ci_low": inference.ci_low,
            "ci_high": inference.ci_high,
        }
        row.update({f"mean {name}": float(data.X[members, j].mean()) for j, name in enumerate(data.covariate_names)})
        rows.append(row)
    table = pd.DataFrame(rows)
    target = {"ATE": "size", "ATT": "n_treated", "ATC": "n_control"}[estimand]
    estimate, std_error = combine_subgroups(table["estimate"].to_numpy(), table["std_error"].to_numpy(),
                                            table[target].to_numpy(dtype=float))
    diagnostics: dict[str, Any] = {
        "subgroups": table,
        "bic": bic,
        "n_subgroups": k,
        "assignments": labels,
        "projection": _projection(Z),
    }
    inference = analytic_inference(estimate, std_error, detail="subgroup standard errors combined with the variance "
                                   "of the subgroup shares (conditional on the mixture partition)")
    if reweighting == "gmm_density_ratio":
        weighted = gmm_weighting(data, estimand=estimand, seed=seed, max_components=max_components,
                                 covariance_type=covariance_type, n_init=n_init)
        diagnostics["subgroup_average"] = estimate
        diagnostics["propensity"] = weighted.diagnostics["propensity"]
        warnings.extend(weighted.warnings)
        estimate, inference = weighted.estimate, weighted.inference
    return MethodOutput(estimate=estimate, inference=inference, diagnostics=diagnostics, warnings=tuple(warnings))


def _projection(Z: np.ndarray) -> np.ndarray:
    """First two principal components (a zero second column when there is one covariate)."""
    from sklearn.decomposition import PCA
    components = min(2, Z.shape[1])
    coords = PCA(n_components=components).fit_transform(Z)
    return coords if components == 2 else np.column_stack([coords, np.zeros(Z.shape[0])])


@register(
    id="gmm_weighting",
    label="Gaussian-mixture density-ratio weighting",
    family="Heterogeneity",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="Inverse probability weighting whose propensity is the ratio of Gaussian-mixture densities "
            "of the covariates fitted in each arm (components by BIC).",
    reference="Bayes' rule on mixture class densities (McLachlan & Peel 2000); Hajek IPW as in "
              "Lunceford & Davidian (2004).",
    options=_MIXTURE_OPTIONS,
    limits=MethodLimits(arm_rows_beyond_covariates=2, min_rows_per_arm=5, needs_overlap=True, reports_overlap=True),
    gives_weights=True, order=180,
    cheap_test_options=(("max_components", 2), ("n_init", 1)),
)
def gmm_weighting(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    max_components: int = 6,
    covariance_type: str = "full",
    n_init: int = 3,
) -> MethodOutput:
    """Hajek IPW with propensities from per-arm Gaussian mixtures.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
    max_components, covariance_type, n_init
        As for :func:`gmm_subgroups`, per arm.

    Returns
    -------
    MethodOutput
        ``weights`` per row, diagnostics ``propensity`` and ``components``.
    """
    method = "gmm_weighting"
    max_components, n_init = int(max_components), int(n_init)  # options checked by causal_core.core.options
    Z = standardise(data.X)
    ps, chosen = density_ratio_propensity(Z, data.t, max_components=max_components, covariance_type=covariance_type,
                                          n_init=n_init, seed=seed)
    warnings = overlap_warnings(ps, data.t)
    clipped = int(np.sum((ps < PS_CLIP) | (ps > 1 - PS_CLIP)))
    if clipped:
        warnings.append(f"{clipped} mixture propensities were bounded to [{PS_CLIP:g}, {1 - PS_CLIP:g}] to keep "
                        "the weights finite.")
    estimate, influence, weights = hajek_ipw(data.y, data.t, np.clip(ps, PS_CLIP, 1 - PS_CLIP), estimand)
    warnings.append("The standard error treats the mixture propensities as known; it ignores their estimation.")
    ess = kish_ess(weights)
    if ess < LOW_ESS_SHARE * data.n:
        warnings.append(
            f"The mixture density-ratio weights are very concentrated (effective sample size {ess:.0f} of "
            f"{data.n} rows): the per-arm mixtures fit the covariates poorly here (common with many binary "
            "covariates), so this estimate is unreliable; prefer ipw or doubly_robust."
        )
    return MethodOutput(
        estimate=estimate,
        inference=InfluenceFunction(influence,
                                    detail="influence function of the Hajek estimator, propensities treated as known"),
        weights=weights,
        diagnostics={
            "propensity": ps,
            "components_treated": chosen["treated"],
            "components_control": chosen["control"],
            "ess": ess,
        },
        warnings=tuple(warnings),
    )
