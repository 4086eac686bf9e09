"""Classification metrics for utterance-level tasks: accuracy, macro-F1, UAR, per-class recall,
confusion matrix (its PNG: :func:`polyvox.eval.plots.plot_confusion_matrix`). Pure numpy on integer class indices in ``[0, num_classes)``.

Conventions (state them in papers; they change numbers on small test sets):

* Confusion matrix rows are true classes, columns predicted classes.
* Recall of a class with no true examples is undefined; UAR (unweighted average recall, the
  usual emotion-recognition metric, a.k.a. balanced accuracy) averages only over classes
  present in ``y_true``.
* Macro-F1 averages F1 over classes present in ``y_true`` or ``y_pred``; a class with no
  true positives has F1 0 (as scikit-learn with ``zero_division=0``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np



def _as_arrays(y_true, y_pred, num_classes: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1)) + 1)
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"{name} has labels outside [0, {num_classes})")
    return t, p, num_classes


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; ``cm[i, j]`` = true i predicted j."""
    t, p, c = _as_arrays(y_true, y_pred, num_classes)
    cm = np.zeros((c, c), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def accuracy(y_true, y_pred) -> float:
    t, p, _ = _as_arrays(y_true, y_pred, None)
    return float((t == p).mean()) if t.size else float("nan")


def per_class_recall(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """(num_classes,) recall per class, NaN for classes without true examples."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def uar(y_true, y_pred, num_classes: int | None = None) -> float:
    """Unweighted average recall over classes present in ``y_true``."""
    r = per_class_recall(y_true, y_pred, num_classes)
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")


def per_class_f1(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """(num_classes,) F1 per class; 0 where precision + recall is 0 or undefined."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(0) + cm.sum(1)  # 2TP + FP + FN
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, 0.0)


def macro_f1(y_true, y_pred, num_classes: int | None = None) -> float:
    """Mean F1 over classes that occur in ``y_true`` or ``y_pred``."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    seen = (cm.sum(0) + cm.sum(1)) > 0
    f1 = per_class_f1(y_true, y_pred, cm.shape[0])
    return float(f1[seen].mean()) if seen.any() else float("nan")


def classification_report(y_true, y_pred, labels: Sequence[str]) -> dict:
    """All metrics in one JSON-ready dict; ``labels[i]`` names class i."""
    c = len(labels)
    recall = per_class_recall(y_true, y_pred, c)
    f1 = per_class_f1(y_true, y_pred, c)
    cm = confusion_matrix(y_true, y_pred, c)
    return {
        "num_examples": int(cm.sum()),
        "accuracy": accuracy(y_true, y_pred),
        "uar": uar(y_true, y_pred, c),
        "macro_f1": macro_f1(y_true, y_pred, c),
        "per_class": {
            lab: {"recall": None if np.isnan(recall[i]) else float(recall[i]), "f1": float(f1[i]),
                  "support": int(cm[i].sum())}
            for i, lab in enumerate(labels)
        },
        "labels": list(labels),
        "confusion_matrix": cm.tolist(),
    }


TRANSFER_METRICS = ("macro_f1", "uar")
METRIC_NAMES = {"macro_f1": "macro-F1", "uar": "UAR", "accuracy": "accuracy"}
