"""``polyvox tts RUN --text "..." --lang xx [--reference ref.wav] --out out.wav``: speech from a trained TTS run, in
the voice of a reference clip (any language, no transcript). RUN is a FastSpeech-style run (recipes/tts/train.py)
or an F5-style one (recipes/tts/f5.py; ``--steps`` ODE steps)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a trained TTS run directory (polyvox train recipes/tts/configs/base.yaml)")
    p.add_argument("--text", required=True, help="what to say; long text is split at sentence ends")
    p.add_argument("--lang", required=True, help="language of the text (a code from polyvox synth --list-langs)")
    p.add_argument("--reference", default=None, help="a clip of the voice to clone (wav/flac/mp3/ogg, >= 1 s)")
    p.add_argument("--out", required=True, help="the wav file to write (16 kHz; an F5 run: its mel's rate, 24 kHz)")
    p.add_argument("--rate", choices=("predictor", "recognizer"), default="predictor",
                   help="speaking rate: the learned duration predictor, or measured on the reference by the run's "
                        "phone recognizer (data.aligner)")
    p.add_argument("--slower", type=float, default=1.0, help="scale every duration (> 1 slower)")
    p.add_argument("--steps", type=int, default=16, help="F5 runs: flow-matching ODE steps")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")


def run(args) -> int:
    from polyvox.data.audio import save_audio
    from polyvox.speech.f5tts.run import is_f5_run
    from polyvox.speech.tts.run import TtsInputError, load_run, synthesize

    if is_f5_run(args.run):
        from polyvox.speech.f5tts.run import load_run as load_f5, synthesize as synthesize_f5

        try:
            f5 = load_f5(args.run, device=args.device)
            wav = synthesize_f5(f5, args.text, args.lang, args.reference, steps=args.steps)
        except (ValueError, FileNotFoundError) as e:
            print(f"polyvox tts: error: {e}", file=sys.stderr)
            return 2
        path = save_audio(args.out, wav, f5.mel.sample_rate)
        print(f"{path}: {len(wav) / f5.mel.sample_rate:.2f} s")
        return 0
    try:
        tts = load_run(args.run, device=args.device)
        wav = synthesize(tts, args.text, args.lang, args.reference, rate=args.rate, rate_scale=args.slower)
    except (TtsInputError, FileNotFoundError) as e:
        print(f"polyvox tts: error: {e}", file=sys.stderr)
        return 2
    path = save_audio(args.out, wav, tts.config.mel.sample_rate)
    print(f"{path}: {len(wav) / tts.config.mel.sample_rate:.2f} s")
    return 0
