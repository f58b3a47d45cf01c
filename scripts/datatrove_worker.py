#!/usr/bin/env python
"""Ask datatrove (FineWeb2's reference code) what it decides and measures, for the parity tools.

Runs INSIDE a virtual environment that has datatrove (never cc_curate's own: datatrove is not a
dependency of the package); ``scripts/parity_e2e.py`` and ``scripts/make_datatrove_fixture.py``
call it as ``VENV/bin/python scripts/datatrove_worker.py IN.jsonl OUT.jsonl CONFIGS_DIR [--signals]``.

Each input line is ``{"id", "lang", "text"}``. Each output line holds, with the FineWeb2 config of
``lang`` set exactly as FineWeb2's pipeline set it:

* ``tokens``: datatrove's word tokens of the text (``split_into_words``);
* ``decisions``: per filter (GopherRepetitionFilter, FineWebQualityFilter, GopherQualityFilter),
  datatrove's reason (``"<filter>:<rule>"``) or null when it keeps the document; every filter
  runs on every document;
* with ``--signals``, ``signals``: the value each rule compares with its threshold, as datatrove's
  own filter sees it. datatrove does not expose these numbers, so each one is found from its
  decisions alone: the rule is run on its own (every other rule off) and its threshold moved by
  bisection until the decision flips; the flip point is the measured value (to ~1e-12).

A document whose tokenizer cannot run here (Stanza and botok download models) gets ``error``.
"""

from __future__ import annotations

import json
import logging
import sys
from functools import lru_cache
from pathlib import Path

FILTER_ORDER = ("gopher_repetition", "fineweb_quality", "gopher_quality")
OFF = float("inf")


