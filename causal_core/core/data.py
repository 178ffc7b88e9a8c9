"""Validate a table against roles and encode it into clean arrays, in one place.

Estimators receive a :class:`PreparedData` and never look at the DataFrame or
re-derive roles. Every problem found here raises :class:`CausalInputError`
naming the column and the rule.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError, plain
from causal_core.core.registry import MethodInfo
from causal_core.core.roles import Roles

__all__ = ["PreparedData", "prepare", "encode_columns", "binary_treatment", "target_rows"]

MIN_ROWS_PER_ARM = 2
#: Largest absolute outcome (or continuous treatment): beyond it, squares and sums of squares overflow.
MAX_MAGNITUDE = 1e150
#: Largest absolute covariate (confounder, instrument, mechanism, proxy, shadow): scikit-learn's tree
#: models and the torch methods hold features as 32-bit floats, whose largest value is about 3.4e38.
MAX_COVARIATE_MAGNITUDE = 1e38
#: Singular labels of the roles, for messages.
ROLE_LABELS = {
    "treatment": "treatment", "outcome": "outcome", "confounders": "confounder", "instruments": "instrument",
    "mechanisms": "mechanism", "proxies": "proxy", "selection": "selection", "shadow": "shadow",
    "subgroups": "subgroup", "exclusions": "exclusion variable",
}
#: Role pairs a column may hold at once: stratifying by a confounder is the point of a Simpson table.
COMPATIBLE_ROLES = frozenset({frozenset({"confounders", "subgroups"})})


@dataclass(frozen=True)
class PreparedData:
    """Clean numeric arrays for one analysis (rows with missing values already dropped).

    Attributes
    ----------
    X : ndarray (n, p)
        Encoded confounders (categoricals one-hot with the first level dropped).
    covariate_names : tuple of str
        Name of each column of ``X`` (``"col"`` or ``"col=level"``).
    covariate_sources : tuple of str
        The original column behind each column of ``X``.
    t : ndarray (n,)
        Treatment: 0/1 floats for binary methods, numeric values otherwise.
    y : ndarray (n,)
        Outcome (may hold NaN where ``S`` is 0 for selection methods).
    Z, M, P : ndarray (n, k)
        Encoded instruments, mechanisms and proxies (k may be 0).
    Z_names, M_names, P_names : tuple of str
        Their column names.
    E : ndarray (n, k)
        Encoded exclusion variables (Heckman's selection equation only; k may be 0).
    E_names : tuple of str
        Their column names.
    S : ndarray (n,) or None
        Selection indicator (0/1 floats).
    shadow : ndarray (n,) or None
        Shadow variable.
    subgroups : DataFrame
        Raw subgroup columns for the used rows.
    index : ndarray
        Original DataFrame index labels of the used rows.
    n_dropped : int
        Rows dropped for missing or infinite values.
    warnings : tuple of str
        Warnings raised while preparing (dropped rows, dropped constant covariates).
    treated_level, control_level : Any
        Original treatment labels (binary methods).
    roles : Roles
        The roles used.
    binary_covariates : tuple of bool
        Whether each column of ``X`` is 0/1.
    reference_levels : tuple of (column, level)
        The level of each text/categorical confounder left out of ``X`` (the
        first in sorted order); balance tables add it back, so every level is shown.
    """

    X: np.ndarray
    covariate_names: tuple[str, ...]
    covariate_sources: tuple[str, ...]
    t: np.ndarray
    y: np.ndarray
    Z: np.ndarray
    Z_names: tuple[str, ...]
    M: np.ndarray
    M_names: tuple[str, ...]
    P: np.ndarray
    P_names: tuple[str, ...]
    S: np.ndarray | None
    shadow: np.ndarray | None
    subgroups: pd.DataFrame
    index: np.ndarray
    n_dropped: int
    warnings: tuple[str, ...]
    treated_level: Any
    control_level: Any
    roles: Roles
    binary_covariates: tuple[bool, ...] = field(default=())
    E: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    E_names: tuple[str, ...] = ()
    reference_levels: tuple[tuple[str, str], ...] = field(default=())

    @property
    def n(self) -> int:
        return int(self.t.shape[0])

    @property
    def treated(self) -> np.ndarray:
        """Boolean mask of treated rows (binary treatments)."""
        return self.t == 1


def _check_columns_exist(df: pd.DataFrame, roles: Roles) -> None:
    if not isinstance(df, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(df).__name__}.")
    if df.shape[0] == 0:
        raise CausalInputError("The table has no rows.")
    for role, column in roles.assignments():
        if column not in df.columns:
            raise CausalInputError(f"Column '{column}' given as {role} is not in the data.")
    if not df.columns.is_unique:
        duplicated = df.columns[df.columns.duplicated()].tolist()
        raise CausalInputError(f"Column name(s) {duplicated} appear more than once in the table; rename them.")


def _check_no_double_roles(roles: Roles) -> None:
    seen: dict[str, str] = {}
    for role, column in roles.assignments():
        if column in seen and frozenset({seen[column], role}) in COMPATIBLE_ROLES:
            continue
        if column in seen and seen[column] != role:
            raise CausalInputError(
                f"Column '{column}' is used both as {seen[column]} and as {role}; a column can have only one role."
            )
        if column in seen and seen[column] == role:
            raise CausalInputError(f"Column '{column}' is listed twice as {role}.")
        seen[column] = role


def _check_required_roles(roles: Roles, info: MethodInfo | None) -> None:
    if info is None:
        return
    for role in info.required_roles:
        value = getattr(roles, role)
        if value is None or (isinstance(value, tuple) and len(value) == 0):
            raise CausalInputError(
                f"Method '{info.id}' needs at least one column in the '{role}' role; none is assigned."
            )


def _as_numeric(series: pd.Series, role: str) -> pd.Series:
    """A numeric column as floats (booleans become 0/1); text raises."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    converted = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & converted.isna()
    if bad.any():
        example = series[bad].iloc[0]
        raise CausalInputError(
            f"{role.capitalize()} column '{series.name}' must be numeric; it holds text such as {plain(example)!r}."
        )
    return converted.astype(float)


def _time_kind(series: pd.Series) -> str | None:
    """``"dates"`` or ``"durations"`` when the column holds datetimes or timedeltas, else ``None``."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return "dates"
    if pd.api.types.is_timedelta64_dtype(series):
        return "durations"
    if series.dtype == object:
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("datetime", "datetime64", "date"):
            return "dates"
        if inferred in ("timedelta", "timedelta64"):
            return "durations"
    return None


def _as_days(series: pd.Series, kind: str) -> pd.Series:
    """Dates as days since 1970-01-01 (UTC), durations as days, both as floats (NaT becomes NaN)."""
    if kind == "dates":
        stamps = pd.to_datetime(series, utc=True)
        return (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1)
    return pd.to_timedelta(series) / pd.Timedelta(days=1)


def _convert_time_columns(used: pd.DataFrame, roles: Roles) -> tuple[pd.DataFrame, list[str]]:
    """Refuse dates and durations outside the confounders; turn confounder ones into days, with a warning.

    Outcome, treatment, instrument, mechanism, proxy, selection and shadow
    columns carry the causal question, so their unit is the analyst's choice;
    a confounder only needs an order, so days since 1970-01-01 (or days, for
    durations) is a faithful encoding. Subgroup columns are kept as they are.
    """
    notes: list[str] = []
    converted: dict[str, pd.Series] = {}
    for role, column in roles.assignments():
        if role == "subgroups":
            continue
        kind = _time_kind(used[column])
        if kind is None:
            continue
        label = ROLE_LABELS.get(role, role)
        if role != "confounders":
            example = "days since a start date" if kind == "dates" else "days or hours"
            raise CausalInputError(
                f"{label.capitalize()} column '{column}' holds {kind}; "
                f"convert it to a number (for example {example}) first."
            )
        converted[column] = _as_days(used[column], kind)
        unit = "days since 1970-01-01" if kind == "dates" else "days"
        notes.append(f"Confounder column '{column}' holds {kind}; it is used as {unit}.")
    if converted:
        used = used.copy()  # the caller's frame is never touched
        for column, values in converted.items():
            used[column] = values
    return used, notes


def _check_magnitude(values: np.ndarray, column: Any, role: str) -> None:
    """Refuse values too large for the numerics downstream, naming the column and how to rescale it."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return
    largest = float(np.max(np.abs(finite)))
    outcome_like = role in ("outcome", "treatment")
    limit = MAX_MAGNITUDE if outcome_like else MAX_COVARIATE_MAGNITUDE
    if largest > limit:
        reason = ("so that its squares do not overflow" if outcome_like else
                  "so that it fits the 32-bit floats of tree models and neural networks")
        raise CausalInputError(
            f"{role.capitalize()} column '{column}' has values as large as {largest:.3g} in absolute value; "
            f"rescale it (for example divide it by {10 ** (np.floor(np.log10(largest)) - 3):.0e}) {reason} "
            f"(the limit is {limit:.0e})."
        )


def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def category_levels(series: pd.Series) -> list[str]:
    """The levels of a text/categorical column as :func:`encode_columns` sees them (sorted text; the first is dropped)."""
    return sorted(series.dropna().astype(str).unique())


def encode_columns(frame: pd.DataFrame, role: str) -> tuple[np.ndarray, list[str], list[str], list[bool]]:
    """Encode columns as floats: numbers and booleans as is, text/categories one-hot (first level dropped).

    Returns the matrix, the encoded names, the source column of each and
    whether each encoded column is binary.
    """
    blocks: list[np.ndarray] = []
    names: list[str] = []
    sources: list[str] = []
    binary: list[bool] = []
    for column in frame.columns:
        series = frame[column]
        if _is_categorical(series):
            levels = category_levels(series)
            if len(levels) > 50:
                from causal_core.datasets.profile import looks_like_date_text
                if looks_like_date_text(series):
                    raise CausalInputError(
                        f"{role.capitalize()} column '{column}' holds dates written as text ({len(levels)} distinct "
                        "values); convert it to a number (days since the first date, on the Data page) or leave it out."
                    )
                raise CausalInputError(
                    f"{role.capitalize()} column '{column}' is text with {len(levels)} distinct values; "
                    "recode it or drop it (at most 50 categories are one-hot encoded)."
                )
            as_text = series.astype(str)
            for level in levels[1:]:
                blocks.append((as_text == level).to_numpy(dtype=float)[:, None])
                names.append(f"{column}={level}")
                sources.append(column)
                binary.append(True)
        else:
            values = _as_numeric(series, role).to_numpy(dtype=float)
            blocks.append(values[:, None])
            names.append(str(column))
            sources.append(column)
            finite = values[np.isfinite(values)]
            binary.append(bool(np.isin(finite, (0.0, 1.0)).all()))
    matrix = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
    return matrix, names, sources, binary


def binary_treatment(series: pd.Series, treated_level: Any) -> tuple[np.ndarray, Any, Any]:
    """Code a two-level treatment as 0/1, returning (codes, treated label, control label)."""
    levels = pd.unique(series.dropna())
    name = series.name
    if len(levels) < 2:
        raise CausalInputError(
            f"Treatment column '{name}' is constant (only {plain(list(levels))!r}); it needs two values, treated and control."
        )
    if len(levels) > 2:
        raise CausalInputError(
            f"Treatment column '{name}' has {len(levels)} distinct values; this method needs exactly 2."
        )
    if treated_level is None:
        as_set = {float(v) if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)) else v for v in levels}
        if as_set == {0.0, 1.0}:
            treated_level = next(v for v in levels if float(v) == 1.0)
        else:
            raise CausalInputError(
                f"Treatment column '{name}' has values {sorted(map(str, levels))}; say which is treated with treated_level."
            )
    matches = [v for v in levels if v == treated_level or str(v) == str(treated_level)]
    if not matches:
        raise CausalInputError(
            f"Treated level {plain(treated_level)!r} does not occur in treatment column '{name}' (values: {sorted(map(str, levels))})."
        )
    treated = matches[0]
    control = next(v for v in levels if v is not treated and not (v == treated))
    codes = (series == treated).to_numpy(dtype=float)
    return codes, treated, control


