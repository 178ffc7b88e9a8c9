"""The layout of an analysis file as data (a JSON Schema), and a bounded reader for untrusted files.

:func:`read_document` refuses a file that is too large, nested too deeply,
not UTF-8, not JSON, or holds a non-finite number or an integer of more
digits than any field needs, before or while :func:`json.loads` reads it (so
no ``RecursionError`` or integer-string ``ValueError`` escapes).
:func:`check_document` validates the parsed document against
:data:`ANALYSIS_FILE_SCHEMA`: every field, its type and its bounds. Each
schema node carries an ``x-rule`` text, so a violation becomes one sentence
naming the field and the rule. What the schema cannot say (method ids,
options and estimands from the registry, role columns among the data
columns) is checked by :func:`causal_core.report.analysis_file.load_analysis`.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from causal_core.core.errors import CausalInputError
from causal_core.report.robustness_settings import METHOD_LAB_SCHEMA, REFUTATION_SCHEMA

__all__ = [
    "ANALYSIS_FILE_SCHEMA",
    "MAX_FILE_BYTES",
    "MAX_INTEGER_DIGITS",
    "MAX_NESTING",
    "check_document",
    "read_document",
]

#: Largest analysis file read (a saved analysis is a few kB).
MAX_FILE_BYTES = 1_000_000
#: Deepest nesting of JSON arrays and objects read (a saved analysis nests 5 deep).
MAX_NESTING = 20
#: Most digits of an integer in the file (a seed below 2**32 has 10).
MAX_INTEGER_DIGITS = 20
#: Largest seed + 1: seeds are the unsigned 32-bit integers numpy's legacy seeding accepts.
SEED_LIMIT = 2**32
#: Largest integer a browser number field holds exactly (2**53 - 1).
JS_SAFE_INTEGER = 2**53 - 1

_NAME_LENGTH = 255
_COLUMN_LENGTH = 1_000
_MAX_COLUMNS = 100_000

_COLUMN = {"type": "string", "minLength": 1, "maxLength": _COLUMN_LENGTH,
           "x-rule": f"a column name (a string of 1 to {_COLUMN_LENGTH} characters)"}
_COLUMN_LIST = {"type": "array", "items": _COLUMN, "maxItems": _MAX_COLUMNS,
                "x-rule": f"a list of at most {_MAX_COLUMNS:,} column names"}
_OPTIONAL_COLUMN = {**_COLUMN, "type": ["string", "null"], "x-rule": "a column name or null"}
_VERSION = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._+!-]{0,63}\Z",
            "x-rule": "a version such as '1.2.0' (1 to 64 letters, digits and . _ + ! -)"}

#: Every field of an analysis file (format versions 1 and 2), its type and bounds.
ANALYSIS_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-rule": "a JSON object",
    "required": ["format", "format_version", "app_version", "engine_version", "data", "roles", "estimand",
                 "methods", "method_options", "seed"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": "causal-workbench-analysis", "x-rule": "'causal-workbench-analysis'"},
        "format_version": {"type": "integer", "minimum": 1, "maximum": 2, "x-rule": "1 or 2"},
        "app_version": _VERSION,
        "engine_version": _VERSION,
        "data": {
            "type": "object",
            "x-rule": "a JSON object with the data's name, n_rows, columns and sha256",
            "required": ["name", "n_rows", "columns", "sha256"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": _NAME_LENGTH, "format": "plain-text",
                         "x-rule": f"a plain printable name of 1 to {_NAME_LENGTH} characters "
                                   "(no line breaks, control characters, double quotes or backslashes)"},
                "n_rows": {"type": "integer", "minimum": 0, "maximum": JS_SAFE_INTEGER,
                           "x-rule": "a non-negative integer"},
                "columns": _COLUMN_LIST,
                "sha256": {"type": "string", "pattern": r"^[0-9a-f]{64}\Z",
                           "x-rule": "64 lowercase hexadecimal digits"},
            },
        },
        "roles": {
            "type": "object",
            "x-rule": "a JSON object naming the column of each role",
            "required": ["treatment", "outcome"],
            "properties": {  # unknown role names are refused by Roles.from_dict, which names the known ones
                "treatment": _COLUMN,
                "outcome": _COLUMN,
                "confounders": _COLUMN_LIST,
                "instruments": _COLUMN_LIST,
                "mechanisms": _COLUMN_LIST,
                "proxies": _COLUMN_LIST,
                "exclusions": _COLUMN_LIST,
                "subgroups": _COLUMN_LIST,
                "selection": _OPTIONAL_COLUMN,
                "shadow": _OPTIONAL_COLUMN,
                "treated_level": {"type": ["string", "number", "boolean", "null"], "maxLength": _COLUMN_LENGTH,
                                  "x-rule": "a single value (a string, number, true/false or null)"},
            },
        },
        "estimand": {"type": "string", "pattern": r"^[A-Z]{2,10}\Z", "x-rule": "an estimand such as 'ATE'"},
        "methods": {"type": "array", "maxItems": 200,
                    "items": {"type": "string", "pattern": r"^[a-z0-9_]{1,64}\Z", "x-rule": "a method id"},
                    "x-rule": "a list of at most 200 method ids"},
        "method_options": {
            "type": "object",
            "x-rule": "a JSON object of method id -> options",
            "propertyNames": {"pattern": r"^[a-z0-9_]{1,64}\Z", "x-rule": "a method id"},
            "additionalProperties": {
                "type": "object",
                "x-rule": "a JSON object of option name -> value",
                "propertyNames": {"pattern": r"^[A-Za-z0-9_]{1,64}\Z", "x-rule": "an option name"},
                "additionalProperties": {
                    "type": ["string", "number", "boolean", "null"], "maxLength": 100,
                    "x-rule": "a single value (a string of at most 100 characters, a number, true/false or null)",
                },
            },
        },
        "seed": {"type": "integer", "minimum": 0, "maximum": SEED_LIMIT - 1,
                 "x-rule": f"a non-negative integer below 2**32 ({SEED_LIMIT})"},
        "robustness": {
            "type": ["object", "null"],
            "x-rule": "a JSON object (with 'refutations' and 'method_lab') or null",
            "additionalProperties": False,
            "properties": {
                "refutations": {"type": ["array", "null"], "items": REFUTATION_SCHEMA, "maxItems": 200,
                                "x-rule": "a list of at most 200 refutation settings"},
                "method_lab": METHOD_LAB_SCHEMA,
            },
        },
    },
}


def _plain_text(value: object) -> bool:
    return not isinstance(value, str) or (value.isprintable() and '"' not in value and "\\" not in value)


def _validator():
    from jsonschema import Draft202012Validator, FormatChecker, validators

    # JSON integers only: jsonschema would otherwise accept 1.0 as an integer and True as... nothing else.
    types = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    strict = validators.extend(Draft202012Validator, type_checker=types)
    formats = FormatChecker(formats=())
    formats.checks("plain-text")(_plain_text)
    return strict(ANALYSIS_FILE_SCHEMA, format_checker=formats)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sentence(error: Any) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    where = f"field '{path}'" if path else "the file"
    if error.validator == "required":
        missing = next(key for key in error.validator_value if key not in error.instance)
        name = f"{path}.{missing}" if path else missing
        return f"The analysis file has no '{name}' field; it is incomplete or damaged."
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown = sorted(key for key in error.instance if key not in known)
        return (f"The analysis file has unknown field(s) {unknown} in {where}; it was not written by this app "
                f"(known fields: {', '.join(sorted(known))}).")
    rule = error.schema.get("x-rule") if isinstance(error.schema, dict) else None
    if error.validator == "propertyNames":
        return f"In {where} of the analysis file, {_shown(error.instance)} is not {rule or 'a valid name'}."
    if rule is None:  # every node of the schema has a rule; this is only a safety net
        return f"The analysis file's {where} is invalid: {error.message[:200]}."
    return f"{where[0].upper()}{where[1:]} of the analysis file must be {rule}; got {_shown(error.instance)}."


def check_document(document: Any) -> None:
    """Raise :class:`CausalInputError` naming the first field that breaks :data:`ANALYSIS_FILE_SCHEMA`.

    Errors nearest the top of the document come first, so a missing section
    is reported before the fields inside it.
    """
    errors = sorted(_validator().iter_errors(document),
                    key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path], str(e.validator)))
    if errors:
        raise CausalInputError(_sentence(errors[0]))


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise CausalInputError(
            f"The analysis file holds an integer of {digits} digits; no field of an analysis file needs more "
            f"than {MAX_INTEGER_DIGITS}, so the file is damaged or not from this app."
        )
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise CausalInputError(f"The analysis file holds the number {text[:40]}, beyond the finite range; "
                               "every number in an analysis file must be finite.")
    return value


def _constant(name: str) -> float:
    raise CausalInputError(f"The analysis file holds {name}; every number in an analysis file must be finite.")


def _nesting(text: str) -> int:
    """Deepest nesting of brackets outside JSON strings (an upper bound for an unterminated string)."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    codes = np.frombuffer(outside.encode("utf-8"), dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max()) if steps.size else 0


