"""URL block lists: drop a page before extraction when its URL is on a list (FineWeb's first step).

Three rules, checked in this order and reported by name so statistics can tell them apart:

* ``domain``: the host or any parent domain is blocked (blocking ``example.com`` blocks
  ``www.example.com`` and ``a.b.example.com``; a bare TLD such as ``xxx`` blocks the whole TLD).
* ``url``: the URL, or one of its path prefixes on a ``/`` boundary, is blocked (compared
  case-insensitively, fragment ignored). Entries may omit
  the scheme and ``www.`` (as in the UT1 lists): ``example.com/adult`` blocks
  ``https://www.example.com/adult/page.html`` but not ``/adultery``.
* ``word``: a blocked word equals a whole token of the (percent-decoded, lower-cased) URL,
  tokens being runs of letters and digits.

Block list files (local paths or URLs fsspec can open, .gz allowed) hold one entry per line; an
entry with a ``/`` is a URL, otherwise a domain; blank lines and ``#`` comments are skipped.
They are read once, when the filter is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

_TOKEN = re.compile(r"[^\W_]+")


def _host_and_path(url: str) -> tuple[str, str]:
    """Host without ``www.``, port or trailing dot, and path+query without trailing /, lower-cased."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # e.g. an unbalanced IPv6 bracket: no usable host
        return "", ""
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    path = parts.path.rstrip("/")
    if parts.query:
        path += "?" + parts.query
    return host, path.lower()


def _parent_domains(host: str) -> Iterable[str]:
    """``a.b.c`` -> ``a.b.c``, ``b.c``, ``c``."""
    labels = host.split(".")
    return (".".join(labels[i:]) for i in range(len(labels)))


def _url_prefixes(host: str, path: str) -> Iterable[str]:
    """``host/a/b?q`` -> ``host``, ``host/a``, ``host/a/b``, ``host/a/b?q``."""
    yield host
    base, _, query = path.partition("?")
    prefix = host
    for segment in base.split("/")[1:]:
        prefix += "/" + segment
        yield prefix
    if query:
        yield f"{prefix}?{query}"


def _read_lines(location: str) -> Iterable[str]:
    import fsspec

    with fsspec.open(location, "rt", encoding="utf-8", errors="replace", compression="infer") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line


class UrlFilter:
    """Built once per worker from the recipe's ``url_filter`` section; ``blocked`` per document."""

    def __init__(self, params: Mapping[str, Any]):
        self.enabled = bool(params.get("enabled", True))
        self.domains: set[str] = set()
        self.urls: set[str] = set()
        self.words = {w.lower() for w in params.get("blocked_words") or ()}
        entries_domains = list(params.get("blocked_domains") or ())
        entries_urls = list(params.get("blocked_urls") or ())
        if self.enabled:
            for location in params.get("block_list_files") or ():
                for entry in _read_lines(str(location)):
                    (entries_urls if "/" in entry else entries_domains).append(entry)
        for domain in entries_domains:
            host, _ = _host_and_path(domain)
            if host:
                self.domains.add(host)
        for entry in entries_urls:
            host, path = _host_and_path(entry)
            if host:
                self.urls.add(host + path)

    def blocked(self, url: str) -> str | None:
        """None when the URL may pass, else the rule that matched: "domain", "url" or "word"."""
        if not self.enabled:
            return None
        host, path = _host_and_path(url)
        if self.domains and any(d in self.domains for d in _parent_domains(host)):
            return "domain"
        if self.urls and any(u in self.urls for u in _url_prefixes(host, path)):
            return "url"
        if self.words and not self.words.isdisjoint(_TOKEN.findall(unquote(url).lower())):
            return "word"
        return None
