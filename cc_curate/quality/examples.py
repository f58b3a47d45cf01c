"""Labelled training examples for a quality model, read from files or cc_curate outputs.

A *source* is one path (file, glob, or the output folder of a run) with either a fixed label
(every positive file is label 1, every negative file label 0) or a label column (graded labels,
FineWeb-Edu's 0-5). Formats: Parquet or JSONL (``.jsonl``/``.json``/``.ndjson``, optionally
``.gz``) with a text column, plain text (``.txt``, optionally ``.gz``, one example per line), and
a run's output folder, whose kept documents (``data/{lang}/train/*.parquet``) are read per language.

A document's language comes from a ``lang`` column ("deu_Latn"), FineWeb2's ``language`` +
``language_script`` columns, a run's language folder, or the source's ``language``.

``limit`` samples at most N examples of a source: the N with the smallest seeded hash of their
text, so the sample does not depend on file order or on how many files there are.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import fsspec
import pyarrow.parquet as pq
import xxhash

from cc_curate.errors import UserError
from cc_curate.redaction import public_url, redact


@dataclass(frozen=True)
class Source:
    """Where examples come from and how they are labelled."""

    path: str
    label: float | None = None  # fixed label for every example; None = read ``label_column``
    label_column: str = "label"
    text_column: str = "text"
    language: str | None = None  # for sources without a language column
    limit: int | None = None


@dataclass(frozen=True)
class Example:
    text: str
    lang: str
    label: float
    source: str  # the source's path, credentials redacted


def read_examples(sources: Sequence[Source], *, languages: Sequence[str] = (), seed: int = 0) -> list[Example]:
    """Every example of every source (only ``languages`` when given), sampled per ``Source.limit``."""
    wanted = frozenset(languages)
    examples: list[Example] = []
    for source in sources:
        rows = [row for row in _rows(source) if not wanted or row.lang in wanted]
        if source.limit is not None and len(rows) > source.limit:
            rows = sorted(rows, key=lambda row: (sample_key(row.text, seed), row.text))[: source.limit]
        examples.extend(rows)
    return examples


def sample_key(text: str, seed: int) -> int:
    """A seeded hash of a text: decides sampling and the held-out split, independent of order."""
    return xxhash.xxh64_intdigest(text.encode("utf-8", "surrogatepass"), seed=seed)


def _rows(source: Source) -> Iterator[Example]:
    shown = public_url(source.path)
    for path, lang_from_path in _files(source.path):
        for number, (text, lang, label) in enumerate(_records(path, source), start=1):
            where = f"{redact(path)}: row {number}"
            lang = lang or lang_from_path or source.language
            if not lang:
                raise UserError(f"{where}: no language (add a `lang` column or give --language)")
            if source.label is not None:
                label = source.label
            if label is None or isinstance(label, bool) or not isinstance(label, (int, float)) or not math.isfinite(label):
                raise UserError(f"{where}: key {source.label_column!r}: a numeric label is required, got {label!r}")
            if not isinstance(text, str):
                raise UserError(f"{where}: key {source.text_column!r}: a string is required, got {type(text).__name__}")
            if text.strip():
                yield Example(text, lang, float(label), shown)


def _files(path: str) -> list[tuple[str, str | None]]:
    """The files of a source with the language their location implies (a run's language folders)."""
    fs, root = fsspec.core.url_to_fs(path)
    protocol = path.split("://", 1)[0] + "://" if "://" in path else ""
    if fs.isdir(root):
        published = sorted(fs.glob(f"{root.rstrip('/')}/data/*/train/*.parquet"))
        if not published:
            raise UserError(f"{redact(path)}: a folder must be a cc_curate output with data/{{lang}}/train/*.parquet")
        files = []
        for file in published:
            lang = file.rstrip("/").split("/")[-3]
            if not lang.endswith("_removed"):
                files.append((protocol + file, lang))
        return files
    matches = sorted(fs.glob(root)) if any(c in root for c in "*?[") else [root]
    if not matches or not all(fs.isfile(m) for m in matches):
        raise UserError(f"{redact(path)}: no such file")
    return [(protocol + m, None) for m in matches]


def _records(path: str, source: Source) -> Iterator[tuple[object, str | None, object]]:
    """(text, lang, label) per record of one file."""
    name = path.lower().removesuffix(".gz")
    if path.lower().endswith(".parquet"):
        yield from _parquet_records(path, source)
    elif name.endswith((".jsonl", ".json", ".ndjson")):
        with fsspec.open(path, "rb", compression="infer") as raw:
            for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{redact(path)}: line {number}: not JSON ({exc.msg})") from None
                if not isinstance(record, dict) or source.text_column not in record:
                    raise UserError(f"{redact(path)}: line {number}: key {source.text_column!r} missing")
                yield record[source.text_column], _record_lang(record), record.get(source.label_column)
    elif name.endswith(".txt"):
        with fsspec.open(path, "rb", compression="infer") as raw:
            for line in io.TextIOWrapper(raw, encoding="utf-8"):
                yield line.rstrip("\n"), None, None
    else:
        raise UserError(f"{redact(path)}: unknown format (.parquet, or .jsonl/.json/.ndjson/.txt, optionally .gz)")


def _parquet_records(path: str, source: Source) -> Iterator[tuple[object, str | None, object]]:
    with fsspec.open(path, "rb") as f:
        parquet = pq.ParquetFile(f)
        names = set(parquet.schema_arrow.names)
        if source.text_column not in names:
            raise UserError(f"{redact(path)}: key {source.text_column!r}: no such column")
        wanted = [source.text_column] + [c for c in ("lang", "language", "language_script") if c in names]
        if source.label is None:
            if source.label_column not in names:
                raise UserError(f"{redact(path)}: key {source.label_column!r}: no such column (or give a fixed label)")
            wanted.append(source.label_column)
        for batch in parquet.iter_batches(columns=wanted, batch_size=4096):
            for record in batch.to_pylist():
                yield record[source.text_column], _record_lang(record), record.get(source.label_column)


def _record_lang(record: dict) -> str | None:
    if record.get("lang"):
        return str(record["lang"])
    if record.get("language") and record.get("language_script"):
        return f"{record['language']}_{record['language_script']}"
    return None
