"""Utterance classification recipes (speech emotion recognition, audio abuse detection): the
shared config, data, training, cross-lingual protocols, few-shot adaptation and the trained-run
API that ``polyvox classify`` uses. ``recipes/emotion`` and ``recipes/abuse_detection`` are thin
scripts over this module; they differ only in their YAML.

Protocols (``protocol:`` in the config):

* ``standard``: one run, trained on ``data.train_langs``, tested on ``data.eval_langs``; test
  languages absent from training are marked zero-shot. ``train_langs=[xx] eval_langs=[xx]`` is
  the in-language protocol, the default (every language) the multilingual one.
* ``transfer``: one run per training language (``RUN/from-<lang>``) plus a multilingual run
  (``RUN/from-all``), each tested on every language: the train x test transfer matrix
  (``transfer.md``, ``transfer.json``, ``transfer_<metric>.png``). Diagonal = in-language,
  off-diagonal = zero-shot, the ``all`` row = multilingual.
* ``fewshot``: k labelled utterances per class of an unseen language (``fewshot.target_lang``),
  MAML / first-order MAML over the training languages as tasks vs plain fine-tuning, several
  seeds (``fewshot.md``, ``fewshot.json``). See :func:`fewshot_experiment` for what adapts.
* ``all``: transfer, then few-shot from its multilingual run; one ``results.md`` for everything.

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

import copy
import hashlib
import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from polyvox.data.collate import collate_audio, is_empty_batch
from polyvox.data.manifest import Utterance, filter_manifest, read_manifest, split_manifest
from polyvox.speech import cls_metrics
from polyvox.speech.classifier import (
    ClassifierConfig,
    UtteranceClassifier,
    balanced_sample_weights,
    build_classifier,
    class_weights,
    encode_labels,
    label_vocab,
)
from polyvox.train.config import ConfigError, TrainConfig, config_to_dict, load_config, save_config

CONFIG_FILE = "config.yaml"
LABELS_FILE = "labels.json"
HF_CONFIG_FILE = "hf_config.json"
MODEL_FILE = "model.safetensors"
MULTILINGUAL = "all"  # name of the transfer-matrix row trained on every language
SYNTH_LABEL_KEYS = {"emotion": "emotion", "abuse": "label"}
# finetune: the source head fine-tuned; fomaml / maml: meta-trained head + inner-loop SGD (classic);
# *+ft: the meta-trained head fine-tuned exactly like the baseline (only the starting point differs).
FEWSHOT_METHODS = ("finetune", "fomaml", "maml", "fomaml+ft", "maml+ft")
METHOD_NAMES = {"finetune": "fine-tune", "fomaml": "FOMAML", "maml": "MAML", "fomaml+ft": "FOMAML init + fine-tune",
                "maml+ft": "MAML init + fine-tune", "none": "no adaptation"}


# ----------------------------------------------------------------------------------- config


@dataclass
class SynthConfig:
    """A SYNTHETIC espeak-ng corpus (``polyvox.data.synth_tasks``), used when no manifests are given."""

    task: Literal["emotion", "abuse"] = "emotion"
    langs: list[str] = field(default_factory=lambda: ["en", "de", "es", "hi"])
    utts_per_lang: int = 80
    emotions: list[str] = field(default_factory=lambda: ["neutral", "happy", "sad", "angry"])  # emotion task only
    positive_fraction: float = 0.5  # abuse task only
    flagged_per_lang: int = 20  # abuse task only: stand-in flagged words per language
    speakers: int = 4
    # Speaker shares of train/dev/test in each language (speaker-disjoint).
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "dev": 0.1, "test": 0.1})
    jitter: float = 1.0
    seed: int = 0
    dir: str = ""  # default: work/synth_<task>/<hash of the spec>


@dataclass
class PrepareConfig:
    """A real corpus in its distributed layout, turned into manifests by
    ``polyvox.data.emotion_corpora.PREPARERS[corpus](root, out_dir)`` (cached)."""

    corpus: str = ""  # adima | crema_d | ravdess | emodb | iemocap; "" = not used
    root: str = ""  # e.g. /data/ADIMA (annotations/*_train.csv, *_test.csv and the audio)
    out_dir: str = ""  # default: work/<corpus>


@dataclass
class DataConfig:
    label_key: str = "emotion"  # utterances' custom[label_key] is the class
    train_manifest: str = ""  # JSONL manifests; all empty = data.prepare, else the synthetic corpus
    dev_manifest: str = ""
    test_manifest: str = ""
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    train_langs: list[str] = field(default_factory=list)  # [] = every language in the train manifest
    eval_langs: list[str] = field(default_factory=list)  # [] = every language in the test manifest
    balance: Literal["none", "class_weights", "sampler"] = "class_weights"
    max_batch_seconds: float = 32.0  # padded audio per batch
    min_duration: float = 0.2
    max_duration: float = 20.0
    num_workers: int = 0


@dataclass
class TransferConfig:
    langs: list[str] = field(default_factory=list)  # matrix rows: one run per language; [] = data.train_langs or all
    multilingual: bool = True  # add the row trained on all of them together


@dataclass
class FewShotConfig:
    """Few-shot adaptation to an unseen language; see :func:`fewshot_experiment`."""

    target_lang: str = ""  # the unseen language; must not be a training language
    target_utts: int = 0  # > 0: synthesize this many target-language utterances (synthetic corpora)
    target_speakers: int = 6  # synthetic target corpus: speakers (2/3 give the support pool, 1/3 the test set)
    source_run: str = ""  # a trained run (encoder + head) to start from; "" = RUN/from-all (trained if missing)
    shots: list[int] = field(default_factory=lambda: [10, 50, 100, 200])  # k labelled utterances per class
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    methods: list[str] = field(default_factory=lambda: list(FEWSHOT_METHODS))
    finetune_lr: float = 5e-3  # Adam on the head, full-batch steps on the k-shot support set
    finetune_steps: int = 50
    inner_lr: float = 0.3  # MAML inner-loop SGD learning rate (the head is standardized: see plain_head)
    inner_steps: int = 5  # inner steps while meta-training
    test_inner_steps: int = 5  # inner-loop steps when (fo)maml adapts to the target language
    meta_steps: int = 200  # outer updates
    meta_lr: float = 1e-3  # Adam on the meta-gradient
    meta_tasks: int = 4  # languages per meta-batch
    meta_shots: int = 5  # support utterances per class in a meta-training episode
    meta_query: int = 10  # query utterances per class in a meta-training episode (fewer if a language has fewer)


@dataclass
class ClassificationConfig:
    run_dir: str = "work/runs/classification"
    protocol: Literal["standard", "transfer", "fewshot", "all"] = "standard"
    data: DataConfig = field(default_factory=DataConfig)
    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    fewshot: FewShotConfig = field(default_factory=FewShotConfig)


# ----------------------------------------------------------------------------------- data


def synth_dir(s: SynthConfig) -> Path:
    """Where a synthetic corpus spec lives: ``s.dir`` or work/synth_<task>/<hash of the spec>."""
    if s.dir:
        return Path(s.dir)
    spec = json.dumps({k: v for k, v in asdict(s).items() if k != "dir"}, sort_keys=True)
    return Path(f"work/synth_{s.task}") / hashlib.sha1(spec.encode()).hexdigest()[:10]


def synthesize(s: SynthConfig, label_key: str, out_dir: Path | None = None, langs: Sequence[str] | None = None,
               utts_per_lang: int | None = None, speakers: int | None = None) -> dict[str, Path]:
    """Build (or reuse) the synthetic corpus ``s`` -> {"train"|"dev"|"test": manifest path}."""
    from polyvox.data.synth_tasks import synthesize_abuse_corpus, synthesize_emotion_corpus

    if SYNTH_LABEL_KEYS[s.task] != label_key:
        raise ConfigError(f"data.synth.task={s.task!r} labels custom[{SYNTH_LABEL_KEYS[s.task]!r}], "
                         f"but data.label_key={label_key!r}")
    out = out_dir or synth_dir(s)
    langs = list(langs or s.langs)
    n, spk = utts_per_lang or s.utts_per_lang, speakers or s.speakers
    if s.task == "emotion":
        return synthesize_emotion_corpus(out, langs, n, s.emotions, seed=s.seed, speakers=spk, jitter=s.jitter,
                                         splits=s.splits)
    return synthesize_abuse_corpus(out, langs, n, positive_fraction=s.positive_fraction, splits=s.splits,
                                   flagged_per_lang=s.flagged_per_lang, seed=s.seed, speakers=spk, jitter=s.jitter)


def uses_synth(data: DataConfig) -> bool:
    return not data.train_manifest and not data.prepare.corpus


def manifest_paths(data: DataConfig) -> dict[str, Path]:
    """The train/dev/test manifests: given, prepared from a real corpus, or synthesized."""
    if data.prepare.corpus:
        from polyvox.data.emotion_corpora import PREPARERS

        p = data.prepare
        if data.train_manifest:
            raise ValueError("set either data.train_manifest or data.prepare.corpus, not both")
        if p.corpus not in PREPARERS:
            raise ConfigError(f"data.prepare.corpus: unknown corpus {p.corpus!r}; expected one of {sorted(PREPARERS)}")
        if not p.root:
            raise ConfigError(f"data.prepare.root is empty: where is the {p.corpus} corpus?")
        return PREPARERS[p.corpus](p.root, p.out_dir or f"work/{p.corpus}")
    if not data.train_manifest:
        return synthesize(data.synth, data.label_key)
    paths = {"train": data.train_manifest, "dev": data.dev_manifest, "test": data.test_manifest}
    missing = [k for k, v in paths.items() if not v]
    if missing:
        raise ValueError(f"data.train_manifest is set, so data.{missing[0]}_manifest must be too")
    return {k: Path(v) for k, v in paths.items()}


def load_splits(data: DataConfig) -> dict[str, list[Utterance]]:
    """train/dev/test utterances after the language and duration filters (dev follows train_langs)."""
    paths = manifest_paths(data)
    keep = partial(filter_manifest, min_duration=data.min_duration, max_duration=data.max_duration)
    train_langs, eval_langs = data.train_langs or None, data.eval_langs or None
    return {"train": keep(read_manifest(paths["train"]), languages=train_langs),
            "dev": keep(read_manifest(paths["dev"]), languages=train_langs),
            "test": keep(read_manifest(paths["test"]), languages=eval_langs)}  # fmt: skip


def languages(utts: Sequence[Utterance]) -> list[str]:
    return sorted({u.language for u in utts})


def collate_with_labels(items, *, key: str, vocab: Sequence[str]) -> dict:
    """:func:`collate_audio` plus ``labels`` (B,) long: class indices of ``custom[key]`` in ``vocab``."""
    batch = collate_audio(items)
    batch["labels"] = torch.tensor(encode_labels(batch["utts"], key, vocab), dtype=torch.long)
    return batch


def make_loader(utts, data: DataConfig, vocab, *, train: bool, seed: int = 0, weights=None, report=None):
    from polyvox.data.dataset import AudioDataset
    from polyvox.data.sampler import DurationBucketSampler

    ds = AudioDataset(utts, on_error="skip", report_path=report)
    sampler = DurationBucketSampler(ds.durations, data.max_batch_seconds, shuffle=train, seed=seed, weights=weights,
                                    **({} if train else {"rank": 0, "world_size": 1}))
    return torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=data.num_workers,
                                       collate_fn=partial(collate_with_labels, key=data.label_key, vocab=vocab))


@torch.no_grad()
def predict(model: UtteranceClassifier, loader) -> tuple[list[Utterance], list[int], list[int]]:
    """(utterances, true label indices, predicted indices) over a loader, in eval mode."""
    utts, y_true, y_pred = [], [], []
    for batch, emb in _embedded_batches(model, loader):
        utts += batch["utts"]
        y_true += batch["labels"].tolist()
        y_pred += model.head(emb).argmax(-1).cpu().tolist()
    return utts, y_true, y_pred


@torch.no_grad()
def embed_utterances(model: UtteranceClassifier, utts: Sequence[Utterance], data: DataConfig, vocab: Sequence[str]
                     ) -> tuple[torch.Tensor, torch.Tensor, list[Utterance]]:
    """Pooled embeddings (N, D) on the CPU, label indices (N,) and the utterances, in a fixed order."""
    embs, labels, kept = [], [], []
    for batch, emb in _embedded_batches(model, make_loader(utts, data, vocab, train=False)):
        embs.append(emb.cpu())
        labels.append(batch["labels"])
        kept += batch["utts"]
    if not kept:
        raise ValueError("no readable utterances to embed")
    order = sorted(range(len(kept)), key=lambda i: kept[i].id)  # independent of the batching
    return torch.cat(embs)[order], torch.cat(labels)[order], [kept[i] for i in order]


def _embedded_batches(model: UtteranceClassifier, loader):
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        for batch in loader:
            if not is_empty_batch(batch):
                yield batch, model.embed(batch["wavs"].to(device), batch["wav_lens"].to(device))
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------------- run files


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
        (run_dir / HF_CONFIG_FILE).write_text(hf.config.to_json_string(), encoding="utf-8")


def resolve_run_dir(run_dir: str | os.PathLike) -> Path:
    """A run directory; a transfer/all protocol directory resolves to its multilingual run."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).exists() and (run_dir / f"from-{MULTILINGUAL}" / CONFIG_FILE).exists():
        return run_dir / f"from-{MULTILINGUAL}"
    return run_dir


