"""Meta-learners of conditional average treatment effects (CATE) over scikit-learn regressors.

With arm-wise outcome regressions ``mu1, mu0`` and propensity ``e``:

* S-learner: one model of Y on (X, T); ``tau(x) = mu(x, 1) - mu(x, 0)``.
* T-learner: one model per arm; ``tau(x) = mu1(x) - mu0(x)``.
* X-learner (Kuenzel et al. 2019): imputed effects ``Y - mu0(X)`` on treated
  and ``mu1(X) - Y`` on control rows are regressed on X in each arm and
  blended, ``tau(x) = e(x) tau0(x) + (1 - e(x)) tau1(x)``.
* DR-learner (Kennedy 2023): the cross-fitted AIPW pseudo-outcome
  ``phi = mu1 - mu0 + T (Y - mu1) / e - (1 - T) (Y - mu0) / (1 - e)`` is
  regressed on X (once, on all rows) for ``tau(x)``.

Every outcome model and the propensity is fitted once per cross-fitting fold
(``n_folds``, default 2, 3 for the T- and DR-learners, up to 5 with few rows per covariate
(:func:`auto_folds`), stratified by arm; :mod:`._cross_fit`). The
T-learner's unit effects (and the X-learner's first stage) are the mean of
the fold models' predictions; the X-learner's two effect models are then
fitted once on all rows and blended by the cross-fitted propensity. The
S-learner's unit effects come from one more fit on all rows (the mean of its
fold models was less accurate). The ATE/ATT/ATC of the S-, T- and X-learners is the mean of the
unit effects over all, treated or control rows. Its default standard error is
the AIPW influence function of the same average from the fold models'
out-of-fold predictions and the cross-fitted propensity, so it costs no fit
beyond the point estimate's; ``n_boot > 0`` asks for a seeded bootstrap
instead that refits every fold's models on each replicate (stratified by arm).
The DR-learner's average effect is the cross-fitted AIPW estimate with its
influence-function standard error.

The default boosted base model is scikit-learn's histogram gradient boosting
(``HistGradientBoostingRegressor``, the catalogue's ``"gradient_boosting"``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from causal_core.core.data import PreparedData, target_rows
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.options import AtMostRows, AtMostSmallerArm, n_boot_option
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators.heterogeneity._cross_fit import (
    FoldArms, cross_fitted_arms, cross_fitted_propensity, plug_in_influence, stratified_folds)
from causal_core.inference import Bootstrap, InfluenceFunction, influence_se
from causal_core.nuisance.models import MODEL_CHOICES, resolve_model

__all__ = ["base_regressor", "plug_in_fit", "s_learner_effects", "t_learner_effects", "x_learner_effects",
           "s_learner", "t_learner", "x_learner", "dr_learner"]

BASE_MODELS = ("gradient_boosting", "random_forest", "linear")
FINAL_MODELS = ("regularised_boosting", "random_forest", "linear", "same_as_base")
PS_FLOOR = 0.01
#: Settings of the named models where the meta-learners differ from the catalogue in causal_core.nuisance.models.
_BASE_SETTINGS = {"random_forest": {"n_estimators": 100}}
_FINAL_SETTINGS = {"random_forest": {"n_estimators": 100, "min_samples_leaf": 50}}


def base_regressor(value: Any, *, method: str, seed: int, option: str = "base_model") -> Any:
    """The base regressor for option ``base_model`` (or ``option``): a named seeded model or a clone of a scikit-learn regressor."""
    return resolve_model(value, option=option, method=method, kind="regressor", seed=seed,
                         choices=BASE_MODELS, default="gradient_boosting", settings=_BASE_SETTINGS)


def final_regressor(value: Any, base: Any, *, seed: int) -> Any:
    """The DR-learner's effect model: pseudo-outcomes are noisy, so the default is heavily regularised boosting."""
    if isinstance(value, str) and value == "same_as_base":
        return base
    return resolve_model(value, option="final_model", method="dr_learner", kind="regressor", seed=seed,
                         choices=FINAL_MODELS + BASE_MODELS, default="gradient_boosting",
                         settings={**_BASE_SETTINGS, **_FINAL_SETTINGS})


