"""A trained TTS run, inference side: save / load (never downloads), and text -> speech in a language, in the voice
of a reference clip that needs no transcript.

    run = load_run("work/runs/tts/base")
    wav = synthesize(run, "Hola, ¿qué tal?", "es", reference="voice_en.wav")   # (samples,) float32, 16 kHz

Text is split at sentence ends (never truncated), each sentence phonemized by espeak-ng exactly as the built-in
corpus is (:func:`polyvox.data.synth.corpus.corpus_phonemes`), synthesized, and joined with short pauses.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from polyvox.data.audio import AudioError, load_audio
from polyvox.data.collate import compute_fbank
from polyvox.speech.asr.vocab import Vocab, phonemes_to_tokens
from polyvox.speech.tts.config import TtsConfig
from polyvox.speech.tts.model import FastSpeech
from polyvox.speech.tts.vocoder import griffin_lim
from polyvox.train.config import load_config, save_config
from polyvox.train.runs import CONFIG_FILE, MODEL_FILE, load_weights

VOCAB_FILE = "vocab.json"
LANGUAGES_FILE = "languages.json"
MIN_REFERENCE_SECONDS = 1.0
PAUSE_SECONDS = 0.15
SENTENCE_END = re.compile(r"(?<=[.!?;:。！？])\s+|\n+")


class TtsInputError(ValueError):
    """Input the model cannot speak: empty text, a language it was not trained on, unknown phonemes, a bad
    reference clip. The message says which and what was expected."""


@dataclass
class TtsRun:
    config: TtsConfig
    vocab: Vocab
    languages: list[str]
    model: FastSpeech
    run_dir: Path
    device: torch.device = torch.device("cpu")


def save_run_files(run_dir: str | os.PathLike, cfg: TtsConfig, vocab: Vocab, languages, model=None) -> None:
    """config.yaml, vocab.json, languages.json (and model.safetensors when ``model`` is given)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / CONFIG_FILE)
    vocab.save(run_dir / VOCAB_FILE)
    (run_dir / LANGUAGES_FILE).write_text(json.dumps(list(languages)), encoding="utf-8")
    if model is not None:
        from safetensors.torch import save_model

        save_model(model, str(run_dir / MODEL_FILE))