def load_run(run_dir: str | os.PathLike, *, device: str | None = None) -> ClassifierRun:
    """Load a trained run for inference. Never downloads: an HF encoder is rebuilt from the run's
    saved ``hf_config.json`` and all weights come from ``model.safetensors``."""
    from safetensors.torch import load_model

    run_dir = resolve_run_dir(run_dir)
    for name in (CONFIG_FILE, LABELS_FILE, MODEL_FILE):
        if not (run_dir / name).exists():
            raise FileNotFoundError(f"{run_dir}: not a trained classification run ({name} missing)")
    cfg = load_config(ClassificationConfig, run_dir / CONFIG_FILE)
    labels = json.loads((run_dir / LABELS_FILE).read_text(encoding="utf-8"))["labels"]
    encoder = None
    if cfg.model.encoder == "hf":
        from polyvox.speech.classifier import hf_encoder_from_config

        path = run_dir / HF_CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; needed to rebuild the hf encoder without downloading")
        encoder = hf_encoder_from_config(json.loads(path.read_text(encoding="utf-8")), cfg.model)
    model = build_classifier(cfg.model, encoder=encoder)
    load_model(model, str(run_dir / MODEL_FILE))
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(dev).eval()
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


# ----------------------------------------------------------------------------------- training


def train_and_test(cfg: ClassificationConfig, run_dir: Path) -> dict:
    """Train one model on ``cfg.data.train_langs`` and test it on every eval language.

    Writes the run files plus results.md/.json, predictions.jsonl and confusion_<lang>.png;
    returns ``{"all"|lang: classification_report}``. A finished run with the same config is
    reused (its results.json is returned); an interrupted one resumes from its checkpoint."""
    from polyvox.train.loop import fit, seed_everything

    cached = _finished(run_dir, cfg)
    if cached is not None:
        print(f"{run_dir}: finished run with this config, reusing its results", flush=True)
        return cached["summary"]
    t0 = time.time()
    seed_everything(cfg.train.seed)
    data = cfg.data

    # ---- data and label set (from the training labels only)
    splits = load_splits(data)
    train_utts = splits["train"]
    if not train_utts:
        raise ValueError(f"no training utterances left for languages {data.train_langs or 'all'} "
                         "after the language/duration filters")
    vocab = label_vocab(train_utts, data.label_key)
    labels = encode_labels(train_utts, data.label_key, vocab)
    train_langs = languages(train_utts)
    print(f"train: {len(train_utts)} utts, languages {train_langs}, classes {vocab}; "
          f"dev {len(splits['dev'])}, test {len(splits['test'])}", flush=True)

    # ---- model
    model_cfg = copy.deepcopy(cfg.model)
    if model_cfg.num_classes and model_cfg.num_classes != len(vocab):
        raise ValueError(f"model.num_classes={model_cfg.num_classes} but the training labels have {len(vocab)} "
                         f"classes {vocab}")
    model_cfg.num_classes = len(vocab)
    model = build_classifier(model_cfg)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"model {model_cfg.encoder} + {model_cfg.pooling} pooling: {n_params / 1e6:.2f} M trainable parameters",
          flush=True)
    run_cfg = copy.deepcopy(cfg)
    run_cfg.model, run_cfg.data.train_langs = model_cfg, train_langs
    save_run_files(run_dir, run_cfg, vocab, model)

    # ---- class imbalance: weighted loss or class-balanced sampling (training labels only)
    weight = class_weights(labels, len(vocab)) if data.balance == "class_weights" else None
    sample_w = balanced_sample_weights(labels) if data.balance == "sampler" else None
    loader = make_loader(train_utts, data, vocab, train=True, seed=cfg.train.seed, weights=sample_w,
                         report=run_dir / "skipped.jsonl")
    dev_loader = make_loader(splits["dev"], data, vocab, train=False)

    def loss_step(model, batch):
        logits = model(batch["wavs"], batch["wav_lens"])
        w = None if weight is None else weight.to(logits.device)
        return F.cross_entropy(logits, batch["labels"], weight=w), {
            "acc": float((logits.argmax(-1) == batch["labels"]).float().mean())}

    def evaluate(model):
        _, t, p = predict(model, dev_loader)
        return {"dev/uar": cls_metrics.uar(t, p, len(vocab)), "dev/accuracy": cls_metrics.accuracy(t, p),
                "dev/macro_f1": cls_metrics.macro_f1(t, p, len(vocab))}

    result = fit(model, loader, loss_step, cfg.train, run_dir, evaluate=evaluate if splits["dev"] else None)

    # ---- final weights: the best checkpoint (by train.best_metric) or the last one
    from safetensors.torch import load_model

    chosen = result.best_checkpoint or result.last_checkpoint
    shutil.copyfile(chosen / MODEL_FILE, run_dir / MODEL_FILE)
    load_model(model, str(run_dir / MODEL_FILE))
    minutes = (time.time() - t0) / 60

    # ---- test per language, seen and zero-shot
    utts, y_true, y_pred = predict(model, make_loader(splits["test"], data, vocab, train=False))
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for u, t, p in zip(utts, y_true, y_pred):
            f.write(json.dumps({"id": u.id, "language": u.language, "true": vocab[t], "pred": vocab[p]},
                               ensure_ascii=False) + "\n")
    summary = per_language_reports(utts, y_true, y_pred, vocab)
    for lang, rep in summary.items():
        cls_metrics.plot_confusion_matrix(rep["confusion_matrix"], vocab, run_dir / f"confusion_{lang}.png",
                                          title=f"test {lang}")
    results = {"summary": summary, "train_langs": train_langs, "labels": vocab, "checkpoint": str(chosen),
               "steps": result.step, "best_step": result.best_step, "minutes": minutes,
               "trainable_parameters": n_params, "config": _trained_with(cfg)}
    (run_dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    table = results_table(summary, train_langs)
    (run_dir / "results.md").write_text(
        f"# {run_dir.name}: test set, {data.label_key} ({len(vocab)} classes)\n\n"
        f"Trained on {', '.join(train_langs)}; {model_cfg.encoder} encoder, {n_params / 1e6:.2f} M trainable "
        f"parameters, {result.step} steps, {minutes:.1f} min; weights from {chosen.name}.\n\n{table}\n",
        encoding="utf-8")
    print(table, flush=True)
    print(f"results: {run_dir / 'results.md'}", flush=True)
    return summary


def _finished(run_dir: Path, cfg: ClassificationConfig) -> dict | None:
    """results.json of a finished run trained with the same config (train_langs aside), else None."""
    path = run_dir / "results.json"
    if not (path.exists() and (run_dir / MODEL_FILE).exists()):
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    return saved if saved.get("config") == _trained_with(cfg) else None


def _trained_with(cfg: ClassificationConfig) -> dict:
    """The config sections that decide what a run learns (protocol and few-shot settings do not)."""
    return {k: config_to_dict(getattr(cfg, k)) for k in ("data", "model", "train")}


def per_language_reports(utts: Sequence[Utterance], y_true: Sequence[int], y_pred: Sequence[int],
                         vocab: Sequence[str]) -> dict[str, dict]:
    """{"all": report, lang: report, ...} of :func:`cls_metrics.classification_report`."""
    out = {}
    for lang in ["all"] + languages(utts):
        idx = [i for i, u in enumerate(utts) if lang == "all" or u.language == lang]
        out[lang] = cls_metrics.classification_report([y_true[i] for i in idx], [y_pred[i] for i in idx], vocab)
    return out


def results_table(summary: dict, train_langs: Sequence[str]) -> str:
    """Markdown: one row per test language (zero-shot marked), accuracy, UAR and macro-F1 in %."""
    lines = ["| language | utterances | accuracy % | UAR % | macro-F1 % |", "|---|---:|---:|---:|---:|"]
    for lang, r in summary.items():
        name = lang if lang == "all" or lang in train_langs else f"{lang} (zero-shot)"
        lines.append(f"| {name} | {r['num_examples']} | {_pct(r['accuracy'])} | {_pct(r['uar'])} | "
                     f"{_pct(r['macro_f1'])} |")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


# ----------------------------------------------------------------------------------- transfer


def transfer(cfg: ClassificationConfig) -> dict[str, dict[str, dict[str, float]]]:
    """One run per training language (+ a multilingual one), each tested on every eval language.

    Returns ``{metric: {train row: {test language: value}}}`` for macro_f1 and uar, and writes
    transfer.json, transfer.md and transfer_<metric>.png in ``cfg.run_dir``."""
    run_dir = Path(cfg.run_dir)
    langs = matrix_langs(cfg)
    rows = [[lang] for lang in langs] + ([list(langs)] if cfg.transfer.multilingual and len(langs) > 1 else [])
    matrix: dict[str, dict[str, dict[str, float]]] = {m: {} for m in cls_metrics.TRANSFER_METRICS}
    for train_langs in rows:
        name = train_langs[0] if len(train_langs) == 1 else MULTILINGUAL
        sub = copy.deepcopy(cfg)
        sub.protocol, sub.data.train_langs = "standard", list(train_langs)
        summary = train_and_test(sub, run_dir / f"from-{name}")
        for m in matrix:
            matrix[m][name] = {lang: rep[m] for lang, rep in summary.items() if lang != "all"}
    (run_dir / "transfer.json").write_text(json.dumps(matrix, indent=1), encoding="utf-8")
    (run_dir / "transfer.md").write_text(transfer_markdown(matrix), encoding="utf-8")
    for m, mat in matrix.items():
        cls_metrics.plot_transfer_matrix(mat, m, run_dir / f"transfer_{m}.png")
    print(transfer_markdown(matrix), flush=True)
    return matrix


def matrix_langs(cfg: ClassificationConfig) -> list[str]:
    """The transfer matrix's training languages: transfer.langs, else data.train_langs, else all."""
    return list(cfg.transfer.langs or cfg.data.train_langs or languages(load_splits(cfg.data)["train"]))


def transfer_markdown(matrix: dict[str, dict[str, dict[str, float]]]) -> str:
    parts = ["Rows: training language(s) (`all` = one multilingual model on every row language); columns: test "
             "language. Diagonal = in-language, off-diagonal = zero-shot cross-lingual.\n"]
    for m, mat in matrix.items():
        parts.append(f"{cls_metrics.METRIC_NAMES[m]} %:\n\n{cls_metrics.transfer_table(mat, m)}\n")
    return "\n".join(parts)


# ----------------------------------------------------------------------------------- few-shot


def sample_shots(labels: torch.Tensor | Sequence[int], k: int, rng: random.Random, num_classes: int) -> list[int]:
    """Indices of ``k`` examples of every class (sorted), drawn without replacement; a class with
    fewer than ``k`` examples is an error naming it."""
    labels = [int(y) for y in labels]
    out = []
    for c in range(num_classes):
        idx = [i for i, y in enumerate(labels) if y == c]
        if len(idx) < k:
            raise ValueError(f"class {c} has {len(idx)} examples in the support pool, fewer than k={k} shots")
        out += rng.sample(idx, k)
    return sorted(out)


def episode(x: torch.Tensor, y: torch.Tensor, shots: int, query: int, rng: random.Random, num_classes: int):
    """A meta-training episode from one language: ((xs, ys) support with ``shots`` per class,
    (xq, yq) query with up to ``query`` other examples per class)."""
    s_idx, q_idx = [], []
    for c in range(num_classes):
        idx = [i for i, v in enumerate(y.tolist()) if v == c]
        rng.shuffle(idx)
        s_idx += idx[:shots]
        q_idx += idx[shots: shots + query]
    if not s_idx or not q_idx:
        raise ValueError(f"a meta-training language has too few examples for {shots} support shots + a query set")
    return (x[s_idx], y[s_idx]), (x[q_idx], y[q_idx])


def head_loss(model_fn, batch) -> torch.Tensor:
    """Cross-entropy of a head on pooled embeddings; ``batch`` = (x (N, D), y (N,))."""
    x, y = batch
    return F.cross_entropy(model_fn(x), y)


class Standardize(torch.nn.Module):
    """``(x - mean) / std`` with fixed buffers (never adapted): (N, D) -> (N, D)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def plain_head(head: torch.nn.Module, x: torch.Tensor) -> torch.nn.Sequential:
    """The same function as ``head`` (eval mode), reparameterized for gradient steps: without
    dropout (deterministic adaptation), and with the input of every linear layer standardized
    by its statistics on ``x`` (N, D) while the layer absorbs the inverse (``W' = W * std``,
    ``b' = b + W @ mean``). Outputs are unchanged, but plain SGD (the MAML inner loop) no longer
    has to cope with badly scaled embeddings and hidden units."""
    layers = [copy.deepcopy(m) for m in (head if isinstance(head, torch.nn.Sequential) else [head])]
    out, a = [], x
    with torch.no_grad():
        for m in layers:
            if isinstance(m, torch.nn.Dropout):
                continue
            if isinstance(m, torch.nn.Linear):
                mean, std = a.mean(0), a.std(0).clamp(min=1e-4)
                if m.bias is not None:
                    m.bias.add_(m.weight @ mean)
                m.weight.mul_(std)
                out.append(Standardize(mean, std))
                a = m(out[-1](a))
            else:
                a = m(a)
            out.append(m)
    return torch.nn.Sequential(*out).eval()


def meta_train(head: torch.nn.Module, source: dict[str, tuple[torch.Tensor, torch.Tensor]], fs: FewShotConfig,
               *, first_order: bool, seed: int, num_classes: int) -> torch.nn.Module:
    """MAML over languages as tasks: a copy of ``head`` meta-trained on episodes of ``source``
    ({lang: (embeddings, labels)}); every parameter of the head adapts in the inner loop."""
    from polyvox.train.maml import MAMLConfig, Task, meta_step

    head = copy.deepcopy(head)
    rng = random.Random(f"meta:{seed}")
    torch.manual_seed(seed)
    cfg = MAMLConfig(inner_lr=fs.inner_lr, inner_steps=fs.inner_steps, first_order=first_order)
    opt = torch.optim.Adam(head.parameters(), lr=fs.meta_lr)
    names = sorted(source)
    for _ in range(fs.meta_steps):
        tasks = [Task(lang, *episode(*source[lang], fs.meta_shots, fs.meta_query, rng, num_classes))
                 for lang in rng.sample(names, min(fs.meta_tasks, len(names)))]
        meta_step(head, opt, tasks, head_loss, cfg)
    return head


def maml_adapt(head: torch.nn.Module, support, fs: FewShotConfig) -> torch.nn.Module:
    """A copy of ``head`` after ``fs.test_inner_steps`` inner-loop SGD steps on ``support``."""
    from polyvox.train.maml import MAMLConfig, adapt

    fast = adapt(head, support, head_loss, MAMLConfig(inner_lr=fs.inner_lr, inner_steps=fs.test_inner_steps,
                                                      first_order=True))
    tuned = copy.deepcopy(head)
    with torch.no_grad():
        for name, p in tuned.named_parameters():
            if name in fast:
                p.copy_(fast[name])
    return tuned


@torch.no_grad()
def score_head(head: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> dict[str, float]:
    pred = head.eval()(x).argmax(-1)
    return {"macro_f1": cls_metrics.macro_f1(y, pred, num_classes), "uar": cls_metrics.uar(y, pred, num_classes),
            "accuracy": cls_metrics.accuracy(y, pred)}


def fewshot_experiment(head: torch.nn.Module, source: dict[str, tuple[torch.Tensor, torch.Tensor]],
                       pool: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                       fs: FewShotConfig, num_classes: int) -> list[dict]:
    """MAML / FOMAML vs fine-tuning on a new language, from frozen utterance embeddings.

    The encoder + pooling of a model trained on the source languages are frozen; only the MLP
    head adapts (what keeps second-order MAML and many seeds CPU-cheap). Every method starts
    from the source model's head (see :func:`plain_head`): ``finetune`` adapts it with Adam on
    the k-shot support set; ``maml`` / ``fomaml`` first meta-train it on episodes of the source
    languages (one task = one language), then adapt with the inner-loop SGD, as meta-trained;
    ``maml+ft`` / ``fomaml+ft`` fine-tune the meta-trained head exactly like ``finetune``, so
    only the starting point differs. ``none`` (k = 0) is the head as is.
    Returns rows ``{"method", "k", "seed", "macro_f1", "uar", "accuracy"}``.
    """
    unknown = [m for m in fs.methods if m not in FEWSHOT_METHODS]
    if unknown:
        raise ConfigError(f"fewshot.methods: unknown {unknown}; choose from {list(FEWSHOT_METHODS)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only add overhead
    try:
        return _fewshot_rows(head, source, pool, test, fs, num_classes)
    finally:
        torch.set_num_threads(threads)


def _fewshot_rows(head, source, pool, test, fs: FewShotConfig, num_classes: int) -> list[dict]:
    """:func:`fewshot_experiment`'s loop: seeds -> meta-training -> shots -> methods."""
    from polyvox.train.maml import finetune

    head = plain_head(head, torch.cat([x for x, _ in source.values()]))
    rows = [{"method": "none", "k": 0, "seed": None, **score_head(head, *test, num_classes)}]
    for seed in fs.seeds:
        starts = {m: meta_train(head, source, fs, first_order=m == "fomaml", seed=seed, num_classes=num_classes)
                  for m in ("fomaml", "maml") if m in fs.methods or f"{m}+ft" in fs.methods}
        for k in fs.shots:
            idx = sample_shots(pool[1], k, random.Random(f"shots:{seed}:{k}"), num_classes)
            support = (pool[0][idx], pool[1][idx])
            for m in fs.methods:
                torch.manual_seed(seed)
                if m in ("fomaml", "maml"):
                    tuned = maml_adapt(starts[m], support, fs)
                else:
                    start = head if m == "finetune" else starts[m.removesuffix("+ft")]
                    tuned = finetune(start, [support], head_loss, lr=fs.finetune_lr, steps=fs.finetune_steps)
                rows.append({"method": m, "k": k, "seed": seed, **score_head(tuned, *test, num_classes)})
    return rows


def fewshot_summary(rows: Sequence[dict]) -> list[dict]:
    """Mean and standard deviation (over seeds, ddof=0) per (k, method)."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["k"], r["method"]), []).append(r)
    out = []
    for (k, method), rs in sorted(groups.items()):
        item = {"k": k, "method": method, "seeds": len(rs)}
        for m in ("macro_f1", "uar", "accuracy"):
            vals = np.array([r[m] for r in rs], dtype=float)
            item[f"{m}_mean"], item[f"{m}_std"] = float(vals.mean()), float(vals.std())
        out.append(item)
    return out


def fewshot_table(summary: Sequence[dict], metric: str = "macro_f1") -> str:
    """Markdown: rows = k shots per class, columns = methods, cells = mean ± std over seeds in %."""
    methods = [m for m in FEWSHOT_METHODS if any(s["method"] == m for s in summary)]
    by = {(s["k"], s["method"]): s for s in summary}
    lines = [f"| k / class ({cls_metrics.METRIC_NAMES[metric]} %) | " + " | ".join(METHOD_NAMES[m] for m in methods)
             + " |", "|---:|" + "---:|" * len(methods)]
    for k in sorted({s["k"] for s in summary if s["method"] != "none"}):
        cells = []
        for m in methods:
            s = by.get((k, m))
            cells.append("-" if s is None else f"{100 * s[metric + '_mean']:.1f} ± {100 * s[metric + '_std']:.1f}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fewshot_data(cfg: ClassificationConfig) -> tuple[list[Utterance], list[Utterance]]:
    """(support pool, test) utterances of the target language.

    Synthetic (``fewshot.target_utts > 0``): a corpus of the target language alone with the same
    settings, re-split by speaker: 2/3 of the speakers give the pool, 1/3 the test set. Else the
    target language's rows of the data manifests: train + dev = pool, test = test."""
    fs, data = cfg.fewshot, cfg.data
    keep = partial(filter_manifest, min_duration=data.min_duration, max_duration=data.max_duration,
                   languages=[fs.target_lang])
    if fs.target_utts > 0:
        if not uses_synth(data):
            raise ValueError("fewshot.target_utts > 0 synthesizes the target language, but the data is a real corpus; "
                             "use target_utts: 0 to take the target language from its manifests")
        out = synth_dir(data.synth).parent / f"{synth_dir(data.synth).name}-target-{fs.target_lang}-{fs.target_utts}"
        paths = synthesize(data.synth, data.label_key, out, [fs.target_lang], fs.target_utts, fs.target_speakers)
        utts = [u for p in paths.values() for u in keep(read_manifest(p))]
        parts = split_manifest(utts, {"pool": 2, "test": 1}, seed=data.synth.seed, by_speaker=True)
        return parts["pool"], parts["test"]
    paths = manifest_paths(data)
    pool = keep(read_manifest(paths["train"])) + keep(read_manifest(paths["dev"]))
    return pool, keep(read_manifest(paths["test"]))


def fewshot(cfg: ClassificationConfig) -> dict:
    """The few-shot protocol: source model (trained if needed) -> frozen embeddings -> MAML /
    FOMAML / fine-tuning on the target language -> fewshot.md / fewshot.json in ``cfg.run_dir``."""
    fs, run_dir = cfg.fewshot, Path(cfg.run_dir)
    if not fs.target_lang:
        raise ConfigError("fewshot.target_lang is empty: name the unseen language to adapt to")
    if not fs.shots or min(fs.shots) < 1:
        raise ConfigError(f"fewshot.shots must be >= 1 shots per class, got {fs.shots}")
    if fs.source_run:
        source_dir = Path(fs.source_run)
    else:  # the transfer matrix's multilingual run, or one without the target language
        langs = matrix_langs(cfg)
        src_langs = [lang for lang in langs if lang != fs.target_lang]
        name = MULTILINGUAL if src_langs == langs else f"{MULTILINGUAL}-except-{fs.target_lang}"
        source_dir = run_dir / f"from-{name}"
        sub = copy.deepcopy(cfg)
        sub.protocol, sub.data.train_langs = "standard", src_langs
        train_and_test(sub, source_dir)
    run = load_run(source_dir)
    src_langs = run.config.data.train_langs
    if fs.target_lang in src_langs:
        raise ConfigError(f"{source_dir} was trained on {src_langs}, which includes fewshot.target_lang "
                         f"{fs.target_lang!r}; the target language must be unseen")
    t0 = time.time()
    vocab, data = run.labels, cfg.data
    pool_utts, test_utts = fewshot_data(cfg)
    if not pool_utts or not test_utts:
        raise ValueError(f"fewshot: no support pool or test utterances for target language {fs.target_lang!r}")
    src = filter_manifest(read_manifest(manifest_paths(data)["train"]), min_duration=data.min_duration,
                          max_duration=data.max_duration, languages=src_langs)
    x_src, y_src, src_kept = embed_utterances(run.model, src, data, vocab)
    source = {}
    for lang in src_langs:
        idx = [i for i, u in enumerate(src_kept) if u.language == lang]
        source[lang] = (x_src[idx], y_src[idx])
    pool = embed_utterances(run.model, pool_utts, data, vocab)[:2]
    test = embed_utterances(run.model, test_utts, data, vocab)[:2]
    counts = np.bincount(pool[1].numpy(), minlength=len(vocab)).tolist()
    print(f"few-shot {fs.target_lang}: support pool {len(pool[0])} ({dict(zip(vocab, counts))}), "
          f"test {len(test[0])}; source tasks {src_langs}", flush=True)
    head = copy.deepcopy(run.model.head).cpu()  # the embeddings are on the CPU; the head is tiny
    rows = fewshot_experiment(head, source, pool, test, fs, len(vocab))
    summary = fewshot_summary(rows)
    minutes = (time.time() - t0) / 60
    result = {"target_lang": fs.target_lang, "source_run": str(source_dir), "source_langs": src_langs,
              "labels": vocab, "pool_counts": counts, "test_utterances": len(test[0]), "rows": rows,
              "summary": summary, "minutes": minutes, "config": config_to_dict(fs)}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "fewshot.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    text = fewshot_markdown(result)
    (run_dir / "fewshot.md").write_text(text, encoding="utf-8")
    print(text, flush=True)
    return result


def fewshot_markdown(result: dict) -> str:
    fs = result["config"]
    tasks = min(fs["meta_tasks"], len(result["source_langs"]))
    zero = next(s for s in result["summary"] if s["method"] == "none")
    return (
        f"Unseen language **{result['target_lang']}** ({result['test_utterances']} test utterances); source model "
        f"trained on {', '.join(result['source_langs'])}, encoder frozen, only the head adapts. Mean ± std over "
        f"seeds {fs['seeds']} (support sample and meta-training change with the seed, the encoder does not). "
        f"No adaptation (k = 0): macro-F1 {100 * zero['macro_f1_mean']:.1f} %, UAR {100 * zero['uar_mean']:.1f} %.\n\n"
        f"{fewshot_table(result['summary'], 'macro_f1')}\n\n{fewshot_table(result['summary'], 'uar')}\n\n"
        f"fine-tune: the source head, Adam lr {fs['finetune_lr']}, {fs['finetune_steps']} full-batch steps on the "
        f"k-shot support set. FOMAML / MAML (first / second order): the head meta-trained for {fs['meta_steps']} "
        f"meta-steps of {tasks} source languages (episodes of {fs['meta_shots']} support + "
        f"{fs['meta_query']} query utterances per class, inner SGD lr {fs['inner_lr']} x {fs['inner_steps']} "
        f"steps), adapted with {fs['test_inner_steps']} inner-loop SGD steps. \"init + fine-tune\": the meta-trained "
        f"head adapted like fine-tune. {result['minutes']:.1f} min.\n")


# ----------------------------------------------------------------------------------- protocols


def run_protocol(cfg: ClassificationConfig) -> None:
    """Run ``cfg.protocol`` and, for ``all``, write one results.md with every table."""
    run_dir = Path(cfg.run_dir)
    if cfg.protocol == "standard":
        train_and_test(cfg, run_dir)
        return
    if cfg.protocol == "transfer":
        transfer(cfg)
        return
    if cfg.protocol == "fewshot":
        fewshot(cfg)
        return
    t0 = time.time()
    matrix = transfer(cfg)
    result = fewshot(cfg) if cfg.fewshot.target_lang else None
    write_overview(cfg, matrix, result, (time.time() - t0) / 60)


def write_overview(cfg: ClassificationConfig, matrix: dict, fewshot_result: dict | None, minutes: float) -> Path:
    """results.md of the ``all`` protocol: multilingual per-language table, in-language table,
    transfer matrices and the few-shot table."""
    run_dir = Path(cfg.run_dir)
    multi = run_dir / f"from-{MULTILINGUAL}" / "results.json"
    task = {"emotion": "emotion recognition", "abuse": "abuse detection"}.get(cfg.data.synth.task, cfg.data.label_key)
    lines = [f"# {run_dir.name}: {task} ({cfg.data.label_key}), cross-lingual protocols\n"]
    if uses_synth(cfg.data):
        lines.append(f"SYNTHETIC espeak-ng corpus, speaker-disjoint splits: a pipeline check, not an {task} result "
                     "(docs/classification.md).")
    lines.append(f"{minutes:.1f} min in all.\n")
    if multi.exists():
        res = json.loads(multi.read_text(encoding="utf-8"))
        lines.append(f"## Multilingual model (trained on {', '.join(res['train_langs'])}), test set\n\n"
                     f"{results_table(res['summary'], res['train_langs'])}\n")
    diag = [(lang, matrix["macro_f1"][lang][lang], matrix["uar"][lang][lang]) for lang in matrix["macro_f1"]
            if lang != MULTILINGUAL and lang in matrix["macro_f1"][lang]]
    if diag:
        rows = "\n".join(f"| {l} | {_pct(u)} | {_pct(f)} |" for l, f, u in diag)
        lines.append("## In-language (one model per language, tested on that language)\n\n"
                     f"| language | UAR % | macro-F1 % |\n|---|---:|---:|\n{rows}\n")
    lines.append(f"## Transfer matrix\n\n{transfer_markdown(matrix)}")
    if fewshot_result is not None:
        lines.append(f"## Few-shot adaptation to an unseen language\n\n{fewshot_markdown(fewshot_result)}")
    path = run_dir / "results.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"results: {path}", flush=True)
    return path
