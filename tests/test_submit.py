"""`cc-curate submit` plumbing against a real Ray head on loopback, with token auth on.

The head is started by this module (its own temp dir and ports, so it cannot collide with
another Ray on the machine) and torn down by process id — never `ray stop`, which would
kill every Ray on the host. Client calls run in fresh interpreters so that each one sees
exactly the auth environment the test gives it (Ray caches the auth mode per process).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cc_curate.runtime.submit import (
    DEFAULT_EXCLUDES,
    ClusterUnreachable,
    build_entrypoint,
    build_runtime_env,
    check_no_credentials,
    follow_hint,
    normalize_address,
    submit_entrypoint,
    submit_run,
    wait_for_job,
)

from .faults_helpers import REPO_ROOT, VENV_BIN, dashboard_ready, free_ports, pids_with, ray_env, sigkill, write_token

RAY_CLI = VENV_BIN / "ray"
CC_CURATE_CLI = VENV_BIN / "cc-curate"


# --------------------------------------------------------------------------- pure helpers


def test_entrypoint_forces_address_auto() -> None:
    cmd = build_entrypoint(["recipes/fineweb2.yaml", "--address", "ray://x:10001", "--output", "s3://b/o p"])
    assert cmd == "cc-curate run recipes/fineweb2.yaml --output 's3://b/o p' --address auto"
    assert build_entrypoint(["r.yaml", "--address=local"]) == "cc-curate run r.yaml --address auto"


def test_runtime_env_ships_repo_with_excludes(tmp_path: Path) -> None:
    env = build_runtime_env(tmp_path, pip=["jieba>=0.42"], env={"CC_CURATE_LOG": "debug"}, excludes=["/runs"])
    assert env["working_dir"] == str(tmp_path.resolve())
    for pattern in (".venv", ".git", "/tmp", "_staging", "*.parquet", ".env", "auth_token", "/runs"):
        assert pattern in env["excludes"]
    assert env["pip"] == ["jieba>=0.42"]
    assert env["env_vars"] == {"CC_CURATE_LOG": "debug"}
    # no pip / env given: the job uses what the image has and nothing is installed
    assert set(build_runtime_env(tmp_path)) == {"working_dir", "excludes"}
    with pytest.raises(ValueError):
        build_runtime_env(tmp_path / "missing")


@pytest.mark.parametrize(
    "env,pip",
    [
        ({"AWS_SECRET_ACCESS_KEY": "x"}, None),
        ({"RAY_AUTH_TOKEN": "x"}, None),
        ({"HF_TOKEN": "x"}, None),
        ({"DB_PASSWORD": "x"}, None),
        (None, ["pkg @ https://user:pw@example.com/pkg.whl"]),
        ({"INDEX": "https://user:pw@pypi.example/simple"}, None),
    ],
)
def test_credentials_never_go_into_runtime_env(env: dict[str, str] | None, pip: list[str] | None) -> None:
    with pytest.raises(ValueError, match="refusing"):
        check_no_credentials(env, pip)


def test_addresses() -> None:
    assert normalize_address("10.1.2.3:8265") == "http://10.1.2.3:8265"
    assert normalize_address("http://127.0.0.1:8265/") == "http://127.0.0.1:8265"
    for bad in ("ray://head:10001", "auto", "http://u:p@host:8265"):
        with pytest.raises(ClusterUnreachable):
            normalize_address(bad)
    hint = follow_hint("127.0.0.1:8265", "raysubmit_abc")
    assert "ray job logs --address http://127.0.0.1:8265 --follow raysubmit_abc" in hint
    assert "ray job status" in hint


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_cluster_fails_fast_with_one_line(tmp_path: Path) -> None:
    addr = f"http://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(ClusterUnreachable) as info:
        submit_run(addr, ["recipes/fineweb2.yaml", "--output", "s3://b/o"], working_dir=str(tmp_path))
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "\n" not in message and addr in message
    with pytest.raises(ClusterUnreachable):
        wait_for_job(addr, "raysubmit_x", timeout=1)
    with pytest.raises(ClusterUnreachable):
        submit_entrypoint("ray://127.0.0.1:10001", "true", working_dir=tmp_path)


# --------------------------------------------------------------------------- real Ray head


@dataclass
class Head:
    address: str
    env_with_token: dict[str, str]
    env_without_token: dict[str, str]


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    if not RAY_CLI.exists():
        pytest.skip("ray CLI not found next to the test interpreter")
    tmp = Path(tempfile.mkdtemp(prefix="ccsub", dir="/tmp"))  # short: Ray's socket paths are length-limited
    token, token_path = write_token(tmp)
    gcs, dash, client, agent_http, agent_grpc, rt_agent, metrics, node_mgr, obj_mgr = free_ports(9)
    address = f"http://127.0.0.1:{dash}"
    with_token, without_token = ray_env(token_path), ray_env(None)

    cmd = [
        str(RAY_CLI), "start", "--head", "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dash}",
        f"--ray-client-server-port={client}",
        f"--dashboard-agent-listen-port={agent_http}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--runtime-env-agent-port={rt_agent}",
        f"--metrics-export-port={metrics}",
        f"--node-manager-port={node_mgr}",
        f"--object-manager-port={obj_mgr}",
        "--num-cpus=1",
        f"--temp-dir={tmp / 'ray'}",
        "--disable-usage-stats",
    ]  # fmt: skip
    log = open(tmp / "head.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=with_token, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not dashboard_ready(address, token):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (tmp / "head.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Ray head did not come up (exit {proc.poll()}):\n{tail}")
            time.sleep(0.5)
        yield Head(address, with_token, without_token)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(timeout=10)
        sigkill(pids_with(str(tmp)))  # whatever of this head outlived its parent
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


_CLIENT = r"""
import json, sys
from cc_curate.runtime import submit as s
from ray.job_submission import JobSubmissionClient
p = json.loads(sys.argv[1])
addr, wd = p["address"], p["working_dir"]
out = {}
try:
    if p["kind"] == "concurrent":
        meta = {"cc_curate_output": "s3://bucket/run-a"}
        first = s.submit_entrypoint(addr, "sleep 60", working_dir=wd, metadata=meta)
        try:
            s.submit_entrypoint(addr, "true", working_dir=wd, metadata=meta)
            out["second"] = "accepted"
        except s.RunAlreadyActive as exc:
            out["second"], out["message"] = "refused", str(exc)
        # another output is fine; this one fails, and must be reported as FAILED
        other = s.submit_entrypoint(
            addr, "python -c 'raise SystemExit(3)'", working_dir=wd, metadata={"cc_curate_output": "s3://bucket/run-b"}
        )
        JobSubmissionClient(addr).stop_job(first)
        try:
            s.wait_for_job(addr, "raysubmit_doesnotexist", timeout=5, quiet=True)
        except s.JobNotFound as exc:
            out["unknown"] = str(exc)
        out["first"] = s.wait_for_job(addr, first, timeout=30, quiet=True)
        out["other"] = s.wait_for_job(addr, other, timeout=30, quiet=True)
    else:
        if p["kind"] == "run":
            jid = s.submit_run(addr, p["run_args"], working_dir=wd)
        else:
            jid = s.submit_entrypoint(addr, p["entrypoint"], working_dir=wd)
        out["id"] = jid
        out["hint"] = s.follow_hint(addr, jid)
        out["status"] = s.wait_for_job(addr, jid, timeout=p["timeout"], stream=sys.stderr)
        out["logs"] = JobSubmissionClient(addr).get_job_logs(jid)
