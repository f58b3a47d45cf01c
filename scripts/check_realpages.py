"""How many UDHR pages of the realpages WARC land in their gold language's partition.

Reads a finished run's output (run it first on
../shared/data/realpages_multilingual_warc/realpages-multilingual.warc.gz) and the manifest's gold
languages. Counts only the pages whose gold language lid.176 can name (its label set, after the
pipeline's own normalisation); a page is right when its published partition — kept, or removed
with its reason — has the gold language (macrolanguages compare equal: gold ``zho`` = ``cmn``).

Usage: python scripts/check_realpages.py OUT [--shared-data ../shared/data] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from cc_curate.stages.langcodes import LID176, macrolanguage


def partition_of_ids(out: Path) -> dict[str, tuple[str, bool]]:
    """id -> (language code of its partition, kept?)."""
    found = {}
    for file in out.glob("data/*/train/*.parquet"):
        partition = file.parts[-3]
        kept = not partition.endswith("_removed")
        language = partition.removesuffix("_removed").split("_")[0]
        for doc_id in pq.read_table(file, columns=["id"])["id"].to_pylist():
            found[doc_id] = (language, kept)
    return found


def check(out: Path, shared_data: Path) -> dict:
    nameable = {macrolanguage(code) for code, _ in LID176.values()}
    manifest = shared_data / "realpages_multilingual_warc" / "manifest.jsonl.gz"
    found = partition_of_ids(out)
    totals: Counter[str] = Counter()
    misses: Counter[str] = Counter()
    for line in gzip.open(manifest, "rt", encoding="utf-8"):
        record = json.loads(line)
        gold = record.get("gold_lang_iso6393")
        if not gold or gold == "und" or macrolanguage(gold) not in nameable:
            continue
        totals["udhr_nameable"] += 1
        language, kept = found.get(record["record_id"], (None, False))
        if language is None:
            totals["not_published"] += 1
            continue
        right = macrolanguage(language) == macrolanguage(gold)
        totals["right_partition"] += right
        totals["right_and_kept"] += right and kept
        if not right:
            misses[f"{gold}->{language}"] += 1
    n = max(totals["udhr_nameable"], 1)
    return {
        **totals,
        "right_partition_rate": round(totals["right_partition"] / n, 4),
        "right_and_kept_rate": round(totals["right_and_kept"] / n, 4),
        "partitions_kept": len({p.parts[-3] for p in out.glob("data/*/train/*.parquet") if not p.parts[-3].endswith("_removed")}),
        "top_confusions": misses.most_common(15),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("CC_CURATE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")))
    args = parser.parse_args()
    print(json.dumps(check(args.out, args.shared_data), indent=1))


if __name__ == "__main__":
    main()
