"""The vocoder recipe's config (``recipes/tts/configs/vocoder_*.yaml``), one dataclass per YAML section."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyvox.data.collate import VocoderMelOptions
from polyvox.data.synth.spec import CorpusConfig
from polyvox.speech.vocoder.model import VocoderModelConfig
from polyvox.train.config import ConfigError, TrainConfig


@dataclass
class VocoderDataConfig:
    corpus: CorpusConfig = field(default_factory=lambda: CorpusConfig(speakers=8, seed=2))
    train_manifests: list[str] = field(default_factory=list)  # [] = build the corpus above
    dev_manifests: list[str] = field(default_factory=list)
    test_manifests: list[str] = field(default_factory=list)
    segment_seconds: float = 0.5  # random training windows (HiFi-GAN: 8192 samples at 22 kHz)
    batch_size: int = 16
    num_workers: int = 0
    dev_clips: int = 16  # whole dev clips vocoded at each evaluation


@dataclass
class VocoderLossConfig:  # HiFi-GAN's weights
    mel: float = 45.0
    feature_matching: float = 2.0
    adversarial: float = 1.0


@dataclass
class VocoderConfig:
    run_dir: str = "work/runs/vocoder/base"
    threads: int = 0
    data: VocoderDataConfig = field(default_factory=VocoderDataConfig)
    mel: VocoderMelOptions = field(default_factory=VocoderMelOptions)
    model: VocoderModelConfig = field(default_factory=VocoderModelConfig)
    loss: VocoderLossConfig = field(default_factory=VocoderLossConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=2e-4, betas=(0.8, 0.99), ema_decay=0.999,
                                                                   ema_of="generator"))

    def __post_init__(self):
        if self.model.hop_length != self.mel.hop_length:
            raise ConfigError(f"model.upsample_factors multiply to {self.model.hop_length}, but mel.hop_length is "
                              f"{self.mel.hop_length}: one waveform hop per mel frame is needed")
        if self.train.ema_decay and self.train.ema_of not in ("", "generator"):
            raise ConfigError("train.ema_of: the vocoder averages the generator (or the whole model, \"\")")
