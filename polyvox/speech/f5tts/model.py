"""An F5-TTS-style flow-matching TTS backbone: a DiT over mel frames, with the text filled to the target length.

    noisy mel x_t (B, T, mel_dim) + masked prompt mel cond (B, T, mel_dim) + text ids (B, N) + time t (B,)
        text: embedding (+ sinusoids, ConvNeXt-V2 blocks), padded with filler to T frames  (B, T, text_dim)
        input: Linear(concat) + convolutional position embedding                           (B, T, dim)
        depth x DiT block: adaptive LayerNorm on t, self-attention with rotary positions, feed-forward
        adaptive final norm -> Linear -> the velocity d x_t / d t                         (B, T, mel_dim)

Written for polyvox from a reading of F5-TTS (SWivid/F5-TTS ``model/backbones/dit.py`` and ``model/modules.py``); the
module and parameter names are F5-TTS's own, so the ``ema_model_state_dict`` of a user's local F5-TTS checkpoint
loads into :class:`F5TTS` (``transformer.*``) as it is: see :mod:`polyvox.speech.f5tts.run`. Rotary positions are
applied pairwise-interleaved, as the x-transformers release F5-TTS installs today does
(``benchmarks/f5_parity.py`` compares outputs with F5-TTS's own classes).

Text ids are vocabulary indices, -1 = padding; the embedding table has one extra row 0 for the filler (ids + 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from polyvox.speech.positions import sinusoidal_positions


@dataclass
class F5Config:
    """The DiT's shape (F5-TTS v1 Base defaults: 1024 wide, 22 deep, 16 heads, 4 ConvNeXt text layers)."""

    dim: int = 1024
    depth: int = 22
    heads: int = 16
    dim_head: int = 64
    ff_mult: float = 2.0
    mel_dim: int = 100
    text_num_embeds: int = 256  # vocabulary size (the table holds one more row: the filler)
    text_dim: int = 512
    conv_layers: int = 4  # ConvNeXt-V2 blocks over the text embeddings
    qk_norm: Optional[str] = None  # None | "rms_norm"
    long_skip_connection: bool = False
    text_mask_padding: bool = True  # keep filler positions zero through the text blocks (F5-TTS v1; v0: False)
    pe_attn_head: Optional[int] = None  # rotary positions on the first N heads only (F5-TTS v0: 1); None = all
    dropout: float = 0.1

    def __post_init__(self):
        if self.qk_norm not in (None, "rms_norm"):
            raise ValueError(f"model.qk_norm must be null or rms_norm, got {self.qk_norm!r}")
        if self.dim % 16:
            raise ValueError(f"model.dim must be a multiple of 16 (grouped position convolution), got {self.dim}")


# ---- pure functions


