"""The robustness section of the analysis report, as HTML plus its figures."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Mapping, Sequence

import pandas as pd

from causal_core.core.labels import labelled_table, method_label

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["RobustnessSection", "robustness_section"]


@dataclass(frozen=True)
class RobustnessSection:
    """HTML of the section (no scripts; figures placed separately) and its figures as (slug, title, figure)."""

    html: str
    figures: tuple[tuple[str, str, go.Figure], ...]


def _table(frame: pd.DataFrame) -> str:
    """A table with labelled columns, method labels and the one number formatter (empty cells for missing values),
    in a ``table-wrap`` box, which scrolls sideways instead of running past the page's width."""
    table = labelled_table(frame).to_html(index=False, border=0, escape=True)
    return f'<div class="table-wrap">{table}</div>'


def robustness_section(
    sensitivity: Mapping[str, object] | None = None,
    refutations: Mapping[str, Sequence[object]] | None = None,
    lab: object | None = None,
    agreement: object | None = None,
) -> RobustnessSection:
    """Build the report's robustness section from results already computed.

    Parameters
    ----------
    sensitivity : mapping, optional
        Method id -> :class:`causal_core.robustness.sensitivity.SensitivityReport`.
    refutations : mapping, optional
        Method id -> list of :class:`causal_core.robustness.refute.RefutationResult`.
    lab : MethodLabResult, optional
    agreement : AgreementSummary, optional

    Returns
    -------
    RobustnessSection
    """
    parts = ["<h2>Robustness</h2>"]
    if agreement is not None:
        parts += ["<h3>Agreement across estimators</h3>", f"<p>{escape(agreement.verdict)}</p>", _table(agreement.table)]
    for method, report in (sensitivity or {}).items():
        parts.append(f"<h3>Sensitivity: {escape(method_label(method))}</h3>")
        if report.e_value is not None:
            ev = report.e_value
            parts.append(f"<p>E-value {ev.e_value_estimate:.2f} (confidence limit {ev.e_value_ci:.2f}; "
                         f"{escape(ev.scale)} scale). {escape(ev.explanation)}</p>")
        if report.ovb is not None:
            parts.append(f"<p>{escape(report.ovb.explanation)}</p>")
            if len(report.ovb.benchmarks):
                parts.append(_table(report.ovb.benchmarks))
        if report.rosenbaum is not None:
            parts.append(f"<p>{escape(report.rosenbaum.explanation)}</p>")
        for note in report.notes:
            parts.append(f"<p class=\"meta\">{escape(note)}</p>")
    for method, results in (refutations or {}).items():
        if not results:
            continue
        parts.append(f"<h3>Refutation tests: {escape(method_label(method))}</h3>")
        rows = pd.DataFrame([r.summary() for r in results])[["test", "passed", "original", "expected",
                                                             "refuted_mean", "refuted_sd", "p_value", "explanation"]]
        parts.append(_table(rows))
    if lab is not None:
        parts += ["<h3>Method lab</h3>", f"<p>{escape(lab.recommendation)}</p>", _table(lab.table)]
    from causal_core.charts.sensitivity import robustness_figures

    return RobustnessSection("\n".join(parts), robustness_figures(sensitivity, refutations, lab))
