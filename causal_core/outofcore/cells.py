"""Exact (coarsened) matching over a table on disk: one DuckDB GROUP BY over the matching cells.

The cells are the in-memory ``exact_matching``'s strata
(:func:`causal_core.estimators.matching.matching_exact.coarsen`): a text
confounder by its value (the same partition as its one-hot columns), a 0/1
column or one with at most ``n_bins`` distinct values by its value, any other
numeric column by its equal-width bin over the range of the complete rows
(``numpy.histogram_bin_edges``; bin = number of interior edges ``<= x``).
``n_bins`` defaults to Sturges' rule on the number of complete rows.

A first query gives the complete-row count and each numeric column's range,
distinct count and 0/1 flag; the second groups the complete rows by cell and
arm into counts, outcome sums and within-cell sums of squared deviations
(``var_pop * count``). The estimate and the stratified Neyman variance are then
computed from those cell statistics exactly as in memory.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import binary_treatment
from causal_core.core.errors import CausalInputError
from causal_core.core.options import validate_options
from causal_core.core.registry import get_method
from causal_core.core.roles import Roles
from causal_core.estimators.matching.matching_exact import sturges_bins
from causal_core.inference import analytic_inference
from causal_core.outofcore.source import DEFAULT_PARTITION_ROWS, TableSource, _connect, _quote, distinct_values
from causal_core.outofcore.streamed_iv import is_numeric_type

__all__ = ["streamed_exact_matching", "cell_statistics", "complete_rows_sql", "double_literal"]


def double_literal(value: float) -> str:
    """A DOUBLE literal that DuckDB parses back to exactly ``value``."""
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def complete_rows_sql(source: TableSource, columns: list[str]) -> str:
    """The table's rows with no missing (or infinite, for numbers) value in ``columns``, as SQL."""
    types = dict(zip(source.columns, source.types))
    tests = []
    for column in columns:
        q = _quote(column)
        tests.append(f"{q} IS NOT NULL")
        if is_numeric_type(types[column]) and not types[column].startswith("BOOLEAN"):
            tests.append(f"isfinite(CAST({q} AS DOUBLE))")
    where = " AND ".join(tests) if tests else "TRUE"
    return f"SELECT * FROM {source.relation} WHERE {where}"


def _treated_level(source: TableSource, treatment: str, treated_level: Any) -> Any:
    values = distinct_values(source, treatment, limit=3)
    _, treated, _ = binary_treatment(pd.Series(values, name=treatment), treated_level)
    return treated.item() if isinstance(treated, np.generic) else treated  # a Python value for the SQL parameter


