"""The Gradio demo over every task, from the runs on disk (no hub): ``polyvox demo [--runs work/runs] [--port N]``.

One ``gr.Blocks`` app with a tab per task: transcribe (ASR), phonemes (into any espeak-ng language's inventory, three
decoding modes side by side), classify (emotion / abuse, class probabilities), understand (spoken intents: an
ASR -> text cascade showing its transcript, or an end-to-end run), ask (spoken QA: a spoken or written question
about a spoken context, through a QA cascade or the end-to-end listener), speak (TTS and voice cloning from a
reference clip). Each tab lists the compatible runs it finds under ``--runs`` and says how to train one when there is
none. It imports only the tasks' ``run.py`` modules (and ``zeroshot`` for the phoneme modes); audio is decoded by
:mod:`polyvox.data.audio`, so a bad upload gets the command line's message, shown in the UI. Safe defaults: bound to
127.0.0.1, no share link, an upload size limit, a bounded queue; runs are loaded lazily and cached; every event has an
``api_name`` so ``gradio_client`` can call it.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the demo

MAX_UPLOAD = "10mb"
NOTHING = "(nothing recognized)"  # an empty transcript, said so instead of an empty box
TRAIN_HINTS = {
    "asr": "polyvox train recipes/asr_ctc/configs/base.yaml   (or: make main)",
    "classify": "polyvox train recipes/emotion/configs/base.yaml",
    "tts": "polyvox train recipes/tts/configs/base.yaml   (after make main; or tts/f5_cpu, tts/f5_finetune on a GPU)",
    "understand": "polyvox train speech_classification",
    "ask": "polyvox train spoken_qa",
}


def run_kind(run_dir: Path) -> str | None:
    """"asr", "classify", "tts", "understand" (an ASR -> text cascade) or None, from the files a finished run
    directory holds."""
    if (run_dir / "spoken_qa.json").exists():
        return "ask"
    if (run_dir / "cascade.json").exists():
        text_run = json.loads((run_dir / "cascade.json").read_text(encoding="utf-8")).get("text_run", "")
        return "ask" if (run_dir / text_run / "polyvox_qa.json").exists() else "understand"
    if not (run_dir / "model.safetensors").exists() or not (run_dir / "config.yaml").exists():
        return None
    if (run_dir / "languages.json").exists() or (run_dir / "f5_config.json").exists():  # FastSpeech-style or F5
        return "tts"
    if (run_dir / "labels.json").exists():
        return "classify"
    if (run_dir / "vocab.json").exists():
        return "asr"
    return None


def find_runs(root: str | os.PathLike) -> dict[str, list[str]]:
    """Finished runs under ``root`` by kind, sorted (checkpoint folders are not runs)."""
    out: dict[str, list[str]] = {"asr": [], "classify": [], "tts": [], "understand": [], "ask": []}
    root = Path(root)
    if root.is_dir():
        marks = sorted([*root.rglob("config.yaml"), *root.rglob("cascade.json"), *root.rglob("spoken_qa.json")])
        for mark in marks:
            if "checkpoints" in mark.parts:
                continue
            kind = run_kind(mark.parent)
            if kind and str(mark.parent) not in out[kind]:
                out[kind].append(str(mark.parent))
    # the Understand tab answers with cascades and with end-to-end classifiers alike
    out["understand"] += out["classify"]
    return out


@functools.lru_cache(maxsize=8)
def _load(kind: str, run_dir: str):
    if kind == "understand":
        from polyvox.multimodal.cli import load_understanding

        return load_understanding(run_dir)
    if kind == "ask":
        from polyvox.multimodal.cli import load_answering

        answering = load_answering(run_dir)
        if answering is None:
            raise ValueError(f"{run_dir}: not a spoken QA run (a QA cascade or spoken_qa.json)")
        return answering
    if kind == "asr":
        from polyvox.speech.asr.run import load_run
    elif kind == "classify":
        from polyvox.speech.classify.run import load_run
    elif (Path(run_dir) / "f5_config.json").exists():
        from polyvox.speech.f5tts.run import load_run
    else:
        from polyvox.speech.tts.run import load_run
    return load_run(run_dir)


def _error(message: str):
    import gradio as gr

    return gr.Error(message)


def _audio(path: str | None, what: str = "audio") -> np.ndarray:
    """A 16 kHz waveform from an uploaded / recorded file, or a gr.Error with polyvox's message."""
    from polyvox.data.audio import AudioError, load_audio

    if not path:
        raise _error(f"no {what}: upload a file or record one")
    try:
        return load_audio(path, 16000)[0]
    except AudioError as e:
        raise _error(f"{Path(e.path).name}: {e.reason}") from None


