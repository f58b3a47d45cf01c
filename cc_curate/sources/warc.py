"""WARC and WET files -> RawRecord / SkippedRecord, surviving damaged files.

fastwarc parses WARC headers and HTTP headers; ``RecoverableStream`` (sources/recoverable_stream.py)
inflates the file member by member and reports gzip damage instead of failing. ``iter_warc_items``
runs fastwarc over that stream, one pass per readable stretch, and re-synchronises at the next
WARC header or gzip member after damage.

Accounting: every WARC record read yields exactly one item, except ``warcinfo`` records, which
describe the file rather than a capture and are not yielded (so counts are comparable across WARC,
WET, parquet and jsonl inputs). A stretch of unreadable bytes yields one ``corrupt_record`` (id "")
and reading goes on; when nothing after a problem can be read, one ``truncated`` item (id "") ends
the iteration. Errors of the underlying storage (network, missing file) are raised, not reported.

A record is a document when it is a ``response`` in a "warc" shard or a ``conversion`` in a "wet"
shard. Response records without an HTTP envelope (some non-standard producers store the bare
page with its Content-Type in the WARC header) are read as status-200 responses.
"""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO

from fastwarc.stream_io import BrotliReader, ZstdReader
from fastwarc.warc import ArchiveIterator, HeaderMap, WarcRecord, WarcRecordType

from cc_curate.sources.charset import decode_html
from cc_curate.sources.inputs import Item, RawRecord, Shard, SkippedRecord
from cc_curate.sources.recoverable_stream import MAX_WARC_HEADER, RecoverableStream, SkippedRegion

SNIFF_BYTES = 1024  # bytes looked at to tell HTML from other payloads
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Content-Types that say nothing; the payload is sniffed (as browsers do, WHATWG MIME sniffing).
UNKNOWN_TYPES = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})
_HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<br",
    b"<p",
    b"<!--",
    b"<meta",
)


def iter_warc_items(raw: IO[bytes], shard: Shard, *, max_payload_bytes: int) -> Iterator[Item]:
    """Items of one WARC or WET shard (by ``shard.kind``); see the module docstring for the rules.

    One fastwarc pass runs per readable stretch. A pass ends at the end of the data, at gzip
    damage, or when fastwarc rejects the data; reading then goes on after the damage or at the
    next line that starts a WARC header.
    """
    stream = RecoverableStream(raw)
    while True:
        outcome = yield from _one_pass(stream, shard.kind, max_payload_bytes)
        stream.check_io()
        region = None
        if outcome.failure is not None or outcome.cut is not None:
            # also after a cut record: a too-long Content-Length may have swallowed later records
            region = stream.skip_to_warc_line(outcome.search_from, outcome.count_from)
            stream.check_io()
            if region.found_at is not None:
                overrun = f"runs past the WARC header at offset {region.found_at} (Content-Length too long)"
                if region.overrun:
                    yield SkippedRecord("", "", "corrupt_record", f"{outcome.last} {overrun}")
                elif outcome.cut is not None:
                    yield _stretch("corrupt_record", region, f"{outcome.cut} {overrun}")
                elif not region.blank:
                    yield _stretch("corrupt_record", region, outcome.failure or "")
                continue
        if stream.damage is not None:
            detail = stream.damage
            if outcome.cut is not None:
                detail += f"; {outcome.cut} is incomplete"
            elif region is not None and not region.blank:
                detail += f"; {region.length} unparseable bytes at offset {region.start} before it"
            if stream.resume():
                yield SkippedRecord("", "", "corrupt_record", f"{detail}; reading resumed after it")
                continue
            stream.check_io()
            # junk after the last complete gzip member cut nothing short
            cut_short = stream.damage_in_member or outcome.cut is not None
            yield SkippedRecord("", "", "truncated" if cut_short else "corrupt_record", detail)
        elif outcome.cut is not None:
            yield SkippedRecord("", "", "truncated", f"file ends inside {outcome.cut}")
        elif region is not None and not region.blank:
            # an incomplete header at the very end is a truncation; other trailing bytes are junk
            reason = "truncated" if region.partial_header else "corrupt_record"
            yield _stretch(reason, region, outcome.failure or "")
        return


@dataclass
class _PassOutcome:
    """How a fastwarc pass ended."""

    failure: str | None = None  # why the data after the last good record could not be parsed
    search_from: int = 0  # where to look for the next WARC header after a failure
    count_from: int = 0  # bytes from here on were not part of a yielded record
    cut: str | None = None  # a record that the end of the data (or damage) cut short
    last: str = ""  # the last record of the pass, for messages


