"""The robustness part of a report: agreement across estimators and sensitivity of each, always; refutation
tests and the method lab when the analyst ran them.

:func:`report_robustness` fills in what is cheap and missing (the agreement
summary, the sensitivity analysis of every estimate) and hands everything to
:func:`causal_core.robustness_section`; :func:`sensitivity_table` gives the
headline sensitivity numbers as one row per method, as the reproduction
script prints them.
"""
from __future__ import annotations

import math
from html import escape
from typing import Any, Mapping, Sequence

import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles
from causal_core.report.named_figure import NamedFigure
from causal_core.robustness.agreement import agreement_summary, is_unadjusted
from causal_core.robustness.method_lab import MethodLabResult
from causal_core.robustness.refute import RefutationResult
from causal_core.robustness.sensitivity import RobustnessSection, SensitivityReport, robustness_section, sensitivity_for_result

__all__ = ["SENSITIVITY_COLUMNS", "report_robustness", "robustness_figures", "sensitivity_table"]

#: Columns of :func:`sensitivity_table`, in order.
SENSITIVITY_COLUMNS = (
    "method", "e_value", "e_value_ci", "risk_ratio", "robustness_value", "robustness_value_alpha",
    "partial_r2_treatment", "rosenbaum_critical_gamma",
)


def sensitivity_table(reports: Mapping[str, SensitivityReport]) -> pd.DataFrame:
    """One row of headline numbers per method (NaN where an analysis does not apply).

    Parameters
    ----------
    reports : mapping
        Method id -> :class:`~causal_core.robustness.sensitivity.SensitivityReport`.

    Returns
    -------
    DataFrame
        Columns :data:`SENSITIVITY_COLUMNS`: the E-values of the estimate and
        of its confidence limit and the risk ratio they come from; the
        omitted-variable-bias robustness values and partial R^2 (regression,
        doubly robust); the critical Gamma of the Rosenbaum bounds (1:1 matching).
    """
    rows = []
    for method, report in reports.items():
        row: dict[str, Any] = {"method": method}
        if report.e_value is not None:
            row.update(e_value=report.e_value.e_value_estimate, e_value_ci=report.e_value.e_value_ci,
                       risk_ratio=report.e_value.risk_ratio)
        if report.ovb is not None:
            row.update(robustness_value=report.ovb.robustness_value,
                       robustness_value_alpha=report.ovb.robustness_value_alpha,
                       partial_r2_treatment=report.ovb.partial_r2_treatment)
        if report.rosenbaum is not None:
            row["rosenbaum_critical_gamma"] = report.rosenbaum.critical_gamma
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS)).astype({c: float for c in SENSITIVITY_COLUMNS[1:]})


def _finite(result: EstimateResult) -> bool:
    return all(math.isfinite(v) for v in (result.estimate, result.ci_low, result.ci_high))


def report_robustness(
    df: pd.DataFrame,
    roles: Roles,
    results: Mapping[str, EstimateResult],
    *,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
    sensitivity: Mapping[str, SensitivityReport | None] | None = None,
    refutations: Mapping[str, Sequence[RefutationResult]] | None = None,
    lab: MethodLabResult | None = None,
) -> tuple[RobustnessSection, dict[str, SensitivityReport]]:
    """The report's robustness section, computing the sensitivity analyses not given.

    Parameters
    ----------
    df : DataFrame
        The data the results were computed on (never modified).
    roles : Roles
    results : mapping
        Method id -> :class:`EstimateResult`.
    method_options : mapping, optional
        Method id -> keyword options the method ran with (the sensitivity analysis reads some).
    sensitivity : mapping, optional
        Method id -> sensitivity report already computed (e.g. on the Robustness
        page); missing or ``None`` entries are computed here.
    refutations : mapping, optional
        Method id -> refutation results the analyst ran.
    lab : MethodLabResult, optional
        The analyst's method-lab run.

    Returns
    -------
    section : RobustnessSection
        HTML and figures; sensitivity analyses that could not be computed are
        named with the reason, never raised.
    reports : dict
        Method id -> the sensitivity report used, for every method where it could be computed.
    """
    options = dict(method_options or {})
    given = dict(sensitivity or {})
    reports: dict[str, SensitivityReport] = {}
    problems: list[str] = []
    for method, result in results.items():
        report = given.get(method)
        if report is None:
            try:
                report = sensitivity_for_result(df, roles, result, options=dict(options.get(method) or {}))
            except CausalInputError as exc:
                problems.append(f"{method}: {exc}")
                continue
            except Exception as exc:  # one method's sensitivity must not stop the report
                problems.append(f"{method}: failed unexpectedly ({type(exc).__name__}: {exc})")
                continue
        reports[method] = report
    usable = {m: r for m, r in results.items() if _finite(r)}
    adjusting = [m for m, r in usable.items() if not is_unadjusted(r.method)]
    agreement = agreement_summary(usable) if len(adjusting) >= 2 else None
    section = robustness_section(
        sensitivity=reports,
        refutations={m: list(r) for m, r in (refutations or {}).items() if m in results and r},
        lab=lab,
        agreement=agreement,
    )
    extra = []
    if agreement is None:
        extra.append('<p class="meta">The agreement summary needs at least two adjusting methods (the naive '
                     'difference in means does not count) with a finite estimate.</p>')
    extra += [f'<div class="warning">Sensitivity analysis not computed for {escape(p)}</div>' for p in problems]
    if not extra:
        return section, reports
    return RobustnessSection(section.html + "\n" + "\n".join(extra), section.figures), reports


def robustness_figures(section: RobustnessSection) -> list[NamedFigure]:
    """The section's charts as :class:`NamedFigure` (slugs prefixed ``robustness_``), for downloads."""
    return [NamedFigure(f"robustness_{slug}", title, figure) for slug, title, figure in section.figures]
