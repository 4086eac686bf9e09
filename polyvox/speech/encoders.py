"""Speech encoders shared by every task: a Hugging Face SSL model with the SUPERB layer-weighting "featurizer",
log-mel filterbanks + a small conv encoder, and speechbrain's ECAPA-TDNN. Each maps ``(wavs (B, S), wav_lens (B,))``
to ``(feats (B, T, D), feat_lens (B,))`` and has an ``output_dim``; they take plain arguments, not a task's config.

:func:`normalize_waveforms` is the one waveform normalisation (what ``Wav2Vec2FeatureExtractor`` does), used by this
module's HF encoder and by the HF CTC models of :mod:`polyvox.speech.asr.model`.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from polyvox.data.collate import FbankOptions, compute_fbank
from polyvox.speech.pooling import length_mask


def normalize_waveforms(wavs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per row over valid samples, 0 in padding (B, T) -> (B, T);
    the formula of ``Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm``."""
    m = mask.to(wavs.dtype)
    n = m.sum(1, keepdim=True).clamp(min=1)
    mean = (wavs * m).sum(1, keepdim=True) / n
    var = (((wavs - mean) * m) ** 2).sum(1, keepdim=True) / n
    return (wavs - mean) / torch.sqrt(var + 1e-7) * m


def uses_attention_mask(hf_config) -> bool:
    """Models whose CNN feature encoder uses group norm (wav2vec2-base) were trained on zero-padded input without a
    mask, as in Hugging Face's own recipes; layer-norm ones (XLS-R style) take the attention mask."""
    return getattr(hf_config, "feat_extract_norm", "layer") == "layer"


def hf_config_from_dict(config_dict: Mapping[str, Any]):
    """A transformers config from a run's saved ``config.to_dict()`` (no download)."""
    from transformers import AutoConfig

    config_dict = dict(config_dict)
    return AutoConfig.for_model(config_dict.pop("model_type"), **config_dict)


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
        self.pass_attention_mask = uses_attention_mask(cfg)
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
            x = normalize_waveforms(x, mask)
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


class FrozenAsrEncoder(nn.Module):
    """A trained CTC model's encoder (anything with ``encode(wavs, wav_lens)`` and ``hidden_size``, e.g.
    :class:`polyvox.speech.asr.model.ConformerCTC`), frozen and always in eval mode: the acoustic model of an ASR
    cascade reused as the upstream of an end-to-end classifier, so both systems hear through the same encoder."""

    def __init__(self, ctc_model: nn.Module):
        super().__init__()
        self.model = ctc_model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.output_dim = int(ctc_model.hidden_size)

    def train(self, mode: bool = True):  # frozen: SpecAugment and dropout stay off
        return super().train(False)

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(wavs (B, S), wav_lens (B,)) -> (hidden (B, F, D), lens (B,)), without gradients."""
        with torch.no_grad():
            return self.model.encode(wavs, wav_lens)