def _one_pass(
    stream: RecoverableStream, kind: str, max_payload_bytes: int
) -> Generator[Item, None, _PassOutcome]:
    """Yield the items of one fastwarc pass over `stream`; returns a _PassOutcome."""
    start = stream.tell()
    stream.set_mark(start)
    outcome = _PassOutcome(search_from=start + 1, count_from=start)
    records = ArchiveIterator(stream, parse_http=False, stream_detect=False, max_header_len=MAX_WARC_HEADER)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - fastwarc's parse errors (OSError, ...)
            outcome.failure = f"invalid WARC data ({exc})"
            return outcome
        offset = record.stream_pos
        stream.set_mark(offset)  # keep this record's bytes: a Content-Length overrun is found inside
        record_end = (stream.header_end(offset) or offset) + record.content_length
        if record.headers.get("Content-Length") is None:
            outcome.failure = f"{_describe(record, offset)} has no Content-Length"
            outcome.search_from, outcome.count_from = offset + 1, offset
            return outcome
        item, complete = _process(record, kind, max_payload_bytes)
        stream.check_io()
        if not complete:
            outcome.cut = _describe(record, offset)
            outcome.search_from, outcome.count_from = offset + 1, offset
            break
        outcome.last = _describe(record, offset)
        outcome.search_from, outcome.count_from = offset + 1, record_end
        if item is not None:
            yield item
    if not stream.at_end:  # fastwarc stopped with data left (it normally raises instead)
        outcome.failure = "WARC parser stopped before the end of the data"
    return outcome


def _stretch(reason: str, region: SkippedRegion, why: str) -> SkippedRecord:
    where = f"{region.length} bytes at decompressed offset {region.start}"
    return SkippedRecord("", "", reason, f"{where}: {why}" if why else where)


def _describe(record: WarcRecord, offset: int) -> str:
    rid = record.headers.get("WARC-Record-ID") or "?"
    return f"record {rid} at decompressed offset {offset}"


def _process(record: WarcRecord, kind: str, max_payload_bytes: int) -> tuple[Item | None, bool]:
    """The item for one record (None for warcinfo), and whether its block was complete."""
    headers = record.headers
    rid = (headers.get("WARC-Record-ID") or "").strip()
    url = _clean_url(headers.get("WARC-Target-URI"))
    rtype = record.record_type
    wanted = WarcRecordType.response if kind == "warc" else WarcRecordType.conversion
    if rtype != wanted:
        expected = record.content_length
        done = record.reader.consume()
        item = (
            None if rtype == WarcRecordType.warcinfo else SkippedRecord(rid, url, "not_response", str(rtype))
        )
        return item, done == expected
    if rtype == WarcRecordType.conversion:
        return _process_text(record, rid, url, max_payload_bytes)
    return _process_response(record, rid, url, max_payload_bytes)


def _process_text(record: WarcRecord, rid: str, url: str, max_payload_bytes: int) -> tuple[Item, bool]:
    """A WET conversion record: its block is the extracted text, UTF-8."""
    expected = record.content_length
    if expected > max_payload_bytes:
        done = record.reader.consume()
        return SkippedRecord(rid, url, "payload_too_large", f"{expected} bytes"), done == expected
    body = _read_exactly(record, expected)
    complete = len(body) == expected
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        return SkippedRecord(rid, url, "empty_payload"), complete
    date = _clean_date(record.headers.get("WARC-Date"))
    return RawRecord(rid or _derived_id(url, date, body), url, date, None, text, "utf-8 (wet)"), complete


def _process_response(record: WarcRecord, rid: str, url: str, max_payload_bytes: int) -> tuple[Item, bool]:
    """A WARC response record: check status and type, undo HTTP encodings, decode the HTML."""
    http = None
    if record.is_http:
        try:
            record.parse_http(strict_mode=False)
        except Exception as exc:  # noqa: BLE001 - fastwarc parse errors
            return _skip_rest(record, rid, url, "corrupt_record", f"bad HTTP headers ({exc})")
        http = record.http_headers
        if http is None or http.status_code is None:
            return _skip_rest(record, rid, url, "corrupt_record", "no HTTP status line")
        if not 200 <= http.status_code < 300:
            return _skip_rest(record, rid, url, "http_status", str(http.status_code))
        content_type = http.get("Content-Type")
    else:
        content_type = record.headers.get("Content-Type")
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime not in HTML_TYPES and mime not in UNKNOWN_TYPES:
        return _skip_rest(record, rid, url, "not_html", mime)

    expected = record.content_length
    if expected > max_payload_bytes:
        return _skip_rest(record, rid, url, "payload_too_large", f"{expected} bytes")
    body = _read_exactly(record, expected)
    complete = len(body) == expected
    if http is not None:
        body, problem = _undo_http_encodings(body, http, max_payload_bytes)
        if problem is not None:
            reason = "payload_too_large" if problem.startswith("more than") else "corrupt_record"
            return SkippedRecord(rid, url, reason, problem), complete
    if not body.strip():
        return SkippedRecord(rid, url, "empty_payload"), complete
    if mime in UNKNOWN_TYPES and not looks_like_html(body[:SNIFF_BYTES]):
        return SkippedRecord(rid, url, "not_html", f"{mime or 'no Content-Type'}, sniffed not HTML"), complete
    decoded = decode_html(body, content_type)
    if decoded is None:
        return SkippedRecord(rid, url, "charset_failed"), complete
    html, charset = decoded
    date = _clean_date(record.headers.get("WARC-Date"))
    return RawRecord(rid or _derived_id(url, date, body), url, date, html, None, charset), complete


