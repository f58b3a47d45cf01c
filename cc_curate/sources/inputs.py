"""Inputs -> shards, and the record types that shards turn into.

A shard is one input file. Its id is derived from the file's path only, so that the same input
gets the same id in every run (the ledger of committed shards is keyed by it).

A URL enters the system here, and here only its credentials are taken off: ``Shard.path`` is the
public form (``cc_curate.redaction.public_url``: no ``user:password@``, secret query values
``REDACTED``), the only one written anywhere (``file_path``, ledger, quarantine, logs, report)
and the one the shard id is derived from; ``Shard.location``, the URL as given, is kept in
memory to open the file and never written.

Storage is reached through fsspec: local paths, ``s3://`` (s3fs) and ``https://``. Storage options
may be given flat (``{"anon": True}`` or ``{"endpoint_url": ...}``: they apply to object stores
such as s3, not to plain HTTP, whose client would reject them) or per protocol
(``{"s3": {...}, "https": {...}}``).
"""

from __future__ import annotations

import contextlib
import glob as globlib
import hashlib
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

import fsspec
from fsspec.core import url_to_fs
from fsspec.utils import get_protocol

from cc_curate.errors import UserError
from cc_curate.redaction import first_surrogate, public_url, redact, representable
from cc_curate.sources.commoncrawl import list_snapshot_warcs, warc_paths_url
from cc_curate.sources.remote import ReadPolicy, SizeUnknown, open_remote


class InputError(UserError, ValueError):
    """An input that does not exist or cannot be used; the message names it."""


@dataclass(frozen=True)
class Shard:
    """One input file, the unit of work of the runtime."""

    shard_id: str  # stable across runs: readable file name + short hash of the path
    path: str  # local absolute path or URL (s3://, https://), without credentials: safe to write
    kind: str  # "warc" | "wet" | "parquet" | "jsonl"
    # The path as given, credentials included: only for opening the file, never written or shown.
    location: str = field(default="", repr=False, compare=False)

    @property
    def source(self) -> str:
        """Where to open the shard from (``location``, else ``path``)."""
        return self.location or self.path


@dataclass
class RawRecord:
    """A document as read from the input, before extraction."""

    id: str  # WARC-Record-ID, the `id` column, or derived from shard id + row index
    url: str
    date: str  # ISO 8601 as in the input ("" if none)
    html: str | None  # decoded HTML payload (WARC responses)
    text: str | None  # already-extracted text (WET, parquet, jsonl): extraction is skipped
    charset: str | None  # how the payload was decoded, e.g. "utf-8 (header)"


@dataclass
class SkippedRecord:
    """A record (or an unreadable stretch of a file) that yields no document, and why."""

    id: str
    url: str
    reason: str  # one of SKIP_REASONS
    detail: str = ""


Item = RawRecord | SkippedRecord

# Every reason a SkippedRecord can carry (documented for the stats and the report).
SKIP_REASONS: dict[str, str] = {
    "not_response": "WARC record type that holds no document: request, metadata, revisit, "
    "resource, continuation, unknown (conversion too); in WET files every type but conversion. "
    "warcinfo records describe the file, not a capture, and are not yielded at all",
    "http_status": "HTTP status is not 2xx (redirects, errors)",
    "not_html": "payload is not HTML: Content-Type other than text/html or application/xhtml+xml, "
    "or no/unknown Content-Type and the first bytes do not look like HTML",
    "payload_too_large": "payload larger than max_payload_bytes (declared, or after undoing "
    "HTTP compression); skipped without reading it into memory",
    "empty_payload": "no payload, or only whitespace (also a missing/empty `text` in parquet/jsonl)",
    "charset_failed": "no byte-order mark, declared charset or detected charset decodes it",
    "corrupt_record": "an unreadable record or stretch of the file (bad gzip member, invalid WARC "
    "header, junk bytes, malformed HTTP, bad JSON line, unreadable row group); reading went on "
    "after it. id is the record's when known, else empty",
    "unrepresentable": "a field (id, url, date or text) is not valid Unicode (a lone "
    "surrogate such as a JSON \\udc00 escape; in parquet, a string that is not UTF-8): it cannot be "
    "written to Arrow/Parquet, so the record is quarantined alone. id and url are shown with such "
    "characters escaped",
    "truncated": "the file cannot be read further (it ends inside a gzip member or a record, or "
    "is damaged with nothing readable after); always the last item of its shard, id empty",
}


