"""Griffin-Lim vocoding of the TTS log-mel on CPU (torchaudio's InverseMelScale + GriffinLim; the neural vocoders
of the GPU path are a separate module)."""

from __future__ import annotations

import functools

import torch
import torchaudio

from polyvox.speech.tts.config import MelConfig


@functools.lru_cache(maxsize=4)
def _transforms(opts, iters: int):
    inverse = torchaudio.transforms.InverseMelScale(opts.fft_size // 2 + 1, opts.n_mels, opts.sample_rate,
                                                    f_min=opts.f_min, f_max=opts.sample_rate / 2, norm=None,
                                                    mel_scale="htk", driver="gelsd")  # rank-deficient at low f
    gl = torchaudio.transforms.GriffinLim(n_fft=opts.fft_size, n_iter=iters, win_length=opts.win_length,
                                          hop_length=opts.hop_length, power=2.0)
    return inverse, gl


def griffin_lim(log_mel: torch.Tensor, mel: MelConfig, iters: int = 32) -> torch.Tensor:
    """(frames, n_mels) log power mel (:func:`polyvox.data.collate.compute_fbank` of :meth:`MelConfig.fbank`) ->
    waveform (samples,) float32 at ``mel.sample_rate``, peak-normalized to 0.9 at most."""
    inverse, gl = _transforms(mel.fbank(), int(iters))  # FbankOptions is frozen: hashable
    power = torch.exp(log_mel.float().cpu()).T  # (n_mels, frames)
    with torch.random.fork_rng(devices=[]):  # GriffinLim starts from random phases: same mel, same audio, and the
        torch.manual_seed(0)  # caller's RNG (a training run's) is left as it was
        wav = gl(inverse(power).clamp(min=0))
    peak = wav.abs().max()
    return wav / peak * 0.9 if peak > 0.9 else wav
