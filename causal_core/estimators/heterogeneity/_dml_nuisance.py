"""The nuisance models of the residual-on-residual methods (``dml``, ``causal_forest``): E[Y|X] and P(T=1|X)."""
from __future__ import annotations

from typing import Any

from causal_core.nuisance.models import default_propensity_model, resolve_model

__all__ = ["OUTCOME_MODELS", "nuisance_models"]

#: Named regressors of the outcome on the covariates, from the catalogue of causal_core.nuisance.models.
OUTCOME_MODELS = ("gradient_boosting", "random_forest", "linear")


def nuisance_models(method: str, outcome_model: Any, propensity_model: Any, *, seed: int) -> tuple[Any, Any]:
    """The outcome regressor of E[Y|X] and the propensity classifier (``None``: the logit), seeded or cloned."""
    model_y = resolve_model(outcome_model, option="outcome_model", method=method, kind="regressor", seed=seed,
                            choices=OUTCOME_MODELS, default="gradient_boosting")
    model_t = resolve_model(propensity_model, option="propensity_model", method=method, kind="classifier", seed=seed)
    return model_y, (default_propensity_model() if model_t is None else model_t)
