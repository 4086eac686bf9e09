"""The text classification config (``recipes/text_classification/configs/*.yaml``): one dataclass per YAML section.
The tokenizer, model and train sections are also the text half of the speech classification recipe's cascades."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyvox.data.synth.intents import IntentCorpusConfig
from polyvox.train.config import ConfigError, TrainConfig


@dataclass
class TextDataConfig:
    train_manifest: str = ""  # JSONL manifests (rows with text / phonemes and custom[label_key]); "" = data.intents
    dev_manifest: str = ""
    test_manifest: str = ""
    intents: IntentCorpusConfig = field(default_factory=IntentCorpusConfig)
    label_key: str = "intent"
    text_form: str = "native"  # native | romanized | ipa (polyvox.text.forms)
    train_langs: list[str] = field(default_factory=list)  # [] = every language of the train manifest
    eval_langs: list[str] = field(default_factory=list)  # [] = every language of the test manifest (unseen: zero-shot)


@dataclass
class TokenizerConfig:
    name_or_path: str = ""  # a tokenizer directory or hub name (AutoTokenizer); "" = train one on the training text
    vocab_size: int = 1000
    model: str = "unigram"  # unigram (XLM-R's SentencePiece algorithm) | bpe


@dataclass
class TextModelConfig:
    """A small XLM-R built from this config (CPU), or ``name_or_path`` (e.g. xlm-roberta-base: the GPU path)."""

    name_or_path: str = ""
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 256
    dropout: float = 0.1
    max_length: int = 64  # tokens per text (longer texts are truncated)


@dataclass
class TextClassificationConfig:
    recipe: str = "text_classification"
    run_dir: str = "work/runs/text_classification"
    threads: int = 0  # torch threads; 0 = torch's default
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  # one model per seed: mean and spread
    data: TextDataConfig = field(default_factory=TextDataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: TextModelConfig = field(default_factory=TextModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    batch_size: int = 32

    def __post_init__(self):
        from polyvox.text.forms import TEXT_FORMS

        if self.data.text_form not in TEXT_FORMS:
            raise ConfigError(f"data.text_form: expected one of {TEXT_FORMS}, got {self.data.text_form!r}")
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed")