def prepare(
    df: pd.DataFrame,
    roles: Roles,
    info: MethodInfo | None = None,
    *,
    treatment_kind: str | None = None,
    outcome_may_be_missing: bool | None = None,
    min_rows_per_arm: int = MIN_ROWS_PER_ARM,
) -> PreparedData:
    """Check ``df`` against ``roles`` (and the method's needs) and encode it.

    Rows with a missing or infinite value in any used column are dropped and
    counted in a warning. For selection methods the outcome may be missing
    where the selection indicator is 0.
    """
    if not isinstance(roles, Roles):
        raise CausalInputError(f"Roles must be a causal_core.Roles; got {type(roles).__name__}.")
    _check_columns_exist(df, roles)
    _check_no_double_roles(roles)
    _check_required_roles(roles, info)
    kind = treatment_kind or (info.treatment_kind if info else "binary")
    outcome_missing_ok = (
        outcome_may_be_missing if outcome_may_be_missing is not None else bool(info and info.outcome_may_be_missing)
    )
    if outcome_missing_ok and roles.selection is None:
        raise CausalInputError("This method needs a 'selection' column (1 where the outcome was recorded, 0 elsewhere).")

    used = df[roles.columns()]
    used, warnings = _convert_time_columns(used, roles)

    # all-missing / all-infinite columns first, so the message names the column
    for column in used.columns:
        series = used[column]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        finite = np.isfinite(series.to_numpy(dtype=float)) if numeric else series.notna().to_numpy()
        if not finite.any():
            raise CausalInputError(f"Column '{column}' has no usable values (all missing or infinite).")

    # outcome numeric check before dropping rows, for a clear message
    outcome = _as_numeric(used[roles.outcome], "outcome")
    if kind != "binary":
        _as_numeric(used[roles.treatment], "treatment")

    missing = pd.Series(False, index=used.index)
    for column in used.columns:
        if outcome_missing_ok and column == roles.outcome:
            continue
        series = used[column]
        bad = series.isna()
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            bad = bad | ~np.isfinite(series.to_numpy(dtype=float))
        missing |= bad
    if outcome_missing_ok:
        selection = _as_numeric(used[roles.selection], "selection")
        if not set(np.unique(selection.dropna())) <= {0.0, 1.0}:
            raise CausalInputError(f"Selection column '{roles.selection}' must be 0/1 (or False/True).")
        outcome_bad = ~np.isfinite(outcome.to_numpy(dtype=float))
        selected_missing = int((pd.Series(outcome_bad, index=used.index) & (selection == 1)).sum())
        if selected_missing:
            raise CausalInputError(
                f"Outcome column '{roles.outcome}' is missing in {selected_missing} rows where selection column "
                f"'{roles.selection}' is 1; selection must be 1 exactly where the outcome was recorded."
            )
    n_dropped = int(missing.sum())
    if n_dropped:
        warnings.append(
            f"{n_dropped} of {len(used)} rows dropped for missing or infinite values in the used columns."
        )
    kept = used.loc[~missing]
    if kept.shape[0] == 0:
        raise CausalInputError("No rows are left after dropping rows with missing values in the used columns.")

    if kind == "binary":
        t, treated_level, control_level = binary_treatment(kept[roles.treatment], roles.treated_level)
        n_treated, n_control = int(t.sum()), int((1 - t).sum())
        if min(n_treated, n_control) < min_rows_per_arm:
            raise CausalInputError(
                f"Treatment column '{roles.treatment}' has {n_treated} treated and {n_control} control rows; "
                f"each arm needs at least {min_rows_per_arm}."
            )
    else:
        t = _as_numeric(kept[roles.treatment], "treatment").to_numpy(dtype=float)
        treated_level, control_level = None, None
        if np.ptp(t) == 0:
            raise CausalInputError(f"Treatment column '{roles.treatment}' is constant; it needs variation.")

    y = _as_numeric(kept[roles.outcome], "outcome").to_numpy(dtype=float)
    if not outcome_missing_ok and np.ptp(y) == 0:
        warnings.append(f"Outcome column '{roles.outcome}' is constant; every effect estimate will be 0.")

    X, names, sources, binary = encode_columns(kept[list(roles.confounders)], "confounder")
    constant = [i for i in range(X.shape[1]) if np.ptp(X[:, i]) == 0] if X.shape[0] else []
    if constant:
        warnings.append(
            "Constant covariate(s) dropped: " + ", ".join(f"'{names[i]}'" for i in constant) + "."
        )
        keep = [i for i in range(X.shape[1]) if i not in constant]
        X = X[:, keep]
        names = [names[i] for i in keep]
        sources = [sources[i] for i in keep]
        binary = [binary[i] for i in keep]

    reference_levels = tuple(
        (str(column), category_levels(kept[column])[0]) for column in roles.confounders
        if _is_categorical(kept[column]) and len(category_levels(kept[column])) >= 2)

    Z, Z_names, Z_sources, _ = encode_columns(kept[list(roles.instruments)], "instrument")
    M, M_names, M_sources, _ = encode_columns(kept[list(roles.mechanisms)], "mechanism")
    P, P_names, P_sources, _ = encode_columns(kept[list(roles.proxies)], "proxy")
    E, E_names, E_sources, _ = encode_columns(kept[list(roles.exclusions)], "exclusion variable")
    S = _as_numeric(kept[roles.selection], "selection").to_numpy(dtype=float) if roles.selection else None
    if S is not None and not set(np.unique(S)) <= {0.0, 1.0}:
        raise CausalInputError(f"Selection column '{roles.selection}' must be 0/1 (or False/True).")
    shadow = _as_numeric(kept[roles.shadow], "shadow").to_numpy(dtype=float) if roles.shadow else None

    _check_magnitude(y, roles.outcome, "outcome")
    if kind != "binary":
        _check_magnitude(t, roles.treatment, "treatment")
    for matrix, matrix_sources, role in ((X, sources, "confounder"), (Z, Z_sources, "instrument"),
                                         (M, M_sources, "mechanism"), (P, P_sources, "proxy"), (E, E_sources, "exclusion variable")):
        for i, source in enumerate(matrix_sources):
            _check_magnitude(matrix[:, i], source, role)
    if shadow is not None:
        _check_magnitude(shadow, roles.shadow, "shadow")

    return PreparedData(
        X=X,
        covariate_names=tuple(names),
        covariate_sources=tuple(sources),
        t=t,
        y=y,
        Z=Z,
        Z_names=tuple(Z_names),
        M=M,
        M_names=tuple(M_names),
        P=P,
        P_names=tuple(P_names),
        S=S,
        shadow=shadow,
        subgroups=kept[list(roles.subgroups)].reset_index(drop=True),
        index=kept.index.to_numpy(),
        n_dropped=n_dropped,
        warnings=tuple(warnings),
        treated_level=treated_level,
        control_level=control_level,
        roles=roles,
        binary_covariates=tuple(binary),
        E=E,
        E_names=tuple(E_names),
        reference_levels=reference_levels,
    )


def target_rows(t: np.ndarray, estimand: str) -> np.ndarray:
    """The rows of the estimand's population: the treated (ATT), the controls (ATC) or everyone (ATE)."""
    if estimand == "ATT":
        return t == 1
    if estimand == "ATC":
        return t == 0
    return np.ones(t.shape[0], dtype=bool)
