"""A publish killed at any point leaves the previous release or the new one, never a mix.

The real command runs in its own session (with its own local Ray) and publishes a release with
one more input over an existing one; it is killed with SIGKILL (driver, Ray and every worker at
once, as a power cut or an OOM kill of the node would) at a moment of its publish plus a random
delay, then started again and killed when data/ first changes. After each
kill `data/` must be, file for file and byte for byte, the old release or the new one (which the
same command, run once more without a kill, then finishes). Old code failed this: it deleted a
language's files before its publish tasks rewrote them, so the second kill left `data/eng_Latn`
empty or partial (checked by running this test against the previous commit's cc_curate/).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REPO_ROOT
from .faults_helpers import files_under, wait_for, write_preset
from .test_guarantees_publish import run_here, write_inputs

pytestmark = pytest.mark.slow

SEED = 20261206  # the delays drawn are printed on failure


def session_processes(session: int) -> list[int]:
    """Live processes of the session ``session`` (the run and everything it started)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == session and fields[0] not in "ZX":
            found.append(int(entry.name))
    return found


def kill_session(process: subprocess.Popen) -> None:
    """SIGKILL the run's whole process group at once, then any process left in its session."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)

    def gone() -> bool:
        for pid in session_processes(process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return not session_processes(process.pid)

    wait_for(gone, 60, "the killed run's processes to exit", interval=0.2)


def start_run(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen([sys.executable, "-m", "cc_curate.cli", *args], cwd=REPO_ROOT, env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def ray_tmp() -> str:
    """A short private temp root for the runs' Ray (its socket paths must stay short)."""
    folder = tempfile.mkdtemp(prefix="ccr")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_publish_killed_at_any_point(tmp_path: Path, shared_data: Path, ray_tmp: str, local_ray: None) -> None:
    paths = write_inputs(shared_data, tmp_path / "inputs")
    recipe = write_preset(tmp_path / "recipe")
    env = {**os.environ, "RAY_TMPDIR": ray_tmp, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    new_inputs = [paths["eng"], paths["fra"], paths["deu_1996"]]
    out = tmp_path / "out"
    run_here(recipe, out, new_inputs[:2])
    old = files_under(out / "data")
    assert old

    rng = random.Random(SEED)
    seen = []
    for attempt, (moment, reached, most) in enumerate(kill_points(data_state(out))):
        jitter = rng.uniform(0, most)
        run = start_run(_args(recipe, out, new_inputs), env, tmp_path / f"killed-{attempt}.log")
        try:
            wait_for(lambda: run.poll() is not None or reached(out), 300, moment, interval=0.005)
            time.sleep(jitter)
        finally:
            kill_session(run)
        seen.append((moment, round(jitter, 3), files_under(out / "data") if (out / "data").exists() else {}))
    run_here(recipe, out, new_inputs)  # the same command again finishes the release
    new = files_under(out / "data")
    assert any(name.startswith("deu_Latn/") for name in new) and new.keys() > old.keys()
    outcomes = [(moment, jitter, "old" if data == old else "new" if data == new else "mixed")
                for moment, jitter, data in seen]
    assert all(outcome != "mixed" for *_, outcome in outcomes), outcomes
    assert not (out / "_releases").exists()
    published = json.loads((out / "_ledger" / "_published.json").read_text())
    assert len(published["shards"]) == 3 and "deu_Latn" in published["languages"]


def data_state(out: Path) -> list[tuple[str, int, int]]:
    """What a listing of data/ shows (name, size, mtime): cheap enough to poll every few ms."""
    found = []
    for folder, _, files in os.walk(out / "data"):
        for name in files:
            info = os.stat(os.path.join(folder, name))
            found.append((os.path.join(folder, name), info.st_size, info.st_mtime_ns))
    return sorted(found)


def kill_points(old: list[tuple[str, int, int]]) -> list[tuple[str, Callable[[Path], bool], float]]:
    """When to kill, by what the output shows (whatever the publish's implementation), and the
    longest random delay after it: the new input's shard is committed (dedup and publish follow),
    then, in the next run, the very first change of data/."""
    return [
        ("the new shard's commit", lambda out: any((out / "_ledger").glob("deu_1996*.json")), 1.0),
        ("data/ to change", lambda out: data_state(out) != old, 0.0),
    ]


def _args(recipe: Path, out: Path, inputs: list[str]) -> list[str]:
    args = ["run", str(recipe), "--output", str(out), "--workers", "2"]
    for path in inputs:
        args += ["--input", path]
    return args
