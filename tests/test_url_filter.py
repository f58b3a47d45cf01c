"""The user's own URL block lists: domains with their subdomains, URL prefixes, whole-token words, list files.

FineWeb's lists and rules: tests/test_fineweb_url_filter.py."""

from __future__ import annotations

import gzip
from pathlib import Path

from cc_curate.stages.url_filter import UrlFilter


def test_domain_blocks_subdomains_but_not_lookalikes() -> None:
    f = UrlFilter({"blocked_domains": ["example.com", "WWW.Bad.org"]})
    assert f.blocked("https://example.com/page") == "blocked_domain"
    assert f.blocked("http://www.example.com:8080/x?y=1") == "blocked_domain"
    assert f.blocked("https://a.b.example.com./") == "blocked_domain"
    assert f.blocked("https://cdn.bad.org/img.png") == "blocked_domain"
    assert f.blocked("https://notexample.com/") is None
    assert f.blocked("https://example.com.evil.net/") is None


def test_url_prefixes_on_path_boundaries() -> None:
    f = UrlFilter({"blocked_urls": ["example.org/adult", "http://www.site.net/a/b.html?id=3"]})
    assert f.blocked("https://www.example.org/adult") == "blocked_url"
    assert f.blocked("https://example.org/Adult/page.html") == "blocked_url"
    assert f.blocked("https://example.org/adultery") is None
    assert f.blocked("https://example.org/") is None
    assert f.blocked("http://site.net/a/b.html?id=3") == "blocked_url"
    assert f.blocked("http://site.net/a/b.html?id=4") is None


def test_words_match_whole_tokens_only() -> None:
    f = UrlFilter({"blocked_words": ["sex", "Casino"]})
    assert f.blocked("https://example.com/free-sex-videos") == "blocked_word"
    assert f.blocked("https://casino.example.com/") == "blocked_word"
    assert f.blocked("https://example.com/%63asino/") == "blocked_word"  # percent-encoded
    assert f.blocked("https://www.sussex.ac.uk/") is None
    assert f.blocked("https://example.com/sextant") is None


def test_rule_order_domain_first() -> None:
    f = UrlFilter({"blocked_domains": ["x.com"], "blocked_urls": ["x.com/a"], "blocked_words": ["a"]})
    assert f.blocked("https://x.com/a") == "blocked_domain"


def test_block_list_files_local_gzip_and_url(tmp_path: Path) -> None:
    plain = tmp_path / "domains.txt"
    plain.write_text("# comment\n\nblocked.example\nother.example/path\n", encoding="utf-8")
    packed = tmp_path / "more.txt.gz"
    packed.write_bytes(gzip.compress(b"gz.example\n"))
    f = UrlFilter({"block_list_files": [str(plain), plain.with_name("more.txt.gz").as_uri()]})
    assert f.blocked("https://sub.blocked.example/") == "blocked_domain"
    assert f.blocked("https://other.example/path/page") == "blocked_url"
    assert f.blocked("https://other.example/") is None
    assert f.blocked("https://gz.example/") == "blocked_domain"


def test_disabled_and_malformed() -> None:
    assert UrlFilter({"enabled": False, "blocked_domains": ["a.com"]}).blocked("https://a.com/") is None
    f = UrlFilter({"blocked_domains": ["a.com"]})
    assert f.blocked("http://[::1") is None
    assert f.blocked("") is None
