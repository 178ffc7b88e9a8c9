"""Balance tables of every weighting or matching result of one run, for a page or the report."""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from causal_core.core.registry import get_method
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles
from causal_core.diagnostics.balance import balance_table

__all__ = ["BALANCE_ESTIMANDS", "balance_tables"]

#: Estimands a balance table can be weighted for; others are shown for the ATE.
BALANCE_ESTIMANDS = ("ATE", "ATT", "ATC")


def balance_tables(results: Mapping[str, EstimateResult], df: pd.DataFrame, *, roles: Roles,
                   estimand: str) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """One balance table per result that carries weights, keyed by the method's label (none without confounders).

    Returns
    -------
    tables : dict
        Method label -> :func:`causal_core.diagnostics.balance.balance_table`.
    errors : list of str
        ``"<label>: <why>"`` for each result whose table could not be computed.
    """
    estimand = estimand if estimand in BALANCE_ESTIMANDS else "ATE"
    tables: dict[str, pd.DataFrame] = {}
    errors: list[str] = []
    if not roles.confounders:
        return tables, errors
    for method, result in results.items():
        if result.weights is None:
            continue
        label = get_method(method).label
        try:
            tables[label] = balance_table(result, df, estimand=estimand)
        except Exception as exc:  # one method's failure must not hide the others
            errors.append(f"{label}: {exc}")
    return tables, errors
