"""A decompressed view of a WARC file that reports damage instead of failing.

fastwarc could inflate the file itself, but it stops at the first bad gzip member and ends
silently on a truncated one; the WARC reader (sources/warc.py) needs to know both, to report them
and to carry on after a bad member. ``RecoverableStream`` inflates gzip member by member (one
member per record in Common Crawl's layout; a whole-file gzip is one member) or passes an
uncompressed file through. A corrupt member ends the current fastwarc pass; reading resumes at
the next gzip member that inflates. It keeps a window of already-read bytes so that, after
fastwarc rejects a WARC header, reading can restart at the next WARC version line
(``WARC/1.0``, ``WARC/0.17``, ...); ``SkippedRegion`` describes what was skipped to get there.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import IO

READ_CHUNK = 1 << 20  # compressed bytes read from storage at a time
INFLATE_CHUNK = 1 << 18  # most decompressed bytes produced per inflate call
HISTORY_LIMIT = 8 << 20  # most already-read bytes kept for re-synchronising after bad WARC data
MEMBER_KEEP = 4 << 20  # most compressed bytes of the current gzip member kept for re-synchronising
MAX_WARC_HEADER = 64 << 10

_GZIP_MAGIC = b"\x1f\x8b\x08"
_PADDING = b"\x00 \t\r\n"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
# A WARC version line ("WARC/1.0", "WARC/0.17"): where reading restarts after unparseable bytes.
_WARC_LINE = re.compile(rb"WARC/\d{1,2}\.\d{1,2}\r?\n")
_WARC_LINE_MAX = 13


class RecoverableStream:
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

    def skip_to_warc_line(self, offset: int, count_from: int) -> SkippedRegion:
        """Position reading at the first WARC version line at or after `offset`.

        Returns what was skipped, counting only bytes from `count_from` on (bytes before it belong
        to a record already yielded). When no such line follows, everything up to the end of the
        readable data (or the next damage) is skipped and ``found_at`` is None.
        """
        hist_start = self.pos - len(self._hist)
        offset = min(max(offset, hist_start), self.pos)
        region = SkippedRegion(start=count_from)
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
class SkippedRegion:
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
