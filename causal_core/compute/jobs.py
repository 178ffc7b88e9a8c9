"""Background estimation runs: each run of several methods in its own worker process, which can be killed.

The runner knows nothing of the app: it takes a table, roles and a list of
methods, runs :func:`causal_core.estimate` for each in a separate process and
reports what each method gave as soon as it is done::

    runner = JobRunner()
    job_id = runner.submit(df, roles, ["ipw", "doubly_robust"], estimand="ATE", seed=0, options={})
    status = runner.wait(job_id, timeout=60)      # or poll runner.status(job_id)
    status.outcomes["ipw"]                        # an EstimateResult, or the method's error message
    runner.cancel(job_id)                         # kills the worker process at once

At most ``max_workers`` runs compute at a time (by default one fewer than the
cores, so the web server keeps one); the others wait in order. A run that
nobody asked about (``status``/``wait``) for ``abandon_after`` seconds is
cancelled, so a closed browser tab does not keep a core busy. Workers are
forked from a server process that has already imported the engine
(``forkserver``), so a run starts in a few hundredths of a second.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait as wait_for_connections
from typing import Any, Callable

import pandas as pd

from causal_core.compute.main_guard import main_script_hidden
from causal_core.core.errors import CausalInputError
from causal_core.core.results import EstimateResult
from causal_core.core.roles import Roles

__all__ = ["JobRunner", "JobStatus", "run_methods", "default_max_workers"]

FINISHED_STATES = ("done", "cancelled", "failed")
#: Imported once by the fork server, so a worker does not spend seconds importing what every method needs.
WORKER_PRELOAD = ("causal_core", "causal_core.estimators", "causal_core.nuisance.features", "causal_core.inference",
                  "sklearn.linear_model", "sklearn.ensemble", "statsmodels.api", "linearmodels")
Outcome = EstimateResult | str
#: Seconds between two progress messages of a run's fan-outs.
PROGRESS_INTERVAL = 0.2
#: Seconds a cancelled run on a cluster gets to cancel its futures before its process is killed.
CANCEL_GRACE = 3.0


def default_max_workers() -> int:
    """One fewer than the cores this process may use (at least one): the web server keeps a core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def run_methods(
    df: pd.DataFrame,
    roles: Roles,
    methods: list[str] | tuple[str, ...],
    *,
    estimand: str,
    seed: int,
    options: dict[str, dict[str, Any]],
    report: Callable[[str, str, Outcome | None], None] | None = None,
    sample_rows: int | None = None,
    passes_progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, Outcome]:
    """Estimate with each method in turn; a method that fails gives its error message instead of a result.

    ``report(event, method, outcome)`` is called with ``"start"`` before and
    ``"done"`` after each method. With ``sample_rows``, ``df`` is a table on
    disk (:class:`causal_core.outofcore.TableSource`) and each method goes
    through :func:`causal_core.outofcore.large_run.large_outcome` (streamed, or on
    a seeded sample of that many rows), its passes told to ``passes_progress``.
    """
    from causal_core.core.api import estimate  # late: the worker imports the engine once, in the fork server

    outcomes: dict[str, Outcome] = {}
    for method in methods:
        if report is not None:
            report("start", method, None)
        if sample_rows is not None:
            from causal_core.outofcore.large_run import large_outcome

            outcome = large_outcome(df, roles, method, estimand=estimand, seed=seed, sample_rows=sample_rows,
                                    options=options.get(method, {}), progress=passes_progress)
        else:
            try:
                outcome = estimate(df, roles, method, estimand=estimand, seed=seed, **options.get(method, {}))
            except CausalInputError as exc:
                outcome = str(exc)
            except Exception as exc:  # one broken method must not stop the others
                outcome = f"Unexpected failure ({type(exc).__name__}: {exc})."
        outcomes[method] = outcome
        if report is not None:
            report("done", method, outcome)
    return outcomes


class _RunCancelled(BaseException):
    """Raised in a background run's main thread by SIGTERM (Cancel), so the fan-out cancels its futures."""


def _stop_on_sigterm(signum, frame) -> None:
    raise _RunCancelled()


