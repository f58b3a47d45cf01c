"""Every kind of bad input, through real runs: each record lands in exactly one counter.

The damaged files are generated here (WARC records written by hand, one gzip member per record
as in Common Crawl, or broken on purpose) and mixed with the damaged real files of the shared
data. One run (local Ray, in this process) reads them all; every shard's ledger entry must hold
exactly the expected counters, and the funnel in stats.json must add up. Skipped and failed
records are listed, with their reason, in the shard's quarantine file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cc_curate.output.staging import copy_missing_quarantine, read_ledger
from cc_curate.output.storage import Storage
from cc_curate.recipe import load_recipe
from cc_curate.runtime.driver import RunOptions, RunSummary, run

from .faults_helpers import (
    REPO_ROOT,
    good_responses,
    gzip_members,
    http_response,
    prose_page,
    published_documents,
    warc_record,
    write_preset,
)

pytestmark = pytest.mark.slow

BIG = 50_000_000  # the "50 MB page": five times input.max_payload_bytes (10 MB by default)
NESTING = 100_000


# ----------------------------------------------------------------------------- the bad files


def nested_page(depth: int) -> bytes:
    text = "A sentence at the bottom of a very deep tree of elements, long enough to be kept. " * 4
    return f"<html><body>{'<div>' * depth}<p>{text}</p>{'</div>' * depth}</body></html>".encode()


def big_page_stream(size: int) -> Iterator[bytes]:
    """An HTML page of ``size`` bytes, in 1 MB pieces (never whole in memory)."""
    piece = (b"<p>" + b"filler words for a page that is far too large " * 20 + b"</p>\n")
    chunk = piece * ((1 << 20) // len(piece))
    head, tail = b"<html><body>", b"</body></html>"
    left = size - len(head) - len(tail)
    yield head
    while left > 0:
        part = chunk[:left]
        left -= len(part)
        yield part
    yield tail


def write_big_page_warc(path: Path) -> None:
    """One response of BIG bytes (one gzip member, streamed to disk), a gzip bomb of BIG bytes
    behind Content-Encoding, then an ordinary page."""
    http_head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {BIG}\r\n\r\n".encode()
    block_length = len(http_head) + BIG
    warc_head = warc_record("response", b"", rid="big-page", url="http://big.example/", length=block_length)
    warc_head = warc_head[: -len(b"\r\n\r\n")]  # header only: the block follows
    bomb_body = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb_body, mode="wb", mtime=0) as fh:
        for part in big_page_stream(BIG):
            fh.write(part)
    bomb = warc_record("response", http_response(bomb_body.getvalue(), headers=("Content-Encoding: gzip",)),
                       rid="gzip-bomb", url="http://bomb.example/")
    with open(path, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as member:
            member.write(warc_head + http_head)
            for part in big_page_stream(BIG):
                member.write(part)
            member.write(b"\r\n\r\n")
        out.write(gzip_members([bomb, *good_responses(1, prefix="after-big")]))


def make_bad_files(folder: Path, shared_data: Path) -> dict[str, dict[str, int]]:
    """Write the synthetic bad files; returns {path: expected shard counters}.

    Counter names as in stats.json: records.read, records.skipped.<reason>,
    extraction.failed.<reason>, extraction.extracted.
    """
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, dict[str, int]] = {}

    def add(name: str, data: bytes, counters: dict[str, int]) -> None:
        (folder / name).write_bytes(data)
        expected[str(folder / name)] = counters

    # a file cut inside its last gzip member (a download that stopped)
    members = gzip_members(good_responses(6, prefix="trunc"))
    add("truncated.warc.gz", members[:-300],
        {"records.read": 6, "extraction.extracted": 5, "records.skipped.truncated": 1})

    # a damaged gzip member in the middle: reading resumes at the next member
    parts = [gzip.compress(r, mtime=0) for r in good_responses(8, prefix="corrupt")]
    broken = bytearray(parts[3])
    broken[len(broken) // 2: len(broken) // 2 + 24] = bytes(24)
    add("corrupt-member.warc.gz", b"".join(parts[:3]) + bytes(broken) + b"".join(parts[4:]),
        {"records.read": 8, "extraction.extracted": 7, "records.skipped.corrupt_record": 1})

    # binary junk between gzip members, and a file of nothing but junk
    junk = random.Random(7).randbytes(5000)
    parts = [gzip.compress(r, mtime=0) for r in good_responses(8, prefix="junk")]
    add("junk-between.warc.gz", b"".join(parts[:4]) + junk + b"".join(parts[4:]),
        {"records.read": 9, "extraction.extracted": 8, "records.skipped.corrupt_record": 1})
    add("binary-junk.warc.gz", random.Random(8).randbytes(200_000),
        {"records.read": 1, "records.skipped.corrupt_record": 1})

    # wrong Content-Length: one that runs into the next records, one that stops short of its block
    records = good_responses(5, prefix="len")
    block = http_response(prose_page("len-99"))
    too_long = warc_record("response", block, rid="len-too-long", url="http://len.example/long",
                           length=len(block) + 100_000)
    too_short = warc_record("response", block, rid="len-too-short", url="http://len.example/short",
                            length=len(block) - 700)
    add("content-length-too-long.warc", b"".join(records[:2]) + too_long + b"".join(records[2:]),
        {"records.read": 6, "extraction.extracted": 5, "records.skipped.corrupt_record": 1})
    # (the short one is read as its declared length says; the bytes left over are one corrupt_record)
    add("content-length-too-short.warc", b"".join(records[:2]) + too_short + b"".join(records[2:]),
        {"records.read": 7, "extraction.extracted": 6, "records.skipped.corrupt_record": 1})

    # not HTML: images, PDF, JSON, plain text, sniffed binary, a redirect, requests and metadata
    not_html = [
        warc_record("warcinfo", b"software: test\r\n", rid="info", content_type="application/warc-fields"),
        warc_record("request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", rid="req"),
        warc_record("response", http_response(b"\x89PNG\r\n\x1a\n" + bytes(300), "image/png"), rid="png"),
        warc_record("response", http_response(b"%PDF-1.4\n" + bytes(300), "application/pdf"), rid="pdf"),
        warc_record("response", http_response(b'{"a": 1}', "application/json"), rid="json"),
        warc_record("response", http_response(b"just text " * 50, "text/plain"), rid="plain"),
        warc_record("response", http_response(bytes(range(256)) * 8, None), rid="sniffed-binary"),
        warc_record("response", http_response(b"<html>moved</html>", status="301 Moved Permanently"), rid="301"),
        warc_record("metadata", b"fetchTimeMs: 12\r\n", rid="meta", content_type="application/warc-fields"),
        warc_record("response", http_response(b"   \r\n  "), rid="empty"),
        *good_responses(1, prefix="html"),
    ]
    add("not-html.warc.gz", gzip_members(not_html),
        {"records.read": 10, "extraction.extracted": 1, "records.skipped.not_html": 5,
         "records.skipped.http_status": 1, "records.skipped.not_response": 2, "records.skipped.empty_payload": 1})

    # charsets: undecodable bytes (declared and undeclared), a bogus label, a wrong label
    rng = random.Random(3)
    russian = ("Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом "
               "и совестью и должны поступать в отношении друг друга в духе братства. ") * 12
    cyrillic = f"<html><body><article><p>{russian}</p><p>{russian}</p></article></body></html>"
    charsets = [
        warc_record("response", http_response(rng.randbytes(4000), "text/html; charset=utf-8"), rid="cs-junk-1"),
        warc_record("response", http_response(rng.randbytes(4000), "text/html"), rid="cs-junk-2"),
        warc_record("response", http_response(cyrillic.encode("cp1251"), "text/html; charset=x-bogus"),
                    rid="cs-bogus-label"),
        warc_record("response", http_response(cyrillic.encode("cp1251"), "text/html; charset=utf-8"),
                    rid="cs-wrong-label"),
    ]
    add("charsets.warc.gz", gzip_members(charsets),
        {"records.read": 4, "extraction.extracted": 2, "records.skipped.charset_failed": 2})

    # pathologically nested HTML, between two ordinary pages
    nested = warc_record("response", http_response(nested_page(NESTING)), rid="nested", url="http://deep.example/")
    add("nested.warc.gz", gzip_members([good_responses(1, prefix="pre")[0], nested, *good_responses(1, 1, "post")]),
        {"records.read": 3, "extraction.extracted": 2, "extraction.failed.html_too_deep": 1})

    # a 50 MB page and a 50 MB gzip bomb: skipped unread
    write_big_page_warc(folder / "big-page.warc.gz")
    expected[str(folder / "big-page.warc.gz")] = {
        "records.read": 3, "extraction.extracted": 1, "records.skipped.payload_too_large": 2}

    # an empty file
    add("empty.warc.gz", b"", {"records.read": 0})

    # real damaged files: whole-file gzip WET fragments, and a WARC/0.17 file of 2008
    wet = shared_data / "cc_warc_samples" / "wet-fragments-CommonCrawlScalaTools"
    for name, counters in {
        "appended_zip_fragment_unexpected_eof.wet.gz": {"records.read": 16, "records.skipped.truncated": 1},
        "fragment2_no_header.wet.gz": {"records.read": 3, "records.skipped.corrupt_record": 1,
                                       "records.skipped.truncated": 1},
        "file_headers_only.wet.gz": {"records.read": 1, "records.skipped.corrupt_record": 1},
        "fragment1_asthma_incomplete_last.wet.gz": {"records.read": 3, "records.skipped.corrupt_record": 1,
                                                    "records.skipped.truncated": 1},
    }.items():
        expected[str(wet / name)] = {**counters, "text_documents": counters["records.read"] - sum(
            v for k, v in counters.items() if k.startswith("records.skipped."))}
    warc017 = shared_data / "webarchive_warc_samples" / "aut-heritrix-warc0.17-archive.org-2008.warc.gz"
    expected[str(warc017)] = {"records.read": 94 + 47 + 158 + 522, "records.skipped.http_status": 47,
                              "records.skipped.not_html": 158, "records.skipped.not_response": 522,
                              "html_documents": 94}
    return expected


# ----------------------------------------------------------------------------- runs


def run_in_process(recipe: Path, out: Path, inputs: list[str]) -> RunSummary:
    return run(RunOptions(recipe=load_recipe(recipe), output=str(out), inputs=inputs, stream=io.StringIO()))


def ledger(out: Path) -> dict[str, dict]:
    entries = {}
    for path in (out / "_ledger").glob("[!_]*.json"):
        entry = json.loads(path.read_text())
        entries[entry["source"]] = entry
    return entries


def quarantined_records(out: Path, entry: dict) -> list[dict]:
    """The shard's records in _quarantine/records/ (the copy of its committed attempt's file)."""
    copy = out / "_quarantine" / "records" / f"{entry['shard_id']}.jsonl"
    if not entry["quarantine_file"]:
        assert not copy.exists()
        return []
    assert copy.read_bytes() == (out / entry["quarantine_file"]).read_bytes()
    return [json.loads(line) for line in copy.read_text().splitlines()]


def outcome_counters(counters: dict[str, float]) -> dict[str, int]:
    """The counters that say where records went (no timings, tokenizers, ...)."""
    prefixes = ("records.read", "records.skipped.", "extraction.failed.", "extraction.extracted", "url_filter.removed.")
    return {k: int(v) for k, v in counters.items() if k.startswith(prefixes) and v}


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, local_ray: None):
    folder = tmp_path_factory.mktemp("bad")
    expected = make_bad_files(folder / "in", shared_data)
    out = folder / "out"
    summary = run_in_process(REPO_ROOT / "recipes" / "fast.yaml", out, sorted(expected))
    return expected, out, summary


def test_every_bad_file_is_read_to_the_end_and_counted(bad_run) -> None:
    expected, out, summary = bad_run
    assert summary.quarantined == [], "bad content never fails a shard"
    entries = ledger(out)
    assert sorted(entries) == sorted(expected)
    for source, want in expected.items():
        got = outcome_counters(entries[source]["counters"])
        name = Path(source).name
        documents = want.get("text_documents", want.get("html_documents"))
        want = {k: v for k, v in want.items() if k not in ("text_documents", "html_documents") and v}
        if documents is not None:  # real files: the skips are fixed, extraction decides the rest
            skipped_or_read = {k: v for k, v in got.items() if k.startswith("records.")}
            assert skipped_or_read == want, name
            processed = sum(v for k, v in got.items() if not k.startswith("records."))
            assert processed == documents, name
        else:
            assert got == want, name
        # each record read is in exactly one counter
        assert got.get("records.read", 0) == sum(v for k, v in got.items() if k != "records.read"), name


def test_the_funnel_adds_up(bad_run) -> None:
    expected, out, _ = bad_run
    stats = json.loads((out / "stats.json").read_text())
    funnel = stats["funnel"]
    assert stats["check"] == {"records_add_up": True, "documents_add_up": True}
    assert funnel["records_read"] == funnel["skipped"] + funnel["documents"]
    # a failed extraction is a document removed with its reason (before: a row missing from the output)
    failed = sum(s["removed"].get(r, 0) for s in stats["languages"].values() for r in s["removed"]
                 if r.startswith("extraction:"))
    assert failed == funnel["extraction_failed"]
    total = Counter()
    for entry in ledger(out).values():
        total.update(outcome_counters(entry["counters"]))
    assert funnel["records_read"] == total["records.read"]
    assert funnel["skipped"] == sum(v for k, v in total.items() if k.startswith("records.skipped."))
    skipped = stats["counters"]["records"]["skipped"]
    for reason in ("corrupt_record", "truncated", "not_html", "not_response", "http_status", "charset_failed",
                   "payload_too_large", "empty_payload"):
        assert skipped[reason] > 0, reason
    assert stats["counters"]["extraction"]["failed"]["html_too_deep"] == 1
    assert len(published_documents(out)) == funnel["kept"]


def test_damaged_records_are_listed_with_their_reason(bad_run) -> None:
    expected, out, _ = bad_run
    entries = ledger(out)
    folder = next(Path(p).parent for p in expected if p.endswith("big-page.warc.gz"))  # the generated files
    listed = {Path(source).name: [(q["id"], q["reason"]) for q in quarantined_records(out, entry)]
              for source, entry in entries.items() if Path(source).parent == folder}
    assert listed["big-page.warc.gz"] == [("<urn:uuid:big-page>", "payload_too_large"),
                                          ("<urn:uuid:gzip-bomb>", "payload_too_large")]
    assert listed["nested.warc.gz"] == [("<urn:uuid:nested>", "html_too_deep")]
    assert listed["charsets.warc.gz"] == [("<urn:uuid:cs-junk-1>", "charset_failed"),
                                          ("<urn:uuid:cs-junk-2>", "charset_failed")]
    assert listed["truncated.warc.gz"] == [("", "truncated")]
    assert listed["not-html.warc.gz"] == []  # ordinary non-HTML traffic is counted, not quarantined
    for entry in entries.values():
        for record in quarantined_records(out, entry):
            assert record["shard"] == entry["shard_id"] and record["reason"]


def test_a_quarantine_copy_lost_with_its_worker_is_made_again(bad_run, tmp_path: Path) -> None:
    """A worker that died between its commit and its copy: the next run's check writes the copy."""
    _, out, _ = bad_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    records = copy / "_quarantine" / "records"
    lost = sorted(records.glob("*.jsonl"))[:2]
    before = {p.name: p.read_bytes() for p in lost}
    for path in lost:
        path.unlink()
    storage = Storage(str(copy))
    assert copy_missing_quarantine(storage, read_ledger(storage)) == 2
    assert {p.name: p.read_bytes() for p in lost} == before
    assert copy_missing_quarantine(storage, read_ledger(storage)) == 0


