"""The standard set of charts for an analysis, built from the engine's chart functions.

The Report page offers each as PNG, SVG and interactive HTML, and the HTML
report shows them all. A chart that does not apply (no confounders, a
continuous treatment, no method with weights) is left out, never an error.
"""
from __future__ import annotations

import threading
import time
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
from causal_core.report.named_figure import FigurePlan, NamedFigure
from causal_core.report.reference_effect import ReferenceEffect
from causal_core.report.tables import export_frame

__all__ = ["FigureCache", "FigurePlan", "NamedFigure", "analysis_figure_plans", "analysis_figures"]

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


def _one(slug: str, title: str, make, method: str | None = None):
    """A builder of at most one chart: ``make()`` returns a Figure or None (does not apply)."""
    def build() -> list[NamedFigure]:
        figure = make()
        return [] if figure is None else [NamedFigure(slug, title, figure, method)]
    return build


def _own_charts_may_apply(result: EstimateResult) -> bool:
    """Whether a result carries anything its own diagnostic charts draw (cheap; the drawing may still skip)."""
    return result.unit_effects is not None or any(
        key in result.diagnostics for key in ("response_curve", "subgroups", "bic"))


def analysis_figure_plans(
    df: pd.DataFrame,
    roles: Roles,
    table: pd.DataFrame,
    results: Mapping[str, EstimateResult] | None = None,
    *,
    estimand: str = "ATE",
    reference: ReferenceEffect | None = None,
) -> list[FigurePlan]:
    """The charts of an analysis, in report order, named but not yet drawn (drawing is ``plan.build()``).

    Deciding which charts apply is cheap (no model is fitted); each plan's
    ``build`` does the work: the propensity fit of the overlap chart, the
    balance tables of the love plot. Parameters as :func:`analysis_figures`.
    """
    results = dict(results or {})
    table = export_frame(table)  # adds method labels for the chart axes
    plans = [
        FigurePlan("causal_diagram", "Causal diagram implied by the roles",
                   _one("causal_diagram", "Causal diagram implied by the roles",
                        lambda: causal_diagram(roles, _identification(roles, df))), kind="diagram"),
        FigurePlan("forest_plot", f"Estimates of the {estimand} with 95% intervals",
                   _one("forest_plot", f"Estimates of the {estimand} with 95% intervals",
                        lambda: forest_plot(table, outcome=roles.outcome, estimand=estimand,
                                            reference=reference.value if reference is not None else None,
                                            reference_label=reference.label if reference is not None
                                            else "Reference")), kind="forest"),
    ]
    if roles.confounders:
        title = "Propensity-score overlap (logistic model)"
        plans.append(FigurePlan("propensity_overlap", title,
                                _one("propensity_overlap", title, lambda: _overlap(df, roles)), kind="overlap"))
    weighted = list(_weighted_methods(results))
    if roles.confounders and weighted:
        title = "Covariate balance before and after adjustment"
        plans.append(FigurePlan("love_plot", title, _one("love_plot", title,
                                                         lambda: _balance(df, roles, estimand, weighted, table)),
                                kind="balance"))
    for method_id, result, treated in weighted:
        title = f"Weights: {_label(method_id, table)}"
        plans.append(FigurePlan(f"weights_{method_id}", title,
                                _one(f"weights_{method_id}", title,
                                     lambda result=result, treated=treated: weight_plot(result.weights, treated)),
                                kind="weights"))
    for method_id, result in results.items():
        if not _own_charts_may_apply(result):
            continue
        label = _label(method_id, table)
        plans.append(FigurePlan(
            f"diagnostics_{method_id}", f"Diagnostic charts: {label}",
            lambda result=result, label=label: diagnostic_figures(result, roles, label=label)[0],
            method=method_id, kind="diagnostics"))
    return plans


class FigureCache:
    """The charts of one analysis, each drawn the first time it is asked for and then kept.

    Safe to share between the page script and deferred downloads, which run
    on their own threads. :attr:`builds` counts the draws of each plan (the
    cache misses) and :attr:`seconds` how long each took.
    """

    def __init__(self, plans: list[FigurePlan]) -> None:
        self.plans: tuple[FigurePlan, ...] = tuple(plans)
        self._by_slug = {plan.slug: plan for plan in self.plans}
        self._drawn: dict[str, list[NamedFigure]] = {}
        self._lock = threading.RLock()
        self.builds: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def is_drawn(self, slug: str) -> bool:
        return slug in self._drawn

    def figures(self, slug: str) -> list[NamedFigure]:
        """The charts of the plan ``slug``, drawn now if they were not yet."""
        if slug not in self._by_slug:
            raise CausalInputError(f"Chart '{slug}' is not one of this analysis's charts; choose one of "
                                   f"{', '.join(self._by_slug)}.")
        with self._lock:
            if slug not in self._drawn:
                start = time.perf_counter()
                self._drawn[slug] = list(self._by_slug[slug].build())
                self.seconds[slug] = time.perf_counter() - start
                self.builds[slug] = self.builds.get(slug, 0) + 1
            return self._drawn[slug]

    def all_figures(self) -> list[NamedFigure]:
        """Every chart, in report order (drawing those not drawn yet)."""
        return [figure for plan in self.plans for figure in self.figures(plan.slug)]


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
    plans = analysis_figure_plans(df, roles, table, results, estimand=estimand, reference=reference)
    return [figure for plan in plans for figure in plan.build()]
