#!/usr/bin/env python
"""URL filter parity: cc_curate's FineWeb URL rules against datatrove's URLFilter, URL by URL.

The URLs: every WARC-Target-URI of the shared WARC files (``*/*.warc.gz`` of the shared data
folder), plus a generated set drawn, with a fixed seed, from the lists themselves: listed domains
bare and with subdomains, paths, ports, upper case, trailing dots, userinfo and query strings;
listed URLs with and without a scheme; punycode and Unicode hosts; banned words, soft-banned
pairs and banned subwords embedded in URLs, split by punctuation or changed in case. Both
filters use the lists of the shared data folder (``fineweb_url_filter/``, datatrove 0.10.1's).

datatrove runs in its own virtual environment (never a dependency of cc_curate), in a subprocess
that re-runs this file with ``--worker``; its tldextract uses the Public Suffix List snapshot it
bundles (no cache, no download), as cc_curate's does. 100% agreement is required: the script
exits 1 on any difference.

    .venv/bin/python scripts/parity_url_filter.py                 # the docs/parity.md section
    .venv/bin/python scripts/parity_url_filter.py --fixture tests/fixtures/url_filter_decisions.jsonl.gz
"""

from __future__ import annotations

import argparse
import collections
import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SEED = 20241203
FIXTURE_SIZE = 4000  # URLs in the CI fixture; every rule and every generated kind is represented
SECTION_BEGIN = "<!-- url-filter-parity:begin -->"
SECTION_END = "<!-- url-filter-parity:end -->"


# --------------------------------------------------------------------------------------------------
# worker: runs inside the parity venv, imports datatrove only


def worker(in_path: str, out_path: str) -> None:
    """datatrove's URLFilter (integrated lists, default settings) on every URL: its rule or null."""
    import logging

    from datatrove.data import Document
    from datatrove.pipeline.filters import URLFilter
    from loguru import logger

    logger.remove()
    logging.disable(logging.WARNING)
    url_filter = URLFilter()
    with open(in_path, encoding="utf-8") as src, open(out_path, "w", encoding="utf-8") as out:
        for line in src:
            url = json.loads(line)
            result = url_filter.filter(Document(text="", id="x", metadata={"url": url}))
            out.write(json.dumps(None if result is True else result[1]) + "\n")


# --------------------------------------------------------------------------------------------------
# driver: runs in cc_curate's venv

WORKER_PACKAGES = ["datatrove==0.10.1", "pyahocorasick", "fasteners"]


def ensure_venv(path: Path) -> Path:
    """A venv with datatrove's URL filter and cc_curate's tldextract version; never cleared if it exists."""
    from importlib.metadata import version

    python = path / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(path)
    wanted = [*WORKER_PACKAGES, f"tldextract=={version('tldextract')}"]
    check = ("import datatrove, ahocorasick, fasteners, tldextract; from importlib.metadata import version; "
             f"assert version('tldextract') == {version('tldextract')!r} and version('datatrove') == '0.10.1'")
    if subprocess.run([str(python), "-c", check], capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *wanted], check=True)
    return python


def warc_urls(data: Path) -> dict[str, list[str]]:
    """Every WARC-Target-URI of the shared WARC files, cleaned as cc_curate's reader cleans it; by file."""
    from fastwarc.warc import ArchiveIterator

    urls: dict[str, list[str]] = {}
    for path in sorted(data.glob("*/*.warc.gz")):
        found = []
        with path.open("rb") as f:
            for record in ArchiveIterator(f, parse_http=False):
                uri = record.headers.get("WARC-Target-URI")
                cleaned = (uri or "").strip().strip("<>").strip()
                if cleaned:
                    found.append(cleaned)
        urls[f"{path.parent.name}/{path.name}"] = found
    return urls


def _sample_lines(archive: Path, member: str, k: int, rng: random.Random) -> list[str]:
    import tarfile

    with tarfile.open(archive, "r:gz") as tar:
        names = {Path(m.name).name: m for m in tar.getmembers()}
        lines = io.TextIOWrapper(tar.extractfile(names[member]), encoding="utf-8").read().splitlines()
    return rng.sample(lines, k)


