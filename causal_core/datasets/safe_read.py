"""Read untrusted uploads in a child process with memory and time caps, so the server survives any file.

:func:`read_upload` first runs the cheap checks of :mod:`causal_core.datasets.upload_limits`
here (clear messages, no parsing), then starts a fresh Python that parses with
:func:`causal_core.datasets.table_reader.read_table_in_process` under

- ``CHILD_MEMORY_BYTES`` = 6 GiB of address space (``RLIMIT_AS``): a 3M-row,
  210 MB CSV peaks at 1.1 GB resident in the reader, so real files fit, while two concurrent reads
  still leave half of a 24 GB server to everyone else; an allocation beyond it
  fails in the child (a Python ``MemoryError``, or an abort in calamine's Rust
  code) and never in the server;
- ``CHILD_SECONDS`` = 120 s of wall-clock time (and as much CPU time), after
  which the child is killed: the slowest real upload measured (a 22 MB workbook
  of 350,000 rows) takes 5 s;
- ``MAX_CONCURRENT_READS`` = 2 children at a time per server (one per core);
  a third upload waits for a free slot, at most ``CHILD_SECONDS``.

The upload goes to the child as a file in a private temporary folder, and the
child sends the table back as an Arrow IPC file beside it (pickle only for columns Arrow cannot type, such as a mix of numbers and
text from a spreadsheet), and its notes and errors as one JSON line on stdout.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from causal_core.core.errors import CausalInputError

__all__ = ["UploadResult", "read_upload", "upload_sheet_names",
           "CHILD_MEMORY_BYTES", "CHILD_SECONDS", "MAX_CONCURRENT_READS"]

CHILD_MEMORY_BYTES = 6 * 2**30
CHILD_SECONDS = 120
MAX_CONCURRENT_READS = 2

_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_READS)
_PACKAGE_DIR = Path(__file__).resolve().parents[1]

# The child imports only the reader's modules (not the whole engine): a bare package object stands in for
# causal_core/__init__.py, which would import every estimator.
_CHILD_CODE = f"""
import sys, types
package = types.ModuleType("causal_core")
package.__path__ = [{str(_PACKAGE_DIR)!r}]
sys.modules["causal_core"] = package
from causal_core.datasets.safe_read import _child_main
_child_main()
"""


@dataclass(frozen=True)
class UploadResult:
    """A table read from an upload and the notes about what was repaired while reading it.

    Attributes
    ----------
    frame : DataFrame
        The table (a new object owned by the caller).
    notes : tuple of str
        One sentence per repair (NUL bytes removed, decimal commas converted, nested columns as JSON).
    """

    frame: pd.DataFrame
    notes: tuple[str, ...] = ()


def _precheck(data: bytes, filename: str, sheet: str | int | None, encoding: str) -> None:
    """The metadata checks that need no parsing, run in the caller's process for fast, clear messages."""
    from causal_core.datasets.table_reader import _extension, check_utf16_without_bom
    from causal_core.datasets.upload_limits import check_parquet, check_text_shape, check_workbook

    extension = _extension(filename)
    if extension in ("xlsx", "xlsm") or (extension == "xls" and data[:2] == b"PK"):
        check_workbook(data, filename, sheet)
    elif extension in ("parquet", "pq"):
        check_parquet(data, filename)
    elif extension != "xls":
        try:
            check_utf16_without_bom(data, filename, encoding)
            check_text_shape(data, filename, None, encoding)
        except (LookupError, UnicodeError):
            pass  # an unknown encoding is reported by the reader itself


