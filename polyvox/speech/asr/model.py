"""CTC acoustic models ("backbones") behind one interface.

Every model maps a padded waveform batch to frame log-probabilities::

    log_probs, out_lens = model(wavs (B, T) float 16 kHz, wav_lens (B,) samples)
    # log_probs (B, F, V) log-softmax over the vocabulary, out_lens (B,) valid frames

Backbones (``ModelConfig.backbone``, the plain dict :data:`BACKBONES`):

* ``"conformer"``: log-mel fbank (:func:`polyvox.data.collate.compute_fbank`) -> SpecAugment
  (training only) -> conv subsampling -> ``torchaudio.models.Conformer`` [-> output upsampling: each frame's
  vector -> ``output_upsampling`` vectors] -> linear. The CPU default.
* ``"hf"``: any Hugging Face wav2vec2-family checkpoint (wav2vec2, XLS-R, HuBERT, WavLM) by
  ``name_or_path`` through ``AutoModelForCTC``, with a new CTC head sized to our vocabulary.
* ``"hf_scratch"``: the same architecture built from ``hf_config`` with random weights.

Hugging Face models are wrapped in :class:`HFCTC`; its ``hf`` attribute is the plain
``*ForCTC`` model, which :mod:`polyvox.speech.asr.export` saves as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn

from polyvox.speech.encoders import hf_config_from_dict, normalize_waveforms, uses_attention_mask


@dataclass
class ModelConfig:
    backbone: str = "conformer"  # a key of BACKBONES
    # --- conformer ---
    n_mels: int = 80
    d_model: int = 144
    num_layers: int = 4
    num_heads: int = 4
    ffn_dim: int = 576
    conv_kernel: int = 15
    dropout: float = 0.1
    subsampling: int = 4  # 2 or 4 (frames of 20 or 40 ms)
    subsampling_channels: int = 64  # of the two 3x3 convolutions; their backward pass is costly on CPU
    # CTC frames per encoder frame: 2 lets a 40 ms encoder emit at 20 ms, for spellings with more letters a second
    # than 25 frames can emit (French: a letter on 3 frames in 4). Off by default: from scratch a char run stalled
    # with it (dev CER 73 % after 2000 steps, 17 % without); from a phone run's encoder it learns (asr_ctc README)
    output_upsampling: int = 1
    # --- every backbone ---
    attribute_heads: bool = False  # Allophant-style multitask: a CTC head per articulatory feature (phoneme targets)
    attribute_weight: float = 0.3  # weight of the attribute heads' mean CTC loss next to the phone loss
    spec_time_masks: int = 2
    spec_time_width: int = 40  # max frames (10 ms) per time mask
    spec_freq_masks: int = 2
    spec_freq_width: int = 15  # max mel bins per frequency mask
    # --- hf / hf_scratch ---
    name_or_path: str = ""  # hub id or local directory (hf)
    model_type: str = "wav2vec2"  # architecture for hf_scratch: wav2vec2, hubert, wavlm
    hf_config: dict[str, Any] = field(default_factory=dict)  # extra config fields (both hf backbones)
    freeze_feature_encoder: bool = True
    mask_time_prob: float = 0.05  # SpecAugment-style masking inside the HF model
    mask_time_length: int = 10
    mask_feature_prob: float = 0.0
    mask_feature_length: int = 10
    layerdrop: float = 0.0


# ----------------------------------------------------------------------------------- conformer


class ConvSubsampling(nn.Module):
    """(B, F, n_mels) -> (B, F / factor, d_model) with two 3x3 convolutions (stride 2 each for
    factor 4; stride 2 then 1 for factor 2)."""

    def __init__(self, n_mels: int, d_model: int, factor: int = 4, channels: int = 64):
        super().__init__()
        if factor not in (2, 4):
            raise ValueError(f"model.subsampling must be 2 or 4, got {factor}")
        self.strides = (2, 2) if factor == 4 else (2, 1)
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=self.strides[0]),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=self.strides[1]),
            nn.ReLU(),
        )
        freq = n_mels
        for s in self.strides:
            freq = (freq - 3) // s + 1
        self.out = nn.Linear(channels * freq, d_model)

    def output_lengths(self, lens: torch.Tensor) -> torch.Tensor:
        for s in self.strides:
            lens = torch.div(lens - 3, s, rounding_mode="floor") + 1
        return lens.clamp(min=0)

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(x.unsqueeze(1))  # (B, C, F', M')
        b, c, t, m = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * m))
        return x, self.output_lengths(lens).clamp(max=t)


class ConformerCTC(nn.Module):
    """fbank + conv subsampling + torchaudio Conformer + linear CTC head."""

    def __init__(self, cfg: ModelConfig, vocab_size: int):
        super().__init__()
        import torchaudio
        from polyvox.data.collate import FbankOptions

        self.fbank = FbankOptions(n_mels=cfg.n_mels, normalize=True)
        self.specaug = torchaudio.transforms.SpecAugment(
            n_time_masks=cfg.spec_time_masks,
            time_mask_param=cfg.spec_time_width,
            n_freq_masks=cfg.spec_freq_masks,
            freq_mask_param=cfg.spec_freq_width,
            iid_masks=True,
            zero_masking=True,
        )
        self.subsample = ConvSubsampling(cfg.n_mels, cfg.d_model, cfg.subsampling, cfg.subsampling_channels)
        self.dropout = nn.Dropout(cfg.dropout)
        self.encoder = torchaudio.models.Conformer(
            input_dim=cfg.d_model,
            num_heads=cfg.num_heads,
            ffn_dim=cfg.ffn_dim,
            num_layers=cfg.num_layers,
            depthwise_conv_kernel_size=cfg.conv_kernel,
            dropout=cfg.dropout,
        )
        self.upsample = output_upsampler(cfg.d_model, cfg.output_upsampling)
        self.head = nn.Linear(cfg.d_model, vocab_size)
        self.attribute_head = build_attribute_head(cfg, cfg.d_model)
        if cfg.output_upsampling > 1 and cfg.attribute_heads:
            raise ValueError("model.attribute_heads needs model.output_upsampling: 1 (the heads read encoder frames)")

    @property
    def hidden_size(self) -> int:
        return self.head.in_features

    def encode(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The CTC head's input: (hidden (B, F, d_model), out_lens (B,)); what a frozen-encoder classifier pools."""
        from polyvox.data.collate import compute_fbank

        feats, lens = compute_fbank(wavs, wav_lens, self.fbank)  # (B, F, n_mels)
        if self.training and feats.shape[1] > 1:
            feats = self.specaug(feats.transpose(1, 2)).transpose(1, 2)
        x, lens = self.subsample(feats, lens)
        x, lens = self.encoder(self.dropout(x), lens.clamp(min=1))
        return self.dropout(x), lens

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor, with_attributes: bool = False):
        """-> (log_probs (B, F, V), out_lens (B,)), plus attribute log-probs (B, F, K, 4) when
        ``with_attributes`` (the model must have been built with ``attribute_heads``)."""
        x, lens = self.encode(wavs, wav_lens)
        frames, frame_lens = upsample_frames(self.upsample, x, lens)
        log_probs = torch.log_softmax(self.head(frames).float(), dim=-1)
        return (log_probs, frame_lens, attributes_of(self.attribute_head, x)) if with_attributes else (log_probs,
                                                                                                      frame_lens)


