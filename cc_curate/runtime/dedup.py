"""Ray orchestration of the per-language MinHash dedup (the steps are in cc_curate.dedup.steps).

The driver only sequences tasks: it passes file paths, never documents, and gets back paths and
small counts. Shuffled data goes through Parquet files under ``work_dir`` (local or object
store), one file per task. Peak memory of a task is bounded by the size of one hash partition,
and the number of partitions grows with the corpus (``docs_per_partition``), so it stays flat as
the corpus grows (measured in docs/benchmarks_dedup.md).

Algorithm, for every language at once (keys and nodes never mix languages):

1. exact dedup: documents with the same normalised-text hash are linked to one representative;
   only representatives go on to LSH;
2. LSH: each signature is cut into ``num_buckets`` bands; documents sharing a band key are
   linked (datatrove semantics: no similarity check on candidates);
3. connected components of all links (alternating Large-Star / Small-Star over hash-partitioned
   edge files, until the edges form stars around each component's smallest node);
4. keep rule per component (cc_curate.dedup.keep): earliest date, then smallest id;
5. with a previous index: a component with a key in the previous release's index is a duplicate
   of the document that release kept.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, TypeVar

import fsspec

from cc_curate.dedup import index, steps
from cc_curate.dedup.parts import AtomicFile
from cc_curate.runtime.tasks import TaskOptions, run_all
from cc_curate.settings import DedupSettings, RuntimeSettings
from cc_curate.stages.minhash import MinHashParams

T = TypeVar("T")

# Large-Star / Small-Star needs O(log^2 n) rounds; far more means a bug, not a big graph.
MAX_ROUNDS = 200
LANGS_PER_COLLECT_TASK = 32
FILES_PER_COPY_TASK = 64


class Executor(Protocol):
    """Runs one step function over many argument tuples; returns the results in call order."""

    def map(self, fn: Callable[..., T], calls: Sequence[tuple]) -> list[T]: ...


class RayExecutor:
    """Each call is a Ray task on one CPU (``runtime/tasks.py``); Ray retries it on worker loss or
    I/O errors.

    A list argument shared by the calls of a wave (the shuffle file lists) goes to the object
    store once, not once per task.
    """

    def __init__(self, max_retries: int = 3):
        self.options = TaskOptions(max_retries=max_retries, retry_exceptions=(OSError,))

    def map(self, fn: Callable[..., T], calls: Sequence[tuple]) -> list[T]:
        shared_lists = len(calls) > 1
        return run_all(fn, calls, self.options, share=lambda value: shared_lists and isinstance(value, list))


@dataclass(frozen=True)
class DedupConfig:
    """The recipe keys dedup reads, from a mapping (tests and library callers pass a dict).

    From the ``dedup`` section: ``enabled``, ``exact``, ``num_partitions``, ``docs_per_partition``
    (more documents add partitions, which bounds task memory), plus ``max_retries``. From the
    ``minhash`` section (nested under the key ``minhash``, or merged at the top level):
    ``n_grams``, ``num_buckets``, ``hashes_per_bucket``, ``seed``. A key left out takes the
    recipe's default, declared once in ``cc_curate/settings.py`` and ``stages/minhash.py``.
    """

    enabled: bool
    exact: bool
    num_partitions: int
    docs_per_partition: int
    max_retries: int
    minhash: Mapping[str, int]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "DedupConfig":
        source = params.get("minhash", params)
        dedup, minhash = DedupSettings(), asdict(MinHashParams())
        return cls(
            enabled=bool(params.get("enabled", dedup.enabled)),
            exact=bool(params.get("exact", dedup.exact)),
            num_partitions=max(1, int(params.get("num_partitions", dedup.num_partitions))),
            docs_per_partition=max(1, int(params.get("docs_per_partition", dedup.docs_per_partition))),
            max_retries=int(params.get("max_retries", RuntimeSettings().max_retries)),
            minhash={name: int(source.get(name, minhash[name])) for name in index.KEY_PARAMS},
        )


def run_dedup(
    staged_files: list[str],
    work_dir: str,
    params: Mapping[str, Any],
    *,
    previous_index: str | None = None,
    index_out: str | None = None,
    storage_options: dict | None = None,
    executor: Executor | None = None,
) -> dict[str, str]:
    """Dedup the committed staged files of a run, per language; returns {lang: decisions URL}.

    Each decisions file (``{work_dir}/decisions/{lang}.parquet``) has one row per participating
    document of the language: ``id`` and ``text_hash`` (a document is both:
    ``schema.DOCUMENT_KEY``), ``minhash_cluster_size``, ``duplicate_of`` (null when kept). Participating: ``lang`` set and ``filter_reason`` null or not in PRE_DEDUP_REASONS.

    ``previous_index``: the index of an earlier release; documents that collide with it are
    duplicates of what that release kept. ``index_out``: where to write this release's index
    (cumulative: previous index + this release's new keys); replaced if it exists.
    Runs on the caller's Ray (``ray.init`` is the caller's), or on ``executor``.
    """
    config = DedupConfig.from_params(params)
    if not config.enabled or not staged_files:
        return {}
    if index_out and previous_index and index_out.rstrip("/") == previous_index.rstrip("/"):
        raise ValueError("index_out must differ from previous_index (the new index copies the previous one)")
    executor = executor or RayExecutor(config.max_retries)
    work_fs, work_path = fsspec.core.url_to_fs(work_dir, **(storage_options or {}))
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    try:
        return _Run(
            staged_files, work_dir, config, previous_index, index_out, storage_options, executor, run_id
        ).execute()
    finally:
        scratch = f"{work_path.rstrip('/')}/{run_id}"
        if work_fs.exists(scratch):
            work_fs.rm(scratch, recursive=True)


class _Run:
    """One dedup run: the sequence of steps, each a wave of tasks."""

    def __init__(
        self,
        staged_files: list[str],
        work_dir: str,
        config: DedupConfig,
        previous_index: str | None,
        index_out: str | None,
        storage_options: dict | None,
        executor: Executor,
        run_id: str,
    ):
        self.files = list(staged_files)
        self.work_dir = work_dir.rstrip("/")
        self.config = config
        self.previous_index = previous_index
        self.index_out = index_out
        self.options = storage_options
        self.executor = executor
        self.run_id = run_id

    def execute(self) -> dict[str, str]:
        previous_files, generations = self._previous_index()  # fails fast on an unusable index
        plan = self._plan()
        groups = self._groups(plan)
        mapped = self.executor.map(steps.map_documents, [(plan, g, files) for g, files in enumerate(groups)])
        langs = sorted({lang for result in mapped for lang in result["langs"]})
        if not langs:
            if self.index_out:
                self._write_index(plan, [], previous_files, generations)
            return {}
        node_paths = _present(r["nodes"] for r in mapped)
        partitions = range(plan.num_partitions)

        edge_paths: list[str] = []
        previous_paths: list[str] = []
        candidate_paths: list[str] = []
        dropped_paths: list[str] = []
        if plan.exact:
            exact_paths = _present(r["exact"] for r in mapped)
            reduced = self.executor.map(
                steps.reduce_exact,
                [
                    (plan, p, exact_paths, index.files_for_partition(previous_files, p, plan.num_partitions))
                    for p in partitions
                ],
            )
            dropped_paths = _present(r["dropped"] for r in reduced)
            self._collect(reduced, edge_paths, previous_paths, candidate_paths)
        band_paths = _present(
            self.executor.map(steps.map_bands, [(plan, g, files, dropped_paths) for g, files in enumerate(groups)])
        )
        reduced = self.executor.map(
            steps.reduce_bands,
            [
                (plan, p, band_paths, index.files_for_partition(previous_files, p, plan.num_partitions))
                for p in partitions
            ],
        )
        self._collect(reduced, edge_paths, previous_paths, candidate_paths)

        edge_paths = self._components(plan, edge_paths)
        attached = self.executor.map(
            steps.attach, [(plan, p, edge_paths, node_paths, previous_paths) for p in partitions]
        )
        member_paths = _present(r["members"] for r in attached)
        resolved = self.executor.map(steps.resolve, [(plan, p, member_paths) for p in partitions])
        assignment_paths = _present([r["assignments"] for r in attached] + resolved)
        finished = self.executor.map(
            steps.finish, [(plan, p, assignment_paths, candidate_paths, langs) for p in partitions]
        )
        outputs = {lang: f"{self.work_dir}/decisions/{lang}.parquet" for lang in langs}
        decision_paths = _present(r["decisions"] for r in finished)
        batches = [
            list(enumerate(langs))[i : i + LANGS_PER_COLLECT_TASK] for i in range(0, len(langs), LANGS_PER_COLLECT_TASK)
        ]
        self.executor.map(
            steps.collect_decisions,
            [(plan, [(code, outputs[lang]) for code, lang in batch], decision_paths) for batch in batches],
        )
        if self.index_out:
            self._write_index(plan, _present(r["index"] for r in finished), previous_files, generations)
        return outputs

    def _plan(self) -> steps.Plan:
        """Partitions from the corpus size: no partition holds more than docs_per_partition."""
        batches = [self.files[i : i + 256] for i in range(0, len(self.files), 256)]
        total = sum(self.executor.map(steps.count_rows, [(batch, self.options) for batch in batches]))
        num_partitions = max(self.config.num_partitions, math.ceil(total / self.config.docs_per_partition))
        # About two map tasks per partition: enough parallelism, few shuffle files.
        files_per_group = max(1, math.ceil(len(self.files) / (2 * num_partitions)))
        return steps.Plan(
            work=f"{self.work_dir}/{self.run_id}",
            storage_options=self.options,
            num_partitions=num_partitions,
            files_per_group=files_per_group,
            num_buckets=self.config.minhash["num_buckets"],
            hashes_per_bucket=self.config.minhash["hashes_per_bucket"],
            exact=self.config.exact,
            build_index=bool(self.index_out),
        )

    def _groups(self, plan: steps.Plan) -> list[list[tuple[int, str]]]:
        numbered = list(enumerate(self.files))
        return [numbered[i : i + plan.files_per_group] for i in range(0, len(numbered), plan.files_per_group)]

    def _previous_index(self) -> tuple[list[index.IndexFile], int]:
        if not self.previous_index:
            return [], 0
        fs, root = fsspec.core.url_to_fs(self.previous_index, **(self.options or {}))
        return index.list_index(fs, root.rstrip("/"), self.config.minhash)

    @staticmethod
    def _collect(
        results: list[dict[str, str | None]], edges: list[str], previous: list[str], candidates: list[str]
    ) -> None:
        edges += _present(r["edges"] for r in results)
        previous += _present(r["previous"] for r in results)
        candidates += _present(r["candidates"] for r in results)

    def _components(self, plan: steps.Plan, edge_paths: list[str]) -> list[str]:
        """Alternate Large-Star / Small-Star until the edges are stars; returns their files."""
        fs = plan.fs()
        partitions = range(plan.num_partitions)
        for round_ in range(MAX_ROUNDS):
            if not edge_paths:
                return []
            large = self.executor.map(steps.large_star, [(plan, round_, p, edge_paths) for p in partitions])
            larger_paths = _present(r["edges"] for r in large)
            if sum(r["violations"] for r in large) == 0:
                _remove(fs, larger_paths)
                return edge_paths
            smaller = _present(
                self.executor.map(steps.small_star, [(plan, round_, p, larger_paths) for p in partitions])
            )
            _remove(fs, edge_paths + larger_paths)  # this round's inputs: no task reads them again
            edge_paths = smaller
        raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")

    def _write_index(
        self, plan: steps.Plan, new_paths: list[str], previous_files: list[index.IndexFile], generations: int
    ) -> None:
        """Previous index files + this release's new keys, then _meta.json (the commit)."""
        fs, root = fsspec.core.url_to_fs(self.index_out, **(self.options or {}))
        root = root.rstrip("/")
        meta_path = f"{root}/{index.META_FILE}"
        if fs.exists(meta_path):
            fs.rm(meta_path)  # first: a half-replaced index must never look complete
        _remove(fs, fs.glob(f"{root}/*/g*-q*-of-*.parquet"))
        pairs = [(f.path, f"{f.lang}/{f.path.rsplit('/', 1)[1]}") for f in previous_files]
        self.executor.map(
            steps.copy_files,
            [
                (plan, pairs[i : i + FILES_PER_COPY_TASK], self.previous_index, self.index_out)
                for i in range(0, len(pairs), FILES_PER_COPY_TASK)
            ],
        )
        self.executor.map(
            steps.write_index,
            [(plan, p, new_paths, self.index_out, generations + 1) for p in range(plan.num_partitions)],
        )
        out = AtomicFile(fs, meta_path)
        out.handle.write(json.dumps(index.meta(self.config.minhash, generations + 1), indent=2).encode())
        out.commit()


def _present(paths: Any) -> list[str]:
    return [p for p in paths if p]


def _remove(fs: fsspec.AbstractFileSystem, paths: list[str]) -> None:
    if paths:
        fs.rm(paths)