def test_the_kept_pages_of_damaged_files_are_published(bad_run) -> None:
    expected, out, _ = bad_run
    docs = published_documents(out)
    for rid in ("trunc-0004", "corrupt-0007", "len-0004", "html-0000", "pre-0000", "post-0001", "after-big-0000"):
        assert f"<urn:uuid:{rid}>" in docs, rid
    assert "<urn:uuid:len-too-long>" not in docs and "<urn:uuid:trunc-0005>" not in docs


def test_a_record_read_twice_is_published_once(bad_run) -> None:
    """Both content-length files hold the records len-0000..0004: each is one document, kept once."""
    _, out, _ = bad_run
    docs = published_documents(out)  # fails on an id published twice
    removed = [row for file in sorted(out.glob("data/*_removed/train/*.parquet"))
               for row in pq.read_table(file, columns=["id", "filter_reason", "duplicate_of"]).to_pylist()]
    for i in range(5):
        rid = f"<urn:uuid:len-{i:04d}>"
        assert rid in docs, rid
        assert [(r["filter_reason"], r["duplicate_of"]) for r in removed if r["id"] == rid] == [("duplicate", rid)]


_MEMORY_PROBE = r"""
import resource, sys
from cc_curate.sources import iter_records
from cc_curate.sources.inputs import shard_for
list(iter_records(shard_for(sys.argv[2])))  # warm up: imports, buffers
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
items = [(getattr(i, "id", ""), getattr(i, "reason", "raw")) for i in iter_records(shard_for(sys.argv[1]))]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(items)
print((after - before) // 1024)
"""


