"""Zero-shot phone recognition speed: one 10 s clip through a phoneme run on the CPU.

    python benchmarks/bench_phonemes.py [--run work/runs/phoneme_recognition/base] [--lang nl]
                                        [--seconds 10] [--repeats 20] [--threads 1]

The clip is a concatenation of utterances of ``--lang`` from the zero-shot corpus of
recipes/phoneme_recognition/configs/base.yaml (synthesized on first use), cut to ``--seconds``.
Without a trained run (``--run`` missing) a run with the recipe's model and random weights is built
under work/bench/phonemes (speed does not depend on the weights). Timed, medians over
``--repeats`` after a warm-up: the model forward pass (fbank included), decoding of its
posteriors in each mode, and ``transcribe_phones`` end to end; the one-time cost of building the
modes (espeak-ng inventory from the cache, feature mapping) is listed apart, and so is one run of
the ``polyvox phonemes`` CLI in a fresh process (imports and loading included).
Target: a 10 s clip in < 1 s on the CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "recipes/phoneme_recognition/configs/base.yaml"


def random_run(run_dir: Path, langs: list[str]) -> Path:
    import torch
    from safetensors.torch import save_model

    from polyvox.speech import asr
    from polyvox.speech.phones.inventory import espeak_inventory
    from polyvox.speech.asr.model import build_model
    from polyvox.speech.asr.vocab import build_vocab
    from polyvox.train.config import load_config

    cfg = load_config(asr.AsrConfig, ROOT / "recipes/asr_ctc/configs/base.yaml", [f"run_dir={run_dir}"])
    vocab = build_vocab([espeak_inventory(l) for l in langs])
    torch.manual_seed(0)
    model = build_model(cfg.model, len(vocab))
    asr.save_run_files(run_dir, cfg, vocab, model)
    save_model(model, str(run_dir / asr.MODEL_FILE))
    return run_dir


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "work/runs/phoneme_recognition/base"))
    ap.add_argument("--lang", default="nl", help="target language (espeak-ng code)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import numpy as np
    import torch

    from polyvox.data.audio import load_audio
    from polyvox.data.synth.corpus import synthesize_corpus
    from polyvox.data.manifest import read_manifests
    from polyvox.speech import asr
    from polyvox.speech.phones import zeroshot
    from polyvox.speech.phones.task import PhonemeConfig
    from polyvox.train.config import load_config

    torch.set_num_threads(args.threads)
    cfg = load_config(PhonemeConfig, CONFIG)
    z = cfg.zeroshot.corpus
    langs = sorted(set(z.langs) | {args.lang})
    paths = synthesize_corpus(asr.corpus_dir(z) if langs == sorted(z.langs) else ROOT / "work/bench/phonemes/corpus",
                              langs, z.utts_per_lang, seed=z.seed, speakers=z.speakers)
    utts = [u for s in ("test", "dev", "train") for u in read_manifests([paths[s]]) if u.language == args.lang]
    pieces, total = [], 0
    for u in utts:
        wav = load_audio(u.audio)[0]
        pieces.append(wav)
        total += len(wav)
        if total >= args.seconds * 16000:
            break
    clip = np.concatenate(pieces)[: int(args.seconds * 16000)]

    run_dir = Path(args.run)
    trained = (run_dir / asr.MODEL_FILE).exists()
    if not trained:
        run_dir = random_run(ROOT / "work/bench/phonemes/run", list(cfg.data.train_langs))
    run = asr.load_run(run_dir, device="cpu")
    t = time.perf_counter()
    inventory = zeroshot.target_inventory(lang=args.lang)
    t_inv = time.perf_counter() - t
    t = time.perf_counter()
    modes = zeroshot.build_modes(run.vocab, inventory)
    t_modes = time.perf_counter() - t

    wav, lens = torch.as_tensor(clip)[None], torch.tensor([len(clip)])
    with torch.inference_mode():
        zeroshot.transcribe_phones(run, [clip], modes)  # warm-up
        log_probs, out_lens = run.model(wav, lens)
        t_fwd = median_time(lambda: run.model(wav, lens), args.repeats)
        t_dec = {m: median_time(lambda m=m: zeroshot.decode_modes(log_probs, out_lens, {m: modes[m]}), args.repeats)
                 for m in modes}
        t_all = median_time(lambda: zeroshot.transcribe_phones(run, [clip], modes), args.repeats)
        t_map = median_time(lambda: zeroshot.transcribe_phones(run, [clip], {"map": modes["map"]}), args.repeats)
    out = zeroshot.transcribe_phones(run, [clip], modes)
    # the CLI as a user runs it: a fresh process (imports, model and inventory loading included)
    import subprocess

    from polyvox.data.audio import save_audio

    wav_path = ROOT / "work/bench/phonemes/clip.wav"
    save_audio(wav_path, clip, 16000)
    cmd = [sys.executable, "-m", "polyvox.cli", "phonemes", str(run_dir), str(wav_path), "--lang", args.lang,
           "--threads", str(args.threads), "--device", "cpu"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    t_cli = time.perf_counter() - t

    print(f"run: {run_dir} ({'trained' if trained else 'random weights'}, {len(run.vocab)} tokens, "
          f"{sum(p.numel() for p in run.model.parameters()) / 1e6:.2f} M parameters); "
          f"clip: {len(clip) / 16000:.1f} s of {args.lang} ({len(pieces)} utterances); torch threads "
          f"{torch.get_num_threads()}; medians of {args.repeats}\n")
    print("| step | ms |\n|---|---:|")
    print(f"| model forward (fbank + Conformer) | {1000 * t_fwd:.1f} |")
    for m, s in t_dec.items():
        print(f"| decode, mode {m} | {1000 * s:.2f} |")
    print(f"| transcribe_phones, map only (end to end) | {1000 * t_map:.1f} |")
    print(f"| transcribe_phones, all three modes (end to end) | {1000 * t_all:.1f} |")
    print(f"| one-time: espeak-ng inventory (cached) | {1000 * t_inv:.1f} |")
    print(f"| one-time: build the three modes (panphon table + feature mapping) | {1000 * t_modes:.1f} |")
    print(f"| `polyvox phonemes RUN clip.wav --lang {args.lang}`, fresh process | {1000 * t_cli:.0f} |")
    print(f"\nreal-time factor (map, end to end): {t_map / (len(clip) / 16000):.3f}; "
          f"target < 1 s per 10 s clip: {'met' if t_map < 1.0 else 'NOT met'}")
    print(f"map output: {' '.join(out['map'][0])[:160]} ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
