"""Submit a `cc-curate run` to a remote Ray cluster through the Ray Jobs API.

Why the Jobs API and not `ray.init("ray://...")`: the driver then runs *on the cluster*
(next to the GCS, inside the cluster's network and IAM role), so a laptop that goes to
sleep or loses its port-forward does not kill a multi-hour run. The repository is shipped
as the job's `working_dir`, so the code that runs is the code you submitted, even if the
cluster image is older.

Authentication: when the cluster has Ray token authentication on, the Ray client reads
`RAY_AUTH_MODE=token` and the token (`RAY_AUTH_TOKEN`, `RAY_AUTH_TOKEN_PATH` or
`~/.ray/auth_token`) from the environment. This module never reads, prints or ships the
token itself, and refuses to put credential-looking variables into the job's runtime_env
(which Ray stores in the job's metadata and shows in the dashboard).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from cc_curate.errors import UserError
from cc_curate.redaction import has_credentials, redact

logger = logging.getLogger(__name__)

DEFAULT_DASHBOARD_ADDRESS = "http://127.0.0.1:8265"
"""Where `ray dashboard clusters/aws.yaml` and `kubectl port-forward ... 8265:8265` listen."""

CONNECT_TIMEOUT_S = 5.0

# gitignore-style patterns (relative to the working dir) never shipped to the cluster:
# environments and VCS data (big, machine-specific), run outputs and local data (big, and the
# job must not write back into its own package), and anything that may hold a credential.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "*.egg-info",
    "/build",
    "/dist",
    "/tmp",
    "/out",
    "/output",
    "/outputs",
    "/demo-output",
    "_staging",
    "_ledger",
    "*.parquet",
    "*.warc",
    "*.warc.gz",
    # secrets: credential files of the usual tools, keys, environment files, infrastructure state
    ".env",
    ".env.*",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".ssh",
    ".gnupg",
    ".netrc",
    "_netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".yarnrc.yml",
    ".s3cfg",
    ".boto",
    ".htpasswd",
    ".pgpass",
    ".my.cnf",
    "credentials",
    "credentials.json",
    "*credentials*.json",
    "service-account*.json",
    "client_secret*.json",
    "*.tfstate",
    "*.tfstate.*",
    ".terraform",
    "*.tfvars",
    "secrets.*",
    "auth_token",
    ".ray",
    ".aws",
    ".azure",
    ".docker",
    ".kube",
    ".config/gcloud",
    ".config/gh",
    "kubeconfig",
)

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})

_SECRET_ENV_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|ACCESS_KEY|PRIVATE_KEY|API_KEY)", re.I)


class ClusterUnreachable(UserError):
    """The cluster's Jobs API cannot be used; the message is one line saying why and what to do.

    A UserError, so the CLI prints it as one line and exits 2 without a traceback.
    """


class ClusterAuthError(ClusterUnreachable):
    """The cluster answered but refused us: token authentication is on and no (valid) token was sent."""


class UnsafeSubmission(UserError, ValueError):
    """What was asked to ship with the job is unusable or unsafe (missing dir, a credential)."""


class RunAlreadyActive(UserError):
    """Another job is still writing to the same --output; two drivers on one output would race."""


class JobNotFound(UserError):
    """The cluster has no job with that id (wrong cluster, or it was restarted since)."""


class JobFailed(Exception):
    """A job waited on with `wait=True` ended in a status other than SUCCEEDED."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job {job_id} ended with status {status}")
        self.job_id = job_id
        self.status = status


# --------------------------------------------------------------------------- pure helpers


def normalize_address(address: str | None) -> str:
    """Return the dashboard URL (`http://host:port`) the Jobs API lives at.

    Accepts `host:port` without a scheme and falls back to $RAY_API_SERVER_ADDRESS,
    $RAY_ADDRESS (when it is an http URL) or the port-forward default. A `ray://` Ray Client
    address is rejected with a hint, because job submission goes to the dashboard port.
    """
    addr = (address or "").strip()
    if not addr:
        env_addr = os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_ADDRESS") or ""
        addr = env_addr if env_addr.startswith(("http://", "https://")) else DEFAULT_DASHBOARD_ADDRESS
    if addr.startswith("ray://") or addr == "auto":
        raise ClusterUnreachable(
            f"{addr!r} is not a dashboard address: cc-curate submit talks to the Ray Jobs API, "
            f"e.g. {DEFAULT_DASHBOARD_ADDRESS} after `ray dashboard clusters/aws.yaml` "
            "or `kubectl port-forward svc/cc-curate-head-svc 8265:8265`"
        )
    if "://" not in addr:
        addr = "http://" + addr
    parts = urlsplit(addr)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClusterUnreachable(f"cannot use {address!r} as a dashboard address (want http://host:8265)")
    if parts.username or parts.password:
        raise ClusterUnreachable("do not put credentials in the dashboard address; use RAY_AUTH_TOKEN_PATH")
    return addr.rstrip("/")


