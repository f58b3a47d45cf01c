"""FineWeb quality rules (Penedo et al. 2024), with datatrove's exact counting.

* lines are the text split on ``\\n`` with blank lines dropped (a line keeps its trailing spaces,
  so "end.  " does not count as ending in punctuation);
* ``line_punct_ratio``: share of lines ending in a stop character (default: every script's
  sentence-terminal punctuation); fails when *below* ``line_punct_thr`` (-1 disables; FineWeb2
  disables it for most languages), unless it is 0 and ``line_punct_exclude_zero`` is set;
* ``short_line_ratio``: share of lines of at most ``short_line_length`` characters, fails above
  ``short_line_thr``;
* ``char_dup_ratio``: characters of repeated non-blank lines over the characters of the text
  without newlines, fails above ``char_duplicates_ratio``;
* ``list_ratio``: newlines per word token, fails above ``new_line_ratio``.

Thresholds are used as given (0 is a real threshold here, as in datatrove); None or -1 disable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cc_curate.params import setting
from cc_curate.stages.base import Document, FilterStage, Signal
from cc_curate.stages.filters.gopher_quality import threshold
from cc_curate.stages.filters.gopher_repetition import find_duplicates
from cc_curate.stages.tokenize import TERMINAL_PUNCTUATION

NAME = "fineweb_quality"


@dataclass(frozen=True)
class FinewebQualityParams:
    """FineWeb2's values (datatrove's defaults: short_line_thr 0.67, char_duplicates_ratio 0.01)."""

    enabled: bool = setting(True, "Apply FineWeb quality rules")
    line_punct_thr: float = setting(0.12, "Min fraction of lines ending in punctuation (-1 disables)", low=-1.0)
    line_punct_exclude_zero: bool = setting(False, "Do not remove documents with 0 such lines")
    stop_chars: list[str] | None = setting(None, "Terminal punctuation characters (null: every script's)")
    short_line_thr: float = setting(-1, "Max fraction of short lines (-1 disables; FineWeb2: off)", low=-1.0)
    short_line_length: int = setting(30, "Lines shorter than this are short", low=1)
    char_duplicates_ratio: float = setting(0.1, "Max char fraction in duplicated lines (-1 disables)", low=-1.0)
    new_line_ratio: float = setting(0.3, "Max newlines per word (-1 disables)", low=-1.0)


def _ends_with_stop_char(lines: list[str], stop_chars: Any) -> int:
    if stop_chars is None:
        return sum(1 for line in lines if line[-1] in TERMINAL_PUNCTUATION)
    return sum(1 for line in lines if line.endswith(tuple(stop_chars)))


def fineweb_quality(text: str, words: list[str], params: FinewebQualityParams, signals: dict[str, float]) -> str | None:
    """Reason ``fineweb_quality:<rule>`` of the first failing FineWeb quality rule, or None."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return f"{NAME}:empty"
    n_lines = len(lines)
    short_length = params.short_line_length
    n_newlines = text.count("\n")
    values = {
        "line_punct_ratio": _ends_with_stop_char(lines, params.stop_chars) / n_lines,
        "short_line_ratio": sum(1 for line in lines if len(line) <= short_length) / n_lines,
        "char_dup_ratio": find_duplicates(lines)[1] / (len(text) - n_newlines),
        "list_ratio": n_newlines / len(words) if words else (float("inf") if n_newlines else 0.0),
    }
    signals.update(values)

    def t(key: str) -> Any:
        return threshold(getattr(params, key), zero_disables=False)

    punct = values["line_punct_ratio"]
    exempt = punct == 0 and params.line_punct_exclude_zero
    checks = (
        ("line_punct_ratio", (v := t("line_punct_thr")) is not None and punct < v and not exempt),
        ("short_line_ratio", (v := t("short_line_thr")) is not None and values["short_line_ratio"] > v),
        ("char_dup_ratio", (v := t("char_duplicates_ratio")) is not None and values["char_dup_ratio"] > v),
        ("list_ratio", (v := t("new_line_ratio")) is not None and values["list_ratio"] > v),
    )
    for rule, failed in checks:
        if failed:
            return f"{NAME}:{rule}"
    return None


class FinewebQuality(FilterStage):
    name = NAME
    doc = "FineWeb quality rules (Penedo et al. 2024): punctuation, short lines, duplicated lines, lists"
    Params = FinewebQualityParams
    signals = (
        Signal("line_punct_ratio", "line_punct_thr", "min"),
        Signal("short_line_ratio", "short_line_thr", "max"),
        Signal("char_dup_ratio", "char_duplicates_ratio", "max"),
        Signal("list_ratio", "new_line_ratio", "max"),
    )
    reasons = tuple(f"{NAME}:{rule}" for rule in ("empty", "line_punct_ratio", "short_line_ratio",
                                                   "char_dup_ratio", "list_ratio"))

    def filter(self, doc: Document, params: FinewebQualityParams) -> str | None:
        return fineweb_quality(doc.text or "", doc.words, params, doc.signals)
