"""Publishing one language: apply the decisions in FineWeb2's order and write the release files.

Order: pre-dedup rules (URL filter, LID threshold) -> MinHash dedup -> quality filters. The
shard pass stored the first failing rule of each document; here a duplicate removed by dedup
takes precedence over a quality rule, because dedup runs before the quality filters in FineWeb2.

Files: ``data/{lang}/train/{NNN}_{RRRRR}.parquet`` (kept) and ``data/{lang}_removed/train/...``,
NNN the publisher's rank, RRRRR the rotation counter. A large language is published by several
tasks, each holding only its rank's documents (``rank_of``: a hash of the id, so the split is the
same in every run); rows are sorted by id within a rank, so the output is byte-identical
whatever the number of workers or restarts. Files are written under a release generation
(``output/release.py``) and become visible only when the whole release is switched in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pyarrow as pa
import xxhash
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cc_curate.output.schema import (
    DOCUMENT_KEY,
    DUPLICATE_REASON,
    PRE_DEDUP_REASONS,
    check_language,
    published_schema,
    removed_schema,
)
from cc_curate.output.storage import Storage

if TYPE_CHECKING:
    from cc_curate.settings import OutputSettings

# Row-size estimate for rotation: Parquet with zstd shrinks text ~3x; aim at the target size.
COMPRESSION_GUESS = 3.0
# Ids shared by different documents: how many are named (with their inputs) in stats and the warning.
COLLISION_EXAMPLES = 3


def apply_decisions(table: pa.Table, decisions: pa.Table | None) -> pa.Table:
    """Final ``filter_reason``, ``minhash_cluster_size`` and ``duplicate_of`` for every row.

    ``decisions`` (id, text_hash, minhash_cluster_size, duplicate_of) covers the documents that
    took part in dedup, one row per document (``DOCUMENT_KEY``); None when dedup is off (then
    cluster sizes stay null, as FineWeb2 without dedup).
    """
    table = table.drop_columns([c for c in ("minhash_cluster_size", "duplicate_of") if c in table.column_names])
    if decisions is None or decisions.num_rows == 0:
        table = table.append_column("minhash_cluster_size", pa.nulls(table.num_rows, pa.int64()))
        table = table.append_column("duplicate_of", pa.nulls(table.num_rows, pa.string()))
    else:
        decisions = _one_decision_per_document(decisions)
        position = _decision_of_each_row(table, decisions)
        for name in ("minhash_cluster_size", "duplicate_of"):
            table = table.append_column(name, pc.take(decisions[name], position))
    # The same record read twice (one file given under two paths) is one document: its first
    # row (by file_path) is decided as above, every other copy is a duplicate of it.
    order = [(name, "ascending") for name in DOCUMENT_KEY]
    table = table.sort_by(order + [("file_path", "ascending")] * ("file_path" in table.column_names))
    reason = table["filter_reason"]
    pre_dedup = pc.is_in(reason, pa.array(sorted(PRE_DEDUP_REASONS)))
    pre_dedup = pc.fill_null(pre_dedup, False)
    copy = pc.and_(pc.invert(_first_of_each(table, DOCUMENT_KEY)), pc.invert(pre_dedup))
    duplicate_of = pc.if_else(copy, table["id"], table["duplicate_of"])
    table = table.set_column(table.schema.get_field_index("duplicate_of"), "duplicate_of", duplicate_of)
    is_duplicate = pc.and_(pc.invert(pre_dedup), pc.is_valid(table["duplicate_of"]))
    final = pc.if_else(is_duplicate, pa.scalar(DUPLICATE_REASON), reason)
    table = table.set_column(table.schema.get_field_index("filter_reason"), "filter_reason", final)
    # A document removed before dedup has no cluster; nor does it name one.
    size = pc.if_else(pre_dedup, pa.scalar(None, pa.int64()), table["minhash_cluster_size"])
    table = table.set_column(table.schema.get_field_index("minhash_cluster_size"), "minhash_cluster_size", size)
    return table


def _first_of_each(table: pa.Table, columns: tuple[str, ...]) -> pa.Array:
    """For rows sorted by ``columns``: True at the first row of each distinct value (null = distinct)."""
    if table.num_rows == 0:
        return pa.array([], pa.bool_())
    changed = pa.array(np.zeros(table.num_rows - 1, dtype=bool))
    for name in columns:
        values = table[name].combine_chunks()
        differs = pc.fill_null(pc.not_equal(values.slice(1), values.slice(0, len(values) - 1)), True)
        changed = pc.or_(changed, differs)
    return pa.concat_arrays([pa.array([True]), changed])


def _one_decision_per_document(decisions: pa.Table) -> pa.Table:
    """Dedup decides each copy of a record read twice; the document keeps the best one (kept wins)."""
    ranked = decisions.append_column("_dropped", pc.is_valid(decisions["duplicate_of"]))
    ranked = ranked.sort_by([(name, "ascending") for name in DOCUMENT_KEY] + [("_dropped", "ascending")])
    return ranked.filter(_first_of_each(ranked, DOCUMENT_KEY)).drop_columns(["_dropped"])


def _decision_of_each_row(table: pa.Table, decisions: pa.Table) -> pa.Array:
    """Row of ``decisions`` holding each row's document (null where none); decisions are unique per key.

    A join of the key columns only: joins cannot carry the map/list columns along.
    """
    rows = table.select(list(DOCUMENT_KEY)).append_column("_row", pa.array(np.arange(table.num_rows)))
    keys = decisions.select(list(DOCUMENT_KEY)).append_column("_decision", pa.array(np.arange(decisions.num_rows)))
    joined = rows.join(keys, keys=list(DOCUMENT_KEY), join_type="left outer").sort_by("_row")
    return joined["_decision"].combine_chunks()


def _id_collisions(table: pa.Table, examples: int) -> tuple[int, list[dict[str, Any]]]:
    """Ids that name several documents (same id, different texts) among ``table``'s rows, and the
    first ``examples`` of them (by id) with the inputs that hold them."""
    documents = table.select(["id", "text_hash", "file_path"]).filter(pc.is_valid(table["text_hash"]))
    texts = documents.group_by("id").aggregate([("text_hash", "count_distinct")])
    colliding = texts.filter(pc.greater(texts["text_hash_count_distinct"], 1))["id"]
    if len(colliding) == 0:
        return 0, []
    first = pc.sort_indices(colliding)[:examples]
    named = pc.take(colliding, first)
    inputs = documents.filter(pc.is_in(documents["id"], value_set=named)).group_by("id").aggregate(
        [("file_path", "distinct")])
    found = {row["id"]: sorted(row["file_path_distinct"]) for row in inputs.to_pylist()}
    return len(colliding), [{"id": i, "inputs": found[i]} for i in named.to_pylist()]


def publish_language(
    storage: Storage,
    lang: str,
    table: pa.Table,
    output: OutputSettings,
    rehydration_weights: Mapping[int, int] | None = None,
    rank: int = 0,
    release_root: str = "",
    columns: Sequence[pa.Field] = (),
) -> dict[str, Any]:
    """Write one language's kept and removed files under ``release_root`` (a generation folder,
    or the output root); return its statistics, whose ``files`` are the release's paths
    (``data/...``, as readers see them after the switch). ``columns``: what the recipe's stages
    publish besides FineWeb2's columns (``Recipe.published_columns``)."""
    check_language(lang)
    kept_mask = pc.is_null(table["filter_reason"])
    kept = table.filter(kept_mask)
    removed = table.filter(pc.invert(kept_mask))
    mode = output.rehydration
    schema = published_schema(with_rehydration_column=mode == "column", columns=columns)
    copies = None
    if mode != "none":
        copies = _copies(kept, rehydration_weights or {})
        if mode == "column":
            kept = kept.append_column("rehydration_copies", pa.array(copies, pa.int64()))
        else:  # repeat: each kept document appears `copies` times, consecutively
            kept = kept.take(pa.array(np.repeat(np.arange(kept.num_rows), copies)))
    files = _write_rotated(storage, release_root, f"data/{lang}/train", kept.select(schema.names).cast(schema),
                           output, rank)
    removed_as = removed_schema(columns)
    files += _write_rotated(storage, release_root, f"data/{lang}_removed/train",
                            removed.select(removed_as.names).cast(removed_as), output, rank)
    return _language_stats(lang, table, kept_mask, files, copies)


