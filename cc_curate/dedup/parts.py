"""Shuffle files: one Parquet file per task, one row group per destination partition.

A map task writes all its partitions into a single file (row groups tagged, in the footer,
with the partition they belong to), so a shuffle of M tasks into P partitions makes M files,
not M x P. A reduce task reads only its row groups from each file (ranged reads on object
stores).

Every file appears atomically under its final name (``AtomicFile``). Names are deterministic
per (stage, task), so a retried Ray task overwrites its own output with the same content and
never leaves half files.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
import weakref
from typing import Any, Iterator

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

_PARTS_KEY = b"cc_curate.parts"


def filesystem(url: str, storage_options: dict[str, Any] | None) -> fsspec.AbstractFileSystem:
    """The fsspec filesystem of ``url`` (local path, ``file://``, ``s3://`` ...)."""
    fs, _ = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return fs


class AtomicFile:
    """A binary file that appears under ``path`` only when committed, and complete.

    The bytes go to a local file first: next to the target (then renamed) on a local
    filesystem, in the temp folder (then uploaded in one go) on an object store. A file that is
    never committed — its task failed — is deleted when the object is garbage collected, and
    never reaches ``path``: an abandoned upload cannot overwrite the output of a retry.
    """

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str):
        self.fs, self.path = fs, path
        self.local = isinstance(fs, LocalFileSystem)
        if self.local:
            self.path = fsspec.core.strip_protocol(path)
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._spool = f"{self.path}.tmp-{uuid.uuid4().hex}"
        else:
            handle, self._spool = tempfile.mkstemp(prefix="cc-curate-", suffix=".part")
            os.close(handle)
        self.handle = open(self._spool, "wb")
        self._cleanup = weakref.finalize(self, _discard, self.handle, self._spool)

    def commit(self) -> None:
        self.handle.close()
        if self.local:
            os.replace(self._spool, self.path)
        else:
            self.fs.put_file(self._spool, self.path)
        self._cleanup()

    def abort(self) -> None:
        self._cleanup()


def _discard(handle: Any, spool: str) -> None:
    handle.close()
    with contextlib.suppress(FileNotFoundError):
        os.remove(spool)


def write_table(fs: fsspec.AbstractFileSystem, path: str, table: pa.Table) -> str:
    """Write one Parquet file atomically; returns ``path``."""
    out = AtomicFile(fs, path)
    try:
        pq.write_table(table, out.handle, compression="zstd")
    except BaseException:
        out.abort()
        raise
    out.commit()
    return path


class PartitionedWriter:
    """Buffers rows per destination partition and writes them as tagged row groups.

    Memory is bounded by ``buffer_rows``: when more are buffered, every partition's buffer is
    written out as one row group (a partition may thus own several row groups).
    """

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str, schema: pa.Schema, buffer_rows: int = 1 << 20):
        self.fs, self.path, self.schema = fs, path, schema
        self.buffer_rows = buffer_rows
        self._buffers: dict[int, list[pa.Table]] = {}
        self._buffered = 0
        self._parts: list[int] = []
        self._file: AtomicFile | None = None
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table, parts: np.ndarray) -> None:
        """Append ``table``'s rows, row ``i`` going to partition ``parts[i]``."""
        if table.num_rows == 0:
            return
        order = np.argsort(parts, kind="stable")
        sorted_parts = parts[order]
        table = table.take(pa.array(order))
        bounds = np.flatnonzero(np.diff(sorted_parts)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(order)]))
        for start, end in zip(starts.tolist(), ends.tolist()):
            self._buffers.setdefault(int(sorted_parts[start]), []).append(table.slice(start, end - start))
        self._buffered += table.num_rows
        if self._buffered >= self.buffer_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._buffers:
            return
        if self._writer is None:
            self._file = AtomicFile(self.fs, self.path)
            self._writer = pq.ParquetWriter(self._file.handle, self.schema, compression="zstd")
        for part in sorted(self._buffers):
            chunk = pa.concat_tables(self._buffers[part]).cast(self.schema)
            self._writer.write_table(chunk, row_group_size=chunk.num_rows)
            self._parts.append(part)
        self._buffers.clear()
        self._buffered = 0

    def close(self) -> str | None:
        """Finish the file; returns its path, or None when no row was written (no file)."""
        try:
            self._flush()
        except BaseException:
            if self._file is not None:
                self._writer.close()
                self._file.abort()
            raise
        if self._writer is None:
            return None
        self._writer.add_key_value_metadata({_PARTS_KEY: json.dumps(self._parts).encode()})
        self._writer.close()
        self._file.commit()
        return self.path


def iter_part(
    fs: fsspec.AbstractFileSystem, paths: list[str], part: int, columns: list[str] | None = None
) -> Iterator[pa.Table]:
    """Every row group of partition ``part`` in ``paths``, one table at a time (bounded memory)."""
    for path in paths:
        with fs.open(path, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            parts = json.loads(parquet.metadata.metadata[_PARTS_KEY])
            for group, owner in enumerate(parts):
                if owner == part:
                    yield parquet.read_row_group(group, columns=columns)


def read_part(fs: fsspec.AbstractFileSystem, paths: list[str], part: int, schema: pa.Schema) -> pa.Table:
    """All rows of partition ``part`` in ``paths`` as one table with ``schema``."""
    tables = list(iter_part(fs, paths, part, schema.names))
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables).combine_chunks()
