"""Reading remote inputs (s3://, https://, ...) so that throttling and dropped connections cost a retry, not a shard.

A remote file is read in ranged requests of ``block_bytes`` (one GET with a ``Range`` header
each) instead of one long streamed GET. That gives, with no help from the readers above it:

* **retries that resume mid-file**: a request that fails with a transient error (throttling such
  as S3's ``503 SlowDown`` or HTTP 429, other 5xx answers, a dropped or timed-out connection, a
  body cut short) is sent again for the same byte range, after an exponential backoff with full
  jitter (``uniform(0, min(max_delay, base * 2**attempt))``, so that many workers throttled at
  once do not come back at once). The WARC reader never sees the failure, so a 1 GB Common Crawl
  file interrupted at 900 MB re-reads 16 MB, not 900. Only when ``max_attempts`` requests in a
  row fail does the error reach the shard task, which Ray then retries whole;
* **a cap on concurrent requests per node** (``RequestSlots``), shared by every worker process
  of the node, so a node of many cores does not open as many connections as it has workers
  times their prefetch;
* **I/O overlapped with parsing**: the next block is fetched in a background thread while the
  current one is parsed.

Why by hand: fsspec's file objects retry nothing over HTTP, and s3fs/botocore retry a failed
request but not a body cut short mid-stream; neither caps requests across processes.
Local files are opened directly (``open_input``): none of this applies to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import logging
import os
import random
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from cc_curate.redaction import redact

log = logging.getLogger(__name__)
T = TypeVar("T")

# HTTP statuses worth asking again: timeout, too early, too many requests, and every 5xx.
RETRY_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
# Object-store error codes (S3 and compatibles) that mean "try again later".
RETRY_CODES = ("SlowDown", "Throttl", "RequestTimeout", "InternalError", "ServiceUnavailable",
               "RequestLimitExceeded", "TooManyRequests", "BandwidthLimitExceeded")
_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


@dataclass(frozen=True)
class ReadPolicy:
    """How remote inputs are read: block size, retries, backoff and the per-node request cap.

    The fields are the keys of a recipe's ``input.read`` section.
    """

    block_bytes: int = 16 << 20
    max_attempts: int = 8
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_requests_per_node: int = 32  # 0 = no cap

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempt counts from 1): full jitter."""
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * (2 ** (attempt - 1)))
        return (rng or random).uniform(0.0, ceiling)


def is_transient(exc: BaseException) -> bool:
    """True for errors that another try of the same request may not meet (see module docstring).

    Looks through the exception's causes: fsspec turns every failure of an HTTP HEAD into
    FileNotFoundError, keeping the real answer (a 503, say) as its cause.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = getattr(current, "status", None)  # aiohttp.ClientResponseError
        if isinstance(status, int):
            return status in RETRY_STATUSES
        text = str(current)
        if any(code in text for code in RETRY_CODES):
            return True
        if _is_network_error(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_network_error(exc: BaseException) -> bool:
    if isinstance(exc, _PERMANENT):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError, asyncio.TimeoutError, EOFError)):
        return True
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    # aiohttp's ClientPayloadError / ServerDisconnectedError / ClientConnectorError ..., and
    # botocore's connection and read-timeout errors: named by module so neither is imported here.
    if module.startswith("aiohttp") and name != "InvalidURL":
        return True
    if module.startswith(("botocore", "urllib3")) and ("Connect" in name or "Timeout" in name or "Read" in name):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT, errno.EIO)


def with_retries(call: Callable[[], T], policy: ReadPolicy, what: str) -> T:
    """``call()``, tried again after a backoff while it fails with a transient error (each retry logged)."""
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - classified right below
            if attempt >= policy.max_attempts or not is_transient(exc):
                raise
            wait = policy.delay(attempt)
            log.warning("%s: %s: %s; try %d of %d in %.1fs", redact(what), type(exc).__name__, redact(_short(exc)),
                        attempt + 1, policy.max_attempts, wait)
            time.sleep(wait)
            attempt += 1


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


class RequestSlots:
    """At most ``limit`` requests at once on this node, across every process that uses the same folder.

    A slot is an exclusive ``flock`` on one of ``limit`` files in a node-local folder. The kernel
    drops the lock when its holder exits, so a worker killed mid-request never leaks a slot
    (a semaphore in a Ray actor would). Where ``fcntl`` does not exist (Windows), no cap.
    The default folder is in the shared temp folder, named after the user, and must be private
    (see ``private_folder``): another user could otherwise hold every slot, or plant a symlink.
    """

    def __init__(self, limit: int, folder: str | None = None) -> None:
        self.limit = limit
        user = os.getuid() if hasattr(os, "getuid") else "user"
        self.folder = folder or os.path.join(tempfile.gettempdir(), f"cc-curate-{user}-request-slots-{limit}")
        if limit > 0:
            private_folder(self.folder)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Wait for a free slot and hold it for the block."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            yield
            return
        if self.limit <= 0:
            yield
            return
        order = list(range(self.limit))
        wait = 0.005
        while True:
            random.shuffle(order)  # spread processes over the slots instead of all trying slot 0
            for index in order:
                fd = os.open(os.path.join(self.folder, f"{index}.lock"),
                             os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield
                finally:
                    os.close(fd)  # closing drops the lock
                return
            time.sleep(random.uniform(0, wait))
            wait = min(wait * 2, 0.5)


def private_folder(path: str) -> None:
    """Create ``path`` with mode 0700, or accept it only if it already is a folder (not a symlink)
    of this user that nobody else can enter; otherwise raise PermissionError naming it."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: no shared /tmp, no flock
        return
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        why = "is a symlink" if stat.S_ISLNK(info.st_mode) else "is not a folder"
    elif info.st_uid != os.getuid():
        why = f"belongs to uid {info.st_uid}, not {os.getuid()}"
    elif info.st_mode & 0o077:
        why = f"is open to other users (mode {stat.S_IMODE(info.st_mode):o})"
    else:
        return
    raise PermissionError(f"request-slot folder {path} {why}; remove it (it must be private to this user)")


