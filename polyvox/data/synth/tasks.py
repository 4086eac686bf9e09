"""SYNTHETIC utterance-classification corpora spoken by espeak-ng: a prosodic "emotion" task and
a keyword "abuse" task, in many languages and voices. For pipeline checks, cross-lingual
protocol dry runs and teaching -- not for claims about real emotion or abuse detection
(``docs/classification.md`` says what they can and cannot tell you).

* :func:`synthesize_emotion_corpus`: each class is a *prosody style* applied on top of a
  speaker's own pitch and rate: pitch shift, pitch range (SSML ``<prosody range>``), speaking
  rate, amplitude and, for some classes, a voice-quality variant (espeak-ng ``whisper`` /
  ``croak``) on part of the utterances. The styles are loosely modelled on reported acoustic
  correlates (anger: loud, fast, wide range; sadness: low, slow, narrow, quiet; ...), with
  per-utterance jitter so classes overlap. Labels go to ``custom["emotion"]``.
* :func:`synthesize_abuse_corpus`: the positive class ("abusive") has one word from a
  per-language *flagged-word list* inserted in the sentence; the negative class ("clean")
  has none; same voices and prosody for both. The flagged words are innocuous stand-ins
  drawn deterministically from the language's frequent words (:func:`flagged_words`), so the
  task is keyword spotting under a label name, not real profanity. Labels go to
  ``custom["label"]``.

Both write ``out_dir/{train,dev,test}.jsonl`` (speaker-disjoint per language) and
``out_dir/wavs/<lang>/<id>.wav`` at 16 kHz, every row marked ``custom["synthetic"] = True``.
Everything is a function of the arguments and the seed; a re-run with the same arguments
returns the existing manifests without calling espeak-ng.
"""

from __future__ import annotations

import json
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence
from xml.sax.saxutils import escape

from polyvox.data.audio import DEFAULT_SAMPLE_RATE, load_audio, save_audio
from polyvox.data.ipa import clean_ipa, invalid_segments, language_switches
from polyvox.data.manifest import Utterance, read_manifest, split_manifest, write_manifest
from polyvox.data.espeak import EspeakError, espeak_binary, espeak_reading, run_espeak
from polyvox.data.synth import engines as synth_engines
from polyvox.data.synth.corpus import (SPLITS, Speaker, SynthError, engine_speakers, g2p_raw, make_speakers,
                                       parse_langs)
from polyvox.data.synth.words import LANGUAGES, MAX_WORDS, MIN_WORDS, make_text, word_pool

MAX_ATTEMPTS = 12
STAMP = "synth_task.json"
ABUSIVE, CLEAN = "abusive", "clean"


@dataclass(frozen=True)
class Style:
    """A prosody style relative to a speaker: ``pitch`` is added to the speaker's espeak ``-p``,
    ``rate`` multiplies its ``-s``, ``amplitude`` is espeak ``-a`` (default 100), ``range`` an
    SSML prosody range, ``variant`` an espeak voice variant used on ``variant_share`` of the
    utterances instead of the speaker's own."""

    pitch: int = 0
    range: str = "medium"
    rate: float = 1.0
    amplitude: int = 100
    variant: str | None = None
    variant_share: float = 0.0


EMOTION_STYLES: dict[str, Style] = {
    "neutral": Style(),
    "happy": Style(pitch=12, range="x-high", rate=1.1, amplitude=125),
    "sad": Style(pitch=-12, range="x-low", rate=0.8, amplitude=70, variant="croak", variant_share=0.3),
    "angry": Style(pitch=6, range="high", rate=1.15, amplitude=175),
    "fearful": Style(pitch=18, range="low", rate=1.25, amplitude=90, variant="whisper", variant_share=0.3),
}
DEFAULT_EMOTIONS = ("neutral", "happy", "sad", "angry")
DEFAULT_ABUSE_LANGS = ("hi", "bn", "ta", "ur", "en", "es")


@dataclass(frozen=True)
class TaskJob:
    id: str
    language: str
    index: int
    speaker: Speaker
    label: str
    voice: str
    pitch: int
    rate: int
    amplitude: int
    range: str
    text: Callable[[int], str]  # attempt -> text
    wav: Path


# ----------------------------------------------------------------------------- texts


