"""Utterance classification (speech emotion recognition, audio abuse detection), the training side: data (a
prepared corpus, manifests or a SYNTHETIC espeak-ng corpus), label collation, batched prediction and embedding,
per-language reports and the results files. The loss step and the protocols' flow live in the recipe
(``recipes/utterance_classification/train.py``); few-shot adaptation is :mod:`polyvox.speech.classify.fewshot`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Sequence

import torch

from polyvox.data.collate import collate_audio
from polyvox.data.manifest import Utterance, filter_manifest, read_manifest
from polyvox.eval import classification as cls_metrics
from polyvox.eval.tables import transfer_table
from polyvox.train.config import ConfigError, config_to_dict
from polyvox.speech.classify.config import SYNTH_LABEL_KEYS, ClassificationConfig, DataConfig, SynthConfig
from polyvox.speech.classify.model import UtteranceClassifier, encode_labels
from polyvox.speech.classify.run import MODEL_FILE
from polyvox.train.protocols import MULTILINGUAL

def synth_dir(s: SynthConfig) -> Path:
    """Where a synthetic corpus spec lives: ``s.dir`` or work/synth_<task>/<hash of the spec>."""
    if s.dir:
        return Path(s.dir)
    fields = {k: v for k, v in asdict(s).items() if k != "dir"}
    if fields["engines"] == ["espeak"]:
        del fields["engines"]  # the default keeps the folders of corpora built before engines existed
    spec = json.dumps(fields, sort_keys=True)
    return Path(f"work/synth_{s.task}") / hashlib.sha1(spec.encode()).hexdigest()[:10]


def synthesize(s: SynthConfig, label_key: str, out_dir: Path | None = None, langs: Sequence[str] | None = None,
               utts_per_lang: int | None = None, speakers: int | None = None) -> dict[str, Path]:
    """Build (or reuse) the synthetic corpus ``s`` -> {"train"|"dev"|"test": manifest path}."""
    from polyvox.data.synth.tasks import synthesize_abuse_corpus, synthesize_emotion_corpus

    if SYNTH_LABEL_KEYS[s.task] != label_key:
        raise ConfigError(f"data.synth.task={s.task!r} labels custom[{SYNTH_LABEL_KEYS[s.task]!r}], "
                         f"but data.label_key={label_key!r}")
    out = out_dir or synth_dir(s)
    langs = list(langs or s.langs)
    n, spk = utts_per_lang or s.utts_per_lang, speakers or s.speakers
    if s.task == "emotion":
        if list(s.engines) != ["espeak"]:
            raise ConfigError(f"data.synth.engines={s.engines}: the synthetic emotion classes are espeak-ng prosody "
                              f"styles that other engines cannot render; use engines with the abuse task, and "
                              f"data.augment for acoustic variety")
        return synthesize_emotion_corpus(out, langs, n, s.emotions, seed=s.seed, speakers=spk, jitter=s.jitter,
                                         splits=s.splits)
    return synthesize_abuse_corpus(out, langs, n, positive_fraction=s.positive_fraction, splits=s.splits,
                                   flagged_per_lang=s.flagged_per_lang, seed=s.seed, speakers=spk, jitter=s.jitter,
                                   engines=s.engines)


def uses_synth(data: DataConfig) -> bool:
    return not data.train_manifest and not data.prepare.corpus


def manifest_paths(data: DataConfig) -> dict[str, Path]:
    """The train/dev/test manifests: given, prepared from a real corpus, or synthesized."""
    if data.prepare.corpus:
        from polyvox.data.corpora import PREPARERS

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


def train_loader(utts, data: DataConfig, vocab, *, seed: int = 0, weights=None, report=None):
    """Training batches: duration buckets, shuffled by the seed (optionally weighted), labels collated."""
    from polyvox.data.augment import Augmenter
    from polyvox.data.dataset import AudioDataset
    from polyvox.data.sampler import DurationBucketSampler

    augment = Augmenter(data.augment, seed=seed) if data.augment.enabled else None
    ds = AudioDataset(utts, on_error="skip", report_path=report, augment=augment)
    sampler = DurationBucketSampler(ds.durations, data.max_batch_seconds, shuffle=True, seed=seed, weights=weights)
    return torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=data.num_workers,
                                       collate_fn=partial(collate_with_labels, key=data.label_key, vocab=vocab))


def _embedded_batches(model: UtteranceClassifier, utts: Sequence[Utterance], data: DataConfig, vocab):
    """(batch, pooled embeddings) over :func:`polyvox.data.dataset.eval_batches`, in eval mode."""
    from polyvox.data.dataset import eval_batches

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    collate = partial(collate_with_labels, key=data.label_key, vocab=vocab)
    try:
        for batch in eval_batches(utts, data.max_batch_seconds, collate_fn=collate, num_workers=data.num_workers):
            yield batch, model.embed(batch["wavs"].to(device), batch["wav_lens"].to(device))
    finally:
        model.train(was_training)


@torch.no_grad()
def predict(model: UtteranceClassifier, utts: Sequence[Utterance], data: DataConfig, vocab: Sequence[str]
            ) -> tuple[list[Utterance], list[int], list[int]]:
    """(utterances, true label indices, predicted indices) over ``utts``, in eval mode."""
    out_utts, y_true, y_pred = [], [], []
    for batch, emb in _embedded_batches(model, utts, data, vocab):
        out_utts += batch["utts"]
        y_true += batch["labels"].tolist()
        y_pred += model.head(emb).argmax(-1).cpu().tolist()
    return out_utts, y_true, y_pred


@torch.no_grad()
def embed_utterances(model: UtteranceClassifier, utts: Sequence[Utterance], data: DataConfig, vocab: Sequence[str]
                     ) -> tuple[torch.Tensor, torch.Tensor, list[Utterance]]:
    """Pooled embeddings (N, D) on the CPU, label indices (N,) and the utterances, in a fixed order."""
    embs, labels, kept = [], [], []
    for batch, emb in _embedded_batches(model, utts, data, vocab):
        embs.append(emb.cpu())
        labels.append(batch["labels"])
        kept += batch["utts"]
    if not kept:
        raise ValueError("no readable utterances to embed")
    order = sorted(range(len(kept)), key=lambda i: kept[i].id)  # independent of the batching
    return torch.cat(embs)[order], torch.cat(labels)[order], [kept[i] for i in order]


def finished_run(run_dir: Path, cfg: ClassificationConfig) -> dict | None:
    """results.json of a finished run trained with the same config (train_langs aside), else None."""
    path = run_dir / "results.json"
    if not (path.exists() and (run_dir / MODEL_FILE).exists()):
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    return saved if saved.get("config") == trained_with(cfg) else None


def trained_with(cfg: ClassificationConfig) -> dict:
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


def matrix_langs(cfg: ClassificationConfig) -> list[str]:
    """The transfer matrix's training languages: transfer.langs, else data.train_langs, else all."""
    return list(cfg.transfer.langs or cfg.data.train_langs or languages(load_splits(cfg.data)["train"]))


