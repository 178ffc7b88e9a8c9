"""Turn an estimator's inference input into an :class:`Inference` (the one place the engine does so)."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Union

import numpy as np

from causal_core.inference._types import Inference
from causal_core.inference.bootstrap import Bootstrap, bootstrap_inference
from causal_core.inference.influence import InfluenceFunction, influence_inference
from causal_core.inference.replicate import Backend

__all__ = ["InferenceInput", "resolve_inference"]

#: What a ``MethodOutput`` carries: a ready result, an influence function, or a bootstrap to run.
InferenceInput = Union[Inference, InfluenceFunction, Bootstrap]


def resolve_inference(estimate: float, source: InferenceInput, *, n: int, seed: int,
                      backend: Backend | None = None) -> Inference:
    """The :class:`Inference` for ``estimate`` from ``source`` (``n`` rows, ``seed`` for a bootstrap)."""
    if isinstance(source, Inference):
        return source
    if isinstance(source, InfluenceFunction):
        return influence_inference(estimate, np.asarray(source.values, dtype=float), method=source.method,
                                   detail=source.detail)
    if isinstance(source, Bootstrap):
        if source.single_threaded:
            from threadpoolctl import threadpool_limits
            context = threadpool_limits(1)
        else:
            context = nullcontext()
        with context:
            return bootstrap_inference(estimate, source.statistic, n, seed=seed, n_boot=source.n_boot,
                                       strata=source.strata, interval_kind=source.interval, detail=source.detail,
                                       backend=backend)
    raise TypeError(f"Unknown inference input {type(source).__name__}; expected Inference, InfluenceFunction "
                    "or Bootstrap.")
