"""Quality scores of documents from one or more fastText models, each mapped to languages.

A model's score of a document is the expected value of its labels under the model's
probabilities: for a binary model (labels 0 and 1) the probability of the positive label, for a
graded one (FineWeb-Edu's 0-5) the expected grade. Models with named labels (DCLM's
``__label__hq`` / ``__label__cc``) name their positive label and score as binary.

A :class:`ModelSpec` maps a model to languages: ``languages`` empty means every language (a
default or multilingual model); a ``path`` containing ``{lang}`` is one file per language (a
model per language), and then ``languages`` must list them. Paths may be URLs (fsspec): a URL
is downloaded once per machine into the model cache, and every model loads once per process
(the scorer is built once per worker).

Inference uses ``fasttext-predict`` (the package's LID library); models trained by
``cc-curate quality train`` (``fasttext-new``) and by the original fastText load alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cc_curate.errors import UserError
from cc_curate.quality.text import DEFAULT_MAX_WORDS, LABEL_PREFIX, model_input
from cc_curate.redaction import redact
from cc_curate.stages.lid import default_cache_dir, resolve_model

SCORE_COLUMN = "quality_score"
MODEL_NAME = re.compile(r"[a-z][a-z0-9_]*")


def model_column(name: str) -> str:
    """The column holding one model's scores: ``quality_score_{name}``."""
    return f"{SCORE_COLUMN}_{name}"


@dataclass(frozen=True)
class ModelSpec:
    """One quality model: its name (column suffix), file, languages and ensemble weight."""

    name: str
    path: str
    languages: tuple[str, ...] = ()  # empty: every language
    weight: float = 1.0  # in the weighted mean that makes ``quality_score``
    positive_label: str | None = None  # for models whose labels are names, not numbers
    max_words: int | None = DEFAULT_MAX_WORDS  # words the model reads (its card's max_words); None: all

    def __post_init__(self) -> None:
        if not MODEL_NAME.fullmatch(self.name):
            raise UserError(f"quality model {self.name!r}: a name is lowercase letters, digits and _")
        if "{lang}" in self.path and not self.languages:
            raise UserError(f"quality model {self.name!r}: a path with {{lang}} needs its list of languages")
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise UserError(f"quality model {self.name!r}: weight must be a positive number, got {self.weight!r}")

    def applies_to(self, lang: str) -> bool:
        return not self.languages or lang in self.languages

    def path_for(self, lang: str) -> str:
        return self.path.replace("{lang}", lang)


class QualityModel:
    """One loaded fastText classifier and the value of each of its labels."""

    def __init__(self, path: str | Path, *, positive_label: str | None = None, cache_dir: str | Path | None = None,
                 max_words: int | None = DEFAULT_MAX_WORDS):
        import fasttext  # fasttext-predict

        self.max_words = max_words
        shown = redact(str(path))
        if "://" not in str(path) and not Path(path).expanduser().is_file():
            raise UserError(f"quality model file not found: {shown}")
        local = resolve_model(str(path), cache_dir or default_cache_dir().parent / "quality")
        self._model = fasttext.load_model(str(local))
        labels, _ = self._model.predict("", k=-1)
        self.labels = tuple(sorted(labels))
        self.values = {label: _label_value(label, positive_label, shown) for label in self.labels}

    @property
    def value_range(self) -> tuple[float, float]:
        """The lowest and highest score this model can give (its smallest and largest label value)."""
        return min(self.values.values()), max(self.values.values())

    def score_line(self, line: str) -> float:
        """The expected label value of one line of model input (``text.model_input``)."""
        try:
            labels, probs = self._model.predict(line, k=-1, on_unicode_error="replace")
        except (UnicodeError, TypeError):  # lone surrogates (lossy decode) cannot go to C++ as UTF-8
            labels, probs = self._model.predict(line.encode("utf-8", "replace").decode("utf-8"), k=-1)
        # fastText adds 1e-5 to each probability; normalising keeps a binary score within [0, 1].
        total = sum(probs)
        return sum(self.values[label] * p for label, p in zip(labels, probs)) / total

    def score_words(self, words: Sequence[str]) -> float:
        return self.score_line(model_input(words, self.max_words))


def _label_value(label: str, positive: str | None, shown: str) -> float:
    name = label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else label
    if positive is not None:
        return 1.0 if name == positive.removeprefix(LABEL_PREFIX) else 0.0
    try:
        return float(name)
    except ValueError:
        raise UserError(f"quality model {shown}: label {name!r} is not a number; name the positive label") from None


class QualityScorer:
    """Scores documents with every model that applies to their language; built once per worker."""

    def __init__(self, specs: Sequence[ModelSpec], *, cache_dir: str | Path | None = None):
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise UserError(f"quality models: duplicate names in {names}")
        self.specs = tuple(specs)
        self.cache_dir = cache_dir
        self._models: dict[tuple[str, str], QualityModel] = {}

    @property
    def columns(self) -> tuple[str, ...]:
        """``quality_score`` then one column per model, in the order of the specs."""
        return (SCORE_COLUMN, *(model_column(spec.name) for spec in self.specs))

    def model(self, spec: ModelSpec, lang: str) -> QualityModel:
        """The model ``spec`` uses for ``lang``, loaded on first use."""
        path = spec.path_for(lang)
        key = (spec.name, path)
        if key not in self._models:
            self._models[key] = QualityModel(path, positive_label=spec.positive_label, cache_dir=self.cache_dir,
                                             max_words=spec.max_words)
        return self._models[key]

    def score(self, lang: str, words: Sequence[str]) -> dict[str, float | None]:
        """Every column for one document: null where no model applies to ``lang``."""
        row: dict[str, float | None] = dict.fromkeys(self.columns)
        weighted = weights = 0.0
        for spec in self.specs:
            if spec.applies_to(lang):
                score = self.model(spec, lang).score_words(words)
                row[model_column(spec.name)] = score
                weighted += spec.weight * score
                weights += spec.weight
        if weights:
            row[SCORE_COLUMN] = weighted / weights
        return row

    def value_ranges(self, lang: str) -> Mapping[str, tuple[float, float]]:
        """Each applicable model's score range for ``lang`` (the span its buckets' histogram covers)."""
        ranges = {model_column(s.name): self.model(s, lang).value_range for s in self.specs if s.applies_to(lang)}
        if ranges:
            ranges[SCORE_COLUMN] = (min(lo for lo, _ in ranges.values()), max(hi for _, hi in ranges.values()))
        return ranges
