"""Run logs under ``OUT/logs/``: one file per shard attempt and one for the driver.

A worker runs many shards, and Ray interleaves every worker's output in one stream, so what went
wrong in one shard is hard to find there. Each shard task therefore captures the log records of
its own process while it runs and writes them, with a closing summary line, in one atomic write
through :class:`~cc_curate.output.storage.Storage` (local folders and object stores alike):

* ``logs/{shard}.log``: the attempt that committed the shard; written once, after the commit, so
  a retried shard has one log, of the attempt whose rows were published;
* ``logs/failed/{shard}.attempt-{n}.log``: an attempt that raised, with its traceback; kept, so
  the failures before a success (or before the shard was quarantined) stay readable. ``n``
  counts the failed attempts already logged for the shard, in this run and earlier ones;
* ``logs/driver.log``: the driver's progress lines and messages, appended run after run.

What is captured: records of the process's loggers at the levels it is configured for (WARNING
by default: input retries, tokenizer fallbacks, extraction warnings), Python warnings (one that a
reused worker process gave for an earlier shard is given again), and lines written only to the
shard's log (quarantined records, the summary).
A worker that dies (killed, out of memory) writes nothing; Ray's own worker logs have that.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cc_curate.output.storage import Storage

LOGS = "logs"
FAILED_LOGS = f"{LOGS}/failed"
DRIVER_LOG = f"{LOGS}/driver.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_RECORDS = 2000  # log records kept per shard attempt or driver run, besides its own lines
# Lines meant only for the shard's or the driver's log file (not propagated to the process's
# handlers, so they never flood the console that Ray forwards worker output to).
SHARD_LOG = logging.getLogger("cc_curate.shard")
RUN_LOG = logging.getLogger("cc_curate.run")
for _logger in (SHARD_LOG, RUN_LOG):
    _logger.propagate = False
    _logger.setLevel(logging.INFO)


def shard_log_path(shard_id: str) -> str:
    return f"{LOGS}/{shard_id}.log"


def failed_log_path(shard_id: str, attempt: int) -> str:
    return f"{FAILED_LOGS}/{shard_id}.attempt-{attempt}.log"


def attempt_number(storage: Storage, shard_id: str) -> int:
    """This attempt's number: 1 + the failed attempts logged for the shard (one listing of a small folder)."""
    return 1 + sum(name.startswith(f"{shard_id}.attempt-") for name in storage.list(FAILED_LOGS, ".log"))


@contextmanager
def captured(own: logging.Logger) -> Iterator[io.StringIO]:
    """Collect, while the block runs, this process's log records, its Python warnings and ``own``'s lines.

    The process's warning filters still apply, but a warning that a reused worker process gave
    once already, for an earlier shard, is given (and logged) again.
    """
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    formatter = logging.Formatter(FORMAT, "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    limit = _FirstRecords(MAX_RECORDS, keep=own.name)
    handler.addFilter(limit)
    root = logging.getLogger()
    # A process without handlers prints warnings to stderr through logging's "last resort", which
    # a handler of ours would switch off: keep it, so the console shows what it showed before.
    console = [logging.lastResort] if logging.lastResort and not root.handlers else []
    for each in (handler, *console):
        root.addHandler(each)
    own.addHandler(handler)
    with warnings.catch_warnings():  # a copy of the filters: each block shows "once" warnings again
        warnings.showwarning = _log_warning
        try:
            yield buffer
        finally:
            if limit.dropped:
                buffer.write(f"... {limit.dropped} more log records not kept (the first {MAX_RECORDS} are above)\n")
            own.removeHandler(handler)
            for each in (handler, *console):
                root.removeHandler(each)


class _FirstRecords(logging.Filter):
    """Pass the first ``limit`` records (and every record of logger ``keep``); count the rest.

    A library that warns on every document would otherwise grow a shard's log without bound.
    """

    def __init__(self, limit: int, keep: str) -> None:
        super().__init__()
        self.limit, self.keep = limit, keep
        self.passed = self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == self.keep:
            return True
        if self.passed < self.limit:
            self.passed += 1
            return True
        self.dropped += 1
        return False


def _log_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
    logging.getLogger("py.warnings").warning("%s:%d: %s: %s", filename, lineno, category.__name__, message)


def summary_line(counters: Mapping[str, float], documents: Mapping[str, int], quarantined: Mapping[str, int],
                 seconds: float, peak_rss: int, attempt: int, outcome: str) -> str:
    """The closing line of a shard log, ``key=value`` pairs an operator can grep or parse.

    ``documents`` and ``quarantined`` are counts per language and per quarantine reason.
    """
    docs = ",".join(f"{lang}:{n}" for lang, n in sorted(documents.items(), key=lambda kv: (-kv[1], kv[0])))
    reasons = ",".join(f"{reason}:{n}" for reason, n in sorted(quarantined.items()))
    prefix = "tokenizer_fallback."
    fallbacks = ",".join(sorted(k[len(prefix):] for k in counters if k.startswith(prefix)))
    fields = {
        "outcome": outcome,
        "attempt": attempt,
        "records_read": int(counters.get("records.read", 0)),
        "documents": sum(documents.values()),
        "languages": docs or "-",
        "records_quarantined": sum(quarantined.values()),
        "quarantine_reasons": reasons or "-",
        "tokenizer_fallbacks": fallbacks or "-",
        "seconds": f"{seconds:.1f}",
        "peak_rss_mib": peak_rss >> 20,
    }
    return "summary: " + " ".join(f"{k}={v}" for k, v in fields.items())


@contextmanager
def driver_log(storage: Storage, header: str) -> Iterator[None]:
    """Capture the driver's lines while the block runs, then append them to ``logs/driver.log``.

    Written once, when the run ends (also when it fails): object stores cannot append, so the
    previous runs' lines are read back and the whole file is rewritten in one atomic write.
    """
    started = time.monotonic()
    with captured(RUN_LOG) as buffer:
        RUN_LOG.info("run started: %s", header)
        try:
            yield
        except BaseException as exc:
            RUN_LOG.error("run failed after %.1f s: %s: %s", time.monotonic() - started, type(exc).__name__, exc)
            raise
        else:
            RUN_LOG.info("run finished in %.1f s", time.monotonic() - started)
        finally:
            try:
                storage.write_atomic(DRIVER_LOG, read_log(storage, DRIVER_LOG) + buffer.getvalue().encode())
            except OSError as exc:  # the run's outcome matters more than its log
                logging.getLogger(__name__).warning("could not write %s: %s", DRIVER_LOG, exc)


def read_log(storage: Storage, relative: str) -> bytes:
    """A log file's bytes (empty if it does not exist yet)."""
    if not storage.exists(relative):
        return b""
    with storage.open(relative, "rb") as fh:
        return fh.read()