def flagged_words(code: str, n: int = 20, seed: int = 0) -> tuple[str, ...]:
    """The stand-in flagged-word list of a language: ``n`` mid-frequency words (ranks 100-1000
    of the filtered wordfreq list), chosen by the seed. Not real profanity."""
    lang = LANGUAGES.get(code)
    if lang is None or lang.source != "wordfreq":
        ok = sorted(c for c, l in LANGUAGES.items() if l.source == "wordfreq")
        raise ValueError(f"the abuse task needs a word list; {code!r} has none. Use one of: {', '.join(ok)}")
    pool = word_pool(code)
    mid = [w for w in pool[100:1000] if len(w) >= 3]
    return tuple(random.Random(f"flagged:{seed}:{code}").sample(mid, n))


def abuse_text(code: str, seed: int, index: int, attempt: int, flagged: Sequence[str], positive: bool) -> tuple[str, str]:
    """(text, flagged word or ""): 2-6 frequent non-flagged words, plus one flagged word at a
    random position when ``positive``."""
    rng = random.Random(f"abuse-text:{seed}:{code}:{index}:{attempt}")
    banned = set(flagged)
    pool = [w for w in word_pool(code) if w not in banned]
    words = rng.sample(pool, rng.randint(MIN_WORDS, MAX_WORDS))
    word = ""
    if positive:
        word = rng.choice(list(flagged))
        words.insert(rng.randint(0, len(words)), word)
    return " ".join(words), word


# ----------------------------------------------------------------------------- speaking


def espeak_ssml_command(job: TaskJob, wav: Path, text: str) -> list[str]:
    ssml = f'<speak><prosody range="{job.range}">{escape(espeak_reading(text, job.voice))}</prosody></speak>'
    return ["-m", "-b", "1", "-v", job.voice, "-p", str(job.pitch), "-s", str(job.rate),
            "-a", str(job.amplitude), "--ipa", "--sep=_", "-w", str(wav), "--", ssml]  # fmt: skip


def _custom(job: TaskJob, key: str) -> dict:
    if job.speaker.engine != "espeak":  # the voice's own prosody: no espeak controls
        return {key: job.label, "synthetic": True, "voice": job.voice, "engine": job.speaker.engine}
    return {key: job.label, "synthetic": True, "voice": job.voice, "pitch": job.pitch, "rate": job.rate,
            "amplitude": job.amplitude, "range": job.range}  # fmt: skip


def _speak_raw(job: TaskJob, text: str, wav: Path) -> str:
    """Speak ``text`` into ``wav``; espeak-ng's raw IPA of it (for other engines espeak-ng is the G2P)."""
    if job.speaker.engine == "espeak":
        return run_espeak(espeak_ssml_command(job, wav, text))
    synth_engines.speak(job.speaker.engine, job.voice, text, wav)
    return g2p_raw(text, job.language)


def speak(job: TaskJob, key: str, allow_switches: bool = False) -> Utterance:
    """Speak one job; texts that make espeak switch language are replaced by the next attempt, unless
    ``allow_switches`` (loanwords such as German "Timer" are part of the text; their phones are kept)."""
    tmp = job.wav.with_name(job.wav.stem + ".espeak.wav")
    job.wav.parent.mkdir(parents=True, exist_ok=True)
    problems = []
    for attempt in range(MAX_ATTEMPTS):
        text = job.text(attempt)
        try:
            raw = _speak_raw(job, text, tmp)
        except EspeakError as e:  # a text espeak-ng crashes on (corpus.synthesize_one): the next attempt's text
            problems.append(f"{text!r}: {e}")
            continue
        switches, bad = [] if allow_switches else language_switches(raw), invalid_segments(raw, job.language)
        if switches or bad:
            problems.append(f"{text!r}: " + (f"switched to {switches}" if switches else f"non-IPA {bad}"))
            continue
        wav, duration = load_audio(tmp, DEFAULT_SAMPLE_RATE, allow_silence=True)
        save_audio(job.wav, wav, DEFAULT_SAMPLE_RATE)
        tmp.unlink()
        return Utterance(
            id=job.id, audio=str(job.wav.resolve()), duration=round(duration, 6), sample_rate=DEFAULT_SAMPLE_RATE,
            language=job.language, speaker=job.speaker.id, text=text, phonemes=clean_ipa(raw, job.language),
            custom=_custom(job, key),
        )  # fmt: skip
    tmp.unlink(missing_ok=True)
    raise SynthError(f"{job.id}: no usable text in {MAX_ATTEMPTS} attempts: " + "; ".join(problems))


def _voice_with_variant(voice: str, variant: str) -> str:
    return voice.split("+", 1)[0] + "+" + variant


