"""Linear instrumental variables: two-stage least squares (linearmodels ``IV2SLS``) with its diagnostics.

The effect is the 2SLS coefficient on the treatment, per unit of treatment.
Under a constant (homogeneous) effect in a linear model it is the ATE; with a
binary instrument and heterogeneous effects it is the LATE of compliers
(Imbens & Angrist 1994), and with a multi-valued treatment a weighted average
of per-unit effects (Angrist & Imbens 1995). The default estimand is therefore
``"LATE"``; ``"ATE"`` is accepted with a warning that it assumes constant effects.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.inference import analytic_inference

__all__ = ["two_stage_least_squares", "wald_estimator", "first_stage_f"]

WEAK_INSTRUMENT_F = 10.0
#: An instrument set whose first-stage F is below 1 with p-value above this is refused as irrelevant.
IRRELEVANT_P = 0.5
COV_TYPES = ("robust", "unadjusted")


def wald_estimator(y: np.ndarray, t: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Wald ratio (reduced form / first stage) for a 0/1 instrument, with its delta-method SE.

    ``(mean(y|z=1) - mean(y|z=0)) / (mean(t|z=1) - mean(t|z=0))``; the SE
    treats the two instrument arms as independent samples and uses the
    covariance of ``y`` and ``t`` within each arm.
    """
    arms = [z == 1, z == 0]
    dy = y[arms[0]].mean() - y[arms[1]].mean()
    dt = t[arms[0]].mean() - t[arms[1]].mean()
    if dt == 0:
        return float("nan"), float("nan")
    ratio = dy / dt
    var_dy = var_dt = cov = 0.0
    for arm in arms:
        n_arm = arm.sum()
        c = np.cov(y[arm], t[arm], ddof=1)
        var_dy += c[0, 0] / n_arm
        var_dt += c[1, 1] / n_arm
        cov += c[0, 1] / n_arm
    var = (var_dy - 2 * ratio * cov + ratio**2 * var_dt) / dt**2
    return float(ratio), float(np.sqrt(max(var, 0.0)))


def first_stage_f(diagnostics: pd.DataFrame, n_instruments: int) -> tuple[float, float]:
    """Partial F statistic and p-value of the excluded instruments from linearmodels' first-stage diagnostics.

    ``diagnostics`` is ``IVResults.first_stage.diagnostics``. With a robust
    covariance linearmodels reports a chi2(q) Wald statistic; it is divided by
    q to give the (robust) F on the usual scale.
    """
    row = diagnostics.iloc[0]
    stat, pval, dist = float(row["f.stat"]), float(row["f.pval"]), str(row["f.dist"])
    if dist.startswith("chi2"):
        stat /= n_instruments
    return stat, pval


def _check_instruments(data: PreparedData) -> None:
    """Refuse constant instruments and instruments collinear with the covariates."""
    for j, name in enumerate(data.Z_names):
        if np.ptp(data.Z[:, j]) == 0:
            raise CausalInputError(f"Instrument column '{name}' is constant; an instrument must vary.")
    exog = np.column_stack([np.ones(data.n), data.X])
    full = np.column_stack([exog, data.Z])
    if np.linalg.matrix_rank(full) < full.shape[1]:
        raise CausalInputError(
            f"Instrument column(s) {list(data.Z_names)} are collinear with the covariates or each other; "
            "each instrument must add variation the covariates do not explain."
        )
    if np.linalg.matrix_rank(exog) < exog.shape[1]:
        raise CausalInputError(
            f"Covariates {list(data.covariate_names)} are collinear; drop redundant columns."
        )


def _test_row(name: str, test: Any) -> dict[str, Any]:
    return {
        "test": name,
        "statistic": float(test.stat),
        "p_value": float(test.pval),
        "distribution": str(test.dist_name),
    }


