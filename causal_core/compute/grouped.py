"""Fan-outs whose items cost anywhere from microseconds to seconds: grouped into tasks of at least ~100 ms.

A sensitivity grid (Rosenbaum's Gamma values, OVB benchmark covariates) costs
a few microseconds per point on a small table and seconds on a large one, and
nothing in the inputs says which before it runs. :func:`map_grouped` times the
first item here, then sends the others to the active Dask backend in tasks of
at least :data:`MIN_TASK_SECONDS` each (one item per task when an item costs
that much already), or, when
the rest would not fill two such tasks, runs them here too: shipping them would
cost more than it saves. Which way it goes changes only where the items run,
never their numbers: every item's result depends on the item alone, and the
results come back in item order.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

__all__ = ["map_grouped", "MIN_TASK_SECONDS"]

#: Least work (seconds, as timed on the first item) in one task sent to a worker: below this the
#: scheduling round trip (a few to tens of ms on a local cluster) eats the gain.
MIN_TASK_SECONDS = 0.1


def map_grouped(task: Callable[[Any], Any], items: Sequence[Any]) -> list:
    """``[task(item) for item in items]``, in item order: here on the serial backend, else as described above."""
    from causal_core.compute.backend import current_backend, map_tasks

    items = list(items)
    info = current_backend()
    if info.kind == "serial" or len(items) <= 1:
        return map_tasks(task, items)
    started = time.perf_counter()
    first = task(items[0])
    seconds = time.perf_counter() - started
    rest = items[1:]
    min_task = MIN_TASK_SECONDS  # read at call time (the tests set it to 0 to force a fan-out)
    if seconds * len(rest) < 2 * min_task:
        return [first] + [task(item) for item in rest]
    # as few items per task as make MIN_TASK_SECONDS: items that already cost that much go one per task,
    # which balances the workers best (map_tasks' default of a few tasks per worker would pair costly items)
    per_task = math.ceil(min_task / seconds) if seconds > 0 else len(rest)
    return [first] + map_tasks(task, rest, chunk_size=max(1, per_task))
