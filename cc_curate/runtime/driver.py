"""The Ray driver: inputs -> shards -> Ray tasks -> (dedup) -> publish -> stats and dataset card.

The driver never holds documents: shard tasks return their small ledger entries, dedup and
publish tasks exchange file paths. Resume is the ledger: a committed shard is skipped, and a run
whose shards are all committed and published does nothing and says so. The release always
equals what this command would publish from scratch: a shard cut short by an earlier run's
``--max-records`` is read again, and a run that cannot publish everything it needs (staged rows
removed, a smaller ``--max-records`` than the output holds) refuses before any work.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import ray

from cc_curate import __version__
from cc_curate.errors import UserError
from cc_curate.output.staging import (
    LEDGER,
    QUARANTINE_SHARDS,
    copy_missing_quarantine,
    missing_staged_rows,
    read_ledger,
    uncommit_shard,
)
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.redaction import has_credentials, redact
from cc_curate.report.html import build_report
from cc_curate.report.stats import build_stats, collision_warning, write_stats
from cc_curate.runtime.logs import FAILED_LOGS, RUN_LOG, driver_log
from cc_curate.runtime.progress import ShardProgress
from cc_curate.runtime.publish_task import publish_all
from cc_curate.runtime.release_dedup import previous_index
from cc_curate.runtime.shard_task import process_shard
from cc_curate.runtime.tasks import TaskOptions, in_flight_bound, result, run_bounded
from cc_curate.sources import Shard, resolve_inputs
from cc_curate.stages.registry import resources_of
from cc_curate.stages.url_filter import UrlFilterStage
from cc_curate.url_lists import CompiledUrlLists
from cc_curate.url_lists import for_recipe as url_lists_for_recipe

RUN_MANIFEST = f"{LEDGER}/_run.json"
PUBLISHED_MARKER = f"{LEDGER}/_published.json"


class RunError(UserError):
    """A run that cannot start (e.g. the output belongs to another recipe). One line, exit 2."""


@dataclass
class RunOptions:
    recipe: Recipe
    output: str
    inputs: list[str] = field(default_factory=list)
    snapshot: str | None = None
    max_files: int | None = None
    max_records: int | None = None
    workers: int | None = None
    address: str | None = None
    dedup_against: str | None = None
    stream: TextIO = sys.stderr


@dataclass
class RunSummary:
    output: str
    shards_total: int
    shards_run: int
    shards_skipped: int
    quarantined: list[str]
    languages: dict[str, dict[str, Any]]
    nothing_to_do: bool = False
    tokenizer_fallbacks: list[str] = field(default_factory=list)
    # languages FineWeb2 precision-filtered whose wordlist the recipe lacks: {lang: documents}
    precision_without_wordlist: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.quarantined else 0


def run(options: RunOptions) -> RunSummary:
    """Process every shard not yet committed, then publish. Returns what happened."""
    recipe = options.recipe
    for flag, url in (("--output", options.output), ("--dedup-against", options.dedup_against or "")):
        if has_credentials(url):  # the output's URL is written into its own logs and report
            raise RunError(f"{flag} {redact(url)}: credentials in the URL would be written into the run's "
                           "files; give them through the recipe's input.storage_options or the environment")
    storage = Storage(options.output, recipe.run.input.fsspec_options)
    shards = resolve_inputs(
        options.inputs, snapshot=options.snapshot, max_files=options.max_files,
        storage_options=recipe.run.input.fsspec_options,
    )
    if not shards:
        raise RunError("no input: give --input PATH|GLOB|URL or --snapshot CC-MAIN-YYYY-WW")
    # Before any work: a recipe that expects FineWeb's URL lists stops here when they are missing.
    url_lists = url_lists_for_recipe(asdict(recipe.params(UrlFilterStage)), recipe.path)
    if options.dedup_against:
        previous_index(options.dedup_against, recipe)  # fail before any work
    manifest = _check_manifest(storage, recipe, shards, options)
    wanted = {s.shard_id for s in shards}
    committed = {k: v for k, v in read_ledger(storage).items() if k in wanted}
    read_again = _read_again(storage, committed, options.max_records)
    todo = [s for s in shards if s.shard_id not in committed or s.shard_id in read_again]

    if not todo and _already_published(storage, recipe, wanted):
        _say(options, f"nothing to do: all {len(shards)} shards are committed and published in {options.output}")
        stats = storage.read_json("stats.json") if storage.exists("stats.json") else {}
        return RunSummary(options.output, len(shards), 0, len(shards), [], stats.get("languages", {}), True)
    _check_staged_rows(storage, [entry for k, entry in committed.items() if k not in read_again])
    if manifest is not None:
        storage.write_json(RUN_MANIFEST, manifest)

    with driver_log(storage, f"{len(todo)} of {len(shards)} shards to run, recipe {recipe.path} "
                             f"(sha256 {recipe.sha256[:12]}), cc_curate {__version__}"):
        if read_again:
            _say(options, f"{len(read_again)} shards were read with --max-records "
                          f"{_cap(committed[min(read_again)])}: reading them again")
        for shard_id in sorted(read_again):
            uncommit_shard(storage, committed[shard_id])
        return _run_and_publish(options, shards, todo, storage, url_lists)


def _run_and_publish(
    options: RunOptions, shards: list[Shard], todo: list[Shard], storage: Storage,
    url_lists: CompiledUrlLists | None,
) -> RunSummary:
    """Run the shards not yet committed, then publish, write stats and the report."""
    recipe = options.recipe
    wanted = {s.shard_id for s in shards}
    started_ray = init_ray(options.workers, options.address)
    try:
        if url_lists is not None:
            RUN_LOG.info("url filter: FineWeb's lists (sha256 %s), %d domains, %d urls",
                         url_lists.digest[:12], len(url_lists.domains), len(url_lists.urls))
        _run_shards(options, todo, storage, url_lists)
        if todo and len(todo) < len(shards):
            _say(options, f"resumed: {len(shards) - len(todo)} shards were already committed")
        committed = {k: v for k, v in read_ledger(storage).items() if k in wanted}
        copy_missing_quarantine(storage, committed)
        quarantined = sorted(
            name[: -len(".json")] for name in storage.list(QUARANTINE_SHARDS, ".json")
            if name[: -len(".json")] in wanted and name[: -len(".json")] not in committed
        )
        languages, phases = publish_all(storage, recipe, committed, options.output,
                                        dedup_against=options.dedup_against)
        stats = build_stats(recipe, committed, languages, quarantined, shards_total=len(shards), extra=phases)
        write_stats(storage, stats, recipe)
        if warning := collision_warning(stats):
            _say(options, warning)
        _say(options, f"report: {build_report(options.output, storage_options=recipe.run.input.fsspec_options)}")
        storage.write_json(PUBLISHED_MARKER, {  # the release manifest, written last
            "recipe_sha256": recipe.sha256,
            "read_limits": _read_limits(options),
            "languages": sorted(languages),
            "shards": sorted(committed),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })
    finally:
        if started_ray:
            ray.shutdown()
    fallbacks = sorted(stats["counters"].get("tokenizer_fallback", {}))
    no_wordlist = {lang: int(n) for lang, n in sorted(stats["counters"].get("precision_no_wordlist", {}).items())}
    return RunSummary(options.output, len(shards), len(todo), len(shards) - len(todo), quarantined, languages,
                      tokenizer_fallbacks=fallbacks, precision_without_wordlist=no_wordlist)


def _say(options: RunOptions, message: str) -> None:
    print(f"[cc-curate] {message}", file=options.stream, flush=True)
    RUN_LOG.info(message)


def _read_limits(options: RunOptions) -> dict[str, int | None]:
    return {"max_files": options.max_files, "max_records": options.max_records}


def _cap(entry: dict[str, Any]) -> int | None:
    return entry.get("max_records")


def _read_again(storage: Storage, committed: dict[str, dict[str, Any]], max_records: int | None) -> set[str]:
    """The committed shards that hold fewer records than this run asks for (an earlier
    ``--max-records`` cut them short): they are read again. A shard that holds more than asked
    cannot be cut without losing what it holds: refused (RunError), before any work."""
    again, more = set(), []
    for shard_id, entry in sorted(committed.items()):
        read = int(entry["counters"].get("records.read", 0))
        if not entry.get("read_complete", True):  # cut at _cap(entry) records
            if max_records is None or max_records > _cap(entry):
                again.add(shard_id)
            elif max_records < _cap(entry):
                more.append((shard_id, read))
        elif max_records is not None and read > max_records:
            more.append((shard_id, read))
    if more:
        shard_id, read = more[0]
        raise RunError(
            f"{redact(storage.url)} holds {len(more)} shards read with more records than --max-records {max_records} "
            f"(e.g. {shard_id}: {read} records); a capped run needs its own --output"
        )
    return again


def _check_staged_rows(storage: Storage, entries: list[dict[str, Any]]) -> None:
    """Publishing reads every committed shard's staged rows: refuse, before any work, if some are gone."""
    missing = missing_staged_rows(storage, entries)
    if missing:
        raise RunError(
            f"cannot publish {redact(storage.url)}: the staged rows of {len(missing)} committed shards are missing "
            f"(e.g. {missing[0]}); _staging/ is needed to publish this output again: restore it, or delete "
            f"those shards' {LEDGER}/{{shard}}.json to read their inputs again (the published release is untouched)"
        )