def _copies(kept: pa.Table, weights: Mapping[int, int]) -> np.ndarray:
    """Copies per kept document from its cluster size and {start_size: copies} ranges."""
    sizes = np.asarray(pc.fill_null(kept["minhash_cluster_size"], 1).to_numpy(zero_copy_only=False))
    if not weights:
        return np.ones(len(sizes), dtype=np.int64)
    starts = np.array(sorted(int(s) for s in weights))
    values = np.array([weights[s] if s in weights else weights[str(s)] for s in sorted(weights, key=int)])
    index = np.searchsorted(starts, sizes, side="right") - 1
    return np.where(index >= 0, values[np.clip(index, 0, None)], 1).astype(np.int64)


def rank_of(ids: pa.Array | pa.ChunkedArray, ranks: int) -> np.ndarray:
    """The publish rank (int64 in [0, ranks)) of each document id: xxh64 of the id, mod ranks."""
    if ranks == 1:
        return np.zeros(len(ids), dtype=np.int64)
    hashes = (xxhash.xxh64_intdigest(i.encode("utf-8")) % ranks for i in ids.to_pylist())
    return np.fromiter(hashes, dtype=np.int64, count=len(ids))


def merge_language_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One language's statistics from those of the ranks that published it."""
    merged: dict[str, Any] = {"language": parts[0]["language"], "files": sorted(f for p in parts for f in p["files"])}
    for key in ("documents", "kept", "words", "bytes", "rehydrated_documents", "id_collisions"):
        merged[key] = sum(p[key] for p in parts)
    # every rank holds all rows of its ids: the first examples of the language are among the ranks' first
    examples = sorted((e for p in parts for e in p["id_collision_examples"]), key=lambda e: e["id"])
    merged["id_collision_examples"] = examples[:COLLISION_EXAMPLES]
    for key in ("removed", "cluster_sizes"):
        total: dict[str, int] = {}
        for part in parts:
            for name, count in part[key].items():
                total[name] = total.get(name, 0) + count
        merged[key] = dict(sorted(total.items()))
    return merged


