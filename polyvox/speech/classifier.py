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

from polyvox.data.collate import FbankOptions, compute_fbank
from polyvox.speech.pooling import POOLINGS, length_mask

log = logging.getLogger(__name__)


@dataclass
class ClassifierConfig:
    """Everything :func:`build_classifier` needs; maps 1:1 onto the ``model:`` YAML section."""

    num_classes: int = 0  # 0 = set from the training labels by the recipe
    encoder: str = "fbank"  # one of ENCODERS: hf | fbank | ecapa
    # --- hf encoder
    name_or_path: str = ""  # local directory or hub name of an SSL model (AutoModel)
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


# ----------------------------------------------------------------------------- encoders


class HFEncoder(nn.Module):
    """A Hugging Face speech SSL model with a learnable weighted sum of its hidden layers.

    forward: wavs (B, S) float at 16 kHz, wav_lens (B,) samples ->
    feats (B, T, hidden_size), feat_lens (B,) frames (T is about S / 320 for wav2vec 2.0).
    Frozen: no gradients flow into the model and it stays in eval mode (no dropout) even when
    the classifier is put in train mode; only the layer weights (and pooling/head) learn.
    """

    def __init__(self, model: nn.Module, *, freeze: bool = True, layer_weighting: bool = True,
                 normalize_waveform: bool = True, freeze_feature_encoder: bool = True):
        super().__init__()
        self.model = model
        self.freeze = freeze
        self.normalize_waveform = normalize_waveform
        cfg = model.config
        self.output_dim = int(cfg.hidden_size)
        n_states = int(cfg.num_hidden_layers) + 1  # + the CNN/projection output before layer 1
        self.layer_logits = nn.Parameter(torch.zeros(n_states)) if layer_weighting else None
        # Models whose CNN uses group norm were trained on zero-padded input without a mask.
        self.pass_attention_mask = getattr(cfg, "feat_extract_norm", "layer") != "group"
        if freeze:
            for p in self.model.parameters():
                p.requires_grad_(False)
            self.model.eval()
        elif freeze_feature_encoder and hasattr(self.model, "freeze_feature_encoder"):
            self.model.freeze_feature_encoder()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    def layer_weights(self) -> torch.Tensor | None:
        """(num_hidden_layers + 1,) softmax weights, or None without layer weighting."""
        return None if self.layer_logits is None else torch.softmax(self.layer_logits, dim=0)

    def frame_lengths(self, wav_lens: torch.Tensor, num_frames: int, num_samples: int) -> torch.Tensor:
        fn = getattr(self.model, "_get_feat_extract_output_lengths", None)
        if fn is not None:
            lens = fn(wav_lens)
        else:  # proportional fallback for models without the helper
            lens = torch.ceil(wav_lens.float() * num_frames / max(num_samples, 1))
        return lens.long().clamp(min=1, max=num_frames)

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = length_mask(wav_lens, wavs.shape[1])
        x = wavs.float()
        if self.normalize_waveform:
            n = wav_lens.clamp(min=1).to(x.dtype)[:, None]
            mean = (x * mask).sum(1, keepdim=True) / n
            var = (((x - mean) * mask) ** 2).sum(1, keepdim=True) / n
            x = (x - mean) / torch.sqrt(var + 1e-7) * mask
        kwargs = {"attention_mask": mask.long()} if self.pass_attention_mask else {}
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            out = self.model(x, output_hidden_states=True, **kwargs)
        states = out.hidden_states
        if self.layer_logits is None:
            feats = states[-1]
        else:
            stacked = torch.stack(states, dim=0)  # (L+1, B, T, D)
            feats = (self.layer_weights()[:, None, None, None] * stacked).sum(0)
        return feats, self.frame_lengths(wav_lens, feats.shape[1], wavs.shape[1])


def load_hf_encoder(cfg: ClassifierConfig) -> HFEncoder:
    """AutoModel.from_pretrained(cfg.name_or_path) wrapped in :class:`HFEncoder`."""
    from transformers import AutoModel

    if not cfg.name_or_path:
        raise ValueError("model.name_or_path is empty; the 'hf' encoder needs a model directory or name")
    return _wrap_hf(AutoModel.from_pretrained(cfg.name_or_path), cfg)