def sinusoidal_embedding(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """Flow time t (B,) in [0, 1] -> (B, dim): sin and cos of ``scale * t`` at geometric frequencies."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device).float() * -(math.log(10000) / (half - 1)))
    arg = scale * t.float()[:, None] * freqs[None, :]
    return torch.cat((arg.sin(), arg.cos()), dim=-1)


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """(..., d) with d even: each pair (a, b) -> (-b, a)."""
    a, b = x.unflatten(-1, (-1, 2)).unbind(-1)
    return torch.stack((-b, a), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotary positions on queries / keys x (B, H, T, d) with angles (T, d) (each pair's angle twice), in fp32."""
    out = x.float() * angles.cos() + rotate_pairs(x.float()) * angles.sin()
    return out.to(x.dtype)


# ---- modules (names as in F5-TTS)


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int, freq_embed_dim: int = 256):
        super().__init__()
        self.freq_embed_dim = freq_embed_dim
        self.time_mlp = nn.Sequential(nn.Linear(freq_embed_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:  # (B,) -> (B, dim)
        return self.time_mlp(sinusoidal_embedding(t, self.freq_embed_dim).to(t.dtype))


class GRN(nn.Module):
    """Global response normalization (ConvNeXt-V2) over the time axis of (B, T, d)."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=1, keepdim=True)
        return self.gamma * (x * (gx / (gx.mean(dim=-1, keepdim=True) + 1e-6))) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.grn = GRN(intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)

    def forward(self, x):  # (B, T, d)
        y = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        return x + self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(y)))))


class TextEmbedding(nn.Module):
    """Text ids (B, N), -1 = padding -> (B, T, text_dim) for T mel frames: ids beyond T are cut, the rest filled."""

    MAX_POSITIONS = 8192  # ~87 s of 24 kHz audio at hop 256

    def __init__(self, text_num_embeds: int, text_dim: int, conv_layers: int, mask_padding: bool):
        super().__init__()
        self.text_embed = nn.Embedding(text_num_embeds + 1, text_dim)  # row 0: filler
        self.mask_padding = mask_padding
        self.text_blocks = nn.Sequential(*[ConvNeXtV2Block(text_dim, text_dim * 2) for _ in range(conv_layers)])
        self.register_buffer("freqs_cis", sinusoidal_positions(text_dim, self.MAX_POSITIONS), persistent=False)

    def forward(self, text: torch.Tensor, frames: int, lengths: torch.Tensor | None = None,
                drop_text: bool = False) -> torch.Tensor:
        """``lengths`` (B,) valid frames per row: text past them is filler and their embeddings are zero."""
        text = F.pad((text + 1)[:, :frames], (0, max(0, frames - text.shape[1])), value=0)
        valid = None
        if lengths is not None:
            valid = torch.arange(frames, device=text.device)[None, :] < lengths[:, None]
            text = text.masked_fill(~valid, 0)
        filler = text == 0
        if drop_text:  # the unconditional branch of classifier-free guidance
            text = torch.zeros_like(text)
        x = self.text_embed(text)
        if valid is not None:
            x = x.masked_fill(~valid[..., None], 0.0)
        if len(self.text_blocks):
            positions = self.freqs_cis[:frames]
            x = x + (positions[None] * valid[..., None] if valid is not None else positions)
            for block in self.text_blocks:
                x = x.masked_fill(filler[..., None], 0.0) if self.mask_padding else x
                x = block(x)
            x = x.masked_fill(filler[..., None], 0.0) if self.mask_padding else x
        return x


class ConvPositionEmbedding(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16):
        super().__init__()
        pad = kernel_size // 2
        self.conv1d = nn.Sequential(nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad), nn.Mish(),
                                    nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad), nn.Mish())

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # (B, T, d)
        x = x.transpose(1, 2)
        keep = mask[:, None, :] if mask is not None else None
        for layer in self.conv1d:
            if keep is not None and isinstance(layer, nn.Conv1d):
                x = x.masked_fill(~keep, 0.0)
            x = layer(x)
        x = x.masked_fill(~keep, 0.0) if keep is not None else x
        return x.transpose(1, 2)


class InputEmbedding(nn.Module):
    def __init__(self, mel_dim: int, text_dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Linear(mel_dim * 2 + text_dim, out_dim)
        self.conv_pos_embed = ConvPositionEmbedding(out_dim)

    def forward(self, x, cond, text_embed, drop_audio_cond: bool = False, mask=None):
        if drop_audio_cond:
            cond = torch.zeros_like(cond)
        x = self.proj(torch.cat((x, cond, text_embed), dim=-1))
        return self.conv_pos_embed(x, mask) + x


class RotaryEmbedding(nn.Module):
    def __init__(self, dim_head: int, base: float = 10000.0):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, dim_head, 2).float() / dim_head)))

    def angles(self, frames: int) -> torch.Tensor:
        """(frames, dim_head): each frequency twice, next to itself (pairs are rotated together)."""
        freqs = torch.outer(torch.arange(frames, device=self.inv_freq.device).float(), self.inv_freq.float())
        return freqs.repeat_interleave(2, dim=-1)


class AdaLayerNorm(nn.Module):
    """LayerNorm modulated by the time embedding: shift, scale, gate for attention and for the feed-forward."""

    def __init__(self, dim: int):
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(dim, dim * 6)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x, emb):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.linear(self.silu(emb)).chunk(6, dim=1)
        return self.norm(x) * (1 + scale_msa[:, None]) + shift_msa[:, None], gate_msa, shift_mlp, scale_mlp, gate_mlp


class AdaLayerNorm_Final(nn.Module):  # noqa: N801 - F5-TTS's name
    def __init__(self, dim: int):
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(dim, dim * 2)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x, emb):
        scale, shift = self.linear(self.silu(emb)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight.to(x.dtype), self.eps)


class Attention(nn.Module):
    """Self-attention (B, T, dim) -> (B, T, dim); rotary positions on q and k; padded frames zeroed at the output."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float, qk_norm: str | None,
                 pe_attn_head: int | None = None):
        super().__init__()
        self.heads, inner = heads, heads * dim_head
        self.pe_attn_head = pe_attn_head
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.q_norm = RMSNorm(dim_head) if qk_norm == "rms_norm" else None
        self.k_norm = RMSNorm(dim_head) if qk_norm == "rms_norm" else None
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(dropout)])

    def forward(self, x, mask=None, angles=None):
        b = x.shape[0]
        q, k, v = (proj(x).unflatten(-1, (self.heads, -1)).transpose(1, 2) for proj in (self.to_q, self.to_k, self.to_v))
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if angles is not None and self.pe_attn_head is None:
            q, k = apply_rotary(q, angles), apply_rotary(k, angles)
        elif angles is not None:  # F5-TTS v0: positions on the first heads only
            n = self.pe_attn_head
            q = torch.cat([apply_rotary(q[:, :n], angles), q[:, n:]], dim=1)
            k = torch.cat([apply_rotary(k[:, :n], angles), k[:, n:]], dim=1)
        # like F5-TTS, padded keys are not masked out of attention (its attn_mask_enabled=False): outputs are
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, -1, self.heads * q.shape[-1])
        out = self.to_out[1](self.to_out[0](out.to(q.dtype)))
        return out.masked_fill(~mask[..., None], 0.0) if mask is not None else out


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: float, dropout: float):
        super().__init__()
        inner = int(dim * mult)
        self.ff = nn.Sequential(nn.Sequential(nn.Linear(dim, inner), nn.GELU(approximate="tanh")),
                                nn.Dropout(dropout), nn.Linear(inner, dim))

    def forward(self, x):
        return self.ff(x)


