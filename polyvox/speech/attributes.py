"""Articulatory-attribute CTC heads (multitask training as in Allophant, Glocker et al. 2023).

Next to the phone CTC head, one small CTC head per panphon feature (syl, son, cons, ..., 24 in
all) predicts that feature's value sequence: for the phones ``t a`` the ``voi`` head is trained
on ``- +``. Every head has four classes: blank, ``-``, ``0`` (not applicable), ``+``. The heads
share the encoder, so the encoder is pushed towards representations organized by articulation,
the same features the zero-shot mapping uses. They are a training aid: decoding uses the phone
head, and ``polyvox export`` leaves them out.

    table = attribute_table(vocab.tokens)               # per token: (segments, K) class ids
    targets, lens = attribute_targets(batch_targets, batch_target_lens, table)  # (B*K, L), (B*K,)
    loss = attribute_ctc_loss(attr_log_probs, out_lens, targets, lens)         # attr_log_probs (B, F, K, 4)
"""

from __future__ import annotations

from typing import Sequence

import torch

from polyvox.data.articulatory import feature_matrix, feature_names, is_known
from polyvox.data.ipa import normalize_token
from polyvox.speech.ctc import SPECIAL_TOKENS
from polyvox.speech.ctc import ctc_loss
from polyvox.speech.asr.vocab import SPECIALS

NUM_CLASSES = 4  # blank, "-", "0", "+"
BLANK = 0


def num_attributes() -> int:
    """How many attribute heads: one per panphon feature (24)."""
    return len(feature_names())


def value_classes(values: torch.Tensor) -> torch.Tensor:
    """panphon values {-1, 0, +1} -> class ids {1, 2, 3} (0 is the CTC blank)."""
    return values.long() + 2


def attribute_table(tokens: Sequence[str]) -> list[torch.Tensor]:
    """For each vocabulary token, its segments' attribute classes, shape (segments, K) long.

    A diphthong token "aɪ" gives two rows; specials (blank, pad, word boundary) and tokens with no
    segment panphon knows give zero rows, so they add nothing to the attribute targets."""
    k, table = num_attributes(), []
    for token in tokens:
        if token in SPECIALS or token in SPECIAL_TOKENS:
            table.append(torch.zeros(0, k, dtype=torch.long))
            continue
        segs = [token] if is_known(token) else normalize_token(token)[0]
        known = [s for s in segs if is_known(s)]
        table.append(value_classes(torch.from_numpy(feature_matrix(known))) if known
                     else torch.zeros(0, k, dtype=torch.long))
    return table


def attribute_targets(targets: torch.Tensor, target_lens: torch.Tensor,
                      table: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Phone targets (B, L) with lengths (B,) -> attribute targets (B*K, L') with lengths (B*K,).

    Row ``b * K + k`` is feature k's class sequence for utterance b (the layout of
    :func:`attribute_ctc_loss`)."""
    k = num_attributes()
    targets, target_lens = targets.cpu(), target_lens.cpu()  # one host copy, not one sync per token
    per_utt = [torch.cat([table[int(i)] for i in targets[b, : int(n)]] or [torch.zeros(0, k, dtype=torch.long)])
               for b, n in enumerate(target_lens)]
    lens = torch.tensor([len(p) for p in per_utt], dtype=torch.long)
    out = torch.zeros(len(per_utt), int(lens.max()) if len(per_utt) else 0, k, dtype=torch.long)
    for b, p in enumerate(per_utt):
        out[b, : len(p)] = p
    return out.transpose(1, 2).reshape(-1, out.shape[1]), lens.repeat_interleave(k)


def attribute_log_probs(head: torch.nn.Linear, hidden: torch.Tensor) -> torch.Tensor:
    """Encoder states (B, F, D) -> attribute log-probabilities (B, F, K, 4) through one linear
    layer with K * 4 outputs."""
    b, f, _ = hidden.shape
    return torch.log_softmax(head(hidden).float().view(b, f, -1, NUM_CLASSES), dim=-1)


def attribute_ctc_loss(log_probs: torch.Tensor, out_lens: torch.Tensor,
                       targets: torch.Tensor, target_lens: torch.Tensor) -> torch.Tensor:
    """Mean CTC loss over the K attribute heads and the batch.

    log_probs (B, F, K, 4), out_lens (B,), targets (B*K, L), target_lens (B*K,) -> scalar. All
    B*K sequences go through one CTC loss call."""
    b, f, k, c = log_probs.shape
    flat = log_probs.transpose(1, 2).reshape(b * k, f, c)  # (B*K, F, 4), row b*K + k
    return ctc_loss(flat, out_lens.repeat_interleave(k), targets.to(log_probs.device),
                    target_lens.to(log_probs.device), blank=BLANK)