def output_upsampler(d_model: int, factor: int) -> nn.Linear | None:
    """A fresh linear map of each encoder frame (d_model) to ``factor`` CTC frames (factor x d_model), None for 1.
    Randomly initialized: started as ``factor`` copies of the frame (identity blocks), a char run from a phone
    run's encoder was at 37 % dev CER after 1000 steps instead of 6 % (the copies learn to differ only slowly)."""
    if factor < 1:
        raise ValueError(f"model.output_upsampling must be >= 1, got {factor}")
    return nn.Linear(d_model, d_model * factor) if factor > 1 else None


def upsample_frames(upsample: nn.Linear | None, x: torch.Tensor, lens: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, F, D), (B,) -> (B, F * k, D), (B,) * k: frame f's k vectors in order (identity when ``upsample`` is None)."""
    if upsample is None:
        return x, lens
    k = upsample.out_features // upsample.in_features
    return upsample(x).reshape(x.shape[0], x.shape[1] * k, x.shape[2]), lens * k


# ----------------------------------------------------------------------------------- hugging face


class HFCTC(nn.Module):
    """A Hugging Face ``*ForCTC`` model behind the polyvox interface.

    Waveforms are normalized per utterance over their valid samples exactly as
    ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does, so an exported model run through
    ``transformers.pipeline`` sees the same input. The attention mask is passed only to models
    whose feature encoder uses layer norm (XLS-R style); group-norm models (wav2vec2-base) expect
    zero padding and no mask, as in Hugging Face's own recipes.
    """

    def __init__(self, hf_model: nn.Module, attribute_head: nn.Linear | None = None):
        super().__init__()
        self.hf = hf_model
        self.attribute_head = attribute_head  # outside ``hf``: export saves the phone model only
        self.use_attention_mask = uses_attention_mask(hf_model.config)

    @property
    def hidden_size(self) -> int:
        return int(self.hf.config.hidden_size)

    def encode(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Same contract as :meth:`ConformerCTC.encode`: the last hidden state, the CTC head's input."""
        wav_lens = wav_lens.to(wavs.device)
        mask = torch.arange(wavs.shape[1], device=wavs.device)[None, :] < wav_lens[:, None]
        x = normalize_waveforms(wavs.float(), mask)
        out = self.hf(x, attention_mask=mask.long() if self.use_attention_mask else None, output_hidden_states=True)
        hidden = out.hidden_states[-1]
        return hidden, self.hf._get_feat_extract_output_lengths(wav_lens).long().clamp(max=hidden.shape[1])

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor, with_attributes: bool = False):
        """Same contract as :meth:`ConformerCTC.forward`."""
        wav_lens = wav_lens.to(wavs.device)
        mask = torch.arange(wavs.shape[1], device=wavs.device)[None, :] < wav_lens[:, None]
        x = normalize_waveforms(wavs.float(), mask)
        out = self.hf(x, attention_mask=mask.long() if self.use_attention_mask else None,
                      output_hidden_states=with_attributes)
        lens = self.hf._get_feat_extract_output_lengths(wav_lens).long().clamp(max=out.logits.shape[1])
        log_probs = torch.log_softmax(out.logits.float(), dim=-1)
        if with_attributes:  # the encoder's last hidden state, the input of the CTC head
            return log_probs, lens, attributes_of(self.attribute_head, out.hidden_states[-1])
        return log_probs, lens


