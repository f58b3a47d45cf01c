"""What a mix says about itself: mix.json (every parameter and number), the dataset card, the dry-run
estimate and the chart of score distributions at several tau."""

from __future__ import annotations

import io
from typing import Any, Sequence

import numpy as np
import yaml
from matplotlib.figure import Figure
from rich.table import Table

from cc_curate import __version__
from cc_curate.mix import sampling
from cc_curate.mix.execution import SCORE_BINS, LanguageResult, MixOutcome
from cc_curate.output.storage import Storage
from cc_curate.redaction import redact

TOLERANCE = 0.01  # a budget is met when the achieved amount is within 1% of the target
SUMMARY_BINS = 16  # histogram bins in mix.json and the card (SCORE_BINS folded)
CHART_BINS = 32


def expected_mean(result: LanguageResult, tau: float | None) -> float | None:
    """Mean score of the mix's rows, expected at ``tau`` from the language's score histogram
    (large-sample inclusion probabilities; each bin at its mean score)."""
    after = expected_rows(result, tau)
    rows = after.sum()
    if rows <= 0:
        return None
    means = np.divide(result.score_units, result.units_hist, out=np.zeros(len(after)), where=result.units_hist > 0)
    return float((after * means).sum() / rows)


def expected_rows(result: LanguageResult, tau: float | None) -> np.ndarray:
    """Expected rows of the mix per score bin: whole passes plus the expected sample."""
    plan = result.plan
    means = np.divide(result.score_units, result.units_hist, out=np.zeros(len(result.units_hist)),
                      where=result.units_hist > 0)
    sampled = sampling.expected_selection(means, result.units_hist, result.cost_hist, tau, plan.remainder)
    return plan.passes * result.units_hist + sampled


def _distribution(counts: np.ndarray, score_sums: np.ndarray, edges: np.ndarray) -> dict[str, Any] | None:
    total = counts.sum()
    if total <= 0:
        return None
    centres = (edges[:-1] + edges[1:]) / 2
    cumulative = np.cumsum(counts) / total
    quantile = {f"p{int(q * 100)}": float(centres[min(int(np.searchsorted(cumulative, q)), len(centres) - 1)])
                for q in (0.1, 0.5, 0.9)}
    return {"mean": float(score_sums.sum() / total), **quantile,
            "histogram": counts.reshape(SUMMARY_BINS, -1).sum(axis=1).tolist()}


