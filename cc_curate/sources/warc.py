"""WARC and WET files -> RawRecord / SkippedRecord, surviving damaged files.

fastwarc parses WARC headers and HTTP headers. Decompression is done here instead of by fastwarc
because fastwarc stops at the first bad gzip member and ends silently on a truncated one; this
module needs to know both, to report them and to carry on after a bad member:

* ``_RecoverableStream`` inflates gzip member by member (one member per record in Common Crawl's
  layout; a whole-file gzip is one member) or passes an uncompressed file through. A corrupt
  member ends the current fastwarc pass; reading resumes at the next gzip member that inflates.
  It keeps a window of already-read bytes so that, after fastwarc rejects a WARC header,
  reading can restart at the next WARC version line (``WARC/1.0``, ``WARC/0.17``, ...).
* ``iter_warc_items`` runs fastwarc over that stream, one pass per readable stretch.

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

READ_CHUNK = 1 << 20  # compressed bytes read from storage at a time
INFLATE_CHUNK = 1 << 18  # most decompressed bytes produced per inflate call
HISTORY_LIMIT = 8 << 20  # most already-read bytes kept for re-synchronising after bad WARC data
MEMBER_KEEP = 4 << 20  # most compressed bytes of the current gzip member kept for re-synchronising
MAX_WARC_HEADER = 64 << 10
SNIFF_BYTES = 1024

_GZIP_MAGIC = b"\x1f\x8b\x08"
_PADDING = b"\x00 \t\r\n"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
# A WARC version line ("WARC/1.0", "WARC/0.17"): where reading restarts after unparseable bytes.
_WARC_LINE = re.compile(rb"WARC/\d{1,2}\.\d{1,2}\r?\n")
_WARC_LINE_MAX = 13
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


class _RecoverableStream:
    """Read-only byte stream over a WARC file (gzip'd or not) that reports damage instead of failing.

    ``read`` returns decompressed bytes. At a corrupt or truncated gzip member it returns b"" (so
    the fastwarc pass over it ends) and sets ``damage``; ``resume`` then skips to the next gzip
    member that inflates. ``tell`` is the offset in the decompressed data, which fastwarc uses for
    ``stream_pos``. Errors of the underlying file are kept in ``io_error`` (fastwarc would swallow
    them) and re-raised by ``check_io``.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.io_error: BaseException | None = None
        self.damage: str | None = None
        self.damage_in_member = False  # the damage cut a gzip member short (not: junk between members)
        self._damage_final = False  # the damage cannot be resumed from (input ended)
        self._raw_eof = False
        self._eof = False  # clean end of data
        # decompressed side
        self._out = bytearray()  # produced, not yet returned
        self.pos = 0  # decompressed offset of _out[0]
        self._hist = bytearray()  # returned bytes [pos - len(_hist), pos)
        self._mark = 0  # history before this offset is not needed
        # compressed side
        self._cbuf = bytearray()
        self._cbase = 0  # compressed offset of _cbuf[0]
        self._cfed = 0  # index in _cbuf of the next byte to inflate
        self._member_start = 0
        self._inflater: zlib._Decompress | None = None
        first = self._read_raw()
        while 0 < len(first) < len(_GZIP_MAGIC) and (more := self._read_raw()):
            first += more  # enough bytes to tell gzip from plain
        self._gzip = first.startswith(_GZIP_MAGIC[:2])
        if self._gzip:
            self._cbuf += first
        elif first:
            self._out += first
        else:
            self._eof = True

    # -- the file-like interface fastwarc uses ------------------------------------------------

    def read(self, size: int = -1) -> bytes:
        while not self._out and not self.blocked:
            self._fill()
        return self._consume(len(self._out) if size is None or size < 0 else min(size, len(self._out)))

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        """The underlying file is closed by its owner."""

    # -- state ------------------------------------------------------------------------------

    @property
    def blocked(self) -> bool:
        """No more data can be produced until `resume` (or ever)."""
        return self._eof or self.damage is not None or self.io_error is not None

    @property
    def at_end(self) -> bool:
        """Everything produced so far has been returned and nothing more can be produced now."""
        return not self._out and self.blocked

    def check_io(self) -> None:
        if self.io_error is not None:
            raise self.io_error

    def set_mark(self, offset: int) -> None:
        """History before `offset` will not be asked for again."""
        self._mark = offset
        self._trim_history()

    def header_end(self, offset: int) -> int | None:
        """End of the WARC header that starts at decompressed `offset` (if still in history)."""
        start = offset - (self.pos - len(self._hist))
        if start < 0:
            return None
        match = _HEADER_END.search(self._hist, start, start + MAX_WARC_HEADER)
        return offset + (match.end() - start) if match else None

    # -- re-synchronisation -------------------------------------------------------------------

    def skip_to_warc_line(self, offset: int, count_from: int) -> _Region:
        """Position reading at the first WARC version line at or after `offset`.

        Returns what was skipped, counting only bytes from `count_from` on (bytes before it belong
        to a record already yielded). When no such line follows, everything up to the end of the
        readable data (or the next damage) is skipped and ``found_at`` is None.
        """
        hist_start = self.pos - len(self._hist)
        offset = min(max(offset, hist_start), self.pos)
        region = _Region(start=count_from)
        if count_from < offset:  # bytes before the search start still count
            region.take(
                self._hist[max(count_from - hist_start, 0) : offset - hist_start], max(count_from, hist_start)
            )
        self._out[0:0] = self._hist[offset - hist_start :]  # give back already-read bytes
        del self._hist[offset - hist_start :]
        self.pos = offset
        while True:
            if len(self._out) < 2 * _WARC_LINE_MAX and not self.blocked:
                self._fill()
                continue
            match = _WARC_LINE.search(self._out)
            if match is not None:
                region.take(self._out[: match.start()], self.pos)
                self._consume(match.start())
                region.found_at = self.pos
                return region
            keep = 0 if self.blocked else _WARC_LINE_MAX  # a match may straddle the refill
            n = len(self._out) - keep
            if n <= 0:
                return region  # blocked and empty
            region.take(self._out[:n], self.pos)
            self._consume(n)

    def resume(self) -> bool:
        """After gzip damage: continue at the next gzip member that inflates. False if none."""
        if self.damage is None or self._damage_final or self.io_error is not None:
            return False
        search = max(self._member_start + 1 - self._cbase, 0)
        while True:
            index = self._cbuf.find(_GZIP_MAGIC, search)
            if index < 0:
                keep = len(_GZIP_MAGIC) - 1  # a magic may straddle the next read
                drop = max(len(self._cbuf) - keep, 0)
                del self._cbuf[:drop]
                self._cbase += drop
                search = 0
                if not self._read_compressed():
                    self._damage_final = True
                    return False
                continue
            self._cfed = index
            self._start_member()
            self.damage = None
            before = len(self._out)
            self._fill()
            if len(self._out) > before or self.damage is None:
                return True
            if self._damage_final or self.io_error is not None:
                return False
            search = 1  # a false gzip magic inside damaged data: keep looking after it

    # -- internals ----------------------------------------------------------------------------

    def _consume(self, n: int) -> bytes:
        chunk = bytes(self._out[:n])
        del self._out[:n]
        self._hist += chunk
        self.pos += n
        self._trim_history()
        return chunk

    def _trim_history(self) -> None:
        hist_start = self.pos - len(self._hist)
        drop = max(min(self._mark, self.pos) - hist_start, len(self._hist) - HISTORY_LIMIT, 0)
        if drop:
            del self._hist[:drop]

    def _read_raw(self) -> bytes:
        if self._raw_eof or self.io_error is not None:
            return b""
        try:
            data = self._raw.read(READ_CHUNK)
        except Exception as exc:  # noqa: BLE001 - storage errors are re-raised by check_io
            self.io_error = exc
            return b""
        if not data:
            self._raw_eof = True
        return data

    def _read_compressed(self) -> bool:
        data = self._read_raw()
        self._cbuf += data
        return bool(data)

    def _set_damage(self, detail: str, *, final: bool = False) -> None:
        self.damage = detail
        self.damage_in_member = self._inflater is not None
        self._damage_final = final
        self._inflater = None

    def _start_member(self) -> None:
        # drop compressed bytes before the member; they are never needed again
        del self._cbuf[: self._cfed]
        self._cbase += self._cfed
        self._cfed = 0
        self._member_start = self._cbase
        self._inflater = zlib.decompressobj(wbits=31)

    def _fill(self) -> None:
        """Produce more decompressed bytes into _out, or set _eof / damage."""
        if self.blocked:
            return
        if not self._gzip:
            data = self._read_raw()
            if data:
                self._out += data
            elif self.io_error is None:
                self._eof = True
            return
        while not self.blocked:
            if self._inflater is None and not self._next_member():
                return
            assert self._inflater is not None
            if self._cfed >= len(self._cbuf) and not self._read_compressed():
                if self.io_error is None:
                    self._set_damage(
                        f"gzip stream ends inside the member at byte {self._member_start}", final=True
                    )
                return
            data = memoryview(self._cbuf)[self._cfed :]
            before_call = self._inflater.copy()
            try:
                out = self._inflater.decompress(data, INFLATE_CHUNK)
            except zlib.error as exc:
                self._out += _inflate_until_error(before_call, data, INFLATE_CHUNK)
                data.release()
                self._set_damage(f"gzip data error in the member at byte {self._member_start} ({exc})")
                return
            left = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
            self._cfed += len(data) - len(left)
            data.release()
            if self._inflater.eof:
                self._inflater = None
            elif self._cfed > MEMBER_KEEP:  # long member: stop keeping its start for resync
                self._member_start = self._cbase + self._cfed
                del self._cbuf[: self._cfed]
                self._cbase += self._cfed
                self._cfed = 0
            if out:
                self._out += out
                return

    def _next_member(self) -> bool:
        """Between gzip members: skip padding, start the next member; False at end or damage."""
        while True:
            while self._cfed < len(self._cbuf) and self._cbuf[self._cfed] in _PADDING:
                self._cfed += 1
            if len(self._cbuf) - self._cfed >= len(_GZIP_MAGIC):
                break
            if not self._read_compressed():
                if self.io_error is not None:
                    return False
                if self._cfed >= len(self._cbuf):
                    self._eof = True
                    return False
                break
        if self._cbuf[self._cfed : self._cfed + len(_GZIP_MAGIC)] != _GZIP_MAGIC:
            offset = self._cbase + self._cfed
            self._member_start = offset
            self._set_damage(f"bytes that are not a gzip member at byte {offset}")
            return False
        self._start_member()
        return True


def _inflate_until_error(inflater: zlib._Decompress, data: memoryview, limit: int) -> bytes:
    """Salvage the output (at most `limit` bytes) that precedes a zlib error in `data`.

    Re-inflates from a copy taken before the failed call, 4 KiB at a time, then byte by byte
    through the step that fails.
    """
    out = bytearray()
    index, step = 0, 4096
    while index < len(data) and not inflater.eof and len(out) < limit:
        checkpoint = inflater.copy()
        try:
            out += inflater.decompress(data[index : index + step], limit - len(out))
        except zlib.error:
            if step == 1:
                break
            inflater, step = checkpoint, 1
            continue
        index += step
    return bytes(out)


@dataclass
class _Region:
    """Bytes skipped while looking for the next WARC header (counted from `start` on)."""

    start: int
    length: int = 0
    found_at: int | None = None  # offset of the WARC header found, None if none followed
    head: bytes = b""  # the first bytes (up to MAX_WARC_HEADER)
    blank: bool = True  # only whitespace / NUL padding

    def take(self, data: bytes | bytearray, offset: int) -> None:
        data = data[max(self.start - offset, 0) :]
        if not data:
            return
        if len(self.head) < MAX_WARC_HEADER:
            self.head += bytes(data[: MAX_WARC_HEADER - len(self.head)])
        if self.blank and bytes(data).strip(_PADDING):
            self.blank = False
        self.length += len(data)

    @property
    def partial_header(self) -> bool:
        """The bytes are the start of a WARC header that never ends (the file was cut inside it)."""
        head = self.head.lstrip(_PADDING)
        return head.startswith(b"WARC/") and _HEADER_END.search(head) is None

    @property
    def overrun(self) -> bool:
        """The header found lies before `start`: the previous record's Content-Length ran past it."""
        return self.found_at is not None and self.found_at < self.start


def iter_warc_items(raw: IO[bytes], shard: Shard, *, max_payload_bytes: int) -> Iterator[Item]:
    """Items of one WARC or WET shard (by ``shard.kind``); see the module docstring for the rules.

    One fastwarc pass runs per readable stretch. A pass ends at the end of the data, at gzip
    damage, or when fastwarc rejects the data; reading then goes on after the damage or at the
    next line that starts a WARC header.
    """
    stream = _RecoverableStream(raw)
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
    stream: _RecoverableStream, kind: str, max_payload_bytes: int
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


def _stretch(reason: str, region: _Region, why: str) -> SkippedRecord:
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
