"""Live progress: a rich bar on a terminal, periodic log lines otherwise (CI, ``ray job logs``).

The periodic lines also go to ``logs/driver.log`` (through ``RUN_LOG``), terminal or not.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cc_curate.runtime.logs import RUN_LOG


class ShardProgress:
    """Shards done/total, documents per second, ETA and failures."""

    def __init__(self, total: int, *, stream: TextIO | None = None, log_every: float = 10.0):
        self.total, self.done, self.failed, self.documents = total, 0, 0, 0
        self.started = time.monotonic()
        self.stream = stream or sys.stderr
        self.log_every, self._last_log = log_every, 0.0
        self._bar: Progress | None = None
        if self.stream.isatty():
            self._bar = Progress(
                TextColumn("shards"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} docs/s  failed {task.fields[failed]}"),
                TimeRemainingColumn(), console=Console(file=self.stream), transient=False,
            )
            self._task = self._bar.add_task("shards", total=total, rate="0", failed=0)
            self._bar.start()

    def rate(self) -> float:
        return self.documents / max(time.monotonic() - self.started, 1e-6)

    def advance(self, documents: int, failed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        self.documents += documents
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=f"{self.rate():.0f}", failed=self.failed)
        if time.monotonic() - self._last_log >= self.log_every or self.done == self.total:
            self._last_log = time.monotonic()
            elapsed = time.monotonic() - self.started
            eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            line = f"shards {self.done}/{self.total}  {self.rate():.1f} docs/s  failed {self.failed}  eta {eta:.0f}s"
            RUN_LOG.info(line)  # logs/driver.log gets the lines even when the bar is shown
            if self._bar is None:
                print(f"[cc-curate] {line}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
