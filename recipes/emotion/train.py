"""Speech emotion recognition (utterance classification), in one or across languages.

    polyvox train recipes/emotion/configs/base.yaml [key=value ...]

One script, top to bottom: config -> manifests (a prepared corpus, or the SYNTHETIC espeak-ng
emotion corpus) -> label set -> UtteranceClassifier -> loss_step / evaluate -> fit() -> test
per language (results.md, results.json, predictions.jsonl, confusion_<lang>.png).

Cross-lingual: train on ``data.train_langs`` and test on ``data.eval_langs``; languages absent
from training are marked zero-shot in the results table. The label is ``custom[data.label_key]``
("emotion"); the same script trains any utterance-level label (e.g. ``label`` for abuse).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from polyvox.data.collate import collate_audio, is_empty_batch
from polyvox.data.dataset import AudioDataset
from polyvox.data.manifest import Utterance, filter_manifest, read_manifest
from polyvox.data.sampler import DurationBucketSampler
from polyvox.data.synth_tasks import DEFAULT_EMOTIONS, synthesize_emotion_corpus
from polyvox.speech import cls_metrics
from polyvox.speech.classifier import (
    ClassifierConfig,
    balanced_sample_weights,
    build_classifier,
    class_weights,
    encode_labels,
    label_vocab,
)
from polyvox.train.config import TrainConfig, load_config
from polyvox.train.loop import fit, seed_everything


@dataclass
class SynthConfig:
    """The SYNTHETIC prosodic emotion corpus used when no manifests are given."""

    langs: list[str] = field(default_factory=lambda: ["en", "de", "es", "hi"])
    utts_per_lang: int = 80
    emotions: list[str] = field(default_factory=lambda: list(DEFAULT_EMOTIONS))
    speakers: int = 4
    jitter: float = 1.0
    seed: int = 0
    dir: str = ""  # default: work/synth_emotion/<hash of the spec>


@dataclass
class DataConfig:
    label_key: str = "emotion"
    train_manifest: str = ""  # JSONL manifests (e.g. from polyvox.data.emotion_corpora); empty = synth
    dev_manifest: str = ""
    test_manifest: str = ""
    synth: SynthConfig = field(default_factory=SynthConfig)
    train_langs: list[str] = field(default_factory=list)  # [] = every language in the train manifest
    eval_langs: list[str] = field(default_factory=list)  # [] = every language in the test manifest
    balance: Literal["none", "class_weights", "sampler"] = "class_weights"
    max_batch_seconds: float = 32.0  # padded audio per batch
    min_duration: float = 0.2
    max_duration: float = 20.0
    num_workers: int = 0


@dataclass
class EmotionConfig:
    run_dir: str = "work/runs/emotion/base"
    data: DataConfig = field(default_factory=DataConfig)
    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def main(config_path: str, overrides: list[str]) -> int:
    cfg = load_config(EmotionConfig, config_path, overrides)
    train_and_test(cfg, Path(cfg.run_dir))
    return 0


def load_splits(data: DataConfig) -> dict[str, list[Utterance]]:
    """train/dev/test utterances after the language and duration filters."""
    if data.train_manifest:
        paths = {"train": data.train_manifest, "dev": data.dev_manifest, "test": data.test_manifest}
        missing = [k for k, v in paths.items() if not v]
        if missing:
            raise ValueError(f"data.train_manifest is set, so data.{missing[0]}_manifest must be too")
    else:
        s = data.synth
        spec = json.dumps(asdict(s), sort_keys=True)
        out = s.dir or f"work/synth_emotion/{hashlib.sha1(spec.encode()).hexdigest()[:10]}"
        paths = synthesize_emotion_corpus(out, s.langs, s.utts_per_lang, s.emotions, seed=s.seed,
                                          speakers=s.speakers, jitter=s.jitter)
    keep = partial(filter_manifest, min_duration=data.min_duration, max_duration=data.max_duration)
    return {"train": keep(read_manifest(paths["train"]), languages=data.train_langs or None),
            "dev": keep(read_manifest(paths["dev"]), languages=data.train_langs or None),
            "test": keep(read_manifest(paths["test"]), languages=data.eval_langs or None)}  # fmt: skip


def collate_with_labels(items, *, key: str, vocab: list[str]) -> dict:
    batch = collate_audio(items)
    batch["labels"] = torch.tensor(encode_labels(batch["utts"], key, vocab), dtype=torch.long)
    return batch


def make_loader(utts, data: DataConfig, vocab, *, train: bool, seed: int = 0, weights=None, report=None):
    ds = AudioDataset(utts, on_error="skip", report_path=report)
    sampler = DurationBucketSampler(ds.durations, data.max_batch_seconds, shuffle=train, seed=seed, weights=weights)
    return torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=data.num_workers,
                                       collate_fn=partial(collate_with_labels, key=data.label_key, vocab=vocab))


@torch.no_grad()
def predict(model, loader) -> tuple[list[Utterance], list[int], list[int]]:
    """(utterances, true label indices, predicted indices) over a loader, in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    utts, y_true, y_pred = [], [], []
    for batch in loader:
        if is_empty_batch(batch):
            continue
        logits = model(batch["wavs"].to(device), batch["wav_lens"].to(device))
        utts += batch["utts"]
        y_true += batch["labels"].tolist()
        y_pred += logits.argmax(-1).cpu().tolist()
    model.train(was_training)
    return utts, y_true, y_pred


