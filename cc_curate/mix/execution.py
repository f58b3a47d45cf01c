"""Running a mix on Ray: rounds of per-file tasks; the driver holds only sums, never a language's scores.

1. **Scan** (one task per input file): check the columns, count the cost of each document, and
   write a small key file ``OUT/_mix/keys/{lang}/{ordinal}.parquet`` (score, copies, cost, id
   hash: 32 bytes a document) so later rounds neither re-read text nor re-hash ids. Returns
   sizes and the score range.
2. **Allocate** (driver): targets, whole passes and the remainder to sample (``budgets``).
3. **Histogram**: per file, the score histogram of documents and units on the release-wide bins;
   the driver adds them up (the quality distribution before, and the expected outcome).
4. **Radix select** (languages with a remainder to sample): each round, every file of the
   language returns, among its units inside the current prefix of the selection order, units and
   cost per value of the next 8 bits (256 bins); the driver keeps the bin where the cost reaches
   the remainder. Once the prefix holds at most ``candidates_limit`` units, the files send those
   units and the driver finds the last selected one exactly (``sampling.last_selected``).
5. **Write**: per file, the selected documents, each repeated ``passes * copies`` plus its
   selected units times, written as ``data/{lang}/train/{ordinal:03d}_{chunk:05d}.parquet``; the
   score histogram of what was written. Then mix.json and README.md, and the key files go.

Every per-file result is consumed in file order (a reorder buffer bounded by the tasks in
flight), so sums of floating-point numbers, and therefore mix.json, do not depend on workers.
A dry run stops after step 3: it reads the columns again instead of writing key files.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cc_curate.errors import UserError
from cc_curate.mix import sampling
from cc_curate.mix.budgets import LanguagePlan, MixSpec, allocate, resolve_unit
from cc_curate.mix.inputs import (
    TOKENS_COLUMN,
    MixInputError,
    SourceFile,
    find_files,
    open_file,
    output_schema,
    read_columns,
)
from cc_curate.output.publish import COMPRESSION_GUESS
from cc_curate.output.storage import Storage
from cc_curate.redaction import redact
from cc_curate.runtime.tasks import TaskOptions, result, run_bounded

SCRATCH = "_mix"
SCORE_BINS = 1024  # histogram bins between the release-wide min and max score
CANDIDATES_LIMIT = 100_000  # units the driver sorts exactly at the end of a radix select
MAX_FILE_BYTES = 2_000_000_000  # output rotation, as the publish default
COMPRESSION = "zstd"
_KEY_SCHEMA = pa.schema([("score", pa.float64()), ("copies", pa.int64()), ("cost", pa.int64()), ("hash", pa.uint64())])


@dataclass
class LanguageResult:
    """One language's mix: its plan, its score histograms and what was written."""

    plan: LanguagePlan
    files: int
    documents: int
    units: int
    words_by: str | None
    schema: pa.Schema  # of the mix's files: the input's, less the rehydration column when applied
    before_docs: np.ndarray  # documents per score bin (input, each document once)
    units_hist: np.ndarray  # units per score bin (rehydration copies counted)
    cost_hist: np.ndarray  # pool cost per score bin
    score_units: np.ndarray  # sum of the scores of the units per bin
    score_docs: np.ndarray  # sum of the scores of the documents per bin
    threshold: sampling.Threshold | None = None
    radix_rounds: int = 0
    written: dict[str, Any] = field(default_factory=dict)


@dataclass
class MixOutcome:
    spec: MixSpec
    releases: list[str]
    edges: np.ndarray | None  # score bin edges (None without a score)
    languages: dict[str, LanguageResult]


# ------------------------------------------------------------------------------------ tasks


