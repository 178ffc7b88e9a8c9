"""Report page: download the charts, the results table, a self-contained HTML report, the analysis file and a script.

Everything is built from the last estimation run (see ``pages/_state.py``) and
the robustness checks run on it on the Robustness page (kept in
the ``"robustness"`` cache of ``pages/_state.py`` by ``pages/10_Robustness.py``). Large files
(the HTML report, each chart as PNG, SVG or HTML) are generated only when
their button is clicked.
"""
from __future__ import annotations

import re
from pathlib import PurePath
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

import causal_core as cc
from causal_core.report import (
    AnalysisSpec,
    NamedFigure,
    analysis_figures,
    build_bundle,
    build_html_report,
    dump_analysis,
    figure_to_html,
    figure_to_png,
    figure_to_svg,
    method_lab_settings,
    refutation_settings,
    report_robustness,
    reproduction_script,
    results_table_csv,
    robustness_figures,
    static_export_problem,
)
from causal_core.datasets.table_reader import SUPPORTED_EXTENSIONS
from causal_core.report.export_tables import analysis_tables
from causal_core.report.reference_effect import reference_effect
from causal_core.report.workbook import analysis_workbook
from causal_core.report.robustness_settings import MethodLabSettings, RefutationSettings
from causal_core.robustness.sensitivity import RobustnessSection
from pages._state import (Dataset, ResultsBundle, cache_items, cache_result, cached, get_dataset, get_results,
                          results_staleness)
from pages._ui import link_to, show_error

APP_VERSION = "0.1.0"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "analysis"


def _data_source(dataset: Dataset) -> tuple[str, bool]:
    """What the script reads: (sample id or data file name, whether the data must be downloaded from here)."""
    if dataset.source == "sample" and dataset.sample_id:
        return dataset.sample_id, False
    name = re.sub(r"\s*\[.*\]$", "", dataset.name)  # "book.xlsx [Sheet1]" -> "book.xlsx"
    sheet_chosen = name != dataset.name
    extension = PurePath(name).suffix.lower().lstrip(".")
    if extension in SUPPORTED_EXTENSIONS and extension not in ("xlsx", "xlsm", "xls") and not sheet_chosen:
        return name, False
    return f"{_slug(PurePath(name).stem)}.csv", True


@dataclass(frozen=True)
class Robustness:
    """What the report shows of the robustness checks, and the settings the script needs to rerun them."""

    section: RobustnessSection
    figures: list[NamedFigure]
    sensitivity: dict[str, Any]
    refutations: tuple[RefutationSettings, ...]
    method_lab: MethodLabSettings | None
    ran: tuple[str, ...]


def _stored_checks(bundle: ResultsBundle) -> tuple[dict[str, Any], dict[str, list], Any]:
    """Sensitivity reports, refutation results and the method lab the Robustness page computed for this run.

    The Robustness page keys its results by ``(data version, roles, estimand, seed, kind[, method])``.
    """
    run = (bundle.data_version, bundle.roles, bundle.estimand, bundle.seed)
    sensitivity: dict[str, Any] = {}
    refutations: dict[str, list] = {}
    lab = None
    for key, value in cache_items("robustness"):
        if not isinstance(key, tuple) or len(key) < 5 or key[:4] != run or value is None:
            continue
        kind, method = key[4], (key[5] if len(key) > 5 else None)
        if kind == "sensitivity" and method in bundle.results:
            sensitivity[method] = value
        elif kind == "refute" and method in bundle.results and value:
            refutations[method] = list(value)
        elif kind == "lab":
            lab = value
    return sensitivity, refutations, lab


