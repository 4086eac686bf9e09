"""Phone boundaries at the TTS's own frame rate: re-aligning the CTC durations with a frame classifier.

CTC forced alignment (:mod:`polyvox.speech.tts.align`) places each token at its *spike*, on the aligner's 40 ms frames,
and its spikes come late: in the built-in corpus the last phones of an utterance often land on the trailing silence.
A decoder trained on those durations learns that a phone may sound like its neighbour or like nothing, so it
underfits. This module does what HMM aligners do (the Montreal Forced Aligner's re-estimation, on one small model):

    round k:  decoder-frame labels from the current durations (edge silence labelled as silence)
              -> a small frame classifier on the log-mel (B, T, 2 * n_mels), little context -> log p(class | frame)
              -> semi-Markov Viterbi (:func:`segment_durations`): tokens in order, each 1..D frames scored by a
                 log-normal duration prior per phone from the current durations, optional leading and trailing
                 silence -> new durations

Leading and trailing silence are folded into the first and last token, so the durations keep their meaning (they sum
to the clip's decoder frames) and nothing downstream changes. The classifier is trained on the rows it aligns (the
corpus alignment step of an HMM aligner); it is not kept.
"""

from __future__ import annotations

import random
from typing import Sequence

import numpy as np
import torch
from torch import nn

from polyvox.data.audio import load_audio
from polyvox.data.collate import FbankOptions, compute_fbank, pad_waveforms
from polyvox.data.manifest import Utterance
from polyvox.speech.asr.vocab import phonemes_to_tokens

SILENCE = 0  # the classifier's silence class: the vocabulary's padding id, which no token uses


def segment_durations(log_probs: np.ndarray, log_duration_prior: np.ndarray) -> tuple[int, list[int], int]:
    """The best segmentation of ``log_probs`` (T, N + 2) (column 0 leading silence, columns 1..N the tokens in
    order, column N + 1 trailing silence) under an explicit duration model (a semi-Markov Viterbi):
    ``log_duration_prior`` (N, D + 1) scores token i lasting d frames (d = 1..D; column 0 unused). Without it a weak
    frame classifier lets the path rush through tokens in one frame each. Silences take >= 0 frames, unscored.
    Returns (leading frames, N token durations, trailing frames), summing to T. Needs N <= T."""
    n_frames, n_states = log_probs.shape
    n_tokens, max_dur = n_states - 2, log_duration_prior.shape[1] - 1
    if n_tokens < 1 or n_frames < n_tokens:
        raise ValueError(f"cannot align {n_tokens} tokens to {n_frames} frames (need 1 <= tokens <= frames)")
    cum = np.concatenate([np.zeros((1, n_states)), np.cumsum(log_probs, 0)])  # cum[t] = sum of frames < t
    ends = np.arange(n_frames + 1)
    lengths = np.arange(1, max_dur + 1)
    best = cum[:, 0].copy()  # best[t]: frames [0, t) explained by the leading silence and tokens < i
    back = np.zeros((n_tokens, n_frames + 1), dtype=np.int64)
    for i in range(1, n_tokens + 1):
        starts = ends[:, None] - lengths[None, :]  # (T + 1, D)
        valid = starts >= 0
        s = np.where(valid, starts, 0)
        score = np.where(valid, best[s] + cum[ends, i][:, None] - cum[s, i] + log_duration_prior[i - 1, 1:], -np.inf)
        back[i - 1] = lengths[score.argmax(1)]
        best = score.max(1)
    total = best + cum[n_frames, -1] - cum[:, -1]  # the rest is trailing silence
    t = int(total.argmax())
    if not np.isfinite(total[t]):
        raise ValueError(f"cannot align {n_tokens} tokens to {n_frames} frames with durations <= {max_dur}")
    trail, durs = n_frames - t, []
    for i in range(n_tokens, 0, -1):
        d = int(back[i - 1, t])
        durs.append(d)
        t -= d
    return t, durs[::-1], trail


def log_normal_prior(log_mean: float, log_std: float, max_dur: int) -> np.ndarray:
    """log p(d) for d = 0..max_dur of a log-normal duration (d = 0: -inf), normalized over 1..max_dur."""
    d = np.arange(1, max_dur + 1, dtype=np.float64)
    logp = -0.5 * ((np.log(d) - log_mean) / log_std) ** 2 - np.log(d)
    logp -= np.logaddexp.reduce(logp)
    return np.concatenate([[-np.inf], logp])


