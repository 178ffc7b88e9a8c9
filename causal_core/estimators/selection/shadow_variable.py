"""Shadow-variable estimation when whether the outcome is recorded depends on the outcome itself (MNAR).

Selection model (Wang, Shao & Kim 2014; Miao & Tchetgen Tchetgen 2016)::

    pi(X, T, Y) = P(S = 1 | X, T, Y) = expit(a0 + a_X'X + a_T T + gamma Y)

``gamma`` is the log odds ratio of being recorded per unit of the outcome: how
strongly the outcome drives its own missingness (0 is missing at random). It is
identified by a *shadow variable* ``Z``: associated with ``Y`` but independent
of ``S`` given ``(X, T, Y)``, which makes every function ``h(X, T, Z)`` satisfy

    E[ (S / pi(X, T, Y) - 1) h(X, T, Z) ] = 0,

a moment condition that needs ``Y`` only where it was recorded. With
``h = (1, X, T, Z)`` the model is just identified; option ``extra_moments``
adds ``T Z`` and ``Z^2`` and then fits by two-step efficient GMM, reporting
Hansen's J test of the over-identifying restrictions (a test of the
shadow-variable assumption together with the logistic selection model).

The ATE is the Hajek contrast of arm means among recorded rows weighted by
``1 / pi`` (times the treatment's inverse propensity when confounders are
given). Its standard error (and those of the selection equation) is the
jackknife of the stacked estimating equations (GMM first-order conditions,
treatment logit, weighted means), each leave-one-out fit taken as one Newton
step (:mod:`causal_core.inference.jackknife`); option ``n_boot``
gives a seeded bootstrap instead. The stacked sandwich, which has the same
limit, is reported as a diagnostic only: recorded rows with small ``pi``
carry weights of 20-100 and pull the estimate far more than their linear
influence says, so at a few thousand rows the sandwich understated the
spread by about a fifth and its 95% intervals covered 84-88%
(``bench/results/selection.md``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.options import n_boot_option
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput, kish_ess
from causal_core.estimators._propensity_design import logit_design
from causal_core.estimators._selection_inputs import check_selection_inputs, selection_warnings
from causal_core.inference import bootstrap, Bootstrap, analytic_inference, jackknife_cov, one_step_jackknife
from causal_core.nuisance.models import fit_propensity, overlap_warnings

__all__ = ["shadow_moments", "fit_shadow_gmm", "shadow_association", "shadow_variable"]

#: A shadow variable whose association with the outcome among recorded rows has a larger p-value is refused.
SHADOW_REFUSE_P = 0.01
#: Below this partial F statistic the shadow variable is flagged as weak.
SHADOW_WEAK_F = 10.0
EXTRA_MOMENTS = ("auto", "none")


def _expit_inverse_odds(index: np.ndarray) -> np.ndarray:
    """``exp(-index)`` = (1 - pi) / pi, bounded so that it stays finite."""
    return np.exp(-np.clip(index, -50, 50))


def shadow_moments(theta: np.ndarray, S: np.ndarray, V: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row moments ``g_i = (S_i / pi_i - 1) h_i`` (n, m) and their mean Jacobian ``G`` (m, k).

    ``V`` is the selection model's design (its last column the outcome, any
    value where ``S`` is 0) and ``H`` the instrument functions ``h(X, T, Z)``.
    """
    odds = _expit_inverse_odds(V @ theta)
    residual = np.where(S == 1, odds, -1.0)  # S / pi - 1
    g = residual[:, None] * H
    jacobian = -(H * (S * odds)[:, None]).T @ V / S.shape[0]
    return g, jacobian


def _minimise(theta0: np.ndarray, S: np.ndarray, V: np.ndarray, H: np.ndarray, weight: np.ndarray):
    from scipy import optimize
    root = np.linalg.cholesky(weight)  # weight = root root'

    def residuals(theta: np.ndarray) -> np.ndarray:
        return root.T @ shadow_moments(theta, S, V, H)[0].mean(axis=0)

    def jacobian(theta: np.ndarray) -> np.ndarray:
        return root.T @ shadow_moments(theta, S, V, H)[1]

    return optimize.least_squares(residuals, theta0, jac=jacobian, method="trf", x_scale="jac",
                                  xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=500)


