"""Meta-learners of conditional average treatment effects (CATE) over scikit-learn regressors.

With arm-wise outcome regressions ``mu1, mu0`` and propensity ``e``:

* S-learner: one model of Y on (X, T); ``tau(x) = mu(x, 1) - mu(x, 0)``.
* T-learner: one model per arm; ``tau(x) = mu1(x) - mu0(x)``.
* X-learner (Kuenzel et al. 2019): imputed effects ``Y - mu0(X)`` on treated
  and ``mu1(X) - Y`` on control rows are regressed on X in each arm and
  blended, ``tau(x) = e(x) tau0(x) + (1 - e(x)) tau1(x)``.
* DR-learner (Kennedy 2023): the cross-fitted AIPW pseudo-outcome
  ``phi = mu1 - mu0 + T (Y - mu1) / e - (1 - T) (Y - mu0) / (1 - e)`` is
  regressed on X (also cross-fitted) for ``tau(x)``.

The ATE/ATT/ATC of the S-, T- and X-learners is the mean of the unit effects
over all, treated or control rows. Its default standard error is the
cross-fitted AIPW influence function (:mod:`._cross_fit`: the learner's own
outcome models and the propensity fitted once per fold, ``n_folds`` refits);
``n_boot > 0`` asks for a seeded bootstrap instead that refits every model on
each replicate (stratified by arm). The DR-learner's average effect is the
cross-fitted AIPW estimate with its influence-function standard error.

The default boosted base model is scikit-learn's histogram gradient boosting
(``HistGradientBoostingRegressor``, the catalogue's ``"gradient_boosting"``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.options import AtMostRows, AtMostSmallerArm, n_boot_option
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators._aipw import aipw_effect
from causal_core.estimators.heterogeneity._cross_fit import plug_in_influence
from causal_core.inference import Bootstrap, InfluenceFunction, influence_se
from causal_core.nuisance.models import MODEL_CHOICES, fit_propensity, overlap_warnings, resolve_model

__all__ = ["base_regressor", "s_learner_effects", "t_learner_effects", "x_learner_effects",
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
    ones, zeros = np.ones(X_new.shape[0]), np.zeros(X_new.shape[0])
    return (np.asarray(fitted.predict(np.column_stack([X_new, ones])), dtype=float),
            np.asarray(fitted.predict(np.column_stack([X_new, zeros])), dtype=float))


def t_learner_arms(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any,
                   X_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The T-learner's predicted treated and control outcomes at ``X_new``: one model per arm."""
    X, X_new = _features(X), _features(X_new)
    treated = t == 1
    return (_fit_predict(model, X[treated], y[treated], X_new),
            _fit_predict(model, X[~treated], y[~treated], X_new))


def s_learner_effects(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any, **_: Any) -> np.ndarray:
    """Unit effects of the S-learner: one model with the treatment as a feature."""
    mu1, mu0 = s_learner_arms(X, t, y, model, X)
    return mu1 - mu0


def t_learner_effects(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any, **_: Any) -> np.ndarray:
    """Unit effects of the T-learner: one model per arm."""
    mu1, mu0 = t_learner_arms(X, t, y, model, X)
    return mu1 - mu0


def x_learner_effects(X: np.ndarray, t: np.ndarray, y: np.ndarray, model: Any, *,
                      propensity_model: Any = None, names: tuple[str, ...] = ()) -> np.ndarray:
    """Unit effects of the X-learner, blended by the estimated propensity."""
    X = _features(X)
    treated = t == 1
    mu1 = _fit_predict(model, X[treated], y[treated], X[~treated])
    mu0 = _fit_predict(model, X[~treated], y[~treated], X[treated])
    tau1 = _fit_predict(model, X[treated], y[treated] - mu0, X)
    tau0 = _fit_predict(model, X[~treated], mu1 - y[~treated], X)
    ps = np.clip(fit_propensity(X, t, names or (), propensity_model), PS_FLOOR, 1 - PS_FLOOR)
    return ps * tau0 + (1 - ps) * tau1


def _target(t: np.ndarray, estimand: str) -> np.ndarray:
    if estimand == "ATT":
        return t == 1
    if estimand == "ATC":
        return t == 0
    return np.ones(t.shape[0], dtype=bool)


#: Outcome-model fits one bootstrap replicate of each plug-in learner makes (the cost shown before it runs).
REFITS_PER_REPLICATE = {"s_learner": "1 outcome model", "t_learner": "2 outcome models",
                        "x_learner": "4 outcome models and the propensity model"}
#: How far (in standard errors) the plug-in average may sit from the cross-fitted AIPW one before a warning.
PLUG_IN_GAP_SE = 2.0


