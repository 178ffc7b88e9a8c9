"""The analysis as a small JSON file: what was run on which data, enough to run it again.

The file holds the data's name, shape, column names and SHA-256 fingerprint
(never the data itself), the roles, estimand, methods, method options and
seed, the settings of any refutation tests and method-lab run (format
version 2), and the versions that wrote it. Files of format version 1 (no
robustness settings) still load. :func:`load_analysis` validates every
field and raises :class:`~causal_core.CausalInputError` with one sentence for
a corrupt, foreign or newer file.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.options import option_value_problem
from causal_core.core.registry import MethodInfo, OptionSpec, get_method
from causal_core.core.roles import Roles
from causal_core.report.analysis_schema import JS_SAFE_INTEGER, check_document, read_document
from causal_core.report.robustness_settings import MethodLabSettings, RefutationSettings

__all__ = [
    "AnalysisSpec",
    "FILE_FORMAT",
    "FORMAT_VERSION",
    "READABLE_FORMAT_VERSIONS",
    "data_fingerprint",
    "data_mismatches",
    "dump_analysis",
    "engine_version",
    "load_analysis",
]

#: Marker written in every analysis file, so a foreign JSON file is recognised.
FILE_FORMAT = "causal-workbench-analysis"
#: Version of the file layout written by :func:`dump_analysis` (2 added the ``robustness`` field).
FORMAT_VERSION = 2
#: Versions :func:`load_analysis` reads; a version-1 file has no robustness settings.
READABLE_FORMAT_VERSIONS = (1, 2)


def engine_version() -> str:
    """The version of :mod:`causal_core` (``"0+unknown"`` when the package does not declare one)."""
    import causal_core

    return str(getattr(causal_core, "__version__", "0+unknown"))


def data_fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of the table written as CSV (no index, ``\\n`` line ends).

    Two tables with the same columns, order and values have the same
    fingerprint; reading a CSV file back with :func:`pandas.read_csv` keeps it.
    """
    if not isinstance(df, pd.DataFrame):
        raise CausalInputError(f"Data must be a pandas DataFrame; got {type(df).__name__}.")
    text = df.to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AnalysisSpec:
    """Everything needed to repeat an analysis, except the data itself.

    Attributes
    ----------
    data_name : str
        Name of the data set (file name or sample id).
    n_rows : int
        Rows of the table the analysis ran on.
    columns : tuple of str
        Column names, in order.
    data_sha256 : str
        :func:`data_fingerprint` of the table.
    roles : Roles
        Column roles.
    estimand : str
        ``"ATE"``, ``"ATT"``, ``"ATC"`` or a method-specific estimand.
    methods : tuple of str
        Method ids, in the order they were run.
    method_options : dict
        Method id -> keyword options (only methods with non-default options need an entry).
    seed : int
        Seed passed to every method (and to the refutation tests and method lab).
    refutations : tuple of RefutationSettings
        Refutation tests the analyst ran, one entry per method refuted.
    method_lab : MethodLabSettings or None
        The method-lab run, if the analyst ran one.
    app_version, engine_version : str
        Versions of the app and of :mod:`causal_core` that wrote the file.
    """

    data_name: str
    n_rows: int
    columns: tuple[str, ...]
    data_sha256: str
    roles: Roles
    estimand: str
    methods: tuple[str, ...]
    method_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seed: int = 0
    app_version: str = "0+unknown"
    engine_version: str = field(default_factory=engine_version)
    refutations: tuple[RefutationSettings, ...] = ()
    method_lab: MethodLabSettings | None = None

    @classmethod
    def from_data(
        cls,
        df: pd.DataFrame,
        *,
        data_name: str,
        roles: Roles,
        estimand: str,
        methods: list[str] | tuple[str, ...],
        method_options: Mapping[str, Mapping[str, Any]] | None = None,
        seed: int = 0,
        app_version: str = "0+unknown",
        refutations: tuple[RefutationSettings, ...] | list[RefutationSettings] = (),
        method_lab: MethodLabSettings | None = None,
    ) -> "AnalysisSpec":
        """Describe an analysis of ``df`` (its shape, columns and fingerprint are read from it).

        Refutation settings of methods outside ``methods`` are dropped (the
        file could not name their options).
        """
        options = {m: dict(o) for m, o in (method_options or {}).items() if m in set(methods)}
        refuted = tuple(r for r in refutations if r.method in set(methods))
        return cls(
            data_name=str(data_name),
            n_rows=int(df.shape[0]),
            columns=tuple(str(c) for c in df.columns),
            data_sha256=data_fingerprint(df),
            roles=roles,
            estimand=str(estimand),
            methods=tuple(methods),
            method_options=options,
            seed=int(seed),
            app_version=str(app_version),
            refutations=refuted,
            method_lab=method_lab,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, with the file marker and format version first."""
        return {
            "format": FILE_FORMAT,
            "format_version": FORMAT_VERSION,
            "app_version": self.app_version,
            "engine_version": self.engine_version,
            "data": {
                "name": self.data_name,
                "n_rows": self.n_rows,
                "columns": list(self.columns),
                "sha256": self.data_sha256,
            },
            "roles": self.roles.to_dict(),
            "estimand": self.estimand,
            "methods": list(self.methods),
            "method_options": {m: dict(o) for m, o in self.method_options.items()},
            "seed": self.seed,
            "robustness": {
                "refutations": [r.to_dict() for r in self.refutations],
                "method_lab": self.method_lab.to_dict() if self.method_lab is not None else None,
            },
        }


def _json_default(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise CausalInputError(
        f"Option value {value!r} of type {type(value).__name__} cannot be saved in an analysis file; "
        "use numbers, strings, booleans or lists of them."
    )


def dump_analysis(spec: AnalysisSpec) -> str:
    """The analysis as indented JSON text (UTF-8 safe, keys in a stable order)."""
    if not isinstance(spec, AnalysisSpec):
        raise CausalInputError(f"dump_analysis needs an AnalysisSpec; got {type(spec).__name__}.")
    try:
        text = json.dumps(spec.to_dict(), indent=2, ensure_ascii=False, default=_json_default, allow_nan=False)
    except CausalInputError:
        raise
    except ValueError as exc:  # NaN or infinity in an option
        raise CausalInputError(f"The analysis cannot be saved: {exc}; option values must be finite numbers.") from None
    return text + "\n"


def _parse(raw: bytes | str) -> dict[str, Any]:
    document = read_document(raw)
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise CausalInputError(
            f"This JSON file is not an analysis saved by the workbench (its 'format' field is not '{FILE_FORMAT}')."
        )
    return document


def _check_version(document: Mapping[str, Any]) -> None:
    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CausalInputError("The analysis file has no integer 'format_version' field; it is damaged.")
    if version not in READABLE_FORMAT_VERSIONS:
        newer = " (it was written by a newer version of the app)" if version > FORMAT_VERSION else ""
        readable = " and ".join(map(str, READABLE_FORMAT_VERSIONS))
        raise CausalInputError(
            f"Analysis file format version {version} is not supported{newer}; this app reads versions {readable}."
        )


def _robustness(document: Mapping[str, Any], methods: tuple[str, ...]) -> tuple[
        tuple[RefutationSettings, ...], MethodLabSettings | None]:
    """The robustness settings of a version-2 file (absent in version 1, or left out: none)."""
    raw = document.get("robustness")
    if raw is None:
        return (), None
    entries = raw.get("refutations") or []
    refutations = tuple(RefutationSettings.from_dict(entry, methods) for entry in entries)
    refuted = [r.method for r in refutations]
    if len(set(refuted)) != len(refuted):
        raise CausalInputError("Field 'robustness.refutations' lists a method twice; keep one entry per method.")
    lab = raw.get("method_lab")
    return refutations, (MethodLabSettings.from_dict(lab) if lab is not None else None)


def _option_problem(info: MethodInfo, spec: OptionSpec, value: Any) -> str | None:
    """Why a saved option value does not fit its ``OptionSpec``, or ``None``.

    The engine's one option validator (:func:`causal_core.core.options.option_value_problem`)
    checks kind, bounds, choices and named models; a file also keeps integers
    within JavaScript's safe range.
    """
    problem = option_value_problem(info, spec, value)
    if problem:
        return problem
    if spec.kind == "int" and isinstance(value, int) and abs(value) > JS_SAFE_INTEGER:
        return (f"The '{spec.name}' option of method '{info.id}' must be an integer of at most "
                f"{JS_SAFE_INTEGER:,} in size; got {value!r}.")
    return None


def _check_methods(methods: tuple[str, ...], options: Mapping[str, Any], estimand: str) -> None:
    if not methods:
        raise CausalInputError("The analysis file lists no methods; field 'methods' needs at least one method id.")
    if len(set(methods)) != len(methods):
        raise CausalInputError("Field 'methods' of the analysis file lists a method twice; keep one of each.")
    for method_id in methods:
        info = get_method(method_id)  # unknown ids raise CausalInputError naming the known ones
        if estimand not in info.estimands:
            raise CausalInputError(
                f"Method '{method_id}' in the analysis file does not estimate the {estimand}; "
                f"it supports {', '.join(info.estimands)}."
            )
    for method_id, method_options in options.items():
        if method_id not in methods:
            raise CausalInputError(
                f"Field 'method_options' names method '{method_id}', which is not in the file's 'methods' list."
            )
        info = get_method(method_id)
        specs = {o.name: o for o in info.options}
        unknown = sorted(set(method_options) - set(specs))
        if unknown:
            listed = ", ".join(sorted(specs)) or "none"
            raise CausalInputError(
                f"Method '{method_id}' has no option(s) {unknown}; its options are: {listed}."
            )
        for name, value in method_options.items():
            problem = _option_problem(info, specs[name], value)
            if problem:
                raise CausalInputError(f"{problem[:-1]} in the analysis file.")


def load_analysis(raw: bytes | str) -> AnalysisSpec:
    """Read and validate an analysis file written by :func:`dump_analysis`.

    The file is read within bounds (:func:`~causal_core.report.analysis_schema.read_document`:
    at most 1 MB, nested at most 20 deep, finite numbers, integers of at most
    20 digits), checked against
    :data:`~causal_core.report.analysis_schema.ANALYSIS_FILE_SCHEMA` (every
    field, its type and bounds), then against the registry: known method ids,
    an estimand every method supports, known option names with values inside
    their ``OptionSpec``, role columns among the data columns, known
    refutation tests and method-lab scenario.

    Parameters
    ----------
    raw : bytes or str
        The file's content.

    Returns
    -------
    AnalysisSpec

    Raises
    ------
    CausalInputError
        With one sentence naming the field and the rule, for any file that
        breaks them (corrupt, foreign, hostile or of a newer format version).
    """
    document = _parse(raw)
    _check_version(document)
    check_document(document)
    data = document["data"]
    columns = tuple(data["columns"])
    roles = Roles.from_dict(document["roles"])
    missing = [c for c in roles.columns() if c not in columns]
    if missing:
        raise CausalInputError(
            f"Role column(s) {missing} in the analysis file are not among its data columns; the file is inconsistent."
        )
    estimand = document["estimand"]
    methods = tuple(document["methods"])
    options = document["method_options"]
    _check_methods(methods, options, estimand)
    refutations, method_lab = _robustness(document, methods)
    return AnalysisSpec(
        data_name=data["name"],
        n_rows=data["n_rows"],
        columns=columns,
        data_sha256=data["sha256"],
        roles=roles,
        estimand=estimand,
        methods=methods,
        method_options={m: dict(o) for m, o in options.items()},
        seed=document["seed"],
        app_version=document["app_version"],
        engine_version=document["engine_version"],
        refutations=refutations,
        method_lab=method_lab,
    )


def data_mismatches(spec: AnalysisSpec, df: pd.DataFrame) -> tuple[str, ...]:
    """Sentences describing how ``df`` differs from the data the analysis was saved with (empty if identical)."""
    problems: list[str] = []
    columns = [str(c) for c in df.columns]
    absent = [c for c in spec.roles.columns() if c not in columns]
    if absent:
        problems.append(f"Column(s) {absent} used by the saved roles are not in the current data.")
    if df.shape[0] != spec.n_rows:
        problems.append(f"The current data has {df.shape[0]} rows; the analysis was saved with {spec.n_rows}.")
    if not absent and data_fingerprint(df) != spec.data_sha256:
        problems.append(
            "The current data's fingerprint differs from the saved one, so results may differ from the saved analysis."
        )
    return tuple(problems)