def _worker(connection: Connection, df, roles, methods, estimand, seed, options, threads: int,
            backend: str | None = None, sample_rows: int | None = None) -> None:
    """Body of a worker process: run the methods and send each event through ``connection``.

    With ``backend`` (a Dask scheduler's address) the run's fan-outs go to that cluster; with
    ``sample_rows`` ``df`` is a table on disk (see :func:`run_methods`).
    """
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
    except Exception:  # threadpoolctl is optional; the environment variables still apply to late imports
        pass

    def report(event: str, method: str, outcome: Outcome | None) -> None:
        try:
            connection.send((event, method, outcome))
        except Exception as exc:  # an outcome that does not pickle becomes its message
            connection.send((event, method, f"Unexpected failure (the result could not be sent back: {exc})."))

    if backend is not None:
        # Cancel sends SIGTERM first: the fan-out then stops its futures on the cluster (map_tasks cancels them
        # on the way out) before the process ends; the runner kills the process if it does not end soon.
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            from causal_core.compute.backend import set_backend

            set_backend(backend)
        except Exception as exc:  # every method gets the reason; nothing runs on the wrong machine silently
            for method in methods:
                report("done", method, f"Could not use the compute cluster {backend}: {exc}")
            connection.send(("end", "", None))
            connection.close()
            return
    from causal_core.compute.backend import progress_listener

    last_sent = [0.0]

    def tasks_progress(done: int, total: int) -> None:  # at most a few messages a second, and always the last
        now = time.monotonic()
        if done == total or now - last_sent[0] >= PROGRESS_INTERVAL:
            last_sent[0] = now
            connection.send(("progress", "", (int(done), int(total))))

    try:
        with progress_listener(tasks_progress):
            run_methods(df, roles, methods, estimand=estimand, seed=seed, options=options, report=report,
                        sample_rows=sample_rows,
                        passes_progress=lambda number, done, total: tasks_progress(done, total))
    except _RunCancelled:  # Cancel: the fan-out has cancelled its futures; end without a traceback
        connection.close()
        return
    connection.send(("end", "", None))
    connection.close()


@dataclass(frozen=True)
class JobStatus:
    """Where a background run stands.

    Attributes
    ----------
    job_id : str
    state : str
        ``"queued"``, ``"running"``, ``"done"``, ``"cancelled"`` or ``"failed"``.
    methods : tuple of str
        The methods asked for, in order.
    outcomes : dict
        Method id -> :class:`EstimateResult` or error message, for the methods finished so far (in order).
    current : str or None
        The method being computed now.
    pid : int or None
        The worker process while it runs.
    message : str
        Why the run was cancelled or failed ("" otherwise).
    waiting_for : int
        How many runs started earlier are still waiting for a worker or computing, while queued.
    tasks : tuple of int or None
        ``(done, total)`` of the fan-out running now (bootstrap replicates, ...), from its completed tasks.
    backend : str or None
        The scheduler address the run sends its fan-outs to, or None.
    """

    job_id: str
    state: str
    methods: tuple[str, ...]
    outcomes: dict[str, Outcome] = field(repr=False)
    current: str | None = None
    pid: int | None = None
    message: str = ""
    waiting_for: int = 0
    tasks: tuple[int, int] | None = None
    backend: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def n_done(self) -> int:
        return len(self.outcomes)


@dataclass
class _Job:
    job_id: str
    methods: tuple[str, ...]
    arguments: tuple
    state: str = "queued"
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    current: str | None = None
    message: str = ""
    process: Any = None
    connection: Connection | None = None
    last_seen: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    tasks: tuple[int, int] | None = None
    backend: str | None = None


