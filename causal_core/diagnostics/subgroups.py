"""Stratified comparisons and Simpson's reversals.

:func:`subgroup_table` compares the two arms within each level of one column and
overall; :func:`scan_reversals` runs it over every few-level column to find the
ones that reverse the overall comparison.

Definition used throughout: the comparison **reverses** on ``by`` when the
overall difference (treated mean minus control mean) is non-zero, at least two
strata have rows in both arms, and in *every* such stratum the difference is
non-zero with the opposite sign. A zero difference anywhere (overall or in a
stratum) is not a reversal. Strata where one arm has no rows cannot be compared
and are left out of the rule (and named in the explanation).

Each difference carries its standard error (unequal variances, Welch) and a
normal 95% confidence interval. A reversal is **within noise** when the overall
difference or any stratum's difference has an interval that contains 0: the
signs that make the reversal could then be chance, and the explanation says so.

Numeric ``by`` columns with more than ``max_levels`` distinct values are refused
unless ``bins`` is given, in which case they are cut into that many quantile
groups (``pandas.qcut``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

from causal_core.core.data import binary_treatment
from causal_core.core.errors import CausalInputError, plain
from causal_core.datasets.profile import hashable_values
from causal_core.inference import Z_95

__all__ = ["SubgroupTable", "subgroup_table", "scan_reversals", "is_reversal", "within_noise", "Z_95"]

ALL_LABEL = "All"


@dataclass(frozen=True)
class SubgroupTable:
    """A stratified comparison of two arms.

    Attributes
    ----------
    table : DataFrame
        One row per stratum plus a final ``"All"`` row, indexed by stratum, with
        ``n_treated``, ``n_control``, ``mean_treated``, ``mean_control``,
        ``difference`` (treated minus control), its ``std_error`` (Welch), ``ci_low`` and ``ci_high``
        (normal 95% interval), ``z`` (difference / standard error), ``share_of_treated`` and
        ``share_of_control`` (the stratum's share of each arm's rows).
    reversal : bool
        Whether the comparison reverses (Simpson's paradox; see the module docstring).
    reversal_within_noise : bool
        True for a reversal whose overall or within-stratum differences are not distinguishable from 0
        (some 95% interval contains 0).
    explanation : str
        The finding in plain words.
    treated_label, control_label : str
        How the two arms are named in the explanation.
    warnings : tuple of str
        Rows dropped for missing values, strata missing an arm.
    """

    table: pd.DataFrame
    reversal: bool
    explanation: str
    treated_label: str = "treated"
    control_label: str = "control"
    warnings: tuple[str, ...] = ()
    reversal_within_noise: bool = False




def _difference_inference(treated: pd.Series, control: pd.Series) -> tuple[float, float, float, float]:
    """(standard error, ci_low, ci_high, z) of the mean difference, unequal variances; NaN without 2 rows per arm."""
    if len(treated) < 2 or len(control) < 2:
        return (float("nan"),) * 4
    se = float(np.sqrt(treated.var(ddof=1) / len(treated) + control.var(ddof=1) / len(control)))
    difference = float(treated.mean() - control.mean())
    z = difference / se if se > 0 else (float("inf") * np.sign(difference) if difference else float("nan"))
    return se, difference - Z_95 * se, difference + Z_95 * se, float(z)


def within_noise(table: pd.DataFrame) -> bool:
    """True when the overall or any comparable stratum's 95% interval contains 0 (or has no interval)."""
    comparable = table[np.isfinite(table["difference"])]
    low, high = comparable["ci_low"].to_numpy(dtype=float), comparable["ci_high"].to_numpy(dtype=float)
    return bool(np.any(~np.isfinite(low) | ~np.isfinite(high) | ((low <= 0) & (high >= 0))))


def is_reversal(overall: float, within: Iterable[float]) -> bool:
    """Simpson's reversal rule: ``overall != 0``, at least two strata, each strictly of the opposite sign."""
    values = [float(v) for v in within if np.isfinite(v)]
    if not np.isfinite(overall) or overall == 0 or len(values) < 2:
        return False
    return all(v != 0 and np.sign(v) == -np.sign(overall) for v in values)


def _check_column(df: pd.DataFrame, column: Any, role: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(df).__name__}.")
    if column not in df.columns:
        raise CausalInputError(f"Column '{column}' given as {role} is not in the data.")


def _strata(series: pd.Series, *, max_levels: int, bins: int | None) -> pd.Series:
    """The stratum of each row: the value itself, or a quantile bin for many-valued numeric columns."""
    levels = series.dropna().unique()
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if len(levels) < 2:
        raise CausalInputError(f"Subgroup column '{series.name}' has only {len(levels)} distinct value(s); it needs 2 or more.")
    if len(levels) <= max_levels:
        return series
    if numeric and bins is not None:
        if not isinstance(bins, (int, np.integer)) or bins < 2:
            raise CausalInputError(f"Option 'bins' must be an integer of 2 or more; got {plain(bins)!r}.")
        return pd.qcut(series, q=int(bins), duplicates="drop").astype(str).where(series.notna())
    hint = "pass bins=4 to cut it into quartiles, or " if numeric else ""
    raise CausalInputError(
        f"Subgroup column '{series.name}' has {len(levels)} distinct values (more than {max_levels}); "
        f"{hint}choose a column with fewer levels."
    )


def _arm_label(treatment: str, level: Any) -> str:
    if isinstance(level, str):
        return level
    value = level.item() if hasattr(level, "item") else level
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{treatment}={value}"


def _formatter(y: np.ndarray):
    if np.isin(y, (0.0, 1.0)).all():
        return lambda v: f"{100 * v:.2f}%"
    return lambda v: f"{v:.4g}"


def _compute(group_t: np.ndarray, y: np.ndarray, strata: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({"stratum": strata.to_numpy(), "t": group_t, "y": y})
    n_treated_total, n_control_total = int(group_t.sum()), int((1 - group_t).sum())
    rows = []
    labels = list(pd.unique(frame["stratum"]))
    try:
        labels = sorted(labels)
    except TypeError:
        labels = sorted(labels, key=str)
    for label, part in [(label, frame[frame["stratum"] == label]) for label in labels] + [(ALL_LABEL, frame)]:
        treated, control = part.loc[part["t"] == 1, "y"], part.loc[part["t"] == 0, "y"]
        mean_t = float(treated.mean()) if len(treated) else float("nan")
        mean_c = float(control.mean()) if len(control) else float("nan")
        se, ci_low, ci_high, z = _difference_inference(treated, control)
        rows.append({
            "stratum": label,
            "n_treated": int(len(treated)),
            "n_control": int(len(control)),
            "mean_treated": mean_t,
            "mean_control": mean_c,
            "difference": mean_t - mean_c,
            "std_error": se,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "z": z,
            "share_of_treated": len(treated) / n_treated_total,
            "share_of_control": len(control) / n_control_total,
        })
    return pd.DataFrame(rows).set_index("stratum")


def _explain(table: pd.DataFrame, reversal: bool, by: str, outcome: str, treated: str, control: str,
             fmt, y: np.ndarray, strata: pd.Series) -> str:
    overall = table.loc[ALL_LABEL]
    per = table.drop(index=ALL_LABEL)
    comparable = per[np.isfinite(per["difference"])]

    d_all = overall["difference"]
    overall_leader = treated if d_all > 0 else control
    within_first = treated if (d_all < 0) == reversal else control

    def pair(row: pd.Series, first: str) -> str:
        a, b = (row["mean_treated"], row["mean_control"]), (treated, control)
        if first == control:
            a, b = a[::-1], b[::-1]
        return f"{b[0]} {fmt(a[0])} vs {b[1]} {fmt(a[1])}"

    within = "; ".join(f"{label}: {pair(row, within_first)}" for label, row in comparable.iterrows())
    overall_text = pair(overall, overall_leader)
    if reversal:
        within_leader = control if d_all > 0 else treated
        # the arm that looks worse overall, and the group it was concentrated in
        user, other = (control, treated) if d_all > 0 else (treated, control)
        gap = per["share_of_treated"] - per["share_of_control"]
        focus = (gap if user == treated else -gap).idxmax()
        share_user = per.loc[focus, "share_of_treated" if user == treated else "share_of_control"]
        share_other = per.loc[focus, "share_of_control" if user == treated else "share_of_treated"]
        in_focus = (strata == focus).to_numpy()
        level_in, level_out = float(np.mean(y[in_focus])), float(np.mean(y[~in_focus]))
        direction = "lower" if level_in < level_out else "higher"
        return (
            f"Within every {by} group {within_leader} has the higher mean {outcome} ({within}), "
            f"but overall {overall_leader} looks better ({overall_text}) because {user} was used mostly with "
            f"{by} = {focus} ({100 * share_user:.0f}% of {user}'s rows vs {100 * share_other:.0f}% of {other}'s), "
            f"where {outcome} is {direction} ({fmt(level_in)} vs {fmt(level_out)} in the other groups). "
            f"Compare like with like: the within-group comparison adjusts for {by}."
        )
    if d_all == 0:
        return f"Overall the two arms have the same mean {outcome} ({pair(overall, treated)}); there is no reversal to explain. By {by}: {within}."
    signs = np.sign(comparable["difference"].to_numpy())
    if len(signs) and np.all(signs == np.sign(d_all)):
        return (
            f"No reversal: {overall_leader} has the higher mean {outcome} overall ({overall_text}) "
            f"and within every {by} group ({within})."
        )
    return (
        f"No Simpson's reversal: overall {overall_leader} has the higher mean {outcome} ({overall_text}), "
        f"while the within-group differences do not all point the other way ({within}); "
        f"the comparison depends on {by}."
    )


def subgroup_table(
    df: pd.DataFrame,
    treatment: str,
    outcome: str,
    by: str,
    *,
    treated_level: Any = None,
    max_levels: int = 20,
    bins: int | None = None,
) -> SubgroupTable:
    """Compare the two arms' mean outcome within each level of ``by`` and overall.

    Parameters
    ----------
    df : DataFrame
        The data (never modified).
    treatment : str
        A column with exactly two values.
    outcome : str
        A numeric column (0/1 outcomes are shown as percentages).
    by : str
        The column to stratify on. Rows missing ``treatment``, ``outcome`` or
        ``by`` are dropped (counted in ``warnings``).
    treated_level : optional
        The treatment value that counts as treated; needed unless the
        treatment is 0/1 or False/True.
    max_levels : int
        Most distinct values ``by`` may have.
    bins : int, optional
        Cut a numeric ``by`` with more than ``max_levels`` values into this many
        quantile groups instead of refusing it.

    Returns
    -------
    SubgroupTable
    """
    for column, role in ((treatment, "treatment"), (outcome, "outcome"), (by, "subgroup")):
        _check_column(df, column, role)
    if len({treatment, outcome, by}) < 3:
        raise CausalInputError(
            f"Treatment '{treatment}', outcome '{outcome}' and subgroup '{by}' must be three different columns."
        )
    used = df[[treatment, outcome, by]]
    if any(hashable_values(used[c]) is not used[c] for c in (treatment, by)):  # dicts/lists as text, on a copy
        used = used.assign(**{c: hashable_values(used[c]) for c in (treatment, by)})
    y_series = used[outcome]
    if not (pd.api.types.is_numeric_dtype(y_series) or pd.api.types.is_bool_dtype(y_series)):
        raise CausalInputError(f"Outcome column '{outcome}' must be numeric; it holds {y_series.dtype} values.")
    y_all = y_series.astype(float)
    missing = used[treatment].isna() | used[by].isna() | ~np.isfinite(y_all.to_numpy())
    kept = used.loc[~missing]
    warnings: list[str] = []
    if missing.any():
        warnings.append(f"{int(missing.sum())} of {len(used)} rows dropped for missing values.")
    if kept.empty:
        raise CausalInputError("No rows are left after dropping rows with missing values.")
    codes, treated_value, control_value = binary_treatment(kept[treatment], treated_level)
    strata = _strata(kept[by], max_levels=max_levels, bins=bins)
    y = y_all.loc[kept.index].to_numpy(dtype=float)
    table = _compute(codes, y, strata)
    per = table.drop(index=ALL_LABEL)
    incomplete = per.index[(per["n_treated"] == 0) | (per["n_control"] == 0)].tolist()
    if incomplete:
        warnings.append(
            f"{by} group(s) {', '.join(map(str, incomplete))} have rows in only one arm and cannot be compared."
        )
    reversal = is_reversal(table.loc[ALL_LABEL, "difference"], per["difference"])
    treated_label, control_label = _arm_label(treatment, treated_value), _arm_label(treatment, control_value)
    fmt = _formatter(y)
    explanation = _explain(table, reversal, by, outcome, treated_label, control_label, fmt, y,
                           strata.reset_index(drop=True))
    noisy = bool(reversal) and within_noise(table)
    if noisy:
        explanation += " " + _noise_note(table, by, fmt)
    return SubgroupTable(table=table, reversal=bool(reversal), explanation=explanation,
                         treated_label=treated_label, control_label=control_label, warnings=tuple(warnings),
                         reversal_within_noise=noisy)


def _noise_note(table: pd.DataFrame, by: str, fmt) -> str:
    comparable = table[np.isfinite(table["difference"])]

    def interval(label: Any, row: pd.Series) -> str:
        name = "overall" if label == ALL_LABEL else f"{by} = {label}"
        z = "" if not np.isfinite(row["z"]) else f", z = {row['z']:.2f}"
        return f"{name} {fmt(row['difference'])} (95% CI {fmt(row['ci_low'])} to {fmt(row['ci_high'])}{z})"

    listed = "; ".join(interval(label, row) for label, row in comparable.iterrows())
    return ("But the reversal is within noise: the differences are not distinguishable from zero (" + listed
            + "), so the opposite signs could be chance; more data is needed before reading anything into them.")


def scan_reversals(
    df: pd.DataFrame,
    treatment: str,
    outcome: str,
    candidates: Iterable[str] | None = None,
    max_levels: int = 20,
    *,
    treated_level: Any = None,
) -> pd.DataFrame:
    """Check every few-level column for a Simpson's reversal of the treatment comparison.

    Parameters
    ----------
    df : DataFrame
        The data (never modified).
    treatment, outcome : str
        As in :func:`subgroup_table`.
    candidates : iterable of str, optional
        Columns to try; by default every other column. Default candidates with
        fewer than 2 or more than ``max_levels`` distinct values are skipped;
        named candidates that do not qualify are listed with a ``note``.
    max_levels : int
        Most distinct values a candidate may have.
    treated_level : optional
        As in :func:`subgroup_table`.

    Returns
    -------
    DataFrame
        One row per candidate: ``column``, ``n_levels``, ``overall_difference``,
        ``min_difference``, ``max_difference``, ``reversal``, ``within_noise`` (a reversal whose
        differences are not distinguishable from 0), ``explanation``, ``note``; reversals first.
    """
    _check_column(df, treatment, "treatment")
    _check_column(df, outcome, "outcome")
    explicit = candidates is not None
    columns = list(candidates) if explicit else [c for c in df.columns if c not in (treatment, outcome)]
    rows = []
    for column in columns:
        _check_column(df, column, "candidate subgroup")
        if column in (treatment, outcome):
            raise CausalInputError(f"Candidate column '{column}' is the treatment or the outcome; leave it out.")
        n_levels = int(hashable_values(df[column]).nunique(dropna=True))
        if not 2 <= n_levels <= max_levels:
            if explicit:
                rows.append({"column": column, "n_levels": n_levels, "reversal": pd.NA,
                             "note": f"skipped: {n_levels} distinct values (needs 2 to {max_levels})"})
            continue
        result = subgroup_table(df, treatment, outcome, column, treated_level=treated_level, max_levels=max_levels)
        per = result.table.drop(index=ALL_LABEL)["difference"]
        rows.append({
            "column": column,
            "n_levels": n_levels,
            "overall_difference": float(result.table.loc[ALL_LABEL, "difference"]),
            "min_difference": float(per.min()),
            "max_difference": float(per.max()),
            "reversal": result.reversal,
            "within_noise": result.reversal_within_noise,
            "explanation": result.explanation,
            "note": " ".join(result.warnings),
        })
    out = pd.DataFrame(rows).reindex(columns=["column", "n_levels", "overall_difference", "min_difference",
                                              "max_difference", "reversal", "within_noise", "explanation",
                                              "note"])
    out["reversal"] = out["reversal"].astype("boolean")
    out["within_noise"] = out["within_noise"].astype("boolean")
    return out.sort_values("reversal", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
