"""Inverse probability of selection weighting (IPSW): outcome recorded at random given covariates and treatment.

When whether the outcome was recorded (``S``) depends only on the observed
covariates ``X`` and the treatment ``T`` (missing at random, MAR), each
recorded row stands for ``1 / pi(X, T)`` rows of the full sample, with
``pi(X, T) = P(S = 1 | X, T)``. The ATE is the difference of Hajek-weighted
arm means among the recorded rows with weights

    w = S / pi(X, T) * [ T / e(X) + (1 - T) / (1 - e(X)) ]

where ``e(X) = P(T = 1 | X)`` is fitted on every row (the treatment is seen
for all) and is constant when no confounders are given. The standard error
stacks the logit scores of both models with the weighted-mean equations
(M-estimation, as in :mod:`causal_core.estimators._propensity_design`); a user-supplied
selection model's probabilities are treated as known.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput, kish_ess
from causal_core.estimators._propensity_design import logit_design, logit_influence
from causal_core.estimators._selection_inputs import check_selection_inputs, selection_warnings
from causal_core.inference import InfluenceFunction
from causal_core.nuisance.models import MODEL_CHOICES, fit_propensity, overlap_warnings, resolve_model

__all__ = [
    "selection_weighted_contrast", "treatment_weights",
    "ipsw",
]



def selection_weighted_contrast(
    y: np.ndarray,
    t: np.ndarray,
    weights: np.ndarray,
    nuisance: list[tuple[np.ndarray, np.ndarray]] = (),
) -> tuple[float, np.ndarray, float, float]:
    """Hajek contrast of weighted arm means and its influence function.

    Parameters
    ----------
    y : ndarray (n,)
        Outcome; values where ``weights`` is 0 are ignored (may be NaN).
    t : ndarray (n,)
        0/1 treatment.
    weights : ndarray (n,)
        Non-negative weight of each row (0 where the outcome is missing).
    nuisance : list of (dweights, influence)
        For each estimated nuisance parameter vector ``theta`` (k values): the
        derivative of every row's weight in ``theta`` (n, k) and the influence
        function of ``theta`` (n, k). Their terms make the influence function
        of the contrast account for the nuisance estimation (stacked M-estimation).

    Returns
    -------
    estimate, influence, mean_treated, mean_control
    """
    y = np.where(weights > 0, y, 0.0)
    treated = t == 1
    influence = np.zeros(t.shape[0])
    means = []
    for arm, sign in ((treated, 1.0), (~treated, -1.0)):
        w = weights * arm
        mu = float(np.sum(w * y) / np.sum(w))
        resid = w * (y - mu)
        psi = resid.copy()
        for dweights, theta_influence in nuisance:
            gradient = np.mean((arm * (y - mu))[:, None] * dweights, axis=0)
            psi = psi + theta_influence @ gradient
        influence += sign * psi / w.mean()
        means.append(mu)
    return means[0] - means[1], influence, means[0], means[1]


def treatment_weights(
    X: np.ndarray, t: np.ndarray, names: tuple[str, ...] = ()
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, list[str]]:
    """ATE treatment weights from the default logit of ``t`` on ``X``, their derivative and influence.

    Returns ``(weights, dweights, influence, warnings)``; without covariates the
    weights are constant and the two arrays are ``None``.
    """
    if X.shape[1] == 0:
        share = float(t.mean())
        return np.where(t == 1, 1 / share, 1 / (1 - share)), None, None, []
    ps = fit_propensity(X, t, names)
    design = logit_design(X)
    weights = np.where(t == 1, 1 / ps, 1 / (1 - ps))
    # d(1/e)/dbeta = -(1 - e)/e * x ; d(1/(1 - e))/dbeta = e/(1 - e) * x
    dweights = (np.where(t == 1, -(1 - ps) / ps, ps / (1 - ps)))[:, None] * design
    return weights, dweights, logit_influence(design, t, ps), overlap_warnings(ps, t)


@register(
    id="ipsw",
    label="Inverse probability of selection weighting",
    family="Selection bias",
    required_roles=("selection",),
    estimands=("ATE",),
    summary="Outcome recorded at random given covariates and treatment: each recorded row is weighted by the "
            "inverse of its probability of being recorded (and of its treatment, when confounders are given).",
    reference="Robins, Rotnitzky & Zhao (1994), JASA 89:846-866; Seaman & White (2013), Stat Methods Med Res 22:278-295; "
              "Hernan & Robins, Causal Inference: What If, ch. 12.6.",
    options=(
        OptionSpec("selection_model", "model", "default",
                   "Classifier for P(S=1|X,T); default the logit, whose estimation the standard error accounts for.",
                   choices=MODEL_CHOICES, learner="classifier"),
    ),
    limits=MethodLimits(rows_beyond_covariates=3, linear_options=("selection_model",), needs_overlap=True, reports_overlap=True),
    outcome_may_be_missing=True,
    gives_weights=True, default_ticked=True, order=250,
)
def ipsw(data: PreparedData, *, estimand: str, seed: int, selection_model: Any = "default") -> MethodOutput:
    """IPSW estimate of the ATE when the outcome is missing at random given covariates and treatment.

    Parameters
    ----------
    data : PreparedData
        Needs ``S``; covariates (optional) enter the selection and treatment models.
    estimand : {"ATE"}
    seed : int
        Seeds a named random selection model (e.g. ``"random_forest"``).
    selection_model : None, str or scikit-learn classifier
        Model of ``P(S=1 | X, T)``. ``None`` fits the logit on (X, T) and the
        standard error accounts for its estimation; any other model's
        probabilities are treated as known.

    Returns
    -------
    MethodOutput
        ``weights`` (0 for rows without an outcome) and diagnostics
        ``selection_probability``, ``n_selected``, ``complete_case`` (the
        unweighted contrast among recorded rows), ``mean_treated``/``mean_control``, ``ess``.
    """
    selected = check_selection_inputs(data, "ipsw")
    model = resolve_model(selection_model, option="selection_model", method="ipsw", kind="classifier", seed=seed)
    t, S = data.t, data.S
    features = np.column_stack([data.X, t])
    names = (*data.covariate_names, data.roles.treatment)
    try:
        pi = fit_propensity(features, S, names, model)
    except CausalInputError as exc:
        raise CausalInputError(
            f"The covariates and treatment perfectly predict selection column '{data.roles.selection}' "
            "(perfect separation), so some rows have no comparable recorded rows; drop the separating column."
        ) from exc
    if np.any(pi[selected] <= 0):
        raise CausalInputError(
            f"Some recorded rows have estimated selection probability 0 in '{data.roles.selection}'; "
            "their weights are infinite, so choose another selection_model."
        )
    warnings = selection_warnings(pi, selected, data.roles.selection)
    treat_w, treat_dw, treat_if, treat_warnings = treatment_weights(data.X, t, data.covariate_names)
    warnings += treat_warnings
    weights = S / pi * treat_w
    nuisance: list[tuple[np.ndarray, np.ndarray]] = []
    if model is None:
        design = logit_design(features)
        # d(1/pi)/dgamma = -(1 - pi)/pi * v, so dw/dgamma = -w (1 - pi) v
        nuisance.append((-(weights * (1 - pi))[:, None] * design, logit_influence(design, S, pi)))
    if treat_dw is not None:
        nuisance.append(((S / pi)[:, None] * treat_dw, treat_if))
    estimate, influence, mu1, mu0 = selection_weighted_contrast(data.y, t, weights, nuisance)
    y_sel, t_sel = data.y[selected], t[selected]
    complete_case = float(y_sel[t_sel == 1].mean() - y_sel[t_sel == 0].mean())
    diagnostics = {
        "selection_probability": pi,
        "n_selected": int(selected.sum()),
        "complete_case": complete_case,
        "mean_treated": mu1,
        "mean_control": mu0,
        "ess": {"treated": kish_ess(weights[t == 1]), "control": kish_ess(weights[t == 0])},
    }
    inference = (InfluenceFunction(influence, "sandwich", "sandwich (stacked logits and weighted means)")
                 if model is None else
                 InfluenceFunction(influence, detail="influence function, selection probabilities treated as known"))
    return MethodOutput(
        estimate=float(estimate),
        inference=inference,
        weights=weights,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )
