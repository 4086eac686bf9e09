"""Time and profile one CTC training step of the ASR recipe's model on a synthetic batch.

    python benchmarks/profile_step.py [key=value ...]          # overrides of recipes/asr_ctc/configs/base.yaml
    python benchmarks/profile_step.py model.dropout=0.05 model.subsampling_channels=64

A batch of 12 random 2.67 s waveforms (32 s of padded audio, the default batch) with 30 targets
each, 60 output tokens; forward + CTC loss + backward + AdamW step. Prints the median step time
and torch.profiler's top operators by self CPU time. Model only: no data loading, no augmentation.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main(overrides: list[str]) -> int:
    from torch.profiler import profile

    from polyvox.speech.asr import AsrConfig
    from polyvox.speech.ctc import ctc_loss
    from polyvox.speech.asr.model import build_model
    from polyvox.train.config import load_config

    cfg = load_config(AsrConfig, ROOT / "recipes/asr_ctc/configs/base.yaml", overrides)
    torch.manual_seed(0)
    vocab, batch, samples, n_targets = 60, 12, int(2.67 * 16000), 30
    model = build_model(cfg.model, vocab).train()
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    wavs, wav_lens = torch.randn(batch, samples) * 0.1, torch.full((batch,), samples)
    targets, target_lens = torch.randint(1, vocab, (batch, n_targets)), torch.full((batch,), n_targets)

    def step() -> None:
        log_probs, lens = model(wavs, wav_lens)
        ctc_loss(log_probs, lens, targets, target_lens, blank=0).backward()
        opt.step()
        opt.zero_grad()

    for _ in range(3):  # warm-up
        step()
    times = []
    for _ in range(15):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(f"overrides: {' '.join(overrides) or '(none)'}; torch threads {torch.get_num_threads()}")
    print(f"median step: {1000 * statistics.median(times):.0f} ms")
    with profile() as prof:
        for _ in range(3):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
