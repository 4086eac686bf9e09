"""``polyvox synth``: the built-in multilingual corpus, spoken by espeak-ng.

For each language, utterance ``i`` gets a text (:func:`polyvox.data.synth.words.make_text`), a speaker
(an espeak-ng voice variant with its own pitch and rate) and one espeak-ng process, which writes
the 22.05 kHz wav and prints the IPA of exactly that audio. The wav is resampled to 16 kHz through
:mod:`polyvox.data.audio`, the IPA is cleaned by :func:`polyvox.data.ipa.clean_ipa`. Everything is a
function of the seed, so a corpus is reproducible byte for byte, and a re-run with the same
arguments reuses the rows and wavs already on disk. See ``docs/corpus.md``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Sequence

from polyvox.data.audio import DEFAULT_SAMPLE_RATE, audio_info, load_audio, save_audio
from polyvox.data.espeak import EspeakError, espeak_binary, espeak_reading, run_espeak
from polyvox.data.ipa import clean_ipa, invalid_segments, language_switches
from polyvox.data.manifest import (
    ManifestError,
    Utterance,
    format_stats,
    manifest_stats,
    read_manifest,
    split_manifest,
    write_manifest,
)
from polyvox.data.synth import engines as synth_engines
from polyvox.data.synth.words import (DEFAULT_WORDS, VARIETIES, check_words, language, languages, make_text,
                                      resolve_language, unavailable_languages, word_pool)

SPLITS = MappingProxyType({"train": 0.8, "dev": 0.1, "test": 0.1})
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
PITCHES = range(35, 71, 5)  # espeak -p (0-99, default 50)
RATES = range(140, 186, 5)  # espeak -s words per minute (default 175)
MAX_ATTEMPTS = 12  # texts tried for one utterance before giving up (language switches, "??")


SynthError = EspeakError  # espeak-ng missing or failing, or no usable text: one error type, a message saying why


@dataclass(frozen=True)
class Speaker:
    id: str  # "en-spk02" (espeak-ng), "en-flite-slt" (other engines)
    voice: str  # espeak -v argument, "en-us+f2", or the engine's voice name
    pitch: int  # espeak -p; 0 for other engines (their voice's own)
    rate: int  # espeak -s; 0 for other engines
    engine: str = "espeak"


@dataclass(frozen=True)
class Job:
    id: str  # "en-00017"
    language: str
    index: int
    seed: int
    speaker: Speaker
    wav: Path
    words: tuple[int, int] = DEFAULT_WORDS  # (min, max) words per text, see make_text


def make_speakers(code: str, count: int, seed: int) -> list[Speaker]:
    """``count`` speakers of a language: distinct voice variants (cycled past 12), with pitch and
    rate drawn from the seed."""
    if count < 1:
        raise ValueError(f"speakers must be >= 1, got {count}")
    lang = language(code)
    rng = random.Random(f"speakers:{seed}:{code}")
    variants = rng.sample(VARIANTS, len(VARIANTS))
    return [
        Speaker(f"{code}-spk{k:02d}", f"{lang.voice}+{variants[k % len(variants)]}", rng.choice(PITCHES), rng.choice(RATES))
        for k in range(count)
    ]


def engine_speakers(code: str, engines: Sequence[str]) -> list[Speaker]:
    """One speaker per installed voice of each non-espeak engine in ``engines`` for language ``code``."""
    return [Speaker(f"{code}-{engine}-{voice}", voice, 0, 0, engine)
            for engine in engines if engine != "espeak" for voice in synth_engines.voices(engine, code)]


def plan_jobs(out_dir: Path, langs: list[str], utts_per_lang: int, seed: int, speakers: int,
              words: tuple[int, int] = DEFAULT_WORDS, engines: Sequence[str] = ("espeak",)) -> list[Job]:
    """One job per utterance; utterance ``i`` is spoken by speaker ``i % n`` of the language's ``speakers``
    espeak-ng speakers followed by the other engines' voices, and has ``words`` = (min, max) words."""
    words = check_words(words)
    jobs = []
    for code in langs:
        spks = (make_speakers(code, speakers, seed) if "espeak" in engines else []) + engine_speakers(code, engines)
        if not spks:
            hints = "".join(synth_engines.install_hint(e, code) for e in engines)
            raise ValueError(f"{code}: no speaker in engines {list(engines)} speaks this language{hints}")
        for i in range(utts_per_lang):
            uid = f"{code}-{i:05d}"
            jobs.append(Job(uid, code, i, seed, spks[i % len(spks)], out_dir / "wavs" / code / f"{uid}.wav", words))
    return jobs


