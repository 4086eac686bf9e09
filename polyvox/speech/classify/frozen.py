"""Training a classifier head on a frozen encoder without running the encoder every step: the encoder's frames are
computed once per utterance (:func:`encode_utterances`) and the pooling + head train on them
(:func:`frame_collate`). With a frozen encoder in eval mode this is the same function as
:class:`~polyvox.speech.classify.model.UtteranceClassifier`'s forward, at a fraction of the cost.
"""

from __future__ import annotations

from typing import Sequence

import torch

from polyvox.data.audio import load_audio
from polyvox.data.collate import pad_waveforms
from polyvox.data.manifest import Utterance


@torch.no_grad()
def encode_utterances(encoder: torch.nn.Module, utts: Sequence[Utterance], *, batch_size: int = 16,
                      sample_rate: int = 16000, device: str | None = None) -> list[torch.Tensor]:
    """Frames of each utterance, ``[(F_i, D)]`` in input order (on the CPU), from ``encoder(wavs, wav_lens)``, run on
    ``device`` (default: cuda when present; the encoder is moved there)."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    encoder.to(device).eval()
    order = sorted(range(len(utts)), key=lambda i: utts[i].duration)  # similar lengths share a batch
    out: list[torch.Tensor | None] = [None] * len(utts)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        wavs, lens = pad_waveforms([torch.as_tensor(load_audio(utts[i].audio, sample_rate)[0]) for i in idx])
        feats, feat_lens = encoder(wavs.to(device), lens.to(device))
        for row, i in enumerate(idx):
            out[i] = feats[row, : int(feat_lens[row])].float().cpu()
    return out  # type: ignore[return-value]


def frame_collate(items: Sequence[tuple[torch.Tensor, int]]) -> dict:
    """(frames (F_i, D), label) pairs -> ``feats`` (B, T, D) zero-padded, ``feat_lens`` (B,), ``labels`` (B,)."""
    lens = torch.tensor([f.shape[0] for f, _ in items])
    feats = torch.zeros(len(items), int(lens.max()), items[0][0].shape[1])
    for row, (f, _) in enumerate(items):
        feats[row, : f.shape[0]] = f
    return {"feats": feats, "feat_lens": lens, "labels": torch.tensor([y for _, y in items], dtype=torch.long)}


def head_logits(model, feats: torch.Tensor, feat_lens: torch.Tensor) -> torch.Tensor:
    """An UtteranceClassifier's pooling + head on precomputed frames: (B, T, D), (B,) -> (B, C)."""
    return model.head(model.pooling(feats, feat_lens))


@torch.no_grad()
def predict_frames(model, frames: Sequence[torch.Tensor], batch_size: int = 128) -> torch.Tensor:
    """Class probabilities (N, C) from precomputed frames, in input order."""
    was = model.training
    model.eval()
    device = next(model.head.parameters()).device
    out = []
    for start in range(0, len(frames), batch_size):
        b = frame_collate([(f, 0) for f in frames[start:start + batch_size]])
        out.append(torch.softmax(head_logits(model, b["feats"].to(device), b["feat_lens"].to(device)).float(), -1).cpu())
    model.train(was)
    return torch.cat(out) if out else torch.zeros(0)


def frame_loss_step(model, batch: dict) -> tuple[torch.Tensor, dict]:
    """fit()'s loss_step on precomputed frames: cross-entropy of pooling + head, plus batch accuracy."""
    logits = head_logits(model, batch["feats"], batch["feat_lens"])
    return torch.nn.functional.cross_entropy(logits, batch["labels"]), {
        "accuracy": (logits.argmax(-1) == batch["labels"]).float().mean().detach()}


def train_frame_classifier(model_cfg, train_cfg, train: Sequence[tuple[torch.Tensor, int]],
                           dev: Sequence[tuple[torch.Tensor, int]], labels: Sequence[str], run_dir, *,
                           batch_size: int = 32, label_key: str = "label"):
    """Pooling + head of ``build_classifier(model_cfg)`` trained by ``fit`` on (frames, label id) pairs, the best
    dev checkpoint kept, saved as an utterance classification run (``polyvox classify`` / ``understand`` load it and
    run the encoder on audio). Returns the model in eval mode."""
    from pathlib import Path

    from safetensors.torch import save_model
    from torch.utils.data import DataLoader

    from polyvox.speech.classify.config import ClassificationConfig
    from polyvox.speech.classify.model import build_classifier
    from polyvox.speech.classify.run import save_run_files
    from polyvox.train.loop import fit, load_best, seed_everything
    from polyvox.train.runs import MODEL_FILE

    run_dir = Path(run_dir)
    seed_everything(train_cfg.seed)
    model = build_classifier(model_cfg)
    loader = DataLoader(list(train), batch_size=batch_size, shuffle=True, collate_fn=frame_collate,
                        generator=torch.Generator().manual_seed(train_cfg.seed))
    gold = torch.tensor([y for _, y in dev])

    def evaluate(model):
        pred = predict_frames(model, [f for f, _ in dev]).argmax(1)
        return {"dev/accuracy": float((pred == gold).float().mean())}

    load_best(model, fit(model, loader, frame_loss_step, train_cfg, run_dir, evaluate=evaluate if dev else None))
    run_cfg = ClassificationConfig(run_dir=str(run_dir), model=model_cfg, train=train_cfg)
    run_cfg.data.label_key = label_key
    save_run_files(run_dir, run_cfg, labels, model)
    save_model(model, str(run_dir / MODEL_FILE))
    return model.eval()
