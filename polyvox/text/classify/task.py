"""Text classification, the training side: a tiny XLM-R sequence classifier and the pieces ``fit()`` needs to
train it (the inference side, :mod:`polyvox.text.classify.run`, predicts and saves/loads runs).

The same :func:`polyvox.train.loop.fit` trains this and the speech models; only
:func:`classifier_loss_step` and the batches differ.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from polyvox.text.classify.run import predict


def tiny_xlmr_classifier(vocab_size: int, num_labels: int, *, hidden_size: int = 64, num_hidden_layers: int = 2,
                         num_attention_heads: int = 2, intermediate_size: int = 128,
                         max_position_embeddings: int = 130, pad_token_id: int = 1, dropout: float = 0.1,
                         id2label: dict[int, str] | None = None, **config_kwargs):
    """``XLMRobertaForSequenceClassification`` built from a small ``XLMRobertaConfig`` (random init).

    ``max_position_embeddings`` includes XLM-R's ``pad_token_id + 1`` offset, so sequences up to
    ``max_position_embeddings - 2`` tokens fit. Saves/loads with save_pretrained/from_pretrained."""
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    if id2label is not None and len(id2label) != num_labels:
        raise ValueError(f"id2label has {len(id2label)} entries but num_labels={num_labels}")
    config = XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads, intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings, pad_token_id=pad_token_id, bos_token_id=0,
        eos_token_id=2, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, num_labels=num_labels,
        **({"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}} if id2label else {}),
        **config_kwargs,
    )
    return XLMRobertaForSequenceClassification(config)


def text_collate(tokenizer, max_length: int = 128) -> Callable[[Sequence[tuple[str, int]]], dict]:
    """Collate ``(text, label)`` pairs into ``input_ids``/``attention_mask`` (B, T) and ``labels`` (B,)."""

    def collate(items):
        texts, labels = zip(*items)
        enc = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                "labels": torch.tensor(labels, dtype=torch.long)}

    return collate


def classifier_loss_step(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """fit()'s loss_step: the model's own cross-entropy, plus batch accuracy for the logs."""
    out = model(**batch)
    acc = (out.logits.argmax(-1) == batch["labels"]).float().mean().item()
    return out.loss, {"accuracy": acc}


def classifier_evaluate(loader, prefix: str = "dev") -> Callable[[torch.nn.Module], dict[str, float]]:
    """fit()'s evaluate: ``{"<prefix>/accuracy": ...}`` over ``loader``."""

    def evaluate(model) -> dict[str, float]:
        gold = [y for batch in loader for y in batch["labels"].tolist()]
        preds = predict(model, loader)
        return {f"{prefix}/accuracy": sum(p == g for p, g in zip(preds, gold)) / max(len(gold), 1)}

    return evaluate
