"""Durability of the commit protocol and the release switch on local disk, and the private
request-slot folder. No Ray: these are the storage primitives themselves.

A power loss cannot be simulated in a test, so the fsync tests watch the system calls instead:
``os.fsync`` is wrapped to record which path each synced descriptor names (through
``/proc/self/fd``), beside the ``os.link`` of the ledger entry. Each test failed on the code
before the fix (run against the previous commit's cc_curate/); the docstrings say how.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from cc_curate.output import release
from cc_curate.output import storage as storage_module
from cc_curate.output.schema import STAGED
from cc_curate.output.staging import commit_shard, read_ledger
from cc_curate.output.storage import Storage
from cc_curate.sources.remote import RequestSlots

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")


@pytest.fixture
def syscalls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fsync (by path) and link (by target), in order."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_link = os.fsync, os.link

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def link(src: str, dst: str, *args, **kwargs) -> None:
        real_link(src, dst, *args, **kwargs)
        calls.append(("link", str(dst)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    return calls


def one_row_table() -> pa.Table:
    row = {name: [None] for name in STAGED.names}
    row.update(id=["<urn:uuid:1>"], lang=["eng_Latn"], text=["Hello there."])
    return pa.Table.from_pydict(row, schema=STAGED)


def test_rows_are_fsynced_before_the_ledger_entry_links_them(tmp_path: Path, syscalls: list) -> None:
    """A power loss right after a commit must not leave an entry pointing at an empty rows file.
    Old code: rows.parquet and its folders were never fsynced (no ("fsync", rows) call)."""
    storage = Storage(str(tmp_path))
    entry = commit_shard(storage, "shard-a", "a.warc.gz", [one_row_table()], [], {"records.read": 1})
    rows = str(tmp_path / entry["rows_file"])
    ledger = str(tmp_path / "_ledger" / "shard-a.json")
    order = [call for call in syscalls]
    link_at = order.index(("link", ledger))
    synced_before = {path for kind, path in order[:link_at] if kind == "fsync"}
    assert rows in synced_before
    # the attempt folder, the shard folder and _staging itself hold new names: all synced
    for folder in (Path(rows).parent, Path(rows).parent.parent, tmp_path / "_staging", tmp_path):
        assert str(folder) in synced_before, folder
    assert ("fsync", str(tmp_path / "_ledger")) in order[link_at:]


def test_commit_works_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a filesystem without hard links (FAT, some FUSE and network mounts) `os.link` fails with
    EPERM or ENOTSUP. Old code: every commit raised PermissionError. Now O_EXCL creation: still
    exactly one winner among racing commits, and the entry is whole."""
    def no_links(src: str, dst: str, *args, **kwargs) -> None:
        raise OSError(errno.EPERM, "Operation not permitted", src)

    monkeypatch.setattr(os, "link", no_links)
    storage = Storage(str(tmp_path))
    entries = [json.dumps({"shard_id": "s", "attempt": n}).encode() for n in range(8)]
    won: list[bool] = [False] * 8
    barrier = threading.Barrier(8)

    def commit(n: int) -> None:
        barrier.wait()
        won[n] = storage.create_exclusive("_ledger/s.json", entries[n])

    threads = [threading.Thread(target=commit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert won.count(True) == 1
    assert (tmp_path / "_ledger" / "s.json").read_bytes() == entries[won.index(True)]
    assert [p.name for p in (tmp_path / "_ledger").iterdir()] == ["s.json"]  # no temp file left
    assert storage.create_exclusive("_ledger/s.json", b"{}") is False

    # A whole shard commits, and a second attempt loses, as with hard links.
    assert commit_shard(storage, "shard-b", "b", [one_row_table()], [], {}) is not None
    assert commit_shard(storage, "shard-b", "b", [one_row_table()], [], {}) is None
    assert set(read_ledger(storage)) == {"s", "shard-b"}


def test_other_link_errors_still_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only "no hard links here" falls back; a full disk is not a reason to try another way."""
    def full(src: str, dst: str, *args, **kwargs) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", src)

    monkeypatch.setattr(os, "link", full)
    with pytest.raises(OSError, match="No space"):
        Storage(str(tmp_path)).create_exclusive("_ledger/s.json", b"{}")


def test_a_release_is_fsynced_before_it_is_switched_in(tmp_path: Path, syscalls: list,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file of a new release is durable before `data/` names it, and the switch swaps the
    whole folder: the old files are gone, none of them mixed in."""
    storage = Storage(str(tmp_path))
    storage.write_atomic("data/old_Latn/train/000_00000.parquet", b"old")
    generation = release.begin(storage)
    storage.write_atomic(f"{generation}/data/new_Latn/train/000_00000.parquet", b"new")
    switched: list[tuple[str, str]] = []
    real_exchange = storage_module.exchange_paths
    monkeypatch.setattr(storage_module, "exchange_paths",
                        lambda a, b: switched.append((a, b)) or real_exchange(a, b))
    syscalls.clear()
    release.switch(storage, generation)
    synced = {path for kind, path in syscalls if kind == "fsync"}
    assert str(tmp_path / generation / "data" / "new_Latn" / "train" / "000_00000.parquet") in synced
    assert switched == [(str(tmp_path / generation / "data"), str(tmp_path / "data"))]
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "data").rglob("*.parquet")) == [
        "data/new_Latn/train/000_00000.parquet"]
    assert not (tmp_path / release.RELEASES).exists()


