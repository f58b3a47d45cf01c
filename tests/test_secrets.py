"""No secret reaches an output, a log, the console or a Ray job's metadata.

* A run over a real HTTP server on loopback that demands basic auth, given input URLs with the
  password and a presigned-style signature in them: the documents are read (the credentials
  were used), and neither secret appears in any byte of the output folder (Parquet, ledger,
  staging, quarantine, logs, report, stats) nor on the console. On the code before the fix the
  password was in ``file_path``, the ledger, the quarantine and the report (checked by reverting).
* ``cc-curate submit`` refuses run arguments with URL credentials (one line, exit 2, the secret
  not echoed) and leaves secret files out of the working directory it ships, as packed by Ray's
  own packager (on the code before, `.netrc`, `.ssh/`, `credentials.json`, ... were shipped).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cc_curate.redaction import has_credentials, public_url, redact
from cc_curate.runtime.submit import DEFAULT_EXCLUDES, build_runtime_env
from cc_curate.sources.inputs import kind_of, shard_for

from .faults_helpers import cc_curate, good_responses, gzip_members, write_preset

PASSWORD = "s3cr3t-PASSWORD-7f3a"
SIGNATURE = "SIGNATURE-0c9e1d"
USER = "reader"


@contextmanager
def basic_auth_server(files: dict[str, bytes]) -> Iterator[str]:
    """Serve ``files`` (HEAD, GET, byte ranges) to requests with the right basic auth; yields the base URL."""
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self.answer(body=False)

        def do_GET(self) -> None:
            self.answer(body=True)

        def answer(self, body: bool) -> None:
            data = files.get(self.path.split("?")[0].lstrip("/"))
            status = 401 if self.headers.get("Authorization") != expected else 404 if data is None else 200
            if status != 200:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            assert data is not None
            start, end = 0, len(data)
            match = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            if match:
                start = int(match.group(1))
                end = min(int(match.group(2)) + 1 if match.group(2) else len(data), len(data))
            self.send_response(206 if match else 200)
            self.send_header("Content-Length", str(end - start))
            self.send_header("Accept-Ranges", "bytes")
            if match:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if body:
                self.wfile.write(data[start:end])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def readable(path: Path) -> bytes:
    """A file's bytes, and for Parquet (compressed) also every value it holds, as text."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        data += json.dumps(pq.read_table(path).to_pylist(), default=str).encode()
    return data


def secrets_in(data: bytes) -> list[str]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode())
    return [name for name, secret in (("password", PASSWORD.encode()), ("signature", SIGNATURE.encode()),
                                      ("basic auth token", token)) if secret in data]


@pytest.mark.slow
def test_credentials_in_input_urls_reach_no_output_and_no_console(tmp_path: Path) -> None:
    preset = write_preset(tmp_path / "recipe", "dedup:\n  enabled: false\nruntime:\n  max_retries: 0\n"
                                               "input:\n  read:\n    max_attempts: 1\n")
    out = tmp_path / "out"
    with basic_auth_server({"pages.warc.gz": gzip_members(good_responses(3, prefix="auth"))}) as base:
        with_auth = base.replace("//", f"//{USER}:{PASSWORD}@")
        good = f"{with_auth}pages.warc.gz?X-Amz-Date=20240101&X-Amz-Signature={SIGNATURE}"
        missing = f"{with_auth}missing.warc.gz?token={SIGNATURE}"
        result = cc_curate("run", str(preset), "-o", str(out), "-i", good, "-i", missing, "--workers", "1", check=False)
    console = (result.stdout + result.stderr).encode()
    assert result.returncode == 1, result.stderr[-3000:]  # the missing file is quarantined, the rest published

    rows = [row for f in sorted(out.glob("data/*/train/*.parquet")) for row in pq.read_table(f).to_pylist()]
    assert len(rows) == 3  # read through basic auth: the credentials were used to open the file
    assert {row["file_path"] for row in rows} == {f"{base}pages.warc.gz?X-Amz-Date=20240101&X-Amz-Signature=REDACTED"}
    quarantined = [json.loads(p.read_text()) for p in out.glob("_quarantine/shards/*.json")]
    assert [q["path"] for q in quarantined] == [f"{base}missing.warc.gz?token=REDACTED"]

    leaks = {str(p.relative_to(out)): secrets_in(readable(p)) for p in out.rglob("*") if p.is_file()}
    assert {name: found for name, found in leaks.items() if found} == {}
    assert len(leaks) > 10  # the folder really was searched: data, ledger, staging, logs, report, ...
    assert secrets_in(console) == []


