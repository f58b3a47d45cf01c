"""Extraction quality of the two backends on the shared gold sets -> docs/extraction_quality.md.

Why: FineWeb uses trafilatura; resiliparse is several times faster. This measures what the
speed costs, and compares resiliparse option sets (``--grid``) to pick its defaults.

Data (../shared/data, or $CC_CURATE_SHARED_DATA):
* extraction_scrapinghub_aeb: 181 article pages + gold articleBody. Metric: bag-of-words token
  precision / recall / F1 per page (lower-cased ``\\w+`` tokens), averaged over pages.
* extraction_trafilatura_eval: 990 pages with snippets that must (``with``) / must not
  (``without``) appear. Metric as trafilatura's evaluation: a found ``with`` snippet is a true
  positive, a missing one a false negative, a found ``without`` snippet a false positive;
  precision / recall / F1 over all snippets (whitespace-normalised substring match).

Usage: python scripts/eval_extraction.py [--grid] [--limit N] [--out docs/extraction_quality.md]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import tarfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from cc_curate.stages.extract import RESILIPARSE_DEFAULTS, Extractor

REPO = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r"\w+")

# resiliparse option sets compared by --grid (each is a change from RESILIPARSE_DEFAULTS).
GRID: list[dict[str, Any]] = [
    {},
    {"edge_line_min_chars": 0},
    {"edge_line_min_chars": 40},
    {"edge_line_min_chars": 100},
    {"list_bullets": False},
    {"post_meta": True},
    {"alt_texts": True},
    {"noscript": True},
    {"form_fields": True},
    {"preserve_formatting": False},
    {"skip_elements": None},
    {"skip_elements": None, "edge_line_min_chars": 0},
    {"skip_elements": ["aside", "nav", "footer", "header", "form", "figure", "figcaption"]},
]


NOTES = """## Reading these numbers

* What resiliparse still keeps that trafilatura drops are short blocks next to the article: author
  bios, "related articles" headings and teasers, image credits, paywall and newsletter prompts
  (TE precision). `edge_line_min_chars` and the `skip_elements` selectors recover part of it;
  removing more by CSS class (`[class*=author]`, `[class*=widget]`, `[class*=sidebar]`,
  `[class*=promo]`) was measured to cost more recall than it gains, and a link-density pruning
  pass over the DOM in Python cost ~300 ms/page for no gain.
* Timings are wall-clock on a shared 2-core machine that was busy with other work, so they are
  noisy; the ratio between backends matters more than the absolute numbers. trafilatura with
  `favor_precision` also runs its fallback extractors on hard pages (its long tail of slow pages).
* `preserve_formatting=False` joins the text into one line, which disables the edge-line trim.
"""


def shared_data() -> Path:
    return Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def decode(raw: bytes) -> str:
    """UTF-8, else the charset charset-normalizer guesses (as the WARC source does)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(raw).best()
        return str(best) if best is not None else raw.decode("utf-8", "replace")


def scrapinghub_pages(root: Path) -> Iterator[tuple[str, str, str]]:
    """(html, url, gold articleBody) per page."""
    gold = json.loads(gzip.decompress((root / "ground-truth.json.gz").read_bytes()))
    for key, item in sorted(gold.items()):
        html = decode(gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()))
        yield html, item["url"], item["articleBody"]


def trafilatura_eval_pages(root: Path) -> Iterator[tuple[str, str, list[str], list[str]]]:
    """(html, url, with-snippets, without-snippets) per page."""
    evaldata = json.loads(gzip.decompress((root / "evaldata.json.gz").read_bytes()))
    by_file = {item["file"]: (url, item) for url, item in evaldata.items()}
    with tarfile.open(root / "html.tar.gz") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name in by_file:
                url, item = by_file[name]
                raw = tar.extractfile(member).read()  # type: ignore[union-attr]
                yield decode(raw), url, item["with"], item["without"]


def token_prf(predicted: str, gold: str) -> tuple[float, float, float]:
    """Bag-of-words precision, recall, F1 of ``predicted`` against ``gold``."""
    pred = Counter(TOKEN.findall(predicted.lower()))
    ref = Counter(TOKEN.findall(gold.lower()))
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return p, r, 2 * p * r / (p + r)


def squash(text: str) -> str:
    return " ".join(text.split())


def run(extractor: Extractor, html: str, url: str) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        text = extractor.extract(html, url) or ""
    except Exception:  # a timeout or a library error scores as an empty extraction
        text = ""
    return text, time.perf_counter() - start


