"""Benchmark `cc-curate mix` on synthetic releases of 1M and 10M documents: peak memory of the driver
and of the Ray workers (flat in the number of documents) and wall time; appends its section to
docs/benchmarks.md (replacing its own earlier section, between the `bench_mix.py` markers).

The release: four languages (70%, 20%, 8%, 2% of the documents) in files of ``--docs-per-file``
documents, each document with a short text, an id, ``quality_score`` (normal), ``token_count``
(log-normal around 400) and ``rehydration_copies`` (1-5). The mix: a token budget of 30% of the
tokens, UniMax with alpha 0.3 and at most 4 epochs (the small languages are upsampled), sampled by
``quality_score`` at tau 0.5. Each scale runs in its own process on a fresh local Ray with 2 CPUs;
every process's VmHWM is sampled every 0.2 s (as scripts/bench_dedup.py does for dedup).

Usage: python scripts/bench_mix.py [--docs 1000000] [--scales 1 10]   (about 15 minutes on 2 cores)
       python scripts/bench_mix.py --make-release DIR --docs 100000     (only the release: docs/mixing.md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_dedup import PeakSampler, _peak_rss  # noqa: E402  (scripts/bench_dedup.py, beside this file)

LANGS = {"eng_Latn": 0.70, "deu_Latn": 0.20, "tha_Thai": 0.08, "isl_Latn": 0.02}
BEGIN, END = "<!-- bench_mix.py results: begin -->", "<!-- bench_mix.py results: end -->"
BUDGET = {"unit": "tokens", "alpha": 0.3, "max_epochs": 4, "score": "quality_score", "tau": 0.5, "seed": 0}
SHARE = 0.30  # of all tokens


def generate(folder: Path, docs: int, docs_per_file: int) -> dict:
    """A release of ``docs`` documents in ``folder``; returns its file count and total tokens."""
    rng = np.random.default_rng(0)
    texts = pa.array([" ".join(f"w{j}" for j in rng.integers(0, 5000, 12)) for _ in range(1000)])
    files = tokens = 0
    for lang, share in LANGS.items():
        count = int(round(docs * share))
        out = folder / "data" / lang / "train"
        out.mkdir(parents=True, exist_ok=True)
        for k, start in enumerate(range(0, count, docs_per_file)):
            n = min(docs_per_file, count - start)
            token_count = np.maximum(1, rng.lognormal(np.log(400), 0.8, n)).astype(np.int64)
            table = pa.table({
                "text": texts.take(pa.array(rng.integers(0, len(texts), n))),
                "id": pa.array([f"<urn:uuid:{lang}-{start + i:012d}>" for i in range(n)]),
                "quality_score": rng.normal(0.0, 1.0, n),
                "token_count": token_count,
                "rehydration_copies": rng.choice([1, 1, 1, 1, 2, 2, 3, 5], n),
            })
            pq.write_table(table, out / f"000_{k:05d}.parquet", compression="zstd")
            files += 1
            tokens += int(token_count.sum())
    return {"files": files, "tokens": tokens}


def run_scale(release: str, output: str, total: int) -> dict:
    """Runs in its own process: the dry run, then the mix, on a fresh local Ray; peak RSS of every process."""
    import ray

    from cc_curate.mix.budgets import load_spec
    from cc_curate.mix.run import estimate, mix

    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    sampler = PeakSampler()
    spec = load_spec(None, {**BUDGET, "total": total})
    quiet = open(os.devnull, "w")
    start = time.time()
    estimate([release], spec, [spec.tau], workers=2, stream=quiet)
    dry = time.time() - start
    summary = mix([release], output, spec, workers=2, stream=quiet)
    elapsed = time.time() - start - dry
    driver_peak = _peak_rss(os.getpid())[1]
    peaks = sampler.stop()
    ray.shutdown()
    workers = [rss for kind, rss in peaks.values() if kind == "worker"]
    daemons = [rss for kind, rss in peaks.values() if kind == "ray daemon"]
    langs = summary["languages"]
    largest = max(langs, key=lambda lang: langs[lang]["input_documents"])
    return {
        "dry_run_seconds": dry,
        "mix_seconds": elapsed,
        "rows": sum(e["rows"] for e in langs.values()),
        "achieved": summary["total"]["achieved"],
        "largest": largest,
        "largest_documents": langs[largest]["input_documents"],
        "radix_rounds": langs[largest]["radix_rounds"],
        "worst_deviation": max(abs(e["deviation"]) for e in langs.values()),
        "epochs": {lang: round(e["epochs_achieved"], 2) for lang, e in langs.items()},
        "driver_peak": driver_peak,
        "worker_peak": max(workers),
        "daemon_peak": max(daemons) if daemons else 0,
        "load_average": os.getloadavg()[0],  # 1-minute load when the mix ended (2 cores)
    }


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def report(results: dict, docs_per_file: int) -> str:
    lines = [
        BEGIN,
        f"## Mix: peak memory at {' and '.join(f'{int(d):,}' for d in sorted(results, key=int))} documents",
        "",
        f"`scripts/bench_mix.py`, {time.strftime('%Y-%m-%d')}, {platform.machine()}, 2 CPUs (local Ray), shared machine. "
        f"Synthetic release: 4 languages ({', '.join(f'{k} {v:.0%}' for k, v in LANGS.items())}), files of "
        f"{docs_per_file:,} documents with `quality_score`, `token_count` and `rehydration_copies`. The mix: "
        f"{SHARE:.0%} of the tokens, UniMax alpha {BUDGET['alpha']} with at most {BUDGET['max_epochs']} epochs, sampled "
        f"by `quality_score` at tau {BUDGET['tau']} (`cc_curate.mix.run.mix`, what `cc-curate mix` calls). Peak RSS "
        "is each process's VmHWM sampled every 0.2 s; the dry run and the mix run in the same process, one after the other. "
        "Other jobs shared the machine (load column: 1-minute load average at the end): compare memory, not seconds.",
        "",
        "| documents | files | dry run | mix | rows written | largest language | its radix rounds | worst deviation "
        "from a target | driver peak | largest worker peak | Ray daemons peak | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for docs, r in results.items():
        lines.append(
            f"| {int(docs):,} | {r['files']} | {r['dry_run_seconds']:,.0f} s | {r['mix_seconds']:,.0f} s | {r['rows']:,} "
            f"| {r['largest_documents']:,} | {r['radix_rounds']} | {r['worst_deviation']:.4%} | {mb(r['driver_peak'])} "
            f"| {mb(r['worker_peak'])} | {mb(r['daemon_peak'])} | {r['load_average']:.1f} |"
        )
    sizes = sorted(results, key=int)
    if len(sizes) > 1:
        small, large = results[sizes[0]], results[sizes[-1]]
        lines += [
            "",
            f"From {int(sizes[0]):,} to {int(sizes[-1]):,} documents: driver peak {large['driver_peak'] / small['driver_peak']:.2f}x, "
            f"largest worker peak {large['worker_peak'] / small['worker_peak']:.2f}x. A task holds one file's "
            "scores and keys (32 bytes a document, plus its rows when writing); the driver holds per-language sums, "
            "256-bin radix histograms and at most 100,000 candidate units per language: more documents add files "
            "and tasks, not memory. Epochs achieved at the larger scale: "
            + ", ".join(f"{k} {v}" for k, v in large["epochs"].items()) + ".",
        ]
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents of the 1x release")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--docs-per-file", type=int, default=100_000)
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--make-release", metavar="DIR", help="only write a synthetic release of --docs documents to DIR")
    parser.add_argument("--run-scale", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_release:
        print(json.dumps(generate(Path(args.make_release), args.docs, args.docs_per_file)))
        return
    if args.run_scale:
        release, output, total = args.run_scale
        print(json.dumps(run_scale(release, output, int(total))))
        return
    results = {}
    for scale in args.scales:
        docs = args.docs * scale
        with tempfile.TemporaryDirectory() as scratch:
            made = generate(Path(scratch) / "release", docs, args.docs_per_file)
            total = int(made["tokens"] * SHARE)
            run = subprocess.run([sys.executable, __file__, "--run-scale", str(Path(scratch) / "release"),
                                  str(Path(scratch) / "mix"), str(total)], capture_output=True, text=True, cwd=REPO)
            if run.returncode != 0:
                raise SystemExit(f"{docs:,} documents failed:\n{run.stderr[-4000:]}")
            results[str(docs)] = {**json.loads(run.stdout.strip().splitlines()[-1]), "files": made["files"]}
            print(json.dumps({docs: results[str(docs)]}), flush=True)
    section = report(results, args.docs_per_file)
    path = Path(args.out)
    text = path.read_text()
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
