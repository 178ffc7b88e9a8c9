"""One streamed pass: a kernel applied to each fixed partition, here or on the cluster's workers.

On the serial backend the partitions are read one after the other in this
process. On a Dask backend (:mod:`causal_core.compute.backend`) each partition
is one task: the worker reads its own row range from the file
(:func:`causal_core.outofcore.source.read_partition`), encodes it and runs the
kernel; the small arrays it returns come back in partition order, re-aligned
(``np.require(a, ["A"])``, done by :func:`~causal_core.compute.backend.map_tasks`),
and the caller sums them in that order. The partitions and the kernels are the
same on every backend, so the sums, and the estimates, are bit-identical. A
worker lost during a pass costs its tasks only: they are sent again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from causal_core.compute.backend import cluster_client, map_tasks
from causal_core.outofcore.source import TableSource, partition_plan, partitions, read_partition

__all__ = ["map_partitions", "Pass"]


@dataclass(frozen=True)
class _PartitionTask:
    """What one worker does with one partition (pickled once per pass and scattered)."""

    source: TableSource
    columns: tuple[str, ...]
    encode: Callable[[Any], tuple]
    kernel: Callable[..., Any]
    args: tuple

    def __call__(self, part) -> Any:
        return self.kernel(*self.encode(read_partition(self.source, self.columns, part)), *self.args)


@dataclass
class Pass:
    """The streamed passes of one estimate over one table: counts them and reports progress.

    ``progress(pass_number, done, total)`` is called as partitions complete
    (in partition order), ``pass_number`` counting from 1.
    """

    source: TableSource
    columns: tuple[str, ...]
    encode: Callable[[Any], tuple]
    rows: int
    progress: Callable[[int, int, int], None] | None = None
    count: int = 0

    def run(self, kernel: Callable[..., Any], *args: Any) -> list:
        """``[kernel(X, t, y, *args) for each partition]``, in partition order."""
        self.count += 1
        return map_partitions(self.source, self.columns, self.encode, self.rows, kernel, args,
                              progress=self._report(self.count))

    def _report(self, number: int) -> Callable[[int, int], None] | None:
        if self.progress is None:
            return None
        progress = self.progress
        return lambda done, total: progress(number, done, total)


def map_partitions(source: TableSource, columns: Sequence[str], encode: Callable[[Any], tuple], rows: int,
                   kernel: Callable[..., Any], args: tuple = (), *,
                   progress: Callable[[int, int], None] | None = None) -> list:
    """``kernel(*encode(partition), *args)`` for each partition of ``source``, in partition order.

    One task per partition on a Dask backend; the serial backend, and a source over a Dask dataframe
    (whose partitions Dask computes on the cluster itself), stream the partitions in this process.
    """
    columns = tuple(columns)
    # a Dask dataframe source is computed partition by partition by Dask itself, so it is read here
    if cluster_client() is None or not isinstance(source, TableSource):
        total = -(-source.n_rows // int(rows))
        out = []
        for i, frame in enumerate(partitions(source, columns, rows)):
            out.append(kernel(*encode(frame), *args))
            if progress is not None:
                progress(i + 1, total)
        return out
    task = _PartitionTask(source, columns, encode, kernel, tuple(args))
    return map_tasks(task, partition_plan(source, rows), chunk_size=1, progress=progress)
