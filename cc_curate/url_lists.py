"""FineWeb's URL block lists as files: fetch them once, find them, compile them for the workers.

FineWeb and FineWeb2 filter URLs with the lists datatrove ships (datatrove 0.10.1,
``datatrove/assets/``): the UT1 "adult" blacklist (4.56 million domains, 19,586 URLs; Université
Toulouse 1 Capitole, Fabrice Prigent, CC BY-SA 4.0) and three word lists (Apache-2.0).
``cc-curate url-lists fetch`` copies them once into a folder; a run finds that folder from the
recipe (``url_filter.fineweb_lists``) and never fetches anything.

Compiling turns the two big lists into sorted arrays of 64-bit xxhashes (36 MB instead of the
hundreds of MB of a Python set) and caches them by the files' content, so the driver builds them
once per machine and hands them to every worker through Ray's object store (zero-copy, shared by
the workers of a node).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import xxhash

from cc_curate.errors import UserError

DOMAIN_LIST_ARCHIVE = "url_filterblacklistsv0_3_0.tar.gz"
BANNED_WORDS = "banned_words.txt"
SOFT_BANNED_WORDS = "soft_banned_words.txt"
BANNED_SUBWORDS = "banned_subwords.txt"
# The files as datatrove 0.10.1 ships them (what FineWeb and FineWeb2 ran with): sha256 each.
LIST_FILES = {
    DOMAIN_LIST_ARCHIVE: "b37eefe1f3103dfa46b21b3f407b8b23cec2958ea22028700e6cc44d80f55e9e",
    BANNED_WORDS: "7aae5109ccc4d8357167168fa3a91331fa2fafd8eb8cc9c38cc9147c2610fab0",
    SOFT_BANNED_WORDS: "e5043030accca33b0e368a693997576beea4c58279da641bff40b4e02281b063",
    BANNED_SUBWORDS: "4770445cd8d2b16495efde88bc4efc3a520bdc0f3137d14d85cd3d89b194a232",
}
DATATROVE_WHEEL = "datatrove-0.10.1-py3-none-any.whl"
DATATROVE_WHEEL_SHA256 = "b0846fc28482b25c9dbeaa09445066ff68266b58d762e9344c64fe5f6d92d14c"
PYPI_SIMPLE = "https://pypi.org/simple/datatrove/"
FETCH_COMMAND = "cc-curate url-lists fetch"
DEFAULT_SETTING = "default"
ENV_FOLDER = "CC_CURATE_URL_LISTS"
_NOT_ALNUM = re.compile(r"[^a-zA-Z0-9]+")
_README = """\
# FineWeb's URL block lists

Fetched by `cc-curate url-lists fetch` from {source}: the files of datatrove 0.10.1's
`datatrove/assets/`, which FineWeb and FineWeb2 used (sha256 checked).