def _check_manifest(storage: Storage, recipe: Recipe, shards: list[Shard], options: RunOptions) -> dict | None:
    """An output folder belongs to one recipe: mixing two would publish an undefined dataset.

    Returns the run manifest to write once the run is sure to start (None: unchanged).
    """
    if storage.exists(RUN_MANIFEST):
        previous = storage.read_json(RUN_MANIFEST)
        if previous.get("recipe_sha256") != recipe.sha256:
            raise RunError(
                f"{storage.url} holds a run made with another recipe "
                f"({previous.get('recipe_path')}, sha256 {previous.get('recipe_sha256', '')[:12]}); "
                "use a new --output, or delete that folder to start over"
            )
        known = set(previous.get("shards", []))
    else:
        previous, known = None, set()
    manifest = {
        "recipe_sha256": recipe.sha256,
        "recipe_path": recipe.path,
        "read_limits": _read_limits(options),  # of the last run that did work
        "shards": sorted(known | {s.shard_id for s in shards}),
    }
    return None if manifest == previous else manifest  # a no-op re-run leaves the folder untouched


def _already_published(storage: Storage, recipe: Recipe, wanted: set[str]) -> bool:
    if not storage.exists(PUBLISHED_MARKER):
        return False
    marker = storage.read_json(PUBLISHED_MARKER)
    return marker.get("recipe_sha256") == recipe.sha256 and set(marker.get("shards", [])) == wanted


