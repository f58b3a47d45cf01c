"""Main-text extraction from HTML: trafilatura (FineWeb's choice) or resiliparse (faster).

trafilatura runs with FineWeb/datatrove's settings: ``favor_precision=True``,
``include_comments=False``, ``deduplicate=True``, plain-text output, everything else default.
One deliberate difference: trafilatura's deduplication normally remembers text segments in a
process-wide cache, so the same page extracted twice in one process loses its repeated parts
(and a third copy is dropped whole) — the output would depend on which documents a worker saw
before. We give every document a fresh cache instead, which keeps deduplication of segments
repeated *within* a page and makes extraction a pure function of the page (cross-document
duplicates are MinHash dedup's job).

Per-document time limit: a SIGALRM interval timer (``signal.setitimer``), the mechanism
datatrove uses. It costs microseconds per document and interrupts pure-Python work
(trafilatura's tree walks, regexes called from Python); it cannot interrupt one long call into C
(lxml parsing, resiliparse), which ``max_html_bytes`` bounds instead. Signals only reach the
main thread, which is where Ray runs tasks and non-threaded actor methods; when called from
another thread the limit is skipped with a one-time warning (a thread-based guard such as
resiliparse's ``time_guard`` costs hundreds of milliseconds per call, too much per document).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

# resiliparse options chosen by scripts/eval_extraction.py (see docs/extraction_quality.md).
RESILIPARSE_DEFAULTS: dict[str, Any] = {
    "preserve_formatting": True,
    "main_content": True,
    "list_bullets": True,
    "alt_texts": False,
    "links": False,
    "form_fields": False,
    "noscript": False,
    "post_meta": False,
    "hidden_elements": False,
}


class ExtractionTimeout(Exception):
    """Extraction of one document took longer than ``timeout_seconds``; quarantine the record."""


class _Alarm(BaseException):
    """Raised by the SIGALRM handler. A BaseException so that the ``except Exception`` blocks
    inside extraction libraries cannot swallow it."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[list[bool]]:
    """Raise ``_Alarm`` in the block after ``seconds``; yields a flag list set when it fired.

    The flag catches the case where a library swallowed the exception anyway.
    """
    fired = [False]

    def on_alarm(signum: int, frame: Any) -> None:
        fired[0] = True
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield fired
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)


def _truncate_utf8(html: str, max_bytes: int) -> str:
    """``html`` cut to at most ``max_bytes`` UTF-8 bytes, on a character boundary."""
    if len(html) * 4 <= max_bytes:
        return html
    data = html.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return html
    return data[:max_bytes].decode("utf-8", "ignore")


class Extractor:
    """Built once per worker from the recipe's ``extraction`` section; ``extract`` per document.

    Params: ``backend`` ("trafilatura" | "resiliparse"), ``favor_precision`` (true),
    ``include_comments`` (false), ``deduplicate`` (true; trafilatura only),
    ``timeout_seconds`` (per document; 0 or unset = no limit), ``max_html_bytes`` (longer
    pages are cut to this many bytes before parsing; unset = no cap), and optionally
    ``resiliparse`` (a dict overriding ``RESILIPARSE_DEFAULTS``).
    """

    def __init__(self, params: Mapping[str, Any]):
        self.backend = str(params.get("backend", "trafilatura"))
        self.favor_precision = bool(params.get("favor_precision", True))
        self.include_comments = bool(params.get("include_comments", False))
        self.deduplicate = bool(params.get("deduplicate", True))
        self.timeout_seconds = float(params.get("timeout_seconds") or 0.0)
        self.max_html_bytes = int(params.get("max_html_bytes") or 0)
        self._warned_thread = False
        self._run: Callable[[str, str], str | None]
        if self.backend == "trafilatura":
            # trafilatura logs a WARNING for every page it finds no text in; at Common Crawl
            # scale that drowns the worker logs. Only tightened when nobody configured it.
            traf_log = logging.getLogger("trafilatura")
            if traf_log.level == logging.NOTSET:
                traf_log.setLevel(logging.ERROR)
            self._run = self._trafilatura
        elif self.backend == "resiliparse":
            self._resiliparse_options = {
                **RESILIPARSE_DEFAULTS,
                "comments": self.include_comments,
                **dict(params.get("resiliparse") or {}),
            }
            self._run = self._resiliparse
        else:
            raise ValueError(f"extraction.backend must be 'trafilatura' or 'resiliparse', not {self.backend!r}")

    def extract(self, html: str, url: str) -> str | None:
        """The main text of the page, or None when there is none.

        Raises ExtractionTimeout when the page takes longer than ``timeout_seconds``. Other
        failures of the HTML libraries on malformed input count as "no text" (logged at DEBUG).
        """
        if self.max_html_bytes:
            html = _truncate_utf8(html, self.max_html_bytes)
        if not html:
            return None
        if self.timeout_seconds <= 0 or not self._can_use_alarm():
            return self._run_safely(html, url)
        try:
            with _time_limit(self.timeout_seconds) as fired:
                text = self._run_safely(html, url)
        except _Alarm:
            raise ExtractionTimeout(f"extraction took over {self.timeout_seconds}s: {url}") from None
        if fired[0]:
            raise ExtractionTimeout(f"extraction took over {self.timeout_seconds}s: {url}")
        return text

    def _can_use_alarm(self) -> bool:
        if threading.current_thread() is threading.main_thread():
            return True
        if not self._warned_thread:
            log.warning("extraction runs outside the main thread: no per-document time limit")
            self._warned_thread = True
        return False

    def _run_safely(self, html: str, url: str) -> str | None:
        try:
            text = self._run(html, url)
        except Exception as exc:  # malformed HTML is data, not a bug: no text for this page
            log.debug("extraction failed for %s: %r", url, exc)
            return None
        return (text.strip() or None) if text else None

    def _trafilatura(self, html: str, url: str) -> str | None:
        import trafilatura
        from trafilatura.deduplication import LRUCache
        from trafilatura.settings import LRU_SIZE

        return trafilatura.extract(
            html,
            url=url or None,
            favor_precision=self.favor_precision,
            include_comments=self.include_comments,
            # a fresh cache per document: deduplication within the page only (see module doc)
            deduplicate=LRUCache(maxsize=LRU_SIZE) if self.deduplicate else False,
            output_format="txt",
        )

    def _resiliparse(self, html: str, url: str) -> str | None:
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(html, **self._resiliparse_options)
