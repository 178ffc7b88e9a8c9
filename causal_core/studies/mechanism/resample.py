"""Deconfounded samples under do(cause = y) through the front-door criterion.

Mechanism learning (Mao & Little) trains an ordinary classifier to predict a
cause ``Y`` (e.g. a diagnosis) from features ``X`` on samples drawn from the
interventional distributions ``p(x | do(Y = y))`` instead of the confounded
``p(x | y)``. Those are identified by the front-door formula when a mechanism
``Z`` carries all of ``Y``'s influence on ``X`` and ``Y -> Z`` is unconfounded,
whatever hidden confounders link ``Y`` and ``X``. Two samplers:

``"bootstrap"``
    The causal bootstrap (Little & Badawy, 2019): resample the observed rows
    with front-door weights ``w_n(y) ∝ p(z_n | y) / p(z_n | y_n)``.
``"cw_gmm"``
    Causally weighted Gaussian mixtures (Mao & Little): fit, for each ``y``, a
    Gaussian mixture to the features by EM with those weights (components by
    BIC) and draw fresh samples from it.
"""
from __future__ import annotations

import warnings as _warnings
from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError, CausalWarning, plain
from causal_core.core.results import kish_ess
from causal_core.core.seeds import check_seed
from causal_core.studies.mechanism.weighted_gmm import sample_gmm, select_weighted_gmms
from causal_core.studies.mechanism.weights import front_door_weight_matrix, mechanism_log_densities

__all__ = ["front_door_resample", "front_door_weights", "MAX_CAUSE_LEVELS", "MIN_ROWS_PER_LEVEL"]

METHODS = ("cw_gmm", "bootstrap")
MAX_CAUSE_LEVELS = 20
MIN_ROWS_PER_LEVEL = 5
#: A mechanism with at most this many distinct values (or any text column) counts as discrete.
MAX_DISCRETE_MECHANISM_LEVELS = 20
LOW_ESS = 30.0
_DEFAULT_OPTIONS: dict[str, Any] = {
    "max_components": 5,
    "n_init": 3,
    "reg_covar": 1e-6,
    "mechanism_kind": "auto",
    "mechanism_max_components": 5,
}


def _as_list(value: Any, role: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value) if value is not None else []
    if not items:
        raise CausalInputError(f"Give at least one {role} column.")
    for item in items:
        if not isinstance(item, str):
            raise CausalInputError(f"The {role} columns must be given as names (strings); got {plain(item)!r}.")
    if len(set(items)) != len(items):
        raise CausalInputError(f"A {role} column is listed twice in {items}.")
    return items


def _validate(data, cause, mechanism, features, method, n_samples, options):
    if not isinstance(data, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(data).__name__}.")
    if method not in METHODS:
        raise CausalInputError(f"Method {plain(method)!r} is not a front-door sampler; choose 'cw_gmm' or 'bootstrap'.")
    unknown = sorted(set(options) - set(_DEFAULT_OPTIONS))
    if unknown:
        raise CausalInputError(
            f"front_door_resample has no option(s) {unknown}; its options are: {', '.join(sorted(_DEFAULT_OPTIONS))}."
        )
    if not isinstance(cause, str):
        raise CausalInputError(f"The cause must be one column name; got {plain(cause)!r}.")
    mechanisms = _as_list(mechanism, "mechanism")
    feature_list = _as_list(features, "feature")
    for role, columns in (("cause", [cause]), ("mechanism", mechanisms), ("feature", feature_list)):
        for column in columns:
            if column not in data.columns:
                raise CausalInputError(f"Column '{column}' given as {role} is not in the data.")
    for role, columns in (("mechanism", mechanisms), ("feature", feature_list)):
        if cause in columns:
            raise CausalInputError(f"Column '{cause}' is the cause and cannot also be a {role} column.")
    both = sorted(set(mechanisms) & set(feature_list))
    if both:
        raise CausalInputError(f"Column '{both[0]}' is both a mechanism and a feature; a column can have only one role.")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise CausalInputError(f"n_samples must be a positive integer; got {plain(n_samples)!r}.")
    if options["mechanism_kind"] not in ("auto", "discrete", "continuous"):
        raise CausalInputError(
            f"Option 'mechanism_kind' must be 'auto', 'discrete' or 'continuous'; got {plain(options['mechanism_kind'])!r}."
        )
    for name in ("max_components", "n_init", "mechanism_max_components"):
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise CausalInputError(f"Option '{name}' must be a positive integer; got {plain(value)!r}.")
    if not (isinstance(options["reg_covar"], (int, float)) and options["reg_covar"] >= 0):
        raise CausalInputError(f"Option 'reg_covar' must be a non-negative number; got {plain(options['reg_covar'])!r}.")
    return mechanisms, feature_list


