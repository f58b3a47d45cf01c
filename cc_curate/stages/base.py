"""The stage protocol: one declaration per stage owns its parameters, columns, signals and resources.

A stage is a class with a ``name``, a frozen ``Params`` dataclass (``cc_curate.params.setting``
for each key), and ``process_batch`` (or, for a quality filter, ``filter``). The recipe schema,
``recipes/defaults.yaml`` and ``docs/recipes.md`` are generated from these declarations; the
staged and published Arrow schemas add each stage's ``columns``; the report and calibration read
its ``signals``. Stages register by name (``cc_curate.stages.registry``), built-in or through the
``cc_curate.stages`` entry-point group.

Stages run in *phases*, in this order; within a phase, in the order the recipe's ``stages`` list
names them:

========== ===================================================== =========================
phase      what a stage of it does                                built-in stages
========== ===================================================== =========================
record     judge the record before extraction (URL, headers)      url_filter
extract    HTML -> text (a failure is a row with a reason)         extraction
language   set the document's language (whole batch at once)       lid
tokenize   split the text into words (once per document)           tokenize
filter     measure signals, return a removal reason or None        gopher_repetition, ...
annotate   add columns computed from text and words                minhash
finish     rewrite the text of the documents (after decisions)     text_fixes, pii
========== ===================================================== =========================

A stage never drops a row: it sets ``doc.filter_reason`` (the first one set wins). A document
removed in the record or extract phase has no text and skips the later phases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pyarrow as pa

from cc_curate.report.counters import Counters

PHASES = ("record", "extract", "language", "tokenize", "filter", "annotate", "finish")
Phase = Literal["record", "extract", "language", "tokenize", "filter", "annotate", "finish"]


@dataclass(frozen=True)
class NoParams:
    """For stages without recipe keys."""


@dataclass(frozen=True)
class Signal:
    """A value a stage measures into ``filter_signals``, and the recipe key that bounds it.

    ``direction`` "max": documents above the threshold are removed; "min": below. -1 and null
    always disable a rule; 0 disables it too where ``zero_disables`` (datatrove tests those
    thresholds for truth). A signal measured per n (``top_{n}_gram``) has ``"{n}"`` in its name
    and a ``[[n, threshold], ...]`` key.
    """

    name: str
    threshold: str | None  # the stage's param that bounds it; None: measured, not thresholded
    direction: Literal["max", "min"] = "max"
    zero_disables: bool = False
    calibrate: bool = True  # False: a count that does not depend on the language (left alone)

    @property
    def per_n(self) -> bool:
        return "{n}" in self.name


@dataclass(frozen=True)
class Resources:
    """What one instance of the stage needs; the runtime sizes its shard tasks from the recipe's stages."""

    num_cpus: float = 1.0
    memory_mb: int = 0
    num_gpus: float = 0.0


@dataclass
class QuarantinedRecord:
    """A record the pipeline could not process (listed in _quarantine/, kept as a removed row)."""

    id: str
    url: str
    reason: str
    detail: str = ""


@dataclass(eq=False)
class Document:
    """The shared per-document context every stage reads and writes.

    ``html`` is set for records that need extraction; ``text`` once extracted (or given);
    ``words`` once tokenized (shared by every filter and MinHash: tokenize once). ``columns``
    holds the values of the columns stages declare, ``signals`` what filters measured.
    """

    id: str
    url: str
    date: str | None
    html: str | None = None
    text: str | None = None
    lang: str | None = None  # "{iso639_3}_{Script}" once identified
    language: str | None = None
    language_script: str | None = None
    language_score: float | None = None
    top_langs: str = "{}"
    words: list[str] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)
    filter_reason: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)

    def remove(self, reason: str) -> None:
        """Record why the document is removed; the first reason set wins."""
        if self.filter_reason is None:
            self.filter_reason = reason


@dataclass(frozen=True)
class StageSetup:
    """What a stage may need besides its params, given once per worker when the pipeline is built."""

    languages: tuple[str, ...] = ()  # the run's selected languages (empty: all)
    recipe_path: str = ""  # for messages and paths relative to the recipe
    shared: dict[str, Any] = field(default_factory=dict)  # objects the runtime built once for every worker