def _robustness(dataset: Dataset, bundle: ResultsBundle) -> Robustness:
    """The report's robustness part, rebuilt only when the run or the stored checks change."""
    sensitivity, refutations, lab = _stored_checks(bundle)
    signature = (id(bundle), tuple((m, id(v)) for m, v in sorted(refutations.items())), id(lab))
    kept = cached("_report_robustness", signature)
    if kept is not None:
        return kept
    with st.spinner("Summarising agreement and sensitivity..."):
        section, reports = report_robustness(dataset.df, bundle.roles, bundle.results, method_options=bundle.options,
                                       sensitivity=sensitivity, refutations=refutations, lab=lab)
    ran = [f"refutation tests of {cc.get_method(m).label}" for m in refutations]
    if lab is not None:
        ran.append("the method lab")
    robustness = Robustness(
        section=section,
        figures=robustness_figures(section),
        sensitivity=reports,
        refutations=tuple(refutation_settings(m, r) for m, r in refutations.items()),
        method_lab=method_lab_settings(lab) if lab is not None else None,
        ran=tuple(ran),
    )
    return cache_result("_report_robustness", signature, robustness, keep=1)


def _spec(dataset: Dataset, bundle: ResultsBundle, robustness: Robustness | None) -> AnalysisSpec:
    methods = [m for m in bundle.table["method"]]
    return AnalysisSpec.from_data(
        dataset.df,
        data_name=dataset.sample_id if dataset.source == "sample" and dataset.sample_id else dataset.name,
        roles=bundle.roles,
        estimand=bundle.estimand,
        methods=methods,
        method_options=bundle.options,
        seed=bundle.seed,
        app_version=APP_VERSION,
        refutations=robustness.refutations if robustness is not None else (),
        method_lab=robustness.method_lab if robustness is not None else None,
    )


def _figures(dataset: Dataset, bundle: ResultsBundle) -> list[NamedFigure]:
    """The run's charts, built once per results bundle and kept in the session."""
    kept = cached("_report_figures", id(bundle))
    if kept is not None and kept[0] is bundle:
        return kept[1]
    with st.spinner("Preparing the charts..."):
        sample = dataset.sample_id if dataset.source == "sample" else None
        figures = analysis_figures(dataset.df, bundle.roles, bundle.table, bundle.results, estimand=bundle.estimand,
                                   reference=reference_effect(sample, bundle.estimand))
    cache_result("_report_figures", id(bundle), (bundle, figures), keep=1)
    return figures


def _report_builder(dataset: Dataset, bundle: ResultsBundle, figures: list[NamedFigure],
                    robustness: Robustness | None) -> Callable[[], str]:
    diagram = next((f.figure for f in figures if f.slug == "causal_diagram"), None)
    others = [f for f in figures if f.slug != "causal_diagram"]

    def build() -> str:
        return build_html_report(
            data_name=dataset.name, df=dataset.df, roles=bundle.roles, estimand=bundle.estimand,
            table=bundle.table, results=bundle.results, figures=others, diagram=diagram,
            seed=bundle.seed, method_options=bundle.options,
            robustness=robustness.section if robustness is not None else None,
        )

    return build


def _deferred(render: Callable[..., Any], figure: Any) -> Callable[[], Any]:
    """A no-argument callable for a deferred download (run when the button is clicked)."""
    return lambda: render(figure)


def _tables(dataset: Dataset, bundle: ResultsBundle, robustness: Robustness | None) -> dict[str, Any]:
    """Results, balance, diagnostics, subgroup and sensitivity tables of the run (built when a download asks)."""
    return analysis_tables(dataset.df, bundle.roles, bundle.table, bundle.results, estimand=bundle.estimand,
                           sensitivity=robustness.sensitivity if robustness is not None else None)


