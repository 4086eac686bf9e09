"""Utterance classification: speech emotion recognition and audio abuse detection, in one language or across
languages. One script for both tasks; they differ only in their YAML (``recipes/emotion/configs``,
``recipes/abuse_detection/configs``, each with ``recipe: utterance_classification``).

    polyvox train emotion [key=value ...]            (= recipes/emotion/configs/base.yaml)
    polyvox train abuse_detection/adima data.prepare.root=/data/ADIMA

The config picks the data (a prepared corpus, manifests, or a SYNTHETIC espeak-ng corpus), the model
(``polyvox.speech.classify.model``: encoder -> pooling -> head) and the protocol:

* ``standard``: train on ``data.train_langs``, test on ``data.eval_langs`` (zero-shot marked);
* ``transfer``: one model per training language + a multilingual one -> transfer matrix;
* ``fewshot``: MAML / FOMAML vs fine-tuning with k shots per class of an unseen language;
* ``all``: transfer then few-shot, one ``results.md``.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

import torch.nn.functional as F

from polyvox.eval import classification as cls_metrics
from polyvox.eval.plots import plot_transfer_matrix
from polyvox.speech.classify import task
from polyvox.speech.classify.config import ClassificationConfig
from polyvox.speech.classify.fewshot import fewshot, fewshot_markdown
from polyvox.speech.classify.model import (balanced_sample_weights, build_classifier, class_weights, encode_labels,
                                           label_vocab)
from polyvox.speech.classify.run import save_run_files
from polyvox.train.config import load_config
from polyvox.train.loop import fit, seed_everything
from polyvox.train.protocols import run_transfer


def main(config_path: str, overrides: list[str]) -> int:
    cfg = load_config(ClassificationConfig, config_path, overrides)
    run_dir = Path(cfg.run_dir)
    if cfg.protocol == "standard":
        train_and_test(cfg, run_dir)
    elif cfg.protocol == "transfer":
        transfer(cfg)
    elif cfg.protocol == "fewshot":
        fewshot(cfg, train_and_test)
    else:  # all: transfer, then few-shot from its multilingual run, one results.md for everything
        t0 = time.time()
        matrix = transfer(cfg)
        result = fewshot(cfg, train_and_test) if cfg.fewshot.target_lang else None
        task.write_overview(cfg, matrix, fewshot_markdown(result) if result else None, (time.time() - t0) / 60)
    return 0


def train_and_test(cfg: ClassificationConfig, run_dir: Path) -> dict:
    """Train one model on ``cfg.data.train_langs`` and test it on every eval language; returns
    ``{"all"|lang: classification_report}``. A finished run with the same config is reused (its results
    returned); an interrupted one resumes from its last checkpoint."""
    cached = task.finished_run(run_dir, cfg)
    if cached is not None:
        print(f"{run_dir}: finished run with this config, reusing its results", flush=True)
        return cached["summary"]
    t0 = time.time()
    seed_everything(cfg.train.seed)
    data = cfg.data

    # ---- data and label set (from the training labels only)
    splits = task.load_splits(data)
    train_utts = splits["train"]
    if not train_utts:
        raise ValueError(f"no training utterances left for languages {data.train_langs or 'all'} "
                         "after the language/duration filters")
    vocab = label_vocab(train_utts, data.label_key)
    labels = encode_labels(train_utts, data.label_key, vocab)
    train_langs = task.languages(train_utts)
    print(f"train: {len(train_utts)} utts, languages {train_langs}, classes {vocab}; "
          f"dev {len(splits['dev'])}, test {len(splits['test'])}", flush=True)

    # ---- model: the number of classes comes from the training labels
    run_cfg = copy.deepcopy(cfg)
    if run_cfg.model.num_classes and run_cfg.model.num_classes != len(vocab):
        raise ValueError(f"model.num_classes={run_cfg.model.num_classes} but the training labels have {len(vocab)} "
                         f"classes {vocab}")
    run_cfg.model.num_classes, run_cfg.data.train_langs = len(vocab), train_langs
    model = build_classifier(run_cfg.model)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"model {run_cfg.model.encoder} + {run_cfg.model.pooling} pooling: {n_params / 1e6:.2f} M trainable "
          "parameters", flush=True)
    save_run_files(run_dir, run_cfg, vocab, model)

    # ---- class imbalance: weighted loss or class-balanced sampling (training labels only)
    weight = class_weights(labels, len(vocab)) if data.balance == "class_weights" else None
    sample_w = balanced_sample_weights(labels) if data.balance == "sampler" else None
    loader = task.train_loader(train_utts, data, vocab, seed=cfg.train.seed, weights=sample_w,
                               report=run_dir / "skipped.jsonl")

    def loss_step(model, batch):
        logits = model(batch["wavs"], batch["wav_lens"])
        w = None if weight is None else weight.to(logits.device)
        return F.cross_entropy(logits, batch["labels"], weight=w), {
            "acc": float((logits.argmax(-1) == batch["labels"]).float().mean())}

    def evaluate(model):
        _, t, p = task.predict(model, splits["dev"], data, vocab)
        return {"dev/uar": cls_metrics.uar(t, p, len(vocab)), "dev/accuracy": cls_metrics.accuracy(t, p),
                "dev/macro_f1": cls_metrics.macro_f1(t, p, len(vocab))}

    result = fit(model, loader, loss_step, cfg.train, run_dir, evaluate=evaluate if splits["dev"] else None)
    return task.test_and_report(cfg, run_dir, model, splits["test"], result, vocab=vocab, train_langs=train_langs,
                                parameters=n_params, minutes=(time.time() - t0) / 60)


def transfer(cfg: ClassificationConfig) -> dict[str, dict[str, dict[str, float]]]:
    """The train x test transfer matrix: ``{metric: {train row: {test language: value}}}`` for macro-F1 and UAR;
    writes transfer.json, transfer.md and transfer_<metric>.png in ``cfg.run_dir``."""
    run_dir = Path(cfg.run_dir)
    summaries = run_transfer(train_and_test, cfg, task.matrix_langs(cfg), run_dir,
                             multilingual=cfg.transfer.multilingual)
    matrix = {m: {row: {lang: rep[m] for lang, rep in summary.items() if lang != "all"}
                  for row, summary in summaries.items()} for m in cls_metrics.TRANSFER_METRICS}
    (run_dir / "transfer.json").write_text(json.dumps(matrix, indent=1), encoding="utf-8")
    (run_dir / "transfer.md").write_text(task.transfer_markdown(matrix), encoding="utf-8")
    for m, mat in matrix.items():
        plot_transfer_matrix(mat, cls_metrics.METRIC_NAMES[m], run_dir / f"transfer_{m}.png", higher_is_better=True)
    print(task.transfer_markdown(matrix), flush=True)
    return matrix


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
