"""Phone-level metrics: PER (phone error rate), PFER (phone feature error rate: substitutions cost the share of
articulatory features that differ) and the OOV rate of references against an inventory."""

from __future__ import annotations

from typing import Iterable, Sequence

from polyvox.data.articulatory import UnknownSegmentError, feature_distance
from polyvox.data.ipa import WORD_BOUNDARY, nfc, canonical_token


def _as_segments(utt: str | Sequence[str], keep_word_boundary: bool) -> list[str]:
    toks = utt.split() if isinstance(utt, str) else list(utt)
    return [nfc(t) for t in toks if keep_word_boundary or t != WORD_BOUNDARY]


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two segment lists (unit costs)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def _sub_cost(a: str, b: str, weighted: bool) -> float:
    if a == b:
        return 0.0
    try:
        return feature_distance(a, b, weighted=weighted)
    except UnknownSegmentError:
        return 1.0  # unknown symbol: a whole-segment error


def feature_edit_distance(ref: Sequence[str], hyp: Sequence[str], *, weighted: bool = False) -> float:
    """Edit distance with insertion/deletion cost 1 and substitution cost :func:`feature_distance`
    (Hamming by default: panphon's ``hamming_feature_edit_distance`` on segment lists)."""
    prev = [float(j) for j in range(len(hyp) + 1)]
    for i, r in enumerate(ref, 1):
        cur = [float(i)] + [0.0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + _sub_cost(r, h, weighted))
        prev = cur
    return prev[-1]


def _check_pairs(refs, hyps):
    if isinstance(refs, str) or isinstance(hyps, str):
        raise TypeError("refs and hyps are lists of utterances; wrap a single utterance as [ref]")
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")


def phone_error_rate(refs: Sequence[str | Sequence[str]], hyps: Sequence[str | Sequence[str]], *,
                     keep_word_boundary: bool = False) -> float:
    """PER over a corpus: total phone edit distance / total reference phones. Utterances are
    space-separated strings or segment lists; "|" is ignored unless ``keep_word_boundary``."""
    _check_pairs(refs, hyps)
    errs = n = 0
    for r, h in zip(refs, hyps):
        r, h = _as_segments(r, keep_word_boundary), _as_segments(h, keep_word_boundary)
        errs += edit_distance(r, h)
        n += len(r)
    return errs / n if n else float(errs > 0)


def phone_feature_error_rate(refs: Sequence[str | Sequence[str]], hyps: Sequence[str | Sequence[str]], *,
                             weighted: bool = False) -> float:
    """PFER over a corpus: total :func:`feature_edit_distance` / total reference phones
    (insert/delete 1, substitute by share of differing articulatory features; <= PER)."""
    _check_pairs(refs, hyps)
    errs, n = 0.0, 0
    for r, h in zip(refs, hyps):
        r, h = _as_segments(r, False), _as_segments(h, False)
        errs += feature_edit_distance(r, h, weighted=weighted)
        n += len(r)
    return errs / n if n else float(errs > 0)


def oov_rate(refs: Iterable[str | Sequence[str]], inventory: Iterable[str]) -> float:
    """Share of reference phone tokens (word boundaries excluded) not in ``inventory``."""
    inv = {canonical_token(p) for p in inventory}
    total = oov = 0
    for r in refs:
        for s in _as_segments(r, False):
            total += 1
            oov += canonical_token(s) not in inv
    return oov / total if total else 0.0
