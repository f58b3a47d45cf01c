"""Helpers shared by the production-failure tests (S3, killed nodes, bad input).

Everything here talks to loopback only, and every wait is bounded in time.
"""

from __future__ import annotations

import gzip
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


# ----------------------------------------------------------------------------- outputs


def published_documents(root: str | Path, fs: fsspec.AbstractFileSystem | None = None) -> dict[str, tuple[str, str]]:
    """id -> (language partition, text) over every kept file of an output (local or object store).

    Fails if a document is published twice.
    """
    if fs is None:
        fs, root = fsspec.core.url_to_fs(str(root))
    fs.invalidate_cache()
    docs: dict[str, tuple[str, str]] = {}
    for file in sorted(fs.glob(f"{str(root).rstrip('/')}/data/*/train/*.parquet")):
        lang = file.split("/")[-3]
        if lang.endswith("_removed"):
            continue
        with fs.open(file, "rb") as fh:
            rows = pq.read_table(fh, columns=["id", "text"]).to_pylist()
        for row in rows:
            assert row["id"] not in docs, f"{row['id']} published twice"
            docs[row["id"]] = (lang, row["text"])
    return docs


def release_rows(root: str | Path) -> list[tuple[str, str, str, str | None, str | None]]:
    """Every published row, kept and removed, as (partition, id, text, filter_reason, duplicate_of),
    sorted: two releases of the same documents and decisions give equal lists."""
    rows = []
    for file in sorted(Path(root).glob("data/*/train/*.parquet")):
        partition = file.parts[-3]
        columns = ["id", "text"] + (["filter_reason", "duplicate_of"] if partition.endswith("_removed") else [])
        for row in pq.read_table(file, columns=columns).to_pylist():
            rows.append((partition, row["id"], row["text"], row.get("filter_reason"), row.get("duplicate_of")))
    return sorted(rows, key=lambda r: tuple("" if v is None else v for v in r))


def files_under(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under a local folder."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def cc_curate(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
              check: bool = True) -> subprocess.CompletedProcess:
    """Run the real command in a fresh interpreter (bounded in time)."""
    run_env = {**(env if env is not None else os.environ), "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    result = subprocess.run([sys.executable, "-m", "cc_curate.cli", *args], capture_output=True, text=True,
                            cwd=REPO_ROOT, env=run_env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"cc-curate {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


def write_preset(folder: Path, extra_yaml: str = "", base: str = "fast.yaml") -> Path:
    """A recipe preset in ``folder`` layered on one of the repository's presets."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "preset.yaml"
    path.write_text(f"base: {REPO_ROOT / 'recipes' / base}\n{extra_yaml}")
    return path


# ----------------------------------------------------------------------------- WARC bytes


def warc_record(rtype: str, block: bytes, *, rid: str | None, url: str = "http://example.com/",
                content_type: str | None = None, length: int | None = None, version: str = "WARC/1.0") -> bytes:
    """One WARC record written by hand (so broken ones can be written too): header, block, CRLF CRLF."""
    lines = [version, f"WARC-Type: {rtype}"]
    if rid is not None:
        lines.append(f"WARC-Record-ID: <urn:uuid:{rid}>")
    lines += [f"WARC-Target-URI: {url}", "WARC-Date: 2024-05-06T07:08:09Z"]
    if content_type is None and rtype in ("response", "request"):
        content_type = f"application/http; msgtype={rtype}"
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(block) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str | None = "text/html; charset=utf-8", status: str = "200 OK",
                  headers: Iterable[str] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [*headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_WORDS = ("the people of every nation shall have the right to take part in the government of their country "
          "directly or through freely chosen representatives and everyone has the right of equal access to "
          "public service in his country while the will of the people shall be the basis of the authority "
          "of government expressed in periodic and genuine elections which shall be by universal and equal "
          "suffrage and shall be held by secret vote or by equivalent free voting procedures").split()


def prose_paragraphs(i: int | str, paragraphs: int = 6) -> list[str]:
    """English paragraphs (long, varied sentences) that the quality filters keep, unique per ``i``."""
    rng = random.Random(str(i))
    paras = []
    for p in range(paragraphs):
        sentences = []
        for _ in range(5):
            words = [rng.choice(_WORDS) for _ in range(rng.randrange(14, 24))]
            sentences.append(" ".join(words).capitalize() + ".")
        paras.append(f"Page {i} paragraph {p}. " + " ".join(sentences))
    return paras


def prose_page(i: int | str, paragraphs: int = 6) -> bytes:
    """An English HTML article that extraction keeps, unique per ``i``."""
    body = "".join(f"<p>{p}</p>" for p in prose_paragraphs(i, paragraphs))
    return (f"<!DOCTYPE html><html><head><title>Article {i}</title></head><body><article>"
            f"<h1>Article number {i}</h1>{body}</article></body></html>").encode()


def good_responses(n: int, start: int = 0, prefix: str = "ok") -> list[bytes]:
    return [warc_record("response", http_response(prose_page(f"{prefix}-{i}")), rid=f"{prefix}-{i:04d}",
                        url=f"http://site{i}.example/article/{i}") for i in range(start, start + n)]


def gzip_members(records: Iterable[bytes]) -> bytes:
    """Common Crawl's layout: one gzip member per record."""
    return b"".join(gzip.compress(r, mtime=0) for r in records)


# ----------------------------------------------------------------------------- processes


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def pids_with(marker: str) -> list[int]:
    """Processes (other than this one) whose command line contains ``marker``."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and int(entry.name) != me:
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (by parent pid), as they are now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def sigkill(pids: Iterable[int]) -> list[int]:
    """SIGKILL each pid (by id); returns those that were signalled."""
    killed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return killed


# ----------------------------------------------------------------------------- Ray on loopback


def write_token(folder: Path) -> tuple[str, Path]:
    """A fresh Ray auth token in ``folder/auth_token``, readable by its owner only."""
    token = secrets.token_hex(16)
    path = folder / "auth_token"
    path.write_text(token)
    path.chmod(0o600)
    return token, path


def ray_env(token_path: Path | None) -> dict[str, str]:
    """This environment without RAY_* settings, plus the venv on PATH and token auth (None: auth off)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", RAY_USAGE_STATS_ENABLED="0",
               PYTHONUNBUFFERED="1")
    if token_path is None:
        env["RAY_AUTH_MODE"] = "disabled"
    else:
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_path))
    return env


def dashboard_ready(address: str, token: str) -> bool:
    """Whether the Jobs API at ``address`` answers an authenticated request."""
    request = urllib.request.Request(address + "/api/jobs/", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
