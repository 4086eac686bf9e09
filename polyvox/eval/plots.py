"""Every figure polyvox writes, and the one place figures are saved (:func:`save_figure`; matplotlib, headless Agg)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Lay out ``fig``, write it to ``path`` (folders created) and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_transfer_matrix(matrix: Mapping[str, Mapping[str, float]], label: str, path: str | os.PathLike, *,
                         higher_is_better: bool) -> Path:
    """Heatmap PNG of a transfer matrix (rows: what a model was trained on, columns: test languages), values in %
    on a 0-100 colour scale, each cell annotated; ``label`` names the metric (``"PER"``, ``"macro-F1"``)."""
    plt = _pyplot()
    rows = list(matrix)
    cols = sorted({c for row in matrix.values() for c in row})
    data = np.array([[100 * matrix[r].get(c, math.nan) for c in cols] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(1.6 + 0.8 * len(cols), 1.0 + 0.6 * len(rows)))
    im = ax.imshow(data, cmap="viridis" if higher_is_better else "viridis_r", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("test language")
    ax.set_ylabel("trained on")
    ax.set_title(f"{label} %")
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(data[i, j]):
                ax.text(j, i, f"{data[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="black" if (data[i, j] > 60) == higher_is_better else "white")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(fig, path)


def plot_per_language(summary: Mapping[str, Mapping[str, float]], metric: str, path: str | os.PathLike) -> Path:
    """Bar chart of ``summary[lang][metric]`` in % per language (the "all" row left out)."""
    plt = _pyplot()
    langs = [l for l in summary if l != "all"]
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(langs), 3))
    ax.bar(langs, [100 * summary[l].get(metric, float("nan")) for l in langs])
    ax.set_ylabel(f"test {metric.upper()} %")
    return save_figure(fig, path)


def plot_confusion_matrix(cm, labels: Sequence[str], path: str | os.PathLike, *, normalize: bool = True,
                          title: str = "") -> Path:
    """Write the confusion matrix as a PNG (rows true, columns predicted; row-normalized by
    default, with the counts printed in each cell). Uses matplotlib's Agg backend."""
    plt = _pyplot()
    cm = np.asarray(cm)
    rows = cm.sum(1, keepdims=True)
    shown = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0) if normalize else cm
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * n, 0.8 + 0.7 * n))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    top = shown.max() if shown.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center",
                    color="white" if shown[i, j] > 0.5 * top else "black", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(fig, path)


def plot_ctc_alignment(wav: np.ndarray, frame_tokens: Sequence[str], frame_seconds: float, sample_rate: int = 16000,
                       blank: str = "<blank>"):
    """The waveform with each emitted CTC token written where its frames start (greedy path, blanks and repeats
    collapsed), shaded over the frames it spans; returns a matplotlib ``Figure`` outside pyplot's state, so nothing
    needs closing (the demo shows it, save_figure writes it)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3))
    ax = fig.add_subplot(1, 1, 1)
    t = np.arange(len(wav)) / sample_rate
    ax.plot(t, wav, linewidth=0.5, color="0.5")
    start, prev = None, blank
    spans = []
    for i, tok in enumerate([*frame_tokens, blank]):
        if tok != prev:
            if prev != blank and start is not None:
                spans.append((prev, start, i))
            start, prev = i, tok
    peak = float(np.abs(wav).max()) if len(wav) else 1.0
    for k, (tok, a, b) in enumerate(spans):
        ax.axvspan(a * frame_seconds, b * frame_seconds, color="C0" if k % 2 else "C1", alpha=0.15)
        ax.text(a * frame_seconds, peak * (0.9 if k % 2 else 0.7), tok, fontsize=9)
    ax.set_xlabel("seconds")
    ax.set_yticks([])
    ax.set_title(f"CTC alignment: {len(spans)} tokens")
    fig.subplots_adjust(left=0.02, right=0.99, bottom=0.18, top=0.88)
    return fig
