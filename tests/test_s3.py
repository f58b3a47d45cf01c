"""Runs against a real S3-compatible server (moto in server mode) on loopback.

Inputs are read from ``s3://``, outputs committed to ``s3://``: the published documents must be
the ones a local run of the same files publishes, through injected throttling and 5xx errors
too. The credentials given in the recipe must never be printed or written into the output.
"""

from __future__ import annotations

import http.client
import http.server
import io
import json
import logging
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cc_curate.output.storage import Storage
from cc_curate.recipe import load_recipe
from cc_curate.runtime.driver import RunOptions, RunSummary, run

from .faults_helpers import cc_curate, published_documents, write_preset

moto_server = pytest.importorskip("moto.server")
s3fs = pytest.importorskip("s3fs")

pytestmark = pytest.mark.slow

IN_BUCKET, OUT_BUCKET = "ccin", "ccout"  # S3 bucket names need 3+ characters
# Fewer dedup partitions than the default: dedup's request count grows with partitions x files,
# and each request to the in-process S3 server costs milliseconds on a busy machine.
RECIPE_EXTRA = "dedup:\n  num_partitions: 2\n"
KEY = "ccTESTKEY"
SECRET = "ccSECRET-" + secrets.token_hex(12)  # distinctive: any leak is found by a plain search


@dataclass
class S3:
    endpoint: str
    fs: "s3fs.S3FileSystem"

    def preset(self, folder: Path, endpoint: str | None = None, extra: str = "") -> Path:
        """A recipe (fast.yaml + these storage options) in ``folder``."""
        options = {"endpoint_url": endpoint or self.endpoint, "key": KEY, "secret": SECRET}
        return write_preset(folder, f"input:\n  storage_options: {json.dumps(options)}\n{RECIPE_EXTRA}{extra}")


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        fs = s3fs.S3FileSystem(endpoint_url=endpoint, key=KEY, secret=SECRET, skip_instance_cache=True)
        fs.mkdir(IN_BUCKET)
        fs.mkdir(OUT_BUCKET)
        yield S3(endpoint, fs)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def inputs(s3: S3, shared_data: Path) -> list[Path]:
    # two producers, few languages: each language costs dedup and publish requests
    local = [shared_data / "cc_warc_samples" / "resiliparse-CC-MAIN-2020-34-sample.warc.gz",
             shared_data / "webarchive_warc_samples" / "dolma-wget-sample-0000.warc.gz"]
    for path in local:
        s3.fs.put(str(path), f"{IN_BUCKET}/{path.name}")
    return local


def run_in_process(recipe: Path, output: str, inputs: list[str], **options) -> tuple[RunSummary, str]:
    stream = io.StringIO()
    summary = run(RunOptions(recipe=load_recipe(recipe), output=output, inputs=inputs, stream=stream, **options))
    return summary, stream.getvalue()


@pytest.fixture(scope="module")
def local_reference(inputs: list[Path], tmp_path_factory: pytest.TempPathFactory, local_ray: None) -> dict:
    """What a local run of the same files publishes."""
    folder = tmp_path_factory.mktemp("local")
    out = folder / "out"
    run_in_process(write_preset(folder, RECIPE_EXTRA), str(out), [str(p) for p in inputs])
    docs = published_documents(out)
    assert len(docs) >= 15
    return docs


def no_aws_env() -> dict[str, str]:
    """The environment for a command: no AWS credentials or profile of the machine."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def object_versions(s3: S3, prefix: str) -> dict[str, str]:
    s3.fs.invalidate_cache()
    return {path: info["ETag"] + str(info["LastModified"]) for path, info in s3.fs.find(prefix, detail=True).items()}


def assert_no_secret(s3: S3, prefix: str, *texts: str) -> None:
    for text in texts:
        assert SECRET not in text
    s3.fs.invalidate_cache()
    for path in s3.fs.find(prefix):
        assert SECRET.encode() not in s3.fs.cat_file(path), f"the secret leaked into {path}"


# ----------------------------------------------------------------------------- S3 in, S3 out


@pytest.fixture(scope="module")
def s3_run(s3: S3, inputs: list[Path], tmp_path_factory: pytest.TempPathFactory):
    """The real command, reading s3://ccin/*.warc.gz and committing to s3://ccout/run."""
    recipe = s3.preset(tmp_path_factory.mktemp("preset"))
    args = ("run", str(recipe), "--input", f"s3://{IN_BUCKET}/*.warc.gz", "--output", f"s3://{OUT_BUCKET}/run",
            "--workers", "2")
    return recipe, args, cc_curate(*args, env=no_aws_env())