def init_ray(workers: int | None, address: str | None) -> bool:
    """Connect to (or start) Ray; True if this call started it (and so must stop it)."""
    if ray.is_initialized():  # embedded use: the caller owns Ray
        return False
    quiet = dict(logging_level=logging.WARNING, log_to_driver=True)
    if address is None:
        # A local run asks for loopback, but Ray 2.60 binds its gRPC ports on every interface
        # anyway; its token authentication guards them (docs/operations.md, "What is exposed").
        ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False,
                 _node_ip_address="127.0.0.1", **quiet)
    else:
        ray.init(address=address, **quiet)
    return True


def _run_shards(
    options: RunOptions, shards: list[Shard], storage: Storage, url_lists: CompiledUrlLists | None
) -> None:
    """Run shard tasks with a bounded number in flight; quarantine shards that keep failing."""
    recipe = options.recipe
    task = shard_task_options(recipe)
    calls = [(shard, recipe, options.output, options.snapshot, options.max_records, url_lists) for shard in shards]
    progress = ShardProgress(len(shards), stream=options.stream)
    try:
        # --workers bounds the shards running at once; by default keep every CPU busy with one queued.
        for index, ref in run_bounded(process_shard, calls, task, in_flight_bound(options.workers),
                                      stagger_seconds=recipe.run.runtime.start_stagger_seconds,
                                      # Put once: every worker of a node maps the same read-only arrays
                                      # (zero-copy), none rebuilds them.
                                      share=lambda value: isinstance(value, (Recipe, CompiledUrlLists))):
            shard = shards[index]
            try:
                entry = result(ref)
                documents = sum(v["rows"] for v in entry["languages"].values())
                progress.advance(documents)
                storage.remove(f"{QUARANTINE_SHARDS}/{shard.shard_id}.json")  # an earlier failure healed
            except Exception as exc:  # retries exhausted: record it, finish the rest
                _quarantine_shard(storage, shard, exc)
                progress.advance(0, failed=True)
    finally:
        progress.close()


def shard_task_options(recipe: Recipe) -> TaskOptions:
    """A shard task reserves what the recipe's stages declare (``Stage.resources``): the most CPUs
    and GPUs any stage needs, and the memory of all of them, since one task runs every stage."""
    needs = resources_of(recipe.stages())
    return TaskOptions(max_retries=recipe.run.runtime.max_retries, num_cpus=needs.num_cpus,
                       memory=needs.memory_mb * 2**20 or None, num_gpus=needs.num_gpus)


def _quarantine_shard(storage: Storage, shard: Shard, exc: BaseException) -> None:
    cause = getattr(exc, "cause", None) or exc
    storage.write_json(f"{QUARANTINE_SHARDS}/{shard.shard_id}.json", {
        "shard_id": shard.shard_id,
        "path": shard.path,
        "error": redact(f"{type(cause).__name__}: {cause}"),
        "traceback": redact("".join(traceback.format_exception_only(type(cause), cause)).strip()),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    RUN_LOG.error("shard %s quarantined: %s (each attempt's log: %s/%s.attempt-*.log)",
                  shard.shard_id, redact(f"{type(cause).__name__}: {cause}"), FAILED_LOGS, shard.shard_id)
