"""The session-state contract shared by every page of the app.

Import it from any page as::

    from pages._state import get_dataset, get_roles, get_results, results_are_current

This works because ``streamlit run app.py`` puts the repository root (the
directory of ``app.py``) on ``sys.path``, and ``pages/`` is then importable as a
namespace package; tests put the root on ``sys.path`` in ``tests/conftest.py``.
The file name starts with ``_`` so that ``app.py`` does not list it as a page.

Stored values (keys of ``st.session_state``; use the accessors, not the keys):

==================  ==========================================================
``"dataset"``       :class:`Dataset` or absent: the table being analysed
``"roles"``         :class:`causal_core.Roles` or None
``"estimand"``      str, default ``"ATE"``
``"methods"``       list of method ids chosen on the Estimate page
``"method_options"`` dict method id -> dict of keyword options
``"seed"``          int, default 0
``"results"``       :class:`ResultsBundle` or None: the last estimation run
``"active_run"``    :class:`RunRef` or None: the estimation running in the background
==================  ==========================================================

Per-session caches (one scheme, :func:`cached` / :func:`cache_result`; each is a
dict key -> value kept under its own session key, the key naming exactly the
inputs the value was computed from):

========================  ====================================================
``"result_cache"``        estimation results or errors: (data version, roles, estimand, method, options, seed)
``"robustness"``          sensitivity, refutation and method-lab results, keyed by the results bundle and test
``"het_cache"``           Heterogeneity page results: (data version, roles, method, estimand, options, seed)
``"_diag_prepared"``      Diagnostics: the prepared design of one method of a results bundle
``"_diag_balance"``       Diagnostics: (balance tables, errors) of a results bundle
``"_explore_scan"``       Explore: the reversal scan of (data version, treatment, outcome, treated level)
``"_report_robustness"``  Report: the robustness settings of the run and its summary (computed on first use)
``"_report_figures"``     Report: the charts of a results bundle (a ``FigureCache``: each drawn when first asked for)
``"_report_step_seconds"`` Report: seconds per row each slow step took last (kind -> seconds), for the expected times
``"_diag_figures"``       Diagnostics: the charts of a results bundle, by (method, chart, covariate)
``"_data_described"``     Data: the column description of a table
``"_data_sheet_names"``   Data: the sheet names of an uploaded workbook, by file id
``"_data_table_profile"`` Data: (DuckDB profile, preview) of a table opened by path, by data version
========================  ====================================================

``st.cache_data`` is used only for pure loaders of bundled data (the same for
every session); ``st.cache_resource`` only for process-wide services (the
analysis store, the job runner).

Page values (one accessor pair, :func:`page_value` / :func:`set_page_value` /
:func:`pop_page_value`, for what a page keeps across runs besides caches). The
results kept here are not caches: they exist only because the analyst pressed a
button, and the page shows the last one with a note when its settings no
longer match, instead of recomputing it silently:

=============================== ================================================
``"het_settings"``              Heterogeneity: method, estimand, per-method options, covariate
``"het_last"``                  Heterogeneity: the ``het_cache`` key of the last run
``"mix_iid_result"``            Mixtures: the last fit of repeated measurements, or None
``"mix_iid_error"``             Mixtures: the error of the last such fit
``"mix_latent_result"``         Mixtures: (settings, result, error) of the last latent-confounder estimate
``"_data_message"``             Data: (kind, text) of the last load, shown on the next run
``"_data_upload_signature"``    Data: the upload handled last (so a rerun does not load it again)
``"_data_restore_signature"``   Data: the analysis file restored last
``"_explore_scan_requested"``   Explore: the reversal scan was asked for
``"_sl_data_key"``              Stable learning: the table its column widgets were filled for
``"_ml_data_key"``              Mechanism learning: the table its column widgets were filled for
``"_sl_result"``                Stable learning: (settings, fit) of the last press of its button
``"_ml_result"``                Mechanism learning: (settings, fit) of the last press of its button
``"_run_note"``                 the note about the last background run (``pages/_runs.py``)
``"_diag_choices"``             Diagnostics: the method, balance table and covariate last chosen (kept when
                                the analyst leaves the page; forgotten with the table)
``"_mix_loaded_note"``          Mixtures: the note that its example replaced the loaded table
=============================== ================================================

Widget values (keys given to widgets with ``key=``) are read and set with
:func:`widget_value`, :func:`set_widget_value`, :func:`has_widget_value` and
:func:`forget_widget_values`; no page touches ``st.session_state`` itself.

The setters of the first table also write through to the server-side store of
``pages/_session_store.py`` under the analysis id kept in the URL
(``?analysis=...``); :func:`open_analysis`, called by ``app.py`` before every
page, puts a stored analysis back into a fresh session (a reloaded page or a
new connection) and keeps the id in the URL while moving between pages.

Widgets never use these keys (Streamlit deletes a widget's key when its page
is not shown); pages copy widget values into them with the setters, so moving
between pages never loses anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

import causal_core as cc
from pages._session_store import AnalysisStore, StoreUnavailable, is_analysis_id, new_analysis_id

__all__ = [
    "Dataset",
    "ResultsBundle",
    "get_dataset",
    "set_dataset",
    "get_roles",
    "set_roles",
    "get_estimand",
    "set_estimand",
    "get_methods",
    "methods_were_chosen",
    "set_methods",
    "get_method_options",
    "set_method_options",
    "get_seed",
    "set_seed",
    "get_results",
    "set_results",
    "results_are_current",
    "results_staleness",
    "result_cache",
    "cached",
    "cache_result",
    "cache_items",
    "page_value",
    "set_page_value",
    "pop_page_value",
    "widget_value",
    "set_widget_value",
    "has_widget_value",
    "forget_widget_values",
    "RunRef",
    "get_active_run",
    "set_active_run",
    "open_analysis",
    "analysis_id",
    "ANALYSIS_PARAM",
]

DEFAULT_ESTIMAND = "ATE"
DEFAULT_SEED = 0
ANALYSIS_PARAM = "analysis"
_ID_KEY = "_analysis_id"
_SAVED_KEY = "_analysis_saved_state"
#: Session-state keys kept in the store's small "state" part (the dataset's table is stored apart).
_STATE_KEYS = ("roles", "estimand", "methods", "method_options", "seed", "active_run")


@dataclass(frozen=True)
class Dataset:
    """The table being analysed.

    Attributes
    ----------
    name : str
        What the analyst sees (file name or sample title).
    df : DataFrame
        The data; treat it as read-only (never modify it in place).
    version : int
        Increases by one every time a new table is loaded in this session;
        results remember the version they were computed on.
    source : str
        ``"upload"``, ``"sample"``, ``"restore"``, ``"path"`` (a file under the data folder, loaded into
        memory) or ``"large"`` (a file under the data folder kept on disk: see ``table``).
    sample_id : str or None
        The bundled sample's id when ``source == "sample"``.
    table : causal_core.outofcore.TableSource or None
        For ``source == "large"``: the table on disk, which the Estimate page runs through
        :func:`causal_core.outofcore.large_run.run_large`; ``df`` is then only a seeded sample of it
        (:func:`~causal_core.outofcore.large_run.roles_frame`) for choosing roles and exploring.
    """

    name: str
    df: pd.DataFrame = field(repr=False)
    version: int
    source: str
    sample_id: str | None = None
    table: Any = None

    @property
    def n_rows(self) -> int:
        """Rows of the whole table (of the file on disk for a large table)."""
        return int(self.table.n_rows) if self.table is not None else int(self.df.shape[0])


@dataclass(frozen=True)
class ResultsBundle:
    """One estimation run: what was asked and what came back.

    Attributes
    ----------
    data_version : int
        :attr:`Dataset.version` of the table the run used.
    data_name : str
        :attr:`Dataset.name` of that table.
    roles : causal_core.Roles
    estimand : str
    seed : int
    table : DataFrame
        One row per method, the columns of :func:`causal_core.compare`
        (method, estimand, estimate, std_error, ci_low, ci_high, p_value,
        n_used, ess, seconds, warnings, error) plus ``label`` and ``family``.
    results : dict
        Method id -> :class:`causal_core.EstimateResult` for the methods that ran.
    options : dict
        Method id -> the keyword options used.
    scale_notes : dict
        For a table kept on disk: method id -> "Streamed over all M rows..." or "Estimated on a sample of N
        of M rows..." (empty for an in-memory table).
    frame : DataFrame or None
        For a table kept on disk: the seeded sample the sampled methods ran on (their ``row_index`` points
        into it); the Diagnostics and Report pages use it instead of the dataset's frame.
    """

    data_version: int
    data_name: str
    roles: cc.Roles
    estimand: str
    seed: int
    table: pd.DataFrame = field(repr=False)
    results: dict[str, cc.EstimateResult] = field(repr=False)
    options: dict[str, dict[str, Any]]
    scale_notes: dict[str, str] = field(default_factory=dict)
    frame: pd.DataFrame | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RunRef:
    """An estimation run handed to the background job runner: its job id and exactly what was asked.

    The methods whose results were already in :func:`result_cache` are part of
    ``methods`` but were not sent to the job.
    """

    job_id: str
    data_version: int
    data_name: str
    roles: cc.Roles
    estimand: str
    methods: tuple[str, ...]
    options: dict[str, dict[str, Any]]
    seed: int
    #: For a table kept on disk: the sample size of the methods without a streamed form, and the table itself.
    sample_rows: int | None = None
    table: Any = None


def get_dataset() -> Dataset | None:
    """The loaded table, or None before any is loaded."""
    return st.session_state.get("dataset")


def set_dataset(df: pd.DataFrame, name: str, source: str, sample_id: str | None = None, table: Any = None) -> Dataset:
    """Load a new table: bump the version and keep the roles only if all their columns still exist.

    Results computed on the previous table are kept (so pages can say they are
    out of date) but :func:`results_are_current` becomes False. The ticked methods, their options and the
    pages' choices made for the previous table are forgotten, so the new table gets the methods its own
    roles recommend instead of ticks made for another design.
    """
    previous = get_dataset()
    version = (previous.version + 1) if previous is not None else 1
    dataset = Dataset(name=name, df=df, version=version, source=source, sample_id=sample_id, table=table)
    st.session_state["dataset"] = dataset
    roles = get_roles()
    if roles is not None and not set(roles.columns()) <= set(map(str, df.columns)):
        st.session_state["roles"] = None
    st.session_state.pop("methods", None)
    st.session_state.pop("method_options", None)
    forget_widget_values([key for key in list(st.session_state.keys())
                          if isinstance(key, str) and key.startswith(TABLE_CHOICE_PREFIXES)])
    for name in TABLE_CHOICE_VALUES:
        pop_page_value(name)
    _write("data", df)
    _write_state()
    return dataset


def get_roles() -> cc.Roles | None:
    """The assigned roles, or None when treatment and outcome are not both chosen."""
    return st.session_state.get("roles")


def set_roles(roles: cc.Roles | None) -> None:
    """Store the roles (None clears them)."""
    st.session_state["roles"] = roles
    _write_state()


def get_estimand() -> str:
    """The chosen estimand (``"ATE"`` by default)."""
    return st.session_state.get("estimand", DEFAULT_ESTIMAND)


def set_estimand(estimand: str) -> None:
    st.session_state["estimand"] = str(estimand)
    _write_state()


def get_methods() -> list[str]:
    """The method ids chosen for the next run (a copy)."""
    return list(st.session_state.get("methods", []))


def set_methods(methods: list[str]) -> None:
    st.session_state["methods"] = list(methods)
    _write_state()


def methods_were_chosen() -> bool:
    """True once the analyst has made a choice of methods (an empty choice included)."""
    return "methods" in st.session_state


def get_method_options() -> dict[str, dict[str, Any]]:
    """Method id -> keyword options (a copy)."""
    return {k: dict(v) for k, v in st.session_state.get("method_options", {}).items()}


def set_method_options(options: dict[str, dict[str, Any]]) -> None:
    st.session_state["method_options"] = {k: dict(v) for k, v in options.items()}
    _write_state()


def get_seed() -> int:
    """The seed for every random step (0 by default)."""
    return int(st.session_state.get("seed", DEFAULT_SEED))


def set_seed(seed: int) -> None:
    st.session_state["seed"] = int(seed)
    _write_state()


def get_results() -> ResultsBundle | None:
    """The last estimation run, current or not (check :func:`results_are_current`)."""
    return st.session_state.get("results")


def set_results(bundle: ResultsBundle | None) -> None:
    st.session_state["results"] = bundle
    _write("results", bundle)


def results_staleness() -> str | None:
    """Why the stored results no longer match the data and roles, or None if they do (or there are none)."""
    bundle = get_results()
    if bundle is None:
        return None
    dataset = get_dataset()
    if dataset is None or dataset.version != bundle.data_version:
        return (
            f"These results were computed on '{bundle.data_name}', which has since been replaced; "
            "run the estimators again on the new data."
        )
    if get_roles() != bundle.roles:
        return "The roles have changed since these results were computed; run the estimators again."
    return None


def results_are_current() -> bool:
    """True when results exist and were computed on the loaded table with the current roles."""
    return get_results() is not None and results_staleness() is None


CACHES = ("result_cache", "robustness", "het_cache", "_diag_prepared", "_diag_balance", "_explore_scan",
          "_report_robustness", "_report_figures", "_data_described", "_data_sheet_names")
# issue 13: the DuckDB profile and preview of a table opened by path (by data version)
CACHES += ("_data_table_profile",)
# issue 15 item 6: per-results-bundle chart caches and the measured step times behind the expected-time notes
CACHES += ("_report_step_seconds", "_diag_figures")
PAGE_VALUES = ("het_settings", "het_last", "mix_iid_result", "mix_iid_error", "mix_latent_result", "_data_message",
               "_data_upload_signature", "_data_restore_signature", "_explore_scan_requested", "_sl_data_key",
               "_ml_data_key", "_sl_result", "_ml_result", "_run_note", "_diag_choices", "_mix_loaded_note")
#: Widget-key prefixes of the choices made for one table: a new table forgets them (with the ticked methods).
TABLE_CHOICE_PREFIXES = ("est_use_", "est_opt_", "diag_", "het_")
#: Page values holding choices made for one table, forgotten with it.
TABLE_CHOICE_VALUES = ("_diag_choices", "het_settings")
_MISSING = object()


def _cache(name: str) -> dict[Any, Any]:
    if name not in CACHES:
        raise KeyError(f"Cache {name!r} is not declared in pages/_state.py; add it to CACHES and the docstring table.")
    return st.session_state.setdefault(name, {})


def result_cache() -> dict[tuple, Any]:
    """Per-session cache of results: key (data version, roles, estimand, method, options, seed) -> result or error."""
    return _cache("result_cache")


def cached(name: str, key: Any, default: Any = None) -> Any:
    """The value kept in the per-session cache ``name`` under ``key``, or ``default``."""
    return _cache(name).get(key, default)


def cache_result(name: str, key: Any, value: Any, *, keep: int | None = None) -> Any:
    """Keep ``value`` in the per-session cache ``name`` under ``key`` and return it.

    ``keep`` bounds the entries: the oldest are dropped first (``keep=1`` keeps only the latest).
    """
    cache = _cache(name)
    cache.pop(key, None)
    cache[key] = value
    if keep is not None:
        while len(cache) > keep:
            cache.pop(next(iter(cache)))
    return value


def cache_items(name: str) -> list[tuple[Any, Any]]:
    """Every (key, value) of the per-session cache ``name`` (a copy), oldest first."""
    return list(_cache(name).items())


def _page_key(name: str) -> str:
    if name not in PAGE_VALUES:
        raise KeyError(f"Page value {name!r} is not declared in pages/_state.py; add it to PAGE_VALUES and the "
                       "docstring table.")
    return name


def page_value(name: str, default: Any = None) -> Any:
    """A value a page keeps across runs (declared in ``PAGE_VALUES``), or ``default``."""
    return st.session_state.get(_page_key(name), default)


def set_page_value(name: str, value: Any) -> None:
    st.session_state[_page_key(name)] = value


def pop_page_value(name: str, default: Any = None) -> Any:
    """Remove a page value and return it (``default`` when absent)."""
    return st.session_state.pop(_page_key(name), default)


def widget_value(key: str, default: Any = None) -> Any:
    """The current value of the widget with this ``key`` (``default`` before it exists)."""
    return st.session_state.get(key, default)


def set_widget_value(key: str, value: Any) -> None:
    """Set a widget's value (only from a callback, or before the widget is drawn)."""
    st.session_state[key] = value


