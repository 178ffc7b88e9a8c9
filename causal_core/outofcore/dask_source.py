"""A Dask dataframe as a data source of the streamed estimators, in place of a file read by DuckDB.

:func:`from_dask` wraps a ``dask.dataframe.DataFrame``; the streamed
estimators then read it exactly as they read a Parquet file: in consecutive
partitions of ``rows`` rows, in the dataframe's partition order (computed one
Dask partition at a time with the synchronous scheduler, so memory is set by
the partition size and the order never depends on threads), reduced on the
driver in that order. The same table gives the same numbers as its Parquet
file to rounding (the tests check 1e-10)::

    import dask.dataframe as dd
    source = from_dask(dd.read_parquet("claims/"))
    streamed_estimate(source, roles, "regression_adjustment")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.outofcore.source import recut

__all__ = ["DaskSource", "from_dask"]


def _duckdb_type(dtype: Any) -> str:
    """The DuckDB type name the streamed estimators' checks expect for a pandas dtype."""
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(dtype):
        return "DOUBLE"
    return "VARCHAR"


@dataclass(frozen=True)
class DaskSource:
    """A Dask dataframe read like a :class:`~causal_core.outofcore.source.TableSource` (fixed partition order)."""

    frame: Any = field(repr=False)  # dask.dataframe.DataFrame
    path: str  # a name for messages ("Column 'x' is not in 'dask dataframe'")
    n_rows: int
    columns: tuple[str, ...]
    types: tuple[str, ...]
    partition_sizes: tuple[int, ...] = field(repr=False)
    kind: str = "dask"

    def _check(self, columns: Sequence[str]) -> None:
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise CausalInputError(f"Column '{missing[0]}' is not in {self.path!r}.")

    def _pieces(self, columns: Sequence[str]) -> Iterator[pd.DataFrame]:
        """Each Dask partition of ``columns``, in order, one in memory at a time."""
        selected = self.frame[list(columns)]
        for i in range(selected.npartitions):
            yield selected.get_partition(i).compute(scheduler="sync").reset_index(drop=True)

    def partitions(self, columns: Sequence[str], rows: int) -> Iterator[pd.DataFrame]:
        """``columns`` in consecutive partitions of exactly ``rows`` rows (the last may be shorter)."""
        self._check(columns)
        yield from recut(self._pieces(columns), rows)

    def distinct_values(self, column: str, limit: int = 51) -> list:
        """Distinct non-missing values of ``column`` (at most ``limit``), sorted as text."""
        self._check([column])
        values = self.frame[column].dropna().drop_duplicates().compute(scheduler="sync")
        return sorted(list(values)[: int(limit)], key=str)

    def sample(self, n: int, seed: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """A seeded simple random sample of ``n`` rows (all rows if fewer), in table order; the same for the same seed."""
        columns = list(columns) if columns is not None else list(self.columns)
        self._check(columns)
        if n >= self.n_rows:
            return pd.concat(list(self._pieces(columns)), ignore_index=True)
        chosen = np.sort(np.random.default_rng(int(seed)).choice(self.n_rows, size=int(n), replace=False))
        picked, start = [], 0
        for piece, size in zip(self._pieces(columns), self.partition_sizes):
            inside = chosen[(chosen >= start) & (chosen < start + size)] - start
            if inside.size:
                picked.append(piece.iloc[inside])
            start += size
        return pd.concat(picked, ignore_index=True)


def from_dask(frame: Any, *, name: str = "dask dataframe") -> DaskSource:
    """Wrap a ``dask.dataframe.DataFrame`` for the streamed estimators (one pass counts its partitions' rows)."""
    try:
        import dask.dataframe as dd
    except ImportError as exc:  # pinned in requirements.txt
        raise CausalInputError("A Dask dataframe source needs the 'dask' package (see requirements.txt).") from exc
    if not isinstance(frame, dd.DataFrame):
        raise CausalInputError(f"The data source must be a dask.dataframe.DataFrame; got {type(frame).__name__}.")
    sizes = tuple(int(s) for s in frame.map_partitions(len).compute(scheduler="sync"))
    return DaskSource(frame=frame, path=str(name), n_rows=int(sum(sizes)), columns=tuple(map(str, frame.columns)),
                      types=tuple(_duckdb_type(t) for t in frame.dtypes), partition_sizes=sizes)
