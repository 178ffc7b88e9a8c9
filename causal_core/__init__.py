"""causal_core: the computation engine of the causal inference workbench.

Public API::

    import causal_core as cc
    roles = cc.Roles(treatment="treat", outcome="re78", confounders=["age", "educ"])
    cc.list_methods()
    r = cc.estimate(df, roles, method="ipw", estimand="ATT", seed=0)
    cc.compare(df, roles, methods=["ipw", "doubly_robust"], estimand="ATT")
    cc.balance_table(df, roles, weights=r.weights)
    cc.subgroup_table(df, "treat", "y", by="income")

The package never imports streamlit; torch is imported only by the methods that need it.
"""
from .api import compare, estimate
from .errors import CausalInputError, CausalWarning
from .registry import MethodInfo, OptionSpec, get_method, list_methods
from .results import EstimateResult
from .roles import Roles

__all__ = [
    "CausalInputError",
    "CausalWarning",
    "EstimateResult",
    "MethodInfo",
    "OptionSpec",
    "Roles",
    "compare",
    "estimate",
    "get_method",
    "list_methods",
]
