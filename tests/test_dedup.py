"""Distributed dedup: quality on generated near-duplicates of real text, determinism, retries,
incremental dedup against a previous index, on a real local Ray."""

from __future__ import annotations

import itertools
import os
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray

from cc_curate.dedup import graph, parts
from cc_curate.dedup.hashing import partition_of
from cc_curate.dedup.keep import MEMBERS, resolve_clusters
from cc_curate.output.schema import STAGED
from cc_curate.runtime.dedup import run_dedup
from cc_curate.stages.minhash import minhash_signature, shingle_hashes, text_hash

from .test_minhash import PARAMS, real_articles

DEDUP = {"enabled": True, "exact": True, "num_partitions": 4, "minhash": PARAMS}
NEAR, FAR = ("edit", "insert", "truncate", "exact"), ("far_truncate", "far_edit")


# ---------------------------------------------------------------- corpus with ground truth


def _variant(words: list[str], kind: str, boilerplate: list[str], rng: random.Random) -> list[str]:
    words = list(words)
    if kind == "edit":  # ~2% of the words replaced
        for i in rng.sample(range(len(words)), max(1, len(words) // 50)):
            words[i] = f"x{rng.randrange(1 << 30)}"
    elif kind == "insert":  # boilerplate block added at the start, middle or end
        at = rng.choice([0, len(words) // 2, len(words)])
        words[at:at] = boilerplate
    elif kind == "truncate":
        words = words[: int(len(words) * 0.93)]
    elif kind == "exact":  # same normalised text: case, punctuation, spacing differ
        words = [w.upper() if i % 7 == 0 else w for i, w in enumerate(words)] + ["!!"]
    elif kind == "far_truncate":
        words = words[: int(len(words) * 0.35)]
    elif kind == "far_edit":
        for i in rng.sample(range(len(words)), len(words) // 4):
            words[i] = f"y{rng.randrange(1 << 30)}"
    return words


def make_corpus(articles: list[str], seed: int = 1) -> list[dict]:
    """Real articles, each with some near-duplicates (edits, insertions, boilerplate,
    truncation, exact copies) and far variants; plus cross-language copies, rows removed
    before dedup, rows removed by a quality filter, and short documents."""
    rng = random.Random(seed)
    boilerplate = articles[0].split()[:30]
    docs: list[dict] = []

    def add(family: int, kind: str, words: list[str], lang: str = "eng_Latn", reason: str | None = None) -> None:
        day = rng.randrange(1, 28)
        docs.append(
            {
                "id": f"<urn:uuid:{rng.getrandbits(64):016x}>",
                "family": family,
                "kind": kind,
                "lang": lang,
                "text": " ".join(words),
                "date": f"2024-{rng.randrange(1, 13):02d}-{day:02d}T00:00:00Z",
                "reason": reason,
            }
        )

    bases = [text.split() for text in articles[1:] if len(text.split()) >= 150][:110]
    for family, words in enumerate(bases):
        add(family, "base", words)
        for kind in rng.sample(NEAR, rng.randint(1, 3)) + rng.sample(FAR, rng.randint(0, 1)):
            add(family, kind, _variant(words, kind, boilerplate, rng))
        if family % 15 == 0:
            add(family, "other_language", words, lang="deu_Latn")  # same text, other language
        if family % 20 == 1:
            add(family, "low_lid", words, reason="language_score")  # removed before dedup
        if family % 10 == 2:
            add(family, "quality_removed", _variant(words, "edit", boilerplate, rng), reason="gopher_quality")
    for _ in range(3):
        add(-1, "short", ["Read", "more", "here"])
    add(-2, "short", ["Something", "else"])
    return docs


def write_staged(docs: list[dict], folder: Path, num_files: int) -> list[str]:
    """Staged Parquet files (schema STAGED) with signatures, rows spread over ``num_files``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(num_files):
        rows = docs[k::num_files]
        columns = {name: [None] * len(rows) for name in STAGED.names}
        columns["filter_signals"] = [[] for _ in rows]
        for name in ("id", "lang", "date", "text"):
            columns[name] = [row[name] for row in rows]
        columns["filter_reason"] = [row["reason"] for row in rows]
        columns["minhash"] = [row["minhash"] for row in rows]
        columns["text_hash"] = [row["text_hash"] for row in rows]
        path = folder / f"shard-{k:03d}.parquet"
        pq.write_table(pa.Table.from_pydict(columns, schema=STAGED), path)
        files.append(str(path))
    return files


def sparse_jaccard(docs: list[dict]) -> dict[tuple[int, int], float]:
    """True Jaccard of every pair of documents of one language sharing a shingle."""
    sets = [set(shingle_hashes(d["text"].split(), 5).tolist()) for d in docs]
    owners: dict[int, list[int]] = {}
    for i, shingles in enumerate(sets):
        for s in shingles:
            owners.setdefault(s, []).append(i)
    shared: Counter = Counter()
    for members in owners.values():
        if len(members) > 1:
            shared.update(itertools.combinations(members, 2))
    return {
        pair: n / (len(sets[pair[0]]) + len(sets[pair[1]]) - n)
        for pair, n in shared.items()
        if docs[pair[0]]["lang"] == docs[pair[1]]["lang"]
    }


@pytest.fixture(scope="module")
def corpus(shared_data) -> list[dict]:
    docs = make_corpus(real_articles(shared_data))
    for doc in docs:
        signature = minhash_signature(doc["text"].split(), PARAMS)
        doc["minhash"] = None if signature is None else signature.tolist()
        doc["text_hash"] = text_hash(doc["text"])
    return docs


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()  # another module's Ray is reused, and left running
    if started:
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    if started:
        ray.shutdown()


class ShuffledExecutor:
    """Runs each wave of tasks serially in a random order (results still in call order)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def map(self, fn, calls):
        order = list(range(len(calls)))
        self.rng.shuffle(order)
        results = [None] * len(calls)
        for i in order:
            results[i] = fn(*calls[i])
        return results


class RetryingExecutor(ShuffledExecutor):
    """Like Ray's retries: a task that raised OSError is run again from the start."""

    def map(self, fn, calls):
        def attempt(*args):
            for _ in range(10):
                try:
                    return fn(*args)
                except OSError:
                    continue
            raise AssertionError("task kept failing")

        return super().map(attempt, calls)


def read_decisions(outputs: dict[str, str]) -> dict[str, dict[str, tuple[int, str | None]]]:
    """{lang: {id: (cluster size, duplicate_of)}}, checking every id appears once."""
    result = {}
    for lang, path in outputs.items():
        table = pq.read_table(path)
        assert table.column_names == ["id", "text_hash", "minhash_cluster_size", "duplicate_of"]
        rows = table.to_pylist()
        assert len({r["id"] for r in rows}) == len(rows)
        result[lang] = {r["id"]: (r["minhash_cluster_size"], r["duplicate_of"]) for r in rows}
    return result


# ---------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def ray_run(corpus, local_ray, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray_run")
    files = write_staged(corpus, folder / "staged", num_files=6)
    outputs = run_dedup(files, str(folder / "work"), DEDUP)
    return files, folder, read_decisions(outputs)


def test_every_participating_document_once_per_language(corpus, ray_run):
    _, folder, decisions = ray_run
    expected: dict[str, set[str]] = {}
    for doc in corpus:
        if doc["reason"] != "language_score":
            expected.setdefault(doc["lang"], set()).add(doc["id"])
    assert {lang: set(rows) for lang, rows in decisions.items()} == expected
    assert [p.name for p in (folder / "work").iterdir()] == ["decisions"]  # scratch removed


def test_quality_on_generated_near_duplicates(corpus, ray_run):
    _, _, decisions = ray_run
    # Documents with shingles (a Jaccard is defined); identical short texts are checked elsewhere.
    english = [d for d in corpus if d["lang"] == "eng_Latn" and d["reason"] != "language_score" and d["minhash"]]
    keeper = {doc_id: dup or doc_id for doc_id, (_, dup) in decisions["eng_Latn"].items()}
    jaccard = sparse_jaccard(english)
    merged = lambda i, j: keeper[english[i]["id"]] == keeper[english[j]["id"]]  # noqa: E731

    similar = [pair for pair, j in jaccard.items() if j >= 0.85]
    recall = sum(merged(*pair) for pair in similar) / len(similar)
    assert len(similar) > 200 and recall >= 0.95, recall

    total_pairs = len(english) * (len(english) - 1) // 2
    dissimilar_total = total_pairs - sum(1 for j in jaccard.values() if j > 0.5)
    clusters = Counter(keeper[d["id"]] for d in english)
    merged_pairs = [
        (i, j)
        for i, j in itertools.combinations(range(len(english)), 2)
        if clusters[keeper[english[i]["id"]]] > 1 and merged(i, j)
    ]
    false_merges = sum(1 for pair in merged_pairs if jaccard.get(pair, 0.0) <= 0.5)
    assert false_merges / dissimilar_total <= 0.005, (false_merges, dissimilar_total)
    # Related but distant variants (same article, Jaccard <= 0.4) are rarely pulled in:
    # an LSH collision at J=0.4 has probability 1-(1-0.4^8)^14 = 0.9%.
    related = [
        pair
        for pair, j in jaccard.items()
        if j <= 0.4 and english[pair[0]]["family"] == english[pair[1]]["family"] >= 0
    ]
    assert len(related) > 30
    assert sum(merged(*pair) for pair in related) / len(related) <= 0.05


def test_keep_rule_and_cluster_sizes(corpus, ray_run):
    _, _, decisions = ray_run
    by_id = {d["id"]: d for d in corpus}
    for rows in decisions.values():
        clusters: dict[str, list[str]] = {}
        for doc_id, (_, dup) in rows.items():
            clusters.setdefault(dup or doc_id, []).append(doc_id)
        for kept, members in clusters.items():
            assert rows[kept][1] is None
            assert kept == min(members, key=lambda i: (by_id[i]["date"], i))
            assert {rows[m][0] for m in members} == {len(members)}
    # exact copies in another language are not duplicates; short identical texts are
    german = decisions["deu_Latn"]
    assert all(dup is None for _, dup in german.values())
    short = [decisions["eng_Latn"][d["id"]] for d in corpus if d["kind"] == "short" and d["family"] == -1]
    assert sorted(size for size, _ in short) == [3, 3, 3] and sum(dup is None for _, dup in short) == 1


def test_same_decisions_whatever_partitions_files_order_and_retries(corpus, ray_run, tmp_path, monkeypatch):
    _, _, reference = ray_run
    files_2 = write_staged(corpus, tmp_path / "two", num_files=2)
    one_partition = run_dedup(
        files_2, str(tmp_path / "w1"), {**DEDUP, "num_partitions": 1}, executor=ShuffledExecutor(1)
    )
    assert read_decisions(one_partition) == reference

    # Many tiny partitions (docs_per_partition) and shuffled task order, with flaky writes.
    flush = parts.PartitionedWriter._flush
    calls = itertools.count()

    def flaky_flush(self):
        if next(calls) % 7 == 3:
            raise OSError("simulated lost connection")
        flush(self)

    monkeypatch.setattr(parts.PartitionedWriter, "_flush", flaky_flush)
    files_5 = write_staged(list(reversed(corpus)), tmp_path / "five", num_files=5)
    many = run_dedup(
        files_5,
        str(tmp_path / "w7"),
        {**DEDUP, "num_partitions": 2, "docs_per_partition": 150},
        executor=RetryingExecutor(2),
    )
    assert read_decisions(many) == reference


def test_incremental_against_previous_index(corpus, tmp_path):
    """Release B deduped against release A's index marks exactly the B documents connected
    to A documents as duplicates of what A kept."""
    families = sorted({d["family"] for d in corpus})
    in_a = {f for f in families if f % 2 == 0}
    release_a = [d for d in corpus if d["family"] in in_a and d["kind"] in ("base", "edit", "short")]
    release_b = [d for d in corpus if d not in release_a]
    executor = ShuffledExecutor(3)
    files_a = write_staged(release_a, tmp_path / "a", 2)
    files_b = write_staged(release_b, tmp_path / "b", 3)
    index_a, index_b = str(tmp_path / "index_a"), str(tmp_path / "index_b")
    decisions_a = read_decisions(run_dedup(files_a, str(tmp_path / "wa"), DEDUP, index_out=index_a, executor=executor))
    decisions_b = read_decisions(
        run_dedup(files_b, str(tmp_path / "wb"), DEDUP, previous_index=index_a, index_out=index_b, executor=executor)
    )
    joint = read_decisions(run_dedup(files_a + files_b, str(tmp_path / "wj"), DEDUP, executor=executor))

    kept_a = {doc_id for rows in decisions_a.values() for doc_id, (_, dup) in rows.items() if dup is None}
    ids_a = {d["id"] for d in release_a}
    for lang, rows in decisions_b.items():
        joint_keeper = {i: dup or i for i, (_, dup) in joint[lang].items()}
        clusters_with_a = {joint_keeper[i] for i in joint_keeper if i in ids_a}
        for doc_id, (size, dup) in rows.items():
            connected_to_a = joint_keeper[doc_id] in clusters_with_a
            assert (dup in kept_a) == connected_to_a, doc_id
            if connected_to_a:
                assert joint_keeper[dup] == joint_keeper[doc_id] and size >= 2
    assert sum(dup in kept_a for rows in decisions_b.values() for _, dup in rows.values()) > 50

    # The index is cumulative: a copy of a document B kept is a duplicate of it in release C.
    new_in_b = next(d for d in release_b if d["kind"] == "base" and decisions_b["eng_Latn"][d["id"]][1] is None)
    copy = {**new_in_b, "id": "<urn:uuid:copy>", "date": "2030-01-01T00:00:00Z"}
    files_c = write_staged([copy], tmp_path / "c", 1)
    decisions_c = read_decisions(
        run_dedup(files_c, str(tmp_path / "wc"), DEDUP, previous_index=index_b, executor=executor)
    )
    assert decisions_c["eng_Latn"]["<urn:uuid:copy>"] == (2, new_in_b["id"])
    generations = {p.name[:5] for p in Path(index_b).glob("*/*.parquet")}
    assert generations == {"g0001", "g0002"} and (Path(index_b) / "_meta.json").exists()

    with pytest.raises(ValueError, match="built with"):
        run_dedup(
            files_c,
            str(tmp_path / "wd"),
            {**DEDUP, "minhash": {**PARAMS, "num_buckets": 10}},
            previous_index=index_b,
            executor=executor,
        )


# ------------------------------------------------------------------------ pure kernels


def _union_find_roots(n: int, edges: np.ndarray) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


@pytest.mark.parametrize("shape", ["random", "shuffled_path", "reversed_path", "stars"])
def test_large_small_star_matches_union_find(shape):
    rng = np.random.default_rng(5)
    for trial in range(30):
        n = int(rng.integers(2, 400))
        if shape == "random":
            edges = rng.integers(0, n, (int(rng.integers(0, 2 * n)), 2))
        elif shape == "stars":
            edges = np.stack([rng.integers(0, n, n), rng.integers(0, 5, n)], axis=1)
        else:
            order = rng.permutation(n) if shape == "shuffled_path" else np.arange(n)[::-1]
            edges = np.stack([order[:-1], order[1:]], axis=1)
        edges = edges.astype(np.uint64)
        num_parts = int(rng.integers(1, 6))
        src, dst = graph.both_directions(edges[:, 0], edges[:, 1])
        for _ in range(100):
            large = [
                graph.large_star(src[sel], dst[sel])
                for sel in (partition_of(src, num_parts) == p for p in range(num_parts))
            ]
            if sum(v for _, _, v in large) == 0:
                break
            larger, smaller = np.concatenate([a for a, _, _ in large]), np.concatenate([b for _, b, _ in large])
            small = [
                graph.small_star(larger[sel], smaller[sel])
                for sel in (partition_of(larger, num_parts) == p for p in range(num_parts))
            ]
            src, dst = graph.both_directions(
                np.concatenate([a for a, _ in small]), np.concatenate([b for _, b in small])
            )
        else:
            pytest.fail("no convergence")
        nodes, roots = graph.roots(src, dst)
        got = list(range(n))
        for node, root in zip(nodes.tolist(), roots.tolist()):
            got[node] = root
        assert got == _union_find_roots(n, edges), (shape, trial)


def test_keep_rule_unit():
    members = pa.table(
        {
            "root": pa.array([7, 7, 7, 9, 9, 4], pa.uint64()),
            "node": pa.array([7, 8, 10, 9, 11, 4], pa.uint64()),
            "lang": ["x", "x", "x", "x", "x", "x"],
            "date": ["2024-02", "2024-01", "2024-01", None, "2025-01", "2024-01"],
            "id": ["c", "b", "a", "d", "e", "f"],
            "text_hash": pa.array([3, 2, 1, 4, 5, 6], pa.uint64()),
            "prev_id": [None, None, None, None, "old2", "old1"],
            "prev_date": [None, None, None, None, "2020", "2019"],
        },
        schema=MEMBERS,
    )
    rows = {r["id"]: r for r in resolve_clusters(members).to_pylist()}
    # earliest date wins, ties by smallest id
    assert rows["a"]["duplicate_of"] is None and rows["b"]["duplicate_of"] == "a" and rows["c"]["duplicate_of"] == "a"
    assert {rows[i]["minhash_cluster_size"] for i in "abc"} == {3}
    # a cluster matching the previous release: all members point at it, the size counts it
    assert rows["d"]["duplicate_of"] == rows["e"]["duplicate_of"] == "old2" and rows["d"]["minhash_cluster_size"] == 3
    assert rows["f"]["duplicate_of"] == "old1" and rows["f"]["minhash_cluster_size"] == 2


def test_shuffle_files_are_atomic(tmp_path):
    fs = parts.filesystem(str(tmp_path), None)
    schema = pa.schema([pa.field("v", pa.int64())])
    writer = parts.PartitionedWriter(fs, f"{tmp_path}/x.parquet", schema, buffer_rows=4)
    writer.write(pa.table({"v": list(range(10))}, schema=schema), np.arange(10) % 3)
    assert not (tmp_path / "x.parquet").exists()  # half written: not under its name
    assert writer.close() == f"{tmp_path}/x.parquet"
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]
    assert sorted(parts.read_part(fs, [f"{tmp_path}/x.parquet"], 1, schema)["v"].to_pylist()) == [1, 4, 7]
    assert parts.PartitionedWriter(fs, f"{tmp_path}/empty.parquet", schema).close() is None


def test_object_store_work_dir_and_index(corpus, tmp_path, monkeypatch):
    """Same decisions with staged files, scratch, decisions and indexes on an S3 server."""
    moto_server = pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {"endpoint_url": f"http://{host}:{port}", "key": "testing", "secret": "testing"}
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("bucket")
        docs = [d for d in corpus if d["family"] < 12]
        first, second = docs[::2], docs[1::2]
        staged = {}
        for name, subset in (("first", first), ("second", second)):
            local = write_staged(subset, tmp_path / name, 2)
            staged[name] = [f"s3://bucket/staged/{name}/{Path(p).name}" for p in local]
            for path, url in zip(local, staged[name]):
                fs.put(path, url)
        executor = ShuffledExecutor(4)
        params = {**DEDUP, "num_partitions": 2}
        run = dict(storage_options=options, executor=executor)
        run_dedup(staged["first"], "s3://bucket/scratch", params, index_out="s3://bucket/index1", **run)
        remote = run_dedup(
            staged["second"],
            "s3://bucket/scratch",
            params,
            previous_index="s3://bucket/index1",
            index_out="s3://bucket/index2",
            **run,
        )
        assert all(url.startswith("s3://bucket/scratch/decisions/") for url in remote.values())
        assert fs.ls("bucket/scratch") == ["bucket/scratch/decisions"]  # scratch removed

        local_first = write_staged(first, tmp_path / "l1", 2)
        local_second = write_staged(second, tmp_path / "l2", 2)
        index1 = str(tmp_path / "index1")
        run_dedup(local_first, str(tmp_path / "lw1"), params, index_out=index1, executor=executor)
        local = run_dedup(local_second, str(tmp_path / "lw2"), params, previous_index=index1, executor=executor)
        with fs.open(remote["eng_Latn"], "rb") as handle:
            from_s3 = pq.read_table(handle)
        assert from_s3.sort_by("id").equals(pq.read_table(local["eng_Latn"]).sort_by("id"))
        assert fs.exists("bucket/index2/_meta.json")
        assert fs.glob("bucket/index2/*/g0001-*.parquet") and fs.glob("bucket/index2/*/g0002-*.parquet")
    finally:
        server.stop()
