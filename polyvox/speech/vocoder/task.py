"""The vocoder task, training side: clips -> random waveform windows, the GAN's losses, and the dev evaluation.

A batch (:func:`collate`): ``{"ids": [...], "wavs": (B, S) float}`` windows of ``segment_seconds`` (S a multiple of
the hop) at ``mel.sample_rate``; the mel the generator hears is computed from them on the device
(:func:`polyvox.data.collate.vocoder_mel`), so the vocoder learns exactly the features the TTS models predict.
"""

from __future__ import annotations

import random
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from polyvox.data.collate import VocoderMelOptions, vocoder_mel
from polyvox.data.dataset import AudioDataset
from polyvox.data.manifest import Utterance
from polyvox.data.sampler import DurationBucketSampler
from polyvox.data.synth.spec import read_splits
from polyvox.speech.vocoder.config import VocoderConfig, VocoderDataConfig
from polyvox.speech.vocoder.run import griffin_lim


def load_splits(d: VocoderDataConfig) -> dict[str, list[Utterance]]:
    """train / dev / test rows: given manifests, or the built-in corpus (speaker-disjoint splits)."""
    return read_splits(d, min_duration=d.segment_seconds, requirement=f"of at least data.segment_seconds="
                                                                       f"{d.segment_seconds} s")


class SegmentDataset(Dataset):
    """Clips -> ``{"id", "wav"}`` windows of ``samples`` samples at a position drawn from (seed, id, epoch), or the
    clip zero-padded when shorter; None for a clip that cannot be decoded (reported, skipped)."""

    def __init__(self, utts: Sequence[Utterance], sample_rate: int, samples: int, *, seed: int = 0, report_path=None):
        self.audio = AudioDataset(utts, sample_rate, report_path=report_path)
        self.samples, self.seed, self.epoch = int(samples), seed, 0

    def __len__(self) -> int:
        return len(self.audio)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict | None:
        item = self.audio[index]
        if item is None:
            return None
        wav = item["wav"]
        if wav.shape[0] <= self.samples:
            return {"id": item["id"], "wav": F.pad(wav, (0, self.samples - wav.shape[0]))}
        start = random.Random(f"seg:{self.seed}:{item['id']}:{self.epoch}").randrange(wav.shape[0] - self.samples)
        return {"id": item["id"], "wav": wav[start:start + self.samples]}


def collate(items) -> dict:
    items = [it for it in items if it is not None]
    return {"ids": [it["id"] for it in items],
            "wavs": torch.stack([it["wav"] for it in items]) if items else torch.zeros(0, 0)}


def segment_samples(cfg: VocoderConfig) -> int:
    hop = cfg.mel.hop_length
    return max(1, round(cfg.data.segment_seconds * cfg.mel.sample_rate / hop)) * hop


def train_loader(cfg: VocoderConfig, utts: Sequence[Utterance], report=None) -> DataLoader:
    """``batch_size`` windows per batch, shuffled per epoch and sharded by rank (every window lasts the same, so the
    seconds-filled sampler makes batches of exactly that many) with a resumable position."""
    ds = SegmentDataset(utts, cfg.mel.sample_rate, segment_samples(cfg), seed=cfg.train.seed, report_path=report)
    sampler = DurationBucketSampler([1.0] * len(ds), max_seconds=float(cfg.data.batch_size), num_buckets=1,
                                    seed=cfg.train.seed)
    return DataLoader(ds, batch_sampler=sampler, num_workers=cfg.data.num_workers, collate_fn=collate)


def mel_of(wavs: torch.Tensor, mel: VocoderMelOptions) -> torch.Tensor:
    """(B, S) windows -> (B, n_mels, S / hop) log-mel, the generator's input layout (one frame per hop: the
    centred mel's extra last frame is dropped)."""
    feats, _ = vocoder_mel(wavs, torch.full((wavs.shape[0],), wavs.shape[1], device=wavs.device), mel)
    return feats[:, : wavs.shape[1] // mel.hop_length].transpose(1, 2)


def generate(generator, mels: torch.Tensor, samples: int) -> torch.Tensor:
    """(B, n_mels, T) -> (B, 1, samples): the generator's output cut or padded to the input's length."""
    wav = generator(mels)
    return F.pad(wav, (0, max(0, samples - wav.shape[-1])))[..., :samples]


def mel_l1(fake: torch.Tensor, real: torch.Tensor, mel: VocoderMelOptions) -> torch.Tensor:
    """L1 between the log-mels of generated (B, 1, S) and real (B, S) audio: HiFi-GAN's reconstruction loss."""
    return F.l1_loss(mel_of(fake.squeeze(1), mel), mel_of(real, mel))


def discriminator_loss(scores_real, scores_fake) -> torch.Tensor:
    """Least-squares GAN: real towards 1, generated towards 0, summed over the discriminators."""
    return sum(((r - 1) ** 2).mean() + (f ** 2).mean() for r, f in zip(scores_real, scores_fake))


def adversarial_loss(scores_fake) -> torch.Tensor:
    return sum(((f - 1) ** 2).mean() for f in scores_fake)


def feature_matching_loss(feats_real, feats_fake) -> torch.Tensor:
    """L1 between the discriminators' hidden features of real and generated audio."""
    return sum(F.l1_loss(f, r.detach()) for fr, ff in zip(feats_real, feats_fake) for r, f in zip(fr, ff))


@torch.no_grad()
def evaluate(generator, utts: Sequence[Utterance], mel: VocoderMelOptions, device=None) -> dict[str, float]:
    """Mean mel L1 of whole clips vocoded from their own mel (copy synthesis); ``generator=None`` scores
    :func:`griffin_lim` instead."""
    was = generator.training if generator is not None else False
    vocoder = generator.eval() if generator is not None else (lambda m: griffin_lim(m, mel))
    device = device or (next(generator.parameters()).device if generator is not None else "cpu")
    audio = AudioDataset(utts, mel.sample_rate)
    total, n = 0.0, 0
    for i in range(len(audio)):
        item = audio[i]
        if item is None:
            continue
        samples = item["wav"].shape[0] // mel.hop_length * mel.hop_length
        wav = item["wav"][:samples].to(device)[None]
        total += float(mel_l1(generate(vocoder, mel_of(wav, mel), samples), wav, mel))
        n += 1
    if generator is not None:
        generator.train(was)
    return {"dev/mel_l1": total / max(n, 1)}
