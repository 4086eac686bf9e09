"""What acoustic augmentation costs a training step: the ASR recipe's own config, batches, model and loss, with
``data.augment`` off, on in the training process (``num_workers=0``), and on in one DataLoader worker.

    .venv/bin/python benchmarks/augment_cost.py --config recipes/asr_ctc/configs/base.yaml --steps 60

Per setting: ``--warmup`` untimed steps, then ``--steps`` timed optimizer steps (forward with speed
perturbation as the recipe does, CTC loss, backward, clip, AdamW); the same batch plan each time (same seed). Also
the augmentation chain alone, per utterance and per batch, on the same utterances. Settings are interleaved
``--repeats`` times, medians reported. Target (issue 12): <= 15 % more time per step, or running in DataLoader
workers so it overlaps compute.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from polyvox.data.augment import Augmenter, speed_perturb
from polyvox.speech.asr import task
from polyvox.speech.asr.config import AsrConfig
from polyvox.speech.ctc import ctc_loss
from polyvox.train.config import load_config


def time_steps(cfg: AsrConfig, train_utts, vocab, *, augment: bool, workers: int, warmup: int, steps: int) -> float:
    """Mean seconds per timed step for one setting (a fresh model, the same batches)."""
    cfg.data.num_workers = workers
    saved = cfg.data.augment
    if not augment:
        cfg.data.augment = type(saved)()  # every probability 0: off
    loader = task.train_loader(cfg, train_utts, vocab, Path("work/bench/augment_cost/skipped.jsonl"))
    cfg.data.augment = saved
    torch.manual_seed(0)
    _, model = task.vocab_and_model(cfg, train_utts)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    it = iter(loader)
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        wavs, lens, _ = speed_perturb(batch["wavs"], batch["wav_lens"], cfg.data.speed_perturb)
        log_probs, out_lens = model(wavs, lens)
        loss = ctc_loss(log_probs, out_lens, batch["targets"], batch["target_lens"], blank=vocab.blank_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        opt.zero_grad()
    return (time.perf_counter() - t0) / steps


def chain_cost(cfg: AsrConfig, train_utts, n: int) -> tuple[float, float]:
    """(ms per utterance, mean utterance seconds) of the augmentation chain alone, one thread, warm (epoch 1's draws
    after an untimed epoch 0)."""
    from polyvox.data.dataset import AudioDataset

    ds = AudioDataset(train_utts[:n])
    wavs = [ds[i]["wav"] for i in range(len(ds))]
    aug = Augmenter(cfg.data.augment, seed=cfg.train.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a DataLoader worker
    for i, w in enumerate(wavs):  # untimed: first calls build FFT plans and resamplers, once per process
        aug(w, train_utts[i].id, 0)
    t0 = time.perf_counter()
    for i, w in enumerate(wavs):
        aug(w, train_utts[i].id, 1)
    torch.set_num_threads(threads)
    return (time.perf_counter() - t0) / len(wavs) * 1000, sum(w.numel() for w in wavs) / len(wavs) / 16000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="recipes/asr_ctc/configs/base.yaml")
    p.add_argument("overrides", nargs="*", help="key=value config overrides")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default="work/bench/augment_cost.md")
    args = p.parse_args(argv)

    cfg = load_config(AsrConfig, args.config, args.overrides)
    if not cfg.data.augment.enabled:
        sys.exit(f"{args.config}: data.augment is off (every probability 0); nothing to measure")
    splits = task.load_splits(cfg.data, seed=cfg.train.seed)
    train = splits["train"]
    vocab, _ = task.vocab_and_model(cfg, train)
    per_utt, seconds = chain_cost(cfg, train, 300)

    settings = [("off", False, 0), ("on, in the training process", True, 0), ("on, 1 DataLoader worker", True, 1)]
    times: dict[str, list[float]] = {name: [] for name, _, _ in settings}
    for r in range(args.repeats):
        for name, augment, workers in settings[r % 3:] + settings[: r % 3]:  # rotate the order
            times[name].append(time_steps(cfg, train, vocab, augment=augment, workers=workers,
                                          warmup=args.warmup, steps=args.steps))
    base = statistics.median(times["off"])
    utts_per_batch = cfg.data.max_batch_seconds / max(seconds, 1e-9)
    lines = [
        f"config {args.config} {' '.join(args.overrides)}; {platform.machine()}, {torch.get_num_threads()} torch "
        f"threads, {args.steps} timed steps x {args.repeats} repeats (medians)",
        "",
        f"augmentation chain alone: {per_utt:.2f} ms per utterance (mean {seconds:.2f} s of audio), ~"
        f"{per_utt * utts_per_batch:.0f} ms per {cfg.data.max_batch_seconds:g}-second batch, one thread",
        "",
        "| augmentation | ms per step | vs off |",
        "|---|---:|---:|",
    ]
    for name, _, _ in settings:
        t = statistics.median(times[name])
        lines.append(f"| {name} | {t * 1000:.0f} | {100 * (t / base - 1):+.1f} % |")
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