- `{archive}`: `domains` and `urls` of the UT1 blacklist, category "adult". UT1 is maintained by
  Fabrice Prigent, Université Toulouse 1 Capitole, and distributed under CC BY-SA 4.0
  (https://creativecommons.org/licenses/by-sa/4.0/); redistribution must keep this attribution.
- `banned_words.txt`, `soft_banned_words.txt`, `banned_subwords.txt`: datatrove's word lists, Apache-2.0.
"""


def default_folder() -> Path:
    """Where ``fetch`` writes and ``fineweb_lists: default`` reads: $CC_CURATE_URL_LISTS, else the user cache."""
    if os.environ.get(ENV_FOLDER):
        return Path(os.environ[ENV_FOLDER]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "cc_curate" / "url_lists"


def resolve_folder(setting: str) -> Path:
    """The folder a recipe's ``url_filter.fineweb_lists`` names (``default`` = :func:`default_folder`)."""
    return default_folder() if setting == DEFAULT_SETTING else Path(setting).expanduser()


def missing_files(folder: Path) -> list[str]:
    """The list files ``folder`` lacks (all of them when it does not exist)."""
    return [name for name in LIST_FILES if not (folder / name).is_file()]


def require(folder: Path, where: str) -> None:
    """Stop with one clear line when ``folder`` lacks a list: ``where`` says which file and key asked."""
    missing = missing_files(folder)
    if missing:
        raise UserError(
            f"{where}: FineWeb's URL block lists are not in {folder} (missing {', '.join(missing)}); "
            f"fetch them once with `{FETCH_COMMAND}`, or set url_filter.fineweb_lists: null to run without them"
        )


# --- parsing, as datatrove reads the files -------------------------------------------------------

def normalize(text: str) -> str:
    """Drop every run of characters that are not ASCII letters or digits, then lower-case."""
    return _NOT_ALNUM.sub("", text).lower()


def url_tokens(url: str) -> set[str]:
    """The URL split on runs of non-ASCII-alphanumerics (case kept, empty ends kept)."""
    return set(_NOT_ALNUM.split(url))


def _entries(lines: Iterable[str]) -> Iterator[str]:
    """Lines not starting with ``#``, stripped (an empty line is an empty entry, as in datatrove)."""
    for line in lines:
        if line[0] != "#":
            yield line.strip()


def _text_lines(raw: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(raw, encoding="utf-8", newline=None)  # universal newlines, like open()


def read_words(path: Path) -> frozenset[str]:
    """A word list, each entry normalised as datatrove normalises it."""
    with path.open("rb") as raw:
        return frozenset(normalize(entry) for entry in _entries(_text_lines(raw)))


def entry_hash(text: str) -> int:
    """The 64-bit key of a domain or URL entry (xxh64 of its UTF-8 bytes)."""
    return xxhash.xxh64_intdigest(text.encode("utf-8", "surrogatepass"))


def _hash_member(archive: tarfile.TarFile, name: str) -> np.ndarray:
    member = next((m for m in archive.getmembers() if m.isfile() and Path(m.name).name == name), None)
    if member is None:
        raise UserError(f"{archive.name}: no '{name}' list inside")
    lines = _text_lines(archive.extractfile(member))  # type: ignore[arg-type]
    keys = np.fromiter((entry_hash(e) for e in _entries(lines)), dtype=np.uint64)
    # sorted for binary search, repeats dropped (np.unique takes 20 s here with numpy 2.4, this 1.5 s)
    keys.sort()
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first]


# --- the compiled form -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompiledUrlLists:
    """FineWeb's lists ready for lookups; sent to workers through Ray's object store (arrays zero-copy)."""

    digest: str  # sha256 over the four files: names the cache entry, identifies the lists in logs
    domains: np.ndarray  # sorted uint64 xxh64 of each `domains` entry
    urls: np.ndarray  # sorted uint64 xxh64 of each `urls` entry
    banned_words: frozenset[str]
    soft_banned_words: frozenset[str]
    banned_subwords: tuple[str, ...]  # sorted; an empty subword matches nothing

    def has_domain(self, text: str) -> bool:
        return _sorted_contains(self.domains, entry_hash(text))

    def has_url(self, text: str) -> bool:
        return _sorted_contains(self.urls, entry_hash(text))


def _sorted_contains(keys: np.ndarray, key: int) -> bool:
    i = int(keys.searchsorted(np.uint64(key)))
    return i < len(keys) and int(keys[i]) == key


def folder_digest(folder: Path) -> str:
    """sha256 over the list files' own sha256 digests, in a fixed order."""
    outer = hashlib.sha256()
    for name in sorted(LIST_FILES):
        outer.update(name.encode() + b"\0" + file_sha256(folder / name).encode() + b"\n")
    return outer.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compile_cache_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "cc_curate" / "url_lists_compiled"


def load(folder: Path, cache_dir: Path | None = None) -> CompiledUrlLists:
    """The compiled lists of ``folder``: from the cache when the files are unchanged, else built and cached.

    Building (a few seconds: 4.56 million hashes) happens once per machine and list version; an
    unwritable cache only costs the build again next time.
    """
    digest = folder_digest(folder)
    cached = (cache_dir or compile_cache_dir()) / f"{digest}.npz"
    if cached.is_file():
        with np.load(cached) as arrays:
            domains, urls = arrays["domains"], arrays["urls"]
    else:
        with tarfile.open(folder / DOMAIN_LIST_ARCHIVE, "r:gz") as archive:
            domains = _hash_member(archive, "domains")
            urls = _hash_member(archive, "urls")
        _save_atomically(cached, domains=domains, urls=urls)
    subwords = read_words(folder / BANNED_SUBWORDS) - {""}
    return CompiledUrlLists(
        digest=digest,
        domains=domains,
        urls=urls,
        banned_words=read_words(folder / BANNED_WORDS),
        soft_banned_words=read_words(folder / SOFT_BANNED_WORDS),
        banned_subwords=tuple(sorted(subwords)),
    )


def _save_atomically(path: Path, **arrays: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz.tmp", delete=False) as tmp:
            np.savez(tmp, **arrays)
        os.replace(tmp.name, path)
    except OSError:
        pass  # read-only cache: the next run builds again


# --- fetching ----------------------------------------------------------------------------------------

def fetch(dest: Path, source: str | None = None) -> Path:
    """Copy the four list files into ``dest`` and check them against datatrove 0.10.1's.

    ``source``: a folder holding the files, a datatrove wheel (path or URL), or None for the
    datatrove 0.10.1 wheel on PyPI. Returns ``dest``.
    """
    import fsspec

    where = source or PYPI_SIMPLE
    with tempfile.TemporaryDirectory(prefix="url-lists-") as tmp:
        staged = Path(tmp)
        if source and Path(source).expanduser().is_dir():
            folder = Path(source).expanduser()
            missing = missing_files(folder)
            if missing:
                raise UserError(f"--from {source}: not a folder of FineWeb's URL lists (missing {', '.join(missing)})")
            for name in LIST_FILES:
                shutil.copyfile(folder / name, staged / name)
        else:
            wheel_url = source or _pypi_wheel_url()
            try:
                with fsspec.open(wheel_url, "rb") as f:
                    wheel = f.read()
            except OSError as exc:
                raise UserError(
                    f"cannot read {wheel_url}: {exc}; give --from a folder or a wheel you can reach") from None
            if source is None and hashlib.sha256(wheel).hexdigest() != DATATROVE_WHEEL_SHA256:
                raise UserError(f"{wheel_url}: sha256 differs from datatrove 0.10.1's wheel; not used")
            _unpack_wheel(wheel, staged, where)
        for name, expected in LIST_FILES.items():
            if file_sha256(staged / name) != expected:
                raise UserError(f"{where}: {name} differs from datatrove 0.10.1's (FineWeb's) copy; not used")
        dest.mkdir(parents=True, exist_ok=True)
        for name in LIST_FILES:
            shutil.copyfile(staged / name, dest / name)
        (dest / "README.md").write_text(_README.format(source=where, archive=DOMAIN_LIST_ARCHIVE), encoding="utf-8")
    return dest


def _pypi_wheel_url() -> str:
    """The download URL of datatrove 0.10.1's wheel, from PyPI's JSON simple index."""
    import urllib.request

    request = urllib.request.Request(PYPI_SIMPLE, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            index = json.load(response)
    except OSError as exc:
        raise UserError(f"cannot reach {PYPI_SIMPLE}: {exc}; give --from a folder or a wheel you can reach") from None
    for entry in index.get("files", []):
        if entry.get("filename") == DATATROVE_WHEEL:
            return entry["url"]
    raise UserError(f"{PYPI_SIMPLE}: {DATATROVE_WHEEL} not listed; give --from a wheel or a folder")


def _unpack_wheel(wheel: bytes, dest: Path, where: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(wheel))
    except zipfile.BadZipFile:
        raise UserError(f"{where}: not a wheel (zip) file") from None
    with archive:
        for name in LIST_FILES:
            member = f"datatrove/assets/{name}"
            try:
                (dest / name).write_bytes(archive.read(member))
            except KeyError:
                raise UserError(f"{where}: {member} not in the wheel") from None


def for_recipe(url_filter: Mapping[str, Any], recipe_path: str) -> CompiledUrlLists | None:
    """The compiled lists a recipe's ``url_filter`` section asks for, or None; stops if they are missing."""
    setting = url_filter.get("fineweb_lists")
    if not setting or not url_filter.get("enabled", True):
        return None
    folder = resolve_folder(setting)
    require(folder, f"{recipe_path}: url_filter.fineweb_lists")
    return load(folder)
