"""The CTC ASR / phoneme-recognition recipe's config, data preparation, and the trained-run API
that ``polyvox eval / transcribe / export`` use.

A run directory holds::

    config.yaml        resolved AsrConfig (train section included)
    vocab.json         {token: id}, blank/pad = 0
    hf_config.json     the Hugging Face model config (hf / hf_scratch backbones only)
    lm.arpa            word n-gram in token code (decode.lm_order > 0 only)
    model.safetensors  final weights (best checkpoint, copied after training)
    checkpoints/       written by polyvox.train.loop.fit
    results.md/.json   per-language WER / CER / PER on the test set, plots

Usage::

    run = load_run("work/runs/asr_ctc/base")
    texts = transcribe(run, [wav1, wav2])              # wav: float32 (time,) at 16 kHz
    summary, rows = evaluate_utterances(run, utts)     # per-language error rates
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

import torch

from polyvox.data.manifest import Utterance, filter_manifest, read_manifest
from polyvox.data.paths import CORPUS_ROOT
from polyvox.speech.ctc import pad_targets
from polyvox.speech.decoding import (
    DecodeConfig,
    beam_decode,
    build_beam_decoder,
    build_ngram_lm,
    greedy_decode,
    lm_sentences,
)
from polyvox.speech.metrics import error_counts, summarize
from polyvox.speech.models import HFCTC, ModelConfig, build_model, hf_model_from_config
from polyvox.speech.vocab import Vocab, tokens_to_text, utterance_tokens
from polyvox.train.config import ConfigError, TrainConfig, load_config, save_config

CONFIG_FILE = "config.yaml"
VOCAB_FILE = "vocab.json"
HF_CONFIG_FILE = "hf_config.json"
MODEL_FILE = "model.safetensors"
LM_FILE = "lm.arpa"


# ----------------------------------------------------------------------------------- config


@dataclass
class CorpusConfig:
    """The built-in espeak-ng corpus (used when data.train_manifests is empty)."""

    langs: list[str] = field(default_factory=lambda: ["en", "es", "de"])
    utts_per_lang: int = 200
    seed: int = 0
    speakers: int = 4
    words: list[int] = field(default_factory=lambda: [2, 6])  # [min, max] words per utterance; [2, 24] ~ read speech
    dir: str = ""  # default: work/corpus/<hash of the spec>

    def __post_init__(self):
        from polyvox.data.texts import check_words

        try:
            self.words = list(check_words(self.words))
        except ValueError:
            raise ConfigError(f"corpus.words: expected [min, max] with 1 <= min <= max (e.g. [2, 24]), "
                              f"got {self.words!r}") from None


@dataclass
class DataConfig:
    unit: Literal["char", "phoneme"] = "phoneme"
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    train_manifests: list[str] = field(default_factory=list)  # JSONL manifests; [] = build the corpus above
    dev_manifests: list[str] = field(default_factory=list)  # (several: e.g. one per Common Voice language)
    test_manifests: list[str] = field(default_factory=list)
    train_langs: list[str] = field(default_factory=list)  # [] = every language in the train manifest
    eval_langs: list[str] = field(default_factory=list)  # [] = every language in the test manifest
    alpha: float = 0.5  # language sampling temperature: 1 natural, 0 uniform over languages
    fewshot_minutes: float = 0.0  # > 0: keep only this many minutes per training language
    max_batch_seconds: float = 60.0  # padded audio per batch
    min_duration: float = 0.2
    max_duration: float = 20.0
    dev_utts_per_lang: int = 0  # cap per language for the periodic dev evaluation (0 = all)
    num_workers: int = 0
    vocab_min_count: int = 1
    on_error: Literal["skip", "raise"] = "skip"  # a bad clip: skip it and list it in RUN/skipped.jsonl, or stop
    speed_perturb: list[float] = field(default_factory=list)  # e.g. [0.9, 1.0, 1.1]: one factor per training batch

    def __post_init__(self):
        from polyvox.data.augment import check_speed_factors

        try:
            check_speed_factors(self.speed_perturb)
        except ValueError as e:
            raise ConfigError(str(e)) from None


@dataclass
class AsrConfig:
    run_dir: str = "work/runs/asr_ctc/base"
    protocol: Literal["standard", "transfer"] = "standard"  # transfer: one run per train language
    init_from: str = ""  # a trained run to start from (few-shot adaptation); vocab extended
    threads: int = 0  # torch CPU threads; 0 = torch's default. 1 avoids oversubscription on shared CPUs
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        if self.model.attribute_heads and self.data.unit != "phoneme":
            raise ConfigError(f"model.attribute_heads needs data.unit: phoneme (articulatory features of "
                              f"phones), got data.unit: {self.data.unit}")
        if self.model.attribute_weight < 0:
            raise ConfigError(f"model.attribute_weight must be >= 0, got {self.model.attribute_weight}")


# ----------------------------------------------------------------------------------- data


def corpus_dir(c: CorpusConfig) -> Path:
    """Where a built-in corpus spec lives: ``c.dir`` or work/corpus/<langs>-<n>-<hash>."""
    if c.dir:
        return Path(c.dir)
    spec = [sorted(c.langs), c.utts_per_lang, c.seed, c.speakers]
    if list(c.words) != [2, 6]:  # only then, so folders of default corpora keep their names
        spec.append(list(c.words))
    key = json.dumps(spec)
    tag = hashlib.sha1(key.encode()).hexdigest()[:8]
    return CORPUS_ROOT / f"{len(c.langs)}langs-{c.utts_per_lang}-{tag}"


def manifest_paths(d: DataConfig) -> dict[str, list[Path]]:
    """The train/dev/test manifests, synthesizing the built-in corpus if no manifests are given."""
    if d.train_manifests:
        missing = [k for k in ("dev_manifests", "test_manifests") if not getattr(d, k)]
        if missing:
            raise ValueError(f"data.train_manifests is set, so data.{missing[0]} is needed too")
        return {s: [Path(p) for p in getattr(d, f"{s}_manifests")] for s in ("train", "dev", "test")}
    paths = synthesize_builtin(d.corpus)
    return {s: [paths[s]] for s in ("train", "dev", "test")}


def synthesize_builtin(c: CorpusConfig) -> dict[str, Path]:
    """Build (or reuse) the built-in corpus ``c`` describes, in :func:`corpus_dir`;
    returns {"train"|"dev"|"test": manifest path}."""
    from polyvox.data.synth import synthesize_corpus

    return synthesize_corpus(corpus_dir(c), c.langs, c.utts_per_lang, seed=c.seed, speakers=c.speakers,
                             words=tuple(c.words))


def read_manifests(paths: Sequence[Path]) -> list[Utterance]:
    """Rows of several manifests, in order. Raises ManifestError naming the file on a bad row or
    an id that occurs in two of them."""
    from polyvox.data.manifest import ManifestError

    out, where = [], {}
    for p in paths:
        for u in read_manifest(p):
            if u.id in where:
                raise ManifestError(f"{p}: id '{u.id}' also occurs in {where[u.id]}")
            where[u.id] = p
            out.append(u)
    return out


def take_minutes(utts: Sequence[Utterance], minutes: float, seed: int = 0) -> list[Utterance]:
    """A seeded random subset with about ``minutes`` of audio per language (at least one utterance)."""
    by_lang: dict[str, list[Utterance]] = {}
    for u in utts:
        by_lang.setdefault(u.language, []).append(u)
    out = []
    for lang in sorted(by_lang):
        pool = list(by_lang[lang])
        random.Random(f"{seed}-{lang}").shuffle(pool)
        total = 0.0
        for u in pool:
            if total >= minutes * 60:
                break
            out.append(u)
            total += u.duration
    return out


def load_splits(d: DataConfig, seed: int = 0) -> dict[str, list[Utterance]]:
    """Read and filter the manifests: train (train_langs, durations, few-shot subset), dev and
    test (eval_langs). Raises ValueError naming the manifest if a split ends up empty."""
    paths = manifest_paths(d)
    train = filter_manifest(read_manifests(paths["train"]), languages=d.train_langs or None,
                            min_duration=d.min_duration, max_duration=d.max_duration)  # fmt: skip
    if d.fewshot_minutes > 0:
        train = take_minutes(train, d.fewshot_minutes, seed)
    dev = filter_manifest(read_manifests(paths["dev"]), languages=d.eval_langs or None)
    test = filter_manifest(read_manifests(paths["test"]), languages=d.eval_langs or None)
    if d.dev_utts_per_lang > 0:
        dev = take_per_language(dev, d.dev_utts_per_lang)
    for name, utts in (("train", train), ("dev", dev), ("test", test)):
        if not utts:
            langs = d.train_langs if name == "train" else d.eval_langs
            files = ", ".join(map(str, paths[name]))
            raise ValueError(f"{files}: no utterances left for split '{name}' (languages {langs or 'all'})")
    return {"train": train, "dev": dev, "test": test}


def take_per_language(utts: Sequence[Utterance], n: int) -> list[Utterance]:
    """The first ``n`` utterances of each language (manifest order)."""
    seen: dict[str, int] = {}
    out = []
    for u in utts:
        if seen.get(u.language, 0) < n:
            out.append(u)
            seen[u.language] = seen.get(u.language, 0) + 1
    return out


def batch_targets(utts: Sequence[Utterance], vocab: Vocab, unit: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded target ids (B, L) and lengths (B,) for a batch of utterances."""
    return pad_targets([vocab.encode(utterance_tokens(u, unit)) for u in utts], pad=vocab.blank_id)


