"""The work of one shard inside a Ray worker: read records, run the pipeline, commit.

Models load once per worker process: the pipeline is cached by recipe hash, and Ray reuses
worker processes across tasks. The task returns only its small ledger entry, never documents.
"""

from __future__ import annotations

import re
import resource
import sys
import time
from dataclasses import asdict
from typing import Any

from cc_curate.output.staging import commit_shard, ledger_path
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.report.counters import Counters
from cc_curate.sources import RawRecord, ReadPolicy, Shard, SkippedRecord, iter_records
from cc_curate.stages.pipeline import DocumentPipeline

_PIPELINES: dict[str, DocumentPipeline] = {}
DUMP_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")


def pipeline_for(recipe: Recipe, counters: Counters | None = None) -> DocumentPipeline:
    """This process's pipeline for ``recipe`` (built on first use: models load once).

    A build is counted in ``counters`` as ``pipeline.builds`` and ``time.stage.setup``.
    """
    key = recipe.sha256
    if key not in _PIPELINES:
        started = time.perf_counter()
        _PIPELINES[key] = DocumentPipeline(recipe)
        if counters is not None:
            counters.add("pipeline.builds")
            counters.add("time.stage.setup", time.perf_counter() - started)
    return _PIPELINES[key]


def peak_rss_bytes() -> int:
    """The peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def dump_name(recipe: Recipe, shard: Shard, snapshot: str | None) -> str:
    """The `dump` column: the recipe's, else the snapshot's, else the one named in the path."""
    if recipe.settings.get("dump"):
        return recipe.settings["dump"]
    if snapshot:
        return snapshot
    match = DUMP_RE.search(shard.path)
    return match.group(0) if match else "unknown"


def process_shard(
    shard: Shard,
    recipe: Recipe,
    output: str,
    *,
    snapshot: str | None = None,
    max_records: int | None = None,
) -> dict[str, Any]:
    """Process and commit one shard. Idempotent: a committed shard is not processed again."""
    storage_options = recipe.settings["input"]["storage_options"] or None
    storage = Storage(output, storage_options)
    if storage.exists(ledger_path(shard.shard_id)):
        return storage.read_json(ledger_path(shard.shard_id))
    started = time.perf_counter()
    cpu_started = time.process_time()
    counters = Counters()
    pipeline = pipeline_for(recipe, counters)
    batch_size = recipe.settings["runtime"]["batch_size"]
    dump = dump_name(recipe, shard, snapshot)
    tables, quarantined, batch = [], [], []
    processing = [0.0]  # seconds inside pipeline.process; the rest of the loop is reading

    def flush() -> None:
        began = time.perf_counter()
        result = pipeline.process(batch, dump=dump, file_path=shard.path)
        processing[0] += time.perf_counter() - began
        tables.append(result.table)
        counters.update(result.counters)
        quarantined.extend({**asdict(q), "shard": shard.shard_id} for q in result.quarantined)
        batch.clear()

    reading_started = time.perf_counter()
    for item in iter_records(
        shard,
        max_records=max_records,
        max_payload_bytes=recipe.settings["input"]["max_payload_bytes"],
        storage_options=storage_options,
        read_policy=ReadPolicy(**recipe.settings["input"]["read"]),
    ):
        counters.add("records.read")
        if isinstance(item, SkippedRecord):
            counters.add(f"records.skipped.{item.reason}")
            if item.reason in QUARANTINED_SKIPS:
                quarantined.append({"id": item.id, "url": item.url, "reason": item.reason,
                                    "detail": item.detail, "shard": shard.shard_id})
            continue
        assert isinstance(item, RawRecord)
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    counters.add("time.stage.read", time.perf_counter() - reading_started - processing[0])
    counters.add("records.quarantined", len(quarantined))
    counters.add("time.shard_seconds", round(time.perf_counter() - started, 3))
    counters.add("time.shard_cpu_seconds", round(time.process_time() - cpu_started, 3))
    # A per-shard value (this worker's peak so far): summed in stats.json like every counter, so
    # the largest worker peak is read from the ledger entries (see report/estimate.py).
    counters.add("memory.peak_rss_bytes", peak_rss_bytes())
    counters.add("shards.processed")
    entry = commit_shard(
        storage, shard.shard_id, shard.path, tables, quarantined, counters,
        compression=recipe.settings["output"]["compression"],
    )
    return entry if entry is not None else storage.read_json(ledger_path(shard.shard_id))


# Skipped records that are damage (worth a look), as opposed to ordinary non-HTML traffic.
QUARANTINED_SKIPS = frozenset({"corrupt_record", "truncated", "charset_failed", "payload_too_large"})
