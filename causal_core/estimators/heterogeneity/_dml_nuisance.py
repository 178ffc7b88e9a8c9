"""The nuisance models of the residual-on-residual methods (``dml``, ``causal_forest``): E[Y|X] and P(T=1|X)."""
from __future__ import annotations

from typing import Any

from causal_core.nuisance.models import default_propensity_model, resolve_model

__all__ = ["OUTCOME_MODELS", "FOREST_OUTCOME_MODELS", "nuisance_models"]

#: Named regressors of the outcome on the covariates, from the catalogue of causal_core.nuisance.models.
OUTCOME_MODELS = ("gradient_boosting", "random_forest", "linear")
#: The causal forest also takes EconML's own ``"auto"``: the best of its linear and forest models by
#: cross-validation inside every fold (slower: several models per fold).
FOREST_OUTCOME_MODELS = ("linear", "gradient_boosting", "random_forest", "auto")


def nuisance_models(method: str, outcome_model: Any, propensity_model: Any, *, seed: int) -> tuple[Any, Any]:
    """The outcome regressor of E[Y|X] and the propensity classifier (``None``: the logit), seeded or cloned.

    ``"auto"`` (declared only by the causal forest's option) is handed to EconML as it is.
    """
    model_t = resolve_model(propensity_model, option="propensity_model", method=method, kind="classifier", seed=seed)
    model_t = default_propensity_model() if model_t is None else model_t
    if isinstance(outcome_model, str) and outcome_model == "auto":
        return "auto", model_t
    model_y = resolve_model(outcome_model, option="outcome_model", method=method, kind="regressor", seed=seed,
                            choices=OUTCOME_MODELS, default="gradient_boosting")
    return model_y, model_t