def main(in_path: str, out_path: str, configs_dir: str, with_signals: bool) -> None:
    import yaml
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        fineweb_quality_filter,
        gopher_quality_filter,
        gopher_repetition_filter,
    )
    from datatrove.utils import text as dt_text
    from loguru import logger

    logger.remove()
    logging.disable(logging.WARNING)

    # Bisection calls a filter ~50 times per rule: tokenize each text once.
    cached_split = lru_cache(maxsize=8)(dt_text.split_into_words)
    for module in (gopher_repetition_filter, fineweb_quality_filter, gopher_quality_filter):
        module.split_into_words = cached_split

    configs: dict[str, dict] = {}

    def config(lang: str) -> dict:
        if lang not in configs:
            configs[lang] = yaml.safe_load(Path(configs_dir, f"{lang}.yml").read_text(encoding="utf-8"))
        return configs[lang]

    def fineweb2_filters(lang: str) -> tuple:
        """The three filters as FineWeb2's pipeline configured them for ``lang``."""
        cfg = config(lang)
        return (
            GopherRepetitionFilter(language=lang, dup_para_frac=0, dup_line_char_frac=0, dup_para_char_frac=0,
                                   dup_line_frac=cfg["dup_line_frac"], top_n_grams=cfg["top_n_grams"],
                                   dup_n_grams=cfg["dup_n_grams"]),
            FineWebQualityFilter(language=lang, short_line_thr=999, char_duplicates_ratio=0.1,
                                 line_punct_thr=cfg["line_punct_thr"], new_line_ratio=cfg["new_line_ratio"]),
            GopherQualityFilter(language=lang, max_avg_word_length=cfg["max_avg_word_length"],
                                min_avg_word_length=cfg["min_avg_word_length"], stop_words=cfg["stopwords"],
                                max_non_alpha_words_ratio=cfg["max_non_alpha_words_ratio"], min_stop_words=2),
        )

    # One rule on its own: (signal name, bound, build(threshold) -> filter, reasons that count).
    # "max": removed when the value is above the threshold; "min": below.
    def rules(lang: str) -> list[tuple]:
        stop_words = config(lang)["stopwords"]
        rep_off = dict(dup_para_frac=0, dup_para_char_frac=0, dup_line_frac=0, dup_line_char_frac=0,
                       top_n_grams=(), dup_n_grams=())
        fw_off = dict(line_punct_thr=-OFF, short_line_thr=OFF, char_duplicates_ratio=OFF, new_line_ratio=OFF)
        gq_off = dict(min_doc_words=0, max_doc_words=None, min_avg_word_length=None, max_avg_word_length=None,
                      max_symbol_word_ratio=None, max_bullet_lines_ratio=None, max_ellipsis_lines_ratio=None,
                      max_non_alpha_words_ratio=None, min_stop_words=0, stop_words=stop_words)

        def rep(**kw):
            return lambda t: GopherRepetitionFilter(language=lang, **{**rep_off, **{k: v(t) for k, v in kw.items()}})

        def fw(**kw):
            return lambda t: FineWebQualityFilter(language=lang, **{**fw_off, **{k: v(t) for k, v in kw.items()}})

        def gq(**kw):
            return lambda t: GopherQualityFilter(language=lang, **{**gq_off, **{k: v(t) for k, v in kw.items()}})

        same = lambda t: t  # noqa: E731
        out = [
            ("dup_para_frac", "max", rep(dup_para_frac=same), None),
            ("dup_para_char_frac", "max", rep(dup_para_char_frac=same), None),
            ("dup_line_frac", "max", rep(dup_line_frac=same), None),
            ("dup_line_char_frac", "max", rep(dup_line_char_frac=same), None),
        ]
        out += [(f"top_{n}_gram", "max", rep(top_n_grams=lambda t, n=n: ((n, t),)), None) for n in (2, 3, 4)]
        out += [(f"duplicated_{n}_n_grams", "max", rep(dup_n_grams=lambda t, n=n: ((n, t),)), None)
                for n in range(5, 11)]
        out += [
            ("line_punct_ratio", "min", fw(line_punct_thr=same), None),
            ("short_line_ratio", "max", fw(short_line_thr=same), None),
            ("char_dup_ratio", "max", fw(char_duplicates_ratio=same), None),
            ("list_ratio", "max", fw(new_line_ratio=same), None),
            ("gopher_words", "min", gq(min_doc_words=same), None),
            ("gopher_avg_word_length", "max", gq(max_avg_word_length=same), None),
            # hashes and ellipses share one threshold; hashes are tested first, so "removed for
            # hashes" isolates the hash ratio and "removed for either" measures the larger one
            ("gopher_hash_ratio", "max", gq(max_symbol_word_ratio=same), {"gopher_too_many_hashes"}),
            ("gopher_symbol_ratio_max", "max", gq(max_symbol_word_ratio=same), None),
            ("gopher_bullet_lines_ratio", "max", gq(max_bullet_lines_ratio=same), None),
            ("gopher_end_ellipsis_lines_ratio", "max", gq(max_ellipsis_lines_ratio=same), None),
            ("gopher_alpha_words_ratio", "min", gq(max_non_alpha_words_ratio=same), None),
            ("gopher_stop_words", "min", gq(min_stop_words=same), None),
        ]
        return out

    def removed(flt, doc, reasons) -> bool:
        result = flt.filter(doc)
        if result is True:
            return False
        return reasons is None or (isinstance(result, tuple) and result[1] in reasons)

    def measure(build, bound: str, doc, reasons) -> float | None:
        """The flip point of one rule's decision, by bisection of its threshold."""
        lo, hi = -1.0, 1e6  # "max": removed at lo, kept at hi; "min": kept at lo, removed at hi
        if bound == "max" and not removed(build(lo), doc, reasons):
            return None  # never removed: the rule did not measure anything (e.g. no n-grams)
        for _ in range(70):
            mid = (lo + hi) / 2
            if removed(build(mid), doc, reasons) == (bound == "max"):
                lo = mid
            else:
                hi = mid
        return hi if bound == "max" else lo

    with open(in_path, encoding="utf-8") as fin, open(out_path, "w", encoding="utf-8") as fout:
        for line in fin:
            doc = json.loads(line)
            row: dict = {"id": doc["id"]}
            try:
                row["tokens"] = cached_split(doc["text"], doc["lang"])
                document = Document(text=doc["text"], id=doc["id"])
                row["decisions"] = {}
                for name, flt in zip(FILTER_ORDER, fineweb2_filters(doc["lang"])):
                    res = flt.filter(document)
                    row["decisions"][name] = None if res is True else f"{name}:{res[1] if isinstance(res, tuple) else 'False'}"
                if with_signals:
                    row["signals"] = {}
                    for signal, bound, build, reasons in rules(doc["lang"]):
                        value = measure(build, bound, document, reasons)
                        if value is not None:
                            row["signals"][signal] = value
            except Exception as exc:  # a tokenizer that cannot run here: reported, not compared
                row = {"id": doc["id"], "error": f"{type(exc).__name__}: {exc}"[:300]}
            fout.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--signals"]
    main(*args, with_signals="--signals" in sys.argv)
