"""CTC ASR / phone recognition, the training side: data (manifests or the built-in corpus), CTC targets and
their collation, the run's n-gram LM, and the per-language evaluation that scores dev inside ``fit`` and test
after it. The loss step lives in the recipe (``recipes/asr_ctc/train.py``)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from functools import partial
from pathlib import Path
from typing import Sequence

import torch

from polyvox.data.augment import Augmenter
from polyvox.data.dataset import AudioDataset, read_skip_report
from polyvox.data.manifest import Utterance, filter_manifest, read_manifests, take_minutes, take_per_language
from polyvox.data.sampler import DurationBucketSampler, language_balanced_weights
from polyvox.eval.error_rates import METRICS, results_table
from polyvox.eval.plots import plot_per_language
from polyvox.data.synth.spec import corpus_dir, synthesize_builtin  # noqa: F401 (re-exported)
from polyvox.speech.asr.config import AsrConfig, CorpusConfig, DataConfig  # noqa: F401 (CorpusConfig re-exported)
from polyvox.speech.asr.decoding import build_ngram_lm, lm_sentences
from polyvox.speech.asr.model import build_model, replace_output, resize_output
from polyvox.speech.asr.run import LM_FILE, MODEL_FILE, AsrRun, evaluate_utterances, load_run
from polyvox.speech.asr.vocab import Vocab, utterance_tokens, vocab_from_utterances
from polyvox.speech.ctc import pad_targets


def manifest_paths(d: DataConfig) -> dict[str, list[Path]]:
    """The train/dev/test manifests, synthesizing the built-in corpus if no manifests are given, and the held-out
    test sets ("heldout": the corpus's held-out-engine speech and ``data.heldout_manifests``; may be empty)."""
    if d.train_manifests:
        missing = [k for k in ("dev_manifests", "test_manifests") if not getattr(d, k)]
        if missing:
            raise ValueError(f"data.train_manifests is set, so data.{missing[0]} is needed too")
        return {s: [Path(p) for p in getattr(d, f"{s}_manifests")] for s in ("train", "dev", "test", "heldout")}
    paths = synthesize_builtin(d.corpus)
    out = {s: [paths[s]] for s in ("train", "dev", "test")}
    out["heldout"] = ([paths["heldout"]] if "heldout" in paths else []) + [Path(p) for p in d.heldout_manifests]
    return out


def load_splits(d: DataConfig, seed: int = 0) -> dict[str, list[Utterance]]:
    """Read and filter the manifests: train (train_langs, durations, few-shot subset), dev and
    test (eval_langs). Raises ValueError naming the manifest if a split ends up empty."""
    paths = manifest_paths(d)
    train = filter_manifest(read_manifests(paths["train"]), languages=d.train_langs or None,
                            min_duration=d.min_duration, max_duration=d.max_duration)  # fmt: skip
    if d.fewshot_minutes > 0:
        train = take_minutes(train, d.fewshot_minutes, seed)
    if d.extra_train_manifests:
        train += filter_manifest(read_manifests([Path(p) for p in d.extra_train_manifests]),
                                 languages=d.train_langs or None, min_duration=d.min_duration,
                                 max_duration=d.max_duration)
    dev = filter_manifest(read_manifests(paths["dev"]), languages=d.eval_langs or None)
    test = filter_manifest(read_manifests(paths["test"]), languages=d.eval_langs or None)
    if d.dev_utts_per_lang > 0:
        dev = take_per_language(dev, d.dev_utts_per_lang)
    for name, utts in (("train", train), ("dev", dev), ("test", test)):
        if not utts:
            langs = d.train_langs if name == "train" else d.eval_langs
            files = ", ".join(map(str, paths[name]))
            raise ValueError(f"{files}: no utterances left for split '{name}' (languages {langs or 'all'})")
    heldout = filter_manifest(read_manifests(paths["heldout"]), languages=d.eval_langs or None)
    return {"train": train, "dev": dev, "test": test, **({"heldout": heldout} if heldout else {})}


def batch_targets(utts: Sequence[Utterance], vocab: Vocab, unit: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded target ids (B, L) and lengths (B,) for a batch of utterances."""
    return pad_targets([vocab.encode(utterance_tokens(u, unit)) for u in utts], pad=vocab.blank_id)


def collate_with_targets(items: Sequence[dict | None], *, vocab: Vocab, unit: str) -> dict:
    """:func:`polyvox.data.collate.collate_audio` plus CTC targets: ``targets`` (B, L) long
    padded with the blank and ``target_lens`` (B,). Use with ``functools.partial``."""
    from polyvox.data.collate import collate_audio

    batch = collate_audio(items)
    if batch["ids"]:
        batch["targets"], batch["target_lens"] = batch_targets(batch["utts"], vocab, unit)
    return batch


def build_lm(run_dir: str | os.PathLike, train_utts: Sequence[Utterance], vocab: Vocab, cfg: AsrConfig) -> Path | None:
    """Build the run's n-gram LM from the training transcripts if ``decode.lm_order > 0``."""
    if cfg.decode.lm_order <= 0:
        return None
    sents = lm_sentences((utterance_tokens(u, cfg.data.unit) for u in train_utts), vocab)
    return build_ngram_lm(sents, cfg.decode.lm_order, Path(run_dir) / LM_FILE)


def primary_metric(unit: str) -> str:
    """The headline error rate for a target unit: "per" for phonemes, "cer" for characters."""
    return "per" if unit == "phoneme" else "cer"


def nan_to_none(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


def evaluate(run: AsrRun, utts: Sequence[Utterance], prefix: str = "dev", **kw) -> dict[str, float]:
    """Per-language error rates of ``run`` on ``utts`` as flat log keys (``dev/per``, ``dev/per/en``, ...): what
    ``fit`` logs and picks the best checkpoint by. ``kw`` goes to :func:`evaluate_utterances`."""
    summary, _ = evaluate_utterances(run, utts, **kw)
    return {f"{prefix}/{m}" + ("" if lang == "all" else f"/{lang}"): v
            for lang, s in summary.items() for m, v in s.items() if m in METRICS}


def describe_decoding(d) -> str:
    """'greedy decoding' / 'beam 16 + 2-gram LM (alpha 0.5, beta 1.0)'."""
    if d.method == "greedy":
        return "greedy decoding"
    lm = f" + {d.lm_order}-gram LM (alpha {d.lm_alpha}, beta {d.lm_beta})" if d.lm_order > 0 else ""
    lm = f" + LM {d.lm_path} (alpha {d.lm_alpha}, beta {d.lm_beta})" if d.lm_path else lm
    return f"beam {d.beam_width}{lm}"


def vocab_and_model(cfg: AsrConfig, train_utts: Sequence[Utterance]):
    """(vocab, model): a fresh model over the training transcripts' tokens, or, with ``cfg.init_from``, a trained
    run's model with its vocabulary extended by the new tokens (few-shot adaptation; ``cfg.model`` becomes the
    base run's). A base run of another unit (phones for a char run) gives its encoder and a fresh head.
    Shapes: the model maps wavs (B, S) + lens (B,) to log-probs (B, T, len(vocab))."""

    vocab = vocab_from_utterances(train_utts, cfg.data.unit, cfg.data.vocab_min_count)
    if not cfg.init_from:
        return vocab, build_model(cfg.model, len(vocab))
    base = load_run(cfg.init_from, device="cpu")
    if base.unit != cfg.data.unit:  # e.g. a phone run's encoder starting a char run: only the head is new
        # the encoder is the base run's; the new head's output upsampling is this config's
        cfg.model = dataclasses.replace(base.config.model, output_upsampling=cfg.model.output_upsampling)
        replace_output(base.model, len(vocab), cfg.model.output_upsampling)
        print(f"initialized the encoder from {cfg.init_from} ({base.unit} targets); a fresh output layer for "
              f"{len(vocab)} {cfg.data.unit} tokens", flush=True)
        return vocab, base.model
    cfg.model = base.config.model  # the architecture is the base run's
    vocab = base.vocab.extend(vocab.tokens)
    resize_output(base.model, len(vocab))
    print(f"initialized from {cfg.init_from}; vocabulary {len(base.vocab)} -> {len(vocab)}", flush=True)
    return vocab, base.model


def train_loader(cfg: AsrConfig, train_utts: Sequence[Utterance], vocab: Vocab, report: Path):
    """Training batches: duration buckets of ``data.max_batch_seconds`` padded audio, languages sampled with
    temperature ``data.alpha``; each batch holds wavs (B, S), wav_lens (B,), targets (B, L), target_lens (B,)."""
    augment = Augmenter(cfg.data.augment, seed=cfg.train.seed) if cfg.data.augment.enabled else None
    dataset = AudioDataset(train_utts, on_error=cfg.data.on_error, report_path=report, augment=augment)
    langs = [u.language for u in train_utts]
    weights = language_balanced_weights(langs, cfg.data.alpha) if len(set(langs)) > 1 else None
    sampler = DurationBucketSampler(dataset.durations, cfg.data.max_batch_seconds, seed=cfg.train.seed,
                                    weights=weights)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.data.num_workers,
                                       collate_fn=partial(collate_with_targets, vocab=vocab, unit=cfg.data.unit))


def test_and_report(cfg: AsrConfig, run_dir: Path, test_utts: Sequence[Utterance], result, *, train_langs,
                    parameters: int, train_minutes: float, total_minutes: float, report: Path,
                    heldout_utts: Sequence[Utterance] = ()) -> dict:
    """After ``fit``: the best (else last) checkpoint becomes the run's weights; the test set is scored with the
    configured decoding (and greedily, when that is beam search) in every language; writes predictions.jsonl,
    results.json, results.md and test_<metric>.png, prints the table, returns the per-language summary."""
    chosen = result.best_checkpoint or result.last_checkpoint
    shutil.copyfile(chosen / MODEL_FILE, run_dir / MODEL_FILE)
    run = load_run(run_dir)
    on_error, unit, decoding = cfg.data.on_error, cfg.data.unit, describe_decoding(cfg.decode)
    summary, rows = evaluate_utterances(run, test_utts, on_error=on_error, report_path=report)
    greedy = None  # with beam search, the greedy table too: what the decoder and LM buy
    if run.decoder is not None and cfg.test_greedy:
        greedy, _ = evaluate_utterances(dataclasses.replace(run, decoder=None), test_utts, on_error=on_error,
                                        report_path=report)
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({k: r[k] for k in ("id", "language", "ref", "hyp")}, ensure_ascii=False) + "\n")
    metric = primary_metric(unit)
    results = {"summary": {l: {k: nan_to_none(v) for k, v in s.items()} for l, s in summary.items()},
               "train_langs": train_langs, "unit": unit, "primary_metric": metric, "checkpoint": str(chosen),
               "steps": result.step, "best_step": result.best_step, "train_minutes": train_minutes,
               "total_minutes": total_minutes, "parameters": parameters, "decode": decoding}
    if greedy is not None:
        results["greedy_summary"] = {l: {k: nan_to_none(v) for k, v in s.items()} for l, s in greedy.items()}
    heldout_part = ""
    if heldout_utts:  # speech of engines (or sources) the run never trained on, scored apart
        heldout, _ = evaluate_utterances(run, heldout_utts, on_error=on_error, report_path=report)
        results["heldout_summary"] = {l: {k: nan_to_none(v) for k, v in s.items()} for l, s in heldout.items()}
        engines = sorted({u.custom.get("engine", "espeak") for u in heldout_utts})
        heldout_part = (f"\n## Held-out test set: speech of {', '.join(engines)}, never trained on\n\n"
                        f"{results_table(heldout, seen=train_langs)}\n")
        print(f"held-out ({', '.join(engines)}): {metric.upper()} {100 * heldout['all'][metric]:.2f} %", flush=True)
    (run_dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    table = results_table(summary, seen=train_langs)
    greedy_part = "" if greedy is None else f"\n## Greedy decoding, same model\n\n{results_table(greedy, seen=train_langs)}\n"
    greedy_part += heldout_part
    (run_dir / "results.md").write_text(
        f"# {run_dir.name}: test set, {unit} targets, {decoding}\n\n"
        f"{parameters / 1e6:.2f} M parameters ({cfg.model.backbone}), {result.step} steps, "
        f"{train_minutes:.1f} min of training ({total_minutes:.1f} min with data preparation); "
        f"weights from {chosen.name}.\n\n{table}\n{greedy_part}", encoding="utf-8")
    plot_per_language(summary, metric, run_dir / f"test_{metric}.png")
    if greedy is not None:
        print(f"greedy decoding: {metric.upper()} {100 * greedy['all'][metric]:.2f} %", flush=True)
    print(f"test set, {decoding}:", flush=True)
    print(table, flush=True)
    print(f"results: {run_dir / 'results.md'}", flush=True)
    if report.exists():
        print(f"{len(read_skip_report(report))} unusable clip(s) skipped, listed with reasons in {report}", flush=True)
    return summary
