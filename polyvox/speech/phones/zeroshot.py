"""Zero-shot phone recognition of a trained CTC run in a target language (Xu, Baevski & Auli 2021).

A run trained on IPA phonemes of some languages (``polyvox.speech.asr``, ``unit: phoneme``) is
decoded for any target language in three modes, from one forward pass:

* ``raw``: the CTC posteriors as they are; output phones are training phones;
* ``restrict``: posteriors of training tokens outside the target inventory are set to -inf
  (:func:`polyvox.speech.phonemes.apply_mask`) and renormalized;
* ``map``: every training phone is sent to its nearest target phone by articulatory features
  (:func:`polyvox.speech.phonemes.nearest_phone_mapping`, vowels to vowels, consonants to
  consonants) and the posteriors of all training tokens that land on the same target are summed
  (:func:`polyvox.speech.phonemes.map_log_probs`) before decoding.

Phones are compared and printed as *segments*: a token is split into the panphon segments
:func:`polyvox.speech.phonemes.canonical_token` gives (the corpus spelling ``tʃ`` is ``t͡ʃ``, the
diphthong token ``aɪ`` is ``a ɪ``). A target inventory is therefore a set of segments; a training
token is allowed by ``restrict`` when all its segments are in it, and ``map`` maps it segment by
segment. Outputs of ``restrict`` and ``map`` only use target-inventory phones (in the
inventory's own spelling) and ``"|"``. Scoring (PER, PFER, OOV share) uses the same segments for
references and hypotheses, so spelling never counts as an error.

Usage::

    run = load_run("work/runs/phoneme_recognition/base")
    inv = target_inventory(lang="sw")                      # espeak-ng, any of its languages
    modes = build_modes(run.vocab, inv)                     # {"raw", "restrict", "map"}
    phones = transcribe_phones(run, [wav], modes)["map"]    # [["h", "a", "|", ...]]
    summary, rows = evaluate_zero_shot(run, utts, {"nl": inv_nl, "en": inv_en})
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from polyvox.data.articulatory import is_known
from polyvox.data.ipa import nfc, canonical_token
from polyvox.eval.phones import oov_rate, phone_error_rate, phone_feature_error_rate
from polyvox.speech.ctc import SPECIAL_TOKENS
from polyvox.speech.phones.inventory import espeak_inventory, inventory_from_manifest, read_inventory
from polyvox.speech.phones.mapping import apply_mask, map_log_probs, mapping_matrix, nearest_phone_mapping, restrict_to_inventory
from polyvox.speech.ctc import greedy_ids
from polyvox.speech.asr.vocab import BLANK, SPECIALS, UNK, WORD, Vocab

MODES = ("raw", "restrict", "map")
MODE_TITLES = {"raw": "(a) raw", "restrict": "(b) restricted", "map": "(c) feature-mapped"}


# ----------------------------------------------------------------------------------- segments


@functools.lru_cache(maxsize=8192)
def token_segments(token: str) -> tuple[str, ...]:
    """The panphon segments of one phone token ("tʃ" -> ("t͡ʃ",), "aɪ" -> ("a", "ɪ")); "|" stays."""
    if token == WORD:
        return (WORD,)
    return tuple(canonical_token(token).split())


def to_segments(tokens: Iterable[str]) -> list[str]:
    """A token list (or a space-separated string) -> segments, "|" kept, blank/unk dropped."""
    toks = tokens.split() if isinstance(tokens, str) else tokens
    return [s for t in toks if t not in (BLANK, UNK) for s in token_segments(t)]


def train_phones(vocab: Vocab | Sequence[str]) -> list[str]:
    """A vocabulary's phone tokens (specials removed), in vocabulary order."""
    toks = vocab.tokens if isinstance(vocab, Vocab) else vocab
    return [t for t in toks if t not in SPECIALS and t not in SPECIAL_TOKENS]


def segment_inventory(phones: Iterable[str]) -> dict[str, str]:
    """Canonical segment -> spelling for a phone inventory. Single-segment phones keep the
    inventory's own spelling; multi-segment entries (a diphthong "aɪ") contribute their segments.
    Symbols panphon does not know (espeak's "??") are left out: nothing can be mapped to them."""
    out: dict[str, str] = {}
    for p in sorted({nfc(p) for p in phones if p not in SPECIAL_TOKENS}):
        segs = [s for s in token_segments(p) if is_known(s)]
        if len(segs) == 1 and len(token_segments(p)) == 1:
            out[segs[0]] = p
        else:
            for s in segs:
                out.setdefault(s, s)
    if not out:
        raise ValueError("the target inventory has no phone panphon knows")
    return out