def _skip_rest(
    record: WarcRecord, rid: str, url: str, reason: str, detail: str
) -> tuple[SkippedRecord, bool]:
    """Skip the rest of the record's payload unread (streamed, never held in memory)."""
    expected = record.content_length
    done = record.reader.tell() + record.reader.consume()
    return SkippedRecord(rid, url, reason, detail), done == expected


def _read_exactly(record: WarcRecord, size: int) -> bytes:
    """Read up to `size` bytes of the payload (fewer only when the stream ends)."""
    parts = []
    left = size
    while left > 0:
        chunk = record.reader.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _undo_http_encodings(body: bytes, http: HeaderMap, limit: int) -> tuple[bytes, str | None]:
    """Remove chunked transfer coding and gzip/deflate/br/zstd content coding.

    Returns (payload, problem). Archives often keep the header but store the decoded body, so a
    body that does not parse as chunked is used as it is; a content coding that fails is a problem
    unless the body already looks like HTML.
    """
    transfer = (http.get("Transfer-Encoding") or "").lower()
    if "chunked" in transfer:
        body = _dechunk(body)
    for coding in reversed([c.strip().lower() for c in (http.get("Content-Encoding") or "").split(",")]):
        if coding in ("", "identity", "none"):
            continue
        try:
            body = _decompress(body, coding, limit)
        except _TooLarge:
            return body, f"more than {limit} bytes after Content-Encoding {coding}"
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "cannot undo"
            if looks_like_html(body[:SNIFF_BYTES]):
                continue
            return body, f"cannot undo Content-Encoding {coding} ({exc})"
    return body, None


class _TooLarge(Exception):
    pass


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    """Inflate at most limit bytes; a truncated stream gives what it holds (crawlers cut payloads)."""
    out = zlib.decompressobj(wbits).decompress(body, limit + 1)
    if len(out) > limit:
        raise _TooLarge
    return out


def _decompress(body: bytes, coding: str, limit: int) -> bytes:
    if coding in ("gzip", "x-gzip"):
        return _inflate(body, 47, limit)  # 47: gzip or zlib header
    if coding == "deflate":
        try:
            return _inflate(body, 47, limit)  # zlib-wrapped, as the standard says
        except zlib.error:
            return _inflate(body, -15, limit)  # raw deflate, as many servers send
    if coding in ("br", "zstd"):
        reader = (BrotliReader if coding == "br" else ZstdReader)(io.BytesIO(body))
        parts, size = [], 0
        while chunk := reader.read(1 << 16):
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise _TooLarge
        return b"".join(parts)
    raise ValueError(f"unsupported coding {coding!r}")


def _dechunk(body: bytes) -> bytes:
    """Decode HTTP chunked transfer coding; the body itself if it is not chunked."""
    out = []
    pos = 0
    while True:
        line_end = body.find(b"\n", pos)
        if line_end < 0:
            break
        size_text = body[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return b"".join(out) if out else body
        if size == 0:
            break
        start = line_end + 1
        out.append(body[start : start + size])
        pos = start + size
        if body[pos : pos + 2] == b"\r\n":
            pos += 2
        elif body[pos : pos + 1] == b"\n":
            pos += 1
    return b"".join(out) if out else body


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a payload with no useful Content-Type look like HTML."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip(b" \t\r\n\x0c").lower()
    for tag in _HTML_STARTS:
        if text.startswith(tag) and text[len(tag) : len(tag) + 1] in (b" ", b">", b"\t", b"\n", b"\r", b"/"):
            return True
    return text.startswith(b"<?xml") and b"<html" in text


def _clean_url(value: str | None) -> str:
    return (value or "").strip().strip("<>").strip()


def _clean_date(value: str | None) -> str:
    value = (value or "").strip()
    return value if _ISO_DATE.match(value) else ""


def _derived_id(url: str, date: str, body: bytes) -> str:
    """Deterministic id for the rare record without a WARC-Record-ID (content-based, not positional)."""
    digest = hashlib.sha1(b"\0".join((url.encode(), date.encode(), body))).hexdigest()
    return f"<urn:sha1:{digest}>"
