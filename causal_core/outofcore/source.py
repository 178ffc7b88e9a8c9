"""Tables too large for memory, opened through DuckDB: profile, preview, seeded samples, fixed partitions.

A :class:`TableSource` names a Parquet file, a folder of Parquet files, a
CSV file (:func:`open_table`) or a DuckDB ``SELECT`` over such files
(:func:`open_query`); nothing is loaded when it is opened. Everything else is SQL that
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

import atexit
import functools
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd

from causal_core.core.errors import CausalInputError

__all__ = ["TableSource", "open_table", "open_query", "MAX_QUERY_CHARS", "resolve_under", "profile", "preview", "sample", "partitions",
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

    path: str  # the file or folder; for a query, the query's text
    kind: str  # "parquet", "csv" or "query"
    n_rows: int
    columns: tuple[str, ...]
    types: tuple[str, ...]
    #: For a query: the folder its files must lie in (DuckDB refuses any other file), or None for no restriction.
    data_root: str | None = None

    @property
    def relation(self) -> str:
        """The SQL table expression that reads the file (the path as a quoted SQL literal), or the query."""
        if self.kind == "query":  # DuckDB's query() parses the text itself, as one SELECT: never pasted into SQL
            return f"query({_literal(self.path)})"
        literal = "'" + self.path.replace("'", "''") + "'"
        if self.kind == "csv":
            return f"read_csv_auto({literal})"
        pattern = "'" + os.path.join(self.path, "**", "*.parquet").replace("'", "''") + "'" \
            if os.path.isdir(self.path) else literal
        return f"read_parquet({pattern})"


def _connect(source: "TableSource | None" = None, *, threads: int | None = None,
             memory_limit: str = DUCKDB_MEMORY_LIMIT):
    """A fresh in-memory DuckDB connection; for a query source restricted to reading files under its data folder.

    The settings come first: a query's connection is then sandboxed
    (``allowed_directories`` plus ``enable_external_access = false``, so no file
    outside the folder can be read, no extension installed or loaded) and its
    configuration locked, so nothing the query does can undo that. DuckDB also
    allows its spill folder, so a query connection spills into a fresh folder of
    its own, never the shared default (``.tmp`` under the working directory,
    where the app's other connections spill other sessions' rows). A query
    opened in code without a data folder reads any file, but its configuration
    is locked all the same.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = true")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if source is not None and source.kind == "query":
        # DuckDB adds its spill folder to the allowed ones; the default (".tmp" under the server's working
        # directory) is where every other connection of the app spills, so a query gets a folder of its own
        con.execute(f"SET temp_directory = {_literal(_private_spill_folder())}")
        if source.data_root is not None:
            root = str(Path(source.data_root).resolve()).rstrip(os.sep) + os.sep
            con.execute(f"SET allowed_directories = [{_literal(root)}]")
            con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


@functools.lru_cache(maxsize=1)
def _spill_parent() -> str:
    """This process's private parent of the query connections' spill folders (mode 0700, removed at exit)."""
    parent = tempfile.mkdtemp(prefix="causal_query_spill_")
    atexit.register(shutil.rmtree, parent, ignore_errors=True)
    return parent


def _private_spill_folder() -> str:
    """A fresh path for one connection's spill files: DuckDB creates it when it spills and removes it on close."""
    return os.path.join(_spill_parent(), uuid.uuid4().hex)


