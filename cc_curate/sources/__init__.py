"""Turning inputs into shards, and shards into records.

``resolve_inputs`` lists the shards of a run; ``iter_records`` streams one shard as RawRecord
(a document to process) and SkippedRecord (a record that is not one, and why) items.
"""

from __future__ import annotations

from collections.abc import Iterator

from cc_curate.sources.inputs import (
    SKIP_REASONS,
    InputError,
    RawRecord,
    Shard,
    SkippedRecord,
    checked,
    open_input,
    resolve_inputs,
)
from cc_curate.sources.remote import ReadPolicy
from cc_curate.sources.text_inputs import iter_jsonl_items, iter_parquet_items
from cc_curate.sources.warc import iter_warc_items

__all__ = [
    "SKIP_REASONS",
    "InputError",
    "ReadPolicy",
    "RawRecord",
    "Shard",
    "SkippedRecord",
    "iter_records",
    "resolve_inputs",
]


def iter_records(
    shard: Shard,
    *,
    max_records: int | None = None,
    max_payload_bytes: int = 10_000_000,
    storage_options: dict | None = None,
    read_policy: ReadPolicy | None = None,
) -> Iterator[RawRecord | SkippedRecord]:
    """Stream a shard's records: every record read becomes exactly one yielded item.

    (WARC ``warcinfo`` records describe the file, not a capture, and are not yielded.) An
    unreadable stretch of a file yields one ``corrupt_record``; a file that cannot be read to its
    end yields one final ``truncated``. ``max_records`` caps the items yielded. Bad content never
    raises (see SKIP_REASONS): a record with a field that cannot be written (not valid Unicode) is
    ``unrepresentable``; a missing or unreachable input raises OSError, which the runtime
    retries. Remote inputs are read as ``read_policy`` says (sources/remote.py): a failed
    request is retried for its byte range, so reading resumes mid-file.
    """
    if max_records is not None and max_records <= 0:
        return
    read = _READERS.get(shard.kind)
    if read is None:
        raise InputError(f"shard {shard.shard_id}: unknown kind {shard.kind!r}")
    with open_input(shard.source, storage_options, policy=read_policy) as raw:
        for count, item in enumerate(read(raw, shard, max_payload_bytes=max_payload_bytes), start=1):
            yield checked(item)
            if max_records is not None and count >= max_records:
                return


_READERS = {
    "warc": iter_warc_items,
    "wet": iter_warc_items,
    "parquet": iter_parquet_items,
    "jsonl": iter_jsonl_items,
}