def _plug_in_learner(learner: Callable[..., np.ndarray], method: str, data: PreparedData, *, estimand: str,
                     seed: int, base_model: Any, n_boot: Any, n_folds: Any,
                     propensity_model: Any = None) -> MethodOutput:
    """Run a plug-in learner and average its unit effects over the target rows.

    The standard error is the cross-fitted AIPW influence function of that
    average (``n_boot == 0``) or a bootstrap refitting every model.
    """
    n_boot, n_folds = int(n_boot), int(n_folds)  # options checked by causal_core.core.options
    model = base_regressor(base_model, method=method, seed=seed)
    ps_model = resolve_model(propensity_model, option="propensity_model", method=method, kind="classifier", seed=seed)
    extra = {"propensity_model": ps_model, "names": data.covariate_names} if learner is x_learner_effects else {}
    outcome_arms = s_learner_arms if learner is s_learner_effects else t_learner_arms
    X, t, y = data.X, data.t, data.y

    def arms(X_train: np.ndarray, t_train: np.ndarray, y_train: np.ndarray,
             X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return outcome_arms(X_train, t_train, y_train, model, X_test)

    def statistic(idx: np.ndarray) -> float:
        tb = t[idx]
        return float(learner(X[idx], tb, y[idx], model, **extra)[_target(tb, estimand)].mean())

    with threadpool_limits(1):  # many small fits: extra BLAS/OpenMP threads only contend
        effects = learner(X, t, y, model, **extra)
        estimate = float(effects[_target(t, estimand)].mean())
        aipw, influence, ps, warnings = plug_in_influence(
            arms, _features(X), t, y, estimand=estimand, n_folds=n_folds, seed=seed, names=data.covariate_names,
            propensity_model=ps_model, floor=PS_FLOOR)
    se = influence_se(influence)
    if se > 0 and abs(estimate - aipw) > PLUG_IN_GAP_SE * se:
        warnings.append(
            f"The plug-in average {estimate:.4g} is {abs(estimate - aipw) / se:.1f} standard errors from the "
            f"cross-fitted AIPW average {aipw:.4g}; the base model may bias the plug-in (the DR-learner reports "
            "the AIPW average).")
    ps_source = "the logit" if ps_model is None else "the propensity model"
    if n_boot:
        inference = Bootstrap(statistic, n_boot=n_boot, strata=t, interval="normal", single_threaded=True,
                              detail=f"seeded bootstrap ({n_boot} replicates, each refitting "
                                     f"{REFITS_PER_REPLICATE[method]}, stratified by arm)")
    else:
        inference = InfluenceFunction(
            influence, detail=f"influence function of the AIPW average ({n_folds}-fold cross-fitted outcome models "
                              f"of the learner and {ps_source}), around the plug-in average")
    return MethodOutput(
        estimate=estimate,
        inference=inference,
        unit_effects=effects,
        diagnostics={"cate_sd": float(effects.std()), "aipw_estimate": aipw, "propensity": ps},
        warnings=tuple(warnings),
    )


_BASE_OPTION = OptionSpec("base_model", "model", "gradient_boosting",
                          "Regressor for the outcome (and effect) models; 'gradient_boosting' is scikit-learn's "
                          "histogram gradient boosting.", choices=BASE_MODELS)
_FOLDS_OPTION = OptionSpec("n_folds", "int", 5, "Cross-fitting folds (seeded).", low=2, high=20,
                           rules=(AtMostRows(divisor=10), AtMostSmallerArm()))
_SE_FOLDS_OPTION = OptionSpec("n_folds", "int", 5, "Cross-fitting folds of the standard error's influence "
                              "function (seeded; each fold refits the outcome models and the propensity once).",
                              low=2, high=20, rules=(AtMostRows(divisor=10), AtMostSmallerArm()))
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
    options=(_BASE_OPTION, _SE_FOLDS_OPTION, _boot_option("s_learner")),
    limits=_limits(rows_beyond_covariates=3, linear_options=("base_model",)),
    **_PLUG_IN, order=190,
)
def s_learner(data: PreparedData, *, estimand: str, seed: int, base_model: Any = "gradient_boosting",
              n_folds: int = 5, n_boot: int = 0) -> MethodOutput:
    """S-learner unit effects; their average over the target rows with a cross-fitted influence-function SE.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
    base_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
    n_folds : int
        Cross-fitting folds of the influence function (always computed: it also gives the AIPW check).
    n_boot : int
        0: influence-function SE; otherwise bootstrap replicates, each refitting every model.

    Returns
    -------
    MethodOutput
    """
    output = _plug_in_learner(s_learner_effects, "s_learner", data, estimand=estimand, seed=seed,
                              base_model=base_model, n_folds=n_folds, n_boot=n_boot)
    if isinstance(base_model, str) and base_model == "linear":
        note = ("A linear S-learner has no treatment-covariate interactions, so it gives the same effect to every "
                "row; its ATT and ATC equal its ATE even when effects vary.")
        output = dataclasses.replace(output, warnings=output.warnings + (note,))
    return output


