"""Method lab: which estimator works on *this* design? Simulate outcomes with a known effect and compare.

The analyst's own covariates and treatment are kept as they are; only the
outcome is simulated, so overlap, sample size and covariate shapes are the
real ones. With ``u`` the standardised logit of the estimated propensity
score (the direction of confounding), ``v`` a seeded random standardised
combination of the covariates (a prognostic score), ``c`` the confounding
strength and ``e ~ N(0, 1)``:

* ``linear``:        ``Y = c u + v + tau T + e`` with ``tau`` constant;
* ``nonlinear``:     ``Y = c (u + (u^2 - 1) / 2) + sin(2 v) + v / 2 + tau T + e``;
* ``heterogeneous``: ``Y = c u + v + tau(X) T + e`` with ``tau(X) = effect + u / 2``,
  so the ATE, ATT and ATC differ.

All in units of the noise standard deviation. The target is the sample
estimand (mean of ``tau`` over the used rows, the treated or the controls);
each replication draws fresh noise. Reported per estimator: bias, RMSE,
coverage of its 95% interval (with its Monte Carlo standard error), mean
standard error against the spread of the estimates, failures and time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from causal_core.core.api import estimate as _estimate
from causal_core.core.data import prepare
from causal_core.core.errors import CausalInputError, plain
from causal_core.core.registry import get_method
from causal_core.core.roles import Roles
from causal_core.core.seeds import check_seed, offset_seed
from causal_core.nuisance.models import fit_propensity

__all__ = ["MethodLabResult", "method_lab", "simulate_outcome", "SCENARIOS"]

SCENARIOS = ("linear", "nonlinear", "heterogeneous")
COVERAGE_FLOOR = 0.90
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class MethodLabResult:
    """Performance of each estimator on outcomes simulated over the analyst's design.

    Attributes
    ----------
    table : DataFrame
        One row per method: ``method, label, n_ok, n_failed, bias, rmse, coverage,
        coverage_mc_se, mean_std_error, sd_estimate, se_ratio, mean_seconds``, best first.
    truth : float
        The sample estimand of the simulation.
    estimand, scenario : str
    effect, confounding : float
    n_replications : int
    recommended : str or None
        Method id with the lowest RMSE among those whose coverage is at least 90%.
    recommendation : str
        One paragraph for the analyst.
    errors : dict
        Method id -> first error message, for methods that failed.
    """

    table: pd.DataFrame = field(repr=False)
    truth: float
    estimand: str
    scenario: str
    effect: float
    confounding: float
    n_replications: int
    recommended: str | None
    recommendation: str
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def reliable(self) -> bool:
        """True when a method is recommended; False when no method is reliable on this design (not good news)."""
        return self.recommended is not None


def _structure(X: np.ndarray, t: np.ndarray, names: Sequence[str], *, scenario: str, effect: float,
               confounding: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean outcome under control ``mu0`` and unit effects ``tau`` (noise added per replication)."""
    from scipy.special import logit
    n = t.size
    if X.shape[1]:
        sd = X.std(axis=0)
        Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        score = logit(np.clip(fit_propensity(X, t, names), 1e-6, 1 - 1e-6))
        beta = np.random.default_rng([seed, 7]).normal(size=X.shape[1])
        v = Z @ beta
    else:
        score, v = np.zeros(n), np.zeros(n)
    u = (score - score.mean()) / score.std() if score.std() > 0 else np.zeros(n)
    v = (v - v.mean()) / v.std() if v.std() > 0 else np.zeros(n)
    if scenario == "linear":
        return confounding * u + v, np.full(n, effect)
    if scenario == "nonlinear":
        return confounding * (u + (u**2 - 1) / 2) + np.sin(2 * v) + v / 2, np.full(n, effect)
    return confounding * u + v, effect + u / 2


def simulate_outcome(df: pd.DataFrame, roles: Roles, *, scenario: str = "linear", effect: float = 1.0,
                     confounding: float = 1.0, seed: int = 0, replication: int = 0) -> tuple[pd.DataFrame, dict[str, float]]:
    """One simulated table (the used rows and columns, the outcome replaced) and its sample truths."""
    seed = check_seed(seed)
    frame, mu0, tau, t = _design(df, roles, scenario, effect, confounding, seed)
    noise = np.random.default_rng([seed, 11, replication]).normal(size=t.size)
    out = frame.copy()
    out[roles.outcome] = mu0 + tau * t + noise
    return out, _truths(tau, t)


