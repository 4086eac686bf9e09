"""Universal phone recognition + zero-shot decoding of unseen languages (Xu, Baevski & Auli 2021).

    polyvox train phoneme_recognition [key=value ...]   (= recipes/phoneme_recognition/configs/base.yaml)

1. Train a multilingual CTC phone recognizer on IPA targets of the training languages: the ASR task's data,
   vocabulary, models and loop (``polyvox.speech.asr``; the config is an overlay on
   ``recipes/asr_ctc/configs/base.yaml``). Dev evaluation (checkpoint selection) sees training languages only.
   The run directory is an ordinary ASR run (``polyvox eval / transcribe / phonemes`` work on it).
2. Score every evaluation language (the training languages' test split, and unseen languages from
   a separately synthesized corpus or from manifests) in three decoding modes
   (:mod:`polyvox.speech.phones.zeroshot`): raw, restricted to the target inventory, and mapped onto it
   by articulatory features. Target inventories come from espeak-ng (any language), from the
   eval rows, or from files. Writes zeroshot.md / zeroshot.json / zeroshot_predictions.jsonl.

``zeroshot.eval_only=true`` re-scores an existing run without training.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from accelerate import PartialState

from polyvox.data.augment import speed_perturb
from polyvox.speech import attributes
from polyvox.speech.asr import task as asr_task
from polyvox.speech.asr.model import count_parameters
from polyvox.speech.asr.run import MODEL_FILE, AsrRun, save_run_files
from polyvox.speech.ctc import ctc_loss
from polyvox.speech.phones.task import PhonemeConfig, asr_config, check_config, evaluate_zero_shot
from polyvox.train.config import load_config, save_config
from polyvox.train.loop import fit, seed_everything


def main(config_path: str, overrides: list[str]) -> int:
    cfg = load_config(PhonemeConfig, config_path, overrides)
    check_config(cfg, config_path)
    run_dir = Path(cfg.run_dir)
    if cfg.zeroshot.eval_only:
        if not (run_dir / MODEL_FILE).exists():
            raise FileNotFoundError(f"{run_dir}: zeroshot.eval_only needs a trained run ({MODEL_FILE} missing)")
    else:
        train_and_test(asr_config(cfg), run_dir)
    save_config(cfg.zeroshot, run_dir / f"{cfg.zeroshot.name}_config.yaml")
    evaluate_zero_shot(cfg, run_dir)
    return 0


def train_and_test(cfg, run_dir: Path) -> dict:
    """The phone recognizer: CTC on IPA segments (+ optional articulatory attribute heads), tested per language."""
    t0 = time.time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.train.seed)
    dist = PartialState()
    with dist.main_process_first():  # the main process synthesizes the corpus
        splits = asr_task.load_splits(cfg.data, seed=cfg.train.seed)
    train_utts = splits["train"]
    vocab, model = asr_task.vocab_and_model(cfg, train_utts)
    print(f"phone recognizer {cfg.model.backbone}: {count_parameters(model) / 1e6:.2f} M parameters, "
          f"{len(vocab)} phone tokens from {sorted({u.language for u in train_utts})}", flush=True)
    if dist.is_main_process:
        save_run_files(run_dir, cfg, vocab, model)
        asr_task.build_lm(run_dir, train_utts, vocab, cfg)
    dist.wait_for_everyone()
    report = run_dir / "skipped.jsonl"
    loader = asr_task.train_loader(cfg, train_utts, vocab, report)
    # Allophant-style multitask: every phone token's articulatory features, for the attribute heads
    attribute_table = attributes.attribute_table(vocab.tokens) if cfg.model.attribute_heads else None

    def loss_step(model, batch):
        wavs, wav_lens, _ = speed_perturb(batch["wavs"], batch["wav_lens"], cfg.data.speed_perturb)
        if attribute_table is None:
            log_probs, lens = model(wavs, wav_lens)
        else:  # through forward(), so DDP sees the heads' gradients too
            log_probs, lens, attr_log_probs = model(wavs, wav_lens, with_attributes=True)
        loss = ctc_loss(log_probs, lens, batch["targets"], batch["target_lens"], blank=vocab.blank_id)
        stats = {"frames_per_token": (lens.sum() / batch["target_lens"].sum()).detach()}
        if attribute_table is not None:
            targets, target_lens = attributes.attribute_targets(batch["targets"], batch["target_lens"], attribute_table)
            attr_loss = attributes.attribute_ctc_loss(attr_log_probs, lens, targets, target_lens)
            loss = loss + cfg.model.attribute_weight * attr_loss
            stats["attribute_loss"] = attr_loss.detach()
        return loss, stats

    def evaluate(model):  # greedy PER of the dev set (training languages), per language
        run = AsrRun(cfg, vocab, model, run_dir, device=next(model.parameters()).device)
        return asr_task.evaluate(run, splits["dev"], on_error=cfg.data.on_error, report_path=report)

    t_fit = time.time()
    result = fit(model, loader, loss_step, cfg.train, run_dir, evaluate=evaluate)
    if not dist.is_main_process:
        return {}
    return asr_task.test_and_report(cfg, run_dir, splits["test"], result,
                                    train_langs=sorted({u.language for u in train_utts}),
                                    parameters=count_parameters(model), train_minutes=(time.time() - t_fit) / 60,
                                    total_minutes=(time.time() - t0) / 60, report=report,
                                heldout_utts=splits.get("heldout", ()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
