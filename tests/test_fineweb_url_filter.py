"""FineWeb's URL filter: datatrove's decisions on the real lists (CI parity), the lists' files and
cache, the fetch command, and a preset that stops before any work when the lists are missing.

The parity fixture (tests/fixtures/url_filter_decisions.jsonl.gz) holds datatrove 0.10.1's
decisions on 4,000 URLs, written by scripts/parity_url_filter.py. Any drift in a rule's semantics
fails it (checked by hand): lower-casing the host before the lookups changes 341 decisions,
lower-casing the URL tokens 230, counting a repeated soft word twice 74.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cc_curate import url_lists
from cc_curate.errors import UserError
from cc_curate.recipe import load_recipe
from cc_curate.runtime.driver import RunOptions, run
from cc_curate.stages.url_filter import UrlFilter

from .conftest import REPO_ROOT
from .faults_helpers import http_response, warc_record

FIXTURE = Path(__file__).parent / "fixtures" / "url_filter_decisions.jsonl.gz"


@pytest.fixture(scope="module")
def fineweb_lists(shared_data: Path) -> url_lists.CompiledUrlLists:
    return url_lists.load(shared_data / "fineweb_url_filter")


def test_decisions_equal_datatrove_on_the_fixture(fineweb_lists: url_lists.CompiledUrlLists) -> None:
    from importlib.metadata import version

    lines = gzip.decompress(FIXTURE.read_bytes()).decode("utf-8").splitlines()
    meta = json.loads(lines[0])["meta"]
    rows = [json.loads(line) for line in lines[1:]]
    assert len(rows) >= 3000 and {r["rule"] for r in rows} == {
        None, "domain", "subdomain", "url", "hard_blacklisted", "soft_blacklisted", "blacklisted_subword"}
    url_filter = UrlFilter({"enabled": True}, fineweb_lists)
    wrong = [(r["url"], r["rule"], url_filter.blocked(r["url"])) for r in rows
             if url_filter.blocked(r["url"]) != r["rule"]]
    hint = ("" if meta["tldextract"] == version("tldextract") else
            f" (recorded with tldextract {meta['tldextract']}, whose suffix list may differ from "
            f"{version('tldextract')}'s:"
            " re-run scripts/parity_url_filter.py --fixture)")
    assert not wrong, f"{len(wrong)} decisions differ from datatrove's{hint}; (url, datatrove, cc_curate): {wrong[:10]}"


def _list_folder(folder: Path, domains: str, urls: str = "", words: str = "porn\n",
                 soft: str = "hot\nnaked\nsexy\n", subwords: str = "\nxxxvideo\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / url_lists.DOMAIN_LIST_ARCHIVE, "w:gz") as tar:
        for name, text in (("domains", domains), ("urls", urls)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (folder / url_lists.BANNED_WORDS).write_text(words)
    (folder / url_lists.SOFT_BANNED_WORDS).write_text(soft)
    (folder / url_lists.BANNED_SUBWORDS).write_text(subwords)
    return folder


def test_rules_in_datatrove_order_on_small_lists(tmp_path: Path) -> None:
    folder = _list_folder(tmp_path / "lists", "# comment\nbad.com\nsub.blogspot.com\n", "bad.org/page\n",
                          words="# words\nPorn\n")
    lists = url_lists.load(folder, cache_dir=tmp_path / "cache")
    f = UrlFilter({"enabled": True}, lists)
    assert f.blocked("https://www.bad.com/a") == "domain"
    assert f.blocked("http://sub.blogspot.com/") == "subdomain"
    assert f.blocked("http://x.sub.blogspot.com/") is None  # neither its registered domain nor its host
    assert f.blocked("bad.org/page") == "url"
    assert f.blocked("http://bad.org/page") is None  # the whole URL string is compared
    assert f.blocked("http://ok.com/porn") == "hard_blacklisted"  # list words are lower-cased ...
    assert f.blocked("http://ok.com/Porn") is None  # ... URL tokens are not
    assert f.blocked("http://ok.com/hot-naked") == "soft_blacklisted"
    assert f.blocked("http://ok.com/hot/hot") is None  # distinct words count
    assert UrlFilter({"soft_word_threshold": 1}, lists).blocked("http://ok.com/hot") == "soft_blacklisted"
    assert f.blocked("http://ok.com/XXX-Video") == "blacklisted_subword"
    assert f.blocked("http://ok.com/") is None  # the empty subword matches nothing
    assert f.blocked("#comment.com") is None


def test_user_lists_after_fineweb_rules(tmp_path: Path) -> None:
    lists = url_lists.load(_list_folder(tmp_path / "lists", "bad.com\n"), cache_dir=tmp_path / "cache")
    f = UrlFilter({"blocked_domains": ["bad.com", "mine.net"], "blocked_words": ["casino"]}, lists)
    assert f.blocked("http://bad.com/") == "domain"
    assert f.blocked("http://a.mine.net/") == "blocked_domain"
    assert f.blocked("http://ok.com/Casino") == "blocked_word"
    assert UrlFilter({"enabled": False}, lists).blocked("http://bad.com/") is None


def test_compiled_lists_are_cached_by_content(tmp_path: Path) -> None:
    folder = _list_folder(tmp_path / "lists", "a.com\nb.com\nb.com\n")
    cache = tmp_path / "cache"
    first = url_lists.load(folder, cache_dir=cache)
    assert list(cache.iterdir()) == [cache / f"{first.digest}.npz"]
    assert len(first.domains) == 2 and list(first.domains) == sorted(first.domains)
    again = url_lists.load(folder, cache_dir=cache)
    assert again.digest == first.digest and (again.domains == first.domains).all()
    _list_folder(folder, "a.com\nc.com\n")  # new lists: a new entry, the old one is not used
    changed = url_lists.load(folder, cache_dir=cache)
    assert changed.digest != first.digest and changed.has_domain("c.com") and not changed.has_domain("b.com")


def test_fetch_from_a_folder_checks_the_files(tmp_path: Path, shared_data: Path) -> None:
    dest = url_lists.fetch(tmp_path / "dest", str(shared_data / "fineweb_url_filter"))
    assert url_lists.missing_files(dest) == []
    assert "CC BY-SA 4.0" in (dest / "README.md").read_text()
    forged = _list_folder(tmp_path / "forged", "example.com\n")
    with pytest.raises(UserError, match="differs from datatrove 0.10.1's"):
        url_lists.fetch(tmp_path / "dest2", str(forged))
    assert not (tmp_path / "dest2").exists()


def test_fetch_from_a_wheel(tmp_path: Path, shared_data: Path) -> None:
    """The files as the datatrove wheel holds them (datatrove/assets/); a file that is no wheel is refused."""
    wheel = tmp_path / "datatrove.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in url_lists.LIST_FILES:
            archive.write(shared_data / "fineweb_url_filter" / name, f"datatrove/assets/{name}")
    assert url_lists.missing_files(url_lists.fetch(tmp_path / "dest", str(wheel))) == []
    (tmp_path / "broken.whl").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a wheel"):
        url_lists.fetch(tmp_path / "dest2", str(tmp_path / "broken.whl"))


def test_cli_fetch_then_missing_lists_stop_a_preset_before_any_work(tmp_path: Path, shared_data: Path) -> None:
    env = {**os.environ, "CC_CURATE_URL_LISTS": str(tmp_path / "nothing-here")}
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "cc_curate.cli", "run", "recipes/fast.yaml", "--output", str(out),
         "--input", str(shared_data / "cc_warc_samples" / "whirlwind.warc.gz")],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "recipes/fast.yaml: url_filter.fineweb_lists" in message
    assert "nothing-here" in message and "cc-curate url-lists fetch" in message
    assert not out.exists()
    fetched = subprocess.run(
        [sys.executable, "-m", "cc_curate.cli", "url-lists", "fetch",
         "--from", str(shared_data / "fineweb_url_filter")],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert url_lists.missing_files(tmp_path / "nothing-here") == []


def test_demo_recipe_runs_without_fineweb_lists() -> None:
    recipe = load_recipe(REPO_ROOT / "recipes" / "demo.yaml")
    assert recipe.settings["url_filter"]["fineweb_lists"] is None
    for preset in ("fineweb2.yaml", "fast.yaml"):
        assert load_recipe(REPO_ROOT / "recipes" / preset).settings["url_filter"]["fineweb_lists"] == "default"


def test_run_shares_the_lists_with_ray_workers(tmp_path: Path, local_ray: None) -> None:
    """The driver compiles once and puts the lists in the object store; workers remove by datatrove's rules."""
    page = http_response(b"<html><body><article><p>" + b"A plain page about gardening and tomatoes. " * 30
                         + b"</p></article></body></html>")
    records = [("http://0-1sex.com/x", "1"), ("http://00000000a.blogspot.com/y", "2"),
               ("https://ok.example/erotic-babes", "3"), ("https://ok.example/garden", "4")]
    warc = tmp_path / "in.warc.gz"
    warc.write_bytes(b"".join(gzip.compress(warc_record("response", page, rid=f"0000000{rid}", url=url))
                              for url, rid in records))
    out = tmp_path / "out"
    run(RunOptions(recipe=load_recipe(REPO_ROOT / "recipes" / "fast.yaml"), output=str(out), inputs=[str(warc)],
                   workers=2))
    stats = json.loads((out / "stats.json").read_text())
    removed = stats["counters"]["url_filter"]["removed"]
    assert removed == {"domain": 1, "subdomain": 1, "soft_blacklisted": 1}
    rows = pq.read_table(out / "data" / "und_Zyyy_removed").to_pylist()
    assert {r["url"]: dict(r["filter_signals"]) for r in rows} == {
        "http://0-1sex.com/x": {"url_filter.domain": 1.0},
        "http://00000000a.blogspot.com/y": {"url_filter.subdomain": 1.0},
        "https://ok.example/erotic-babes": {"url_filter.soft_blacklisted": 1.0},
    }
