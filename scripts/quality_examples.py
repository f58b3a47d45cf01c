"""Write labelled quality examples from ../shared/data: main text vs boilerplate of the same pages.

``pos.jsonl`` holds the main-text segments of trafilatura's evaluation pages, ``neg.jsonl`` the
boilerplate and navigation segments of the same pages, each with the ``lang`` the pipeline's LID
gives the page (docs/quality.md, worked example; the tests train on the same examples).
``sample_deu_Latn.jsonl`` has every German segment of both, unlabelled: a sample to calibrate on.

Usage: python scripts/quality_examples.py --out quality-examples [--shared-data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.quality_data import main_content_examples  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    labelled = main_content_examples(args.shared_data, args.out)
    sample = args.out / "sample_deu_Latn.jsonl"
    with sample.open("w", encoding="utf-8") as out:
        for path in labelled:
            for line in path.open(encoding="utf-8"):
                if json.loads(line)["lang"] == "deu_Latn":
                    out.write(json.dumps({"text": json.loads(line)["text"]}, ensure_ascii=False) + "\n")
    for path in (*labelled, sample):
        print(f"{path}: {sum(1 for _ in path.open(encoding='utf-8')):,} examples")


if __name__ == "__main__":
    main()