HELDOUT_INDEX = 1_000_000  # text slots of held-out-engine utterances start here: texts unlike the training rows


def plan_heldout_jobs(out_dir: Path, langs: list[str], utts_per_lang: int, seed: int,
                      words: tuple[int, int], engines: Sequence[str]) -> list[Job]:
    """Utterances spoken only by ``engines`` (never trained on): ``utts_per_lang`` per language that any of them
    speaks, round-robin over their voices, ids ``<lang>-h<i>``, with texts of their own slots."""
    jobs = []
    for code in langs:
        spks = engine_speakers(code, engines)
        for i in range(utts_per_lang if spks else 0):
            uid = f"{code}-h{i:05d}"
            jobs.append(Job(uid, code, HELDOUT_INDEX + i, seed, spks[i % len(spks)],
                            out_dir / "wavs" / code / f"{uid}.wav", words))
    return jobs


def espeak_command(speaker: Speaker, wav: Path, text: str) -> list[str]:
    """Arguments of one espeak-ng call that writes ``wav`` and prints the IPA (phonemes split by ``_``)."""
    return ["-b", "1", "-v", speaker.voice, "-p", str(speaker.pitch), "-s", str(speaker.rate),
            "--ipa", "--sep=_", "-w", str(wav), "--", espeak_reading(text, speaker.voice)]  # fmt: skip


def _custom(job: Job) -> dict:
    custom = {"voice": job.speaker.voice, "pitch": job.speaker.pitch, "rate": job.speaker.rate,
              "source": language(job.language).source}  # fmt: skip
    if job.speaker.engine != "espeak":  # espeak rows stay as they were, so existing corpora are reused
        custom["engine"] = job.speaker.engine
    return custom


def g2p_raw(text: str, code: str) -> str:
    """espeak-ng's raw ``--ipa --sep=_`` of ``text`` in corpus language ``code`` (espeak as the G2P of speech another
    engine made, or of a TTS input), to be cleaned by :func:`polyvox.data.ipa.clean_ipa`."""
    voice = language(code).voice
    return run_espeak(["-q", "--ipa", "--sep=_", "-v", voice, "--", espeak_reading(text, voice)])


def corpus_phonemes(text: str, code: str) -> str:
    """``text`` in corpus language ``code`` -> the manifest's phoneme string ("h ə l oʊ | w ɜː l d"), exactly as the
    corpus writes it; ValueError when espeak-ng switched language or printed a non-IPA symbol for it."""
    raw = g2p_raw(text, code)
    if switches := language_switches(raw):
        raise ValueError(f"espeak-ng read part of {text!r} as another language ({switches}) in {code}")
    if bad := invalid_segments(raw, code):
        raise ValueError(f"espeak-ng printed symbols without an IPA spelling for {text!r} in {code}: {bad}")
    return clean_ipa(raw, code)


def speak_and_phonemize(job: Job, text: str, wav: Path) -> str:
    """Speak ``text`` into ``wav`` with the job's engine; espeak-ng's raw ``--ipa --sep=_`` of exactly that text
    (espeak's own speech prints it while speaking; for other engines espeak-ng is the G2P of the same text)."""
    if job.speaker.engine == "espeak":
        return run_espeak(espeak_command(job.speaker, wav, text))
    synth_engines.speak(job.speaker.engine, job.speaker.voice, text, wav)
    return g2p_raw(text, job.language)


