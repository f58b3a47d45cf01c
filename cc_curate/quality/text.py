"""What a quality model reads: the pipeline's first words of a document, lowercased, on one line.

Training and scoring both go through :func:`model_input`, and both take their words from the
pipeline's per-language tokenizer (``stages.tokenize.get_tokenizer``), so a model sees at
inference exactly the tokens it was trained on, and the shard pass reuses the words it already
has (tokenize once).

A model reads at most ``max_words`` words (512 by default, a fixed cost per document, as
FineWeb-Edu's classifier reads 512 tokens); the limit is part of the model: training records it
in the model card, and scoring must use the same (``max_words`` of the model's recipe entry).
"""

from __future__ import annotations

from collections.abc import Sequence

from cc_curate.stages.tokenize import get_tokenizer

# fastText labels start with this prefix; a label value is the number after it ("__label__3").
LABEL_PREFIX = "__label__"


DEFAULT_MAX_WORDS = 512


def model_input(words: Sequence[str], max_words: int | None = DEFAULT_MAX_WORDS) -> str:
    """The first ``max_words`` words (None: all), lowercased, space-joined, on one line."""
    line = " ".join(words[:max_words] if max_words else words).lower()
    return line.replace("\n", " ") if "\n" in line else line  # fastText predicts one line


def text_input(text: str, lang: str, max_words: int | None = DEFAULT_MAX_WORDS) -> str:
    """:func:`model_input` of ``text`` tokenized with ``lang``'s pipeline tokenizer."""
    return model_input(get_tokenizer(lang).words(text), max_words)


def label_value(label: str) -> float:
    """The number a fastText label stands for: "__label__1" -> 1.0."""
    return float(label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else label)


def format_label(value: float) -> str:
    """The fastText label of a value: 1.0 -> "__label__1", 2.5 -> "__label__2.5"."""
    return f"{LABEL_PREFIX}{value:g}"
