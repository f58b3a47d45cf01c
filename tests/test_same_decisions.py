"""The stages keep their decisions: digests of what the presets publish on real pages.

The digests (scripts/decisions_digest.py: every column of every kept and ``_removed`` row, paths
reduced to file names) were computed on the code before the stage protocol (commit c1b975a) and
are stored here; a change to any stage that alters a kept document, its text or a column, or a
removed row, makes this fail. Rows removed for a failed or empty extraction are counted apart:
before the stage protocol they vanished from the staged rows; now each is a ``_removed`` row.
The realpages run with the fineweb2 preset is checked by tests/test_acceptance.py, which already
runs it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from .conftest import REPO_ROOT
from .test_run import run_in_process

pytestmark = pytest.mark.slow

DEMO = REPO_ROOT / "demo" / "demo.warc.gz"
REALPAGES = Path("realpages_multilingual_warc") / "realpages-multilingual.warc.gz"

# (input, preset) -> digest of the published rows, and how many records failed extraction.
DIGESTS: dict[tuple[str, str], dict[str, object]] = {
    ("demo", "fineweb2"): {
        "kept": "d55cc2e5dfa4a6bbc650f2a45003b28d2bd25dbb8ff96e8f1e2ee7eaa165a34e",
        "removed": "6e1597e6d7172b305dd9ee302e0f70e9bcd42e0451ffe0f8dc376545e6b90d3a",
        "kept_rows": 36, "removed_rows": 4, "extraction_failed": 0,
    },
    ("demo", "fast"): {
        "kept": "86b9a77a43241c3b1e44a6b62dea34cf8ff9da16eb355317ee0f6097972bef4e",
        "removed": "19dea4d795815f62d3452c0192f1a629dc455cd380af1cdd6f5dc2ed574ff09a",
        "kept_rows": 33, "removed_rows": 7, "extraction_failed": 0,
    },
    ("realpages", "fast"): {
        "kept": "a8615e238c401fd756c384eeb0e5559c880df48d2d8953ce5a81998fa2cb9d3e",
        "removed": "0a56838c9ba9fc6fd754685865896c0e9820c30f157e491d2dbb636b147f6d60",
        "kept_rows": 1464, "removed_rows": 718, "extraction_failed": 32,
    },
    ("realpages", "fineweb2"): {
        "kept": "f2e10b034925a54ce62edcc8edd1ebdc1b1177391a2369e36a68dceab1019a4c",
        "removed": "ff3829cb9b773fa285184ee4932bb78f8cac3a12981b3644e8cfabfefe24e549",
        "kept_rows": 1533, "removed_rows": 660, "extraction_failed": 21,
    },
}


def _digest_module():
    spec = importlib.util.spec_from_file_location("decisions_digest", REPO_ROOT / "scripts" / "decisions_digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_same_decisions(out: Path, source: str, preset: str) -> None:
    """Assert that the run in ``out`` published what the stored digest says."""
    expected = DIGESTS[(source, preset)]
    found = _digest_module().digest(out)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["funnel"]["extraction_failed"] == expected["extraction_failed"]
    assert {k: found[k] for k in ("kept", "removed", "kept_rows", "removed_rows")} == {
        k: expected[k] for k in ("kept", "removed", "kept_rows", "removed_rows")
    }


@pytest.mark.parametrize(("source", "preset"), [("demo", "fineweb2"), ("demo", "fast"), ("realpages", "fast")])
def test_presets_publish_the_same_documents(source: str, preset: str, tmp_path: Path, shared_data: Path,
                                            local_ray: None) -> None:
    warc = DEMO if source == "demo" else shared_data / REALPAGES
    out = tmp_path / "out"
    run_in_process(f"recipes/{preset}.yaml", out, [str(warc)], workers=2)
    check_same_decisions(out, source, preset)
