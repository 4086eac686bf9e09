"""Error rates (WER, CER, PER) per utterance and per language, and their results table.

Edit distances come from ``torchaudio.functional.edit_distance``. Rates are corpus-level:
total edits over total reference length, per language, never means of per-utterance rates.

What is scored depends on the target unit (token lists use ``"|"`` between words):

* char:    CER over characters (spaces included), WER over words.
* phoneme: PER over IPA segments (word boundaries excluded), WER over phoneme words.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable, Mapping, Sequence

from torchaudio.functional import edit_distance

from polyvox.data.manifest import WORD_BOUNDARY as WORD

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
