"""The TTS / voice-cloning config: one dataclass per YAML section (``recipes/tts/configs/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from polyvox.data.augment import AugmentConfig
from polyvox.data.collate import FbankOptions
from polyvox.data.synth.spec import CorpusConfig
from polyvox.train.config import ConfigError, TrainConfig


@dataclass
class MelConfig:
    """The TTS's own log-mel (not the ASR fbank): a 32 ms window so Griffin-Lim can invert it, 10 ms hop."""

    sample_rate: int = 16000
    n_mels: int = 80
    n_fft: int = 512
    win_ms: float = 32.0
    hop_ms: float = 10.0
    f_min: float = 0.0
    log_floor: float = 1e-5

    def fbank(self) -> FbankOptions:
        return FbankOptions(sample_rate=self.sample_rate, n_mels=self.n_mels, win_ms=self.win_ms, hop_ms=self.hop_ms,
                            n_fft=self.n_fft, f_min=self.f_min, log_floor=self.log_floor)


@dataclass
class TtsModelConfig:
    d_model: int = 192
    encoder_layers: int = 3
    decoder_layers: int = 3
    num_heads: int = 2
    ffn_dim: int = 512
    conv_kernel: int = 15
    dropout: float = 0.1
    reduction: int = 2  # mel frames per decoder frame: 20 ms decoder steps
    language_dim: int = 32
    speaker_dim: int = 128
    # joint: one embedding of the reference conditions everything; dse: DSE-TTS's split, a timbre embedding for the
    # decoder and a separate prosody embedding for the durations (against accent leakage); none: no reference
    reference: Literal["joint", "dse", "none"] = "joint"
    reference_channels: int = 128
    duration_channels: int = 192
    # Tacotron-2 / FastSpeech-style residual postnet over the full-rate log-mel (0 = none): 1-D convolutions that
    # refine the detail the reduction-r linear output smooths away; trained with L1 before and after it
    postnet_layers: int = 0
    postnet_channels: int = 128
    postnet_kernel: int = 5
    # add each decoder frame's place in its phone (fraction of its duration, frames from its start and to its end;
    # model.token_frame_positions) to the length-regulated frames, which are otherwise copies of one vector
    frame_position: bool = False
    # add absolute sinusoidal positions (FastSpeech's) to the tokens before the encoder and to the regulated frames
    # before the decoder, each times a learned scale; without them only the Conformers' convolutions see order
    sinusoidal_positions: bool = False


@dataclass
class TtsDataConfig:
    corpus: CorpusConfig = field(default_factory=lambda: CorpusConfig(speakers=12, seed=1))
    train_manifests: list[str] = field(default_factory=list)  # [] = build the corpus above
    dev_manifests: list[str] = field(default_factory=list)
    test_manifests: list[str] = field(default_factory=list)
    # a polyvox CTC phoneme run whose forced alignments give the phone durations (make main trains one)
    aligner: str = "work/runs/asr_ctc/base"
    # rounds of re-aligning the CTC durations at the decoder's frame rate (polyvox.speech.tts.realign: a frame
    # classifier + a semi-Markov Viterbi with a duration prior per phone); 0 = the CTC durations as they are
    realign_rounds: int = 0
    realign_epochs: int = 4  # classifier epochs per round
    realign_context: int = 0  # frames the classifier sees each side (more lets it learn CTC's lag; realign.py)
    max_batch_seconds: float = 40.0
    min_duration: float = 0.3
    max_duration: float = 15.0
    num_workers: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # applied to the reference clips only


@dataclass
class TtsEvalConfig:
    # the judge ASR run that scores intelligibility (PER of the synthesized test sentences); it must not have heard
    # the test speakers. "" = the aligner (then the results say so)
    judge: str = ""
    utts_per_lang: int = 20  # test sentences synthesized per language
    griffin_lim_iters: int = 32
    rate: Literal["predictor", "recognizer"] = "predictor"  # speaking rate of a cloned voice: learned or measured


@dataclass
class TtsConfig:
    run_dir: str = "work/runs/tts/base"
    threads: int = 0
    data: TtsDataConfig = field(default_factory=TtsDataConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    model: TtsModelConfig = field(default_factory=TtsModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: TtsEvalConfig = field(default_factory=TtsEvalConfig)

    def __post_init__(self):
        if self.model.reduction < 1:
            raise ConfigError(f"model.reduction must be >= 1, got {self.model.reduction}")
        if self.data.corpus.speakers < 3:
            raise ConfigError("data.corpus.speakers: speaker-disjoint splits need >= 3 speakers per language")
