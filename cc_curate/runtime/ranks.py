"""Publish ranks: how many tasks publish a language, and what each of them reads.

A language of more than ``runtime.docs_per_publish_task`` documents is published by several
tasks (ranks), so no process holds a whole large language. Rank ``r`` holds the documents whose
``xxh64(id) mod ranks = r``. A split language's staged rows are first shuffled by rank (one task
per group of staged row groups of at most that many rows writes ``_publish/{lang}/{part}.parquet``
with one row group per rank), so each rank then reads its own rows and nothing else.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cc_curate.output.publish import rank_of
from cc_curate.output.staging import LanguageSlice, read_slices
from cc_curate.output.storage import Storage
from cc_curate.runtime.tasks import TaskOptions, run_all

PUBLISH_WORK = "_publish"  # split languages' rows, shuffled by publish rank


def rank_counts(slices: dict[str, list[LanguageSlice]], docs_per_task: int) -> dict[str, int]:
    """{lang: number of publish ranks}: at most ``docs_per_task`` documents each."""
    return {lang: max(1, math.ceil(sum(s.rows for s in lang_slices) / docs_per_task))
            for lang, lang_slices in slices.items()}


def shuffle_by_rank(storage: Storage, storage_options: dict | None, slices: dict[str, list[LanguageSlice]],
                    ranks: dict[str, int], docs_per_task: int,
                    task: TaskOptions) -> dict[str, list[list[LanguageSlice]]]:
    """For each language, the row groups each of its ranks reads: the staged ones for a one-rank
    language; for a split one, those the shuffle wrote for that rank."""
    by_rank = {lang: [lang_slices] for lang, lang_slices in slices.items() if ranks[lang] == 1}
    split = sorted(lang for lang, n in ranks.items() if n > 1)
    storage.remove(PUBLISH_WORK, recursive=True)
    if not split:
        return by_rank
    owners, calls = [], []
    for lang in split:
        for part, pieces in enumerate(_parts(slices[lang], docs_per_task)):
            owners.append(lang)
            calls.append((storage.url, storage_options, f"{PUBLISH_WORK}/{lang}/{part:05d}.parquet",
                          pieces, ranks[lang]))
    for lang in split:
        by_rank[lang] = [[] for _ in range(ranks[lang])]
    for lang, written in zip(owners, run_all(_shuffle_part, calls, task)):
        for rank, piece in written.items():
            by_rank[lang][rank].append(piece)
    return by_rank


def _parts(slices: list[LanguageSlice], rows: int) -> list[list[LanguageSlice]]:
    """``slices`` in consecutive groups of at most ``rows`` rows (or one slice, if larger)."""
    parts: list[list[LanguageSlice]] = [[]]
    held = 0
    for piece in slices:
        if parts[-1] and held + piece.rows > rows:
            parts.append([])
            held = 0
        parts[-1].append(piece)
        held += piece.rows
    return parts


def _shuffle_part(output: str, storage_options: dict | None, target: str, pieces: list[LanguageSlice],
                  ranks: int) -> dict[int, LanguageSlice]:
    """Write the rows of ``pieces`` to ``target``, one row group per rank; where each rank's rows are."""
    storage = Storage(output, storage_options)
    table = read_slices(storage, pieces)
    order = rank_of(table["id"], ranks)
    by_rank = np.argsort(order, kind="stable")  # row numbers, rank by rank
    bounds = np.searchsorted(order[by_rank], np.arange(ranks + 1))
    written: dict[int, LanguageSlice] = {}
    with storage.open(target, "wb") as fh, pq.ParquetWriter(fh, table.schema) as writer:  # stages add columns
        for rank in range(ranks):
            start, end = int(bounds[rank]), int(bounds[rank + 1])
            if end > start:  # one rank's rows at a time: the part is never copied whole
                writer.write_table(table.take(pa.array(by_rank[start:end])), row_group_size=end - start)
                written[rank] = LanguageSlice(target, (len(written),), end - start)
    return written


def rank_decisions(storage: Storage, path: str | None, rank: int, ranks: int) -> pa.Table | None:
    """One rank's rows of a language's dedup decisions (None when dedup is off), read in batches."""
    if path is None:
        return None
    with storage.fs.open(path, "rb") as fh:
        decisions = pq.ParquetFile(fh)
        if ranks == 1:
            return decisions.read()
        batches = [b.filter(pa.array(rank_of(b.column("id"), ranks) == rank)) for b in decisions.iter_batches(65_536)]
        return pa.Table.from_batches(batches, schema=decisions.schema_arrow)
