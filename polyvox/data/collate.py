"""Batching decoded utterances: padded waveforms and, optionally, log-mel filterbanks.

:func:`compute_fbank` is a pure torch function (any device) that models can call on GPU;
:func:`collate_audio` is the DataLoader ``collate_fn`` for :class:`polyvox.data.dataset.AudioDataset`.

Framing is "valid" (no centering, no reflection padding): frame ``t`` covers samples
``[t * hop, t * hop + win)``. So a frame of a padded utterance is either entirely inside the
utterance, and then identical to computing that utterance alone, or it is beyond ``feat_lens``
and set to 0. Batched and one-by-one features therefore agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch


@dataclass(frozen=True)
class FbankOptions:
    """Log-mel filterbank settings (defaults: 80 mels, 25 ms window, 10 ms hop at 16 kHz)."""

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int | None = None  # default: next power of two >= window length
    f_min: float = 20.0
    f_max: float | None = None  # default: sample_rate / 2
    log_floor: float = 1e-6
    normalize: bool = False  # per-utterance mean/variance normalization over valid frames

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def fft_size(self) -> int:
        return self.n_fft or 1 << (self.win_length - 1).bit_length()


def fbank_lengths(wav_lens: torch.Tensor, opts: FbankOptions) -> torch.Tensor:
    """Frames per utterance for ``wav_lens`` samples: ``1 + (len - win) // hop``.

    An utterance shorter than one window gets a single (zero-padded) frame; length 0 gets 0.
    Shape (batch,) -> (batch,), int64.
    """
    win, hop = opts.win_length, opts.hop_length
    wav_lens = wav_lens.long()
    full = 1 + torch.div(wav_lens - win, hop, rounding_mode="floor")
    return torch.where(wav_lens >= win, full, (wav_lens > 0).long())


def compute_fbank(
    wavs: torch.Tensor, wav_lens: torch.Tensor, opts: FbankOptions = FbankOptions()
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel filterbanks of a padded batch.

    Args:
        wavs: (batch, time) float waveforms at ``opts.sample_rate``, zero-padded.
        wav_lens: (batch,) valid samples per row.
    Returns:
        feats: (batch, frames, n_mels) float32 ``log(max(mel power, log_floor))``, 0 beyond
            ``feat_lens``; mean/variance normalized per utterance over valid frames if
            ``opts.normalize``.
        feat_lens: (batch,) int64 valid frames per row (see :func:`fbank_lengths`).
    Runs on the device of ``wavs``.
    """
    import torchaudio

    if wavs.dim() != 2:
        raise ValueError(f"wavs must have shape (batch, time), got {tuple(wavs.shape)}")
    device = wavs.device
    wavs = wavs.float()
    wav_lens = wav_lens.to(device=device).long()
    win, hop, n_fft = opts.win_length, opts.hop_length, opts.fft_size
    if n_fft < win:
        raise ValueError(f"n_fft ({n_fft}) must be >= the window length ({win} samples)")
    feat_lens = fbank_lengths(wav_lens, opts)
    # Zero out anything past each length so results do not depend on what the padding held.
    time_idx = torch.arange(wavs.shape[1], device=device)
    wavs = wavs * (time_idx[None, :] < wav_lens[:, None])
    if wavs.shape[1] < win:
        wavs = torch.nn.functional.pad(wavs, (0, win - wavs.shape[1]))
    frames = wavs.unfold(1, win, hop)  # (B, F, win)
    window = torch.hann_window(win, periodic=True, device=device)
    power = torch.fft.rfft(frames * window, n=n_fft).abs().pow(2)  # (B, F, n_fft//2+1)
    fb = torchaudio.functional.melscale_fbanks(
        n_fft // 2 + 1,
        f_min=opts.f_min,
        f_max=opts.f_max if opts.f_max is not None else opts.sample_rate / 2,
        n_mels=opts.n_mels,
        sample_rate=opts.sample_rate,
        norm=None,
        mel_scale="htk",
    ).to(device)
    feats = torch.log(torch.clamp(power @ fb, min=opts.log_floor))  # (B, F, n_mels)
    n_frames = feats.shape[1]
    mask = (torch.arange(n_frames, device=device)[None, :] < feat_lens[:, None]).unsqueeze(-1)
    feats = feats * mask
    if opts.normalize:
        count = feat_lens.clamp(min=1).to(feats.dtype)[:, None, None]
        mean = feats.sum(1, keepdim=True) / count
        var = (((feats - mean) * mask) ** 2).sum(1, keepdim=True) / count
        feats = (feats - mean) / torch.sqrt(var + 1e-5) * mask
    return feats, feat_lens


@dataclass(frozen=True)
class VocoderMelOptions:
    """The centred magnitude log-mel that Vocos, F5-TTS and HiFi-GAN-style vocoders use (F5-TTS's ``vocos`` mel:
    24 kHz, 100 mels, n_fft = window = 1024, hop 256), unlike :class:`FbankOptions`'s valid-framed power mel."""

    sample_rate: int = 24000
    n_mels: int = 100
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    log_floor: float = 1e-5


