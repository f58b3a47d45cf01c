"""The run-wide recipe sections that are not a stage's (input, dedup, output, runtime, ...), declared
as typed dataclasses like the stages' params (``cc_curate.params``): code reads
``recipe.run.input.read.block_bytes``, not ``settings["input"]["read"]["block_bytes"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cc_curate.params import section, setting
from cc_curate.stages.registry import FINEWEB2_STAGES


@dataclass(frozen=True)
class ReadSettings:
    block_bytes: int = setting(16777216, "Bytes per ranged request to a remote input", low=65_536)
    max_attempts: int = setting(8, "Tries of one request before the shard fails (then Ray retries it)",
                                low=1, high=100)
    backoff_seconds: float = setting(0.5, "First retry waits up to this (doubling, full jitter)", low=0.0)
    backoff_max_seconds: float = setting(30.0, "Longest wait between two tries", low=0.0)
    max_requests_per_node: int = setting(32, "Most input requests at once per node (0 = no cap)", low=0)


@dataclass(frozen=True)
class InputSettings:
    max_payload_bytes: int = setting(10000000, "Largest HTTP payload read", low=1)
    storage_options: dict[str, Any] = setting({}, "fsspec options for remote inputs and outputs")
    read: ReadSettings = section(ReadSettings)

    @property
    def fsspec_options(self) -> dict[str, Any] | None:
        """``storage_options`` as fsspec takes them (None when empty)."""
        return self.storage_options or None


@dataclass(frozen=True)
class DedupSettings:
    enabled: bool = setting(True, "MinHash dedup per language")
    exact: bool = setting(True, "Exact dedup of identical normalised texts first")
    num_partitions: int = setting(16, "Minimum hash partitions of the LSH shuffle", low=1, high=65536)
    docs_per_partition: int = setting(250000, "More documents add partitions (bounds each task's memory)", low=1)


@dataclass(frozen=True)
class OutputSettings:
    max_file_bytes: int = setting(2000000000, "Rotate published files at this size", low=1_000)
    compression: str = setting("zstd", "Parquet codec", choices=("zstd", "snappy", "gzip", "none"))
    rehydration: str = setting("none", "Upsampling by cluster size", choices=("none", "column", "repeat"))
    max_copies: int = setting(5, "Most copies of one document", low=1, high=100)


@dataclass(frozen=True)
class RuntimeSettings:
    max_retries: int = setting(3, "Attempts before a shard is quarantined", low=0, high=100)
    start_stagger_seconds: float = setting(0.05, "Pause between the first wave of shard starts", low=0.0, high=60.0)
    batch_size: int = setting(256, "Documents per batch", low=1, high=100_000)
    docs_per_publish_task: int = setting(500000, "Most documents one publish task holds (larger languages are split)",
                                         low=1)


@dataclass(frozen=True)
class TopSettings:
    """The top-level keys of a recipe."""

    dump: str | None = setting(None, "Dump name for the `dump` column (null: from --snapshot or the path)")
    languages: list[str] = setting([], "Publish only these languages; empty = all")
    from_fineweb2: str | None = setting(
        None, "FineWeb2 per-language settings: `packaged` (all 1,929 configs, shipped) or a folder/URL of its configs")
    precision_wordlists: str | None = setting(
        None, "Folder of FineWeb2 precision wordlists ({lang}.txt) for the languages it precision-filtered")
    stages: list[str] = setting(list(FINEWEB2_STAGES), "The stages that run, by name (`cc-curate stages` lists them)")


# Run-wide sections, in the order of recipes/defaults.yaml; ``output`` may also be set per language.
SECTIONS: dict[str, type] = {
    "input": InputSettings,
    "dedup": DedupSettings,
    "output": OutputSettings,
    "runtime": RuntimeSettings,
}
PER_LANGUAGE_SECTIONS = ("output",)


@dataclass(frozen=True)
class RunSettings:
    """The run-wide settings of a recipe, typed."""

    top: TopSettings
    input: InputSettings
    dedup: DedupSettings
    output: OutputSettings
    runtime: RuntimeSettings