def _words(path: Path) -> list[str]:
    return [w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip() and w[0] != "#"]


def generated_urls(lists: Path, rng: random.Random) -> dict[str, list[str]]:
    """URLs built from the lists, by kind: each kind probes one way a host or word can be written."""
    archive = lists / "url_filterblacklistsv0_3_0.tar.gz"
    domains = _sample_lines(archive, "domains", 1500, rng)
    listed_urls = _sample_lines(archive, "urls", 300, rng)
    banned = _words(lists / "banned_words.txt")
    soft = _words(lists / "soft_banned_words.txt")
    subwords = _words(lists / "banned_subwords.txt")
    idn = [d for d in _sample_lines(archive, "domains", 200_000, rng) if "xn--" in d][:100]

    def to_unicode(host: str) -> str:
        try:
            return host.encode("ascii").decode("idna")
        except UnicodeError:
            return host

    def some(items: list[str], k: int) -> list[str]:
        return rng.sample(items, min(k, len(items)))

    kinds: dict[str, list[str]] = collections.defaultdict(list)
    for d in domains:
        labels = d.split(".")
        kinds["domain bare"].append(f"http://{d}/")
        kinds["domain with path and query"].append(f"https://{d}/a/b.html?q=1&r=x#top")
        kinds["subdomain added"].append(f"https://www.{d}/page")
        kinds["deeper subdomain"].append(f"http://a.b.{d}/")
        kinds["port"].append(f"http://{d}:8080/x")
        kinds["upper case host"].append(f"http://{d.upper()}/")
        kinds["mixed case host"].append(f"http://{labels[0].capitalize()}.{'.'.join(labels[1:])}/Index.HTML")
        kinds["trailing dot"].append(f"http://{d}./")
        kinds["userinfo"].append(f"http://user:secret@{d}/")
        kinds["no scheme"].append(f"{d}/path")
        kinds["parent of listed host"].append(f"http://{'.'.join(labels[1:])}/" if len(labels) > 2 else f"http://{d}/")
        kinds["lookalike"].append(f"http://not{d}/")
        kinds["listed host under another domain"].append(f"http://{d}.example.org/")
    for d in idn:
        kinds["punycode host"].append(f"http://{d}/")
        kinds["unicode host"].append(f"http://{to_unicode(d)}/")
        kinds["punycode upper case"].append(f"http://{d.upper()}/")
    for host in ("bücher.de", "例え.テスト", "пример.рф", "xn--e1afmkfd.xn--p1ai", "münchen.example"):
        kinds["unicode host"].append(f"https://{host}/seite")
    for u in listed_urls:
        kinds["listed url exact"].append(u)
        kinds["listed url with scheme"].append(f"http://{u}")
        kinds["listed url with trailing slash"].append(f"{u}/")
        kinds["listed url upper case"].append(u.upper())
    for w in banned:
        kinds["banned word as token"].append(f"https://example.com/{w}/page")
        kinds["banned word upper case"].append(f"https://example.com/{w.upper()}-videos")
        kinds["banned word inside a token"].append(f"https://example.com/x{w}y")
        kinds["banned word in host"].append(f"http://{w}.example.net/")
    for _ in range(300):
        a, b = rng.sample(soft, 2)
        kinds["two soft words"].append(f"https://example.com/{a}-{b}.html")
        kinds["one soft word"].append(f"https://example.com/{a}/index")
        kinds["same soft word twice"].append(f"https://example.com/{a}/{a}")
        kinds["soft words, one upper case"].append(f"https://example.com/{a}_{b.upper()}")
    for w in subwords:
        kinds["subword embedded"].append(f"https://example.com/ab{w}cd")
        split = max(1, len(w) // 2)
        kinds["subword split by punctuation"].append(f"https://example.com/{w[:split]}-{w[split:]}")
        kinds["subword upper case"].append(f"https://example.com/{w.upper()}")
    for _ in range(300):
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-") for _ in range(rng.randint(3, 12)))
        tld = rng.choice(["com", "org", "net", "co.uk", "com.br", "de", "ru", "blogspot.com", "github.io", "xxx"])
        kinds["random host"].append(f"https://{name.strip('-') or 'x'}.{tld}/")
    kinds["odd hosts"] += [
        "http://127.0.0.1/", "http://10.0.0.1:8080/porn", "http://[::1]/", "http://[2001:db8::1]:80/x",
        "http://localhost/", "http://localhost:3000/sex", "http:///path", "http://", "mailto:someone@example.com",
        "http://example.com。jp/", "http://example．com/", "file:///etc/hosts", "http://.com/", "http://com/",
        "http://example..com/", "http://-/", "http://a/", "//example.com/path", "example.com", "ftp://example.com/x",
        "http://example.com/%70orn", "http://example.com/p%6Frn", "https://user@example.com:443/?sex=1",
        "http://www.example.com/?q=free+porn+videos", "http://xxx/", "http://example.xxx/", "http://example.sex/",
    ]
    return dict(kinds)


def datatrove_rules(python: Path, urls: list[str]) -> list[str | None]:
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = Path(tmp, "urls.jsonl"), Path(tmp, "rules.jsonl")
        in_path.write_text("".join(json.dumps(u) + "\n" for u in urls), encoding="utf-8")
        env = {**os.environ,
               "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",  # no download: the bundled snapshot
               "TLDEXTRACT_CACHE": str(Path(tmp, "tldextract-cache"))}  # and no earlier cache
        subprocess.run([str(python), __file__, "--worker", str(in_path), str(out_path)], check=True, env=env)
        return [json.loads(line) for line in out_path.open(encoding="utf-8")]


def cc_curate_rules(lists: Path, urls: list[str]) -> list[str | None]:
    from cc_curate import url_lists
    from cc_curate.stages.url_filter import UrlFilter

    url_filter = UrlFilter({"enabled": True}, url_lists.load(lists))
    return [url_filter.blocked(u) for u in urls]


def write_fixture(path: Path, rows: list[dict], meta: dict, rng: random.Random) -> None:
    """A sample that keeps every rule and every kind: round-robin over (source, rule) groups."""
    groups: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
    for row in rows:
        groups[(row["source"], str(row["rule"]))].append(row)
    for members in groups.values():
        rng.shuffle(members)
    picked: list[dict] = []
    depth = 0
    while len(picked) < FIXTURE_SIZE and any(len(m) > depth for m in groups.values()):
        for key in sorted(groups):
            if depth < len(groups[key]) and len(picked) < FIXTURE_SIZE:
                picked.append(groups[key][depth])
        depth += 1
    picked.sort(key=lambda r: (r["source"], r["url"]))
    lines = [json.dumps({"meta": meta}, sort_keys=True)]
    lines += [json.dumps({"url": r["url"], "rule": r["rule"], "source": r["source"]}, ensure_ascii=False)
              for r in picked]
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:  # byte-identical when regenerated
        gz.write(("\n".join(lines) + "\n").encode("utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    print(f"wrote {len(picked)} URLs to {path} ({path.stat().st_size:,} bytes)", file=sys.stderr)


def report(rows: list[dict], meta: dict) -> str:
    n = len(rows)
    agree = sum(r["rule"] == r["cc_curate"] for r in rows)
    by_source = collections.Counter(r["group"] for r in rows)
    by_rule = collections.Counter(str(r["rule"]) for r in rows)
    lines = [
        SECTION_BEGIN,
        "## URL filter",
        "",
        f"cc_curate's FineWeb URL rules against datatrove {meta['datatrove']}'s `URLFilter` (default settings, its",
        f"integrated lists), both with tldextract {meta['tldextract']}'s bundled Public Suffix List, on {n:,} URLs",
        f"({meta['date']}): **{agree:,} of {n:,} decisions agree ({100 * agree / n:.2f}%)**, rule names included.",
        "",
        "| URLs from | count |",
        "|---|---:|",
        *(f"| {k} | {v:,} |" for k, v in sorted(by_source.items())),
        "",
        "| datatrove's decision | URLs |",
        "|---|---:|",
        *(f"| {'kept' if k == 'None' else k} | {v:,} |" for k, v in sorted(by_rule.items())),
        "",
        "The generated URLs take a seeded sample of the lists: 1,500 domains (each bare, with a path and query,",
        "`www.` and two more subdomain labels, a port, upper and mixed case, a trailing dot, userinfo, no scheme,",
        "its parent, a look-alike, under another domain), the listed punycode domains also in Unicode and upper",
        "case, 300 listed URLs (exact, with a scheme, a trailing slash, upper case), every banned word (as a token,",
        "upper case, inside a token, in the host), 300 pairs of soft-banned words (and single, repeated, upper",
        "case), every banned subword (embedded, split by punctuation, upper case), random hosts and odd ones (IP",
        "addresses, IPv6, localhost, empty hosts, ideographic dots, percent-encoding).",
        "",
        "What the agreement covers, rule by rule: tldextract drops the scheme, userinfo, port and a trailing dot,",
        "but keeps the case and the form of the host (an upper-case host, or the Unicode form of a listed punycode",
        "host, does not match); the `url` rule compares the whole URL string, and",
        "the UT1 entries carry no scheme, so it fires only on URLs written without one (never in a WARC);",
        "word rules see ASCII tokens with their case kept. A different tldextract version can move a suffix",
        "(its Public Suffix List snapshot changes): the CI fixture records the version, and its test names it when a",
        "decision differs.",
    ]
    wrong = [r for r in rows if r["rule"] != r["cc_curate"]]
    if wrong:
        lines += ["", f"Disagreements ({len(wrong)}):", "", "| URL | datatrove | cc_curate |", "|---|---|---|"]
        lines += [f"| `{r['url']}` | {r['rule']} | {r['cc_curate']} |" for r in wrong[:50]]
    lines += [
        "",
        "Reproduce: `.venv/bin/python scripts/parity_url_filter.py` (regenerates this section; `--fixture` also",
        "rewrites `tests/fixtures/url_filter_decisions.jsonl.gz`, which `tests/test_fineweb_url_filter.py` checks).",
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def update_doc(doc: Path, section: str) -> None:
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if SECTION_BEGIN in text:
        text = re.sub(re.escape(SECTION_BEGIN) + r".*?" + re.escape(SECTION_END) + r"\n?", lambda _: section,
                      text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--venv", type=Path, default=REPO / "tmp" / "parity-venv")
    ap.add_argument("--shared-data", type=Path,
                    default=Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "parity.md")
    ap.add_argument("--fixture", type=Path, help="also write the CI fixture (a sample with datatrove's rules) here")
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from importlib.metadata import version

    python = ensure_venv(args.venv)
    lists = args.shared_data / "fineweb_url_filter"
    rng = random.Random(SEED)
    rows: list[dict] = []
    for name, urls in warc_urls(args.shared_data).items():
        rows += [{"url": u, "source": "warc", "group": f"WARC {name}"} for u in dict.fromkeys(urls)]
    for kind, urls in generated_urls(lists, rng).items():
        rows += [{"url": u, "source": f"generated: {kind}", "group": "generated from the lists"}
                 for u in dict.fromkeys(urls)]
    urls = [r["url"] for r in rows]
    started = time.perf_counter()
    for row, rule in zip(rows, datatrove_rules(python, urls)):
        row["rule"] = rule
    print(f"datatrove: {len(urls):,} URLs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    for row, rule in zip(rows, cc_curate_rules(lists, urls)):
        row["cc_curate"] = rule
    meta = {"datatrove": "0.10.1", "tldextract": version("tldextract"), "date": time.strftime("%Y-%m-%d")}
    update_doc(args.out, report(rows, meta))
    wrong = [r for r in rows if r["rule"] != r["cc_curate"]]
    print(f"{len(rows) - len(wrong):,} of {len(rows):,} agree; section written to {args.out}", file=sys.stderr)
    if args.fixture:
        write_fixture(args.fixture, rows, {k: meta[k] for k in ("datatrove", "tldextract")}, random.Random(SEED))
    for r in wrong[:20]:
        print(f"DIFF {r['url']!r}: datatrove {r['rule']}, cc_curate {r['cc_curate']}", file=sys.stderr)
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
