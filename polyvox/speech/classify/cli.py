"""``polyvox classify RUN audio.wav [...]``: the label and class probabilities of each file.

RUN is a trained classification run (``recipes/emotion``, ``recipes/abuse_detection``); a
transfer / ``all`` protocol directory means its multilingual run ``RUN/from-all``. Audio is
decoded and resampled by ``polyvox.data.audio``. Output, one line per file::

    path<TAB>label<TAB>angry=0.0123 happy=0.9312 ...      (default; labels in the run's order)
    {"file": path, "label": ..., "probs": {label: p}}     (--json; full precision)

Unreadable files are reported on stderr and the exit status is 1; the others are still classified.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="trained run directory (config.yaml, labels.json, model.safetensors), or a "
                        "transfer / all protocol directory (its multilingual run RUN/from-all is used)")
    parser.add_argument("audio", nargs="+", help="audio files (any format soundfile reads; resampled as needed)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--max-batch-seconds", type=float, default=120.0, help="padded audio per batch")


def run(args: argparse.Namespace) -> int:
    from polyvox.data.audio import load_audio_files
    from polyvox.speech.classify.run import classify, load_run

    try:
        clf = load_run(args.run, device=args.device)
    except (FileNotFoundError, ValueError) as e:
        print(f"polyvox classify: {e}", file=sys.stderr)
        return 2
    sr = clf.config.model.sample_rate
    wavs, names, status = load_audio_files(args.audio, sr, prog="polyvox classify")
    if not wavs:
        return status or 1
    probs = classify(clf, wavs, args.max_batch_seconds)
    for name, p in zip(names, probs):
        label = clf.labels[int(p.argmax())]
        if args.json:
            print(json.dumps({"file": name, "label": label,
                              "probs": {lab: float(x) for lab, x in zip(clf.labels, p)}}, ensure_ascii=False))
        else:
            print(f"{name}\t{label}\t" + " ".join(f"{lab}={x:.4f}" for lab, x in zip(clf.labels, p)))
    return status
