"""Utterance classification, the inference side: a trained run's files, ``load_run`` (never downloads: an HF
encoder is rebuilt from the run's saved config) and ``classify`` (class probabilities), used by
``polyvox classify``, the few-shot protocol and the demo.

A run directory (one trained model) holds::

    config.yaml        resolved ClassificationConfig (the run's own train_langs)
    labels.json        {"key": label field, "labels": class names in output order}
    hf_config.json     the HF encoder's config (encoder: hf only), so loading never downloads
    model.safetensors  final weights (the best checkpoint by train.best_metric, else the last)
    results.md/.json, predictions.jsonl, confusion_<lang>.png, checkpoints/, metrics.jsonl

Usage::

    run = load_run("work/runs/emotion/base/from-all")
    probs = classify(run, [wav1, wav2])        # wav: float32 (time,) 16 kHz -> (2, C) probabilities
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from polyvox.train.config import load_config, save_config
from polyvox.speech.classify.config import ClassificationConfig
from polyvox.speech.classify.model import UtteranceClassifier, build_classifier
from polyvox.train.protocols import MULTILINGUAL
from polyvox.train.runs import CONFIG_FILE, MODEL_FILE, load_weights, read_hf_config, write_hf_config

LABELS_FILE = "labels.json"


@dataclass
class ClassifierRun:
    """A trained classifier ready for inference (eval mode)."""

    config: ClassificationConfig
    labels: list[str]
    model: UtteranceClassifier
    run_dir: Path
    device: torch.device = torch.device("cpu")


def save_run_files(run_dir: Path, cfg: ClassificationConfig, vocab: Sequence[str], model: UtteranceClassifier) -> None:
    """What inference needs besides the weights: config, labels, the HF encoder's config."""
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / CONFIG_FILE)
    (run_dir / LABELS_FILE).write_text(json.dumps({"key": cfg.data.label_key, "labels": list(vocab)}), encoding="utf-8")
    hf = getattr(model.encoder, "model", None)
    if hf is not None and hasattr(hf, "config") and hasattr(hf.config, "to_json_string"):
        write_hf_config(run_dir, hf.config)


def resolve_run_dir(run_dir: str | os.PathLike) -> Path:
    """A run directory; a transfer/all protocol directory resolves to its multilingual run."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).exists() and (run_dir / f"from-{MULTILINGUAL}" / CONFIG_FILE).exists():
        return run_dir / f"from-{MULTILINGUAL}"
    return run_dir


def load_run(run_dir: str | os.PathLike, *, device: str | None = None) -> ClassifierRun:
    """Load a trained run for inference. Never downloads: an HF encoder is rebuilt from the run's
    saved ``hf_config.json`` and all weights come from ``model.safetensors``."""
    run_dir = resolve_run_dir(run_dir)
    for name in (CONFIG_FILE, LABELS_FILE, MODEL_FILE):
        if not (run_dir / name).exists():
            raise FileNotFoundError(f"{run_dir}: not a trained classification run ({name} missing)")
    cfg = load_config(ClassificationConfig, run_dir / CONFIG_FILE)
    labels = json.loads((run_dir / LABELS_FILE).read_text(encoding="utf-8"))["labels"]
    encoder = None
    if cfg.model.encoder == "hf":
        from polyvox.speech.classify.model import hf_encoder_from_config

        encoder = hf_encoder_from_config(read_hf_config(run_dir, "hf encoder"), cfg.model)
    model, dev = load_weights(build_classifier(cfg.model, encoder=encoder), run_dir / MODEL_FILE, device)
    return ClassifierRun(cfg, labels, model, run_dir, dev)


@torch.no_grad()
def classify(run: ClassifierRun, wavs: Sequence, max_batch_seconds: float = 120.0) -> np.ndarray:
    """Class probabilities (N, C) for 16 kHz waveforms (each (time,), numpy or torch), in input
    order; column c is ``run.labels[c]``. Batches group similar lengths; padding is masked."""
    wavs = [torch.as_tensor(w, dtype=torch.float32).reshape(-1) for w in wavs]
    out = np.zeros((len(wavs), len(run.labels)), dtype=np.float64)
    order = sorted(range(len(wavs)), key=lambda i: -len(wavs[i]))
    sr = run.config.model.sample_rate
    while order:
        n = max(1, int(max_batch_seconds * sr // max(len(wavs[order[0]]), 1)))
        idx, order = order[:n], order[n:]
        lens = torch.tensor([len(wavs[i]) for i in idx])
        batch = torch.zeros(len(idx), int(lens.max()))
        for row, i in enumerate(idx):
            batch[row, : len(wavs[i])] = wavs[i]
        logits = run.model(batch.to(run.device), lens.to(run.device))
        out[idx] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
    return out
