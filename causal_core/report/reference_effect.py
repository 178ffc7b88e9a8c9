"""The known effect a bundled sample carries (a simulated truth or a published benchmark), for the forest plot.

The Estimate page draws it on screen and the report's charts pass it to
:func:`causal_core.charts.forest_plot`, so every export of the forest plot
(PNG, SVG, interactive HTML, the HTML report, the bundle) carries the same line.
"""
from __future__ import annotations

from dataclasses import dataclass

from causal_core.core.errors import CausalInputError
from causal_core.datasets.samples import get_sample

__all__ = ["ReferenceEffect", "reference_effect"]


@dataclass(frozen=True)
class ReferenceEffect:
    """A known effect drawn as a dashed line: its value and what it is ("Benchmark", "True ATT")."""

    value: float
    label: str


def reference_effect(sample_id: str | None, estimand: str) -> ReferenceEffect | None:
    """The effect of ``estimand`` a bundled sample is known for, or ``None`` (uploads, unknown ids, other estimands).

    Parameters
    ----------
    sample_id : str or None
        Id of a bundled sample (:func:`causal_core.datasets.samples.list_samples`); ``None`` for uploaded data.
    estimand : str
        The estimand of the run.

    Returns
    -------
    ReferenceEffect or None
        A simulated sample's population effect of that estimand ("True ATE"),
        or a real sample's published benchmark ("Benchmark") when the run
        targets the estimand the benchmark is for.
    """
    if not sample_id:
        return None
    try:
        info = get_sample(sample_id)
    except CausalInputError:
        return None
    if info.effect is None:
        return None
    if info.true_effects.get(estimand) is not None:
        return ReferenceEffect(float(info.true_effects[estimand]), f"True {estimand}")
    if info.estimand == estimand:
        label = "Benchmark" if info.effect_kind == "benchmark" else f"True {estimand}"
        return ReferenceEffect(float(info.effect), label)
    return None
