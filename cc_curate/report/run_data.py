"""What the report reads from a run folder: the recipe, samples of signals and scores, quarantined records.

Reads are bounded, so the report costs the same on a laptop dry run and on a whole snapshot:
at most ``SAMPLE_ROWS`` rows per language, spread over ``SAMPLE_SHARDS`` shards, and at most
``QUARANTINE_FILES`` quarantine files (one request each on an object store).
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cc_curate.output.schema import DUPLICATE_REASON, PRE_DEDUP_REASONS
from cc_curate.output.staging import quarantine_records_path
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe, RecipeError, load_recipe
from cc_curate.report.charts import Threshold
from cc_curate.stages.registry import rules_for

SAMPLE_ROWS = 20_000  # rows read per language for distributions
SAMPLE_SHARDS = 32  # staged shards a language's sample is spread over
QUARANTINE_ROWS = 200
QUARANTINE_FILES = 500  # shards' quarantine files read for the table
# Reasons that are not a quality rule (decided before, or by dedup): documents removed for these
# are left out of the signal charts' "removed by a quality rule".
NOT_QUALITY = frozenset(PRE_DEDUP_REASONS | {"language_not_selected", DUPLICATE_REASON})
Signals = dict[str, tuple[np.ndarray, np.ndarray]]  # signal -> (values of kept rows, of removed rows)


def load_run_recipe(stats: Mapping[str, Any]) -> tuple[Recipe | None, str]:
    """The run's recipe (for thresholds), or None and why not."""
    path = stats.get("run", {}).get("recipe")
    if not path:
        return None, "stats.json names no recipe: thresholds are not drawn."
    try:
        recipe = load_recipe(path)
    except (RecipeError, OSError) as exc:
        return None, f"Recipe {path} could not be loaded ({exc}): thresholds are not drawn."
    if recipe.sha256 != stats["run"].get("recipe_sha256"):
        return recipe, f"Recipe {path} changed since the run: the thresholds drawn are the file's current ones."
    return recipe, ""


def parquet_files(storage: Storage, folder: str) -> list[str]:
    return [f"{folder}/{name}" for name in storage.list(folder, ".parquet")]


def sample_rows(storage: Storage, pieces: Sequence[tuple[str, Sequence[int] | None]], columns: list[str],
            limit: int) -> pa.Table:
    """Up to ``limit`` rows of ``columns``, spread over ``pieces`` (file, row groups or all)."""
    if len(pieces) > SAMPLE_SHARDS:
        step = len(pieces) / SAMPLE_SHARDS
        pieces = [pieces[int(i * step)] for i in range(SAMPLE_SHARDS)]
    quota = math.ceil(limit / max(len(pieces), 1))
    parts = []
    for path, row_groups in pieces:
        if not storage.exists(path):  # e.g. the staging folder was cleaned up, the ledger kept
            continue
        with storage.open(path, "rb") as fh:
            reader = pq.ParquetFile(fh)
            if not set(columns) <= set(reader.schema_arrow.names):
                continue
            taken = 0
            for group in row_groups if row_groups is not None else range(reader.num_row_groups):
                part = reader.read_row_group(group, columns=columns).slice(0, quota - taken)
                parts.append(part)
                taken += part.num_rows
                if taken >= quota:
                    break
    return pa.concat_tables(parts) if parts else pa.table({c: pa.array([], pa.null()) for c in columns})


def signal_sample(storage: Storage, ledger: Mapping[str, Any], lang: str) -> tuple[Signals, str]:
    """Each signal's values for documents that passed every rule and for those a quality rule removed."""
    columns = ["filter_reason", "filter_signals"]
    staged = [(e["rows_file"], e["languages"][lang]["row_groups"])
              for _, e in sorted(ledger.items()) if lang in e.get("languages", {})]
    table = sample_rows(storage, staged, columns, SAMPLE_ROWS)
    source = (f"{table.num_rows:,} documents sampled from the staged rows of up to {SAMPLE_SHARDS} shards; "
              "documents removed before the quality rules (URL filter, LID) are left out.")
    if table.num_rows == 0:
        files = parquet_files(storage, f"data/{lang}/train") + parquet_files(storage, f"data/{lang}_removed/train")
        table = sample_rows(storage, [(f, None) for f in files], columns, SAMPLE_ROWS)
        source = (f"{table.num_rows:,} removed documents from the published files: the staged rows are gone and "
                  "the kept documents' files have no signals column, so only removed documents are shown.")
    if table.num_rows == 0:
        return {}, source
    reasons = table["filter_reason"].to_pylist()
    quality = np.array([r is not None and r not in NOT_QUALITY for r in reasons])
    kept = np.array([r is None for r in reasons])
    return signal_arrays(table["filter_signals"], kept, quality), source


def signal_arrays(column: pa.ChunkedArray, kept: np.ndarray, removed: np.ndarray) -> Signals:
    """Split a ``filter_signals`` map column into {signal: (values of kept rows, values of removed rows)}."""
    maps = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(maps) == 0:
        return {}
    offsets = maps.offsets.to_numpy()
    start, end = int(offsets[0]), int(offsets[-1])
    keys = maps.keys.slice(start, end - start).to_numpy(zero_copy_only=False)
    values = pc.fill_null(maps.items.slice(start, end - start), float("nan")).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(maps)), np.diff(offsets))
    out = {}
    for name in np.unique(keys):
        mine = (keys == name) & ~np.isnan(values)
        pair = (values[mine & kept[rows]], values[mine & removed[rows]])
        if len(pair[0]) or len(pair[1]):
            out[str(name)] = pair
    return out


def thresholds_for(signal: str, params: Mapping[str, Any]) -> list[Threshold]:
    """The recipe thresholds that ``signal`` is tested against, as the stages declare them.

    Rules that are off are not drawn: a disabled stage, a value of -1 (or null), and 0 where the
    stage declares that 0 disables (the Gopher rules, as in datatrove).
    """
    found = []
    for rule in rules_for(signal):
        section: Any = params
        for part in rule.section:
            section = section.get(part, {}) if isinstance(section, Mapping) else {}
        value = section.get(rule.key)
        key = rule.key
        if rule.n is not None:
            value = {int(n): v for n, v in value or []}.get(rule.n)
            key = f"{rule.key}[{rule.n}]"
        off = value is None or value == -1 or (value == 0 and rule.zero_disables)
        if section and section.get("enabled", True) and not off:
            found.append(Threshold(key, float(value), rule.direction))
    return found


def quarantined_records(
    storage: Storage, ledger: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, int], bool]:
    """The first QUARANTINE_ROWS quarantined records, the count per reason, and whether files were left unread.

    Reads at most QUARANTINE_FILES files (one request each on an object store).
    """
    shown: list[dict[str, Any]] = []
    by_reason: dict[str, int] = {}
    paths = [(e["shard_id"], quarantine_records_path(e["shard_id"]))
             for _, e in sorted(ledger.items()) if e.get("quarantine_file")]
    for shard, path in paths[:QUARANTINE_FILES]:
        if not storage.exists(path):
            continue
        with storage.open(path, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                record = json.loads(line)
                record.setdefault("shard", shard)
                by_reason[record.get("reason", "")] = by_reason.get(record.get("reason", ""), 0) + 1
                if len(shown) < QUARANTINE_ROWS:
                    shown.append(record)
    return shown, by_reason, len(paths) > QUARANTINE_FILES
