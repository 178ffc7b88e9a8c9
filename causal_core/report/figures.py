"""The standard set of charts for an analysis, built from the engine's chart functions.

The Report page offers each as PNG, SVG and interactive HTML, and the HTML
report shows them all. A chart that does not apply (no confounders, a
continuous treatment, no method with weights) is left out, never an error.
"""
from __future__ import annotations

from typing import Mapping

import pandas as pd
import plotly.graph_objects as go

from causal_core.charts import causal_diagram, forest_plot, love_plot, overlap_plot, weight_plot
from causal_core.core.data import prepare
from causal_core.core.errors import CausalInputError
from causal_core.core.registry import get_method
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles
from causal_core.diagnostics.balance import balance_table
from causal_core.nuisance.models import fit_propensity
from causal_core.report.method_diagnostics import diagnostic_figures
from causal_core.report.named_figure import NamedFigure
from causal_core.report.reference_effect import ReferenceEffect
from causal_core.report.tables import export_frame

__all__ = ["NamedFigure", "analysis_figures"]

BALANCE_ESTIMANDS = ("ATE", "ATT", "ATC")


def _label(method_id: str, table: pd.DataFrame) -> str:
    if "label" in table.columns:
        labels = table.loc[table["method"] == method_id, "label"]
        if len(labels) and isinstance(labels.iloc[0], str) and labels.iloc[0]:
            return labels.iloc[0]
    try:
        return get_method(method_id).label
    except CausalInputError:
        return method_id


def _weighted_methods(results: Mapping[str, EstimateResult]):
    """(method id, result, treated mask of its used rows) for binary-treatment results with one weight per used row.

    The mask is the one the result carries (``result.treated``), aligned with its weights by construction.
    """
    for method_id, result in results.items():
        if result.weights is None or result.weight_diagnostics is None or result.treated is None:
            continue
        yield method_id, result, result.treated


def _identification(roles: Roles, df: pd.DataFrame):
    """The identification result that titles the diagram, or None when it cannot be worked out."""
    from causal_core.diagnostics.identification import identify

    try:
        return identify(roles, df)
    except CausalInputError:
        return None


def _overlap(df: pd.DataFrame, roles: Roles) -> go.Figure | None:
    """The analysis's own logistic propensity overlap: it needs no result (the report may have none), so it prepares."""
    if not roles.confounders:
        return None
    try:
        data = prepare(df, roles, treatment_kind="binary")
        score = fit_propensity(data.X, data.t, data.covariate_names)
    except CausalInputError:
        return None
    return overlap_plot(score, data.t == 1)


def _balance(
    df: pd.DataFrame, roles: Roles, estimand: str, weighted: list, table: pd.DataFrame
) -> go.Figure | None:
    if not roles.confounders:
        return None
    balance_estimand = estimand if estimand in BALANCE_ESTIMANDS else "ATE"
    tables: dict[str, pd.DataFrame] = {}
    for method_id, result, _ in weighted:
        try:
            tables[_label(method_id, table)] = balance_table(result, df, estimand=balance_estimand)
        except CausalInputError:
            continue
    return love_plot(tables) if tables else None


def analysis_figures(
    df: pd.DataFrame,
    roles: Roles,
    table: pd.DataFrame,
    results: Mapping[str, EstimateResult] | None = None,
    *,
    estimand: str = "ATE",
    reference: ReferenceEffect | None = None,
) -> list[NamedFigure]:
    """The charts of an analysis, in report order.

    Parameters
    ----------
    df : DataFrame
        The data the results were computed on (never modified).
    roles : Roles
        Its roles.
    table : DataFrame
        The results table of :func:`causal_core.compare`.
    results : dict, optional
        Method id -> :class:`EstimateResult` (weights drive the balance and weight charts).
    estimand : str
        The estimand of the run.
    reference : ReferenceEffect, optional
        A known or benchmark effect (:func:`causal_core.report.reference_effect.reference_effect`),
        drawn on the forest plot as on the Estimate page, so every export of the chart carries it.

    Returns
    -------
    list of NamedFigure
        Causal diagram, forest plot, propensity overlap (binary treatment with
        confounders), love plot and one weight chart per weighting or matching
        method, where they apply; then each method's own diagnostic charts
        (response curve, subgroup effects, BIC curve, unit-effect histogram),
        which carry ``method`` so the HTML report shows them with that method's
        diagnostics.
    """
    results = dict(results or {})
    table = export_frame(table)  # adds method labels for the chart axes
    figures = [
        NamedFigure(
            "causal_diagram", "Causal diagram implied by the roles",
            causal_diagram(roles, _identification(roles, df)),
        ),
        NamedFigure(
            "forest_plot", f"Estimates of the {estimand} with 95% intervals",
            forest_plot(table, outcome=roles.outcome, estimand=estimand,
                        reference=reference.value if reference is not None else None,
                        reference_label=reference.label if reference is not None else "Reference"),
        ),
    ]
    overlap = _overlap(df, roles)
    if overlap is not None:
        figures.append(NamedFigure("propensity_overlap", "Propensity-score overlap (logistic model)", overlap))
    weighted = list(_weighted_methods(results))
    balance = _balance(df, roles, estimand, weighted, table)
    if balance is not None:
        figures.append(NamedFigure("love_plot", "Covariate balance before and after adjustment", balance))
    for method_id, result, treated in weighted:
        figures.append(NamedFigure(
            f"weights_{method_id}", f"Weights: {_label(method_id, table)}", weight_plot(result.weights, treated)
        ))
    for method_id, result in results.items():
        own, _ = diagnostic_figures(result, roles, label=_label(method_id, table))
        figures.extend(own)
    return figures
