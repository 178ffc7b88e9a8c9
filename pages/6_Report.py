"""Report page: download the charts, the results table, a self-contained HTML report, the analysis file and a script.

Everything is built from the last estimation run (see ``pages/_state.py``) and
the robustness checks run on it on the Robustness page (kept in
the ``"robustness"`` cache of ``pages/_state.py`` by ``pages/10_Robustness.py``). Large files
(the HTML report, each chart as PNG, SVG or HTML) are generated only when
their button is clicked.

Nothing slow runs when the page opens: each chart is drawn when its expander
is opened (or a download needs it) and kept for the results bundle
(:class:`causal_core.report.figures.FigureCache`); the agreement and
sensitivity summary is computed once, when the robustness charts or a
download first need it. Before a slow step the page says how long it should
take, from what the same step took per row earlier in the session.
"""
from __future__ import annotations

import math
import re
import threading
import time
from pathlib import PurePath
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

import causal_core as cc
from causal_core.outofcore.large_run import report_notes
from causal_core.outofcore.streamed import DEFAULT_SAMPLE_ROWS
from causal_core.report import (
    AnalysisSpec,
    NamedFigure,
    build_bundle,
    build_html_report,
    dump_analysis,
    figure_to_html,
    figure_to_png,
    figure_to_svg,
    method_lab_settings,
    refutation_settings,
    report_robustness,
    analysis_compute,
    reproduction_script,
    results_table_csv,
    robustness_figures,
    static_export_problem,
)
from causal_core.datasets.table_reader import SUPPORTED_EXTENSIONS
from causal_core.report.script_on_disk import on_disk_reproduction_script
from causal_core.report.figures import FigureCache, FigurePlan, analysis_figure_plans
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


#: Seconds per 1,000 rows (rows x methods for the robustness summary) of each slow step before the session has timed it (LaLonde PSID, 2,675 rows,
#: 8 methods, on the 2-core development machine; bench/results/pages_speed.md). Later estimates use the
#: session's own timings.
PRIOR_SECONDS_PER_1000_ROWS = {"overlap": 2.2, "balance": 0.3, "weights": 0.1, "diagnostics": 0.1, "diagram": 0.1,
                               "forest": 0.1, "chart": 0.1, "robustness": 0.35}
#: Steps whose cost grows with the number of methods too (their units are rows x methods).
PER_METHOD_STEPS = ("robustness",)


def _expected_seconds(kind: str, units: int) -> float:
    """How long the step ``kind`` should take on ``units`` (rows, or rows x methods for the per-method steps):
    the session's last timing per unit, else the prior."""
    per_unit = cached("_report_step_seconds", kind)
    if per_unit is None:
        per_unit = PRIOR_SECONDS_PER_1000_ROWS.get(kind, 0.1) / 1000.0
    return per_unit * max(int(units), 1)


def _record_seconds(kind: str, seconds: float, units: int) -> None:
    cache_result("_report_step_seconds", kind, float(seconds) / max(int(units), 1))


def _robustness_units(bundle: ResultsBundle, n_rows: int) -> int:
    return n_rows * max(len(bundle.results), 1)


def _about(seconds: float) -> str:
    return "under a second" if seconds < 1 else f"about {math.ceil(seconds)} s"


class _Once:
    """A value computed the first time it is asked for, then kept; safe across threads (deferred downloads
    run on their own thread). A failure is kept too, and raised again on every ask."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._outcome: tuple[bool, Any] | None = None
        self.seconds: float | None = None

    @property
    def done(self) -> bool:
        return self._outcome is not None

    def get(self) -> Any:
        with self._lock:
            if self._outcome is None:
                start = time.perf_counter()
                try:
                    self._outcome = (True, self._make())
                except Exception as exc:  # noqa: BLE001 - kept and raised to every caller
                    self._outcome = (False, exc)
                self.seconds = time.perf_counter() - start
        ok, value = self._outcome
        if not ok:
            raise value
        return value


@dataclass(frozen=True)
class RobustnessSettings:
    """What the report says of the checks the Robustness page ran, and the settings the script needs to rerun
    them (cheap: nothing is computed)."""

    refutations: tuple[RefutationSettings, ...]
    method_lab: MethodLabSettings | None
    ran: tuple[str, ...]


@dataclass(frozen=True)
class Robustness:
    """The report's robustness part: the agreement and sensitivity section, its charts and sensitivity reports."""

    section: RobustnessSection
    figures: list[NamedFigure]
    sensitivity: dict[str, Any]


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