def checked(item: Item) -> Item:
    """``item`` if its fields can be written (UTF-8), else an ``unrepresentable`` SkippedRecord.

    The check every input kind goes through (``iter_records``), so that one bad record is
    quarantined alone instead of failing its shard's batch when the rows become Arrow. It
    looks at ``id``, ``url`` and ``date`` (short); a payload is valid by construction where it is
    decoded from bytes (WARC/WET: invalid bytes become U+FFFD; Parquet: strict), and JSON text,
    which can hold a lone surrogate escape, is checked by the JSONL reader as it measures it.
    A SkippedRecord keeps its reason; its id, url and detail are made writable.
    """
    if isinstance(item, SkippedRecord):
        return SkippedRecord(representable(item.id), representable(item.url), item.reason,
                             representable(item.detail))
    for name in ("id", "url", "date"):
        value = getattr(item, name)
        position = first_surrogate(value)
        if position is not None:
            return unrepresentable(item.id, item.url, name, value, position)
    return item


def unrepresentable(rid: str, url: str, name: str, value: str, position: int) -> SkippedRecord:
    """The SkippedRecord of a record whose field ``name`` holds a lone surrogate at ``position``."""
    return SkippedRecord(representable(rid), representable(url), "unrepresentable",
                         f"`{name}` holds a lone surrogate (U+{ord(value[position]):04X} at character "
                         f"{position}), which is not valid Unicode")


