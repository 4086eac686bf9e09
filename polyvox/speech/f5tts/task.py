"""The F5-style task, training side: splits, IPA tokens, batches by seconds, and the dev flow-matching loss.

A batch (:func:`collate`)::

    wavs (B, S) float at mel.sample_rate, zero-padded     wav_lens (B,)
    text (B, N) long token ids, -1 = padding               ids, utts

The mel is computed from the waveforms on the device (:func:`polyvox.data.collate.vocoder_mel`), so a GPU does it.
Tokens are the corpus's espeak-ng IPA phones (the word boundary is F5-TTS's space token): a new language is a set
of new phone tokens added to a checkpoint's vocabulary (:func:`polyvox.speech.f5tts.run.extend_vocab`).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from polyvox.data.collate import pad_waveforms, vocoder_mel
from polyvox.data.dataset import AudioDataset
from polyvox.data.manifest import Utterance
from polyvox.data.sampler import DurationBucketSampler
from polyvox.data.synth.spec import read_splits
from polyvox.speech.f5tts import flow
from polyvox.speech.f5tts.config import F5DataConfig, F5RecipeConfig
from polyvox.speech.f5tts.run import encode, pad_ids, phoneme_tokens


def load_splits(d: F5DataConfig) -> dict[str, list[Utterance]]:
    out = read_splits(d, min_duration=d.min_duration, max_duration=d.max_duration)
    for utts in out.values():
        bad = next((u for u in utts if not u.phonemes), None)
        if bad is not None:
            raise ValueError(f"utterance '{bad.id}' ({bad.audio}) has no phonemes; the F5 recipe trains on IPA")
    return out


def corpus_tokens(utts: Sequence[Utterance]) -> list[str]:
    """Every token of the rows, in order of first appearance (what :func:`extend_vocab` appends)."""
    return list(dict.fromkeys(t for u in utts for t in phoneme_tokens(u.phonemes)))


class F5Dataset(Dataset):
    def __init__(self, utts: Sequence[Utterance], vocab: Sequence[str], sample_rate: int, report_path=None):
        self.utts = list(utts)
        self.audio = AudioDataset(self.utts, sample_rate, report_path=report_path)
        self.ids = [encode(phoneme_tokens(u.phonemes), vocab)[0] for u in self.utts]

    @property
    def durations(self) -> list[float]:
        return [u.duration for u in self.utts]

    def __len__(self) -> int:
        return len(self.utts)

    def __getitem__(self, i: int) -> dict | None:
        item = self.audio[i]
        return None if item is None else {"id": item["id"], "utt": self.utts[i], "wav": item["wav"],
                                          "text": self.ids[i]}


def collate(items) -> dict:
    items = [it for it in items if it is not None]
    if not items:
        return {"ids": [], "wavs": torch.zeros(0, 0)}
    wavs, wav_lens = pad_waveforms([it["wav"] for it in items])
    return {"ids": [it["id"] for it in items], "utts": [it["utt"] for it in items], "wavs": wavs,
            "wav_lens": wav_lens, "text": pad_ids([it["text"] for it in items])}


def loader(cfg: F5RecipeConfig, utts, vocab, *, train: bool, report=None) -> DataLoader:
    ds = F5Dataset(utts, vocab, cfg.mel.sample_rate, report_path=report)
    sampler = (DurationBucketSampler(ds.durations, cfg.data.max_batch_seconds, seed=cfg.train.seed) if train else
               DurationBucketSampler(ds.durations, cfg.data.max_batch_seconds, shuffle=False, rank=0, world_size=1))
    return DataLoader(ds, batch_sampler=sampler, num_workers=cfg.data.num_workers if train else 0,
                      collate_fn=collate)


def batch_loss(model, batch: dict, cfg: F5RecipeConfig) -> tuple[torch.Tensor, dict]:
    mel, mel_lens = vocoder_mel(batch["wavs"], batch["wav_lens"], cfg.mel)
    return flow.flow_matching_loss(model, mel.to(next(model.parameters()).dtype), mel_lens, batch["text"],
                                   frac=tuple(cfg.flow.frac), audio_drop_prob=cfg.flow.audio_drop_prob,
                                   cond_drop_prob=cfg.flow.cond_drop_prob)


@torch.no_grad()
def evaluate(model, dev_loader, cfg: F5RecipeConfig) -> dict[str, float]:
    """The flow-matching loss on dev, with the noise, times and spans of a fixed seed (comparable across evals),
    the caller's RNG left as it was."""
    device = next(model.parameters()).device
    total, n = 0.0, 0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(1234)
        for batch in dev_loader:
            if not batch["ids"]:
                continue
            batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            total += float(batch_loss(model, batch, cfg)[0])
            n += 1
    return {"dev/flow_loss": total / max(n, 1)}