def _fit_predict(model: Any, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
    from sklearn.base import clone
    fitted = clone(model).fit(X, y)
    return np.asarray(fitted.predict(X_new), dtype=float)


def _features(X: np.ndarray) -> np.ndarray:
    return X if X.shape[1] else np.zeros((X.shape[0], 1))


def s_learner_arms(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any,
                   X_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The S-learner's predicted treated and control outcomes at ``X_new``: one model with T as a feature."""
    from sklearn.base import clone
    X, X_new = _features(X), _features(X_new)
    fitted = clone(model).fit(np.column_stack([X, t]), y)
    m = X_new.shape[0]
    both = np.vstack([np.column_stack([X_new, np.ones(m)]), np.column_stack([X_new, np.zeros(m)])])
    predicted = np.asarray(fitted.predict(both), dtype=float)  # one call for both arms
    return predicted[:m], predicted[m:]


def t_learner_arms(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any,
                   X_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The T-learner's predicted treated and control outcomes at ``X_new``: one model per arm."""
    X, X_new = _features(X), _features(X_new)
    treated = t == 1
    return (_fit_predict(model, X[treated], y[treated], X_new),
            _fit_predict(model, X[~treated], y[~treated], X_new))


#: Cross-fitting folds of each meta-learner by default (each outcome model is fitted this many times).
#: Measured with ``bench/heterogeneity_speed.py`` (50 replications, n = 1000): the T-learner's mean of
#: 2 fold models (each on half an arm) had a plug-in bias of 0.11 and 88% ATE coverage; with 3 folds 94%.
#: The DR-learner's AIPW average had an SD of 0.116 with 2 folds, 0.095 with 3 (as with 5) and a lower
#: sqrt(PEHE) (0.62 against 0.67).
DEFAULT_FOLDS = {"s_learner": 2, "t_learner": 3, "x_learner": 2, "dr_learner": 3}
#: Rows of the smaller arm per covariate that a training fold keeps before the automatic folds grow (the
#: logit's events-per-variable rule of thumb). On LaLonde CPS with 65 covariates (185 treated) 2 folds gave
#: out-of-fold propensities of 1.0 for control rows and a 7x wider S-learner SE than 5 folds.
ROWS_PER_COVARIATE = 10
#: The most folds the automatic choice takes (the 5 of the defaults before fold models were reused).
MOST_AUTO_FOLDS = 5


def auto_folds(method: str, t: np.ndarray, n_covariates: int) -> int:
    """The automatic ``n_folds``: the method's default, raised (up to 5) until every training fold keeps
    ``ROWS_PER_COVARIATE`` rows of the smaller arm per covariate; never above the smaller arm or n / 10."""
    n, treated = t.shape[0], int(np.sum(t == 1))
    smaller = min(treated, n - treated)
    folds = DEFAULT_FOLDS[method]
    while folds < MOST_AUTO_FOLDS and smaller * (folds - 1) / folds < ROWS_PER_COVARIATE * n_covariates:
        folds += 1
    return max(2, min(folds, smaller, n // 10))


def _resolve_folds(method: str, n_folds: Any, data: PreparedData) -> int:
    return auto_folds(method, data.t, data.X.shape[1]) if n_folds is None else int(n_folds)


@dataclass(frozen=True)
class PlugInFit:
    """One plug-in learner's fold models: unit effects, the fold arms and the out-of-fold propensities."""

    effects: np.ndarray
    fold_arms: FoldArms | None
    propensity: np.ndarray | None


def x_learner_blend(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any, fold_arms: FoldArms,
                    ps: np.ndarray) -> np.ndarray:
    """The X-learner's second stage on the fold models' mean predictions, blended by ``ps``.

    Imputed effects ``Y - mu0(X)`` on treated and ``mu1(X) - Y`` on control
    rows use the other arm's models (which never saw those rows); each arm's
    imputed effects are regressed on X once, on all of that arm's rows.
    """
    treated = t == 1
    tau1 = _fit_predict(model, X[treated], y[treated] - fold_arms.mu0_mean[treated], X)
    tau0 = _fit_predict(model, X[~treated], fold_arms.mu1_mean[~treated] - y[~treated], X)
    return ps * tau0 + (1 - ps) * tau1


def plug_in_fit(method: str, X: np.ndarray, t: np.ndarray, y: np.ndarray, *, model: Any, n_folds: int, seed: int,
                propensity_model: Any = None, names: tuple[str, ...] = (), propensity: bool = True) -> PlugInFit:
    """Fit the S-, T- or X-learner's models once per cross-fitting fold (the S-learner's also once on all rows).

    The influence function comes from the fold models' out-of-fold
    predictions. The T-learner's unit effects (and the X-learner's first
    stage) are the mean of the fold models' predictions; the S-learner's come
    from one more fit on all rows (its fold models, each fitted on 1/n_folds
    fewer rows, shrink the treatment's splits: their mean had a 6% higher
    sqrt(PEHE) on ``bench/heterogeneity_speed.design``). ``propensity=False``
    skips the propensity where the unit effects do not need it (S, T).
    """
    X = _features(X)
    folds = stratified_folds(t, n_folds, seed=seed)
    outcome_arms = s_learner_arms if method == "s_learner" else t_learner_arms

    def arms(X_train: np.ndarray, t_train: np.ndarray, y_train: np.ndarray,
             X_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return outcome_arms(X_train, t_train, y_train, model, X_new)

    full_sample = method == "s_learner"
    fold_arms = (cross_fitted_arms(arms, X, t, y, folds, method=method, average=not full_sample)
                 if propensity or not full_sample else None)
    ps = (cross_fitted_propensity(X, t, names, propensity_model, folds)
          if propensity or method == "x_learner" else None)
    if method == "x_learner":
        effects = x_learner_blend(X, t, y, model, fold_arms, np.clip(ps, PS_FLOOR, 1 - PS_FLOOR))
    elif full_sample:
        mu1, mu0 = arms(X, t, y, X)
        effects = mu1 - mu0
    else:
        effects = fold_arms.mu1_mean - fold_arms.mu0_mean
    return PlugInFit(effects, fold_arms, ps)


def s_learner_effects(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any, *,
                      n_folds: int = DEFAULT_FOLDS["s_learner"],
                      seed: int = 0, **_: Any) -> np.ndarray:
    """Unit effects of the S-learner: one model with the treatment as a feature, fitted on all rows."""
    return plug_in_fit("s_learner", X, t, y, model=model, n_folds=n_folds, seed=seed, propensity=False).effects


def t_learner_effects(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any, *,
                      n_folds: int = DEFAULT_FOLDS["t_learner"],
                      seed: int = 0, **_: Any) -> np.ndarray:
    """Unit effects of the T-learner: one model per arm, averaged over the fold models."""
    return plug_in_fit("t_learner", X, t, y, model=model, n_folds=n_folds, seed=seed, propensity=False).effects


def x_learner_effects(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any, *,
                      n_folds: int = DEFAULT_FOLDS["x_learner"],
                      seed: int = 0, propensity_model: Any = None, names: tuple[str, ...] = ()) -> np.ndarray:
    """Unit effects of the X-learner, blended by the cross-fitted propensity."""
    return plug_in_fit("x_learner", X, t, y, model=model, n_folds=n_folds, seed=seed,
                       propensity_model=propensity_model, names=names).effects


#: Models one bootstrap replicate of each plug-in learner fits (the cost shown before it runs).
REFITS_PER_REPLICATE = {"s_learner": "1 outcome model on all rows",
                        "t_learner": "2 outcome models per cross-fitting fold",
                        "x_learner": "2 outcome models and the propensity model per cross-fitting fold, "
                                     "and 2 effect models"}
#: How far (in standard errors) the plug-in average may sit from the cross-fitted AIPW one before a warning.
PLUG_IN_GAP_SE = 2.0


def _plug_in_learner(method: str, data: PreparedData, *, estimand: str, seed: int, base_model: Any, n_boot: Any,
                     n_folds: Any, propensity_model: Any = None) -> MethodOutput:
    """Run a plug-in learner and average its unit effects over the target rows.

    The standard error is the cross-fitted AIPW influence function of that
    average from the same fold models (``n_boot == 0``) or a bootstrap
    refitting every model.
    """
    n_boot, n_folds = int(n_boot), _resolve_folds(method, n_folds, data)  # options checked by core.options
    model = base_regressor(base_model, method=method, seed=seed)
    ps_model = resolve_model(propensity_model, option="propensity_model", method=method, kind="classifier", seed=seed)
    X, t, y = data.X, data.t, data.y
    fit_options = dict(model=model, n_folds=n_folds, seed=seed, propensity_model=ps_model,
                       names=data.covariate_names)

    def statistic(idx: np.ndarray) -> float:
        tb = t[idx]
        fitted = plug_in_fit(method, X[idx], tb, y[idx], propensity=False, **fit_options)
        return float(fitted.effects[target_rows(tb, estimand)].mean())

    with threadpool_limits(1):  # many small fits: extra BLAS/OpenMP threads only contend
        fitted = plug_in_fit(method, X, t, y, **fit_options)
    effects = fitted.effects
    estimate = float(effects[target_rows(t, estimand)].mean())
    aipw, influence, _, warnings = plug_in_influence(fitted.fold_arms, fitted.propensity, t, y, estimand=estimand,
                                                     floor=PS_FLOOR)
    se = influence_se(influence)
    if se > 0 and abs(estimate - aipw) > PLUG_IN_GAP_SE * se:
        warnings.append(
            f"The plug-in average {estimate:.4g} is {abs(estimate - aipw) / se:.1f} standard errors from the "
            f"cross-fitted AIPW average {aipw:.4g}; the base model may bias the plug-in (the DR-learner reports "
            "the AIPW average).")
    ps_source = "the logit" if ps_model is None else "the propensity model"
    if n_boot:
        folds_note = "" if method == "s_learner" else f" ({n_folds} folds)"
        inference = Bootstrap(statistic, n_boot=n_boot, strata=t, interval="normal", single_threaded=True,
                              detail=f"seeded bootstrap ({n_boot} replicates, each refitting "
                                     f"{REFITS_PER_REPLICATE[method]}{folds_note}, stratified by arm)")
    else:
        inference = InfluenceFunction(
            influence, detail=f"influence function of the AIPW average ({n_folds}-fold cross-fitted outcome models "
                              f"of the learner and {ps_source}), around the plug-in average of the fold models")
    return MethodOutput(
        estimate=estimate,
        inference=inference,
        unit_effects=effects,
        diagnostics={"cate_sd": float(effects.std()), "aipw_estimate": aipw, "propensity": fitted.propensity},
        warnings=tuple(warnings),
    )


_BASE_OPTION = OptionSpec("base_model", "model", "gradient_boosting",
                          "Regressor for the outcome (and effect) models; 'gradient_boosting' is scikit-learn's "
                          "histogram gradient boosting.", choices=BASE_MODELS)
_AUTO_FOLDS = ("Empty (default): {k}, raised up to 5 while a training fold would keep fewer than "
               f"{ROWS_PER_COVARIATE} rows of the smaller arm per covariate.")
_FOLDS_OPTION = OptionSpec("n_folds", "int", None,
                           "Cross-fitting folds (seeded, stratified by arm) of the outcome models and the "
                           "propensity; the pseudo-outcome's effect model is then fitted once on all rows. "
                           + _AUTO_FOLDS.format(k=DEFAULT_FOLDS["dr_learner"]),
                           low=2, high=20, rules=(AtMostRows(divisor=10), AtMostSmallerArm()), nullable=True,
                           none_means="automatic")


def _se_folds_option(method: str) -> OptionSpec:
    """The plug-in learner's ``n_folds``; the help says what the fold models are used for."""
    use = ("the unit effects come from one more fit on all rows" if method == "s_learner" else
           "the unit effects average the fold models' predictions" if method == "t_learner" else
           "the first stage averages the fold models' predictions")
    return OptionSpec("n_folds", "int", None,
                      "Cross-fitting folds (seeded, stratified by arm): each fold fits the outcome models and the "
                      f"propensity once on the other folds' rows; {use}; the standard error's influence function "
                      "uses their out-of-fold predictions. " + _AUTO_FOLDS.format(k=DEFAULT_FOLDS[method]),
                      low=2, high=20, rules=(AtMostRows(divisor=10), AtMostSmallerArm()), nullable=True,
                      none_means="automatic")
_PS_OPTION = OptionSpec("propensity_model", "model", None, "Classifier for P(T=1|X); default the logit.",
                        choices=MODEL_CHOICES, learner="classifier")


def _boot_option(method: str) -> OptionSpec:
    """The plug-in learner's ``n_boot``: 0 (the influence function) by default; the help says what a replicate costs."""
    return n_boot_option(
        0, f"0 (default): the standard error comes from the cross-fitted influence function, no refits beyond "
           f"the folds. 20 to 5000: a bootstrap instead, in which every replicate refits "
           f"{REFITS_PER_REPLICATE[method]}, so the run takes about n_boot + 1 times as long as the "
           f"point estimate's fit (200 replicates: about 200 times).",
        allow_zero=True, zero_means="the cross-fitted influence function")


#: What the meta-learners do with more covariates than rows (flexible base learners only).
_ML_HIGH_DIM = ("fits its flexible base learners anyway, so it still runs, but the effect rests on "
                 "their regularisation finding the confounders.")
_COMMON = dict(family="Heterogeneity", required_roles=("confounders",), estimands=("ATE", "ATT", "ATC"),
               gives_unit_effects=True, explores_heterogeneity=True)
#: What the three plug-in learners (S, T, X) share in the registry.
_PLUG_IN = dict(_COMMON, reference="Kuenzel, Sekhon, Bickel & Yu (2019), PNAS 116, 4156-4165.",
                cheap_test_options=(("base_model", "linear"), ("n_folds", 3)))


def _limits(**rules: Any) -> MethodLimits:
    """Limits of a meta-learner: ``rules`` plus 10 rows per arm and the high-dimensional note."""
    return MethodLimits(**rules, min_rows_per_arm=10, high_dimensional=_ML_HIGH_DIM)


@register(
    id="s_learner", label="S-learner (CATE)",
    summary="One outcome model with the treatment as a feature; unit effects are the predicted contrasts.",
    options=(_BASE_OPTION, _se_folds_option("s_learner"), _boot_option("s_learner")),
    limits=_limits(rows_beyond_covariates=3, linear_options=("base_model",)),
    **_PLUG_IN, order=190,
)
def s_learner(data: PreparedData, *, estimand: str, seed: int, base_model: Any = "gradient_boosting",
              n_folds: int | None = None, n_boot: int = 0) -> MethodOutput:
    """S-learner unit effects; their average over the target rows with a cross-fitted influence-function SE.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
    base_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
    n_folds : int or None
        Cross-fitting folds: the unit effects average the fold models, the influence function (and the AIPW
        check) uses their out-of-fold predictions; ``None``: :func:`auto_folds`.
    n_boot : int
        0: influence-function SE; otherwise bootstrap replicates, each refitting every fold's models.

    Returns
    -------
    MethodOutput
    """
    output = _plug_in_learner("s_learner", data, estimand=estimand, seed=seed,
                              base_model=base_model, n_folds=n_folds, n_boot=n_boot)
    if isinstance(base_model, str) and base_model == "linear":
        note = ("A linear S-learner has no treatment-covariate interactions, so it gives the same effect to every "
                "row; its ATT and ATC equal its ATE even when effects vary.")
        output = dataclasses.replace(output, warnings=output.warnings + (note,))
    return output


@register(
    id="t_learner", label="T-learner (CATE)",
    summary="One outcome model per arm; unit effects are the differences of their predictions.",
    options=(_BASE_OPTION, _se_folds_option("t_learner"), _boot_option("t_learner")),
    limits=_limits(arm_rows_beyond_covariates=2, linear_options=("base_model",)),
    **_PLUG_IN, order=200,
)
def t_learner(data: PreparedData, *, estimand: str, seed: int, base_model: Any = "gradient_boosting",
              n_folds: int | None = None, n_boot: int = 0) -> MethodOutput:
    """T-learner unit effects; their average over the target rows with a cross-fitted influence-function SE.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
    base_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
    n_folds : int or None
        Cross-fitting folds: the unit effects average the fold models, the influence function (and the AIPW
        check) uses their out-of-fold predictions; ``None``: :func:`auto_folds`.
    n_boot : int
        0: influence-function SE; otherwise bootstrap replicates, each refitting every fold's models.

    Returns
    -------
    MethodOutput
    """
    return _plug_in_learner("t_learner", data, estimand=estimand, seed=seed,
                            base_model=base_model, n_folds=n_folds, n_boot=n_boot)


@register(
    id="x_learner", label="X-learner (CATE)",
    summary="Imputed individual effects regressed on the covariates in each arm, blended by the propensity.",
    options=(_BASE_OPTION, _PS_OPTION, _se_folds_option("x_learner"), _boot_option("x_learner")),
    limits=_limits(arm_rows_beyond_covariates=2, linear_options=("base_model", "propensity_model"),
                   needs_overlap=True, reports_overlap=True),
    **_PLUG_IN, order=210,
)
def x_learner(data: PreparedData, *, estimand: str, seed: int, base_model: Any = "gradient_boosting",
              propensity_model: Any = None, n_folds: int | None = None, n_boot: int = 0) -> MethodOutput:
    """X-learner unit effects; their average over the target rows with a cross-fitted influence-function SE.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
    base_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
    propensity_model : None, str or scikit-learn classifier
    n_folds : int or None
        Cross-fitting folds: the unit effects average the fold models, the influence function (and the AIPW
        check) uses their out-of-fold predictions; ``None``: :func:`auto_folds`.
    n_boot : int
        0: influence-function SE; otherwise bootstrap replicates, each refitting every fold's models.

    Returns
    -------
    MethodOutput
    """
    return _plug_in_learner("x_learner", data, estimand=estimand, seed=seed,
                            base_model=base_model, n_folds=n_folds, n_boot=n_boot,
                            propensity_model=propensity_model)


@register(
    id="dr_learner", label="DR-learner (CATE)",
    summary="Cross-fitted AIPW pseudo-outcomes regressed on the covariates; the average effect is the "
            "cross-fitted AIPW estimate.",
    reference="Kennedy (2023), Electronic Journal of Statistics 17, 3008-3049; Chernozhukov et al. (2018).",
    options=(_BASE_OPTION, _PS_OPTION,
             OptionSpec("final_model", "model", "regularised_boosting",
                        "Regressor of the pseudo-outcome on X (noisy, so regularise it).", choices=FINAL_MODELS),
             _FOLDS_OPTION),
    limits=_limits(arm_rows_beyond_covariates=2, linear_options=("base_model", "propensity_model"),
                   needs_overlap=True, reports_overlap=True),
    **_COMMON, order=220,
    cheap_test_options=(("base_model", "linear"), ("n_folds", 2)),
)
def dr_learner(data: PreparedData, *, estimand: str, seed: int, base_model: Any = "gradient_boosting",
               propensity_model: Any = None, final_model: Any = "regularised_boosting",
               n_folds: int | None = None) -> MethodOutput:
    """DR-learner unit effects and the cross-fitted AIPW average effect with its influence-function SE.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
    base_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
        Used for the arm-wise outcome models.
    propensity_model : None, str or scikit-learn classifier
    final_model : {"regularised_boosting", "random_forest", "linear", "same_as_base"} or scikit-learn regressor
        Regression of the pseudo-outcome on X for the unit effects.
    n_folds : int or None
        Cross-fitting folds; ``None``: :func:`auto_folds`.

    Returns
    -------
    MethodOutput
        ``unit_effects`` from the regression of the cross-fitted pseudo-outcome on X (fitted once, on all rows).
    """
    method = "dr_learner"
    model = base_regressor(base_model, method=method, seed=seed)
    ps_model = resolve_model(propensity_model, option="propensity_model", method=method, kind="classifier", seed=seed)
    final = final_regressor(final_model, model, seed=seed)
    with threadpool_limits(1):
        return _dr_learner_fit(data, estimand, seed, model, ps_model, final, _resolve_folds(method, n_folds, data))


def _dr_learner_fit(data: PreparedData, estimand: str, seed: int, model: Any, ps_model: Any, final: Any,
                    n_folds: int) -> MethodOutput:
    method = "dr_learner"
    X, t, y = _features(data.X), data.t, data.y
    folds = stratified_folds(t, n_folds, seed=seed)

    def arms(X_train: np.ndarray, t_train: np.ndarray, y_train: np.ndarray,
             X_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return t_learner_arms(X_train, t_train, y_train, model, X_new)

    fold_arms = cross_fitted_arms(arms, X, t, y, folds, method=method, average=False)
    ps = cross_fitted_propensity(data.X, t, data.covariate_names, ps_model, folds)
    estimate, influence, ps_used, warnings = plug_in_influence(fold_arms, ps, t, y, estimand=estimand,
                                                               floor=PS_FLOOR, where="pseudo-outcome")
    mu1, mu0 = fold_arms.mu1, fold_arms.mu0
    pseudo = mu1 - mu0 + t * (y - mu1) / ps_used - (1 - t) * (y - mu0) / (1 - ps_used)
    effects = _fit_predict(final, X, pseudo, X)  # Kennedy (2023): the effect model fitted once on all rows
    return MethodOutput(
        estimate=estimate,
        inference=InfluenceFunction(influence, detail=f"efficient influence function ({n_folds}-fold cross-fitted AIPW)"),
        unit_effects=effects,
        diagnostics={"propensity": ps, "pseudo_outcome": pseudo, "cate_sd": float(effects.std())},
        warnings=tuple(warnings),
    )
