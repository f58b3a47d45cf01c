"""Remote reads against a real HTTP server on loopback that throttles, fails and drops connections.

The server answers range requests (as Common Crawl's https://data.commoncrawl.org/ and S3 do) and
follows a fault plan: request n may get ``503 SlowDown``, ``429``, a ``500``, or a body cut off
halfway with the connection closed. Reads must give the file's exact bytes, resume at the byte
range that failed (never from the start of the file), and give up after ``max_attempts``.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cc_curate.recipe import load_recipe
from cc_curate.runtime.driver import RunOptions, run
from cc_curate.sources import ReadPolicy, Shard, iter_records
from cc_curate.sources.inputs import open_input, shard_for
from cc_curate.sources.remote import RequestSlots, is_transient

from .faults_helpers import REPO_ROOT, published_documents, write_preset

FAST_RETRIES = ReadPolicy(block_bytes=8 << 10, max_attempts=6, backoff_seconds=0.01, backoff_max_seconds=0.05,
                          max_requests_per_node=4)
DEMO = REPO_ROOT / "demo" / "demo.warc.gz"


@dataclass
class Request:
    method: str
    start: int | None  # first byte asked for (None: no Range header)
    outcome: str  # "ok" | "SlowDown" | "429" | "500" | "cut" | "404"
    path: str = ""
    at: float = 0.0  # time.monotonic() when it arrived


@dataclass
class FlakyServer:
    """Serves ``files`` by name; ``plan(n, method)`` says what request n (from 1) gets."""

    files: dict[str, bytes]
    plan: Callable[[int, str], str]
    give_size: bool = True  # False: no Content-Length, no ranges (the body ends when the connection closes)
    log: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                server.answer(self, body=False)

            def do_GET(self) -> None:
                server.answer(self, body=True)

        return Handler

    def answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        name = handler.path.split("?")[0].lstrip("/")
        data = self.files.get(name)
        match = re.match(r"bytes=(\d+)-(\d*)", handler.headers.get("Range") or "")
        with self.lock:
            outcome = "404" if data is None else self.plan(len(self.log) + 1, handler.command)
            self.log.append(Request(handler.command, int(match.group(1)) if match else None, outcome, name,
                                    time.monotonic()))
        if outcome in ("404", "SlowDown", "429", "500"):
            status = {"404": 404, "SlowDown": 503, "429": 429, "500": 500}[outcome]
            message = f"<Error><Code>{outcome}</Code></Error>".encode()
            handler.send_response(status)
            handler.send_header("Content-Length", str(len(message)))
            handler.end_headers()
            if body:
                handler.wfile.write(message)
            return
        assert data is not None
        if not self.give_size:
            handler.send_response(200)
            handler.end_headers()
            if body:
                handler.wfile.write(data)
            handler.close_connection = True
            return
        start, end = 0, len(data)
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) + 1 if match.group(2) else len(data), len(data))
        part = data[start:end]
        handler.send_response(206 if match else 200)
        handler.send_header("Content-Length", str(len(part)))
        handler.send_header("Accept-Ranges", "bytes")
        if match:
            handler.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        handler.end_headers()
        if not body:
            return
        if outcome == "cut":  # half the body, then the connection drops
            handler.wfile.write(part[: len(part) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        handler.wfile.write(part)


@contextmanager
def serving(server: FlakyServer) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), server.handler())
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def every(n: int, outcomes: tuple[str, ...], limit: int = 1000) -> Callable[[int, str], str]:
    """Every n-th GET fails, cycling through ``outcomes``, at most ``limit`` times."""
    failed = [0]

    def plan(count: int, method: str) -> str:
        if method == "GET" and count % n == 0 and failed[0] < limit:
            failed[0] += 1
            return outcomes[(failed[0] - 1) % len(outcomes)]
        return "ok"

    return plan


def test_reads_through_throttling_errors_and_dropped_connections_give_the_exact_bytes() -> None:
    data = DEMO.read_bytes()
    server = FlakyServer({"demo.warc.gz": data}, every(3, ("SlowDown", "cut", "429", "500")))
    with serving(server) as base:
        with open_input(base + "demo.warc.gz", policy=FAST_RETRIES) as stream:
            assert stream.read() == data
    outcomes = [r.outcome for r in server.log]
    assert {"SlowDown", "cut", "429", "500"} <= set(outcomes), outcomes
    # each failed range was asked for again, and nothing was re-read from the start of the file
    gets = [r for r in server.log if r.method == "GET"]
    for failed, retry in zip(gets, gets[1:]):
        if failed.outcome != "ok":
            assert retry.start == failed.start
    blocks = len(range(0, len(data), FAST_RETRIES.block_bytes))
    assert sum(r.outcome == "ok" for r in gets) == blocks  # every block fetched once, none twice
    assert sorted(r.start for r in gets if r.outcome == "ok") == list(range(0, len(data), FAST_RETRIES.block_bytes))


def test_records_read_through_faults_are_those_of_the_local_file() -> None:
    local = list(iter_records(shard_for(str(DEMO))))
    server = FlakyServer({"demo.warc.gz": DEMO.read_bytes()}, every(2, ("cut", "SlowDown")))
    with serving(server) as base:
        remote = list(iter_records(Shard("demo", base + "demo.warc.gz", "warc"), read_policy=FAST_RETRIES))
    assert remote == local
    assert sum(r.outcome == "cut" for r in server.log) >= 3


def test_credentials_in_a_url_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    data = DEMO.read_bytes()
    server = FlakyServer({"demo.warc.gz": data}, every(2, ("SlowDown",)))
    with serving(server) as base, caplog.at_level("WARNING", logger="cc_curate.sources.remote"):
        url = base.replace("//", "//reader:s3cr3t-pw@") + "demo.warc.gz?X-Amz-Signature=s3cr3t-sig"
        with open_input(url, policy=FAST_RETRIES) as stream:
            assert stream.read() == data
    assert "SlowDown" in caplog.text or "503" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_a_server_that_gives_no_size_is_read_in_one_stream() -> None:
    data = DEMO.read_bytes()
    server = FlakyServer({"demo.warc.gz": data}, lambda n, m: "ok", give_size=False)
    with serving(server) as base:
        with open_input(base + "demo.warc.gz", policy=FAST_RETRIES) as stream:
            assert stream.read() == data
    assert [r.start for r in server.log if r.method == "GET"][-1] is None  # no range asked for


def test_a_missing_file_fails_at_once() -> None:
    server = FlakyServer({}, lambda n, m: "ok")
    with serving(server) as base, pytest.raises(FileNotFoundError):
        with open_input(base + "nothing.warc.gz", policy=FAST_RETRIES):
            pass
    assert len(server.log) <= 2  # HEAD, then fsspec's GET fallback: no retries


def test_a_file_that_keeps_failing_raises_after_max_attempts() -> None:
    data = DEMO.read_bytes()
    server = FlakyServer({"demo.warc.gz": data}, lambda n, m: "SlowDown" if m == "GET" and n > 1 else "ok")
    with serving(server) as base, pytest.raises(Exception) as raised:
        with open_input(base + "demo.warc.gz", policy=FAST_RETRIES) as stream:
            stream.read()
    assert is_transient(raised.value)
    first_block = [r for r in server.log if r.method == "GET" and r.start == 0]
    assert len(first_block) == FAST_RETRIES.max_attempts


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    policy = ReadPolicy(backoff_seconds=0.5, backoff_max_seconds=4.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling  # spread over [0, ceiling]


def test_which_errors_are_retried() -> None:
    import aiohttp

    assert is_transient(ConnectionResetError())
    assert is_transient(TimeoutError())
    assert is_transient(OSError("An error occurred (SlowDown) when calling the GetObject operation"))
    assert not is_transient(FileNotFoundError("s3://b/k"))
    assert not is_transient(PermissionError("AccessDenied"))
    assert not is_transient(ValueError("bad"))
    request = aiohttp.RequestInfo(url=aiohttp.client.URL("http://x/"), method="GET", headers={}, real_url=None)
    for status, transient in [(503, True), (429, True), (500, True), (404, False), (403, False)]:
        error = aiohttp.ClientResponseError(request, (), status=status)
        assert is_transient(error) is transient
        wrapped = FileNotFoundError("http://x/")  # what fsspec makes of a failed HEAD
        wrapped.__cause__ = error
        assert is_transient(wrapped) is transient


def _hold_slot(folder: str, limit: int, log_path: str) -> None:
    slots = RequestSlots(limit, folder)
    for _ in range(3):
        with slots.hold():
            began = time.monotonic()
            time.sleep(0.05)
            ended = time.monotonic()
        with open(log_path, "a") as log:
            log.write(json.dumps([began, ended]) + "\n")


def test_request_slots_cap_concurrency_across_processes(tmp_path: Path) -> None:
    limit, log_path = 2, tmp_path / "held.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hold_slot, args=(str(tmp_path / "slots"), limit, str(log_path)))
               for _ in range(5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    spans = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(spans) == 15
    events = sorted([(t0, 1) for t0, _ in spans] + [(t1, -1) for _, t1 in spans], key=lambda e: (e[0], e[1]))
    held = peak = 0
    for _, change in events:
        held += change
        peak = max(peak, held)
    assert peak == limit  # used to the full, never beyond


def test_a_run_over_a_flaky_http_server_publishes_what_a_local_run_publishes(tmp_path: Path, local_ray: None) -> None:
    recipe = load_recipe(write_preset(tmp_path / "recipe", "input:\n  read:\n    block_bytes: 65536\n"
                                      "    backoff_seconds: 0.01\n    backoff_max_seconds: 0.05\n"))
    run(RunOptions(recipe=recipe, output=str(tmp_path / "local"), inputs=[str(DEMO)], stream=io.StringIO()))
    server = FlakyServer({"demo.warc.gz": DEMO.read_bytes()}, every(2, ("cut", "SlowDown", "500")))
    with serving(server) as base:
        summary = run(RunOptions(recipe=recipe, output=str(tmp_path / "remote"), inputs=[base + "demo.warc.gz"],
                                 stream=io.StringIO()))
    assert summary.quarantined == []
    assert {"cut", "SlowDown", "500"} <= {r.outcome for r in server.log}
    assert published_documents(tmp_path / "remote") == published_documents(tmp_path / "local")


def test_the_first_wave_of_shards_starts_staggered(tmp_path: Path, local_ray: None) -> None:
    """Three shards, three in flight, sent 1.5 s apart: the last one cannot ask for its file before 3 s."""
    names = [f"part-{i}.warc.gz" for i in range(3)]
    server = FlakyServer({name: DEMO.read_bytes() for name in names}, lambda n, m: "ok")
    recipe = load_recipe(write_preset(tmp_path / "recipe", "runtime:\n  start_stagger_seconds: 1.5\n"))
    with serving(server) as base:
        began = time.monotonic()
        summary = run(RunOptions(recipe=recipe, output=str(tmp_path / "out"), inputs=[base + n for n in names],
                                 workers=3, max_records=5, stream=io.StringIO()))
    assert summary.shards_run == 3 and summary.quarantined == []
    first = sorted(min(r.at for r in server.log if r.path == name) for name in names)
    assert first[-1] - began >= 3.0, [t - began for t in first]
