"""A run of several methods on a table opened by path: streamed where a method can be, else on a seeded sample.

The app's Estimate page calls :func:`run_large` for a table opened through
DuckDB (:func:`causal_core.outofcore.open_table`); every method goes through
:func:`causal_core.outofcore.estimate_large`, and each row of the results
table says how it was computed, in one of two sentences:

* "Streamed over all M rows" (a method with a streamed form, see ``STREAMED_METHODS``);
* "Estimated on a sample of N of M rows" (the others, on a seeded DuckDB sample).

Whether an opened table is loaded into memory or kept on disk is decided by
:func:`choose_path`: by its size in cells (rows x columns) against
:data:`IN_MEMORY_CELL_LIMIT`, unless the analyst overrides it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from causal_core.compute.backend import describe_compute
from causal_core.core.errors import CausalInputError
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles
from causal_core.datasets.upload_limits import MAX_CELLS
from causal_core.outofcore.source import TableSource, partitions, sample
from causal_core.outofcore.streamed import DEFAULT_SAMPLE_ROWS, StreamedEstimate, estimate_large

__all__ = ["IN_MEMORY_CELL_LIMIT", "ROLES_FRAME_ROWS", "PATH_CHOICES", "LargeRun", "choose_path", "run_large",
           "scale_note", "report_notes", "changed_options", "load_in_memory", "roles_frame", "large_outcome",
           "assemble_large_run", "check_sample_rows"]

#: Above this many cells (rows x columns) a table opened by path stays on disk. The in-memory estimators peak at
#: about 14 times the raw float64 size (issue 13's measurements), so 20M cells (160 MB raw) peak near 2.2 GiB.
IN_MEMORY_CELL_LIMIT = 20_000_000
#: Rows of the seeded sample the Roles and Explore pages see of a table kept on disk.
ROLES_FRAME_ROWS = 5_000
#: How an opened table is handled: chosen by size, or forced either way.
PATH_CHOICES = ("auto", "memory", "disk")
_RESULT_COLUMNS = ["method", "estimand", "estimate", "std_error", "ci_low", "ci_high", "p_value", "n_used",
                   "computed_on", "warnings", "error"]


def choose_path(n_rows: int, n_columns: int, override: str = "auto") -> str:
    """``"memory"`` (load into pandas) or ``"disk"`` (keep in DuckDB) for a table of this size.

    ``override`` is ``"auto"`` (by :data:`IN_MEMORY_CELL_LIMIT`), ``"memory"``
    or ``"disk"``; a table larger than the upload limit's cells is never loaded.
    """
    if override not in PATH_CHOICES:
        raise CausalInputError(f"Option 'override' must be one of {', '.join(PATH_CHOICES)}; got {override!r}.")
    cells = int(n_rows) * int(n_columns)
    if override == "memory" and cells > MAX_CELLS:
        raise CausalInputError(f"The table has {cells:,} cells (rows x columns); at most {MAX_CELLS:,} are "
                               "loaded into memory, so keep it on disk.")
    if override != "auto":
        return override
    return "memory" if cells <= IN_MEMORY_CELL_LIMIT else "disk"


def load_in_memory(source: TableSource) -> pd.DataFrame:
    """The whole table as a pandas frame, in file order (only for tables :func:`choose_path` lets into memory)."""
    return next(iter(partitions(source, list(source.columns), rows=max(source.n_rows, 1))),
                pd.DataFrame(columns=list(source.columns)))


def roles_frame(source: TableSource, rows: int = ROLES_FRAME_ROWS) -> pd.DataFrame:
    """A seeded sample of every column (seed 0), for choosing roles and exploring a table kept on disk."""
    return sample(source, rows, 0)


def scale_note(result: StreamedEstimate | EstimateResult, n_rows: int, sample_rows: int | None = None) -> str:
    """How ``result`` used a table of ``n_rows`` rows, in one sentence."""
    if isinstance(result, StreamedEstimate):
        compute = dict(result.compute or {})
        where = "" if compute.get("backend", "serial") == "serial" else f", on {describe_compute(compute)}"
        return (f"Streamed over all {n_rows:,} rows ({result.n_partitions} partition(s) of at most "
                f"{result.partition_rows:,} rows{where}).")
    if sample_rows is None or sample_rows >= n_rows:
        return f"Estimated on all {n_rows:,} rows, loaded as one sample (the table is not larger than the sample)."
    return f"Estimated on a sample of {sample_rows:,} of {n_rows:,} rows (seeded DuckDB sample; no streamed form)."


def changed_options(method: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that differ from the method's declared defaults (a streamed method stays streamed under them)."""
    from causal_core.core.registry import get_method

    defaults = {spec.name: spec.default for spec in get_method(method).options}

    def is_default(name: str, value: Any) -> bool:
        if name not in defaults or type(value) is not type(defaults[name]):
            return False
        try:
            return bool(value == defaults[name])
        except Exception:  # an array or a model object: kept as given
            return False

    return {name: value for name, value in options.items() if not is_default(name, value)}


