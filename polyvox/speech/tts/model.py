"""A small non-autoregressive TTS model (FastSpeech-style) with language and reference-audio conditioning.

    tokens (B, N) --embed + language (+ sinusoidal positions)--> Conformer encoder (B, N, D)
        + prosody embedding --> duration predictor: log(1 + frames) per token (B, N)
    length regulator: each token's vector repeated for its duration (B, T, D)   (T decoder frames of 20 ms)
        (+ each frame's place in its token, ``frame_position``) (+ sinusoidal positions) + timbre embedding
        --> Conformer decoder --> linear --> log-mel (B, T * reduction, n_mels)
        (--> optional residual convolutional postnet, ``postnet_layers`` > 0: log-mel + postnet(log-mel))

The speaker comes from a reference clip, never from a speaker id, so a voice unseen in training can be cloned and
no transcript of the reference is needed: :class:`ReferenceEncoder` (convolutions over its log-mel + attentive
statistics pooling) gives one embedding (``reference: joint``) or, DSE-TTS style, two (``dse``: timbre for the
decoder, prosody for the durations). Conformer blocks are torchaudio's.
"""

from __future__ import annotations

import torch
from torch import nn
from torchaudio.models import Conformer

from polyvox.speech.pooling import AttentiveStatsPooling, length_mask
from polyvox.speech.positions import sinusoidal_positions
from polyvox.speech.tts.config import TtsModelConfig


