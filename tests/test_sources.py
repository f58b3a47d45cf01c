"""cc_curate.sources: inputs -> shards -> records, on real archives and on generated damage."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs

from cc_curate.sources import (
    SKIP_REASONS,
    InputError,
    RawRecord,
    Shard,
    SkippedRecord,
    iter_records,
    resolve_inputs,
)
from cc_curate.sources.charset import decode_html
from cc_curate.sources.commoncrawl import CC_BASE_URL_ENV
from cc_curate.sources.inputs import shard_for, shard_id_for, storage_options_for

# ----------------------------------------------------------------------------- helpers


def items_of(path: str | Path, **kwargs) -> list[RawRecord | SkippedRecord]:
    return list(iter_records(shard_for(str(path)), **kwargs))


def tally(items: list[RawRecord | SkippedRecord]) -> dict[str, int]:
    """{"raw": n, <skip reason>: n, ...}"""
    return dict(Counter("raw" if isinstance(item, RawRecord) else item.reason for item in items))


def warc_record(
    rtype: str,
    block: bytes,
    *,
    rid: str | None = "x",
    url: str = "http://example.com/",
    content_type: str | None = None,
    length: int | None = None,
) -> bytes:
    """One WARC/1.0 record, written by hand (so that we can also write broken ones)."""
    lines = ["WARC/1.0", f"WARC-Type: {rtype}"]
    if rid is not None:
        lines.append(f"WARC-Record-ID: <urn:uuid:{rid}>")
    lines += [f"WARC-Target-URI: {url}", "WARC-Date: 2024-05-06T07:08:09Z"]
    if content_type is None and rtype == "response":
        content_type = "application/http; msgtype=response"
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(block) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def http_response(
    body: bytes,
    content_type: str | None = "text/html; charset=utf-8",
    status: str = "200 OK",
    headers: tuple[str, ...] = (),
) -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [*headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def page(i: int, words: int = 300) -> bytes:
    """An HTML page of varied text (so that gzip members have realistic sizes)."""
    rng = random.Random(i)
    vocabulary = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi".split()
    text = " ".join(rng.choice(vocabulary) + str(rng.randrange(1000)) for _ in range(words))
    return f"<html><head><title>page {i}</title></head><body><p>{text}</p></body></html>".encode()


def noise(size: int, seed: int = 0) -> bytes:
    """Reproducible binary junk."""
    return random.Random(seed).randbytes(size)


def responses(n: int) -> list[bytes]:
    return [
        warc_record("response", http_response(page(i)), rid=f"r{i:03d}", url=f"http://example.com/{i}")
        for i in range(n)
    ]


def gzip_members(records: list[bytes]) -> list[bytes]:
    return [gzip.compress(record) for record in records]


RUSSIAN = (
    "Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация южных губерний "
    "даст мощный толчок подъёму сельского хозяйства. В чащах юга жил бы цитрус? Да, но фальшивый экземпляр!"
)


# ----------------------------------------------------------------------------- shared real files

CC = "cc_warc_samples"
WET = "cc_warc_samples/wet-fragments-CommonCrawlScalaTools"
WEB = "webarchive_warc_samples"
EDGE = "webarchive_warc_samples/warcio-edge-cases"

# What every shared sample yields, exactly (warcinfo records are not yielded).
EXPECTED = {
    f"{CC}/resiliparse-CC-MAIN-2020-34-sample.warc.gz": {"raw": 16, "not_response": 33},
    f"{CC}/jwarc-cc.warc.gz": {"raw": 1},
    f"{CC}/whirlwind.warc.gz": {"raw": 1, "not_response": 2},
    f"{CC}/whirlwind.warc.wet.gz": {"raw": 1},
    f"{WET}/filter_test_1.wet.gz": {"raw": 25},
    f"{WET}/fragment3.wet.gz": {"raw": 5},
    # semantically odd but well-framed: a conversion without URL, warcinfo twice / not first
    f"{WET}/corrupt_warcconversion_1.wet.gz": {"raw": 5},
    f"{WET}/corrupt_warcconversion_2.wet.gz": {"raw": 1},
    f"{WET}/corrupt_warcinfo_1.wet.gz": {"raw": 5},
    f"{WET}/corrupt_two_warcinfo.wet.gz": {"raw": 5},
    f"{WET}/corrupt_starts_with_conversion.wet.gz": {"raw": 5},
    # gzip stream cut inside the 17th record
    f"{WET}/appended_zip_fragment_unexpected_eof.wet.gz": {"raw": 15, "truncated": 1},
    # last record cut short
    f"{WET}/fragment1_incomplete_last.wet.gz": {"raw": 1, "truncated": 1},
    # first record's Content-Length runs into the next header, which is then cut short
    f"{WET}/fragment1_asthma_incomplete_last.wet.gz": {"raw": 1, "corrupt_record": 1, "truncated": 1},
    # starts in the middle of a record, ends inside one
    f"{WET}/fragment2_no_header.wet.gz": {"corrupt_record": 1, "raw": 1, "truncated": 1},
    # LF-only line ends (fastwarc needs CRLF): unparseable headers; the second is cut
    f"{WET}/file_headers_only.wet.gz": {"corrupt_record": 1},
    f"{WET}/file_and_wet_headers_only.wet.gz": {"corrupt_record": 1, "truncated": 1},
    # WARC/0.17: 94 HTML 200s; 404/301/302; dns:, images, robots.txt, css, js
    f"{WEB}/aut-heritrix-warc0.17-archive.org-2008.warc.gz": {
        "raw": 94,
        "http_status": 47,
        "not_html": 158,
        "not_response": 522,
    },
    f"{WEB}/copycat-wayback-snapshots-topic-02.warc.gz": {"raw": 128},  # no HTTP envelope
    f"{WEB}/dolma-wget-sample-0000.warc.gz": {"raw": 22, "not_response": 25},
    f"{WEB}/dolma-wget-sample-0001.warc.gz": {"raw": 15, "not_response": 18},
    f"{WEB}/resiliparse-block-sized-records.warc.gz": {"not_response": 3},
    f"{WEB}/resiliparse-clipped.warc.gz": {"truncated": 1},
    f"{EDGE}/example.warc": {"raw": 1, "not_response": 3},
    f"{EDGE}/example.warc.gz": {"raw": 1, "not_response": 3},
    f"{EDGE}/example-bad-non-chunked.warc.gz": {"raw": 1, "not_response": 3},
    f"{EDGE}/example-iana.org-chunked.warc": {"raw": 1, "not_response": 1},
    f"{EDGE}/example-wrong-chunks.warc.gz": {"raw": 1, "not_response": 1},
    f"{EDGE}/example-trunc.warc": {"raw": 1, "not_response": 1},
    f"{EDGE}/example-digest.warc": {"not_response": 4},
    f"{EDGE}/example-resource.warc.gz": {"not_response": 1},
    f"{EDGE}/example-space-in-target-uri.warc.gz": {"not_response": 1},
    f"{EDGE}/example-wget-bad-target-uri.warc.gz": {"raw": 1, "not_response": 4},
    f"{EDGE}/post-test.warc.gz": {"not_html": 3, "not_response": 3},
    f"{EDGE}/standard-torture-missing.warc": {},
    f"{EDGE}/standard-torture-validate-field.warc": {"corrupt_record": 3},
    f"{EDGE}/standard-torture-validate-record.warc": {"not_html": 1, "not_response": 13},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_sample_counts(shared_data: Path, name: str) -> None:
    items = items_of(shared_data / name)
    assert tally(items) == EXPECTED[name]
    assert all(isinstance(i, RawRecord) or i.reason in SKIP_REASONS for i in items)
    truncated = [
        i for i, item in enumerate(items) if isinstance(item, SkippedRecord) and item.reason == "truncated"
    ]
    assert truncated in ([], [len(items) - 1])  # at most one, and always last
    for item in items:
        if isinstance(item, RawRecord):
            assert (item.html is None) != (item.text is None)
            assert (item.html or item.text).strip() and item.charset


def test_common_crawl_warc_records(shared_data: Path) -> None:
    items = items_of(shared_data / CC / "resiliparse-CC-MAIN-2020-34-sample.warc.gz")
    docs = [i for i in items if isinstance(i, RawRecord)]
    assert all(d.id.startswith("<urn:uuid:") and d.url.startswith("http") for d in docs)
    assert all(d.date.startswith("2020-08-") and d.date.endswith("Z") for d in docs)
    assert len({d.id for d in docs}) == 16
    assert {s.detail for s in items if isinstance(s, SkippedRecord)} == {"request", "metadata"}
    russian = [d for d in docs if d.charset == "windows-1251 (header)"]
    assert (
        len(russian) == 1 and "<title>О компании - Стратегия пожарной безопасности</title>" in russian[0].html
    )
    chinese = [d for d in docs if d.charset.startswith("gb18030")]
    assert chinese and all("\ufffd" not in d.html[:5000] for d in chinese)


def test_warc_and_wet_of_the_same_page(shared_data: Path) -> None:
    (warc,) = [i for i in items_of(shared_data / CC / "whirlwind.warc.gz") if isinstance(i, RawRecord)]
    (wet,) = items_of(shared_data / CC / "whirlwind.warc.wet.gz")
    assert warc.url == wet.url == "https://an.wikipedia.org/wiki/Escopete"
    assert warc.html and warc.text is None and warc.charset == "utf-8 (header)"
    assert wet.text and wet.html is None and wet.charset == "utf-8 (wet)"
    assert "Escopete" in wet.text and "<html" in warc.html.lower()


def test_http_encodings_and_odd_producers(shared_data: Path) -> None:
    for name in (
        "example-bad-non-chunked.warc.gz",
        "example-iana.org-chunked.warc",
        "example-wrong-chunks.warc.gz",
    ):
        (doc,) = [i for i in items_of(shared_data / EDGE / name) if isinstance(i, RawRecord)]
        assert doc.html.lstrip().lower().startswith("<!doctype html>"), name  # gzip / chunked undone
    copycat = items_of(shared_data / WEB / "copycat-wayback-snapshots-topic-02.warc.gz")
    assert all(d.date == "" for d in copycat)  # WARC-Date: null
    assert len({d.url for d in copycat}) == 126
    heritrix = items_of(shared_data / WEB / "aut-heritrix-warc0.17-archive.org-2008.warc.gz")
    statuses = Counter(
        i.detail for i in heritrix if isinstance(i, SkippedRecord) and i.reason == "http_status"
    )
    assert statuses == {"404": 40, "302": 5, "301": 2}


def test_realpages_match_manifest(shared_data: Path) -> None:
    folder = shared_data / "realpages_multilingual_warc"
    with gzip.open(folder / "manifest.jsonl.gz", "rt", encoding="utf-8") as lines:
        manifest = [json.loads(line) for line in lines]
    assert len(manifest) == 2214
    items = items_of(folder / "realpages-multilingual.warc.gz", max_records=400)  # a slice keeps this fast
    assert len(items) == 400 and all(isinstance(i, RawRecord) for i in items)
    assert [i.id for i in items] == [m["record_id"] for m in manifest[:400]]
    assert [i.url for i in items] == [m["url"] for m in manifest[:400]]
    assert all(i.date == "2026-01-01T00:00:00Z" for i in items)


# ----------------------------------------------------------------------------- generated WARCs


def test_payload_type_status_and_charset_rules(tmp_path: Path) -> None:
    cyrillic_page = f"<html><body><p>{RUSSIAN}</p><p>{RUSSIAN}</p></body></html>"
    records = [
        warc_record("warcinfo", b"software: test\r\n", rid="info", content_type="application/warc-fields"),
        warc_record("request", b"GET / HTTP/1.1\r\n\r\n", rid="req"),
        warc_record("response", http_response(b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png"), rid="png"),
        warc_record(
            "response", http_response(b"<html>moved</html>", status="301 Moved Permanently"), rid="301"
        ),
        warc_record("response", http_response(cyrillic_page.encode("cp1251"), "text/html"), rid="cp1251"),
        warc_record("response", http_response(page(1), "text/html; charset=foobar-9"), rid="bogus-utf8"),
        warc_record(
            "response",
            http_response(cyrillic_page.encode("cp1251"), "text/html; charset=x-nonsense"),
            rid="bogus-1251",
        ),
        warc_record("response", http_response(page(2), None), rid="sniffed"),
        warc_record("response", http_response(bytes(range(256)) * 4, None), rid="binary"),
        warc_record("response", http_response(b"   \r\n "), rid="empty"),
        warc_record("response", http_response(noise(3000)), rid="junk-utf8"),
        warc_record("response", http_response(page(3), "application/xhtml+xml"), rid="xhtml"),
        warc_record("response", http_response(b"x" * 5000), rid="big"),
        warc_record("response", http_response(page(4)), rid=None),
    ]
    path = tmp_path / "mixed.warc.gz"
    path.write_bytes(b"".join(gzip_members(records)))
    items = items_of(path, max_payload_bytes=4000)
    by_id = {item.id: item for item in items}
    reasons = {rid: (i.reason if isinstance(i, SkippedRecord) else i.charset) for rid, i in by_id.items()}
    assert reasons == {
        "<urn:uuid:req>": "not_response",
        "<urn:uuid:png>": "not_html",
        "<urn:uuid:301>": "http_status",
        "<urn:uuid:cp1251>": "windows-1251 (detected)",
        "<urn:uuid:bogus-utf8>": "utf-8 (detected)",
        "<urn:uuid:bogus-1251>": "windows-1251 (detected)",
        "<urn:uuid:sniffed>": "utf-8 (detected)",
        "<urn:uuid:binary>": "not_html",
        "<urn:uuid:empty>": "empty_payload",
        "<urn:uuid:junk-utf8>": "charset_failed",
        "<urn:uuid:xhtml>": "utf-8 (detected)",
        "<urn:uuid:big>": "payload_too_large",
        next(i for i in by_id if i.startswith("<urn:sha1:")): "utf-8 (header)",  # no WARC-Record-ID
    }
    assert len(items) == len(records) - 1  # everything but warcinfo, once each
    assert RUSSIAN in by_id["<urn:uuid:cp1251>"].html
    assert by_id["<urn:uuid:png>"].detail == "image/png"


def test_charset_decisions() -> None:
    russian = f"<html><body><p>{RUSSIAN}</p></body></html>"
    meta = russian.replace("<body>", '<head><meta charset="windows-1251"></head><body>').encode("cp1251")
    assert decode_html(meta, "text/html")[1] == "windows-1251 (meta)"
    assert decode_html(meta, "text/html; charset=koi8-r")[1] == "koi8-r (header)"  # header wins
    assert decode_html("<p>Grüße</p>".encode("latin-1"), "text/html; charset=ISO-8859-1") == (
        "<p>Grüße</p>",
        "windows-1252 (header)",  # browsers read latin-1 as windows-1252
    )
    utf8 = russian.encode()
    assert decode_html(utf8, "text/html; charset=iso-8859-1")[1] == "utf-8 (detected, declared windows-1252)"
    cut_inside_a_character = utf8[:-22]
    assert decode_html(cut_inside_a_character, "text/html; charset=utf-8")[1] == "utf-8 (header)"
    assert (
        decode_html(utf8.replace(b"<p>", b"<p>\xff"), "text/html; charset=utf-8")[1]
        == "utf-8 (header, lossy)"
    )
    assert decode_html("<p>hi</p>".encode("utf-16"))[1] == "utf-16-le (bom)"
    assert decode_html(page(0), "text/html; charset=base64")[1] == "utf-8 (detected)"
    assert decode_html(noise(4000)) is None


def test_damaged_gzip_members_do_not_stop_reading(tmp_path: Path) -> None:
    members = gzip_members(responses(12))
    corrupt = bytearray(members[4])
    corrupt[len(corrupt) // 2 : len(corrupt) // 2 + 16] = bytes(16)
    cases = {
        "corrupt-member.warc.gz": b"".join(members[:4]) + bytes(corrupt) + b"".join(members[5:]),
        "cut-member.warc.gz": b"".join(members[:4]) + members[4][:200] + b"".join(members[5:]),
        "junk-between.warc.gz": b"".join(members[:4]) + noise(3000) + b"".join(members[4:]),
        "zero-padding.warc.gz": b"".join(members) + bytes(4096),
        "trailing-junk.warc.gz": b"".join(members) + b"not gzip at all",
    }
    expected = {
        "corrupt-member.warc.gz": {"raw": 11, "corrupt_record": 1},
        "cut-member.warc.gz": {"raw": 11, "corrupt_record": 1},
        "junk-between.warc.gz": {"raw": 12, "corrupt_record": 1},
        "zero-padding.warc.gz": {"raw": 12},
        "trailing-junk.warc.gz": {"raw": 12, "corrupt_record": 1},
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        items = items_of(tmp_path / name)
        assert tally(items) == expected[name], name
        docs = [i.id for i in items if isinstance(i, RawRecord)]
        assert docs == sorted(docs) and docs[-1] == "<urn:uuid:r011>", name


def test_truncated_files_end_with_one_truncated_item(tmp_path: Path) -> None:
    members = b"".join(gzip_members(responses(6)))
    (tmp_path / "cut.warc.gz").write_bytes(members[:-300])
    items = items_of(tmp_path / "cut.warc.gz")
    assert tally(items) == {"raw": 5, "truncated": 1}
    assert items[-1].id == "" and "gzip stream ends inside the member" in items[-1].detail

    whole = gzip.compress(b"".join(responses(6)))  # whole-file gzip, like the WET fragments
    (tmp_path / "whole-cut.warc.gz").write_bytes(whole[: len(whole) * 2 // 3])
    items = items_of(tmp_path / "whole-cut.warc.gz")
    assert items[-1].reason == "truncated" and tally(items)["truncated"] == 1
    assert 2 <= tally(items).get("raw", 0) <= 4

    plain = b"".join(responses(3))
    (tmp_path / "cut.warc").write_bytes(plain[: len(plain) - 500])
    assert tally(items_of(tmp_path / "cut.warc")) == {"raw": 2, "truncated": 1}
    (tmp_path / "cut-in-header.warc").write_bytes(plain + b"WARC/1.0\r\nWARC-Type: resp")
    assert tally(items_of(tmp_path / "cut-in-header.warc")) == {"raw": 3, "truncated": 1}


def test_bad_framing_in_uncompressed_warc(tmp_path: Path) -> None:
    records = responses(6)
    block = http_response(page(2))
    too_long = warc_record("response", block, rid="r002", length=len(block) + 10**6)  # swallows the rest
    too_short = warc_record("response", block, rid="r002", length=len(block) - 1000)
    cases = {
        "junk.warc": b"".join(records[:3]) + b"\x00\xffjunk\x01" * 300 + b"".join(records[3:]),
        "too-long.warc": b"".join(records[:2]) + too_long + b"".join(records[3:]),
        "too-short.warc": b"".join(records[:2]) + too_short + b"".join(records[3:]),
        "binary.warc": noise(10_000),
        "trailing.warc": b"".join(records) + b"trailing garbage\r\n",
        "warc-0.17.warc": b"".join(records).replace(b"WARC/1.0", b"WARC/0.17"),
    }
    expected = {
        "junk.warc": {"raw": 6, "corrupt_record": 1},
        "too-long.warc": {"raw": 5, "corrupt_record": 1},
        "too-short.warc": {"raw": 6, "corrupt_record": 1},  # r002 is read short, the rest skipped
        "binary.warc": {"corrupt_record": 1},
        "trailing.warc": {"raw": 6, "corrupt_record": 1},
        "warc-0.17.warc": {"raw": 6},
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert tally(items_of(tmp_path / name)) == expected[name], name


def test_huge_payloads_are_not_read(tmp_path: Path) -> None:
    huge = http_response(b"<html>" + b"x" * 3_000_000 + b"</html>")
    bomb = http_response(gzip.compress(b"<html>" + b" " * 3_000_000), headers=("Content-Encoding: gzip",))
    records = [
        warc_record("response", huge, rid="huge"),
        warc_record("response", bomb, rid="bomb"),
        *responses(1),
    ]
    (tmp_path / "huge.warc.gz").write_bytes(b"".join(gzip_members(records)))
    items = items_of(tmp_path / "huge.warc.gz", max_payload_bytes=100_000)
    assert [(i.id, tally([i])) for i in items] == [
        ("<urn:uuid:huge>", {"payload_too_large": 1}),
        ("<urn:uuid:bomb>", {"payload_too_large": 1}),
        ("<urn:uuid:r000>", {"raw": 1}),
    ]


def test_wet_and_max_records(tmp_path: Path) -> None:
    records = [
        warc_record("warcinfo", b"isPartOf: CC-MAIN-2024-22\r\n", rid="info"),
        *[
            warc_record(
                "conversion", f"text number {i}\nline two".encode(), rid=f"c{i}", content_type="text/plain"
            )
            for i in range(5)
        ],
        warc_record("conversion", b"  \n ", rid="blank", content_type="text/plain"),
    ]
    (tmp_path / "x.warc.wet.gz").write_bytes(gzip.compress(b"".join(records)))  # whole-file gzip
    items = items_of(tmp_path / "x.warc.wet.gz")
    assert tally(items) == {"raw": 5, "empty_payload": 1}
    assert items[0].text == "text number 0\nline two" and items[0].url == "http://example.com/"
    assert [i.id for i in items_of(tmp_path / "x.warc.wet.gz", max_records=2)] == [
        "<urn:uuid:c0>",
        "<urn:uuid:c1>",
    ]
    assert items_of(tmp_path / "x.warc.wet.gz", max_records=0) == []


def test_missing_input_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        items_of(tmp_path / "gone.warc.gz")


# ----------------------------------------------------------------------------- parquet / jsonl


def test_parquet_records(tmp_path: Path) -> None:
    table = pa.table(
        {
            "text": ["first doc", None, "  ", "third doc", "y" * 500],
            "id": ["a", None, "c", "d", "e"],
            "url": ["http://a/", "http://b/", None, "http://d/", "http://e/"],
            "date": pa.array([1_700_000_000_000_000, None, None, 0, 0], pa.timestamp("us", tz="UTC")),
            "other": [1, 2, 3, 4, 5],
        }
    )
    path = tmp_path / "docs.parquet"
    pq.write_table(table, path, row_group_size=2)
    items = items_of(path, max_payload_bytes=100)
    shard_id = shard_for(str(path)).shard_id
    assert [(i.id, tally([i])) for i in items] == [
        ("a", {"raw": 1}),
        (f"{shard_id}:1", {"empty_payload": 1}),
        ("c", {"empty_payload": 1}),
        ("d", {"raw": 1}),
        ("e", {"payload_too_large": 1}),
    ]
    first = items[0]
    assert (first.text, first.html, first.url, first.date) == (
        "first doc",
        None,
        "http://a/",
        "2023-11-14T22:13:20Z",
    )
    assert items[3].date == "1970-01-01T00:00:00Z"

    pq.write_table(pa.table({"body": ["x", "y"]}), tmp_path / "notext.parquet")
    assert tally(items_of(tmp_path / "notext.parquet")) == {"corrupt_record": 2}
    (tmp_path / "broken.parquet").write_bytes(path.read_bytes()[:100])
    assert tally(items_of(tmp_path / "broken.parquet")) == {"truncated": 1}


def test_jsonl_records(tmp_path: Path) -> None:
    lines = [
        json.dumps({"text": "hello", "id": "j1", "url": "http://j/1", "date": "2024-01-01"}),
        "",
        json.dumps({"text": "no id here"}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "j5"}),
        json.dumps({"text": "é" * 80, "id": "big"}),
        json.dumps({"text": "x" * 1_100_000, "id": "huge"}),  # refused unparsed: longer than 6x + 1 MiB
        json.dumps({"text": "last"}),
    ]
    data = ("\n".join(lines) + "\n").encode()
    (tmp_path / "docs.jsonl").write_bytes(data)
    (tmp_path / "docs.jsonl.gz").write_bytes(gzip.compress(data))
    for name in ("docs.jsonl", "docs.jsonl.gz"):
        items = items_of(tmp_path / name, max_payload_bytes=100)
        shard_id = shard_for(str(tmp_path / name)).shard_id
        assert [(i.id, tally([i])) for i in items] == [
            ("j1", {"raw": 1}),
            (f"{shard_id}:1", {"raw": 1}),
            (f"{shard_id}:2", {"corrupt_record": 1}),
            (f"{shard_id}:3", {"corrupt_record": 1}),
            ("j5", {"empty_payload": 1}),
            ("big", {"payload_too_large": 1}),  # 160 bytes of UTF-8
            (f"{shard_id}:6", {"payload_too_large": 1}),
            (f"{shard_id}:7", {"raw": 1}),
        ], name
        assert (items[0].text, items[0].url, items[0].date) == ("hello", "http://j/1", "2024-01-01")
    many = "".join(json.dumps({"text": f"doc {i} {random.Random(i).random()}"}) + "\n" for i in range(3000))
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(many.encode())[:-200])
    items = items_of(tmp_path / "cut.jsonl.gz")
    assert (
        items[-1].reason == "truncated"
        and tally(items)["truncated"] == 1
        and 2900 < tally(items)["raw"] < 3000
    )


# ----------------------------------------------------------------------------- resolve_inputs


def test_resolve_inputs_local(tmp_path: Path) -> None:
    """Listing, kinds and shard ids of local inputs.

    The files sit in a local mirror of Common Crawl's layout, so their shard ids hash the
    ``crawl-data/...`` key and not the temporary folder: the ids are pinned literally, as every run
    on every machine must compute them (a resumed run finds its ledger by them). Checked to fail
    with ``shard_id_for`` hashing with Python's per-process ``hash()`` instead of SHA-1.
    """
    root = tmp_path / "crawl-data" / "CC-MAIN-2024-10"
    (root / "sub").mkdir(parents=True)
    for name in ("b.warc.gz", "a.warc.wet.gz", "sub/c.jsonl", "sub/d.parquet", "README.md", "x.warc.wat.gz"):
        (root / name).write_bytes(b"")
    shards = resolve_inputs([str(root), str(root / "*.gz"), str(root / "b.warc.gz")])
    assert [(Path(s.path).relative_to(root).as_posix(), s.kind, s.shard_id) for s in shards] == [
        ("a.warc.wet.gz", "wet", "a.warc.wet-98ef8182"),
        ("b.warc.gz", "warc", "b.warc-231029a4"),
        ("sub/c.jsonl", "jsonl", "c.jsonl-f63d6f32"),
        ("sub/d.parquet", "parquet", "d.parquet-1eeaf0d8"),
    ]
    assert resolve_inputs([str(root)], max_files=2) == shards[:2]

    with pytest.raises(InputError, match="gone.warc.gz") as missing:
        resolve_inputs([str(root / "gone.warc.gz")])
    assert isinstance(missing.value, ValueError) and "\n" not in str(missing.value)
    with pytest.raises(InputError, match="no input file matches"):
        resolve_inputs([str(root / "*.nothing")])
    with pytest.raises(InputError, match="README.md"):
        resolve_inputs([str(root / "README.md")])


def test_shard_ids() -> None:
    """Pinned literally: ids must be the same in every process and release (checked to fail with
    ``hash()`` in place of SHA-1 in ``shard_id_for``)."""
    key = (
        "crawl-data/CC-MAIN-2020-34/segments/1596439735990.92/warc/"
        "CC-MAIN-20200806001745-20200806031745-00001.warc.gz"
    )
    over_https = shard_id_for("https://data.commoncrawl.org/" + key)
    assert over_https == shard_id_for("s3://commoncrawl/" + key)  # same file, same id
    assert over_https == "CC-MAIN-20200806001745-20200806031745-00001.warc-eaa26274"
    assert shard_id_for("/data/a/x.warc.gz") == "x.warc-dc421aa8"
    assert shard_id_for("/data/b/x.warc.gz") == "x.warc-6550df6c"
    assert shard_id_for("/data/we ird:name?.warc.gz") == "we_ird_name_.warc-7eeb3b17"
    assert shard_id_for("s3://bucket/texts/part-0001.jsonl.gz") == "part-0001.jsonl-326b0739"


def test_storage_options_per_protocol() -> None:
    assert storage_options_for("s3://b/k.warc.gz", {"anon": True}) == {"anon": True}
    assert storage_options_for("https://h/k.warc.gz", {"anon": True}) == {}  # not for the HTTP client
    nested = {"s3": {"endpoint_url": "http://x"}, "https": {"headers": {"a": "b"}}}
    assert storage_options_for("s3://b/k", nested) == {"endpoint_url": "http://x"}
    assert storage_options_for("https://h/k", nested) == {"headers": {"a": "b"}}
    assert storage_options_for("/local/k", nested) == {}


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[str]:
    """A throwaway HTTP server on 127.0.0.1 serving `root`."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_snapshot_listing_and_http_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    keys = [f"crawl-data/CC-MAIN-2024-22/segments/17155/warc/CC-MAIN-2024-{i:05d}.warc.gz" for i in (3, 1, 2)]
    listing = tmp_path / "crawl-data" / "CC-MAIN-2024-22" / "warc.paths.gz"
    listing.parent.mkdir(parents=True)
    listing.write_bytes(gzip.compress(("\n".join(keys) + "\n").encode()))
    sample = tmp_path / keys[1]
    sample.parent.mkdir(parents=True)
    sample.write_bytes((shared_data / CC / "resiliparse-CC-MAIN-2020-34-sample.warc.gz").read_bytes())
    with http_server(tmp_path) as base:
        shards = resolve_inputs([], snapshot="CC-MAIN-2024-22", max_files=2, cc_base_url=base)
        assert [s.path for s in shards] == [base + keys[1], base + keys[2]]
        assert all(s.kind == "warc" for s in shards)
        monkeypatch.setenv(CC_BASE_URL_ENV, base)
        assert resolve_inputs([], snapshot="CC-MAIN-2024-22") == resolve_inputs(
            [], snapshot="CC-MAIN-2024-22", cc_base_url=base
        )
        # streamed over HTTP (the server cannot do range requests), flat s3-style options ignored
        assert tally(list(iter_records(shards[0], storage_options={"anon": True}))) == {
            "raw": 16,
            "not_response": 33,
        }
        with pytest.raises(InputError, match="CC-MAIN-1999-01"):
            resolve_inputs([], snapshot="CC-MAIN-1999-01")
    with pytest.raises(InputError, match="snapshot name"):
        resolve_inputs([], snapshot="2024-22")


