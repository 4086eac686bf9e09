"""Question answering metrics: SQuAD's exact match and token F1 (with its answer normalisation, made script-neutral),
and CCFQA's consistency figures: does a model give the same answer to the same fact across languages, and across
speech vs text?
"""

from __future__ import annotations

import collections
import re
import unicodedata
from typing import Hashable, Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")  # SQuAD removes English articles; other languages keep theirs


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation (any Unicode ``P*`` category, not only ASCII), no English
    articles, single spaces."""
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str | Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer (any of several)."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, gold: str | Sequence[str]) -> float:
    """SQuAD's token-overlap F1 of the normalised strings, the best over several gold answers."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    best = 0.0
    pred = normalize_answer(prediction).split()
    for g in golds:
        ref = normalize_answer(g).split()
        if not pred or not ref:
            best = max(best, float(pred == ref))
            continue
        common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def qa_scores(predictions: Sequence[str], golds: Sequence[str | Sequence[str]]) -> dict[str, float]:
    """{"em", "f1", "n"} averaged over examples (0 for none)."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold answers")
    n = len(golds)
    return {"em": sum(map(exact_match, predictions, golds)) / n if n else 0.0,
            "f1": sum(map(token_f1, predictions, golds)) / n if n else 0.0, "n": n}


def cross_lingual_consistency(answers: Mapping[Hashable, Mapping[str, Hashable]]) -> dict[str, float]:
    """``answers[fact][language]`` = the answer given (an id, or normalised text) -> {"all_same": share of facts
    answered the same in every language they were asked in, "pairwise": share of language pairs that agree,
    averaged over facts, "n": facts asked in >= 2 languages}. Agreement, not correctness: CCFQA reports both."""
    same, pair_rates = [], []
    for per_lang in answers.values():
        vals = list(per_lang.values())
        if len(vals) < 2:
            continue
        same.append(float(len(set(vals)) == 1))
        pairs = [(a, b) for i, a in enumerate(vals) for b in vals[i + 1:]]
        pair_rates.append(sum(a == b for a, b in pairs) / len(pairs))
    n = len(same)
    return {"all_same": sum(same) / n if n else 0.0, "pairwise": sum(pair_rates) / n if n else 0.0, "n": n}


def agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Share of positions where two systems (e.g. the same model on speech and on text) give the same answer."""
    if len(a) != len(b):
        raise ValueError(f"{len(a)} answers vs {len(b)}")
    return sum(x == y for x, y in zip(a, b)) / len(a) if a else 0.0


def piece_of(span: str, pieces: Sequence[str]) -> int:
    """Which piece (a record of a context) of ``" ".join(pieces)`` a predicted answer span starts in; -1 when the
    span is empty or not in the text."""
    at = " ".join(pieces).find(span) if span else -1
    if at < 0:
        return -1
    end = 0
    for k, p in enumerate(pieces):
        end += len(p) + 1
        if at < end:
            return k
    return -1
