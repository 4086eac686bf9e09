"""Training throughput of the F5-style model through polyvox's fit(): optimizer steps per second and peak memory,
on random mel / text batches (no corpus, no espeak-ng: what a GPU machine without the toolkit's system packages
can run), with the recipe's flow-matching loss, EMA and the device's default precision (bf16 on a recent GPU).

    .venv/bin/python benchmarks/f5_train_step.py --shape tiny --steps 20 --out work/bench/f5_train_step.md    # CPU
    python3 benchmarks/f5_train_step.py --shape f5-small,base --frames 38400 --steps 30                      # a GPU

``--frames`` is the batch size in mel frames (F5-TTS: 38400 per GPU, ~410 s of audio), cut into clips of
``--clip-frames``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from f5_rtf import SHAPES  # noqa: E402

from polyvox.speech.f5tts import flow  # noqa: E402
from polyvox.speech.f5tts.model import F5TTS, F5Config, count_parameters  # noqa: E402
from polyvox.train.config import TrainConfig  # noqa: E402
from polyvox.train.loop import fit  # noqa: E402


def batches(n: int, rows: int, frames: int, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        lens = torch.randint(frames // 2, frames + 1, (rows,), generator=g)
        lens[0] = frames
        text = torch.randint(0, 256, (rows, frames // 6), generator=g)
        out.append({"mel": torch.randn(rows, frames, 100, generator=g) - 5, "mel_lens": lens, "text": text})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="tiny")
    ap.add_argument("--frames", type=int, default=2400, help="mel frames per batch")
    ap.add_argument("--clip-frames", type=int, default=600)
    ap.add_argument("--steps", type=int, default=20, help="timed steps (>= 2)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    machine = (torch.cuda.get_device_name(0) if cuda else
               f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads of {os.cpu_count()} cores")
    rows = max(1, args.frames // args.clip_frames)
    lines = [f"F5-style training steps through fit() on {machine} (torch {torch.__version__}); {rows} clips of "
             f"{args.clip_frames} frames per batch ({rows * args.clip_frames / 93.75:.0f} s of audio), AdamW, EMA",
             "", "| shape | parameters | precision | steps/s | s of audio / s | peak GPU memory |",
             "|---|---:|---|---:|---:|---:|"]
    for shape in args.shape.split(","):
        torch.manual_seed(0)
        model = F5TTS(F5Config(**SHAPES[shape]))
        data = batches(args.warmup + args.steps, rows, args.clip_frames)
        times = []

        def loss_step(model, batch):
            times.append(time.perf_counter())
            return flow.flow_matching_loss(model, batch["mel"], batch["mel_lens"], batch["text"])

        cfg = TrainConfig(max_steps=args.warmup + args.steps, lr=1e-4, log_every=10_000, ema_decay=0.999,
                          nonfinite_patience=0)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        with tempfile.TemporaryDirectory() as run_dir:
            fit(model, torch.utils.data.DataLoader(data, batch_size=None), loss_step, cfg, run_dir)
        # between the first timed step and the last one's start: no final checkpoint save in it
        rate = (len(times) - 1 - args.warmup) / (times[-1] - times[args.warmup])
        from polyvox.train.loop import resolve_mixed_precision

        mem = f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cuda else "-"
        lines.append(f"| {shape} | {count_parameters(model) / 1e6:.1f} M | {resolve_mixed_precision(cfg)} | "
                     f"{rate:.2f} | {rate * rows * args.clip_frames / 93.75:.0f} | {mem} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
