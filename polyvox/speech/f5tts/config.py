"""The F5-style recipe's config (``recipes/tts/configs/f5_*.yaml``), one dataclass per YAML section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from polyvox.data.collate import VocoderMelOptions
from polyvox.data.synth.spec import CorpusConfig
from polyvox.speech.f5tts.model import F5Config
from polyvox.train.config import ConfigError, TrainConfig


@dataclass
class F5DataConfig:
    corpus: CorpusConfig = field(default_factory=lambda: CorpusConfig(speakers=8, seed=3))
    train_manifests: list[str] = field(default_factory=list)  # [] = build the corpus above
    dev_manifests: list[str] = field(default_factory=list)
    test_manifests: list[str] = field(default_factory=list)
    max_batch_seconds: float = 60.0
    min_duration: float = 0.3
    max_duration: float = 20.0
    num_workers: int = 0


@dataclass
class FlowConfig:  # F5-TTS's training settings
    frac: tuple[float, float] = (0.7, 1.0)  # share of each clip's frames that is generated (the rest is the prompt)
    audio_drop_prob: float = 0.3
    cond_drop_prob: float = 0.2


@dataclass
class SampleConfig:
    steps: int = 32
    method: Literal["euler", "midpoint"] = "euler"
    cfg_strength: float = 2.0
    sway: Optional[float] = -1.0
    utts: int = 4  # test sentences synthesized (each in the voice of another clip of its speaker)


@dataclass
class F5EvalConfig:
    # a judge ASR run (PER of the synthesized test sentences; SECS by resemblyzer), one that never heard the test
    # speakers; "" = no judged test, only the samples
    judge: str = ""
    utts_per_lang: int = 4  # test sentences per language, each spoken from a same- and a cross-lingual prompt


@dataclass
class F5RecipeConfig:
    run_dir: str = "work/runs/f5/base"
    threads: int = 0
    # a local F5-TTS checkpoint (.pt / .safetensors, vocab.txt beside it) or a polyvox F5 run to fine-tune;
    # "" = train the model below from scratch
    init_from: str = ""
    vocab: str = ""  # the checkpoint's vocab.txt when it is not beside it
    heads: int = 0  # attention heads of init_from when not width / 64; 0 = that default
    init_arch: Literal["v1", "v0"] = "v1"  # F5-TTS v0 checkpoints (F5TTS_Base, _Small) set two things differently
    data: F5DataConfig = field(default_factory=F5DataConfig)
    mel: VocoderMelOptions = field(default_factory=VocoderMelOptions)
    model: F5Config = field(default_factory=F5Config)  # from scratch only; a checkpoint brings its own shape
    flow: FlowConfig = field(default_factory=FlowConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    eval: F5EvalConfig = field(default_factory=F5EvalConfig)
    vocoder: str = ""  # a polyvox vocoder run (recipes/tts/vocoder.py) for the test samples; "" = Griffin-Lim
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=7.5e-5, ema_decay=0.999))

    def __post_init__(self):
        if not self.init_from and self.model.mel_dim != self.mel.n_mels:
            raise ConfigError(f"model.mel_dim ({self.model.mel_dim}) must equal mel.n_mels ({self.mel.n_mels})")
        if not 0 < self.flow.frac[0] <= self.flow.frac[1] <= 1:
            raise ConfigError(f"flow.frac must be [low, high] with 0 < low <= high <= 1, got {list(self.flow.frac)}")
