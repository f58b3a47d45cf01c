"""Issue 2's acceptance run: the whole realpages WARC through the FineWeb2 recipe.

2,214 real pages (UDHR in 448 languages plus extraction benchmarks). At least 40 language
partitions are published, and of the UDHR pages whose language lid.176 can name, at least 75%
land in their language's partition (lid.176 alone, on the extracted text, gets about 78%). The
report the run built renders in a real Chromium with its charts (screenshot checked).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from .conftest import REPO_ROOT
from .test_report import check_in_browser
from .test_run import cc_curate
from .test_same_decisions import check_same_decisions

pytestmark = pytest.mark.slow


def _check_realpages():
    spec = importlib.util.spec_from_file_location("check_realpages", REPO_ROOT / "scripts" / "check_realpages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


def test_realpages_fineweb2_run(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "out"
    warc = shared_data / "realpages_multilingual_warc" / "realpages-multilingual.warc.gz"
    cc_curate("run", "recipes/fineweb2.yaml", "--input", str(warc), "--output", str(out))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["check"] == {"records_add_up": True, "documents_add_up": True}
    assert stats["funnel"]["records_read"] == 2214
    result = _check_realpages()(out, shared_data)
    assert result["partitions_kept"] >= 40, result
    assert result["right_partition_rate"] >= 0.75, result
    check_same_decisions(out, "realpages", "fineweb2")
    check_in_browser(out / "report" / "index.html", tmp_path)
    again = cc_curate("run", "recipes/fineweb2.yaml", "--input", str(warc), "--output", str(out))
    assert "nothing to do" in again.stderr
