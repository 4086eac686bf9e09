"""The TTS task, training side: splits, vocabulary and model, batches (tokens, durations, target mels, a reference
clip of the same speaker), the loss, and the dev evaluation.

A batch (:func:`collate`)::

    tokens      (B, N) long, 0 = padding      token_lens (B,)
    languages   (B,) long                     durations  (B, N) long, decoder frames per token
    mels        (B, T * reduction, n_mels)    mel_lens   (B,) valid mel frames
    ref_mels    (B, R, n_mels)                ref_lens   (B,)   another utterance of the same speaker
    ids, utts

The reference is a *different* utterance of the speaker (chosen per epoch), so the model learns to take the voice,
not the content, from it: what transcript-free cloning needs at inference.
"""

from __future__ import annotations

import json
import random
from functools import partial
from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import Dataset

from polyvox.data.augment import Augmenter
from polyvox.data.collate import compute_fbank, pad_waveforms
from polyvox.data.dataset import AudioDataset
from polyvox.data.manifest import Utterance
from polyvox.data.sampler import DurationBucketSampler
from polyvox.data.synth.spec import read_splits
from polyvox.speech.asr.vocab import Vocab, build_vocab, phonemes_to_tokens
from polyvox.speech.ctc import pad_targets
from polyvox.speech.pooling import length_mask
from polyvox.speech.tts.align import ALIGNMENTS_FILE, align_utterances
from polyvox.speech.tts.config import TtsConfig, TtsDataConfig
from polyvox.speech.tts.model import FastSpeech
from polyvox.speech.tts.realign import realign

REALIGNED_FILE = "realigned.jsonl"


def load_splits(d: TtsDataConfig) -> dict[str, list[Utterance]]:
    """train / dev / test rows (given manifests, or the built-in corpus with many speakers)."""
    out = read_splits(d, min_duration=d.min_duration, max_duration=d.max_duration)
    for utts in out.values():
        if not all(u.phonemes for u in utts):
            bad = next(u for u in utts if not u.phonemes)
            raise ValueError(f"utterance '{bad.id}' ({bad.audio}) has no phonemes; TTS needs IPA transcripts")
    return out


def vocab_and_languages(train: Sequence[Utterance]) -> tuple[Vocab, list[str]]:
    """Phoneme vocabulary (id 0 = padding, ``|`` = word boundary) and the sorted language list."""
    return build_vocab(phonemes_to_tokens(u.phonemes) for u in train), sorted({u.language for u in train})


def build_model(cfg: TtsConfig, vocab: Vocab, languages: Sequence[str]) -> FastSpeech:
    return FastSpeech(cfg.model, len(vocab), len(languages), cfg.mel.n_mels)


def durations(cfg: TtsConfig, run_dir: Path, utts: Sequence[Utterance]) -> dict[str, list[int]]:
    """Forced-alignment durations (cached in ``run_dir/alignments.jsonl``) of every row the aligner can align,
    re-aligned when ``data.realign_rounds`` > 0 (cached in ``run_dir/realigned.jsonl`` with the settings that made
    them; rows missing from it are re-aligned together with the others asked for)."""
    ctc = align_utterances(cfg.data.aligner, utts, mel=cfg.mel.fbank(), reduction=cfg.model.reduction,
                           cache=run_dir / ALIGNMENTS_FILE)
    if cfg.data.realign_rounds < 1:
        return ctc
    settings = {"rounds": cfg.data.realign_rounds, "epochs": cfg.data.realign_epochs,
                "context": cfg.data.realign_context, "seed": cfg.train.seed}
    cache = run_dir / REALIGNED_FILE
    done = {}
    if cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line) if line.strip() else {}
            if rec.get("settings") == settings:
                done[rec["id"]] = rec["durations"]
    wanted = [u for u in utts if u.id in ctc]
    if all(u.id in done for u in wanted):
        return {u.id: done[u.id] for u in wanted}
    new = realign(wanted, ctc, mel=cfg.mel.fbank(), reduction=cfg.model.reduction, rounds=cfg.data.realign_rounds,
                  epochs=cfg.data.realign_epochs, context=cfg.data.realign_context, seed=cfg.train.seed, log=lambda m: print(m, flush=True))
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "w", encoding="utf-8") as f:
        for uid, d in new.items():
            f.write(json.dumps({"id": uid, "durations": d, "settings": settings}) + "\n")
    return new


