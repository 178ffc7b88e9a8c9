"""Heckman's two-step selection model: probit selection equation, inverse Mills ratio, corrected OLS.

Model (Heckman 1979)::

    selected = 1[ W'gamma + u > 0 ],   W = (1, X, T, Z)
    y = b0 + tau T + X'b + e   observed only when selected = 1
    (u, e) bivariate normal, var(u) = 1, var(e) = sigma^2, corr(u, e) = rho

so that ``E[y | X, T, selected=1] = b0 + tau T + X'b + beta_lambda * lambda(W'gamma)`` with
``lambda = phi/Phi`` the inverse Mills ratio and ``beta_lambda = rho * sigma``.
The effect is ``tau``, the ATE under the model. ``Z`` (the ``exclusions`` role, its
own role so that IV methods never take it for an instrument) are exclusion-restriction variables: they move selection but not the outcome.
The standard errors are the corrected two-step covariance of Heckman (1979)
in the form given by Greene (2012, eq. 19-24), which accounts for the
heteroskedasticity induced by selection and for the estimated ``gamma``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import register
from causal_core.core.results import MethodOutput
from causal_core.estimators._selection_inputs import check_selection_inputs
from causal_core.inference import analytic_inference

__all__ = ["heckman", "inverse_mills_ratio", "heckman_two_step"]


def inverse_mills_ratio(index: np.ndarray) -> np.ndarray:
    """``phi(index) / Phi(index)``, computed on the log scale so that it stays finite for very negative index."""
    from scipy import stats
    return np.exp(stats.norm.logpdf(index) - stats.norm.logcdf(index))


def heckman_two_step(
    y: np.ndarray, X_out: np.ndarray, W: np.ndarray, s: np.ndarray
) -> dict[str, Any]:
    """Heckman two-step estimates with Greene's corrected covariance.

    Parameters
    ----------
    y : ndarray (n,)
        Outcome (values where ``s == 0`` are ignored).
    X_out : ndarray (n, k)
        Outcome-equation regressors, including the constant.
    W : ndarray (n, q)
        Selection-equation regressors, including the constant and the exclusion variables.
    s : ndarray (n,)
        0/1 selection indicator.

    Returns
    -------
    dict
        ``beta`` (k + 1 coefficients, the inverse Mills ratio last), ``cov``
        (their corrected covariance), ``gamma``, ``gamma_cov``, ``probit``
        (the statsmodels result), ``sigma``, ``rho`` (unclipped ``rho_raw`` too).
    """
    import statsmodels.api as sm
    probit = sm.Probit(s, W).fit(disp=0, maxiter=200)
    gamma = np.asarray(probit.params)
    gamma_cov = np.asarray(probit.cov_params())
    sel = s == 1
    index = W[sel] @ gamma
    mills = inverse_mills_ratio(index)
    delta = mills * (mills + index)
    Xs = np.column_stack([X_out[sel], mills])
    ys = y[sel]
    xtx_inv = np.linalg.inv(Xs.T @ Xs)
    beta = xtx_inv @ Xs.T @ ys
    resid = ys - Xs @ beta
    n_sel = ys.shape[0]
    beta_lambda = beta[-1]
    sigma2 = resid @ resid / n_sel + beta_lambda**2 * delta.mean()
    rho2_raw = beta_lambda**2 / sigma2
    rho2 = min(rho2_raw, 1.0)
    Ws = W[sel]
    middle = Xs.T @ ((1 - rho2 * delta)[:, None] * Xs)
    cross = Xs.T @ (delta[:, None] * Ws)
    middle = middle + rho2 * cross @ gamma_cov @ cross.T
    cov = sigma2 * xtx_inv @ middle @ xtx_inv
    return {
        "beta": beta,
        "cov": cov,
        "gamma": gamma,
        "gamma_cov": gamma_cov,
        "probit": probit,
        "sigma": float(np.sqrt(sigma2)),
        "rho": float(np.sign(beta_lambda) * np.sqrt(rho2)),
        "rho_raw_squared": float(rho2_raw),
    }


def _check_inputs(data: PreparedData) -> None:
    check_selection_inputs(data, "heckman")
    for j, name in enumerate(data.E_names):
        if np.ptp(data.E[:, j]) == 0:
            raise CausalInputError(f"Exclusion variable '{name}' is constant; it must vary to shift selection.")
    W = np.column_stack([np.ones(data.n), data.X, data.t, data.E])
    if np.linalg.matrix_rank(W) < W.shape[1]:
        raise CausalInputError(
            f"Exclusion variable(s) {list(data.E_names)} are collinear with the treatment or covariates; "
            "each must add variation of its own to the selection equation."
        )


@register(
    id="heckman",
    label="Heckman selection model (two-step)",
    family="Selection bias",
    required_roles=("exclusions", "selection"),
    estimands=("ATE",),
    summary="Outcome seen only for selected rows; a probit for selection and the inverse Mills ratio correct the bias.",
    reference="Heckman (1979), Econometrica 47:153-161; Greene (2012), Econometric Analysis, sec. 19.5.",
    treatment_kind="binary",
    limits=MethodLimits(rows_beyond_covariates=4, covariate_roles=("confounders", "exclusions")),
    outcome_may_be_missing=True,
    default_ticked=True, order=100,
)
def heckman(data: PreparedData, *, estimand: str, seed: int) -> MethodOutput:
    """Heckman two-step: the treatment coefficient in the outcome equation, with corrected SEs.

    Parameters
    ----------
    data : PreparedData
        Needs ``S`` (selection), ``Z`` (exclusion variables, in the selection
        equation only) and a 0/1 treatment; covariates enter both equations.
    estimand : {"ATE"}
    seed : int
        Unused (the estimator is deterministic).

    Returns
    -------
    MethodOutput
        Diagnostics: ``selection_equation`` (probit table), ``selection_pseudo_r2``,
        ``lambda`` and ``lambda_std_error`` (coefficient on the inverse Mills ratio),
        ``rho``, ``sigma``, ``naive_selected_ols`` (the uncorrected estimate).
    """
    from scipy import stats
    _check_inputs(data)
    treatment = data.roles.treatment
    X_out = np.column_stack([np.ones(data.n), data.t, data.X])
    W = np.column_stack([np.ones(data.n), data.X, data.t, data.E])
    try:
        fit = heckman_two_step(data.y, X_out, W, data.S)
    except np.linalg.LinAlgError as exc:
        raise CausalInputError(
            "Heckman's outcome equation is singular (the inverse Mills ratio is collinear with the regressors); "
            "the exclusion variables must shift selection strongly enough."
        ) from exc
    except Exception as exc:  # statsmodels separation errors and friends
        raise CausalInputError(
            f"The probit selection equation for '{data.roles.selection}' could not be fitted ({exc}); "
            "check for a covariate or exclusion variable that perfectly predicts selection."
        ) from exc
    probit = fit["probit"]
    warnings: list[str] = []
    if not probit.mle_retvals.get("converged", True):
        warnings.append("The probit selection equation did not converge; estimates may be unreliable.")
    if fit["rho_raw_squared"] > 1:
        warnings.append(
            f"Estimated rho^2 = {fit['rho_raw_squared']:.2f} exceeds 1 and was truncated to 1 for the standard errors; "
            "the model may be misspecified."
        )
    sel_names = ["const", *data.covariate_names, treatment, *data.E_names]
    k_z = data.E.shape[1]
    z_idx = np.arange(len(sel_names) - k_z, len(sel_names))
    wald = float(fit["gamma"][z_idx] @ np.linalg.solve(fit["gamma_cov"][np.ix_(z_idx, z_idx)], fit["gamma"][z_idx]))
    wald_p = float(stats.chi2.sf(wald, k_z))
    if wald_p > 0.05:
        warnings.append(
            f"The exclusion variable(s) {list(data.E_names)} barely predict selection (Wald p = {wald_p:.2f}); "
            "the correction then rests on the normality assumption alone and is fragile."
        )
    beta, cov = fit["beta"], fit["cov"]
    se = np.sqrt(np.diag(cov))
    table = pd.DataFrame(
        {"coef": fit["gamma"], "std_error": np.sqrt(np.diag(fit["gamma_cov"]))}, index=sel_names
    )
    table["z"] = table["coef"] / table["std_error"]
    table["p_value"] = 2 * stats.norm.sf(table["z"].abs())
    sel = data.S == 1
    naive = np.linalg.lstsq(X_out[sel], data.y[sel], rcond=None)[0][1]
    outcome_names = ["const", treatment, *data.covariate_names, "inverse_mills_ratio"]
    diagnostics: dict[str, Any] = {
        "selection_equation": table,
        "selection_pseudo_r2": float(probit.prsquared),
        "exclusion_wald_p_value": wald_p,
        "outcome_equation": pd.DataFrame({"coef": beta, "std_error": se}, index=outcome_names),
        "lambda": float(beta[-1]),
        "lambda_std_error": float(se[-1]),
        "rho": fit["rho"],
        "sigma": fit["sigma"],
        "n_selected": int(sel.sum()),
        "naive_selected_ols": float(naive),
    }
    return MethodOutput(
        estimate=float(beta[1]),
        inference=analytic_inference(beta[1], se[1], detail="Heckman two-step corrected covariance "
                                     "(Greene 2012, eq. 19-24)"),
        diagnostics=diagnostics,
        warnings=tuple(warnings),
        n_used=data.n,
    )