def hf_encoder_from_config(config_dict: Mapping[str, Any], cfg: ClassifierConfig) -> HFEncoder:
    """Rebuild a trained run's HF encoder from its saved ``config.to_dict()`` with random
    weights (no download); the run's weights are loaded afterwards."""
    from transformers import AutoConfig, AutoModel

    config_dict = dict(config_dict)
    config = AutoConfig.for_model(config_dict.pop("model_type"), **config_dict)
    return _wrap_hf(AutoModel.from_config(config), cfg)


def _wrap_hf(model: nn.Module, cfg: ClassifierConfig) -> HFEncoder:
    if not hasattr(model.config, "num_hidden_layers") or not hasattr(model.config, "hidden_size"):
        raise ValueError(f"{cfg.name_or_path}: not a speech encoder with hidden layers (config lacks num_hidden_layers/hidden_size)")
    return HFEncoder(model, freeze=cfg.freeze_encoder, layer_weighting=cfg.layer_weighting,
                     normalize_waveform=cfg.normalize_waveform, freeze_feature_encoder=cfg.freeze_feature_encoder)


class ConvBlock(nn.Module):
    """Residual block: LayerNorm -> Conv1d(k=5) -> GELU -> dropout, on (B, T, D)."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size=5, padding=2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.norm(x).transpose(1, 2)).transpose(1, 2)
        # Zero padded frames so they never leak into valid ones through the next conv.
        return (x + self.drop(nn.functional.gelu(y))) * mask


class FbankEncoder(nn.Module):
    """Log-mel filterbanks + a linear projection + residual conv blocks, trained from scratch.

    forward: wavs (B, S), wav_lens (B,) -> feats (B, T, encoder_dim), feat_lens (B,)
    with T = 1 + (S - 400) // 160 frames (25 ms window, 10 ms hop at 16 kHz).
    """

    def __init__(self, n_mels: int = 80, dim: int = 256, layers: int = 3, dropout: float = 0.1,
                 sample_rate: int = 16000, normalize: bool = True):
        super().__init__()
        self.fbank = FbankOptions(sample_rate=sample_rate, n_mels=n_mels, normalize=normalize)
        self.output_dim = dim
        self.proj = nn.Linear(n_mels, dim)
        self.blocks = nn.ModuleList(ConvBlock(dim, dropout) for _ in range(layers))

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats, lens = compute_fbank(wavs, wav_lens, self.fbank)
        mask = length_mask(lens, feats.shape[1]).unsqueeze(-1).to(feats.dtype)
        x = self.proj(feats) * mask
        for block in self.blocks:
            x = block(x, mask)
        return x, lens


class EcapaEncoder(nn.Module):
    """speechbrain's ECAPA-TDNN on normalized log-mel filterbanks, from scratch.

    forward: wavs (B, S), wav_lens (B,) -> feats (B, 1, dim), feat_lens (B,) all ones.
    ECAPA-TDNN ends in its own attentive statistics pooling, so the output is already one
    vector per utterance; use ``pooling: mean`` (the identity on one frame) after it.
    """

    def __init__(self, n_mels: int = 80, dim: int = 192, sample_rate: int = 16000):
        super().__init__()
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

        self.fbank = FbankOptions(sample_rate=sample_rate, n_mels=n_mels, normalize=True)
        self.output_dim = dim
        c = max(dim, 64)
        self.ecapa = ECAPA_TDNN(n_mels, lin_neurons=dim, channels=[c, c, c, c, 3 * c],
                                attention_channels=min(128, c), se_channels=min(128, c))

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats, lens = compute_fbank(wavs, wav_lens, self.fbank)
        rel = lens.float() / max(feats.shape[1], 1)  # speechbrain takes relative lengths
        emb = self.ecapa(feats, rel)  # (B, 1, dim)
        return emb, torch.ones_like(lens)


ENCODERS: dict[str, Callable[[ClassifierConfig], nn.Module]] = {
    "hf": load_hf_encoder,
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
