"""The releases a mix reads: their files per language, and the few columns sampling needs from a file.

A release is an output folder in FineWeb2's layout (``data/{lang}/train/*.parquet``; the
``{lang}_removed`` folders are not part of it). Per file, sampling needs the ids, the score, the
rehydration copies and the cost of each document in the budget's unit:

* ``tokens``: the ``token_count`` column (written by the token-count stage); required;
* ``words``: the ``word_count`` column when a file has it, else the words of the text counted
  with the language's word tokenizer (``cc_curate.stages.tokenize``, the one a run uses, so the
  counts match the release's stats.json);
* ``documents``: 1 per document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cc_curate.errors import UserError
from cc_curate.output.storage import Storage
from cc_curate.redaction import redact

COPIES_COLUMN = "rehydration_copies"
TOKENS_COLUMN = "token_count"
WORDS_COLUMN = "word_count"
WORDS_BY_COLUMN = "word_count column"
WORDS_BY_TOKENIZER = "the language's word tokenizer"


class MixInputError(UserError):
    """An input release or file that cannot be mixed (file, column, why)."""


@dataclass(frozen=True)
class SourceFile:
    """One Parquet file of a language; ``ordinal`` is its place in the language's file order."""

    lang: str
    ordinal: int
    release: str
    relative: str  # data/{lang}/train/NAME.parquet

    @property
    def name(self) -> str:
        """The file, for messages (URL credentials removed)."""
        return redact(f"{self.release.rstrip('/')}/{self.relative}")


def find_files(releases: list[str], languages: set[str] | None = None) -> dict[str, list[SourceFile]]:
    """Every kept-documents file of the releases, per language, in (release order, name) order."""
    found: dict[str, list[tuple[str, str]]] = {}
    for release in releases:
        storage = Storage(release)
        if not storage.exists("data"):
            raise MixInputError(f"{redact(release)}: not a release (no data/ folder)")
        for lang in storage.list("data"):
            if lang.endswith("_removed") or (languages is not None and lang not in languages):
                continue
            for name in storage.list(f"data/{lang}/train", ".parquet"):
                found.setdefault(lang, []).append((release, f"data/{lang}/train/{name}"))
    return {lang: [SourceFile(lang, i, release, rel) for i, (release, rel) in enumerate(files)]
            for lang, files in sorted(found.items())}


def open_file(source: SourceFile) -> pq.ParquetFile:
    return pq.ParquetFile(Storage(source.release).open(source.relative))


@dataclass
class FileColumns:
    """What sampling needs of one file, one entry per document."""

    ids: list[str]
    scores: np.ndarray  # float64 (zeros without a score column)
    copies: np.ndarray  # int64 >= 1
    cost: np.ndarray  # int64 >= 0, in the budget's unit
    words_by: str | None  # how words were counted (unit words only)


def read_columns(source: SourceFile, spec: Any, with_ids: bool = True) -> FileColumns:
    """Read and check the columns sampling needs; a bad column is a one-line error naming the file."""
    parquet = open_file(source)
    names = set(parquet.schema_arrow.names)
    wanted = ["id"] if with_ids else []
    if spec.score:
        if spec.score not in names:
            raise MixInputError(f"{source.name}: no column {spec.score!r} to score by "
                                f"(numeric columns: {', '.join(_numeric(parquet.schema_arrow)) or 'none'})")
        wanted.append(spec.score)
    if spec.rehydrate and COPIES_COLUMN in names:
        wanted.append(COPIES_COLUMN)
    words_by = None
    if spec.unit == "tokens":
        if TOKENS_COLUMN not in names:
            raise MixInputError(f"{source.name}: no {TOKENS_COLUMN} column: run the token-count stage, "
                                "or use unit words or documents")
        wanted.append(TOKENS_COLUMN)
    elif spec.unit == "words":
        words_by = WORDS_BY_COLUMN if WORDS_COLUMN in names else WORDS_BY_TOKENIZER
        wanted.append(WORDS_COLUMN if WORDS_COLUMN in names else "text")
    table = parquet.read(columns=sorted(set(wanted)))
    n = table.num_rows
    scores = _numbers(table, spec.score, source, float) if spec.score else np.zeros(n)
    copies = (_numbers(table, COPIES_COLUMN, source, int) if COPIES_COLUMN in table.column_names
              else np.ones(n, np.int64))
    if n and copies.min() < 1:
        raise MixInputError(f"{source.name}: column {COPIES_COLUMN}: copies below 1")
    if spec.unit == "tokens":
        cost = _numbers(table, TOKENS_COLUMN, source, int)
    elif spec.unit == "words" and words_by == WORDS_BY_COLUMN:
        cost = _numbers(table, WORDS_COLUMN, source, int)
    elif spec.unit == "words":
        from cc_curate.stages.tokenize import get_tokenizer

        tokenizer = get_tokenizer(source.lang)
        cost = np.fromiter((len(tokenizer.words(t or "")) for t in table["text"].to_pylist()), np.int64, count=n)
    else:
        cost = np.ones(n, dtype=np.int64)
    if n and cost.min() < 0:
        raise MixInputError(f"{source.name}: negative {spec.unit} counts")
    ids = table["id"].to_pylist() if with_ids else []
    return FileColumns(ids, scores, copies.astype(np.int64), cost.astype(np.int64), words_by)


def _numbers(table: pa.Table, column: str, source: SourceFile, kind: type) -> np.ndarray:
    values = table[column]
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
            or pa.types.is_boolean(values.type)):
        raise MixInputError(f"{source.name}: column {column!r} is {values.type}, not numeric")
    nulls = values.null_count
    if nulls:
        raise MixInputError(f"{source.name}: column {column!r} has {nulls} null value(s)")
    array = np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if not np.isfinite(array).all():
        raise MixInputError(f"{source.name}: column {column!r} has NaN or infinite values")
    if kind is int:
        return array.astype(np.int64)
    return array


def _numeric(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]


def output_schema(parquet_schema: pa.Schema, copies_applied: bool) -> pa.Schema:
    """The mix's schema for a language: the input's, without the rehydration column when the mix
    applied it (its copies are repeated rows now)."""
    keep = [f for f in parquet_schema if not (copies_applied and f.name == COPIES_COLUMN)]
    return pa.schema(keep)