def synthesize_one(job: Job) -> Utterance:
    """Speak one utterance; texts that make espeak switch language, print a phoneme without an IPA spelling or crash
    (espeak-ng 1.51's kl voice segfaults on "å") are replaced by the next attempt's text (so audio and phonemes
    agree, and one bad word does not stop the corpus)."""
    tmp = job.wav.with_name(job.wav.stem + ".espeak.wav")
    job.wav.parent.mkdir(parents=True, exist_ok=True)
    problems = []
    for attempt in range(MAX_ATTEMPTS):
        text = make_text(job.language, job.seed, job.index, attempt, job.words)
        try:
            raw = speak_and_phonemize(job, text, tmp)
        except EspeakError as e:
            problems.append(f"{text!r}: {e}")
            continue
        switches, bad = language_switches(raw), invalid_segments(raw, job.language)
        if switches or bad:
            problems.append(f"{text!r}: " + (f"switched to {switches}" if switches else f"non-IPA {bad}"))
            continue
        wav, duration = load_audio(tmp, DEFAULT_SAMPLE_RATE)
        save_audio(job.wav, wav, DEFAULT_SAMPLE_RATE)
        tmp.unlink()
        return Utterance(
            id=job.id, audio=str(job.wav.resolve()), duration=round(duration, 6), sample_rate=DEFAULT_SAMPLE_RATE,
            language=job.language, speaker=job.speaker.id, text=text, phonemes=clean_ipa(raw, job.language),
            custom=_custom(job),
        )  # fmt: skip
    tmp.unlink(missing_ok=True)
    raise SynthError(f"{job.id}: no usable text in {MAX_ATTEMPTS} attempts: " + "; ".join(problems))


def _existing_rows(out_dir: Path) -> dict[str, Utterance]:
    rows: dict[str, Utterance] = {}
    for name in (*SPLITS, "heldout"):
        path = out_dir / f"{name}.jsonl"
        if path.exists():
            try:
                rows.update((u.id, u) for u in read_manifest(path))
            except ManifestError as e:  # a damaged manifest only costs re-synthesis
                print(f"polyvox synth: ignoring {e}", file=sys.stderr)
    return rows


def _reusable(job: Job, row: Utterance | None) -> bool:
    """An existing row is this job's result: same speaker settings, a text this slot can have
    (with this job's word range, so changing --words re-synthesizes the rows it changes), wav present."""
    if row is None or dict(row.custom) != _custom(job) or row.speaker != job.speaker.id:
        return False
    if Path(row.audio).resolve() != job.wav.resolve() or not job.wav.exists():
        return False
    return any(row.text == make_text(job.language, job.seed, job.index, a, job.words) for a in range(MAX_ATTEMPTS))


def speak_texts(rows: Sequence[tuple[str, str, str]], out_dir: Path, *, voices: int = 4, seed: int = 0,
                workers: int | None = None) -> list[Utterance]:
    """Given texts read aloud by espeak-ng: (id, language, text) -> an Utterance each, its clip at
    ``out_dir/<lang>/<id>.wav`` (16 kHz); the language's ``voices`` speakers take turns. A clip already there is
    reused, so a second call speaks nothing. Unlike the corpus, the text is never replaced: its phonemes are
    espeak-ng's as printed, language switches included."""
    espeak_binary()

    def one(k: int, row: tuple[str, str, str]) -> Utterance:
        uid, code, text = row
        if not text.strip():
            raise ValueError(f"{uid}: empty text, nothing to speak")
        spk = make_speakers(code, voices, seed)[k % voices]
        wav = out_dir / code / f"{uid}.wav"
        if not wav.exists():
            wav.parent.mkdir(parents=True, exist_ok=True)
            tmp = wav.with_name(wav.stem + ".espeak.wav")
            run_espeak(espeak_command(spk, tmp, text))
            save_audio(wav, load_audio(tmp, DEFAULT_SAMPLE_RATE)[0], DEFAULT_SAMPLE_RATE)  # atomic: whole or absent
            tmp.unlink()
        return Utterance(id=uid, audio=str(wav.resolve()), duration=round(audio_info(wav).duration, 6),
                         sample_rate=DEFAULT_SAMPLE_RATE, language=code, speaker=spk.id, text=text,
                         custom={"voice": spk.voice, "pitch": spk.pitch, "rate": spk.rate, "synthetic": True})

    with ThreadPoolExecutor(max_workers=max(1, workers or os.cpu_count() or 1)) as pool:
        return list(pool.map(one, range(len(rows)), rows))