def test_s3_glob_and_stream(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_server = pytest.importorskip("moto.server")

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {"endpoint_url": f"http://{host}:{port}", "key": "testing", "secret": "testing"}
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("corpus")
        fs.put(str(shared_data / CC / "whirlwind.warc.gz"), "corpus/crawl/one.warc.gz")
        fs.put(str(shared_data / CC / "jwarc-cc.warc.gz"), "corpus/crawl/deeper/two.warc.gz")
        fs.pipe("corpus/crawl/notes.txt", b"not an input")
        assert [s.path for s in resolve_inputs(["s3://corpus/crawl/*.warc.gz"], storage_options=options)] == [
            "s3://corpus/crawl/one.warc.gz",
        ]
        shards = resolve_inputs(["s3://corpus/crawl/"], storage_options={"s3": options})
        assert [s.path for s in shards] == [
            "s3://corpus/crawl/deeper/two.warc.gz",
            "s3://corpus/crawl/one.warc.gz",
        ]
        assert tally(list(iter_records(shards[1], storage_options=options))) == {"raw": 1, "not_response": 2}
        with pytest.raises(InputError):
            resolve_inputs(["s3://corpus/nothing/*.warc.gz"], storage_options=options)
    finally:
        server.stop()


def test_shard_is_frozen() -> None:
    shard = Shard("id", "/p.warc.gz", "warc")
    with pytest.raises(AttributeError):
        shard.kind = "wet"  # type: ignore[misc]