@dataclass(frozen=True)
class ReportRobustness:
    """The robustness part of one run: the settings at once, the summary when first asked for."""

    settings: RobustnessSettings | None
    summary: "_Once"  # -> Robustness or None


def _frame(dataset: Dataset, bundle: ResultsBundle):
    """The rows the results were computed on: the seeded sample of a table kept on disk, else the loaded table."""
    return dataset.df if bundle.frame is None else bundle.frame


def scale_notes(dataset: Dataset, bundle: ResultsBundle) -> list[str]:
    """The report's notes on how a table kept on disk was used (none for an in-memory table)."""
    return report_notes(dataset.name, dataset.n_rows, bundle.scale_notes)


def _robustness(dataset: Dataset, bundle: ResultsBundle) -> ReportRobustness:
    """The report's robustness part, kept until the run or the stored checks change; its summary (agreement and
    sensitivity, seconds of work) is computed on first use."""
    sensitivity, refutations, lab = _stored_checks(bundle)
    signature = (id(bundle), tuple((m, id(v)) for m, v in sorted(sensitivity.items())),
                 tuple((m, id(v)) for m, v in sorted(refutations.items())), id(lab))
    kept = cached("_report_robustness", signature)
    if kept is not None and kept[0] is bundle:
        return kept[1]
    df = _frame(dataset, bundle)
    ran = [f"refutation tests of {cc.get_method(m).label}" for m in refutations]
    if lab is not None:
        ran.append("the method lab")
    settings = RobustnessSettings(refutations=tuple(refutation_settings(m, r) for m, r in refutations.items()),
                                  method_lab=method_lab_settings(lab) if lab is not None else None, ran=tuple(ran))

    def make() -> Robustness:
        section, reports = report_robustness(df, bundle.roles, bundle.results, method_options=bundle.options,
                                             sensitivity=sensitivity, refutations=refutations, lab=lab)
        return Robustness(section=section, figures=robustness_figures(section), sensitivity=reports)

    part = ReportRobustness(settings=settings, summary=_Once(make))
    cache_result("_report_robustness", signature, (bundle, part), keep=1)
    return part


def _robustness_or_none(once: _Once) -> Robustness | None:
    """The robustness part for a download: a failure leaves it out of the file (the page shows the error)."""
    try:
        return once.get()
    except Exception:  # noqa: BLE001 - the rest of the download is still worth having
        return None


def _spec(dataset: Dataset, bundle: ResultsBundle, robustness: RobustnessSettings | None) -> AnalysisSpec:
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


def _charts(dataset: Dataset, bundle: ResultsBundle) -> FigureCache:
    """The run's charts, named at once and each drawn when first asked for; kept per results bundle."""
    kept = cached("_report_figures", id(bundle))
    if kept is not None and kept[0] is bundle:
        return kept[1]
    sample = dataset.sample_id if dataset.source == "sample" else None
    charts = FigureCache(analysis_figure_plans(_frame(dataset, bundle), bundle.roles, bundle.table, bundle.results,
                                               estimand=bundle.estimand,
                                               reference=reference_effect(sample, bundle.estimand)))
    cache_result("_report_figures", id(bundle), (bundle, charts), keep=1)
    return charts


def _expected_build(charts: FigureCache, robustness: _Once, n_rows: int, robustness_units: int) -> float:
    """Seconds still needed to draw every chart and summarise the robustness checks."""
    seconds = sum(_expected_seconds(plan.kind, n_rows) for plan in charts.plans if not charts.is_drawn(plan.slug))
    return seconds + (0.0 if robustness.done else _expected_seconds("robustness", robustness_units))


def _report_builder(dataset: Dataset, bundle: ResultsBundle, charts: FigureCache,
                    robustness: _Once) -> Callable[[], str]:
    def build() -> str:
        figures = charts.all_figures()
        diagram = next((f.figure for f in figures if f.slug == "causal_diagram"), None)
        others = [f for f in figures if f.slug != "causal_diagram"]
        part = _robustness_or_none(robustness)
        return build_html_report(
            data_name=dataset.name, df=_frame(dataset, bundle), roles=bundle.roles, estimand=bundle.estimand,
            table=bundle.table, results=bundle.results, figures=others, diagram=diagram,
            seed=bundle.seed, method_options=bundle.options, notes=scale_notes(dataset, bundle),
            robustness=part.section if part is not None else None,
        )

    return build


def _deferred(render: Callable[..., Any], figure: Any) -> Callable[[], Any]:
    """A no-argument callable for a deferred download (run when the button is clicked)."""
    return lambda: render(figure)


