"""Omitted-variable-bias sensitivity of a regression estimate (Cinelli & Hazlett 2020, as in sensemakr).

For the linear regression ``Y ~ D + X`` the bias from omitting a confounder
``Z`` is ``se * sqrt(dof) * sqrt(R2_yz.dx * R2_dz.x / (1 - R2_dz.x))``,
where ``R2_yz.dx`` is the share of the outcome's residual variance (after
``D`` and ``X``) that ``Z`` explains and ``R2_dz.x`` the share of the
treatment's residual variance (after ``X``). From the treatment's
t-statistic ``t`` and residual degrees of freedom ``dof`` follow

* the partial R^2 of the treatment with the outcome, ``t^2 / (t^2 + dof)``:
  a confounder explaining all the outcome's residual variance must explain at
  least this much of the treatment's to remove the estimate;
* the robustness value ``RV_q``: the strength (equal partial R^2 with both)
  that reduces the estimate by ``100 q`` %; ``RV_{q,alpha}`` makes the
  reduced estimate no longer significant at level ``alpha``;
* bounds from benchmark covariates: a confounder ``k_d`` times as strongly
  related to the treatment and ``k_y`` times to the outcome as an observed
  covariate.

Estimates from other adjustment methods (doubly robust, weighting) are
handled approximately: their estimate and standard error are used with the
regression's degrees of freedom and benchmark partial R^2s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData, prepare
from causal_core.core.errors import CausalInputError, plain
from causal_core.core.provenance import design_for
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles

__all__ = [
    "OVBSensitivity",
    "ovb_sensitivity",
    "partial_r2",
    "robustness_value",
    "ovb_bias",
    "adjusted_estimate",
    "adjusted_std_error",
    "benchmark_bounds",
    "bias_contour_grid",
]


def partial_r2(t_statistic: float, dof: float) -> float:
    """Partial R^2 ``t^2 / (t^2 + dof)`` of a regressor with the outcome."""
    return float(t_statistic**2 / (t_statistic**2 + dof))


def robustness_value(t_statistic: float, dof: float, *, q: float = 1.0, alpha: float | None = None) -> float:
    """Robustness value ``RV_q`` (``alpha=None``) or ``RV_{q,alpha}`` of a regression coefficient.

    Follows sensemakr's ``robustness_value``: with ``f_q = q |t| / sqrt(dof)``
    and ``f* = |t_{alpha/2, dof-1}| / sqrt(dof - 1)``, ``RV = (sqrt(f^4 + 4 f^2) - f^2) / 2``
    at ``f = f_q - f*``, 0 when that is negative, and ``(f_q^2 - f*^2) / (1 + f_q^2)``
    when ``f_q > 1 / f*`` (the treatment constraint does not bind).
    """
    from scipy import stats
    if q <= 0:
        raise CausalInputError(f"Option 'q' must be positive (the share of the estimate to remove); got {plain(q)!r}.")
    fq = q * abs(t_statistic) / np.sqrt(dof)
    if alpha is None:
        return float(0.5 * (np.sqrt(fq**4 + 4 * fq**2) - fq**2))
    if not (0 < alpha < 1):
        raise CausalInputError(f"Option 'alpha' must be between 0 and 1; got {plain(alpha)!r}.")
    f_crit = abs(stats.t.ppf(alpha / 2, dof - 1)) / np.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa < 0:
        return 0.0
    if fq > 1 / f_crit:
        return float((fq**2 - f_crit**2) / (1 + fq**2))
    return float(0.5 * (np.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))


def ovb_bias(std_error: float, dof: float, r2dz_x, r2yz_dx):
    """Absolute bias ``se sqrt(dof) sqrt(R2_yz.dx R2_dz.x / (1 - R2_dz.x))`` (arrays broadcast)."""
    r2dz_x, r2yz_dx = np.asarray(r2dz_x, dtype=float), np.asarray(r2yz_dx, dtype=float)
    return std_error * np.sqrt(dof) * np.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x))


def adjusted_estimate(estimate: float, std_error: float, dof: float, r2dz_x, r2yz_dx):
    """The estimate moved toward zero by the bias of a confounder of the given strength."""
    return np.sign(estimate) * (abs(estimate) - ovb_bias(std_error, dof, r2dz_x, r2yz_dx))


def adjusted_std_error(std_error: float, dof: float, r2dz_x, r2yz_dx):
    """Standard error had the confounder been included: ``se sqrt((1 - R2_yz.dx) / (1 - R2_dz.x)) sqrt(dof / (dof - 1))``."""
    r2dz_x, r2yz_dx = np.asarray(r2dz_x, dtype=float), np.asarray(r2yz_dx, dtype=float)
    return std_error * np.sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * np.sqrt(dof / (dof - 1))


def benchmark_bounds(r2dxj_x: float, r2yxj_dx: float, kd: float = 1.0, ky: float | None = None) -> tuple[float, float]:
    """Partial R^2s ``(R2_dz.x, R2_yz.dx)`` of a confounder ``kd``/``ky`` times as strong as a benchmark covariate.

    ``r2dxj_x`` is the benchmark's partial R^2 with the treatment (given the
    other covariates) and ``r2yxj_dx`` with the outcome (given the treatment
    and the other covariates). Cinelli & Hazlett (2020), section 6.1; the
    outcome bound is capped at 1.
    """
    ky = kd if ky is None else ky
    if kd <= 0 or ky <= 0:
        raise CausalInputError(f"Options 'kd' and 'ky' must be positive multiples; got kd={plain(kd)!r}, ky={plain(ky)!r}.")
    r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
    if r2dz_x >= 1 or kd * r2dxj_x >= 1:
        raise CausalInputError(
            f"A confounder {kd} times as strong as this benchmark would explain all of the treatment; lower 'kd'."
        )
    r2zxj_xd = kd * r2dxj_x**2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if r2zxj_xd >= 1:
        raise CausalInputError(f"Option 'kd'={kd} is impossible for this benchmark; lower it.")
    r2yz_dx = ((np.sqrt(ky) + np.sqrt(r2zxj_xd)) / np.sqrt(1 - r2zxj_xd)) ** 2 * (r2yxj_dx / (1 - r2yxj_dx))
    return float(r2dz_x), float(min(r2yz_dx, 1.0))


@dataclass(frozen=True)
class OVBSensitivity:
    """Cinelli-Hazlett sensitivity of one effect estimate.

    Attributes
    ----------
    estimate, std_error : float
        The estimate analysed (the regression coefficient, or another method's estimate).
    dof : int
        Residual degrees of freedom of the regression ``Y ~ D + X``.
    t_statistic : float
    partial_r2_treatment : float
        Partial R^2 of the treatment with the outcome, ``R2_yd.x``.
    robustness_value : float
        ``RV_q`` at ``q``.
    robustness_value_alpha : float
        ``RV_{q,alpha}``.
    q, alpha : float
    approximate : bool
        True when the estimate is not the regression coefficient (doubly robust, weighting).
    benchmarks : DataFrame
        One row per (benchmark covariate, multiple): ``benchmark, kd, ky, r2dz_x, r2yz_dx,
        adjusted_estimate, adjusted_se, adjusted_t, adjusted_ci_low, adjusted_ci_high``.
    explanation : str
    warnings : tuple of str
    """

    estimate: float
    std_error: float
    dof: int
    t_statistic: float
    partial_r2_treatment: float
    robustness_value: float
    robustness_value_alpha: float
    q: float
    alpha: float
    approximate: bool
    benchmarks: pd.DataFrame = field(repr=False)
    explanation: str = ""
    warnings: tuple[str, ...] = ()

    def summary(self) -> dict[str, float]:
        """The headline numbers as one flat row."""
        return {
            "estimate": self.estimate,
            "std_error": self.std_error,
            "t_statistic": self.t_statistic,
            "dof": self.dof,
            "partial_r2_treatment": self.partial_r2_treatment,
            "robustness_value": self.robustness_value,
            "robustness_value_alpha": self.robustness_value_alpha,
        }


def _least_squares(design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, int]:
    """Coefficients and rank of a least-squares fit (QR with column pivoting: rank-deficient dummies are fine)."""
    from scipy import linalg
    coef, _, rank, _ = linalg.lstsq(design, target, lapack_driver="gelsy", check_finite=False)
    return coef, int(rank)


def _residual_sum(design: np.ndarray, target: np.ndarray) -> float:
    coef, _ = _least_squares(design, target)
    residual = target - design @ coef
    return float(residual @ residual)


def _group_partial_r2(full: np.ndarray, drop: Sequence[int], target: np.ndarray,
                      unrestricted: float | None = None) -> float:
    """Share of the residual variance of ``target`` (given the other columns) explained by columns ``drop``.

    ``unrestricted`` is the residual sum of squares of ``target`` on all of ``full`` when already known
    (it is the same for every benchmark, so the benchmark grid fits it once).
    """
    keep = [j for j in range(full.shape[1]) if j not in set(drop)]
    restricted = _residual_sum(full[:, keep], target)
    unrestricted = _residual_sum(full, target) if unrestricted is None else unrestricted
    return float((restricted - unrestricted) / restricted) if restricted > 0 else 0.0


def ovb_sensitivity(
    df: pd.DataFrame | EstimateResult,
    roles: Roles | pd.DataFrame,
    *,
    benchmarks: Sequence[str] | None = None,
    kd: Sequence[float] | float = (1.0,),
    ky: Sequence[float] | float | None = None,
    q: float = 1.0,
    alpha: float = 0.05,
    estimate: float | None = None,
    std_error: float | None = None,
    max_benchmarks: int = 10,
) -> OVBSensitivity:
    """Omitted-variable-bias sensitivity of the effect of the treatment in ``Y ~ D + X``.

    Called as ``ovb_sensitivity(result, df)`` it starts from an
    :class:`EstimateResult`: the regression is fitted on the rows the result
    used (binary treatments coded 0/1, treated 1), and unless ``estimate`` and
    ``std_error`` are given the result's are analysed (approximately) for any
    method but a plain ``regression_adjustment``, whose OLS coefficient is
    analysed exactly.

    Parameters
    ----------
    df : DataFrame or EstimateResult
        The data (never modified), or a result (then ``roles`` is the data).
    roles : Roles or DataFrame
        Treatment (binary or numeric), outcome and confounders; categorical
        confounders enter as one-hot dummies (fixed effects).
    benchmarks : list of str, optional
        Confounder columns to benchmark against ("a confounder as strong as
        ``age``"); a categorical column is benchmarked as the group of its
        dummies. Default: every confounder column, up to ``max_benchmarks``.
    kd, ky : float or list of float
        Multiples of each benchmark's strength with the treatment and the outcome (``ky`` defaults to ``kd``).
    q : float
        Share of the estimate that the robustness value refers to (1 = all of it).
    alpha : float
        Significance level of ``RV_{q,alpha}`` and of the adjusted intervals.
    estimate, std_error : float, optional
        Another method's estimate and standard error (doubly robust, weighting):
        analysed approximately with the regression's degrees of freedom.

    Returns
    -------
    OVBSensitivity
    """
    if isinstance(df, EstimateResult):
        result, df = df, roles
        data = design_for(result, df)
        if estimate is None and std_error is None and not exact_regression(result):
            estimate, std_error = result.estimate, result.std_error
        roles = result.roles
    else:
        data = prepare(df, roles, treatment_kind="continuous")
    return _ovb_from_design(data, roles, benchmarks=benchmarks, kd=kd, ky=ky, q=q, alpha=alpha, estimate=estimate,
                            std_error=std_error, max_benchmarks=max_benchmarks)


def exact_regression(result: EstimateResult) -> bool:
    """Whether the result is the OLS coefficient that Cinelli-Hazlett analyse exactly (plain regression adjustment)."""
    options = result.options
    return result.method == "regression_adjustment" and not options.get("interactions") and \
        options.get("outcome_model") in (None, "default")


def _benchmark_partial_r2s(data: PreparedData, design: np.ndarray, controls: np.ndarray,
                           chosen: Sequence[str]) -> list[tuple[float, float]]:
    """``(R2_dxj.x, R2_yxj.dx)`` of each benchmark covariate (or group of dummies): two refits per benchmark.

    The benchmarks are the one grid here that refits anything, so they fan out (through
    :func:`~causal_core.compute.grouped.map_grouped`: tasks on a Dask backend once a refit costs enough);
    the fits on all columns are the same for every benchmark and are done once, here.
    """
    from causal_core.compute.grouped import map_grouped

    sources, t, y = data.covariate_sources, data.t, data.y  # what the tasks carry: not the whole design
    t_full, y_full = _residual_sum(controls, t), _residual_sum(design, y)

    def partial_r2s(name: str) -> tuple[float, float]:
        columns = [j + 1 for j, s in enumerate(sources) if s == name]  # +1: intercept first
        return (_group_partial_r2(controls, columns, t, t_full),
                _group_partial_r2(design, [c + 1 for c in columns], y, y_full))

    return map_grouped(partial_r2s, list(chosen))


def _ovb_from_design(
    data: PreparedData,
    roles: Roles,
    *,
    benchmarks: Sequence[str] | None,
    kd: Sequence[float] | float,
    ky: Sequence[float] | float | None,
    q: float,
    alpha: float,
    estimate: float | None,
    std_error: float | None,
    max_benchmarks: int,
) -> OVBSensitivity:
    """:func:`ovb_sensitivity` on prepared data (treatment as numbers, binary ones 0/1)."""
    from scipy import stats
    n = data.n
    X = data.X
    design = np.column_stack([np.ones(n), data.t, X])
    coef, rank = _least_squares(design, data.y)
    dof = n - rank
    if dof < 3:
        raise CausalInputError(
            f"The regression of '{roles.outcome}' on the treatment and confounders leaves {dof} degrees of freedom; "
            "it needs at least 3 (fewer confounders or more rows)."
        )
    controls = np.column_stack([np.ones(n), X])
    coef_d, _ = _least_squares(controls, data.t)
    d_residual = data.t - controls @ coef_d
    if float(d_residual @ d_residual) <= 1e-12 * max(1.0, float(data.t @ data.t)):
        raise CausalInputError(
            f"Treatment column '{roles.treatment}' is fully explained by the confounders; its effect is not identified."
        )
    residual = data.y - design @ coef
    sigma2 = float(residual @ residual) / dof
    ols_estimate = float(coef[1])
    ols_se = float(np.sqrt(sigma2 / (d_residual @ d_residual)))
    approximate = estimate is not None
    est = float(estimate) if estimate is not None else ols_estimate
    se = float(std_error) if std_error is not None else ols_se
    if not (np.isfinite(se) and se > 0):
        raise CausalInputError(f"The standard error must be a positive number for a sensitivity analysis; got {plain(se)!r}.")
    t_stat = est / se
    warnings: list[str] = []
    if approximate:
        warnings.append(
            "Approximate: the Cinelli-Hazlett formulas are exact for the linear regression; for this estimate "
            "they use its estimate and standard error with the regression's degrees of freedom."
        )

    kd_list = [float(kd)] if np.isscalar(kd) else [float(k) for k in kd]
    if ky is None:
        ky_list = kd_list
    else:
        ky_list = [float(ky)] * len(kd_list) if np.isscalar(ky) else [float(k) for k in ky]
    if len(ky_list) != len(kd_list):
        raise CausalInputError("Options 'kd' and 'ky' must have the same length.")
    sources = list(dict.fromkeys(data.covariate_sources))
    if benchmarks is None:
        chosen = sources[:max_benchmarks]
    else:
        chosen = list(benchmarks)
        for name in chosen:
            if name not in sources:
                raise CausalInputError(
                    f"Benchmark '{name}' is not one of the confounders ({', '.join(sources) or 'none'})."
                )
    rows = []
    z = stats.t.ppf(1 - alpha / 2, dof - 1)
    for name, (r2dxj_x, r2yxj_dx) in zip(chosen, _benchmark_partial_r2s(data, design, controls, chosen)):
        for k_d, k_y in zip(kd_list, ky_list):
            try:
                r2dz, r2yz = benchmark_bounds(r2dxj_x, r2yxj_dx, k_d, k_y)
            except CausalInputError as exc:
                warnings.append(f"Benchmark '{name}' x{k_d:g}: {exc}")
                continue
            if r2yz >= 1.0:
                warnings.append(f"Benchmark '{name}' x{k_d:g} implies a confounder explaining all of the outcome's "
                                "residual variance (capped at 1); lower 'ky'.")
            adj = float(adjusted_estimate(est, se, dof, r2dz, r2yz))
            adj_se = float(adjusted_std_error(se, dof, r2dz, r2yz))
            rows.append({
                "benchmark": name, "kd": k_d, "ky": k_y, "r2dx_benchmark": r2dxj_x, "r2yx_benchmark": r2yxj_dx,
                "r2dz_x": r2dz, "r2yz_dx": r2yz, "adjusted_estimate": adj, "adjusted_se": adj_se,
                "adjusted_t": adj / adj_se if adj_se > 0 else float("nan"), "adjusted_ci_low": adj - z * adj_se, "adjusted_ci_high": adj + z * adj_se,
            })
    table = pd.DataFrame(rows, columns=[
        "benchmark", "kd", "ky", "r2dx_benchmark", "r2yx_benchmark", "r2dz_x", "r2yz_dx", "adjusted_estimate",
        "adjusted_se", "adjusted_t", "adjusted_ci_low", "adjusted_ci_high"])
    rv = robustness_value(t_stat, dof, q=q)
    rv_alpha = robustness_value(t_stat, dof, q=q, alpha=alpha)
    r2yd = partial_r2(t_stat, dof)
    explanation = (
        f"An unobserved confounder explaining {100 * rv:.1f}% of the residual variance of both the treatment and "
        f"the outcome would remove {'the whole' if q == 1 else f'{100 * q:.0f}% of the'} estimate; one explaining "
        f"{100 * rv_alpha:.1f}% would make it not significant at {alpha:g}. A confounder explaining all of the "
        f"outcome's residual variance would need to explain {100 * r2yd:.1f}% of the treatment's."
    )
    return OVBSensitivity(
        estimate=est, std_error=se, dof=int(dof), t_statistic=float(t_stat), partial_r2_treatment=r2yd,
        robustness_value=rv, robustness_value_alpha=rv_alpha, q=float(q), alpha=float(alpha), approximate=approximate,
        benchmarks=table, explanation=explanation, warnings=tuple(warnings),
    )


def bias_contour_grid(sensitivity: OVBSensitivity, *, max_r2dz: float | None = None, max_r2yz: float | None = None,
                      n_points: int = 41) -> pd.DataFrame:
    """Adjusted estimate over a grid of confounder strengths, one row per grid point.

    Columns ``r2dz_x``, ``r2yz_dx``, ``bias``, ``adjusted_estimate``,
    ``adjusted_t``. The grid runs from 0 to ``max`` (default: a little beyond
    the robustness value and the largest benchmark, at most 0.99).
    """
    bench = sensitivity.benchmarks
    reach = max([sensitivity.robustness_value * 2, 0.1]
                + ([float(bench["r2dz_x"].max()) * 1.3, float(bench["r2yz_dx"].max()) * 1.3] if len(bench) else []))
    top_d = min(max_r2dz if max_r2dz is not None else reach, 0.99)
    top_y = min(max_r2yz if max_r2yz is not None else reach, 0.99)
    grid_d, grid_y = np.meshgrid(np.linspace(0, top_d, n_points), np.linspace(0, top_y, n_points), indexing="ij")
    d, y = grid_d.ravel(), grid_y.ravel()
    bias = ovb_bias(sensitivity.std_error, sensitivity.dof, d, y)
    adj = adjusted_estimate(sensitivity.estimate, sensitivity.std_error, sensitivity.dof, d, y)
    adj_se = adjusted_std_error(sensitivity.std_error, sensitivity.dof, d, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        adjusted_t = np.where(adj_se > 0, adj / np.where(adj_se > 0, adj_se, 1.0), np.nan)
    return pd.DataFrame({"r2dz_x": d, "r2yz_dx": y, "bias": bias, "adjusted_estimate": adj,
                         "adjusted_t": adjusted_t})