@dataclass
class BatchContext:
    """What a batch's stages share besides documents: counters, quarantine list, timing moved to set-up."""

    counters: Counters = field(default_factory=Counters)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    setup_seconds: float = 0.0  # time a stage spent loading models on first use (not document work)


class Stage:
    """Base class of every stage. Subclasses declare the class attributes and override a method.

    Built once per worker process with the recipe's run-wide params (models and lists load
    once); ``params_for(lang)`` gives a language's params for per-language stages.
    """

    name: ClassVar[str]
    phase: ClassVar[Phase]
    Params: ClassVar[type] = NoParams
    doc: ClassVar[str] = ""
    # Where the params live in the recipe; None: the stage's name at the top level
    # (filters: ``filters.{name}``).
    section: ClassVar[tuple[str, ...] | None] = None
    per_language: ClassVar[bool] = False  # may a language file override its params?
    columns: ClassVar[tuple[pa.Field, ...]] = ()
    signals: ClassVar[tuple[Signal, ...]] = ()
    reasons: ClassVar[tuple[str, ...]] = ()  # filter_reason values it sets (for docs and the report)
    decides_before_dedup: ClassVar[bool] = False  # its removals apply before MinHash dedup
    resources: ClassVar[Resources] = Resources()
    needs_html: ClassVar[bool] = False
    timer: ClassVar[str | None] = None  # time.stage.{timer} counter; None: the stage's name

    def __init__(self, params: Any, params_for: Any = None) -> None:
        self.params = params
        self._params_for = params_for

    @classmethod
    def recipe_section(cls) -> tuple[str, ...]:
        if cls.section is not None:
            return cls.section
        return ("filters", cls.name) if cls.phase == "filter" else (cls.name,)

    @classmethod
    def has_params(cls) -> bool:
        return bool(dataclasses.fields(cls.Params))

    @classmethod
    def check(cls, params: Any) -> None:
        """Raise UserError when run-wide ``params`` cannot run (checked when a recipe that runs the
        stage loads, so the mistake is reported before any worker starts)."""

    @classmethod
    def published_columns(cls, params: Any) -> tuple[pa.Field, ...]:
        """Which of its columns the published and ``_removed`` partitions carry (none by default:
        FineWeb2's schema; word counts, MinHash signatures and hashes stay in staging)."""
        return ()

    def params_for(self, lang: str | None) -> Any:
        """This stage's params for documents of ``lang`` (the run-wide ones when not per language)."""
        if self._params_for is None or not self.per_language or lang is None:
            return self.params
        return self._params_for(lang)

    def setup(self, setup: StageSetup) -> None:
        """Called once after construction, with what the run shares with its stages."""

    def process_batch(self, docs: Sequence[Document], context: BatchContext) -> None:
        """Work on a batch; the default calls ``process`` per document."""
        for doc in docs:
            self.process(doc, self.params_for(doc.lang), context)

    def process(self, doc: Document, params: Any, context: BatchContext) -> None:
        raise NotImplementedError(f"stage {self.name} implements neither process nor process_batch")

    def to_arrow(self, column: str, values: Sequence[Any]) -> pa.Array | None:
        """Build one of the declared columns from the documents' values; None: pyarrow converts them."""
        return None


class FilterStage(Stage):
    """A quality filter: ``filter`` measures signals into ``doc.signals`` and returns a reason or None.

    Its params have ``enabled`` (a language file may switch it on or off). Reasons are
    ``"{name}:{rule}"``. Every enabled filter runs on every document (so every signal is there
    for re-thresholding); the first failing one, in the recipe's order, is the document's reason.
    """

    phase: ClassVar[Phase] = "filter"
    per_language: ClassVar[bool] = True
    timer: ClassVar[str | None] = "filters"

    def filter(self, doc: Document, params: Any) -> str | None:
        raise NotImplementedError

    def process(self, doc: Document, params: Any, context: BatchContext) -> None:
        if params.enabled:
            reason = self.filter(doc, params)
            if reason is not None:
                doc.remove(reason)


def run_filters(doc: Document, filters: Sequence[tuple[FilterStage, Any]]) -> str | None:
    """Run each enabled filter on ``doc`` in order; every signal is measured, the first reason wins.

    The one filter runner: the pipeline runs filters this way (per stage over a batch), and tests,
    calibration and parity scripts call it on single documents.
    """
    for stage, params in filters:
        stage.process(doc, params, BatchContext())
    return doc.filter_reason