def summarize(outcome: MixOutcome, command: str) -> dict[str, Any]:
    """mix.json: every parameter, and per language the plan, what was achieved and the scores."""
    spec = outcome.spec
    edges = outcome.edges
    languages = {}
    for lang, result in outcome.languages.items():
        plan, written = result.plan, result.written
        achieved = int(written.get("cost", 0))
        entry: dict[str, Any] = {
            "input_files": result.files,
            "input_documents": result.documents,
            "input_units": result.units,
            "available": plan.available,
            "pool": plan.pool,
            "requested": plan.requested,
            "target": plan.target,
            "shortfall": plan.shortfall,
            "achieved": achieved,
            "deviation": (achieved - plan.target) / plan.target if plan.target else 0.0,
            "epochs_target": plan.epochs,
            "epochs_achieved": achieved / plan.available if plan.available else 0.0,
            "whole_passes": plan.passes,
            "sampled": plan.remainder,
            "documents": written.get("documents", 0),
            "rows": written.get("rows", 0),
            "text_bytes": written.get("bytes", 0),
            "files": written.get("files", []),
            "radix_rounds": result.radix_rounds,
        }
        entry["met"] = abs(entry["deviation"]) <= TOLERANCE
        if result.words_by:
            entry["words_counted_by"] = result.words_by
        if edges is not None:
            entry["score"] = {
                "before": _distribution(result.units_hist, result.score_units, edges),  # the pool
                "before_documents": _distribution(result.before_docs, result.score_docs, edges),
                "after": _distribution(written["rows_hist"], written["score_rows"], edges),
                "expected_mean_after": expected_mean(result, spec.tau),
            }
        languages[lang] = entry
    achieved_total = sum(e["achieved"] for e in languages.values())
    return {
        "cc_curate_version": __version__,
        "command": redact(command),
        "inputs": [redact(r) for r in outcome.releases],
        "parameters": spec.as_dict(),
        "score_bins": {"edges": edges[:: SCORE_BINS // SUMMARY_BINS].tolist(), "resolution_bins": SCORE_BINS}
        if edges is not None else None,
        "total": {
            "requested": spec.total,
            "achieved": achieved_total,
            "shortfall": max(0, (spec.total or 0) - achieved_total) if spec.total else 0,
            "deviation": (achieved_total - spec.total) / spec.total if spec.total else None,
        },
        "languages": languages,
    }


def write_outputs(storage: Storage, summary: dict[str, Any]) -> None:
    storage.write_json("mix.json", summary)
    storage.write_atomic("README.md", render_card(summary).encode())


def render_card(summary: dict[str, Any]) -> str:
    params = summary["parameters"]
    unit = params["unit"]
    languages = {k: v for k, v in summary["languages"].items() if v["rows"]}
    lines = ["---", "configs:"]
    for lang in languages:
        lines += [f"- config_name: {lang}", "  data_files:", "  - split: train",
                  f"    path: data/{lang}/train/*.parquet"]
    lines += [
        "---", "", "# cc_curate mix", "",
        f"Built by cc_curate {summary['cc_curate_version']} with `{summary['command']}` from "
        f"{', '.join(f'`{i}`' for i in summary['inputs'])}.", "",
        "How: per language, a target in " + unit + " (explicit, or UniMax with temperature alpha and an epoch cap);"
        " whole passes over the pool (each document times its rehydration copies) while the target exceeds it,"
        " then a sample without replacement from the pool with probability proportional to exp(score / tau)"
        " (Gumbel-top-k keys seeded by document id), taken in key order until the target is reached."
        " Every number below is in `mix.json`; see docs/mixing.md.", "",
        "## Parameters", "", "```yaml", yaml.safe_dump(params, sort_keys=False).rstrip(), "```", "",
        "## Languages", "",
        f"| language | available {unit} | target | achieved | epochs | whole passes | documents | rows "
        "| mean score before | after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lang, e in sorted(summary["languages"].items(), key=lambda kv: -kv[1]["target"]):
        score = e.get("score") or {}
        before = (score.get("before") or {}).get("mean")
        after = (score.get("after") or {}).get("mean")
        lines.append(f"| {lang} | {e['available']:,} | {e['target']:,} | {e['achieved']:,} "
                     f"| {e['epochs_achieved']:.2f} "
                     f"| {e['whole_passes']} | {e['documents']:,} | {e['rows']:,} | {_num(before)} | {_num(after)} |")
    total = summary["total"]
    lines += ["", f"Total: {total['achieved']:,} {unit}"
              + (f" of {total['requested']:,} requested" if total["requested"] else "") + "."]
    problems = [f"- {line}" for line in budget_warnings(summary)]
    if problems:
        lines += ["", "## Budgets not met within 1%", ""] + problems
    if summary["score_bins"]:
        lines += ["", f"## Score distribution ({params['score']}, tau {params['tau']:g})", "",
                  "Before: the pool (each document times its rehydration copies); after: the rows of the mix. "
                  f"Quantiles are bin centres of {summary['score_bins']['resolution_bins']} bins; mix.json also has "
                  "the input documents' distribution (each once).", "",
                  "| language | before p10 / p50 / p90 | after p10 / p50 / p90 | expected mean after |",
                  "|---|---|---|---:|"]
        for lang, e in sorted(languages.items()):
            s = e["score"]
            lines.append(f"| {lang} | {_quantiles(s['before'])} | {_quantiles(s['after'])} "
                         f"| {_num(s['expected_mean_after'])} |")
    lines.append("")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _quantiles(dist: dict[str, Any] | None) -> str:
    return "" if not dist else f"{dist['p10']:.4g} / {dist['p50']:.4g} / {dist['p90']:.4g}"


def estimate_rows(outcome: MixOutcome, taus: Sequence[float | None]) -> list[dict[str, Any]]:
    """The dry run's table: per language, sizes, target, epochs and the expected mean score per tau."""
    rows = []
    for lang, result in sorted(outcome.languages.items(), key=lambda kv: -kv[1].plan.target):
        plan = result.plan
        before = (float(result.score_units.sum() / result.units_hist.sum())
                  if outcome.edges is not None and result.units_hist.sum() else None)
        rows.append({
            "language": lang, "documents": result.documents, "available": plan.available, "pool": plan.pool,
            "target": plan.target, "shortfall": plan.shortfall, "epochs": plan.epochs, "passes": plan.passes,
            "mean_before": before,
            "expected_mean": {tau: expected_mean(result, tau) if outcome.edges is not None else None for tau in taus},
            "words_by": result.words_by,
        })
    return rows


def tau_chart(outcome: MixOutcome, taus: Sequence[float]) -> bytes:
    """PNG: the score distribution of the input and the expected one of the mix at each tau,
    all languages pooled (each language at its own target)."""
    assert outcome.edges is not None
    fold = SCORE_BINS // CHART_BINS
    edges = outcome.edges[::fold]
    centres = (edges[:-1] + edges[1:]) / 2
    figure = Figure(figsize=(7, 3.6), dpi=100)
    axes = figure.add_subplot()
    before = sum(r.units_hist for r in outcome.languages.values()).reshape(CHART_BINS, fold).sum(axis=1)
    axes.step(centres, before / max(before.sum(), 1), where="mid", color="#777777", linestyle="--",
              label="pool (copies counted)")
    colours = ["#2e6f9e", "#4c9a2a", "#d1495b", "#edae49", "#66327c", "#00798c"]
    for i, tau in enumerate(taus):
        rows = sum(expected_rows(r, tau) for r in outcome.languages.values()).reshape(CHART_BINS, fold).sum(axis=1)
        axes.step(centres, rows / max(rows.sum(), 1e-300), where="mid", color=colours[i % len(colours)],
                  label=f"mix, tau {tau:g}")
    axes.set_xlabel(outcome.spec.score or "score")
    axes.set_ylabel("share of rows")
    axes.set_title(f"{outcome.spec.score}: expected distribution of the mix at each tau")
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def estimate_table(rows: list[dict[str, Any]], spec: Any) -> Table:
    """The dry run's printed table."""
    taus = [t for t in (rows[0]["expected_mean"] if rows else []) if t is not None]
    words_by = sorted({r["words_by"] for r in rows if r["words_by"]})
    caption = f"words counted by {', '.join(words_by)}" if words_by else None
    table = Table(title=f"mix estimate ({spec.unit}; score {spec.score or 'none: uniform'})", caption=caption)
    for column in ["language", f"available {spec.unit}", "pool", "target", "epochs", "passes", "pool mean score"] + [
            f"expected, tau {t:g}" for t in taus]:
        table.add_column(column, justify="left" if column == "language" else "right")
    for r in rows:
        short = f" (short {r['shortfall']:,})" if r["shortfall"] else ""
        table.add_row(r["language"], f"{r['available']:,}", f"{r['pool']:,}", f"{r['target']:,}{short}",
                      f"{r['epochs']:.2f}", str(r["passes"]), _num(r["mean_before"]),
                      *(_num(r["expected_mean"][t]) for t in taus))
    return table


def summary_table(summary: dict[str, Any]) -> Table:
    """The mix's printed table."""
    table = Table(title=f"mix ({summary['parameters']['unit']})")
    for column in ("language", "target", "achieved", "epochs", "documents", "rows", "mean score before", "after"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for lang, e in sorted(summary["languages"].items(), key=lambda kv: -kv[1]["target"]):
        score = e.get("score") or {}
        table.add_row(lang, f"{e['target']:,}", f"{e['achieved']:,}", f"{e['epochs_achieved']:.2f}",
                      f"{e['documents']:,}", f"{e['rows']:,}", _num((score.get("before") or {}).get("mean")),
                      _num((score.get("after") or {}).get("mean")))
    return table


def budget_warnings(summary: dict[str, Any]) -> list[str]:
    """One line per budget not met within 1%: shortfalls (epoch cap, too little data) and overshoots."""
    unit = summary["parameters"]["unit"]
    lines = []
    total = summary["total"]
    if total["shortfall"]:
        lines.append(f"total: shortfall of {total['shortfall']:,} {unit}")
    elif total["deviation"] is not None and abs(total["deviation"]) > TOLERANCE:
        lines.append(f"total: achieved {total['achieved']:,} {unit}, "
                     f"{total['deviation']:+.1%} from {total['requested']:,}")
    for lang, e in sorted(summary["languages"].items()):
        if e["shortfall"]:
            lines.append(f"{lang}: shortfall of {e['shortfall']:,} {unit} "
                         f"(epoch cap {summary['parameters']['max_epochs']:g})")
        elif not e["met"]:
            lines.append(f"{lang}: achieved {e['achieved']:,} {unit}, "
                         f"{e['deviation']:+.1%} from its target {e['target']:,}")
    return lines
