"""Difference in means: the unadjusted contrast, the baseline every other method is judged against."""
from __future__ import annotations

import numpy as np

from causal_core.core.data import PreparedData
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import register
from causal_core.core.results import MethodOutput
from causal_core.inference import analytic_inference


@register(
    id="difference_in_means",
    label="Difference in means",
    family="Baseline",
    required_roles=(),
    estimands=("ATE", "ATT", "ATC"),
    summary="Treated mean minus control mean, no adjustment; unbiased only in a randomised experiment.",
    reference="Neyman (1923); Imbens & Rubin (2015), ch. 6.",
    limits=MethodLimits(),
    default_ticked=True, unadjusted=True, order=10,
)
def difference_in_means(data: PreparedData, *, estimand: str, seed: int) -> MethodOutput:
    """Unadjusted contrast with Neyman's (Welch) standard error; the same for every estimand."""
    treated, control = data.y[data.treated], data.y[~data.treated]
    estimate = treated.mean() - control.mean()
    se = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
    warnings = ()
    if data.X.shape[1]:
        warnings = ("Confounders are ignored by this method; the contrast is causal only if treatment was randomised.",)
    return MethodOutput(estimate=float(estimate), warnings=warnings,
                        inference=analytic_inference(estimate, se, detail="Neyman (Welch) variance"))