def read_document(raw: bytes | bytearray | str) -> Any:
    """Parse an untrusted analysis file within bounds on size, nesting and number size.

    Raises
    ------
    CausalInputError
        With one sentence when ``raw`` is neither bytes nor text, is larger
        than :data:`MAX_FILE_BYTES`, is not UTF-8, nests deeper than
        :data:`MAX_NESTING`, is not JSON, or holds a non-finite number or an
        integer of more than :data:`MAX_INTEGER_DIGITS` digits.
    """
    if isinstance(raw, str):
        size = len(raw.encode("utf-8", errors="surrogatepass"))
    elif isinstance(raw, (bytes, bytearray)):
        size = len(raw)
    else:
        raise CausalInputError(f"load_analysis needs the file's bytes or text; got {type(raw).__name__}.")
    if size > MAX_FILE_BYTES:
        raise CausalInputError(
            f"The analysis file is {size:,} bytes; an analysis file is at most {MAX_FILE_BYTES:,} bytes (1 MB), "
            "so this is not one the app saved."
        )
    if not isinstance(raw, str):
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CausalInputError("The analysis file is not UTF-8 text; choose the .json file the app saved.") from None
    depth = _nesting(raw.encode("utf-8", errors="replace").decode("utf-8"))
    if depth > MAX_NESTING:
        raise CausalInputError(
            f"The analysis file nests lists or objects {depth} deep; an analysis file nests at most {MAX_NESTING} "
            "deep, so this is not one the app saved."
        )
    try:
        return json.loads(raw, parse_int=_integer, parse_float=_finite_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise CausalInputError(
            f"The analysis file is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    except RecursionError:
        raise CausalInputError(
            f"The analysis file nests lists or objects too deeply to read; an analysis file nests at most "
            f"{MAX_NESTING} deep."
        ) from None
    except ValueError as exc:  # e.g. Python's limit on converting long digit strings
        raise CausalInputError(f"The analysis file holds a value that cannot be read ({str(exc)[:120]}).") from None
