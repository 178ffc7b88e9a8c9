"""The one inference layer: standard errors, intervals and p-values for every estimator.

An estimator returns its point estimate and one inference input (an
:class:`InfluenceFunction`, a :class:`Bootstrap` to run, or a ready
:class:`Inference` from a closed-form, sandwich or jackknife variance);
:func:`resolve_inference` turns it into the result's :class:`Inference`.
"""
from causal_core.inference._types import INFERENCE_METHODS, Z_95, Inference
from causal_core.inference.analytic import analytic_inference
from causal_core.inference.bootstrap import (MIN_BOOTSTRAP_REPLICATES, Bootstrap, bootstrap_inference, draw_index_sets,
                        failed_replicates_warning, summarise_replicates)
from causal_core.inference.influence import InfluenceFunction, influence_inference, influence_se
from causal_core.inference.jackknife import jackknife_cov, one_step_jackknife
from causal_core.inference.replicate import map_replicates, sequential_backend
from causal_core.inference.resolve import InferenceInput, resolve_inference

__all__ = [
    "INFERENCE_METHODS", "Inference", "Z_95", "InferenceInput", "analytic_inference", "influence_se", "influence_inference",
    "InfluenceFunction", "MIN_BOOTSTRAP_REPLICATES", "Bootstrap", "bootstrap_inference", "draw_index_sets",
    "summarise_replicates", "failed_replicates_warning", "map_replicates", "sequential_backend",
    "jackknife_cov", "one_step_jackknife", "resolve_inference",
]