# ----------------------------------------------------------------------------------- inventories


def target_inventory(lang: str | None = None, path: str | os.PathLike | None = None,
                     manifest: str | os.PathLike | Sequence | None = None, *, n_words: int = 300,
                     cache_dir: str | os.PathLike | None = None) -> list[str]:
    """The phones of a target language, from exactly one source: a user file (``path``, see
    :func:`polyvox.speech.phonemes.read_inventory`), a manifest's rows of ``lang``
    (``manifest``), or espeak-ng for any of its languages (``lang`` alone)."""
    if path is not None:
        return read_inventory(path)
    if manifest is not None:
        phones = inventory_from_manifest(manifest, language=lang)
        if not phones:
            raise ValueError(f"{manifest}: no phonemes for language {lang!r}")
        return phones
    if lang is None:
        raise ValueError("give a language (espeak-ng code), an inventory file or a manifest")
    return espeak_inventory(lang, n_words=n_words, cache_dir=cache_dir)


# ----------------------------------------------------------------------------------- modes


@dataclass(frozen=True)
class DecodeMode:
    """How one mode turns training-vocabulary log-posteriors (..., V) into phones.

    ``mask`` (V,) bool (restrict) or ``matrix`` (V, V_out) 0/1 (map) or neither (raw); ``vocab``
    is the vocabulary decoded over (the training one, or the mapped targets); ``spell`` gives
    the output phones of each decoded token."""

    name: str
    vocab: Vocab
    spell: Mapping[str, tuple[str, ...]]
    mask: np.ndarray | None = None
    matrix: np.ndarray | None = None

    def log_probs(self, log_probs: torch.Tensor) -> torch.Tensor:
        """(B, T, V) -> (B, T, V_out) log-posteriors of this mode."""
        if self.mask is not None:
            return apply_mask(log_probs, self.mask)
        if self.matrix is not None:
            return map_log_probs(log_probs, self.matrix)
        return log_probs

    def phones(self, tokens: Sequence[str]) -> list[str]:
        """Decoded tokens -> output phones ("|" kept, nothing for blank/unk)."""
        return [s for t in tokens for s in self.spell.get(t, ())]


def _raw_spell(vocab: Vocab) -> dict[str, tuple[str, ...]]:
    spell = {t: token_segments(t) for t in train_phones(vocab)}
    spell[WORD] = (WORD,)
    return spell


def raw_mode(vocab: Vocab) -> DecodeMode:
    return DecodeMode("raw", vocab, _raw_spell(vocab))


def restrict_mode(vocab: Vocab, inventory: Iterable[str]) -> DecodeMode:
    """Training tokens whose segments are all in the target inventory, the rest masked out."""
    target = segment_inventory(inventory)
    allowed = [t for t in train_phones(vocab) if all(s in target for s in token_segments(t))]
    if not allowed:
        raise ValueError("no training phone is in the target inventory; use the 'map' mode")
    mask = restrict_to_inventory(vocab.tokens, allowed, keep=(BLANK, WORD))
    spell = {t: tuple(target[s] for s in token_segments(t)) for t in allowed}
    spell[WORD] = (WORD,)
    return DecodeMode("restrict", vocab, spell, mask=mask)


def phone_mapping(vocab: Vocab, inventory: Iterable[str], *, weighted: bool = True) -> dict[str, tuple[str, ...]]:
    """Each training token -> its target phones: every segment goes to the nearest target segment
    (itself when the target has it), so "aɪ" -> ("a", "ɛ") in a language without ɪ."""
    target = segment_inventory(inventory)
    segs = sorted({s for t in train_phones(vocab) for s in token_segments(t)})
    nearest = nearest_phone_mapping(segs, list(target), weighted=weighted)
    out = {}
    for t in train_phones(vocab):
        mapped = [nearest.get(s) for s in token_segments(t)]
        if all(m is not None for m in mapped):
            out[t] = tuple(target[m] for m in mapped)
    return out