@register(
    id="two_stage_least_squares",
    label="Two-stage least squares (IV)",
    family="Instrumental variables",
    required_roles=("instruments",),
    estimands=("LATE", "ATE"),
    summary="Instruments shift the treatment but touch the outcome only through it; 2SLS with robust SEs.",
    reference="Angrist & Pischke (2009), ch. 4; Wooldridge (2010), ch. 5; linearmodels IV2SLS.",
    treatment_kind="continuous",
    options=(
        OptionSpec("cov_type", "choice", "robust",
                   "Standard errors: heteroskedasticity-robust or classical (homoskedastic).", choices=COV_TYPES),
    ),
    limits=MethodLimits(rows_beyond_covariates=3, covariate_roles=("confounders", "instruments")),
    default_ticked=True, order=90,
)
def two_stage_least_squares(
    data: PreparedData, *, estimand: str, seed: int, cov_type: str = "robust"
) -> MethodOutput:
    """2SLS of the outcome on the treatment, instrumented by ``data.Z``, covariates as exogenous regressors.

    Parameters
    ----------
    data : PreparedData
        Treatment may be numeric (any values) or 0/1.
    estimand : {"LATE", "ATE"}
        Same number; ``"ATE"`` adds a warning that it assumes a constant effect.
    seed : int
        Unused (2SLS is deterministic).
    cov_type : {"robust", "unadjusted"}
        Heteroskedasticity-robust (White) or classical covariance, both with
        the small-sample n/(n-k) correction (linearmodels ``debiased=True``,
        Stata's ``small``).

    Returns
    -------
    MethodOutput
        Coefficient on the treatment and its SE; diagnostics hold the first-stage
        F, over-identification and endogeneity tests, the OLS coefficient and,
        for one 0/1 instrument without covariates, the Wald estimator.

    Raises
    ------
    CausalInputError
        For a constant instrument, instruments collinear with the covariates,
        and instruments with no evidence of relevance: first-stage partial F
        below 1 *and* p-value above 0.5 (the F sits below its median under
        "no correlation", so the data show nothing at all to identify from).
        F between 1 and 10 only warns ("weak instrument").
    """
    from linearmodels.iv import IV2SLS
    _check_instruments(data)
    treatment = data.roles.treatment
    exog = pd.DataFrame(data.X, columns=list(data.covariate_names))
    exog.insert(0, "const", 1.0)
    endog = pd.DataFrame({treatment: data.t})
    instruments = pd.DataFrame(data.Z, columns=list(data.Z_names))
    names = ", ".join(f"'{n}'" for n in data.Z_names)
    irrelevant = (
        f"Instrument column(s) {names} do not predict treatment '{treatment}' "
        "(first-stage F = {f_stat:.3g}, p = {f_pval:.2f}); an instrument must be correlated with the treatment."
    )
    try:
        result = IV2SLS(data.y, exog, endog, instruments).fit(cov_type=cov_type, debiased=True)
    except np.linalg.LinAlgError:  # instruments exactly orthogonal to the treatment: singular second stage
        raise CausalInputError(irrelevant.format(f_stat=0.0, f_pval=1.0)) from None
    estimate = float(result.params[treatment])
    se = float(result.std_errors[treatment])

    n_instruments = data.Z.shape[1]
    first = result.first_stage.diagnostics.iloc[[0]]  # computed on each access: read once
    f_stat, f_pval = first_stage_f(first, n_instruments)
    if f_stat < 1 and f_pval > IRRELEVANT_P:
        raise CausalInputError(irrelevant.format(f_stat=f_stat, f_pval=f_pval))
    warnings: list[str] = []
    if f_stat < WEAK_INSTRUMENT_F:
        warnings.append(
            f"Weak instrument: first-stage F = {f_stat:.2f} < {WEAK_INSTRUMENT_F:g} for {names}; "
            "2SLS is biased towards OLS and its confidence interval is unreliable."
        )
    if estimand == "ATE":
        warnings.append("2SLS estimates the ATE only under a constant treatment effect; otherwise it is a LATE.")

    tests = []
    if n_instruments > 1:
        classical = cov_type == "unadjusted"
        overid = result.sargan if classical else result.wooldridge_overid
        label = "Sargan" if classical else "Wooldridge score, robust"
        tests.append(_test_row(f"over-identification ({label})", overid))
        if overid.pval < 0.05:
            warnings.append(
                f"Over-identification test rejects (p = {overid.pval:.3f}): "
                "the instruments disagree, so at least one may be invalid."
            )
    tests.append(_test_row("endogeneity (Wu-Hausman)", result.wu_hausman()))
    if cov_type == "robust":
        tests.append(_test_row("endogeneity (Wooldridge regression, robust)", result.wooldridge_regression))

    ols_coef = float(np.linalg.lstsq(np.column_stack([exog.to_numpy(), data.t]), data.y, rcond=None)[0][-1])
    diagnostics: dict[str, Any] = {
        "first_stage_f": f_stat,
        "first_stage_f_p_value": f_pval,
        "first_stage_partial_r2": float(first["partial.rsquared"].iloc[0]),
        "n_instruments": n_instruments,
        "tests": pd.DataFrame(tests),
        "ols_estimate": ols_coef,
        "cov_type": cov_type,
        "coefficients": pd.DataFrame({
            "coef": result.params, "std_error": result.std_errors, "p_value": result.pvalues,
        }),
    }
    if n_instruments == 1 and data.X.shape[1] == 0 and set(np.unique(data.Z[:, 0])) == {0.0, 1.0}:
        wald, wald_se = wald_estimator(data.y, data.t, data.Z[:, 0])
        diagnostics["wald_estimate"] = wald
        diagnostics["wald_std_error"] = wald_se
    return MethodOutput(
        estimate=estimate,
        inference=analytic_inference(estimate, se, detail=f"2SLS analytic ({cov_type}, small-sample corrected)"),
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
