"""What ``cc-curate stages`` prints: every registered stage's declaration, as plain data."""

from __future__ import annotations

import dataclasses
from typing import Any

from cc_curate.params import defaults_of, spec_of
from cc_curate.recipe_schema import iter_keys
from cc_curate.stages.registry import BUILTIN, registered


def describe_stages() -> list[dict[str, Any]]:
    """One mapping per registered stage: name, phase, doc, params (with defaults), columns, signals."""
    out = []
    for name, stage in registered().items():
        defaults = defaults_of(stage.Params)
        params = []
        for dotted, key in iter_keys(spec_of(stage.Params)):
            params.append({"name": dotted, "default": defaults.get(dotted), "accepts": key.expected(), "doc": key.doc})
        out.append({
            "name": name,
            "phase": stage.phase,
            "doc": stage.doc or (stage.__doc__ or "").strip().split("\n")[0],
            "source": "built in" if stage in BUILTIN else f"{stage.__module__}.{stage.__qualname__}",
            "per_language": stage.per_language,
            "section": ".".join(stage.recipe_section()) if stage.has_params() else "",
            "params": params,
            "columns": [{"name": f.name, "type": str(f.type)} for f in stage.columns],
            "signals": [dataclasses.asdict(s) for s in stage.signals],
            "reasons": list(stage.reasons),
            "resources": dataclasses.asdict(stage.resources),
        })
    return out
