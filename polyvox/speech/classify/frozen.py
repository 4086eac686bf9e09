"""Training a classifier head on a frozen encoder without running the encoder every step: the encoder's frames are
computed once per utterance (:func:`encode_utterances`) and the pooling + head train on them
(:func:`frame_collate`). With a frozen encoder in eval mode this is the same function as
:class:`~polyvox.speech.classify.model.UtteranceClassifier`'s forward, at a fraction of the cost.
"""

from __future__ import annotations

from typing import Sequence

import torch

from polyvox.data.audio import load_audio
from polyvox.data.collate import pad_waveforms
from polyvox.data.manifest import Utterance


@torch.no_grad()
def encode_utterances(encoder: torch.nn.Module, utts: Sequence[Utterance], *, batch_size: int = 16,
                      sample_rate: int = 16000) -> list[torch.Tensor]:
    """Frames of each utterance, ``[(F_i, D)]`` in input order (on the CPU), from ``encoder(wavs, wav_lens)``."""
    device = next(encoder.parameters()).device
    encoder.eval()
    order = sorted(range(len(utts)), key=lambda i: utts[i].duration)  # similar lengths share a batch
    out: list[torch.Tensor | None] = [None] * len(utts)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        wavs, lens = pad_waveforms([torch.as_tensor(load_audio(utts[i].audio, sample_rate)[0]) for i in idx])
        feats, feat_lens = encoder(wavs.to(device), lens.to(device))
        for row, i in enumerate(idx):
            out[i] = feats[row, : int(feat_lens[row])].float().cpu()
    return out  # type: ignore[return-value]


def frame_collate(items: Sequence[tuple[torch.Tensor, int]]) -> dict:
    """(frames (F_i, D), label) pairs -> ``feats`` (B, T, D) zero-padded, ``feat_lens`` (B,), ``labels`` (B,)."""
    lens = torch.tensor([f.shape[0] for f, _ in items])
    feats = torch.zeros(len(items), int(lens.max()), items[0][0].shape[1])
    for row, (f, _) in enumerate(items):
        feats[row, : f.shape[0]] = f
    return {"feats": feats, "feat_lens": lens, "labels": torch.tensor([y for _, y in items], dtype=torch.long)}


def head_logits(model, feats: torch.Tensor, feat_lens: torch.Tensor) -> torch.Tensor:
    """An UtteranceClassifier's pooling + head on precomputed frames: (B, T, D), (B,) -> (B, C)."""
    return model.head(model.pooling(feats, feat_lens))


@torch.no_grad()
def predict_frames(model, frames: Sequence[torch.Tensor], batch_size: int = 128) -> torch.Tensor:
    """Class probabilities (N, C) from precomputed frames, in input order."""
    was = model.training
    model.eval()
    device = next(model.head.parameters()).device
    out = []
    for start in range(0, len(frames), batch_size):
        b = frame_collate([(f, 0) for f in frames[start:start + batch_size]])
        out.append(torch.softmax(head_logits(model, b["feats"].to(device), b["feat_lens"].to(device)).float(), -1).cpu())
    model.train(was)
    return torch.cat(out) if out else torch.zeros(0)
