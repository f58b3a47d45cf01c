"""Where training examples come from: files of each format, a run's output folder, sampling."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cc_curate.errors import UserError
from cc_curate.output.schema import PUBLISHED
from cc_curate.quality.examples import Source, read_examples

GERMAN = [f"Der Rat hat am {day}. Mai über den Haushalt {day} beraten." for day in range(1, 31)]


def _published(path: Path, lang: str, texts: list[str]) -> None:
    """A Parquet file of a run's kept documents (``data/{lang}/train``), in the published schema."""
    language, script = lang.split("_")[:2]
    columns = {name: [None] * len(texts) for name in PUBLISHED.names}
    columns.update(text=texts, id=[f"<urn:{i}>" for i in range(len(texts))], language=[language] * len(texts),
                   language_script=[script] * len(texts))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pydict(columns, schema=PUBLISHED), path)


def test_a_run_output_gives_its_kept_documents_per_language(tmp_path):
    run = tmp_path / "run"
    _published(run / "data" / "deu_Latn" / "train" / "000_00000.parquet", "deu_Latn", GERMAN[:4])
    _published(run / "data" / "fra_Latn" / "train" / "000_00000.parquet", "fra_Latn", ["Le conseil a voté."])
    _published(run / "data" / "deu_Latn_removed" / "train" / "000_00000.parquet", "deu_Latn", ["removed"])
    examples = read_examples([Source(str(run), label=0.0)])
    assert sorted((e.lang, e.text) for e in examples) == sorted(
        [("deu_Latn", t) for t in GERMAN[:4]] + [("fra_Latn", "Le conseil a voté.")])
    assert read_examples([Source(str(run), label=0.0)], languages=["fra_Latn"])[0].text == "Le conseil a voté."
    with pytest.raises(UserError, match="a folder must be a cc_curate output"):
        read_examples([Source(str(tmp_path / "run" / "data"), label=0.0)])


def test_parquet_labels_text_files_and_globs(tmp_path):
    pq.write_table(pa.table({"body": GERMAN[:3], "grade": [0, 3, 5], "lang": ["deu_Latn"] * 3}), tmp_path / "g.parquet")
    graded = read_examples([Source(str(tmp_path / "g.parquet"), label_column="grade", text_column="body")])
    assert [e.label for e in graded] == [0.0, 3.0, 5.0] and {e.lang for e in graded} == {"deu_Latn"}
    with gzip.open(tmp_path / "a.txt.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(GERMAN[:5]) + "\n\n")
    (tmp_path / "b.txt").write_text("\n".join(GERMAN[5:7]), encoding="utf-8")
    texts = read_examples([Source(str(tmp_path / "*.txt*"), label=1.0, language="deu_Latn")])
    assert [e.text for e in texts] == GERMAN[:7]  # blank lines skipped, files in name order
    with pytest.raises(UserError, match=r"g.parquet: key 'label': no such column"):
        read_examples([Source(str(tmp_path / "g.parquet"), text_column="body")])
    with pytest.raises(UserError, match="no such file"):
        read_examples([Source(str(tmp_path / "missing.jsonl"), label=1.0)])


def test_a_sample_does_not_depend_on_how_the_files_are_split(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "all.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in GERMAN))
    (tmp_path / "two").mkdir()
    for i, part in enumerate((GERMAN[::2], GERMAN[1::2])):
        (tmp_path / "two" / f"{i}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in reversed(part)))
    sample = {e.text for e in read_examples([Source(str(tmp_path / "one" / "*.jsonl"), 1.0, language="deu_Latn",
                                                     limit=10)], seed=3)}
    again = {e.text for e in read_examples([Source(str(tmp_path / "two" / "*.jsonl"), 1.0, language="deu_Latn",
                                                    limit=10)], seed=3)}
    assert len(sample) == 10 and sample == again
    other_seed = {e.text for e in read_examples([Source(str(tmp_path / "one" / "*.jsonl"), 1.0, language="deu_Latn",
                                                         limit=10)], seed=4)}
    assert other_seed != sample


def test_a_source_url_keeps_its_credentials_out_of_examples_and_errors(tmp_path):
    """Examples (and so the model card) name a source by its public URL; errors too."""
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": GERMAN[0], "lang": "deu_Latn"}) + "\n")
    url = f"file://{tmp_path}/a.jsonl"
    assert read_examples([Source(url, label=1.0)])[0].source == url
    with pytest.raises(UserError) as error:
        read_examples([Source("memory://user:secret@bucket/missing.jsonl?X-Amz-Signature=abc", label=1.0)])
    assert "secret" not in str(error.value) and "abc" not in str(error.value)