def evaluate(params: dict[str, Any], data: Path, limit: int | None) -> dict[str, float]:
    """Scores of one extractor configuration on both gold sets."""
    extractor = Extractor(params)
    scores: dict[str, float] = {}
    prf = [0.0, 0.0, 0.0]
    seconds, n = 0.0, 0
    for html, url, gold in scrapinghub_pages(data / "extraction_scrapinghub_aeb"):
        text, dt = run(extractor, html, url)
        for i, v in enumerate(token_prf(text, gold)):
            prf[i] += v
        seconds, n = seconds + dt, n + 1
        if limit and n >= limit:
            break
    scores.update(aeb_p=prf[0] / n, aeb_r=prf[1] / n, aeb_f1=prf[2] / n, aeb_ms=seconds / n * 1e3)
    tp = fn = fp = 0
    seconds, n = 0.0, 0
    for html, url, with_, without in trafilatura_eval_pages(data / "extraction_trafilatura_eval"):
        text, dt = run(extractor, html, url)
        found = squash(text)
        hits = sum(squash(s) in found for s in with_)
        tp, fn = tp + hits, fn + len(with_) - hits
        fp += sum(squash(s) in found for s in without)
        seconds, n = seconds + dt, n + 1
        if limit and n >= limit:
            break
    p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
    scores.update(te_p=p, te_r=r, te_f1=2 * p * r / max(1e-9, p + r), te_ms=seconds / n * 1e3)
    return scores


def row(name: str, s: dict[str, float]) -> str:
    return (
        f"| {name} | {s['aeb_p']:.3f} | {s['aeb_r']:.3f} | **{s['aeb_f1']:.3f}** | {s['aeb_ms']:.0f} "
        f"| {s['te_p']:.3f} | {s['te_r']:.3f} | **{s['te_f1']:.3f}** | {s['te_ms']:.0f} |"
    )


HEADER = (
    "| extractor | AEB P | AEB R | AEB F1 | AEB ms/page | TE P | TE R | TE F1 | TE ms/page |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", action="store_true", help="also compare resiliparse option sets")
    parser.add_argument("--limit", type=int, help="pages per set (quick runs)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "extraction_quality.md")
    args = parser.parse_args()
    data = shared_data()
    base = {"timeout_seconds": 30}
    results = {
        "trafilatura (FineWeb settings)": evaluate({**base, "backend": "trafilatura"}, data, args.limit),
        "resiliparse (cc_curate defaults)": evaluate({**base, "backend": "resiliparse"}, data, args.limit),
    }
    for name, scores in results.items():
        print(row(name, scores), flush=True)
    grid_rows = []
    if args.grid:
        for change in GRID[1:]:
            scores = evaluate({**base, "backend": "resiliparse", "resiliparse": change}, data, args.limit)
            grid_rows.append(row(f"resiliparse {json.dumps(change)}", scores))
            print(grid_rows[-1], flush=True)
    traf, resi = results.values()
    gaps = {"AEB": traf["aeb_f1"] - resi["aeb_f1"], "TE": traf["te_f1"] - resi["te_f1"]}
    verdict = "; ".join(f"{k}: {'met' if v <= 0.03 else 'missed'}" for k, v in gaps.items())
    lines = [
        "# Extraction quality: trafilatura vs resiliparse",
        "",
        "Generated by `scripts/eval_extraction.py`" + (" --grid" if args.grid else "") + ". "
        "AEB = Zyte article-extraction benchmark (`extraction_scrapinghub_aeb`, 181 pages, gold "
        "articleBody; bag-of-words token P/R/F1 averaged over pages). TE = trafilatura's evaluation "
        "set (`extraction_trafilatura_eval`, 990 pages, mostly German; P/R/F1 over must-include / "
        "must-exclude snippets). Time is wall-clock per page on this machine (one core), extraction only.",
        "",
        HEADER,
        *(row(name, scores) for name, scores in results.items()),
        "",
        f"F1 gap (trafilatura - resiliparse): AEB {gaps['AEB']:+.3f}, TE {gaps['TE']:+.3f}. "
        f"Target: within 0.03 ({verdict}). resiliparse is "
        f"{traf['aeb_ms'] / resi['aeb_ms']:.0f}x / {traf['te_ms'] / resi['te_ms']:.0f}x faster per page.",
        "",
        f"resiliparse defaults (`RESILIPARSE_DEFAULTS` in `cc_curate/stages/extract.py`): "
        f"`{json.dumps(RESILIPARSE_DEFAULTS)}`, comments off. `edge_line_min_chars` is cc_curate's "
        "post-processing (leading/trailing lines shorter than that are dropped), not a resiliparse option.",
    ]
    if grid_rows:
        lines += ["", "## resiliparse options compared (each a change from the defaults)", "", HEADER, *grid_rows]
    lines += ["", NOTES]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