def synthesize_corpus(
    out_dir: str | os.PathLike,
    langs: list[str] | str,
    utts_per_lang: int,
    seed: int = 0,
    speakers: int = 4,
    workers: int | None = None,
    speaker_disjoint: bool = True,
    fractions: dict[str, float] = SPLITS,
    words: tuple[int, int] = DEFAULT_WORDS,
    engines: Sequence[str] = ("espeak",),
    heldout_engines: Sequence[str] = (),
    heldout_utts_per_lang: int = 40,
) -> dict[str, Path]:
    """Build (or complete) the corpus in ``out_dir``; returns {"train"|"dev"|"test": manifest path}, plus
    "heldout" (``heldout.jsonl``) when ``heldout_engines`` is set.

    ``langs`` is a list of ISO codes, a comma-separated string, or "all". Wavs go to
    ``out_dir/wavs/<lang>/<id>.wav`` (16 kHz mono PCM16). ``workers`` (default: CPU count)
    espeak-ng processes run at once. With ``speaker_disjoint`` no speaker appears in two splits,
    which needs >= 3 speakers per language. ``words`` = (min, max) words per text, inclusive
    (default (2, 6): about 0.9-5 s of speech; (2, 24) spreads durations like read speech).
    ``engines`` adds the voices of other speech engines (:mod:`polyvox.data.synth.engines`: flite, festival) as
    speakers of the languages they speak; an engine that is not installed is reported and left out.
    ``heldout_engines`` (engine-disjoint protocol): ``heldout_utts_per_lang`` more utterances per language, spoken
    only by those engines' voices, go to ``heldout.jsonl`` (never to train/dev/test, which stay what they are
    without it).
    """
    out_dir = Path(out_dir)
    codes = parse_langs(langs)
    if utts_per_lang < 1:
        raise ValueError(f"utts_per_lang must be >= 1, got {utts_per_lang}")
    if speaker_disjoint and speakers < len(fractions):
        raise ValueError(
            f"speaker-disjoint {'/'.join(fractions)} splits need >= {len(fractions)} speakers per language, "
            f"got speakers={speakers}; raise --speakers or pass --no-speaker-disjoint"
        )
    words = check_words(words)
    overlap = set(engines) & set(heldout_engines)
    if overlap:
        raise ValueError(f"engines {sorted(overlap)} are both trained on and held out; an engine is one or the other")
    synth_engines.check_engines([*engines, *heldout_engines])
    espeak_binary()  # fail before planning anything when espeak-ng is missing (it phonemizes every engine)
    for engine in [*engines, *heldout_engines]:
        if engine != "espeak" and (why := synth_engines.missing(engine)):
            print(f"polyvox synth: {why}; building the corpus without it", file=sys.stderr)
    jobs = plan_jobs(out_dir, codes, utts_per_lang, seed, speakers, words, engines)
    heldout = plan_heldout_jobs(out_dir, codes, heldout_utts_per_lang, seed, words, heldout_engines)
    if heldout_engines and not heldout:
        hints = "".join(synth_engines.install_hint(e, c) for e in heldout_engines for c in codes)
        print(f"polyvox synth: no voice of {list(heldout_engines)} speaks {codes}; no heldout.jsonl{hints}",
              file=sys.stderr)
    jobs += heldout
    existing = _existing_rows(out_dir)
    done = {j.id: existing[j.id] for j in jobs if _reusable(j, existing.get(j.id))}
    todo = [j for j in jobs if j.id not in done]
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or len(todo) <= 1:
        results = [synthesize_one(j) for j in todo]
    else:
        # Threads suffice: the work is in the espeak-ng child processes and in soxr/libsndfile,
        # which release the GIL.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(synthesize_one, todo))
    done.update((u.id, u) for u in results)
    heldout_ids = {j.id for j in heldout}
    utts = [done[j.id] for j in jobs if j.id not in heldout_ids]
    parts = split_manifest(utts, fractions, seed=seed, by_speaker=speaker_disjoint)
    if heldout:
        parts["heldout"] = [done[j.id] for j in heldout]
    return {name: write_manifest(out_dir / f"{name}.jsonl", sorted(part, key=lambda u: u.id))
            for name, part in parts.items()}  # fmt: skip


def parse_langs(langs: list[str] | str) -> list[str]:
    """"en,es" / ["en", "es"] / "all" -> ISO codes in the given order, duplicates removed."""
    items = langs.split(",") if isinstance(langs, str) else list(langs)
    items = [s.strip() for s in items if s.strip()]
    if not items:
        raise ValueError("no languages given; pass e.g. --langs en,es,de or --langs all")
    if [s.lower() for s in items] == ["all"]:
        return list(languages())
    return list(dict.fromkeys(resolve_language(s).code for s in items))