def map_mode(vocab: Vocab, inventory: Iterable[str], *, weighted: bool = True) -> DecodeMode:
    """Posteriors summed into target phone sequences (one output token per distinct sequence)."""
    mapping = phone_mapping(vocab, inventory, weighted=weighted)
    outputs = sorted(set(mapping.values()))
    names = [" ".join(o) for o in outputs]  # output token = its phones joined by spaces
    out_vocab = Vocab(SPECIALS + tuple(names))
    matrix = mapping_matrix(vocab.tokens, out_vocab.tokens, {t: " ".join(o) for t, o in mapping.items()},
                               keep=(BLANK, UNK, WORD))
    spell = dict(zip(names, outputs))
    spell[WORD] = (WORD,)
    return DecodeMode("map", out_vocab, spell, matrix=matrix)


def build_modes(vocab: Vocab, inventory: Iterable[str] | None, modes: Sequence[str] = MODES, *,
                weighted: bool = True) -> dict[str, DecodeMode]:
    """The decoding modes for one target inventory (``None``: raw only)."""
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"unknown zero-shot mode {unknown[0]!r}; expected some of {MODES}")
    inventory = None if inventory is None else list(inventory)
    out = {}
    for m in modes:
        if m == "raw":
            out[m] = raw_mode(vocab)
        elif inventory is None:
            raise ValueError(f"mode {m!r} needs a target inventory (--lang or --inventory)")
        elif m == "restrict":
            out[m] = restrict_mode(vocab, inventory)
        else:
            out[m] = map_mode(vocab, inventory, weighted=weighted)
    return out


def decode_modes(log_probs: torch.Tensor, lens: torch.Tensor,
                 modes: Mapping[str, DecodeMode]) -> dict[str, list[list[str]]]:
    """Greedy CTC decoding of one batch (B, T, V) with lengths (B,) in every mode ->
    {mode: [phones per utterance]}."""
    out = {}
    for name, mode in modes.items():
        ids = greedy_ids(mode.log_probs(log_probs), lens, mode.vocab.blank_id)
        out[name] = [mode.phones(mode.vocab.decode(i)) for i in ids]
    return out


@torch.inference_mode()
def transcribe_phones(run, wavs: Sequence, modes: Mapping[str, DecodeMode],
                      max_batch_seconds: float | None = None) -> dict[str, list[list[str]]]:
    """16 kHz waveforms (each (time,)) -> {mode: phones per input, in input order}."""
    from polyvox.speech.asr.run import batches_by_length, default_batch_seconds, pad_wavs

    max_batch_seconds = max_batch_seconds or default_batch_seconds(run.device)
    wavs = [torch.as_tensor(w, dtype=torch.float32) for w in wavs]
    out: dict[str, list] = {m: [None] * len(wavs) for m in modes}
    for idx in batches_by_length([len(w) for w in wavs], max_batch_seconds):
        batch, lens = pad_wavs([wavs[i] for i in idx])
        log_probs, out_lens = run.model(batch.to(run.device), lens.to(run.device))
        for name, hyps in decode_modes(log_probs.float().cpu(), out_lens.cpu(), modes).items():
            for i, h in zip(idx, hyps):
                out[name][i] = h
    return out


# ----------------------------------------------------------------------------------- evaluation


