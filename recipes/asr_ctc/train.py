"""Cross-lingual CTC speech recognition (characters) or phoneme recognition (IPA segments).

    polyvox train recipes/asr_ctc/configs/base.yaml [key=value ...]

One script, top to bottom: config -> data -> vocabulary -> model -> loss_step / evaluate ->
fit() -> final test evaluation per language (results.md, results.json, plots). Protocols:

* standard: train on data.train_langs (default: all), test on data.eval_langs (default: all),
  so languages never seen in training are scored too (zero-shot);
* few-shot: ``init_from: RUN`` starts from a trained run (vocabulary extended with new tokens)
  and ``data.fewshot_minutes`` keeps k minutes of each training language;
* transfer: one run per training language under RUN/from-<lang>/, then a train x test
  language matrix (transfer.md, transfer.png).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import sys
import time
from functools import partial
from pathlib import Path

import torch
from accelerate import PartialState

from polyvox.data.augment import speed_perturb
from polyvox.data.dataset import AudioDataset, read_skip_report
from polyvox.data.manifest import format_stats, manifest_stats
from polyvox.plotting import save_figure
from polyvox.data.sampler import DurationBucketSampler, language_balanced_weights
from polyvox.speech import asr, attributes
from polyvox.speech.ctc import ctc_loss
from polyvox.speech.metrics import METRICS, plot_transfer_heatmap, results_table, transfer_table
from polyvox.speech.models import build_model, count_parameters, resize_output
from polyvox.speech.vocab import vocab_from_utterances, Vocab
from polyvox.train.config import load_config
from polyvox.train.loop import fit, seed_everything


def main(config_path: str, overrides: list[str]) -> int:
    cfg = load_config(asr.AsrConfig, config_path, overrides)
    if cfg.protocol == "transfer":
        transfer(cfg)
    else:
        train_and_test(cfg, Path(cfg.run_dir))
    return 0


def train_and_test(cfg: asr.AsrConfig, run_dir: Path) -> dict:
    t0 = time.time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.train.seed)

    # ---- data: manifests (or the built-in corpus), language filters, few-shot subset
    dist = PartialState()  # under `accelerate launch`: the main process builds the corpus and writes files
    with dist.main_process_first():
        splits = asr.load_splits(cfg.data, seed=cfg.train.seed)
    train_utts, unit = splits["train"], cfg.data.unit
    train_langs = sorted({u.language for u in train_utts})
    if dist.is_main_process:
        for name, utts in splits.items():
            print(format_stats(manifest_stats(utts), f"{name} split"), "\n", flush=True)

    # ---- vocabulary and model (a fresh one, or a trained run's for few-shot adaptation)
    vocab = vocab_from_utterances(train_utts, unit, cfg.data.vocab_min_count)
    if cfg.init_from:
        base = asr.load_run(cfg.init_from, device="cpu")
        if base.unit != unit:
            raise ValueError(f"init_from {cfg.init_from} was trained on {base.unit} targets, this config uses {unit}")
        vocab = base.vocab.extend(vocab.tokens)
        cfg.model = base.config.model  # the architecture is the base run's
        model = base.model
        resize_output(model, len(vocab))
        print(f"initialized from {cfg.init_from}; vocabulary {len(base.vocab)} -> {len(vocab)}", flush=True)
    else:
        model = build_model(cfg.model, len(vocab))
    print(f"model {cfg.model.backbone}: {count_parameters(model) / 1e6:.2f} M parameters, "
          f"{len(vocab)} {unit} tokens", flush=True)
    if dist.is_main_process:
        asr.save_run_files(run_dir, cfg, vocab, model)
        asr.build_lm(run_dir, train_utts, vocab, cfg)
    dist.wait_for_everyone()

    # ---- training batches: duration buckets, language-balanced sampling (temperature alpha)
    report = run_dir / "skipped.jsonl"  # every clip skipped as unusable, with the reason
    train_ds = AudioDataset(train_utts, on_error=cfg.data.on_error, report_path=report)
    weights = language_balanced_weights([u.language for u in train_utts], cfg.data.alpha)
    sampler = DurationBucketSampler(train_ds.durations, cfg.data.max_batch_seconds, seed=cfg.train.seed,
                                    weights=weights if len(train_langs) > 1 else None)
    loader = torch.utils.data.DataLoader(
        train_ds, batch_sampler=sampler, num_workers=cfg.data.num_workers,
        collate_fn=partial(asr.collate_with_targets, vocab=vocab, unit=unit))

    # Allophant-style multitask: each phone token's articulatory features, for the attribute heads
    attribute_table = attributes.attribute_table(vocab.tokens) if cfg.model.attribute_heads else None

    def loss_step(model, batch):
        # speed perturbation here, in the main process: the global RNG it draws from is checkpointed
        wavs, wav_lens, _ = speed_perturb(batch["wavs"], batch["wav_lens"], cfg.data.speed_perturb)
        if attribute_table is None:
            log_probs, lens = model(wavs, wav_lens)
        else:  # through forward(), so DDP under `accelerate launch` sees the heads' gradients too
            log_probs, lens, attr_log_probs = model(wavs, wav_lens, with_attributes=True)
        loss = ctc_loss(log_probs, lens, batch["targets"], batch["target_lens"], blank=vocab.blank_id)
        stats = {"frames_per_token": (lens.sum() / batch["target_lens"].sum()).detach()}
        if attribute_table is not None:
            targets, target_lens = attributes.attribute_targets(batch["targets"], batch["target_lens"], attribute_table)
            attr_loss = attributes.attribute_ctc_loss(attr_log_probs, lens, targets, target_lens)
            loss = loss + cfg.model.attribute_weight * attr_loss
            stats["attribute_loss"] = attr_loss.detach()
        return loss, stats

    def evaluate(model):  # greedy decoding of the dev set, per language
        run = asr.AsrRun(cfg, vocab, model, run_dir, device=next(model.parameters()).device)
        summary, _ = asr.evaluate_utterances(run, splits["dev"], on_error=cfg.data.on_error, report_path=report)
        return {f"dev/{m}" + ("" if lang == "all" else f"/{lang}"): v
                for lang, s in summary.items() for m, v in s.items() if m in METRICS}

    t_fit = time.time()
    result = fit(model, loader, loss_step, cfg.train, run_dir, evaluate=evaluate)
    train_minutes, total_minutes = (time.time() - t_fit) / 60, (time.time() - t0) / 60

    if not dist.is_main_process:
        return {}
    # ---- final weights: the best checkpoint (by train.best_metric) or the last one
    chosen = result.best_checkpoint or result.last_checkpoint
    shutil.copyfile(chosen / asr.MODEL_FILE, run_dir / asr.MODEL_FILE)

    # ---- test: every eval language, seen and unseen, with the configured decoding
    run = asr.load_run(run_dir)
    summary, rows = asr.evaluate_utterances(run, splits["test"], on_error=cfg.data.on_error, report_path=report)
    greedy = None  # with beam search, the greedy table too: what the decoder and LM buy
    if run.decoder is not None:
        greedy, _ = asr.evaluate_utterances(dataclasses.replace(run, decoder=None), splits["test"],
                                            on_error=cfg.data.on_error, report_path=report)
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({k: r[k] for k in ("id", "language", "ref", "hyp")}, ensure_ascii=False) + "\n")
    metric = asr.primary_metric(unit)
    results = {"summary": {l: {k: asr.nan_to_none(v) for k, v in s.items()} for l, s in summary.items()},
               "train_langs": train_langs, "unit": unit, "primary_metric": metric, "checkpoint": str(chosen),
               "steps": result.step, "best_step": result.best_step, "train_minutes": train_minutes,
               "total_minutes": total_minutes,
               "parameters": count_parameters(model), "decode": describe_decoding(cfg.decode)}
    if greedy is not None:
        results["greedy_summary"] = {l: {k: asr.nan_to_none(v) for k, v in s.items()} for l, s in greedy.items()}
    (run_dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    table = results_table(summary, seen=train_langs)
    greedy_part = "" if greedy is None else f"\n## Greedy decoding, same model\n\n{results_table(greedy, seen=train_langs)}\n"
    (run_dir / "results.md").write_text(
        f"# {run_dir.name}: test set, {unit} targets, {describe_decoding(cfg.decode)}\n\n"
        f"{count_parameters(model) / 1e6:.2f} M parameters ({cfg.model.backbone}), {result.step} steps, "
        f"{train_minutes:.1f} min of training ({total_minutes:.1f} min with data preparation); "
        f"weights from {chosen.name}.\n\n{table}\n{greedy_part}", encoding="utf-8")
    plot_per_language(summary, metric, run_dir / f"test_{metric}.png")
    if greedy is not None:
        print(f"greedy decoding: {metric.upper()} {100 * greedy['all'][metric]:.2f} %", flush=True)
    print(f"test set, {describe_decoding(cfg.decode)}:", flush=True)
    print(table, flush=True)
    print(f"results: {run_dir / 'results.md'}", flush=True)
    if report.exists():
        skipped = read_skip_report(report)
        print(f"{len(skipped)} unusable clip(s) skipped, listed with reasons in {report}", flush=True)
    return summary


def describe_decoding(d) -> str:
    """'greedy decoding' / 'beam 16 + 2-gram LM (alpha 0.5, beta 1.0)'."""
    if d.method == "greedy":
        return "greedy decoding"
    lm = f" + {d.lm_order}-gram LM (alpha {d.lm_alpha}, beta {d.lm_beta})" if d.lm_order > 0 else ""
    lm = f" + LM {d.lm_path} (alpha {d.lm_alpha}, beta {d.lm_beta})" if d.lm_path else lm
    return f"beam {d.beam_width}{lm}"


def plot_per_language(summary: dict, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = [l for l in summary if l != "all"]
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(langs), 3))
    ax.bar(langs, [100 * summary[l].get(metric, float("nan")) for l in langs])
    ax.set_ylabel(f"test {metric.upper()} %")
    save_figure(fig, path)


def transfer(cfg: asr.AsrConfig) -> None:
    """One run per training language, each tested on every eval language -> transfer matrix."""
    run_dir = Path(cfg.run_dir)
    langs = cfg.data.train_langs or sorted({u.language for u in asr.load_splits(cfg.data)["train"]})
    metric = asr.primary_metric(cfg.data.unit)
    matrix = {}
    for lang in langs:
        sub = copy.deepcopy(cfg)
        sub.protocol, sub.data.train_langs = "standard", [lang]
        summary = train_and_test(sub, run_dir / f"from-{lang}")
        matrix[lang] = {l: s[metric] for l, s in summary.items() if l != "all" and metric in s}
    if not PartialState().is_main_process:
        return
    (run_dir / "transfer.json").write_text(json.dumps(matrix, indent=1), encoding="utf-8")
    (run_dir / "transfer.md").write_text(f"# Transfer matrix ({metric.upper()} %, test set)\n\n"
                                         f"{transfer_table(matrix, metric)}\n", encoding="utf-8")
    plot_transfer_heatmap(matrix, metric, run_dir / "transfer.png")
    print(transfer_table(matrix, metric), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
