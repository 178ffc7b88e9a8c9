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
==================  ==========================================================

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
]

DEFAULT_ESTIMAND = "ATE"
DEFAULT_SEED = 0


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
        ``"upload"``, ``"sample"`` or ``"restore"``.
    sample_id : str or None
        The bundled sample's id when ``source == "sample"``.
    """

    name: str
    df: pd.DataFrame = field(repr=False)
    version: int
    source: str
    sample_id: str | None = None


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
    """

    data_version: int
    data_name: str
    roles: cc.Roles
    estimand: str
    seed: int
    table: pd.DataFrame = field(repr=False)
    results: dict[str, cc.EstimateResult] = field(repr=False)
    options: dict[str, dict[str, Any]]


def get_dataset() -> Dataset | None:
    """The loaded table, or None before any is loaded."""
    return st.session_state.get("dataset")


def set_dataset(df: pd.DataFrame, name: str, source: str, sample_id: str | None = None) -> Dataset:
    """Load a new table: bump the version and keep the roles only if all their columns still exist.

    Results computed on the previous table are kept (so pages can say they are
    out of date) but :func:`results_are_current` becomes False.
    """
    previous = get_dataset()
    version = (previous.version + 1) if previous is not None else 1
    dataset = Dataset(name=name, df=df, version=version, source=source, sample_id=sample_id)
    st.session_state["dataset"] = dataset
    roles = get_roles()
    if roles is not None and not set(roles.columns()) <= set(map(str, df.columns)):
        st.session_state["roles"] = None
    return dataset


def get_roles() -> cc.Roles | None:
    """The assigned roles, or None when treatment and outcome are not both chosen."""
    return st.session_state.get("roles")


def set_roles(roles: cc.Roles | None) -> None:
    """Store the roles (None clears them)."""
    st.session_state["roles"] = roles


def get_estimand() -> str:
    """The chosen estimand (``"ATE"`` by default)."""
    return st.session_state.get("estimand", DEFAULT_ESTIMAND)


def set_estimand(estimand: str) -> None:
    st.session_state["estimand"] = str(estimand)


def get_methods() -> list[str]:
    """The method ids chosen for the next run (a copy)."""
    return list(st.session_state.get("methods", []))


def set_methods(methods: list[str]) -> None:
    st.session_state["methods"] = list(methods)


def methods_were_chosen() -> bool:
    """True once the analyst has made a choice of methods (an empty choice included)."""
    return "methods" in st.session_state


def get_method_options() -> dict[str, dict[str, Any]]:
    """Method id -> keyword options (a copy)."""
    return {k: dict(v) for k, v in st.session_state.get("method_options", {}).items()}


def set_method_options(options: dict[str, dict[str, Any]]) -> None:
    st.session_state["method_options"] = {k: dict(v) for k, v in options.items()}


def get_seed() -> int:
    """The seed for every random step (0 by default)."""
    return int(st.session_state.get("seed", DEFAULT_SEED))


def set_seed(seed: int) -> None:
    st.session_state["seed"] = int(seed)


def get_results() -> ResultsBundle | None:
    """The last estimation run, current or not (check :func:`results_are_current`)."""
    return st.session_state.get("results")


def set_results(bundle: ResultsBundle | None) -> None:
    st.session_state["results"] = bundle


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


def result_cache() -> dict[tuple, Any]:
    """Per-session cache of results: key (data version, roles, estimand, method, options, seed) -> result or error."""
    return st.session_state.setdefault("result_cache", {})
