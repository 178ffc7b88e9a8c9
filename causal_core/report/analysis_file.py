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
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from ..errors import CausalInputError
from ..registry import get_method
from ..roles import Roles
from .robustness_settings import MethodLabSettings, RefutationSettings

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


def _require(mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in mapping:
        raise CausalInputError(f"The analysis file has no '{where}{key}' field; it is incomplete or damaged.")
    value = mapping[key]
    bad_bool = kind is int and isinstance(value, bool)
    if not isinstance(value, kind) or bad_bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CausalInputError(
            f"Field '{where}{key}' of the analysis file must be of type {names}; got {type(value).__name__}."
        )
    return value


def _string_list(mapping: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _require(mapping, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise CausalInputError(f"Field '{where}{key}' of the analysis file must list strings.")
    return tuple(values)


def _parse(raw: bytes | str) -> dict[str, Any]:
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CausalInputError(
                "The analysis file is not UTF-8 text; choose the .json file the app saved."
            ) from None
    if not isinstance(raw, str):
        raise CausalInputError(f"load_analysis needs the file's bytes or text; got {type(raw).__name__}.")
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CausalInputError(
            f"The analysis file is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
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
    if not isinstance(raw, dict):
        raise CausalInputError("Field 'robustness' of the analysis file must be a JSON object.")
    entries = raw.get("refutations") or []
    if not isinstance(entries, list):
        raise CausalInputError("Field 'robustness.refutations' of the analysis file must be a list.")
    refutations = tuple(RefutationSettings.from_dict(entry, methods) for entry in entries)
    refuted = [r.method for r in refutations]
    if len(set(refuted)) != len(refuted):
        raise CausalInputError("Field 'robustness.refutations' lists a method twice; keep one entry per method.")
    lab = raw.get("method_lab")
    return refutations, (MethodLabSettings.from_dict(lab) if lab is not None else None)


def _check_methods(methods: tuple[str, ...], options: Mapping[str, Any], estimand: str) -> None:
    if not methods:
        raise CausalInputError("The analysis file lists no methods; field 'methods' needs at least one method id.")
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
        if not isinstance(method_options, dict):
            raise CausalInputError(f"Options of method '{method_id}' in the analysis file must be a JSON object.")
        known = {o.name for o in get_method(method_id).options}
        unknown = sorted(set(method_options) - known)
        if unknown:
            listed = ", ".join(sorted(known)) or "none"
            raise CausalInputError(
                f"Method '{method_id}' has no option(s) {unknown}; its options are: {listed}."
            )


def load_analysis(raw: bytes | str) -> AnalysisSpec:
    """Read and validate an analysis file written by :func:`dump_analysis`.

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
        When the file is not JSON, not an analysis file, of an unreadable
        format version, has a missing or mistyped field, or names an unknown
        method, option, role, refutation test or method-lab scenario.
    """
    document = _parse(raw)
    _check_version(document)
    data = _require(document, "data", dict, "")
    name = _require(data, "name", str, "data.")
    n_rows = _require(data, "n_rows", int, "data.")
    if n_rows < 0:
        raise CausalInputError("Field 'data.n_rows' of the analysis file must be a non-negative integer.")
    columns = _string_list(data, "columns", "data.")
    sha = _require(data, "sha256", str, "data.")
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
        raise CausalInputError("Field 'data.sha256' of the analysis file must be 64 lowercase hexadecimal digits.")
    roles = Roles.from_dict(_require(document, "roles", dict, ""))
    missing = [c for c in roles.columns() if c not in columns]
    if missing:
        raise CausalInputError(
            f"Role column(s) {missing} in the analysis file are not among its data columns; the file is inconsistent."
        )
    estimand = _require(document, "estimand", str, "")
    methods = _string_list(document, "methods", "")
    options = _require(document, "method_options", dict, "")
    _check_methods(methods, options, estimand)
    seed = _require(document, "seed", int, "")
    for key in ("app_version", "engine_version"):
        _require(document, key, str, "")
    refutations, method_lab = _robustness(document, methods)
    for method_id, method_options in options.items():
        for option, value in method_options.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise CausalInputError(f"Option '{option}' of method '{method_id}' in the analysis file is not finite.")
    return AnalysisSpec(
        data_name=name,
        n_rows=n_rows,
        columns=columns,
        data_sha256=sha,
        roles=roles,
        estimand=estimand,
        methods=methods,
        method_options={m: dict(o) for m, o in options.items()},
        seed=seed,
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