def _tables(dataset: Dataset, bundle: ResultsBundle, robustness: _Once) -> dict[str, Any]:
    """Results, balance, diagnostics, subgroup and sensitivity tables of the run (built when a download asks)."""
    part = _robustness_or_none(robustness)
    return analysis_tables(_frame(dataset, bundle), bundle.roles, bundle.table, bundle.results, estimand=bundle.estimand,
                           sensitivity=part.sensitivity if part is not None else None)


def _downloads_results(dataset: Dataset, bundle: ResultsBundle, spec: AnalysisSpec, stem: str,
                       robustness: _Once) -> None:
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
                    charts: FigureCache, robustness: _Once) -> Callable[[], bytes]:
    build_report = _report_builder(dataset, bundle, charts, robustness)

    def build() -> bytes:
        part = _robustness_or_none(robustness)
        figures = charts.all_figures() + (part.figures if part is not None else [])
        script = None
        if dataset.table is not None:  # the table stays on disk: the script reopens it where it lies
            script = on_disk_reproduction_script(spec, dataset.table, n_rows=dataset.n_rows,
                                                 sample_rows=_on_disk_sample_rows(bundle),
                                                 compute=analysis_compute(bundle.results))
        return build_bundle(spec=spec, tables=_tables(dataset, bundle, robustness), figures=figures,
                            report_html=build_report(), data_source=_data_source(dataset)[0], stem=stem,
                            script=script)

    return build


def _download_bundle(dataset: Dataset, bundle: ResultsBundle, spec: AnalysisSpec, stem: str,
                     charts: FigureCache, robustness: _Once) -> None:
    charts_text = "every chart as SVG and PNG" if static_export_problem() is None else \
        "no SVG/PNG charts (see the note under Charts)"
    st.download_button("Download everything (zip)", data=_bundle_builder(dataset, bundle, spec, stem, charts,
                                                                         robustness),
                       file_name=f"{stem}_bundle.zip", mime="application/zip", key="report_bundle",
                       on_click="ignore", icon=":material/folder_zip:")
    data = "" if not _data_source(dataset)[1] else " The data itself is not inside; the script reads it from " \
        f"`{_data_source(dataset)[0]}` (download it under Reproduce the analysis)."
    st.caption(f"One zip with the HTML report, {charts_text}, every table as CSV and Excel, the analysis file, the "
               f"data fingerprint and the reproduction script. Rendering the charts takes a little while.{data}")


def _on_disk_sample_rows(bundle: ResultsBundle | None) -> int:
    """The sample size the sampled methods of a run on disk used (its sample's rows; the default if none ran)."""
    frame = bundle.frame if bundle is not None else None
    return len(frame) if frame is not None and len(frame) else DEFAULT_SAMPLE_ROWS


def _downloads_reproduce(dataset: Dataset, spec: AnalysisSpec, stem: str, compute: dict | None = None,
                         bundle: ResultsBundle | None = None) -> None:
    st.subheader("Reproduce the analysis")
    source, needs_data = _data_source(dataset)
    on_disk = dataset.table is not None
    try:
        if on_disk:  # reopened where it lies and run through the same run_large, streamed or on the same sample
            script = on_disk_reproduction_script(spec, dataset.table, n_rows=dataset.n_rows,
                                                 sample_rows=_on_disk_sample_rows(bundle), compute=compute)
            source, needs_data = "", False
        else:
            script = reproduction_script(spec, source, compute=compute)
        analysis_text = dump_analysis(spec)
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
        if on_disk:
            st.caption("Reopens the table where it lies on the server (its path, or the query and its data "
                       "folder) and runs the same streamed and sampled estimates; run it from the workbench folder.")
        elif source == dataset.sample_id:
            st.caption(f"Reads the bundled sample `{source}`; run it from the workbench folder.")
        else:
            st.caption(f"Reads `{source}` from the script's folder; run it from the workbench folder.")
    if needs_data:
        st.download_button(f"The data as analysed ({source})", file_name=source, mime="text/csv",
                           data=_deferred(lambda df: df.to_csv(index=False).encode("utf-8"), dataset.df),
                           key="report_data_csv", on_click="ignore", icon=":material/dataset:")


def _chart_downloads(figure: NamedFigure, stem: str, problem: str | None) -> None:
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


