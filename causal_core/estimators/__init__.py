"""Estimator modules; importing this package registers every method.

Each module registers its methods with :func:`causal_core.registry.register`.
"""
from . import simple  # noqa: F401