class JobRunner:
    """Runs estimation jobs in worker processes; thread-safe.

    Parameters
    ----------
    max_workers : int, optional
        Runs computing at the same time (default :func:`default_max_workers`).
    abandon_after : float
        Seconds without a ``status``/``wait`` call after which a run is cancelled.
    keep_finished : float
        Seconds a finished run's outcomes stay available.
    threads : int
        BLAS/OpenMP threads of each worker.
    start_method : str
        ``"forkserver"`` (default where available) or ``"spawn"``.
    """

    def __init__(self, *, max_workers: int | None = None, abandon_after: float = 180.0,
                 keep_finished: float = 7200.0, threads: int = 1, start_method: str | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"The 'max_workers' parameter of JobRunner must be at least 1; got {max_workers}.")
        self.max_workers = max_workers or default_max_workers()
        self.abandon_after = float(abandon_after)
        self.keep_finished = float(keep_finished)
        self.threads = int(threads)
        if start_method is None:
            start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self._context = mp.get_context(start_method)
        if start_method == "forkserver":
            self._context.set_forkserver_preload(list(WORKER_PRELOAD))
        self._jobs: dict[str, _Job] = {}
        self._order: list[str] = []
        self._lock = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._supervise, name="causal-jobs", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public
    def submit(self, df: pd.DataFrame, roles: Roles, methods: list[str] | tuple[str, ...], *, estimand: str,
               seed: int, options: dict[str, dict[str, Any]] | None = None, backend: str | None = None,
               sample_rows: int | None = None) -> str:
        """Queue a run of ``methods``; returns its id (unguessable).

        ``backend``: the address of a Dask scheduler whose workers take the
        run's fan-outs (bootstrap replicates...); ``None`` computes in the worker.
        ``sample_rows``: ``df`` is a table on disk (a small picklable
        ``TableSource``), run streamed or on a seeded sample of that many rows;
        the progress then also counts each streamed pass's partitions.
        """
        if not methods:
            raise ValueError("A job needs at least one method; got none.")
        options = {m: dict((options or {}).get(m, {})) for m in methods}
        job = _Job(job_id=secrets.token_urlsafe(16), methods=tuple(methods),
                   arguments=(df, roles, list(methods), str(estimand), int(seed), options, self.threads, backend,
                              None if sample_rows is None else int(sample_rows)),
                   backend=backend)
        with self._lock:
            if self._closed:
                raise RuntimeError("This JobRunner has been shut down; create a new one.")
            self._jobs[job.job_id] = job
            self._order.append(job.job_id)
            self._start_queued()
            self._lock.notify_all()
        return job.job_id

    def status(self, job_id: str, *, touch: bool = True) -> JobStatus | None:
        """The run's status (None for an unknown or forgotten id); ``touch`` marks it as still wanted."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if touch:
                job.last_seen = time.monotonic()
            return self._snapshot(job)

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus | None:
        """Block until the run has finished or ``timeout`` seconds have passed; returns its status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                job = self._jobs.get(job_id)
                if job is None:
                    return None
                job.last_seen = time.monotonic()
                if job.state in FINISHED_STATES:
                    return self._snapshot(job)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return self._snapshot(job)
                self._lock.wait(timeout=0.5 if left is None else min(left, 0.5))

    def cancel(self, job_id: str, reason: str = "Cancelled.") -> JobStatus | None:
        """Stop the run now (its worker process is killed); the outcomes finished before are kept."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.state not in FINISHED_STATES:
                self._stop(job, "cancelled", reason)
                self._start_queued()
                self._lock.notify_all()
            return self._snapshot(job)

    def shutdown(self) -> None:
        """Kill every unfinished run and stop the supervising thread."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                if job.state not in FINISHED_STATES:
                    self._stop(job, "cancelled", "The job runner was shut down.")
            self._lock.notify_all()
        self._thread.join(timeout=5)

    # ----------------------------------------------------------------- private
    def _snapshot(self, job: _Job) -> JobStatus:
        waiting_for = 0
        if job.state == "queued":
            position = self._order.index(job.job_id)
            waiting_for = sum(1 for other in self._order[:position]
                              if self._jobs[other].state in ("queued", "running"))
        return JobStatus(job_id=job.job_id, state=job.state, methods=job.methods, outcomes=dict(job.outcomes),
                         current=job.current, pid=job.process.pid if job.state == "running" else None,
                         message=job.message, waiting_for=waiting_for, tasks=job.tasks, backend=job.backend)

    def _start_queued(self) -> None:
        """Start waiting runs while workers are free (lock held)."""
        running = sum(1 for job in self._jobs.values() if job.state == "running")
        for job_id in self._order:
            if running >= self.max_workers:
                return
            job = self._jobs[job_id]
            if job.state != "queued":
                continue
            receiver, sender = self._context.Pipe(duplex=False)
            process = self._context.Process(target=_worker, args=(sender, *job.arguments), daemon=True,
                                            name=f"causal-job-{job.job_id[:6]}")
            try:
                with main_script_hidden():
                    process.start()
            except Exception as exc:
                receiver.close()
                job.state, job.message, job.finished_at = "failed", f"The worker could not start ({exc}).", \
                    time.monotonic()
                continue
            finally:
                sender.close()
            job.arguments = ()  # the worker has its copy of the table
            job.process, job.connection, job.state = process, receiver, "running"
            running += 1

    def _drain(self, job: _Job) -> bool:
        """Read every event the worker has sent (lock held); True when it said it has ended."""
        ended = False
        connection = job.connection
        if connection is None:
            return False
        try:
            while connection.poll():
                event, method, outcome = connection.recv()
                if event == "start":
                    job.current, job.tasks = method, None
                elif event == "progress":
                    job.tasks = outcome
                elif event == "done":
                    job.outcomes[method] = outcome
                    job.current, job.tasks = None, None
                elif event == "end":
                    ended = True
        except (EOFError, OSError):
            pass
        return ended

    def _stop(self, job: _Job, state: str, message: str) -> None:
        """Kill the worker (if any), keep what it finished, and mark the run (lock held)."""
        if job.process is not None and job.process.is_alive():
            if job.backend is not None:  # let it cancel its futures on the cluster first
                job.process.terminate()
                job.process.join(timeout=CANCEL_GRACE)
            if job.process.is_alive():
                job.process.kill()
        if job.process is not None:
            job.process.join(timeout=10)
        self._drain(job)
        self._close(job)
        job.state, job.message, job.current, job.finished_at = state, message, None, time.monotonic()

    def _close(self, job: _Job) -> None:
        if job.connection is not None:
            job.connection.close()
            job.connection = None
        if job.process is not None and job.process.exitcode is not None:
            job.process.close()
            job.process = None

    def _supervise(self) -> None:
        """Collect events, notice ended or crashed workers, cancel abandoned runs, forget old ones."""
        if self._context.get_start_method() == "forkserver":
            try:  # start the fork server (and its imports) now rather than on the first run
                from multiprocessing import forkserver

                with main_script_hidden():
                    forkserver.ensure_running()
            except Exception:  # the first run will try again and report a failure as that run's message
                pass
        while True:
            with self._lock:
                if self._closed:
                    return
                running = [job for job in self._jobs.values() if job.state == "running"]
                waitables = [job.connection for job in running if job.connection is not None]
                waitables += [job.process.sentinel for job in running]
            if waitables:
                wait_for_connections(waitables, timeout=0.2)
            else:
                time.sleep(0.2)
            with self._lock:
                now = time.monotonic()
                changed = False
                for job in list(self._jobs.values()):
                    if job.state == "running":
                        ended = self._drain(job)
                        if ended or job.process.exitcode is not None:
                            job.process.join(timeout=10)
                            self._drain(job)
                            code = job.process.exitcode
                            self._close(job)
                            job.current, job.finished_at = None, now
                            if ended:
                                job.state = "done"
                            else:
                                job.state = "failed"
                                job.message = (f"The worker process stopped unexpectedly (exit code {code}), "
                                               "perhaps for lack of memory.")
                            changed = True
                    if job.state in ("queued", "running") and now - job.last_seen > self.abandon_after:
                        self._stop(job, "cancelled",
                                   f"Nobody followed this run for {self.abandon_after:.0f} s, so it was stopped.")
                        changed = True
                    if job.finished_at is not None and now - job.finished_at > self.keep_finished:
                        del self._jobs[job.job_id]
                        self._order.remove(job.job_id)
                if changed:
                    self._start_queued()
                    self._lock.notify_all()
