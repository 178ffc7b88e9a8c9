"""Refutation tests: re-estimate the effect on altered data where the right answer is known.

Each test alters the data in a way whose effect on the estimate is known and
checks that the estimator follows; none can prove an estimate right, and
each detects different failures:

==========================  ===========================================  ==========================================
test                        what should happen                           what a failure reveals
==========================  ===========================================  ==========================================
``placebo_treatment``       treatment randomly permuted: the effect      an estimate that does not come from the
                            vanishes                                     treatment-outcome association (leakage,
                                                                         stale results, effects found in noise)
``random_common_cause``     a random covariate added: the estimate       an estimator unstable to irrelevant
                            does not move                                covariates (e.g. matching on many columns)
``data_subset``             random 80% subsets: the estimates scatter    an estimate driven by a few rows, or a
                            around the original by about                 standard error too small for the
                            ``SE * sqrt(1/0.8 - 1)``                     estimate's real variability
``dummy_outcome``           outcome replaced by a function of the        adjustment that does not remove the
                            covariates plus noise: the effect is 0       measured confounding (ignored or
                                                                         misspecified covariates)
==========================  ===========================================  ==========================================

No refutation test detects an *unmeasured* confounder: for that use the
sensitivity analyses in :mod:`causal_core.robustness.sensitivity`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from causal_core.core.api import estimate as _estimate
from causal_core.core.data import encode_columns
from causal_core.core.errors import CausalInputError, plain
from causal_core.core.provenance import used_rows
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles
from causal_core.core.seeds import check_seed

__all__ = ["RefutationResult", "refute", "REFUTERS", "method_estimator"]

#: ``fit(df, roles) -> (estimate, std_error)``: the estimator a refutation re-runs.
Estimator = Callable[[pd.DataFrame, Roles], tuple[float, float]]
Progress = Callable[[int, int, str], None]

REFUTERS = ("placebo_treatment", "random_common_cause", "data_subset", "dummy_outcome")
Z_CHECK = 3.0  # a mean more than 3 Monte Carlo SEs from its target fails


@dataclass(frozen=True)
class RefutationResult:
    """Outcome of one refutation test.

    Attributes
    ----------
    name : str
        One of :data:`REFUTERS`.
    passed : bool
        Whether the estimator behaved as it should on the altered data.
    original_estimate, original_std_error : float
    expected : float
        What the refuted estimates should average (0 or the original estimate).
    refuted_mean, refuted_sd : float
        Mean and standard deviation of the refuted estimates.
    refuted_low, refuted_high : float
        2.5% and 97.5% quantiles of the refuted estimates.
    p_value : float
        Test-specific p-value (see ``explanation``); NaN where none applies.
    n_repeats, n_failed : int
        Repetitions asked for and those where the estimator raised.
    estimates : tuple of float
        The refuted estimates.
    explanation : str
        What was done and what the result means, in words.
    """

    name: str
    passed: bool
    original_estimate: float
    original_std_error: float
    expected: float
    refuted_mean: float
    refuted_sd: float
    refuted_low: float
    refuted_high: float
    p_value: float
    n_repeats: int
    n_failed: int
    estimates: tuple[float, ...]
    explanation: str

    def summary(self) -> dict[str, Any]:
        """One flat row for a table."""
        return {
            "test": self.name, "passed": self.passed, "original": self.original_estimate,
            "expected": self.expected, "refuted_mean": self.refuted_mean, "refuted_sd": self.refuted_sd,
            "refuted_low": self.refuted_low, "refuted_high": self.refuted_high, "p_value": self.p_value,
            "n_repeats": self.n_repeats, "n_failed": self.n_failed, "explanation": self.explanation,
        }


def method_estimator(method: str, *, estimand: str = "ATE", seed: int = 0, **options: Any) -> Estimator:
    """An :data:`Estimator` that runs a registered method with :func:`causal_core.estimate`."""

    def fit(df: pd.DataFrame, roles: Roles) -> tuple[float, float]:
        result = _estimate(df, roles, method, estimand=estimand, seed=seed, **options)
        return result.estimate, result.std_error

    return fit


def _used_frame(df: pd.DataFrame, roles: Roles) -> pd.DataFrame:
    """Copy of the used columns, rows with missing values dropped (so alterations line up)."""
    used = df[roles.columns()].copy()
    numeric = used.select_dtypes("number")
    bad = used.isna().any(axis=1) | ~np.isfinite(numeric.to_numpy(dtype=float)).all(axis=1)
    return used.loc[~bad].reset_index(drop=True)


def _fresh_name(frame: pd.DataFrame, stem: str) -> str:
    name, i = stem, 0
    while name in frame.columns:
        i += 1
        name = f"{stem}_{i}"
    return name


def _one_repeat(test: str, frame: pd.DataFrame, roles: Roles, fit: Estimator, seed: int,
                subset_fraction: float, dummy_model: str) -> float:
    rng = np.random.default_rng(seed)
    altered = frame.copy()
    use_roles = roles
    if test == "placebo_treatment":
        altered[roles.treatment] = rng.permutation(altered[roles.treatment].to_numpy())
    elif test == "random_common_cause":
        name = _fresh_name(altered, "random_common_cause")
        altered[name] = rng.normal(size=len(altered))
        use_roles = Roles.from_dict({**roles.to_dict(), "confounders": list(roles.confounders) + [name]})
    elif test == "data_subset":
        keep = rng.choice(len(altered), size=int(round(subset_fraction * len(altered))), replace=False)
        altered = altered.iloc[np.sort(keep)].reset_index(drop=True)
    elif test == "dummy_outcome":
        altered[roles.outcome] = _dummy_outcome(frame, roles, rng, dummy_model, seed)
    return float(fit(altered, use_roles)[0])


def _dummy_outcome(frame: pd.DataFrame, roles: Roles, rng: np.random.Generator, model: str, seed: int) -> np.ndarray:
    """``f(X) + e``: the outcome's regression on the covariates (fitted on the control arm) plus permuted residuals."""
    from sklearn.ensemble import GradientBoostingRegressor

    from causal_core.nuisance.models import least_squares_regressor

    y = frame[roles.outcome].to_numpy(dtype=float)
    X, *_ = encode_columns(frame[list(roles.confounders)], "confounder")
    if X.shape[1] == 0:
        return rng.permutation(y - y.mean())
    treatment = frame[roles.treatment]
    values = pd.unique(treatment)
    control = (treatment == values[0]).to_numpy()
    if len(values) == 2:
        level = roles.treated_level
        treated = (treatment == level).to_numpy() if level is not None else (treatment.astype(float) == 1).to_numpy()
        control = ~treated
    regressor = (GradientBoostingRegressor(random_state=seed) if model == "gradient_boosting" else least_squares_regressor())
    regressor.fit(X[control], y[control])
    fitted = regressor.predict(X)
    residual = y[control] - fitted[control]
    return fitted + rng.choice(residual, size=y.size, replace=True)


