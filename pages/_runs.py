"""Estimation runs of the Estimate page, computed in the background by :class:`causal_core.compute.jobs.JobRunner`.

The page calls :func:`start_run`; methods whose results are in the session's
:func:`~pages._state.result_cache` (same data, roles, estimand, options and
seed) are reused at once, the others go to one background job. The job's id
is kept in the session state and the server-side store (:class:`RunRef`), so
a reloaded page follows the same job instead of starting another.
:func:`show_active_run`, drawn by ``app.py`` above every page, follows the job
with a fragment that reruns every second (the rest of the page is not
recomputed), shows its progress and a Cancel button, and when the job ends
puts its results in place. Under Streamlit's AppTest, where no browser asks
for fragment reruns, :func:`start_run` waits for the job instead.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime import Runtime

import causal_core as cc
from causal_core.compute.jobs import JobRunner, JobStatus
from causal_core.core.labels import RESULT_NUMBER_COLUMNS
from pages._compute import run_backend_address
from pages._state import (
    Dataset,
    ResultsBundle,
    RunRef,
    get_active_run,
    get_results,
    page_value,
    pop_page_value,
    result_cache,
    set_active_run,
    set_page_value,
    set_results,
)

__all__ = ["cache_key", "start_run", "run_on_disk", "show_active_run", "last_run_note", "TABLE_COLUMNS",
           "job_runner"]

TABLE_COLUMNS = ["label", "family", *RESULT_NUMBER_COLUMNS, "n_design", "warnings", "error"]
POLL_SECONDS = 1.0
#: How long the page waits for a fresh run before it returns and follows it from the fragment (a server
#: setting, ``CAUSAL_WORKBENCH_INLINE_WAIT`` seconds; the browser tests set 0 so that every run shows its
#: progress panel, whatever the machine's speed).
INLINE_WAIT_SECONDS = float(os.environ.get("CAUSAL_WORKBENCH_INLINE_WAIT", "1.5"))
_NOTE_KEY = "_run_note"
_CANCELLED_BY_USER = "You cancelled it."


@st.cache_resource(show_spinner=False)
def job_runner() -> JobRunner:
    """The process-wide runner shared by every session (its workers are shared too)."""
    return JobRunner()


def cache_key(version: int, roles: cc.Roles, estimand: str, method: str, options: dict, seed: int) -> tuple:
    return (version, repr(roles), estimand, method, repr(sorted(options.items())), seed)


def _key(run: RunRef, method: str) -> tuple:
    key = cache_key(run.data_version, run.roles, run.estimand, method, run.options.get(method, {}), run.seed)
    return key if run.sample_rows is None else key + (("sample_rows", run.sample_rows),)


def _bundle(run: RunRef) -> ResultsBundle:
    """The results table of ``run``, every method taken from the cache."""
    if run.sample_rows is not None:
        return _bundle_on_disk(run)
    cache = result_cache()
    rows: list[dict[str, Any]] = []
    results: dict[str, cc.EstimateResult] = {}
    for method in run.methods:
        info = cc.get_method(method)
        outcome = cache.get(_key(run, method), "The run ended before this method was computed.")
        if isinstance(outcome, cc.EstimateResult):
            results[method] = outcome
            row = outcome.summary() | {"error": ""}
        else:
            row = {"method": method, "estimand": run.estimand, "error": outcome}
        rows.append(row | {"label": info.label, "family": info.family})
    table = pd.DataFrame(rows).reindex(columns=["method", "estimand"] + TABLE_COLUMNS)
    return ResultsBundle(data_version=run.data_version, data_name=run.data_name, roles=run.roles,
                         estimand=run.estimand, seed=run.seed, table=table, results=results,
                         options={m: dict(run.options.get(m, {})) for m in run.methods})


def _bundle_on_disk(run: RunRef) -> ResultsBundle:
    """The results of a run on a table kept on disk: streamed and sampled methods, each with its scale note."""
    from causal_core.outofcore.large_run import assemble_large_run

    cache = result_cache()
    outcomes = {m: cache.get(_key(run, m), "The run ended before this method was computed.") for m in run.methods}
    large = assemble_large_run(run.table, run.roles, outcomes, estimand=run.estimand, seed=run.seed,
                               sample_rows=run.sample_rows)
    table = large.table.assign(label=[cc.get_method(m).label for m in large.table["method"]],
                               family=[cc.get_method(m).family for m in large.table["method"]])
    table = table.reindex(columns=["method", "estimand"] + TABLE_COLUMNS + ["computed_on"])
    return ResultsBundle(data_version=run.data_version, data_name=run.data_name, roles=run.roles,
                         estimand=run.estimand, seed=run.seed, table=table, results=dict(large.results),
                         options={m: dict(run.options.get(m, {})) for m in run.methods},
                         scale_notes=dict(large.notes), frame=large.frame)


def _n_estimates(bundle: ResultsBundle) -> int:
    """Methods of the bundle that gave an estimate (streamed ones included)."""
    return int((bundle.table["error"].fillna("").astype(str) == "").sum())


def last_run_note() -> tuple[str, str] | None:
    """(kind, text) about how the last run ended: kind ``"done"``, ``"stopped"`` or ``"lost"``."""
    return page_value(_NOTE_KEY)


def _finish(run: RunRef, status: JobStatus | None) -> None:
    """Put the job's outcomes in the cache; a finished run becomes the results, a stopped one keeps the old."""
    cache = result_cache()
    if status is not None:
        for method, outcome in status.outcomes.items():
            cache[_key(run, method)] = outcome
    # the run is forgotten only after its results are stored (each setter writes through to the analysis
    # store): a reload that interrupts this function then finds the run still active and finishes it again
    if status is None:
        set_page_value(_NOTE_KEY, ("lost", "The run started earlier is no longer known to the server (it may "
                                               "have restarted); run the methods again."))
    elif status.state == "done" and not _n_estimates(bundle := _bundle(run)) and (
            get_results() is not None or run.sample_rows is not None):
        # nothing gave an estimate: the earlier results stay, and the failures are said once
        errors = sorted({str(e) for e in bundle.table["error"].fillna("") if e})
        set_page_value(_NOTE_KEY, ("stopped", f"No method gave an estimate ({' / '.join(errors)}); the earlier "
                                               "results are kept."))
    elif status.state == "done":
        set_results(bundle)
        on = "" if run.sample_rows is None else f" on the {run.table.n_rows:,}-row table"
        set_page_value(_NOTE_KEY, ("done", f"Done: {_n_estimates(bundle)} of {len(run.methods)} method(s) gave "
                                               f"an estimate{on}."))
    else:
        finished = sum(1 for m in run.methods if _key(run, m) in cache)
        why = "Run cancelled" if status.state == "cancelled" else "Run failed"
        reason = "" if status.message == _CANCELLED_BY_USER else f" {status.message}"
        set_page_value(_NOTE_KEY, ("stopped", f"{why}.{reason} {finished} of {len(run.methods)} "
                                                  "method(s) had finished (they are reused by the next run); the "
                                                  "earlier results are kept."))
    set_active_run(None)


