"""``polyvox understand RUN audio.wav [...]``: what each file asks for (an intent, a topic...), with class
probabilities, and for a cascade the recognizer's transcript and the text its classifier read.

RUN is a cascade directory (``cascade.json``: an ASR run feeding a text run, e.g.
``work/runs/speech_classification/base/multilingual/cascade-romanized/seed-0``) or an end-to-end classifier run
(``.../multilingual/e2e/seed-0``, or any ``polyvox classify`` run). Output, one line per file::

    path<TAB>label<TAB>p=0.9312<TAB>transcript: "turn on the light"        (default; the top --top classes)
    {"file", "label", "probs", "transcript", "text"}                          (--json)

Unreadable files are reported on stderr and the exit status is 1; the others are still answered.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a cascade directory (cascade.json) or an end-to-end classifier run")
    parser.add_argument("audio", nargs="+", help="audio files (any format soundfile reads; resampled as needed)")
    parser.add_argument("--lang", default=None, help="ISO 639 code of the speech: uroman's rules for the romanized "
                        "form (default: its language-independent rules)")
    parser.add_argument("--top", type=int, default=3, help="classes shown per file (text output)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")


def load_understanding(run_dir: str, device: str | None = None):
    """A predict function ``wavs, languages -> [{"label", "probs", "transcript", "text"}]`` and its labels, for a
    cascade or an end-to-end run directory (FileNotFoundError when it is neither)."""
    from pathlib import Path

    from polyvox.multimodal.cascade import is_cascade, load_cascade, understand

    if is_cascade(run_dir):
        cascade = load_cascade(run_dir, device=device)
        return (lambda wavs, langs: understand(cascade, wavs, langs)), cascade.labels
    from polyvox.speech.classify.run import LABELS_FILE, classify, load_run

    if not (Path(run_dir) / LABELS_FILE).exists() and not (Path(run_dir) / "from-all" / LABELS_FILE).exists():
        raise FileNotFoundError(f"{run_dir}: neither a cascade (cascade.json) nor a classifier run (labels.json)")
    clf = load_run(run_dir, device=device)

    def predict(wavs, langs):
        return [{"label": clf.labels[int(p.argmax())], "probs": dict(zip(clf.labels, map(float, p))),
                 "transcript": None, "text": None} for p in classify(clf, wavs)]

    return predict, clf.labels


def run(args: argparse.Namespace) -> int:
    from polyvox.data.audio import load_audio_files

    try:
        predict, _ = load_understanding(args.run, args.device)
    except (FileNotFoundError, ValueError) as e:
        print(f"polyvox understand: {e}", file=sys.stderr)
        return 2
    wavs, names, status = load_audio_files(args.audio, prog="polyvox understand")
    if not wavs:
        return status or 1
    for name, out in zip(names, predict(wavs, [args.lang] * len(wavs))):
        if args.json:
            print(json.dumps({"file": name, **out}, ensure_ascii=False))
            continue
        top = sorted(out["probs"].items(), key=lambda kv: -kv[1])[: max(1, args.top)]
        line = f"{name}\t{out['label']}\t" + " ".join(f"{k}={v:.4f}" for k, v in top)
        if out["transcript"] is not None:
            line += f"\ttranscript: {out['transcript']!r}\ttext: {out['text']!r}"
        print(line)
    return status
