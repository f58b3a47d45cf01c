"""The cost estimate: its arithmetic on a synthetic run, and that the text says what it assumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cc_curate.report.counters import nest
from cc_curate.report.estimate import (
    DEFAULT_RECORDS,
    KNOWN_SNAPSHOTS,
    EstimateError,
    estimate,
    render_estimate,
)

# 1,000 pages (WARC response records; request and metadata records are skipped as not_response)
# measured in 2 shards: 100 core-seconds of shard work (+ 3 s of model loading in each of 2 worker
# processes), 10 s of dedup and 8 s of publish.
COUNTERS = {
    "records.read": 3_000,
    "records.skipped.not_response": 2_000,
    "records.skipped.not_html": 100,
    "time.shard_seconds": 106.0,
    "time.stage.setup": 6.0,
    "pipeline.builds": 2,
    "time.stage.read": 10.0,
    "time.stage.extraction": 60.0,
    "time.stage.lid": 20.0,
    "time.stage.filters": 10.0,
    "time.dedup_seconds": 10.0,
    "time.publish_seconds": 8.0,
    "memory.peak_rss_bytes": 3 * 2**30,
    "shards.processed": 2,
}
PUBLISHED_BYTES, REMOVED_BYTES, STAGED_BYTES = 5_000, 7_000, 20_000


def write_run(out: Path, counters: dict[str, float], *, ledger: bool = True) -> Path:
    """A finished run's traces: stats.json, two ledger entries, published, removed and staged files."""
    (out / "data/eng_Latn/train").mkdir(parents=True)
    (out / "data/eng_Latn_removed/train").mkdir(parents=True)
    (out / "data/eng_Latn/train/000_00000.parquet").write_bytes(b"x" * PUBLISHED_BYTES)
    (out / "data/eng_Latn_removed/train/000_00000.parquet").write_bytes(b"x" * REMOVED_BYTES)
    (out / "stats.json").write_text(json.dumps({"counters": nest(counters)}))
    if ledger:
        for shard, rss in (("a", 1 * 2**30), ("b", 2 * 2**30)):
            rows = f"_staging/{shard}/attempt/rows.parquet"
            (out / rows).parent.mkdir(parents=True)
            (out / rows).write_bytes(b"x" * (STAGED_BYTES // 2))
            entry = {"shard_id": shard, "rows_file": rows, "languages": {}, "quarantine_file": None,
                     "counters": {"memory.peak_rss_bytes": rss}}
            (out / "_ledger").mkdir(exist_ok=True)
            (out / f"_ledger/{shard}.json").write_text(json.dumps(entry))
    return out


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "out", COUNTERS)


def test_arithmetic(run: Path) -> None:
    result = estimate(str(run), records=3_600_000, workers=10, price_per_core_hour=0.5)
    # scale 3,600: every measured second becomes 3,600 core-seconds = 1 core-hour
    assert result["core_hours"]["by_stage"] == pytest.approx(
        {"read": 10, "extraction": 60, "lid": 20, "filters": 10, "dedup": 10, "publish": 8})
    setup_hours = 3.0 * 10 / 3600  # 3 s per worker process, 10 workers
    assert result["core_hours"]["setup"] == pytest.approx(setup_hours)
    assert result["core_hours"]["total"] == pytest.approx(118 + setup_hours)
    assert result["wall_hours"] == pytest.approx(118 / 10 + 3 / 3600)
    assert result["cost"] == pytest.approx((118 + setup_hours) * 0.5)
    assert result["per_record"]["core_seconds"] == pytest.approx(0.118)
    assert result["peak_memory_per_worker_bytes"] == 2 * 2**30  # the largest shard, not the sum
    assert result["output_tb"] == pytest.approx({
        "published": 5 * 3_600_000 / 1e12, "removed": 7 * 3_600_000 / 1e12,
        "staging (temporary)": 20 * 3_600_000 / 1e12})


def test_double_records_double_core_hours(run: Path) -> None:
    one, two = (estimate(str(run), records=n) for n in (1_000_000_000, 2_000_000_000))
    setup = one["core_hours"]["setup"]
    assert setup == two["core_hours"]["setup"] > 0  # model loading is per worker, not per record
    assert two["core_hours"]["total"] - setup == pytest.approx(2 * (one["core_hours"]["total"] - setup))
    assert two["cost"] > one["cost"]
    assert two["output_tb"]["published"] == pytest.approx(2 * one["output_tb"]["published"])


def test_workers_change_wall_time_not_work(run: Path) -> None:
    few, many = (estimate(str(run), records=10**9, workers=w) for w in (32, 64))
    assert few["wall_hours"] - 3 / 3600 == pytest.approx(2 * (many["wall_hours"] - 3 / 3600))
    assert many["core_hours"]["total"] - few["core_hours"]["total"] == pytest.approx(32 * 3 / 3600)


def test_price_is_linear(run: Path) -> None:
    cheap, dear = (estimate(str(run), records=10**9, price_per_core_hour=p) for p in (0.02, 0.08))
    assert dear["cost"] == pytest.approx(4 * cheap["cost"])


def test_snapshot_sizes(run: Path) -> None:
    known = estimate(str(run), snapshot="CC-MAIN-2024-10")
    assert known["target"]["records"] == KNOWN_SNAPSHOTS["CC-MAIN-2024-10"]
    unknown = estimate(str(run), snapshot="CC-MAIN-2099-01")
    assert unknown["target"]["records"] == DEFAULT_RECORDS
    assert "CC-MAIN-2099-01 is not in the table" in render_estimate(unknown)
    assert estimate(str(run))["target"]["records"] == DEFAULT_RECORDS
    assert estimate(str(run), snapshot="CC-MAIN-2024-10", records=5)["target"]["records"] == 5  # --records wins


def test_text_lists_every_assumption(run: Path) -> None:
    result = estimate(str(run), snapshot="CC-MAIN-2024-10", workers=128, price_per_core_hour=0.04)
    text = render_estimate(result)
    assert "Assumptions:" in text
    for assumption in result["assumptions"]:
        assert f"  - {assumption}" in text
    assumptions = " ".join(result["assumptions"])
    for fact in ("128 workers", "$0.04 per core-hour", "one CPU core", "representative", "once per worker",
                 "largest of 2 shards' peak RSS"):
        assert fact in assumptions, fact
    for number in (f"{KNOWN_SNAPSHOTS['CC-MAIN-2024-10']:,}", f"{result['core_hours']['total']:,.0f}",
                   f"${result['cost']:,.0f}", "extraction", "published", "GiB"):
        assert number in text, number


def test_without_breakdown_or_ledger(tmp_path: Path) -> None:
    """A minimal run (e.g. WET or Parquet input: nothing skipped): no stage breakdown, no ledger."""
    counters = {"records.read": 500, "time.shard_seconds": 50.0, "memory.peak_rss_bytes": 4e9,
                "shards.processed": 2}
    out = write_run(tmp_path / "out", counters, ledger=False)
    result = estimate(str(out), records=500 * 3600)
    assert result["core_hours"]["total"] == pytest.approx(50)
    assert result["core_hours"]["by_stage"] == pytest.approx({"shard task (not broken down)": 50})
    assert result["peak_memory_per_worker_bytes"] == 2e9  # the mean, said so
    text = " ".join(result["assumptions"])
    assert result["measured"]["records"] == 500
    assert "not measured apart" in text and "not timed" in text and "mean of the shards' peak RSS" in text
    assert "staging (temporary)" not in result["output_tb"]


def test_setup_without_build_count_is_scaled(tmp_path: Path) -> None:
    """Model-loading time without pipeline.builds cannot be set apart: it is scaled like the rest."""
    counters = {"records.read": 100, "time.shard_seconds": 10.0, "time.stage.setup": 4.0, "time.stage.lid": 6.0}
    out = write_run(tmp_path / "out", counters, ledger=False)
    result = estimate(str(out), records=100 * 3600)
    assert result["core_hours"]["by_stage"] == pytest.approx({"setup": 4, "lid": 6})
    assert result["core_hours"]["setup"] == 0
    assert "not measured apart" in " ".join(result["assumptions"])


def test_refuses_without_timings(tmp_path: Path) -> None:
    with pytest.raises(EstimateError, match="no stats.json"):
        estimate(str(tmp_path))
    out = write_run(tmp_path / "out", {"records.read": 10, "records.skipped.not_response": 10,
                                       "time.shard_seconds": 1.0})
    with pytest.raises(EstimateError, match="no pages"):
        estimate(str(out))
    out = write_run(tmp_path / "out2", {"records.read": 10})
    with pytest.raises(EstimateError, match="time.shard_seconds"):
        estimate(str(out))
    with pytest.raises(EstimateError, match="workers"):
        estimate(str(out), workers=0)
