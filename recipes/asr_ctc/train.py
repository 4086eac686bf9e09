"""Cross-lingual CTC speech recognition (characters) or phoneme recognition (IPA segments).

    polyvox train asr_ctc [key=value ...]          (= polyvox train recipes/asr_ctc/configs/base.yaml)

One script, top to bottom: config -> data -> vocabulary -> model -> loss_step / evaluate ->
fit() -> final test evaluation per language (results.md, results.json, plots). Protocols:

* standard: train on data.train_langs (default: all), test on data.eval_langs (default: all),
  so languages never seen in training are scored too (zero-shot);
* few-shot: ``init_from: RUN`` starts from a trained run (vocabulary extended with new tokens)
  and ``data.fewshot_minutes`` keeps k minutes of each training language;
* transfer: one run per training language under RUN/from-<lang>/, then a train x test
  language matrix (transfer.md, transfer.png).

The library parts live in ``polyvox.speech.asr`` (``task``: data, loader, evaluation, report; ``run``: the
trained-run files); the loss is here, to be changed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from accelerate import PartialState

from polyvox.data.augment import speed_perturb
from polyvox.data.manifest import format_stats, manifest_stats
from polyvox.eval.plots import plot_transfer_matrix
from polyvox.eval.tables import transfer_table
from polyvox.speech import attributes
from polyvox.speech.asr import task
from polyvox.speech.asr.config import AsrConfig
from polyvox.speech.asr.model import count_parameters
from polyvox.speech.asr.run import AsrRun, save_run_files
from polyvox.speech.ctc import ctc_loss
from polyvox.train.config import load_config
from polyvox.train.loop import fit, seed_everything
from polyvox.train.protocols import run_transfer


def main(config_path: str, overrides: list[str]) -> int:
    cfg = load_config(AsrConfig, config_path, overrides)
    if cfg.protocol == "transfer":
        transfer(cfg)
    else:
        train_and_test(cfg, Path(cfg.run_dir))
    return 0


def train_and_test(cfg: AsrConfig, run_dir: Path) -> dict:
    t0 = time.time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.train.seed)

    # ---- data: manifests (or the built-in corpus), language filters, few-shot subset
    dist = PartialState()  # under `accelerate launch`: the main process builds the corpus and writes files
    with dist.main_process_first():
        splits = task.load_splits(cfg.data, seed=cfg.train.seed)
    train_utts = splits["train"]
    train_langs = sorted({u.language for u in train_utts})
    if dist.is_main_process:
        for name, utts in splits.items():
            print(format_stats(manifest_stats(utts), f"{name} split"), "\n", flush=True)

    # ---- vocabulary and model (a fresh one, or a trained run's for few-shot adaptation)
    vocab, model = task.vocab_and_model(cfg, train_utts)
    print(f"model {cfg.model.backbone}: {count_parameters(model) / 1e6:.2f} M parameters, "
          f"{len(vocab)} {cfg.data.unit} tokens", flush=True)
    if dist.is_main_process:
        save_run_files(run_dir, cfg, vocab, model)
        task.build_lm(run_dir, train_utts, vocab, cfg)
    dist.wait_for_everyone()

    # ---- training batches: duration buckets, language-balanced sampling (temperature alpha)
    report = run_dir / "skipped.jsonl"  # every clip skipped as unusable, with the reason
    loader = task.train_loader(cfg, train_utts, vocab, report)

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
        run = AsrRun(cfg, vocab, model, run_dir, device=next(model.parameters()).device)
        return task.evaluate(run, splits["dev"], on_error=cfg.data.on_error, report_path=report)

    t_fit = time.time()
    result = fit(model, loader, loss_step, cfg.train, run_dir, evaluate=evaluate)
    if not dist.is_main_process:
        return {}

    # ---- test: every eval language, seen and unseen, with the configured decoding
    return task.test_and_report(cfg, run_dir, splits["test"], result, train_langs=train_langs,
                                parameters=count_parameters(model), train_minutes=(time.time() - t_fit) / 60,
                                total_minutes=(time.time() - t0) / 60, report=report,
                                heldout_utts=splits.get("heldout", ()))


def transfer(cfg: AsrConfig) -> None:
    """One run per training language, each tested on every eval language -> transfer matrix."""
    run_dir = Path(cfg.run_dir)
    langs = cfg.data.train_langs or sorted({u.language for u in task.load_splits(cfg.data)["train"]})
    metric = task.primary_metric(cfg.data.unit)
    summaries = run_transfer(train_and_test, cfg, langs, run_dir)
    if not PartialState().is_main_process:
        return
    matrix = {row: {l: s[metric] for l, s in summary.items() if l != "all" and metric in s}
              for row, summary in summaries.items()}
    table = transfer_table(matrix, metric.upper(), digits=2)
    (run_dir / "transfer.json").write_text(json.dumps(matrix, indent=1), encoding="utf-8")
    (run_dir / "transfer.md").write_text(f"# Transfer matrix ({metric.upper()} %, test set)\n\n{table}\n",
                                         encoding="utf-8")
    plot_transfer_matrix(matrix, metric.upper(), run_dir / "transfer.png", higher_is_better=False)
    print(table, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
