"""cc_curate: Common Crawl to per-language pretraining Parquet, FineWeb2-style, on Ray.

The Python API (docs/api.md):

* ``cc_curate.run(recipe, inputs, output, address=None, extra_stages=())`` -> RunSummary
* ``cc_curate.process(records, recipe)`` -> pyarrow.Table (the stages in-process, no Ray)
* ``cc_curate.Stage`` / ``FilterStage`` / ``Signal`` / ``setting``: write a stage (docs/extending.md)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Document", "FilterStage", "Resources", "Signal", "Stage", "process", "register", "run", "setting"]

# Loaded on first use, so that `import cc_curate` (and the CLI's start) stays cheap.
_LAZY = {
    "run": "cc_curate.api", "process": "cc_curate.api",
    "Stage": "cc_curate.stages.base", "FilterStage": "cc_curate.stages.base", "Signal": "cc_curate.stages.base",
    "Document": "cc_curate.stages.base", "Resources": "cc_curate.stages.base",
    "setting": "cc_curate.params", "register": "cc_curate.stages.registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cc_curate' has no attribute {name!r}")
