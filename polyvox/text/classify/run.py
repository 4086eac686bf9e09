"""Text classification, the inference side. A run is a plain transformers directory: ``save_run`` writes what
``AutoModelForSequenceClassification.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load, plus
``polyvox_text.json`` (the text form and label key the model was trained on).

    run = load_run("work/runs/text_classification/base/seed-0")
    probs = classify_texts(run, ["turn on the light"])      # (1, C); column c is run.labels[c]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from polyvox.train.runs import inference_device

TEXT_RUN_FILE = "polyvox_text.json"


@dataclass
class TextRun:
    model: torch.nn.Module
    tokenizer: object
    labels: list[str]
    text_form: str
    label_key: str
    max_length: int
    run_dir: Path
    device: torch.device = torch.device("cpu")


def save_run(run_dir: str | os.PathLike, model, tokenizer=None, *, text_form: str = "native",
             label_key: str = "label", max_length: int = 64) -> Path:
    """``save_pretrained`` of the model (and tokenizer) into ``run_dir``, plus what polyvox needs to feed it."""
    run_dir = Path(run_dir)
    model.save_pretrained(run_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(run_dir)
    (run_dir / TEXT_RUN_FILE).write_text(json.dumps({"text_form": text_form, "label_key": label_key,
                                                     "max_length": max_length}), encoding="utf-8")
    return run_dir


def load_model(run_dir: str | os.PathLike, device: str | None = None):
    """(model in eval mode, tokenizer or None) from a local directory; never downloads."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir}: not a text classification run (config.json missing)")
    model = AutoModelForSequenceClassification.from_pretrained(run_dir, local_files_only=True)
    model.to(inference_device(device)).eval()
    tokenizer = None
    if (run_dir / "tokenizer_config.json").exists() or (run_dir / "tokenizer.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(run_dir, local_files_only=True)
    return model, tokenizer


def load_run(run_dir: str | os.PathLike, device: str | None = None) -> TextRun:
    """A :class:`TextRun` from a directory written by :func:`save_run`."""
    run_dir = Path(run_dir)
    model, tokenizer = load_model(run_dir, device)
    if tokenizer is None:
        raise FileNotFoundError(f"{run_dir}: no tokenizer files (tokenizer.json / tokenizer_config.json)")
    meta = json.loads((run_dir / TEXT_RUN_FILE).read_text(encoding="utf-8")) if (run_dir / TEXT_RUN_FILE).exists() \
        else {"text_form": "native", "label_key": "label", "max_length": 128}
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return TextRun(model, tokenizer, labels, meta["text_form"], meta["label_key"], int(meta["max_length"]), run_dir,
                   next(model.parameters()).device)


@torch.no_grad()
def classify_texts(run: TextRun, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Class probabilities (N, C) for texts already in the run's text form, in input order."""
    out = np.zeros((len(texts), len(run.labels)))
    for start in range(0, len(texts), batch_size):
        chunk = [t if t.strip() else " " for t in texts[start:start + batch_size]]
        enc = run.tokenizer(list(chunk), padding=True, truncation=True, max_length=run.max_length,
                            return_tensors="pt").to(run.device)
        logits = run.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        out[start:start + len(chunk)] = torch.softmax(logits.double(), -1).cpu().numpy()
    return out


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