def _write_rotated(storage: Storage, release_root: str, folder: str, table: pa.Table, output: OutputSettings,
                   rank: int) -> list[str]:
    """Write ``table`` as ``{rank:03d}_{n:05d}.parquet`` files of about max_file_bytes each, each
    one durable (fsynced on local disk) before the release that lists it can be switched in."""
    if table.num_rows == 0:
        return []
    target = output.max_file_bytes
    compression = None if output.compression == "none" else output.compression
    text_bytes = pc.binary_length(pc.cast(table["text"], pa.binary())).to_numpy(zero_copy_only=False)
    cumulative = np.cumsum(text_bytes.astype(np.float64) / COMPRESSION_GUESS + 200)
    chunk = np.floor(cumulative / target).astype(np.int64)
    files = []
    for n, start in enumerate(np.flatnonzero(np.diff(chunk, prepend=-1))):
        end = np.searchsorted(chunk, chunk[start], side="right")
        name = f"{folder}/{rank:03d}_{n:05d}.parquet"
        written = f"{release_root}/{name}" if release_root else name
        with storage.open(written, "wb") as fh:
            pq.write_table(table.slice(start, end - start), fh, compression=compression)
        storage.sync(written)
        files.append(name)
    return files


def _language_stats(lang: str, table: pa.Table, kept_mask: pa.Array, files: list[str], copies: np.ndarray | None) -> dict[str, Any]:
    kept = table.filter(kept_mask)
    reasons = pc.value_counts(pc.drop_null(table["filter_reason"])).to_pylist()
    sizes = pc.value_counts(pc.drop_null(table["minhash_cluster_size"])).to_pylist()
    collisions, examples = _id_collisions(table, COLLISION_EXAMPLES)
    return {
        "language": lang,
        "documents": table.num_rows,
        "kept": kept.num_rows,
        "removed": {r["values"]: r["counts"] for r in reasons},
        "words": int(pc.sum(kept["word_count"]).as_py() or 0),
        "bytes": int(pc.sum(pc.binary_length(pc.cast(kept["text"], pa.binary()))).as_py() or 0),
        "cluster_sizes": {str(r["values"]): r["counts"] for r in sizes},
        "rehydrated_documents": int(copies.sum()) if copies is not None else kept.num_rows,
        "id_collisions": collisions,
        "id_collision_examples": examples,
        "files": files,
    }
