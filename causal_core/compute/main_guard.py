"""Start child processes without making them re-run the parent's ``__main__`` script.

Used by the background job runner and the local Dask cluster: both start
worker processes with ``spawn``/``forkserver``, which re-execute the main
script in the child first.
"""
from __future__ import annotations

import sys
import threading
import types
from contextlib import contextmanager

__all__ = ["main_script_hidden"]

#: Serialises the short moments in which ``__main__`` is swapped while a worker process starts.
_SWAP_LOCK = threading.Lock()


@contextmanager
def main_script_hidden():
    """Start worker processes without making them re-run the caller's ``__main__`` script.

    ``spawn`` and ``forkserver`` children re-execute the parent's main script
    (found through ``sys.modules["__main__"]``) before running the target.
    Under Streamlit, ``__main__`` is whichever page script ran last, so a worker
    would re-run that page in bare mode and die on its first line that needs a
    session (this failed the test suite when an in-process page test had run
    before). The worker's target lives in this importable module, so it needs
    nothing from ``__main__``: while a process starts, ``__main__`` is a bare
    module with neither ``__file__`` nor ``__spec__``, which multiprocessing
    takes as "nothing to import". The original is put back unless someone else
    has installed a new ``__main__`` in the meantime.
    """
    with _SWAP_LOCK:
        original = sys.modules.get("__main__")
        bare = types.ModuleType("__main__")
        sys.modules["__main__"] = bare
        try:
            yield
        finally:
            if sys.modules.get("__main__") is bare and original is not None:
                sys.modules["__main__"] = original
