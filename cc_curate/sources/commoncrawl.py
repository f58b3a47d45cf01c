"""Listing a Common Crawl snapshot's WARC files.

Every crawl publishes ``crawl-data/CC-MAIN-YYYY-WW/warc.paths.gz``: one WARC key per line,
relative to the bucket root. The same keys are served at https://data.commoncrawl.org/ and in
``s3://commoncrawl/``. The base is chosen by, in order: the ``base_url`` argument, the environment
variable ``CC_CURATE_CC_BASE_URL`` (e.g. ``s3://commoncrawl/``, or a local mirror or test server),
then https://data.commoncrawl.org/.

This module raises plain ValueError / OSError; ``inputs.resolve_inputs`` reports them as InputError.
"""

from __future__ import annotations

import gzip
import os
import re

import fsspec

DEFAULT_CC_BASE_URL = "https://data.commoncrawl.org/"
CC_BASE_URL_ENV = "CC_CURATE_CC_BASE_URL"
_SNAPSHOT = re.compile(r"CC-MAIN-\d{4}-\d{2}")


def cc_base_url(base_url: str | None = None) -> str:
    """The Common Crawl base URL in effect, always ending with '/'."""
    base = base_url or os.environ.get(CC_BASE_URL_ENV) or DEFAULT_CC_BASE_URL
    return base.rstrip("/") + "/"


def warc_paths_url(snapshot: str, base_url: str | None = None) -> str:
    """URL of a snapshot's warc.paths.gz; ValueError for a malformed snapshot name."""
    if not _SNAPSHOT.fullmatch(snapshot):
        raise ValueError(f"not a Common Crawl snapshot name: {snapshot!r} (expected CC-MAIN-YYYY-WW)")
    return f"{cc_base_url(base_url)}crawl-data/{snapshot}/warc.paths.gz"


def list_snapshot_warcs(
    snapshot: str, *, base_url: str | None = None, fsspec_options: dict | None = None
) -> list[str]:
    """Full URLs of a snapshot's WARC files, in the listing's order.

    ``fsspec_options`` go to the filesystem of the base URL as they are (e.g. ``anon=True`` for s3).
    FileNotFoundError when the listing does not exist (unknown snapshot, wrong base).
    """
    url = warc_paths_url(snapshot, base_url)
    base = cc_base_url(base_url)
    with (
        fsspec.open(url, "rb", **(fsspec_options or {})) as raw,
        gzip.open(raw, "rt", encoding="utf-8") as lines,
    ):
        return [base + line.strip().lstrip("/") for line in lines if line.strip()]