class TtsDataset(Dataset):
    """Rows with durations -> ``{"id", "utt", "wav", "ref_wav", "tokens", "durations"}`` (or None for a bad clip)."""

    def __init__(self, utts: Sequence[Utterance], durs: dict[str, list[int]], vocab: Vocab, *, seed: int = 0,
                 report_path=None, augment: Augmenter | None = None):
        self.utts = [u for u in utts if u.id in durs]
        self.audio = AudioDataset(self.utts, report_path=report_path)
        self.ref_audio = AudioDataset(self.utts, report_path=report_path, augment=augment)
        self.durs, self.vocab, self.seed, self.epoch = durs, vocab, seed, 0
        by_speaker: dict[str, list[int]] = {}
        for i, u in enumerate(self.utts):
            by_speaker.setdefault(u.speaker, []).append(i)
        self.by_speaker = by_speaker

    @property
    def durations(self) -> list[float]:
        return [u.duration for u in self.utts]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.ref_audio.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.utts)

    def reference_index(self, index: int) -> int:
        """Another utterance of the same speaker, drawn from (seed, utterance, epoch); itself if it is alone."""
        u = self.utts[index]
        others = [j for j in self.by_speaker[u.speaker] if j != index] or [index]
        return random.Random(f"ref:{self.seed}:{u.id}:{self.epoch}").choice(others)

    def __getitem__(self, index: int) -> dict | None:
        item, ref = self.audio[index], self.ref_audio[self.reference_index(index)]
        if item is None or ref is None:
            return None
        u = self.utts[index]
        return {"id": u.id, "utt": u, "wav": item["wav"], "ref_wav": ref["wav"],
                "tokens": self.vocab.encode(phonemes_to_tokens(u.phonemes)), "durations": self.durs[u.id]}


