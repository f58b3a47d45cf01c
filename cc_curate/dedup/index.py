"""The persistent band index that lets the next release dedup against this one.

Layout under the index root (a local folder or an object-store prefix)::

    _meta.json                                     written last: the index is complete
    {lang}/g{GGGG}-q{QQQQQ}-of-{PPPPP}.parquet     key (uint64), kept_id, kept_date

Each row maps a key — a MinHash band key or an exact-text key of one document of a release,
both salted with the language (see ``cc_curate.dedup.hashing``) — to the document its
cluster kept. Keys are unique within an index: a release only adds keys that the index did
not hold. Generation ``GGGG`` is the release that added the file; ``QQQQQ`` of ``PPPPP`` is
the hash partition of its keys, so a dedup run with the same number of partitions reads only
its own files (any other number of partitions still works, by filtering on read).

An index is cumulative: writing the index of a release copies the previous index's files and
adds this release's new keys as the next generation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cc_curate.dedup.hashing import INDEX_FORMAT, partition_of
from cc_curate.dedup.keep import KEPT_DATE

KEY = pa.field("key", pa.uint64())
KEPT_ID = pa.field("kept_id", pa.string())
INDEX = pa.schema([KEY, KEPT_ID, KEPT_DATE])
META_FILE = "_meta.json"
_FILE = re.compile(r"(?P<lang>[^/]+)/g(?P<gen>\d{4})-q(?P<part>\d{5})-of-(?P<parts>\d{5})\.parquet$")
# The minhash settings that define band keys: an index is only usable with the same ones.
KEY_PARAMS = ("n_grams", "num_buckets", "hashes_per_bucket", "seed")


@dataclass(frozen=True)
class IndexFile:
    """One file of an index, with what its name says."""

    path: str
    lang: str
    generation: int
    part: int
    parts: int


def file_name(lang: str, generation: int, part: int, parts: int) -> str:
    """Relative name of a file: the name alone tells which keys it can hold."""
    return f"{lang}/g{generation:04d}-q{part:05d}-of-{parts:05d}.parquet"


def meta(minhash: Mapping[str, Any], generations: int) -> dict[str, Any]:
    """Contents of ``_meta.json``: what a later run must match to reuse the keys."""
    return {
        "format": INDEX_FORMAT,
        "minhash": {name: int(minhash[name]) for name in KEY_PARAMS},
        "generations": generations,
    }


def list_index(fs: fsspec.AbstractFileSystem, root: str, minhash: Mapping[str, Any]) -> tuple[list[IndexFile], int]:
    """The files of a complete index and its number of generations.

    Raises ValueError when the index is incomplete or was built with other key settings
    (its keys would never match, silently disabling incremental dedup).
    """
    meta_path = f"{root}/{META_FILE}"
    if not fs.exists(meta_path):
        raise ValueError(f"previous index {root!r} has no {META_FILE}: missing or not finished")
    with fs.open(meta_path, "rb") as handle:
        found = json.load(handle)
    expected = meta(minhash, found.get("generations", 0))
    if found.get("format") != INDEX_FORMAT or found.get("minhash") != expected["minhash"]:
        raise ValueError(
            f"previous index {root!r} was built with {found.get('minhash')} (format {found.get('format')}); "
            f"this run uses {expected['minhash']} (format {INDEX_FORMAT})"
        )
    files = []
    for path in sorted(fs.glob(f"{root}/*/g*-q*-of-*.parquet")):
        match = _FILE.search(path)
        if match:
            files.append(IndexFile(path, match["lang"], int(match["gen"]), int(match["part"]), int(match["parts"])))
    return files, int(found["generations"])


def files_for_partition(files: list[IndexFile], part: int, num_partitions: int) -> list[tuple[str, bool]]:
    """(path, must_filter) of the files that may hold keys of partition ``part``."""
    return [(f.path, f.parts != num_partitions) for f in files if f.parts != num_partitions or f.part == part]


def _iter_entries(
    fs: fsspec.AbstractFileSystem, files: list[tuple[str, bool]], part: int, num_partitions: int
) -> Iterator[pa.Table]:
    for path, must_filter in files:
        with fs.open(path, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group, columns=INDEX.names)
                if must_filter:
                    own = partition_of(table["key"].to_numpy(), num_partitions) == part
                    table = table.filter(pa.array(own))
                yield table


def lookup(
    fs: fsspec.AbstractFileSystem,
    files: list[tuple[str, bool]],
    keys: np.ndarray,
    part: int,
    num_partitions: int,
) -> pa.Table:
    """INDEX rows of the previous index whose key is in ``keys`` (sorted, distinct uint64).

    Streams the index one row group at a time: memory holds ``keys`` and the matches only.
    """
    matches = []
    for table in _iter_entries(fs, files, part, num_partitions):
        found = table["key"].to_numpy()
        position = np.minimum(np.searchsorted(keys, found), max(len(keys) - 1, 0))
        hit = (keys[position] == found) if len(keys) else np.zeros(len(found), dtype=bool)
        if hit.any():
            matches.append(table.filter(pa.array(hit)))
    return pa.concat_tables(matches).combine_chunks() if matches else INDEX.empty_table()
