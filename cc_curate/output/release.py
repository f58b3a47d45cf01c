"""Publishing a release without ever showing half of one.

A publish writes the whole new release under ``_releases/{generation}/`` (``data/``,
``rehydration/``, ``_index/``), while the previous release stays where readers find it. Only
when every file is written (and, on local disk, fsynced) does ``switch`` put each folder in
place (``Storage.replace_folder``: an atomic swap on Linux), ``data/`` first; a folder the new
release lacks is removed, so the release holds exactly what its stats and card list. The driver
writes ``stats.json``, ``README.md``, the report and ``_ledger/_published.json`` after the switch:
a run killed before that last file publishes again when re-run.
"""

from __future__ import annotations

import time
import uuid

from cc_curate.output.storage import Storage

RELEASES = "_releases"
# The folders that make up a release, in the order they are switched into place.
RELEASE_FOLDERS = ("data", "rehydration", "_index")


def begin(storage: Storage) -> str:
    """A fresh generation folder for a new release (relative to the output root).

    Generations left by a killed publish are removed first (only one run writes an output),
    after a folder it was switching is put back.
    """
    for folder in RELEASE_FOLDERS:
        storage.recover_folder(folder)
    storage.remove(RELEASES, recursive=True)
    return f"{RELEASES}/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def switch(storage: Storage, generation: str) -> None:
    """Put the finished ``generation`` in place of the current release, folder by folder.

    On local disk every file of the generation is fsynced first: after a power loss the
    visible release is complete, whichever one it is.
    """
    storage.sync_tree(generation)
    for folder in RELEASE_FOLDERS:
        if storage.exists(f"{generation}/{folder}"):
            storage.replace_folder(f"{generation}/{folder}", folder)
        else:
            storage.remove(folder, recursive=True)
    storage.remove(RELEASES, recursive=True)