class ReferenceEncoder(nn.Module):
    """Log-mel of a reference clip (B, T, n_mels) + lengths (B,) -> an utterance embedding (B, out_dim)."""

    def __init__(self, n_mels: int, channels: int, out_dim: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(n_mels, channels, 5, padding=2), nn.ReLU(), nn.BatchNorm1d(channels),
            nn.Conv1d(channels, channels, 5, padding=2, dilation=1), nn.ReLU(), nn.BatchNorm1d(channels),
            nn.Conv1d(channels, channels, 5, padding=4, dilation=2), nn.ReLU(), nn.BatchNorm1d(channels),
        )
        self.pool = AttentiveStatsPooling(channels)
        self.out = nn.Linear(2 * channels, out_dim)

    def forward(self, mels: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        x = self.convs(mels.transpose(1, 2)).transpose(1, 2)  # (B, T, C)
        return torch.tanh(self.out(self.pool(x, lens)))


class DurationPredictor(nn.Module):
    """Encoder states (B, N, D) -> log(1 + decoder frames) per token (B, N)."""

    def __init__(self, d_model: int, channels: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv1d(d_model, channels, 3, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.norm1, self.norm2 = nn.LayerNorm(channels), nn.LayerNorm(channels)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.norm1(torch.relu(self.conv1(x.transpose(1, 2))).transpose(1, 2)))
        x = self.drop(self.norm2(torch.relu(self.conv2(x.transpose(1, 2))).transpose(1, 2)))
        return self.out(x).squeeze(-1) * mask


def _token_durations(durations: torch.Tensor, token_lens: torch.Tensor) -> torch.Tensor:
    """Durations (B, N) as non-negative integers, 0 for padded tokens."""
    return durations.long().clamp(min=0) * length_mask(token_lens, durations.shape[1]).long()


def regulate_length(x: torch.Tensor, durations: torch.Tensor, token_lens: torch.Tensor) -> tuple[torch.Tensor,
                                                                                                  torch.Tensor]:
    """Repeat each token's vector ``durations`` times: x (B, N, D), durations (B, N) int >= 0 ->
    (frames (B, T, D) zero-padded, frame_lens (B,)), T = the longest row's total."""
    durations = _token_durations(durations, token_lens)
    frame_lens = durations.sum(1)
    out = x.new_zeros(x.shape[0], max(int(frame_lens.max()), 1), x.shape[2])
    for b in range(x.shape[0]):
        rows = torch.repeat_interleave(x[b], durations[b], dim=0)
        out[b, : rows.shape[0]] = rows
    return out, frame_lens


def token_frame_positions(durations: torch.Tensor, token_lens: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Where each regulated frame lies in its token: durations (B, N) -> (B, n_frames, 3) of ((k + 0.5) / d,
    log(1 + k), log(d - k)) for the k-th of a token's d frames; zeros past a row's end. The length regulator
    repeats one vector d times, so without this the decoder sees no difference between a phone's first and last
    frame except through its convolutions' view of the neighbours (a stop's closure and burst, a diphthong's glide)."""
    durations = _token_durations(durations, token_lens)
    out = torch.zeros(durations.shape[0], n_frames, 3, device=durations.device)
    for b in range(durations.shape[0]):
        d = durations[b][durations[b] > 0]
        if d.numel() == 0:
            continue
        length = torch.repeat_interleave(d, d)
        starts = torch.repeat_interleave(torch.cumsum(d, 0) - d, d)
        k = torch.arange(length.numel(), device=d.device) - starts
        out[b, : k.numel()] = torch.stack([(k + 0.5) / length, torch.log1p(k.float()),
                                           torch.log((length - k).float())], dim=1)
    return out


class Postnet(nn.Module):
    """Residual refinement of a log-mel: (B, T, n_mels) -> (B, T, n_mels), ``layers`` 1-D convolutions over time
    (tanh between them, the last one linear), added to the input."""

    def __init__(self, n_mels: int, channels: int, layers: int, kernel: int, dropout: float):
        super().__init__()
        sizes = [n_mels] + [channels] * (layers - 1) + [n_mels]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, kernel, padding=kernel // 2) for a, b in zip(sizes, sizes[1:]))
        self.dropout = nn.Dropout(dropout)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = mel.transpose(1, 2)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = self.dropout(torch.tanh(x))
        return mel + x.transpose(1, 2)


class FastSpeech(nn.Module):
    """See the module docstring. ``vocab_size`` tokens (id 0 = padding), ``n_languages`` language ids."""

    def __init__(self, cfg: TtsModelConfig, vocab_size: int, n_languages: int, n_mels: int = 80):
        super().__init__()
        d = cfg.d_model
        self.cfg, self.n_mels = cfg, n_mels
        self.embed = nn.Embedding(vocab_size, d, padding_idx=0)
        self.language = nn.Embedding(n_languages, cfg.language_dim)
        self.language_proj = nn.Linear(cfg.language_dim, d)
        self.timbre = self.prosody = None
        if cfg.reference != "none":
            self.timbre = ReferenceEncoder(n_mels, cfg.reference_channels, cfg.speaker_dim)
            if cfg.reference == "dse":
                self.prosody = ReferenceEncoder(n_mels, cfg.reference_channels, cfg.speaker_dim)
            self.timbre_proj = nn.Linear(cfg.speaker_dim, d)
            self.prosody_proj = nn.Linear(cfg.speaker_dim, d)
        self.encoder = Conformer(d, cfg.num_heads, cfg.ffn_dim, cfg.encoder_layers, cfg.conv_kernel, cfg.dropout)
        self.durations = DurationPredictor(d, cfg.duration_channels, cfg.dropout)
        self.decoder = Conformer(d, cfg.num_heads, cfg.ffn_dim, cfg.decoder_layers, cfg.conv_kernel, cfg.dropout)
        self.frame_position = nn.Linear(3, d) if cfg.frame_position else None
        # learned scales of the sinusoids (Transformer-TTS's alpha), one for the tokens, one for the frames
        self.position_scales = nn.Parameter(torch.ones(2)) if cfg.sinusoidal_positions else None
        self.to_mel = nn.Linear(d, n_mels * cfg.reduction)
        self.postnet = (Postnet(n_mels, cfg.postnet_channels, cfg.postnet_layers, cfg.postnet_kernel, cfg.dropout)
                        if cfg.postnet_layers > 0 else None)

    def speaker_embeddings(self, ref_mels: torch.Tensor | None, ref_lens: torch.Tensor | None
                           ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(timbre (B, speaker_dim), prosody (B, speaker_dim)) of reference log-mels (B, T, n_mels)."""
        if self.timbre is None or ref_mels is None:
            return None, None
        timbre = self.timbre(ref_mels, ref_lens)
        prosody = self.prosody(ref_mels, ref_lens) if self.prosody is not None else timbre
        return timbre, prosody

    def encode(self, tokens: torch.Tensor, token_lens: torch.Tensor, languages: torch.Tensor, prosody=None):
        """Encoder states (B, N, D) and the predicted log(1 + frames) (B, N)."""
        x = self.embed(tokens) + self.language_proj(self.language(languages))[:, None, :]
        x = self._add_positions(x, 0)
        x, _ = self.encoder(x, token_lens)
        mask = length_mask(token_lens, tokens.shape[1]).float()
        dur_in = x + self.prosody_proj(prosody)[:, None, :] if prosody is not None else x
        return x, self.durations(dur_in, mask)

    def decode(self, frames: torch.Tensor, frame_lens: torch.Tensor, languages: torch.Tensor, timbre=None,
               with_coarse: bool = False, positions: torch.Tensor | None = None):
        """Decoder frames (B, T, D) -> log-mel (B, T * reduction, n_mels), after the postnet when there is one;
        ``positions``: :func:`token_frame_positions` (B, T, 3), used when ``frame_position`` is on;
        ``with_coarse``: (log-mel, the linear output before the postnet)."""
        x = frames + self.language_proj(self.language(languages))[:, None, :]
        if self.frame_position is not None and positions is not None:
            x = x + self.frame_position(positions)
        x = self._add_positions(x, 1)
        if timbre is not None:
            x = x + self.timbre_proj(timbre)[:, None, :]
        x, _ = self.decoder(x, frame_lens.clamp(min=1))
        coarse = self.to_mel(x)  # (B, T, n_mels * r)
        coarse = coarse.reshape(coarse.shape[0], -1, self.n_mels)
        mel = self.postnet(coarse) if self.postnet is not None else coarse
        return (mel, coarse) if with_coarse else mel

    def forward(self, tokens, token_lens, languages, durations, ref_mels=None, ref_lens=None, with_coarse=False):
        """Teacher-forced: ground-truth ``durations`` (B, N) in decoder frames. Returns (mel (B, T*r, n_mels),
        predicted log(1 + frames) (B, N), frame_lens (B,)); ``with_coarse``: and the log-mel before the postnet."""
        timbre, prosody = self.speaker_embeddings(ref_mels, ref_lens)
        x, log_dur = self.encode(tokens, token_lens, languages, prosody)
        frames, frame_lens = regulate_length(x, durations, token_lens)
        positions = self._positions(durations, token_lens, frames.shape[1])
        if with_coarse:
            mel, coarse = self.decode(frames, frame_lens, languages, timbre, with_coarse=True, positions=positions)
            return mel, log_dur, frame_lens, coarse
        return self.decode(frames, frame_lens, languages, timbre, positions=positions), log_dur, frame_lens

    def _add_positions(self, x: torch.Tensor, which: int) -> torch.Tensor:
        """x (B, L, D) + the scaled sinusoids (L, D) when ``sinusoidal_positions`` is on; which: 0 tokens, 1 frames."""
        if self.position_scales is None:
            return x
        table = sinusoidal_positions(x.shape[2], x.shape[1]).to(device=x.device, dtype=x.dtype)
        return x + self.position_scales[which] * table[None]

    def _positions(self, durations, token_lens, n_frames: int) -> torch.Tensor | None:
        return token_frame_positions(durations, token_lens, n_frames) if self.frame_position is not None else None

    @torch.no_grad()
    def infer(self, tokens, token_lens, languages, ref_mels=None, ref_lens=None, rate_scale: float = 1.0):
        """Durations from the predictor (times ``rate_scale``: > 1 slower). Returns (mel, mel_lens, durations)."""
        timbre, prosody = self.speaker_embeddings(ref_mels, ref_lens)
        x, log_dur = self.encode(tokens, token_lens, languages, prosody)
        durations = torch.clamp(torch.round((torch.exp(log_dur) - 1) * rate_scale), min=1).long()
        durations = durations * length_mask(token_lens, tokens.shape[1]).long()
        frames, frame_lens = regulate_length(x, durations, token_lens)
        mel = self.decode(frames, frame_lens, languages, timbre,
                          positions=self._positions(durations, token_lens, frames.shape[1]))
        return mel, frame_lens * self.cfg.reduction, durations


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
