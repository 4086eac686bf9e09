"""Utterance-level classification (emotion, abuse, ...): encoder -> pooling -> head.

:class:`UtteranceClassifier` is a composition of three modules chosen by
:func:`build_classifier` from plain registry dicts:

* encoder (``ENCODERS``), every one maps ``(wavs (B, S), wav_lens (B,))`` to
  ``(feats (B, T, D), feat_lens (B,))`` and has an ``output_dim`` attribute:

  - ``"hf"``: a Hugging Face self-supervised model loaded by ``name_or_path`` (AutoModel:
    wav2vec 2.0, HuBERT, WavLM, XLS-R, ...), frozen or fine-tuned, with a learnable
    softmax-weighted sum over all its hidden layers (the SUPERB "featurizer").
  - ``"fbank"``: log-mel filterbanks + a small residual 1-D conv encoder from scratch (CPU-sized).
  - ``"ecapa"``: speechbrain's ECAPA-TDNN from scratch on filterbanks, a strong baseline.
    It pools internally (attentive statistics), so it returns one "frame" per utterance.
  - ``"asr"``: the frozen encoder of a trained polyvox CTC run (``name_or_path`` = its run directory), so an
    end-to-end classifier hears through the same acoustic model as an ASR cascade.

* pooling (``polyvox.speech.pooling.POOLINGS``): mean, stats (mean+std), attentive_stats,
  all masked by ``feat_lens``.
* head: a small MLP to ``num_classes`` logits.

Class imbalance: :func:`class_weights` (for weighted cross-entropy) and
:func:`balanced_sample_weights` (for ``torch.utils.data.WeightedRandomSampler``), both from the
training labels only.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from polyvox.speech.encoders import EcapaEncoder, FbankEncoder, FrozenAsrEncoder, HFEncoder, hf_config_from_dict
from polyvox.speech.pooling import POOLINGS

log = logging.getLogger(__name__)


@dataclass
class ClassifierConfig:
    """Everything :func:`build_classifier` needs; maps 1:1 onto the ``model:`` YAML section."""

    num_classes: int = 0  # 0 = set from the training labels by the recipe
    encoder: str = "fbank"  # one of ENCODERS: hf | fbank | ecapa | asr
    # --- hf / asr encoders
    name_or_path: str = ""  # hf: local directory or hub name of an SSL model (AutoModel); asr: a CTC run directory
    freeze_encoder: bool = True  # True: SUPERB-style frozen upstream; False: fine-tune it
    freeze_feature_encoder: bool = True  # when fine-tuning, keep the conv waveform encoder frozen
    layer_weighting: bool = True  # softmax-weighted sum of all hidden layers; False: last layer
    normalize_waveform: bool = True  # zero-mean unit-variance per utterance, as wav2vec 2.0 expects
    # --- fbank / ecapa encoders
    n_mels: int = 80
    fbank_normalize: bool = True  # per-utterance mean/variance normalization (drops absolute level)
    encoder_dim: int = 256
    encoder_layers: int = 3  # fbank encoder only
    # --- pooling and head
    pooling: str = "auto"  # mean | stats | attentive_stats | auto (ecapa: mean, else attentive_stats)
    attention_dim: int = 128
    head_hidden: int = 256  # 0: a single linear layer
    dropout: float = 0.1
    sample_rate: int = 16000

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ClassifierConfig":
        """Build from a plain dict; an unknown key is an error naming it."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown classifier config key(s) {unknown}; allowed: {', '.join(sorted(names))}")
        return cls(**d)


# ----------------------------------------------------------------------------- encoders (polyvox.speech.encoders)


def load_hf_encoder(cfg: ClassifierConfig) -> HFEncoder:
    """AutoModel.from_pretrained(cfg.name_or_path) wrapped in :class:`HFEncoder`."""
    from transformers import AutoModel

    if not cfg.name_or_path:
        raise ValueError("model.name_or_path is empty; the 'hf' encoder needs a model directory or name")
    return _wrap_hf(AutoModel.from_pretrained(cfg.name_or_path), cfg)


def hf_encoder_from_config(config_dict: Mapping[str, Any], cfg: ClassifierConfig) -> HFEncoder:
    """Rebuild a trained run's HF encoder from its saved ``config.to_dict()`` with random
    weights (no download); the run's weights are loaded afterwards."""
    from transformers import AutoModel

    return _wrap_hf(AutoModel.from_config(hf_config_from_dict(config_dict)), cfg)


def _wrap_hf(model: nn.Module, cfg: ClassifierConfig) -> HFEncoder:
    if not hasattr(model.config, "num_hidden_layers") or not hasattr(model.config, "hidden_size"):
        raise ValueError(f"{cfg.name_or_path}: not a speech encoder with hidden layers (config lacks num_hidden_layers/hidden_size)")
    return HFEncoder(model, freeze=cfg.freeze_encoder, layer_weighting=cfg.layer_weighting,
                     normalize_waveform=cfg.normalize_waveform, freeze_feature_encoder=cfg.freeze_feature_encoder)


def load_asr_encoder(cfg: ClassifierConfig) -> FrozenAsrEncoder:
    """The frozen encoder of the polyvox CTC run in ``cfg.name_or_path`` (never downloads)."""
    from polyvox.speech.asr.run import load_run

    if not cfg.name_or_path:
        raise ValueError("model.name_or_path is empty; the 'asr' encoder needs a trained CTC run directory")
    return FrozenAsrEncoder(load_run(cfg.name_or_path, device="cpu").model)


