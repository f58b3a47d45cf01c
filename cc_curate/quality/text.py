"""What a quality model reads: the pipeline's words of a document, lowercased, on one line.

Training and scoring both go through :func:`model_input`, and both take their words from the
pipeline's per-language tokenizer (``stages.tokenize.get_tokenizer``), so a model sees at
inference exactly the tokens it was trained on, and the shard pass reuses the words it already
has (tokenize once).
"""

from __future__ import annotations

from collections.abc import Sequence

from cc_curate.stages.tokenize import get_tokenizer

# fastText labels start with this prefix; a label value is the number after it ("__label__3").
LABEL_PREFIX = "__label__"


def model_input(words: Sequence[str]) -> str:
    """The words, lowercased and space-joined; whitespace inside a token cannot split a line."""
    return " ".join(" ".join(word.lower().split()) for word in words if not word.isspace())


def text_input(text: str, lang: str) -> str:
    """:func:`model_input` of ``text`` tokenized with ``lang``'s pipeline tokenizer."""
    return model_input(get_tokenizer(lang).words(text))


def label_value(label: str) -> float:
    """The number a fastText label stands for: "__label__1" -> 1.0."""
    return float(label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else label)


def format_label(value: float) -> str:
    """The fastText label of a value: 1.0 -> "__label__1", 2.5 -> "__label__2.5"."""
    return f"{LABEL_PREFIX}{value:g}"