def _truths(tau: np.ndarray, t: np.ndarray) -> dict[str, float]:
    return {"ATE": float(tau.mean()), "ATT": float(tau[t == 1].mean()), "ATC": float(tau[t == 0].mean())}


def _design(df, roles, scenario, effect, confounding, seed):
    if scenario not in SCENARIOS:
        raise CausalInputError(f"Option 'scenario' must be one of {', '.join(SCENARIOS)}; got {plain(scenario)!r}.")
    for value, name in ((effect, "effect"), (confounding, "confounding")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
            raise CausalInputError(f"Option '{name}' must be a finite number (in noise standard deviations); got {plain(value)!r}.")
    data = prepare(df, roles)
    mu0, tau = _structure(data.X, data.t, data.covariate_names, scenario=scenario, effect=float(effect),
                          confounding=float(confounding), seed=seed)
    columns = [roles.treatment, *roles.confounders]
    frame = df.loc[data.index, columns].reset_index(drop=True)
    return frame, mu0, tau, data.t


def method_lab(
    df: pd.DataFrame,
    roles: Roles,
    methods: Sequence[str],
    *,
    estimand: str = "ATE",
    scenario: str = "linear",
    effect: float = 1.0,
    confounding: float = 1.0,
    n_replications: int = 100,
    seed: int = 0,
    options: dict[str, dict[str, Any]] | None = None,
    n_jobs: int = 1,
    progress: Progress | None = None,
) -> MethodLabResult:
    """Compare estimators on outcomes simulated with a known effect over the analyst's covariates and treatment.

    Parameters
    ----------
    df : DataFrame
        The analyst's data (never modified); its outcome column is not used.
    roles : Roles
        Binary treatment and confounders (other roles are ignored).
    methods : list of str
        Method ids; each must need no role beyond the confounders.
    estimand : {"ATE", "ATT", "ATC"}
    scenario : {"linear", "nonlinear", "heterogeneous"}
        Shape of the simulated outcome (see the module docstring).
    effect : float
        Effect size in noise standard deviations.
    confounding : float
        Coefficient of the standardised propensity logit in the outcome.
    n_replications : int
        Simulated outcomes; 200 tells 95% from 90% coverage (Monte Carlo SE 1.5%).
    seed : int
    options : dict, optional
        Method id -> keyword options.
    n_jobs : int
        Local joblib workers over replications when no Dask backend is active (which takes precedence).
    progress : callable, optional
        ``progress(done, total, message)`` after each replication.

    Returns
    -------
    MethodLabResult
    """
    seed = check_seed(seed)
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise CausalInputError("Choose at least one method for the method lab.")
    if isinstance(n_replications, bool) or not isinstance(n_replications, (int, np.integer)) or n_replications < 2:
        raise CausalInputError(f"Option 'n_replications' must be an integer of at least 2; got {plain(n_replications)!r}.")
    options = options or {}
    for method in methods:
        info = get_method(method)
        extra = [r for r in info.required_roles if r != "confounders"]
        if extra or info.treatment_kind != "binary" or info.outcome_may_be_missing:
            raise CausalInputError(
                f"Method '{method}' needs roles the method lab does not simulate ({', '.join(extra) or info.treatment_kind}); "
                "choose back-door methods (confounders only, binary treatment)."
            )
        if estimand not in info.estimands:
            raise CausalInputError(f"Method '{method}' does not estimate the {estimand}; leave it out or change the estimand.")
    lab_roles = Roles(treatment=roles.treatment, outcome=roles.outcome, confounders=roles.confounders,
                      treated_level=roles.treated_level)
    frame, mu0, tau, t = _design(df, lab_roles, scenario, effect, confounding, seed)
    truth = _truths(tau, t)[estimand]

    def replicate(r: int) -> list[tuple[str, float, float, float, float, float, str]]:
        noise = np.random.default_rng([seed, 11, r]).normal(size=t.size)
        sim = frame.copy()
        sim[roles.outcome] = mu0 + tau * t + noise
        rows = []
        for method in methods:
            try:
                res = _estimate(sim, lab_roles, method, estimand=estimand, seed=offset_seed(seed, r), **options.get(method, {}))
                rows.append((method, res.estimate, res.std_error, res.ci_low, res.ci_high, res.seconds, ""))
            except CausalInputError as exc:
                rows.append((method, np.nan, np.nan, np.nan, np.nan, np.nan, str(exc)))
        return rows

    from causal_core.compute.backend import map_tasks

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total, f"replication {done}")

    records = [row for rows in map_tasks(replicate, range(n_replications), n_jobs=n_jobs, progress=report)
               for row in rows]
    runs = pd.DataFrame(records, columns=["method", "estimate", "std_error", "ci_low", "ci_high", "seconds", "error"])
    table, errors = _summarise(runs, methods, truth)
    recommended, text = _recommend(table, truth, estimand, scenario)
    return MethodLabResult(table=table, truth=truth, estimand=estimand, scenario=scenario, effect=float(effect),
                           confounding=float(confounding), n_replications=int(n_replications),
                           recommended=recommended, recommendation=text, errors=errors)


