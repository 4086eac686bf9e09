"""Masked pooling of frame sequences into one vector per utterance.

Every pooling takes ``feats`` of shape (batch, frames, dim) and ``lens`` of shape (batch,)
(valid frames per row; frames at or beyond ``lens`` are padding and never influence the
result) and returns (batch, out_dim). ``POOLINGS`` maps config names to constructors.
"""

from __future__ import annotations

import torch
from torch import nn

EPS = 1e-5


def length_mask(lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """(batch,) lengths -> (batch, max_len) bool, True on valid frames."""
    return torch.arange(max_len, device=lens.device)[None, :] < lens[:, None]


def masked_mean_std(
    feats: torch.Tensor, lens: torch.Tensor, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over valid frames, optionally weighted.

    feats (B, T, D); lens (B,); weights (B, T) summing to 1 over valid frames, or None for
    uniform. Returns two (B, D) tensors. Rows with ``lens == 0`` give zeros instead of NaN.
    """
    mask = length_mask(lens, feats.shape[1]).to(feats.dtype)  # (B, T)
    if weights is None:
        weights = mask / lens.clamp(min=1).to(feats.dtype)[:, None]
    else:
        weights = weights * mask
    w = weights.unsqueeze(-1)  # (B, T, 1)
    mean = (w * feats).sum(1)
    var = (w * (feats - mean.unsqueeze(1)) ** 2).sum(1)
    return mean, torch.sqrt(var.clamp(min=EPS))


class MeanPooling(nn.Module):
    """Average of valid frames: (B, T, D) -> (B, D)."""

    def __init__(self, dim: int):
        super().__init__()
        self.output_dim = dim

    def forward(self, feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return masked_mean_std(feats, lens)[0]


class StatsPooling(nn.Module):
    """Mean and standard deviation of valid frames, concatenated: (B, T, D) -> (B, 2D)."""

    def __init__(self, dim: int):
        super().__init__()
        self.output_dim = 2 * dim

    def forward(self, feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return torch.cat(masked_mean_std(feats, lens), dim=-1)


class AttentiveStatsPooling(nn.Module):
    """Attentive statistics pooling (Okabe et al., 2018): a small network scores each frame,
    a softmax over valid frames turns scores into weights, and the weighted mean and std are
    concatenated: (B, T, D) -> (B, 2D)."""

    def __init__(self, dim: int, attention_dim: int = 128):
        super().__init__()
        self.output_dim = 2 * dim
        self.score = nn.Sequential(nn.Linear(dim, attention_dim), nn.Tanh(), nn.Linear(attention_dim, 1))

    def attention_weights(self, feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """(B, T) weights, 0 on padding, summing to 1 over each row's valid frames."""
        scores = self.score(feats).squeeze(-1)  # (B, T)
        mask = length_mask(lens, feats.shape[1])
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=-1) * mask

    def forward(self, feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return torch.cat(masked_mean_std(feats, lens, self.attention_weights(feats, lens)), dim=-1)


POOLINGS: dict[str, type[nn.Module]] = {
    "mean": MeanPooling,
    "stats": StatsPooling,
    "attentive_stats": AttentiveStatsPooling,
}