ENCODERS: dict[str, Callable[[ClassifierConfig], nn.Module]] = {
    "hf": load_hf_encoder,
    "asr": load_asr_encoder,
    "fbank": lambda c: FbankEncoder(c.n_mels, c.encoder_dim, c.encoder_layers, c.dropout, c.sample_rate,
                                    c.fbank_normalize),
    "ecapa": lambda c: EcapaEncoder(c.n_mels, c.encoder_dim, c.sample_rate),
}


# ----------------------------------------------------------------------------- model


def mlp_head(in_dim: int, num_classes: int, hidden: int = 256, dropout: float = 0.1) -> nn.Sequential:
    """(B, in_dim) -> (B, num_classes) logits; ``hidden == 0`` gives one linear layer."""
    if hidden <= 0:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, num_classes))
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))


class UtteranceClassifier(nn.Module):
    """encoder -> pooling -> head. forward: wavs (B, S), wav_lens (B,) -> logits (B, num_classes)."""

    def __init__(self, encoder: nn.Module, pooling: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.head = head

    def embed(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """Pooled utterance embeddings, (B, pooling.output_dim)."""
        feats, lens = self.encoder(wavs, wav_lens)
        return self.pooling(feats, lens)

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(wavs, wav_lens))


def build_classifier(cfg: ClassifierConfig | Mapping[str, Any],
                     encoder: nn.Module | None = None) -> UtteranceClassifier:
    """Assemble an :class:`UtteranceClassifier` from a config (dataclass or plain dict).
    ``encoder`` replaces the one the config would build (e.g. an HF model rebuilt from a saved
    config by :func:`hf_encoder_from_config`)."""
    if not isinstance(cfg, ClassifierConfig):
        cfg = ClassifierConfig.from_dict(cfg)
    if cfg.encoder not in ENCODERS:
        raise ValueError(f"model.encoder: unknown encoder {cfg.encoder!r}; expected one of {sorted(ENCODERS)}")
    if cfg.num_classes < 2:
        raise ValueError(f"model.num_classes must be >= 2, got {cfg.num_classes} (recipes set it from the training labels)")
    pooling_name = cfg.pooling
    if pooling_name == "auto":
        pooling_name = "mean" if cfg.encoder == "ecapa" else "attentive_stats"
    if pooling_name not in POOLINGS:
        raise ValueError(f"model.pooling: unknown pooling {cfg.pooling!r}; expected auto or one of {sorted(POOLINGS)}")
    if cfg.encoder == "ecapa" and pooling_name != "mean":
        raise ValueError("model.pooling: ECAPA-TDNN pools internally (one vector per utterance); use 'mean' or 'auto'")
    encoder = encoder if encoder is not None else ENCODERS[cfg.encoder](cfg)
    if pooling_name == "attentive_stats":
        pooling = POOLINGS[pooling_name](encoder.output_dim, cfg.attention_dim)
    else:
        pooling = POOLINGS[pooling_name](encoder.output_dim)
    head = mlp_head(pooling.output_dim, cfg.num_classes, cfg.head_hidden, cfg.dropout)
    return UtteranceClassifier(encoder, pooling, head)


# ----------------------------------------------------------------------------- labels and imbalance


def label_vocab(utts: Sequence, key: str) -> list[str]:
    """Sorted distinct values of ``utt.custom[key]``; an utterance lacking the key is an error."""
    return sorted({_label_of(u, key) for u in utts})


def _label_of(utt, key: str) -> str:
    if key not in utt.custom:
        raise ValueError(f"utterance {utt.id!r}: custom field {key!r} missing (has {sorted(utt.custom)})")
    return str(utt.custom[key])


def encode_labels(utts: Sequence, key: str, vocab: Sequence[str]) -> list[int]:
    """Index of each utterance's ``custom[key]`` in ``vocab``; unknown labels are errors naming the utterance."""
    index = {lab: i for i, lab in enumerate(vocab)}
    out = []
    for u in utts:
        lab = _label_of(u, key)
        if lab not in index:
            raise ValueError(f"utterance {u.id!r}: label {lab!r} of {key!r} not in the label set {list(vocab)}")
        out.append(index[lab])
    return out


def class_counts(labels: Sequence[int], num_classes: int) -> list[int]:
    counts = Counter(int(y) for y in labels)
    bad = [y for y in counts if not 0 <= y < num_classes]
    if bad:
        raise ValueError(f"labels {sorted(bad)} outside [0, {num_classes})")
    return [counts.get(c, 0) for c in range(num_classes)]


def class_weights(labels: Sequence[int], num_classes: int, power: float = 1.0) -> torch.Tensor:
    """Cross-entropy class weights ``(N / (C * count_c)) ** power``, shape (num_classes,).

    Balanced classes give all ones; ``power=0.5`` softens the correction. A class absent from
    the training labels gets weight 0 (it has no targets to weigh) and a warning.
    """
    counts = class_counts(labels, num_classes)
    n = sum(counts)
    w = [(n / (num_classes * c)) ** power if c else 0.0 for c in counts]
    missing = [i for i, c in enumerate(counts) if c == 0]
    if missing:
        log.warning("classes %s have no training examples", missing)
    return torch.tensor(w, dtype=torch.float32)


def balanced_sample_weights(labels: Sequence[int]) -> list[float]:
    """Per-example weights ``1 / count(label)``: each class is drawn equally often by
    ``WeightedRandomSampler(weights, num_samples=len(labels))``."""
    counts = Counter(int(y) for y in labels)
    return [1.0 / counts[int(y)] for y in labels]
