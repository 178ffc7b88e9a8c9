"""A standalone Python script that repeats an analysis with :mod:`causal_core`.

The script reads the data (a file path or a bundled sample id), checks its
fingerprint against the saved one, runs :func:`causal_core.compare` with the
saved roles, estimand, methods, options and seed, and prints the results
table.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import pprint
from pathlib import PurePath

from ..errors import CausalInputError
from ..roles import Roles
from ..table_reader import SUPPORTED_EXTENSIONS
from .analysis_file import AnalysisSpec

__all__ = ["reproduction_script", "PRINTED_COLUMNS"]

#: Columns of the results table the script prints, in order.
PRINTED_COLUMNS = ("method", "estimand", "estimate", "std_error", "ci_low", "ci_high", "n_used")


def _is_sample_id(source: str) -> bool:
    from ..samples import get_sample

    if os.sep in source or "/" in source or PurePath(source).suffix:
        return False
    try:
        get_sample(source)
    except CausalInputError:
        return False
    return True


def _loader_lines(source: str) -> list[str]:
    """Code that defines ``df``: a bundled sample or a data file beside the script (or at an absolute path)."""
    if _is_sample_id(source):
        return [
            "from causal_core.samples import load_sample",
            "",
            f"DATA_SOURCE = {source!r}  # a sample bundled with the workbench",
            "df = load_sample(DATA_SOURCE)",
        ]
    suffix = PurePath(source).suffix.lower().lstrip(".")
    if suffix not in SUPPORTED_EXTENSIONS:
        raise CausalInputError(
            f"Data file '{source}' has extension '.{suffix}'; the script reads "
            f"{', '.join('.' + e for e in SUPPORTED_EXTENSIONS)} files or a sample id."
        )
    return [
        "from causal_core.table_reader import read_table",
        "",
        f"DATA_FILE = Path({source!r})",
        "if not DATA_FILE.is_absolute():  # a relative path is looked up beside this script",
        "    DATA_FILE = Path(__file__).resolve().parent / DATA_FILE",
        "if not DATA_FILE.is_file():",
        '    sys.exit(f"Data file {DATA_FILE} not found; put the data beside this script or edit DATA_FILE.")',
        "df = read_table(DATA_FILE.read_bytes(), DATA_FILE.name)  # the app's own reader",
    ]


def _python_literal(value: object) -> str:
    """A Python literal for plain JSON-like data, wrapped for readability."""
    return pprint.pformat(value, indent=4, width=100, sort_dicts=False)


def _roles_literal(roles: Roles) -> str:
    parts = []
    for name, value in roles.to_dict().items():
        if value in (None, []) and name != "treatment":
            continue
        parts.append(f"    {name}={value!r},")
    return "cc.Roles(\n" + "\n".join(parts) + "\n)"


def reproduction_script(spec: AnalysisSpec, data_path_or_sample_id: str | os.PathLike[str]) -> str:
    """Python source of a script that repeats the analysis and prints its results table.

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis (roles, estimand, methods, options, seed and the data fingerprint).
    data_path_or_sample_id : str or path
        A data file that :func:`causal_core.table_reader.read_table` reads
        (CSV/TSV, Excel, Parquet; a relative path is looked up beside the
        script), read exactly as the app reads an upload, or the id of a bundled
        sample (see :func:`causal_core.samples.list_samples`).

    Returns
    -------
    str
        The script. Run it with ``causal_core`` importable (from the workbench
        repository root, or with the repository on ``PYTHONPATH``); it prints
        one row per method with full-precision numbers.
    """
    if not isinstance(spec, AnalysisSpec):
        raise CausalInputError(f"reproduction_script needs an AnalysisSpec; got {type(spec).__name__}.")
    source = os.fspath(data_path_or_sample_id)
    if not source:
        raise CausalInputError("The data path or sample id for the script is empty; name a data file or a sample.")
    options = {m: dict(o) for m, o in spec.method_options.items() if o}
    # JSON round trip turns numpy scalars and tuples into plain literals
    options = json.loads(json.dumps(options, default=lambda v: v.item() if hasattr(v, "item") else list(v)))
    today = _dt.date.today().isoformat()
    lines = [
        "#!/usr/bin/env python",
        f'"""Reproduce the causal analysis of {spec.data_name!r} made with the causal inference workbench.',
        "",
        f"Written {today} by app {spec.app_version}, causal_core {spec.engine_version}.",
        "Run it from the workbench repository root (or with causal_core on PYTHONPATH):",
        "",
        "    python this_script.py",
        '"""',
        "import hashlib",
        "import os",
        "import sys",
        "from pathlib import Path",
        "",
        "import pandas as pd",
        "",
        "try:",
        "    import causal_core as cc",
        "except ImportError:  # run from the repository root without installing the package",
        "    sys.path.insert(0, os.getcwd())",
        "    try:",
        "        import causal_core as cc",
        "    except ImportError:",
        '        sys.exit("causal_core is not importable: run this script from the workbench repository root.")',
        "",
        *_loader_lines(source),
        "",
        f"EXPECTED_ROWS = {spec.n_rows}",
        f"EXPECTED_SHA256 = {spec.data_sha256!r}",
        'fingerprint = hashlib.sha256(df.to_csv(index=False, lineterminator="\\n").encode("utf-8")).hexdigest()',
        "if df.shape[0] != EXPECTED_ROWS or fingerprint != EXPECTED_SHA256:",
        "    print(",
        '        f"Warning: this data ({df.shape[0]} rows) differs from the data the analysis was saved with "',
        '        f"({EXPECTED_ROWS} rows); the numbers may differ.",',
        "        file=sys.stderr,",
        "    )",
        "",
        f"roles = {_roles_literal(spec.roles)}",
        f"methods = {_python_literal(list(spec.methods))}",
        f"options = {_python_literal(options)}",
        "",
        "table = cc.compare(",
        "    df,",
        "    roles,",
        "    methods=methods,",
        f"    estimand={spec.estimand!r},",
        f"    seed={spec.seed!r},",
        "    options=options,",
        ")",
        "",
        'pd.set_option("display.width", 200)',
        f"columns = {list(PRINTED_COLUMNS)!r}",
        'print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.12g}"))',
        "for row in table.itertuples():",
        "    if row.error:",
        '        print(f"{row.method}: failed: {row.error}", file=sys.stderr)',
        "    elif row.warnings:",
        '        print(f"{row.method}: {row.warnings}", file=sys.stderr)',
        "",
    ]
    return "\n".join(lines)
