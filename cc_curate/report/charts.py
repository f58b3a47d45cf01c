"""The report's charts: plain numbers in, PNG bytes out.

Figures are built with :class:`matplotlib.figure.Figure` directly (rendered by the Agg backend),
never through ``pyplot``: no global figure state, no display needed, safe inside a Ray worker or a
thread. Every function takes data already aggregated by :mod:`cc_curate.report.html`, so the
charts can be tested and reused without an output folder.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

DPI = 100
WIDTH = 12.0  # inches: 1,200 pixels at DPI
KEPT_COLOR = "#4c9a2a"
REMOVED_COLOR = "#d1495b"
BAR_COLOR = "#2e6f9e"
THRESHOLD_COLOR = "#111111"
BINS = 40
PANEL_TICKS = 3  # at most this many ticks per axis on a small panel
GRID_MARGINS = (0.45, 0.15, 0.35)  # inches left, right, bottom around a grid of panels


@dataclass(frozen=True)
class Threshold:
    """One recipe threshold drawn on a signal: its recipe key, value and which side it bounds."""

    key: str
    value: float
    bound: str  # "min" (documents below are removed), "max" (above are removed) or "" (unknown)


def _png(fig: Figure, fit: bool = True) -> bytes:
    """PNG bytes at DPI; ``fit`` crops the figure to what it draws, so labels of any length fit.

    Fitting is a layout pass over every artist before the drawing: cheap for a chart of one
    axes, as dear as the drawing itself for a grid of panels, which sets its margins instead.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight" if fit else None)
    return buffer.getvalue()