def test_s3_run_publishes_what_a_local_run_publishes(s3: S3, s3_run, local_reference: dict) -> None:
    _, _, result = s3_run
    assert "published to s3://ccout/run" in result.stdout
    docs = published_documents(f"{OUT_BUCKET}/run", fs=s3.fs)
    assert docs == local_reference
    stats = json.loads(s3.fs.cat_file(f"{OUT_BUCKET}/run/stats.json"))
    assert stats["check"] == {"records_add_up": True, "documents_add_up": True}
    assert stats["run"]["shards_committed"] == 2 and stats["run"]["shards_quarantined"] == []
    ledger = [p for p in s3.fs.ls(f"{OUT_BUCKET}/run/_ledger") if not p.rsplit("/", 1)[-1].startswith("_")]
    assert len(ledger) == 2


def test_credentials_are_never_printed_or_written(s3: S3, s3_run) -> None:
    _, _, result = s3_run
    assert_no_secret(s3, f"{OUT_BUCKET}/run", result.stdout, result.stderr)
    assert s3.fs.exists(f"{OUT_BUCKET}/run/README.md") and s3.fs.exists(f"{OUT_BUCKET}/run/stats.json")


def test_rerun_on_s3_is_a_no_op(s3: S3, s3_run) -> None:
    _, args, _ = s3_run
    before = object_versions(s3, f"{OUT_BUCKET}/run")
    again = cc_curate(*args, env=no_aws_env())
    assert "nothing to do" in again.stderr
    assert SECRET not in again.stdout + again.stderr
    assert object_versions(s3, f"{OUT_BUCKET}/run") == before


def test_a_shard_with_a_ledger_entry_is_skipped(s3: S3, s3_run, local_reference: dict, local_ray: None) -> None:
    """Resume on S3: only the shard whose ledger entry is gone runs again; the other is not touched."""
    recipe, _, _ = s3_run
    s3.fs.invalidate_cache()
    for path in s3.fs.find(f"{OUT_BUCKET}/run"):
        s3.fs.copy(path, path.replace(f"{OUT_BUCKET}/run/", f"{OUT_BUCKET}/resume/", 1))
    s3.fs.invalidate_cache()
    entries = sorted(p for p in s3.fs.ls(f"{OUT_BUCKET}/resume/_ledger") if not p.rsplit("/", 1)[-1].startswith("_"))
    kept_entry = s3.fs.cat_file(entries[1])
    s3.fs.rm(entries[0])
    s3.fs.rm(f"{OUT_BUCKET}/resume/_ledger/_published.json")
    summary, said = run_in_process(recipe, f"s3://{OUT_BUCKET}/resume", [f"s3://{IN_BUCKET}/*.warc.gz"])
    assert (summary.shards_run, summary.shards_skipped, summary.quarantined) == (1, 1, [])
    assert "resumed: 1 shards were already committed" in said
    s3.fs.invalidate_cache()
    assert s3.fs.cat_file(entries[1]) == kept_entry  # the committed shard was not redone
    assert s3.fs.exists(entries[0])
    assert published_documents(f"{OUT_BUCKET}/resume", fs=s3.fs) == local_reference
    # attempts no ledger entry names are invisible; each shard has exactly one committed attempt
    for entry in (entries[0], entries[1]):
        rows_file = json.loads(s3.fs.cat_file(entry))["rows_file"]
        assert s3.fs.exists(f"{OUT_BUCKET}/resume/{rows_file}")


def test_ledger_entries_are_created_once(s3: S3) -> None:
    """Storage.create_exclusive on S3: the first commit wins, a second one changes nothing."""
    storage = Storage(f"s3://{OUT_BUCKET}/exclusive",
                      {"endpoint_url": s3.endpoint, "key": KEY, "secret": SECRET})
    assert storage.exists("_ledger/x.json") is False
    assert storage.create_exclusive("_ledger/x.json", b'{"attempt": "a"}') is True
    assert storage.create_exclusive("_ledger/x.json", b'{"attempt": "b"}') is False
    assert storage.read_json("_ledger/x.json") == {"attempt": "a"}
    assert storage.list("_ledger", ".json") == ["x.json"]


