"""Surviving faults on a real multi-node Ray cluster on loopback.

A head (no CPUs: it runs the drivers) and two one-CPU worker nodes, each a `ray start --block`
process with its own temp dir and ports, with token authentication on (as in test_submit). A
node is killed for real: SIGKILL to every process of that node (its `ray start`, raylet, agents
and workers), found by the node's temp dir in their command lines. Teardown kills, by pid,
everything whose command line carries this module's temp dir — never `ray stop`, which would
kill every Ray on the machine.

The published rows, kept and removed (ids, languages, texts, reasons), must be exactly those of a
clean run: no document lost, none twice, none decided differently. Every input publishes kept
documents, so whichever shard a killed node was running is one whose loss would show.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .faults_helpers import (
    REPO_ROOT,
    VENV_BIN,
    alive,
    cc_curate,
    cmdline,
    dashboard_ready,
    descendants,
    free_ports,
    good_responses,
    gzip_members,
    pids_with,
    published_documents,
    ray_env,
    release_rows,
    sigkill,
    wait_for,
    write_preset,
    write_token,
)

pytestmark = pytest.mark.slow

RAY_CLI = VENV_BIN / "ray"
MAX_RECORDS = "30"
# Two dedup partitions (not 16) and two tries per shard keep the module within a few minutes.
RECIPE_EXTRA = "dedup:\n  num_partitions: 2\nruntime:\n  max_retries: 2\n"


@dataclass
class Node:
    name: str
    temp_dir: Path
    proc: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    tmp: Path
    gcs: str  # 127.0.0.1:port, for `cc-curate run --address`
    dashboard: str  # http://127.0.0.1:port, for the Jobs API
    env: dict[str, str]  # with the cluster's token
    token: str
    nodes: dict[str, Node] = field(default_factory=dict)

    def start_node(self, name: str, args: list[str]) -> Node:
        temp_dir = self.tmp / name
        log = self.tmp / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(RAY_CLI), "start", "--block", "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}",
                 "--disable-usage-stats", *args],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
            )
        node = self.nodes[name] = Node(name, temp_dir, proc, log)
        return node

    def alive_worker_nodes(self) -> int:
        """Worker nodes the GCS counts as alive (state API), or -1 when it cannot be asked."""
        request = urllib.request.Request(f"{self.dashboard}/api/v0/nodes",
                                         headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                nodes = json.loads(response.read())["data"]["result"]["result"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return -1
        return sum(1 for n in nodes if n.get("state") == "ALIVE" and not n.get("is_head_node"))

    def node_pids(self, name: str) -> list[int]:
        """Every process of a node: below its `ray start`, or naming its temp dir. (Busy workers
        rename themselves `ray::<task>`, so their command line no longer shows the temp dir.)"""
        node = self.nodes[name]
        pids = set(pids_with(str(node.temp_dir)))
        if node.proc.poll() is None:
            pids.update(descendants(node.proc.pid))
        return sorted(pids)

    def running(self, name: str, task: str) -> bool:
        """Whether a worker of the node is executing ``task`` right now."""
        return any(cmdline(pid).startswith(f"ray::{task}") for pid in self.node_pids(name))

    def kill_node(self, name: str) -> list[int]:
        """SIGKILL every process of a node at once: its `ray start`, raylet, agents and workers."""
        node = self.nodes[name]
        killed = sigkill(self.node_pids(name))
        node.proc.wait(timeout=30)
        return killed

    def check_nodes_running(self) -> None:
        for node in self.nodes.values():
            if node.proc.poll() is not None:
                raise AssertionError(f"ray node {node.name} exited {node.proc.returncode}:\n"
                                     f"{node.log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not RAY_CLI.exists():
        pytest.skip("ray CLI not found next to the test interpreter")
    tmp = Path(tempfile.mkdtemp(prefix="ccflt", dir="/tmp"))  # short: Ray's socket paths are length-limited
    token, token_path = write_token(tmp)
    env = {**ray_env(token_path), "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    gcs, dash, client, agent_http, agent_grpc, rt_agent, metrics, node_mgr, obj_mgr = free_ports(9)
    c = Cluster(tmp, f"127.0.0.1:{gcs}", f"http://127.0.0.1:{dash}", env, token)
    try:
        c.start_node("head", [
            "--head", f"--port={gcs}", "--num-cpus=0", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}", f"--ray-client-server-port={client}",
            f"--dashboard-agent-listen-port={agent_http}", f"--dashboard-agent-grpc-port={agent_grpc}",
            f"--runtime-env-agent-port={rt_agent}", f"--metrics-export-port={metrics}",
            f"--node-manager-port={node_mgr}", f"--object-manager-port={obj_mgr}",
        ])
        wait_for(lambda: c.check_nodes_running() or dashboard_ready(c.dashboard, token), 120, "the Ray head")
        for name in ("w1", "w2"):
            node_mgr, obj_mgr, agent_http, agent_grpc, rt_agent, metrics = free_ports(6)
            c.start_node(name, [
                f"--address={c.gcs}", "--num-cpus=1", f"--node-manager-port={node_mgr}",
                f"--object-manager-port={obj_mgr}", f"--dashboard-agent-listen-port={agent_http}",
                f"--dashboard-agent-grpc-port={agent_grpc}", f"--runtime-env-agent-port={rt_agent}",
                f"--metrics-export-port={metrics}",
            ])
        wait_for(lambda: c.check_nodes_running() or c.alive_worker_nodes() == 2, 120, "two worker nodes")
        yield c
    finally:
        # SIGKILL every process of the cluster, found by pid just before: below each node's
        # `ray start` (busy or idle workers rename themselves `ray::...`) or naming our temp dir
        # (job drivers too). A few bounded passes, in case something was starting meanwhile.
        for _ in range(3):
            victims = {pid for name in c.nodes for pid in c.node_pids(name)} | set(pids_with(str(tmp)))
            victims = {pid for pid in victims if alive(pid)}
            if not victims:
                break
            sigkill(victims)
            time.sleep(1)
        for node in c.nodes.values():
            try:
                node.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def inputs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Seven small WARC shards (read up to MAX_RECORDS records each), five of different producers and
    two of generated articles; each one publishes kept documents (the `clean` fixture checks it)."""
    names = [
        "cc_warc_samples/resiliparse-CC-MAIN-2020-34-sample.warc.gz",
        "realpages_multilingual_warc/realpages-multilingual.warc.gz",
        "webarchive_warc_samples/dolma-wget-sample-0000.warc.gz",
        "webarchive_warc_samples/dolma-wget-sample-0001.warc.gz",
        "webarchive_warc_samples/copycat-wayback-snapshots-topic-02.warc.gz",
    ]
    folder = tmp_path_factory.mktemp("generated")
    generated = []
    for prefix in ("alpha", "beta"):
        path = folder / f"{prefix}.warc.gz"
        path.write_bytes(gzip_members(good_responses(12, prefix=prefix)))
        generated.append(str(path))
    return [str(shared_data / name) for name in names] + generated


