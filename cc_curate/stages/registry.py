"""Stages by name: the built-in ones, those other packages add through the ``cc_curate.stages``
entry-point group, and those registered in this process (``register``, or ``extra_stages`` of
``cc_curate.run``).

A package adds a stage with no change to cc_curate, in its ``pyproject.toml``::

    [project.entry-points."cc_curate.stages"]
    regex_filter = "my_package.module:RegexFilter"

The entry point's name must be the stage's ``name``. Entry points are read once per process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from cc_curate.errors import UserError
from cc_curate.quality.stage import Quality
from cc_curate.stages.base import PHASES, Resources, Signal, Stage
from cc_curate.stages.extract import Extraction
from cc_curate.stages.filters.c4_quality import C4Badwords, C4Quality
from cc_curate.stages.filters.fineweb_quality import FinewebQuality
from cc_curate.stages.filters.gopher_quality import GopherQuality
from cc_curate.stages.filters.gopher_repetition import GopherRepetition
from cc_curate.stages.filters.precision import Precision
from cc_curate.stages.filters.text_fixes import TextFixes
from cc_curate.stages.lid import Lid
from cc_curate.stages.minhash import MinHash
from cc_curate.stages.pii import Pii
from cc_curate.stages.tokenize import Tokenize
from cc_curate.stages.url_filter import UrlFilterStage

ENTRY_POINT_GROUP = "cc_curate.stages"
log = logging.getLogger(__name__)

# FineWeb2's stages, in its order: the default ``stages`` of a recipe. FineWeb2 runs its three
# quality filters, then (for contaminated languages) the precision filter; the C4 filters are
# off unless a recipe enables them.
FINEWEB2: tuple[type[Stage], ...] = (
    UrlFilterStage, Extraction, Lid, Tokenize,
    GopherRepetition, FinewebQuality, GopherQuality, C4Quality, C4Badwords, Precision,
    MinHash, TextFixes, Pii,
)
FINEWEB2_STAGES: tuple[str, ...] = tuple(stage.name for stage in FINEWEB2)
# Every built-in stage: FineWeb2's and those a recipe adds by naming them (model-based quality).
BUILTIN: tuple[type[Stage], ...] = (*FINEWEB2, Quality)

_registered: dict[str, type[Stage]] = {}


class StageError(UserError):
    """A stage that cannot be used (unknown name, bad declaration, a plugin that fails to load)."""


def register(stage: type[Stage]) -> type[Stage]:
    """Register a stage class in this process (also usable as a class decorator)."""
    check_declaration(stage)
    known = _builtin().get(stage.name)
    if known is not None and known is not stage:
        raise StageError(f"stage {stage.name!r}: a built-in stage has this name")
    _registered[stage.name] = stage
    return stage


@cache
def _builtin() -> dict[str, type[Stage]]:
    return {stage.name: stage for stage in BUILTIN}


@cache
def _plugins() -> tuple[dict[str, type[Stage]], dict[str, str]]:
    """(stages of the installed plugins by name, why each plugin that failed to load failed).

    A broken plugin does not stop runs that do not use it: it is an error only for a recipe
    that names it (``order``), and a warning otherwise.
    """
    found: dict[str, type[Stage]] = {}
    broken: dict[str, str] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            stage = point.load()
            check_declaration(stage)
            if stage.name != point.name:
                raise StageError(f"entry point {point.name!r} must be the stage's name {stage.name!r}")
            if stage.name in _builtin():
                raise StageError(f"{stage.name!r} is a built-in stage's name")
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code is reported the same way
            broken[point.name] = f"stage plugin {point.name!r} ({point.value}) failed to load: {type(exc).__name__}: {exc}"
            log.warning("%s", broken[point.name])
            continue
        found[stage.name] = stage
    return found, broken


def registered() -> dict[str, type[Stage]]:
    """Every stage this process knows, by name: built-in first, then plugins, then registered ones."""
    return {**_builtin(), **_plugins()[0], **_registered}


def check_declaration(stage: object) -> None:
    """A stage class declares a name, a known phase and a Params dataclass."""
    if not (isinstance(stage, type) and issubclass(stage, Stage)):
        raise StageError(f"{stage!r} is not a subclass of cc_curate.stages.Stage")
    name = getattr(stage, "name", None)
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise StageError(f"{stage.__name__}: name must be a lower-case identifier, not {name!r}")
    if getattr(stage, "phase", None) not in PHASES:
        raise StageError(f"stage {name!r}: phase must be one of {', '.join(PHASES)}")


def order(names: Sequence[str], extra: Iterable[type[Stage]] = ()) -> list[type[Stage]]:
    """The stage classes of a recipe's ``stages`` list, in running order (by phase, then as listed).

    Raises StageError naming the problem: an unknown stage, a stage named twice, or not exactly
    one stage for each of the extract, language and tokenize phases.
    """
    known = {**registered(), **{stage.name: stage for stage in extra}}
    stages = []
    for name in names:
        if name not in known:
            broken = _plugins()[1]
            raise StageError(broken.get(name) or f"unknown stage {name!r} (registered: {', '.join(known)})")
        if known[name] in stages:
            raise StageError(f"stage {name!r} is named twice")
        stages.append(known[name])
    for phase in ("extract", "language", "tokenize"):
        count = sum(stage.phase == phase for stage in stages)
        if count != 1:
            raise StageError(f"the stages must include exactly one {phase} stage, not {count}")
    return sorted(stages, key=lambda stage: PHASES.index(stage.phase))  # stable: listed order within a phase


@dataclass(frozen=True)
class Rule:
    """A threshold a signal is tested against: the stage, its recipe section and key, and how."""

    stage: str
    section: tuple[str, ...]
    key: str
    direction: str
    zero_disables: bool
    n: int | None  # for per-n signals: which pair of the [[n, threshold], ...] key
    calibrate: bool


def rules_for(signal: str, stages: Iterable[type[Stage]] | None = None) -> list[Rule]:
    """The recipe thresholds a ``filter_signals`` key is tested against, from the stages' declarations."""
    found = []
    for stage in (registered().values() if stages is None else stages):
        for declared in stage.signals:
            n = _match(declared, signal)
            if declared.threshold is not None and n is not False:
                found.append(Rule(stage.name, stage.recipe_section(), declared.threshold, declared.direction,
                                  declared.zero_disables, n, declared.calibrate))
    return found


def _match(declared: Signal, signal: str) -> int | None | bool:
    """None when ``signal`` is the declared one, its n for a per-n signal, False otherwise."""
    if not declared.per_n:
        return None if declared.name == signal else False
    pattern = re.escape(declared.name).replace(re.escape("{n}"), r"(\d+)")
    match = re.fullmatch(pattern, signal)
    return int(match.group(1)) if match else False


def pre_dedup_reasons(stages: Iterable[type[Stage]] | None = None) -> frozenset[str]:
    """The filter_reason values applied before MinHash dedup (FineWeb2: URL filter, LID threshold)."""
    return frozenset(reason for stage in (registered().values() if stages is None else stages)
                     if stage.decides_before_dedup for reason in stage.reasons)


def resources_of(stages: Iterable[type[Stage]]) -> Resources:
    """What one shard task running ``stages`` needs: the most CPUs and GPUs any stage asks for, and
    the memory of all (every stage's models live in the same worker process)."""
    stages = list(stages)
    return Resources(num_cpus=max((s.resources.num_cpus for s in stages), default=1.0),
                     memory_mb=sum(s.resources.memory_mb for s in stages),
                     num_gpus=max((s.resources.num_gpus for s in stages), default=0.0))
