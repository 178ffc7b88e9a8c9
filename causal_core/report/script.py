"""A standalone Python script that repeats an analysis with :mod:`causal_core`.

The script reads the data (a file path or a bundled sample id), checks its
fingerprint against the saved one, runs every method with the saved roles,
estimand, options and seed, and prints the results table; then the agreement
across methods and the sensitivity of each estimate to unmeasured
confounding, and the refutation tests and method lab with their saved
settings when the analyst ran them.

The output is a series of sections, each a ``## title`` line followed by a
table (full-precision numbers, ``NaN`` where a number does not apply) or by
sentences; a blank line ends a section.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import pprint
from pathlib import PurePath
from typing import Any, Mapping

from causal_core.core.errors import CausalInputError
from causal_core.core.roles import Roles
from causal_core.datasets.table_reader import SUPPORTED_EXTENSIONS
from causal_core.report.analysis_file import AnalysisSpec

__all__ = ["reproduction_script", "analysis_compute", "PRINTED_COLUMNS", "REFUTATION_COLUMNS", "LAB_COLUMNS"]

#: Columns of the results table the script prints, in order.
PRINTED_COLUMNS = ("method", "estimand", "estimate", "std_error", "ci_low", "ci_high", "n_used")
#: Columns of the refutation table the script prints (``RefutationResult.summary`` keys plus ``method``).
REFUTATION_COLUMNS = ("method", "test", "passed", "original", "expected", "refuted_mean", "refuted_sd", "p_value")
#: Columns of the method-lab table the script prints.
LAB_COLUMNS = ("method", "n_ok", "bias", "rmse", "coverage", "mean_std_error", "sd_estimate")


def _is_sample_id(source: str) -> bool:
    from causal_core.datasets.samples import get_sample

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
            "from causal_core.datasets.samples import load_sample",
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
        "from causal_core.datasets.table_reader import read_table",
        "",
        f"DATA_FILE = Path({source!r})",
        "if not DATA_FILE.is_absolute():  # a relative path is looked up beside this script",
        "    DATA_FILE = Path(__file__).resolve().parent / DATA_FILE",
        "if not DATA_FILE.is_file():",
        '    sys.exit(f"Data file {DATA_FILE} not found; put the data beside this script or edit DATA_FILE.")',
        "df = read_table(DATA_FILE.read_bytes(), DATA_FILE.name)  # the app's own reader",
    ]


def _is_plain(value: object) -> bool:
    """True for JSON-like data (str, int, float, bool, None, and lists, tuples and str-keyed dicts of them)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _has_special_float(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_has_special_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_special_float(v) for v in value.values())
    return False


