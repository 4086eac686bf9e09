"""HiFi-GAN (Kong et al. 2020) built from speechbrain's modules: its generator, and period / scale discriminators
whose number is configurable (speechbrain's ``HifiganDiscriminator`` fixes them at HiFi-GAN's 5 + 3, ~70 M parameters).

    mel (B, n_mels, T) --generator--> wav (B, 1, T * prod(upsample_factors))
    wav (B, 1, S) --discriminators--> (scores: list of (B, *), features: list of lists of (B, C, ...))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from speechbrain.lobes.models.HifiGAN import DiscriminatorP, DiscriminatorS, HifiganGenerator
from torch import nn


@dataclass
class VocoderModelConfig:
    """HiFi-GAN V1's generator by default; ``prod(upsample_factors)`` must be the mel hop length."""

    upsample_factors: list[int] = field(default_factory=lambda: [8, 8, 2, 2])
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 16, 4, 4])
    upsample_initial_channel: int = 512
    resblock_type: str = "1"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]])
    periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])  # multi-period discriminators
    scales: int = 3  # multi-scale discriminators (each on the audio average-pooled once more)

    def __post_init__(self):
        if len(self.upsample_factors) != len(self.upsample_kernel_sizes):
            raise ValueError("model.upsample_factors and model.upsample_kernel_sizes need one entry per layer")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("model.resblock_kernel_sizes and model.resblock_dilation_sizes need one entry per block")
        if not self.periods and self.scales < 1:
            raise ValueError("model: at least one discriminator (periods or scales)")

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_factors)


class Discriminators(nn.Module):
    def __init__(self, periods: list[int], scales: int):
        super().__init__()
        self.periods = nn.ModuleList([DiscriminatorP(p) for p in periods])
        # HiFi-GAN: spectral norm on the first (raw-audio) scale, weight norm on the pooled ones
        self.scales = nn.ModuleList([DiscriminatorS(use_spectral_norm=i == 0) for i in range(scales)])
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, wav: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        scores, feats = [], []
        for d in self.periods:
            s, f = d(wav)
            scores.append(s)
            feats.append(f)
        x = wav
        for i, d in enumerate(self.scales):
            x = self.pool(x) if i else x
            s, f = d(x)
            scores.append(s)
            feats.append(f)
        return scores, feats


class HifiGan(nn.Module):
    """``generator`` and ``discriminator`` in one module, so one run holds both (the loop trains each with its own
    optimizer); inference needs only the generator."""

    def __init__(self, cfg: VocoderModelConfig, n_mels: int):
        super().__init__()
        self.generator = build_generator(cfg, n_mels)
        self.discriminator = Discriminators(cfg.periods, cfg.scales)


def build_generator(cfg: VocoderModelConfig, n_mels: int) -> HifiganGenerator:
    return HifiganGenerator(in_channels=n_mels, out_channels=1, resblock_type=cfg.resblock_type,
                            resblock_dilation_sizes=cfg.resblock_dilation_sizes,
                            resblock_kernel_sizes=cfg.resblock_kernel_sizes,
                            upsample_kernel_sizes=cfg.upsample_kernel_sizes,
                            upsample_initial_channel=cfg.upsample_initial_channel,
                            upsample_factors=cfg.upsample_factors)
