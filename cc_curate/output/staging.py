"""Staged shard outputs and the ledger of committed shards (the commit protocol).

A shard attempt writes under ``_staging/{shard_id}/{attempt}/``:

* ``rows.parquet`` – every row of the shard (schema STAGED), sorted by language then id, one
  row group per language, so a per-language reader fetches only its row groups;
* ``quarantine.jsonl`` – records the pipeline could not process.

It then commits by creating ``_ledger/{shard_id}.json`` exclusively (written last), after the
rows are fsynced (local disk), so a power loss cannot leave an entry that points at lost rows.
The ledger entry names the attempt, the per-language row groups, the shard's counters and how
the shard was read (``max_records``, and whether that cap cut the reading short). Readers trust only
the ledger, so a half-written attempt (a worker died) is invisible and a second attempt that
finishes later loses the race and deletes its own files: a shard is never observed twice.

The committed attempt's quarantined records are then copied to ``_quarantine/records/{shard_id}.jsonl``,
where operators read them, and which survives removing ``_staging/``; ``copy_missing_quarantine``
makes the copies a worker died before writing, so the folder always matches the ledger.
``_staging/`` itself is needed by every later publish of the output (docs/operations.md).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cc_curate.output.schema import STAGED, check_language
from cc_curate.output.storage import Storage

LEDGER = "_ledger"
STAGING = "_staging"
QUARANTINE_SHARDS = "_quarantine/shards"  # shards that failed every retry (written by the driver)
QUARANTINE_RECORDS = "_quarantine/records"  # the committed attempts' quarantined records, per shard


@dataclass(frozen=True)
class LanguageSlice:
    """Where one language's rows sit in a committed shard."""

    file: str  # relative to the output root
    row_groups: tuple[int, ...]
    rows: int


def ledger_path(shard_id: str) -> str:
    return f"{LEDGER}/{shard_id}.json"


def quarantine_records_path(shard_id: str) -> str:
    return f"{QUARANTINE_RECORDS}/{shard_id}.jsonl"


def copy_missing_quarantine(storage: Storage, committed: dict[str, dict[str, Any]]) -> int:
    """Copy into ``_quarantine/records/`` the committed quarantine files it lacks; returns how many.

    One listing of the folder; a copy is needed only for a shard whose worker died between its
    commit and its copy, so this costs almost nothing on a healthy run.
    """
    present = set(storage.list(QUARANTINE_RECORDS, ".jsonl"))
    copied = 0
    for shard_id, entry in sorted(committed.items()):
        if entry.get("quarantine_file") and f"{shard_id}.jsonl" not in present:
            with storage.open(entry["quarantine_file"], "rb") as fh:
                storage.write_atomic(quarantine_records_path(shard_id), fh.read())
            copied += 1
    return copied


