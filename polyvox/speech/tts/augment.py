"""Speech for ASR training from a TTS run: new sentences of a language, spoken in the voices of reference clips
("ASR data augmentation using cross-lingual multi-speaker TTS"), written as a manifest like any corpus's.

    polyvox tts-augment work/runs/tts/base --lang it --utts 300 --references REF.jsonl --out work/tts_aug/it

Texts come from the built-in corpus's word sampler with a seed of their own (``text seed``: other sentences than
the corpus's), phonemes from the same G2P as the corpus (so ASR targets match), each row in the voice of one
reference clip (drawn in turn from ``references``, any language: cross-lingual voices widen the speaker pool).
Rows record the TTS run and the reference in ``custom``; speakers are ``tts:<reference speaker>``. Idempotent:
rows already written are kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from polyvox.data.manifest import Utterance


def synthesize_tts_corpus(run_dir: str | Path, lang: str, n_utts: int, references: Sequence[Utterance],
                          out_dir: str | Path, *, seed: int = 1000, words: tuple[int, int] = (2, 6)) -> Path:
    """Write ``out_dir/wavs/*.wav`` and ``out_dir/train.jsonl`` (``n_utts`` rows); returns the manifest path."""
    from polyvox.data.audio import save_audio
    from polyvox.data.manifest import read_manifest, write_manifest
    from polyvox.data.synth.corpus import corpus_phonemes
    from polyvox.data.synth.words import make_text
    from polyvox.speech.tts.run import TtsInputError, load_run, synthesize

    if not references:
        raise ValueError("no reference clips: give a manifest of voices to speak in")
    out_dir = Path(out_dir)
    manifest = out_dir / "train.jsonl"
    done = {u.id: u for u in read_manifest(manifest)} if manifest.is_file() else {}
    run = load_run(run_dir)
    rows, skipped = [], 0
    index = 0
    while len(rows) < n_utts:
        if index > 3 * n_utts + 10:
            raise RuntimeError(f"only {len(rows)} of {n_utts} sentences could be spoken ({skipped} skipped)")
        uid, ref = f"tts-{lang}-{index:05d}", references[index % len(references)]
        index += 1
        if uid in done:
            rows.append(done[uid])
            continue
        text = make_text(lang, seed, index, words=words)
        try:
            phonemes = corpus_phonemes(text, lang)
            wav = synthesize(run, text, lang, ref.audio)
        except (TtsInputError, ValueError):  # a phone the TTS never learnt, or espeak switched language
            skipped += 1
            continue
        path = save_audio(out_dir / "wavs" / f"{uid}.wav", wav, run.config.mel.sample_rate)
        rows.append(Utterance(id=uid, audio=str(path.resolve()), duration=len(wav) / run.config.mel.sample_rate,
                              sample_rate=run.config.mel.sample_rate, language=lang, speaker=f"tts:{ref.speaker}",
                              text=text, phonemes=phonemes,
                              custom={"engine": "polyvox-tts", "tts_run": str(run_dir), "reference": ref.id}))
    write_manifest(manifest, rows)
    return manifest


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a trained TTS run (recipes/tts/train.py)")
    p.add_argument("--lang", required=True, help="language of the sentences")
    p.add_argument("--utts", type=int, required=True, help="sentences to synthesize")
    p.add_argument("--references", required=True, help="a manifest of voice clips (any language), used in turn")
    p.add_argument("--out", required=True, help="output folder: wavs/ and train.jsonl")
    p.add_argument("--seed", type=int, default=1000, help="text seed (other sentences than the corpus's seed)")


def run(args) -> int:
    from polyvox.data.manifest import read_manifest

    try:
        refs = read_manifest(args.references)
        path = synthesize_tts_corpus(args.run, args.lang, args.utts, refs, args.out, seed=args.seed)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"polyvox tts-augment: error: {e}", file=sys.stderr)
        return 2
    print(f"{path}: {args.utts} synthesized utterances")
    return 0