def has_widget_value(key: str) -> bool:
    return key in st.session_state


def forget_widget_values(keys: tuple[str, ...] | list[str]) -> None:
    """Drop these widgets' values, so they get their defaults on the next draw."""
    for key in keys:
        st.session_state.pop(key, None)


def get_active_run() -> RunRef | None:
    """The estimation running in the background for this analysis, or None."""
    return st.session_state.get("active_run")


def set_active_run(run: RunRef | None) -> None:
    st.session_state["active_run"] = run
    _write_state()


# ---------------------------------------------------------------- server-side store of the analysis


@st.cache_resource(show_spinner=False)
def _store() -> AnalysisStore | None:
    """The process-wide store, or None when its directory cannot be used safely (nothing is then kept)."""
    try:
        return AnalysisStore()
    except StoreUnavailable:
        return None


def analysis_id() -> str | None:
    """This session's analysis id (in the URL as ``?analysis=``), or None before anything was stored."""
    return st.session_state.get(_ID_KEY)


def _ensure_id() -> str:
    current = analysis_id()
    if current is None:
        current = new_analysis_id()
        st.session_state[_ID_KEY] = current
        st.query_params[ANALYSIS_PARAM] = current
    return current


def _write(part: str, value: Any) -> None:
    """Write one part of the analysis through to the store; a failure is said once, never raised."""
    store = _store()
    if store is None:
        return
    try:
        kept = store.save(_ensure_id(), part, value)
    except Exception as exc:  # a full disk must not break the page
        kept, reason = False, f"{type(exc).__name__}: {exc}"
    else:
        reason = "the table is larger than the store's size limit"
    if not kept:
        st.session_state["_analysis_store_problem"] = (
            f"This analysis could not be kept on the server for recovery ({reason}); "
            "a reload of the page would lose it, so save the analysis file from the Report page."
        )


