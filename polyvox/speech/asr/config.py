"""The ASR / phone-recognition config: one dataclass per YAML section (``recipes/asr_ctc/configs/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from polyvox.data.augment import AugmentConfig
from polyvox.data.synth.spec import CorpusConfig
from polyvox.speech.asr.decoding import DecodeConfig
from polyvox.speech.asr.model import ModelConfig
from polyvox.train.config import ConfigError, TrainConfig


@dataclass
class DataConfig:
    unit: Literal["char", "phoneme"] = "phoneme"
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    train_manifests: list[str] = field(default_factory=list)  # JSONL manifests; [] = build the corpus above
    dev_manifests: list[str] = field(default_factory=list)  # (several: e.g. one per Common Voice language)
    test_manifests: list[str] = field(default_factory=list)
    heldout_manifests: list[str] = field(default_factory=list)  # more test sets scored apart (e.g. another engine)
    train_langs: list[str] = field(default_factory=list)  # [] = every language in the train manifest
    eval_langs: list[str] = field(default_factory=list)  # [] = every language in the test manifest
    alpha: float = 0.5  # language sampling temperature: 1 natural, 0 uniform over languages
    fewshot_minutes: float = 0.0  # > 0: keep only this many minutes per training language
    # more training rows added after the few-shot cut (e.g. TTS speech from polyvox tts-augment), never cut by it
    extra_train_manifests: list[str] = field(default_factory=list)
    max_batch_seconds: float = 60.0  # padded audio per batch
    min_duration: float = 0.2
    max_duration: float = 20.0
    dev_utts_per_lang: int = 0  # cap per language for the periodic dev evaluation (0 = all)
    num_workers: int = 0
    vocab_min_count: int = 1
    on_error: Literal["skip", "raise"] = "skip"  # a bad clip: skip it and list it in RUN/skipped.jsonl, or stop
    speed_perturb: list[float] = field(default_factory=list)  # e.g. [0.9, 1.0, 1.1]: one factor per training batch
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # per-utterance noise, reverb, EQ, VTLP... (off)

    def __post_init__(self):
        from polyvox.data.augment import check_speed_factors

        try:
            check_speed_factors(self.speed_perturb)
        except ValueError as e:
            raise ConfigError(str(e)) from None


@dataclass
class AsrConfig:
    run_dir: str = "work/runs/asr_ctc/base"
    protocol: Literal["standard", "transfer"] = "standard"  # transfer: one run per train language
    init_from: str = ""  # a trained run to start from: same unit, vocab extended; other unit, its encoder + a new head
    threads: int = 0  # torch CPU threads; 0 = torch's default. 1 avoids oversubscription on shared CPUs
    # with beam search, the test set is decoded greedily too (the table of what the decoder and LM buy); a recipe that
    # only needs the run's own decoding turns it off (a second pass over the test set)
    test_greedy: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        if self.model.attribute_heads and self.data.unit != "phoneme":
            raise ConfigError(f"model.attribute_heads needs data.unit: phoneme (articulatory features of "
                              f"phones), got data.unit: {self.data.unit}")
        if self.model.attribute_weight < 0:
            raise ConfigError(f"model.attribute_weight must be >= 0, got {self.model.attribute_weight}")