def format_languages() -> str:
    """The supported languages as a markdown table (text source and its word count), then the espeak-ng languages
    that have too little offline text, with the reason."""
    lines = ["| code | language | espeak-ng voice | text source | words |", "|---|---|---|---|---:|"]
    for l in languages().values():
        n = "numbers" if l.source == "num2words" else str(len(word_pool(l.code)))
        lines.append(f"| {l.code} | {l.name} | {l.voice} | {l.source} | {n} |")
    missing = unavailable_languages()
    if missing:
        lines += ["", f"espeak-ng languages without enough offline text ({len(missing)}):"]
        lines += [f"- {code}: {why}" for code, why in missing.items()]
    return "\n".join(lines)


def parse_words(spec: str) -> tuple[int, int]:
    """argparse type for ``--words MIN-MAX``: "2-24" -> (2, 24); a single "8" -> (8, 8)."""
    lo, sep, hi = spec.strip().partition("-")
    try:
        words = (int(lo), int(hi if sep else lo))
        return check_words(words)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected MIN-MAX words per utterance with 1 <= MIN <= MAX (e.g. 2-6 or 2-24), got {spec!r}"
        ) from None


def add_arguments(parser) -> None:
    parser.add_argument("--langs", help="comma-separated ISO 639 codes (e.g. en,es,de,hi) or 'all'")
    parser.add_argument("--utts-per-lang", type=int, default=100, help="utterances per language (default 100)")
    parser.add_argument("--out", help="output folder (manifests + wavs/), e.g. work/corpus")
    parser.add_argument("--seed", type=int, default=0, help="seed for texts and speakers (default 0)")
    parser.add_argument("--speakers", type=int, default=4, help="speakers per language (default 4)")
    parser.add_argument("--workers", type=int, default=None, help="parallel espeak-ng processes (default: CPU count)")
    parser.add_argument("--words", type=parse_words, default=DEFAULT_WORDS, metavar="MIN-MAX",
                        help="words per utterance, drawn uniformly in MIN-MAX (default 2-6: about 1-5 s of speech; "
                             "2-24 spreads durations like read speech, about 1-12 s); num2words languages get "
                             "that many number words (with the default, 1-3 whole numbers). Another range "
                             "re-synthesizes the rows of an existing --out, so give it its own folder")  # fmt: skip
    parser.add_argument("--no-speaker-disjoint", dest="speaker_disjoint", action="store_false",
                        help="split by utterance instead of by speaker")  # fmt: skip
    parser.add_argument("--engines", default="espeak", metavar="E1,E2",
                        help="speech engines whose voices speak the corpus: espeak (default), flite, festival; "
                             "a missing one is reported and left out")
    parser.add_argument("--heldout-engines", default="", metavar="E1,E2",
                        help="engines whose speech goes only to heldout.jsonl (engine-disjoint protocol)")
    parser.add_argument("--heldout-utts-per-lang", type=int, default=40,
                        help="utterances per language in heldout.jsonl (default 40)")
    parser.add_argument("--list-langs", action="store_true", help="print the supported languages and exit")


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def run(args) -> int:
    if args.list_langs:
        print(format_languages())
        varieties = sum(code in VARIETIES for code in languages())
        print(f"\n{len(languages())} corpus languages: {len(languages()) - varieties} languages and {varieties} regional "
              f"varieties of them (espeak-ng voices with their own pronunciation rules); --langs all selects every one.")
        return 0
    if not args.langs or not args.out:
        print("polyvox synth: --langs and --out are required (see --list-langs for languages)", file=sys.stderr)
        return 2
    try:
        paths = synthesize_corpus(args.out, args.langs, args.utts_per_lang, seed=args.seed, speakers=args.speakers,
                                  workers=args.workers, speaker_disjoint=args.speaker_disjoint,
                                  words=args.words, engines=_names(args.engines),
                                  heldout_engines=_names(args.heldout_engines),
                                  heldout_utts_per_lang=args.heldout_utts_per_lang)  # fmt: skip
    except (SynthError, ValueError) as e:
        print(f"polyvox synth: error: {e}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        utts = read_manifest(path)
        print(format_stats(manifest_stats(utts), title=f"{name}: {path}"))
        print()
    return 0