def build_entrypoint(run_args: Sequence[str]) -> str:
    """The shell command the job runs: `cc-curate run <run_args> --address auto`.

    Any `--address` in run_args is dropped: inside the job the driver must attach to the
    cluster it runs on, never start its own local Ray.
    """
    args: list[str] = []
    skip_next = False
    for arg in run_args:
        if skip_next:
            skip_next = False
            continue
        if arg == "--address":
            skip_next = True
            continue
        if arg.startswith("--address="):
            continue
        args.append(arg)
    return shlex.join(["cc-curate", "run", *args, "--address", "auto"])


def _output_arg(run_args: Sequence[str]) -> str | None:
    out: str | None = None
    for i, arg in enumerate(run_args):
        if arg in ("--output", "-o") and i + 1 < len(run_args):
            out = run_args[i + 1]
        elif arg.startswith("--output="):
            out = arg.split("=", 1)[1]
    return out


def _local_output_exclude(run_args: Sequence[str], working_dir: Path) -> list[str]:
    """Exclude a local `--output` directory that lies inside the working dir (old runs)."""
    out = _output_arg(run_args)
    if not out or "://" in out:
        return []
    try:
        rel = (working_dir / out).resolve().relative_to(working_dir.resolve())
    except ValueError:
        return []
    return [] if str(rel) == "." else ["/" + rel.as_posix()]


def check_run_args(run_args: Sequence[str]) -> None:
    """Refuse run arguments that hold a URL credential (user info, a signed or token query).

    The arguments become the job's entrypoint and metadata, which Ray keeps and shows in the
    dashboard and `ray job list`: a secret there is a leaked secret.
    """
    for arg in run_args:
        if has_credentials(arg):
            raise UnsafeSubmission(
                f"refusing to submit a run argument with URL credentials ({redact(arg)}): the run's "
                "arguments are shown in the Ray dashboard; give the cluster access through the recipe's "
                "input.storage_options or the environment of its nodes (IAM role, service account, "
                "Kubernetes Secret) and pass the URL without them"
            )


def check_no_credentials(env: dict[str, str] | None, pip: Sequence[str] | None) -> None:
    """Refuse runtime_env content that looks like a credential.

    Ray keeps the runtime_env in the job's metadata (dashboard, `ray job list`, logs), so a
    secret there is a leaked secret. Clusters get S3/GCS access from an instance role,
    service account or Kubernetes Secret instead.
    """
    for name in (env or {}):
        if _SECRET_ENV_NAME.search(name):
            raise UnsafeSubmission(
                f"refusing to ship env var {name!r} in the job's runtime_env: it looks like a "
                "credential and Ray shows runtime_env in the dashboard; give the cluster an IAM "
                "role / service account / Kubernetes Secret instead"
            )
    for value in list((env or {}).values()) + list(pip or []):
        if has_credentials(value):
            raise UnsafeSubmission(
                "refusing to ship a URL with embedded credentials (user:password@host, a signed or "
                "token query) in the job's runtime_env; use a credential helper or an index "
                "configured on the image"
            )


def build_runtime_env(
    working_dir: str | Path,
    *,
    pip: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    excludes: Sequence[str] = (),
) -> dict[str, Any]:
    """The runtime_env for a job: the repo as working_dir (with excludes), pip deps, env vars."""
    wd = Path(working_dir).expanduser().resolve()
    if not wd.is_dir():
        raise UnsafeSubmission(f"working_dir {str(wd)!r} is not a directory")
    check_no_credentials(env, pip)
    runtime_env: dict[str, Any] = {
        "working_dir": str(wd),
        "excludes": list(dict.fromkeys([*DEFAULT_EXCLUDES, *excludes])),
    }
    if pip:
        runtime_env["pip"] = list(pip)
        # building the cjk tokenizers from source on a cold node can take a while
        runtime_env["config"] = {"setup_timeout_seconds": 1800}
    if env:
        runtime_env["env_vars"] = dict(env)
    return runtime_env