def score(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> dict[str, float]:
    """PER and PFER (Hamming feature edit distance) over segment lists ("|" ignored)."""
    return {"per": phone_error_rate(refs, hyps), "pfer": phone_feature_error_rate(refs, hyps)}


@torch.inference_mode()
def evaluate_zero_shot(run, utts: Sequence, inventories: Mapping[str, Iterable[str]], modes: Sequence[str] = MODES,
                       *, weighted: bool = True, max_batch_seconds: float | None = None) -> tuple[dict, list[dict]]:
    """Decode manifest rows of each language in ``inventories`` in every mode and score them.

    Returns ``summary[lang] = {"utterances", "oov", "inventory", "<mode>": {"per", "pfer"}}``
    (``oov``: share of reference phones outside the training phones) and rows
    ``{id, language, ref, <mode>: hyp}`` (space-separated segments)."""
    from polyvox.data.dataset import eval_batches
    from polyvox.speech.asr.run import default_batch_seconds

    train_segs = sorted({s for t in train_phones(run.vocab) for s in token_segments(t)})
    max_batch_seconds = max_batch_seconds or default_batch_seconds(run.device)
    was_training = run.model.training
    run.model.eval()
    summary, rows = {}, []
    for lang, inventory in inventories.items():
        lang_utts = [u for u in utts if u.language == lang]
        if not lang_utts:
            raise ValueError(f"no utterances of language {lang!r} to evaluate")
        lang_modes = build_modes(run.vocab, inventory, modes, weighted=weighted)
        refs, hyps = [], {m: [] for m in modes}
        for batch in eval_batches(lang_utts, max_batch_seconds):  # unreadable clips skipped and warned about
            log_probs, lens = run.model(batch["wavs"].to(run.device), batch["wav_lens"].to(run.device))
            decoded = decode_modes(log_probs.float().cpu(), lens.cpu(), lang_modes)
            for k, utt in enumerate(batch["utts"]):
                ref = to_segments(utt.phonemes)
                refs.append(ref)
                row = {"id": utt.id, "language": lang, "ref": " ".join(ref)}
                for m in modes:
                    hyps[m].append(to_segments(decoded[m][k]))  # scored as segments, like the reference
                    row[m] = " ".join(decoded[m][k])
                rows.append(row)
        if not refs:
            raise ValueError(f"none of the {len(lang_utts)} utterances of {lang!r} could be read (see the warnings)")
        summary[lang] = {"utterances": len(refs), "oov": oov_rate(refs, train_segs),
                         "inventory": len(segment_inventory(inventory)) if inventory is not None else None,
                         **{m: score(refs, hyps[m]) for m in modes}}
    run.model.train(was_training)
    return summary, rows


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def zeroshot_table(summary: Mapping[str, Mapping], seen: Iterable[str] = (), modes: Sequence[str] = MODES) -> str:
    """Markdown: one row per language (seen first), PER and PFER per mode, OOV share; then mean
    rows for seen and unseen languages and the PER change of each mode vs raw."""
    seen = set(seen)
    langs = sorted(summary, key=lambda l: (l not in seen, l))
    head = ["language", "seen", "utts", "OOV %"] + [f"PER {MODE_TITLES[m]}" for m in modes] + \
           [f"PFER {MODE_TITLES[m]}" for m in modes]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|" + "---:|" * (2 * len(modes))]

    def row(name, seen_cell, group):
        n = sum(summary[l]["utterances"] for l in group)
        mean = lambda f: sum(f(summary[l]) for l in group) / len(group)  # noqa: E731
        cells = [name, seen_cell, str(n), _pct(mean(lambda s: s["oov"]))]
        cells += [_pct(mean(lambda s, m=m: s[m]["per"])) for m in modes]
        cells += [_pct(mean(lambda s, m=m: s[m]["pfer"])) for m in modes]
        return "| " + " | ".join(cells) + " |"

    for l in langs:
        lines.append(row(l, "yes" if l in seen else "no", [l]))
    groups = (("mean seen", [l for l in langs if l in seen]), ("mean unseen", [l for l in langs if l not in seen]))
    for name, group in groups:
        if group:
            lines.append(row(f"**{name}**", "", group))
    return "\n".join(lines)


def gain_table(summary: Mapping[str, Mapping], seen: Iterable[str] = ()) -> str:
    """Markdown: per language, absolute PER change of (b) and (c) vs (a) (negative = better)."""
    seen = set(seen)
    lines = ["| language | seen | PER (a) | PER (c) | (c) - (a) | (b) - (a) |", "|---|---|---:|---:|---:|---:|"]
    for l in sorted(summary, key=lambda l: (l not in seen, l)):
        s = summary[l]
        if not all(m in s for m in MODES):
            continue
        a, b, c = (s[m]["per"] for m in MODES)
        lines.append(f"| {l} | {'yes' if l in seen else 'no'} | {_pct(a)} | {_pct(c)} | {100 * (c - a):+.1f} | "
                     f"{100 * (b - a):+.1f} |")
    return "\n".join(lines)


def write_rows(path: str | os.PathLike, rows: Iterable[Mapping]) -> Path:
    import json

    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path
