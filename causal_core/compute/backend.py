"""Where the engine's fan-outs run: here, on a local Dask cluster, or on an existing one — one switch.

Every place that repeats a computation over independent items (bootstrap
replicates, method-lab replications, refuter repeats, the methods of
``compare``) calls :func:`map_tasks`; the backend decides where the items run::

    cc.set_backend("serial")                    # default: in this process
    cc.set_backend("local", n_workers=4)        # a dask.distributed LocalCluster on 127.0.0.1
    cc.set_backend("tcp://scheduler:8786")      # an existing Dask cluster
    with cc.backend("local", n_workers=2):      # for one block, then back
        cc.compare(df, roles, methods)

The numbers do not depend on the backend: every item carries everything that
decides its result (its rows, its seed) before the fan-out, the items' results
come back in item order and are reduced on the driver, and arrays that arrive
from workers are re-aligned (``np.require(a, ["A"])``) because a deserialised
float64 buffer can be misaligned, which changes summation order and the last
bits. Workers run one thread each with one BLAS thread (Dask's default), as
the engine does here.

The data is scattered once per fan-out (not once per item), and small items are
grouped into a few tasks per worker. A worker that dies takes its tasks and, if
it held it, the scattered data with it: the lost chunks are scattered and
submitted again, so a fan-out survives losing workers as long as some remain.
A cluster whose workers run other versions of the packages that decide the
numbers is refused, with a message naming the difference.

Warnings raised inside a task on a worker (a Dask worker, or one of joblib's
processes) are recorded there, every occurrence (``simplefilter("always")``),
sent back with the task's result and raised again on the driver, item by item
in item order, from the same module, file and line: a
:func:`~causal_core.core.library_warnings.capture_library_warnings` around the
fan-out (``cc.estimate``, ``streamed_estimate``) then holds the same records,
so the same lines and counts, as the serial run, and the driver's own warning
filters decide what is shown, as they do serially.
"""
from __future__ import annotations

import dataclasses
import math
import platform
import sys
import threading
import types
import warnings as _warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from causal_core.compute.main_guard import main_script_hidden
from causal_core.core.errors import CausalInputError

__all__ = ["BackendInfo", "describe_compute", "set_backend", "backend", "current_backend", "map_tasks", "package_versions",
           "version_differences", "cluster_client", "cluster_report", "progress_listener", "VERSIONED_PACKAGES"]

#: Packages whose versions decide the numbers; a cluster must run the driver's versions of all of them.
VERSIONED_PACKAGES = ("causal_core", "numpy", "scipy", "pandas", "scikit-learn", "python")
#: Tasks per worker a fan-out is grouped into: enough to balance load, few enough that each task is not tiny.
TASKS_PER_WORKER = 4
#: How many times lost chunks (a worker died) are sent again before the fan-out gives up.
MAX_RESUBMITS = 3


@dataclass(frozen=True)
class BackendInfo:
    """What the active backend is: written into results' provenance, the report and the script."""

    kind: str  # "serial", "local" or "cluster"
    address: str | None = None
    n_workers: int = 1
    threads_per_worker: int = 1
    versions: Mapping[str, str] = field(default_factory=dict)
    dashboard: str | None = None

    def describe(self) -> str:
        """Where the fan-outs run, in words (the sidebar and the HTML report use this one sentence)."""
        return describe_compute(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.kind, "address": self.address, "n_workers": self.n_workers,
                "threads_per_worker": self.threads_per_worker, "versions": dict(self.versions)}


def describe_compute(compute: Mapping[str, Any]) -> str:
    """A result's ``compute`` provenance (or :meth:`BackendInfo.as_dict`) in words."""
    kind = compute.get("backend", "serial")
    if kind == "serial":
        return "this process (serial)"
    n = compute.get("n_workers")
    workers = f"{n} worker{'s' if n != 1 else ''}"
    if kind == "local":
        return f"a local Dask cluster of {workers}"
    return f"the Dask cluster at {compute.get('address')} ({workers})"


@dataclass
class _Active:
    info: BackendInfo
    client: Any = None
    cluster: Any = None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


_lock = threading.RLock()
_active: _Active | None = None


def package_versions() -> dict[str, str]:
    """Versions of :data:`VERSIONED_PACKAGES` in this process (run on each worker to compare)."""
    import pandas
    import scipy
    import sklearn

    import causal_core

    return {"causal_core": causal_core.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "pandas": pandas.__version__, "scikit-learn": sklearn.__version__,
            "python": platform.python_version()}


