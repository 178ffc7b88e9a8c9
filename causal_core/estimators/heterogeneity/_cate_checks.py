"""Checks of an estimated CATE against doubly robust scores: best linear projection, calibration, group effects.

All three start from one doubly robust (AIPW) score per row,
``Gamma = tau_hat(x) + (T - e)(Y - m - tau_hat(x)(T - e)) / (e (1 - e))``,
whose mean given ``X = x`` is the true CATE whatever ``tau_hat`` is (when the
nuisances ``m = E[Y|X]`` and ``e = P(T=1|X)`` are right), and whose sample
mean is the AIPW average effect:

* :func:`best_linear_projection`: OLS of the scores on ``[1, X]`` with HC2
  errors, the best linear approximation of the CATE by the covariates
  (Semenova & Chernozhukov 2021; grf's ``best_linear_projection``).
* :func:`calibration_test`: OLS of the scores on the mean prediction and the
  demeaned prediction (grf's ``test_calibration``, on DR scores). A
  coefficient of 1 on the mean prediction says the average is right; a
  coefficient of 1 on the differential prediction says the heterogeneity is
  well calibrated, and one significantly above 0 that heterogeneity exists.
* :func:`calibration_groups`: the average score (a group average effect,
  GATES) within quantile groups of the predicted CATE, beside the group's
  mean prediction: calibrated predictions line up with the group effects.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from causal_core.inference import Z_95

__all__ = ["dr_scores", "best_linear_projection", "calibration_test", "calibration_groups"]

#: Columns of the coefficient tables (labelled by :func:`causal_core.core.labels.labelled_table`).
COEFFICIENT_COLUMNS = ("term", "estimate", "std_error", "ci_low", "ci_high", "p_value")


def dr_scores(y: np.ndarray, t: np.ndarray, y_residual: np.ndarray, t_residual: np.ndarray,
              cate: np.ndarray, *, floor: float) -> np.ndarray:
    """Doubly robust scores from the residuals ``Y - m(X)``, ``T - e(X)`` and a CATE, propensities bounded to ``[floor, 1 - floor]``."""
    ps = np.clip(t - t_residual, floor, 1 - floor)
    t_res = t - ps
    return cate + t_res * (y_residual - cate * t_res) / (ps * (1 - ps))


def _hc2_table(response: np.ndarray, design: np.ndarray, terms: list[str], *, one_sided: bool = False) -> pd.DataFrame:
    import statsmodels.api as sm
    from scipy import stats

    fit = sm.OLS(response, design).fit(cov_type="HC2")
    estimate, se = np.asarray(fit.params, dtype=float), np.asarray(fit.bse, dtype=float)
    z = Z_95
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = estimate / se
    p = stats.norm.sf(stat) if one_sided else 2 * stats.norm.sf(np.abs(stat))
    return pd.DataFrame({"term": terms, "estimate": estimate, "std_error": se, "ci_low": estimate - z * se,
                         "ci_high": estimate + z * se, "p_value": p})


def best_linear_projection(scores: np.ndarray, X: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    """Coefficients of the best linear projection of the CATE on the covariates, HC2 errors.

    One row per term (``"intercept"`` then each covariate): estimate,
    std_error, 95% ci_low/ci_high, two-sided p_value of a zero coefficient.
    """
    design = np.column_stack([np.ones(X.shape[0]), X])
    return _hc2_table(scores, design, ["intercept", *names])


def calibration_test(scores: np.ndarray, cate: np.ndarray) -> pd.DataFrame:
    """grf's calibration test on doubly robust scores: coefficients on the mean and the differential prediction.

    Both are 1 for a calibrated CATE; ``p_value`` is one-sided, of a coefficient
    at or below 0 (for the differential row: of no detectable heterogeneity).
    """
    mean = float(np.mean(cate))
    if np.ptp(cate) == 0:  # a constant CATE has no differential part to test
        table = _hc2_table(scores, np.full((cate.shape[0], 1), mean), ["mean prediction"], one_sided=True)
        return pd.concat([table, pd.DataFrame({"term": ["differential prediction"]})], ignore_index=True)
    design = np.column_stack([np.full(cate.shape[0], mean), cate - mean])
    return _hc2_table(scores, design, ["mean prediction", "differential prediction"], one_sided=True)


def calibration_groups(scores: np.ndarray, cate: np.ndarray, n_groups: int) -> pd.DataFrame:
    """Group average effects (mean DR score, its SE and 95% CI) in ``n_groups`` quantile groups of the predicted CATE.

    Columns: ``group`` (1 = lowest predictions), ``n_rows``, ``mean_predicted``,
    ``estimate``, ``std_error``, ``ci_low``, ``ci_high``. Ties may merge groups.
    """
    ranks = pd.Series(cate).rank(method="first").to_numpy()
    groups = np.minimum((ranks - 1) * n_groups // cate.shape[0], n_groups - 1).astype(int)
    rows = []
    for g in np.unique(groups):
        members = groups == g
        s = scores[members]
        se = float(np.std(s, ddof=1) / np.sqrt(s.size)) if s.size > 1 else float("nan")
        est = float(s.mean())
        rows.append({"group": int(g) + 1, "n_rows": int(members.sum()), "mean_predicted": float(cate[members].mean()),
                     "estimate": est, "std_error": se, "ci_low": est - 1.959963984540054 * se,
                     "ci_high": est + 1.959963984540054 * se})
    return pd.DataFrame(rows)