class BlockReader(io.RawIOBase):
    """A read-only, seekable file over ranged requests; see the module docstring.

    ``fetch(start, end)`` returns the bytes [start, end) of the file (fewer at its end) and
    ``size`` is the file's length in bytes.
    """

    def __init__(self, fetch: Callable[[int, int], bytes], size: int, path: str, policy: ReadPolicy,
                 slots: RequestSlots | None = None) -> None:
        super().__init__()
        self._fetch_range = fetch
        self.size = size
        self.path = path
        self.policy = policy
        self.slots = slots or RequestSlots(0)
        self._pos = 0
        self._block_start = 0
        self._block = b""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cc-curate-prefetch")
        self._ahead: tuple[int, Future[bytes]] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self.size or len(view) == 0:
            return 0
        if not self._block_start <= self._pos < self._block_start + len(self._block):
            self._load(self._pos - self._pos % self.policy.block_bytes)
        offset = self._pos - self._block_start
        n = min(len(view), len(self._block) - offset)
        view[:n] = memoryview(self._block)[offset : offset + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._pool.shutdown(wait=True, cancel_futures=True)
        super().close()

    def _load(self, start: int) -> None:
        """Make the block holding offset ``start`` current, and start fetching the one after it."""
        if self._ahead is not None and self._ahead[0] == start:
            self._block_start, self._block = self._ahead[1].result()
        else:
            self._block_start, self._block = self._fetch(start)
        following = self._block_start + len(self._block)
        self._ahead = (following, self._pool.submit(self._fetch, following)) if following < self.size else None

    def _fetch(self, start: int) -> tuple[int, bytes]:
        """(offset, bytes) of the block at ``start``: the whole file if the server ignores ranges."""
        end = min(start + self.policy.block_bytes, self.size)

        def one_request() -> tuple[int, bytes]:
            with self.slots.hold():
                data = self._fetch_range(start, end)
            if len(data) == end - start:
                return start, data
            if len(data) == self.size:  # the server sent the whole file: keep it, ask no more
                log.warning("%s: the server ignores range requests; the file is read whole", self.path)
                return 0, data
            raise EOFError(f"got {len(data)} of bytes {start}-{end} of {self.path}")  # a body cut short

        return with_retries(one_request, self.policy, f"reading {redact(self.path)} at {start}")


class SizeUnknown(OSError):
    """The server does not say how long the file is, so it cannot be read in ranges."""


def open_remote(fs: Any, path: str, policy: ReadPolicy, slots: RequestSlots | None = None) -> BlockReader:
    """A BlockReader over ``path`` of fsspec filesystem ``fs`` (its size asked with retries).

    Raises SizeUnknown when the server gives no size (the caller streams the file instead).
    """
    slots = slots or RequestSlots(policy.max_requests_per_node)

    def info() -> int | None:
        with slots.hold():
            size = fs.info(path).get("size")
        return None if size is None else int(size)

    size = with_retries(info, policy, f"size of {redact(path)}")
    if size is None:
        raise SizeUnknown(f"{redact(path)}: no size given by the server")
    return BlockReader(lambda start, end: fs.cat_file(path, start=start, end=end), size, path, policy, slots)
