"""Estimator modules, one subpackage per family; importing this package registers every method.

Every non-private module of every family subpackage (no part of its name starting with ``_``) is
imported here, so a new estimator module cannot be forgotten; each registers its methods with
:func:`causal_core.core.registry.register`. The order the methods are listed in comes from
:attr:`causal_core.core.registry.MethodInfo.order`, not from the import order.
"""
from __future__ import annotations

import importlib
import pkgutil

__all__ = ["ESTIMATOR_MODULES"]


def _discover() -> tuple[str, ...]:
    names = []
    for module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        relative = module.name[len(__name__) + 1:]
        if module.ispkg or any(part.startswith("_") for part in relative.split(".")):
            continue
        importlib.import_module(module.name)
        names.append(relative)
    return tuple(sorted(names))


#: The estimator modules imported, as "family.module" (each must register at least one method).
ESTIMATOR_MODULES = _discover()