def fit_shadow_gmm(S: np.ndarray, V: np.ndarray, H: np.ndarray, theta0: np.ndarray) -> dict[str, Any]:
    """GMM estimate of the selection model from the shadow-variable moments.

    One step with weight ``(H'H / n)^-1`` when just identified; two steps with
    the efficient weight ``(g'g / n)^-1`` when over-identified.

    Returns
    -------
    dict
        ``theta``, ``influence`` (n, k) influence function of ``theta``,
        ``cov`` (its sandwich covariance), ``weight`` (the final weight matrix
        ``W``), ``jacobian`` (``G``, mean moment Jacobian),
        ``j_stat``/``j_df``/``j_p_value`` (``None`` when just identified),
        ``converged`` and ``max_moment`` (largest |mean moment|).
    """
    from scipy import stats
    n, m = H.shape
    k = V.shape[1]
    weight = np.linalg.inv(H.T @ H / n)
    fit = _minimise(theta0, S, V, H, weight)
    theta = fit.x
    converged = bool(fit.success)
    if m > k:
        g = shadow_moments(theta, S, V, H)[0]
        weight = np.linalg.pinv(g.T @ g / n)
        weight = (weight + weight.T) / 2
        fit = _minimise(theta, S, V, H, weight)
        theta = fit.x
        converged = converged and bool(fit.success)
    g, G = shadow_moments(theta, S, V, H)
    gbar = g.mean(axis=0)
    bread = np.linalg.pinv(G.T @ weight @ G) @ G.T @ weight  # (k, m)
    influence = -g @ bread.T
    out: dict[str, Any] = {
        "theta": theta,
        "influence": influence,
        "cov": influence.T @ influence / n**2,
        "converged": converged,
        "max_moment": float(np.max(np.abs(gbar))),
        "weight": weight,
        "jacobian": G,
        "j_stat": None, "j_df": None, "j_p_value": None,
    }
    if m > k:
        j_stat = float(n * gbar @ weight @ gbar)
        out.update(j_stat=j_stat, j_df=m - k, j_p_value=float(stats.chi2.sf(j_stat, m - k)))
    return out


def shadow_association(y: np.ndarray, base: np.ndarray, shadow_columns: np.ndarray) -> tuple[float, float]:
    """Partial F test of the shadow functions in the regression of ``y`` on ``base`` among recorded rows.

    Returns ``(F, p_value)``.
    """
    from scipy import stats
    full = np.column_stack([base, shadow_columns])
    rss_base = np.sum((y - base @ np.linalg.lstsq(base, y, rcond=None)[0]) ** 2)
    rss_full = np.sum((y - full @ np.linalg.lstsq(full, y, rcond=None)[0]) ** 2)
    q = shadow_columns.shape[1]
    dof = y.shape[0] - full.shape[1]
    if dof <= 0 or rss_full <= 0:
        return float("inf"), 0.0
    f_stat = float(((rss_base - rss_full) / q) / (rss_full / dof))
    return f_stat, float(stats.f.sf(f_stat, q, dof))