def _browser_follows_fragments() -> bool:
    """False under AppTest: its runtime is a stand-in, and no browser asks for the fragment's timed reruns."""
    return Runtime.exists() and type(Runtime.instance()) is Runtime


def start_run(dataset: Dataset, roles: cc.Roles, estimand: str, methods: list[str],
              options: dict[str, dict[str, Any]], seed: int) -> None:
    """Run ``methods``: cached ones at once, the rest as one background job that the page then follows."""
    run = RunRef(job_id="", data_version=dataset.version, data_name=dataset.name, roles=roles, estimand=estimand,
                 methods=tuple(methods), options={m: dict(options.get(m, {})) for m in methods}, seed=int(seed))
    _start(run, dataset.df)


def run_on_disk(dataset: Dataset, roles: cc.Roles, estimand: str, methods: list[str],
                options: dict[str, dict[str, Any]], seed: int, sample_rows: int) -> None:
    """Run ``methods`` on a table kept on disk as a background job: streamed where possible, else on a sample.

    The job is followed like any other run (progress, counting each streamed
    pass's partitions; Cancel; a reload re-attaches).
    """
    from causal_core.outofcore.large_run import changed_options, check_sample_rows

    used = {m: changed_options(m, options.get(m, {})) for m in methods}
    run = RunRef(job_id="", data_version=dataset.version, data_name=dataset.name, roles=roles, estimand=estimand,
                 methods=tuple(methods), options=used, seed=int(seed), sample_rows=check_sample_rows(sample_rows),
                 table=dataset.table)
    _start(run, dataset.table)