def follow_hint(address: str, job_id: str) -> str:
    """The commands that follow, inspect and stop a submitted job (printed by `cc-curate submit`)."""
    addr = shlex.quote(normalize_address(address))
    jid = shlex.quote(job_id)
    return "\n".join(
        [
            f"submitted {job_id}",
            f"  follow logs: ray job logs --address {addr} --follow {jid}",
            f"  status:      ray job status --address {addr} {jid}",
            f"  stop:        ray job stop --address {addr} {jid}",
            "  (with token auth on, export RAY_AUTH_MODE=token in that shell first)",
        ]
    )


# --------------------------------------------------------------------------- cluster calls


def _auth_message(addr: str) -> str:
    return (
        f"the Ray cluster at {addr} refused the request (token authentication): "
        "export RAY_AUTH_MODE=token and make the cluster's token available through "
        "RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token (see docs/operations.md, 'Token authentication')"
    )


def _probe(addr: str, timeout: float) -> None:
    """Fail fast with one line when nothing listens at the address (requests has no timeout)."""
    parts = urlsplit(addr)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror:
        raise ClusterUnreachable(f"cannot resolve {host!r} (dashboard address {addr})") from None
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise ClusterUnreachable(
            f"no Ray dashboard at {addr} ({reason}); is the cluster up and the port forwarded "
            "(`ray dashboard clusters/aws.yaml` or `kubectl port-forward svc/cc-curate-head-svc 8265:8265`)?"
        ) from None


def _is_auth_error(exc: BaseException) -> bool:
    try:
        from ray.exceptions import AuthenticationError
    except ImportError:  # pragma: no cover - older Ray without token auth
        return False
    return isinstance(exc, AuthenticationError)


