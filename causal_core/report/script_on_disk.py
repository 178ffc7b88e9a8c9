"""A standalone Python script that repeats an analysis of a table kept on disk (a file or a DuckDB query).

The in-memory script (:mod:`causal_core.report.script`) reads the data into
pandas; a table too large for memory is instead reopened where it lies
(``open_table`` on its path, or ``open_query`` on the query with its data
folder) and every method goes through the same
:func:`causal_core.outofcore.large_run.run_large` the app ran: streamed over
all rows where the method has a streamed form, else on the same seeded sample.
So the script prints the app's numbers. The row count is checked against the
saved one instead of a fingerprint (hashing the whole table would read it
once more).

Every user string (path, query, data folder, names, options) is written only
as a ``repr`` literal in code position, through the literal writers of
:mod:`causal_core.report.script`; the script is parsed before it is returned.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

from causal_core.core.errors import CausalInputError
from causal_core.report.analysis_file import AnalysisSpec
from causal_core.report.script import (PRINTED_COLUMNS, _backend_lines, _check_parses, _literal_one_line, _plain,
                                       _python_literal, _roles_literal, plain_options)

__all__ = ["on_disk_reproduction_script"]


def _source_lines(table: Any) -> list[str]:
    """Code that defines ``source``: the file or folder by path, or the query with its data folder."""
    kind = getattr(table, "kind", None)
    if kind == "query":
        root = getattr(table, "data_root", None)
        return ["from causal_core.outofcore import open_query",
                "",
                f"QUERY = {_literal_one_line(_plain(table.path, 'query'))}",
                f"DATA_FOLDER = {_literal_one_line(_plain(root, 'data_folder'))}  # files the query may read",
                "source = open_query(QUERY, data_root=DATA_FOLDER)"]
    if kind in ("parquet", "csv"):
        return ["from causal_core.outofcore import open_table",
                "",
                f"TABLE_PATH = {_literal_one_line(_plain(table.path, 'path'))}",
                "source = open_table(TABLE_PATH)  # read where it lies, never loaded whole"]
    raise CausalInputError("The reproduction script reads a table on disk from a Parquet/CSV path or a DuckDB "
                           f"query; this table is {type(table).__name__}.")


def on_disk_reproduction_script(spec: AnalysisSpec, table: Any, *, n_rows: int, sample_rows: int,
                                compute: Mapping[str, Any] | None = None) -> str:
    """Python source of a script that repeats ``spec`` on the table on disk and prints its results table.

    ``table`` is the :class:`causal_core.outofcore.TableSource` the app ran on,
    ``n_rows`` its row count and ``sample_rows`` the size of the seeded sample
    the methods without a streamed form ran on.
    """
    if not isinstance(spec, AnalysisSpec):
        raise CausalInputError(f"The reproduction script needs an AnalysisSpec; got {type(spec).__name__}.")
    options = plain_options(spec)
    today = _dt.date.today().isoformat()
    lines = [
        "#!/usr/bin/env python",
        '"""Reproduce a causal analysis of a table kept on disk, made with the causal inference workbench.',
        "",
        f"Written {today}; DATA_NAME, APP_VERSION and ENGINE_VERSION below name the data and the versions.",
        "Run it from the workbench repository root (or with causal_core on PYTHONPATH) on a machine that sees",
        "the same files:",
        "",
        "    python this_script.py",
        '"""',
        f"DATA_NAME = {_literal_one_line(_plain(spec.data_name, 'data_name'))}",
        f"APP_VERSION = {_literal_one_line(_plain(spec.app_version, 'app_version'))}",
        f"ENGINE_VERSION = {_literal_one_line(_plain(spec.engine_version, 'engine_version'))}",
        "",
        "import os",
        "import sys",
        "",
        "import pandas as pd",
        "",
        "try:",
        "    import causal_core as cc",
        "except ImportError:  # run from the repository root without installing the package",
        "    sys.path.insert(0, os.getcwd())",
        "    import causal_core as cc",
        "from causal_core.outofcore.large_run import run_large",
        "",
        *_backend_lines(compute),
        'pd.set_option("display.width", 250)',
        'pd.set_option("display.max_columns", None)',
        "",
        *_source_lines(table),
        f"EXPECTED_ROWS = {_literal_one_line(_plain(int(n_rows), 'n_rows'))}",
        "if source.n_rows != EXPECTED_ROWS:",
        '    print(f"Warning: the table has {source.n_rows} rows, the analysis had {EXPECTED_ROWS}; the numbers may "',
        '          "differ.", file=sys.stderr)',
        "",
        f"roles = {_roles_literal(spec.roles)}",
        f"methods = {_python_literal(list(spec.methods), field='methods')}",
        f"options = {_python_literal(options, field='method_options')}",
        f"ESTIMAND = {_literal_one_line(_plain(spec.estimand, 'estimand'))}",
        f"SEED = {_literal_one_line(_plain(spec.seed, 'seed'))}",
        f"SAMPLE_ROWS = {_literal_one_line(_plain(int(sample_rows), 'sample_rows'))}  # methods without a streamed form",
        "",
        "# Streamed over every row where the method can be, else on the same seeded DuckDB sample, as in the app",
        "run = run_large(source, roles, methods, estimand=ESTIMAND, seed=SEED, options=options, "
        "sample_rows=SAMPLE_ROWS)",
        "for method, error in zip(run.table['method'], run.table['error'].fillna('')):",
        "    if error:",
        '        print(f"{method}: failed: {error}", file=sys.stderr)',
        f"table = run.table.reindex(columns={list(PRINTED_COLUMNS)!r})",
        'print("## Results")',
        'print(table.to_string(index=False, float_format=lambda v: f"{v:.17g}"))',
        "print()",
        'print("How each method used the table:")',
        "for method, note in run.notes.items():",
        '    print(f"- {method}: {note}")',
        "",
    ]
    script = "\n".join(lines)
    _check_parses(script)
    return script
