"""Report and export: the analysis as a JSON file, a reproduction script, charts and tables as files, an HTML report.

:func:`build_bundle` puts all of it in one zip (report, every chart as SVG and
PNG, the tables of :func:`analysis_tables` as CSV and in the workbook of
:func:`analysis_workbook`, the analysis file, the data fingerprint and the script).

The HTML report and the script cover the estimates, each method's own
diagnostics (:mod:`.method_diagnostics`) and the robustness checks
(:mod:`.robustness`: agreement and sensitivity always; refutation tests and
the method lab with their saved settings, :mod:`.robustness_settings`).

Nothing here imports streamlit; the Report page calls these functions and
offers their output as downloads.
"""
from causal_core.report.analysis_file import (
    AnalysisSpec,
    data_fingerprint,
    data_mismatches,
    dump_analysis,
    load_analysis,
)
from causal_core.report.bundle import build_bundle
from causal_core.report.export_tables import analysis_tables
from causal_core.report.figures import analysis_figures
from causal_core.report.html_report import build_html_report
from causal_core.report.method_diagnostics import diagnostic_figures, diagnostics_html
from causal_core.report.named_figure import NamedFigure
from causal_core.report.reference_effect import ReferenceEffect, reference_effect
from causal_core.report.robustness import report_robustness, robustness_figures, sensitivity_table
from causal_core.report.robustness_settings import MethodLabSettings, RefutationSettings, method_lab_settings, refutation_settings
from causal_core.report.script import analysis_compute, reproduction_script
from causal_core.report.static_export import (
    StaticExportError,
    figure_to_html,
    figure_to_png,
    figure_to_svg,
    figures_to_images,
    static_export_problem,
)
from causal_core.report.tables import results_table_csv, results_table_xlsx
from causal_core.report.workbook import analysis_workbook

__all__ = [
    "AnalysisSpec",
    "MethodLabSettings",
    "NamedFigure",
    "ReferenceEffect",
    "RefutationSettings",
    "analysis_figures",
    "analysis_tables",
    "analysis_workbook",
    "build_bundle",
    "diagnostic_figures",
    "diagnostics_html",
    "method_lab_settings",
    "refutation_settings",
    "report_robustness",
    "robustness_figures",
    "sensitivity_table",
    "StaticExportError",
    "build_html_report",
    "data_fingerprint",
    "data_mismatches",
    "dump_analysis",
    "figure_to_html",
    "figure_to_png",
    "figure_to_svg",
    "figures_to_images",
    "load_analysis",
    "reference_effect",
    "analysis_compute",
    "reproduction_script",
    "results_table_csv",
    "results_table_xlsx",
    "static_export_problem",
]
