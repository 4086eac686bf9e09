"""Multilingual TTS with transcript-free voice cloning: a FastSpeech-style model conditioned on a reference clip.

    polyvox train tts [key=value ...]          (= polyvox train recipes/tts/configs/base.yaml)

Top to bottom: config -> corpus (many speakers) -> phone durations by CTC forced alignment with a polyvox phoneme
run (``data.aligner``, make main trains one) -> vocabulary and model -> loss_step / evaluate -> fit() -> synthesize
the test sentences in test voices never trained on and score them with independent judges (results.md).

The library parts live in ``polyvox.speech.tts`` (``task``: data, batches, losses, evaluation; ``run``: the
trained-run files and synthesis); the loss weighting is here, to be changed.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import torch

from polyvox.speech.tts import task
from polyvox.speech.tts.config import TtsConfig
from polyvox.speech.tts.model import count_parameters
from polyvox.speech.tts.run import load_run, save_run_files
from polyvox.train.config import load_config
from polyvox.train.loop import fit, seed_everything
from polyvox.train.runs import MODEL_FILE

DURATION_WEIGHT = 1.0  # log-duration MSE next to the mel L1


def main(config_path: str, overrides: list[str]) -> int:
    t0 = time.time()
    cfg = load_config(TtsConfig, config_path, overrides)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.train.seed)
    run_dir = Path(cfg.run_dir)

    # ---- data: the corpus, and phone durations from forced alignment (cached in the run)
    splits = task.load_splits(cfg.data)
    vocab, languages = task.vocab_and_languages(splits["train"])
    durs = task.durations(cfg, run_dir, [u for s in splits.values() for u in s])
    for name, utts in splits.items():
        kept = sum(u.id in durs for u in utts)
        print(f"{name}: {len(utts)} utterances, {kept} aligned, {len({u.speaker for u in utts})} speakers", flush=True)

    # ---- model
    model = task.build_model(cfg, vocab, languages)
    print(f"model: {count_parameters(model) / 1e6:.2f} M parameters, {len(vocab)} phoneme tokens, "
          f"{len(languages)} languages, reference: {cfg.model.reference}", flush=True)
    save_run_files(run_dir, cfg, vocab, languages)
    loader = task.train_loader(cfg, splits["train"], durs, vocab, languages, report=run_dir / "skipped.jsonl")
    dev_loader = task.eval_loader(cfg, splits["dev"], durs, vocab, languages)

    def loss_step(model, batch):
        parts = task.losses(model, batch)
        loss = parts["mel"] + DURATION_WEIGHT * parts["duration"]
        return loss, {"mel_loss": parts["mel"].detach(), "duration_loss": parts["duration"].detach()}

    t_fit = time.time()
    result = fit(model, loader, loss_step, cfg.train, run_dir, evaluate=lambda m: task.evaluate(m, dev_loader))
    train_minutes = (time.time() - t_fit) / 60

    # ---- test: synthesize test sentences in unseen voices, judged by models that did not train this one
    chosen = result.best_checkpoint or result.last_checkpoint
    shutil.copyfile(chosen / MODEL_FILE, run_dir / MODEL_FILE)
    run = load_run(run_dir)
    judge = cfg.eval.judge or cfg.data.aligner
    summary, rows = task.evaluate_synthesis(run, splits["test"], judge, cfg.eval.utts_per_lang, cfg.eval.rate)
    table = task.synthesis_table(summary)
    header = (f"{count_parameters(model) / 1e6:.2f} M parameters, {result.step} steps, {train_minutes:.1f} min of "
              f"training ({(time.time() - t0) / 60:.1f} min in all); weights from {chosen.name}; judge ASR: {judge}"
              + ("" if cfg.eval.judge else " (the aligner, trained on the ASR corpus: other espeak-ng voices)")
              + f"; speaking rate: {cfg.eval.rate}")
    (run_dir / "results.md").write_text(f"# TTS test: voices never trained on\n\n{header}\n\n{table}\n",
                                        encoding="utf-8")
    (run_dir / "results.json").write_text(json.dumps({"summary": summary, "steps": result.step,
                                                      "train_minutes": train_minutes, "judge": judge}, indent=1),
                                          encoding="utf-8")
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({k: v for k, v in r.items() if "counts" not in k}, ensure_ascii=False) + "\n")
    print(f"{header}\n{table}\nresults: {run_dir / 'results.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
