"""The one fan-out of replicate computations (bootstrap refits): it runs on the active compute backend."""
from __future__ import annotations

from typing import Any, Callable, Sequence

__all__ = ["map_replicates", "sequential_backend", "Backend"]

#: ``backend(task, items)`` returns ``[task(item) for item in items]`` in the order of ``items``,
#: however it schedules them.
Backend = Callable[[Callable[[Any], Any], Sequence[Any]], list]


def sequential_backend(task: Callable[[Any], Any], items: Sequence[Any]) -> list:
    """Evaluate ``task`` on each item in turn, here."""
    return [task(item) for item in items]


def _guarded(statistic: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def task(item: Any) -> Any:
        try:
            return statistic(item)
        except Exception:  # a failed replicate is counted by the caller, never fatal
            return None
    return task


def map_replicates(statistic: Callable[[Any], Any], items: Sequence[Any], *, backend: Backend | None = None) -> list:
    """``statistic(item)`` for every item, in the order of ``items``; ``None`` where it raised.

    Every item (a bootstrap's row indices) must be fixed before this call, so
    the results never depend on the order in which ``backend`` evaluates them
    (by default the active compute backend, :func:`causal_core.set_backend`).
    """
    if backend is None:
        from causal_core.compute.backend import map_tasks  # serial here unless a Dask backend is active

        return map_tasks(_guarded(statistic), list(items))
    return list(backend(_guarded(statistic), list(items)))
