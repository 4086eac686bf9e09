"""Error rates (WER, CER, PER) per utterance and per language, results tables, and the
train-language x test-language transfer matrix (markdown + heatmap).

Edit distances come from ``torchaudio.functional.edit_distance``. Rates are corpus-level:
total edits over total reference length, per language, never means of per-utterance rates.

What is scored depends on the target unit (token lists use ``"|"`` between words):

* char:    CER over characters (spaces included), WER over words.
* phoneme: PER over IPA segments (word boundaries excluded), WER over phoneme words.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from torchaudio.functional import edit_distance

from polyvox.speech.vocab import WORD
from polyvox.plotting import save_figure

METRICS = ("per", "cer", "wer")


def words(tokens: Sequence[str]) -> list[tuple[str, ...]]:
    """Split a token list at ``"|"`` into words (tuples of tokens); empty words dropped."""
    out, cur = [], []
    for t in tokens:
        if t == WORD:
            if cur:
                out.append(tuple(cur))
            cur = []
        else:
            cur.append(t)
    if cur:
        out.append(tuple(cur))
    return out


def error_counts(ref: Sequence[str], hyp: Sequence[str], unit: str) -> dict[str, tuple[int, int]]:
    """Edits and reference length for each metric that applies to ``unit``:
    ``{"wer": (edits, ref_words), "cer" or "per": (edits, ref_len)}``."""
    counts = {"wer": (edit_distance(words(ref), words(hyp)), len(words(ref)))}
    if unit == "char":
        r = [" " if t == WORD else t for t in ref]
        h = [" " if t == WORD else t for t in hyp]
        counts["cer"] = (edit_distance(r, h), len(r))
    elif unit == "phoneme":
        r = [t for t in ref if t != WORD]
        h = [t for t in hyp if t != WORD]
        counts["per"] = (edit_distance(r, h), len(r))
    else:
        raise ValueError(f"unknown target unit {unit!r}")
    return counts


def rate(edits: int, total: int) -> float:
    """edits / total, NaN when there is no reference."""
    return edits / total if total else math.nan


def summarize(rows: Iterable[Mapping]) -> dict[str, dict]:
    """Per-language rates from rows ``{"language", "counts": error_counts(...)}``.

    Returns ``{lang: {"utterances": n, "wer": .., "cer"/"per": ..}, ..., "all": {...}}`` where
    "all" pools every utterance (corpus-level over all languages)."""
    sums: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    n: dict[str, int] = defaultdict(int)
    for row in rows:
        for key in (row["language"], "all"):
            n[key] += 1
            for m, (e, t) in row["counts"].items():
                sums[key][m][0] += e
                sums[key][m][1] += t
    out = {}
    for key in sorted(k for k in sums if k != "all") + (["all"] if "all" in sums else []):
        out[key] = {"utterances": n[key], **{m: rate(*sums[key][m]) for m in METRICS if m in sums[key]}}
    return out


def _fmt(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def results_table(summary: Mapping[str, Mapping], seen: Iterable[str] | None = None) -> str:
    """Markdown table of :func:`summarize` output, rates in percent. With ``seen`` (training
    languages), a column marks each language seen/unseen and mean rows are added for each group."""
    metrics = [m for m in METRICS if any(m in s for s in summary.values())]
    seen = set(seen) if seen is not None else None
    head = ["language"] + (["seen"] if seen is not None else []) + ["utterances"] + [f"{m.upper()} %" for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    langs = [k for k in summary if k != "all"]
    for lang in langs + (["all"] if "all" in summary else []):
        s = summary[lang]
        cells = [lang]
        if seen is not None:
            cells.append("" if lang == "all" else ("yes" if lang in seen else "no"))
        cells.append(str(s["utterances"]))
        cells += [_fmt(s.get(m)) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    if seen is not None:
        for name, group in (("mean seen", [l for l in langs if l in seen]), ("mean unseen", [l for l in langs if l not in seen])):
            if not group:
                continue
            cells = [name, "", str(sum(summary[l]["utterances"] for l in group))]
            cells += [_fmt(sum(summary[l][m] for l in group) / len(group)) if all(m in summary[l] for l in group) else "-" for m in metrics]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def transfer_table(matrix: Mapping[str, Mapping[str, float]], metric: str) -> str:
    """Markdown table: rows = training set, columns = test language, cells = ``metric`` in %."""
    cols = sorted({c for row in matrix.values() for c in row})
    lines = [f"| train \\ test ({metric.upper()} %) | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for train, row in matrix.items():
        lines.append(f"| {train} | " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def plot_transfer_heatmap(matrix: Mapping[str, Mapping[str, float]], metric: str, path: str | Path) -> Path:
    """Heatmap PNG of a transfer matrix (rows train sets, columns test languages, %)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = list(matrix)
    cols = sorted({c for row in matrix.values() for c in row})
    data = np.array([[100 * matrix[r].get(c, math.nan) for c in cols] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(cols), 1.0 + 0.6 * len(rows)))
    im = ax.imshow(data, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("test language")
    ax.set_ylabel("trained on")
    for i in range(len(rows)):
        for j in range(len(cols)):
            if not math.isnan(data[i, j]):
                ax.text(j, i, f"{data[i, j]:.1f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax, label=f"{metric.upper()} %")
    return save_figure(fig, path)
