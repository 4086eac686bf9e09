"""Zero-shot decoding helpers on CTC log-posteriors ``(T, V)`` (numpy or torch): restrict the output to a target
inventory (:func:`restrict_to_inventory` + :func:`apply_mask`), or map the training phones onto it by articulatory
features (:func:`nearest_phone_mapping` + :func:`mapping_matrix` + :func:`map_log_probs`)."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from polyvox.data.articulatory import feature_names, feature_weights
from polyvox.speech.ctc import SPECIAL_TOKENS
from polyvox.data.ipa import nfc, canonical_token, token_features, warn_unknown



def restrict_to_inventory(vocab: Sequence[str], inventory: Iterable[str],
                          keep: Iterable[str] = SPECIAL_TOKENS) -> np.ndarray:
    """Boolean mask (V,): True for vocab tokens in the target inventory and for ``keep`` tokens
    (blank, word boundary). Use with :func:`apply_mask` before CTC decoding."""
    keep = set(keep)
    allowed = {canonical_token(p) for p in inventory}
    mask = np.array([t in keep or canonical_token(t) in allowed for t in vocab], dtype=bool)
    if not mask.any():
        raise ValueError("no vocabulary token is in the inventory (check blank/word-boundary names)")
    return mask


def apply_mask(log_probs, mask, *, renormalize: bool = True):
    """Set masked-out columns of log-posteriors (T, V) (or (B, T, V)) to -inf and renormalize.

    Works on numpy arrays and torch tensors; returns the same kind."""
    if _is_torch(log_probs):
        import torch

        m = torch.as_tensor(np.asarray(mask), device=log_probs.device)
        out = log_probs.masked_fill(~m, float("-inf"))
        return torch.log_softmax(out, dim=-1) if renormalize else out
    out = np.where(np.asarray(mask), log_probs, -np.inf)
    if renormalize:
        out = out - _logsumexp_np(out, axis=-1, keepdims=True)
    return out


def nearest_phone_mapping(source_phones: Iterable[str], target_inventory: Iterable[str], *,
                          weighted: bool = True, same_class: bool = True) -> dict[str, str]:
    """Map each source phone (e.g. the model's training phones) to the closest target phone.

    Phones in both (compared by :func:`canonical_token`) map to themselves. Others go to the target phone at the smallest
    :func:`feature_distance`; with ``same_class`` vowels only go to vowels and consonants to
    consonants (panphon ``syl``) while the target has any. Ties go to the first phone in sorted
    order. Source phones with no known features map to nothing (warned).
    """
    targets = sorted({nfc(p) for p in target_inventory})
    tfeats = {t: token_features(t) for t in targets}
    usable = [t for t in targets if tfeats[t] is not None]
    if not usable:
        raise ValueError("target inventory has no phones with known features")
    tmat = np.stack([tfeats[t] for t in usable])
    w = feature_weights() if weighted else np.ones(tmat.shape[1])
    syl_idx = feature_names().index("syl")
    by_key = {}
    for t in targets:
        by_key.setdefault(canonical_token(t), t)
    mapping, unmapped = {}, []
    for p in dict.fromkeys(nfc(p) for p in source_phones):
        if canonical_token(p) in by_key:
            mapping[p] = by_key[canonical_token(p)]
            continue
        f = token_features(p)
        if f is None:
            unmapped.append(p)
            continue
        if weighted:
            d = (w * np.abs(tmat - f) / 2).sum(axis=1) / w.sum()
        else:
            d = (np.abs(tmat - f) > 1e-9).mean(axis=1)
        if same_class:
            same = (tmat[:, syl_idx] > 0) == (f[syl_idx] > 0)
            if same.any():
                d = np.where(same, d, np.inf)
        mapping[p] = usable[int(np.argmin(d))]
    if unmapped:
        warn_unknown(unmapped, "nearest_phone_mapping: no features, left unmapped")
    return mapping


def mapping_matrix(vocab: Sequence[str], target_vocab: Sequence[str],
                   mapping: Mapping[str, str | Iterable[str]],
                   keep: Iterable[str] = SPECIAL_TOKENS) -> np.ndarray:
    """0/1 matrix (V_train, V_target): M[i, j] = 1 when vocab[i] maps to target_vocab[j].

    ``mapping`` values may be one phone or several. ``keep`` tokens (blank, "|") present in both
    vocabularies map to themselves. A vocab token with no target gets a zero row: its posterior
    mass is dropped by :func:`map_log_probs`."""
    index = {nfc(t): j for j, t in enumerate(target_vocab)}
    keep = set(keep)
    norm_map = {nfc(k): v for k, v in mapping.items()}
    m = np.zeros((len(vocab), len(target_vocab)), dtype=np.float32)
    missing = []
    for i, tok in enumerate(vocab):
        tok = nfc(tok)
        if tok in norm_map:
            dests = norm_map[tok]
            for d in [dests] if isinstance(dests, str) else dests:
                if nfc(d) not in index:
                    missing.append(d)
                else:
                    m[i, index[nfc(d)]] = 1.0
        elif tok in keep and tok in index:
            m[i, index[tok]] = 1.0
    if missing:
        raise ValueError(f"mapping targets not in target_vocab: {sorted(set(missing))}")
    return m


def map_log_probs(log_probs, matrix):
    """Sum posteriors into target tokens: out[..., j] = logsumexp_i(log_probs[..., i]) over i with
    matrix[i, j] = 1. (T, V_train) -> (T, V_target) (any leading dims); numpy or torch.
    Target columns that no train token feeds are -inf."""
    if _is_torch(log_probs):
        import torch

        logm = torch.log(torch.as_tensor(np.asarray(matrix), dtype=log_probs.dtype, device=log_probs.device))
        return torch.logsumexp(log_probs.unsqueeze(-1) + logm, dim=-2)
    with np.errstate(divide="ignore"):
        logm = np.log(np.asarray(matrix, dtype=np.float64))
    return _logsumexp_np(np.asarray(log_probs)[..., :, None] + logm, axis=-2)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _logsumexp_np(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    mx = np.max(x, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - safe), axis=axis, keepdims=True)) + safe
    return out if keepdims else np.squeeze(out, axis=axis)