def _downloads_results(dataset: Dataset, bundle: ResultsBundle, spec: AnalysisSpec, stem: str,
                       robustness: Robustness | None) -> None:
    st.subheader("Results table")
    ran = bundle.table
    st.caption(f"{len(ran)} method(s), estimand {bundle.estimand}, seed {bundle.seed}; full-precision numbers. "
               "The Excel workbook also has the balance, diagnostics, subgroup and sensitivity tables and a sheet "
               "with the data, roles, options and seed.")
    left, right = st.columns(2)
    with left:
        st.download_button("Results table (CSV)", data=results_table_csv(ran), file_name=f"{stem}_results.csv",
                           mime="text/csv", key="report_table_csv", on_click="ignore", icon=":material/table_view:")
    with right:
        st.download_button("All tables (Excel)",
                           data=lambda: analysis_workbook(_tables(dataset, bundle, robustness), spec=spec),
                           file_name=f"{stem}_tables.xlsx", mime=XLSX_MIME, key="report_table_xlsx",
                           on_click="ignore", icon=":material/grid_on:")


def _bundle_builder(dataset: Dataset, bundle: ResultsBundle, spec: AnalysisSpec, stem: str,
                    figures: list[NamedFigure], robustness: Robustness | None) -> Callable[[], bytes]:
    build_report = _report_builder(dataset, bundle, figures, robustness)
    charts = figures + (robustness.figures if robustness is not None else [])

    def build() -> bytes:
        return build_bundle(spec=spec, tables=_tables(dataset, bundle, robustness), figures=charts,
                            report_html=build_report(), data_source=_data_source(dataset)[0], stem=stem)

    return build


def _download_bundle(dataset: Dataset, bundle: ResultsBundle, spec: AnalysisSpec, stem: str,
                     figures: list[NamedFigure], robustness: Robustness | None) -> None:
    charts = "every chart as SVG and PNG" if static_export_problem() is None else \
        "no SVG/PNG charts (see the note under Charts)"
    st.download_button("Download everything (zip)", data=_bundle_builder(dataset, bundle, spec, stem, figures,
                                                                         robustness),
                       file_name=f"{stem}_bundle.zip", mime="application/zip", key="report_bundle",
                       on_click="ignore", icon=":material/folder_zip:")
    data = "" if not _data_source(dataset)[1] else " The data itself is not inside; the script reads it from " \
        f"`{_data_source(dataset)[0]}` (download it under Reproduce the analysis)."
    st.caption(f"One zip with the HTML report, {charts}, every table as CSV and Excel, the analysis file, the "
               f"data fingerprint and the reproduction script. Rendering the charts takes a little while.{data}")


def _downloads_reproduce(dataset: Dataset, spec: AnalysisSpec, stem: str) -> None:
    st.subheader("Reproduce the analysis")
    source, needs_data = _data_source(dataset)
    try:
        analysis_text, script = dump_analysis(spec), reproduction_script(spec, source)
    except cc.CausalInputError as exc:
        st.error(f"The analysis cannot be saved as a file: {exc}", icon=":material/error:")
        return
    left, right = st.columns(2)
    with left:
        st.download_button("Analysis file (JSON)", data=analysis_text, file_name=f"{stem}_analysis.json",
                           mime="application/json", key="report_analysis_json", on_click="ignore", icon=":material/save:")
        st.caption("Restore it later on the **Data** page (with the same data) to get the same roles, "
                   "methods, options and seed.")
    with right:
        st.download_button("Python script", data=script, file_name=f"{stem}_reproduce.py", mime="text/x-python",
                           key="report_script", on_click="ignore", icon=":material/code:")
        if source == dataset.sample_id:
            st.caption(f"Reads the bundled sample `{source}`; run it from the workbench folder.")
        else:
            st.caption(f"Reads `{source}` from the script's folder; run it from the workbench folder.")
    if needs_data:
        st.download_button(f"The data as analysed ({source})", file_name=source, mime="text/csv",
                           data=_deferred(lambda df: df.to_csv(index=False).encode("utf-8"), dataset.df),
                           key="report_data_csv", on_click="ignore", icon=":material/dataset:")