def _run(kind: str, run_dir: str | None):
    if not run_dir:
        raise _error(f"no trained run chosen; train one with: {TRAIN_HINTS[kind]}")
    try:
        return _load(kind, run_dir)
    except (FileNotFoundError, ValueError) as e:
        raise _error(str(e)) from None


# ----------------------------------------------------------------------------- what each tab does


def transcribe(run_dir: str, audio: str, decoding: str = "greedy"):
    """(text, CTC alignment figure) of one clip with an ASR run; beam search + LM when asked (with the run's LM when
    it has one). The figure shows the greedy path's tokens over the waveform."""
    import dataclasses

    import torch

    from polyvox.eval.plots import plot_ctc_alignment
    from polyvox.speech.asr.run import decode_log_probs
    from polyvox.speech.asr.vocab import tokens_to_text

    run = _run("asr", run_dir)
    wav = _audio(audio)
    decoder = _beam_decoder(run_dir) if decoding.startswith("beam") else None
    x = torch.from_numpy(wav)[None].to(run.device)
    with torch.no_grad():
        log_probs, lens = run.model(x, torch.tensor([x.shape[1]], device=run.device))
    tokens = decode_log_probs(dataclasses.replace(run, decoder=decoder), log_probs, lens)[0]
    frames = [run.vocab.tokens[i] for i in log_probs[0, : int(lens[0])].argmax(-1).tolist()]
    figure = plot_ctc_alignment(wav, frames, len(wav) / 16000 / max(len(frames), 1), blank=run.vocab.tokens[0])
    return tokens_to_text(tokens, run.unit) or NOTHING, figure


@functools.lru_cache(maxsize=8)
def _beam_decoder(run_dir: str):
    """The run's beam-search decoder (with its LM when it has one), built once: reading an ARPA LM takes seconds."""
    import dataclasses

    from polyvox.speech.asr.run import make_decoder

    run = _load("asr", run_dir)
    return make_decoder(run.run_dir, run.vocab, dataclasses.replace(run.config.decode, method="beam"))


def phonemes(run_dir: str, audio: str, lang: str) -> tuple[str, str, str]:
    """(raw, restricted to ``lang``'s inventory, mapped by articulatory features) phones of one clip."""
    from polyvox.speech.phones import zeroshot

    run = _run("asr", run_dir)
    if run.unit != "phoneme":
        raise _error(f"{run_dir} was trained on {run.unit} targets; choose a phoneme run")
    wav = _audio(audio)
    try:
        inventory = zeroshot.target_inventory(lang=lang.strip()) if lang and lang.strip() else None
    except ValueError as e:
        raise _error(str(e)) from None
    modes = ["raw", "restrict", "map"] if inventory else ["raw"]
    out = zeroshot.transcribe_phones(run, [wav], zeroshot.build_modes(run.vocab, inventory, modes))
    text = {m: " ".join(out[m][0]) or NOTHING for m in modes}
    need = "give a language code to decode into its inventory"
    return text["raw"], text.get("restrict", need), text.get("map", need)


def classify(run_dir: str, audio: str) -> dict[str, float]:
    """Class probabilities of one clip."""
    from polyvox.speech.classify.run import classify as run_classify

    run = _run("classify", run_dir)
    probs = run_classify(run, [_audio(audio)])[0]
    return {label: float(p) for label, p in zip(run.labels, probs)}


def understand(run_dir: str, audio: str, lang: str = "") -> tuple[dict[str, float], str, str]:
    """(class probabilities, the recognizer's transcript, the text the classifier read) of one clip; the two texts
    say "(end-to-end: no transcript)" for an end-to-end run."""
    predict, _ = _run("understand", run_dir)
    out = predict([_audio(audio)], [lang.strip() or None])[0]
    if out["transcript"] is None:
        return out["probs"], "(end-to-end: no transcript)", "(end-to-end: no transcript)"
    return out["probs"], out["transcript"] or NOTHING, out["text"] or NOTHING


