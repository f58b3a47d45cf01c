"""The published release: loads in DuckDB and Polars, carries rehydration weights, writes its distributions."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from cc_curate.dedup.rehydration import copies_for, weights_from_distribution

from .conftest import REPO_ROOT
from .test_run import cc_curate, published_documents

pytestmark = pytest.mark.slow


MAX_COPIES = 5


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, local_ray: None) -> Path:  # noqa: F811
    folder = tmp_path_factory.mktemp("release")
    preset = folder / "column.yaml"
    preset.write_text(yaml.safe_dump({"base": str(REPO_ROOT / "recipes" / "demo.yaml"),
                                      "output": {"rehydration": "column", "max_file_bytes": 1000,
                                                 "max_copies": MAX_COPIES}}))
    out = folder / "out"
    # clusters of two in English and German, with quality removal rates below those of single pages
    inputs = [str(REPO_ROOT / "demo" / "demo.warc.gz"),
              str(shared_data / "cc_warc_samples" / "resiliparse-CC-MAIN-2020-34-sample.warc.gz")]
    run(preset, out, inputs)
    return out


def run(preset: Path, out: Path, inputs: list[str]) -> None:
    from cc_curate.recipe import load_recipe
    from cc_curate.runtime.driver import RunOptions, run as run_pipeline

    run_pipeline(RunOptions(recipe=load_recipe(preset), output=str(out), inputs=inputs))


def test_duckdb_and_polars_read_the_release(release: Path) -> None:
    expected = published_documents(release)
    glob = str(release / "data" / "*" / "train" / "*.parquet")
    kept_glob = [str(p) for p in release.glob("data/*/train/*.parquet") if not p.parts[-3].endswith("_removed")]
    rows = duckdb.sql(f"SELECT id, language, language_script FROM read_parquet({kept_glob!r})").fetchall()
    assert {r[0] for r in rows} == set(expected)
    frame = pl.scan_parquet(kept_glob).select("id", "minhash_cluster_size", "rehydration_copies").collect()
    assert frame.height == len(expected)
    assert frame["rehydration_copies"].min() >= 1
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', union_by_name=true)").fetchall()[0][0] >= len(expected)


def test_files_rotate_at_the_target_size(release: Path) -> None:
    names = sorted(p.name for p in release.glob("data/eng_Latn/train/*.parquet"))
    assert names[:2] == ["000_00000.parquet", "000_00001.parquet"]  # 1 kB target: several files
    rows = sum(pq.read_metadata(release / "data" / "eng_Latn" / "train" / n).num_rows for n in names)
    assert rows == len([1 for lang, _ in published_documents(release).values() if lang == "eng_Latn"])


def test_run_writes_its_rehydration_distributions(release: Path) -> None:
    folder = release / "rehydration" / "distributions"
    files = sorted(folder.glob("*.json"))
    assert files
    distribution = json.loads(files[0].read_text())
    assert {"cluster_sizes", "cluster_removal_rates", "global_removal_rate"} <= set(distribution)
    result = cc_curate("rehydration-weights", "--distributions", str(folder), "--max-copies", "5")
    weights = json.loads(result.stdout)
    assert set(weights) == {f.stem for f in files}


def kept_rows(out: Path, columns: list[str]) -> list[tuple[str, dict]]:
    """(language, row) of every kept document (every copy, in repeat mode), file by file."""
    return [(f.parts[-3], row) for f in sorted(out.glob("data/*/train/*.parquet")) if not f.parts[-3].endswith("_removed")
            for row in pq.read_table(f, columns=columns).to_pylist()]


def expected_copies(out: Path, lang: str, cluster_size: int | None) -> int:
    """The copies the run's own distribution for ``lang`` gives a document of ``cluster_size``."""
    path = out / "rehydration" / "distributions" / f"{lang}.json"
    weights = weights_from_distribution(json.loads(path.read_text()), MAX_COPIES) if path.exists() else {}
    return copies_for(cluster_size or 1, weights)


def test_copies_follow_cluster_sizes_and_weights(release: Path) -> None:
    """Column mode: every kept document's copies are its language's weight for its cluster size, the
    weights being those of the run's own distribution. Checked to fail with `_copies` returning 1."""
    rows = kept_rows(release, ["minhash_cluster_size", "rehydration_copies"])
    assert len(rows) == len(published_documents(release))
    for lang, row in rows:
        assert row["rehydration_copies"] == expected_copies(release, lang, row["minhash_cluster_size"]), lang
    assert max(row["rehydration_copies"] for _, row in rows) == MAX_COPIES  # not all 1: the check can fail
    stats = json.loads((release / "stats.json").read_text())
    assert sum(row["rehydration_copies"] for _, row in rows) == \
           sum(s["rehydrated_documents"] for s in stats["languages"].values())


def test_repeat_mode_repeats_documents(tmp_path: Path, local_ray: None) -> None:  # noqa: F811
    """Repeat mode: each kept document appears, consecutively, as many times as its language's weight
    for its cluster size (the demo has English clusters of two, which get more than one copy).
    Checked to fail with `_copies` returning 1."""
    preset = tmp_path / "repeat.yaml"
    preset.write_text(yaml.safe_dump({"base": str(REPO_ROOT / "recipes" / "demo.yaml"),
                                      "output": {"rehydration": "repeat", "max_copies": MAX_COPIES}}))
    out = tmp_path / "out"
    run(preset, out, [str(REPO_ROOT / "demo" / "demo.warc.gz")])
    rows = kept_rows(out, ["id", "minhash_cluster_size"])
    ids = [row["id"] for _, row in rows]
    expected = {row["id"]: expected_copies(out, lang, row["minhash_cluster_size"]) for lang, row in rows}
    assert Counter(ids) == expected
    assert max(expected.values()) == MAX_COPIES
    assert len([i for n, i in enumerate(ids) if n == 0 or ids[n - 1] != i]) == len(expected)  # consecutive
    stats = json.loads((out / "stats.json").read_text())
    assert len(ids) == sum(s["rehydrated_documents"] for s in stats["languages"].values())


def test_dataset_card(release: Path) -> None:
    card = (release / "README.md").read_text()
    stats = json.loads((release / "stats.json").read_text())
    assert stats["run"]["recipe_sha256"][:16] in card
    assert "| eng_Latn |" in card and "duplicate" in card


def test_the_documented_mix_of_the_release(release: Path, tmp_path: Path) -> None:
    """docs/mixing.md's command on a release of the demo (plus a Common Crawl sample, with
    rehydration_copies): every language's budget met in documents, copies applied, the card written."""
    out = tmp_path / "mix"
    cc_curate("mix", str(release), "--output", str(out), "--unit", "documents", "--total", "60", "--alpha", "0.5",
              "--max-epochs", "3", "--score", "language_score", "--tau", "0.002")
    summary = json.loads((out / "mix.json").read_text())
    assert summary["total"]["achieved"] == 60 and all(e["met"] for e in summary["languages"].values())
    rows = {lang: sum(pq.read_metadata(out / f).num_rows for f in e["files"]) for lang, e in summary["languages"].items()}
    assert rows == {lang: e["target"] for lang, e in summary["languages"].items()}
    english = summary["languages"]["eng_Latn"]
    assert english["pool"] > english["available"]  # rehydration copies make the pool
    assert "rehydration_copies" not in pq.read_schema(out / english["files"][0]).names
    card = (out / "README.md").read_text()
    assert "tau: 0.002" in card and "| eng_Latn |" in card and "Total: 60 documents of 60 requested." in card