def _client(address: str, *, connect_timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """A JobSubmissionClient for the address, or ClusterUnreachable / ClusterAuthError."""
    addr = normalize_address(address)
    _probe(addr, connect_timeout)
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(addr)
    except Exception as exc:  # the SDK raises ConnectionError/RuntimeError/AuthenticationError
        if _is_auth_error(exc):
            raise ClusterAuthError(_auth_message(addr)) from None
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ClusterUnreachable(f"cannot use the Ray Jobs API at {addr}: {first_line}") from None


OUTPUT_METADATA_KEY = "cc_curate_output"


def _refuse_concurrent_run(client: Any, output: str) -> None:
    """Raise RunAlreadyActive if a non-terminal job on the cluster writes to the same output."""
    try:
        jobs = client.list_jobs()
    except Exception as exc:  # listing is a safety net, not a requirement
        logger.debug("could not list jobs: %s", exc)
        return
    for job in jobs:
        status = str(getattr(job.status, "value", job.status))
        if status not in TERMINAL_STATUSES and (job.metadata or {}).get(OUTPUT_METADATA_KEY) == output:
            raise RunAlreadyActive(
                f"job {job.submission_id} ({status}) is still writing to {output}; wait for it, "
                f"or stop it with `ray job stop {job.submission_id}` and submit again to resume"
            )


def submit_entrypoint(
    address: str,
    entrypoint: str,
    *,
    working_dir: str | Path,
    pip: list[str] | None = None,
    env: dict[str, str] | None = None,
    excludes: Sequence[str] = (),
    metadata: dict[str, str] | None = None,
    wait: bool = False,
    stream: TextIO | None = None,
) -> str:
    """Submit any shell command as a Ray job with the repo as working_dir; returns the job id.

    `submit_run` is the cc-curate flavour; this is the general path it (and the tests) use.
    With wait=True, logs are streamed (to `stream`, default the current sys.stdout) and
    JobFailed is raised unless the job SUCCEEDED.
    When metadata carries `cc_curate_output`, a still-running job with the same output is
    refused (RunAlreadyActive) instead of racing it.
    """
    runtime_env = build_runtime_env(working_dir, pip=pip, env=env, excludes=excludes)
    client = _client(address)
    addr = normalize_address(address)
    output = (metadata or {}).get(OUTPUT_METADATA_KEY)
    try:
        if output:
            _refuse_concurrent_run(client, output)
        job_id: str = client.submit_job(
            entrypoint=entrypoint,
            runtime_env=runtime_env,
            metadata={"submitted_by": "cc-curate", **(metadata or {})},
        )
    except Exception as exc:
        if _is_auth_error(exc):
            raise ClusterAuthError(_auth_message(addr)) from None
        if isinstance(exc, (ConnectionError, OSError)):
            raise ClusterUnreachable(f"lost the Ray dashboard at {addr} while submitting: {exc}") from None
        raise
    if wait:
        status = _wait(client, job_id, None, stream or sys.stdout)
        if status != "SUCCEEDED":
            raise JobFailed(job_id, status)
    return job_id


def submit_run(
    address: str,
    run_args: list[str],
    *,
    working_dir: str,
    pip: list[str] | None = None,
    env: dict[str, str] | None = None,
    wait: bool = False,
) -> str:
    """Submit `cc-curate run <run_args> --address auto` as a Ray job; returns the job id.

    Re-submitting the same command resumes: the run's ledger (under --output) makes the
    new driver skip every shard that was already committed. A submission is refused while
    another job on the cluster is still writing to the same --output, and so are arguments with
    URL credentials in them (``check_run_args``). Use `follow_hint()` to
    tell the user how to watch the job, `wait_for_job()` to block on it.
    """
    check_run_args(run_args)
    wd = Path(working_dir).expanduser()
    metadata = {"cc_curate_args": shlex.join(run_args)[:1000]}
    output = _output_arg(run_args)
    if output:
        metadata[OUTPUT_METADATA_KEY] = output
    return submit_entrypoint(
        address,
        build_entrypoint(run_args),
        working_dir=wd,
        pip=pip,
        env=env,
        excludes=_local_output_exclude(run_args, wd),
        metadata=metadata,
        wait=wait,
    )


def _stream_logs(client: Any, job_id: str, stream: TextIO, deadline: float | None) -> tuple[int, bool]:
    """Stream logs until the job ends or the deadline; returns (chars printed, completed)."""
    remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
    printed = 0

    async def run() -> None:
        nonlocal printed
        async for chunk in client.tail_job_logs(job_id):
            stream.write(chunk)
            stream.flush()
            printed += len(chunk)

    try:
        asyncio.run(asyncio.wait_for(run(), remaining))
    except asyncio.TimeoutError:
        return printed, False
    except Exception as exc:  # websocket refused / dropped, or already inside an event loop
        logger.debug("log streaming for %s stopped: %s", job_id, exc)
        return printed, False
    return printed, True


def _wait(client: Any, job_id: str, timeout: float | None, stream: TextIO | None, poll_s: float = 1.0) -> str:
    deadline = None if timeout is None else time.monotonic() + timeout
    printed, streamed_all = 0, stream is None
    if stream is not None:
        printed, streamed_all = _stream_logs(client, job_id, stream, deadline)
    while True:
        raw = client.get_job_status(job_id)
        status = str(getattr(raw, "value", raw))
        if status in TERMINAL_STATUSES:
            break
        if deadline is not None and time.monotonic() >= deadline:
            return status
        time.sleep(poll_s)
    if not streamed_all and stream is not None:
        # streaming broke off early: print what we have not shown yet
        logs = client.get_job_logs(job_id)
        stream.write(logs[printed:])
        stream.flush()
    return status


def wait_for_job(
    address: str,
    job_id: str,
    timeout: float | None = None,
    *,
    stream: TextIO | None = None,
    quiet: bool = False,
) -> str:
    """Stream a job's logs and return its final status (SUCCEEDED, FAILED, STOPPED).

    Logs go to `stream` (default: sys.stdout as it is at call time, so CLI test runners that
    swap it see them); `quiet=True` only polls the status.

    If `timeout` seconds pass first, the current, non-terminal status (e.g. RUNNING) is
    returned and the job keeps running on the cluster.
    """
    client = _client(address)
    try:
        return _wait(client, job_id, timeout, None if quiet else (stream or sys.stdout))
    except Exception as exc:
        addr = normalize_address(address)
        if _is_auth_error(exc):
            raise ClusterAuthError(_auth_message(addr)) from None
        if "does not exist" in str(exc):
            hint = f"`ray job list --address {addr}` lists the jobs it has"
            raise JobNotFound(f"no job {job_id} on the Ray cluster at {addr}; {hint}") from None
        raise