def _standardise(values: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reference = values if rows is None else values[rows]
    centre, scale = reference.mean(axis=0), reference.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (values - centre) / scale, centre, scale


def _designs(X: np.ndarray, t: np.ndarray, y: np.ndarray, z: np.ndarray, S: np.ndarray, extra: bool):
    """Selection design V, instrument functions H (and which of H are shadow functions), scales of X and Y."""
    selected = S == 1
    Xs, x_centre, x_scale = _standardise(X)
    ys, y_centre, y_scale = _standardise(np.where(selected, y, 0.0)[:, None], selected)
    ys = np.where(selected[:, None], ys, 0.0)
    zs = _standardise(z[:, None])[0]
    ones = np.ones((t.shape[0], 1))
    V = np.column_stack([ones, Xs, t, ys])
    shadow_cols = [zs]
    if extra:
        shadow_cols.append(t[:, None] * zs)
        if np.unique(z).size > 2:
            shadow_cols.append(_standardise(zs**2)[0])
    shadow_block = np.column_stack(shadow_cols)
    H = np.column_stack([ones, Xs, t, shadow_block])
    return V, H, shadow_block, (x_centre, x_scale, float(y_centre[0]), float(y_scale[0]))


def _start(V: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Missing-at-random logit of S on (1, X, T) as the starting point, gamma = 0."""
    import statsmodels.api as sm

    base = V[:, :-1]
    try:
        start = np.asarray(sm.Logit(S, base).fit(disp=0, maxiter=100).params)
    except Exception:  # separation or non-convergence: start from the overall share
        start = np.zeros(base.shape[1])
        start[0] = np.log(S.mean() / (1 - S.mean()))
    return np.r_[start, 0.0]


def _original_scale(theta: np.ndarray, cov: np.ndarray, scales: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Selection coefficients and covariance on the data's own scale (undoing the standardisation)."""
    x_centre, x_scale, y_centre, y_scale = scales
    p = x_centre.shape[0]
    k = theta.shape[0]
    A = np.eye(k)
    A[0, 1:1 + p] = -x_centre / x_scale
    A[0, -1] = -y_centre / y_scale
    for j in range(p):
        A[1 + j, 1 + j] = 1 / x_scale[j]
    A[-1, -1] = 1 / y_scale
    return A @ theta, A @ cov @ A.T


def _stacked_equations(S, V, H, D, t, y0, core) -> tuple[np.ndarray, Any]:
    """Per-row estimating functions (n, K) of the whole estimator and a function giving their Jacobians.

    Parameters are stacked as ``theta`` (selection model, through the GMM
    first-order conditions ``G'W g_i`` with ``G`` and ``W`` held at their
    full-sample values), ``beta`` (treatment logit on ``D``) and the two
    weighted arm means.
    """
    gmm, pi, ps, weights = core["gmm"], core["pi"], core["ps"], core["weights"]
    k, q = V.shape[1], D.shape[1]
    size = k + q + 2
    odds = _expit_inverse_odds(V @ gmm["theta"])
    first_order = gmm["jacobian"].T @ gmm["weight"]  # (k, m)
    g = shadow_moments(gmm["theta"], S, V, H)[0]
    arms = [(t == 1, core["mu1"]), (t == 0, core["mu0"])]
    psi = np.zeros((S.shape[0], size))
    psi[:, :k] = g @ first_order.T
    psi[:, k:k + q] = (t - ps)[:, None] * D
    for j, (arm, mu) in enumerate(arms):
        psi[:, k + q + j] = weights * arm * (y0 - mu)
    h_first_order = H @ first_order.T  # (n, k)
    select_w = np.where(S == 1, 1 / pi, 0.0)
    # d w / d theta = -w (1 - pi) V ;  d w / d beta = S/pi * d(treatment weight)/d beta
    treat_slope = np.where(t == 1, -(1 - ps) / ps, ps / (1 - ps))

    def row_jacobians(rows: np.ndarray) -> np.ndarray:
        J = np.zeros((rows.size, size, size))
        J[:, :k, :k] = -(S[rows] * odds[rows])[:, None, None] * h_first_order[rows][:, :, None] * V[rows][:, None, :]
        J[:, k:k + q, k:k + q] = -(ps[rows] * (1 - ps[rows]))[:, None, None] * D[rows][:, :, None] * D[rows][:, None, :]
        dw_theta = -(weights[rows] * (1 - pi[rows]))[:, None] * V[rows]
        dw_beta = (select_w[rows] * treat_slope[rows])[:, None] * D[rows]
        for j, (arm, mu) in enumerate(arms):
            r = k + q + j
            residual = arm[rows] * (y0[rows] - mu)
            J[:, r, r] = -weights[rows] * arm[rows]
            J[:, r, :k] = residual[:, None] * dw_theta
            J[:, r, k:k + q] = residual[:, None] * dw_beta
        return J

    return psi, row_jacobians


def _estimate_core(S, X, t, y, z, extra, names=(), *, inference: bool = True) -> dict[str, Any]:
    """Everything but the checks: GMM selection model, treatment logit, weighted means and their covariances.

    With ``inference`` the result also holds ``jackknife_cov`` and
    ``sandwich_cov`` of all stacked parameters (``theta``, treatment logit,
    the two arm means, in that order) and ``contrast``, the vector picking the ATE.
    """
    V, H, shadow_block, scales = _designs(X, t, y, z, S, extra)
    gmm = fit_shadow_gmm(S, V, H, _start(V, S))
    pi = 1 / (1 + _expit_inverse_odds(V @ gmm["theta"]))
    ps = fit_propensity(X, t, names)
    treat_warnings = overlap_warnings(ps, t) if X.shape[1] else []
    weights = np.where(S == 1, 1 / pi, 0.0) * np.where(t == 1, 1 / ps, 1 / (1 - ps))
    y0 = np.where(S == 1, y, 0.0)
    mu1 = float(np.sum(weights * t * y0) / np.sum(weights * t))
    mu0 = float(np.sum(weights * (1 - t) * y0) / np.sum(weights * (1 - t)))
    core = {"estimate": mu1 - mu0, "mu1": mu1, "mu0": mu0, "gmm": gmm, "pi": pi, "ps": ps,
            "weights": weights, "scales": scales, "shadow_block": shadow_block, "treatment_warnings": treat_warnings}
    if inference:
        D = logit_design(X)
        psi, row_jacobians = _stacked_equations(S, V, H, D, t, y0, core)
        deltas, jacobian_sum = one_step_jackknife(psi, row_jacobians)
        bread = np.linalg.pinv(jacobian_sum)
        contrast = np.zeros(psi.shape[1])
        contrast[-2:] = (1.0, -1.0)
        core.update(jackknife_cov=jackknife_cov(deltas), sandwich_cov=bread @ (psi.T @ psi) @ bread.T,
                    contrast=contrast)
    return core


@register(
    id="shadow_variable",
    label="Shadow variable (outcome-dependent selection)",
    family="Selection bias",
    required_roles=("shadow", "selection"),
    estimands=("ATE",),
    summary="Outcome missing depending on its own value: a shadow variable related to the outcome but not to "
            "being recorded identifies the selection model by GMM; recorded rows are weighted by 1/P(recorded).",
    reference="Wang, Shao & Kim (2014), Statistica Sinica 24:1097-1116; Miao & Tchetgen Tchetgen (2016), "
              "Biometrika 103:475-482; Hansen (1982), Econometrica 50:1029-1054.",
    options=(
        OptionSpec("extra_moments", "choice", "auto",
                   "'auto' adds T*Z and Z^2 to the moment functions (over-identified: two-step GMM and Hansen's "
                   "J test of the shadow assumption); 'none' uses (1, X, T, Z) only.",
                   choices=EXTRA_MOMENTS),
        n_boot_option(0, "Bootstrap replicates for the standard error and a percentile interval; 0 uses the "
                      "jackknife of the stacked estimating equations.", allow_zero=True, zero_means="the jackknife"),
    ),
    limits=MethodLimits(rows_beyond_covariates=4, needs_overlap=True, reports_overlap=True),
    outcome_may_be_missing=True,
    gives_weights=True, default_ticked=True, order=260,
    cheap_test_options=(("n_boot", 0),),
)
def shadow_variable(
    data: PreparedData, *, estimand: str, seed: int, extra_moments: str = "auto", n_boot: int = 0
) -> MethodOutput:
    """Shadow-variable GMM estimate of the ATE under outcome-dependent (MNAR) selection.

    Parameters
    ----------
    data : PreparedData
        Needs ``S`` (selection) and ``shadow`` (the shadow variable ``Z``);
        covariates (optional) enter the selection model and a logit
        propensity for the treatment.
    estimand : {"ATE"}
    seed : int
        Seeds the bootstrap.
    extra_moments : {"auto", "none"}
        Whether to over-identify the selection model with ``T Z`` and ``Z^2``.
    n_boot : int
        0 for the jackknife standard error, else the number of bootstrap replicates.

    Returns
    -------
    MethodOutput
        Diagnostics: ``gamma`` and ``gamma_std_error`` (log odds ratio of
        being recorded per unit of the outcome), ``selection_equation``
        (coefficients on the data's scale), ``hansen_j``/``hansen_j_df``/
        ``hansen_j_p_value`` when over-identified, ``shadow_f``/``shadow_p_value``
        (association of Z with Y among recorded rows), ``complete_case``,
        ``mean_treated``/``mean_control``, ``n_selected``, ``converged``,
        ``sandwich_std_error`` (the optimistic linearisation, for comparison).
    """
    from scipy import stats
    selected = check_selection_inputs(data, "shadow_variable")
    shadow_name = data.roles.shadow
    z = data.shadow
    if np.ptp(z[selected]) == 0:
        raise CausalInputError(
            f"Shadow variable '{shadow_name}' is constant among rows with a recorded outcome; it must vary."
        )
    S, X, t, y = data.S, data.X, data.t, data.y
    extra = extra_moments == "auto"
    core = _estimate_core(S, X, t, y, z, extra, data.covariate_names)
    base = np.column_stack([np.ones(data.n), X, t])[selected]
    f_stat, p_value = shadow_association(y[selected], base, core["shadow_block"][selected])
    if p_value > SHADOW_REFUSE_P:
        raise CausalInputError(
            f"Shadow variable '{shadow_name}' shows no association with outcome '{data.roles.outcome}' among "
            f"recorded rows (F = {f_stat:.2f}, p = {p_value:.2f}); a shadow variable must predict the outcome "
            "to identify the selection model."
        )
    warnings = list(core["treatment_warnings"])
    if f_stat < SHADOW_WEAK_F:
        warnings.append(
            f"Shadow variable '{shadow_name}' is only weakly associated with the outcome (partial F = {f_stat:.1f} "
            f"< {SHADOW_WEAK_F:g}); the selection model is weakly identified and the interval may be too narrow."
        )
    gmm = core["gmm"]
    if not gmm["converged"] or (gmm["j_df"] is None and gmm["max_moment"] > 1e-6):
        warnings.append(
            f"The GMM fit of the selection model did not converge (largest mean moment {gmm['max_moment']:.2g}); "
            "the estimate may be unreliable."
        )
    warnings += selection_warnings(core["pi"], selected, data.roles.selection)
    if gmm["j_p_value"] is not None and gmm["j_p_value"] < 0.05:
        warnings.append(
            f"Hansen's J test rejects the over-identifying restrictions (J = {gmm['j_stat']:.2f}, "
            f"p = {gmm['j_p_value']:.3f}): shadow variable '{shadow_name}' may be related to selection, or the "
            "logistic selection model is wrong."
        )

    k = gmm["theta"].shape[0]
    contrast, jack_cov = core["contrast"], core["jackknife_cov"]
    coefficients, cov = _original_scale(gmm["theta"], jack_cov[:k, :k], core["scales"])
    names = ["const", *data.covariate_names, data.roles.treatment, data.roles.outcome]
    table = pd.DataFrame({"coef": coefficients, "std_error": np.sqrt(np.diag(cov))}, index=names)
    table["z"] = table["coef"] / table["std_error"]
    table["p_value"] = 2 * stats.norm.sf(table["z"].abs())

    std_error = float(np.sqrt(contrast @ jack_cov @ contrast))
    sandwich_se = float(np.sqrt(contrast @ core["sandwich_cov"] @ contrast))
    estimate = float(core["estimate"])
    if n_boot:
        def statistic(idx: np.ndarray) -> float:
            return _estimate_core(S[idx], X[idx], t[idx], y[idx], z[idx], extra, inference=False)["estimate"]

        inference = Bootstrap(statistic, n_boot=int(n_boot), strata=S * 2 + t,
                              detail=f"bootstrap ({n_boot} replicates, percentile interval)")
    elif np.isfinite(std_error):
        inference = analytic_inference(estimate, std_error, method="jackknife", detail="jackknife of the stacked "
                                       "estimating equations (one Newton step per left-out row)")
    else:
        warnings.append("The jackknife standard error was not finite; the sandwich standard error is reported.")
        inference = analytic_inference(estimate, sandwich_se, method="sandwich",
                                       detail="sandwich of the stacked estimating equations (the jackknife was not finite)")
    y_sel, t_sel = y[selected], t[selected]
    weights = core["weights"]
    diagnostics = {
        "gamma": float(coefficients[-1]),
        "gamma_std_error": float(np.sqrt(cov[-1, -1])),
        "selection_equation": table,
        "hansen_j": gmm["j_stat"],
        "hansen_j_df": gmm["j_df"],
        "hansen_j_p_value": gmm["j_p_value"],
        "shadow_f": f_stat,
        "shadow_p_value": p_value,
        "selection_probability": core["pi"],
        "complete_case": float(y_sel[t_sel == 1].mean() - y_sel[t_sel == 0].mean()),
        "mean_treated": core["mu1"],
        "mean_control": core["mu0"],
        "n_selected": int(selected.sum()),
        "ess": {"treated": kish_ess(weights[t == 1]), "control": kish_ess(weights[t == 0])},
        "converged": gmm["converged"],
        "sandwich_std_error": sandwich_se,
    }
    return MethodOutput(
        estimate=estimate,
        inference=inference,
        weights=weights,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