def test_switch_without_an_atomic_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel cannot swap two folders (not Linux, old glibc), two renames do it."""
    monkeypatch.setattr(storage_module, "exchange_paths", lambda a, b: False)
    storage = Storage(str(tmp_path))
    storage.write_atomic("data/old_Latn/train/a.parquet", b"old")
    storage.write_atomic("rehydration/distributions/old_Latn.json", b"{}")
    generation = release.begin(storage)
    storage.write_atomic(f"{generation}/data/new_Latn/train/a.parquet", b"new")
    release.switch(storage, generation)
    assert [str(p.relative_to(tmp_path)) for p in sorted(tmp_path.rglob("*")) if p.is_file()] == [
        "data/new_Latn/train/a.parquet"]  # the old release's rehydration/ went with it


def test_a_release_without_documents_replaces_one_with(tmp_path: Path) -> None:
    """Inputs with no document publish an empty release: nothing to switch in, the old one goes."""
    storage = Storage(str(tmp_path))
    storage.write_atomic("data/old_Latn/train/a.parquet", b"old")
    release.switch(storage, release.begin(storage))
    assert not (tmp_path / "data").exists() and not (tmp_path / release.RELEASES).exists()


def test_a_switch_killed_between_its_two_renames_is_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an atomic swap, a kill after the first rename leaves no `data/`: the next publish
    puts the previous release back before anything else."""
    monkeypatch.setattr(storage_module, "exchange_paths", lambda a, b: False)
    storage = Storage(str(tmp_path))
    storage.write_atomic("data/old_Latn/train/a.parquet", b"old")
    generation = release.begin(storage)
    storage.write_atomic(f"{generation}/data/new_Latn/train/a.parquet", b"new")
    real_rename = os.rename

    def killed_after_the_first(src: str, dst: str) -> None:
        real_rename(src, dst)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(os, "rename", killed_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        release.switch(storage, generation)
    monkeypatch.setattr(os, "rename", real_rename)
    assert not (tmp_path / "data").exists()
    release.begin(storage)
    assert (tmp_path / "data" / "old_Latn" / "train" / "a.parquet").read_bytes() == b"old"
    assert not (tmp_path / "data.previous").exists()


# ----------------------------------------------------------------------------- request slots


def slot_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int = 3) -> Path:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    return tmp_path / f"cc-curate-{os.getuid()}-request-slots-{limit}"


def test_request_slot_folder_is_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = slot_folder(tmp_path, monkeypatch)
    slots = RequestSlots(3)
    assert Path(slots.folder) == folder
    assert folder.stat().st_mode & 0o777 == 0o700
    with slots.hold():
        assert len(list(folder.iterdir())) == 1


def test_a_planted_symlink_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another user plants the predictable path as a symlink to a folder of theirs. Old code:
    `os.makedirs(exist_ok=True)` followed it and created the lock files there."""
    folder = slot_folder(tmp_path, monkeypatch)
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    folder.symlink_to(elsewhere)
    for slots in (lambda: RequestSlots(3), lambda: RequestSlots(3, str(folder))):
        with pytest.raises(PermissionError, match="is a symlink"):
            with slots().hold():
                pass
    assert list(elsewhere.iterdir()) == []


def test_a_folder_open_to_others_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = slot_folder(tmp_path, monkeypatch)
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(PermissionError, match="open to other users"):
        RequestSlots(3, str(folder))


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_folder_of_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = slot_folder(tmp_path, monkeypatch)
    folder.mkdir(mode=0o700)
    os.chown(folder, 54321, 54321)
    with pytest.raises(PermissionError, match="belongs to uid 54321"):
        RequestSlots(3, str(folder))


def test_an_empty_ledger_entry_is_not_a_commit(tmp_path: Path) -> None:
    """A crash between the O_EXCL create and its write leaves an empty entry: the shard is not
    committed and must be able to commit again. (Without the fix every run failed reading it.)"""
    storage = Storage(str(tmp_path))
    commit_shard(storage, "shard-a", "a", [one_row_table()], [], {})
    (tmp_path / "_ledger" / "shard-b.json").write_bytes(b"")
    assert set(read_ledger(storage)) == {"shard-a"}
    assert commit_shard(storage, "shard-b", "b", [one_row_table()], [], {}) is not None
    assert set(read_ledger(storage)) == {"shard-a", "shard-b"}