def test_racing_commits_on_s3_have_exactly_one_winner(s3: S3) -> None:
    """Eight attempts commit the same shard at once: the conditional PUT lets exactly one win."""
    options = {"endpoint_url": s3.endpoint, "key": KEY, "secret": SECRET}
    for round_ in range(3):
        storages = [Storage(f"s3://{OUT_BUCKET}/race{round_}", options) for _ in range(8)]
        start = threading.Barrier(len(storages))
        won: dict[int, bool] = {}

        def commit(i: int) -> None:
            start.wait()
            won[i] = storages[i].create_exclusive("_ledger/shard.json", f'{{"attempt": {i}}}'.encode())

        threads = [threading.Thread(target=commit, args=(i,)) for i in range(len(storages))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        winners = [i for i, ok in won.items() if ok]
        assert len(won) == len(storages) and len(winners) == 1, won
        assert storages[0].read_json("_ledger/shard.json") == {"attempt": winners[0]}


# ----------------------------------------------------------------------------- throttling and 5xx


class FaultProxy:
    """A loopback HTTP proxy in front of the S3 server that fails a fixed share of requests.

    Request n (counted from 1, over all clients) gets ``503 SlowDown`` when n % slow_every == 0,
    else ``500 InternalError`` when n % error_every == 0, at most ``max_faults`` times in all;
    every other request is forwarded unchanged. Failed requests never reach the server.
    """

    HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "expect"}

    def __init__(self, upstream_port: int, slow_every: int = 7, error_every: int = 17, max_faults: int = 150):
        self.upstream_port = upstream_port
        self.slow_every, self.error_every, self.max_faults = slow_every, error_every, max_faults
        self.lock = threading.Lock()
        self.requests = 0
        self.faults: Counter[str] = Counter()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                proxy.forward(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _fault_for(self, method: str) -> str | None:
        with self.lock:
            self.requests += 1
            n = self.requests
            if sum(self.faults.values()) >= self.max_faults:
                return None
            if n % self.slow_every == 0:
                kind = "SlowDown"
            elif n % self.error_every == 0:
                kind = "InternalError"
            else:
                return None
            self.faults[f"{kind} {method}"] += 1
            return kind

    @staticmethod
    def _read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(handler.rfile.read(size))
                handler.rfile.readline()
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))

    def forward(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        body = self._read_body(handler)
        fault = self._fault_for(handler.command)
        if fault is not None:
            status = 503 if fault == "SlowDown" else 500
            message = "Please reduce your request rate." if fault == "SlowDown" else "We encountered an internal error."
            xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{fault}</Code><Message>{message}</Message>'
                   f"<RequestId>fault{self.requests}</RequestId></Error>").encode()
            handler.send_response(status)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(xml)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(xml)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in self.HOP_BY_HOP}
        if body or handler.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            upstream.request(handler.command, handler.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            handler.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() in self.HOP_BY_HOP or (name.lower() == "content-length" and handler.command != "HEAD"):
                    continue
                handler.send_header(name, value)
            if handler.command != "HEAD":
                handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(data)
        finally:
            upstream.close()


def test_throttling_and_server_errors_change_nothing(s3: S3, inputs: list[Path], local_reference: dict,
                                                     tmp_path: Path, local_ray: None) -> None:
    port = int(s3.endpoint.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy:
        recipe = s3.preset(tmp_path, endpoint=proxy.endpoint)
        summary, said = run_in_process(recipe, f"s3://{OUT_BUCKET}/throttled", [f"s3://{IN_BUCKET}/*.warc.gz"])
        faults = dict(proxy.faults)
        requests = proxy.requests
    print(f"fault proxy: {requests} requests, faults {faults}")
    assert summary.quarantined == [] and summary.shards_run == 2
    # the faults hit reads, writes and listings alike, and every one of them was retried
    assert sum(faults.values()) >= 10, (faults, requests)
    assert {method for kind_method in faults for method in kind_method.split()[1:]} >= {"GET", "PUT"}, faults
    assert published_documents(f"{OUT_BUCKET}/throttled", fs=s3.fs) == local_reference
    stats = json.loads(s3.fs.cat_file(f"{OUT_BUCKET}/throttled/stats.json"))
    assert stats["check"] == {"records_add_up": True, "documents_add_up": True}
    assert_no_secret(s3, f"{OUT_BUCKET}/throttled", said)
