"""The Compute setting in the sidebar: where the engine's fan-outs run (this computer, local workers, a cluster).

The engine holds one backend per server process (``cc.set_backend``), so the
setting applies to every session of this server; each run's worker process
connects to the same cluster by its address. The page only arranges what the
engine reports: the backend's description and one row per worker.
"""
from __future__ import annotations

import streamlit as st

import causal_core as cc
from causal_core.compute.backend import cluster_report
from pages._ui import show_error

CHOICES = ("This computer", "Local workers", "Cluster address")


def run_backend_address() -> str | None:
    """The scheduler address a background run should use, or None to compute in the run's own process."""
    info = cc.current_backend()
    return None if info.kind == "serial" else info.address


def _apply(choice: str, n_workers: int, address: str) -> None:
    try:
        if choice == "This computer":
            cc.set_backend("serial")
        elif choice == "Local workers":
            cc.set_backend("local", n_workers=int(n_workers))
        else:
            cc.set_backend(address.strip(), timeout=10)
    except Exception as exc:  # the previous backend stays; the message names the problem
        show_error(exc, "Connecting to the compute backend")


def render_compute_setting() -> None:
    """Sidebar expander: choose the backend, test the connection, see workers, memory and versions."""
    info = cc.current_backend()
    with st.sidebar.expander("Compute", expanded=False):
        st.caption(f"Now: {info.describe()}. Results are the same on every backend.")
        choice = st.radio("Where to compute", CHOICES, index={"serial": 0, "local": 1, "cluster": 2}[info.kind],
                          key="compute_choice")
        n_workers = st.number_input("Workers", min_value=1, max_value=64, value=max(1, info.n_workers),
                                    key="compute_workers", disabled=choice != "Local workers")
        address = st.text_input("Scheduler address", value=info.address or "tcp://127.0.0.1:8786",
                                key="compute_address", disabled=choice != "Cluster address")
        if st.button("Apply and test the connection", key="compute_apply"):
            with st.spinner("Connecting (starting local workers takes a few seconds)..."):
                _apply(choice, n_workers, address)
            info = cc.current_backend()
        if info.kind != "serial":
            report = cluster_report()
            st.dataframe(report.rename(columns={"worker": "Worker", "threads": "Threads", "memory_gib": "Memory (GiB)",
                                                "versions_match": "Same versions"}),
                         hide_index=True, width="stretch", key="compute_workers_table")
            if info.dashboard and info.dashboard.startswith(("http://", "https://")):
                st.link_button("Open the Dask dashboard", info.dashboard, icon=":material/monitoring:",
                               help="Tasks, workers and memory of the cluster, live.")
                if info.kind == "local":
                    st.caption("The local cluster's dashboard listens on 127.0.0.1 only: it opens from a browser "
                               "on the machine running this app.")
            else:
                st.caption("This cluster runs no dashboard (it needs the 'bokeh' package on the scheduler).")
