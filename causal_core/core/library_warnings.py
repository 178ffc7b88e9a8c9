"""Keep the warnings that libraries raise while a method runs, instead of dropping them.

scikit-learn, statsmodels, cvxpy and torch report convergence problems as
Python warnings. :func:`capture_library_warnings` records every warning raised
inside it (``simplefilter("always")``, so repeats are counted) and
:func:`summarise_warnings` turns the records into one deduplicated line per
(category, source, message) with its count, e.g.
``"ConvergenceWarning from sklearn.linear_model._logistic: lbfgs failed to converge (3 times)"``.
"""
from __future__ import annotations

import os
import sys
import warnings as _warnings
from contextlib import contextmanager
from typing import Iterator, Sequence

__all__ = ["IGNORED_CATEGORIES", "LIBRARY_WARNING_PREFIX", "capture_library_warnings", "summarise_warnings"]

#: Categories left out: they are about a library's own API (a renamed argument, a changing default),
#: not about this fit, and the analyst can do nothing about them. Every other category is kept.
IGNORED_CATEGORIES: tuple[type[Warning], ...] = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
#: How a library warning is introduced among a result's ``warnings``.
LIBRARY_WARNING_PREFIX = "Library warning: "
MAX_MESSAGE_CHARS = 300


@contextmanager
def capture_library_warnings() -> Iterator[list[_warnings.WarningMessage]]:
    """Record every warning raised inside the block (the list fills as the block runs)."""
    with _warnings.catch_warnings(record=True) as records:
        _warnings.simplefilter("always")
        yield records


def _module_name(filename: str) -> str:
    """Dotted module name of the file a warning was raised from (``sklearn.linear_model._logistic``)."""
    target = os.path.realpath(filename) if filename else ""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.realpath(path) == target:
            return name
    base = os.path.basename(filename or "unknown")
    return base[:-3] if base.endswith(".py") else base


def summarise_warnings(records: Sequence[_warnings.WarningMessage]) -> tuple[str, ...]:
    """One line per distinct (category, source module, message), in first-seen order, with repeats counted."""
    counts: dict[tuple[str, str, str], int] = {}
    modules: dict[str, str] = {}
    for record in records:
        if issubclass(record.category, IGNORED_CATEGORIES):
            continue
        if record.filename not in modules:
            modules[record.filename] = _module_name(record.filename)
        message = " ".join(str(record.message).split())
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        key = (record.category.__name__, modules[record.filename], message)
        counts[key] = counts.get(key, 0) + 1
    return tuple(
        f"{category} from {module}: {message}" + (f" ({count} times)" if count > 1 else "")
        for (category, module, message), count in counts.items()
    )