def load_run(run_dir: str | os.PathLike, device: str | None = None) -> TtsRun:
    """Rebuild a run from its directory; FileNotFoundError naming the missing file."""
    run_dir = Path(run_dir)
    for name in (CONFIG_FILE, VOCAB_FILE, LANGUAGES_FILE, MODEL_FILE):
        if not (run_dir / name).exists():
            raise FileNotFoundError(f"{run_dir / name}: missing; {run_dir} is not a trained TTS run "
                                    f"(train one with: polyvox train recipes/tts/configs/base.yaml)")
    cfg = load_config(TtsConfig, run_dir / CONFIG_FILE)
    vocab = Vocab.load(run_dir / VOCAB_FILE)
    languages = json.loads((run_dir / LANGUAGES_FILE).read_text(encoding="utf-8"))
    model, dev = load_weights(FastSpeech(cfg.model, len(vocab), len(languages), cfg.mel.n_mels),
                              run_dir / MODEL_FILE, device)
    return TtsRun(cfg, vocab, languages, model, run_dir, dev)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after . ! ? ; : and at line breaks), empty ones dropped."""
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def text_tokens(run: TtsRun, text: str, lang: str) -> tuple[str, list[list[int]]]:
    """(language code, token ids per sentence); TtsInputError for empty text, an untrained language, or phonemes outside the
    vocabulary (named)."""
    from polyvox.data.synth.corpus import corpus_phonemes
    from polyvox.data.synth.words import resolve_language

    if not text or not text.strip():
        raise TtsInputError("text is empty; give the words to speak")
    try:
        code = resolve_language(lang).code
    except ValueError as e:
        raise TtsInputError(str(e)) from None
    if code not in run.languages:
        raise TtsInputError(f"language {lang!r}: this run was trained on {run.languages}; train it with "
                            f"data.corpus.langs including {code!r}")
    out = []
    for sentence in split_sentences(text):
        try:
            tokens = phonemes_to_tokens(corpus_phonemes(sentence, code))
        except ValueError as e:
            raise TtsInputError(str(e)) from None
        unknown = sorted({t for t in tokens if t not in run.vocab})
        if unknown:
            raise TtsInputError(f"sentence {sentence!r} ({code}) has phonemes the model never saw in training: "
                                f"{' '.join(unknown)}")
        if [t for t in tokens if t != "|"]:
            out.append(run.vocab.encode(tokens))
    if not out:
        raise TtsInputError(f"text {text!r} has nothing espeak-ng can pronounce in {code}")
    return code, out


def reference_mel(run: TtsRun, reference) -> tuple[torch.Tensor, torch.Tensor]:
    """A reference clip (path, or (samples,) float array at 16 kHz) -> (log-mel (1, T, n_mels), lens (1,));
    TtsInputError for a clip that is not audio, silent, or shorter than MIN_REFERENCE_SECONDS."""
    sr = run.config.mel.sample_rate
    if isinstance(reference, (str, os.PathLike)):
        try:
            wav, _ = load_audio(reference, sr)
        except AudioError as e:
            raise TtsInputError(f"reference clip {e}") from None
    else:
        wav = np.asarray(reference, dtype=np.float32)
        if wav.ndim != 1 or not np.isfinite(wav).all() or np.abs(wav).max(initial=0) < 1e-4:
            raise TtsInputError("reference clip: expected a 1-D finite waveform that is not silent")
    seconds = len(wav) / sr
    if seconds < MIN_REFERENCE_SECONDS:
        raise TtsInputError(f"reference clip is {seconds:.2f} s long; at least {MIN_REFERENCE_SECONDS:g} s of "
                            f"speech are needed to take a voice from it")
    w = torch.from_numpy(wav)[None]
    mel, lens = compute_fbank(w, torch.tensor([w.shape[1]]), run.config.mel.fbank())
    return mel.to(run.device), lens.to(run.device)


@functools.lru_cache(maxsize=2)
def _recognizer(aligner_dir: str):
    from polyvox.speech.asr.run import load_run as load_asr

    return load_asr(aligner_dir)


def recognizer_rate(aligner_dir: str | os.PathLike, reference) -> float:
    """Phones per second of speech in a reference clip, transcript-free: the phones a polyvox CTC phoneme run emits
    (greedy) over the clip's speech time (frames above -40 dB of its peak)."""
    from polyvox.speech.asr.run import transcribe

    wav = load_audio(reference, 16000)[0] if isinstance(reference, (str, os.PathLike)) else np.asarray(reference)
    phones = [p for p in transcribe(_recognizer(str(aligner_dir)), [wav])[0].split() if p != "|"]
    frames = wav[: len(wav) // 160 * 160].reshape(-1, 160)
    energy = 10 * np.log10((frames ** 2).mean(1) + 1e-12)
    speech_seconds = max(float((energy > energy.max() - 40).sum()) * 0.01, 0.1)
    return len(phones) / speech_seconds


@torch.no_grad()
def synthesize(run: TtsRun, text: str, lang: str, reference=None, *, rate: Literal["predictor", "recognizer"] =
               "predictor", rate_scale: float = 1.0, griffin_lim_iters: int | None = None) -> np.ndarray:
    """Speech (samples,) float32 at 16 kHz of ``text`` in ``lang``, in the voice of ``reference`` (a path or a
    16 kHz array; required unless the run was trained with ``model.reference: none``).

    ``rate="recognizer"`` sets the speaking rate from the reference clip (:func:`recognizer_rate`, with the run's
    aligner) instead of the learned duration predictor; ``rate_scale`` > 1 slows down further."""
    code, sentences = text_tokens(run, text, lang)
    if reference is None and run.config.model.reference != "none":
        raise TtsInputError("this run clones a voice: give a reference clip (any speech, no transcript needed)")
    ref = reference_mel(run, reference) if reference is not None else (None, None)
    lang_id = torch.tensor([run.languages.index(code)], device=run.device)
    target_rate = recognizer_rate(run.config.data.aligner, reference) if rate == "recognizer" else None
    iters = griffin_lim_iters or run.config.eval.griffin_lim_iters
    pause = np.zeros(int(PAUSE_SECONDS * run.config.mel.sample_rate), dtype=np.float32)
    pieces = []
    for ids in sentences:
        tokens = torch.tensor([ids], device=run.device)
        lens = torch.tensor([len(ids)], device=run.device)
        scale = rate_scale
        if target_rate is not None:  # predicted durations -> phones per second, rescaled to the reference's rate
            _, log_dur = run.model.encode(tokens, lens, lang_id, run.model.speaker_embeddings(*ref)[1])
            frames = float(torch.clamp(torch.round(torch.exp(log_dur) - 1), min=1).sum())
            phones = sum(1 for i in ids if i != run.vocab.word_id)
            predicted_rate = phones / (frames * run.config.model.reduction * run.config.mel.hop_ms / 1000)
            scale *= predicted_rate / max(target_rate, 1e-3)
        mel, mel_lens, _ = run.model.infer(tokens, lens, lang_id, *ref, rate_scale=scale)
        pieces += [griffin_lim(mel[0, : int(mel_lens[0])], run.config.mel, iters).numpy(), pause]
    return np.concatenate(pieces[:-1]).astype(np.float32)