@pytest.fixture(scope="module")
def recipe(cluster: Cluster) -> Path:
    return write_preset(cluster.tmp / "recipe", RECIPE_EXTRA)


def run_args(recipe: Path, inputs: list[str], output: Path) -> list[str]:
    args = ["run", str(recipe), "--output", str(output), "--max-records", MAX_RECORDS]
    for path in inputs:
        args += ["--input", path]
    return args


def ledger_entries(output: Path) -> list[Path]:
    return sorted((output / "_ledger").glob("[!_]*.json"))


def assert_each_shard_committed_once(output: Path, shards: int) -> None:
    entries = ledger_entries(output)
    assert len(entries) == shards
    for entry in entries:
        body = json.loads(entry.read_text())
        assert (output / body["rows_file"]).is_file()
    stats = json.loads((output / "stats.json").read_text())
    assert stats["check"] == {"records_add_up": True, "documents_add_up": True}
    assert stats["run"]["shards_committed"] == shards and stats["run"]["shards_quarantined"] == []


@pytest.fixture(scope="module")
def clean(cluster: Cluster, recipe: Path, inputs: list[str]) -> list[tuple]:
    """What an undisturbed run on the cluster publishes: every row, kept and removed."""
    out = cluster.tmp / "clean"
    cc_curate(*run_args(recipe, inputs, out), "--address", cluster.gcs, env=cluster.env, timeout=600)
    assert_each_shard_committed_once(out, len(inputs))
    docs = published_documents(out)
    assert len(docs) > 30
    kept_from = {path for file in out.glob("data/*/train/*.parquet") if not file.parts[-3].endswith("_removed")
                 for path in pq.read_table(file, columns=["file_path"])["file_path"].to_pylist()}
    assert kept_from == set(inputs), "every input must publish kept documents, so that losing any shows"
    rows = release_rows(out)
    assert any(r[0].endswith("_removed") for r in rows)
    return rows


_SUBMIT = r"""
import json, sys
from cc_curate.runtime import submit as s
p = json.loads(sys.argv[1])
if p["kind"] == "submit":
    print("RESULT " + json.dumps({"id": s.submit_run(p["address"], p["run_args"], working_dir=p["working_dir"])}))
else:
    status = s.wait_for_job(p["address"], p["id"], timeout=p["timeout"], quiet=True)
    from ray.job_submission import JobSubmissionClient
    logs = JobSubmissionClient(p["address"]).get_job_logs(p["id"])
    print("RESULT " + json.dumps({"status": status, "logs": logs[-6000:]}))
"""


