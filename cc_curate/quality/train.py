"""Train fastText quality classifiers: one per language, or one multilingual model.

Examples are split by a seeded hash of their text (identical texts land on the same side, so
copies cannot leak from training into the held-out set), tokenized with the pipeline's
tokenizer of their language, shuffled in a seeded order and written to fastText's input
format. Training runs on one thread, which makes it deterministic: the same examples, seed
and hyper-parameters give a byte-identical model. The held-out metrics are measured with the
inference library the pipeline uses, on the saved file.

Training needs ``fasttext-new`` (the ``quality`` extra): it trains in process and writes files
the original fastText and ``fasttext-predict`` read. The original bindings (``fasttext-wheel``)
install the same ``fasttext`` module as ``fasttext-predict`` and fail under NumPy 2.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cc_curate import __version__
from cc_curate.errors import UserError
from cc_curate.quality.card import write_card
from cc_curate.quality.examples import Example, Source, read_examples, sample_key
from cc_curate.quality.metrics import binary_metrics, graded_metrics, label_balance
from cc_curate.quality.scoring import QualityModel
from cc_curate.quality.text import DEFAULT_MAX_WORDS, format_label, text_input

MULTILINGUAL = "multilingual"


@dataclass(frozen=True)
class HyperParameters:
    """fastText's supervised settings (softmax loss, one thread)."""

    dim: int = 64
    epoch: int = 10
    lr: float = 0.1
    word_ngrams: int = 2
    min_count: int = 1
    bucket: int = 200_000  # hashed n-gram rows: model size ~ (vocabulary + bucket) x dim x 4 bytes

    def fasttext_args(self, seed: int) -> dict[str, Any]:
        return {"dim": self.dim, "epoch": self.epoch, "lr": self.lr, "wordNgrams": self.word_ngrams,
                "minCount": self.min_count, "bucket": self.bucket, "loss": "softmax", "thread": 1,
                "seed": seed, "verbose": 0}


@dataclass(frozen=True)
class TrainOptions:
    sources: Sequence[Source]
    out: Path
    languages: Sequence[str] = ()  # empty: every language found in the sources
    multilingual: bool = False
    holdout: float = 0.2
    seed: int = 0
    positive_threshold: float | None = None  # default: 1 for binary labels, the middle grade otherwise
    max_words: int | None = DEFAULT_MAX_WORDS  # words of each example the model reads; None: all
    hyper: HyperParameters = field(default_factory=HyperParameters)


@dataclass
class TrainedModel:
    name: str  # the language, or "multilingual"
    path: Path
    card: dict[str, Any]


def train(options: TrainOptions) -> list[TrainedModel]:
    """Train every model the options ask for; write each with its card into ``options.out``."""
    if not 0 < options.holdout < 1:
        raise UserError(f"holdout must be between 0 and 1, got {options.holdout}")
    examples = read_examples(options.sources, languages=options.languages, seed=options.seed)
    if not examples:
        raise UserError("no examples (check the sources and --language)")
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        groups[MULTILINGUAL if options.multilingual else example.lang].append(example)
    options.out.mkdir(parents=True, exist_ok=True)
    return [_train_one(name, groups[name], options) for name in sorted(groups)]


def _train_one(name: str, examples: list[Example], options: TrainOptions) -> TrainedModel:
    values = sorted({e.label for e in examples})
    if len(values) < 2:
        sources = ", ".join(sorted({e.source for e in examples}))
        raise UserError(f"{name}: every example of {sources} has label {values[0]:g}; a model needs at least two labels")
    binary = values == [0.0, 1.0]
    threshold = options.positive_threshold
    if threshold is None:
        threshold = 1.0 if binary else float(values[len(values) // 2])
    cut = int(options.holdout * 2**32)
    is_held = [sample_key(e.text, options.seed + 1) % 2**32 < cut for e in examples]
    held = [e for e, h in zip(examples, is_held) if h]
    trained = [e for e, h in zip(examples, is_held) if not h]
    if not held or not trained:
        raise UserError(f"{name}: {len(examples)} examples are too few to hold out {options.holdout:.0%}")
    trained.sort(key=lambda e: (sample_key(e.text, options.seed + 2), e.text))  # no runs of one label

    path = options.out / f"{name}.bin"
    _fit(trained, path, options)
    model = QualityModel(path, max_words=options.max_words)
    scores = [model.score_line(text_input(e.text, e.lang, options.max_words)) for e in held]
    score_cut = 0.5 if binary else threshold
    metrics: dict[str, Any] = {"all": _metrics(held, scores, binary, threshold, score_cut)}
    if name == MULTILINGUAL:
        for lang in sorted({e.lang for e in held}):
            pairs = [(e, s) for e, s in zip(held, scores) if e.lang == lang]
            metrics[lang] = _metrics([e for e, _ in pairs], [s for _, s in pairs], binary, threshold, score_cut)
    card = _card(name, path, examples, trained, held, values, binary, threshold, score_cut, metrics, options)
    write_card(options.out / name, card)
    return TrainedModel(name, path, card)


def _fit(examples: list[Example], path: Path, options: TrainOptions) -> None:
    try:
        import fasttext_new
    except ImportError:
        raise UserError("training needs the quality extra: pip install 'cc-curate[quality]'") from None
    with tempfile.TemporaryDirectory(prefix="cc_curate_quality_") as tmp:
        data = Path(tmp) / "train.txt"
        with data.open("w", encoding="utf-8", errors="replace") as out:  # as scoring replaces lone surrogates
            for e in examples:
                out.write(f"{format_label(e.label)} {text_input(e.text, e.lang, options.max_words)}\n")
        model = fasttext_new.train_supervised(input=str(data), **options.hyper.fasttext_args(options.seed))
    partial = path.with_name(path.name + ".part")  # renamed into place: never seen half-written
    model.save_model(str(partial))
    os.replace(partial, path)


def _metrics(held: list[Example], scores: list[float], binary: bool, threshold: float, score_cut: float) -> dict:
    labels = [e.label for e in held]
    result = binary_metrics(labels, scores, positive_threshold=threshold, score_threshold=score_cut)
    result["label_balance"] = label_balance(labels)
    if not binary:
        result.update(graded_metrics(labels, scores))
    return result


def _card(name: str, path: Path, examples: list[Example], trained: list[Example], held: list[Example],
          values: list[float], binary: bool, threshold: float, score_cut: float, metrics: dict,
          options: TrainOptions) -> dict[str, Any]:
    import fasttext_new

    by_source: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in examples:
        by_source[e.source][f"{e.label:g}"] += 1
    return {
        "model": path.name,
        "name": name,
        "kind": "binary" if binary else "graded",
        "labels": [f"{v:g}" for v in values],
        "score": "probability of label 1" if binary else "expected label value",
        "languages": sorted({e.lang for e in examples}),
        "positive_threshold": threshold,
        "score_threshold": score_cut,
        "sources": [{"path": src, "examples_per_label": dict(counts)} for src, counts in by_source.items()],
        "counts": {"train": len(trained), "holdout": len(held),
                   "train_label_balance": label_balance([e.label for e in trained])},
        "split": {"holdout": options.holdout, "seed": options.seed, "rule": "seeded xxh64 of the text"},
        "hyper_parameters": {**asdict(options.hyper), "loss": "softmax", "thread": 1, "seed": options.seed},
        "input": "the pipeline's words of each document (per-language tokenizer), lowercased, space-joined",
        "max_words": options.max_words,
        "metrics": metrics,
        "versions": {"cc_curate": __version__, "fasttext_new": fasttext_new.__version__},
    }