def _downloads_charts(figures: list[NamedFigure], stem: str) -> None:
    st.subheader("Charts")
    problem = static_export_problem()
    if problem:
        st.info(f"{problem} Interactive HTML downloads still work.")
    for figure in figures:
        with st.expander(figure.title, expanded=False):
            st.plotly_chart(figure.figure, width="stretch", key=f"report_chart_{figure.slug}")
            columns = st.columns(3)
            name = f"{stem}_{figure.slug}"
            with columns[0]:
                st.download_button("PNG", data=_deferred(figure_to_png, figure.figure), file_name=f"{name}.png",
                                   mime="image/png", key=f"report_png_{figure.slug}", on_click="ignore",
                                   disabled=problem is not None, icon=":material/image:")
            with columns[1]:
                st.download_button("SVG", data=_deferred(figure_to_svg, figure.figure), file_name=f"{name}.svg",
                                   mime="image/svg+xml", key=f"report_svg_{figure.slug}", on_click="ignore",
                                   disabled=problem is not None, icon=":material/draw:")
            with columns[2]:
                st.download_button("Interactive HTML", data=_deferred(figure_to_html, figure.figure),
                                   file_name=f"{name}.html", mime="text/html", key=f"report_chart_html_{figure.slug}",
                                   on_click="ignore", icon=":material/language:")


def _page() -> None:
    st.title("Report")
    st.write("Take the analysis with you: a self-contained HTML report, the results table, every chart, "
             "and the files that let anyone repeat the numbers.")
    dataset, bundle = get_dataset(), get_results()
    if bundle is None or dataset is None:
        st.info("No results yet. Load data on **Data**, assign roles on **Roles**, then run estimators on "
                "**Estimate**; the downloads appear here.")
        link_to("pages/4_Estimate.py", "Go to Estimate", icon=":material/arrow_forward:")
        return
    if dataset.version != bundle.data_version:
        st.warning(f"{results_staleness()} The report describes one run on one table, so it is not offered "
                   "until the estimators have run on the loaded data.")
        link_to("pages/4_Estimate.py", "Go to Estimate", icon=":material/arrow_forward:")
        return
    staleness = results_staleness()
    if staleness:
        st.warning(f"{staleness} The downloads below describe the last run, with the roles it used.")
    if bundle.table.empty:
        st.info("The last run has no methods in it; run at least one estimator on the **Estimate** page.")
        return
    stem = _slug(PurePath(dataset.sample_id or dataset.name).stem)
    figures = _figures(dataset, bundle)
    robustness = None
    try:
        robustness = _robustness(dataset, bundle)
    except Exception as exc:  # the rest of the report is still worth having
        show_error(exc, "Summarising the robustness checks")
    spec = _spec(dataset, bundle, robustness)

    st.subheader("Full report")
    st.caption("One HTML file with the data summary, roles, diagram, results, charts, each method's own "
               "diagnostics, the robustness checks, warnings and method descriptions; plotly.js is inside, "
               "so it opens offline in any browser.")
    if robustness is not None:
        if robustness.ran:
            extra = (f"It also has {' and '.join(robustness.ran)} from the **Robustness** page; the analysis "
                     "file and the script rerun them with the same settings and seed.")
        else:
            extra = "Run refutation tests or the method lab on the **Robustness** page to add them too."
        st.caption("Robustness: the report always has the agreement across estimators and the sensitivity of "
                   f"each estimate to unmeasured confounding. {extra}")
    st.download_button("Download the HTML report", data=_report_builder(dataset, bundle, figures, robustness),
                       file_name=f"{stem}_report.html", mime="text/html", key="report_html",
                       on_click="ignore", type="primary", icon=":material/download:")
    _download_bundle(dataset, bundle, spec, stem, figures, robustness)
    _downloads_results(dataset, bundle, spec, stem, robustness)
    _downloads_reproduce(dataset, spec, stem)
    _downloads_charts(figures + (robustness.figures if robustness is not None else []), stem)


try:
    _page()
except Exception as exc:  # never a traceback on the page
    show_error(exc, "Preparing the report")