def test_an_output_url_with_credentials_is_refused(tmp_path: Path) -> None:
    result = cc_curate("run", "recipes/fast.yaml", "-o", f"s3://{USER}:{PASSWORD}@bucket/out",
                       "-i", str(tmp_path / "x.warc.gz"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("cc-curate: --output s3://bucket/out: credentials in the URL")
    assert secrets_in((result.stdout + result.stderr).encode()) == []


def test_public_url_and_redact() -> None:
    assert public_url("https://u:p@host:8443/a/x.warc.gz") == "https://host:8443/a/x.warc.gz"
    assert public_url("https://h/x.warc.gz?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab&part=2") == (
        "https://h/x.warc.gz?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&part=2")
    for plain in ("s3://bucket/crawl-data/x.warc.gz", "https://h/x.jsonl?part=2", "/local/p?x=1.warc"):
        assert public_url(plain) == plain and not has_credentials(plain)
    assert redact("cannot open 'https://u:pw@h/x?sig=abc&sv=1'.") == "cannot open 'https://h/x?sig=REDACTED&sv=1'."
    assert public_url("/in/caf\udce9.warc") == "/in/caf\\udce9.warc"  # a file name that is not UTF-8


def test_a_url_s_kind_comes_from_its_path_and_its_shard_holds_no_secret() -> None:
    assert kind_of("https://h/x.warc.gz?X-Amz-Signature=abc") == "warc"
    assert kind_of("https://h/x.jsonl.gz#part") == "jsonl"
    shard = shard_for(f"https://{USER}:{PASSWORD}@h/x.warc.gz?token={SIGNATURE}")
    assert shard.path == "https://h/x.warc.gz?token=REDACTED"
    assert PASSWORD not in repr(shard) and SIGNATURE not in shard.shard_id
    assert shard.shard_id == shard_for("https://h/x.warc.gz?token=other").shard_id  # a re-signed URL: same shard
    assert shard.source.startswith(f"https://{USER}:{PASSWORD}@")  # kept, in memory, to open the file


# ----------------------------------------------------------------------------- cc-curate submit


@pytest.mark.parametrize("arg", [f"https://{USER}:{PASSWORD}@h/x.warc.gz",
                                 f"--input=https://h/x.warc.gz?X-Amz-Signature={SIGNATURE}",
                                 f"s3://{USER}:{PASSWORD}@bucket/out"])
def test_submit_refuses_credentials_in_run_arguments(tmp_path: Path, arg: str) -> None:
    """Refused before any cluster is contacted (nothing listens at the address given)."""
    result = cc_curate("submit", "--address", "http://127.0.0.1:9", "--working-dir", str(tmp_path),
                       "recipes/fast.yaml", "-o", "s3://bucket/out", "-i", arg, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cc-curate: refusing to submit"), result.stderr
    assert "storage_options" in lines[0]
    assert secrets_in((result.stdout + result.stderr).encode()) == []


SECRET_FILES = (".netrc", ".git-credentials", "id_rsa", "id_ed25519.pub", ".ssh/config", "credentials.json",
                "service-account.json", "keys/service-account-prod.json", ".s3cfg", ".boto", ".pypirc", ".npmrc",
                ".envrc", ".env", ".env.local", "terraform.tfstate", "infra/terraform.tfstate.backup", "tls.pem",
                "tls.key", ".aws/credentials", ".docker/config.json", ".kube/config", "sub/.netrc")
SHIPPED_FILES = ("cc_curate/__init__.py", "recipes/fast.yaml", "README.md", "docs/keys.md", "scripts/tokenize.py")


def test_secret_files_stay_out_of_the_shipped_working_dir(tmp_path: Path) -> None:
    """Packed by Ray's own packager with the excludes `cc-curate submit` gives it."""
    from ray._private.runtime_env.packaging import create_package

    wd = tmp_path / "repo"
    for name in SECRET_FILES + SHIPPED_FILES:
        (wd / name).parent.mkdir(parents=True, exist_ok=True)
        (wd / name).write_text("x")
    runtime_env = build_runtime_env(wd)
    package = tmp_path / "package.zip"
    create_package(runtime_env["working_dir"], package, include_gitignore=True, excludes=runtime_env["excludes"])
    shipped = {name for name in zipfile.ZipFile(package).namelist() if not name.endswith("/")}
    assert shipped == set(SHIPPED_FILES)
    assert set(runtime_env["excludes"]) >= set(DEFAULT_EXCLUDES)