def _judge(test: str, original: float, se: float, values: np.ndarray, n_repeats: int, n_failed: int,
           subset_fraction: float) -> RefutationResult:
    from scipy import stats
    if values.size < 2:
        return RefutationResult(test, False, original, se, float("nan"), float("nan"), float("nan"), float("nan"),
                                float("nan"), float("nan"), n_repeats, n_failed, tuple(values),
                                f"The estimator failed in {n_failed} of {n_repeats} repetitions; nothing to judge.")
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    low, high = (float(v) for v in np.quantile(values, [0.025, 0.975]))
    mc_se = sd / np.sqrt(values.size)
    if test == "placebo_treatment":
        expected = 0.0
        # permutation p-value of the original estimate among the placebo estimates
        p_value = float((1 + np.sum(np.abs(values) >= abs(original))) / (values.size + 1))
        passed = abs(mean) <= Z_CHECK * mc_se + 1e-12
        verdict = "centre on zero, as they should" if passed else "do not vanish: the estimate does not come from the treatment as given"
        explanation = (f"With the treatment randomly permuted {values.size} times the estimates average {mean:.4g} "
                       f"(SD {sd:.3g}) and {verdict}. Share of placebo estimates at least as large as the original "
                       f"{original:.4g}: p = {p_value:.3f}.")
    elif test == "random_common_cause":
        expected = original
        shift = abs(mean - original)
        p_value = float(2 * stats.norm.sf(shift / max(mc_se, 1e-300))) if sd > 0 else float(shift == 0)
        passed = shift <= 0.25 * se + Z_CHECK * mc_se
        explanation = (f"Adding a random covariate moved the estimate from {original:.4g} to {mean:.4g} on average "
                       f"({shift / se:.2f} standard errors); "
                       + ("the estimator ignores irrelevant covariates, as it should." if passed else
                          "the estimator is sensitive to irrelevant covariates (more than a quarter of a standard error)."))
    elif test == "data_subset":
        expected = original
        predicted_sd = se * np.sqrt(1 / subset_fraction - 1)
        shift = abs(mean - original)
        ratio = sd / predicted_sd if predicted_sd > 0 else float("inf")
        # chi-square test that the subset spread is no larger than the SE predicts
        p_value = float(stats.chi2.sf((values.size - 1) * ratio**2, values.size - 1))
        passed = shift <= Z_CHECK * max(mc_se, predicted_sd / np.sqrt(values.size)) and ratio <= 1.5
        explanation = (f"On {values.size} random {subset_fraction:.0%} subsets the estimates average {mean:.4g} "
                       f"(original {original:.4g}) with SD {sd:.3g}, {ratio:.2f} times the "
                       f"{predicted_sd:.3g} that the standard error predicts; "
                       + ("stable, and the standard error is consistent with the spread." if passed else
                          "the estimate moves more than its standard error allows (a few rows drive it, or the SE is too small)."))
    else:
        expected = 0.0
        p_value = float(2 * stats.norm.sf(abs(mean) / se)) if se > 0 else float("nan")
        passed = abs(mean) <= 2.0 * se
        explanation = (f"With the outcome replaced by a function of the covariates plus noise (no effect), the "
                       f"estimates average {mean:.4g} ({abs(mean) / se:.2f} standard errors from 0); "
                       + ("the adjustment removes the measured confounding." if passed else
                          "the adjustment does not remove the measured confounding (ignored or misspecified covariates)."))
    if n_failed:
        explanation += f" The estimator failed in {n_failed} of {n_repeats} repetitions."
    return RefutationResult(test, bool(passed), float(original), float(se), expected, mean, sd, low, high, p_value,
                            n_repeats, n_failed, tuple(float(v) for v in values), explanation)