def report_notes(data_name: str, n_rows: int, notes: Mapping[str, str]) -> list[str]:
    """The HTML report's notes for a run on a table kept on disk: one on the table, then one per method."""
    if not notes:
        return []
    from causal_core.core.registry import get_method

    head = (f"The table '{data_name}' ({n_rows:,} rows) was kept on disk and read by DuckDB; the data summary, "
            "balance and charts describe the seeded sample the sampled methods ran on.")
    return [head] + [f"{get_method(method).label}: {note}" for method, note in notes.items()]


@dataclass(frozen=True)
class LargeRun:
    """Several methods estimated on a table on disk.

    Attributes
    ----------
    table : DataFrame
        One row per method: the columns of :func:`causal_core.compare` plus ``computed_on`` (the scale note).
    results : dict
        Method id -> :class:`EstimateResult` of the methods run on the sample (their rows are ``frame``'s).
    streamed : dict
        Method id -> :class:`StreamedEstimate` of the streamed methods.
    frame : DataFrame or None
        The seeded sample the other methods ran on (None when every method streamed).
    notes : dict
        Method id -> the scale note of that method.
    n_rows : int
        Rows of the table.
    """

    table: pd.DataFrame = field(repr=False)
    results: dict[str, EstimateResult] = field(repr=False)
    streamed: dict[str, StreamedEstimate] = field(repr=False)
    frame: pd.DataFrame | None = field(repr=False)
    notes: dict[str, str]
    n_rows: int


def check_sample_rows(sample_rows: Any) -> int:
    """``sample_rows`` as an int, or a one-sentence error."""
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 100:
        raise CausalInputError(f"Option 'sample_rows' must be an integer of at least 100; got {sample_rows!r}.")
    return int(sample_rows)


def large_outcome(source: TableSource, roles: Roles, method: str, *, estimand: str, seed: int, sample_rows: int,
                  options: Mapping[str, Any],
                  progress: Callable[[int, int, int], None] | None = None) -> StreamedEstimate | EstimateResult | str:
    """One method through :func:`estimate_large`: its result, or the message of why it failed (never raises)."""
    try:
        return estimate_large(source, roles, method, estimand=estimand, seed=seed, sample_rows=sample_rows,
                              progress=progress, **options)
    except CausalInputError as exc:
        return str(exc)
    except Exception as exc:  # one broken method must not stop the others
        return f"Unexpected failure ({type(exc).__name__}: {exc})."


def assemble_large_run(source: TableSource, roles: Roles, outcomes: Mapping[str, Any], *, estimand: str, seed: int,
                       sample_rows: int) -> LargeRun:
    """The :class:`LargeRun` of per-method outcomes (results, or failure messages), in ``outcomes``' order.

    Used by :func:`run_large` and by the app, whose background job returns the
    outcomes one method at a time.
    """
    rows, results, streamed, notes = [], {}, {}, {}
    for method, outcome in outcomes.items():
        if isinstance(outcome, StreamedEstimate):
            streamed[method] = outcome
            notes[method] = scale_note(outcome, source.n_rows)
            row = {**outcome.summary(), "warnings": " | ".join(outcome.warnings)}
        elif isinstance(outcome, EstimateResult):
            results[method] = outcome
            notes[method] = scale_note(outcome, source.n_rows, min(sample_rows, source.n_rows))
            row = outcome.summary()
        else:
            rows.append({"method": method, "estimand": estimand, "error": str(outcome)})
            continue
        rows.append({**row, "computed_on": notes[method], "error": ""})
    frame = None
    if results:  # the very sample estimate_large drew (same call, same seed): the Diagnostics page reads it
        frame = sample(source, sample_rows, seed, columns=list(dict.fromkeys(roles.columns())))
    table = pd.DataFrame(rows)
    table = table.reindex(columns=_RESULT_COLUMNS + [c for c in table.columns if c not in _RESULT_COLUMNS])
    return LargeRun(table=table, results=results, streamed=streamed, frame=frame, notes=notes,
                    n_rows=source.n_rows)


def run_large(source: TableSource, roles: Roles, methods: Sequence[str], *, estimand: str = "ATE", seed: int = 0,
              options: Mapping[str, Mapping[str, Any]] | None = None,
              sample_rows: int = DEFAULT_SAMPLE_ROWS) -> LargeRun:
    """Run each method through :func:`estimate_large`; a method that fails gives its message in ``error``."""
    sample_rows = check_sample_rows(sample_rows)
    outcomes = {method: large_outcome(source, roles, method, estimand=estimand, seed=seed, sample_rows=sample_rows,
                                      options=dict((options or {}).get(method, {})))
                for method in methods}
    return assemble_large_run(source, roles, outcomes, estimand=estimand, seed=seed, sample_rows=sample_rows)