def _write_state() -> None:
    """Write the small part of the analysis when it changed since the last write."""
    dataset = get_dataset()
    state = {key: st.session_state[key] for key in _STATE_KEYS if key in st.session_state}
    state["dataset"] = None if dataset is None else {
        "name": dataset.name, "version": dataset.version, "source": dataset.source, "sample_id": dataset.sample_id,
        "table": dataset.table}
    if st.session_state.get(_SAVED_KEY) == state:
        return
    _write("state", state)
    st.session_state[_SAVED_KEY] = state


def _restore(presented: str, parts: dict[str, Any]) -> None:
    state = parts.get("state") or {}
    meta = state.get("dataset")
    if meta is not None and "data" in parts:
        st.session_state["dataset"] = Dataset(name=meta["name"], df=parts["data"], version=int(meta["version"]),
                                              source=meta["source"], sample_id=meta["sample_id"],
                                              table=meta.get("table"))
    for key in _STATE_KEYS:
        if key in state:
            st.session_state[key] = state[key]
    if parts.get("results") is not None:
        st.session_state["results"] = parts["results"]
    st.session_state[_ID_KEY] = presented
    st.session_state[_SAVED_KEY] = state


def open_analysis() -> None:
    """Call at the start of every page run: restore the analysis named in the URL into a fresh session.

    Only an id the client presents is looked up, and only if it has the shape
    of a generated id. An unknown or expired id is dropped from the URL with a
    note; the session then starts empty and gets a new id when something is
    stored. Page navigation may drop query parameters, so the id is put back
    on every run.
    """
    store = _store()
    current = analysis_id()
    if current is None and store is not None:
        presented = st.query_params.get(ANALYSIS_PARAM)
        if presented:
            parts = None
            if is_analysis_id(presented):
                try:
                    parts = store.load(presented)
                except Exception:  # an unreadable entry (corrupt, or from an older version) counts as gone
                    parts = None
            if parts is None:
                del st.query_params[ANALYSIS_PARAM]
                st.warning("The analysis in this link is no longer kept on the server (analyses are kept for "
                           "2 hours after their last use); load the data again on the Data page.",
                           icon=":material/history:")
            else:
                _restore(presented, parts)
                dataset = get_dataset()
                st.toast(f"Analysis restored{f': {dataset.name!r}' if dataset else ''}.", icon=":material/restore:")
        return
    if current is not None:
        if st.query_params.get(ANALYSIS_PARAM) != current:
            st.query_params[ANALYSIS_PARAM] = current
        if store is not None:
            store.touch(current)
    problem = st.session_state.pop("_analysis_store_problem", None)
    if problem:
        st.warning(problem, icon=":material/cloud_off:")
