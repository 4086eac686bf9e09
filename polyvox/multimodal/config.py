"""The speech classification config (``recipes/speech_classification/configs/*.yaml``): end-to-end speech
classifiers and ASR -> text cascades side by side on the same splits."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyvox.data.synth.facts import FactsCorpusConfig
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
    # what a char run trained here starts from: "" (scratch), "phone" (the phone recognizer above, trained first when
    # missing: its encoder, a fresh head) or a trained CTC run's dir
    char_init: str = ""
    char_max_steps: int = 0  # steps of the char run; 0 = max_steps
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


QA_TASKS = ("closed_book", "comprehension")  # CCFQA-style spoken questions; Spoken-SQuAD-style spoken contexts
QA_SOURCES = ("facts", "ccfqa", "spoken_squad")


@dataclass
class SpokenQADataConfig:
    source: str = "facts"  # facts (built-in, SYNTHETIC) | ccfqa | spoken_squad (a release on disk: data.path)
    path: str = ""  # ccfqa: the folder holding jsonl/{valid,test}.jsonl; spoken_squad: the folder of its JSON files
    facts: FactsCorpusConfig = field(default_factory=FactsCorpusConfig)
    train_langs: list[str] = field(default_factory=list)  # [] = every language of the training split
    eval_langs: list[str] = field(default_factory=list)  # [] = every test language (those not trained on: zero-shot)
    # written-only questions (Spoken-SQuAD's) read aloud by espeak-ng, for the systems that hear the question (the
    # end-to-end listener, the spoken-question cascade); false: those systems are left out on such data
    speak_questions: bool = True
    context_pause_s: float = 0.4  # a pause this long cuts a spoken context into the pieces the listener chooses from


@dataclass
class SelectorConfig:
    """The end-to-end listener (:class:`polyvox.multimodal.spoken_qa.RecordSelector`) on the char ASR's frozen frames."""

    hidden: int = 128
    train: TrainConfig = field(default_factory=TrainConfig)
    batch_size: int = 32


@dataclass
class SpokenQAConfig:
    recipe: str = "spoken_qa"
    run_dir: str = "work/runs/spoken_qa"
    threads: int = 0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    tasks: list[str] = field(default_factory=lambda: list(QA_TASKS))
    systems: list[str] = field(default_factory=lambda: list(SYSTEMS))  # e2e, and the cascades' text forms
    data: SpokenQADataConfig = field(default_factory=SpokenQADataConfig)
    asr: AsrRunsConfig = field(default_factory=AsrRunsConfig)
    e2e: E2EConfig = field(default_factory=E2EConfig)  # closed-book: frozen encoder -> pooling -> answer classes
    selector: SelectorConfig = field(default_factory=SelectorConfig)  # comprehension: which record answers
    text: TextPartConfig = field(default_factory=TextPartConfig)  # closed-book: question text -> answer class
    qa: TextPartConfig = field(default_factory=TextPartConfig)  # comprehension: (question, context) -> answer span
    max_answer_tokens: int = 12
    long_form_contexts: bool = False  # decode contexts piece by piece between pauses (for minutes-long contexts)

    def __post_init__(self):
        for name, values, allowed in (("tasks", self.tasks, QA_TASKS), ("systems", self.systems, SYSTEMS)):
            if not values or any(v not in allowed for v in values):
                raise ConfigError(f"{name}: expected a non-empty list of {allowed}, got {values}")
        if self.data.source not in QA_SOURCES:
            raise ConfigError(f"data.source: expected one of {QA_SOURCES}, got {self.data.source!r}")
        if self.data.source != "facts" and not self.data.path:
            raise ConfigError(f"data.path: the {self.data.source} release's folder is needed for data.source="
                              f"{self.data.source}")
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed")
        if self.asr.decode not in ("greedy", "run"):
            raise ConfigError(f"asr.decode: expected greedy or run, got {self.asr.decode!r}")