def ask(run_dir: str, question_audio: str | None, question_text: str, context: str,
        lang: str = "") -> tuple[str, str, str]:
    """(the answer, the question as the model read it, the context as the recognizer heard it) for a spoken or
    written question about a spoken context."""
    answering = _run("ask", run_dir)
    ctx = _audio(context, "context")
    if question_audio:
        question = _audio(question_audio, "question")
    elif question_text.strip():
        question = question_text.strip()
    else:
        raise _error("no question: record or upload one, or type it")
    try:
        out = answering([question], ctx, lang.strip() or None)[0]
    except ValueError as e:
        raise _error(str(e)) from None
    if "context_text" not in out:  # the end-to-end listener: no text anywhere
        return out["answer"], "(end-to-end: no transcript)", "(end-to-end: no transcript)"
    return out["answer"] or NOTHING, out["question_text"] or NOTHING, out["context_text"] or NOTHING


def speak(run_dir: str, text: str, lang: str, reference: str | None) -> tuple[int, np.ndarray]:
    """(sample rate, waveform) of ``text`` in ``lang`` in the voice of ``reference``: a FastSpeech-style run (16 kHz)
    or an F5-style one (its mel's rate, 24 kHz)."""
    from polyvox.speech.f5tts.run import F5Run, synthesize as synthesize_f5
    from polyvox.speech.tts.run import TtsInputError, synthesize

    run = _run("tts", run_dir)
    if reference:
        _audio(reference, "reference clip")  # the clear message for a bad file
    try:
        if isinstance(run, F5Run):
            wav, rate = synthesize_f5(run, text, lang, reference), run.mel.sample_rate
        else:
            wav, rate = synthesize(run, text, lang, reference), run.config.mel.sample_rate
    except (TtsInputError, ValueError) as e:
        raise _error(str(e)) from None
    return rate, (np.clip(wav, -1, 1) * 32767).astype(np.int16)  # 16-bit PCM, as played


# ----------------------------------------------------------------------------- the app


EXAMPLE_CORPORA = {  # tab -> the built-in corpora (under work/) whose test clips it offers as examples
    "speech": ("corpus",), "classify": ("synth_emotion", "synth_abuse"), "understand": ("synth_intent",),
    "ask": ("synth_facts",)}


