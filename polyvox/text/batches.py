"""Tokenize a training set once, not every batch: a text model's collate (tokenizer -> padded tensors) run over the
whole set in chunks, cut back into one row per example, and a collate that only pads those rows. The batches are
the same tensors as the collate's own (right padding, per-example truncation), without re-tokenizing every example
on every pass: the tokenizer was a fifth of a small model's CPU training step.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence


def encode_once(collate: Callable[[Sequence], dict], items: Sequence, chunk: int = 1024) -> list[dict]:
    """``collate`` (items -> dict of (B, T) tensors with an ``attention_mask``, and (B,) tensors) over ``items`` in
    chunks -> one dict per item: its (T_i,) rows without padding and its scalars."""
    rows = []
    for start in range(0, len(items), chunk):
        batch = collate(items[start:start + chunk])
        mask = batch["attention_mask"]
        lens = mask.sum(1)
        if not torch.equal(mask.bool(), torch.arange(mask.shape[1])[None, :] < lens[:, None]):
            raise ValueError("encode_once needs right padding (the tokenizer's padding_side is 'left')")
        lens = lens.tolist()
        for i, n in enumerate(lens):
            rows.append({k: v[i, :n] if v.dim() == 2 else v[i] for k, v in batch.items()})
    return rows


def pad_rows(pad_id: int) -> Callable[[Sequence[dict]], dict]:
    """Collate rows of :func:`encode_once` back into a batch: (B, T) right-padded (``input_ids`` with ``pad_id``,
    the rest with 0), T the batch's longest row; scalars stacked to (B,)."""

    def collate(rows):
        out = {}
        for key in rows[0]:
            values = [r[key] for r in rows]
            if values[0].dim() == 1:
                out[key] = pad_sequence(values, batch_first=True, padding_value=pad_id if key == "input_ids" else 0)
            else:
                out[key] = torch.stack(values)
        return out

    return collate
