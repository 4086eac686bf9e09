"""``polyvox understand RUN audio.wav [...]``: what each file asks for (an intent, a topic, a closed-book answer...),
with class probabilities, and for a cascade the recognizer's transcript and the text its classifier read.

``polyvox understand RUN question.wav --context context.wav`` answers spoken questions about a spoken context, with a
spoken QA run: a QA cascade (``cascade.json`` whose text run is a span QA model) or an end-to-end listener
(``spoken_qa.json``), e.g. ``work/runs/spoken_qa/base/seed-0/comprehension/cascade-native``. ``--question TEXT``
asks in writing instead (cascades only).

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
    parser.add_argument("audio", nargs="*", help="audio files (any format soundfile reads; resampled as needed)")
    parser.add_argument("--context", default=None, help="spoken QA: the context the questions are about (a wav)")
    parser.add_argument("--question", action="append", default=[], help="spoken QA: a written question (repeatable)")
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


def load_answering(run_dir: str, device: str | None = None):
    """A function ``questions (wavs or texts), context wav, language -> [{"answer", ...}]`` for a spoken QA run
    (a QA cascade or an end-to-end listener); None when ``run_dir`` is neither."""
    from polyvox.multimodal.cascade import answer_questions, is_cascade, is_qa_cascade, load_cascade
    from polyvox.multimodal.spoken_qa import answer_from_speech, is_selector, load_selector

    if is_selector(run_dir):
        sel = load_selector(run_dir, device=device)

        def listen(questions, context, language=None):
            if any(isinstance(q, str) for q in questions):
                raise ValueError(f"{run_dir}: the end-to-end listener hears questions; written ones need a cascade")
            out = []
            for q in questions:
                res = answer_from_speech(sel, q, [context])
                a, b = res["segments"][res["index"]]
                out.append({"answer": f"record {res['index'] + 1} ({a:.2f}-{b:.2f} s)", **res})
            return out

        return listen
    if is_cascade(run_dir):
        cascade = load_cascade(run_dir, device=device)
        if is_qa_cascade(cascade):
            return lambda questions, context, language=None: answer_questions(cascade, questions, context, language)
    return None


def run_answering(args, answering) -> int:
    from polyvox.data.audio import AudioError, load_audio, load_audio_files

    if not args.context:
        print(f"polyvox understand: {args.run} answers questions about a context: give --context CONTEXT.wav",
              file=sys.stderr)
        return 2
    try:
        context = load_audio(args.context)[0]
    except (AudioError, FileNotFoundError) as e:
        print(f"polyvox understand: --context {args.context}: {e}", file=sys.stderr)
        return 2
    wavs, names, status = load_audio_files(args.audio, prog="polyvox understand") if args.audio else ([], [], 0)
    questions, names = list(wavs) + list(args.question), list(names) + [f"question {q!r}" for q in args.question]
    if not questions:
        print("polyvox understand: give question audio files or --question TEXT", file=sys.stderr)
        return status or 2
    try:
        answers = answering(questions, context, args.lang)
    except ValueError as e:
        print(f"polyvox understand: {e}", file=sys.stderr)
        return 2
    for name, out in zip(names, answers):
        if args.json:
            print(json.dumps({"file": name, **out}, ensure_ascii=False))
        else:
            extra = f"\tquestion: {out['question_text']!r}\tcontext: {out['context_text']!r}" if "context_text" in out \
                else ""
            print(f"{name}\t{out['answer']}{extra}")
    return status


def run(args: argparse.Namespace) -> int:
    from polyvox.data.audio import load_audio_files

    try:
        answering = load_answering(args.run, args.device)
    except (FileNotFoundError, ValueError) as e:
        print(f"polyvox understand: {e}", file=sys.stderr)
        return 2
    if answering is not None:
        return run_answering(args, answering)
    if args.context or args.question:
        print(f"polyvox understand: {args.run} is a classifier; --context / --question need a spoken QA run",
              file=sys.stderr)
        return 2
    if not args.audio:
        print("polyvox understand: give one or more audio files", file=sys.stderr)
        return 2
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
