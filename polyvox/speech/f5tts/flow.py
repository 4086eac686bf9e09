"""Conditional flow matching for TTS, as pure functions: the training target and loss, and ODE sampling.

A straight path from noise x0 to the mel x1: ``x_t = (1 - t) x0 + t x1``, velocity ``x1 - x0``. The model sees x_t,
the mel with a random span blanked out (the prompt, ``cond``) and the text, and learns the velocity inside the span
(F5-TTS / Voicebox infilling). Sampling integrates the learnt velocity from t = 0 to 1 in a few steps with the
prompt mel kept in place, so the generated frames continue the prompt's voice.

A ``velocity`` callable is ``(x (B, T, D), t (scalar tensor)) -> (B, T, D)``; :func:`guided_velocity` makes one from
a model with classifier-free guidance.
"""

from __future__ import annotations

import math
from typing import Callable, Literal

import torch
import torch.nn.functional as F

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

EPSS_STEPS = {  # F5-TTS's empirically pruned step schedules (in 1/32 of the path), for few steps
    5: [0, 2, 4, 8, 16, 32], 6: [0, 2, 4, 6, 8, 16, 32], 7: [0, 2, 4, 6, 8, 16, 24, 32],
    10: [0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32], 12: [0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32],
    16: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32],
}


def lengths_to_mask(lengths: torch.Tensor, frames: int | None = None) -> torch.Tensor:
    """(B,) -> (B, T) bool, True on the first ``lengths[b]`` frames."""
    frames = int(lengths.max()) if frames is None else frames
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