def _literal(text: str) -> str:
    """``text`` as a quoted SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


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


#: Longest query text accepted (characters).
MAX_QUERY_CHARS = 100_000
#: Longest a query may run when it is opened (its columns and a count of its rows), in seconds.
OPEN_QUERY_SECONDS = 120.0


def open_query(sql: str, *, data_root: str | os.PathLike | None = None) -> TableSource:
    """A DuckDB ``SELECT`` over Parquet/CSV files as a table source, without loading its result.

    The query is one read-only statement (``SELECT``, ``WITH ... SELECT``,
    ``FROM ...`` or ``VALUES``), checked by DuckDB's own parser: a second
    statement, ``COPY``, ``ATTACH``, ``INSTALL``, ``LOAD``, ``PRAGMA``, ``SET``,
    ``CREATE`` and the rest are refused. With ``data_root`` (always, in the app)
    every connection that runs it may read files under that folder only
    (DuckDB's ``allowed_directories`` with external access off, the
    configuration locked), so a query naming ``/etc/passwd`` or ``../other`` is
    refused by DuckDB itself. Files are named by absolute paths (DuckDB checks
    the path as written, so a relative one is refused under a data folder).

    Its rows are read in the order one DuckDB thread produces them, the same
    on every run and every worker (each read uses one thread); end the query
    with ``ORDER BY`` to fix that order by the data itself. A cluster worker
    reads its partition with ``LIMIT``/``OFFSET``, running the query up to its
    offset, so a pass of P partitions costs about (P + 1) / 2 runs of the query
    on a cluster against one serially (a 977k-row join of two Parquet files in
    4 partitions: 0.6-0.7 s of partition reads against 0.2-0.3 s for one scan).
    """
    import duckdb

    if not isinstance(sql, str) or not sql.strip():
        raise CausalInputError("The query is empty; write one SELECT statement over your Parquet or CSV files.")
    if len(sql) > MAX_QUERY_CHARS:
        raise CausalInputError(f"The query has {len(sql):,} characters; at most {MAX_QUERY_CHARS:,} are accepted.")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise CausalInputError(f"The query could not be parsed: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise CausalInputError(f"The query holds {len(statements)} statements; give exactly one SELECT statement.")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise CausalInputError(f"Only a read-only SELECT statement is run; this query is of type "
                               f"{statement.type.name}.")
    text = _as_subquery(statement.query.strip())
    root = None
    if data_root is not None:
        root_path = Path(data_root).resolve()
        if not root_path.is_dir():
            raise CausalInputError(f"The data folder {str(data_root)!r} does not exist.")
        root = str(root_path)
    probe = TableSource(text, "query", 0, (), (), root)
    con = _connect(probe)
    timer = threading.Timer(OPEN_QUERY_SECONDS, con.interrupt)  # a runaway query must not hold the server
    timer.start()
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {probe.relation}").fetchall()
        n_rows = con.execute(f"SELECT count(*) FROM {probe.relation}").fetchone()[0]
    except duckdb.InterruptException:
        raise CausalInputError(f"Counting the query's rows took over {OPEN_QUERY_SECONDS:g} s; simplify it "
                               "(the estimators read it several times) or write its result to Parquet first.") from None
    except duckdb.PermissionException:
        raise CausalInputError(f"The query reads a file outside the data folder {root!r}; only files under it "
                               "can be read.") from None
    except duckdb.Error as exc:
        raise CausalInputError(f"The query could not be run: {str(exc).splitlines()[0]}") from None
    finally:
        timer.cancel()
        con.close()
    return TableSource(text, "query", int(n_rows), tuple(r[0] for r in described),
                       tuple(str(r[1]) for r in described), root)


def _as_subquery(text: str) -> str:
    """The statement's text without its terminating semicolon, checked to parse as ``SELECT * FROM (text)``.

    The semicolon may be followed by a comment, so the last one is dropped only
    when the query then still parses as one subquery (DuckDB's parser decides,
    so a semicolon inside a string literal is left alone).
    """
    import duckdb

    candidates = [text]
    if ";" in text:
        cut = text.rindex(";")
        candidates.append(text[:cut] + text[cut + 1:])
    for candidate in candidates:
        try:
            parsed = duckdb.extract_statements(f"SELECT * FROM (\n{candidate}\n)")
        except duckdb.Error:
            continue
        if len(parsed) == 1 and parsed[0].type == duckdb.StatementType.SELECT:
            return candidate.strip()
    raise CausalInputError("The query cannot be read as a table: write it as one SELECT statement "
                           "(a SELECT, WITH ... SELECT, FROM ... or VALUES).")


def _check_columns(source: TableSource, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in source.columns]
    if missing:
        raise CausalInputError(f"Column '{missing[0]}' is not in {source.path!r}.")


def profile(source: TableSource) -> pd.DataFrame:
    """One row per column: DuckDB type, missing values and distinct values (approximate above 100k)."""
    con = _connect(source)
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
    con = _connect(source)
    try:
        return con.execute(f"SELECT * FROM {source.relation} LIMIT {int(n)}").df()
    finally:
        con.close()


def distinct_values(source: TableSource, column: str, limit: int = 51) -> list:
    """Distinct non-missing values of ``column`` (at most ``limit``), sorted as text."""
    if not isinstance(source, TableSource):  # another source (a Dask dataframe) reads itself
        return source.distinct_values(column, limit)
    _check_columns(source, [column])
    con = _connect(source)
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
    con = _connect(source, threads=1)
    try:
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
    con = _connect(source, threads=1)  # one thread: DuckDB then reads the CSV (or the query) in its order
    try:
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
    # one thread and a small buffer pool: the scan then streams in file order and its memory stays flat in n
    # (with several threads DuckDB buffers results to keep their order; measured 451 vs 281 MiB at 3M rows)
    con = _connect(source, threads=1, memory_limit=STREAM_MEMORY_LIMIT)
    try:
        select = ", ".join(_quote(c) for c in columns)
        result = con.execute(f"SELECT {select} FROM {source.relation}")
        vectors = max(1, -(-int(rows) // 2048))  # DuckDB hands out rows in vectors of 2,048
        # re-cut so partitions are exactly ``rows`` long, whatever DuckDB's batch sizes
        yield from recut(_fetched_chunks(result, vectors), rows)
    finally:
        con.close()
