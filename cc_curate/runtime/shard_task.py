"""The work of one shard inside a Ray worker: read records, run the pipeline, commit.

Models load once per worker process: the pipeline is cached by recipe hash, and Ray reuses
worker processes across tasks. The task returns only its small ledger entry, never documents.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict
from typing import Any

from cc_curate.output.staging import commit_shard, ledger_path
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.redaction import redact
from cc_curate.report.counters import Counters
from cc_curate.runtime.logs import SHARD_LOG, attempt_number, captured, failed_log_path, shard_log_path, summary_line
from cc_curate.sources import RawRecord, ReadPolicy, Shard, SkippedRecord, iter_records
from cc_curate.stages.pipeline import DocumentPipeline
from cc_curate.url_lists import CompiledUrlLists

_PIPELINES: dict[str, DocumentPipeline] = {}
DUMP_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")


def pipeline_for(
    recipe: Recipe, counters: Counters | None = None, url_lists: CompiledUrlLists | None = None
) -> DocumentPipeline:
    """This process's pipeline for ``recipe`` (built on first use: models load once).

    ``url_lists``: FineWeb's compiled URL lists as the driver shared them (None: loaded here if
    the recipe asks for them).

    A build is counted in ``counters`` as ``pipeline.builds`` and ``time.stage.setup``.
    """
    key = recipe.sha256
    if key not in _PIPELINES:
        started = time.perf_counter()
        _PIPELINES[key] = DocumentPipeline(recipe, url_lists)
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
    if recipe.run.top.dump:
        return recipe.run.top.dump
    if snapshot:
        return snapshot
    match = DUMP_RE.search(shard.path)
    return match.group(0) if match else "unknown"


def process_shard(
    shard: Shard,
    recipe: Recipe,
    output: str,
    snapshot: str | None = None,
    max_records: int | None = None,
    url_lists: CompiledUrlLists | None = None,
) -> dict[str, Any]:
    """Process and commit one shard, and write its log (runtime/logs.py says which file).

    Idempotent: a committed shard is not processed again. ``url_lists``: see ``pipeline_for``.
    """
    storage = Storage(output, recipe.run.input.fsspec_options)
    if storage.exists(ledger_path(shard.shard_id)):
        return storage.read_json(ledger_path(shard.shard_id))
    attempt = attempt_number(storage, shard.shard_id)
    started = time.perf_counter()
    counters = Counters()
    quarantined: list[dict[str, Any]] = []
    with captured(SHARD_LOG) as log:
        SHARD_LOG.info("shard %s attempt %d: %s (pid %d)", shard.shard_id, attempt, redact(shard.path), os.getpid())
        try:
            entry = _process(shard, recipe, storage, counters, quarantined, snapshot=snapshot, max_records=max_records,
                             url_lists=url_lists)
        except Exception:
            # redacted: an error can quote a URL with credentials or a presigned query
            SHARD_LOG.error("attempt %d failed\n%s", attempt, redact(traceback.format_exc().rstrip()))
            _log_outcome(counters, None, quarantined, time.perf_counter() - started, attempt, "failed")
            _write_log(storage, failed_log_path(shard.shard_id, attempt), log.getvalue())
            raise
        if entry is None:  # another attempt committed first: its log is the shard's log
            return storage.read_json(ledger_path(shard.shard_id))
        _log_outcome(counters, entry, quarantined, time.perf_counter() - started, attempt, "committed")
    _write_log(storage, shard_log_path(shard.shard_id), log.getvalue())
    return entry


def _process(
    shard: Shard,
    recipe: Recipe,
    storage: Storage,
    counters: Counters,
    quarantined: list[dict[str, Any]],
    *,
    snapshot: str | None,
    max_records: int | None,
    url_lists: CompiledUrlLists | None,
) -> dict[str, Any] | None:
    """Read, run the pipeline and commit; None if another attempt committed first.

    ``counters`` and ``quarantined`` are filled as the shard goes, so a failed attempt's log
    can say how far it got.
    """
    settings = recipe.run
    started = time.perf_counter()
    cpu_started = time.process_time()
    pipeline = pipeline_for(recipe, counters, url_lists)
    batch_size = settings.runtime.batch_size
    dump = dump_name(recipe, shard, snapshot)
    tables, batch = [], []
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
        max_payload_bytes=settings.input.max_payload_bytes,
        storage_options=settings.input.fsspec_options,
        read_policy=ReadPolicy(**asdict(settings.input.read)),
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
    return commit_shard(
        storage, shard.shard_id, shard.path, tables, quarantined, counters,
        compression=settings.output.compression, max_records=max_records, schema=pipeline.schema,
    )


def _log_outcome(counters: Counters, entry: dict[str, Any] | None, quarantined: list[dict[str, Any]],
                 seconds: float, attempt: int, outcome: str) -> None:
    """The shard log's last lines: the first quarantined records, then the summary."""
    for record in quarantined[:QUARANTINE_LOG_LINES]:
        SHARD_LOG.warning("quarantined record (%s): %s %s: %s", record["reason"], record["id"], record["url"],
                          str(record.get("detail") or "")[:300])
    if len(quarantined) > QUARANTINE_LOG_LINES:
        SHARD_LOG.warning("... and %d more quarantined records (quarantine.jsonl lists them all)",
                          len(quarantined) - QUARANTINE_LOG_LINES)
    documents = {lang: int(info["rows"]) for lang, info in (entry or {}).get("languages", {}).items()}
    reasons = Counter(record["reason"] for record in quarantined)
    SHARD_LOG.info(summary_line(counters, documents, reasons, seconds, peak_rss_bytes(), attempt, outcome))


def _write_log(storage: Storage, relative: str, text: str) -> None:
    """One atomic write; a log that cannot be written does not fail a shard whose rows are safe."""
    try:
        storage.write_atomic(relative, text.encode())
    except OSError as exc:
        logging.getLogger(__name__).warning("could not write %s: %s", relative, exc)


QUARANTINE_LOG_LINES = 100  # quarantined records named in a shard log (all are in quarantine.jsonl)


# Skipped records that are damage (worth a look), as opposed to ordinary non-HTML traffic.
QUARANTINED_SKIPS = frozenset({"corrupt_record", "truncated", "charset_failed", "payload_too_large",
                               "unrepresentable"})
