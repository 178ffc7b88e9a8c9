"""Front-door weights of the causal bootstrap (Little & Badawy, 2019).

With cause ``Y``, mechanism ``Z`` (every path from ``Y`` to the features ``X``
goes through it, and nothing confounds ``Y -> Z``) and features ``X``, the
front-door formula gives

    p(x | do(Y = y)) = sum_z p(z | y) sum_y' p(x | z, y') p(y').

Averaging over the observed rows, this is the empirical distribution of the
``x_n`` with weights ``w_n(y) ∝ p(z_n | y) / p(z_n | y_n)``: the functions here
compute those weights, one column per intervened cause value.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from causal_core.studies.mechanism.weighted_gmm import gmm_log_density, select_weighted_gmms

__all__ = ["mechanism_log_densities", "front_door_weight_matrix"]


def _discrete_log_densities(mechanism: pd.DataFrame, cause_codes: np.ndarray, n_levels: int) -> np.ndarray:
    """log p(z_n | y_j) from frequencies: (n, n_levels), -inf where a value never occurs with y_j."""
    keys = pd.MultiIndex.from_frame(mechanism.astype(str)).factorize()[0] if mechanism.shape[1] > 1 else \
        pd.factorize(mechanism.iloc[:, 0].astype(str))[0]
    counts = np.zeros((keys.max() + 1, n_levels))
    np.add.at(counts, (keys, cause_codes), 1.0)
    with np.errstate(divide="ignore"):
        log_conditional = np.log(counts) - np.log(counts.sum(axis=0, keepdims=True))
    return log_conditional[keys]


def _continuous_log_densities(
    mechanism: np.ndarray, cause_codes: np.ndarray, n_levels: int, *, max_components: int, seed: int
) -> tuple[np.ndarray, list[int]]:
    """log p(z_n | y_j) from one BIC-chosen Gaussian mixture per cause value (standardised mechanism)."""
    centre, scale = mechanism.mean(axis=0), mechanism.std(axis=0)
    scale[scale == 0] = 1.0
    standardised = (mechanism - centre) / scale
    out = np.empty((mechanism.shape[0], n_levels))
    components = []
    selected = select_weighted_gmms([(standardised[cause_codes == j], None) for j in range(n_levels)],
                                    max_components=max_components, seed=seed, reg_covar=1e-4)  # one fan-out
    for j, (fit, _) in enumerate(selected):
        out[:, j] = gmm_log_density(standardised, fit)
        components.append(fit.n_components)
    return out, components


def mechanism_log_densities(
    mechanism: pd.DataFrame,
    cause_codes: np.ndarray,
    n_levels: int,
    *,
    discrete: bool,
    max_components: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, list[int] | None]:
    """log p(z_n | y_j) for every row n and cause value j.

    Discrete mechanisms use within-cause frequencies; continuous ones a
    Gaussian mixture per cause value (components chosen by BIC). Returns the
    (n, n_levels) matrix and, for continuous mechanisms, the components chosen.
    """
    if discrete:
        return _discrete_log_densities(mechanism, cause_codes, n_levels), None
    values = mechanism.to_numpy(dtype=float)
    return _continuous_log_densities(values, cause_codes, n_levels, max_components=max_components, seed=seed)


def front_door_weight_matrix(log_densities: np.ndarray, cause_codes: np.ndarray) -> np.ndarray:
    """Normalised front-door weights ``w[n, j] ∝ p(z_n | y_j) / p(z_n | y_n)``; each column sums to 1."""
    from scipy.special import logsumexp
    own = log_densities[np.arange(cause_codes.size), cause_codes]
    log_w = log_densities - own[:, None]
    return np.exp(log_w - logsumexp(log_w, axis=0, keepdims=True))