@register(
    id="t_learner", label="T-learner (CATE)",
    summary="One outcome model per arm; unit effects are the differences of their predictions.",
    options=(_BASE_OPTION, _SE_FOLDS_OPTION, _boot_option("t_learner")),
    limits=_limits(arm_rows_beyond_covariates=2, linear_options=("base_model",)),
    **_PLUG_IN, order=200,
)
def t_learner(data: PreparedData, *, estimand: str, seed: int, base_model: Any = "gradient_boosting",
              n_folds: int = 5, n_boot: int = 0) -> MethodOutput:
    """T-learner unit effects; their average over the target rows with a cross-fitted influence-function SE.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
    base_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
    n_folds : int
        Cross-fitting folds of the influence function (always computed: it also gives the AIPW check).
    n_boot : int
        0: influence-function SE; otherwise bootstrap replicates, each refitting every model.

    Returns
    -------
    MethodOutput
    """
    return _plug_in_learner(t_learner_effects, "t_learner", data, estimand=estimand, seed=seed,
                            base_model=base_model, n_folds=n_folds, n_boot=n_boot)


@register(
    id="x_learner", label="X-learner (CATE)",
    summary="Imputed individual effects regressed on the covariates in each arm, blended by the propensity.",
    options=(_BASE_OPTION, _PS_OPTION, _SE_FOLDS_OPTION, _boot_option("x_learner")),
    limits=_limits(arm_rows_beyond_covariates=2, linear_options=("base_model", "propensity_model"),
                   needs_overlap=True, reports_overlap=True),
    **_PLUG_IN, order=210,
)
def x_learner(data: PreparedData, *, estimand: str, seed: int, base_model: Any = "gradient_boosting",
              propensity_model: Any = None, n_folds: int = 5, n_boot: int = 0) -> MethodOutput:
    """X-learner unit effects; their average over the target rows with a cross-fitted influence-function SE.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
    base_model : {"gradient_boosting", "random_forest", "linear"} or scikit-learn regressor
    propensity_model : None, str or scikit-learn classifier
    n_folds : int
        Cross-fitting folds of the influence function (always computed: it also gives the AIPW check).
    n_boot : int
        0: influence-function SE; otherwise bootstrap replicates, each refitting every model.

    Returns
    -------
    MethodOutput
    """
    return _plug_in_learner(x_learner_effects, "x_learner", data, estimand=estimand, seed=seed,
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
               propensity_model: Any = None, final_model: Any = "regularised_boosting", n_folds: int = 5) -> MethodOutput:
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
    n_folds : int

    Returns
    -------
    MethodOutput
        ``unit_effects`` from the cross-fitted regression of the pseudo-outcome on X.
    """
    method = "dr_learner"
    model = base_regressor(base_model, method=method, seed=seed)
    ps_model = resolve_model(propensity_model, option="propensity_model", method=method, kind="classifier", seed=seed)
    final = final_regressor(final_model, model, seed=seed)
    with threadpool_limits(1):
        return _dr_learner_fit(data, estimand, seed, model, ps_model, final, int(n_folds))


def _dr_learner_fit(data: PreparedData, estimand: str, seed: int, model: Any, ps_model: Any, final: Any,
                    n_folds: int) -> MethodOutput:
    from sklearn.model_selection import KFold
    method = "dr_learner"
    X, t, y = _features(data.X), data.t, data.y
    treated = t == 1
    ps, mu1, mu0 = np.empty(data.n), np.empty(data.n), np.empty(data.n)
    folds = list(KFold(n_splits=int(n_folds), shuffle=True, random_state=seed).split(X))
    for train, test in folds:
        train_treated, train_control = train[treated[train]], train[~treated[train]]
        if min(train_treated.size, train_control.size) < 2:
            raise CausalInputError(
                f"With n_folds={n_folds} a training fold of method '{method}' has fewer than 2 treated or control "
                "rows; use fewer folds."
            )
        ps[test] = fit_propensity(data.X, t, data.covariate_names, ps_model, train=train, predict=test)
        mu1[test] = _fit_predict(model, X[train_treated], y[train_treated], X[test])
        mu0[test] = _fit_predict(model, X[train_control], y[train_control], X[test])
    warnings = overlap_warnings(ps, t)
    ps_used = np.clip(ps, PS_FLOOR, 1 - PS_FLOOR)
    if np.any(ps_used != ps):
        warnings.append(f"Propensities were bounded to [{PS_FLOOR:g}, {1 - PS_FLOOR:g}] in the pseudo-outcome.")
    pseudo = mu1 - mu0 + t * (y - mu1) / ps_used - (1 - t) * (y - mu0) / (1 - ps_used)
    effects = np.empty(data.n)
    for train, test in folds:
        effects[test] = _fit_predict(final, X[train], pseudo[train], X[test])
    estimate, influence = aipw_effect(y, t, ps_used, mu1, mu0, estimand)
    return MethodOutput(
        estimate=estimate,
        inference=InfluenceFunction(influence, detail=f"efficient influence function ({n_folds}-fold cross-fitted AIPW)"),
        unit_effects=effects,
        diagnostics={"propensity": ps, "pseudo_outcome": pseudo, "cate_sd": float(effects.std())},
        warnings=tuple(warnings),
    )