def test_a_50_mb_page_is_skipped_without_reading_it_into_memory(bad_run) -> None:
    expected, _, _ = bad_run
    big = next(p for p in expected if p.endswith("big-page.warc.gz"))
    small = next(p for p in expected if p.endswith("not-html.warc.gz"))
    probe = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, big, small], capture_output=True, text=True,
                           timeout=300, cwd=REPO_ROOT)
    assert probe.returncode == 0, probe.stderr[-3000:]
    items, grown_mb = probe.stdout.strip().splitlines()[-2:]
    assert "payload_too_large" in items
    assert int(grown_mb) < 40, f"reading the 50 MB page grew the process by {grown_mb} MB"


@pytest.mark.parametrize("limit, reason, detail", [
    ("timeout_seconds: 1.0", "timeout", "1.0s"),
    ("timeout_seconds: 600\n  max_memory_mb: 16", "memory", "16 MiB"),
])
def test_a_page_that_makes_extraction_slow_or_big_is_quarantined(
    tmp_path: Path, local_ray: None, limit: str, reason: str, detail: str
) -> None:
    """trafilatura on a 2.5 MB page of 10,000 blocks takes many seconds and grows the worker by
    tens of MB; the limits here are one second, and 16 MiB."""
    rng = random.Random(5)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron".split()
    blocks = "".join(f"<div class='c{i % 7}'><p>{' '.join(rng.choice(words) for _ in range(40))}.</p>"
                     f"<a href='/x{i}'>link {i}</a></div>" for i in range(10_000))
    slow = f"<html><body>{blocks}</body></html>".encode()
    path = tmp_path / "slow.warc.gz"
    path.write_bytes(gzip_members([warc_record("response", http_response(slow), rid="slow", url="http://slow.example/")]))
    recipe = write_preset(tmp_path / "recipe", f"extraction:\n  {limit}\n", base="fineweb2.yaml")
    out = tmp_path / "out"
    summary = run_in_process(recipe, out, [str(path)])
    assert summary.quarantined == []
    entry = ledger(out)[str(path)]
    assert outcome_counters(entry["counters"]) == {"records.read": 1, f"extraction.failed.{reason}": 1}
    [record] = quarantined_records(out, entry)
    assert (record["id"], record["reason"]) == ("<urn:uuid:slow>", reason)
    assert detail in record["detail"]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["check"]["records_add_up"] and stats["funnel"]["extraction_failed"] == 1


def test_shard_ids_of_bad_files_are_stable(bad_run) -> None:
    """A bad file's shard id is what every run computes for its path: the file name and 8 hex digits
    of the path's SHA-1, stated here rather than asked of ``shard_id_for`` (the files live in a
    temporary folder, so the digits cannot be literals; test_sources pins literal ids). Checked to
    fail with ``hash()`` (salted per process) in place of SHA-1 in ``shard_id_for``."""
    expected, out, _ = bad_run
    names = {source: entry["shard_id"] for source, entry in ledger(out).items()}
    assert names == {p: f"{Path(p).name.removesuffix('.gz')}-{hashlib.sha1(p.encode()).hexdigest()[:8]}"
                     for p in expected}
