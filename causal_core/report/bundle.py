"""The whole analysis in one zip: report, every chart as SVG and PNG, the tables, the analysis file and the script.

Layout of the archive (``<stem>`` is the caller's file-name stem)::

    <stem>/README.txt               what each file is, and the data fingerprint
    <stem>/report.html              the self-contained HTML report
    <stem>/analysis.json            the analysis file (restore it on the Data page)
    <stem>/reproduce.py             the reproduction script
    <stem>/data_fingerprint.json    rows, columns and SHA-256 of the data analysed
    <stem>/tables/<name>.csv        each table of :func:`causal_core.report.export_tables.analysis_tables`
    <stem>/tables/analysis.xlsx     the same tables as one workbook, with the Analysis sheet
    <stem>/charts/<slug>.svg|.png   every chart, rendered in one Chromium session

The charts are interactive in ``report.html`` (one copy of plotly.js for all;
a separate HTML file per chart would add 4.5 MB each). When PNG/SVG rendering
is not possible here (no Chromium), ``charts/`` is left out and README.txt
says why; the rest of the bundle is the same.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Callable, Mapping, Sequence

import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.report.analysis_file import AnalysisSpec, dump_analysis
from causal_core.report.named_figure import NamedFigure
from causal_core.report.script import reproduction_script
from causal_core.report.static_export import figures_to_images, static_export_problem
from causal_core.report.tables import frame_csv
from causal_core.report.workbook import analysis_workbook

__all__ = ["BundleContents", "build_bundle"]

#: A fixed timestamp for every member, so the same analysis gives the same archive layout and metadata.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


class BundleContents:
    """Names of the members of a bundle, relative to its folder (see the module docstring)."""

    README = "README.txt"
    REPORT = "report.html"
    ANALYSIS = "analysis.json"
    SCRIPT = "reproduce.py"
    FINGERPRINT = "data_fingerprint.json"
    WORKBOOK = "tables/analysis.xlsx"


def _stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_") or "analysis"


def _table_file(name: str) -> str:
    return f"tables/{_stem(name).lower()}.csv"


def _readme(spec: AnalysisSpec, members: Sequence[str], charts_note: str | None, data_source: str,
            notes: Sequence[str]) -> str:
    lines = [
        f"Causal analysis bundle: {spec.data_name}",
        "",
        f"Estimand {spec.estimand}; methods {', '.join(spec.methods)}; seed {spec.seed}.",
        f"Data: {spec.n_rows:,} rows, {len(spec.columns):,} columns, SHA-256 {spec.data_sha256}.",
        f"causal_core {spec.engine_version}, app {spec.app_version}.",
        "",
        "report.html          the full report (opens offline in any browser)",
        "analysis.json        the analysis file; restore it on the Data page with the same data",
        f"reproduce.py         reproduces every number from {data_source!r} (a bundled sample, or a data file "
        "beside the script); run it from the workbench folder",
        "data_fingerprint.json  rows, columns and SHA-256 of the data the numbers come from",
        "tables/              every table as CSV, and all of them in analysis.xlsx",
        "charts/              every chart as SVG and PNG (interactive in report.html)",
    ]
    if notes:
        lines += ["", *notes]
    if charts_note:
        lines += ["", f"No SVG/PNG charts in this bundle (they are interactive in report.html): {charts_note}"]
    lines += ["", "Files:"] + [f"  {m}" for m in members]
    return "\n".join(lines) + "\n"


def build_bundle(
    *,
    spec: AnalysisSpec,
    tables: Mapping[str, pd.DataFrame],
    figures: Sequence[NamedFigure],
    report_html: str,
    data_source: str,
    stem: str = "analysis",
    images: bool = True,
    progress: Callable[[str], None] | None = None,
    script: str | None = None,
) -> bytes:
    """The analysis as one zip file (see the module docstring for its layout).

    Parameters
    ----------
    spec : AnalysisSpec
        What was run: written as ``analysis.json``, the fingerprint and the script.
    tables : mapping of str to DataFrame
        Table name -> table (:func:`causal_core.report.export_tables.analysis_tables`);
        each becomes a CSV file and a sheet of ``tables/analysis.xlsx``.
    figures : sequence of NamedFigure
        The charts (:func:`causal_core.report.analysis_figures`, plus the robustness figures).
    report_html : str
        The HTML report (:func:`causal_core.report.build_html_report`).
    data_source : str
        What the script reads: a sample id or a data file name (:func:`reproduction_script`).
    stem : str
        Folder name inside the archive.
    images : bool
        Render every chart as SVG and PNG (one Chromium session for all). With
        ``False``, or without Chromium, there is no ``charts/`` folder.
    progress : callable, optional
        Called with a short sentence before each slow step.
    script : str, optional
        The reproduction script to include instead of writing one for ``data_source`` (a table kept on disk:
        :func:`causal_core.report.script_on_disk.on_disk_reproduction_script`).

    Returns
    -------
    bytes
        The ``.zip`` file.
    """
    if not isinstance(spec, AnalysisSpec):
        raise CausalInputError(f"The bundle needs an AnalysisSpec; got {type(spec).__name__}.")
    if not isinstance(report_html, str):
        raise CausalInputError("The bundle needs the HTML report as text; pass build_html_report's result.")
    if not tables:
        raise CausalInputError("The bundle needs at least the results table.")
    say = progress or (lambda _message: None)
    folder = _stem(stem)
    slugs = [f.slug for f in figures]
    if len(set(slugs)) != len(slugs):
        repeated = sorted({s for s in slugs if slugs.count(s) > 1})
        raise CausalInputError(f"Chart file name '{repeated[0]}' is used twice; every chart needs its own slug.")

    members: dict[str, bytes] = {}
    notes: list[str] = []
    members[BundleContents.REPORT] = report_html.encode("utf-8")
    for name, write in ((BundleContents.ANALYSIS, lambda: dump_analysis(spec)),
                        (BundleContents.SCRIPT, lambda: script if script is not None else reproduction_script(spec, data_source))):
        try:
            members[name] = write().encode("utf-8")
        except CausalInputError as exc:  # an option that is not plain data: the rest of the bundle still helps
            notes.append(f"No {name}: {exc}")
    fingerprint = {"data": spec.data_name, "rows": spec.n_rows, "columns": list(spec.columns),
                   "sha256": spec.data_sha256}
    members[BundleContents.FINGERPRINT] = (json.dumps(fingerprint, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    for name, frame in tables.items():
        members[_table_file(name)] = frame_csv(frame)
    members[BundleContents.WORKBOOK] = analysis_workbook(tables, spec=spec)

    charts_note = None
    rendered: list[dict[str, bytes]] = [{} for _ in figures]
    if images and figures:
        charts_note = static_export_problem()
        if charts_note is None:
            say(f"Rendering {len(figures)} chart(s) as SVG and PNG...")
            rendered = figures_to_images([f.figure for f in figures], formats=("svg", "png"))
    elif figures:
        charts_note = "SVG and PNG were not asked for."
    for item, files in zip(figures, rendered):
        for image_format, data in files.items():
            members[f"charts/{item.slug}.{image_format}"] = data

    names = [BundleContents.README] + list(members)
    readme = _readme(spec, names, charts_note, data_source, notes)
    members = {BundleContents.README: readme.encode("utf-8"), **members}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