def cell_statistics(source: TableSource, roles: Roles, n_bins: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Per cell and arm: ``count``, ``total`` (outcome sum) and ``squares``; and how the cells were cut."""
    if roles.treatment is None or roles.outcome is None:
        raise CausalInputError("Choose a treatment and an outcome column.")
    if not roles.confounders:
        raise CausalInputError("Exact matching needs at least one column in the 'confounders' role.")
    types = dict(zip(source.columns, source.types))
    used = list(dict.fromkeys([roles.treatment, roles.outcome, *roles.confounders]))
    for column in used:
        if column not in types:
            raise CausalInputError(f"Column '{column}' given in the roles is not in {source.path!r}.")
    if not is_numeric_type(types[roles.outcome]):
        raise CausalInputError(f"Outcome column '{roles.outcome}' is {types[roles.outcome]}; it must be numeric.")
    treated = _treated_level(source, roles.treatment, roles.treated_level)
    complete = complete_rows_sql(source, used)
    numeric = [c for c in roles.confounders if is_numeric_type(types[c])]
    con = _connect(source)
    try:
        parts = ["count(*)"]
        for column in numeric:
            x = f"CAST({_quote(column)} AS DOUBLE)"
            parts += [f"min({x})", f"max({x})", f"count(DISTINCT {x})", f"bool_and({x} IN (0, 1))"]
        row = con.execute(f"SELECT {', '.join(parts)} FROM ({complete})").fetchone()
        n = int(row[0])
        if n == 0:
            raise CausalInputError("No rows are left after dropping rows with missing values in the used columns.")
        bins = sturges_bins(n) if n_bins is None else int(n_bins)
        keys, cut = [], {}
        for i, column in enumerate(roles.confounders):
            q = _quote(column)
            if column not in numeric:
                keys.append(q)
                continue
            j = numeric.index(column)
            low, high, distinct, binary = row[1 + 4 * j: 5 + 4 * j]
            x = f"CAST({q} AS DOUBLE)"
            if binary or distinct <= bins:
                keys.append(x)
                continue
            edges = np.histogram_bin_edges(np.array([low, high], dtype=float), bins=bins)
            cut[column] = edges
            keys.append("(" + " + ".join(f"CAST({x} >= {double_literal(e)} AS INTEGER)" for e in edges[1:-1]) + ")")
        key_list = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        group = ", ".join(f"k{i}" for i in range(len(keys)))
        y = f"CAST({_quote(roles.outcome)} AS DOUBLE)"
        cells = con.execute(
            f"SELECT {group}, CAST({_quote(roles.treatment)} = ? AS INTEGER) AS arm, count(*) AS count, "
            f"sum(y) AS total, var_pop(y) * count(*) AS squares "
            f"FROM (SELECT {key_list}, {_quote(roles.treatment)}, {y} AS y FROM ({complete})) "
            f"GROUP BY ALL ORDER BY ALL", [treated]).df()
    finally:
        con.close()
    return cells, {"n": n, "n_bins": bins, "binned": cut, "treated_level": treated}


def _arm_table(cells: pd.DataFrame, n_keys: int) -> pd.DataFrame:
    """One row per cell: count, total and squares of each arm (0 where the arm is absent)."""
    keys = [f"k{i}" for i in range(n_keys)]
    stats = ["count", "total", "squares"]
    treated = cells[cells["arm"] == 1].set_index(keys)[stats]
    control = cells[cells["arm"] == 0].set_index(keys)[stats]
    joined = treated.join(control, how="outer", suffixes=("_t", "_c"))
    return joined.fillna(0.0).astype(float).reset_index(drop=True)


def _estimate(table: pd.DataFrame, estimand: str) -> tuple[float, float, dict]:
    m_t, m_c = table["count_t"].to_numpy(), table["count_c"].to_numpy()
    matched = (m_t > 0) & (m_c > 0)
    if not matched.any():
        raise CausalInputError("No stratum of the coarsened confounders holds both treated and control rows; "
                               "lower option 'n_bins' or use fewer confounders.")
    m_t, m_c = m_t[matched], m_c[matched]
    s_t, s_c = table["total_t"].to_numpy()[matched], table["total_c"].to_numpy()[matched]
    q_t, q_c = table["squares_t"].to_numpy()[matched], table["squares_c"].to_numpy()[matched]
    total_t, total_c = float(m_t.sum()), float(m_c.sum())
    # cem_weights: the weight of one unit of each arm in each matched cell
    share = {"ATT": m_t / total_t, "ATC": m_c / total_c, "ATE": (m_t + m_c) / (total_t + total_c)}[estimand]
    w_t, w_c = share * total_t / m_t, share * total_c / m_c
    estimate = float((w_t * s_t).sum() / (w_t * m_t).sum() - (w_c * s_c).sum() / (w_c * m_c).sum())
    # _stratified_variance, from the cell statistics
    pooled = []
    for count, squares in ((m_t, q_t), (m_c, q_c)):
        dof = np.sum(np.maximum(count - 1, 0))
        pooled.append(np.sum(squares) / dof if dof > 0 else np.nan)
    if not np.isfinite(pooled).any():
        count = m_t + m_c
        grand = float((s_t.sum() + s_c.sum()) / count.sum())
        spread = q_t.sum() + q_c.sum() + np.sum(m_t * (s_t / m_t - grand) ** 2 + m_c * (s_c / m_c - grand) ** 2)
        pooled = [float(spread / (count.sum() - 1))] * 2
    else:
        fallback = np.nanmean(pooled)
        pooled = [p if np.isfinite(p) else fallback for p in pooled]
    weight = {"ATT": m_t, "ATC": m_c, "ATE": m_t + m_c}[estimand]
    weight = weight / weight.sum()
    variance = 0.0
    for (count, squares), pooled_arm in zip(((m_t, q_t), (m_c, q_c)), pooled):
        with np.errstate(divide="ignore", invalid="ignore"):
            within = np.where(count >= 2, squares / (count - 1), pooled_arm)
        variance += float(np.sum(weight ** 2 * within / count))
    counts = {"n_matched_treated": int(total_t), "n_matched_control": int(total_c),
              "n_dropped_treated": int(table["count_t"].sum() - total_t),
              "n_dropped_control": int(table["count_c"].sum() - total_c),
              "n_strata": int(len(table)), "n_matched_strata": int(matched.sum())}
    return estimate, float(np.sqrt(variance)), counts


def streamed_exact_matching(source: TableSource, roles: Roles, *, estimand: str = "ATE",
                            rows_per_partition: int = DEFAULT_PARTITION_ROWS, n_bins: int | None = None):
    """Coarsened exact matching from per-cell statistics computed by DuckDB; equal to ``cc.estimate``'s."""
    from causal_core.outofcore.streamed import StreamedEstimate  # that module imports this one when dispatching

    if n_bins is not None:
        validate_options(get_method("exact_matching"), {"n_bins": n_bins})
    if estimand not in ("ATE", "ATT", "ATC"):
        raise CausalInputError(f"Estimand {estimand!r} is not one of ATE, ATT, ATC.")
    cells, cut = cell_statistics(source, roles, n_bins)
    table = _arm_table(cells, len(roles.confounders))
    estimate, se, counts = _estimate(table, estimand)
    warnings: tuple[str, ...] = ()
    if counts["n_dropped_treated"] or counts["n_dropped_control"]:
        warnings = (f"{counts['n_dropped_treated']} treated and {counts['n_dropped_control']} control units fell in "
                    f"strata without the other arm and were dropped; the estimate is the {estimand} in the matched "
                    "(overlap) population, not the whole sample.",)
    detail = ("stratified Neyman variance conditional on the strata (pooled within-stratum variance for "
              "single-unit cells)")
    inference = analytic_inference(estimate, se, detail=detail)
    n_used = counts["n_matched_treated"] + counts["n_matched_control"]
    return StreamedEstimate("exact_matching", estimand, estimate, se, inference.ci_low, inference.ci_high,
                            inference.p_value, n_used, source.n_rows, 1, rows_per_partition, detail,
                            tuple(roles.confounders), warnings)