def collate(items, *, cfg: TtsConfig, languages: Sequence[str]) -> dict:
    """See the module docstring. Durations are corrected so each row sums to exactly its decoder frames (the
    aligner counted from the manifest duration; the decoded clip can differ by a frame)."""
    items = [it for it in items if it is not None]
    if not items:
        return {"ids": [], "tokens": torch.zeros(0, 0, dtype=torch.long)}
    opts, r = cfg.mel.fbank(), cfg.model.reduction
    wavs, wav_lens = pad_waveforms([it["wav"] for it in items])
    mels, mel_lens = compute_fbank(wavs, wav_lens, opts)
    refs, ref_wav_lens = pad_waveforms([it["ref_wav"] for it in items])
    ref_mels, ref_lens = compute_fbank(refs, ref_wav_lens, opts)
    fixed = []
    for it, n_mel in zip(items, mel_lens.tolist()):
        d = list(it["durations"])
        d[-1] = max(0, d[-1] + (-(-n_mel // r) - sum(d)))  # ceil(n_mel / r) decoder frames in all
        fixed.append(d)
    tokens, token_lens = pad_targets([it["tokens"] for it in items])
    durs, _ = pad_targets(fixed)
    # pad the mel target to whole decoder frames
    total = int(durs.sum(1).max()) * r
    if mels.shape[1] < total:
        mels = torch.nn.functional.pad(mels, (0, 0, 0, total - mels.shape[1]))
    lang_index = {l: i for i, l in enumerate(languages)}
    return {"ids": [it["id"] for it in items], "utts": [it["utt"] for it in items], "tokens": tokens,
            "token_lens": token_lens, "durations": durs, "mels": mels[:, :total], "mel_lens": mel_lens,
            "languages": torch.tensor([lang_index[it["utt"].language] for it in items]),
            "ref_mels": ref_mels, "ref_lens": ref_lens}


def train_loader(cfg: TtsConfig, utts, durs, vocab: Vocab, languages, report=None):
    augment = Augmenter(cfg.data.augment, seed=cfg.train.seed) if cfg.data.augment.enabled else None
    ds = TtsDataset(utts, durs, vocab, seed=cfg.train.seed, report_path=report, augment=augment)
    if not len(ds):
        raise ValueError(f"no training row could be aligned by {cfg.data.aligner} (see alignments.jsonl)")
    sampler = DurationBucketSampler(ds.durations, cfg.data.max_batch_seconds, seed=cfg.train.seed)
    return torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=cfg.data.num_workers,
                                       collate_fn=partial(collate, cfg=cfg, languages=languages))


def losses(model: FastSpeech, batch: dict) -> dict[str, torch.Tensor]:
    """L1 on the log-mel over valid frames (with a postnet: the mean of the L1 before and after it) and MSE on
    log(1 + frames) over tokens: {"mel", "duration"}."""
    mel, log_dur, _, coarse = model(batch["tokens"], batch["token_lens"], batch["languages"], batch["durations"],
                                    batch["ref_mels"], batch["ref_lens"], with_coarse=True)
    n = min(mel.shape[1], batch["mels"].shape[1])
    frame_mask = length_mask(batch["mel_lens"], n).unsqueeze(-1).float()

    def l1(pred):
        return ((pred[:, :n] - batch["mels"][:, :n]).abs() * frame_mask).sum() / (frame_mask.sum() * pred.shape[2])

    mel_loss = l1(mel) if coarse is mel else (l1(mel) + l1(coarse)) / 2  # the same tensor without a postnet
    tok_mask = length_mask(batch["token_lens"], batch["tokens"].shape[1]).float()
    target = torch.log1p(batch["durations"].float())
    dur_loss = (((log_dur - target) ** 2) * tok_mask).sum() / tok_mask.sum()
    return {"mel": mel_loss, "duration": dur_loss}


@torch.no_grad()
def evaluate(model: FastSpeech, loader) -> dict[str, float]:
    """Teacher-forced dev losses (mel L1, duration MSE), averaged over batches."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    sums, n = {"mel": 0.0, "duration": 0.0}, 0
    for batch in loader:
        if not batch["ids"]:
            continue
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        for k, v in losses(model, batch).items():
            sums[k] += float(v)
        n += 1
    model.train(was)
    return {f"dev/{k}_loss": v / max(n, 1) for k, v in sums.items()}


def eval_loader(cfg: TtsConfig, utts, durs, vocab: Vocab, languages):
    """Dev batches in a fixed order (no shuffle; references chosen for epoch 0)."""
    ds = TtsDataset(utts, durs, vocab, seed=cfg.train.seed)
    sampler = DurationBucketSampler(ds.durations, cfg.data.max_batch_seconds, shuffle=False, rank=0, world_size=1)
    return torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=partial(collate, cfg=cfg,
                                                                                     languages=languages))


def evaluation_pairs(test: Sequence[Utterance], n_per_lang: int, min_reference_seconds: float = 1.0
                     ) -> list[tuple[Utterance, Utterance, Utterance]]:
    """(target row, same-language reference, cross-lingual reference) triples, ``n_per_lang`` per language: the
    reference is another test utterance of the target's speaker (a voice never trained on); the cross-lingual one a
    test speaker of the next language (sorted), so the prompt's language differs from the text's. References are at
    least ``min_reference_seconds`` long (what :func:`polyvox.speech.tts.run.reference_mel` accepts)."""
    by_lang: dict[str, list[Utterance]] = {}
    for u in sorted(test, key=lambda u: u.id):
        by_lang.setdefault(u.language, []).append(u)
    langs = sorted(by_lang)
    out = []
    long_enough = lambda r: r.duration >= min_reference_seconds  # noqa: E731
    for i, lang in enumerate(langs):
        rows = by_lang[lang]
        other = [r for r in by_lang[langs[(i + 1) % len(langs)]] if long_enough(r)]
        for k, u in enumerate(rows[:n_per_lang]):
            same = [r for r in rows if r.speaker == u.speaker and r.id != u.id and long_enough(r)]
            if same and other:
                out.append((u, same[k % len(same)], other[k % len(other)]))
    return out


def same_voice_truth(target: Utterance, voice_of: Utterance, out_wav: Path):
    """What real corpora lack and the built-in one gives: ``target``'s sentence spoken in ``target``'s language by
    ``voice_of``'s voice (the same espeak-ng variant, pitch and rate, the other language's pronunciation): the ground
    truth of cloning ``voice_of`` into that language. (samples,) float32 at 16 kHz, or None when either row is not an
    espeak-ng row of the built-in corpus (``custom`` voice / pitch / rate)."""
    from polyvox.data.audio import load_audio
    from polyvox.data.espeak import run_espeak
    from polyvox.data.synth.corpus import Speaker, espeak_command

    src, tgt = voice_of.custom, target.custom
    if any(c.get("engine", "espeak") != "espeak" or "+" not in str(c.get("voice", "")) for c in (src, tgt)):
        return None
    voice = str(tgt["voice"]).split("+")[0] + "+" + str(src["voice"]).split("+", 1)[1]
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    run_espeak(espeak_command(Speaker("truth", voice, int(src["pitch"]), int(src["rate"])), out_wav, target.text))
    return load_audio(out_wav, 16000)[0]


def other_engine_references(langs: Sequence[str], engines: Sequence[str], text_of: dict[str, str],
                            out_dir: Path) -> list[Utterance]:
    """One reference clip per installed voice of ``engines`` (flite, festival: voices espeak-ng never made) that
    speaks one of ``langs``, saying ``text_of[lang]``; an engine that is not installed is reported and left out."""
    import sys

    from polyvox.data.audio import audio_info
    from polyvox.data.synth import engines as synth_engines

    synth_engines.check_engines(engines)
    refs = []
    for engine in engines:
        if why := synth_engines.missing(engine):
            print(f"eval-tts: {why}; no {engine} references", file=sys.stderr)
            continue
        for lang in sorted(set(langs)):
            for voice in synth_engines.voices(engine, lang):
                wav = out_dir / f"{lang}-{engine}-{voice}.wav"
                wav.parent.mkdir(parents=True, exist_ok=True)
                synth_engines.speak(engine, voice, text_of[lang], wav)
                info = audio_info(wav)
                refs.append(Utterance(id=wav.stem, audio=str(wav), duration=info.duration, sample_rate=info.sample_rate,
                                      language=lang, speaker=wav.stem, text=text_of[lang],
                                      custom={"engine": engine, "voice": voice}))
    return refs


def judge_other_voices(speak, test: Sequence[Utterance], judge_dir: str, refs: Sequence[Utterance],
                       n_per_lang: int) -> dict[str, dict]:
    """Cloning voices of other synthesizers: every reference in ``refs`` clones ``n_per_lang`` test sentences of every
    test language. {reference id: {"engine", "voice", "language", "utterances", "secs", "per"}}: SECS of the clones
    to the reference clip and the judge's PER of them, reported as they come out (no same-voice ceiling exists)."""
    from polyvox.data.audio import load_audio
    from polyvox.eval.error_rates import error_counts, summarize
    from polyvox.eval.speaker import secs
    from polyvox.speech.asr.run import load_run as load_asr, transcribe

    judge = load_asr(judge_dir)
    targets = [u for lang in sorted({u.language for u in test})
               for u in sorted((x for x in test if x.language == lang), key=lambda x: x.id)[:n_per_lang]]
    out = {}
    for ref in refs:
        ref_wav = load_audio(ref.audio, 16000)[0]
        rows = []
        for u in targets:
            wav = speak(u, ref)
            if wav is None:
                continue
            hyp = transcribe(judge, [wav])[0]
            rows.append({"language": u.language, "secs": secs(wav, ref_wav),
                         "counts": error_counts(phonemes_to_tokens(u.phonemes), hyp.split(), "phoneme")})
        if rows:
            out[ref.id] = {"engine": ref.custom["engine"], "voice": ref.custom["voice"], "language": ref.language,
                           "utterances": len(rows), "secs": sum(r["secs"] for r in rows) / len(rows),
                           "per": summarize(rows)["all"]["per"]}
    return out


def other_voices_table(other: dict[str, dict]) -> str:
    lines = ["| reference voice | engine | its language | cloned sentences (every test language) | SECS to reference "
             "| judge PER % |", "|---|---|---|---:|---:|---:|"]
    for name, o in other.items():
        lines.append(f"| {o['voice']} | {o['engine']} | {o['language']} | {o['utterances']} | {o['secs']:.3f} | "
                     f"{100 * o['per']:.1f} |")
    return "\n".join(lines)


def speak_with(run, rate: str = "predictor"):
    """``speak(target row, reference row) -> wav | None``: a FastSpeech run cloning the reference's voice; a sentence
    with a phoneme training never had is reported and skipped (None)."""
    from polyvox.speech.tts.run import TtsInputError, synthesize

    def speak(u: Utterance, ref: Utterance):
        try:
            return synthesize(run, u.text, u.language, ref.audio, rate=rate)
        except TtsInputError as e:  # a test sentence with a phoneme training never had: reported, not scored
            print(f"tts test: skipping {u.id}: {e}", flush=True)
            return None

    return speak


def evaluate_synthesis(run, test: Sequence[Utterance], judge_dir: str, n_per_lang: int, rate: str = "predictor",
                       ) -> tuple[dict, list[dict]]:
    """Synthesize test sentences in voices never trained on and score them with judges independent of the model:
    intelligibility as the judge ASR run's PER (and its PER on the real test audio, the bar), speaker similarity
    (SECS, resemblyzer) to the reference clip, same-language and cross-lingual, and the real-time factor
    (synthesis + Griffin-Lim seconds per second of audio, this process's threads). Returns (summary per language
    and "all", rows)."""
    from polyvox.speech.tts.run import MIN_REFERENCE_SECONDS

    return judge_synthesis(speak_with(run, rate), test, judge_dir, n_per_lang, MIN_REFERENCE_SECONDS)


def clone_other_voices(run, test: Sequence[Utterance], judge_dir: str, refs: Sequence[Utterance], n_per_lang: int,
                       rate: str = "predictor") -> dict[str, dict]:
    """:func:`judge_other_voices` for a FastSpeech run (references from :func:`other_engine_references`)."""
    return judge_other_voices(speak_with(run, rate), test, judge_dir, refs, n_per_lang)


def judge_synthesis(speak, test: Sequence[Utterance], judge_dir: str, n_per_lang: int,
                    min_reference_seconds: float = 1.0) -> tuple[dict, list[dict]]:
    """The judged test of any TTS model: ``speak(target row, reference row) -> wav (samples,) float32 at 16 kHz``
    (or None to skip the row) is called with a same-language and a cross-lingual reference per target (see
    :func:`evaluation_pairs`). Returns (summary per language and "all", rows); see :func:`evaluate_synthesis`."""
    import time

    from polyvox.data.audio import load_audio
    from polyvox.eval.error_rates import error_counts, summarize
    from polyvox.eval.quality import dnsmos
    from polyvox.eval.speaker import secs
    from polyvox.speech.asr.run import load_run as load_asr, transcribe

    import tempfile

    judge = load_asr(judge_dir)
    rows = []
    truth_wav = Path(tempfile.mkdtemp(prefix="polyvox-truth-")) / "truth.wav"
    for u, ref, cross in evaluation_pairs(test, n_per_lang, min_reference_seconds):
        ref_wav = load_audio(ref.audio, 16000)[0]
        cross_wav = load_audio(cross.audio, 16000)[0]
        t0 = time.perf_counter()
        wav = speak(u, ref)
        wav_x = speak(u, cross) if wav is not None else None
        if wav is None or wav_x is None:
            continue
        rtf = (time.perf_counter() - t0) / 2 / (len(wav) / 16000)  # two syntheses
        real = load_audio(u.audio, 16000)[0]
        hyp, hyp_real, hyp_cross = transcribe(judge, [wav, real, wav_x])
        target = phonemes_to_tokens(u.phonemes)
        rows.append({"id": u.id, "language": u.language, "reference": ref.id, "cross_reference": cross.id,
                     "hyp": hyp, "counts": error_counts(target, hyp.split(), "phoneme"),
                     "real_counts": error_counts(target, hyp_real.split(), "phoneme"),
                     # accent leakage: the same text from a prompt in another language
                     "cross_counts": error_counts(target, hyp_cross.split(), "phoneme"),
                     "secs": secs(wav, ref_wav), "secs_real": secs(real, ref_wav),
                     "secs_cross": secs(wav_x, cross_wav), "rtf": rtf,
                     # DNSMOS overall quality, of the synthesis and of the real recording of the same sentence
                     "dnsmos": dnsmos(wav)["ovrl"], "dnsmos_real": dnsmos(real)["ovrl"]})
        truth = same_voice_truth(u, cross, truth_wav)
        if truth is not None:  # the cross-lingual clone against the prompt's voice really speaking this language
            rows[-1]["secs_cross_truth"] = secs(wav_x, truth)
            rows[-1]["secs_truth_vs_prompt"] = secs(truth, cross_wav)  # its ceiling: one voice, two languages
    summary = summarize(rows)
    real = summarize([{"language": r["language"], "counts": r["real_counts"]} for r in rows])
    cross = summarize([{"language": r["language"], "counts": r["cross_counts"]} for r in rows])
    for key, s in summary.items():
        sel = [r for r in rows if key == "all" or r["language"] == key]
        s["judge_per_real"] = real[key]["per"]
        s["per_cross"] = cross[key]["per"]
        for m in ("secs", "secs_real", "secs_cross", "rtf", "dnsmos", "dnsmos_real"):
            s[m] = sum(r[m] for r in sel) / len(sel)
        for m in ("secs_cross_truth", "secs_truth_vs_prompt"):  # None: no row of the built-in corpus to compare
            vals = [r[m] for r in sel if m in r]
            s[m] = sum(vals) / len(vals) if vals else None
    truth_wav.unlink(missing_ok=True)
    truth_wav.parent.rmdir()
    return summary, rows


def synthesis_table(summary: dict) -> str:
    lines = ["| language | sentences | judge PER % (synthesized) | judge PER % (real audio) | judge PER % "
             "(cross-lingual prompt) | SECS to reference | SECS real vs reference | SECS cross-lingual | SECS "
             "cross-lingual vs same voice | same voice vs prompt | DNSMOS (synthesized) | DNSMOS (real audio) | RTF |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def opt(v):
        return "n/a" if v is None else f"{v:.3f}"

    for lang, s in summary.items():
        lines.append(f"| {lang} | {s['utterances']} | {100 * s['per']:.1f} | {100 * s['judge_per_real']:.1f} | "
                     f"{100 * s['per_cross']:.1f} | {s['secs']:.3f} | {s['secs_real']:.3f} | {s['secs_cross']:.3f} | "
                     f"{opt(s.get('secs_cross_truth'))} | {opt(s.get('secs_truth_vs_prompt'))} | "
                     f"{s['dnsmos']:.2f} | {s['dnsmos_real']:.2f} | {s['rtf']:.3f} |")
    return "\n".join(lines)
