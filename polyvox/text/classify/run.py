"""Text classification, the inference side: ``predict`` over batches, and a run as a plain transformers directory
(``save_run`` writes what ``AutoModelForSequenceClassification.from_pretrained`` and ``AutoTokenizer`` load)."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def save_run(run_dir: str | os.PathLike, model, tokenizer=None) -> Path:
    """``save_pretrained`` of the model (and tokenizer) into ``run_dir``."""
    run_dir = Path(run_dir)
    model.save_pretrained(run_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(run_dir)
    return run_dir


def load_run(run_dir: str | os.PathLike, device: str | None = None):
    """(model in eval mode, tokenizer or None) from a local run directory; never downloads."""
    from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir}: not a text classification run (config.json missing)")
    model = AutoModelForSequenceClassification.from_pretrained(run_dir, local_files_only=True)
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()
    tokenizer = None
    if (run_dir / "tokenizer.json").exists():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(run_dir, local_files_only=True)
    return model, tokenizer


@torch.no_grad()
def predict(model, loader) -> list[int]:
    """Predicted label ids for every batch of ``loader`` (labels in the batch are ignored)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    preds = []
    for batch in loader:
        inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
        preds += model(**inputs).logits.argmax(-1).tolist()
    model.train(was_training)
    return preds