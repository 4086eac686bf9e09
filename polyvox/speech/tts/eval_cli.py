"""``polyvox eval-tts RUN [--judge ASR_RUN] [--rate predictor|recognizer]``: synthesize the run's test sentences in
test voices it never trained on and score them with independent judges (the table of the recipe's test step)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a trained TTS run directory")
    p.add_argument("--judge", default=None, help="ASR phoneme run that scores intelligibility (default: the run's "
                                                 "eval.judge, else its aligner)")
    p.add_argument("--rate", choices=("predictor", "recognizer"), default=None,
                   help="speaking rate of the cloned voice (default: the run's eval.rate)")
    p.add_argument("--utts-per-lang", type=int, default=None)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (1: the real-time factor on one core)")
    p.add_argument("--out", default=None, help="markdown file to write (default: RUN/eval_<rate>.md)")


def run(args) -> int:
    import torch

    from polyvox.speech.tts import task
    from polyvox.speech.tts.run import load_run

    if args.threads:
        torch.set_num_threads(args.threads)

    tts = load_run(args.run)
    cfg = tts.config
    judge = args.judge or cfg.eval.judge or cfg.data.aligner
    rate = args.rate or cfg.eval.rate
    test = task.load_splits(cfg.data)["test"]
    summary, _ = task.evaluate_synthesis(tts, test, judge, args.utts_per_lang or cfg.eval.utts_per_lang, rate)
    table = task.synthesis_table(summary)
    out = Path(args.out or Path(args.run) / f"eval_{rate}.md")
    threads = f"; {torch.get_num_threads()} torch thread(s)"
    out.write_text(f"# TTS test: voices never trained on\n\njudge ASR: {judge}; speaking rate: {rate}{threads}\n\n"
                   f"{table}\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"judge": judge, "rate": rate, "summary": summary}, indent=1))
    print(f"judge ASR: {judge}; speaking rate: {rate}\n{table}\n-> {out}")
    return 0
