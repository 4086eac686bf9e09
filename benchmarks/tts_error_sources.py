"""Where a TTS run's unintelligibility comes from: the vocoder, the mel decoder, or the predicted durations.

For the same sentences (``--split``: test speakers never trained on, or training ones), the judge ASR run's phoneme
error rate of four signals, each one step further from the real clip:

    real        the recorded clip itself (the judge's own bar)
    vocoded     Griffin-Lim of the clip's own log-mel (what the vocoder alone loses)
    tf_durs     the model's log-mel with the aligner's durations (teacher-forced: the mel decoder's loss)
    predicted   the model's log-mel with its predicted durations (what `polyvox tts` and the recipe's test speak)

The voice comes from another clip of the same speaker (as in the recipe's test). If ``tf_durs`` is as bad on training
speakers as on unseen ones, the model underfits rather than fails to generalise.

    .venv/bin/python benchmarks/tts_error_sources.py work/runs/tts/base --split train [--judge RUN] [--per-lang 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from polyvox.data.audio import load_audio
from polyvox.data.collate import compute_fbank
from polyvox.eval.error_rates import error_counts, summarize
from polyvox.speech.asr.run import load_run as load_asr, transcribe
from polyvox.speech.asr.vocab import phonemes_to_tokens
from polyvox.speech.tts import task
from polyvox.speech.tts.run import load_run, reference_mel
from polyvox.speech.tts.vocoder import griffin_lim

SIGNALS = ("real", "vocoded", "tf_durs", "predicted")


@torch.no_grad()
def error_sources(run_dir: str, split: str, judge_dir: str | None, per_lang: int) -> dict[str, dict]:
    """{signal: summarize() output, per language and "all"} for the SIGNALS above."""
    run = load_run(run_dir)
    cfg = run.config
    utts = task.load_splits(cfg.data)[split]
    durs = task.durations(cfg, Path(run_dir), utts)  # the run's cached alignments, as the recipe reads them
    judge = load_asr(judge_dir or cfg.data.aligner)
    rows: dict[str, list] = {k: [] for k in SIGNALS}
    iters = cfg.eval.griffin_lim_iters
    for u, ref, _ in task.evaluation_pairs(utts, per_lang, 1.0):
        if u.id not in durs:
            continue
        real = load_audio(u.audio, cfg.mel.sample_rate)[0]
        wav = torch.from_numpy(real)[None]
        mel, _ = compute_fbank(wav, torch.tensor([wav.shape[1]]), cfg.mel.fbank())
        ids = run.vocab.encode(phonemes_to_tokens(u.phonemes))
        tokens, lens = torch.tensor([ids]), torch.tensor([len(ids)])
        lang = torch.tensor([run.languages.index(u.language)])
        ref_mel, ref_lens = reference_mel(run, ref.audio)
        forced, _, _ = run.model(tokens, lens, lang, torch.tensor([durs[u.id]]), ref_mel, ref_lens)
        predicted, mel_lens, _ = run.model.infer(tokens, lens, lang, ref_mel, ref_lens)
        wavs = [real] + [griffin_lim(m, cfg.mel, iters).numpy()
                         for m in (mel[0], forced[0], predicted[0, : int(mel_lens[0])])]
        target = phonemes_to_tokens(u.phonemes)
        for signal, hyp in zip(SIGNALS, transcribe(judge, wavs)):
            rows[signal].append({"language": u.language, "counts": error_counts(target, hyp.split(), "phoneme")})
    return {signal: summarize(r) for signal, r in rows.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--split", default="test", choices=["train", "dev", "test"])
    ap.add_argument("--judge", default=None, help="judge ASR run (default: the run's aligner)")
    ap.add_argument("--per-lang", type=int, default=10)
    args = ap.parse_args(argv)
    out = error_sources(args.run_dir, args.split, args.judge, args.per_lang)
    langs = list(out["real"])
    print(f"judge PER % of {args.run_dir}, {args.split} sentences ({args.per_lang} per language)\n")
    print("| signal | " + " | ".join(langs) + " |")
    print("|---|" + "---:|" * len(langs))
    for signal, s in out.items():
        print(f"| {signal} | " + " | ".join(f"{100 * s[l]['per']:.1f}" for l in langs) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