# ----------------------------------------------------------------------------------- trained runs


@dataclass
class AsrRun:
    """A trained model ready to decode. ``decoder`` is a pyctcdecode decoder for beam search."""

    config: AsrConfig
    vocab: Vocab
    model: torch.nn.Module
    run_dir: Path
    decoder: Any = None
    device: torch.device = torch.device("cpu")

    @property
    def unit(self) -> str:
        return self.config.data.unit


def save_run_files(run_dir: str | os.PathLike, cfg: AsrConfig, vocab: Vocab, model: torch.nn.Module) -> None:
    """Write what inference needs besides the weights: config, vocab, HF model config."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / CONFIG_FILE)
    vocab.save(run_dir / VOCAB_FILE)
    if isinstance(model, HFCTC):
        (run_dir / HF_CONFIG_FILE).write_text(model.hf.config.to_json_string(), encoding="utf-8")


def build_lm(run_dir: str | os.PathLike, train_utts: Sequence[Utterance], vocab: Vocab, cfg: AsrConfig) -> Path | None:
    """Build the run's n-gram LM from the training transcripts if ``decode.lm_order > 0``."""
    if cfg.decode.lm_order <= 0:
        return None
    sents = lm_sentences((utterance_tokens(u, cfg.data.unit) for u in train_utts), vocab)
    return build_ngram_lm(sents, cfg.decode.lm_order, Path(run_dir) / LM_FILE)


