"""The one inference result: a standard error, a 95% interval and how they were computed."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Inference", "INFERENCE_METHODS", "PERCENTILE", "NORMAL_BOOTSTRAP"]

PERCENTILE = "bootstrap_percentile"
NORMAL_BOOTSTRAP = "bootstrap_normal"

#: The closed set of names ``Inference.method`` takes.
INFERENCE_METHODS = (
    "influence_function",  # mean-zero influence function of the estimator: sqrt(var(psi) / n)
    "sandwich",  # influence function of a stacked M-estimator (nuisance estimation included)
    "analytic",  # a closed-form variance: matching, Neyman, Heckman/Greene, 2SLS covariance...
    PERCENTILE,  # bootstrap SE, percentile interval
    NORMAL_BOOTSTRAP,  # bootstrap SE, normal interval estimate +/- z * SE
    "jackknife",  # jackknife variance
)


def _read_only(values) -> np.ndarray | None:
    if values is None:
        return None
    array = np.array(values, dtype=float)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Inference:
    """Standard error, 95% interval and p-value of one estimate, and how they were computed.

    Attributes
    ----------
    estimate : float
        The point estimate the interval is centred on (normal intervals).
    std_error : float
    ci_low, ci_high : float
        95% interval, as :meth:`conf_int` gives it at ``level=0.95``.
    method : str
        One of :data:`INFERENCE_METHODS`.
    detail : str
        One sentence for the analyst (what was treated as known, how many refits...).
    n_replicates, n_failed : int
        Bootstrap replicates asked for and those that failed (0 for other methods).
    replicates : read-only ndarray or None
        The successful bootstrap values, so that other levels' percentile intervals follow.
    dof : float or None
        Degrees of freedom: t rather than normal intervals and p-values when given.
    """

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    method: str
    detail: str = ""
    n_replicates: int = 0
    n_failed: int = 0
    replicates: np.ndarray | None = field(default=None, compare=False, repr=False)
    dof: float | None = None

    def __post_init__(self) -> None:
        if self.method not in INFERENCE_METHODS:
            raise ValueError(f"Inference method {self.method!r} is not one of {', '.join(INFERENCE_METHODS)}.")
        object.__setattr__(self, "replicates", _read_only(self.replicates))

    def conf_int(self, level: float = 0.95) -> tuple[float, float]:
        """Two-sided interval at ``level``: replicate quantiles for a percentile bootstrap, else normal (or t)."""
        return interval(self.method, self.estimate, self.std_error, level, replicates=self.replicates, dof=self.dof)

    @property
    def p_value(self) -> float:
        """Two-sided p-value of 'no effect' from the normal (or t with ``dof``) approximation."""
        from scipy import stats

        if not np.isfinite(self.std_error) or self.std_error <= 0:
            return float("nan")
        z = abs(self.estimate / self.std_error)
        return float(2 * (stats.t.sf(z, self.dof) if self.dof is not None else stats.norm.sf(z)))


#: The standard normal's 97.5% quantile (``scipy.stats.norm.ppf(0.975)``): the half-width of a 95% interval in SEs.
Z_95 = 1.959963984540054


def interval(method: str, estimate: float, std_error: float, level: float, *,
             replicates: np.ndarray | None = None, dof: float | None = None) -> tuple[float, float]:
    """The ``level`` interval that ``method`` implies (shared by constructors and :meth:`Inference.conf_int`)."""
    from scipy import stats

    if not 0 < level < 1:
        raise ValueError(f"The confidence level must be strictly between 0 and 1; got {level!r}.")
    if method == PERCENTILE:
        if replicates is None or replicates.size < 2:
            return float("nan"), float("nan")
        return float(np.quantile(replicates, (1 - level) / 2)), float(np.quantile(replicates, (1 + level) / 2))
    q = stats.t.ppf(0.5 + level / 2, dof) if dof is not None else stats.norm.ppf(0.5 + level / 2)
    return float(estimate - q * std_error), float(estimate + q * std_error)