def _draw(charts: FigureCache, plan: FigurePlan, n_rows: int) -> list[NamedFigure]:
    """The plan's charts, drawn now (with the expected time shown) when they were not drawn before."""
    if charts.is_drawn(plan.slug):
        return charts.figures(plan.slug)
    with st.spinner(f"Drawing the chart ({_about(_expected_seconds(plan.kind, n_rows))})..."):
        figures = charts.figures(plan.slug)
    _record_seconds(plan.kind, charts.seconds[plan.slug], n_rows)
    return figures


def _downloads_charts(charts: FigureCache, robustness: _Once, stem: str, n_rows: int,
                      robustness_units: int) -> None:
    st.subheader("Charts")
    st.caption("Open a chart to draw it and get its PNG, SVG and interactive HTML files.")
    problem = static_export_problem()
    if problem:
        st.info(f"{problem} Interactive HTML downloads still work.")
    for plan in charts.plans:
        expander = st.expander(plan.title, key=f"report_open_{plan.slug}", on_change="rerun")
        if not expander.open:
            continue
        with expander:
            try:
                figures = _draw(charts, plan, n_rows)
            except Exception as exc:
                show_error(exc, f"Drawing '{plan.title}'")
                continue
            if not figures:
                st.info("This chart does not apply to these results.")
            for figure in figures:
                if len(figures) > 1 or figure.title != plan.title:
                    st.markdown(f"**{figure.title}**")
                _chart_downloads(figure, stem, problem)
    expander = st.expander("Robustness charts: agreement and sensitivity to unmeasured confounding",
                           key="report_open_robustness", on_change="rerun")
    if expander.open:
        with expander:
            try:
                if robustness.done:
                    part = robustness.get()
                else:
                    with st.spinner("Summarising agreement and sensitivity "
                                    f"({_about(_expected_seconds('robustness', robustness_units))})..."):
                        part = robustness.get()
                    _record_seconds("robustness", robustness.seconds or 0.0, robustness_units)
            except Exception as exc:
                show_error(exc, "Summarising the robustness checks")
            else:
                if part is None or not part.figures:
                    st.info("The robustness checks of these results have no charts.")
                for figure in (part.figures if part is not None else []):
                    st.markdown(f"**{figure.title}**")
                    _chart_downloads(figure, stem, problem)


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
    if bundle.scale_notes:
        st.info(" ".join(scale_notes(dataset, bundle)), icon=":material/database:")
    stem = _slug(PurePath(dataset.sample_id or dataset.name).stem)
    n_rows = len(_frame(dataset, bundle))
    charts = _charts(dataset, bundle)
    try:
        part = _robustness(dataset, bundle)
    except Exception as exc:  # the rest of the report is still worth having
        show_error(exc, "Reading the robustness checks")
        part = ReportRobustness(settings=None, summary=_Once(lambda: None))
    settings, robustness = part.settings, part.summary
    spec = _spec(dataset, bundle, settings)

    st.subheader("Full report")
    st.caption("One HTML file with the data summary, roles, diagram, results, charts, each method's own "
               "diagnostics, the robustness checks, warnings and method descriptions; plotly.js is inside, "
               "so it opens offline in any browser.")
    if settings is not None:
        if settings.ran:
            extra = (f"It also has {' and '.join(settings.ran)} from the **Robustness** page; the analysis "
                     "file and the script rerun them with the same settings and seed.")
        else:
            extra = "Run refutation tests or the method lab on the **Robustness** page to add them too."
        st.caption("Robustness: the report always has the agreement across estimators and the sensitivity of "
                   f"each estimate to unmeasured confounding. {extra}")
    remaining = _expected_build(charts, robustness, n_rows, _robustness_units(bundle, n_rows))
    st.download_button("Download the HTML report", data=_report_builder(dataset, bundle, charts, robustness),
                       file_name=f"{stem}_report.html", mime="text/html", key="report_html",
                       on_click="ignore", type="primary", icon=":material/download:",
                       help=f"Building the report takes {_about(remaining)} the first time; then it is kept.")
    if remaining >= 1:
        st.caption(f"Building the report (charts and robustness summary) takes {_about(remaining)} the first "
                   "time; after that the downloads reuse what was built.")
    _download_bundle(dataset, bundle, spec, stem, charts, robustness)
    _downloads_results(dataset, bundle, spec, stem, robustness)
    _downloads_reproduce(dataset, spec, stem, analysis_compute(bundle.results), bundle)
    _downloads_charts(charts, robustness, stem, n_rows, _robustness_units(bundle, n_rows))


try:
    _page()
except Exception as exc:  # never a traceback on the page
    show_error(exc, "Preparing the report")
