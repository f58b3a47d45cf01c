"""The URL filter: drop a page before extraction when its URL is blocked (FineWeb's first step).

FineWeb's rules (datatrove's ``URLFilter``), on the lists of ``cc_curate.url_lists``, checked in
this order and reported under datatrove's names:

* ``domain``: the registered domain (tldextract, the Public Suffix List's ICANN section) is listed;
* ``subdomain``: the full host is listed;
* ``url``: the URL string, exactly as in the WARC record, is listed (the UT1 entries carry no
  scheme, so this matches only URLs written without one);
* ``hard_blacklisted``: a banned word is a token of the URL (tokens: runs of ASCII letters and
  digits, case kept, so ``Porn`` is not ``porn``);
* ``soft_blacklisted``: at least ``soft_word_threshold`` distinct soft-banned words are tokens;
* ``blacklisted_subword``: a banned subword occurs in the URL lower-cased with every character
  other than ASCII letters and digits removed.

Hosts are compared as tldextract returns them: scheme, userinfo, port and a trailing dot dropped,
case and form kept, so ``EXAMPLE.com``, or the Unicode form of a listed punycode host, does not
match (as in datatrove). The Public Suffix List is the snapshot bundled with tldextract: nothing
is fetched at run time. docs/parity.md shows 100% agreement with datatrove.

Then the user's own lists (recipe keys ``blocked_domains``, ``blocked_urls``, ``blocked_words``,
``block_list_files``), with broader matching, reported as:

* ``blocked_domain``: the host or any parent domain is blocked (blocking ``example.com`` blocks
  ``www.example.com`` and ``a.b.example.com``; a bare TLD such as ``xxx`` blocks the whole TLD);
* ``blocked_url``: the URL, or one of its path prefixes on a ``/`` boundary, is blocked (compared
  case-insensitively, fragment ignored). Entries may omit the scheme and ``www.``:
  ``example.com/adult`` blocks ``https://www.example.com/adult/page.html`` but not ``/adultery``;
* ``blocked_word``: a blocked word equals a whole token of the (percent-decoded, lower-cased) URL,
  tokens being runs of letters and digits.

Block list files (local paths or URLs fsspec can open, .gz allowed) hold one entry per line; an
entry with a ``/`` is a URL, otherwise a domain; blank lines and ``#`` comments are skipped.
They are read once, when the filter is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import ahocorasick
from tldextract import TLDExtract

from cc_curate.params import setting
from cc_curate.stages.base import BatchContext, Document, Stage, StageSetup
from cc_curate.url_lists import CompiledUrlLists, for_recipe, normalize, url_tokens

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


class FineWebRules:
    """datatrove's URLFilter decisions on compiled lists; ``rule`` per URL."""

    def __init__(self, lists: CompiledUrlLists, soft_word_threshold: int = 2):
        self.lists = lists
        self.soft_word_threshold = soft_word_threshold
        # The bundled Public Suffix List snapshot only: no cache file, no download.
        self._split = TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
        self._subwords = ahocorasick.Automaton()  # one pass over the URL for all subwords
        for subword in lists.banned_subwords:
            self._subwords.add_word(subword, subword)
        if lists.banned_subwords:
            self._subwords.make_automaton()

    def rule(self, url: str) -> str | None:
        """None when the URL passes, else the name of the first rule that blocks it."""
        lists = self.lists
        host = self._split(url)
        if lists.has_domain(host.top_domain_under_public_suffix):
            return "domain"
        if lists.has_domain(host.fqdn):
            return "subdomain"
        if lists.has_url(url):
            return "url"
        tokens = url_tokens(url)
        if not lists.banned_words.isdisjoint(tokens):
            return "hard_blacklisted"
        if len(lists.soft_banned_words & tokens) >= self.soft_word_threshold:
            return "soft_blacklisted"
        if lists.banned_subwords and next(self._subwords.iter(normalize(url)), None) is not None:
            return "blacklisted_subword"
        return None


class UrlFilter:
    """Built once per worker from the recipe's ``url_filter`` section; ``blocked`` per document.

    ``fineweb_lists``: FineWeb's compiled lists, or None when the recipe runs without them.
    """

    def __init__(self, params: Mapping[str, Any], fineweb_lists: CompiledUrlLists | None = None):
        self.enabled = bool(params.get("enabled", True))
        self.fineweb = (FineWebRules(fineweb_lists, int(params.get("soft_word_threshold", 2)))
                        if self.enabled and fineweb_lists is not None else None)
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
        """None when the URL may pass, else the rule that matched (FineWeb's rules first)."""
        if not self.enabled or not url:
            return None
        if self.fineweb is not None:
            rule = self.fineweb.rule(url)
            if rule:
                return rule
        host, path = _host_and_path(url)
        if self.domains and any(d in self.domains for d in _parent_domains(host)):
            return "blocked_domain"
        if self.urls and any(u in self.urls for u in _url_prefixes(host, path)):
            return "blocked_url"
        if self.words and not self.words.isdisjoint(_TOKEN.findall(unquote(url).lower())):
            return "blocked_word"
        return None



@dataclass(frozen=True)
class UrlFilterParams:
    enabled: bool = setting(True, "Apply the URL block lists")
    fineweb_lists: str | None = setting(
        None, "Folder of FineWeb's URL lists (`cc-curate url-lists fetch`); `default` = that command's "
        "folder ($CC_CURATE_URL_LISTS or ~/.cache/cc_curate/url_lists); null = none")
    soft_word_threshold: int = setting(2, "FineWeb rule: soft-banned URL words that remove a page", low=1)
    blocked_domains: list[str] = setting([], "Domains blocked with their subdomains")
    blocked_urls: list[str] = setting([], "URLs blocked with their path prefixes")
    blocked_words: list[str] = setting([], "Words blocked when they appear as a URL token")
    block_list_files: list[str] = setting([], "Files (path or URL) of domains/URLs, one a line")


class UrlFilterStage(Stage):
    """Removes a record before extraction when its URL is on a block list (reason ``url_filter``;
    the rule that matched is the signal ``url_filter.{rule}``)."""

    name = "url_filter"
    phase = "record"
    doc = "URL block lists (FineWeb's lists, domains, URLs, URL words), checked before extraction"
    Params = UrlFilterParams
    reasons = ("url_filter",)
    decides_before_dedup = True

    def setup(self, setup: StageSetup) -> None:
        """FineWeb's compiled lists come from the runtime when it shares them, else are loaded here."""
        lists = setup.shared.get("url_lists") or for_recipe(asdict(self.params), setup.recipe_path)
        self.matcher = UrlFilter(asdict(self.params), lists)

    def process(self, doc: Document, params: UrlFilterParams, context: BatchContext) -> None:
        rule = self.matcher.blocked(doc.url)
        if rule:
            context.counters.add(f"url_filter.removed.{rule}")
            doc.signals[f"url_filter.{rule}"] = 1.0
            doc.remove("url_filter")