def build_attribute_head(cfg: ModelConfig, hidden_size: int) -> nn.Linear | None:
    """The attribute heads (one linear layer, K features x 4 classes) if ``cfg.attribute_heads``."""
    if not cfg.attribute_heads:
        return None
    from polyvox.speech.attributes import NUM_CLASSES, num_attributes

    return nn.Linear(hidden_size, num_attributes() * NUM_CLASSES)


def attributes_of(head: nn.Linear | None, hidden: torch.Tensor) -> torch.Tensor:
    if head is None:
        raise ValueError("this model has no attribute heads (build it with model.attribute_heads: true)")
    from polyvox.speech.attributes import attribute_log_probs

    return attribute_log_probs(head, hidden)


def _hf_kwargs(cfg: ModelConfig, vocab_size: int) -> dict:
    return {
        "vocab_size": vocab_size,
        "pad_token_id": 0,
        "ctc_loss_reduction": "mean",
        "ctc_zero_infinity": True,
        "mask_time_prob": cfg.mask_time_prob,
        "mask_time_length": cfg.mask_time_length,
        "mask_feature_prob": cfg.mask_feature_prob,
        "mask_feature_length": cfg.mask_feature_length,
        "layerdrop": cfg.layerdrop,
        **cfg.hf_config,
    }


def _check_no_upsampling(factor: int) -> None:
    if factor != 1:
        raise ValueError("model.output_upsampling is for the conformer backbone; hf models emit one frame each")


def _finish_hf(cfg: ModelConfig, hf_model: nn.Module) -> HFCTC:
    _check_no_upsampling(cfg.output_upsampling)
    if cfg.freeze_feature_encoder and hasattr(hf_model, "freeze_feature_encoder"):
        hf_model.freeze_feature_encoder()
    return HFCTC(hf_model, build_attribute_head(cfg, hf_model.config.hidden_size))


