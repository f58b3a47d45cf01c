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

from collections.abc import Mapping
from typing import Any

from cc_curate.stages.filters.gopher_quality import threshold
from cc_curate.stages.filters.gopher_repetition import find_duplicates
from cc_curate.stages.tokenize import TERMINAL_PUNCTUATION

NAME = "fineweb_quality"
DEFAULTS: dict[str, Any] = {
    "line_punct_thr": 0.12,
    "line_punct_exclude_zero": False,
    "stop_chars": None,
    "short_line_thr": 0.67,
    "short_line_length": 30,
    "char_duplicates_ratio": 0.01,
    "new_line_ratio": 0.3,
}


def _ends_with_stop_char(lines: list[str], stop_chars: Any) -> int:
    if stop_chars is None:
        return sum(1 for line in lines if line[-1] in TERMINAL_PUNCTUATION)
    return sum(1 for line in lines if line.endswith(tuple(stop_chars)))


def fineweb_quality(
    text: str, words: list[str], params: Mapping[str, Any], signals: dict[str, float]
) -> str | None:
    """Reason ``fineweb_quality:<rule>`` of the first failing FineWeb quality rule, or None."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return f"{NAME}:empty"
    n_lines = len(lines)
    short_length = params.get("short_line_length", DEFAULTS["short_line_length"])
    n_newlines = text.count("\n")
    values = {
        "line_punct_ratio": _ends_with_stop_char(lines, params.get("stop_chars")) / n_lines,
        "short_line_ratio": sum(1 for line in lines if len(line) <= short_length) / n_lines,
        "char_dup_ratio": find_duplicates(lines)[1] / (len(text) - n_newlines),
        "list_ratio": n_newlines / len(words) if words else (float("inf") if n_newlines else 0.0),
    }
    signals.update(values)

    def t(key: str) -> Any:
        return threshold(params, key, DEFAULTS, zero_disables=False)

    punct = values["line_punct_ratio"]
    exempt = punct == 0 and params.get("line_punct_exclude_zero", False)
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