def refute(
    df: pd.DataFrame | EstimateResult,
    roles: Roles | pd.DataFrame,
    method: str | Estimator | None = None,
    *,
    estimand: str = "ATE",
    tests: Sequence[str] = REFUTERS,
    n_repeats: int = 20,
    seed: int | None = None,
    n_jobs: int = 1,
    options: dict[str, Any] | None = None,
    subset_fraction: float = 0.8,
    dummy_model: str = "linear",
    progress: Progress | None = None,
) -> list[RefutationResult]:
    """Run refutation tests of one estimator.

    Called as ``refute(result, df)`` it starts from an :class:`EstimateResult`:
    its method, roles, estimand, options and seed, the rows it used
    (``result.row_index``) and its estimate and standard error as the original
    (the method is not re-run on the unaltered data). Called as
    ``refute(df, roles, method, ...)`` it fits the original itself.

    Parameters
    ----------
    df : DataFrame or EstimateResult
        The data (never modified), or a result (then ``roles`` is the data).
    roles : Roles or DataFrame
        Treatment, outcome and confounders.
    method : str or callable
        A method id, or ``fit(df, roles) -> (estimate, std_error)`` (not with a result).
    estimand : str
        Estimand passed to the method (a result's own otherwise).
    tests : list of str
        Any of :data:`REFUTERS`.
    n_repeats : int
        Repetitions per test (each seeded from ``seed``).
    seed : int, optional
        Default 0, or the result's seed.
    n_jobs : int
        Local joblib workers when no Dask backend is active (which takes precedence); 1 runs here.
    options : dict, optional
        Keyword options of the method.
    subset_fraction : float
        Share of rows kept by ``data_subset``.
    dummy_model : {"linear", "gradient_boosting"}
        Model of the outcome on the covariates for ``dummy_outcome``.
    progress : callable, optional
        ``progress(done, total, message)`` after each repetition.

    Returns
    -------
    list of RefutationResult
        One per test, in the order asked.
    """
    result: EstimateResult | None = None
    if isinstance(df, EstimateResult):
        result, df = df, roles
        if method is not None or options is not None:
            raise CausalInputError(
                "refute(result, df) takes the method and its options from the result; pass neither."
            )
        roles, method, estimand = result.roles, result.method, result.estimand
        options = dict(result.options)
        seed = result.seed if seed is None else seed
    elif method is None:
        raise CausalInputError("refute(df, roles, method) needs a method id or an estimator function.")
    seed = check_seed(0 if seed is None else seed)
    unknown = [t for t in tests if t not in REFUTERS]
    if unknown:
        raise CausalInputError(f"Unknown refutation test(s) {unknown}; choose from {', '.join(REFUTERS)}.")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)) or n_repeats < 2:
        raise CausalInputError(f"Option 'n_repeats' must be an integer of at least 2; got {plain(n_repeats)!r}.")
    if not (0 < subset_fraction < 1):
        raise CausalInputError(f"Option 'subset_fraction' must be between 0 and 1; got {plain(subset_fraction)!r}.")
    if dummy_model not in ("linear", "gradient_boosting"):
        raise CausalInputError(f"Option 'dummy_model' must be 'linear' or 'gradient_boosting'; got {plain(dummy_model)!r}.")
    if not isinstance(roles, Roles):
        raise CausalInputError(f"Roles must be a causal_core.Roles; got {type(roles).__name__}.")
    for _, column in roles.assignments():
        if column not in df.columns:
            raise CausalInputError(f"Column '{column}' given in the roles is not in the data.")
    fit = method_estimator(method, estimand=estimand, seed=seed, **(options or {})) if isinstance(method, str) else method
    if result is not None:
        frame = used_rows(result, df)[roles.columns()].reset_index(drop=True)
        original, se = result.estimate, result.std_error
    else:
        frame = _used_frame(df, roles)
        original, se = fit(frame, roles)
    jobs = [(test, int(s)) for test in tests
            for s in np.random.SeedSequence([seed, REFUTERS.index(test)]).generate_state(n_repeats)]
    total = len(jobs)

    def run(job: tuple[str, int]) -> float:
        try:
            return _one_repeat(job[0], frame, roles, fit, job[1], subset_fraction, dummy_model)
        except CausalInputError:
            return float("nan")

    from causal_core.compute.backend import map_tasks

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total, jobs[done - 1][0])

    values = map_tasks(run, jobs, n_jobs=n_jobs, progress=report)
    results = []
    for k, test in enumerate(tests):
        block = np.asarray(values[k * n_repeats:(k + 1) * n_repeats])
        finite = block[np.isfinite(block)]
        results.append(_judge(test, original, se, finite, n_repeats, int(block.size - finite.size), subset_fraction))
    return results