def make_decoder(run_dir: Path, vocab: Vocab, d: DecodeConfig):
    """pyctcdecode decoder for ``d`` (None for greedy)."""
    if d.method == "greedy":
        return None
    if d.method != "beam":
        raise ValueError(f"decode.method must be 'greedy' or 'beam', got {d.method!r}")
    lm = d.lm_path or (run_dir / LM_FILE if d.lm_order > 0 and (run_dir / LM_FILE).exists() else None)
    return build_beam_decoder(vocab, lm, alpha=d.lm_alpha, beta=d.lm_beta)


def weights_path(run_dir: Path) -> Path:
    """The run's final weights, else the newest checkpoint's."""
    from polyvox.train.checkpoint import latest_checkpoint

    if (run_dir / MODEL_FILE).exists():
        return run_dir / MODEL_FILE
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"{run_dir}: no {MODEL_FILE} and no checkpoints; is this a trained run directory?")
    return ckpt / MODEL_FILE


def model_for_run(run_dir: Path, cfg: AsrConfig, vocab: Vocab) -> torch.nn.Module:
    """Rebuild a run's model from its files (never downloads) with random weights."""
    if cfg.model.backbone in ("hf", "hf_scratch"):
        path = run_dir / HF_CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; needed to rebuild the {cfg.model.backbone} model")
        return hf_model_from_config(json.loads(path.read_text(encoding="utf-8")), cfg.model)
    return build_model(cfg.model, len(vocab))


