"""How fast the Report and Diagnostics pages answer, and how long a PNG export takes (issue 15 item 6).

Drives the real app with Streamlit's AppTest on LaLonde PSID (2,675 rows):
loads the sample, runs several back-door methods on the Estimate page, then
times

- the Report page's first render after the estimates exist, and a second render;
- the Diagnostics page's first render and each change of its method dropdown;
- a PNG export of the forest plot: the first (starts Chromium) and the next ones.

Usage::

    .venv/bin/python bench/pages_speed.py [--methods ipw ...] [--label after]

Appends a section to ``bench/results/pages_speed.md`` and prints it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

import causal_core as cc  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pages_speed.md"
DEFAULT_METHODS = ("difference_in_means", "regression_adjustment", "ipw", "doubly_robust", "entropy_balancing",
                   "propensity_score_matching", "nearest_neighbor_matching", "t_learner")


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _check(at: AppTest, where: str) -> None:
    if at.exception:
        raise SystemExit(f"{where}: {[e.value for e in at.exception]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--label", default="run")
    parser.add_argument("--exports", type=int, default=4)
    args = parser.parse_args()

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    at.run()
    at.selectbox(key="data_sample").set_value("lalonde_psid").run()
    at.button(key="data_load_sample").click().run()
    _check(at, "load")
    at.switch_page("pages/4_Estimate.py").run()
    for info in cc.list_methods():
        box = at.checkbox(key=f"est_use_{info.id}")
        if not box.disabled:
            box.set_value(info.id in args.methods)
    at.run()
    estimate_s = _timed(lambda: at.button(key="est_run").click().run())
    _check(at, "estimate")
    bundle = at.session_state["results"]
    ran = list(bundle.results)

    report_first = _timed(lambda: at.switch_page("pages/6_Report.py").run())
    _check(at, "report")
    report_again = _timed(lambda: at.run())
    opened = {}
    kept = at.session_state["_report_figures"] if "_report_figures" in at.session_state else {}
    charts = next(iter(kept.values()))[1] if kept else None
    lazy = [p.slug for p in charts.plans] + ["robustness"] if hasattr(charts, "plans") else []
    for slug in ("forest_plot", "propensity_overlap", "robustness"):  # lazy sections (pages that have them)
        if slug not in lazy:
            continue
        at.session_state[f"report_open_{slug}"] = True
        opened[slug] = _timed(lambda: at.run())
        _check(at, f"open {slug}")
    if opened:
        opened["rerun with them open"] = _timed(lambda: at.run())
    diag_first = _timed(lambda: at.switch_page("pages/5_Diagnostics.py").run())
    _check(at, "diagnostics")
    changes = []
    for method in ran[1:] + ran[:1]:
        changes.append(_timed(lambda: at.selectbox(key="diag_method").set_value(method).run()))
        _check(at, f"diagnostics {method}")
    revisits = []
    for method in ran[1:] + ran[:1]:  # each method seen before: its charts are kept
        revisits.append(_timed(lambda: at.selectbox(key="diag_method").set_value(method).run()))
    report_back = _timed(lambda: at.switch_page("pages/6_Report.py").run())

    from causal_core.report import analysis_figures, figure_to_png

    forest = next(f for f in analysis_figures(at.session_state["dataset"].df, bundle.roles, bundle.table,
                                              bundle.results, estimand=bundle.estimand) if f.slug == "forest_plot")
    exports = [_timed(lambda: figure_to_png(forest.figure)) for _ in range(max(2, args.exports))]

    lines = [
        f"## {args.label} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"LaLonde PSID, {len(at.session_state['dataset'].df):,} rows, {len(ran)} methods: {', '.join(ran)}; "
        f"estimate step {estimate_s:.1f} s.",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| Report page, first render after the estimates | {report_first:.2f} |",
        f"| Report page, rerun | {report_again:.2f} |",
        f"| Report page, back from Diagnostics | {report_back:.2f} |",
        f"| Diagnostics page, first render | {diag_first:.2f} |",
        f"| Diagnostics method dropdown change, each method the first time (median of {len(changes)}; max) | "
        f"{statistics.median(changes):.2f}; {max(changes):.2f} |",
        f"| Diagnostics method dropdown change, methods seen before (median of {len(revisits)}; max) | "
        f"{statistics.median(revisits):.2f}; {max(revisits):.2f} |",
        *[f"| Report page, opening the chart section '{slug}' (draws it) | {seconds:.2f} |"
          if slug != "rerun with them open" else f"| Report page, rerun with those sections open | {seconds:.2f} |"
          for slug, seconds in opened.items()],
        f"| PNG export of the forest plot, first (starts Chromium) | {exports[0]:.2f} |",
        f"| PNG export, each after the first (median of {len(exports) - 1}; max) | "
        f"{statistics.median(exports[1:]):.2f}; {max(exports[1:]):.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with RESULTS.open("a", encoding="utf-8") as out:
        if out.tell() == 0:
            out.write("# Page speed: Report, Diagnostics, static export\n\nWritten by `bench/pages_speed.py`; "
                      "timings on the shared 2-core development machine.\n\n")
        out.write(text + "\n")


if __name__ == "__main__":
    main()
