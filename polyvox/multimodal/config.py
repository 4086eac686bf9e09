"""The speech classification config (``recipes/speech_classification/configs/*.yaml``): end-to-end speech
classifiers and ASR -> text cascades side by side on the same splits."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyvox.speech.classify.model import ClassifierConfig
from polyvox.text.classify.config import TextDataConfig, TextModelConfig, TokenizerConfig
from polyvox.train.config import ConfigError, TrainConfig

SYSTEMS = ("e2e", "native", "romanized", "ipa")  # a text form gives two columns: its cascade and its gold ceiling
PROTOCOLS = ("multilingual", "inlanguage")  # multilingual also scores data.eval_langs never trained on (zero-shot)


@dataclass
class AsrRunsConfig:
    """The recognizers of the cascades (and the encoder of the end-to-end system). A run directory that holds no
    trained run yet is trained by ``polyvox train <config> run_dir=... data.train_manifests=[the corpus]``."""

    char_run: str = ""  # characters: the native and romanized cascades; "" = RUN_DIR/asr-char
    phone_run: str = ""  # IPA phones: the phonemic cascade; "" = RUN_DIR/asr-phone
    char_config: str = "asr_ctc/chars"  # shipped config (or YAML path) the char run is trained from
    phone_config: str = "asr_ctc"
    langs: list[str] = field(default_factory=list)  # ASR training languages; [] = every corpus language
    max_steps: int = 2000
    overrides: list[str] = field(default_factory=list)  # more key=value for both ASR trainings
    decode: str = "greedy"  # greedy | run (the run's own decode section, e.g. beam + LM)


@dataclass
class E2EConfig:
    """The end-to-end system: a speech encoder -> pooling -> head (polyvox.speech.classify.model). ``encoder: asr``
    (the default) reuses the char ASR run's encoder, frozen: both systems hear through the same acoustic model."""

    model: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(encoder="asr", pooling="attentive_stats"))
    train: TrainConfig = field(default_factory=TrainConfig)
    batch_size: int = 32


@dataclass
class TextPartConfig:
    """The text classifier of every cascade and gold-text ceiling."""

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: TextModelConfig = field(default_factory=TextModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    batch_size: int = 32
    train_on: str = "gold"  # gold | asr | both: what the cascade's text classifier is trained on


@dataclass
class SpeechClassificationConfig:
    recipe: str = "speech_classification"
    run_dir: str = "work/runs/speech_classification"
    threads: int = 0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    systems: list[str] = field(default_factory=lambda: list(SYSTEMS))
    protocols: list[str] = field(default_factory=lambda: list(PROTOCOLS))
    inlanguage_steps: float = 0.5  # in-language models train for this share of the multilingual steps
    data: TextDataConfig = field(default_factory=TextDataConfig)  # text_form is unused: systems choose forms
    asr: AsrRunsConfig = field(default_factory=AsrRunsConfig)
    e2e: E2EConfig = field(default_factory=E2EConfig)
    text: TextPartConfig = field(default_factory=TextPartConfig)

    def __post_init__(self):
        for name, values, allowed in (("systems", self.systems, SYSTEMS), ("protocols", self.protocols, PROTOCOLS)):
            if not values or any(v not in allowed for v in values):
                raise ConfigError(f"{name}: expected a non-empty list of {allowed}, got {values}")
        if self.text.train_on not in ("gold", "asr", "both"):
            raise ConfigError(f"text.train_on: expected gold, asr or both, got {self.text.train_on!r}")
        if self.asr.decode not in ("greedy", "run"):
            raise ConfigError(f"asr.decode: expected greedy or run, got {self.asr.decode!r}")
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed")
        if not 0 < self.inlanguage_steps <= 1:
            raise ConfigError(f"inlanguage_steps: a share in (0, 1], got {self.inlanguage_steps}")
