"""What bad records and bad language labels can do to a run: nothing beyond themselves.

* A record that cannot be written (a lone surrogate in any field, a parquet string that is not
  UTF-8) is quarantined alone, with its reason; the rest of its file publishes. Real files of
  every input kind (WARC, WET, JSONL, Parquet) in one run.
* A language label from the LID model never names a path: a real fastText model (written by
  tests/fasttext_model.py) whose label is ``__label__../../escaped`` sends its documents to
  ``und_Zyyy``, counted; and the output layer refuses such a name before it touches storage.

Each test failed on the code before the fix (checked by reverting the fix): the JSONL and
Parquet shards were quarantined whole (``UnicodeEncodeError`` / ``UnicodeDecodeError``), and the
model's documents were published under ``OUT/../escaped_Latn``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cc_curate.output.publish import publish_language
from cc_curate.output.schema import STAGED, UnsafeLanguageName
from cc_curate.output.staging import commit_shard, read_ledger
from cc_curate.output.storage import Storage
from cc_curate.recipe import load_recipe
from cc_curate.runtime.driver import RunOptions, run
from cc_curate.settings import OutputSettings
from cc_curate.sources import RawRecord
from cc_curate.sources.inputs import shard_id_for
from cc_curate.stages.pipeline import DocumentPipeline

from .fasttext_model import write_model
from .faults_helpers import good_responses, gzip_members, http_response, prose_page, published_documents, warc_record, write_preset

pytestmark = pytest.mark.slow

LONE = "\udc00"


def prose(i: int) -> str:
    """Extracted-looking English text that the fast recipe keeps."""
    page = prose_page(i).decode()
    return " ".join(part.split("</h1>")[-1] for part in page.split("<p>")[1:]).replace("</p>", "\n")


def bad_jsonl(path: Path) -> tuple[set[str], set[str]]:
    """Good lines, and one line with a lone surrogate in each field; (good ids, bad ids as quarantined)."""
    good = [{"id": f"j-good-{i}", "url": f"http://j.example/{i}", "text": prose(100 + i)} for i in range(3)]
    bad = [
        {"id": f"j-bad-id-{LONE}", "url": "http://j.example/a", "text": prose(200)},
        {"id": "j-bad-url", "url": f"http://j.example/{LONE}", "text": prose(201)},
        {"id": "j-bad-date", "url": "http://j.example/c", "date": f"2024-01-01{LONE}", "text": prose(202)},
        {"id": "j-bad-text", "url": "http://j.example/d", "text": f"too short {LONE}"},  # would be removed
    ]
    lines = [json.dumps(row) for row in good[:2] + bad + good[2:]]  # json.dumps escapes the surrogate
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return {row["id"] for row in good}, {"j-bad-id-\\udc00", "j-bad-url", "j-bad-date", "j-bad-text"}


def bad_parquet(path: Path) -> tuple[set[str], int]:
    """Rows whose `text` or `id` bytes are not UTF-8 (Arrow writes them unchecked); (good ids, bad rows)."""
    texts = [prose(300 + i).encode() for i in range(3)] + [b"caf\xe9 latin-1 text", prose(310).encode()]
    ids = [f"p-good-{i}".encode() for i in range(3)] + [b"p-bad-text", b"p-bad-\xff"]
    table = pa.table({
        "text": pa.array(texts, pa.binary()).view(pa.string()),
        "id": pa.array(ids, pa.binary()).view(pa.string()),
        "url": pa.array([f"http://p.example/{i}" for i in range(5)]),
    })
    pq.write_table(table, path)
    return {f"p-good-{i}" for i in range(3)}, 2


def bad_header_warc(path: Path) -> set[str]:
    """A WARC whose headers hold bytes that are not UTF-8: read with U+FFFD, never a failure; published ids."""
    records = good_responses(2, prefix="w")
    odd = warc_record("response", http_response(prose_page("w-odd")), rid="w-odd-\xff",
                      url="http://w.example/\xed\xb0\x80")
    odd = odd.replace("w-odd-\xff".encode(), b"w-odd-\xff").replace("\xed\xb0\x80".encode(), b"\xed\xb0\x80")
    path.write_bytes(gzip_members([records[0], odd, records[1]]))
    return {"<urn:uuid:w-0000>", "<urn:uuid:w-0001>", "<urn:uuid:w-odd-\ufffd>"}


def bad_wet(path: Path) -> set[str]:
    """A WET conversion record whose text is not UTF-8: decoded with U+FFFD; published ids."""
    body = prose(400).encode() + b"\n\xff\xfe bytes that are not UTF-8\n"
    record = warc_record("conversion", body, rid="t-0", url="http://t.example/0", content_type="text/plain")
    path.write_bytes(gzip_members([record]))
    return {"<urn:uuid:t-0>"}


def test_a_record_that_cannot_be_written_is_quarantined_alone(tmp_path: Path, local_ray: None) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    jsonl_good, jsonl_bad = bad_jsonl(inputs / "docs.jsonl")
    parquet_good, parquet_bad = bad_parquet(inputs / "docs.parquet")
    warc_good = bad_header_warc(inputs / "pages.warc.gz")
    wet_good = bad_wet(inputs / "texts.warc.wet.gz")
    recipe = load_recipe(write_preset(tmp_path / "recipe", "dedup:\n  enabled: false\n"))
    out = tmp_path / "out"
    summary = run(RunOptions(recipe=recipe, output=str(out), inputs=[str(inputs)], workers=2))

    assert summary.quarantined == []  # no shard lost
    published = set(published_documents(out))
    removed = {row["id"] for f in out.glob("data/*_removed/train/*.parquet") for row in pq.read_table(f).to_pylist()}
    assert jsonl_good | parquet_good | warc_good | wet_good <= published | removed
    assert jsonl_good | parquet_good <= published

    ledger = read_ledger(Storage(str(out)))
    jsonl_id = shard_id_for(str(inputs / "docs.jsonl"))
    quarantined = [json.loads(line) for line in (out / "_quarantine/records" / f"{jsonl_id}.jsonl").read_text().splitlines()]
    assert {q["id"] for q in quarantined if q["reason"] == "unrepresentable"} == jsonl_bad
    assert all("lone surrogate" in q["detail"] for q in quarantined)
    assert ledger[jsonl_id]["counters"]["records.skipped.unrepresentable"] == len(jsonl_bad)
    parquet_id = shard_id_for(str(inputs / "docs.parquet"))
    quarantined = [json.loads(line) for line in (out / "_quarantine/records" / f"{parquet_id}.jsonl").read_text().splitlines()]
    assert sorted(q["detail"] for q in quarantined) == ["`id` is not UTF-8 (byte 0xff at 6)",
                                                         "`text` is not UTF-8 (byte 0xe9 at 3)"]
    assert ledger[parquet_id]["counters"]["records.skipped.unrepresentable"] == parquet_bad
    stats = json.loads((out / "stats.json").read_text())
    assert stats["check"]["records_add_up"]


def test_the_pipeline_quarantines_a_row_arrow_refuses(tmp_path: Path) -> None:
    """The net under the sources' check: a record that reaches the pipeline with a lone surrogate
    (here handed in directly) is quarantined alone when the batch becomes Arrow."""
    pipeline = DocumentPipeline(load_recipe(write_preset(tmp_path)))
    records = [RawRecord(f"r{i}", f"http://r.example/{i}", "", None, prose(500 + i), "utf-8") for i in range(3)]
    records.insert(1, RawRecord(f"r-bad-{LONE}", "http://r.example/bad", "", None, prose(510), "utf-8"))
    result = pipeline.process(records, dump="test", file_path="/in/x.jsonl")
    assert sorted(result.table["id"].to_pylist()) == ["r0", "r1", "r2"]
    assert [(q.id, q.reason) for q in result.quarantined] == [("r-bad-\\udc00", "unrepresentable")]
    assert result.counters["records.skipped.unrepresentable"] == 1


# ----------------------------------------------------------------------------- language names


def test_a_model_label_never_becomes_a_path(tmp_path: Path, local_ray: None) -> None:
    model = write_model(tmp_path / "evil.bin", {"hello": [1.0, 0.0], "world": [0.0, 1.0]},
                        {"__label__en": [8.0, 0.0], "__label__../../escaped": [0.0, 8.0]})
    inputs = tmp_path / "in"
    inputs.mkdir()
    rows = [{"id": f"hello-{i}", "text": ("hello " * 60).strip()} for i in range(2)]
    rows += [{"id": f"world-{i}", "text": ("world " * 60).strip()} for i in range(3)]
    (inputs / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = load_recipe(write_preset(tmp_path / "recipe", f"lid:\n  model: {model}\ndedup:\n  enabled: false\n"))
    out = tmp_path / "work" / "out"
    run(RunOptions(recipe=recipe, output=str(out), inputs=[str(inputs)], workers=1))

    outside = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*escaped*"))
    assert outside == []
    partitions = sorted(p.name for p in (out / "data").iterdir())
    assert set(partitions) <= {"eng_Latn", "eng_Latn_removed", "und_Zyyy", "und_Zyyy_removed"}
    languages = {row["id"]: row["language"] for f in (out / "data").glob("*/train/*.parquet")
                 for row in pq.read_table(f, columns=["id", "language"]).to_pylist()}
    assert languages == {**{f"hello-{i}": "eng" for i in range(2)}, **{f"world-{i}": "und" for i in range(3)}}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["counters"]["lid"]["unsafe_label"] == 3


@pytest.mark.parametrize("lang", ["../../escaped_Latn", "eng_Latn/../../x", "/abs_Latn", "", "eng_Latn_removed"])
def test_output_refuses_an_unsafe_language_name_before_writing(tmp_path: Path, lang: str) -> None:
    storage = Storage(str(tmp_path / "out"))
    row = {name: None for name in STAGED.names}
    row.update(text="some text", id="x", lang=lang, filter_signals=[])
    table = pa.Table.from_pylist([row], schema=STAGED)
    with pytest.raises(UnsafeLanguageName, match="refusing language partition"):
        commit_shard(storage, "shard", "/in/x.warc.gz", [table], [], {})
    with pytest.raises(UnsafeLanguageName):
        publish_language(storage, lang, table, OutputSettings())
    assert not (tmp_path / "out").exists() and not any(tmp_path.parent.glob("escaped*"))
