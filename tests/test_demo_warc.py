"""The bundled demo sample demo/demo.warc.gz (built by scripts/make_demo_warc.py, see demo/README.md)."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest
from fastwarc.warc import ArchiveIterator, WarcRecordType

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = REPO_ROOT / "demo" / "demo.warc.gz"
README = REPO_ROOT / "demo" / "README.md"
SCRIPT = REPO_ROOT / "scripts" / "make_demo_warc.py"

# As documented in demo/README.md.
N_PAGES = 44
RECORD_COUNTS = {"warcinfo": 1, "request": N_PAGES, "response": N_PAGES, "metadata": N_PAGES}
STATUS_COUNTS = {200: 42, 404: 1, 301: 1}
PAYLOAD_TYPES = {"text/html": 42, "application/pdf": 1, "image/png": 1}
HTML_LANGS = {
    "en", "de", "fr", "es", "it", "pt-BR", "nl", "pl", "sv", "tr", "vi", "id", "ru", "uk", "zh-CN",
    "zh-TW", "ja", "ko", "ar", "fa", "hi", "bn", "ta", "el", "th", "he", "ka",
}

TYPE_NAMES = ("warcinfo", "request", "response", "metadata")
UUID_RE = re.compile(r"^<urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}>$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def _type(record) -> str:
    for name in TYPE_NAMES:
        if record.record_type == getattr(WarcRecordType, name):
            return name
    return str(record.record_type)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """Every record: WARC headers, digest checks, and for HTTP records status, headers and payload."""
    out = []
    with open(DEMO, "rb") as stream:
        for rec in ArchiveIterator(stream, parse_http=False):
            item = {"type": _type(rec), "headers": dict(rec.headers.items())}
            # The block digest covers the HTTP header block too: verify it before parse_http().
            item["block_ok"] = rec.verify_block_digest(consume=False)
            if rec.is_http:
                rec.parse_http()
                item["payload_ok"] = rec.verify_payload_digest(consume=False)
                item["status"] = rec.http_headers.status_code
                item["http"] = dict(rec.http_headers.items())
                item["payload"] = rec.reader.read()
            else:
                item["block"] = rec.reader.read()
            out.append(item)
    return out


@pytest.fixture(scope="module")
def responses(records) -> dict[str, dict]:
    return {r["headers"]["WARC-Target-URI"]: r for r in records if r["type"] == "response"}


def test_size_well_under_one_mib():
    size = DEMO.stat().st_size
    assert 50_000 < size < 1024 * 1024
    assert size < 400_000, "keep the demo sample small (aim for 100-300 KB)"


def test_one_gzip_member_per_record_with_zero_mtime():
    data = DEMO.read_bytes()
    members = 0
    while data:
        assert data[:4] == b"\x1f\x8b\x08\x00", "gzip member without a plain header"
        assert data[4:8] == b"\x00\x00\x00\x00", "gzip mtime must be 0 for reproducible output"
        d = zlib.decompressobj(wbits=31)
        chunk = d.decompress(data)
        assert d.eof and chunk.startswith(b"WARC/1.0\r\n") and chunk.endswith(b"\r\n\r\n")
        assert chunk.count(b"\r\nWARC-Type: ") == 1, "exactly one record per gzip member"
        members += 1
        data = d.unused_data
    assert members == sum(RECORD_COUNTS.values())


def test_record_counts_by_type(records):
    assert Counter(r["type"] for r in records) == RECORD_COUNTS
    assert records[0]["type"] == "warcinfo"
    # request, response, metadata for each page, in that order
    types = [r["type"] for r in records[1:]]
    assert types == ["request", "response", "metadata"] * N_PAGES


def test_block_digests_verify(records):
    assert all("WARC-Block-Digest" in r["headers"] for r in records)
    assert [r["headers"]["WARC-Target-URI"] for r in records if r["type"] != "warcinfo" and not r["block_ok"]] == []
    assert records[0]["block_ok"]


def test_payload_digests_verify(records):
    http = [r for r in records if r["type"] in ("request", "response")]
    assert len(http) == 2 * N_PAGES
    assert all(r["payload_ok"] for r in http), [r["headers"]["WARC-Target-URI"] for r in http if not r["payload_ok"]]
    # fastwarc verifies payload digests of HTTP records only; metadata records carry the block digest
    # as payload digest (like Common Crawl), checked by hand here.
    for r in records:
        if r["type"] == "metadata":
            assert r["headers"]["WARC-Payload-Digest"] == sha1_b32(r["block"]) == r["headers"]["WARC-Block-Digest"]


def test_fastwarc_digest_filter_keeps_every_record():
    with open(DEMO, "rb") as stream:
        assert sum(1 for _ in ArchiveIterator(stream, verify_digests=True)) == sum(RECORD_COUNTS.values())


def test_warc_headers_and_links(records):
    info_id = records[0]["headers"]["WARC-Record-ID"]
    ids = [r["headers"]["WARC-Record-ID"] for r in records]
    assert len(set(ids)) == len(ids)
    assert all(UUID_RE.match(i) for i in ids)
    assert records[0]["headers"]["WARC-Filename"] == "demo.warc.gz"
    for req, resp, meta in zip(records[1::3], records[2::3], records[3::3]):
        uri = req["headers"]["WARC-Target-URI"]
        for r in (req, resp, meta):
            h = r["headers"]
            assert h["WARC-Target-URI"] == uri
            assert h["WARC-Warcinfo-ID"] == info_id
            assert DATE_RE.match(h["WARC-Date"]) and h["WARC-Date"] == req["headers"]["WARC-Date"]
            assert int(h["Content-Length"]) > 0
        assert resp["headers"]["WARC-Concurrent-To"] == req["headers"]["WARC-Record-ID"]
        assert meta["headers"]["WARC-Concurrent-To"] == resp["headers"]["WARC-Record-ID"]
        assert req["headers"]["Content-Type"] == "application/http; msgtype=request"
        assert resp["headers"]["Content-Type"] == "application/http; msgtype=response"
        assert meta["headers"]["Content-Type"] == "application/warc-fields"
        assert req["headers"]["WARC-IP-Address"] == resp["headers"]["WARC-IP-Address"]
        assert b"fetchTimeMs: " in meta["block"]
        http = resp["http"]
        assert int(http["Content-Length"]) == len(resp["payload"])
        assert "Date" in http and "Server" in http and "Content-Type" in http
    dates = [r["headers"]["WARC-Date"] for r in records]
    assert dates == sorted(dates)


def test_statuses_and_payload_types(responses):
    assert Counter(r["status"] for r in responses.values()) == STATUS_COUNTS
    assert Counter(r["headers"]["WARC-Identified-Payload-Type"] for r in responses.values()) == PAYLOAD_TYPES
    pdf = next(r for r in responses.values() if r["http"]["Content-Type"] == "application/pdf")
    png = next(r for r in responses.values() if r["http"]["Content-Type"] == "image/png")
    assert pdf["payload"].startswith(b"%PDF-1.4") and pdf["payload"].rstrip().endswith(b"%%EOF")
    assert png["payload"].startswith(b"\x89PNG\r\n\x1a\n")
    redirect = next(r for r in responses.values() if r["status"] == 301)
    assert redirect["http"]["Location"].startswith("https://") and redirect["payload"] == b""


def test_languages(responses):
    langs = set()
    for r in responses.values():
        m = re.search(rb'<html lang="([^"]+)"', r["payload"])
        if m:
            langs.add(m.group(1).decode())
    assert langs == HTML_LANGS
    assert len(langs) >= 12


def test_charset_cases(responses):
    utf8_in_header = [r for r in responses.values() if "charset=utf-8" in r["http"]["Content-Type"].lower()]
    assert len(utf8_in_header) >= 30
    cp1251 = responses["http://www.starye-stranicy.example/texts/deklaraciya.htm"]
    assert cp1251["http"]["Content-Type"] == "text/html"
    assert b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">' in cp1251["payload"]
    assert "\u0421\u0442\u0430\u0442\u044c\u044f" in cp1251["payload"].decode("windows-1251")  # "Статья"
    sjis = responses["http://www.jinken-archive.example/old/sengen.html"]
    assert sjis["http"]["Content-Type"] == "text/html"
    assert b"charset" not in sjis["payload"].lower()
    with pytest.raises(UnicodeDecodeError):
        sjis["payload"].decode("utf-8")
    assert "\u4e16\u754c\u4eba\u6a29\u5ba3\u8a00" in sjis["payload"].decode("shift_jis")  # 世界人権宣言


def test_filter_cases(responses):
    source = responses["https://www.menschenrechte-heute.example/erklaerung/artikel-1-bis-6.html"]
    dup = responses[
        "https://www.menschenrechte-heute.example/erklaerung/artikel-1-bis-6.html?utm_source=newsletter&utm_medium=email"
    ]
    assert dup["payload"] == source["payload"]
    assert dup["headers"]["WARC-Payload-Digest"] == source["headers"]["WARC-Payload-Digest"]

    a = responses["https://www.rights-daily.example/declaration/articles-on-movement-and-asylum"]["payload"]
    b = responses["https://syndication.worldwire.example/feeds/rights-daily/articles-on-movement-and-asylum"][
        "payload"
    ]
    paras_a, paras_b = (
        re.findall(rb"<(?:p|li)>(.*?)</(?:p|li)>", re.search(rb"<article.*?</article>", x, re.S).group(0))
        for x in (a, b)
    )
    assert len(paras_a) == len(paras_b) > 10
    assert sum(x != y for x, y in zip(paras_a, paras_b)) == 1  # one sentence changed
    assert b"WorldWire Syndication" in b and b"WorldWire Syndication" not in a  # other site chrome

    pii = responses["https://www.rights-daily.example/declaration/articles-on-work-and-education"]["payload"]
    assert b"editor.desk@rights-daily.example" in pii and b"93.184.216.34" in pii and b"192.168.0.10" in pii

    assert "https://www.casino-bonus.example/welcome-bonus-2024" in responses
    short = responses["https://www.rights-daily.example/quote-of-the-day"]["payload"].decode()
    article = re.search(r"<article.*?</article>", short, re.S).group(0)
    assert len(re.sub(r"<[^>]+>", " ", article).split()) < 30
    rep = responses["https://www.rights-daily.example/newsletter/archive?page=7"]["payload"].decode()
    lines = re.findall(r"<p>(.*?)</p>", re.search(r"<article.*?</article>", rep, re.S).group(0))
    assert len(lines) >= 30 and len(set(lines)) == 1


def test_readme_documents_every_record(responses):
    text = README.read_text(encoding="utf-8")
    for url in responses:
        assert f"`{url}`" in text, url
    for name, count in RECORD_COUNTS.items():
        assert re.search(rf"\|\s*{name}\s*\|\s*{count}\s*\|", text), f"README count for {name}"


def test_readme_table_matches_script():
    listed = subprocess.run(
        [sys.executable, str(SCRIPT), "--list"], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    assert listed in README.read_text(encoding="utf-8"), "update demo/README.md from `make_demo_warc.py --list`"


def test_script_reproduces_committed_file(shared_data, tmp_path):
    out = tmp_path / "demo.warc.gz"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--shared-data", str(shared_data), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    rebuilt, committed = out.read_bytes(), DEMO.read_bytes()
    # Compare the decompressed records first: a difference there is a content change; a difference
    # only in the compressed bytes would come from another zlib build.
    assert _members(rebuilt) == _members(committed), (
        "scripts/make_demo_warc.py no longer produces demo/demo.warc.gz; re-run it and update demo/README.md"
    )
    assert rebuilt == committed, "same records but different gzip bytes (another zlib build?)"


def _members(data: bytes) -> list[bytes]:
    out = []
    while data:
        d = zlib.decompressobj(wbits=31)
        out.append(d.decompress(data))
        data = d.unused_data
    return out
