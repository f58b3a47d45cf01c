"""The stages keep their decisions: digests of what the presets publish on real pages.

The digests (scripts/decisions_digest.py: every column of every kept and ``_removed`` row, paths
reduced to file names) were computed on the code before the stage protocol (main at 2279e34: FineWeb2's
packaged per-language configs and FineWeb's URL lists in both presets; first computed on c1b975a) and are
stored here; a change to any stage that alters a kept document, its text or a column, or a
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
        "kept": "e4672936c2c348aa33bd2da55ed342a5730bbdbbd1f6220d85d38042075f1e37",
        "removed": "dc05435c03c549d5094e93d39e857504d073f1bd38a956d6afe19249466bcf16",
        "kept_rows": 35, "removed_rows": 5, "extraction_failed": 0,
    },
    ("demo", "fast"): {
        "kept": "0f823091fbb1b1adb0835746978538f49ee7382fe97431f6d85ad3699dd59fb8",
        "removed": "3c773d80fc836699a665fffbf7a4eccc1cc85099ae69d528d8fb7c22bed1d09a",
        "kept_rows": 32, "removed_rows": 8, "extraction_failed": 0,
    },
    ("realpages", "fast"): {
        "kept": "804d7d93db33a2c0d584d12b71050a044d909c912ef4fe90e209df3473641c0c",
        "removed": "9e77ac85431cb0e2b69f55dbad1d0c6f946e574c087c3dff8c4aed5b0d638af5",
        "kept_rows": 1412, "removed_rows": 770, "extraction_failed": 32,
    },
    ("realpages", "fineweb2"): {
        "kept": "7e6a43ab8ca9784853ea5237d4f38ba6ce47721093faf905856433ca5a5b2ec0",
        "removed": "2b9ed565091939002a43082c376fb9a822a1863b635f2f844c7e85c4d743d039",
        "kept_rows": 1478, "removed_rows": 715, "extraction_failed": 21,
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
