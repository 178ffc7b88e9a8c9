"""Figures of the report's robustness section: sensitivity, refutation and method-lab plots."""
from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go

from causal_core.charts.robustness import method_lab_plot, ovb_contour_plot, refutation_plot, rosenbaum_plot

__all__ = ["robustness_figures"]


def robustness_figures(
    sensitivity: Mapping[str, object] | None = None,
    refutations: Mapping[str, Sequence[object]] | None = None,
    lab: object | None = None,
) -> tuple[tuple[str, str, go.Figure], ...]:
    """The robustness section's figures as (slug, title, figure), in the order the section shows them.

    Parameters
    ----------
    sensitivity : mapping, optional
        Method id -> :class:`causal_core.robustness.sensitivity.SensitivityReport`.
    refutations : mapping, optional
        Method id -> list of :class:`causal_core.robustness.refute.RefutationResult`.
    lab : MethodLabResult, optional

    Returns
    -------
    tuple of (str, str, plotly.graph_objects.Figure)
    """
    figures: list[tuple[str, str, go.Figure]] = []
    for method, report in (sensitivity or {}).items():
        if report.ovb is not None:
            figures.append((f"ovb_{method}", f"Omitted-variable bias: {method}", ovb_contour_plot(report.ovb)))
        if report.rosenbaum is not None:
            figures.append((f"rosenbaum_{method}", f"Rosenbaum bounds: {method}", rosenbaum_plot(report.rosenbaum)))
    for method, results in (refutations or {}).items():
        if results:
            figures.append((f"refutation_{method}", f"Refutation tests: {method}", refutation_plot(list(results))))
    if lab is not None:
        figures.append(("method_lab", "Method lab", method_lab_plot(lab)))
    return tuple(figures)
