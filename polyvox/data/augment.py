"""Training-time augmentation of padded waveform batches: pure functions on tensors.

Speed perturbation (Ko et al. 2015, the Kaldi recipe) resamples a batch so that it plays
``factor`` times faster: tempo, pitch and formants all move, which is how the speakers of the
built-in corpus (and real ones) differ most. torchaudio does the resampling; factors like
0.9 / 1.1 reduce to small ratios (9/10, 11/10), so it costs a few milliseconds per batch.

Decoding and file resampling stay in :mod:`polyvox.data.audio`; nothing here touches files.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchaudio


def check_speed_factors(factors: Sequence[float], field: str = "data.speed_perturb") -> None:
    """ValueError naming ``field`` unless every factor lies in [0.5, 2]."""
    bad = [f for f in factors if not 0.5 <= float(f) <= 2.0]
    if bad:
        raise ValueError(f"{field}: speed factors must lie in [0.5, 2] (e.g. [0.9, 1.0, 1.1]), got {bad}")


def speed_perturb(
    wavs: torch.Tensor,
    wav_lens: torch.Tensor,
    factors: Sequence[float],
    sample_rate: int = 16000,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Play a whole batch ``factor`` times faster, one factor drawn uniformly from ``factors``.

    Args:
        wavs: (batch, time) float, zero-padded.
        wav_lens: (batch,) int64 valid samples per row.
        factors: candidate factors; > 1 shortens the audio. ``[]`` or a draw of 1.0 returns the input.
        generator: torch RNG for the draw (default: the global one, which checkpoints save, so a
            resumed run draws the same factors).

    Returns:
        (wavs', wav_lens', factor): (batch, time') and (batch,), with time' ~= time / factor.
    """
    if not factors:
        return wavs, wav_lens, 1.0
    factor = float(factors[int(torch.randint(len(factors), (), generator=generator))])
    if factor == 1.0:
        return wavs, wav_lens, 1.0
    out, lens = torchaudio.functional.speed(wavs, sample_rate, factor, wav_lens)
    # padding zeros resample to (near) zeros; cut rows to their new length exactly
    mask = torch.arange(out.shape[-1], device=out.device)[None, :] < lens[:, None]
    return out * mask, lens.clamp(max=out.shape[-1]), factor
