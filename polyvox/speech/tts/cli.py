"""``polyvox tts RUN --text "..." --lang xx [--reference ref.wav] --out out.wav``: speech from a trained TTS run, in
the voice of a reference clip (any language, no transcript)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a trained TTS run directory (polyvox train recipes/tts/configs/base.yaml)")
    p.add_argument("--text", required=True, help="what to say; long text is split at sentence ends")
    p.add_argument("--lang", required=True, help="language of the text (a code from polyvox synth --list-langs)")
    p.add_argument("--reference", default=None, help="a clip of the voice to clone (wav/flac/mp3/ogg, >= 1 s)")
    p.add_argument("--out", required=True, help="the wav file to write (16 kHz)")
    p.add_argument("--rate", choices=("predictor", "recognizer"), default="predictor",
                   help="speaking rate: the learned duration predictor, or measured on the reference by the run's "
                        "phone recognizer (data.aligner)")
    p.add_argument("--slower", type=float, default=1.0, help="scale every duration (> 1 slower)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")


def run(args) -> int:
    from polyvox.data.audio import save_audio
    from polyvox.speech.tts.run import TtsInputError, load_run, synthesize

    try:
        tts = load_run(args.run, device=args.device)
        wav = synthesize(tts, args.text, args.lang, args.reference, rate=args.rate, rate_scale=args.slower)
    except (TtsInputError, FileNotFoundError) as e:
        print(f"polyvox tts: error: {e}", file=sys.stderr)
        return 2
    path = save_audio(args.out, wav, tts.config.mel.sample_rate)
    print(f"{path}: {len(wav) / tts.config.mel.sample_rate:.2f} s")
    return 0
