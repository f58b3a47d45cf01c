"""What a whole snapshot would cost, extrapolated from a finished (small) run.

The run measured, per record read: core-seconds of every stage (shard tasks hold one CPU each,
so a task's seconds are core-seconds), the published/removed/staged bytes, and the peak memory
of a worker process. Scaling is linear in records; every assumption behind the numbers is listed
in the result, so a reader can tell how far to trust it. Facts and sources: docs/report_and_estimate.md.
"""

from __future__ import annotations

from typing import Any, Mapping

from cc_curate.errors import UserError
from cc_curate.output.staging import STAGING, read_ledger
from cc_curate.output.storage import Storage

# Page captures per snapshot, column "page" of Common Crawl's crawl statistics
# (github.com/commoncrawl/cc-crawl-statistics, plots/crawlsize/monthly.csv); CC-MAIN-2024-51 from
# the "December 2024 crawl archive now available" announcement (2.64 billion web pages).
KNOWN_SNAPSHOTS: dict[str, int] = {
    "CC-MAIN-2021-04": 3_401_286_407,
    "CC-MAIN-2021-10": 2_736_749_883,
    "CC-MAIN-2021-17": 3_134_424_806,
    "CC-MAIN-2021-21": 2_632_142_465,
    "CC-MAIN-2021-25": 2_457_631_756,
    "CC-MAIN-2021-31": 3_165_089_855,
    "CC-MAIN-2021-39": 2_959_903_779,
    "CC-MAIN-2021-43": 3_349_178_015,
    "CC-MAIN-2021-49": 2_527_075_799,
    "CC-MAIN-2022-05": 2_986_392_030,
    "CC-MAIN-2022-21": 3_449_824_215,
    "CC-MAIN-2022-27": 3_109_609_672,
    "CC-MAIN-2022-33": 2_588_690_250,
    "CC-MAIN-2022-40": 3_176_763_048,
    "CC-MAIN-2022-49": 3_381_612_888,
    "CC-MAIN-2023-06": 3_189_578_207,
    "CC-MAIN-2023-14": 3_118_633_413,
    "CC-MAIN-2023-23": 3_140_573_968,
    "CC-MAIN-2023-40": 3_445_015_037,
    "CC-MAIN-2023-50": 3_354_042_124,
    "CC-MAIN-2024-10": 3_106_525_566,
    "CC-MAIN-2024-18": 2_786_800_057,
    "CC-MAIN-2024-22": 2_709_877_975,
    "CC-MAIN-2024-26": 2_798_047_026,
    "CC-MAIN-2024-30": 2_546_630_395,
    "CC-MAIN-2024-33": 2_315_926_416,
    "CC-MAIN-2024-42": 2_495_190_754,
    "CC-MAIN-2024-51": 2_640_000_000,
}
# For a snapshot not in the table: recent monthly crawls hold 2.3-3.4 billion pages; 3.0e9 is a
# round figure at the upper middle of that range (better to over- than under-estimate a budget).
DEFAULT_RECORDS = 3_000_000_000

STAGE_PREFIX = "time.stage."
SETUP_STAGE = "setup"
POST_SHARD_COUNTERS = ("time.dedup_seconds", "time.publish_seconds")
MEMORY_COUNTER = "memory.peak_rss_bytes"
NOT_PAGES = "records.skipped.not_response"
TB = 1e12


class EstimateError(UserError):
    """The run lacks what an estimate needs (no stats.json, no timings, no records)."""


