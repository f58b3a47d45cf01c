"""Parquet and JSON-lines inputs: documents whose text is already extracted.

Each row/line needs a ``text`` string; ``id``, ``url`` and ``date`` are optional. A row without
an ``id`` gets ``"{shard_id}:{row_index}"`` (0-based row in the file, or line in a jsonl file), so
re-reading the same file gives the same ids. Rows are streamed (parquet: one row group at a time;
jsonl: one line at a time), never the whole file.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cc_curate.sources.inputs import Item, RawRecord, Shard, SkippedRecord, file_name, unrepresentable

_COLUMNS = ("text", "id", "url", "date")
_TEXT_CHARSET = "utf-8 (text input)"
# A JSON line may escape its text (up to 6 bytes per character), so a line may be this many times
# max_payload_bytes (plus slack) before it is refused unparsed.
_JSON_OVERHEAD = 6
_JSON_SLACK = 1 << 20


def iter_parquet_items(raw: IO[bytes], shard: Shard, *, max_payload_bytes: int) -> Iterator[Item]:
    """Items of a parquet file, row group by row group."""
    try:
        parquet = pq.ParquetFile(raw)
    except (pa.ArrowInvalid, OSError) as exc:
        if not _bad_content(exc):
            raise
        yield SkippedRecord("", "", "truncated", f"not a readable parquet file ({exc})")
        return
    schema = parquet.schema_arrow
    columns = [name for name in _COLUMNS if name in schema.names]
    text_type = schema.field("text").type if "text" in schema.names else None
    usable = text_type is not None and (pa.types.is_string(text_type) or pa.types.is_large_string(text_type))
    row = 0
    for group in range(parquet.num_row_groups):
        group_rows = parquet.metadata.row_group(group).num_rows
        if not usable:
            problem = "no `text` column" if text_type is None else f"`text` column is {text_type}, not string"
            for index in range(row, row + group_rows):
                yield SkippedRecord(f"{shard.shard_id}:{index}", "", "corrupt_record", problem)
            row += group_rows
            continue
        try:
            table = parquet.read_row_group(group, columns=columns)
        except (pa.ArrowInvalid, OSError) as exc:
            if not _bad_content(exc):
                raise
            yield SkippedRecord(
                "", "", "corrupt_record", f"row group {group} ({group_rows} rows) unreadable: {exc}"
            )
            row += group_rows
            continue
        sizes = pc.binary_length(table.column("text")).to_pylist()
        values = {name: _values(table.column(name)) for name in columns}
        for offset in range(table.num_rows):
            fields = {name: values[name][offset] for name in columns}
            invalid = [name for name, value in fields.items() if isinstance(value, _NotUtf8)]
            if invalid:
                rid = f"{shard.shard_id}:{row + offset}" if "id" in invalid else _item_id(fields, shard, row + offset)
                yield SkippedRecord(rid, "", "unrepresentable",
                                    "; ".join(f"`{name}` {fields[name]}" for name in invalid))
                continue
            yield _item(fields, shard, row + offset, sizes[offset], max_payload_bytes)
        row += table.num_rows


def iter_jsonl_items(raw: IO[bytes], shard: Shard, *, max_payload_bytes: int) -> Iterator[Item]:
    """Items of a JSON-lines file (gzip'd when its name ends with .gz), line by line."""
    compressed = file_name(shard.path).endswith(".gz")
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
    lines = _bounded_lines(stream, max_payload_bytes * _JSON_OVERHEAD + _JSON_SLACK)
    index = -1  # records (non-blank lines) so far
    line_number = 0
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            yield SkippedRecord(
                "", "", "truncated", f"gzip stream unreadable after line {line_number} ({exc})"
            )
            return
        line_number += 1
        if line is not None and not line.strip():
            continue  # blank lines are not records
        index += 1
        rid = f"{shard.shard_id}:{index}"
        if line is None:
            yield SkippedRecord(rid, "", "payload_too_large", f"line {line_number} is too long to parse")
            continue
        try:
            fields = json.loads(line)
        except ValueError as exc:  # includes UnicodeDecodeError
            yield SkippedRecord(rid, "", "corrupt_record", f"line {line_number}: invalid JSON ({exc})")
            continue
        if not isinstance(fields, dict):
            yield SkippedRecord(rid, "", "corrupt_record", f"line {line_number}: not a JSON object")
            continue
        text = fields.get("text")
        try:
            size = len(text.encode("utf-8")) if isinstance(text, str) else None
        except UnicodeEncodeError as exc:  # a "\udc00" escape: not valid Unicode, not writable
            url = fields.get("url")
            yield unrepresentable(_item_id(fields, shard, index), url if isinstance(url, str) else "", "text",
                                  text, exc.start)
            continue
        yield _item(fields, shard, index, size, max_payload_bytes)


class _NotUtf8(str):
    """A parquet string value whose bytes are not UTF-8 (Arrow does not check them on read); says where."""


def _values(column: pa.ChunkedArray) -> list[Any]:
    """A column as Python values; in a string column, a value that is not UTF-8 becomes a _NotUtf8."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:  # one bad value spoils the whole column: decode value by value
        values: list[Any] = []
        for raw in column.cast(pa.large_binary()).to_pylist():
            try:
                values.append(None if raw is None else raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                values.append(_NotUtf8(f"is not UTF-8 (byte 0x{raw[exc.start]:02x} at {exc.start})"))
        return values


def _item_id(fields: dict[str, Any], shard: Shard, index: int) -> str:
    """The row's ``id`` as text, or ``{shard_id}:{index}`` when it has none."""
    raw_id = fields.get("id")
    return str(raw_id) if raw_id not in (None, "") else f"{shard.shard_id}:{index}"


def _item(fields: dict[str, Any], shard: Shard, index: int, size: int | None, max_payload_bytes: int) -> Item:
    """One row -> RawRecord, or why not."""
    rid = _item_id(fields, shard, index)
    url = fields.get("url")
    url = url if isinstance(url, str) else ""
    text = fields.get("text")
    if not isinstance(text, str):
        return SkippedRecord(
            rid, url, "empty_payload", "no `text`" if text is None else "`text` is not a string"
        )
    if not text.strip():
        return SkippedRecord(rid, url, "empty_payload")
    if size is not None and size > max_payload_bytes:
        return SkippedRecord(rid, url, "payload_too_large", f"{size} bytes")
    return RawRecord(rid, url, _date(fields.get("date")), None, text, _TEXT_CHARSET)


def _bad_content(exc: BaseException) -> bool:
    """Whether an Arrow error means damaged data (rather than failing storage, which is re-raised).

    Arrow reports damaged data as ArrowInvalid or as a plain OSError; errors of the file object
    keep their own types (ConnectionError, TimeoutError, FileNotFoundError, ...).
    """
    return isinstance(exc, pa.ArrowInvalid) or type(exc) is OSError


def _date(value: object) -> str:
    """ISO 8601 text for a date column (strings are kept as they are)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _bounded_lines(stream: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """Lines of a byte stream; None stands for a line longer than `limit`, which is never held."""
    # read1 hands over what a gzip stream holds before a truncation; read would drop it
    read = getattr(stream, "read1", stream.read)
    buf = bytearray()
    too_long = False
    while chunk := read(1 << 16):
        searched = len(buf)  # bytes before this were searched already
        buf += chunk
        while (newline := buf.find(b"\n", searched)) >= 0:
            yield None if too_long or newline >= limit else bytes(buf[: newline + 1])
            too_long = False
            del buf[: newline + 1]
            searched = 0
        if len(buf) > limit:
            too_long = True
            buf.clear()
    if too_long:
        yield None
    elif buf:
        yield bytes(buf)