def random_span_mask(lengths: torch.Tensor, frac: tuple[float, float], frames: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """(B,) valid frames -> (B, T) bool: one span per row covering a uniform ``frac`` of its frames, at a random
    start; this span is generated, the rest of the row is the prompt."""
    u = torch.rand(lengths.shape, generator=generator, device=lengths.device)
    span = (lengths.float() * (frac[0] + (frac[1] - frac[0]) * u)).long()
    start = ((lengths - span).float() * torch.rand(lengths.shape, generator=generator, device=lengths.device)).long()
    pos = torch.arange(frames, device=lengths.device)[None, :]
    return (pos >= start[:, None]) & (pos < (start + span)[:, None])


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t and the velocity target for x0, x1 (B, T, D) at times t (B,)."""
    tt = t[:, None, None].to(x1.dtype)
    return (1 - tt) * x0 + tt * x1, x1 - x0


def flow_matching_loss(model, mel: torch.Tensor, mel_lens: torch.Tensor, text: torch.Tensor, *,
                       frac: tuple[float, float] = (0.7, 1.0), audio_drop_prob: float = 0.3,
                       cond_drop_prob: float = 0.2) -> tuple[torch.Tensor, dict]:
    """The infilling flow-matching loss: MSE between predicted and true velocity inside the random span.

    mel (B, T, D) log-mel, mel_lens (B,), text (B, N) ids with -1 padding. Classifier-free guidance is learnt by
    dropping the prompt audio (``audio_drop_prob``) or the prompt audio and the text (``cond_drop_prob``) for the
    whole batch. Random draws come from the torch RNG (``fit`` saves and restores it).
    """
    frames = mel.shape[1]
    mask = lengths_to_mask(mel_lens, frames)
    span = random_span_mask(mel_lens, frac, frames) & mask
    x0 = torch.randn_like(mel)
    t = torch.rand(mel.shape[0], device=mel.device)
    xt, target = interpolate(x0, mel, t)
    cond = mel.masked_fill(span[..., None], 0.0)
    draw = torch.rand(2).tolist()  # torch's RNG, not python's: resume restores it
    drop_text = draw[1] < cond_drop_prob
    drop_audio = drop_text or draw[0] < audio_drop_prob
    pred = model(xt, cond, text, t, mask=mask, drop_audio_cond=drop_audio, drop_text=drop_text)
    err = F.mse_loss(pred.float(), target.float(), reduction="none")[span]
    return err.mean(), {"span_frames": span.sum().float() / mel.shape[0]}


def time_grid(steps: int, *, sway: float | None = -1.0, epss: bool = True, device=None) -> torch.Tensor:
    """``steps + 1`` times from 0 to 1. ``epss``: F5-TTS's pruned schedule where it has one for ``steps``; ``sway``
    (F5's sway sampling, s in [-1, 1]; None = off) moves steps towards t = 0, where the coarse shape is decided:
    ``t + s (cos(pi t / 2) - 1 + t)``."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if epss and steps in EPSS_STEPS:
        t = torch.tensor(EPSS_STEPS[steps], dtype=torch.float32, device=device) / 32
    else:
        t = torch.linspace(0, 1, steps + 1, device=device)
    if sway is not None:
        t = t + sway * (torch.cos(math.pi / 2 * t) - 1 + t)
    return t


def solve(velocity: Velocity, x0: torch.Tensor, times: torch.Tensor,
          method: Literal["euler", "midpoint"] = "euler") -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) over ``times`` (S + 1,) from x0 (B, T, D); returns x at times[-1].
    Euler costs one model call per step, midpoint two."""
    x = x0
    for t0, t1 in zip(times[:-1], times[1:]):
        dt = t1 - t0
        if method == "euler":
            x = x + dt * velocity(x, t0)
        elif method == "midpoint":
            x_mid = x + dt / 2 * velocity(x, t0)
            x = x + dt * velocity(x_mid, t0 + dt / 2)
        else:
            raise ValueError(f"unknown ODE method {method!r}: euler or midpoint")
    return x


def guided_velocity(model, cond: torch.Tensor, text: torch.Tensor, mask: torch.Tensor | None,
                    cfg_strength: float) -> Velocity:
    """The model's velocity with classifier-free guidance: ``v + w (v - v_uncond)``, where v_uncond sees neither
    the prompt audio nor the text (one model call of 2B rows per step; ``w = 0``: no guidance, B rows)."""

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if cfg_strength <= 0:
            return model(x, cond, text, t, mask=mask)
        v, v_uncond = model(x, cond, text, t, mask=mask, guidance_pair=True).chunk(2)
        return v + (v - v_uncond) * cfg_strength

    return velocity


@torch.no_grad()
def sample(model, prompt_mel: torch.Tensor, prompt_lens: torch.Tensor, text: torch.Tensor, total_frames: torch.Tensor,
           *, steps: int = 32, method: Literal["euler", "midpoint"] = "euler", cfg_strength: float = 2.0,
           sway: float | None = -1.0, epss: bool = True, seed: int | None = 0) -> torch.Tensor:
    """Generate mel frames that continue a prompt.

    Args:
        prompt_mel: (B, P, D) log-mel of the prompt (the voice), prompt_lens (B,) its valid frames.
        text: (B, N) ids (-1 padding) of the prompt's text *and* the new text (F5-TTS), or of the new text alone
            when the prompt has no transcript (polyvox's cross-lingual cloning: the text is filled over the whole
            length either way).
        total_frames: (B,) prompt plus generated frames.
    Returns:
        (B, T, D) mel, T = max(total_frames): the prompt frames as given, then the generated ones (0 past each row's
        total). Noise is drawn per row from ``seed`` so a row does not depend on the others in the batch.
    """
    device = prompt_mel.device
    total = torch.maximum(total_frames.to(device), prompt_lens.to(device) + 1)
    frames = int(total.max())
    cond = F.pad(prompt_mel, (0, 0, 0, max(0, frames - prompt_mel.shape[1])))[:, :frames]
    keep = lengths_to_mask(prompt_lens.to(device), frames)
    cond = cond.masked_fill(~keep[..., None], 0.0)
    mask = lengths_to_mask(total, frames) if prompt_mel.shape[0] > 1 else None
    noise = []
    for n in total.tolist():
        gen = torch.Generator(device="cpu").manual_seed(seed) if seed is not None else None
        row = torch.randn(n, prompt_mel.shape[2], generator=gen)
        noise.append(F.pad(row, (0, 0, 0, frames - n)))
    x0 = torch.stack(noise).to(device=device, dtype=prompt_mel.dtype)
    times = time_grid(steps, sway=sway, epss=epss, device=device).to(prompt_mel.dtype)
    out = solve(guided_velocity(model, cond, text, mask, cfg_strength), x0, times, method)
    out = torch.where(keep[..., None], cond, out)
    return out.masked_fill(~lengths_to_mask(total, frames)[..., None], 0.0)