def _limit_resources(memory_bytes: int, seconds: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    cpu = max(1, math.ceil(seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def _write_frame(frame: pd.DataFrame, path: str) -> str:
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        with open(path, "wb") as out:
            pickle.dump(frame, out, protocol=pickle.HIGHEST_PROTOCOL)
        return "pickle"
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return "arrow"


def _child_main() -> None:
    """Entry point of the child: request in argv, file bytes in a private file, one JSON line on stdout."""
    request = json.loads(sys.argv[1])
    import pyarrow  # noqa: F401  (imported before the cap: its allocator reserves address space once)

    from causal_core.datasets.table_reader import read_table_in_process, sheet_names_in_process

    _limit_resources(request["memory_bytes"], request["seconds"])
    reply: dict[str, object]
    try:
        with open(request["input"], "rb") as source:
            data = source.read()
        if request["mode"] == "sheets":
            reply = {"sheets": sheet_names_in_process(data)}
        else:
            frame, notes = read_table_in_process(data, request["filename"], encoding=request["encoding"],
                                                 sheet=request["sheet"])
            del data
            reply = {"format": _write_frame(frame, request["out"]), "notes": list(notes)}
    except CausalInputError as exc:
        reply = {"error": str(exc)}
    except MemoryError:
        reply = {"memory": True}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def _run_child(data: bytes, request: dict, filename: str, seconds: float, memory_bytes: int, folder: str) -> dict:
    if not _SLOTS.acquire(timeout=seconds):
        raise CausalInputError(
            f"The server is busy reading {MAX_CONCURRENT_READS} other uploads; try '{filename}' again in a minute.")
    try:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1")
        source = str(Path(folder) / "upload")
        with open(source, "wb") as handle:  # one write; a pipe would move it 4 KB at a time
            handle.write(data)
        request = dict(request, seconds=float(seconds), memory_bytes=int(memory_bytes), input=source)
        child = subprocess.Popen([sys.executable, "-c", _CHILD_CODE, json.dumps(request)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            out, err = child.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise CausalInputError(
                f"Reading '{filename}' took longer than {seconds:g} s, the most an upload may take; "
                "upload a smaller extract, or the same data as CSV or Parquet."
            ) from None
    finally:
        _SLOTS.release()
    gib = memory_bytes / 2**30
    try:
        reply = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        reply = None
    if reply is None or reply.get("memory"):
        code = child.returncode
        how = f"signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() \
            else f"code {int(code)}"
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        if reply is not None or code in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV, -signal.SIGXCPU) \
                or any("memory" in line.lower() or "alloc" in line.lower() for line in last):
            raise CausalInputError(
                f"Reading '{filename}' needed more than {gib:g} GiB of memory, the most an upload may use "
                f"(the reader stopped with {how}); upload fewer rows or columns, or the data as CSV or Parquet."
            )
        raise CausalInputError(
            f"The reader stopped on '{filename}' with {how} ({' '.join(last)[:200] or 'no message'}); "
            "check the file, or upload the data as CSV or Parquet."
        )
    if "error" in reply:
        raise CausalInputError(str(reply["error"]))
    return reply


def read_upload(data: bytes, filename: str, *, encoding: str = "utf-8", sheet: str | int | None = None,
                seconds: float = CHILD_SECONDS, memory_bytes: int = CHILD_MEMORY_BYTES) -> UploadResult:
    """Read an untrusted upload safely: size checks here, parsing in a capped child process.

    Parameters
    ----------
    data : bytes
        File contents.
    filename : str
        Original name; its ending chooses the reader.
    encoding : str
        Text encoding of CSV/TSV files.
    sheet : str or int, optional
        Excel sheet (the first by default).
    seconds : float
        Wall-clock (and CPU) time the child may take.
    memory_bytes : int
        Address space the child may use.

    Returns
    -------
    UploadResult
        The frame and the notes about repairs made while reading.

    Raises
    ------
    CausalInputError
        For every file that cannot be read within the limits, with a sentence saying why.
    """
    from causal_core.datasets.table_reader import SUPPORTED_EXTENSIONS, _extension

    extension = _extension(filename)
    if extension not in SUPPORTED_EXTENSIONS:
        raise CausalInputError(
            f"File '{filename}' has type '.{extension}'; upload a CSV/TSV, Excel (.xlsx) or Parquet file.")
    if not data:
        raise CausalInputError(f"File '{filename}' is empty.")
    _precheck(data, filename, sheet, encoding)
    with tempfile.TemporaryDirectory(prefix="causal_upload_") as folder:
        out = str(Path(folder) / "table")
        request = {"mode": "table", "filename": filename, "encoding": encoding,
                   "sheet": sheet, "out": out}
        reply = _run_child(data, request, filename, seconds, memory_bytes, folder)
        if reply["format"] == "pickle":
            with open(out, "rb") as handle:
                frame = pickle.load(handle)  # written by our own child a moment ago
        else:
            import pyarrow as pa

            with pa.OSFile(out, "rb") as source:
                frame = pa.ipc.open_file(source).read_all().to_pandas()
    return UploadResult(frame=frame, notes=tuple(str(n) for n in reply.get("notes", ())))


def upload_sheet_names(data: bytes, filename: str, *, seconds: float = CHILD_SECONDS,
                       memory_bytes: int = CHILD_MEMORY_BYTES) -> list[str]:
    """Sheet names of a workbook the engine must open to list them (legacy .xls), in a capped child."""
    if not data:
        raise CausalInputError(f"File '{filename}' is empty.")
    with tempfile.TemporaryDirectory(prefix="causal_upload_") as folder:
        reply = _run_child(data, {"mode": "sheets", "filename": filename}, filename, seconds, memory_bytes, folder)
    return [str(name) for name in reply["sheets"]]
