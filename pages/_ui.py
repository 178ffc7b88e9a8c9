"""Small page helpers shared by the app's pages: error display and "load data first" guards.

Import as ``from pages._ui import ...`` (see ``pages/_state.py`` for why this works).
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

import streamlit as st

import causal_core as cc
from pages._state import Dataset, forget_widget_values, get_dataset, get_roles, page_value, set_page_value

__all__ = ["show_error", "attempt", "require_dataset", "require_roles", "link_to", "apply_global_style",
           "GLOBAL_CSS"]

T = TypeVar("T")

#: Page-wide CSS. Streamlit's multiselect keeps its chips on one line that scrolls sideways inside a box 40 px
#: high, so with ten confounders most chips are cut off (Roles page): let them wrap and the box grow instead.
GLOBAL_CSS = """
.stMultiSelect [data-testid="stMultiSelectTagsContainer"] { flex-wrap: wrap; overflow: visible; row-gap: 4px; }
.stMultiSelect div:has(> [data-testid="stMultiSelectTagsContainer"]) { max-height: none; height: auto; }
"""


def apply_global_style() -> None:
    """Add :data:`GLOBAL_CSS` to the page (call once per run, before the page draws)."""
    st.html(f"<style>{GLOBAL_CSS}</style>")


def show_error(exc: BaseException, what: str = "This step") -> None:
    """Show an exception as a message, never a traceback.

    Engine input errors are shown as they are (they say what to change);
    anything else gets a short message naming the step.
    """
    if isinstance(exc, cc.CausalInputError):
        st.error(str(exc), icon=":material/error:")
    else:
        st.error(
            f"{what} failed unexpectedly ({type(exc).__name__}: {exc}). "
            "Check the roles and the data, or try another method.",
            icon=":material/error:",
        )


def attempt(function: Callable[..., T], *args: Any, what: str = "This step", **kwargs: Any) -> T | None:
    """Call ``function``; on any exception show it with :func:`show_error` and return None."""
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # the page must never show a traceback
        show_error(exc, what)
        return None


def link_to(page: str, label: str, icon: str | None = None) -> None:
    """A link to another page; plain text when the page is not registered (single-page tests)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except Exception:
        st.markdown(f"Go to **{label}** in the sidebar.")


def require_dataset(*, whole_table: bool = False) -> Dataset:
    """The loaded dataset; otherwise say where to load one and stop the page.

    For a table kept on disk, a page that works on ``dataset.df`` (``whole_table`` False) says that it sees a
    seeded sample of the table's rows.
    """
    dataset = get_dataset()
    if dataset is None:
        st.info("No data loaded yet. Start on the **Data** page: upload a file or pick a bundled sample.")
        link_to("pages/1_Data.py", "Go to Data", icon=":material/folder_open:")
        st.stop()
    if dataset.table is not None and not whole_table:
        st.caption(f":material/database: The table '{dataset.name}' is kept on disk: this page works on a seeded "
                   f"sample of {len(dataset.df):,} of its {dataset.n_rows:,} rows.")
    return dataset


def require_roles() -> cc.Roles:
    """The assigned roles; otherwise say where to assign them and stop the page."""
    roles = get_roles()
    if roles is None:
        st.info("Treatment and outcome are not assigned yet. Choose them on the **Roles** page.")
        link_to("pages/2_Roles.py", "Go to Roles", icon=":material/account_tree:")
        st.stop()
    return roles


def forget_choices_of_another_table(widget_keys: tuple[str, ...], data_key: object, *, marker: str) -> None:
    """Drop the column choices made for another table, so this one gets its defaults instead of empty widgets.

    ``marker`` names the session-state slot that remembers which table the
    widgets were last filled for (one per page).
    """
    if page_value(marker) != data_key:
        forget_widget_values(widget_keys)
        set_page_value(marker, data_key)
