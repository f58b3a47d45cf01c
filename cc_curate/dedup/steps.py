"""The dedup steps, one function per task kind; the Ray orchestration is in cc_curate.runtime.dedup.

Every step reads files, writes files (cc_curate.dedup.parts: atomic, deterministic names) and
returns only paths and small counts. Documents are numbered ``node = file_index << 32 | row``
(row = position in the staged file), unique within a run; outcomes never depend on the
numbering, only on (date, id, text_hash).

Steps, in order (M map groups of staged files, P hash partitions):

1. ``map_documents``   per group: node table (node, lang, date, id, text_hash) by node; exact keys by key.
2. ``reduce_exact``    per partition: identical texts -> star edges to the smallest node; every
                       other copy is dropped from LSH; matches with the previous index.
3. ``map_bands``       per group: band keys of the documents still in play, by key.
4. ``reduce_bands``    per partition: documents sharing a band key -> star edges; index matches.
5. ``large_star`` / ``small_star`` per partition, alternating until the edges form stars.
6. ``attach``          per partition of nodes: root of every node; singletons resolved here.
7. ``resolve``         per partition of roots: the keep rule per cluster (cc_curate.dedup.keep).
8. ``finish``          per partition of nodes: decision rows by language; new index rows by key.
9. ``collect_decisions`` / ``write_index`` / ``copy_files``: the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cc_curate.dedup import graph, index
from cc_curate.dedup.hashing import band_keys, exact_keys, language_salt, partition_of
from cc_curate.dedup.keep import (
    ASSIGNMENTS,
    MEMBERS,
    NODE,
    PREV_DATE,
    PREV_ID,
    TEXT_HASH,
    first_per_key,
    resolve_clusters,
)
from cc_curate.dedup.parts import AtomicFile, PartitionedWriter, filesystem, iter_part, read_part, write_table
from cc_curate.output.schema import DUPLICATE_OF, PRE_DEDUP_REASONS, STAGED
from cc_curate.stages.minhash import EMPTY_TEXT_HASH

NODES = pa.schema([NODE, STAGED.field("lang"), STAGED.field("date"), STAGED.field("id"), TEXT_HASH])
KEYS = pa.schema([index.KEY, NODE])
EDGES = pa.schema([pa.field("src", pa.uint64()), pa.field("dst", pa.uint64())])
NODE_LIST = pa.schema([NODE])
PREVIOUS = pa.schema([NODE, PREV_ID, PREV_DATE])
NEW_INDEX = pa.schema([index.KEY, STAGED.field("lang"), index.KEPT_ID, index.KEPT_DATE])
# One row per document (schema.DOCUMENT_KEY: id and text hash), not per id: ids may repeat.
DECISIONS = pa.schema([STAGED.field("id"), TEXT_HASH, STAGED.field("minhash_cluster_size"), DUPLICATE_OF])

_BATCH_ROWS = 65_536
_PRE_DEDUP = pa.array(sorted(PRE_DEDUP_REASONS), pa.string())


@dataclass(frozen=True)
class Plan:
    """What every task of one dedup run needs to know (small, picklable)."""

    work: str  # this run's scratch folder (fsspec URL or path)
    storage_options: dict[str, Any] | None
    num_partitions: int
    files_per_group: int
    num_buckets: int
    hashes_per_bucket: int
    exact: bool
    build_index: bool

    def fs(self) -> fsspec.AbstractFileSystem:
        return filesystem(self.work, self.storage_options)

    def path(self, stage: str, task: int) -> str:
        return f"{self.work.rstrip('/')}/{stage}/{task:05d}.parquet"

    def writer(self, stage: str, task: int, schema: pa.Schema) -> PartitionedWriter:
        return PartitionedWriter(self.fs(), self.path(stage, task), schema)

    def part(self, values: np.ndarray) -> np.ndarray:
        return partition_of(values, self.num_partitions)


def _participating(batch: pa.RecordBatch) -> pa.Array:
    """Rows that take part in dedup: a language, and no reason that applies before dedup."""
    before_dedup = pc.fill_null(pc.is_in(batch["filter_reason"], value_set=_PRE_DEDUP), False)
    return pc.and_(pc.is_valid(batch["lang"]), pc.invert(before_dedup))


def _salts(langs: pa.Array) -> np.ndarray:
    encoded = pc.dictionary_encode(langs)
    table = np.array([language_salt(lang) for lang in encoded.dictionary.to_pylist()], dtype=np.uint64)
    return table[encoded.indices.to_numpy(zero_copy_only=False)]


def _staged_batches(
    url: str, file_index: int, columns: list[str], storage_options: dict | None
) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """(node numbers, participating rows) of one staged file, a batch at a time."""
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    offset = 0
    with fs.open(path, "rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            nodes = (np.uint64(file_index) << np.uint64(32)) | np.arange(
                offset, offset + batch.num_rows, dtype=np.uint64
            )
            offset += batch.num_rows
            mask = _participating(batch)
            yield nodes[mask.to_numpy(zero_copy_only=False)], batch.filter(mask)


def count_rows(urls: list[str], storage_options: dict | None) -> int:
    """Rows of the staged files, from their footers only (sizes the partitioning)."""
    total = 0
    for url in urls:
        fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
        with fs.open(path, "rb") as handle:
            total += pq.ParquetFile(handle).metadata.num_rows
    return total


def map_documents(plan: Plan, group: int, files: list[tuple[int, str]]) -> dict[str, Any]:
    """Step 1: node table and exact-text keys of one group of staged files."""
    nodes_out = plan.writer("nodes", group, NODES)
    exact_out = plan.writer("exact-keys", group, KEYS)
    langs: set[str] = set()
    for file_index, url in files:
        for nodes, batch in _staged_batches(
            url, file_index, ["id", "lang", "date", "filter_reason", "text_hash"], plan.storage_options
        ):
            if not len(nodes):
                continue
            langs.update(pc.unique(batch["lang"]).to_pylist())
            table = pa.table(
                [pa.array(nodes), batch["lang"], batch["date"], batch["id"], batch["text_hash"]], schema=NODES
            )
            nodes_out.write(table, plan.part(nodes))
            if plan.exact:
                hashes = batch["text_hash"]
                usable = pc.fill_null(pc.not_equal(hashes, pa.scalar(EMPTY_TEXT_HASH, pa.uint64())), False)
                usable_np = usable.to_numpy(zero_copy_only=False)
                keys = exact_keys(hashes.filter(usable).to_numpy(), _salts(batch["lang"].filter(usable)))
                exact_out.write(pa.table([pa.array(keys), pa.array(nodes[usable_np])], schema=KEYS), plan.part(keys))
    return {"nodes": nodes_out.close(), "exact": exact_out.close(), "langs": sorted(langs)}


def _match_keys(
    plan: Plan, stage: str, part: int, key_paths: list[str], previous: list[tuple[str, bool]]
) -> tuple[dict[str, str | None], np.ndarray]:
    """Shared by steps 2 and 4: star edges per key, previous-index matches, index candidates.

    Returns the written paths and the nodes linked to a smaller one (all but each key's first).
    """
    fs = plan.fs()
    table = read_part(fs, key_paths, part, KEYS)
    members, centres, keys, key_centres = graph.star_edges(table["key"].to_numpy(), table["node"].to_numpy())
    del table

    edges_out = plan.writer(f"{stage}-edges", part, EDGES)
    src, dst = graph.both_directions(members, centres)
    edges_out.write(pa.table([pa.array(src), pa.array(dst)], schema=EDGES), plan.part(src))

    matched = np.zeros(len(keys), dtype=bool)
    previous_out = plan.writer(f"{stage}-previous", part, PREVIOUS)
    if previous:
        found = index.lookup(fs, previous, keys, part, plan.num_partitions)
        position = np.searchsorted(keys, found["key"].to_numpy())
        matched[position] = True
        nodes = key_centres[position]
        previous_out.write(
            pa.table([pa.array(nodes), found["kept_id"], found["kept_date"]], schema=PREVIOUS), plan.part(nodes)
        )

    candidates_out = plan.writer(f"{stage}-candidates", part, KEYS)
    if plan.build_index:
        new_keys, new_nodes = keys[~matched], key_centres[~matched]
        candidates_out.write(pa.table([pa.array(new_keys), pa.array(new_nodes)], schema=KEYS), plan.part(new_nodes))
    paths = {"edges": edges_out.close(), "previous": previous_out.close(), "candidates": candidates_out.close()}
    return paths, members


def reduce_exact(
    plan: Plan, part: int, key_paths: list[str], previous: list[tuple[str, bool]]
) -> dict[str, str | None]:
    """Step 2: documents with identical normalised text; all but the smallest node leave LSH."""
    paths, members = _match_keys(plan, "exact", part, key_paths, previous)
    dropped = plan.writer("exact-dropped", part, NODE_LIST)
    groups = ((members >> np.uint64(32)) // np.uint64(plan.files_per_group)).astype(np.int64)
    dropped.write(pa.table([pa.array(members)], schema=NODE_LIST), groups)
    return {**paths, "dropped": dropped.close()}


def map_bands(plan: Plan, group: int, files: list[tuple[int, str]], dropped_paths: list[str]) -> str | None:
    """Step 3: band keys of one group's documents that have a signature and are still in play."""
    dropped = read_part(plan.fs(), dropped_paths, group, NODE_LIST)["node"].to_numpy()
    width = plan.num_buckets * plan.hashes_per_bucket
    out = plan.writer("band-keys", group, KEYS)
    for file_index, url in files:
        for nodes, batch in _staged_batches(
            url, file_index, ["lang", "filter_reason", "minhash"], plan.storage_options
        ):
            keep = pc.is_valid(batch["minhash"]).to_numpy(zero_copy_only=False) & ~np.isin(nodes, dropped)
            if not keep.any():
                continue
            batch = batch.filter(pa.array(keep))
            nodes = nodes[keep]
            lengths = pc.list_value_length(batch["minhash"]).to_numpy()
            if (lengths != width).any():
                raise ValueError(
                    f"{url}: MinHash signatures of {sorted(set(lengths.tolist()) - {width})} values, expected {width} "
                    f"(num_buckets x hashes_per_bucket): the shard pass used other minhash settings"
                )
            signatures = pc.list_flatten(batch["minhash"]).to_numpy().reshape(len(nodes), width)
            keys = band_keys(signatures, _salts(batch["lang"]), plan.num_buckets, plan.hashes_per_bucket).ravel()
            owners = np.repeat(nodes, plan.num_buckets)
            out.write(pa.table([pa.array(keys), pa.array(owners)], schema=KEYS), plan.part(keys))
    return out.close()


def reduce_bands(
    plan: Plan, part: int, key_paths: list[str], previous: list[tuple[str, bool]]
) -> dict[str, str | None]:
    """Step 4: documents sharing any band key are linked (LSH candidates, as datatrove)."""
    return _match_keys(plan, "bands", part, key_paths, previous)[0]


def _edges(plan: Plan, paths: list[str], part: int) -> tuple[np.ndarray, np.ndarray]:
    table = read_part(plan.fs(), paths, part, EDGES)
    return table["src"].to_numpy(), table["dst"].to_numpy()


def large_star(plan: Plan, round_: int, part: int, edge_paths: list[str]) -> dict[str, Any]:
    """Step 5a: Large-Star on this partition's nodes; counts nodes not yet in a star."""
    larger, smaller, violations = graph.large_star(*_edges(plan, edge_paths, part))
    out = plan.writer(f"cc{round_:03d}-large", part, EDGES)
    out.write(pa.table([pa.array(larger), pa.array(smaller)], schema=EDGES), plan.part(larger))
    return {"edges": out.close(), "violations": violations}


def small_star(plan: Plan, round_: int, part: int, edge_paths: list[str]) -> str | None:
    """Step 5b: Small-Star on this partition's nodes; output in both directions."""
    src, dst = graph.both_directions(*graph.small_star(*_edges(plan, edge_paths, part)))
    out = plan.writer(f"cc{round_:03d}-small", part, EDGES)
    out.write(pa.table([pa.array(src), pa.array(dst)], schema=EDGES), plan.part(src))
    return out.close()


def _lookup(values: pa.ChunkedArray | pa.Array, keys: pa.Array) -> np.ndarray:
    """Row in ``keys`` of every value, -1 where absent."""
    found = pc.index_in(values, value_set=keys)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def attach(
    plan: Plan, part: int, edge_paths: list[str], node_paths: list[str], previous_paths: list[str]
) -> dict[str, str | None]:
    """Step 6: every node of this partition with its root and best previous-release match.

    Nodes in a cluster go to their root's partition; singletons are resolved here.
    """
    fs = plan.fs()
    nodes = read_part(fs, node_paths, part, NODES)
    linked, root_of = graph.roots(*_edges(plan, edge_paths, part))
    previous = first_per_key(read_part(fs, previous_paths, part, PREVIOUS), "node", ["prev_date", "prev_id"])

    at_root = _lookup(nodes["node"], pa.array(linked))
    at_previous = _lookup(nodes["node"], previous["node"].combine_chunks())
    node_numbers = nodes["node"].to_numpy()
    roots = node_numbers.copy()
    roots[at_root >= 0] = root_of[at_root[at_root >= 0]]
    matched = pa.array(at_previous >= 0)
    rows = pa.array(np.maximum(at_previous, 0))
    if previous.num_rows:
        prev_id = pc.if_else(matched, previous["prev_id"].take(rows), pa.scalar(None, pa.string()))
        prev_date = pc.if_else(matched, previous["prev_date"].take(rows), pa.scalar(None, pa.string()))
    else:
        prev_id = prev_date = pa.nulls(nodes.num_rows, pa.string())
    members = pa.table(
        [pa.array(roots), nodes["node"], nodes["lang"], nodes["date"], nodes["id"], nodes["text_hash"], prev_id,
         prev_date],
        schema=MEMBERS,
    )
    in_cluster = at_root >= 0
    clustered = plan.writer("members", part, MEMBERS)
    clustered.write(members.filter(pa.array(in_cluster)), plan.part(roots[in_cluster]))
    singles = plan.writer("assign-single", part, ASSIGNMENTS)
    assigned = resolve_clusters(members.filter(pa.array(~in_cluster)))
    singles.write(assigned, plan.part(assigned["node"].to_numpy()))
    return {"members": clustered.close(), "assignments": singles.close()}


def resolve(plan: Plan, part: int, member_paths: list[str]) -> str | None:
    """Step 7: the keep rule for every cluster whose root is in this partition."""
    assigned = resolve_clusters(read_part(plan.fs(), member_paths, part, MEMBERS))
    out = plan.writer("assign-cluster", part, ASSIGNMENTS)
    out.write(assigned, plan.part(assigned["node"].to_numpy()))
    return out.close()


def finish(
    plan: Plan, part: int, assignment_paths: list[str], candidate_paths: list[str], langs: list[str]
) -> dict[str, str | None]:
    """Step 8: decision rows (by language) and this release's new index rows (by key)."""
    fs = plan.fs()
    assigned = read_part(fs, assignment_paths, part, ASSIGNMENTS)
    decisions = plan.writer("decisions", part, DECISIONS)
    lang_code = _lookup(assigned["lang"], pa.array(langs, pa.string()))
    decisions.write(assigned.select(DECISIONS.names), lang_code)

    new_index = plan.writer("index-new", part, NEW_INDEX)
    if plan.build_index:
        candidates = read_part(fs, candidate_paths, part, KEYS)
        row = _lookup(candidates["node"], assigned["node"].combine_chunks())
        if (row < 0).any():
            raise RuntimeError(f"partition {part}: index keys of {int((row < 0).sum())} unassigned documents")
        owners = assigned.take(pa.array(row))
        kept_id = pc.coalesce(owners["duplicate_of"], owners["id"])
        keys = candidates["key"]
        table = pa.table([keys, owners["lang"], kept_id, owners["kept_date"]], schema=NEW_INDEX)
        new_index.write(table, plan.part(keys.to_numpy()))
    return {"decisions": decisions.close(), "index": new_index.close()}


def collect_decisions(plan: Plan, outputs: list[tuple[int, str]], decision_paths: list[str]) -> list[str]:
    """Step 9: one decisions file per language (lang code, URL), streamed row group by row group."""
    written = []
    for lang_code, url in outputs:
        fs, path = fsspec.core.url_to_fs(url, **(plan.storage_options or {}))
        out = AtomicFile(fs, path)
        with pq.ParquetWriter(out.handle, DECISIONS, compression="zstd") as writer:
            for table in iter_part(plan.fs(), decision_paths, lang_code, DECISIONS.names):
                writer.write_table(table.cast(DECISIONS))
        out.commit()
        written.append(url)
    return written


def write_index(plan: Plan, part: int, index_paths: list[str], index_root: str, generation: int) -> int:
    """Step 9: this release's new keys of partition ``part``, one file per language."""
    fs, root = fsspec.core.url_to_fs(index_root, **(plan.storage_options or {}))
    table = read_part(plan.fs(), index_paths, part, NEW_INDEX).sort_by([("lang", "ascending"), ("key", "ascending")])
    if table.num_rows == 0:
        return 0
    langs = table["lang"].to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.concatenate(([True], langs[1:] != langs[:-1])))
    ends = np.append(starts[1:], len(langs))
    for start, end in zip(starts.tolist(), ends.tolist()):
        name = index.file_name(str(langs[start]), generation, part, plan.num_partitions)
        write_table(fs, f"{root.rstrip('/')}/{name}", table.slice(start, end - start).select(index.INDEX.names))
    return len(starts)


def copy_files(plan: Plan, pairs: list[tuple[str, str]], source_root: str, target_root: str) -> int:
    """Copy previous-index files (source path, relative name) into the new index, atomically."""
    source_fs = filesystem(source_root, plan.storage_options)
    target_fs, target = fsspec.core.url_to_fs(target_root, **(plan.storage_options or {}))
    for source_path, name in pairs:
        out = AtomicFile(target_fs, f"{target.rstrip('/')}/{name}")
        with source_fs.open(source_path, "rb") as handle:
            while chunk := handle.read(1 << 24):
                out.handle.write(chunk)
        out.commit()
    return len(pairs)