def commit_shard(
    storage: Storage,
    shard_id: str,
    source: str,
    tables: Iterable[pa.Table],
    quarantined: list[dict[str, Any]],
    counters: dict[str, float],
    compression: str = "zstd",
    max_records: int | None = None,
    schema: pa.Schema = STAGED,
) -> dict[str, Any] | None:
    """Write one attempt and commit it. Returns the ledger entry, or None if already committed.

    ``max_records``: the cap the shard was read with (None: read to its end); the entry records
    it and whether the cap was reached, so a later run without it can read the shard again.
    ``schema`` is the pipeline's staged schema (STAGED plus the columns of plugin stages).
    """
    attempt = uuid.uuid4().hex[:12]
    prefix = f"{STAGING}/{shard_id}/{attempt}"
    tables = list(tables)
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    table = table.sort_by([("lang", "ascending"), ("id", "ascending")])
    order = [check_language(lang) for lang in _languages_in_order(table)]  # before anything is written
    languages: dict[str, dict[str, Any]] = {}
    rows_file = f"{prefix}/rows.parquet"
    with storage.open(rows_file, "wb") as fh, pq.ParquetWriter(
        fh, schema, compression=None if compression == "none" else compression
    ) as writer:
        for index, lang in enumerate(order):
            part = table.filter(pc.equal(table["lang"], lang))
            writer.write_table(part, row_group_size=max(1, part.num_rows))
            languages[lang] = {"row_groups": [index], "rows": part.num_rows}
    storage.sync(rows_file)
    if quarantined:
        body = "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in quarantined)
        storage.write_atomic(f"{prefix}/quarantine.jsonl", body.encode())
    entry = {
        "shard_id": shard_id,
        "source": source,
        "attempt": attempt,
        "rows_file": rows_file,
        "quarantine_file": f"{prefix}/quarantine.jsonl" if quarantined else None,
        "languages": languages,
        "counters": dict(counters),
        "max_records": max_records,
        "read_complete": max_records is None or counters.get("records.read", 0) < max_records,
        "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if storage.create_exclusive(ledger_path(shard_id), json.dumps(entry, sort_keys=True).encode()):
        if quarantined:
            storage.write_atomic(quarantine_records_path(shard_id), body.encode())
        return entry
    storage.remove(prefix, recursive=True)  # another attempt committed first
    return None


def uncommit_shard(storage: Storage, entry: dict[str, Any]) -> None:
    """Forget a committed shard so that it runs again: its ledger entry first (from then on it is
    not committed), then its quarantine copy and its staged attempt."""
    shard_id = entry["shard_id"]
    storage.remove(ledger_path(shard_id))
    storage.remove(quarantine_records_path(shard_id))
    storage.remove(entry["rows_file"].rsplit("/", 1)[0], recursive=True)


def missing_staged_rows(storage: Storage, entries: Iterable[dict[str, Any]]) -> list[str]:
    """The staged row files of ``entries`` whose shard folder is gone (``_staging/`` removed by hand).

    One listing of ``_staging/``, cheap on object stores too, before any work starts.
    """
    present = set(storage.list(STAGING))
    return sorted(e["rows_file"] for e in entries if e["rows_file"].split("/")[1] not in present)


def _languages_in_order(table: pa.Table) -> list[str]:
    # Sorted table: unique() keeps first-seen order, which is sorted order.
    return [v for v in pc.unique(table["lang"]).to_pylist()]


def read_ledger(storage: Storage) -> dict[str, dict[str, Any]]:
    """Every committed shard's ledger entry, by shard id.

    An empty entry is the trace of a crash inside the ``O_EXCL`` commit (filesystems without hard
    links, see ``Storage.create_exclusive``): created, never written. Its shard is not committed,
    so the entry is removed and the shard runs again. (Only the driver reads the ledger, when no
    commit is in flight.)
    """
    entries = {}
    for name in storage.list(LEDGER, ".json"):
        if name.startswith("_"):
            continue
        with storage.open(f"{LEDGER}/{name}", "rb") as fh:
            raw = fh.read()
        if not raw:
            storage.remove(f"{LEDGER}/{name}")
            continue
        entry = json.loads(raw)
        entries[entry["shard_id"]] = entry
    return entries


def slices_by_language(entries: Iterable[dict[str, Any]]) -> dict[str, list[LanguageSlice]]:
    """Invert the ledger: for each language, the committed row groups that hold it."""
    out: dict[str, list[LanguageSlice]] = {}
    for entry in sorted(entries, key=lambda e: e["shard_id"]):
        for lang, where in entry["languages"].items():
            out.setdefault(lang, []).append(
                LanguageSlice(entry["rows_file"], tuple(where["row_groups"]), where["rows"])
            )
    return out


def read_slices(storage: Storage, slices: Iterable[LanguageSlice], columns: list[str] | None = None) -> pa.Table:
    """Read the given row groups of staged files into one table (schema STAGED or a projection)."""
    parts = []
    for piece in slices:
        with storage.open(piece.file, "rb") as fh:
            parts.append(pq.ParquetFile(fh).read_row_groups(list(piece.row_groups), columns=columns))
    if not parts:
        schema = STAGED if columns is None else pa.schema([STAGED.field(c) for c in columns])
        return schema.empty_table()
    return pa.concat_tables(parts)
