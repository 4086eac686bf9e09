"""CTC ASR / phone recognition, the inference side: a trained run's files, ``load_run`` (never downloads),
``transcribe`` and per-language scoring, used by ``polyvox eval / transcribe / export``, the phone recipe and
the demo.

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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from polyvox.data.collate import pad_waveforms
from polyvox.data.manifest import Utterance
from polyvox.eval.error_rates import error_counts, summarize
from polyvox.speech.asr.config import AsrConfig
from polyvox.speech.asr.decoding import DecodeConfig, beam_decode, build_beam_decoder, greedy_decode
from polyvox.speech.asr.model import HFCTC, build_model, hf_model_from_config
from polyvox.speech.asr.vocab import Vocab, tokens_to_text, utterance_tokens
from polyvox.train.config import load_config, save_config
from polyvox.train.runs import CONFIG_FILE, MODEL_FILE, load_weights, read_hf_config, write_hf_config

VOCAB_FILE = "vocab.json"
LM_FILE = "lm.arpa"


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
        write_hf_config(run_dir, model.hf.config)


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
        return hf_model_from_config(read_hf_config(run_dir, f"{cfg.model.backbone} model"), cfg.model)
    return build_model(cfg.model, len(vocab))


def load_run(run_dir: str | os.PathLike, *, decode: DecodeConfig | None = None, device: str | None = None,
             weights: str | os.PathLike | None = None) -> AsrRun:
    """Load a trained run for inference (eval mode). ``decode`` overrides the run's decode section."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{run_dir}: not a run directory ({CONFIG_FILE} missing)")
    cfg = load_config(AsrConfig, run_dir / CONFIG_FILE)
    if decode is not None:
        cfg.decode = decode
    vocab = Vocab.load(run_dir / VOCAB_FILE)
    model = model_for_run(run_dir, cfg, vocab)
    model, dev = load_weights(model, weights or weights_path(run_dir), device)
    return AsrRun(cfg, vocab, model, run_dir, make_decoder(run_dir, vocab, cfg.decode), dev)


@torch.no_grad()
def decode_batch(run: AsrRun, wavs: torch.Tensor, wav_lens: torch.Tensor, mapping: torch.Tensor | None = None) -> list[list[str]]:
    """Padded batch (B, T) + lengths (B,) -> token lists, with the run's decoding method.
    ``mapping`` (V, V') optionally maps posteriors to another inventory first (see
    :func:`polyvox.speech.asr.decoding.apply_posterior_mapping`); the decoder must then match V'."""
    from polyvox.speech.asr.decoding import apply_posterior_mapping

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


pad_wavs = pad_waveforms  # (the name the ASR and phoneme code use)


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


def transcribe_long(run: AsrRun, wavs: Sequence, sample_rate: int = 16000, pad_s: float = 0.2) -> list[str]:
    """Long-form decoding: each waveform split at its pauses (:func:`polyvox.data.audio.speech_segments`), the
    pieces decoded as a batch, their texts joined in order (IPA pieces with a word boundary between them). A model
    trained on sentence-length clips decodes a minute of speech badly in one pass; one pause-delimited piece at a
    time it decodes as it was trained."""
    from polyvox.data.audio import speech_segments

    pieces, owner = [], []
    for k, w in enumerate(wavs):
        w = np.asarray(w, dtype=np.float32)
        for a, b in speech_segments(w, sample_rate) or [(0.0, len(w) / sample_rate)]:
            # the pause around a piece stays with it: clips in training began and ended in silence
            pieces.append(w[max(0, int((a - pad_s) * sample_rate)):int((b + pad_s) * sample_rate)])
            owner.append(k)
    texts = transcribe(run, pieces) if pieces else []
    joiner = " | " if run.unit == "phoneme" else " "
    out = [[] for _ in wavs]
    for k, t in zip(owner, texts):
        if t.strip():
            out[k].append(t.strip())
    return [joiner.join(parts) for parts in out]


def evaluate_utterances(run: AsrRun, utts: Sequence[Utterance], max_batch_seconds: float | None = None,
                        num_workers: int = 0, on_error: str = "skip",
                        report_path: str | os.PathLike | None = None) -> tuple[dict, list[dict]]:
    """Decode manifest rows and score them. Returns (per-language summary from
    :func:`polyvox.eval.error_rates.summarize`, rows {id, language, ref, hyp, counts}).

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
    from polyvox.data.dataset import eval_batches

    max_batch_seconds = max_batch_seconds or default_batch_seconds(run.device)
    was_training = run.model.training
    run.model.eval()
    try:
        for batch in eval_batches(utts, max_batch_seconds, on_error=on_error, report_path=report_path,
                                  num_workers=num_workers):
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