def transfer_markdown(matrix: dict[str, dict[str, dict[str, float]]]) -> str:
    parts = ["Rows: training language(s) (`all` = one multilingual model on every row language); columns: test "
             "language. Diagonal = in-language, off-diagonal = zero-shot cross-lingual.\n"]
    for m, mat in matrix.items():
        parts.append(f"{cls_metrics.METRIC_NAMES[m]} %:\n\n{transfer_table(mat, cls_metrics.METRIC_NAMES.get(m, m), bold_diagonal=True)}\n")
    return "\n".join(parts)


def write_overview(cfg: ClassificationConfig, matrix: dict, fewshot_text: str | None, minutes: float) -> Path:
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
    if fewshot_text is not None:
        lines.append(f"## Few-shot adaptation to an unseen language\n\n{fewshot_text}")
    path = run_dir / "results.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"results: {path}", flush=True)
    return path


def test_and_report(cfg: ClassificationConfig, run_dir: Path, model: UtteranceClassifier, test_utts, result, *,
                    vocab: Sequence[str], train_langs: Sequence[str], parameters: int, minutes: float) -> dict:
    """After ``fit``: the best (else last) checkpoint becomes the run's weights; the test set is scored per
    language (seen and zero-shot); writes predictions.jsonl, confusion_<lang>.png, results.json and results.md;
    returns ``{"all"|lang: classification_report}``."""
    import shutil

    from safetensors.torch import load_model

    from polyvox.eval.plots import plot_confusion_matrix

    chosen = result.best_checkpoint or result.last_checkpoint
    shutil.copyfile(chosen / MODEL_FILE, run_dir / MODEL_FILE)
    load_model(model, str(run_dir / MODEL_FILE))
    utts, y_true, y_pred = predict(model, test_utts, cfg.data, vocab)
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for u, t, p in zip(utts, y_true, y_pred):
            f.write(json.dumps({"id": u.id, "language": u.language, "true": vocab[t], "pred": vocab[p]},
                               ensure_ascii=False) + "\n")
    summary = per_language_reports(utts, y_true, y_pred, vocab)
    for lang, rep in summary.items():
        plot_confusion_matrix(rep["confusion_matrix"], vocab, run_dir / f"confusion_{lang}.png", title=f"test {lang}")
    results = {"summary": summary, "train_langs": list(train_langs), "labels": list(vocab), "checkpoint": str(chosen),
               "steps": result.step, "best_step": result.best_step, "minutes": minutes,
               "trainable_parameters": parameters, "config": trained_with(cfg)}
    (run_dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    table = results_table(summary, train_langs)
    (run_dir / "results.md").write_text(
        f"# {run_dir.name}: test set, {cfg.data.label_key} ({len(vocab)} classes)\n\n"
        f"Trained on {', '.join(train_langs)}; {cfg.model.encoder} encoder, {parameters / 1e6:.2f} M trainable "
        f"parameters, {result.step} steps, {minutes:.1f} min; weights from {chosen.name}.\n\n{table}\n",
        encoding="utf-8")
    print(table, flush=True)
    print(f"results: {run_dir / 'results.md'}", flush=True)
    return summary
