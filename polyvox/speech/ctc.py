"""CTC pieces shared by every CTC recipe: the loss on padded batches, target padding, and
frame-level collapsing (remove repeats, then blanks)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

# Tokens every decoding mode keeps: CTC blank (under its usual names) and the word boundary.
SPECIAL_TOKENS = ("<blank>", "<pad>", "<b>", "|")


def pad_targets(targets: Sequence[Sequence[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lists of token ids -> (targets (B, L) long padded with ``pad``, lengths (B,) long)."""
    lens = torch.tensor([len(t) for t in targets], dtype=torch.long)
    out = torch.full((len(targets), int(lens.max()) if len(targets) else 0), pad, dtype=torch.long)
    for i, t in enumerate(targets):
        out[i, : len(t)] = torch.as_tensor(list(t), dtype=torch.long)
    return out, lens


def ctc_loss(
    log_probs: torch.Tensor,
    out_lens: torch.Tensor,
    targets: torch.Tensor,
    target_lens: torch.Tensor,
    blank: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """CTC loss of log-probabilities (B, T, V) with valid lengths (B,) against padded targets
    (B, L) with lengths (B,). ``reduction="mean"`` divides each utterance's loss by its target
    length and averages (PyTorch's convention); ``"sum"`` sums over the batch. Impossible
    alignments (more targets than frames) give 0 instead of inf."""
    return F.ctc_loss(
        log_probs.transpose(0, 1).float(),
        targets,
        out_lens,
        target_lens,
        blank=blank,
        reduction=reduction,
        zero_infinity=True,
    )


def collapse(ids: Sequence[int], blank: int = 0) -> list[int]:
    """One frame-level id sequence -> token ids: merge repeats, then drop blanks."""
    out, prev = [], None
    for i in ids:
        i = int(i)
        if i != prev and i != blank:
            out.append(i)
        prev = i
    return out


def greedy_ids(log_probs: torch.Tensor, lens: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Best path of a batch (B, T, V) with lengths (B,) -> token ids per utterance."""
    best = log_probs.argmax(dim=-1).cpu()
    return [collapse(best[b, : int(n)].tolist(), blank) for b, n in enumerate(lens.cpu())]