def _start(run: RunRef, data: Any) -> None:
    """Reuse the cached methods of ``run``, send the rest to one background job, and follow it."""
    cache = result_cache()
    missing = [m for m in run.methods if _key(run, m) not in cache]
    pop_page_value(_NOTE_KEY)
    if not missing:
        _finish(run, JobStatus(job_id="", state="done", methods=run.methods, outcomes={}))
        return
    runner = job_runner()
    job_id = runner.submit(data, run.roles, missing, estimand=run.estimand, seed=run.seed, options=run.options,
                           backend=run_backend_address(), sample_rows=run.sample_rows)
    run = replace(run, job_id=job_id)
    set_active_run(run)
    status = runner.wait(job_id, timeout=INLINE_WAIT_SECONDS if _browser_follows_fragments() else None)
    if status is None or status.finished:
        _finish(run, status)
    else:
        st.rerun()  # the page comes back with the progress panel above it


def _progress_text(run: RunRef, status: JobStatus) -> tuple[float, str]:
    total = len(run.methods)
    done = sum(1 for m in run.methods if m in status.outcomes or m not in status.methods)
    if status.state == "queued":
        ahead = status.waiting_for
        return done / total, (f"Waiting for a free worker ({ahead} run(s) of other analyses ahead); "
                              "you can keep working meanwhile...")
    current = cc.get_method(status.current).label if status.current else "the next method"
    text = f"Running {current} ({min(done + 1, total)} of {total}) in the background..."
    if status.tasks is not None and status.tasks[1] > 1:  # fed by the fan-out's completed tasks
        tasks_done, tasks_total = status.tasks
        where = " on the cluster" if status.backend else ""
        what = "partitions of this pass" if run.sample_rows is not None else "replicates or repeats"
        text += f" {tasks_done:,} of {tasks_total:,} {what} done{where}."
        return (done + tasks_done / tasks_total) / total, text
    return done / total, text


@st.fragment(run_every=POLL_SECONDS)
def _run_panel() -> None:
    run = get_active_run()
    if run is None:  # finished meanwhile (another tab of the same analysis, or a rerun)
        return
    runner = job_runner()
    status = runner.status(run.job_id)
    if status is None or status.finished:
        _finish(run, status)
        st.rerun()
    with st.container(border=True, key="run_panel"):
        fraction, text = _progress_text(run, status)
        st.progress(fraction, text=text)
        st.caption(f"Estimating the {run.estimand} of {run.roles.treatment} on {run.roles.outcome} with "
                   f"{len(run.methods)} method(s). The results appear on the Estimate page when the run ends; a "
                   "reload of the page keeps following this run.")
        if st.button("Cancel run", key="run_cancel", icon=":material/cancel:"):
            _finish(run, runner.cancel(run.job_id, reason=_CANCELLED_BY_USER))
            st.rerun()


def show_active_run() -> None:
    """Progress and a Cancel button of the background run, if one is going (call before the page is drawn)."""
    if get_active_run() is not None:
        _run_panel()
