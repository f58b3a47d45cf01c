"""fastText quality scoring throughput on realpages texts, and its cost next to the fast preset's shard pass.

1. Trains a dimension-64 multilingual model (`cc-curate quality train`'s defaults otherwise) on
   trafilatura's evaluation segments (main text vs boilerplate, ../shared/data).
2. Runs the fast preset's document pipeline (no Ray: the shard pass's per-document work) over the
   first --records records of the realpages WARC, keeping each document's words.
3. Scores the same documents' words with the model, as the quality stage does (no second
   tokenization), on one core; best of --repeat rounds, interleaved with the pipeline's. Times are the process's
   CPU seconds (time.process_time), so other work on the machine does not count against either.

The ratio of 3 to 2 is what the stage adds to the shard pass, measured in the same run.

Usage: python scripts/bench_quality.py [--records 400] [--repeat 3] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's cc_curate and tests/ helpers

from cc_curate.quality.examples import Source  # noqa: E402
from cc_curate.quality.scoring import QualityModel  # noqa: E402
from cc_curate.quality.train import HyperParameters, TrainOptions, train  # noqa: E402
from cc_curate.recipe import load_recipe  # noqa: E402
from cc_curate.sources import RawRecord, iter_records, resolve_inputs  # noqa: E402
from cc_curate.stages.pipeline import DocumentPipeline  # noqa: E402
from cc_curate.stages.tokenize import get_tokenizer  # noqa: E402
from tests.quality_data import main_content_examples  # noqa: E402

SECTION = "## Quality scoring (issue 13)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO.parent / "shared" / "data")))
    parser.add_argument("--bucket", type=int, default=HyperParameters.bucket)
    parser.add_argument("--word-ngrams", type=int, default=HyperParameters.word_ngrams)
    parser.add_argument("--write", type=Path, help="Replace (or append) this section of the given Markdown file.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pos, neg = main_content_examples(args.shared_data, Path(tmp))
        started = time.process_time()
        model_path = train(TrainOptions([Source(str(pos), label=1.0), Source(str(neg), label=0.0)], Path(tmp) / "m",
                                        multilingual=True,
                                        hyper=HyperParameters(dim=64, bucket=args.bucket, word_ngrams=args.word_ngrams)))[0].path
        train_seconds = time.process_time() - started
        model = QualityModel(model_path)  # reads the first 512 words, as trained
        whole = QualityModel(model_path, max_words=None)
        size_mb = model_path.stat().st_size / 1e6

    warc = args.shared_data / "realpages_multilingual_warc" / "realpages-multilingual.warc.gz"
    shard = resolve_inputs([str(warc)])[0]
    records = [r for r in iter_records(shard, max_records=args.records) if isinstance(r, RawRecord)]
    pipeline = DocumentPipeline(load_recipe(REPO / "recipes" / "fast.yaml"))
    table = pipeline.process(records, dump="bench", file_path=str(warc)).table
    scored = table.filter(table["text"].is_valid())
    docs = [(lang, get_tokenizer(lang).words(text)) for lang, text in
            zip(scored["lang"].to_pylist(), scored["text"].to_pylist()) if text]
    words = sum(len(w) for _, w in docs)

    pipeline_best = score_best = whole_best = float("inf")
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        started = time.process_time()
        pipeline.process(records, dump="bench", file_path=str(warc))
        pipeline_best = min(pipeline_best, time.process_time() - started)
        started = time.process_time()
        for _, doc_words in docs:
            model.score_words(doc_words)
        score_best = min(score_best, time.process_time() - started)
        started = time.process_time()
        for _, doc_words in docs:
            whole.score_words(doc_words)
        whole_best = min(whole_best, time.process_time() - started)

    out = io.StringIO()
    print(SECTION, file=out)
    rate, whole_rate, share = len(docs) / score_best, len(docs) / whole_best, 100 * score_best / pipeline_best
    print(f"""
Command: `python scripts/bench_quality.py --records {args.records} --repeat {args.repeat} --bucket {args.bucket}
--word-ngrams {args.word_ngrams}`. One process; times are its CPU seconds (so the other work of a
busy machine does not count), best of {args.repeat} interleaved rounds.

- Model: multilingual, dimension 64, word n-grams up to {args.word_ngrams}, {args.bucket:,} hash buckets
  ({size_mb:.0f} MB), trained by `cc-curate quality train` on trafilatura's evaluation segments
  ({train_seconds:.1f} CPU s).
- Texts: the first {args.records} records of the realpages WARC through the fast preset's document
  pipeline ({len(docs)} documents with text, {words / max(len(docs), 1):,.0f} words on average).
  Scoring starts from the pipeline's words, as the stage does (tokenize once).

| what | CPU seconds | per second per core |
|---|---:|---:|
| fast preset, document pipeline (extraction, LID, filters, MinHash, fixes) | {pipeline_best:.2f} | {len(records) / pipeline_best:,.0f} records |
| quality scoring, one dim-64 model, first 512 words (the default) | {score_best:.3f} | {rate:,.0f} documents |
| the same model over whole documents (`max_words: null`) | {whole_best:.3f} | {whole_rate:,.0f} documents |

Targets: at least 2,000 documents/s/core: {"met" if rate >= 2000 else "NOT met"} ({rate:,.0f}) at 512
words; whole documents of this length score at {whole_rate:,.0f}. Under 10% added to the fast
preset's per-document work: {"met" if share < 10 else "NOT met"} ({share:.1f}%). The stage is not
yet part of `cc-curate run` (it waits for the stage protocol), so the share is of the
pipeline's per-document work in the same process, not of a Ray shard pass; the shard pass adds
reading and writing, so the stage's share of it is smaller still.
""", file=out)
    text = out.getvalue()
    print(text)
    if args.write:
        _write_section(args.write, text)


def _write_section(path: Path, section: str) -> None:
    """Replace this script's section of ``path`` (up to the next level-2 heading), or append it."""
    doc = path.read_text(encoding="utf-8")
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + section
    else:
        end = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + section.rstrip("\n") + "\n" + (doc[end:] if end >= 0 else "")
    path.write_text(doc, encoding="utf-8")


if __name__ == "__main__":
    main()