def _show(value: Any) -> str:
    """A cause value as the analyst wrote it (numpy scalars shown as plain numbers)."""
    return repr(value.item() if hasattr(value, "item") else value)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _clean_rows(data: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, int]:
    used = data[columns]
    bad = used.isna().any(axis=1)
    for column in columns:
        if _is_numeric(used[column]):
            bad |= ~np.isfinite(used[column].to_numpy(dtype=float))
    kept = used.loc[~bad]
    if kept.shape[0] == 0:
        raise CausalInputError("No rows are left after dropping rows with missing values in the used columns.")
    return kept.reset_index(drop=True), int(bad.sum())


def _cause_codes(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    levels = sorted(pd.unique(series), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise CausalInputError(f"Cause column '{series.name}' is constant; it needs at least two values.")
    if len(levels) > MAX_CAUSE_LEVELS:
        raise CausalInputError(
            f"Cause column '{series.name}' has {len(levels)} distinct values; front-door resampling needs a "
            f"discrete cause with at most {MAX_CAUSE_LEVELS} values (bin it first)."
        )
    codes = pd.Categorical(series, categories=levels).codes.astype(int)
    counts = np.bincount(codes, minlength=len(levels))
    if counts.min() < MIN_ROWS_PER_LEVEL:
        level = levels[int(np.argmin(counts))]
        raise CausalInputError(
            f"Cause column '{series.name}' has only {counts.min()} row(s) with value {_show(level)}; "
            f"each value needs at least {MIN_ROWS_PER_LEVEL}."
        )
    return codes, levels


def _mechanism_is_discrete(frame: pd.DataFrame, kind: str) -> bool:
    for column in frame.columns:
        if frame[column].nunique() < 2:
            raise CausalInputError(
                f"Mechanism column '{column}' is constant; a mechanism must vary with the cause to carry its effect."
            )
    text = [c for c in frame.columns if not _is_numeric(frame[c])]
    if kind == "continuous":
        if text:
            raise CausalInputError(
                f"Mechanism column '{text[0]}' is not numeric; use mechanism_kind='discrete' or 'auto'."
            )
        return False
    if kind == "discrete":
        return True
    if text:
        return True
    return len(frame.drop_duplicates()) <= MAX_DISCRETE_MECHANISM_LEVELS


def _block_sizes(n_samples: int, codes: np.ndarray, n_levels: int) -> np.ndarray:
    """Split ``n_samples`` over cause values in the observed proportions (largest remainders)."""
    share = np.bincount(codes, minlength=n_levels) / codes.size * n_samples
    sizes = np.floor(share).astype(int)
    remainder = n_samples - sizes.sum()
    sizes[np.argsort(-(share - sizes), kind="stable")[:remainder]] += 1
    return sizes


def front_door_weights(
    data: pd.DataFrame,
    cause: str,
    mechanism: str | list[str],
    *,
    seed: int = 0,
    mechanism_kind: str = "auto",
    mechanism_max_components: int = 5,
) -> pd.DataFrame:
    """Front-door weights ``w_n(y) ∝ p(z_n | y) / p(z_n | y_n)`` for every row and cause value.

    Parameters
    ----------
    data : DataFrame
        The observed rows (never modified); rows with missing values in the
        cause or mechanism are dropped.
    cause : str
        Discrete cause column (2 to 20 values).
    mechanism : str or list of str
        Mechanism column(s).
    seed : int
        Seed of the mixture fits (continuous mechanisms).
    mechanism_kind : {"auto", "discrete", "continuous"}
        How ``p(z | y)`` is estimated: frequencies or a Gaussian mixture per cause value.
    mechanism_max_components : int
        Largest mixture tried for a continuous mechanism.

    Returns
    -------
    DataFrame
        One column per cause value (named by the value), each summing to 1,
        one row per row kept (rows with missing values dropped, index reset).
    """
    seed = check_seed(seed)
    if not isinstance(data, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(data).__name__}.")
    if mechanism_kind not in ("auto", "discrete", "continuous"):
        raise CausalInputError(
            f"Option 'mechanism_kind' must be 'auto', 'discrete' or 'continuous'; got {plain(mechanism_kind)!r}."
        )
    mechanisms = _as_list(mechanism, "mechanism")
    for role, columns in (("cause", [cause]), ("mechanism", mechanisms)):
        for column in columns:
            if column not in data.columns:
                raise CausalInputError(f"Column '{column}' given as {role} is not in the data.")
    if cause in mechanisms:
        raise CausalInputError(f"Column '{cause}' is the cause and cannot also be a mechanism column.")
    used, _ = _clean_rows(data, [cause] + mechanisms)
    weights, levels, _ = _weights_for(used, cause, mechanisms, seed=seed, kind=mechanism_kind,
                                      max_components=mechanism_max_components)
    return pd.DataFrame(weights, index=used.index, columns=levels)


def _weights_for(frame: pd.DataFrame, cause: str, mechanisms: list[str], *, seed: int, kind: str, max_components: int):
    codes, levels = _cause_codes(frame[cause])
    mechanism_frame = frame[mechanisms]
    discrete = _mechanism_is_discrete(mechanism_frame, kind)
    log_densities, components = mechanism_log_densities(
        mechanism_frame, codes, len(levels), discrete=discrete, max_components=max_components, seed=seed
    )
    weights = front_door_weight_matrix(log_densities, codes)
    info = {"mechanism_discrete": discrete, "mechanism_components": components, "codes": codes}
    return weights, levels, info


def _standardised_by_level(values: np.ndarray, weights: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each cause value ``j``: the features centred and scaled by their ``weights[:, j]``-weighted mean and SD,
    the centre and the scale (1 where a feature is constant)."""
    out = []
    for j in range(weights.shape[1]):
        w = weights[:, j]
        centre = np.average(values, axis=0, weights=w)
        scale = np.sqrt(np.average((values - centre) ** 2, axis=0, weights=w))
        scale[scale == 0] = 1.0
        out.append(((values - centre) / scale, centre, scale))
    return out


def front_door_resample(
    data: pd.DataFrame,
    cause: str,
    mechanism: str | list[str],
    features: list[str],
    method: str = "cw_gmm",
    n_samples: int | None = None,
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """Deconfounded samples of the features under do(cause = y), one block per cause value.

    Parameters
    ----------
    data : DataFrame
        Observed (confounded) rows; never modified. Rows with a missing value
        in a used column are dropped (counted in the diagnostics).
    cause : str
        Discrete cause/label column (2 to 20 values, at least 5 rows each).
    mechanism : str or list of str
        Mechanism column(s) ``Z``: every effect of the cause on the features goes
        through them, and nothing confounds cause -> mechanism.
    features : list of str
        Feature columns ``X`` to sample (numeric for ``"cw_gmm"``).
    method : {"cw_gmm", "bootstrap"}
        Causally weighted Gaussian mixtures or the causal bootstrap.
    n_samples : int, optional
        Total rows returned (default: the number of rows used), split over the
        cause values in their observed proportions.
    seed : int
        Seed of every random step.
    **options
        ``max_components`` (5): largest mixture tried for the features (cw_gmm);
        ``n_init`` (3): EM starts per size; ``reg_covar`` (1e-6): covariance
        ridge on standardised features; ``mechanism_kind`` ("auto"): how
        ``p(z | y)`` is estimated ("discrete" frequencies or "continuous"
        Gaussian mixture; auto picks discrete for text or at most 20 distinct
        values); ``mechanism_max_components`` (5).

    Returns
    -------
    DataFrame
        Columns ``[cause] + features``; the cause column holds the intervened
        value. ``result.attrs["front_door"]`` holds diagnostics: the Kish
        effective sample size of the weights per cause value, the mixture
        components chosen, the rows dropped and warnings. A CausalWarning is
        issued when an effective sample size is below 30.
    """
    seed = check_seed(seed)
    options = {**_DEFAULT_OPTIONS, **options}
    provisional_n = 1 if n_samples is None else n_samples
    mechanisms, feature_list = _validate(data, cause, mechanism, features, method, provisional_n, options)
    frame, n_dropped = _clean_rows(data, [cause] + mechanisms + feature_list)
    if method == "cw_gmm":
        for column in feature_list:
            if not _is_numeric(frame[column]):
                raise CausalInputError(
                    f"Feature column '{column}' is not numeric; 'cw_gmm' models features as Gaussian mixtures "
                    "(encode it or use method='bootstrap')."
                )
    weights, levels, info = _weights_for(frame, cause, mechanisms, seed=seed, kind=options["mechanism_kind"],
                                         max_components=options["mechanism_max_components"])
    total = frame.shape[0] if n_samples is None else int(n_samples)
    sizes = _block_sizes(total, info["codes"], len(levels))
    rng = np.random.default_rng(seed)
    features_frame = frame[feature_list]
    blocks: list[pd.DataFrame] = []
    ess: dict[Any, float] = {}
    components: dict[Any, int] = {}
    warnings: list[str] = []
    if n_dropped:
        warnings.append(f"{n_dropped} of {len(data)} rows dropped for missing or infinite values in the used columns.")
    if method == "cw_gmm":
        standardised = _standardised_by_level(features_frame.to_numpy(dtype=float), weights)
        fits = select_weighted_gmms([(X, weights[:, j]) for j, (X, _, _) in enumerate(standardised)],
                                    max_components=options["max_components"], seed=seed, n_init=options["n_init"],
                                    reg_covar=options["reg_covar"])
    for j, level in enumerate(levels):
        w = weights[:, j]
        ess[level] = kish_ess(w)
        if method == "bootstrap":
            rows = rng.choice(frame.shape[0], size=sizes[j], replace=True, p=w)
            block = features_frame.iloc[rows].reset_index(drop=True)
        else:
            _, centre, scale = standardised[j]
            fit = fits[j][0]
            components[level] = fit.n_components
            draws = sample_gmm(fit, int(sizes[j]), rng) * scale + centre
            block = pd.DataFrame(draws, columns=feature_list)
        block.insert(0, cause, pd.Series([level] * int(sizes[j]), dtype=frame[cause].dtype))
        blocks.append(block)
        if ess[level] < LOW_ESS:
            warnings.append(
                f"The front-door weights for {cause} = {_show(level)} have an effective sample size of {ess[level]:.0f}; "
                "the deconfounded samples rest on few rows."
            )
    out = pd.concat(blocks, ignore_index=True)
    out.attrs["front_door"] = {
        "method": method,
        "levels": list(levels),
        "effective_sample_size": ess,
        "feature_components": components,
        "mechanism_discrete": info["mechanism_discrete"],
        "mechanism_components": info["mechanism_components"],
        "n_used": int(frame.shape[0]),
        "n_dropped": n_dropped,
        "warnings": tuple(warnings),
    }
    for message in warnings:
        _warnings.warn(message, CausalWarning, stacklevel=2)
    return out
