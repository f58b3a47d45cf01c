"""One output root (a local folder or an ``s3://`` prefix) with the few operations the commit
protocol needs. fsspec does the work; this only fixes the meaning of "atomic" per backend:

* local: write to a temporary name, fsync it, then ``os.replace`` (POSIX rename is atomic) and
  fsync the folder, so a power loss leaves the old file or the new one, never an empty one;
* object stores: a single PUT is atomic (readers see the old object or the new one, never half),
  so small files are written with one ``pipe`` call. Big files are never renamed on object stores:
  they live under an attempt-unique prefix and become visible only when a ledger entry (written
  last) points at them; a release is copied into place (``replace_folder``).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import sys
import uuid
from typing import Any, IO

import fsspec
from fsspec.implementations.local import LocalFileSystem


# fsspec protocols whose pipe_file(mode="create") is a conditional PUT (s3fs: If-None-Match).
CONDITIONAL_PUT_PROTOCOLS = frozenset({"s3", "s3a"})
# What os.link raises on a filesystem without hard links (FAT/exFAT, some FUSE and network mounts).
NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.ENOSYS, errno.EMLINK})


def fsync_folder(path: str) -> None:
    """Make a folder's entries (a created, renamed or linked name) durable. POSIX only."""
    if sys.platform == "win32":  # pragma: no cover - folders cannot be opened there
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def exchange_paths(a: str, b: str) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    False where the kernel, the C library or the filesystem cannot (the caller then falls back
    to two renames); readers of ``b`` see the old entry or the new one, never neither.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:  # glibc < 2.28, musl
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), a)


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

    def sync(self, relative: str) -> None:
        """Local only: fsync a written file and every folder from its own up to the root, so a
        power loss cannot leave a name that points at lost data. Object stores: a finished PUT
        is already durable."""
        if not self.local:
            return
        path = self.path(relative)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._sync_folders(os.path.dirname(path))

    def sync_tree(self, relative: str) -> None:
        """Local only: fsync every file and folder under ``relative``, and its parents up to the root."""
        top = self.path(relative)
        if not self.local or not os.path.exists(top):
            return
        for folder, _, files in os.walk(top, topdown=False):
            for name in files:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            fsync_folder(folder)
        self._sync_folders(os.path.dirname(top))

    def _sync_folders(self, folder: str) -> None:
        """fsync ``folder`` and its parents up to the root (created folders need their parents' entries)."""
        root = os.path.abspath(self.root)
        folder = os.path.abspath(folder)
        while True:
            fsync_folder(folder)
            if folder == root or not folder.startswith(root + os.sep):
                return
            folder = os.path.dirname(folder)

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
            self._sync_folders(os.path.dirname(self.path(relative)))
        else:
            self.fs.pipe_file(self.path(relative), data)

    def create_exclusive(self, relative: str, data: bytes) -> bool:
        """Write ``relative`` only if absent; True if this call created it (first commit wins).

        Local: ``os.link`` of a finished, fsynced temp file fails if the target exists (atomic);
        the folder is fsynced after. On a filesystem without hard links (``link`` fails with
        EPERM, ENOTSUP, EXDEV, ...): ``O_CREAT | O_EXCL``, equally exclusive, the entry written in
        one ``write`` and fsynced (a reader racing the write could see it empty for an instant).
        S3: a conditional PUT (``If-None-Match: *``), which S3 and most compatibles honour: of
        two racing commits exactly one wins. A PUT whose answer was lost and that botocore sent
        again meets its own entry: an entry identical to ``data`` (entries name their attempt)
        counts as created. Other object stores: check-then-put; a lost race rewrites the entry
        with the other attempt's (identical) outputs, so readers still see one entry per shard.
        """
        if self.local:
            target = self.path(relative)
            tmp = self._durable_temp(relative, data)
            try:
                os.link(tmp, target)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in NO_HARD_LINKS:
                    raise
                return self._create_excl(target, data)
            finally:
                os.unlink(tmp)
            fsync_folder(os.path.dirname(target))
            return True
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

    @staticmethod
    def _create_excl(target: str, data: bytes) -> bool:
        """``create_exclusive`` where hard links do not exist: O_EXCL creation, then fsync."""
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_folder(os.path.dirname(target))
        return True

    def replace_folder(self, new: str, target: str) -> None:
        """Make the folder ``new`` visible as ``target``; the previous ``target`` is dropped.

        Local: one atomic rename where the kernel can swap two folders (Linux), so readers of
        ``target`` see the old folder or the new one, never a mix; elsewhere two renames, with
        an instant in which ``target`` is absent. Object stores have no rename: the files are
        copied server-side into ``target``, then the ones the new folder lacks are deleted.
        """
        if self.local:
            src, dst = self.path(new), self.path(target)
            if not os.path.exists(dst):
                os.rename(src, dst)
            elif not exchange_paths(src, dst):
                os.rename(dst, self.path(self.aside(target)))  # a kill here: see recover_folder
                os.rename(src, dst)
                os.rename(self.path(self.aside(target)), src)
            self._sync_folders(os.path.dirname(dst))
            self.remove(new, recursive=True)
            return
        src, dst = self.path(new).rstrip("/"), self.path(target).rstrip("/")
        fresh = {f[len(src) + 1:] for f in self.fs.find(self._fresh(new))}
        for name in sorted(fresh):
            self.fs.copy(f"{src}/{name}", f"{dst}/{name}")
        for path in self.fs.find(self._fresh(target)):
            if path[len(dst) + 1:] not in fresh:
                self.fs.rm_file(path)
        self.remove(new, recursive=True)

    @staticmethod
    def aside(target: str) -> str:
        """Where ``replace_folder`` keeps the previous ``target`` between its two renames."""
        return f"{target}.previous"

    def recover_folder(self, target: str) -> None:
        """Local: undo a ``replace_folder`` killed between its two renames (no atomic swap here):
        the previous ``target`` goes back in place; if the new one made it, the previous is dropped."""
        if self.local and self.exists(self.aside(target)):
            if self.exists(target):
                self.remove(self.aside(target), recursive=True)
            else:
                os.rename(self.path(self.aside(target)), self.path(target))

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
