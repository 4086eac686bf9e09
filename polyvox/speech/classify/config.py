"""The utterance-classification config (emotion, abuse detection): one dataclass per YAML section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from polyvox.data.augment import AugmentConfig
from polyvox.speech.classify.model import ClassifierConfig
from polyvox.train.config import TrainConfig

SYNTH_LABEL_KEYS = {"emotion": "emotion", "abuse": "label"}
# finetune: the source head fine-tuned; fomaml / maml: meta-trained head + inner-loop SGD (classic);
# *+ft: the meta-trained head fine-tuned exactly like the baseline (only the starting point differs).
FEWSHOT_METHODS = ("finetune", "fomaml", "maml", "fomaml+ft", "maml+ft")
METHOD_NAMES = {"finetune": "fine-tune", "fomaml": "FOMAML", "maml": "MAML", "fomaml+ft": "FOMAML init + fine-tune",
                "maml+ft": "MAML init + fine-tune", "none": "no adaptation"}


@dataclass
class SynthConfig:
    """A SYNTHETIC espeak-ng corpus (``polyvox.data.synth.tasks``), used when no manifests are given."""

    task: Literal["emotion", "abuse"] = "emotion"
    langs: list[str] = field(default_factory=lambda: ["en", "de", "es", "hi"])
    utts_per_lang: int = 80
    emotions: list[str] = field(default_factory=lambda: ["neutral", "happy", "sad", "angry"])  # emotion task only
    positive_fraction: float = 0.5  # abuse task only
    flagged_per_lang: int = 20  # abuse task only: stand-in flagged words per language
    speakers: int = 4
    # Speaker shares of train/dev/test in each language (speaker-disjoint).
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "dev": 0.1, "test": 0.1})
    jitter: float = 1.0
    engines: list[str] = field(default_factory=lambda: ["espeak"])  # abuse task: + flite, festival voices
    seed: int = 0
    dir: str = ""  # default: work/synth_<task>/<hash of the spec>


@dataclass
class PrepareConfig:
    """A real corpus in its distributed layout, turned into manifests by
    ``polyvox.data.corpora.PREPARERS[corpus](root, out_dir)`` (cached)."""

    corpus: str = ""  # adima | crema_d | ravdess | emodb | iemocap; "" = not used
    root: str = ""  # e.g. /data/ADIMA (annotations/*_train.csv, *_test.csv and the audio)
    out_dir: str = ""  # default: work/<corpus>


@dataclass
class DataConfig:
    label_key: str = "emotion"  # utterances' custom[label_key] is the class
    train_manifest: str = ""  # JSONL manifests; all empty = data.prepare, else the synthetic corpus
    dev_manifest: str = ""
    test_manifest: str = ""
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    train_langs: list[str] = field(default_factory=list)  # [] = every language in the train manifest
    eval_langs: list[str] = field(default_factory=list)  # [] = every language in the test manifest
    balance: Literal["none", "class_weights", "sampler"] = "class_weights"
    max_batch_seconds: float = 32.0  # padded audio per batch
    min_duration: float = 0.2
    max_duration: float = 20.0
    num_workers: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # per-utterance noise, reverb, EQ, VTLP... (off)


@dataclass
class TransferConfig:
    langs: list[str] = field(default_factory=list)  # matrix rows: one run per language; [] = data.train_langs or all
    multilingual: bool = True  # add the row trained on all of them together


@dataclass
class FewShotConfig:
    """Few-shot adaptation to an unseen language; see :func:`fewshot_experiment`."""

    target_lang: str = ""  # the unseen language; must not be a training language
    target_utts: int = 0  # > 0: synthesize this many target-language utterances (synthetic corpora)
    target_speakers: int = 6  # synthetic target corpus: speakers (2/3 give the support pool, 1/3 the test set)
    source_run: str = ""  # a trained run (encoder + head) to start from; "" = RUN/from-all (trained if missing)
    shots: list[int] = field(default_factory=lambda: [10, 50, 100, 200])  # k labelled utterances per class
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    methods: list[str] = field(default_factory=lambda: list(FEWSHOT_METHODS))
    finetune_lr: float = 5e-3  # Adam on the head, full-batch steps on the k-shot support set
    finetune_steps: int = 50
    inner_lr: float = 0.3  # MAML inner-loop SGD learning rate (the head is standardized: see plain_head)
    inner_steps: int = 5  # inner steps while meta-training
    test_inner_steps: int = 5  # inner-loop steps when (fo)maml adapts to the target language
    meta_steps: int = 200  # outer updates
    meta_lr: float = 1e-3  # Adam on the meta-gradient
    meta_tasks: int = 4  # languages per meta-batch
    meta_shots: int = 5  # support utterances per class in a meta-training episode
    meta_query: int = 10  # query utterances per class in a meta-training episode (fewer if a language has fewer)


@dataclass
class ClassificationConfig:
    run_dir: str = "work/runs/classification"
    protocol: Literal["standard", "transfer", "fewshot", "all"] = "standard"
    data: DataConfig = field(default_factory=DataConfig)
    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    fewshot: FewShotConfig = field(default_factory=FewShotConfig)