def _examples(kind: str, n: int = 3, work: str | os.PathLike | None = None) -> list:
    """A few test clips of the built-in corpus a tab's runs are trained on, if one was built: paths, or for "ask"
    [context, question] pairs (a facts corpus comprehension row)."""
    from polyvox.data.paths import CORPUS_ROOT

    work = Path(work) if work is not None else Path(CORPUS_ROOT).parent

    def rows(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def absolute(p: str, base: Path) -> str:
        return p if Path(p).is_absolute() else str(base / p)

    for folder in EXAMPLE_CORPORA[kind]:
        for manifest in sorted((work / folder).glob("*/test.jsonl")):
            if kind == "ask":
                contexts = manifest.parent / "comprehension-test.jsonl"
                if not contexts.exists():
                    continue
                audio = {r["id"]: absolute(r["audio"], manifest.parent) for r in rows(manifest)}
                pairs = [[r["audio"], audio[r["question"]]] for r in rows(contexts)[:n]
                         if r.get("audio") and r["question"] in audio]
                if pairs and all(Path(p).exists() for pair in pairs for p in pair):
                    return pairs
                continue
            paths = [absolute(r["audio"], manifest.parent) for r in rows(manifest)[:n]]
            if paths and all(Path(p).exists() for p in paths):
                return paths
    return []


def build_app(runs_root: str | os.PathLike = "work/runs"):
    """The gr.Blocks app over the runs under ``runs_root``."""
    import gradio as gr

    runs = find_runs(runs_root)
    examples = {kind: _examples(kind) for kind in EXAMPLE_CORPORA}

    def picker(kind: str, elem_id: str):
        found = runs[kind]
        info = None if found else f"no {kind} run under {runs_root}; train one with: {TRAIN_HINTS[kind]}"
        return gr.Dropdown(found, value=found[0] if found else None, label="run", info=info, elem_id=elem_id)

    with gr.Blocks(title="polyvox demo") as app:
        gr.Markdown(f"# polyvox demo\nRuns from `{runs_root}`. Nothing is downloaded.")
        with gr.Tab("Transcribe"):
            run = picker("asr", "asr-run")
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="speech", elem_id="asr-audio")
            decoding = gr.Radio(["greedy", "beam + LM"], value="greedy", label="decoding")
            button = gr.Button("Transcribe", elem_id="asr-button")
            out = gr.Textbox(label="transcript", elem_id="asr-out")
            plot = gr.Plot(label="CTC alignment (greedy path)", elem_id="asr-plot")
            button.click(transcribe, [run, audio, decoding], [out, plot], api_name="transcribe")
            if examples["speech"]:
                gr.Examples(examples["speech"], audio)
        with gr.Tab("Phonemes"):
            run = picker("asr", "phones-run")
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="speech", elem_id="phones-audio")
            lang = gr.Textbox(label="decode into the inventory of (espeak-ng language code)", value="")
            button = gr.Button("Recognize phonemes", elem_id="phones-button")
            outs = [gr.Textbox(label="raw"), gr.Textbox(label="restricted to the inventory"),
                    gr.Textbox(label="mapped by articulatory features")]
            button.click(phonemes, [run, audio, lang], outs, api_name="phonemes")
            if examples["speech"]:
                gr.Examples(examples["speech"], audio)
        with gr.Tab("Classify"):
            run = picker("classify", "cls-run")
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="speech", elem_id="cls-audio")
            button = gr.Button("Classify", elem_id="cls-button")
            out = gr.Label(label="class probabilities")
            button.click(classify, [run, audio], out, api_name="classify")
            if examples["classify"]:
                gr.Examples(examples["classify"], audio)
        with gr.Tab("Understand"):
            run = picker("understand", "und-run")
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="spoken request",
                             elem_id="und-audio")
            lang = gr.Textbox(label="language code (for romanization; optional)", value="", elem_id="und-lang")
            button = gr.Button("Understand", elem_id="und-button")
            outs = [gr.Label(label="intent probabilities", elem_id="und-out"),
                    gr.Textbox(label="transcript (cascade)", elem_id="und-transcript"),
                    gr.Textbox(label="text the classifier read", elem_id="und-text")]
            button.click(understand, [run, audio, lang], outs, api_name="understand")
            if examples["understand"]:
                gr.Examples(examples["understand"], audio)
        with gr.Tab("Ask"):
            run = picker("ask", "ask-run")
            context = gr.Audio(sources=["upload", "microphone"], type="filepath", label="spoken context",
                               elem_id="ask-context")
            question = gr.Audio(sources=["upload", "microphone"], type="filepath", label="spoken question",
                                elem_id="ask-audio")
            typed = gr.Textbox(label="or a written question (cascades)", value="", elem_id="ask-text")
            lang = gr.Textbox(label="language code (for romanization / G2P; optional)", value="", elem_id="ask-lang")
            button = gr.Button("Answer", elem_id="ask-button")
            outs = [gr.Textbox(label="answer", elem_id="ask-out"),
                    gr.Textbox(label="question the model read", elem_id="ask-question"),
                    gr.Textbox(label="context the recognizer heard", elem_id="ask-heard")]
            button.click(ask, [run, question, typed, context, lang], outs, api_name="ask")
            if examples["ask"]:
                gr.Examples(examples["ask"], [context, question])
        with gr.Tab("Speak"):
            run = picker("tts", "tts-run")
            text = gr.Textbox(label="text", value="", elem_id="tts-text")
            lang = gr.Textbox(label="language code", value="en", elem_id="tts-lang")
            reference = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                 label="reference voice (any language, no transcript)", elem_id="tts-ref")
            button = gr.Button("Speak", elem_id="tts-button")
            out = gr.Audio(label="speech", type="numpy", elem_id="tts-out")
            button.click(speak, [run, text, lang, reference], out, api_name="speak")
            if examples["speech"]:
                gr.Examples(examples["speech"], reference, label="reference voices")
    app.queue(max_size=16, default_concurrency_limit=1)
    return app


def launch(runs_root: str = "work/runs", port: int | None = None, share: bool = False, block: bool = True):
    """Serve on 127.0.0.1 (``share`` asks Gradio for a public link); returns the app (``block=False``: at once)."""
    app = build_app(runs_root)
    app.launch(server_name="127.0.0.1", server_port=port, share=share, max_file_size=MAX_UPLOAD,
               prevent_thread_lock=not block, show_error=True)
    return app


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default="work/runs", help="folder searched for trained runs (default: work/runs)")
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: Gradio's, 7860 or next)")
    p.add_argument("--share", action="store_true", help="ask Gradio for a public share link (off by default)")


def run(args) -> int:
    launch(args.runs, args.port, args.share)
    return 0
