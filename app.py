"""Entry point of the causal inference workbench: declares the pages, nothing else.

Every file in ``pages/`` whose name does not start with ``_`` becomes a page,
ordered by its numeric prefix (``1_Data.py``, ``2_Roles.py``, ...), so pages
added later appear without editing this file.
"""
from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from pages._compute import render_compute_setting
from pages._runs import show_active_run
from pages._state import open_analysis
from pages._ui import apply_global_style

PAGES_DIR = Path(__file__).resolve().parent / "pages"


def _page_order(path: Path) -> tuple[int, str]:
    match = re.match(r"(\d+)", path.stem)
    return (int(match.group(1)) if match else 10_000, path.stem)


def _title(path: Path) -> str:
    return re.sub(r"^\d+[_\- ]*", "", path.stem).replace("_", " ").strip() or path.stem


def page_files() -> list[Path]:
    """The page scripts, in numeric-prefix order (files starting with '_' are helpers, not pages)."""
    return sorted((p for p in PAGES_DIR.glob("*.py") if not p.name.startswith("_")), key=_page_order)


def main() -> None:
    st.set_page_config(page_title="Causal workbench", page_icon="⚖️", layout="wide")
    apply_global_style()  # page-wide CSS (multiselect chips wrap instead of being cut off)
    pages = [st.Page(str(path), title=_title(path), default=(i == 0)) for i, path in enumerate(page_files())]
    navigation = st.navigation(pages)
    open_analysis()  # a reloaded page gets its analysis back (id in the URL, state kept on the server)
    show_active_run()  # progress and Cancel of a background estimation run, above every page
    render_compute_setting()  # where the fan-outs run: this computer, local workers or a cluster
    navigation.run()


# Streamlit runs this file as "__main__"; a background estimation worker (multiprocessing) re-reads it as
# "__mp_main__" and must draw nothing.
if __name__ != "__mp_main__":
    main()
