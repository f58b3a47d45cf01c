"""``OUT/report/index.html``: what a run did, at a glance, readable offline.

Everything comes from what the run left behind: ``stats.json`` (funnel, languages, filters,
counters), the published Parquet files (language scores, removed documents' signals), the staged
rows while ``_staging/`` exists (signals of kept documents too: the published schema is
FineWeb2's and has no signals column), the ledger (quarantined records) and ``_quarantine/``.
The page has no script and loads nothing from the network: charts are PNG files beside it,
referenced by relative paths, so the folder can be copied, zipped or served as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from cc_curate.errors import UserError
from cc_curate.output.schema import DUPLICATE_REASON, UNDETERMINED_LANG
from cc_curate.output.staging import QUARANTINE_SHARDS, read_ledger
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.report import charts
from cc_curate.report.estimate import (
    EstimateError,
    extrapolate,
    flatten,
    output_bytes,
    render_estimate,
)
from cc_curate.report.run_data import (
    NOT_QUALITY,
    QUARANTINE_FILES,
    SAMPLE_ROWS,
    load_run_recipe,
    parquet_files,
    quarantined_records,
    sample_rows,
    signal_sample,
    thresholds_for,
)
from cc_curate.stages.lid import Lid

REPORT_DIR = "report"
TOP_LANGUAGES = 20  # languages in the bar charts and the heat map
TOP_REASONS = 15  # rules (columns) in the heat map
SIGNAL_LANGUAGES = 6  # languages that get a filter-signal figure
LID_LANGUAGES = 12
CLUSTER_LANGUAGES = 10
TABLE_LANGUAGES = 100
EMPTY_LANGUAGES_LISTED = 300  # languages that kept nothing, named in one line
UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


class ReportError(UserError):
    """The output folder has no finished run to report on."""


@dataclass
class _Page:
    """The charts and HTML sections being assembled."""

    charts: dict[str, bytes] = field(default_factory=dict)
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (anchor, title, body)

    def image(self, name: str, png: bytes, alt: str) -> str:
        self.charts[name] = png
        return f'<img src="{escape(name)}" alt="{escape(alt)}">'

    def add(self, anchor: str, title: str, *body: str) -> None:
        self.sections.append((anchor, title, "\n".join(body)))


def build_report(output_dir: str, *, storage_options: dict[str, Any] | None = None) -> str:
    """Write ``report/index.html`` and its PNG charts under ``output_dir``; return the page's path."""
    storage = Storage(output_dir, storage_options)
    if not storage.exists("stats.json"):
        raise ReportError(f"no stats.json in {output_dir}: the run has not published yet")
    stats = storage.read_json("stats.json")
    recipe, recipe_note = load_run_recipe(stats)
    ledger = read_ledger(storage)
    page = _Page()
    _funnel_section(page, stats)
    _languages_section(page, stats)
    _removal_section(page, stats)
    _signals_section(page, storage, stats, ledger, recipe, recipe_note)
    _lid_section(page, storage, stats, recipe)
    _clusters_section(page, stats, recipe)
    _time_section(page, stats)
    _estimate_section(page, storage, stats, ledger)
    _quarantine_section(page, storage, stats, ledger)

    storage.remove(REPORT_DIR, recursive=True)  # charts of an earlier build must not linger
    for name, png in page.charts.items():
        storage.write_atomic(f"{REPORT_DIR}/{name}", png)
    storage.write_atomic(f"{REPORT_DIR}/index.html", _render(stats, page, output_dir).encode())
    return f"{storage.url}/{REPORT_DIR}/index.html"


# --- sections ---------------------------------------------------------------------------------


