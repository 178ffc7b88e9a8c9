"""Report and export: the analysis as a JSON file, a reproduction script, charts and tables as files, an HTML report.

Nothing here imports streamlit; the Report page calls these functions and
offers their output as downloads.
"""
from .analysis_file import (
    AnalysisSpec,
    data_fingerprint,
    data_mismatches,
    dump_analysis,
    load_analysis,
)
from .figures import NamedFigure, analysis_figures
from .html_report import build_html_report
from .script import reproduction_script
from .static_export import (
    StaticExportError,
    figure_to_html,
    figure_to_png,
    figure_to_svg,
    static_export_problem,
)
from .tables import results_table_csv, results_table_xlsx

__all__ = [
    "AnalysisSpec",
    "NamedFigure",
    "analysis_figures",
    "StaticExportError",
    "build_html_report",
    "data_fingerprint",
    "data_mismatches",
    "dump_analysis",
    "figure_to_html",
    "figure_to_png",
    "figure_to_svg",
    "load_analysis",
    "reproduction_script",
    "results_table_csv",
    "results_table_xlsx",
    "static_export_problem",
]
