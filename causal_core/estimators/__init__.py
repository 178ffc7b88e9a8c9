"""Estimator modules; importing this package registers every method.

Every non-private module of this package (name not starting with ``_``) is
imported here, so a new estimator module cannot be forgotten; each registers
its methods with :func:`causal_core.registry.register`. The order the methods
are listed in comes from :attr:`causal_core.registry.MethodInfo.order`, not
from the import order.
"""
from __future__ import annotations

import importlib
import pkgutil

__all__ = ["ESTIMATOR_MODULES"]


def _discover() -> tuple[str, ...]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return tuple(names)


#: The estimator modules imported (each must register at least one method).
ESTIMATOR_MODULES = _discover()