_KIND_SUFFIXES = (
    (".warc.wet.gz", "wet"),
    (".wet.gz", "wet"),
    (".wet", "wet"),
    (".warc.gz", "warc"),
    (".warc", "warc"),
    (".parquet", "parquet"),
    (".jsonl.gz", "jsonl"),
    (".json.gz", "jsonl"),
    (".jsonl", "jsonl"),
)
_HTTP_PROTOCOLS = {"http", "https"}
_KNOWN_PROTOCOLS = {"file", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "http", "https"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def kind_of(path: str) -> str | None:
    """Input kind from the file name, or None when the name says nothing we read.

    For a URL the name is the last segment of its path: a query string or fragment
    (``...warc.gz?X-Amz-Signature=...``) says nothing about the kind.
    """
    name = file_name(path).lower()
    for suffix, kind in _KIND_SUFFIXES:
        if name.endswith(suffix):
            return kind
    return None


def file_name(path: str) -> str:
    """The last segment of a local path, or of a URL's path (its query and fragment left out)."""
    if "://" in path:
        path = path.split("#", 1)[0].split("?", 1)[0]
    return path.rstrip("/").rsplit("/", 1)[-1]


def shard_id_for(path: str) -> str:
    """Stable, file-name-safe id: readable name + 8 hex digits of a hash of the path.

    Common Crawl files hash their ``crawl-data/...`` key, so the id does not depend on whether the
    file is read over https or s3. The hash is of the public path (``public_url``): a secret never
    shapes an id, and rotating a password or re-signing a URL keeps it.
    """
    path = public_url(path)
    name = file_name(path)
    if name.lower().endswith(".gz"):
        name = name[:-3]
    readable = _SAFE_NAME.sub("_", name).strip("._")[:96] or "input"
    key = path
    marker = path.find("crawl-data/CC-MAIN-")
    if marker >= 0:
        key = path[marker:]
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"


def storage_options_for(path: str, storage_options: dict | None) -> dict:
    """The fsspec options that apply to `path`'s protocol (see the module docstring)."""
    protocol = get_protocol(path)
    if protocol == "file" or not storage_options:
        return {}
    if all(key in _KNOWN_PROTOCOLS and isinstance(value, dict) for key, value in storage_options.items()):
        if protocol in _HTTP_PROTOCOLS:
            return dict(storage_options.get(protocol) or storage_options.get("http") or {})
        return dict(storage_options.get(protocol) or {})
    return {} if protocol in _HTTP_PROTOCOLS else dict(storage_options)


@contextlib.contextmanager
def open_input(
    path: str, storage_options: dict | None = None, *, policy: ReadPolicy | None = None
) -> Iterator[IO[bytes]]:
    """Open an input as a binary stream, never downloading it whole first.

    Local files are opened as they are. Remote ones (s3://, https://, ...) are read in ranged
    requests with retries and a per-node request cap (``policy``; see sources/remote.py); from a
    server that gives no file size, in one streamed GET. A missing or unreachable input raises
    OSError (FileNotFoundError, ...).
    """
    options = storage_options_for(path, storage_options)
    if get_protocol(path) != "file":
        fs, root = url_to_fs(path, **options)
        try:
            reader = open_remote(fs, root, policy or ReadPolicy())
        except SizeUnknown:  # a server that gives no size: one streamed GET, retried by the runtime
            if get_protocol(path) in _HTTP_PROTOCOLS:
                options.setdefault("block_size", 0)
        else:
            with contextlib.closing(reader):
                yield io.BufferedReader(reader, buffer_size=1 << 20)
            return
    with fsspec.open(path, "rb", **options) as handle:
        yield handle


def resolve_inputs(
    inputs: Sequence[str],
    snapshot: str | None = None,
    max_files: int | None = None,
    storage_options: dict | None = None,
    *,
    cc_base_url: str | None = None,
) -> list[Shard]:
    """Expand inputs (files, directories, globs, URLs) and a CC snapshot into sorted shards.

    ``snapshot`` ("CC-MAIN-YYYY-WW") adds that crawl's WARC files, listed from its warc.paths.gz
    under ``cc_base_url`` (default: $CC_CURATE_CC_BASE_URL, else https://data.commoncrawl.org/).
    Files found in directories and globs are kept when their name says a kind we read; a file
    named explicitly must have such a name. The result is sorted by path, de-duplicated, and cut
    to ``max_files``. Raises InputError for a missing local input or an empty expansion.
    """
    if isinstance(inputs, str):  # one path, not a sequence of one-character paths
        inputs = [inputs]
    paths: set[str] = set()
    for item in inputs:
        paths.update(_expand(item, storage_options))
    if snapshot:
        try:
            options = storage_options_for(warc_paths_url(snapshot, cc_base_url), storage_options)
            paths.update(list_snapshot_warcs(snapshot, base_url=cc_base_url, fsspec_options=options))
        except FileNotFoundError as exc:
            raise InputError(f"snapshot {snapshot}: listing not found ({exc})") from exc
        except ValueError as exc:
            raise InputError(str(exc)) from exc
    shards: dict[str, Shard] = {}
    for path in sorted(paths):  # one file given twice (with other credentials, say) is one shard
        shard = shard_for(path)
        shards.setdefault(shard.shard_id, shard)
    ordered = sorted(shards.values(), key=lambda shard: shard.path)
    if max_files is not None:
        ordered = ordered[: max(max_files, 0)]
    return ordered


def shard_for(path: str) -> Shard:
    """The shard of one input path (already normalised: absolute local path or URL)."""
    kind = kind_of(path)
    if kind is None:
        raise InputError(f"cannot tell the kind of input {redact(path)} (expected {_suffix_list()})")
    public = public_url(path)
    return Shard(shard_id=shard_id_for(path), path=public, kind=kind, location="" if public == path else path)


def _expand(item: str, storage_options: dict | None) -> list[str]:
    """Paths (normalised: absolute local paths, full URLs) that one input stands for."""
    protocol = get_protocol(item)
    if protocol == "file":
        return _expand_local(item)
    if protocol in _HTTP_PROTOCOLS:
        if kind_of(item) is None:
            raise InputError(f"cannot tell the kind of input {redact(item)} (expected {_suffix_list()})")
        return [item]
    fs, root = url_to_fs(item, **storage_options_for(item, storage_options))
    if globlib.has_magic(root):
        found = [fs.unstrip_protocol(p) for p in fs.glob(root) if kind_of(p)]
        if not found:
            raise InputError(f"no input file matches {redact(item)}")
        return found
    if kind_of(root) is not None and not item.endswith("/"):
        return [fs.unstrip_protocol(root)]  # not checked: listing every remote file costs a request each
    found = [fs.unstrip_protocol(p) for p in fs.find(root) if kind_of(p)]
    if not found:
        raise InputError(f"no input files under {redact(item)} (expected {_suffix_list()})")
    return found


def _expand_local(item: str) -> list[str]:
    path = os.path.abspath(os.path.expanduser(item.removeprefix("file://")))
    if globlib.has_magic(path):
        found = [
            os.path.abspath(p) for p in globlib.glob(path, recursive=True) if os.path.isfile(p) and kind_of(p)
        ]
        if not found:
            raise InputError(f"no input file matches {item}")
        return found
    if os.path.isdir(path):
        found = [
            os.path.join(directory, name)
            for directory, _, names in os.walk(path)
            for name in names
            if kind_of(name) and not name.startswith(".")
        ]
        if not found:
            raise InputError(f"no input files in directory {item} (expected {_suffix_list()})")
        return found
    if not os.path.exists(path):
        raise InputError(f"input not found: {item}")
    if kind_of(path) is None:
        raise InputError(f"cannot tell the kind of input {item} (expected {_suffix_list()})")
    return [path]


def _suffix_list() -> str:
    return ", ".join(suffix for suffix, _ in _KIND_SUFFIXES)