class DiTBlock(nn.Module):
    def __init__(self, cfg: F5Config):
        super().__init__()
        self.attn_norm = AdaLayerNorm(cfg.dim)
        self.attn = Attention(cfg.dim, cfg.heads, cfg.dim_head, cfg.dropout, cfg.qk_norm, cfg.pe_attn_head)
        self.ff_norm = nn.LayerNorm(cfg.dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(cfg.dim, cfg.ff_mult, cfg.dropout)

    def forward(self, x, t, mask=None, angles=None):
        norm, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.attn_norm(x, t)
        x = x + gate_msa[:, None] * self.attn(norm, mask, angles)
        norm = self.ff_norm(x) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        return x + gate_mlp[:, None] * self.ff(norm)


class DiT(nn.Module):
    def __init__(self, cfg: F5Config):
        super().__init__()
        self.cfg = cfg
        self.time_embed = TimestepEmbedding(cfg.dim)
        self.text_embed = TextEmbedding(cfg.text_num_embeds, cfg.text_dim, cfg.conv_layers, cfg.text_mask_padding)
        self.input_embed = InputEmbedding(cfg.mel_dim, cfg.text_dim, cfg.dim)
        self.rotary_embed = RotaryEmbedding(cfg.dim_head)
        self.transformer_blocks = nn.ModuleList([DiTBlock(cfg) for _ in range(cfg.depth)])
        self.long_skip_connection = nn.Linear(cfg.dim * 2, cfg.dim, bias=False) if cfg.long_skip_connection else None
        self.norm_out = AdaLayerNorm_Final(cfg.dim)
        self.proj_out = nn.Linear(cfg.dim, cfg.mel_dim)
        # zero-initialized modulation and output, as DiT does: every block starts as the identity
        for block in self.transformer_blocks:
            nn.init.zeros_(block.attn_norm.linear.weight)
            nn.init.zeros_(block.attn_norm.linear.bias)
        for layer in (self.norm_out.linear, self.proj_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def embed_inputs(self, x, cond, text, mask, drop_audio_cond: bool, drop_text: bool) -> torch.Tensor:
        text_embed = self.text_embed(text, x.shape[1], mask.sum(1) if mask is not None else None, drop_text)
        return self.input_embed(x, cond, text_embed, drop_audio_cond=drop_audio_cond, mask=mask)

    def forward(self, x, cond, text, time, mask=None, drop_audio_cond: bool = False, drop_text: bool = False,
                guidance_pair: bool = False):
        """x (B, T, mel_dim) noisy mel, cond (B, T, mel_dim) prompt mel (0 where generated), text (B, N) ids,
        time (B,) or scalar in [0, 1], mask (B, T) valid frames -> velocity (B, T, mel_dim).

        ``guidance_pair``: one call for classifier-free guidance, (2B, T, mel_dim): the B conditional rows, then the
        B rows that see neither prompt audio nor text (as F5-TTS's ``cfg_infer``)."""
        if time.dim() == 0:
            time = time.repeat(x.shape[0])
        t = self.time_embed(time)
        if guidance_pair:
            h = torch.cat([self.embed_inputs(x, cond, text, mask, False, False),
                           self.embed_inputs(x, cond, text, mask, True, True)])
            t = torch.cat([t, t])
            mask = torch.cat([mask, mask]) if mask is not None else None
        else:
            h = self.embed_inputs(x, cond, text, mask, drop_audio_cond, drop_text)
        angles = self.rotary_embed.angles(x.shape[1])
        residual = h
        for block in self.transformer_blocks:
            h = block(h, t, mask, angles)
        if self.long_skip_connection is not None:
            h = self.long_skip_connection(torch.cat((h, residual), dim=-1))
        return self.proj_out(self.norm_out(h, t))


class F5TTS(nn.Module):
    """The flow-matching TTS model (F5-TTS's ``CFM`` without its trainer): ``transformer`` is the DiT, so the weights
    are named ``transformer.*`` as in an F5-TTS checkpoint. Training loss and sampling are pure functions in
    :mod:`polyvox.speech.f5tts.flow`."""

    def __init__(self, cfg: F5Config):
        super().__init__()
        self.cfg = cfg
        self.transformer = DiT(cfg)

    def forward(self, x, cond, text, time, mask=None, drop_audio_cond: bool = False, drop_text: bool = False,
                guidance_pair: bool = False):
        return self.transformer(x, cond, text, time, mask, drop_audio_cond, drop_text, guidance_pair)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
