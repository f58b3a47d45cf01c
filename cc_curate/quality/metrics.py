"""Held-out metrics of a quality model: how well its score separates good from bad documents.

Every model is measured as a binary classifier: a document is *positive* when its label is at
least ``positive_threshold`` (1 for binary labels; FineWeb-Edu's 3 for 0-5 grades), and the
model calls it positive when its score is at least that threshold too (0.5 for a binary model,
whose score is a probability). Precision, recall and F1 are of the positive class at that
cut; ROC AUC is threshold-free (the chance that a random positive scores above a random
negative). Graded models also get accuracy and macro F1 over the grades (score rounded).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)


def binary_metrics(labels: Sequence[float], scores: Sequence[float], *, positive_threshold: float,
                   score_threshold: float) -> dict[str, Any]:
    """Precision, recall, F1 (positive class) and ROC AUC, with the counts they rest on."""
    truth = np.asarray(labels, dtype=np.float64) >= positive_threshold
    score = np.asarray(scores, dtype=np.float64)
    predicted = score >= score_threshold
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, predicted, average="binary", pos_label=True, zero_division=0)
    both_classes = 0 < truth.sum() < truth.size
    return {
        "documents": int(truth.size),
        "positives": int(truth.sum()),
        "precision": round(float(precision), 4),
        "recall": round(float(recall), 4),
        "f1": round(float(f1), 4),
        # undefined with one class only: said as null rather than a made-up number
        "roc_auc": round(float(roc_auc_score(truth, score)), 4) if both_classes else None,
    }


def graded_metrics(labels: Sequence[float], scores: Sequence[float]) -> dict[str, Any]:
    """Accuracy and macro F1 of the score rounded to the nearest grade."""
    grades = sorted(set(labels))
    truth = np.asarray(labels, dtype=np.float64)
    nearest = np.asarray(grades)[np.abs(np.asarray(scores)[:, None] - np.asarray(grades)[None, :]).argmin(axis=1)]
    return {
        "accuracy": round(float(accuracy_score(truth, nearest)), 4),
        "macro_f1": round(float(f1_score(truth, nearest, average="macro", zero_division=0)), 4),
        "mean_absolute_error": round(float(np.mean(np.abs(np.asarray(scores) - truth))), 4),
    }


def label_balance(labels: Sequence[float]) -> dict[str, int]:
    """Examples per label value ("0", "1", ... "5"), in label order."""
    counts = Counter(labels)
    return {f"{value:g}": counts[value] for value in sorted(counts)}
