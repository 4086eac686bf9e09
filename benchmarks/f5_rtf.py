"""Real-time factor of F5-style sampling per number of ODE steps (Euler and midpoint, with guidance), on this
machine's device: seconds of compute per second of generated audio, for the DiT alone (no vocoder).

    .venv/bin/python benchmarks/f5_rtf.py --out work/bench/f5_rtf.md                 # CPU: small DiT shapes
    .venv/bin/python benchmarks/f5_rtf.py --shape base --device cuda                  # a GPU: F5-TTS v1 Base's shape

Weights are random (speed does not depend on them); the mel is F5-TTS's (24 kHz, hop 256: 93.75 frames/s); the
prompt is 3 s and the new audio ``--seconds``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from polyvox.speech.f5tts import flow
from polyvox.speech.f5tts.model import F5TTS, F5Config, count_parameters

SHAPES = {
    "tiny": dict(dim=128, depth=4, heads=4, dim_head=32, text_dim=64, conv_layers=1),
    "small": dict(dim=384, depth=8, heads=6, dim_head=64, text_dim=256, conv_layers=2),
    "f5-small": dict(dim=768, depth=18, heads=12, dim_head=64, text_dim=512, conv_layers=4),
    "base": dict(dim=1024, depth=22, heads=16, dim_head=64, text_dim=512, conv_layers=4),
}
FRAMES_PER_S = 24000 / 256


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="tiny,small", help=f"comma list of {sorted(SHAPES)}")
    ap.add_argument("--steps", default="4,8,16,32")
    ap.add_argument("--methods", default="euler,midpoint")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    machine = (torch.cuda.get_device_name(device) if device.type == "cuda" else
               f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads of "
               f"{os.cpu_count()} cores")
    lines = [f"F5-style sampling RTF on {machine} (torch {torch.__version__}); 3 s prompt + {args.seconds:g} s new "
             f"audio, guidance 2 (two rows per call), no vocoder", "",
             "| shape | parameters | method | steps | model calls | seconds | RTF |", "|---|---:|---|---:|---:|---:|---:|"]
    prompt_frames, new_frames = round(3 * FRAMES_PER_S), round(args.seconds * FRAMES_PER_S)
    for shape in args.shape.split(","):
        torch.manual_seed(0)
        model = F5TTS(F5Config(**SHAPES[shape])).to(device).eval()
        prompt = torch.randn(1, prompt_frames, 100, device=device)
        text = torch.randint(0, 256, (1, 60), device=device)
        total = torch.tensor([prompt_frames + new_frames], device=device)
        for method in args.methods.split(","):
            for steps in map(int, args.steps.split(",")):
                run = lambda: flow.sample(model, prompt, torch.tensor([prompt_frames], device=device), text,  # noqa: E731
                                          total, steps=steps, method=method)
                run() if steps == 4 else None  # warm-up once per method
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                run()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - t0
                calls = steps * (2 if method == "midpoint" else 1)
                lines.append(f"| {shape} | {count_parameters(model) / 1e6:.1f} M | {method} | {steps} | {calls} | "
                             f"{seconds:.2f} | {seconds / args.seconds:.3f} |")
                print(lines[-1], flush=True)
    text_out = "\n".join(lines) + "\n"
    print(text_out)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text_out, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
