"""The balance table and the Simpson subgroup table of a table on disk, by SQL aggregates in DuckDB.

:func:`streamed_balance_table` is :func:`causal_core.diagnostics.balance.balance_table`
without weights (the rows are compared as they are; "after" equals "before", ESS
is the arm count): per covariate and arm one ``count``, ``avg`` and ``var_samp``
in a GROUP BY over the complete rows, every level of a text confounder as a
0/1 indicator (reference level first, as in memory), and the package's one SMD
(:func:`~causal_core.diagnostics.balance.standardized_mean_difference`: pooled SD
for the ATE, treated SD for the ATT, control SD for the ATC, the raw difference
in proportions for 0/1 covariates).

**KS in bounded memory.** For a 0/1 covariate the KS statistic is exactly
``|p1 - p0|``. For any other it comes from
:mod:`causal_core.outofcore.grid_ks`: the arms' exact ECDF counts at a grid of
about ``2 (G + 1)`` points per covariate (each arm's quantiles at ``k/G`` in a
seeded sample, plus the exact minimum and maximum), counted in one partition
pass. The reported KS is a lower bound of the exact one, and the exact one is
at most ``attrs["ks_bound"]`` above it (the largest over covariates; per
covariate in ``attrs["ks_bounds"]``), a bound counted exactly from the same
pass. ``G = 1000`` by default; memory is set by the partition, the sample and
``G``, not by the number of rows.

:func:`streamed_subgroup_table` is :func:`causal_core.diagnostics.subgroups.subgroup_table`
from one GROUP BY over (stratum, arm) and one over arm: counts, means and
``var_samp`` give every column of the table; reversal, noise and explanation
come from the in-memory rules.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import binary_treatment
from causal_core.core.errors import CausalInputError, plain
from causal_core.core.roles import Roles
from causal_core.core.seeds import check_seed
from causal_core.diagnostics.balance import VARIANCE_RATIO_RANGE, check_balance_options, standardized_mean_difference
from causal_core.diagnostics.subgroups import (ALL_LABEL, Z_95, SubgroupTable, _arm_label, _explain, _noise_note,
                                               is_reversal, within_noise)
from causal_core.outofcore.cells import complete_rows_sql
from causal_core.outofcore.grid_ks import grid_ks
from causal_core.outofcore.source import DEFAULT_PARTITION_ROWS, TableSource, _connect, _quote
from causal_core.outofcore.streamed_iv import MAX_LEVELS, is_numeric_type

__all__ = ["streamed_balance_table", "streamed_subgroup_table", "DEFAULT_KS_GRID"]

#: Quantile levels per arm that place the KS grid (2 (G + 1) points at most per covariate, plus min and max).
DEFAULT_KS_GRID = 1000


def _text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _arms(con, complete: str, treatment: str, treated_level: Any) -> tuple[Any, Any]:
    values = [r[0] for r in con.execute(f"SELECT DISTINCT {_quote(treatment)} FROM ({complete})").fetchall()]
    _, treated, control = binary_treatment(pd.Series(values, name=treatment), treated_level)
    return _python(treated), _python(control)


def _covariates(con, source: TableSource, complete: str, confounders) -> list[tuple[str, str, bool, tuple]]:
    """The balance covariates as ``(name, SQL expression, is_binary, (min, max))``, in the in-memory order."""
    types = dict(zip(source.columns, source.types))
    out: list[tuple[str, str, bool, tuple]] = []
    for column in confounders:
        q = _quote(column)
        if is_numeric_type(types[column]):
            x = f"CAST({q} AS DOUBLE)"
            low, high, binary = con.execute(f"SELECT min({x}), max({x}), bool_and({x} IN (0, 1)) "
                                            f"FROM ({complete})").fetchone()
            if low != high:  # constant columns are dropped, as in memory
                out.append((str(column), x, bool(binary), (float(low), float(high))))
            continue
        levels = sorted({str(r[0]) for r in con.execute(
            f"SELECT DISTINCT CAST({q} AS VARCHAR) FROM ({complete}) LIMIT {MAX_LEVELS + 1}").fetchall()})
        if len(levels) > MAX_LEVELS:
            raise CausalInputError(f"Confounder column '{column}' is text with more than {MAX_LEVELS} distinct "
                                   f"values; recode it or drop it (at most {MAX_LEVELS} categories are one-hot encoded).")
        if len(levels) >= 2:
            out += [(f"{column}={level}", f"CAST(CAST({q} AS VARCHAR) = {_text(level)} AS DOUBLE)", True, (0.0, 1.0))
                    for level in levels]
    return out


def streamed_balance_table(source: TableSource, roles: Roles, *, estimand: str = "ATE", threshold: float = 0.1,
                           binary: str = "raw", ks_grid: int = DEFAULT_KS_GRID, seed: int = 0,
                           rows_per_partition: int = DEFAULT_PARTITION_ROWS) -> pd.DataFrame:
    """The unweighted balance table of the rows on disk, with the columns and ``attrs`` of ``balance_table``.

    Means and variances are SQL aggregates; the KS statistics come from one partition pass
    (:mod:`causal_core.outofcore.grid_ks`, grid placed by a sample drawn with ``seed``), each a lower
    bound of the exact KS with the exact one at most ``attrs["ks_bound"]`` above.
    """
    check_balance_options(estimand, binary, threshold, roles)
    if isinstance(ks_grid, bool) or not isinstance(ks_grid, int) or not 10 <= ks_grid <= 100_000:
        raise CausalInputError(f"Option 'ks_grid' must be an integer from 10 to 100000; got {plain(ks_grid)!r}.")
    seed = check_seed(seed)
    if isinstance(rows_per_partition, bool) or not isinstance(rows_per_partition, int) or rows_per_partition < 100:
        raise CausalInputError("Option 'rows_per_partition' must be an integer of at least 100; "
                               f"got {plain(rows_per_partition)!r}.")
    if not roles.confounders:
        raise CausalInputError("Balance needs at least one column in the 'confounders' role; none is assigned.")
    used = list(dict.fromkeys(c for c in roles.columns()))
    for column in used:
        if column not in source.columns:
            raise CausalInputError(f"Column '{column}' given in the roles is not in {source.path!r}.")
    complete = complete_rows_sql(source, used)
    # one thread: the aggregates' scan buffers stay flat in n (measured peak 437 MiB at 1M rows, 463 MiB at
    # 5M; with DuckDB's threads 441 and 554 MiB; bench/balance_table_memory.py)
    con = _connect(source, threads=1)
    try:
        treated, _ = _arms(con, complete, roles.treatment, roles.treated_level)
        covariates = _covariates(con, source, complete, roles.confounders)
        if not covariates:
            raise CausalInputError("No confounder is left after dropping constant columns; balance cannot be computed.")
        parts = ["count(*)"]
        for _, x, _, _ in covariates:
            parts += [f"avg({x})", f"var_samp({x})"]
        rows = con.execute(f"SELECT CAST({_quote(roles.treatment)} = ? AS INTEGER) AS arm, {', '.join(parts)} "
                           f"FROM ({complete}) GROUP BY arm", [treated]).fetchall()
    finally:
        con.close()
    by_arm = {int(r[0]): r[1:] for r in rows}
    if set(by_arm) != {0, 1}:
        raise CausalInputError(f"Treatment column '{roles.treatment}' needs complete rows in both arms.")
    n1, n0 = int(by_arm[1][0]), int(by_arm[0][0])
    continuous = [(name, limits) for name, _, is_binary, limits in covariates if not is_binary]
    ks_of = grid_ks(source, roles.treatment, treated, used, [name for name, _ in continuous],
                          [low for _, (low, _) in continuous], [high for _, (_, high) in continuous],
                     points=ks_grid, seed=seed, rows_per_partition=rows_per_partition)
    records = []
    for j, (name, _, is_binary, _) in enumerate(covariates):
        (m1, v1), (m0, v0) = by_arm[1][1 + 2 * j: 3 + 2 * j], by_arm[0][1 + 2 * j: 3 + 2 * j]
        m1, m0 = float(m1), float(m0)
        if is_binary:
            v1, v0 = m1 * (1 - m1), m0 * (1 - m0)
        v1 = float("nan") if v1 is None else float(v1)
        v0 = float("nan") if v0 is None else float(v0)
        difference = m1 - m0
        smd = difference if (is_binary and binary == "raw") else standardized_mean_difference(
            difference, np.sqrt(v1), np.sqrt(v0), estimand)
        ratio = float("nan") if is_binary or not (v0 > 0 and np.isfinite(v1)) else float(v1 / v0)
        ks = abs(difference) if is_binary else ks_of[name].ks
        row: dict[str, Any] = {"type": "binary" if is_binary else "continuous"}
        for stage in ("before", "after"):
            row.update({f"mean_treated_{stage}": m1, f"mean_control_{stage}": m0, f"smd_{stage}": float(smd),
                        f"var_ratio_{stage}": ratio, f"ks_{stage}": ks})
        records.append(row)
    table = pd.DataFrame(records, index=pd.Index([c[0] for c in covariates], name="covariate"))
    table["balanced"] = (table["smd_after"].abs() <= threshold).astype("boolean")
    table.loc[table["smd_after"].isna(), "balanced"] = pd.NA
    low, high = VARIANCE_RATIO_RANGE
    ratio = table["var_ratio_after"]
    table["var_ratio_ok"] = ((ratio >= low) & (ratio <= high)).astype("boolean")
    table.loc[ratio.isna(), "var_ratio_ok"] = pd.NA
    table.attrs["ess"] = {"treated": {"before": float(n1), "after": float(n1)},
                          "control": {"before": float(n0), "after": float(n0)}}
    table.attrs["estimand"] = estimand
    table.attrs["threshold"] = float(threshold)
    table.attrs["binary"] = binary
    table.attrs["ks_bounds"] = {name: (0.0 if is_binary else ks_of[name].bound) for name, _, is_binary, _ in covariates}
    table.attrs["ks_bound"] = max(table.attrs["ks_bounds"].values())
    return table


def streamed_subgroup_table(source: TableSource, treatment: str, outcome: str, by: str, *,
                            treated_level: Any = None, max_levels: int = 20) -> SubgroupTable:
    """:func:`~causal_core.diagnostics.subgroups.subgroup_table` of the rows on disk, by SQL GROUP BY."""
    for column, role in ((treatment, "treatment"), (outcome, "outcome"), (by, "subgroup")):
        if column not in source.columns:
            raise CausalInputError(f"Column '{column}' given as {role} is not in {source.path!r}.")
    if len({treatment, outcome, by}) < 3:
        raise CausalInputError(
            f"Treatment '{treatment}', outcome '{outcome}' and subgroup '{by}' must be three different columns.")
    types = dict(zip(source.columns, source.types))
    if not is_numeric_type(types[outcome]):
        raise CausalInputError(f"Outcome column '{outcome}' must be numeric; it holds {types[outcome]} values.")
    complete = complete_rows_sql(source, [treatment, outcome, by])
    t, b, y = _quote(treatment), _quote(by), f"CAST({_quote(outcome)} AS DOUBLE)"
    con = _connect(source)
    try:
        n_complete, y_binary = con.execute(f"SELECT count(*), bool_and({y} IN (0, 1)) FROM ({complete})").fetchone()
        if n_complete == 0:
            raise CausalInputError("No rows are left after dropping rows with missing values.")
        treated, control = _arms(con, complete, treatment, treated_level)
        n_levels = con.execute(f"SELECT count(DISTINCT {b}) FROM ({complete})").fetchone()[0]
        if n_levels < 2:
            raise CausalInputError(f"Subgroup column '{by}' has only {n_levels} distinct value(s); it needs 2 or more.")
        if n_levels > max_levels:
            raise CausalInputError(f"Subgroup column '{by}' has {n_levels} distinct values (more than {max_levels}); "
                                   "choose a column with fewer levels (quantile bins are not computed from disk).")
        arm = f"CAST({t} = ? AS INTEGER)"
        cells = con.execute(f"SELECT {b} AS stratum, {arm} AS arm, count(*), avg({y}), var_samp({y}) "
                            f"FROM ({complete}) GROUP BY ALL", [treated]).fetchall()
        overall = con.execute(f"SELECT {arm} AS arm, count(*), avg({y}), var_samp({y}) FROM ({complete}) "
                              "GROUP BY ALL", [treated]).fetchall()
        rows_total = source.n_rows
    finally:
        con.close()
    stats = {(s, a): (n, m, v) for s, a, n, m, v in cells}
    stats.update({(ALL_LABEL, a): (n, m, v) for a, n, m, v in overall})
    labels = list({s for s, _, _, _, _ in cells})
    try:
        labels = sorted(labels)
    except TypeError:
        labels = sorted(labels, key=str)
    n_treated_total = stats.get((ALL_LABEL, 1), (0, None, None))[0]
    n_control_total = stats.get((ALL_LABEL, 0), (0, None, None))[0]
    records = []
    for label in labels + [ALL_LABEL]:
        n1, m1, v1 = stats.get((label, 1), (0, None, None))
        n0, m0, v0 = stats.get((label, 0), (0, None, None))
        mean_t = float(m1) if n1 else float("nan")
        mean_c = float(m0) if n0 else float("nan")
        if n1 >= 2 and n0 >= 2:
            se = float(np.sqrt(v1 / n1 + v0 / n0))
            difference = mean_t - mean_c
            z = difference / se if se > 0 else (float("inf") * np.sign(difference) if difference else float("nan"))
            inference = (se, difference - Z_95 * se, difference + Z_95 * se, float(z))
        else:
            inference = (float("nan"),) * 4
        records.append({"stratum": label, "n_treated": int(n1), "n_control": int(n0), "mean_treated": mean_t,
                        "mean_control": mean_c, "difference": mean_t - mean_c, "std_error": inference[0],
                        "ci_low": inference[1], "ci_high": inference[2], "z": inference[3],
                        "share_of_treated": n1 / n_treated_total, "share_of_control": n0 / n_control_total})
    table = pd.DataFrame(records).set_index("stratum")
    warnings: list[str] = []
    if n_complete < rows_total:
        warnings.append(f"{rows_total - n_complete} of {rows_total} rows dropped for missing values.")
    per = table.drop(index=ALL_LABEL)
    incomplete = per.index[(per["n_treated"] == 0) | (per["n_control"] == 0)].tolist()
    if incomplete:
        warnings.append(
            f"{by} group(s) {', '.join(map(str, incomplete))} have rows in only one arm and cannot be compared.")
    reversal = is_reversal(table.loc[ALL_LABEL, "difference"], per["difference"])
    treated_label, control_label = _arm_label(treatment, treated), _arm_label(treatment, control)
    fmt = (lambda v: f"{100 * v:.2f}%") if y_binary else (lambda v: f"{v:.4g}")
    y_proxy, strata_proxy = _levels_for_explanation(table, stats, labels, reversal)
    explanation = _explain(table, reversal, by, outcome, treated_label, control_label, fmt, y_proxy, strata_proxy)
    noisy = bool(reversal) and within_noise(table)
    if noisy:
        explanation += " " + _noise_note(table, by, fmt)
    return SubgroupTable(table=table, reversal=bool(reversal), explanation=explanation, treated_label=treated_label,
                         control_label=control_label, warnings=tuple(warnings), reversal_within_noise=noisy)


def _levels_for_explanation(table, stats, labels, reversal):
    """Two values standing in for the rows in ``_explain``: the mean outcome inside and outside its focus group.

    ``_explain`` only reads ``mean(y[strata == focus])`` and ``mean(y[strata != focus])``; both come from the
    group sums, with ``focus`` chosen by its own rule (the group where the arm that looks worse is concentrated).
    """
    if not reversal:
        return np.array([0.0]), pd.Series([None])
    per = table.drop(index=ALL_LABEL)
    d_all = table.loc[ALL_LABEL, "difference"]
    gap = per["share_of_treated"] - per["share_of_control"]
    focus = (-gap if d_all > 0 else gap).idxmax()  # the user is the control arm when treated leads overall

    def mean_of(chosen):
        count = sum(stats.get((s, a), (0, 0.0, None))[0] for s in chosen for a in (0, 1))
        total = sum(stats[(s, a)][0] * stats[(s, a)][1] for s in chosen for a in (0, 1) if (s, a) in stats)
        return total / count

    inside, outside = mean_of([focus]), mean_of([s for s in labels if s != focus])
    return np.array([inside, outside]), pd.Series([focus, object()], dtype=object)
