"""Batched ``polyvox transcribe`` vs ``transformers.pipeline`` on the same exported model.

    python benchmarks/bench_transcribe.py [--run RUN] [--n 64] [--threads 1]

Without ``--run`` a wav2vec2 model with the architecture of configs/w2v2_scratch.yaml and random
weights is built (speed does not depend on the weights) and saved as a run under work/bench/.
Audio: the first ``--n`` test utterances of a small built-in corpus (synthesized on first use).
Both sides decode greedily on the CPU, get the same 16 kHz arrays, and must print the same
text. Prints seconds per side and the speed ratio (target: polyvox >= 3x the default pipeline).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def build_random_run(run_dir: Path) -> Path:
    import torch
    from safetensors.torch import save_model

    from polyvox.speech import asr
    from polyvox.speech.asr.model import build_model
    from polyvox.speech.asr.vocab import build_vocab, text_to_tokens
    from polyvox.train.config import load_config

    cfg = load_config(asr.AsrConfig, ROOT / "recipes/asr_ctc/configs/w2v2_scratch.yaml", [f"run_dir={run_dir}"])
    cfg.data.unit = "char"
    vocab = build_vocab([text_to_tokens("abcdefghijklmnopqrstuvwxyzäöüéèàçñ")])
    torch.manual_seed(0)
    model = build_model(cfg.model, len(vocab))
    asr.save_run_files(run_dir, cfg, vocab, model)
    save_model(model, str(run_dir / asr.MODEL_FILE))
    return run_dir


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default="", help="a trained run with an hf / hf_scratch backbone")
    ap.add_argument("--n", type=int, default=64, help="utterances to transcribe")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--work", default=str(ROOT / "work/bench/transcribe"))
    args = ap.parse_args()

    import torch
    from transformers import pipeline

    from polyvox.data.audio import load_audio
    from polyvox.data.manifest import read_manifest
    from polyvox.data.synth.corpus import synthesize_corpus
    from polyvox.speech.asr import load_run, transcribe
    from polyvox.speech.asr.decoding import DecodeConfig
    from polyvox.speech.asr.export import export_run

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.work)
    run_dir = Path(args.run) if args.run else build_random_run(work / "run")
    export_dir = export_run(run_dir, work / "export")
    corpus = synthesize_corpus(work / "corpus", ["en", "es", "de", "fr"], max(8, args.n // 2), seed=0, speakers=3)
    utts = (read_manifest(corpus["test"]) + read_manifest(corpus["dev"]) + read_manifest(corpus["train"]))[: args.n]
    wavs = [load_audio(u.audio)[0] for u in utts]
    seconds = sum(len(w) for w in wavs) / 16000

    # greedy like the pipeline, whatever the run's config says (the recipe default is beam + LM)
    run = load_run(run_dir, device="cpu", decode=DecodeConfig(method="greedy"))
    pipe = pipeline("automatic-speech-recognition", model=str(export_dir), device="cpu")
    transcribe(run, wavs[:2]), pipe(wavs[0])  # warm-up

    t = time.perf_counter()
    ours = transcribe(run, wavs)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    theirs = [pipe(w)["text"] for w in wavs]
    t_pipe = time.perf_counter() - t
    t = time.perf_counter()
    theirs_b = [o["text"] for o in pipe(list(wavs), batch_size=16)]
    t_pipe_b = time.perf_counter() - t

    same = sum(a == b for a, b in zip(ours, theirs))
    print(f"{len(wavs)} utterances, {seconds:.0f} s of audio, torch threads {torch.get_num_threads()}")
    print(f"polyvox transcribe (length-sorted batches): {t_ours:.2f} s  ({seconds / t_ours:.0f}x real time)")
    print(f"transformers.pipeline, one call per file:   {t_pipe:.2f} s  ({seconds / t_pipe:.0f}x real time)")
    print(f"transformers.pipeline(batch_size=16):        {t_pipe_b:.2f} s  ({seconds / t_pipe_b:.0f}x real time)")
    print(f"identical transcripts: {same}/{len(wavs)} (per file), "
          f"{sum(a == b for a, b in zip(ours, theirs_b))}/{len(wavs)} (pipeline batched)")
    print(f"speed-up vs pipeline per file: {t_pipe / t_ours:.1f}x (target >= 3x); vs batched pipeline: {t_pipe_b / t_ours:.1f}x")
    return 0 if same == len(wavs) else 1


if __name__ == "__main__":
    sys.exit(main())
