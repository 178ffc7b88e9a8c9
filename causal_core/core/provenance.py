"""What an :class:`EstimateResult` carries about its analysis, and the one way back to its design.

:func:`provenance_fields` is what :func:`causal_core.estimate` records on a
result (row index, treated mask, roles, options, seed, levels, covariate names,
weight diagnostics). :func:`used_rows` and :func:`design_for` take a result
back to the rows and encoded covariates it was computed on, aligned by the
original index labels (``result.row_index``), never by array shapes; balance,
refutation, sensitivity, the method lab, the report and the pages start from
them instead of re-running :func:`causal_core.core.data.prepare` each on their own.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData, prepare
from causal_core.core.errors import CausalInputError, plain
from causal_core.core.registry import MethodInfo, get_method
from causal_core.core.results import EstimateResult, FrozenMapping, WeightDiagnostics

__all__ = ["design_for", "provenance_fields", "used_rows"]


def _read_only(values: np.ndarray) -> np.ndarray:
    out = np.array(values, copy=True)
    out.setflags(write=False)
    return out


def provenance_fields(
    data: PreparedData, info: MethodInfo, options: Mapping[str, Any], seed: int, weights: np.ndarray | None
) -> dict[str, Any]:
    """The :class:`EstimateResult` fields that record how it was made (no data, no fitted model)."""
    binary = info.treatment_kind == "binary"
    treated = _read_only(data.treated) if binary else None
    diagnostics = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape == (data.n,) and np.all(np.isfinite(w)):
            diagnostics = WeightDiagnostics.from_weights(w, treated)
    return {
        "row_index": _read_only(data.index),
        "treated": treated,
        "roles": data.roles,
        "options": FrozenMapping(options),
        "seed": int(seed),
        "treated_level": data.treated_level,
        "control_level": data.control_level,
        "covariate_names": tuple(data.covariate_names),
        "weight_diagnostics": diagnostics,
    }


def _require_provenance(result: Any) -> EstimateResult:
    if not isinstance(result, EstimateResult):
        raise CausalInputError(f"Expected an EstimateResult from causal_core.estimate; got {type(result).__name__}.")
    if result.row_index is None or result.roles is None:
        raise CausalInputError(
            f"This result of method '{result.method}' carries no row index or roles (it was not made by "
            "causal_core.estimate); re-run the estimate."
        )
    return result


def used_rows(result: EstimateResult, df: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``df`` that ``result`` used, in its order (a new frame; ``df`` is not modified).

    Raises
    ------
    CausalInputError
        When ``df`` lacks a row the result used, or its index labels are not
        unique (rows cannot then be told apart by label).
    """
    result = _require_provenance(result)
    if not isinstance(df, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(df).__name__}.")
    if not df.index.is_unique:
        raise CausalInputError(
            "The table's index has repeated labels, so the rows of this result cannot be found by label; "
            "give the table a unique index (df.reset_index(drop=True)) and re-run the estimate."
        )
    labels = pd.Index(result.row_index)
    missing = ~labels.isin(df.index)
    if missing.any():
        raise CausalInputError(
            f"The table has no row with index {plain(labels[missing][0])!r} that this result of method "
            f"'{result.method}' used ({int(missing.sum())} missing); pass the table the estimate was made on."
        )
    return df.loc[labels]


def design_for(result: EstimateResult, df: pd.DataFrame, *, treatment_kind: str | None = None) -> PreparedData:
    """The prepared data (encoded covariates, treatment, outcome) of the rows ``result`` used.

    Rebuilt once from ``result.roles`` and ``result.row_index`` with
    :func:`causal_core.core.data.prepare`, exactly as the method saw it; rows and
    weights line up with ``result.weights`` and ``result.unit_effects``.

    Parameters
    ----------
    result : EstimateResult
    df : DataFrame
        The table the estimate was made on (never modified).
    treatment_kind : {"binary", "continuous"}, optional
        Override the method's treatment kind (balance needs ``"binary"``).

    Raises
    ------
    CausalInputError
        When the rows are missing from ``df`` or their values changed since the estimate.
    """
    rows = used_rows(result, df)
    info = get_method(result.method)
    data = prepare(rows, result.roles, info, treatment_kind=treatment_kind)
    same_rows = data.n == len(result.row_index) and pd.Index(data.index).equals(pd.Index(result.row_index))
    binary = (treatment_kind or info.treatment_kind) == "binary"
    same_arms = result.treated is None or not binary or (
        same_rows and np.array_equal(data.treated, result.treated))
    if not (same_rows and same_arms):
        raise CausalInputError(
            f"The table's rows differ from those the result of method '{result.method}' was computed on "
            "(values changed since the estimate); re-run the estimate on this table."
        )
    return data