def _grid_figure(count: int, columns: int, panel_height: float, header: float) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` small panels, ``header`` inches above them for the title and legend.

    Margins are fixed in inches (render with ``_png(fig, fit=False)``): fitting would lay out
    every panel's tick labels once more. Only the panels used are created (an empty cell of the
    grid would cost as much as a full one).
    """
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    height = panel_height * rows + header
    fig = Figure(figsize=(WIDTH, height))
    grid = fig.add_gridspec(rows, columns, left=GRID_MARGINS[0] / WIDTH, right=1 - GRID_MARGINS[1] / WIDTH,
                            bottom=GRID_MARGINS[2] / height, top=1 - header / height, hspace=0.6, wspace=0.3)
    return fig, [fig.add_subplot(grid[i // columns, i % columns]) for i in range(count)]


def _panel(ax: Axes, title: str) -> None:
    """Title and ticks of one small panel: a fixed title position (matplotlib otherwise measures the
    tick labels to place it) and few ticks (each tick is several artists to lay out and draw)."""
    ax.set_title(title, fontsize=9, y=1.0, pad=4)
    ax.xaxis.set_major_locator(MaxNLocator(PANEL_TICKS))
    ax.yaxis.set_major_locator(MaxNLocator(PANEL_TICKS, integer=True))
    ax.tick_params(labelsize=7)


def funnel_chart(steps: Sequence[tuple[str, int]]) -> bytes:
    """Horizontal funnel: one bar per step, labelled with the count and the share of the first."""
    labels = [name for name, _ in steps]
    values = np.array([value for _, value in steps], dtype=float)
    fig = Figure(figsize=(WIDTH, 0.55 * len(steps) + 1.2))
    ax = fig.subplots()
    positions = np.arange(len(steps))[::-1]
    ax.barh(positions, values, color=BAR_COLOR)
    ax.set_yticks(positions, labels)
    first = values[0] if len(values) and values[0] > 0 else 1.0
    for y, value in zip(positions, values):
        ax.text(value, y, f"  {int(value):,} ({100 * value / first:.1f}%)", va="center", fontsize=9)
    ax.set_xlim(0, max(values.max(initial=0) * 1.3, 1))
    ax.set_xlabel("records / documents")
    ax.set_title("From WARC records to published documents")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def languages_chart(rows: Sequence[tuple[str, int, int, int]]) -> bytes:
    """Kept documents, words and bytes per language, largest first: (lang, documents, words, bytes)."""
    langs = [r[0] for r in rows]
    fig = Figure(figsize=(WIDTH, 0.28 * len(rows) + 1.5))
    axes = fig.subplots(1, 3, sharey=True)
    positions = np.arange(len(rows))[::-1]
    for index, (ax, title) in enumerate(zip(axes, ("documents kept", "words", "bytes (UTF-8 text)"))):
        values = np.array([r[index + 1] for r in rows], dtype=float)
        ax.barh(positions, values, color=BAR_COLOR)
        ax.set_title(title)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_yticks(positions, langs)
    return _png(fig)


def removal_heatmap(langs: Sequence[str], reasons: Sequence[str], percent: np.ndarray) -> bytes:
    """Share of each language's documents removed by each rule (rows: languages, columns: rules)."""
    fig = Figure(figsize=(max(6.0, 1.1 * len(reasons) + 2.5), 0.4 * len(langs) + 2.0))
    ax = fig.subplots()
    image = ax.imshow(percent, cmap="Reds", vmin=0, vmax=max(float(percent.max(initial=0)), 1.0), aspect="auto")
    ax.set_xticks(np.arange(len(reasons)), reasons, rotation=30, ha="right")
    ax.set_yticks(np.arange(len(langs)), langs)
    high = float(percent.max(initial=0)) * 0.6
    for (row, column), value in np.ndenumerate(percent):
        if value > 0:
            ax.text(column, row, f"{value:.1f}", ha="center", va="center", fontsize=8,
                    color="white" if value > high else "black")
    fig.colorbar(image, ax=ax, label="% of the language's documents")
    ax.set_title("Documents removed per rule and language (%)")
    return _png(fig)


def signals_chart(
    lang: str,
    signals: Mapping[str, tuple[np.ndarray, np.ndarray]],
    thresholds: Mapping[str, Sequence[Threshold]],
) -> bytes:
    """One histogram per filter signal (kept vs removed stacked) with the recipe thresholds drawn.

    The x range is the data's (0.5-99.5 percentiles, outliers clipped into the end bins), widened
    to show thresholds that lie near it; a threshold far outside (e.g. max_doc_words=100000 for
    pages of a few hundred words) is named in the corner instead of squashing the histogram.
    """
    names = sorted(signals)
    fig, axes = _grid_figure(len(names), 4, panel_height=2.5, header=0.9)
    for ax, name in zip(axes, names):
        kept, removed = signals[name]
        values = np.concatenate([kept, removed])
        low, high = (float(v) for v in np.percentile(values, [0.5, 99.5]))
        span = high - low if high > low else max(abs(low), 1.0)
        near = [t for t in thresholds.get(name, ()) if low - span <= t.value <= high + span]
        far = [t for t in thresholds.get(name, ()) if t not in near]
        low = min([low] + [t.value for t in near])
        high = max([high] + [t.value for t in near])
        if high <= low:
            high = low + 1.0
        edges = np.linspace(low, high, BINS + 1)
        kept_counts = np.histogram(np.clip(kept, low, high), edges)[0]
        removed_counts = np.histogram(np.clip(removed, low, high), edges)[0]
        # stacked by hand: one filled outline per series draws far faster than a bar per bin
        ax.stairs(kept_counts + removed_counts, edges, fill=True, color=REMOVED_COLOR)
        ax.stairs(kept_counts, edges, fill=True, color=KEPT_COLOR)
        for threshold in near:
            ax.axvline(threshold.value, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.2)
            ax.annotate(f"{threshold.key}={threshold.value:g}", (threshold.value, 0.98),
                        xycoords=("data", "axes fraction"), fontsize=6, rotation=90, va="top", ha="right")
        if far:
            ax.text(0.98, 0.95, "\n".join(f"{t.key}={t.value:g} (off scale)" for t in far),
                    transform=ax.transAxes, fontsize=6, ha="right", va="top")
        _panel(ax, name)
    fig.legend(handles=[Patch(color=KEPT_COLOR, label="passed every rule"),
                        Patch(color=REMOVED_COLOR, label="removed by a quality rule")],
               loc="upper right", fontsize=8, ncols=2)
    fig.suptitle(f"{lang}: filter signals (dashed: recipe thresholds)", x=0.02, ha="left")
    return _png(fig, fit=False)


def lid_chart(scores: Mapping[str, np.ndarray], thresholds: Mapping[str, float]) -> bytes:
    """language_score histogram per language, with the language's LID threshold."""
    langs = list(scores)
    fig, axes = _grid_figure(len(langs), 4, panel_height=2.2, header=0.7)
    for ax, lang in zip(axes, langs):
        counts, edges = np.histogram(scores[lang], BINS, range=(0.0, 1.0))
        ax.stairs(counts, edges, fill=True, color=BAR_COLOR)
        if lang in thresholds:
            ax.axvline(thresholds[lang], color=THRESHOLD_COLOR, linestyle="--", linewidth=1.2)
        _panel(ax, f"{lang} (n={len(scores[lang]):,})")
        ax.set_xlim(0.0, 1.0)
    fig.suptitle("Language ID score per language (dashed: lid.threshold)")
    return _png(fig, fit=False)


def cluster_chart(sizes: Mapping[str, Mapping[int, int]]) -> bytes:
    """Duplicate-cluster size distribution per language, log-log (size 1 = no duplicate)."""
    fig = Figure(figsize=(WIDTH, 4.5))
    ax = fig.subplots()
    for lang, counts in sizes.items():
        xs = np.array(sorted(counts), dtype=float)
        ys = np.array([counts[int(x)] for x in xs], dtype=float)
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1, label=lang)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # plain integer sizes (1, 2, 3, 5, 10, ...) rather than powers of ten, which read badly on short ranges
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("minhash_cluster_size")
    ax.set_ylabel("documents")
    ax.set_title("Duplicate-cluster sizes (documents in clusters of each size)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, which="major", alpha=0.3)
    return _png(fig)


def time_chart(stages: Sequence[tuple[str, float]]) -> bytes:
    """Core-seconds per stage, summed over every worker."""
    total = sum(seconds for _, seconds in stages) or 1.0
    fig = Figure(figsize=(WIDTH, 0.45 * len(stages) + 1.4))
    ax = fig.subplots()
    positions = np.arange(len(stages))[::-1]
    values = [seconds for _, seconds in stages]
    ax.barh(positions, values, color=BAR_COLOR)
    ax.set_yticks(positions, [name for name, _ in stages])
    for y, value in zip(positions, values):
        ax.text(value, y, f"  {value:,.1f} s ({100 * value / total:.0f}%)", va="center", fontsize=9)
    ax.set_xlim(0, max(values, default=0) * 1.3 or 1)
    ax.set_xlabel("core-seconds (summed over workers)")
    ax.set_title("Time per stage")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