def edge_silence(energy: np.ndarray, below_peak: float = 8.0) -> tuple[int, int]:
    """(leading, trailing) frames of ``energy`` (T,) (mean log-mel) more than ``below_peak`` nats under its peak."""
    loud = np.flatnonzero(energy > energy.max() - below_peak)
    if loud.size == 0:
        return 0, 0
    return int(loud[0]), int(len(energy) - 1 - loud[-1])


def frame_labels(durations: Sequence[int], token_ids: Sequence[int], lead: int, trail: int) -> np.ndarray:
    """Class per decoder frame: each token's id over its frames, :data:`SILENCE` over the first ``lead`` and the
    last ``trail`` frames (which may cover parts of the first and last tokens)."""
    labels = np.repeat(np.asarray(token_ids, dtype=np.int64), np.asarray(durations, dtype=np.int64))
    labels[:lead] = SILENCE
    if trail:
        labels[len(labels) - trail:] = SILENCE
    return labels


class FrameClassifier(nn.Module):
    """Normalized log-mel of decoder frames (B, T, in_dim) -> class logits (B, T, n_classes), seeing
    ``2 * context + 1`` frames. Little context on purpose: a classifier that sees the frames around a boundary can
    learn the labels' systematic lag (CTC's late spikes) and hand it back to the Viterbi unchanged."""

    def __init__(self, in_dim: int, n_classes: int, channels: int = 256, context: int = 0):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(in_dim, channels, 2 * context + 1, padding=context), nn.ReLU(),
                                 nn.Conv1d(channels, channels, 1), nn.ReLU(),
                                 nn.Conv1d(channels, n_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2)).transpose(1, 2)


def decoder_frame_features(utts: Sequence[Utterance], mel: FbankOptions, reduction: int) -> list[torch.Tensor]:
    """Each clip's log-mel stacked ``reduction`` frames at a time: (ceil(frames / r), r * n_mels) per utterance, the
    last frame padded by repeating it (the decoder frames :func:`polyvox.speech.tts.task.collate` counts)."""
    out = []
    for u in utts:
        wavs, lens = pad_waveforms([torch.from_numpy(load_audio(u.audio, mel.sample_rate)[0])])
        feats = compute_fbank(wavs, lens, mel)[0][0]
        pad = -len(feats) % reduction
        if pad:
            feats = torch.cat([feats, feats[-1:].expand(pad, -1)])
        out.append(feats.reshape(-1, reduction * feats.shape[1]))
    return out


def _fit_to(durations: Sequence[int], n_frames: int) -> list[int]:
    """Durations corrected to sum to ``n_frames`` on the last token (as the TTS collate does)."""
    d = list(durations)
    d[-1] = max(1, d[-1] + n_frames - sum(d))
    return d


