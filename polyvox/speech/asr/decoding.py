"""CTC decoding: greedy best path, beam search with an optional word n-gram LM, and posterior
mapping (e.g. universal phones -> a language's phoneme inventory) applied before either.

Beam search uses pyctcdecode. Tokens may be multi-character (IPA segments such as "t͡ʃ"), so
every token is given a one-character *code* from the Unicode private use area before it reaches
pyctcdecode, and decoded strings are mapped back; the word delimiter "|" becomes the space the
LM sees as a word boundary. The n-gram LM is built here from training transcripts in the same
code (:func:`build_ngram_lm`, an ARPA file with absolute-discount backoff) and loaded with kenlm.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from polyvox.speech.ctc import greedy_ids
from polyvox.eval.error_rates import words
from polyvox.speech.asr.vocab import BLANK, UNK, WORD, Vocab

_PUA = 0xE000


@dataclass
class DecodeConfig:
    method: str = "greedy"  # greedy | beam
    beam_width: int = 16
    lm_order: int = 0  # >0: build a word n-gram of this order from the training transcripts
    lm_alpha: float = 0.5  # LM weight
    lm_beta: float = 1.0  # word insertion bonus
    lm_path: str = ""  # an existing ARPA / kenlm binary in the same token code (overrides lm_order)


def apply_posterior_mapping(log_probs: torch.Tensor, mapping: torch.Tensor, reduce: str = "sum") -> torch.Tensor:
    """Map frame log-probabilities over a source inventory to a target inventory.

    ``log_probs`` (B, T, S), ``mapping`` (S, V) non-negative (row s: how source token s spreads
    over target tokens; the blank must map to the target blank). ``reduce="sum"`` gives
    ``log(p @ mapping)``, ``"max"`` the best single source token per target. Rows are
    renormalized, so the result (B, T, V) is again a log-softmax.
    """
    if mapping.dim() != 2 or mapping.shape[0] != log_probs.shape[-1]:
        raise ValueError(f"mapping must have shape ({log_probs.shape[-1]}, V), got {tuple(mapping.shape)}")
    if reduce not in ("sum", "max"):
        raise ValueError(f"reduce must be 'sum' or 'max', got {reduce!r}")
    log_m = torch.log(mapping.to(log_probs.device, log_probs.dtype).clamp(min=0))  # -inf where 0
    joint = log_probs.unsqueeze(-1) + log_m  # (B, T, S, V)
    out = torch.logsumexp(joint, dim=-2) if reduce == "sum" else joint.amax(dim=-2)
    return torch.log_softmax(out, dim=-1)


def greedy_decode(log_probs: torch.Tensor, lens: torch.Tensor, vocab: Vocab) -> list[list[str]]:
    """(B, T, V) log-probs with lengths (B,) -> token lists (best path, repeats and blanks removed)."""
    return [vocab.decode(ids) for ids in greedy_ids(log_probs, lens, vocab.blank_id)]


# ----------------------------------------------------------------------------------- token codes


def token_codes(vocab: Vocab) -> list[str]:
    """One character per vocabulary entry for pyctcdecode: blank "", word delimiter " ",
    ``<unk>`` "⁇", every other token a private-use character."""
    codes = []
    for i, t in enumerate(vocab.tokens):
        codes.append({BLANK: "", WORD: " ", UNK: "\u2047"}.get(t, chr(_PUA + i)))
    return codes


def encode_words(tokens: Sequence[str], vocab: Vocab) -> list[str]:
    """A token list -> its words in token code (what the LM is trained on)."""
    codes = token_codes(vocab)
    return ["".join(codes[i] for i in vocab.encode(w)) for w in words(tokens)]


def decode_code_string(text: str, vocab: Vocab) -> list[str]:
    """pyctcdecode output (token code, words spaced) -> token list with "|" between words."""
    back = {c: t for c, t in zip(token_codes(vocab), vocab.tokens) if c}
    out: list[str] = []
    for w in text.split():
        if out:
            out.append(WORD)
        out.extend(back.get(c, UNK) for c in w)
    return out


# ----------------------------------------------------------------------------------- n-gram LM


def build_ngram_lm(sentences: Iterable[Sequence[str]], order: int, path: str | os.PathLike, discount: float = 0.5) -> Path:
    """Write a word n-gram LM in ARPA format (log10), absolute discounting with backoff.

    ``sentences`` are word lists. For a context h seen c(h) times with N(h) distinct followers,
    a seen word gets ``(c(h, w) - D) / c(h)`` and the freed mass ``D N(h) / c(h)`` goes to the
    lower order through the backoff weight, normalized over the unseen words, so each
    context's distribution sums to 1. Unigrams are discounted the same way towards ``<unk>``.
    """
    if order < 1:
        raise ValueError(f"n-gram order must be >= 1, got {order}")
    counts: list[Counter] = [Counter() for _ in range(order + 1)]  # counts[k][ngram tuple]
    for sent in sentences:
        toks = ["<s>"] + list(sent) + ["</s>"]
        for k in range(1, order + 1):
            for i in range(max(0, 1 if k == 1 else 0), len(toks) - k + 1):
                counts[k][tuple(toks[i : i + k])] += 1
    counts[1].pop(("<s>",), None)
    if not counts[1]:
        raise ValueError("cannot build an n-gram LM from no text")
    D = discount
    # unigrams: discount mass goes to <unk>
    total = sum(counts[1].values())
    probs: list[dict[tuple, float]] = [dict() for _ in range(order + 1)]
    for ng, c in counts[1].items():
        probs[1][ng] = (c - D) / total
    probs[1][("<unk>",)] = D * len(counts[1]) / total
    probs[1][("<s>",)] = 0.0  # never predicted; ARPA convention -99
    bows: list[dict[tuple, float]] = [dict() for _ in range(order + 1)]
    for k in range(2, order + 1):
        ctx_total: dict[tuple, int] = defaultdict(int)
        ctx_types: dict[tuple, int] = defaultdict(int)
        for ng, c in counts[k].items():
            ctx_total[ng[:-1]] += c
            ctx_types[ng[:-1]] += 1
        followers: dict[tuple, list] = defaultdict(list)
        for ng, c in counts[k].items():
            probs[k][ng] = (c - D) / ctx_total[ng[:-1]]
            followers[ng[:-1]].append(ng[-1])
        for h, ws in followers.items():
            freed = D * ctx_types[h] / ctx_total[h]
            lower_seen = sum(_prob(probs, h[1:] + (w,)) for w in ws)
            bows[k - 1][h] = freed / max(1.0 - lower_seen, 1e-12)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\\data\\\n")
        for k in range(1, order + 1):
            f.write(f"ngram {k}={len(probs[k])}\n")
        for k in range(1, order + 1):
            f.write(f"\n\\{k}-grams:\n")
            for ng in sorted(probs[k]):
                p = probs[k][ng]
                lp = -99.0 if p <= 0 else math.log10(p)
                line = f"{lp:.6f}\t{' '.join(ng)}"
                if k < order and ng in bows[k]:
                    line += f"\t{math.log10(max(bows[k][ng], 1e-99)):.6f}"
                elif k < order:
                    line += "\t0.000000"
                f.write(line + "\n")
        f.write("\n\\end\\\n")
    return path


def _prob(probs: list[dict], ng: tuple) -> float:
    """Probability of the last word given the rest under the model being built (no backoff
    weights needed: only used for n-grams whose lower orders are all seen)."""
    p = probs[len(ng)].get(ng)
    if p is not None:
        return p
    return _prob(probs, ng[1:]) if len(ng) > 1 else 0.0


def lm_sentences(token_seqs: Iterable[Sequence[str]], vocab: Vocab) -> list[list[str]]:
    """Training transcripts (token lists) -> word lists in token code, for :func:`build_ngram_lm`."""
    return [encode_words(t, vocab) for t in token_seqs]


# ----------------------------------------------------------------------------------- beam search


def build_beam_decoder(vocab: Vocab, lm_path: str | os.PathLike | None = None, unigrams: Iterable[str] | None = None,
                       alpha: float = 0.5, beta: float = 1.0):
    """A pyctcdecode decoder over ``vocab`` (token code), with a kenlm LM if ``lm_path``."""
    import logging

    from pyctcdecode import build_ctcdecoder

    logging.getLogger("pyctcdecode").setLevel(logging.ERROR)
    return build_ctcdecoder(
        token_codes(vocab),
        kenlm_model_path=str(lm_path) if lm_path else None,
        unigrams=list(unigrams) if unigrams is not None else None,
        alpha=alpha,
        beta=beta,
    )


def beam_decode(decoder, log_probs: torch.Tensor, lens: torch.Tensor, vocab: Vocab, beam_width: int = 16) -> list[list[str]]:
    """(B, T, V) log-probs with lengths (B,) -> token lists, one pyctcdecode search per utterance."""
    lp = log_probs.detach().float().cpu().numpy()
    out = []
    for b, n in enumerate(lens.tolist()):
        text = decoder.decode(np.ascontiguousarray(lp[b, : int(n)]), beam_width=beam_width)
        out.append(decode_code_string(text, vocab))
    return out