def train_and_test(cfg: EmotionConfig, run_dir: Path) -> dict:
    t0 = time.time()
    seed_everything(cfg.train.seed)
    data = cfg.data

    # ---- data and label set (from the training labels only)
    splits = load_splits(data)
    train_utts = splits["train"]
    if not train_utts:
        raise ValueError("no training utterances left after the language/duration filters")
    vocab = label_vocab(train_utts, data.label_key)
    labels = encode_labels(train_utts, data.label_key, vocab)
    train_langs = sorted({u.language for u in train_utts})
    print(f"train: {len(train_utts)} utts, languages {train_langs}, classes {vocab}; "
          f"dev {len(splits['dev'])}, test {len(splits['test'])}", flush=True)

    # ---- model
    if cfg.model.num_classes and cfg.model.num_classes != len(vocab):
        raise ValueError(f"model.num_classes={cfg.model.num_classes} but the training labels have {len(vocab)} classes {vocab}")
    cfg.model.num_classes = len(vocab)
    model = build_classifier(cfg.model)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"model {cfg.model.encoder} + {cfg.model.pooling} pooling: {n_params / 1e6:.2f} M trainable parameters",
          flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
    (run_dir / "labels.json").write_text(json.dumps({"key": data.label_key, "labels": vocab}), encoding="utf-8")

    # ---- class imbalance: weighted loss or class-balanced sampling
    weight = class_weights(labels, len(vocab)) if data.balance == "class_weights" else None
    sample_w = balanced_sample_weights(labels) if data.balance == "sampler" else None
    loader = make_loader(train_utts, data, vocab, train=True, seed=cfg.train.seed, weights=sample_w,
                         report=run_dir / "skipped.jsonl")
    dev_loader = make_loader(splits["dev"], data, vocab, train=False)

    def loss_step(model, batch):
        logits = model(batch["wavs"], batch["wav_lens"])
        loss = F.cross_entropy(logits, batch["labels"], weight=None if weight is None else weight.to(logits.device))
        return loss, {"acc": float((logits.argmax(-1) == batch["labels"]).float().mean())}

    def evaluate(model):
        _, t, p = predict(model, dev_loader)
        return {"dev/uar": cls_metrics.uar(t, p, len(vocab)), "dev/accuracy": cls_metrics.accuracy(t, p),
                "dev/macro_f1": cls_metrics.macro_f1(t, p, len(vocab))}

    result = fit(model, loader, loss_step, cfg.train, run_dir, evaluate=evaluate if splits["dev"] else None)

    # ---- final weights: the best checkpoint (by train.best_metric) or the last one
    from safetensors.torch import load_model

    chosen = result.best_checkpoint or result.last_checkpoint
    load_model(model, str(chosen / "model.safetensors"))

    # ---- test per language, seen and zero-shot
    utts, y_true, y_pred = predict(model, make_loader(splits["test"], data, vocab, train=False))
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for u, t, p in zip(utts, y_true, y_pred):
            f.write(json.dumps({"id": u.id, "language": u.language, "true": vocab[t], "pred": vocab[p]},
                               ensure_ascii=False) + "\n")
    summary = {}
    for lang in ["all"] + sorted({u.language for u in utts}):
        idx = [i for i, u in enumerate(utts) if lang == "all" or u.language == lang]
        t, p = [y_true[i] for i in idx], [y_pred[i] for i in idx]
        summary[lang] = cls_metrics.classification_report(t, p, vocab)
        cls_metrics.plot_confusion_matrix(summary[lang]["confusion_matrix"], vocab, run_dir / f"confusion_{lang}.png",
                                          title=f"test {lang}")
    minutes = (time.time() - t0) / 60
    (run_dir / "results.json").write_text(json.dumps(
        {"summary": summary, "train_langs": train_langs, "labels": vocab, "checkpoint": str(chosen),
         "steps": result.step, "best_step": result.best_step, "minutes": minutes, "trainable_parameters": n_params},
        indent=1), encoding="utf-8")  # fmt: skip
    table = results_table(summary, train_langs)
    (run_dir / "results.md").write_text(
        f"# {run_dir.name}: test set, {data.label_key} ({len(vocab)} classes)\n\n"
        f"{cfg.model.encoder} encoder, {n_params / 1e6:.2f} M trainable parameters, {result.step} steps, "
        f"{minutes:.1f} min; weights from {chosen.name}.\n\n{table}\n", encoding="utf-8")
    print(table, flush=True)
    print(f"results: {run_dir / 'results.md'}", flush=True)
    return summary


def results_table(summary: dict, train_langs: list[str]) -> str:
    lines = ["| language | utterances | accuracy % | UAR % | macro-F1 % |", "|---|---:|---:|---:|---:|"]
    for lang, r in summary.items():
        name = lang if lang == "all" or lang in train_langs else f"{lang} (zero-shot)"
        lines.append(f"| {name} | {r['num_examples']} | {100 * r['accuracy']:.1f} | {100 * r['uar']:.1f} | "
                     f"{100 * r['macro_f1']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