def _scan(source: SourceFile, spec: MixSpec, scratch: str | None) -> dict[str, Any]:
    columns = read_columns(source, spec, with_ids=scratch is not None)
    if scratch is not None:
        keys = pa.table([columns.scores, columns.copies, columns.cost,
                         sampling.document_hashes(columns.ids, spec.seed)], schema=_KEY_SCHEMA)
        with Storage(scratch).open(_key_file(source), "wb") as fh:
            pq.write_table(keys, fh, compression="none")
    n = len(columns.cost)
    return {
        "documents": n,
        "units": int(columns.copies.sum()),
        "available": int(columns.cost.sum()),
        "pool": int((columns.cost * columns.copies).sum()),
        "score_min": float(columns.scores.min()) if n else None,
        "score_max": float(columns.scores.max()) if n else None,
        "schema": open_file(source).schema_arrow,
        "words_by": columns.words_by,
    }


def _key_file(source: SourceFile) -> str:
    return f"keys/{source.lang}/{source.ordinal:06d}.parquet"


def _load(source: SourceFile, spec: MixSpec,
          scratch: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(scores, copies, cost, id hashes) of a file's documents: from its key file, or (dry run) the file."""
    if scratch is None:
        columns = read_columns(source, spec, with_ids=False)
        return columns.scores, columns.copies, columns.cost, None
    with Storage(scratch).open(_key_file(source)) as fh:
        table = pq.read_table(fh)
    return tuple(table[name].to_numpy() for name in ("score", "copies", "cost", "hash"))  # type: ignore[return-value]


def _bins(scores: np.ndarray, edges: np.ndarray | None) -> np.ndarray:
    if edges is None:
        return np.zeros(len(scores), dtype=np.int64)
    low, high = edges[0], edges[-1]
    if high <= low:
        return np.zeros(len(scores), dtype=np.int64)
    return np.clip(((scores - low) / (high - low) * SCORE_BINS).astype(np.int64), 0, SCORE_BINS - 1)


def _histogram(source: SourceFile, spec: MixSpec, scratch: str | None, edges: np.ndarray | None) -> list[np.ndarray]:
    scores, copies, cost, _ = _load(source, spec, scratch)
    bins = _bins(scores, edges)
    size = SCORE_BINS if edges is not None else 1
    return [np.bincount(bins, minlength=size).astype(np.int64),
            np.bincount(bins, weights=copies, minlength=size).astype(np.int64),
            np.bincount(bins, weights=cost * copies, minlength=size).astype(np.int64),
            np.bincount(bins, weights=scores * copies, minlength=size),
            np.bincount(bins, weights=scores, minlength=size)]


def _units(source: SourceFile, spec: MixSpec, scratch: str) -> dict[str, np.ndarray]:
    """Every unit of a file in document order (order words, document, copy number, cost), and the
    file's documents (scores, copies, cost)."""
    scores, copies, cost, hashes = _load(source, spec, scratch)
    doc, copy = sampling.expand_units(copies)
    unit_hash = sampling.unit_hashes(hashes[doc], copy)
    hi, lo = sampling.order_words(sampling.keys(scores[doc], spec.tau, unit_hash), unit_hash)
    return {"hi": hi, "lo": lo, "doc": doc, "copy": copy, "unit_cost": cost[doc],  # per unit
            "scores": scores, "copies": copies, "doc_cost": cost}  # per document


def _radix(source: SourceFile, spec: MixSpec, scratch: str, prefix: sampling.Prefix) -> tuple[np.ndarray, np.ndarray]:
    u = _units(source, spec, scratch)
    return sampling.radix_histogram(u["hi"], u["lo"], u["unit_cost"], prefix)


def _candidates(source: SourceFile, spec: MixSpec, scratch: str, prefix: sampling.Prefix) -> dict[str, np.ndarray]:
    u = _units(source, spec, scratch)
    mask = sampling.in_prefix(u["hi"], u["lo"], prefix)
    position = np.stack([np.full(int(mask.sum()), source.ordinal), u["doc"][mask], u["copy"][mask]], axis=1)
    return {"hi": u["hi"][mask], "lo": u["lo"][mask], "position": position.astype(np.int64),
            "cost": u["unit_cost"][mask]}


def _write(source: SourceFile, spec: MixSpec, scratch: str, output: str, passes: int,
           threshold: sampling.Threshold, schema: pa.Schema, edges: np.ndarray | None) -> dict[str, Any]:
    """Write the file's share of the mix; return its counts and the score histogram of the rows written."""
    u = _units(source, spec, scratch)
    chosen = sampling.selected(u["hi"], u["lo"], source.ordinal, u["doc"], u["copy"], threshold)
    repeats = passes * u["copies"] + np.bincount(u["doc"][chosen], minlength=len(u["copies"]))
    bins = _bins(u["scores"], edges)
    size = SCORE_BINS if edges is not None else 1
    stats = {
        "documents": int((repeats > 0).sum()),
        "rows": int(repeats.sum()),
        "cost": int((repeats * u["doc_cost"]).sum()),
        "rows_hist": np.bincount(bins, weights=repeats, minlength=size).astype(np.int64),
        "score_rows": np.bincount(bins, weights=u["scores"] * repeats, minlength=size),
        "files": [],
        "bytes": 0,
    }
    if stats["rows"]:
        stats["files"], stats["bytes"] = _write_rows(source, output, repeats, schema)
    return stats


def _write_rows(source: SourceFile, output: str, repeats: np.ndarray, schema: pa.Schema) -> tuple[list[str], int]:
    """Each document ``repeats`` times (copies consecutive), one row group of the input at a time,
    in files rotated at about MAX_FILE_BYTES."""
    storage = Storage(output)
    parquet = open_file(source)
    files: list[str] = []
    written_bytes, estimate, writer, handle = 0, 0.0, None, None
    offset = 0
    try:
        for group in range(parquet.num_row_groups):
            batch = parquet.read_row_group(group)
            take = np.repeat(np.arange(batch.num_rows), repeats[offset:offset + batch.num_rows])
            offset += batch.num_rows
            if not len(take):
                continue
            rows = batch.take(pa.array(take)).select(schema.names).cast(schema)
            text_bytes = (int(pc.sum(pc.binary_length(rows["text"].cast(pa.binary()))).as_py() or 0)
                          if "text" in schema.names else 0)
            written_bytes += text_bytes
            if writer is None or estimate >= MAX_FILE_BYTES:
                if writer is not None:
                    writer.close()
                    handle.close()
                files.append(f"data/{source.lang}/train/{source.ordinal:03d}_{len(files):05d}.parquet")
                handle = storage.open(files[-1], "wb")
                writer = pq.ParquetWriter(handle, schema, compression=COMPRESSION)
                estimate = 0.0
            writer.write_table(rows)
            estimate += text_bytes / COMPRESSION_GUESS + 200 * rows.num_rows
    finally:
        if writer is not None:
            writer.close()
            handle.close()
    return files, written_bytes


# ----------------------------------------------------------------------------------- driver


# Mix tasks read and write files: an I/O error is retried, a bad input (UserError) is not.
MIX_TASK = TaskOptions(max_retries=3, retry_exceptions=(OSError,))


def ordered_map(fn: Callable[..., Any], calls: Sequence[tuple], max_in_flight: int,
                consume: Callable[[int, Any], None]) -> None:
    """Run ``fn(*call)`` as Ray tasks, at most ``max_in_flight`` not yet consumed, and hand each
    result to ``consume`` in call order (so that sums do not depend on which task finished first;
    errors too: the first failing file is reported)."""
    for index, ref in run_bounded(fn, calls, MIX_TASK, max_in_flight, in_call_order=True,
                                  share=lambda value: isinstance(value, (MixSpec, pa.Schema, np.ndarray))):
        consume(index, result(ref))


@dataclass
class MixRun:
    """One mix: inputs, spec, where it writes, how many tasks at once."""

    releases: list[str]
    spec: MixSpec
    output: str | None  # None for a dry run
    max_in_flight: int = 2
    candidates_limit: int = CANDIDATES_LIMIT
    stream: TextIO = sys.stderr

    def say(self, message: str) -> None:
        print(f"[cc-curate mix] {message}", file=self.stream, flush=True)


def plan_mix(run: MixRun) -> tuple[MixOutcome, dict[str, list[SourceFile]]]:
    """Steps 1-3: scan, allocate, histograms. A dry run reads the columns twice and writes nothing."""
    spec = run.spec
    files = find_files(run.releases)
    if not files:
        raise MixInputError(f"no data/{{lang}}/train/*.parquet files in {redact(', '.join(run.releases))}")
    missing = sorted(set(spec.languages) - set(files))
    if missing:
        raise MixInputError(f"budget for {missing[0]}: no such language in the inputs (found: {', '.join(files)})")
    if spec.total is None:  # only the languages given budgets
        files = {lang: found for lang, found in files.items() if lang in spec.languages}
    every = [source for found in files.values() for source in found]
    if spec.unit is None:
        has_tokens = all(TOKENS_COLUMN in open_file(found[0]).schema_arrow.names for found in files.values())
        run.spec = spec = resolve_unit(spec, has_tokens)
        run.say(f"budgets count {spec.unit}"
                + ("" if has_tokens else f" (no {TOKENS_COLUMN} column in every language)"))
    scratch = f"{run.output.rstrip('/')}/{SCRATCH}" if run.output else None
    sums: dict[str, dict[str, Any]] = {}
    score_range: list[float] = []  # [min, max] over every file

    def fold(index: int, scan: dict[str, Any]) -> None:
        """Add a file's scan to its language's sums (the driver keeps no per-file results)."""
        source = every[index]
        lang = sums.setdefault(source.lang, {"documents": 0, "units": 0, "available": 0, "pool": 0,
                                             "files": 0, "schema": scan["schema"], "words_by": set()})
        if output_schema(scan["schema"], spec.rehydrate) != output_schema(lang["schema"], spec.rehydrate):
            raise MixInputError(f"{source.name}: its columns differ from those of the first {source.lang} file "
                                f"({files[source.lang][0].name})")
        for key in ("documents", "units", "available", "pool"):
            lang[key] += scan[key]
        lang["files"] += 1
        if scan["words_by"]:
            lang["words_by"].add(scan["words_by"])
        if scan["score_min"] is not None:
            score_range[:] = [min(score_range[0], scan["score_min"]), max(score_range[1], scan["score_max"])] \
                if score_range else [scan["score_min"], scan["score_max"]]

    run.say(f"scanning {len(every)} files of {len(files)} languages")
    ordered_map(_scan, [(s, spec, scratch) for s in every], run.max_in_flight, fold)
    plans = allocate(spec, {k: v["available"] for k, v in sums.items()}, {k: v["pool"] for k, v in sums.items()})
    edges = np.linspace(score_range[0], score_range[1], SCORE_BINS + 1) if spec.score and score_range else None
    size = SCORE_BINS if edges is not None else 1
    hists = {lang: [np.zeros(size, np.int64)] * 3 + [np.zeros(size)] * 2 for lang in sums}

    def add(index: int, parts: list[np.ndarray]) -> None:
        totals = hists[every[index].lang]
        hists[every[index].lang] = [total + part for total, part in zip(totals, parts)]

    ordered_map(_histogram, [(s, spec, scratch, edges) for s in every], run.max_in_flight, add)
    languages = {
        lang: LanguageResult(plans[lang], s["files"], s["documents"], s["units"],
                             ", ".join(sorted(s["words_by"])) or None, output_schema(s["schema"], spec.rehydrate),
                             *hists[lang])
        for lang, s in sums.items()
    }
    return MixOutcome(spec, run.releases, edges, languages), files


def execute_mix(run: MixRun) -> MixOutcome:
    """The whole mix: plan, select exactly, write the data; mix.json and README.md are the caller's
    (``cc_curate.mix.card``). Refuses an output folder that already holds data."""
    assert run.output is not None
    storage = Storage(run.output)
    if storage.exists("data") or storage.exists("mix.json"):
        raise UserError(f"{redact(run.output)}: already holds a release (data/ or mix.json); choose a new folder")
    scratch = f"{run.output.rstrip('/')}/{SCRATCH}"
    try:
        outcome, files = plan_mix(run)
        _select(run, outcome, files, scratch)
        _write_all(run, outcome, files, scratch)
    finally:
        storage.remove(SCRATCH, recursive=True)
    return outcome


def _select(run: MixRun, outcome: MixOutcome, files: dict[str, list[SourceFile]], scratch: str) -> None:
    """Radix select of the last sampled unit, all languages in the same rounds."""
    active: dict[str, dict[str, Any]] = {}
    for lang, result in outcome.languages.items():
        plan = result.plan
        if plan.remainder <= 0:
            result.threshold = sampling.NOTHING
        elif plan.remainder >= plan.pool:
            result.threshold = sampling.EVERYTHING
        else:
            active[lang] = {"prefix": sampling.Prefix(), "before": 0, "units": result.units}
    while active:
        finishing = {lang for lang, state in active.items()
                     if state["units"] <= run.candidates_limit or state["prefix"].bits == sampling.WORD_BITS}
        calls = [(s, run.spec, scratch, active[lang]["prefix"]) for lang in sorted(active) for s in files[lang]]
        owners = [s.lang for lang in sorted(active) for s in files[lang]]
        radix = [c for c, lang in zip(calls, owners) if lang not in finishing]
        final = [c for c, lang in zip(calls, owners) if lang in finishing]
        sums: dict[str, list[np.ndarray]] = {}
        pooled: dict[str, list[dict[str, np.ndarray]]] = {}

        def add_radix(index: int, part: tuple[np.ndarray, np.ndarray]) -> None:
            lang = radix[index][0].lang
            if lang in sums:
                sums[lang][0] += part[0]
                sums[lang][1] += part[1]
            else:
                sums[lang] = [part[0].copy(), part[1].copy()]

        def add_candidates(index: int, part: dict[str, np.ndarray]) -> None:
            pooled.setdefault(final[index][0].lang, []).append(part)

        ordered_map(_radix, radix, run.max_in_flight, add_radix)
        ordered_map(_candidates, final, run.max_in_flight, add_candidates)
        for lang, parts in pooled.items():
            state = active.pop(lang)
            merged = {k: np.concatenate([p[k] for p in parts]) for k in ("hi", "lo", "position", "cost")}
            outcome.languages[lang].threshold = sampling.last_selected(
                merged["hi"], merged["lo"], merged["position"], merged["cost"], state["before"],
                outcome.languages[lang].plan.remainder)
        for lang, (counts, costs) in sums.items():
            state = active[lang]
            reached = state["before"] + np.cumsum(costs) >= outcome.languages[lang].plan.remainder
            digit = int(np.argmax(reached))
            state["before"] += int(costs[:digit].sum())
            state["units"] = int(counts[digit])
            state["prefix"] = state["prefix"].extend(digit)
            outcome.languages[lang].radix_rounds += 1
        if active:
            run.say(f"radix select: {len(active)} language(s) still refining")


def _write_all(run: MixRun, outcome: MixOutcome, files: dict[str, list[SourceFile]], scratch: str) -> None:
    calls, owners = [], []
    for lang, result in outcome.languages.items():
        for source in files[lang]:
            calls.append((source, run.spec, scratch, run.output, result.plan.passes, result.threshold,
                          result.schema, outcome.edges))
            owners.append(lang)
    totals = {lang: {"documents": 0, "rows": 0, "cost": 0, "bytes": 0, "files": [], "rows_hist": None,
                     "score_rows": None} for lang in outcome.languages}

    def add(index: int, part: dict[str, Any]) -> None:
        total = totals[owners[index]]
        for key in ("documents", "rows", "cost", "bytes"):
            total[key] += part[key]
        total["files"] += part["files"]
        for key in ("rows_hist", "score_rows"):
            total[key] = part[key].copy() if total[key] is None else total[key] + part[key]

    run.say(f"writing {len(calls)} files' share of the mix")
    ordered_map(_write, calls, run.max_in_flight, add)
    for lang, total in totals.items():
        outcome.languages[lang].written.update(total)
