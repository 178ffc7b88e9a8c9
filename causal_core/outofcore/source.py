"""Tables too large for memory, opened through DuckDB: profile, preview, seeded samples, fixed partitions.

A :class:`TableSource` names a Parquet file, a folder of Parquet files or a
CSV file; nothing is loaded when it is opened. Everything else is SQL that
DuckDB runs over the file in bounded memory:

* :func:`profile` — per column: type, missing values, distinct values;
* :func:`preview` — the first rows;
* :func:`sample` — a seeded sample (``USING SAMPLE reservoir(n ROWS) REPEATABLE(seed)``), the same rows for
  the same seed, for the methods that have no streamed form;
* :func:`partitions` — the table in fixed, ordered partitions of ``rows`` rows each, for the streamed
  estimators; :func:`partition_plan` lists them as row ranges that :func:`read_partition` reads on its own
  (a cluster worker reads its partition from the file itself). Parquet partitions are read by pyarrow from
  the row groups that hold the range (files of a folder in sorted path order, as DuckDB reads them), CSV
  partitions by DuckDB in file order.

Paths typed by a user are resolved under a configured data folder
(:func:`resolve_under`); anything outside it is refused. A Dask dataframe
(:func:`causal_core.outofcore.dask_source.from_dask`) is read through the same
three functions, which hand it to its own methods.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd

from causal_core.core.errors import CausalInputError

__all__ = ["TableSource", "open_table", "resolve_under", "profile", "preview", "sample", "partitions",
           "distinct_values", "Partition", "partition_plan", "read_partition", "DEFAULT_PARTITION_ROWS"]

#: Rows per partition of a streamed pass: 250k rows × 12 float64 columns is about 24 MB per partition.
DEFAULT_PARTITION_ROWS = 250_000
#: DuckDB's own memory cap while it scans (it spills to disk beyond it).
DUCKDB_MEMORY_LIMIT = "1GB"
#: DuckDB's buffer pool during a streamed pass (peak memory flat in n: 410 MiB at 3M rows, 423 MiB at 6M).
STREAM_MEMORY_LIMIT = "256MB"


@dataclass(frozen=True)
class TableSource:
    """A table on disk, by path; ``n_rows`` and ``columns`` come from DuckDB without loading the data."""

    path: str
    kind: str  # "parquet" or "csv"
    n_rows: int
    columns: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def relation(self) -> str:
        """The SQL table expression that reads the file (the path as a quoted SQL literal)."""
        literal = "'" + self.path.replace("'", "''") + "'"
        if self.kind == "csv":
            return f"read_csv_auto({literal})"
        pattern = "'" + os.path.join(self.path, "**", "*.parquet").replace("'", "''") + "'" \
            if os.path.isdir(self.path) else literal
        return f"read_parquet({pattern})"


def _connect():
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = true")
    return con


def _quote(column: str) -> str:
    return '"' + str(column).replace('"', '""') + '"'


def resolve_under(typed: str, data_root: str | os.PathLike) -> Path:
    """The path ``typed`` inside ``data_root``; refuse anything that resolves outside it (``..``, links, absolute)."""
    root = Path(data_root).resolve()
    candidate = (root / typed).resolve()
    if candidate != root and root not in candidate.parents:
        raise CausalInputError(
            f"Path {typed!r} is outside the data folder {str(root)!r}; only files under it can be opened."
        )
    if not candidate.exists():
        raise CausalInputError(f"Path {typed!r} does not exist in the data folder {str(root)!r}.")
    return candidate


def open_table(path: str | os.PathLike, *, data_root: str | os.PathLike | None = None) -> TableSource:
    """Open a Parquet file, a folder of Parquet files or a CSV file without loading it."""
    resolved = resolve_under(str(path), data_root) if data_root is not None else Path(path)
    if not resolved.exists():
        raise CausalInputError(f"Path {str(path)!r} does not exist.")
    if resolved.is_dir():
        if not any(resolved.rglob("*.parquet")):
            raise CausalInputError(f"Folder {str(path)!r} holds no .parquet files.")
        kind = "parquet"
    elif resolved.suffix.lower() == ".parquet":
        kind = "parquet"
    elif resolved.suffix.lower() in (".csv", ".txt"):
        kind = "csv"
    else:
        raise CausalInputError(f"File {str(path)!r} is neither Parquet nor CSV; large tables open from those two.")
    probe = TableSource(str(resolved), kind, 0, (), ())
    con = _connect()
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {probe.relation}").fetchall()
        n_rows = con.execute(f"SELECT count(*) FROM {probe.relation}").fetchone()[0]
    except Exception as exc:  # duckdb.Error subclasses; the message names the file and the problem
        raise CausalInputError(f"Could not read {str(path)!r} as {kind}: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    return TableSource(str(resolved), kind, int(n_rows), tuple(r[0] for r in described),
                       tuple(str(r[1]) for r in described))


def _check_columns(source: TableSource, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in source.columns]
    if missing:
        raise CausalInputError(f"Column '{missing[0]}' is not in {source.path!r}.")


def profile(source: TableSource) -> pd.DataFrame:
    """One row per column: DuckDB type, missing values and distinct values (approximate above 100k)."""
    con = _connect()
    try:
        rows = []
        for column, kind in zip(source.columns, source.types):
            q = _quote(column)
            missing, distinct = con.execute(
                f"SELECT count(*) - count({q}), approx_count_distinct({q}) FROM {source.relation}").fetchone()
            rows.append({"column": column, "type": kind, "missing": int(missing), "distinct": int(distinct)})
    finally:
        con.close()
    return pd.DataFrame(rows)


def preview(source: TableSource, n: int = 20) -> pd.DataFrame:
    """The first ``n`` rows, in file order."""
    con = _connect()
    try:
        return con.execute(f"SELECT * FROM {source.relation} LIMIT {int(n)}").df()
    finally:
        con.close()


def distinct_values(source: TableSource, column: str, limit: int = 51) -> list:
    """Distinct non-missing values of ``column`` (at most ``limit``), sorted as text."""
    if not isinstance(source, TableSource):  # another source (a Dask dataframe) reads itself
        return source.distinct_values(column, limit)
    _check_columns(source, [column])
    con = _connect()
    try:
        q = _quote(column)
        values = [r[0] for r in con.execute(
            f"SELECT DISTINCT {q} FROM {source.relation} WHERE {q} IS NOT NULL LIMIT {int(limit)}").fetchall()]
    finally:
        con.close()
    return sorted(values, key=str)


def sample(source: TableSource, n: int, seed: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A seeded simple random sample of ``n`` rows (all rows if the table is smaller), the same for the same seed.

    The sample is drawn with one DuckDB thread: ``REPEATABLE`` promises the same
    rows only when the scan is not split over threads.
    """
    if not isinstance(source, TableSource):  # another source (a Dask dataframe) draws its own seeded sample
        return source.sample(n, seed, columns)
    columns = list(columns) if columns is not None else list(source.columns)
    _check_columns(source, columns)
    if n >= source.n_rows:
        return next(iter(partitions(source, columns, rows=max(source.n_rows, 1))), pd.DataFrame(columns=columns))
    con = _connect()
    try:
        con.execute("SET threads = 1")
        select = ", ".join(_quote(c) for c in columns)
        return con.execute(f"SELECT {select} FROM {source.relation} "
                           f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE ({int(seed)})").df()
    finally:
        con.close()


@dataclass(frozen=True)
class Partition:
    """Rows ``start`` to ``stop`` (excluded) of a table; for Parquet, where they lie: (file, row group, skip, take)."""

    index: int
    start: int
    stop: int
    pieces: tuple[tuple[str, int, int, int], ...] = ()


def _parquet_files(source: TableSource) -> list[str]:
    if not os.path.isdir(source.path):
        return [source.path]
    return sorted(str(p) for p in Path(source.path).rglob("*.parquet"))


def partition_plan(source: TableSource, rows: int = DEFAULT_PARTITION_ROWS) -> tuple[Partition, ...]:
    """The fixed partitions of ``rows`` rows (the last may be shorter), in file order; the same on every backend."""
    rows = int(rows)
    bounds = [(i, start, min(start + rows, source.n_rows)) for i, start in enumerate(range(0, source.n_rows, rows))]
    if source.kind != "parquet":
        return tuple(Partition(i, a, b) for i, a, b in bounds)
    import pyarrow.parquet as pq

    groups, offset = [], 0  # (file, row group, first row, last row + 1) in table order
    for path in _parquet_files(source):
        metadata = pq.ParquetFile(path).metadata
        for g in range(metadata.num_row_groups):
            n = metadata.row_group(g).num_rows
            groups.append((path, g, offset, offset + n))
            offset += n
    plan = []
    for i, a, b in bounds:
        pieces = tuple((path, g, max(a, lo) - lo, min(b, hi) - max(a, lo))
                       for path, g, lo, hi in groups if lo < b and hi > a)
        plan.append(Partition(i, a, b, pieces))
    return tuple(plan)


def read_partition(source: TableSource, columns: Sequence[str], part: Partition) -> pd.DataFrame:
    """The chosen columns of one partition, read from the file without reading the rest of the table.

    A Parquet partition is read row group by row group (pyarrow decodes whole
    column chunks), so its memory is set by the larger of the partition and
    the file's row groups (pyarrow writes at most 1Mi rows a group), never by
    the number of rows in the table.
    """
    columns = list(columns)
    if source.kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables, files = [], {}
        for path, group, skip, take in part.pieces:
            handle = files.get(path) or files.setdefault(path, pq.ParquetFile(path))
            tables.append(handle.read_row_group(group, columns=columns).slice(skip, take))
        if not tables:
            return pd.DataFrame(columns=columns)
        return pa.concat_tables(tables, promote_options="default").to_pandas().reset_index(drop=True)
    con = _connect()
    try:
        con.execute("SET threads = 1")  # one thread: DuckDB then reads the CSV in file order
        select = ", ".join(_quote(c) for c in columns)
        return con.execute(f"SELECT {select} FROM {source.relation} LIMIT {part.stop - part.start} "
                           f"OFFSET {part.start}").df()
    finally:
        con.close()


def _fetched_chunks(result: Any, vectors: int) -> Iterator[pd.DataFrame]:
    """A DuckDB result's chunks of ``vectors`` vectors each, until its empty end."""
    while not (frame := result.fetch_df_chunk(vectors)).empty:
        yield frame


def recut(pieces: Iterator[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Consecutive frames of exactly ``rows`` rows (the last may be shorter) from ``pieces`` of any length."""
    pending: list[pd.DataFrame] = []
    held = 0
    for piece in pieces:
        if not len(piece):
            continue
        pending.append(piece)
        held += len(piece)
        while held >= rows:
            whole = pd.concat(pending, ignore_index=True)
            yield whole.iloc[:rows].reset_index(drop=True)
            rest = whole.iloc[rows:].reset_index(drop=True)
            pending, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield pd.concat(pending, ignore_index=True)


def partitions(source: TableSource, columns: Sequence[str], rows: int = DEFAULT_PARTITION_ROWS
               ) -> Iterator[pd.DataFrame]:
    """The chosen columns in consecutive partitions of ``rows`` rows (the last may be shorter), in file order.

    The partitions are those of :func:`partition_plan`; Parquet ones are read by
    :func:`read_partition` (as a cluster worker reads them), a CSV is streamed
    through one DuckDB scan and cut at the same row numbers.
    """
    if not isinstance(source, TableSource):  # another source (a Dask dataframe) cuts its own, in its order
        yield from source.partitions(columns, rows)
        return
    _check_columns(source, columns)
    if source.kind == "parquet":
        for part in partition_plan(source, rows):
            yield read_partition(source, columns, part)
        return
    con = _connect()
    try:
        # one thread and a small buffer pool: the scan then streams in file order and its memory stays flat in n
        # (with several threads DuckDB buffers results to keep their order; measured 451 vs 281 MiB at 3M rows)
        con.execute("SET threads = 1")
        con.execute(f"SET memory_limit = '{STREAM_MEMORY_LIMIT}'")
        select = ", ".join(_quote(c) for c in columns)
        result = con.execute(f"SELECT {select} FROM {source.relation}")
        vectors = max(1, -(-int(rows) // 2048))  # DuckDB hands out rows in vectors of 2,048
        # re-cut so partitions are exactly ``rows`` long, whatever DuckDB's batch sizes
        yield from recut(_fetched_chunks(result, vectors), rows)
    finally:
        con.close()
