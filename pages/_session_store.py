"""Server-side store of analyses, so a reloaded page or a dropped connection gets its analysis back.

Each analysis has an unguessable id (``secrets.token_urlsafe``) that the app
puts in the page's URL (``?analysis=...``). Under that id the store keeps, as
files in a private directory (``<tempdir>/causal-workbench-<uid>``, mode 0700,
or ``$CAUSAL_WORKBENCH_STORE``):

- ``data.pkl``: the table, written once per loaded table (not on every change);
- ``state.pkl``: the small things (dataset name and version, roles, estimand,
  methods, options, seed, the running estimation's id);
- ``results.pkl``: the last estimation run.

Files rather than memory because tables can be large and several sessions run
at once: memory would grow with every open analysis, while the disk holds them
cheaply and the store stays bounded anyway. Pickle is used for exact round
trips (dtypes, index, frozen result objects); the files are written and read
only by this server process's user, in a directory nobody else can enter.

Bounds: an analysis idle for ``ttl`` seconds (2 hours by default) is deleted,
and when all analyses together exceed ``max_bytes`` the least recently used
ones are deleted first. An id is only ever looked up when the client presents
it, and only if it has the exact shape of a generated id.

This module does not import streamlit (``pages/_state.py`` wires it to the session).
"""
from __future__ import annotations

import os
import pickle
import re
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["AnalysisStore", "StoreUnavailable", "new_analysis_id", "is_analysis_id"]

PARTS = ("data", "state", "results")
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
DEFAULT_TTL = 2 * 3600.0
DEFAULT_MAX_BYTES = 2 * 1024**3


class StoreUnavailable(RuntimeError):
    """The store directory cannot be used safely (owned by someone else, a symlink, not writable)."""


def new_analysis_id() -> str:
    """A fresh unguessable id (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def is_analysis_id(text: object) -> bool:
    """True when ``text`` has exactly the shape of an id made by :func:`new_analysis_id`."""
    return isinstance(text, str) and _ID_PATTERN.fullmatch(text) is not None


def _default_root() -> Path:
    configured = os.environ.get("CAUSAL_WORKBENCH_STORE")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"causal-workbench-{os.getuid()}"


class AnalysisStore:
    """Analyses kept on disk under their ids, with a time-to-live and a size cap.

    Parameters
    ----------
    root : path, optional
        The private directory (created with mode 0700).
    ttl : float
        Seconds an analysis may stay unused before it is deleted.
    max_bytes : int
        Upper bound of all analyses together; a table larger than this is not kept.
    """

    def __init__(self, root: str | Path | None = None, *, ttl: float = DEFAULT_TTL,
                 max_bytes: int = DEFAULT_MAX_BYTES, sweep_every: float = 60.0) -> None:
        self.root = Path(root) if root is not None else _default_root()
        self.ttl = float(ttl)
        self.max_bytes = int(max_bytes)
        self.sweep_every = float(sweep_every)
        self._last_sweep = 0.0
        self._prepare_root()

    # ------------------------------------------------------------------ public
    def exists(self, analysis_id: str) -> bool:
        """True when the id is well formed and its analysis is stored and not expired."""
        folder = self._folder(analysis_id)
        if folder is None or not folder.is_dir():
            return False
        return time.time() - folder.stat().st_mtime <= self.ttl

    def load(self, analysis_id: str) -> dict[str, Any] | None:
        """The stored parts (``"data"``, ``"state"``, ``"results"``, those present), or None if unknown or expired."""
        self._maybe_sweep()
        if not self.exists(analysis_id):
            return None
        folder = self._folder(analysis_id)
        parts: dict[str, Any] = {}
        for part in PARTS:
            path = folder / f"{part}.pkl"
            if path.is_file():
                with open(path, "rb") as handle:
                    parts[part] = pickle.load(handle)
        self.touch(analysis_id)
        return parts

    def save(self, analysis_id: str, part: str, value: Any) -> bool:
        """Store one part of the analysis (replacing the previous one); False when it is too large to keep.

        ``value=None`` removes the part.
        """
        if part not in PARTS:
            raise ValueError(f"The store keeps the parts {', '.join(PARTS)}; got {part!r}.")
        folder = self._folder(analysis_id)
        if folder is None:
            raise ValueError(f"Analysis id {analysis_id!r} is not valid; ids are made by new_analysis_id().")
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{part}.pkl"
        if value is None:
            path.unlink(missing_ok=True)
            return True
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(payload) > self.max_bytes:
            path.unlink(missing_ok=True)
            return False
        temporary = folder / f".{part}.{secrets.token_hex(4)}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
        self.touch(analysis_id)
        self._enforce_size(keep=analysis_id)
        self._maybe_sweep()
        return True

    def touch(self, analysis_id: str) -> None:
        """Mark the analysis as used now (restarts its time-to-live)."""
        folder = self._folder(analysis_id)
        if folder is not None and folder.is_dir():
            os.utime(folder)

    def delete(self, analysis_id: str) -> None:
        folder = self._folder(analysis_id)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def sweep(self) -> list[str]:
        """Delete expired analyses; returns their ids."""
        self._last_sweep = time.monotonic()
        now = time.time()
        expired = [folder for folder in self._entries() if now - folder.stat().st_mtime > self.ttl]
        for folder in expired:
            shutil.rmtree(folder, ignore_errors=True)
        return [folder.name for folder in expired]

    def total_bytes(self) -> int:
        return sum(size for _, size, _ in self._sizes())

    # ----------------------------------------------------------------- private
    def _prepare_root(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(self.root)
        except OSError as exc:
            raise StoreUnavailable(f"The analysis store {self.root} cannot be created ({exc}).") from exc
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise StoreUnavailable(f"The analysis store {self.root} is not a plain directory; remove it.")
        if info.st_uid != os.getuid():
            raise StoreUnavailable(f"The analysis store {self.root} belongs to another user; set "
                                   "CAUSAL_WORKBENCH_STORE to a private directory.")
        os.chmod(self.root, 0o700)

    def _folder(self, analysis_id: str) -> Path | None:
        return self.root / analysis_id if is_analysis_id(analysis_id) else None

    def _entries(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink() and is_analysis_id(p.name)]
        except OSError:
            return []

    def _sizes(self) -> list[tuple[Path, int, float]]:
        rows = []
        for folder in self._entries():
            try:
                size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
                rows.append((folder, size, folder.stat().st_mtime))
            except OSError:  # deleted meanwhile by another session's sweep
                continue
        return rows

    def _enforce_size(self, keep: str) -> None:
        """Delete least recently used analyses (never ``keep``) while the total exceeds ``max_bytes``."""
        rows = self._sizes()
        total = sum(size for _, size, _ in rows)
        for folder, size, _ in sorted(rows, key=lambda row: row[2]):
            if total <= self.max_bytes:
                return
            if folder.name == keep:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            total -= size

    def _maybe_sweep(self) -> None:
        if time.monotonic() - self._last_sweep >= self.sweep_every:
            self.sweep()