except s.ClusterUnreachable as exc:
    out["error"] = type(exc).__name__
    out["message"] = str(exc)
print("RESULT " + json.dumps(out))
"""


def _client(head: Head, env: dict[str, str], timeout: float = 150, **params: object) -> dict[str, str]:
    """Run submit/wait in a fresh interpreter with exactly `env`; returns the RESULT dict."""
    payload = json.dumps({"address": head.address, "timeout": timeout - 30, **params})
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, payload],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"client crashed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return dict(json.loads(lines[-1][len("RESULT ") :]))


def test_job_runs_with_working_dir_and_token(ray_head: Head, tmp_path: Path) -> None:
    wd = tmp_path / "repo"
    (wd / ".venv").mkdir(parents=True)
    (wd / ".venv" / "big.bin").write_bytes(b"\0" * 1024)
    (wd / "auth_token").write_text("must-not-ship")
    (wd / "hello.txt").write_text("shipped-ok")
    # the driver inside the job attaches to the cluster it runs on, like `cc-curate run --address auto`
    probe = (
        "import os, ray; "
        "print(open('hello.txt').read()); "
        "print('venv-shipped' if os.path.exists('.venv') else 'venv-excluded'); "
        "print('token-shipped' if os.path.exists('auth_token') else 'token-excluded'); "
        "ray.init(address='auto'); print('cpus', ray.cluster_resources().get('CPU'))"
    )
    res = _client(
        ray_head, ray_head.env_with_token, kind="entrypoint", entrypoint=f'python -c "{probe}"', working_dir=str(wd)
    )
    assert res.get("status") == "SUCCEEDED", res
    logs = res["logs"]
    assert "shipped-ok" in logs and "venv-excluded" in logs and "token-excluded" in logs, logs
    assert "cpus 1.0" in logs, logs
    assert f"--follow {res['id']}" in res["hint"]
    token = Path(ray_head.env_with_token["RAY_AUTH_TOKEN_PATH"]).read_text()
    assert token not in logs and token not in res["hint"]


def test_without_token_the_cluster_refuses(ray_head: Head, tmp_path: Path) -> None:
    res = _client(ray_head, ray_head.env_without_token, kind="entrypoint", entrypoint="true", working_dir=str(tmp_path))
    assert res.get("error") == "ClusterAuthError", res
    assert "RAY_AUTH_MODE=token" in res["message"] and "\n" not in res["message"]


def test_second_run_on_the_same_output_is_refused(ray_head: Head, tmp_path: Path) -> None:
    res = _client(ray_head, ray_head.env_with_token, kind="concurrent", working_dir=str(tmp_path))
    assert res.get("second") == "refused", res
    assert "s3://bucket/run-a" in res["message"] and "ray job stop" in res["message"]
    assert res["first"] == "STOPPED" and res["other"] == "FAILED", res
    assert "raysubmit_doesnotexist" in res.get("unknown", ""), res


def _local_cli_works(*args: str) -> bool:
    if not CC_CURATE_CLI.exists():
        return False
    try:
        return subprocess.run([str(CC_CURATE_CLI), *args], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_cc_curate_runs_as_a_job(ray_head: Head) -> None:
    """The real path: submit_run ships the repo and runs `cc-curate run ... --address auto`.

    `--help` is eager in click, so the command exits 0 without needing inputs or a bucket.
    Falls back to plain `cc-curate --help` while the `run` subcommand does not exist yet.
    """
    if _local_cli_works("run", "--help"):
        res = _client(ray_head, ray_head.env_with_token, kind="run", run_args=["--help"], working_dir=str(REPO_ROOT))
        expected = "--output"
    elif _local_cli_works("--help"):
        res = _client(
            ray_head,
            ray_head.env_with_token,
            kind="entrypoint",
            entrypoint="cc-curate --help",
            working_dir=str(REPO_ROOT),
        )
        expected = "run"
    else:
        pytest.skip("the cc-curate console script is not installed in this venv")
    assert res.get("status") == "SUCCEEDED", res
    assert expected in res["logs"], res["logs"]


def test_default_excludes_keep_secrets_and_envs_out() -> None:
    for pattern in (".git", ".venv", "auth_token", ".env", "*.pem"):
        assert pattern in DEFAULT_EXCLUDES
