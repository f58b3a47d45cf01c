#!/usr/bin/env python
"""Regenerate tests/fixtures/datatrove_filters.jsonl.gz: datatrove's decisions and signals on real texts.

The fixture lets CI compare cc_curate's filter functions with datatrove's (FineWeb2's reference
code) without datatrove: ``tests/test_datatrove_fixture.py`` feeds each text and datatrove's own
word tokens to cc_curate's filters with the fineweb2 preset's settings for the language, and
requires the same reason per filter and the same signal per rule. Tokenizers are compared
elsewhere (docs/parity.md); this fixture pins the rules.

Sample (fixed, from the shared data folder): one window of 4 articles of every UDHR translation
whose language has a FineWeb2 config and a datatrove tokenizer that runs offline, and real web
pages of realpages_multilingual_warc (extracted and labelled by cc_curate, at most 25 per
language, cut to 4,000 characters at a line end). datatrove runs in its own virtual environment:

    python scripts/make_datatrove_fixture.py --venv path/to/venv-with-datatrove
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "datatrove_filters.jsonl.gz"
MAX_CHARS = 4000
WEB_PER_LANGUAGE = 25
WEB_RECORDS = 2215  # every record of the realpages WARC


def _parity_module():
    """scripts/parity_datatrove.py (UDHR corpus, datatrove's tokenizer table), imported by path."""
    spec = importlib.util.spec_from_file_location("parity_datatrove", REPO / "scripts" / "parity_datatrove.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cut(text: str) -> str:
    """At most MAX_CHARS characters, ending at a line end when there is one."""
    if len(text) <= MAX_CHARS:
        return text
    head = text[:MAX_CHARS]
    return head[: head.rfind("\n")] if "\n" in head else head


def udhr_sample(parity, data: Path) -> list[dict]:
    """The second window (articles 4-7, or the first when there is one) of every declaration."""
    by_code: dict[str, list[dict]] = {}
    for doc in parity.udhr_docs(data):
        if not doc["id"].endswith("/all"):
            by_code.setdefault(doc["id"].split("/")[1], []).append(doc)
    return [docs[1] if len(docs) > 1 else docs[0] for _, docs in sorted(by_code.items())]


def web_sample(data: Path) -> list[dict]:
    """Real pages, extracted and labelled as the fineweb2 preset does."""
    sys.path.insert(0, str(REPO))
    from cc_curate.recipe import load_recipe
    from cc_curate.sources import RawRecord, iter_records
    from cc_curate.sources.inputs import resolve_inputs
    from cc_curate.stages.extract import Extractor
    from cc_curate.stages.lid import LanguageIdentifier

    settings = load_recipe(REPO / "recipes" / "fineweb2.yaml").settings
    extractor, lid = Extractor(settings["extraction"]), LanguageIdentifier(settings["lid"])
    warc = data / "realpages_multilingual_warc" / "realpages-multilingual.warc.gz"
    docs, per_lang = [], {}
    for shard in resolve_inputs([str(warc)]):
        for record in iter_records(shard):
            if not isinstance(record, RawRecord) or "udhr.invalid" in record.url:
                continue
            try:
                text = extractor.extract(record.html or "", record.url)
            except Exception:  # noqa: BLE001 - a page the extractor cannot handle is not sampled
                continue
            if not text or len(text) < 200:
                continue
            lang = lid.predict([text])[0].lang
            if per_lang.get(lang, 0) >= WEB_PER_LANGUAGE:
                continue
            per_lang[lang] = per_lang.get(lang, 0) + 1
            docs.append({"id": f"realpages/{record.id}", "lang": lang, "text": cut(text)})
    return docs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--venv", type=Path, required=True, help="virtual environment with datatrove (and its tokenizers)")
    ap.add_argument("--shared-data", type=Path,
                    default=Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=FIXTURE)
    args = ap.parse_args()
    parity = _parity_module()
    configs = args.shared_data / "fineweb2_reference" / "configs"
    tokenizers = parity.datatrove_tokenizer_types(args.venv)
    docs = udhr_sample(parity, args.shared_data) + web_sample(args.shared_data)
    docs = [d for d in docs if (configs / f"{d['lang']}.yml").exists()
            and tokenizers.get(d["lang"]) in parity.OFFLINE_TOKENIZERS]
    print(f"{len(docs)} documents to ask datatrove about", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = Path(tmp, "in.jsonl"), Path(tmp, "out.jsonl")
        in_path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
        started = time.time()
        subprocess.run([str(args.venv / "bin" / "python"), str(REPO / "scripts" / "datatrove_worker.py"),
                        str(in_path), str(out_path), str(configs), "--signals"], check=True)
        print(f"datatrove: {time.time() - started:.0f} s", file=sys.stderr)
        answers = {row["id"]: row for row in map(json.loads, out_path.open(encoding="utf-8"))}
    version = subprocess.run([str(args.venv / "bin" / "python"), "-c",
                              "from importlib.metadata import version; print(version('datatrove'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    rows = [{**d, **{k: v for k, v in answers[d["id"]].items() if k != "id"}}
            for d in docs if "error" not in answers[d["id"]]]
    meta = {"meta": {"datatrove": version, "made": time.strftime("%Y-%m-%d"), "documents": len(rows),
                     "languages": len({r["lang"] for r in rows}),
                     "configs_sha1": hashlib.sha1(b"".join(p.read_bytes() for p in sorted(configs.glob("*.yml")))).hexdigest()}}
    blob = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in [meta, *rows]).encode("utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(gzip.compress(blob, compresslevel=9, mtime=0))
    print(f"wrote {args.out}: {len(rows)} documents, {meta['meta']['languages']} languages, "
          f"{args.out.stat().st_size / 1024:.0f} KiB", file=sys.stderr)


if __name__ == "__main__":
    main()