def vocoder_mel(wavs: torch.Tensor, wav_lens: torch.Tensor, opts: VocoderMelOptions = VocoderMelOptions()
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """wavs (B, S) at ``opts.sample_rate``, wav_lens (B,) -> (log-mel (B, T, n_mels), frames (B,)).

    torchaudio's MelSpectrogram with ``center=True, power=1``, HTK scale, no norm: frame t is centred on sample
    ``t * hop``, so a clip of S samples has ``1 + S // hop`` frames; frames past a row's length are set to 0 (the
    last valid ones near the end see the zero padding, as with a clip padded alone)."""
    import torchaudio

    key = (opts, str(wavs.device))
    if key not in _VOCODER_MEL:
        _VOCODER_MEL[key] = torchaudio.transforms.MelSpectrogram(
            sample_rate=opts.sample_rate, n_fft=opts.n_fft, win_length=opts.win_length, hop_length=opts.hop_length,
            n_mels=opts.n_mels, power=1, center=True, normalized=False, norm=None).to(wavs.device)
    wav_lens = wav_lens.to(wavs.device).long()
    wavs = wavs.float() * (torch.arange(wavs.shape[1], device=wavs.device)[None, :] < wav_lens[:, None])
    mel = torch.log(torch.clamp(_VOCODER_MEL[key](wavs), min=opts.log_floor)).transpose(1, 2)  # (B, T, n_mels)
    lens = 1 + torch.div(wav_lens, opts.hop_length, rounding_mode="floor")
    valid = torch.arange(mel.shape[1], device=mel.device)[None, :] < lens[:, None]
    return mel.masked_fill(~valid[..., None], 0.0), lens


_VOCODER_MEL: dict = {}  # (options, device) -> MelSpectrogram: its filterbank is built once


def is_empty_batch(batch: Any) -> bool:
    """True when every clip of a batch was skipped: ``None``, the marker :func:`collate_audio`
    returns (zero rows), or any batch (mapping, tensor, list) with zero rows, so text and audio
    loops test it alike."""
    if batch is None:
        return True
    if isinstance(batch, Mapping):
        if "wavs" in batch:
            return len(batch["wavs"]) == 0
        return any(isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == 0 for v in batch.values())
    if isinstance(batch, torch.Tensor):
        return batch.dim() > 0 and batch.shape[0] == 0
    if isinstance(batch, (list, tuple)):
        return len(batch) == 0
    return False


def pad_waveforms(wavs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """List of (time,) waveforms (tensors or arrays) -> ((B, T) float32 zero-padded, lengths (B,) int64)."""
    lens = torch.tensor([len(w) for w in wavs], dtype=torch.long)
    out = torch.zeros(len(wavs), int(lens.max()) if len(wavs) else 0, dtype=torch.float32)
    for i, w in enumerate(wavs):
        out[i, : len(w)] = torch.as_tensor(w, dtype=torch.float32)
    return out, lens


def collate_audio(items: Sequence[dict | None], *, fbank: FbankOptions | None = None) -> dict[str, Any]:
    """Pad a list of :class:`~polyvox.data.dataset.AudioDataset` items into one batch.

    ``None`` items (rows the dataset skipped and reported) are dropped. Returns::

        wavs       (batch, time) float32, zero-padded to the longest item
        wav_lens   (batch,) int64 samples
        ids        list[str]
        utts       list[Utterance]
        skipped    int, number of None items dropped
        feats      (batch, frames, n_mels) float32, only with ``fbank`` (see compute_fbank)
        feat_lens  (batch,) int64, only with ``fbank``

    If every item was None the result is an *empty batch*: batch size 0 in every field
    (``wavs`` has shape (0, 0)); training loops should skip it (:func:`is_empty_batch`).
    Use ``functools.partial(collate_audio, fbank=opts)`` as a DataLoader ``collate_fn``.
    """
    kept = [it for it in items if it is not None]
    wavs_list = [torch.as_tensor(it["wav"]) for it in kept]
    for it, w in zip(kept, wavs_list):
        if w.dim() != 1:
            raise ValueError(f"item {it.get('id')!r}: wav must have shape (time,), got {tuple(w.shape)}")
    wavs, lens = pad_waveforms(wavs_list)
    batch: dict[str, Any] = {
        "wavs": wavs,
        "wav_lens": lens,
        "ids": [it["id"] for it in kept],
        "utts": [it.get("utt") for it in kept],
        "skipped": len(items) - len(kept),
    }
    if fbank is not None:
        if kept:
            batch["feats"], batch["feat_lens"] = compute_fbank(wavs, lens, fbank)
        else:
            batch["feats"] = torch.zeros(0, 0, fbank.n_mels)
            batch["feat_lens"] = torch.zeros(0, dtype=torch.long)
    return batch