def _run(out_dir: Path, params: dict, jobs: list[TaskJob], key: str, workers: int | None,
         splits: Mapping[str, float] = SPLITS, allow_switches: bool = False) -> dict[str, Path]:
    """Speak all jobs (unless the stamp says this exact corpus is already there), split by speaker."""
    if dict(splits) != dict(SPLITS):
        params = {**params, "splits": dict(splits)}  # default splits leave older stamps valid
    stamp = out_dir / STAMP
    paths = {name: out_dir / f"{name}.jsonl" for name in SPLITS}
    if stamp.exists() and all(p.exists() for p in paths.values()):
        try:
            same = json.loads(stamp.read_text()) == params
        except json.JSONDecodeError:
            same = False
        if same and all(Path(u.audio).exists() for p in paths.values() for u in read_manifest(p)):
            return paths
    espeak_binary()  # fail before planning anything when espeak-ng is missing
    workers = max(1, workers or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        utts = list(pool.map(lambda j: speak(j, key, allow_switches), jobs))
    parts = split_manifest(utts, splits, seed=params["seed"], by_speaker=True)
    for name, part in parts.items():
        write_manifest(paths[name], sorted(part, key=lambda u: u.id))
    stamp.write_text(json.dumps(params, indent=1, sort_keys=True))
    return paths


def _check(langs: list[str], utts_per_lang: int, speakers: int, splits: Mapping[str, float] = SPLITS) -> None:
    if set(splits) != set(SPLITS) or any(v <= 0 for v in splits.values()):
        raise ValueError(f"splits must give a positive share to each of {list(SPLITS)}, got {dict(splits)}")
    if utts_per_lang < 1:
        raise ValueError(f"utts_per_lang must be >= 1, got {utts_per_lang}")
    if speakers < len(SPLITS):
        raise ValueError(f"speaker-disjoint train/dev/test splits need >= {len(SPLITS)} speakers per language, got {speakers}")


# ----------------------------------------------------------------------------- corpora


def synthesize_emotion_corpus(
    out_dir: str | os.PathLike,
    langs: Sequence[str] | str = ("en", "de", "es", "hi"),
    utts_per_lang: int = 80,
    emotions: Sequence[str] = DEFAULT_EMOTIONS,
    *,
    seed: int = 0,
    speakers: int = 4,
    jitter: float = 1.0,
    workers: int | None = None,
    splits: Mapping[str, float] = SPLITS,
) -> dict[str, Path]:
    """SYNTHETIC prosodic emotion corpus; returns {"train"|"dev"|"test": manifest path}.

    Utterance ``i`` of a language is spoken by speaker ``i % speakers`` in emotion
    ``(i // speakers) % len(emotions)``, so every speaker has every class. ``jitter`` scales
    the per-utterance random deviation (pitch +-4, rate +-8 %, amplitude +-15 at 1.0) that
    makes neighbouring classes overlap; 0 gives clean, trivially separable styles.
    ``splits`` are the speaker shares of train/dev/test per language (default 80/10/10).
    """
    out_dir = Path(out_dir)
    codes = parse_langs(list(langs) if not isinstance(langs, str) else langs)
    _check(codes, utts_per_lang, speakers, splits)
    unknown = [e for e in emotions if e not in EMOTION_STYLES]
    if unknown or len(emotions) < 2:
        raise ValueError(f"emotions must be >= 2 of {sorted(EMOTION_STYLES)}, got {list(emotions)}")
    jobs = []
    for code in codes:
        spks = make_speakers(code, speakers, seed)
        for i in range(utts_per_lang):
            spk, emo = spks[i % speakers], emotions[(i // speakers) % len(emotions)]
            style = EMOTION_STYLES[emo]
            rng = random.Random(f"emotion:{seed}:{code}:{i}")
            voice = spk.voice
            if style.variant and rng.random() < style.variant_share:
                voice = _voice_with_variant(voice, style.variant)
            pitch = int(round(min(99, max(0, spk.pitch + style.pitch + jitter * rng.uniform(-4, 4)))))
            rate = int(round(spk.rate * style.rate * (1 + jitter * rng.uniform(-0.08, 0.08))))
            amp = int(round(min(200, max(10, style.amplitude + jitter * rng.uniform(-15, 15)))))
            uid = f"{code}-emo-{i:05d}"
            jobs.append(TaskJob(uid, code, i, spk, emo, voice, pitch, rate, amp, style.range,
                                lambda a, c=code, k=i: make_text(c, seed, k, a),
                                out_dir / "wavs" / code / f"{uid}.wav"))  # fmt: skip
    params = {"task": "emotion", "langs": codes, "utts_per_lang": utts_per_lang, "emotions": list(emotions),
              "seed": seed, "speakers": speakers, "jitter": jitter,
              "styles": {e: asdict(EMOTION_STYLES[e]) for e in emotions}}  # fmt: skip
    return _run(out_dir, params, jobs, "emotion", workers, splits)


def synthesize_abuse_corpus(
    out_dir: str | os.PathLike,
    langs: Sequence[str] | str = DEFAULT_ABUSE_LANGS,
    utts_per_lang: int = 80,
    *,
    positive_fraction: float = 0.5,
    flagged_per_lang: int = 20,
    seed: int = 0,
    speakers: int = 4,
    jitter: float = 1.0,
    workers: int | None = None,
    splits: Mapping[str, float] = SPLITS,
    engines: Sequence[str] = ("espeak",),
) -> dict[str, Path]:
    """SYNTHETIC keyword "abuse" corpus; returns {"train"|"dev"|"test": manifest path}.

    Labels ``custom["label"]`` are "abusive" (text contains one word of
    :func:`flagged_words`, stored in ``custom["flagged_word"]``) or "clean". About
    ``positive_fraction`` of each language is abusive. Speakers use their own voice with
    neutral-style jitter, identical for both classes, so only the words differ. ``splits`` as
    in :func:`synthesize_emotion_corpus`. ``engines`` adds the voices of other synthesizers
    (:mod:`polyvox.data.synth.engines`) as more speakers of the languages they speak, in their own prosody; the
    split stays speaker-disjoint.
    """
    synth_engines.check_engines(engines)
    if "espeak" not in engines:
        raise ValueError(f"engines {list(engines)}: the abuse corpus needs espeak (every language) plus others")
    for engine in engines:
        if engine != "espeak" and (why := synth_engines.missing(engine)):
            print(f"polyvox synth: {why}; its voices are left out", file=sys.stderr)
    out_dir = Path(out_dir)
    codes = parse_langs(list(langs) if not isinstance(langs, str) else langs)
    _check(codes, utts_per_lang, speakers, splits)
    if not 0 < positive_fraction < 1:
        raise ValueError(f"positive_fraction must be in (0, 1), got {positive_fraction}")
    jobs = []
    for code in codes:
        flagged = flagged_words(code, flagged_per_lang, seed)
        spks = make_speakers(code, speakers, seed) + engine_speakers(code, engines)
        for i in range(utts_per_lang):
            spk = spks[i % len(spks)]
            rng = random.Random(f"abuse:{seed}:{code}:{i}")
            positive = rng.random() < positive_fraction
            pitch = int(round(min(99, max(0, spk.pitch + jitter * rng.uniform(-4, 4)))))
            rate = int(round(spk.rate * (1 + jitter * rng.uniform(-0.08, 0.08))))
            amp = int(round(100 + jitter * rng.uniform(-15, 15)))
            uid = f"{code}-abu-{i:05d}"
            jobs.append(TaskJob(uid, code, i, spk, ABUSIVE if positive else CLEAN, spk.voice, pitch, rate, amp,
                                "medium",
                                lambda a, c=code, k=i, f=flagged, p=positive: abuse_text(c, seed, k, a, f, p)[0],
                                out_dir / "wavs" / code / f"{uid}.wav"))  # fmt: skip
    params = {"task": "abuse", "langs": codes, "utts_per_lang": utts_per_lang, "seed": seed,
              "speakers": speakers, "jitter": jitter, "positive_fraction": positive_fraction,
              "flagged_per_lang": flagged_per_lang}  # fmt: skip
    if list(engines) != ["espeak"]:  # espeak-only stamps stay as they were, so existing corpora are reused
        params["engines"] = list(engines)
    paths = _run(out_dir, params, jobs, "label", workers, splits)
    _add_flagged_word(paths, {c: flagged_words(c, flagged_per_lang, seed) for c in codes})
    return paths


def _add_flagged_word(paths: dict[str, Path], flagged: dict[str, tuple[str, ...]]) -> None:
    """Record which flagged word (if any) each text contains; idempotent."""
    for path in paths.values():
        utts = read_manifest(path)
        if all("flagged_word" in u.custom for u in utts):
            continue
        out = []
        for u in utts:
            words = set(u.text.split())
            hit = next((w for w in flagged[u.language] if w in words), "")
            out.append(u.with_(custom={**u.custom, "flagged_word": hit}))
        write_manifest(path, out)
