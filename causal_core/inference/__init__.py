"""The one inference layer: standard errors, intervals and p-values for every estimator.

An estimator returns its point estimate and one inference input (an
:class:`InfluenceFunction`, a :class:`Bootstrap` to run, or a ready
:class:`Inference` from a closed-form, sandwich or jackknife variance);
:func:`resolve_inference` turns it into the result's :class:`Inference`.
"""
from ._types import INFERENCE_METHODS, Inference
from .analytic import analytic_inference
from .bootstrap import (MIN_BOOTSTRAP_REPLICATES, Bootstrap, bootstrap_inference, draw_index_sets,
                        failed_replicates_warning, summarise_replicates)
from .influence import InfluenceFunction, influence_inference, influence_se
from .jackknife import jackknife_cov, one_step_jackknife
from .replicate import map_replicates, sequential_backend
from .resolve import InferenceInput, resolve_inference

__all__ = [
    "INFERENCE_METHODS", "Inference", "InferenceInput", "analytic_inference", "influence_se", "influence_inference",
    "InfluenceFunction", "MIN_BOOTSTRAP_REPLICATES", "Bootstrap", "bootstrap_inference", "draw_index_sets",
    "summarise_replicates", "failed_replicates_warning", "map_replicates", "sequential_backend",
    "jackknife_cov", "one_step_jackknife", "resolve_inference",
]
