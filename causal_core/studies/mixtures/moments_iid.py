"""k-MixIID ("k coins"): recover k source weights and biases from repeated binary measurements.

Each unit draws a hidden source i with probability ``w_i`` and then makes m
independent 0/1 trials with success probability ``p_i``. With ``c`` successes
out of m, ``C(c, j) / C(m, j)`` is an unbiased estimate of ``p^j``, so the
sample means give the moments ``mu_j = sum_i w_i p_i^j`` for ``j <= m``. The
first ``2k - 1`` of them fix the sources (Prony's method): the biases are the
roots of the polynomial whose coefficients solve a k x k Hankel system, and the
weights solve a Vandermonde system.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError, plain
from causal_core.studies.mixtures.identifiability import mix_iid_identifiable

__all__ = ["MixIIDResult", "fit_mix_iid", "counts_from_frame", "iid_moments", "prony_sources"]

#: Hankel condition numbers above this trigger a stability warning.
ILL_CONDITIONED = 1e4


@dataclass(frozen=True)
class MixIIDResult:
    """Sources of a k-coin mixture recovered from moments.

    Attributes
    ----------
    k, trials, n_units : int
        Sources, trials per unit, units used.
    weights, biases : tuple of float
        Source weights (sum to 1) and success probabilities, sorted by bias.
    moments : tuple of float
        Estimated moments ``mu_0 .. mu_{2k-1}``.
    condition_number : float
        2-norm condition number of the k x k Hankel matrix of moments.
    count_distribution : tuple of float
        Observed share of units with 0..m successes.
    warnings : tuple of str
        Instability and clipping notes.
    identifiability : str
        The rule that was checked, with its numbers.
    """

    k: int
    trials: int
    n_units: int
    weights: tuple[float, ...]
    biases: tuple[float, ...]
    moments: tuple[float, ...]
    condition_number: float
    count_distribution: tuple[float, ...]
    warnings: tuple[str, ...]
    identifiability: str

    def fitted_count_distribution(self) -> np.ndarray:
        """P(c = 0..m) under the fitted mixture of binomials."""
        from scipy import stats
        c = np.arange(self.trials + 1)
        return sum(w * stats.binom.pmf(c, self.trials, p) for w, p in zip(self.weights, self.biases))

    def component_count_distributions(self) -> np.ndarray:
        """(k, m+1) array: ``w_i * Binomial(m, p_i)`` pmf of each source."""
        from scipy import stats
        c = np.arange(self.trials + 1)
        return np.vstack([w * stats.binom.pmf(c, self.trials, p) for w, p in zip(self.weights, self.biases)])

    def log_likelihood(self) -> float:
        """Binomial-mixture log-likelihood of the observed counts at the fitted sources."""
        observed = np.asarray(self.count_distribution) * self.n_units
        fitted = np.clip(self.fitted_count_distribution(), 1e-300, None)
        return float(np.sum(observed * np.log(fitted)))

    def summary_frame(self) -> pd.DataFrame:
        """One row per source: weight and bias."""
        return pd.DataFrame({"source": np.arange(1, self.k + 1), "weight": self.weights, "bias": self.biases})


def counts_from_frame(
    df: pd.DataFrame, *, columns: list[str] | None = None, count: str | None = None, trials: int | None = None
) -> tuple[np.ndarray, int]:
    """Success counts per unit and the number of trials, from 0/1 columns or a count column.

    Rows with a missing value are dropped. Raises :class:`CausalInputError`
    naming the column for anything that is not 0/1 or not a count in 0..trials.
    """
    if not isinstance(df, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(df).__name__}.")
    if (columns is None) == (count is None):
        raise CausalInputError("Give either 'columns' (several 0/1 columns) or 'count' with 'trials', not both.")
    if columns is not None:
        columns = list(columns)
        if len(columns) < 1:
            raise CausalInputError("Option 'columns' must list at least one 0/1 column.")
        for column in columns:
            if column not in df.columns:
                raise CausalInputError(f"Column '{column}' given in 'columns' is not in the data.")
        block = df[columns].apply(pd.to_numeric, errors="coerce").dropna()
        for column in columns:
            if not block[column].isin([0, 1]).all():
                raise CausalInputError(f"Column '{column}' must hold only 0/1 values to count as a trial.")
        return block.to_numpy(dtype=float).sum(axis=1).astype(int), len(columns)
    if count not in df.columns:
        raise CausalInputError(f"Column '{count}' given as 'count' is not in the data.")
    if trials is None or int(trials) != trials or int(trials) < 1:
        raise CausalInputError(f"Option 'trials' must be a positive whole number of trials per unit; got {plain(trials)!r}.")
    trials = int(trials)
    values = pd.to_numeric(df[count], errors="coerce").dropna().to_numpy(dtype=float)
    if values.size and (np.any(values != np.round(values)) or values.min() < 0 or values.max() > trials):
        raise CausalInputError(f"Count column '{count}' must hold whole numbers from 0 to trials={trials}.")
    return values.astype(int), trials


def iid_moments(counts: np.ndarray, trials: int, order: int) -> np.ndarray:
    """Unbiased moment estimates ``mu_j = mean(C(c, j) / C(m, j))`` for ``j = 0..order``."""
    from scipy import special
    counts = np.asarray(counts, dtype=float)
    j = np.arange(order + 1)
    return (special.comb(counts[:, None], j[None, :]) / special.comb(trials, j)[None, :]).mean(axis=0)


def prony_sources(moments: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float, list[str]]:
    """Biases and weights from moments ``mu_0..mu_{2k-1}`` by Prony's method.

    Returns ``(weights, biases, hankel_condition_number, notes)``; biases are
    clipped to [0, 1] and weights to >= 0 (renormalised), each clip noted.
    """
    mu = np.asarray(moments, dtype=float)
    notes: list[str] = []
    if k == 1:
        return np.array([1.0]), np.array([float(np.clip(mu[1], 0, 1))]), 1.0, notes
    hankel = np.array([[mu[r + c] for c in range(k)] for r in range(k)])
    rhs = -np.array([mu[k + r] for r in range(k)])
    condition = float(np.linalg.cond(hankel))
    coefficients, *_ = np.linalg.lstsq(hankel, rhs, rcond=None)
    roots = np.roots(np.r_[1.0, coefficients[::-1]])
    if np.max(np.abs(roots.imag)) > 1e-6:
        notes.append("The moment polynomial has complex roots (sampling noise or too many sources); "
                     "their real parts are used.")
    biases = roots.real
    if np.any((biases < -1e-9) | (biases > 1 + 1e-9)):
        notes.append("Some recovered biases fell outside [0, 1] and were clipped.")
    biases = np.sort(np.clip(biases, 0.0, 1.0))
    vandermonde = np.vander(biases, 2 * k, increasing=True).T  # rows: moment order 0..2k-1
    weights, *_ = np.linalg.lstsq(vandermonde[:k], mu[:k], rcond=None)
    if np.any(weights < -1e-9):
        notes.append("Some recovered weights were negative and were set to 0.")
    weights = np.clip(weights, 0.0, None)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(k, 1.0 / k)
    return weights, biases, condition, notes


def _hankel_signal_and_noise(counts: np.ndarray, trials: int, k: int) -> tuple[float, float]:
    """Smallest singular value of the Hankel matrix and the largest standard error of the moments in it."""
    from scipy import special
    if k == 1:
        return 1.0, 0.0
    j = np.arange(2 * k - 1)
    per_unit = special.comb(np.asarray(counts, dtype=float)[:, None], j[None, :]) / special.comb(trials, j)[None, :]
    mu = per_unit.mean(axis=0)
    hankel = np.array([[mu[r + c] for c in range(k)] for r in range(k)])
    noise = float(np.max(per_unit.std(axis=0, ddof=1)) / np.sqrt(counts.size))
    return float(np.linalg.svd(hankel, compute_uv=False)[-1]), noise


def fit_mix_iid(
    df: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    count: str | None = None,
    trials: int | None = None,
    k: int = 2,
) -> MixIIDResult:
    """Recover a mixture of k coins from repeated binary measurements.

    Parameters
    ----------
    df : DataFrame
        One row per unit; never modified.
    columns : list of str, optional
        Exchangeable 0/1 columns (one per trial).
    count, trials : str and int, optional
        Alternatively a column of success counts out of ``trials``.
    k : int
        Number of sources; ``2k - 1`` may not exceed the number of trials.

    Returns
    -------
    MixIIDResult

    Raises
    ------
    CausalInputError
        For bad columns or when ``2k - 1 > trials``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise CausalInputError(f"Option 'k' must be a whole number of sources >= 1; got {plain(k)!r}.")
    k = int(k)
    counts, m = counts_from_frame(df, columns=columns, count=count, trials=trials)
    report = mix_iid_identifiable(k, m)
    if not report.holds:
        raise CausalInputError(f"Option 'k'={k} is too large: {report.detail}")
    if counts.size < 2 * k:
        raise CausalInputError(f"Only {counts.size} complete units; k={k} sources need at least {2 * k}.")
    mu = iid_moments(counts, m, 2 * k - 1)
    weights, biases, condition, notes = prony_sources(mu, k)
    warnings = list(notes)
    smallest, noise = _hankel_signal_and_noise(counts, m, k)
    if condition > ILL_CONDITIONED or smallest < noise:
        warnings.append(
            f"The Hankel matrix of moments is ill-conditioned (condition number {condition:.3g}; its smallest "
            f"singular value {smallest:.2g} is {'below' if smallest < noise else 'above'} the largest standard error of "
            f"the moments, {noise:.2g}): the sources are close together or one is tiny, so the recovered "
            "weights and biases are unstable. Try a smaller k."
        )
    distribution = np.bincount(counts, minlength=m + 1) / counts.size
    return MixIIDResult(
        k=k, trials=m, n_units=int(counts.size),
        weights=tuple(float(w) for w in weights), biases=tuple(float(p) for p in biases),
        moments=tuple(float(v) for v in mu), condition_number=condition,
        count_distribution=tuple(float(v) for v in distribution), warnings=tuple(warnings),
        identifiability=report.detail,
    )