def jobs_api(cluster: Cluster, limit: float, **params: object) -> dict:
    """submit_run / wait_for_job in a fresh interpreter with the cluster's token (as test_submit does)."""
    done = subprocess.run([sys.executable, "-c", _SUBMIT, json.dumps({"address": cluster.dashboard, **params})],
                          env=cluster.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=limit)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"jobs client failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return dict(json.loads(lines[-1][len("RESULT "):]))


def test_a_worker_node_killed_mid_run(cluster: Cluster, recipe: Path, inputs: list[str], clean: list) -> None:
    """Submitted through the Jobs API; one of the two worker nodes is SIGKILLed while shards run.

    Checked to fail when a retried shard silently reads nothing (process_shard patched to read 0
    records when an earlier attempt of its shard had started): every input publishes kept documents,
    so the shard the killed node was running always loses some."""
    out = cluster.tmp / "node-killed"
    args = run_args(recipe, inputs, out)[1:]  # submit_run takes the arguments after `run`
    job = jobs_api(cluster, 120, kind="submit", run_args=args, working_dir=str(REPO_ROOT))["id"]
    # kill w2 while it runs a shard, after the first commit: mid-run, with work lost on the node
    wait_for(lambda: ledger_entries(out) and cluster.running("w2", "process_shard"), 300,
             "a committed shard while node w2 runs another", interval=0.05)
    victims = cluster.node_pids("w2")
    cluster.kill_node("w2")
    committed = len(ledger_entries(out))
    assert committed < len(inputs), "the kill must land mid-run"
    wait_for(lambda: not [pid for pid in victims if alive(pid)], 30, "the killed node's processes to die")
    result = jobs_api(cluster, 600, kind="wait", id=job, timeout=540)
    assert result["status"] == "SUCCEEDED", result["logs"]
    assert_each_shard_committed_once(out, len(inputs))
    assert release_rows(out) == clean
    wait_for(lambda: cluster.alive_worker_nodes() == 1, 120, "Ray to declare the killed node dead", interval=1)


def test_driver_killed_mid_run_then_resumed(cluster: Cluster, recipe: Path, inputs: list[str], clean: list) -> None:
    """SIGKILL the driver after its first commit; the same command again finishes the run."""
    out = cluster.tmp / "driver-killed"
    args = [*run_args(recipe, inputs, out), "--address", cluster.gcs]
    with open(cluster.tmp / "driver.log", "wb") as log:
        driver = subprocess.Popen([sys.executable, "-m", "cc_curate.cli", *args], cwd=REPO_ROOT, env=cluster.env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        committed = wait_for(lambda: driver.poll() is not None or len(ledger_entries(out)), 300,
                             "the first committed shard", interval=0.1)
        assert driver.poll() is None, (cluster.tmp / "driver.log").read_text()[-3000:]
        driver.send_signal(signal.SIGKILL)
    finally:
        if driver.poll() is None:
            driver.kill()
        driver.wait(timeout=30)
    assert committed < len(inputs), "the kill must land mid-run"
    assert not (out / "_ledger" / "_published.json").exists()
    again = cc_curate(*args, env=cluster.env, timeout=600)
    assert "resumed:" in again.stderr
    assert_each_shard_committed_once(out, len(inputs))
    assert release_rows(out) == clean


def test_a_shard_that_always_fails_is_quarantined(cluster: Cluster, recipe: Path, inputs: list[str]) -> None:
    """An input whose every read fails (like a bad disk) is retried, then quarantined; the rest publish."""
    bad = cluster.tmp / "bad-disk.warc.gz"
    bad.symlink_to("/proc/self/mem")  # a regular file to stat(); reading it from offset 0 raises OSError
    out = cluster.tmp / "quarantine"
    good = inputs[:2]
    result = cc_curate(*run_args(recipe, [*good, str(bad)], out), "--address", cluster.gcs, env=cluster.env,
                       timeout=600, check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    quarantined = list((out / "_quarantine" / "shards").glob("*.json"))
    assert len(quarantined) == 1
    entry = json.loads(quarantined[0].read_text())
    assert entry["path"] == str(bad) and entry["error"].startswith("OSError"), entry
    assert entry["shard_id"] in result.stderr and "quarantined" in result.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["run"]["shards_quarantined"] == [entry["shard_id"]]
    assert stats["run"]["shards_committed"] == 2
    assert len(ledger_entries(out)) == 2
    assert published_documents(out)
