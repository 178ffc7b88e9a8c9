"""Rosenbaum bounds for 1:1 matched pairs: Wilcoxon's signed-rank test under hidden bias Gamma.

Within a matched pair, an unobserved confounder may make one unit up to
``Gamma`` times as likely as the other to be the treated one. Under the null
of no effect the signed-rank statistic ``T`` (sum of the ranks of ``|d_i|``
over pairs with ``d_i > 0``) is then stochastically at most the sum of
independent terms ``rank_i * Bernoulli(Gamma / (1 + Gamma))`` (Rosenbaum 2002,
Observational Studies, section 4.3.3). Its upper tail gives the largest
one-sided p-value compatible with bias ``Gamma``; the analysis asks up to
which ``Gamma`` the effect stays significant.

Zero differences are dropped and tied absolute differences get average
ranks. The exact distribution is computed by convolution for up to
``exact_max_pairs`` pairs, the normal approximation (with the tie-corrected
variance) beyond.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from causal_core.core.data import prepare
from causal_core.core.errors import CausalInputError, plain
from causal_core.core.provenance import design_for
from causal_core.core.registry import get_method, list_methods
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles

__all__ = [
    "RosenbaumBounds",
    "rosenbaum_bounds",
    "signed_rank_upper_p_value",
    "matched_pair_differences",
    "DEFAULT_GAMMAS",
]

DEFAULT_GAMMAS = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0)


@dataclass(frozen=True)
class RosenbaumBounds:
    """Sensitivity of a matched-pairs signed-rank test to hidden bias.

    Attributes
    ----------
    table : DataFrame
        ``gamma``, ``p_value_upper`` (largest one-sided p-value at that Gamma).
    critical_gamma : float
        Largest Gamma at which ``p_value_upper <= alpha`` (1.0 with
        ``significant=False`` when not even Gamma = 1 is significant).
    significant : bool
        Whether the effect is significant at Gamma = 1 (no hidden bias).
    direction : str
        ``"positive"`` or ``"negative"``: the alternative tested (the sign of the mean difference).
    n_pairs, n_zero : int
        Pairs used and pairs dropped for a zero difference.
    statistic : float
        The signed-rank statistic in the tested direction.
    method : str
        ``"exact"`` or ``"normal"``.
    alpha : float
    explanation : str
    """

    table: pd.DataFrame = field(repr=False)
    critical_gamma: float
    significant: bool
    direction: str
    n_pairs: int
    n_zero: int
    statistic: float
    method: str
    alpha: float
    explanation: str


def _ranks(differences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy import stats
    nonzero = differences[differences != 0]
    return stats.rankdata(np.abs(nonzero)), nonzero > 0


def signed_rank_upper_p_value(ranks: np.ndarray, statistic: float, gamma: float, *, exact: bool) -> float:
    """``P(sum_i ranks_i B_i >= statistic)`` with ``B_i ~ Bernoulli(gamma / (1 + gamma))`` independent.

    Exact by convolution over the doubled (integer) ranks, or by the normal
    approximation without continuity correction.
    """
    from scipy import stats
    p = gamma / (1.0 + gamma)
    if exact:
        doubled = np.rint(2 * ranks).astype(int)
        total = int(doubled.sum())
        pmf = np.zeros(total + 1)
        pmf[0] = 1.0
        top = 0
        for r in doubled:
            shifted = np.zeros_like(pmf)
            shifted[r: top + r + 1] = pmf[: top + 1]
            pmf[: top + r + 1] = (1 - p) * pmf[: top + r + 1] + p * shifted[: top + r + 1]
            top += r
        threshold = int(np.rint(2 * statistic))
        return float(min(1.0, pmf[threshold:].sum()))
    mean = p * ranks.sum()
    variance = p * (1 - p) * np.sum(ranks**2)
    return float(stats.norm.sf((statistic - mean) / np.sqrt(variance)))


def rosenbaum_bounds(
    differences: Sequence[float] | np.ndarray,
    *,
    gammas: Sequence[float] = DEFAULT_GAMMAS,
    alpha: float = 0.05,
    exact_max_pairs: int = 300,
) -> RosenbaumBounds:
    """Rosenbaum's sensitivity bounds for Wilcoxon's signed-rank test on matched-pair differences.

    Parameters
    ----------
    differences : array of float
        Treated-minus-control outcome difference of each matched pair.
    gammas : list of float
        Values of Gamma (>= 1) to tabulate.
    alpha : float
        Significance level for the critical Gamma.
    exact_max_pairs : int
        Up to this many non-zero pairs the exact distribution is used.

    Returns
    -------
    RosenbaumBounds
    """
    from scipy import optimize
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or not np.all(np.isfinite(d)):
        raise CausalInputError("Matched-pair differences must be a one-dimensional array of finite numbers.")
    if any((not np.isfinite(g)) or g < 1 for g in gammas):
        raise CausalInputError(f"Option 'gammas' must hold numbers of at least 1; got {plain(list(gammas))!r}.")
    if not (0 < alpha < 1):
        raise CausalInputError(f"Option 'alpha' must be between 0 and 1; got {plain(alpha)!r}.")
    direction = "negative" if d.mean() < 0 else "positive"
    oriented = -d if direction == "negative" else d
    ranks, positive = _ranks(oriented)
    if ranks.size < 2:
        raise CausalInputError(
            f"Rosenbaum bounds need at least 2 matched pairs with a non-zero difference; got {ranks.size}."
        )
    exact = ranks.size <= exact_max_pairs
    statistic = float(ranks[positive].sum())

    def upper(gamma: float) -> float:
        return signed_rank_upper_p_value(ranks, statistic, gamma, exact=exact)

    from causal_core.compute.grouped import map_grouped  # the Gamma grid: tasks on a Dask backend when it is worth it

    table = pd.DataFrame({"gamma": [float(g) for g in gammas]})
    table["p_value_upper"] = map_grouped(upper, list(table["gamma"]))
    significant = upper(1.0) <= alpha
    if not significant:
        critical = 1.0
    elif upper(1e4) <= alpha:
        critical = float("inf")
    else:
        log_gamma = optimize.brentq(lambda lg: upper(float(np.exp(lg))) - alpha, 0.0, np.log(1e4), xtol=1e-6)
        critical = float(np.exp(log_gamma))
    if significant:
        explanation = (
            f"The {direction} effect stays significant at {alpha:g} unless hidden bias makes one unit of a pair up to "
            f"{critical:.2f} times as likely as the other to be treated (Gamma = {critical:.2f})."
        )
    else:
        explanation = f"The effect is not significant at {alpha:g} even without hidden bias (Gamma = 1)."
    return RosenbaumBounds(
        table=table, critical_gamma=critical, significant=bool(significant), direction=direction,
        n_pairs=int(ranks.size), n_zero=int(d.size - ranks.size), statistic=statistic,
        method="exact" if exact else "normal", alpha=float(alpha), explanation=explanation,
    )


def matched_pair_differences(
    df: pd.DataFrame | EstimateResult, roles: Roles | pd.DataFrame, method: str = "propensity_score_matching", *,
    estimand: str = "ATT", **options: Any,
) -> np.ndarray:
    """Treated-minus-control differences of the 1:1 pairs that a matching method forms without replacement.

    Re-runs the matching of ``nearest_neighbor_matching`` (Mahalanobis) or
    ``propensity_score_matching`` (logit propensity within the caliper) with
    ``n_neighbors=1, replace=False``, exactly as the estimator does, and
    returns the raw pair differences (no regression bias adjustment).

    Called as ``matched_pair_differences(result, df)`` it takes the method,
    estimand, options, seed and used rows from an :class:`EstimateResult`
    (``options`` given here override the result's).
    """
    result: EstimateResult | None = None
    seed = 0
    if isinstance(df, EstimateResult):
        result, df = df, roles
        method, estimand, seed = result.method, result.estimand, int(result.seed or 0)
        options = {**{k: v for k, v in result.options.items() if k != "bias_adjustment"}, **options}
    from scipy.special import logit
    from causal_core.estimators.matching._shared import match_without_replacement, whiten_mahalanobis
    from causal_core.nuisance.models import fit_propensity, resolve_model

    if not get_method(method).forms_matched_pairs:
        pairing = ", ".join(info.id for info in list_methods() if info.forms_matched_pairs)
        raise CausalInputError(
            f"Rosenbaum bounds need matched pairs; method '{method}' is not one of {pairing}."
        )
    if estimand not in ("ATT", "ATC"):
        raise CausalInputError(f"Rosenbaum bounds need 1:1 matching for the ATT or ATC; got estimand {plain(estimand)!r}.")
    if options.get("n_neighbors", 1) != 1 or options.get("replace", False) is not False:
        raise CausalInputError("Rosenbaum bounds need 1:1 matching without replacement (n_neighbors=1, replace=False).")
    data = design_for(result, df) if result is not None else prepare(df, roles, get_method(method))
    caliper = None
    if method == "nearest_neighbor_matching":
        points = whiten_mahalanobis(data.X)
    else:
        model = resolve_model(options.get("propensity_model"), option="propensity_model", method=method,
                              kind="classifier", seed=seed)
        propensity = fit_propensity(data.X, data.t, data.covariate_names, model)
        points = logit(np.clip(propensity, 1e-12, 1 - 1e-12))
        caliper_sd = options.get("caliper", 0.2)
        if caliper_sd is not None:
            pooled = np.sqrt((points[data.t == 1].var(ddof=1) + points[data.t == 0].var(ddof=1)) / 2)
            caliper = float(caliper_sd) * float(pooled)
    arm = 1 if estimand == "ATT" else 0
    targets, pool = np.flatnonzero(data.t == arm), np.flatnonzero(data.t == 1 - arm)
    matches = match_without_replacement(points, targets, pool, 1, caliper=caliper)
    if matches.target.size == 0:
        raise CausalInputError("No unit found a match; widen the caliper or check overlap.")
    sign = 1.0 if arm == 1 else -1.0
    return sign * (data.y[matches.target] - data.y[matches.source])
