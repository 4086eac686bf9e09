"""Absolute sinusoidal positions, shared by the TTS models (FastSpeech-style and F5-style)."""

from __future__ import annotations

import torch


def sinusoidal_positions(dim: int, length: int, theta: float = 10000.0) -> torch.Tensor:
    """(length, dim) additive positions: cos of ``position * theta ** (-2i / dim)`` in the first half, sin in the
    second (F5-TTS's text embedding table; the Transformer's sinusoids with the halves grouped)."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    angles = torch.outer(torch.arange(length).float(), freqs)
    return torch.cat([angles.cos(), angles.sin()], dim=-1)