def version_differences(driver: Mapping[str, str], workers: Mapping[str, Mapping[str, str]]) -> list[str]:
    """One sentence per worker package whose version is not the driver's, e.g. ``numpy 2.4.6 here, 2.3.0 on tcp://..``."""
    out = []
    for address, versions in sorted(workers.items()):
        for package in VERSIONED_PACKAGES:
            theirs = versions.get(package, "missing")
            if theirs != driver.get(package):
                out.append(f"{package} {driver.get(package)} here, {theirs} on worker {address}")
    return out


def _check_cluster_versions(client: Any) -> dict[str, str]:
    driver = package_versions()
    workers = client.run(package_versions)
    if not workers:
        raise CausalInputError("The Dask cluster has no workers; start at least one worker and try again.")
    differences = version_differences(driver, workers)
    if differences:
        raise CausalInputError(
            "The Dask cluster's workers run other package versions than this app, so their numbers would differ: "
            + "; ".join(differences[:6]) + (" (and more)" if len(differences) > 6 else "")
            + ". Install the same versions on the workers (requirements.txt) and connect again."
        )
    return driver


def _connect(spec: str, n_workers: int | None, threads_per_worker: int, timeout: float) -> _Active:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pinned in requirements.txt; only a broken install gets here
        raise CausalInputError("The Dask backends need the 'distributed' package (see requirements.txt).") from exc
    cluster = None
    if spec == "local":
        if n_workers is None:
            from causal_core.compute.jobs import default_max_workers

            n_workers = default_max_workers()
        if isinstance(n_workers, bool) or not isinstance(n_workers, (int, np.integer)) or not 1 <= n_workers <= 256:
            raise CausalInputError(f"Option 'n_workers' must be an integer from 1 to 256; got {n_workers!r}.")
        with main_script_hidden():  # the workers are spawned now and must not re-run the caller's script
            cluster = LocalCluster(n_workers=int(n_workers), threads_per_worker=threads_per_worker,
                                   processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                   silence_logs=40)
        client = Client(cluster, timeout=timeout, set_as_default=False)
        kind, address = "local", cluster.scheduler_address
    else:
        if n_workers is not None:
            raise CausalInputError("Option 'n_workers' is for the 'local' backend; a cluster has the workers it has.")
        try:
            client = Client(spec, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise CausalInputError(f"Could not reach a Dask scheduler at {spec} within {timeout:.0f} s ({exc}).") from exc
        kind, address = "cluster", spec
    try:
        versions = _check_cluster_versions(client)
        workers = client.scheduler_info(n_workers=-1).get("workers", {}) if kind == "cluster" else {}
        n = len(workers) if kind == "cluster" else int(n_workers)
        threads = max((w.get("nthreads", 1) for w in workers.values()), default=threads_per_worker)
    except Exception:
        client.close()
        if cluster is not None:
            cluster.close()
        raise
    dashboard = _dashboard_link(client)
    return _Active(BackendInfo(kind, address, n, threads, versions, dashboard), client, cluster)


def _dashboard_link(client: Any) -> str | None:
    """The scheduler's dashboard address, or None when it runs none (it needs ``bokeh``, or was turned off)."""
    try:
        if "dashboard" not in client.scheduler_info(n_workers=0).get("services", {}):
            return None
        return client.dashboard_link or None
    except Exception:  # a scheduler that does not say: no link rather than a broken one
        return None


def _check_spec(spec: Any, n_workers: Any, threads_per_worker: Any) -> None:
    if not isinstance(spec, str) or not (spec in ("serial", "local") or spec.startswith(("tcp://", "tls://"))):
        raise CausalInputError(
            f"Backend {spec!r} is not known; use 'serial', 'local' or a scheduler address such as 'tcp://host:8786'."
        )
    if spec == "serial" and n_workers is not None:
        raise CausalInputError("Option 'n_workers' is for the 'local' backend.")
    if threads_per_worker != 1:
        # more threads per worker would let BLAS and the tasks interleave differently from the serial run
        raise CausalInputError("Option 'threads_per_worker' must be 1: results must equal the serial run bit for bit.")


def set_backend(spec: str = "serial", *, n_workers: int | None = None, threads_per_worker: int = 1,
                timeout: float = 30.0) -> BackendInfo:
    """Make ``spec`` the backend of every fan-out from now on; close the previous one if this module started it.

    ``spec`` is ``"serial"`` (in this process), ``"local"`` (a LocalCluster of
    ``n_workers`` processes on 127.0.0.1, started here) or the address of an
    existing Dask scheduler (``"tcp://host:8786"``). A cluster whose workers
    run other package versions is refused (:class:`CausalInputError`).
    """
    global _active
    _check_spec(spec, n_workers, threads_per_worker)
    new = None if spec == "serial" else _connect(spec, n_workers, threads_per_worker, timeout)
    with _lock:
        old, _active = _active, new
    if old is not None:
        old.close()
    return current_backend()


@contextmanager
def backend(spec: str = "serial", *, n_workers: int | None = None, threads_per_worker: int = 1,
            timeout: float = 30.0) -> Iterator[BackendInfo]:
    """Use ``spec`` for the fan-outs inside the block, then go back to the backend that was active before.

    joblib's default backend is deliberately left alone: scikit-learn models
    with ``n_jobs=None`` would then split their own loops over the cluster, and
    some accumulate in completion order (a random forest's ``predict`` adds the
    trees' predictions under a lock as threads finish), which changes the last
    bits. The engine's fan-outs go through :func:`map_tasks` instead.
    """
    global _active
    _check_spec(spec, n_workers, threads_per_worker)
    new = None if spec == "serial" else _connect(spec, n_workers, threads_per_worker, timeout)
    with _lock:
        previous, _active = _active, new
    try:
        yield current_backend()
    finally:
        with _lock:
            _active = previous
        if new is not None:
            new.close()


def current_backend() -> BackendInfo:
    """The active backend's description (serial when none was set)."""
    active = _active
    return BackendInfo("serial", versions=package_versions()) if active is None else active.info


def cluster_client() -> Any:
    """The active backend's ``distributed.Client`` (for the app's connection check and the tests), or ``None``."""
    active = _active
    return None if active is None else active.client


def cluster_report() -> "pd.DataFrame":
    """One row per worker of the active cluster: address, threads, memory limit (GiB) and whether its versions match.

    Empty (no rows) on the serial backend. For the app's "test connection".
    """
    import pandas as pd

    client = cluster_client()
    columns = ["worker", "threads", "memory_gib", "versions_match"]
    if client is None:
        return pd.DataFrame(columns=columns)
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    versions = client.run(package_versions)
    here = package_versions()
    rows = [{"worker": address, "threads": int(info.get("nthreads", 0)),
             "memory_gib": round(float(info.get("memory_limit") or 0) / 2**30, 2),
             "versions_match": not version_differences(here, {address: versions.get(address, {})})}
            for address, info in sorted(workers.items())]
    return pd.DataFrame(rows, columns=columns)


_listeners: list[Callable[[int, int], None]] = []


@contextmanager
def progress_listener(listener: Callable[[int, int], None]) -> Iterator[None]:
    """Inside the block, ``listener(done, total)`` hears the progress of every fan-out (a background run's panel).

    It is called as tasks complete, in completion order on a cluster; what it
    raises is ignored, so a broken listener never changes a result.
    """
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def _tell(progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
    for listener in list(_listeners):
        try:
            listener(done, total)
        except Exception:
            pass


def _aligned(value: Any) -> Any:
    """``value`` with every float array in it aligned, so the driver's sums are the serial run's sums."""
    if isinstance(value, np.ndarray):
        return np.require(value, requirements=["A"])
    if isinstance(value, list):
        return [_aligned(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_aligned(v) for v in value)
    if isinstance(value, dict):
        return {k: _aligned(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _aligned(getattr(value, f.name)) for f in dataclasses.fields(value)
                   if f.init and isinstance(getattr(value, f.name), (np.ndarray, list, tuple, dict))}
        return dataclasses.replace(value, **changes) if changes else value
    return value


@dataclass(frozen=True)
class _CaughtWarning:
    """A warning raised inside a task on a worker, as it travels back to the driver."""

    category: type
    message: str
    filename: str
    lineno: int
    module: str  # the dotted module it was raised from, resolved on the worker

    def warn_again(self) -> None:
        """Raise it on the driver as if raised here: same module (filters, once-per-location registry) and line."""
        module = sys.modules.get(self.module)
        if not isinstance(module, types.ModuleType):
            module = None
        filename = getattr(module, "__file__", None) or self.filename  # the driver's copy of that module
        registry = module.__dict__.setdefault("__warningregistry__", {}) if module is not None else None
        _warnings.warn_explicit(self.message, self.category, filename, self.lineno, module=self.module,
                                registry=registry)


def _run_captured(task: Callable[[Any], Any], item: Any) -> tuple[Any, tuple[_CaughtWarning, ...]]:
    """``task(item)`` and every warning it raised (on a worker, where nobody would see them)."""
    from causal_core.core.library_warnings import _module_name

    with _warnings.catch_warnings(record=True) as records:
        _warnings.simplefilter("always")
        value = task(item)
    modules: dict[str, str] = {}
    caught = []
    for record in records:
        if record.filename not in modules:
            modules[record.filename] = _module_name(record.filename)
        caught.append(_CaughtWarning(record.category, str(record.message), record.filename, int(record.lineno or 0),
                                     modules[record.filename]))
    return value, tuple(caught)


def _warned(pair: tuple[Any, tuple[_CaughtWarning, ...]]) -> Any:
    """Raise a task's worker warnings again here and return its value."""
    value, caught = pair
    for warning in caught:
        warning.warn_again()
    return value


class _Payload:
    """The task function, scattered once per fan-out (it carries the data it closes over)."""

    def __init__(self, task: Callable[[Any], Any]):
        self.task = task


def _run_chunk(items: Sequence[Any], payload: _Payload) -> list:
    return [_run_captured(payload.task, item) for item in items]


def _chunks(items: Sequence[Any], n_workers: int, chunk_size: int | None = None) -> list[list[Any]]:
    size = chunk_size or max(1, math.ceil(len(items) / max(1, n_workers * TASKS_PER_WORKER)))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _lost(exc: BaseException) -> bool:
    """Whether ``exc`` means a worker (or the data it held) was lost, rather than that the task itself failed."""
    names = {type(exc).__name__ for exc in (exc, exc.__cause__) if exc is not None}
    return bool(names & {"KilledWorker", "CancelledError", "FutureCancelledError", "CommClosedError",
                         "FutureLostError"}) or "lost" in str(exc).lower()


def map_tasks(task: Callable[[Any], Any], items: Sequence[Any], *, n_jobs: int = 1,
              progress: Callable[[int, int], None] | None = None, chunk_size: int | None = None) -> list:
    """``[task(item) for item in items]``, run on the active backend, in the order of ``items``.

    ``n_jobs`` > 1 (or -1) uses joblib's local processes when no Dask backend
    is active (the methods' own parallel option); a Dask backend ignores it.
    ``progress(done, total)`` is called as items complete: in item order here, in completion order on a
    cluster (the results are still returned, and reduced, in item order); a
    :func:`progress_listener` hears it too.
    On a cluster, items go in tasks of ``chunk_size`` (default: about
    :data:`TASKS_PER_WORKER` tasks per worker). An exception raised by ``task`` propagates (callers guard what may fail).
    Warnings a task raises on a worker are raised again here, in item order (see the module docstring).
    """
    items = list(items)
    total = len(items)
    active = _active
    if active is None:
        if n_jobs == 1 or total <= 1:
            out = []
            for i, item in enumerate(items):
                out.append(task(item))
                _tell(progress, i + 1, total)
            return out
        from joblib import Parallel, delayed

        out = []
        for i, pair in enumerate(Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
                delayed(_run_captured)(task, item) for item in items)):
            out.append(_warned(pair))  # in item order, as the serial run raises them
            _tell(progress, i + 1, total)
        return out
    return _map_on_cluster(active.client, task, items, active.info.n_workers, progress, chunk_size)


def _map_on_cluster(client: Any, task: Callable[[Any], Any], items: list, n_workers: int,
                    progress: Callable[[int, int], None] | None, chunk_size: int | None) -> list:
    """Run the chunks on the cluster; progress is told as tasks complete, the results are kept in item order."""
    from distributed import as_completed

    chunks = _chunks(items, n_workers, chunk_size)
    results: list[list | None] = [None] * len(chunks)
    pending = list(range(len(chunks)))
    done = 0
    for attempt in range(MAX_RESUBMITS + 1):
        payload = client.scatter(_Payload(task), hash=False)
        futures = {k: client.submit(_run_chunk, chunks[k], payload, pure=False) for k in pending}
        chunk_of = {future.key: k for k, future in futures.items()}
        lost = []
        try:
            for future in as_completed(list(futures.values()), loop=client.loop):  # completion order: progress as tasks finish
                k = chunk_of[future.key]
                try:
                    value = future.result()
                except Exception as exc:
                    if attempt < MAX_RESUBMITS and _lost(exc):
                        lost.append(k)
                        continue
                    raise
                results[k] = _aligned(value)  # stored by position: the reduction stays in item order
                done += len(chunks[k])
                _tell(progress, done, len(items))
        except BaseException:  # a failure, or a cancelled run (SIGTERM of a background run): stop its futures
            client.cancel(list(futures.values()) + [payload])
            raise
        client.cancel([payload])
        if not lost:
            break
        pending = sorted(lost)
    # the workers' warnings are raised here in item order once all chunks are in (a lost chunk's never came back)
    return [_warned(pair) for chunk in results for pair in chunk]
