"""The shard pass as a pure transform (no Ray): decisions recorded per row, rows never dropped."""

from __future__ import annotations

from pathlib import Path

import yaml

from cc_curate.output.schema import STAGED
from cc_curate.recipe import load_recipe
from cc_curate.sources import RawRecord
from cc_curate.stages.pipeline import DocumentPipeline

from .conftest import REPO_ROOT

ENGLISH = ("The committee met on Tuesday to discuss the budget of the town and the plans for the new "
           "library, which have been delayed for two years. Members said that the cost of the building "
           "had risen with the price of steel, and that the council would have to decide whether to "
           "borrow more money or to wait. A final vote is expected next month, after a public hearing "
           "where residents can give their views on the project and on the other proposals.")


def _pipeline(tmp_path: Path, **overrides) -> DocumentPipeline:
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({"base": str(REPO_ROOT / "recipes" / "fast.yaml"), **overrides}))
    return DocumentPipeline(load_recipe(preset))


def _record(n: int, text: str | None = None, html: str | None = None, url: str = "https://example.org/a") -> RawRecord:
    return RawRecord(id=f"<urn:uuid:{n:08d}>", url=url, date="2024-01-01T00:00:00Z", html=html, text=text, charset=None)


def test_rows_keep_their_reasons_and_schema(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, url_filter={"blocked_domains": ["blocked.example"]})
    records = [
        _record(1, text=ENGLISH),
        _record(2, text="A page that is far too short to keep, with only a few words in it."),
        _record(3, text=ENGLISH, url="https://www.blocked.example/page"),
        _record(4, html="<html><body><article><p>" + ENGLISH + "</p></article></body></html>"),
    ]
    result = pipeline.process(records, dump="CC-MAIN-2024-10", file_path="x.warc.gz")
    assert result.table.schema == STAGED
    rows = {r["id"]: r for r in result.table.to_pylist()}
    assert len(rows) == 4  # no row dropped
    assert rows["<urn:uuid:00000001>"]["filter_reason"] is None
    assert rows["<urn:uuid:00000001>"]["lang"] == "eng_Latn"
    assert rows["<urn:uuid:00000002>"]["filter_reason"].split(":")[0] in ("gopher_quality", "gopher_repetition")
    assert rows["<urn:uuid:00000003>"]["filter_reason"] == "url_filter"
    assert rows["<urn:uuid:00000004>"]["filter_reason"] is None  # extracted from HTML
    signals = dict(rows["<urn:uuid:00000001>"]["filter_signals"])
    assert "dup_line_frac" in signals and "gopher_alpha_words_ratio" in signals
    assert len(rows["<urn:uuid:00000001>"]["minhash"]) == 14 * 8


def test_optional_filters_apply_when_enabled(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, filters={"c4_badwords": {"enabled": True, "bad_words": ["steel"]}})
    table = pipeline.process([_record(1, text=ENGLISH)], dump="d", file_path="f").table
    assert table["filter_reason"].to_pylist() == ["c4_badwords:document_removed_with_badwords"]


def test_pii_is_masked_in_the_staged_text(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    text = ENGLISH + " Write to jane.doe@example.org or visit 93.184.216.34 (not 192.168.0.10)."
    staged = pipeline.process([_record(1, text=text)], dump="d", file_path="f").table["text"][0].as_py()
    assert "jane.doe@example.org" not in staged and "93.184.216.34" not in staged
    assert "192.168.0.10" in staged


def test_text_is_repaired_for_documents_that_may_be_kept_only(tmp_path: Path) -> None:
    """ftfy and the symbol-line fix run on documents no rule removed (FineWeb2 repairs kept text);
    a removed one keeps its extracted text, PII masked all the same."""
    pipeline = _pipeline(tmp_path, filters={"c4_badwords": {"enabled": True, "bad_words": ["mojibake"]}})
    broken = "The caf\u00c3\u00a9 opened again. "  # UTF-8 read as Latin-1: ftfy repairs it
    kept = broken + ENGLISH + "\n| | |\nThe hearing will take place in the hall of the old school, where the plans can be seen."
    removed = broken + "Its mojibake sign says jane.doe@example.org. " + ENGLISH
    rows = pipeline.process([_record(1, text=kept), _record(2, text=removed)], dump="d", file_path="f").table.to_pylist()
    assert rows[0]["filter_reason"] is None
    assert "caf\u00e9" in rows[0]["text"] and "| | |" not in rows[0]["text"]
    assert rows[1]["filter_reason"].startswith("c4_badwords")
    assert "caf\u00c3\u00a9" in rows[1]["text"] and "jane.doe@example.org" not in rows[1]["text"]