def estimate(
    output_dir: str,
    *,
    snapshot: str | None = None,
    records: int | None = None,
    workers: int = 64,
    price_per_core_hour: float = 0.05,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Extrapolate the run in ``output_dir`` to ``records`` (or a snapshot's page count)."""
    storage = Storage(output_dir, storage_options)
    if not storage.exists("stats.json"):
        raise EstimateError(f"no stats.json in {output_dir}: estimate needs a finished run")
    stats = storage.read_json("stats.json")
    return extrapolate(
        flatten(stats.get("counters", {})),
        read_ledger(storage),
        output_bytes(storage),
        snapshot=snapshot, records=records, workers=workers, price_per_core_hour=price_per_core_hour,
    )


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Undo :func:`cc_curate.report.counters.nest` (a ``total`` leaf names its parent)."""
    flat: dict[str, float] = {}
    for key, value in nested.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        elif key == "total" and prefix:
            flat[prefix] = value
        else:
            flat[name] = value
    return flat


def target_records(snapshot: str | None, records: int | None) -> tuple[int, str]:
    """How many pages the full run would read, and where that number comes from."""
    if records is not None:
        return int(records), f"{records:,} pages (given with --records)"
    if snapshot in KNOWN_SNAPSHOTS:
        pages = KNOWN_SNAPSHOTS[snapshot]
        return pages, f"{snapshot}: {pages:,} pages (Common Crawl's published count)"
    what = f"{snapshot} is not in the table of known snapshots" if snapshot else "no --snapshot or --records given"
    return DEFAULT_RECORDS, f"{what}: default of {DEFAULT_RECORDS:,} pages (a typical recent monthly crawl)"


def extrapolate(
    counters: Mapping[str, float],
    ledger: Mapping[str, Mapping[str, Any]],
    output_bytes: Mapping[str, int],
    *,
    snapshot: str | None = None,
    records: int | None = None,
    workers: int = 64,
    price_per_core_hour: float = 0.05,
) -> dict[str, Any]:
    """The arithmetic of :func:`estimate`, on what was already read (pure, for tests and the report)."""
    if workers < 1:
        raise EstimateError("workers must be at least 1")
    assumptions: list[str] = []
    # Common Crawl writes a request, a response and a metadata record per page; only responses
    # are pages, the rest are skipped as not_response (cc_curate.sources.inputs.SKIP_REASONS).
    measured = float(counters.get("records.read", 0)) - float(counters.get(NOT_PAGES, 0))
    unit = f"pages: records.read - {NOT_PAGES}"
    if measured <= 0:
        raise EstimateError("the run read no pages (WARC response records): nothing to extrapolate from")
    shard_seconds = float(counters.get("time.shard_seconds", 0))
    if shard_seconds <= 0:
        raise EstimateError("the run has no time.shard_seconds counter: it was not timed")
    if records is not None and records < 1:
        raise EstimateError("records must be at least 1")
    target, target_source = target_records(snapshot, records)
    scale = target / measured

    stages = {k[len(STAGE_PREFIX):]: float(v) for k, v in counters.items() if k.startswith(STAGE_PREFIX)}
    # Model loading is paid once per worker process; it can be set apart only if the builds were counted.
    builds = float(counters.get("pipeline.builds", 0))
    setup = stages.pop(SETUP_STAGE, 0.0) if builds else 0.0
    setup_per_worker = setup / builds if builds else 0.0
    if setup_per_worker:
        assumptions.append(
            f"model loading ({setup_per_worker:.1f} s per worker process) happens once per worker, not per page"
        )
    else:
        assumptions.append(
            "model loading is not measured apart, so it is scaled with the pages as if it were per-page "
            "work (overestimates when the measured run was tiny)"
        )
    unstaged = shard_seconds - setup - sum(stages.values())
    if stages and unstaged > 0.01 * shard_seconds:
        stages["other (shard task)"] = unstaged
    if not stages:
        stages["shard task (not broken down)"] = shard_seconds - setup
    post = {name.split(".")[-1].replace("_seconds", ""): float(counters[name])
            for name in POST_SHARD_COUNTERS if counters.get(name)}
    work = shard_seconds - setup + sum(post.values())
    if work <= 0:
        raise EstimateError("the measured time is all model loading: measure a run over more pages")
    if post:
        assumptions.append("dedup and publish scale linearly with the pages (the LSH shuffle is close to linear)")
    else:
        assumptions.append("dedup and publish were not timed: their cost is not included")

    scaled = {name: seconds * scale for name, seconds in {**stages, **post}.items()}
    setup_total = setup_per_worker * workers
    core_seconds = sum(scaled.values()) + setup_total
    core_hours = core_seconds / 3600
    wall_hours = (sum(scaled.values()) / workers + setup_per_worker) / 3600
    assumptions += [
        "a shard task holds one CPU core, so its seconds are core-seconds",
        f"{workers} workers = {workers} cores, kept busy the whole run (perfect scaling: no stragglers, "
        "no start-up or S3 download limits, no retries)",
        f"the {measured:,.0f} pages measured (WARC response records) are representative of the snapshot "
        "(same mix of languages, page sizes, HTML and non-HTML); the snapshot's size is counted in pages too",
        f"price: ${price_per_core_hour:g} per core-hour, compute only (no storage, egress or driver node)",
        "output sizes scale linearly with the pages (Parquet as written by this run)",
        "TB = 10^12 bytes",
    ]
    if measured < 10_000:
        assumptions.append(f"only {measured:,.0f} pages were measured: treat the estimate as rough")

    memory, memory_source = _peak_memory(counters, ledger)
    if memory is None:
        assumptions.append(f"peak memory not measured (no {MEMORY_COUNTER} counter)")
    else:
        assumptions.append(f"peak memory per worker is {memory_source}; it does not grow with the snapshot "
                           "(shards are independent), but the dedup actors' memory is not included")

    per_record_bytes = {name: size / measured for name, size in output_bytes.items()}
    return {
        "target": {"records": target, "source": target_source, "snapshot": snapshot},
        "measured": {
            "records": measured,
            "unit": unit,
            "shards": len(ledger) or int(counters.get("shards.processed", 0)),
            "core_seconds": {**stages, **post, **({"setup": setup} if setup else {})},
            "output_bytes": dict(output_bytes),
        },
        "per_record": {"core_seconds": work / measured, "bytes": per_record_bytes},
        "records_per_core_second": measured / work,
        "core_hours": {"total": core_hours, "by_stage": {k: v / 3600 for k, v in scaled.items()},
                       "setup": setup_total / 3600},
        "workers": workers,
        "wall_hours": wall_hours,
        "peak_memory_per_worker_bytes": memory,
        "output_tb": {name: per * target / TB for name, per in per_record_bytes.items()},
        "price_per_core_hour": price_per_core_hour,
        "cost": core_hours * price_per_core_hour,
        "assumptions": assumptions,
    }


def render_estimate(result: Mapping[str, Any]) -> str:
    """The estimate as plain text: the numbers, then every assumption behind them."""
    measured, hours = result["measured"], result["core_hours"]
    by_stage = sorted(hours["by_stage"].items(), key=lambda kv: -kv[1])
    total = hours["total"] or 1.0
    wall = result["wall_hours"]
    memory = result["peak_memory_per_worker_bytes"]
    outputs = ", ".join(f"{name} {tb:,.2f} TB" for name, tb in result["output_tb"].items()) or "not measured"
    lines = [
        f"Estimate for {result['target']['records']:,} pages on {result['workers']} workers "
        f"at ${result['price_per_core_hour']:g}/core-hour",
        f"  target               {result['target']['source']}",
        f"  measured run         {measured['records']:,.0f} pages in {measured['shards']} shards, "
        f"{result['per_record']['core_seconds'] * 1000:.2f} ms per page "
        f"({result['records_per_core_second']:,.1f} pages per core-second)",
        f"  core-hours           {hours['total']:,.0f}",
        *[f"    {name:<18} {value:,.0f} ({100 * value / total:.0f}%)" for name, value in by_stage],
        *([f"    {'model loading':<18} {hours['setup']:,.2f}"] if hours["setup"] else []),
        f"  wall time            {wall:,.1f} h ({wall / 24:,.1f} days)",
        f"  peak memory/worker   {_gib(memory)}",
        f"  output               {outputs}",
        f"  cost                 ${result['cost']:,.0f}",
        "",
        "Assumptions:",
        *[f"  - {text}" for text in result["assumptions"]],
    ]
    return "\n".join(lines) + "\n"


def _gib(size: float | None) -> str:
    return "not measured" if size is None else f"{size / 2**30:,.2f} GiB"


def _peak_memory(counters: Mapping[str, float], ledger: Mapping[str, Mapping[str, Any]]) -> tuple[float | None, str]:
    """The largest worker peak RSS over the shards (stats.json sums counters, so prefer the ledger)."""
    peaks = [float(e["counters"][MEMORY_COUNTER]) for e in ledger.values() if e.get("counters", {}).get(MEMORY_COUNTER)]
    if peaks:
        return max(peaks), f"the largest of {len(peaks)} shards' peak RSS"
    shards = counters.get("shards.processed")
    if counters.get(MEMORY_COUNTER) and shards:
        return float(counters[MEMORY_COUNTER]) / shards, "the mean of the shards' peak RSS (ledger not available)"
    return None, ""


def output_bytes(storage: Storage) -> dict[str, int]:
    """Bytes of the published kept and removed files, and of ``_staging/`` (temporary space).

    Listings only (one glob, one du), never a request per file: on an object store a snapshot's
    run has tens of thousands of files.
    """
    sizes = {"published": 0, "removed": 0}
    for path, info in storage.fs.glob(storage.path("data/*/train/*.parquet"), detail=True).items():
        language_folder = path.rstrip("/").split("/")[-3]
        sizes["removed" if language_folder.endswith("_removed") else "published"] += int(info["size"])
    if storage.exists(STAGING):
        sizes["staging (temporary)"] = int(storage.fs.du(storage.path(STAGING), total=True))
    return sizes
