"""The keep rule: which document of a cluster survives, and what every member is told.

Rule (documented, deterministic): in each cluster, the document with the earliest ``date``
is kept, ties broken by the smallest ``id``, then by the smallest ``text_hash`` (documents
that share an id: ``schema.DOCUMENT_KEY``), then by the internal node number (which only
matters for one record read twice); a missing date sorts after every date. Every other member
gets ``duplicate_of`` = the kept id. All members carry ``minhash_cluster_size`` = the number
of documents in the cluster.

When a cluster touches the previous release's index, the previous release already published
its representative: every member of this run is then a duplicate of that document (the
earliest-dated, then smallest id, if several match) and the cluster size counts it as one
more member.

The input never depends on worker count or order: the same clusters give the same output.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cc_curate.output.schema import DUPLICATE_OF, STAGED

# Internal work schemas (dedup-only columns; the document columns come from schema.py).
NODE = pa.field("node", pa.uint64())
ROOT = pa.field("root", pa.uint64())
PREV_ID = pa.field("prev_id", pa.string())
PREV_DATE = pa.field("prev_date", pa.string())
KEPT_DATE = pa.field("kept_date", pa.string())

TEXT_HASH = STAGED.field("text_hash")

MEMBERS = pa.schema(
    [ROOT, NODE, STAGED.field("lang"), STAGED.field("date"), STAGED.field("id"), TEXT_HASH, PREV_ID, PREV_DATE]
)
ASSIGNMENTS = pa.schema(
    [NODE, STAGED.field("lang"), STAGED.field("id"), TEXT_HASH, STAGED.field("minhash_cluster_size"), DUPLICATE_OF,
     KEPT_DATE]
)


def group_starts(*sorted_columns: np.ndarray) -> np.ndarray:
    """Boolean mask of rows that start a new group in arrays sorted by these columns."""
    length = len(sorted_columns[0])
    starts = np.zeros(length, dtype=bool)
    if length:
        starts[0] = True
        for column in sorted_columns:
            starts[1:] |= column[1:] != column[:-1]
    return starts


def first_per_key(table: pa.Table, key: str, order_by: list[str]) -> pa.Table:
    """One row per ``key``: the first by ``order_by`` ascending, nulls last."""
    if table.num_rows == 0:
        return table
    table = table.sort_by([(key, "ascending")] + [(column, "ascending") for column in order_by])
    keys = table[key].to_numpy()
    return table.filter(pa.array(group_starts(keys)))


def resolve_clusters(members: pa.Table) -> pa.Table:
    """ASSIGNMENTS for every member of ``members`` (MEMBERS: clusters are (root, lang))."""
    if members.num_rows == 0:
        return ASSIGNMENTS.empty_table()
    lang_code = pc.dictionary_encode(members["lang"].combine_chunks()).indices
    members = members.append_column("lang_code", lang_code)
    members = members.sort_by(
        [
            ("root", "ascending"),
            ("lang_code", "ascending"),
            ("date", "ascending"),
            ("id", "ascending"),
            ("text_hash", "ascending"),
            ("node", "ascending"),
        ]
    ).combine_chunks()
    starts = group_starts(members["root"].to_numpy(), members["lang_code"].to_numpy())
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    sizes = np.diff(np.append(first, members.num_rows))
    keeper = first[group]
    is_keeper = np.arange(members.num_rows) == keeper
    duplicate_of = members["id"].take(pa.array(keeper))
    kept_date = members["date"].take(pa.array(keeper))

    # Clusters matching the previous release: its earliest-dated, then smallest, id wins.
    matched = pc.is_valid(members["prev_id"]).to_numpy(zero_copy_only=False)
    has_prev = np.zeros(len(first), dtype=bool)
    if matched.any():
        prev = members.select(["prev_date", "prev_id"]).filter(pa.array(matched))
        prev = first_per_key(prev.append_column("group", pa.array(group[matched])), "group", ["prev_date", "prev_id"])
        best = np.zeros(len(first), dtype=np.int64)
        groups_with_prev = prev["group"].to_numpy()
        has_prev[groups_with_prev] = True
        best[groups_with_prev] = np.arange(prev.num_rows)
        row_has_prev = pa.array(has_prev[group])
        rows = pa.array(best[group])
        duplicate_of = pc.if_else(row_has_prev, prev["prev_id"].take(rows), duplicate_of)
        kept_date = pc.if_else(row_has_prev, prev["prev_date"].take(rows), kept_date)
    duplicate_of = pc.if_else(pa.array(is_keeper & ~has_prev[group]), pa.scalar(None, pa.string()), duplicate_of)
    cluster_size = (sizes + has_prev)[group].astype(np.int64)
    return pa.table(
        [members["node"], members["lang"], members["id"], members["text_hash"], pa.array(cluster_size), duplicate_of,
         kept_date],
        schema=ASSIGNMENTS,
    )
