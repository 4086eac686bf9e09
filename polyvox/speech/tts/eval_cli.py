"""``polyvox eval-tts RUN [--judge ASR_RUN] [--rate predictor|recognizer] [--other-engines flite,festival]``:
synthesize the run's test sentences in test voices it never trained on and score them with independent judges (the
table of the recipe's test step); with ``--other-engines``, also clone the voices of other synthesizers."""

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
    p.add_argument("--other-engines", default="", help="comma-separated engines (flite, festival) whose voices are "
                                                       "cloned too: voices the corpus's espeak-ng never made")


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
    n = args.utts_per_lang or cfg.eval.utts_per_lang
    other = {}
    if engines := [e for e in args.other_engines.split(",") if e]:
        langs = sorted({u.language for u in test})
        text_of = {lang: " ".join(u.text for u in sorted(test, key=lambda x: x.id) if u.language == lang)[:200]
                   for lang in langs}  # a few test sentences: references of several seconds
        refs = task.other_engine_references(langs, engines, text_of, out.parent / "other_voices")
        other = task.clone_other_voices(tts, test, judge, refs, n, rate)
        table += ("\n\nVoices of other synthesizers as references (each clones the test sentences of every "
                  "language):\n\n" + task.other_voices_table(other))
    threads = f"; {torch.get_num_threads()} torch thread(s)"
    out.write_text(f"# TTS test: voices never trained on\n\njudge ASR: {judge}; speaking rate: {rate}{threads}\n\n"
                   f"{table}\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"judge": judge, "rate": rate, "summary": summary,
                                                    "other_voices": other}, indent=1))
    print(f"judge ASR: {judge}; speaking rate: {rate}\n{table}\n-> {out}")
    return 0