def _literal_one_line(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal_one_line(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(_literal_one_line(v) + ", " for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_literal_one_line(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _python_literal(value: object, *, field: str = "value") -> str:
    """A Python literal for plain JSON-like data, wrapped for readability.

    Every string, whatever it holds (quotes, newlines, braces, code), becomes a
    ``repr`` literal in code position, so it can never run or break the script.
    """
    if not _is_plain(value):
        raise CausalInputError(
            f"The analysis field '{field}' holds a {type(value).__name__}; the script can only write numbers, "
            "strings, booleans and lists or dicts of them."
        )
    if _has_special_float(value):
        return _literal_one_line(value)
    return pprint.pformat(value, indent=4, width=100, sort_dicts=False)


def _roles_literal(roles: Roles) -> str:
    parts = []
    for name, value in roles.to_dict().items():
        if value in (None, []) and name != "treatment":
            continue
        parts.append(f"    {name}={_literal_one_line(_plain(value, f'roles.{name}'))},")
    return "cc.Roles(\n" + "\n".join(parts) + "\n)"


def _plain(value: object, field: str) -> object:
    """``value`` itself when it is JSON-like data, else a one-sentence error naming the field."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, tuple, dict, str)):
        value = value.item()  # numpy scalars
    _python_literal(value, field=field)
    return value


def _robustness_lines(spec: AnalysisSpec) -> list[str]:
    """Code that reruns the robustness checks: agreement and sensitivity always, the rest when saved."""
    lines = [
        "",
        "# Do the estimators agree? (needs two or more finite estimates)",
        "usable = {m: r for m, r in results.items() if all(map(math.isfinite, (r.estimate, r.ci_low, r.ci_high)))}",
        "if sum(not cc.get_method(r.method).unadjusted for r in usable.values()) >= 2:  # the naive contrast does not count",
        "    agreement = cc.agreement_summary(usable)",
        '    show("Agreement across estimators", agreement.table)',
        "    print(agreement.verdict)",
        "    print()",
        "",
        "# Sensitivity of each estimate to unmeasured confounding: E-value, omitted-variable bias, Rosenbaum bounds",
        "sensitivity = {}",
        "for method, result in results.items():",
        "    try:",
        "        sensitivity[method] = cc.sensitivity_for_result(df, roles, result, options=options.get(method, {}))",
        "    except cc.CausalInputError as exc:",
        '        print(f"{method}: sensitivity analysis not computed: {exc}", file=sys.stderr)',
        'show("Sensitivity to unmeasured confounding", sensitivity_table(sensitivity))',
    ]
    refutations = {r.method: r for r in spec.refutations}
    if refutations:
        settings = {m: {"tests": list(r.tests), "n_repeats": r.n_repeats} for m, r in refutations.items()}
        lines += [
            "",
            "# Refutation tests, with the settings used in the app",
            f"refutation_settings = {_python_literal(settings, field='refutations')}",
            "rows = []",
            "for method, settings in refutation_settings.items():",
            "    if method not in results:",
            '        print(f"{method}: no estimate, so no refutation tests", file=sys.stderr)',
            "        continue",
            "    tests = cc.refute(df, roles, method, estimand=ESTIMAND, seed=SEED, options=options.get(method, {}),",
            '                      tests=settings["tests"], n_repeats=settings["n_repeats"])',
            '    rows += [{"method": method, **test.summary()} for test in tests]',
            "if rows:",
            f'    show("Refutation tests", pd.DataFrame(rows)[{list(REFUTATION_COLUMNS)!r}])',
        ]
    lab = spec.method_lab
    if lab is not None:
        lines += [
            "",
            "# Method lab: the estimators on outcomes simulated over this design, with the settings used in the app",
            "lab = cc.method_lab(",
            "    df,",
            "    roles,",
            f"    {_literal_one_line(_plain(list(lab.methods), 'method_lab.methods'))},",
            "    estimand=ESTIMAND,",
            f"    scenario={_literal_one_line(_plain(lab.scenario, 'method_lab.scenario'))},",
            f"    effect={_literal_one_line(_plain(lab.effect, 'method_lab.effect'))},",
            f"    confounding={_literal_one_line(_plain(lab.confounding, 'method_lab.confounding'))},",
            f"    n_replications={_literal_one_line(_plain(lab.n_replications, 'method_lab.n_replications'))},",
            "    seed=SEED,",
            f"    options={{m: options.get(m, {{}}) for m in {_literal_one_line(list(lab.methods))}}},",
            ")",
            f'show("Method lab", lab.table[{list(LAB_COLUMNS)!r}])',
            "print(lab.recommendation)",
            "print()",
        ]
    return lines


def analysis_compute(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where a run's results were computed (the first result's ``compute`` that is not serial), or None."""
    for result in results.values():
        compute = dict(getattr(result, "compute", None) or {})
        if compute.get("backend", "serial") != "serial":
            return compute
    return None


def plain_options(spec: AnalysisSpec) -> dict[str, dict[str, Any]]:
    """The analysis's non-empty method options as plain literals (a JSON round trip turns numpy scalars and
    tuples into numbers and lists), or a one-sentence error when an option is not plain data."""
    options = {m: dict(o) for m, o in spec.method_options.items() if o}
    try:
        return json.loads(json.dumps(options, default=lambda v: v.item() if hasattr(v, "item") else list(v)))
    except (TypeError, ValueError) as exc:
        raise CausalInputError(
            f"The method options cannot be written into the script ({exc}); use numbers, strings, booleans or lists."
        ) from None


def _backend_lines(compute: Mapping[str, Any] | None) -> list[str]:
    """The ``cc.set_backend(...)`` line of an analysis that ran on a Dask cluster (none for a serial run).

    The address comes from the analyst (or the cluster), so it is written only as a ``repr`` literal in code
    position; the comment above it is fixed text.
    """
    kind = (compute or {}).get("backend", "serial")
    if kind in (None, "serial"):
        return []
    if kind == "local":
        n_workers = (compute or {}).get("n_workers")
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise CausalInputError(f"The analysis field 'compute.n_workers' must be a positive integer; got "
                                   f"{n_workers!r}.")
        return ["# The analysis ran on a local Dask cluster; the numbers are the same serially (remove the line).",
                f"cc.set_backend('local', n_workers={int(n_workers)})", ""]
    if kind == "cluster":
        address = _plain((compute or {}).get("address"), "compute.address")
        if not isinstance(address, str) or not address:
            raise CausalInputError("The analysis field 'compute.address' must be the scheduler's address as text.")
        return ["# The analysis ran on an existing Dask cluster; the numbers are the same serially (remove the line).",
                f"cc.set_backend({_literal_one_line(address)})", ""]
    raise CausalInputError(f"The analysis field 'compute.backend' is {kind!r}; it must be serial, local or cluster.")


def reproduction_script(spec: AnalysisSpec, data_path_or_sample_id: str | os.PathLike[str], *,
                        compute: Mapping[str, Any] | None = None) -> str:
    """Python source of a script that repeats the analysis and prints its results table.

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis (roles, estimand, methods, options, seed and the data fingerprint).
    data_path_or_sample_id : str or path
        A data file that :func:`causal_core.datasets.table_reader.read_table` reads
        (CSV/TSV, Excel, Parquet; a relative path is looked up beside the
        script), read exactly as the app reads an upload, or the id of a bundled
        sample (see :func:`causal_core.datasets.samples.list_samples`).
    compute : mapping, optional
        Where the analysis ran: an :attr:`EstimateResult.compute` (``backend``, ``address``,
        ``n_workers``). On a Dask cluster the script sets the same backend
        (``cc.set_backend("local", n_workers=N)`` or the scheduler's address) before running the methods.

    Returns
    -------
    str
        The script. Run it with ``causal_core`` importable (from the workbench
        repository root, or with the repository on ``PYTHONPATH``); it prints
        one row per method with full-precision numbers, then the robustness
        sections (see the module docstring).
    """
    if not isinstance(spec, AnalysisSpec):
        raise CausalInputError(f"reproduction_script needs an AnalysisSpec; got {type(spec).__name__}.")
    source = os.fspath(data_path_or_sample_id)
    if not source:
        raise CausalInputError("The data path or sample id for the script is empty; name a data file or a sample.")
    options = plain_options(spec)
    today = _dt.date.today().isoformat()
    # No user string is ever written into the docstring or a comment: the data name and the versions
    # come from uploads and analysis files, so they appear only as repr literals in code position below.
    lines = [
        "#!/usr/bin/env python",
        '"""Reproduce a causal analysis made with the causal inference workbench (DATA_NAME below names the data).',
        "",
        f"Written {today}; APP_VERSION and ENGINE_VERSION below name the versions that wrote it.",
        "Run it from the workbench repository root (or with causal_core on PYTHONPATH):",
        "",
        "    python this_script.py",
        '"""',
        f"DATA_NAME = {_literal_one_line(_plain(spec.data_name, 'data_name'))}",
        f"APP_VERSION = {_literal_one_line(_plain(spec.app_version, 'app_version'))}",
        f"ENGINE_VERSION = {_literal_one_line(_plain(spec.engine_version, 'engine_version'))}",
        "",
        "import hashlib",
        "import math",
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
        "from causal_core.report.robustness import sensitivity_table",
        "",
        *_backend_lines(compute),
        'pd.set_option("display.width", 250)',
        'pd.set_option("display.max_columns", None)',
        "",
        "",
        "def show(title, table):",
        '    """Print one section: a \'## title\' line, the table with full-precision numbers, a blank line."""',
        '    print(f"## {title}")',
        '    print(table.to_string(index=False, float_format=lambda v: f"{v:.12g}"))',
        "    print()",
        "",
        "",
        *_loader_lines(source),
        "",
        f"EXPECTED_ROWS = {_literal_one_line(_plain(spec.n_rows, 'n_rows'))}",
        f"EXPECTED_SHA256 = {_literal_one_line(_plain(spec.data_sha256, 'data_sha256'))}",
        'fingerprint = hashlib.sha256(df.to_csv(index=False, lineterminator="\\n").encode("utf-8")).hexdigest()',
        "if df.shape[0] != EXPECTED_ROWS or fingerprint != EXPECTED_SHA256:",
        "    print(",
        '        f"Warning: this data ({df.shape[0]} rows) differs from the data the analysis was saved with "',
        '        f"({EXPECTED_ROWS} rows); the numbers may differ.",',
        "        file=sys.stderr,",
        "    )",
        "",
        f"roles = {_roles_literal(spec.roles)}",
        f"methods = {_python_literal(list(spec.methods), field='methods')}",
        f"options = {_python_literal(options, field='method_options')}",
        "",
        f"ESTIMAND = {_literal_one_line(_plain(spec.estimand, 'estimand'))}",
        f"SEED = {_literal_one_line(_plain(spec.seed, 'seed'))}",
        "",
        "# Each method as cc.compare runs it; the results are kept for the robustness checks below",
        "results, rows = {}, []",
        "for method in methods:",
        "    try:",
        "        result = cc.estimate(df, roles, method, estimand=ESTIMAND, seed=SEED, **options.get(method, {}))",
        "    except cc.CausalInputError as exc:",
        '        rows.append({"method": method, "estimand": ESTIMAND})',
        '        print(f"{method}: failed: {exc}", file=sys.stderr)',
        "        continue",
        "    results[method] = result",
        "    rows.append(result.summary())",
        "    if result.warnings:",
        '        print(f"{method}: {\' | \'.join(result.warnings)}", file=sys.stderr)',
        f"table = pd.DataFrame(rows).reindex(columns={list(PRINTED_COLUMNS)!r})",
        'show("Results", table)',
        *_robustness_lines(spec),
        "",
    ]
    script = "\n".join(lines)
    _check_parses(script)
    return script


def _check_parses(script: str) -> None:
    """Last line of defence: the generated module must be valid Python."""
    import ast

    try:
        ast.parse(script)
    except SyntaxError as exc:  # a value the literals above did not foresee
        raise CausalInputError(
            f"The reproduction script could not be written: line {exc.lineno} is not valid Python ({exc.msg})."
        ) from None
