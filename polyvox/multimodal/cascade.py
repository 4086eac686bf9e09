"""An ASR -> text cascade as one run: a polyvox CTC run (characters or phones) feeding a text classification run,
with the text form between them (native, romanized through uroman, or IPA words). Same face as every other run:

    cascade = load_cascade("work/runs/speech_classification/base/multilingual/cascade-romanized/seed-0")
    out = understand(cascade, [wav], languages=["ru"])   # [{"label", "probs", "transcript", "text"}]

A cascade directory holds ``cascade.json`` ({"asr_run", "text_run", "text_form"}, paths relative to it when inside
it) and usually the text run itself; the ASR run is shared by every cascade that uses it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from polyvox.text.forms import check_form, to_form, written_in_form

CASCADE_FILE = "cascade.json"


@dataclass
class CascadeRun:
    asr: object  # polyvox.speech.asr.run.AsrRun
    text: object  # polyvox.text.classify.run.TextRun
    text_form: str
    run_dir: Path

    @property
    def labels(self) -> list[str]:
        return getattr(self.text, "labels", [])


def save_cascade(run_dir: str | os.PathLike, asr_run: str | os.PathLike, text_run: str | os.PathLike,
                 text_form: str) -> Path:
    """Write ``cascade.json``; an ASR run whose unit does not fit the text form is an error."""
    from polyvox.train.config import load_config
    from polyvox.speech.asr.config import AsrConfig

    check_form(text_form)
    unit = load_config(AsrConfig, Path(asr_run) / "config.yaml").data.unit
    want = "phoneme" if text_form == "ipa" else "char"
    if unit != want:
        raise ValueError(f"{asr_run}: a {unit} ASR run cannot feed the {text_form} text form (needs data.unit: {want})")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    def rel(p) -> str:
        p = Path(p).resolve()
        return os.path.relpath(p, run_dir.resolve()) if p.is_relative_to(run_dir.resolve()) else str(p)

    (run_dir / CASCADE_FILE).write_text(json.dumps({"asr_run": rel(asr_run), "text_run": rel(text_run),
                                                    "text_form": text_form}, indent=1), encoding="utf-8")
    return run_dir


def is_cascade(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / CASCADE_FILE).exists()


def load_cascade(run_dir: str | os.PathLike, device: str | None = None) -> CascadeRun:
    """Load both runs of a cascade (never downloads); a missing part is an error naming it."""
    from polyvox.speech.asr.run import load_run as load_asr
    from polyvox.text.classify.run import load_run as load_classifier
    from polyvox.text.qa.run import is_qa_run, load_run as load_qa

    run_dir = Path(run_dir)
    path = run_dir / CASCADE_FILE
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: not a cascade run ({CASCADE_FILE} missing)")
    spec = json.loads(path.read_text(encoding="utf-8"))
    parts = {k: (run_dir / spec[k]).resolve() for k in ("asr_run", "text_run")}
    for k, p in parts.items():
        if not p.exists():
            raise FileNotFoundError(f"{path}: {k} {p} does not exist")
    load_text = load_qa if is_qa_run(parts["text_run"]) else load_classifier
    return CascadeRun(load_asr(parts["asr_run"], device=device), load_text(parts["text_run"], device=device),
                      check_form(spec["text_form"]), run_dir)


def is_qa_cascade(run: CascadeRun) -> bool:
    """True when the text half answers questions about a context (a span QA run) rather than classifying."""
    from polyvox.text.qa.run import QARun

    return isinstance(run.text, QARun)


def cascade_texts(transcripts: Sequence[str], form: str, languages: Sequence[str | None]) -> list[str]:
    """Recognizer output -> the text classifier's input form (romanization uses each utterance's language)."""
    return [to_form(t, form, lang or "") for t, lang in zip(transcripts, languages, strict=True)]


def understand(run: CascadeRun, wavs: Sequence, languages: Sequence[str | None] | None = None) -> list[dict]:
    """For each 16 kHz waveform: the predicted label, class probabilities, the ASR transcript and the text the
    classifier read. ``languages`` (ISO 639 codes) select uroman's language rules for the romanized form."""
    from polyvox.speech.asr.run import transcribe
    from polyvox.text.classify.run import classify_texts

    languages = list(languages) if languages is not None else [None] * len(wavs)
    transcripts = transcribe(run.asr, wavs)
    texts = cascade_texts(transcripts, run.text_form, languages)
    probs = classify_texts(run.text, texts)
    return [{"label": run.labels[int(np.argmax(p))], "probs": dict(zip(run.labels, map(float, p))),
             "transcript": tr, "text": tx} for p, tr, tx in zip(probs, transcripts, texts)]


LONG_CONTEXT_S = 30.0  # longer contexts are decoded piece by piece between their pauses


def answer_questions(run: CascadeRun, questions: Sequence, context, language: str | None = None,
                     long_form: bool | None = None) -> list[dict]:
    """A QA cascade: each question (a 16 kHz waveform, or written text) about one spoken ``context`` (a waveform)
    -> {"answer", "question_text", "context_text", "transcript"}: the context (piece by piece between its pauses
    when ``long_form``; by default when it is over 30 s) and the spoken questions are transcribed,
    put in the run's text form, and the span model picks the answer in the context's text."""
    from polyvox.speech.asr.run import transcribe, transcribe_long
    from polyvox.text.qa.run import answer

    if not is_qa_cascade(run):
        raise ValueError(f"{run.run_dir}: the text half is a classifier, not a QA model; use understand()")
    spoken = [i for i, q in enumerate(questions) if not isinstance(q, str)]
    if long_form is None:  # a recognizer trained on sentences decodes a few of them at once better than pieces
        long_form = len(context) / 16000 > LONG_CONTEXT_S
    heard = (transcribe_long if long_form else transcribe)(run.asr, [context])
    heard += transcribe(run.asr, [questions[i] for i in spoken])
    context_text = cascade_texts(heard[:1], run.text_form, [language])[0]
    texts = written_in_form([q if isinstance(q, str) else "" for q in questions], run.text_form,
                            [language] * len(questions))
    for i, t in zip(spoken, heard[1:]):
        texts[i] = cascade_texts([t], run.text_form, [language])[0]
    answers = answer(run.text, texts, [context_text] * len(texts))
    return [{"answer": a, "question_text": q, "context_text": context_text, "transcript": heard[0]}
            for a, q in zip(answers, texts)]