def load_run(run_dir: str | os.PathLike, *, decode: DecodeConfig | None = None, device: str | None = None,
             weights: str | os.PathLike | None = None) -> AsrRun:
    """Load a trained run for inference (eval mode). ``decode`` overrides the run's decode section."""
    from safetensors.torch import load_model

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{run_dir}: not a run directory ({CONFIG_FILE} missing)")
    cfg = load_config(AsrConfig, run_dir / CONFIG_FILE)
    if decode is not None:
        cfg.decode = decode
    vocab = Vocab.load(run_dir / VOCAB_FILE)
    model = model_for_run(run_dir, cfg, vocab)
    load_model(model, str(weights or weights_path(run_dir)))
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(dev).eval()
    return AsrRun(cfg, vocab, model, run_dir, make_decoder(run_dir, vocab, cfg.decode), dev)


@torch.no_grad()
def decode_batch(run: AsrRun, wavs: torch.Tensor, wav_lens: torch.Tensor, mapping: torch.Tensor | None = None) -> list[list[str]]:
    """Padded batch (B, T) + lengths (B,) -> token lists, with the run's decoding method.
    ``mapping`` (V, V') optionally maps posteriors to another inventory first (see
    :func:`polyvox.speech.decoding.apply_posterior_mapping`); the decoder must then match V'."""
    from polyvox.speech.decoding import apply_posterior_mapping

    log_probs, lens = run.model(wavs.to(run.device), wav_lens.to(run.device))
    if mapping is not None:
        log_probs = apply_posterior_mapping(log_probs, mapping)
    return decode_log_probs(run, log_probs, lens)


def decode_log_probs(run: AsrRun, log_probs: torch.Tensor, lens: torch.Tensor) -> list[list[str]]:
    """Posteriors (B, F, V) + lengths (B,) -> token lists with the run's decoder (greedy when it
    has none)."""
    if run.decoder is None:
        return greedy_decode(log_probs, lens, run.vocab)
    return beam_decode(run.decoder, log_probs, lens, run.vocab, run.config.decode.beam_width)