def realign(utts: Sequence[Utterance], durations: dict[str, list[int]], *, mel: FbankOptions, reduction: int,
            rounds: int = 2, epochs: int = 4, context: int = 0, max_duration: int = 50, duration_weight: float = 1.0,
            batch_frames: int = 6000, lr: float = 2e-3, seed: int = 0, log=print) -> dict[str, list[int]]:
    """New durations {id: per-token decoder frames, one per token of ``phonemes_to_tokens(u.phonemes)``} for the
    rows of ``utts`` that ``durations`` (the CTC ones) has, after ``rounds`` of classifier training and Viterbi
    re-alignment (see the module docstring). A row the segmentation cannot place (fewer frames than tokens, or
    more than ``max_duration`` per token) keeps its CTC durations."""
    rows = [u for u in utts if u.id in durations]
    if rounds < 1 or not rows:
        return {u.id: durations[u.id] for u in rows}
    classes: dict[str, int] = {}
    token_ids = {u.id: [classes.setdefault(t, len(classes) + 1) for t in phonemes_to_tokens(u.phonemes)]
                 for u in rows}  # class 0 is SILENCE
    n_classes = len(classes) + 1
    feats = decoder_frame_features(rows, mel, reduction)
    edges = [edge_silence(f.mean(1).numpy()) for f in feats]
    stacked = torch.cat(feats)
    mean, std = stacked.mean(0), stacked.std(0).clamp(min=1e-3)
    feats = [(f - mean) / std for f in feats]
    # (leading silence, token durations, trailing silence) per row; the CTC ones with silence inside the edge tokens
    current = {u.id: (0, _fit_to(durations[u.id], len(f)), 0) for u, f in zip(rows, feats)}
    for k in range(rounds):
        labels = [torch.from_numpy(frame_labels(_folded(current[u.id]), token_ids[u.id], *edge)) for u, edge in
                  zip(rows, edges)]
        torch.manual_seed(seed + k)
        model = FrameClassifier(feats[0].shape[1], n_classes, context=context)
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        order = list(range(len(rows)))
        for epoch in range(epochs):
            random.Random(f"{seed}:{k}:{epoch}").shuffle(order)
            total, n = 0.0, 0
            for batch in _batches(order, feats, batch_frames):
                x = nn.utils.rnn.pad_sequence([feats[i] for i in batch], batch_first=True)
                y = nn.utils.rnn.pad_sequence([labels[i] for i in batch], batch_first=True, padding_value=-100)
                loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten(), ignore_index=-100)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, n = total + loss.item(), n + 1
        # posteriors over class priors: the scaled likelihoods a hybrid HMM aligns with
        prior = torch.bincount(torch.cat(labels), minlength=n_classes).float() + 1.0
        log_prior = (prior / prior.sum()).log()
        dur_prior = _duration_priors(current, token_ids, n_classes, max_duration, edges_inside=k == 0)
        moved = kept = 0
        model.eval()
        with torch.no_grad():
            for u, f in zip(rows, feats):
                ids = token_ids[u.id]
                logp = (model(f[None])[0].log_softmax(-1) - log_prior).numpy()
                try:
                    seg = segment_durations(logp[:, [SILENCE, *ids, SILENCE]], duration_weight * dur_prior[ids])
                except ValueError:  # too few frames, or too many for the longest durations: keep what it had
                    kept += 1
                    continue
                moved += np.abs(np.cumsum(_folded(seg)) - np.cumsum(_folded(current[u.id]))).sum()
                current[u.id] = seg
        log(f"realign round {k + 1}/{rounds}: classifier loss {total / max(n, 1):.3f}, boundaries moved "
            f"{moved / max(sum(len(token_ids[u.id]) for u in rows), 1):.2f} decoder frames on average"
            + (f", {kept} rows kept their durations" if kept else ""))
    return {i: _folded(seg) for i, seg in current.items()}


def _folded(seg: tuple[int, list[int], int]) -> list[int]:
    """Token durations with the leading silence in the first token and the trailing silence in the last."""
    lead, d, trail = seg
    d = list(d)
    d[0] += lead
    d[-1] += trail
    return d


def _duration_priors(current: dict, token_ids: dict, n_classes: int, max_duration: int,
                     edges_inside: bool) -> np.ndarray:
    """(n_classes, max_duration + 1) log-normal log p(d) per class, fitted to the current durations (without the
    first and last token when they still hold the edge silence); a class seen < 10 times gets the pooled fit."""
    logs: dict[int, list[float]] = {}
    for uid, (_, d, _) in current.items():
        pairs = list(zip(token_ids[uid], d))
        for c, dur in pairs[1:-1] if edges_inside else pairs:
            logs.setdefault(c, []).append(np.log(max(dur, 1)))
    pooled = np.concatenate([np.asarray(v) for v in logs.values()]) if logs else np.zeros(1)
    table = np.empty((n_classes, max_duration + 1))
    for c in range(n_classes):
        v = np.asarray(logs.get(c, []))
        v = v if len(v) >= 10 else pooled
        table[c] = log_normal_prior(float(v.mean()), max(float(v.std()), 0.3), max_duration)
    return table


def _batches(order: Sequence[int], feats: Sequence[torch.Tensor], batch_frames: int):
    """Consecutive runs of ``order`` whose padded size (rows x longest) stays under ``batch_frames``."""
    batch: list[int] = []
    longest = 0
    for i in order:
        longest_if = max(longest, len(feats[i]))
        if batch and longest_if * (len(batch) + 1) > batch_frames:
            yield batch
            batch, longest_if = [], len(feats[i])
        batch.append(i)
        longest = longest_if
    if batch:
        yield batch


__all__ = ["SILENCE", "FrameClassifier", "decoder_frame_features", "edge_silence", "frame_labels",
           "log_normal_prior", "realign", "segment_durations"]