def _summarise(runs: pd.DataFrame, methods: Sequence[str], truth: float) -> tuple[pd.DataFrame, dict[str, str]]:
    rows, errors = [], {}
    for method in methods:
        part = runs[runs["method"] == method]
        ok = part[part["error"] == ""]
        failed = part[part["error"] != ""]
        if len(failed):
            errors[method] = failed["error"].iloc[0]
        n_ok = len(ok)
        est = ok["estimate"].to_numpy(dtype=float)
        covered = ((ok["ci_low"] <= truth) & (truth <= ok["ci_high"])).to_numpy()
        coverage = float(covered.mean()) if n_ok else np.nan
        sd = float(est.std(ddof=1)) if n_ok > 1 else np.nan
        mean_se = float(ok["std_error"].mean()) if n_ok else np.nan
        rows.append({
            "method": method, "label": get_method(method).label, "n_ok": n_ok, "n_failed": len(failed),
            "bias": float(est.mean() - truth) if n_ok else np.nan,
            "rmse": float(np.sqrt(np.mean((est - truth) ** 2))) if n_ok else np.nan,
            "coverage": coverage,
            "coverage_mc_se": float(np.sqrt(coverage * (1 - coverage) / n_ok)) if n_ok else np.nan,
            "mean_std_error": mean_se, "sd_estimate": sd,
            "se_ratio": mean_se / sd if n_ok > 1 and sd > 0 else np.nan,
            "mean_seconds": float(ok["seconds"].mean()) if n_ok else np.nan,
        })
    table = pd.DataFrame(rows).sort_values("rmse", na_position="last", kind="stable").reset_index(drop=True)
    return table, errors


def _recommend(table: pd.DataFrame, truth: float, estimand: str, scenario: str) -> tuple[str | None, str]:
    """The lowest-RMSE method if its intervals are honest; else an honest one at most twice its RMSE; else none."""
    usable = table[table["n_ok"] > 0]
    if usable.empty:
        return None, "Every method failed on the simulated data; see the errors."
    setting = f"On outcomes simulated over your covariates and treatment ('{scenario}' scenario, true {estimand} {truth:.3g}), "
    best = usable.iloc[0]
    if best["coverage"] >= COVERAGE_FLOOR:
        return str(best["method"]), setting + (
            f"{best['label']} has the lowest RMSE ({best['rmse']:.3g}, bias {best['bias']:+.3g}) and its 95% "
            f"intervals cover the truth {best['coverage']:.0%} +/- {best['coverage_mc_se']:.0%} of the time.")
    honest = usable[usable["coverage"] >= COVERAGE_FLOOR]
    lead = (f"{best['label']} has the lowest RMSE ({best['rmse']:.3g}) but its intervals cover the truth only "
            f"{best['coverage']:.0%} of the time")
    if not honest.empty and honest.iloc[0]["rmse"] <= 2 * best["rmse"]:
        pick = honest.iloc[0]
        return str(pick["method"]), setting + lead + (
            f"; {pick['label']} is recommended instead: RMSE {pick['rmse']:.3g} (bias {pick['bias']:+.3g}) with "
            f"coverage {pick['coverage']:.0%} +/- {pick['coverage_mc_se']:.0%}.")
    return None, setting + lead + (
        f", and no method with at least {COVERAGE_FLOOR:.0%} coverage comes within twice its RMSE. "
        "No method is reliable on this design; treat every estimate with caution.")


def lab_methods(estimand: str) -> list[str]:
    """Ids of the methods the lab can compare for ``estimand``, in registry order.

    Those for a binary treatment that need no role beyond confounders, need the
    outcome observed in every row and do not load PyTorch (the lab runs each
    of them many times).
    """
    from causal_core.core.registry import list_methods

    return [info.id for info in list_methods()
            if info.treatment_kind == "binary" and set(info.required_roles) <= {"confounders"}
            and not info.outcome_may_be_missing and estimand in info.estimands and not info.needs_torch]


__all__ += ["lab_methods"]