def batches_by_length(lengths: Sequence[float], max_seconds: float, sample_rate: int = 16000) -> list[list[int]]:
    """Indices grouped into batches of similar length (sorted, longest first), each with at most
    ``max_seconds`` of padded audio. ``lengths`` are in samples."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, cur = [], []
    for i in order:
        longest = lengths[cur[0]] if cur else lengths[i]
        if cur and (len(cur) + 1) * longest / sample_rate > max_seconds:
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def pad_wavs(wavs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """List of (time,) tensors -> (B, T) zero-padded, lengths (B,)."""
    lens = torch.tensor([len(w) for w in wavs], dtype=torch.long)
    out = torch.zeros(len(wavs), int(lens.max()))
    for i, w in enumerate(wavs):
        out[i, : len(w)] = torch.as_tensor(w, dtype=torch.float32)
    return out, lens


def default_batch_seconds(device: torch.device) -> float:
    """Padded audio per inference batch: large on a GPU; ~10 s on a CPU, where activations of
    bigger batches fall out of the cache and make every utterance slower."""
    return 240.0 if device.type == "cuda" else 10.0


@torch.inference_mode()
def transcribe(run: AsrRun, wavs: Sequence, max_batch_seconds: float | None = None) -> list[str]:
    """Decode 16 kHz waveforms (each (time,), numpy or torch) in length-sorted batches;
    returns text in input order (characters with spaces, or IPA segments separated by spaces)."""
    max_batch_seconds = max_batch_seconds or default_batch_seconds(run.device)
    wavs = [torch.as_tensor(w, dtype=torch.float32) for w in wavs]
    out: list[str] = [""] * len(wavs)
    for idx in batches_by_length([len(w) for w in wavs], max_batch_seconds):
        batch, lens = pad_wavs([wavs[i] for i in idx])
        for i, toks in zip(idx, decode_batch(run, batch, lens)):
            out[i] = tokens_to_text(toks, run.unit)
    return out


def evaluate_utterances(run: AsrRun, utts: Sequence[Utterance], max_batch_seconds: float | None = None,
                        num_workers: int = 0, on_error: str = "skip",
                        report_path: str | os.PathLike | None = None) -> tuple[dict, list[dict]]:
    """Decode manifest rows and score them. Returns (per-language summary from
    :func:`polyvox.speech.metrics.summarize`, rows {id, language, ref, hyp, counts}).

    A clip that cannot be used is skipped and listed in ``report_path`` (``on_error="skip"``) or
    stops the evaluation with an error naming it (``"raise"``); skipped rows are not scored."""
    batches = posteriors(run, utts, max_batch_seconds, num_workers, on_error, report_path)
    rows = score_rows(run, [(b_utts, decode_log_probs(run, lp, lens)) for b_utts, lp, lens in batches])
    return summarize(rows), rows


@torch.no_grad()
def posteriors(run: AsrRun, utts: Sequence[Utterance], max_batch_seconds: float | None = None,
               num_workers: int = 0, on_error: str = "skip", report_path: str | os.PathLike | None = None):
    """Yield (utterances, log_probs (B, F, V), lens (B,)) per length-sorted batch of manifest rows;
    unusable clips are skipped and reported (or raise) as in :func:`evaluate_utterances`."""
    max_batch_seconds = max_batch_seconds or default_batch_seconds(run.device)
    from polyvox.data.collate import collate_audio, is_empty_batch
    from polyvox.data.dataset import AudioDataset
    from polyvox.data.sampler import DurationBucketSampler

    ds = AudioDataset(utts, on_error=on_error, report_path=report_path)
    sampler = DurationBucketSampler(ds.durations, max_batch_seconds, shuffle=False, rank=0, world_size=1)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_audio, num_workers=num_workers)
    was_training = run.model.training
    run.model.eval()
    try:
        for batch in loader:
            if is_empty_batch(batch):  # every clip of it skipped and reported
                continue
            log_probs, lens = run.model(batch["wavs"].to(run.device), batch["wav_lens"].to(run.device))
            yield batch["utts"], log_probs, lens
    finally:
        run.model.train(was_training)


def score_rows(run: AsrRun, decoded: Iterable[tuple[Sequence[Utterance], list[list[str]]]]) -> list[dict]:
    """(utterances, hypotheses) pairs -> rows {id, language, ref, hyp, counts} for ``summarize``."""
    rows = []
    for utts, hyps in decoded:
        for utt, hyp in zip(utts, hyps):
            ref = utterance_tokens(utt, run.unit)
            rows.append({"id": utt.id, "language": utt.language, "ref": tokens_to_text(ref, run.unit),
                         "hyp": tokens_to_text(hyp, run.unit), "counts": error_counts(ref, hyp, run.unit)})  # fmt: skip
    return rows


def tune_lm_weights(run: AsrRun, utts: Sequence[Utterance], alphas: Sequence[float], betas: Sequence[float],
                    max_batch_seconds: float | None = None, on_error: str = "skip",
                    report_path: str | os.PathLike | None = None) -> list[dict]:
    """Grid search of the beam decoder's LM weight ``alpha`` and word bonus ``beta`` on ``utts``
    (a dev set, never the test set). The acoustic model runs once; every grid point re-decodes
    its posteriors. Returns [{"alpha", "beta", "summary"}] in grid order (alpha-major)."""
    if run.decoder is None or run.decoder._language_model is None:
        raise ValueError(f"{run.run_dir}: tuning LM weights needs beam search with an LM "
                         "(decode.method: beam and decode.lm_order > 0 or decode.lm_path)")
    batches = [(b_utts, lp.float().cpu(), lens.cpu())
               for b_utts, lp, lens in posteriors(run, utts, max_batch_seconds, 0, on_error, report_path)]
    out = []
    for alpha in alphas:
        for beta in betas:
            run.decoder.reset_params(alpha=alpha, beta=beta)
            rows = score_rows(run, [(u, decode_log_probs(run, lp, lens)) for u, lp, lens in batches])
            out.append({"alpha": alpha, "beta": beta, "summary": summarize(rows)})
    d = run.config.decode
    run.decoder.reset_params(alpha=d.lm_alpha, beta=d.lm_beta)  # leave the run's decoder as it was
    return out


def primary_metric(unit: str) -> str:
    """The headline error rate for a target unit: "per" for phonemes, "cer" for characters."""
    return "per" if unit == "phoneme" else "cer"


def nan_to_none(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


def collate_with_targets(items: Sequence[dict | None], *, vocab: Vocab, unit: str) -> dict:
    """:func:`polyvox.data.collate.collate_audio` plus CTC targets: ``targets`` (B, L) long
    padded with the blank and ``target_lens`` (B,). Use with ``functools.partial``."""
    from polyvox.data.collate import collate_audio

    batch = collate_audio(items)
    if batch["ids"]:
        batch["targets"], batch["target_lens"] = batch_targets(batch["utts"], vocab, unit)
    return batch
