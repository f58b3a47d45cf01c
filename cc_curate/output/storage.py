"""One output root (a local folder or an ``s3://`` prefix) with the few operations the commit
protocol needs. fsspec does the work; this only fixes the meaning of "atomic" per backend:

* local: write to a temporary name, then ``os.replace`` (POSIX rename is atomic);
* object stores: a single PUT is atomic (readers see the old object or the new one, never half),
  so small files are written with one ``pipe`` call. Big files are never renamed on object stores:
  they live under an attempt-unique prefix and become visible only when a ledger entry (written
  last) points at them.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, IO

import fsspec
from fsspec.implementations.local import LocalFileSystem


# fsspec protocols whose pipe_file(mode="create") is a conditional PUT (s3fs: If-None-Match).
CONDITIONAL_PUT_PROTOCOLS = frozenset({"s3", "s3a"})


class Storage:
    def __init__(self, root: str, storage_options: dict[str, Any] | None = None):
        self.fs, path = fsspec.core.url_to_fs(root, **(storage_options or {}))
        self.root = path.rstrip("/")
        self.url = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        protocols = {self.fs.protocol} if isinstance(self.fs.protocol, str) else set(self.fs.protocol)
        self.conditional_put = bool(protocols & CONDITIONAL_PUT_PROTOCOLS)

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}" if relative else self.root

    def _fresh(self, relative: str) -> str:
        """The path of ``relative``, with fsspec's listings cache for it (and its parents) dropped.

        Object-store filesystems cache directory listings per process and answer ``exists``,
        ``ls`` and the size lookup of ``open`` from them; other processes (the workers that
        commit shards) change these folders, so run state must always be read fresh.
        """
        path = self.path(relative)
        if not self.local:
            self.fs.invalidate_cache(path)
        return path

    def exists(self, relative: str) -> bool:
        return self.fs.exists(self._fresh(relative))

    def open(self, relative: str, mode: str = "rb") -> IO:
        if "w" in mode:
            self.makedirs(os.path.dirname(relative))
        return self.fs.open(self._fresh(relative), mode)

    def makedirs(self, relative: str) -> None:
        if self.local and relative:
            self.fs.makedirs(self.path(relative), exist_ok=True)

    def _durable_temp(self, relative: str, data: bytes) -> str:
        """Local only: ``data`` written and fsynced under a unique temporary name beside ``relative``."""
        self.makedirs(os.path.dirname(relative))
        tmp = self.path(f"{relative}.tmp-{uuid.uuid4().hex}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def write_atomic(self, relative: str, data: bytes) -> None:
        """Publish ``data`` under ``relative`` in one step: readers never see a partial file."""
        if self.local:
            os.replace(self._durable_temp(relative, data), self.path(relative))
        else:
            self.fs.pipe_file(self.path(relative), data)

    def create_exclusive(self, relative: str, data: bytes) -> bool:
        """Write ``relative`` only if absent; True if this call created it (first commit wins).

        Local: ``os.link`` of a finished temp file fails if the target exists (atomic).
        S3: a conditional PUT (``If-None-Match: *``), which S3 and most compatibles honour: of
        two racing commits exactly one wins. A PUT whose answer was lost and that botocore sent
        again meets its own entry: an entry identical to ``data`` (entries name their attempt)
        counts as created. Other object stores: check-then-put; a lost race rewrites the entry
        with the other attempt's (identical) outputs, so readers still see one entry per shard.
        """
        if self.local:
            tmp = self._durable_temp(relative, data)
            try:
                os.link(tmp, self.path(relative))
                return True
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
        if self.exists(relative):
            return False
        if not self.conditional_put:
            self.fs.pipe_file(self.path(relative), data)
            return True
        try:
            self.fs.pipe_file(self.path(relative), data, mode="create")
            return True
        except FileExistsError:
            with self.fs.open(self._fresh(relative), "rb") as fh:
                return fh.read() == data

    def read_json(self, relative: str) -> Any:
        with self.fs.open(self._fresh(relative), "rb") as fh:
            return json.loads(fh.read())

    def write_json(self, relative: str, obj: Any) -> None:
        self.write_atomic(relative, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())

    def list(self, relative: str, suffix: str = "") -> list[str]:
        """Names (not paths) directly under ``relative``; empty if it does not exist."""
        try:
            entries = self.fs.ls(self._fresh(relative), detail=False)
        except FileNotFoundError:
            return []
        names = sorted(os.path.basename(e.rstrip("/")) for e in entries)
        return [n for n in names if n.endswith(suffix) and ".tmp-" not in n]

    def remove(self, relative: str, recursive: bool = False) -> None:
        if self.exists(relative):
            self.fs.rm(self.path(relative), recursive=recursive)
