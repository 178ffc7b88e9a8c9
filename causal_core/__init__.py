"""causal_core: the computation engine of the causal inference workbench.

Public API::

    import causal_core as cc
    roles = cc.Roles(treatment="treat", outcome="re78", confounders=["age", "educ"])
    cc.list_methods()
    r = cc.estimate(df, roles, method="ipw", estimand="ATT", seed=0)
    cc.compare(df, roles, methods=["ipw", "doubly_robust"], estimand="ATT")
    cc.balance_table(df, roles, weights=r.weights)
    cc.subgroup_table(df, "treat", "y", by="income")
    with cc.backend("local", n_workers=2):     # fan-outs on a Dask cluster, same numbers
        cc.compare(df, roles, methods=["ipw"], estimand="ATT")

The package never imports streamlit; torch is imported only by the methods that need it.
"""
__version__ = "0.1.0"

from causal_core.compute.backend import BackendInfo, backend, current_backend, set_backend
from causal_core.core.api import compare, estimate
from causal_core.core.errors import CausalInputError, CausalWarning
from causal_core.core.registry import MethodInfo, OptionSpec, get_method, list_methods
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles
from causal_core.datasets.samples import SampleInfo, get_sample, list_samples, load_sample
from causal_core.diagnostics.balance import balance_table, effective_sample_size
from causal_core.diagnostics.subgroups import SubgroupTable, scan_reversals, subgroup_table
from causal_core.robustness.agreement import AgreementSummary, agreement_summary
from causal_core.robustness.method_lab import MethodLabResult, method_lab
from causal_core.robustness.refute import RefutationResult, refute
from causal_core.robustness.sensitivity import e_value, ovb_sensitivity, robustness_section, rosenbaum_bounds, sensitivity_for_result
from causal_core.studies.mechanism import front_door_resample
from causal_core.studies.mixtures import fit_mix_iid, fit_mix_prod

__all__ = [
    "__version__",
    "BackendInfo",
    "backend",
    "current_backend",
    "set_backend",
    "AgreementSummary",
    "MethodLabResult",
    "RefutationResult",
    "agreement_summary",
    "e_value",
    "method_lab",
    "ovb_sensitivity",
    "refute",
    "robustness_section",
    "rosenbaum_bounds",
    "sensitivity_for_result",
    "CausalInputError",
    "CausalWarning",
    "EstimateResult",
    "MethodInfo",
    "OptionSpec",
    "Roles",
    "SampleInfo",
    "SubgroupTable",
    "balance_table",
    "effective_sample_size",
    "get_sample",
    "list_samples",
    "load_sample",
    "scan_reversals",
    "subgroup_table",
    "compare",
    "estimate",
    "front_door_resample",
    "fit_mix_iid",
    "fit_mix_prod",
    "get_method",
    "list_methods",
]
