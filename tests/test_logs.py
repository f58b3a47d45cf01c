"""Per-shard and driver logs under OUT/logs/: one per committed shard, kept failures, no duplicates.

The retry semantics are checked on the shard task itself (no Ray: an input that fails once, then
reads); the layout and a re-run through the real driver on the local Ray the run tests use.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from cc_curate.recipe import load_recipe
from cc_curate.runtime import shard_task
from cc_curate.runtime.driver import RunOptions, run
from cc_curate.runtime.logs import MAX_RECORDS, SHARD_LOG, captured, failed_log_path, shard_log_path
from cc_curate.sources import resolve_inputs

from .conftest import REPO_ROOT

DEMO_WARC = REPO_ROOT / "demo" / "demo.warc.gz"


def summaries(text: str) -> list[dict[str, str]]:
    """The ``summary:`` lines of a log, as key -> value."""
    return [dict(field.split("=", 1) for field in line.split("summary: ", 1)[1].split())
            for line in text.splitlines() if " summary: " in line]


def files_with_times(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def test_a_retried_shard_keeps_the_failed_attempt_and_one_log_of_the_committed_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = load_recipe(REPO_ROOT / "recipes" / "demo.yaml")
    [shard] = resolve_inputs([str(DEMO_WARC)])
    out = tmp_path / "out"
    read = shard_task.iter_records
    calls = []

    def flaky(*args, **kwargs) -> Iterator:
        """Warns and logs on every attempt (as a library would); the first attempt then breaks off."""
        calls.append(1)
        warnings.warn("a library warning", UserWarning)
        logging.getLogger("cc_curate.sources.remote").warning("a read was retried")
        for index, item in enumerate(read(*args, **kwargs)):
            if len(calls) == 1 and index == 10:
                raise OSError("disk went away")
            yield item

    monkeypatch.setattr(shard_task, "iter_records", flaky)
    with pytest.raises(OSError):
        shard_task.process_shard(shard, recipe, str(out))
    assert not (out / shard_log_path(shard.shard_id)).exists()
    failed = (out / failed_log_path(shard.shard_id, 1)).read_text()
    assert "OSError: disk went away" in failed and "Traceback" in failed
    assert "a library warning" in failed and "a read was retried" in failed
    [summary] = summaries(failed)
    assert summary["outcome"] == "failed" and summary["attempt"] == "1" and summary["records_read"] == "10"

    entry = shard_task.process_shard(shard, recipe, str(out))  # Ray's retry
    log = (out / shard_log_path(shard.shard_id)).read_text()
    assert "Traceback" not in log and "disk went away" not in log
    assert "a library warning" in log, "a warning given once per process is logged again for the next shard"
    [summary] = summaries(log)
    assert summary["outcome"] == "committed" and summary["attempt"] == "2"
    assert int(summary["records_read"]) == entry["counters"]["records.read"] > 10
    rows = {lang: info["rows"] for lang, info in entry["languages"].items()}
    assert int(summary["documents"]) == sum(rows.values())
    assert dict(pair.split(":") for pair in summary["languages"].split(",")) == {k: str(v) for k, v in rows.items()}
    assert float(summary["seconds"]) > 0 and int(summary["peak_rss_mib"]) > 0

    before = files_with_times(out / "logs")
    again = shard_task.process_shard(shard, recipe, str(out))  # a retry after a commit whose answer was lost
    assert again == entry
    assert files_with_times(out / "logs") == before
    assert set(before) == {f"failed/{shard.shard_id}.attempt-1.log", f"{shard.shard_id}.log"}


def test_capturing_leaves_the_console_as_it_was() -> None:
    """Without logging configured, warnings still reach stderr; the log-only lines do not."""
    script = (
        "import logging, warnings\n"
        "from cc_curate.runtime.logs import SHARD_LOG, captured\n"
        "with captured(SHARD_LOG) as log:\n"
        "    logging.getLogger('cc_curate.sources.remote').warning('a read was retried')\n"
        "    warnings.warn('a library warning')\n"
        "    SHARD_LOG.info('summary: only in the file')\n"
        "print(log.getvalue())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert "a read was retried" in result.stderr and "a library warning" in result.stderr
    assert "only in the file" not in result.stderr
    for line in ("WARNING cc_curate.sources.remote: a read was retried", "UserWarning: a library warning",
                 "INFO cc_curate.shard: summary: only in the file"):
        assert line in result.stdout, line


def test_a_library_that_warns_on_every_document_cannot_grow_the_log_without_bound() -> None:
    with captured(SHARD_LOG) as log:
        for i in range(MAX_RECORDS + 500):
            logging.getLogger("chatty.library").warning("document %d looks odd", i)
        SHARD_LOG.info("summary: kept whatever came before")
    text = log.getvalue()
    assert f"document {MAX_RECORDS - 1} looks odd" in text and f"document {MAX_RECORDS} looks odd" not in text
    assert "500 more log records not kept" in text
    assert "summary: kept whatever came before" in text  # the shard's own lines always stay


@pytest.mark.slow
def test_run_writes_shard_and_driver_logs_once(tmp_path: Path, shared_data: Path, local_ray: None) -> None:
    """Two good inputs and one whose every read fails: logs per shard, per failed attempt, and the driver's."""
    bad = tmp_path / "bad-disk.warc.gz"
    bad.symlink_to("/proc/self/mem")  # a regular file to stat(); reading it from offset 0 raises OSError
    inputs = [str(shared_data / "cc_warc_samples" / "whirlwind.warc.gz"),
              str(shared_data / "cc_warc_samples" / "resiliparse-CC-MAIN-2020-34-sample.warc.gz"), str(bad)]
    out = tmp_path / "out"
    recipe = load_recipe(REPO_ROOT / "recipes" / "fast.yaml")
    tries = recipe.settings["runtime"]["max_retries"] + 1

    def run_once() -> None:
        summary = run(RunOptions(recipe=recipe, output=str(out), inputs=inputs, max_records=40))
        assert len(summary.quarantined) == 1

    run_once()
    logs = out / "logs"
    ledger = {p.stem: json.loads(p.read_text()) for p in (out / "_ledger").glob("[!_]*.json")}
    assert len(ledger) == 2
    [bad_id] = {s.shard_id for s in resolve_inputs(inputs)} - set(ledger)
    for shard_id, entry in ledger.items():
        [summary] = summaries((logs / f"{shard_id}.log").read_text())
        assert summary["outcome"] == "committed" and summary["attempt"] == "1"
        assert int(summary["records_read"]) == entry["counters"]["records.read"]
        assert int(summary["documents"]) == sum(info["rows"] for info in entry["languages"].values())
    failed = sorted((logs / "failed").iterdir())
    assert [p.name for p in failed] == [f"{bad_id}.attempt-{n}.log" for n in range(1, tries + 1)]
    for path in failed:
        text = path.read_text()
        assert "OSError" in text and summaries(text)[0]["outcome"] == "failed"
    assert not (logs / f"{bad_id}.log").exists()
    driver = (logs / "driver.log").read_text()
    for line in ("run started: 3 of 3 shards", "shards 3/3", f"shard {bad_id} quarantined", "report:", "run finished"):
        assert line in driver, line

    shard_logs = {name: value for name, value in files_with_times(logs).items()
                  if "/" not in name and name != "driver.log"}
    run_once()  # the committed shards are skipped; the quarantined one is tried again
    after = files_with_times(logs)
    assert {name: after[name] for name in shard_logs} == shard_logs
    assert sorted(name for name in after if name.startswith("failed/")) == sorted(
        f"failed/{bad_id}.attempt-{n}.log" for n in range(1, 2 * tries + 1))
    assert not [name for name in after if ".tmp-" in name]
    driver_again = (logs / "driver.log").read_text()
    assert driver_again.startswith(driver)
    assert re.findall(r"run started: (\d+) of 3 shards", driver_again) == ["3", "1"]