def build_hf_pretrained(cfg: ModelConfig, vocab_size: int) -> HFCTC:
    """Pretrained encoder from ``cfg.name_or_path`` (hub id or local dir) + a fresh CTC head."""
    from transformers import AutoModelForCTC

    if not cfg.name_or_path:
        raise ValueError("model.name_or_path is required for backbone 'hf' (e.g. facebook/wav2vec2-xls-r-300m)")
    hf_model = AutoModelForCTC.from_pretrained(
        cfg.name_or_path, ignore_mismatched_sizes=True, **_hf_kwargs(cfg, vocab_size)
    )
    return _finish_hf(cfg, hf_model)


def build_hf_scratch(cfg: ModelConfig, vocab_size: int) -> HFCTC:
    """The Hugging Face architecture ``cfg.model_type`` from ``cfg.hf_config``, random weights."""
    from transformers import AutoConfig, AutoModelForCTC

    config = AutoConfig.for_model(cfg.model_type, **_hf_kwargs(cfg, vocab_size))
    return _finish_hf(cfg, AutoModelForCTC.from_config(config))


def hf_model_from_config(config_dict: dict, cfg: ModelConfig) -> HFCTC:
    """Rebuild a trained run's HF model from its saved config (no download); weights loaded later."""
    from transformers import AutoModelForCTC

    return _finish_hf(cfg, AutoModelForCTC.from_config(hf_config_from_dict(config_dict)))


BACKBONES: dict[str, Callable[[ModelConfig, int], nn.Module]] = {
    "conformer": ConformerCTC,
    "hf": build_hf_pretrained,
    "hf_scratch": build_hf_scratch,
}


def build_model(cfg: ModelConfig, vocab_size: int) -> nn.Module:
    """A fresh model for ``cfg.backbone`` with a ``vocab_size``-way CTC output."""
    if cfg.backbone not in BACKBONES:
        raise ValueError(f"unknown model.backbone {cfg.backbone!r}; expected one of {sorted(BACKBONES)}")
    return BACKBONES[cfg.backbone](cfg, vocab_size)


def output_layer(model: nn.Module) -> nn.Linear:
    """The final vocabulary projection (for resizing when a vocabulary grows)."""
    if isinstance(model, HFCTC):
        return model.hf.lm_head
    return model.head


def set_output_layer(model: nn.Module, layer: nn.Linear) -> None:
    if isinstance(model, HFCTC):
        model.hf.lm_head = layer
        model.hf.config.vocab_size = layer.out_features
    else:
        model.head = layer


def replace_output(model: nn.Module, new_size: int, upsampling: int = 1) -> None:
    """A fresh CTC head of ``new_size`` outputs, in place: the encoder is kept, the old head dropped (a run trained
    on one unit, e.g. phones, starting a run on another, e.g. characters); for a conformer, a fresh output
    upsampling of ``upsampling`` CTC frames per encoder frame too."""
    old = output_layer(model)
    if isinstance(model, HFCTC):
        _check_no_upsampling(upsampling)
    else:
        up = output_upsampler(old.in_features, upsampling)
        model.upsample = up.to(old.weight.device, old.weight.dtype) if up is not None else None
    set_output_layer(model, nn.Linear(old.in_features, new_size).to(old.weight.device, old.weight.dtype))


def resize_output(model: nn.Module, new_size: int) -> None:
    """Grow the CTC head to ``new_size`` outputs in place; old rows are kept, new rows start at
    the mean of the old ones (few-shot adaptation to a language with new tokens)."""
    old = output_layer(model)
    if new_size == old.out_features:
        return
    if new_size < old.out_features:
        raise ValueError(f"cannot shrink the output layer from {old.out_features} to {new_size}")
    new = nn.Linear(old.in_features, new_size).to(old.weight.device, old.weight.dtype)
    with torch.no_grad():
        new.weight[: old.out_features] = old.weight
        new.bias[: old.out_features] = old.bias
        new.weight[old.out_features :] = old.weight.mean(0)
        new.bias[old.out_features :] = old.bias.mean()
    set_output_layer(model, new)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