def funnel_steps(stats: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """(step, count, what was lost on the way to it), from records read to published documents."""
    funnel = stats["funnel"]
    removed = {reason: int(per["total"]) for reason, per in stats.get("filters", {}).items()}
    counters = flatten(stats.get("counters", {}))
    read = int(funnel["records_read"])
    html = read - int(funnel["skipped"])
    url_removed = removed.get("url_filter", 0)
    extracted = int(counters.get("extraction.extracted", html - url_removed - int(funnel["extraction_failed"])))
    lid_removed = removed.get("language_score", 0) + removed.get("language_not_selected", 0)
    lid_kept = extracted - lid_removed
    dedup_kept = lid_kept - removed.get(DUPLICATE_REASON, 0)
    kept = int(funnel["kept"])
    published = sum(int(s.get("rehydrated_documents", s["kept"])) for s in stats["languages"].values())
    skipped = _group(counters, "records.skipped.")
    failed = _group(counters, "extraction.failed.")
    quality = {r: n for r, n in removed.items() if r not in NOT_QUALITY}
    return [
        ("records read", read, ""),
        ("HTML records", html, _breakdown("skipped", skipped, int(funnel["skipped"]))),
        ("text extracted", extracted,
         _breakdown("URL filter", {}, url_removed) + "; "
         + _breakdown("extraction failed", failed, int(funnel["extraction_failed"]))),
        ("LID kept", lid_kept, _breakdown("below LID threshold or language not selected", {}, lid_removed)),
        ("dedup kept", dedup_kept, _breakdown("duplicates", {}, removed.get(DUPLICATE_REASON, 0))),
        ("filters kept", kept, _breakdown("quality rules", quality, sum(quality.values()))),
        ("published", published, "rehydration copies included" if published != kept else ""),
    ]


def _group(counters: Mapping[str, float], prefix: str) -> dict[str, int]:
    return {k[len(prefix):]: int(v) for k, v in counters.items() if k.startswith(prefix)}


def _breakdown(label: str, parts: Mapping[str, int], total: int) -> str:
    detail = ", ".join(f"{name} {count:,}" for name, count in sorted(parts.items(), key=lambda kv: -kv[1]))
    return f"{label}: {total:,}" + (f" ({detail})" if detail else "")


def _funnel_section(page: _Page, stats: Mapping[str, Any]) -> None:
    steps = funnel_steps(stats)
    first = steps[0][1] or 1
    rows = [[name, f"{count:,}", f"{100 * count / first:.1f}%", lost] for name, count, lost in steps]
    page.add(
        "funnel", "Funnel",
        page.image("funnel.png", charts.funnel_chart([(n, c) for n, c, _ in steps]), "funnel chart"),
        _table(["step", "count", "% of records", "removed on the way"], rows),
    )


def _languages_section(page: _Page, stats: Mapping[str, Any]) -> None:
    languages = sorted(stats["languages"].items(),
                       key=lambda kv: (-int(kv[1]["kept"]), -int(kv[1]["documents"]), kv[0]))
    if not languages:
        page.add("languages", "Languages", "<p>No documents reached language ID.</p>")
        return
    kept = [(lang, s) for lang, s in languages if int(s["kept"])]
    empty = [(lang, s) for lang, s in languages if not int(s["kept"])]
    top = [(lang, int(s["kept"]), int(s["words"]), int(s["bytes"])) for lang, s in kept[:TOP_LANGUAGES]]
    rows = []
    for lang, s in kept[:TABLE_LANGUAGES]:
        documents, count = int(s["documents"]), int(s["kept"])
        top_reason = max(s["removed"].items(), key=lambda kv: kv[1])[0] if s["removed"] else ""
        rows.append([lang, f"{documents:,}", f"{count:,}", f"{100 * count / max(documents, 1):.1f}%",
                     f"{int(s['words']):,}", _bytes(int(s["bytes"])), top_reason])
    more = len(kept) - TABLE_LANGUAGES
    listed = ", ".join(f"{lang} ({int(s['documents']):,})" for lang, s in empty[:EMPTY_LANGUAGES_LISTED])
    page.add(
        "languages", "Languages",
        f"<p>{len(kept)} of {len(languages)} languages kept documents; the charts show the top {len(top)}.</p>",
        page.image("languages.png", charts.languages_chart(top), "documents, words and bytes per language")
        if top else "<p>No language kept any document.</p>",
        _table(["language", "documents", "kept", "kept %", "words", "bytes", "top removal reason"], rows),
        f"<p>… and {more:,} more languages with kept documents (all are in stats.json).</p>" if more > 0 else "",
        f"<p>{len(empty):,} languages kept no document (documents in brackets; why: the heat map below and "
        f"stats.json): {escape(listed)}{' …' if len(empty) > EMPTY_LANGUAGES_LISTED else ''}</p>" if empty else "",
    )


def _removal_section(page: _Page, stats: Mapping[str, Any]) -> None:
    filters = stats.get("filters", {})
    if not filters:
        page.add("removal", "Removal per rule", "<p>No document was removed.</p>")
        return
    reasons = sorted(filters, key=lambda r: -int(filters[r]["total"]))
    shown = reasons[:TOP_REASONS]
    langs = [lang for lang, _ in sorted(stats["languages"].items(), key=lambda kv: -int(kv[1]["documents"]))]
    langs = [lang for lang in langs if int(stats["languages"][lang]["documents"])][:TOP_LANGUAGES]
    percent = np.array([
        [100 * int(stats["languages"][lang]["removed"].get(r, 0)) / int(stats["languages"][lang]["documents"])
         for r in shown]
        for lang in langs
    ])
    documents = max(int(stats["funnel"]["documents"]), 1)
    rows = [[r, f"{int(filters[r]['total']):,}", f"{100 * int(filters[r]['total']) / documents:.1f}%",
             str(len(filters[r]["by_language"]))] for r in reasons]
    page.add(
        "removal", "Removal per rule",
        "<p>A document counts once, under the first rule that removed it (FineWeb2 order: URL filter, "
        "LID threshold, dedup, then the quality rules).</p>",
        page.image("removal_rates.png", charts.removal_heatmap(langs, shown, percent), "removal rate heat map"),
        f"<p>The heat map shows the {TOP_REASONS} most frequent of {len(reasons)} rules.</p>"
        if len(reasons) > TOP_REASONS else "",
        _table(["rule", "documents removed", "% of documents", "languages"], rows),
    )


def _signals_section(page: _Page, storage: Storage, stats: Mapping[str, Any], ledger: Mapping[str, Any],
                     recipe: Recipe | None, recipe_note: str) -> None:
    body = [f"<p>{escape(recipe_note)}</p>" if recipe_note else ""]
    langs = [lang for lang, s in sorted(stats["languages"].items(), key=lambda kv: -int(kv[1]["documents"]))
             if lang != UNDETERMINED_LANG][:SIGNAL_LANGUAGES]
    for lang in langs:
        signals, source = signal_sample(storage, ledger, lang)
        if not signals:
            continue
        params = recipe.for_language(lang) if recipe else {}
        lines = {name: thresholds_for(name, params) for name in signals}
        png = charts.signals_chart(lang, signals, lines)
        body += [f"<h3>{escape(lang)}</h3>", f"<p class=note>{escape(source)}</p>",
                 page.image(f"signals_{lang}.png", png, f"filter signals of {lang}")]
    if len(body) == 1:
        body.append("<p>No filter signals found (no quality filter ran, or the signals were not kept).</p>")
    page.add("signals", "Filter signals", *body)


def _lid_section(page: _Page, storage: Storage, stats: Mapping[str, Any], recipe: Recipe | None) -> None:
    langs = [lang for lang, s in sorted(stats["languages"].items(), key=lambda kv: -int(kv[1]["documents"]))
             if lang != UNDETERMINED_LANG][:LID_LANGUAGES]
    scores = {}
    for lang in langs:
        files = parquet_files(storage, f"data/{lang}/train") + parquet_files(storage, f"data/{lang}_removed/train")
        table = sample_rows(storage, [(f, None) for f in files], ["language_score"], SAMPLE_ROWS)
        values = table["language_score"].to_numpy(zero_copy_only=False).astype(float)
        values = values[~np.isnan(values)]
        if len(values):
            scores[lang] = values
    if not scores:
        page.add("lid", "Language ID scores", "<p>No language scores in the published files.</p>")
        return
    thresholds = {lang: float(recipe.params(Lid, lang).threshold) for lang in scores} if recipe else {}
    page.add(
        "lid", "Language ID scores",
        f"<p>Kept and removed documents (up to {SAMPLE_ROWS:,} per language).</p>",
        page.image("language_score.png", charts.lid_chart(scores, thresholds), "language score histograms"),
    )


def _clusters_section(page: _Page, stats: Mapping[str, Any], recipe: Recipe | None) -> None:
    sizes = {
        lang: {int(size): int(count) for size, count in s.get("cluster_sizes", {}).items()}
        for lang, s in sorted(stats["languages"].items(), key=lambda kv: -int(kv[1]["documents"]))
        if s.get("cluster_sizes")
    }
    if not sizes:
        off = recipe is not None and not recipe.run.dedup.enabled
        why = "dedup was off in the recipe (dedup.enabled: false)" if off else "dedup was off or found no clusters"
        page.add("clusters", "Duplicate clusters",
                 f"<p class=warn>No cluster sizes: minhash_cluster_size is null for every document ({why}).</p>")
        return
    top = dict(list(sizes.items())[:CLUSTER_LANGUAGES])
    rows = []
    for lang, counts in top.items():
        documents = sum(counts.values())
        singletons = counts.get(1, 0)
        rows.append([lang, f"{documents:,}", f"{100 * (documents - singletons) / max(documents, 1):.1f}%",
                     f"{max(counts):,}"])
    page.add(
        "clusters", "Duplicate clusters",
        page.image("cluster_sizes.png", charts.cluster_chart(top), "duplicate cluster size distribution"),
        _table(["language", "documents with a cluster size", "in a cluster of 2+", "largest cluster"], rows),
    )


def time_stages(counters: Mapping[str, float]) -> list[tuple[str, float]]:
    """Core-seconds per stage from the ``time.*`` counters, largest first."""
    stages = {k[len("time.stage."):]: float(v) for k, v in counters.items() if k.startswith("time.stage.")}
    shard = float(counters.get("time.shard_seconds", 0))
    rest = shard - sum(stages.values())
    if not stages and shard:
        stages["shard task (not broken down)"] = shard
    elif rest > 0.01 * shard:
        stages["other (shard task)"] = rest
    for name in ("time.dedup_seconds", "time.publish_seconds"):
        if counters.get(name):
            stages[name[len("time."):-len("_seconds")]] = float(counters[name])
    return sorted(stages.items(), key=lambda kv: -kv[1])


def _time_section(page: _Page, stats: Mapping[str, Any]) -> None:
    counters = flatten(stats.get("counters", {}))
    stages = time_stages(counters)
    if not stages:
        page.add("time", "Time per stage", "<p>The run recorded no time.* counters.</p>")
        return
    other = [[k, f"{v:,.1f}"] for k, v in sorted(counters.items())
             if k.startswith("time.") and not k.startswith("time.stage.")]
    page.add(
        "time", "Time per stage",
        page.image("time.png", charts.time_chart(stages), "time per stage"),
        _table(["counter", "seconds"], other),
    )


def _estimate_section(page: _Page, storage: Storage, stats: Mapping[str, Any], ledger: Mapping[str, Any]) -> None:
    try:
        text = render_estimate(extrapolate(flatten(stats.get("counters", {})), ledger, output_bytes(storage)))
    except EstimateError as exc:
        text = f"No estimate: {exc}"
    page.add("estimate", "Cost of a full snapshot",
             "<p>With the defaults of <code>cc-curate estimate</code> (a typical snapshot, 64 workers, "
             "$0.05 per core-hour); run it with your own numbers.</p>",
             f"<pre>{escape(text)}</pre>")


def _quarantine_section(page: _Page, storage: Storage, stats: Mapping[str, Any], ledger: Mapping[str, Any]) -> None:
    shards = [storage.read_json(f"{QUARANTINE_SHARDS}/{name}") for name in storage.list(QUARANTINE_SHARDS, ".json")]
    shard_rows = [[s.get("shard_id", ""), s.get("path", ""), s.get("error", ""), s.get("at", "")] for s in shards]
    records, by_reason, partial = quarantined_records(storage, ledger)
    counted = int(flatten(stats.get("counters", {})).get("records.quarantined", 0))
    body = [
        "<h3>Shards</h3>",
        _table(["shard", "input", "error", "at"], shard_rows) if shard_rows
        else "<p>No shard was quarantined.</p>",
        "<h3>Records</h3>",
    ]
    if not ledger:
        body.append(f"<p>The ledger is gone (run state removed): {counted:,} records were quarantined, "
                    "their details went with it.</p>")
    elif not by_reason:
        body.append("<p>No record was quarantined.</p>")
    else:
        if partial:
            body.append(f"<p>{counted:,} records were quarantined in all; the tables cover the first "
                        f"{QUARANTINE_FILES:,} shards that have any.</p>")
        counts = sorted(by_reason.items(), key=lambda kv: -kv[1])
        body.append(_table(["reason", "records"], [[r, f"{n:,}"] for r, n in counts]))
        total = sum(by_reason.values())
        if total > len(records):
            body.append(f"<p>First {len(records):,} of {total:,} records:</p>")
        body.append(_table(["shard", "reason", "url", "id", "detail"],
                           [[q.get("shard", ""), q.get("reason", ""), q.get("url", ""), q.get("id", ""),
                             str(q.get("detail", ""))[:200]] for q in records]))
    page.add("quarantine", "Quarantine", *body)


# --- HTML -------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 0 20px 60px; color: #1d1d1f; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #ccc; padding-top: 14px; }
nav a { margin-right: 12px; } img { max-width: 100%; display: block; margin: 10px 0; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; } td:first-child { white-space: nowrap; }
.ok { color: #1a7f37; } .bad, .warn { color: #b3261e; } .note { color: #555; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12px; }
"""


def _render(stats: Mapping[str, Any], page: _Page, output_dir: str) -> str:
    run = stats.get("run", {})
    checks = stats.get("check", {})
    check_html = " ".join(
        f'<span class="{"ok" if ok else "bad"}">{escape(name)}: {"yes" if ok else "NO"}</span>'
        for name, ok in checks.items()
    )
    summary = _table(None, [
        ["output", output_dir],
        ["recipe", f"{run.get('recipe', '')} (sha256 {str(run.get('recipe_sha256', ''))[:16]})"],
        ["cc_curate", f"{run.get('cc_curate_version', '')}, Python {run.get('python', '')}"],
        ["shards", f"{run.get('shards_committed', 0):,} committed of {run.get('shards_total', 0):,}, "
                   f"{len(run.get('shards_quarantined', [])):,} quarantined"],
        ["finished", run.get("finished_at", "")],
    ])
    nav = " ".join(f'<a href="#{a}">{escape(t)}</a>' for a, t, _ in page.sections)
    sections = "\n".join(f'<h2 id="{a}">{escape(t)}</h2>\n{body}' for a, t, body in page.sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<title>cc_curate report: {escape(output_dir)}</title>\n<style>{STYLE}</style></head>\n<body>\n"
        f"<h1>cc_curate run report</h1>\n{summary}\n<p>Counts add up: {check_html}</p>\n<nav>{nav}</nav>\n"
        f"{sections}\n</body></html>\n"
    )


def _table(header: Sequence[str] | None, rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header or ())
    body = "".join(
        "<tr>" + "".join(f'<td{_numeric(c)}>{escape(str(c))}</td>' for c in row) + "</tr>" for row in rows
    )
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _numeric(cell: Any) -> str:
    text = str(cell).replace(",", "").rstrip("%")
    try:
        float(text)
    except ValueError:
        return ""
    return ' class="n"'


def _bytes(size: float) -> str:
    unit = 0
    while size >= 1000 and unit < len(UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:,.0f} B" if unit == 0 else f"{size:,.1f} {UNITS[unit]}"

