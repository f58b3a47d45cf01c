"""An example cc_curate stage, in one file: remove documents whose text matches a regular expression.

Installed with ``pip install -e examples/custom_stage``; a recipe runs it by naming it in
``stages`` and sets its params under ``filters.regex_filter`` (see docs/extending.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from cc_curate import Document, FilterStage, Signal, setting


@dataclass(frozen=True)
class RegexFilterParams:
    enabled: bool = setting(True, "Remove documents whose text matches `pattern` too often")
    pattern: str = setting(r"(?i)\blorem ipsum\b", "Regular expression (Python re) searched in the text")
    max_matches: int = setting(0, "Most matches a kept document may have", low=0)


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class RegexFilter(FilterStage):
    name = "regex_filter"
    doc = "Removes documents matching a regular expression more than max_matches times"
    Params = RegexFilterParams
    signals = (Signal("regex_matches", "max_matches", "max"),)  # written into filter_signals
    reasons = ("regex_filter:too_many_matches",)

    def filter(self, doc: Document, params: RegexFilterParams) -> str | None:
        matches = len(_compiled(params.pattern).findall(doc.text or ""))
        doc.signals["regex_matches"] = float(matches)
        return "regex_filter:too_many_matches" if matches > params.max_matches else None
