"""Training-loop benchmarks: polyvox ``fit()`` vs Hugging Face ``Trainer`` vs SpeechBrain ``Brain``,
bucketed vs random batches, and the loop's overhead over a bare forward/backward/step loop.

    .venv/bin/python benchmarks/bench_loop.py --threads 1 --utts-per-lang 80 --max-seconds 40 \
        --warmup 3 --steps 16 --repeats 5 --fixed-steps 100 --bucket-repeats 4

Everything runs in one process on the same CPU thread count (``--threads``), after
``--process-warmup`` seconds of untimed training:

* **Frameworks.** The same CTC model (``polyvox.speech.asr.model``, fbank + Conformer, recipe
  defaults unless ``--tiny``), the same AdamW (``polyvox.train.loop.make_optimizer``), the same
  linear LR schedule, gradient clipping at 5, fp32, and *the same batches in the same order*: one
  batch plan (``DurationBucketSampler``, ``--max-seconds`` of padded audio per batch) is passed as
  the ``batch_sampler`` of a DataLoader for each framework (Trainer: ``get_train_dataloader``
  override; Brain: the DataLoader given to ``fit``). Each framework runs ``--warmup + --steps``
  optimizer steps; only the last ``--steps`` are timed, from the end of optimizer step
  ``warmup`` to the end of the last one (an optimizer ``step`` post-hook, identical for all),
  so model/framework setup, warm-up and the final checkpoint are excluded while data loading,
  logging and progress bars inside the loop are included. Frameworks are interleaved, in a
  rotating order, ``--repeats`` times after one untimed pass over the plan; medians reported.
  Wall time and process CPU time are both reported (CPU time is steadier on a shared machine).
* **Loop overhead.** A bare loop (forward, CTC loss, backward, clip, AdamW step, LR step,
  zero_grad) on the same batches, interleaved with the above: ``overhead = 1 - bare / fit``.
  The same four loops around a near-zero model (``--fixed-steps``) give each loop's fixed cost
  per step directly.
* **Bucketed vs random.** ``fit()`` for one epoch of the train split with
  ``DurationBucketSampler`` vs ``random_batch_sampler`` (same ``--max-seconds``); utterances and
  audio seconds per second of training (first step excluded as warm-up).

Prints markdown tables and writes them to ``--out``. Targets: polyvox >= 1.05x Trainer and Brain,
bucketed >= 2x random, loop overhead <= 3%.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import shutil
import statistics
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import torch

from polyvox.data.dataset import AudioDataset
from polyvox.data.manifest import read_manifest
from polyvox.data.sampler import DurationBucketSampler, padding_waste, random_batch_sampler
from polyvox.data.synth.corpus import parse_words, synthesize_corpus
from polyvox.data.synth.words import DEFAULT_WORDS
from polyvox.speech import asr
from polyvox.speech.ctc import ctc_loss
from polyvox.speech.asr.model import ModelConfig, build_model, count_parameters
from polyvox.speech.asr.vocab import vocab_from_utterances
from polyvox.train.config import TrainConfig
from polyvox.train.loop import fit, make_optimizer, make_scheduler, seed_everything

GRAD_CLIP = 5.0
LR = 1e-3
FRAMEWORKS = ("polyvox", "trainer", "brain", "bare")


# ----------------------------------------------------------------------------------- timing


class StepClock:
    """Timestamps at the end of every optimizer step, plus rows / audio seconds per forward.

    Hooks (a forward pre-hook on the model, a step post-hook on the torch optimizer) are the
    same whichever framework drives the loop."""

    def __init__(self, sample_rate: int = 16000):
        self.ends: list[float] = []
        self.cpu_ends: list[float] = []  # process CPU time: less sensitive than wall time to other load
        self.rows: list[int] = []
        self.seconds: list[float] = []
        self.threads: set[int] = set()
        self.sample_rate = sample_rate

    def attach(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        model.register_forward_pre_hook(self._forward)
        optimizer.register_step_post_hook(self._step_end)

    def _step_end(self, *_):
        self.ends.append(time.perf_counter())
        self.cpu_ends.append(time.process_time())

    def _forward(self, module, args):
        if module.training:
            wav_lens = args[1]
            self.rows.append(int(wav_lens.numel()))
            self.seconds.append(float(wav_lens.sum()) / self.sample_rate)
            self.threads.add(torch.get_num_threads())

    def window(self, first: int, last: int) -> tuple[float, int, float, float]:
        """(wall seconds, utterances, audio seconds, CPU seconds) of optimizer steps first..last
        (0-based, inclusive); the time runs from the end of step first-1 to the end of step last."""
        if first < 1 or last >= len(self.ends):
            raise RuntimeError(f"only {len(self.ends)} optimizer steps recorded, need steps {first}..{last}")
        return (self.ends[last] - self.ends[first - 1], sum(self.rows[first : last + 1]),
                sum(self.seconds[first : last + 1]), self.cpu_ends[last] - self.cpu_ends[first - 1])  # fmt: skip


# ----------------------------------------------------------------------------------- task pieces


class Task:
    """Corpus, vocabulary, dataset and model factory shared by every framework."""

    def __init__(self, args):
        manifests = synthesize_corpus(args.corpus, args.langs, args.utts_per_lang, seed=0, speakers=4,
                                      words=args.words)
        utts = read_manifest(manifests["train"])
        self.unit = "phoneme"
        self.vocab = vocab_from_utterances(utts, self.unit)
        self.dataset = AudioDataset(utts, on_error="raise")
        self.durations = self.dataset.durations
        self.collate = partial(asr.collate_with_targets, vocab=self.vocab, unit=self.unit)
        self.model_cfg = (ModelConfig(d_model=64, num_layers=2, num_heads=4, ffn_dim=256)
                          if args.tiny else ModelConfig())  # fmt: skip
        self.max_seconds = args.max_seconds
        self.run_root = Path(args.work) / "runs"

    def model(self) -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(self.model_cfg, len(self.vocab))

    def loader(self, batches) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(self.dataset, batch_sampler=batches, collate_fn=self.collate,
                                           num_workers=0)  # fmt: skip

    def run_dir(self, name: str) -> Path:
        path = self.run_root / name
        shutil.rmtree(path, ignore_errors=True)
        return path


def forward(model, batch):
    return model(batch["wavs"], batch["wav_lens"])


def objective(outputs, batch, blank: int):
    log_probs, lens = outputs
    loss = ctc_loss(log_probs, lens, batch["targets"], batch["target_lens"], blank=blank)
    return loss, {"frames_per_token": float(lens.sum() / batch["target_lens"].sum())}


def batch_plan(durations, max_seconds: float, n: int, *, buckets: bool = True, seed: int = 0) -> list[list[int]]:
    """The first ``n`` batches of the sampler, epoch after epoch."""
    make = DurationBucketSampler if buckets else random_batch_sampler
    sampler = make(durations, max_seconds, seed=seed)
    plan: list[list[int]] = []
    epoch = 0
    while len(plan) < n:
        sampler.set_epoch(epoch)
        plan.extend(sampler.rank_batches(epoch))
        epoch += 1
    return plan[:n]


def train_config(steps: int) -> TrainConfig:
    return TrainConfig(max_steps=steps, lr=LR, warmup_steps=0, schedule="linear", grad_clip=GRAD_CLIP,
                       log_every=10, mixed_precision="no", cpu=True, seed=0)  # fmt: skip


# ----------------------------------------------------------------------------------- the four loops


def run_polyvox(task: Task, plan, clock: StepClock, name: str = "polyvox") -> None:
    model = task.model()
    cfg = train_config(len(plan))
    optimizer = make_optimizer(model, cfg)
    clock.attach(model, optimizer)
    blank = task.vocab.blank_id
    fit(model, task.loader(plan), lambda m, b: objective(forward(m, b), b, blank), cfg, task.run_dir(name),
        optimizer=optimizer, resume=False)  # fmt: skip


def run_bare(task: Task, plan, clock: StepClock) -> None:
    """What fit() does per step with nothing around it: no accelerate, logging or checkpoints."""
    cfg = train_config(len(plan))
    seed_everything(cfg.seed)
    model = task.model()
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, len(plan))
    clock.attach(model, optimizer)
    blank = task.vocab.blank_id
    model.train()
    for batch in task.loader(plan):
        loss, _ = objective(forward(model, batch), batch, blank)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)


def run_trainer(task: Task, plan, clock: StepClock) -> None:
    from transformers import Trainer, TrainingArguments

    blank = task.vocab.blank_id
    loader = task.loader(plan)

    class CTCTrainer(Trainer):
        def get_train_dataloader(self):
            return loader  # the same batch plan; not prepared, like polyvox's

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, _ = objective(forward(model, inputs), inputs, blank)
            return (loss, None) if return_outputs else loss

    model = task.model()
    cfg = train_config(len(plan))
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, len(plan))
    clock.attach(model, optimizer)
    targs = TrainingArguments(
        output_dir=str(task.run_dir("trainer")), max_steps=len(plan), learning_rate=LR,
        max_grad_norm=GRAD_CLIP, logging_steps=10, save_strategy="no", report_to="none", use_cpu=True,
        dataloader_num_workers=0, seed=0, remove_unused_columns=False,
    )  # fmt: skip
    trainer = CTCTrainer(model=model, args=targs, optimizers=(optimizer, scheduler))
    trainer.train()


def run_brain(task: Task, plan, clock: StepClock) -> None:
    import speechbrain as sb

    blank = task.vocab.blank_id
    model = task.model()
    cfg = train_config(len(plan))

    class CTCBrain(sb.Brain):
        def compute_forward(self, batch, stage):
            return forward(self.modules.model, batch)

        def compute_objectives(self, predictions, batch, stage):
            return objective(predictions, batch, blank)[0]

        def on_fit_start(self):
            super().on_fit_start()  # builds self.optimizer through opt_class
            self.scheduler = make_scheduler(self.optimizer, cfg, len(plan))
            clock.attach(self.modules.model, self.optimizer)

        def on_fit_batch_end(self, batch, outputs, loss, should_step):
            if should_step:
                self.scheduler.step()

    brain = CTCBrain(modules={"model": model}, opt_class=lambda _params: make_optimizer(model, cfg),
                     run_opts={"device": "cpu", "max_grad_norm": GRAD_CLIP})  # fmt: skip
    seed_everything(cfg.seed)
    brain.fit(range(1, 2), task.loader(plan))


def warm_up_process(task: Task, seconds: float) -> None:
    """Train with the bare loop for ``seconds``: the first seconds of training in a process are
    slow (allocator, thread pool, kernel caches) and must not land on whichever loop runs first."""
    plan = batch_plan(task.durations, task.max_seconds, 64)
    start, i = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        run_bare(task, plan[i % 64 : i % 64 + 4] or plan[:4], StepClock())
        i += 4


RUNNERS = {"polyvox": run_polyvox, "trainer": run_trainer, "brain": run_brain, "bare": run_bare}


@contextlib.contextmanager
def quiet(enabled: bool):
    """Hide the frameworks' progress bars and log lines (they cost the same with or without)."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        yield


# ----------------------------------------------------------------------------------- benchmarks


def bench_frameworks(task: Task, args, log, steps: int, repeats: int) -> dict:
    """Median wall and CPU seconds of ``steps`` timed steps per framework, and what they held."""
    plan = batch_plan(task.durations, task.max_seconds, args.warmup + steps)
    first, last = args.warmup, args.warmup + steps - 1
    wall: dict[str, list[float]] = {f: [] for f in args.frameworks}
    cpu: dict[str, list[float]] = {f: [] for f in args.frameworks}
    threads: set[int] = set()
    # One untimed pass first: kernels and per-shape caches (oneDNN primitives) warm up here, so
    # the framework that happens to run first does not pay for them.
    with quiet(not args.verbose):
        run_bare(task, plan, StepClock())
    for r in range(repeats):
        order = args.frameworks[r % len(args.frameworks):] + args.frameworks[: r % len(args.frameworks)]
        for name in order:
            clock = StepClock()
            with quiet(not args.verbose):
                RUNNERS[name](task, plan, clock)
            seconds, _, _, cpu_seconds = clock.window(first, last)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
            threads |= clock.threads
            log(f"  repeat {r + 1}/{repeats} {name:8s} {steps / seconds:8.3f} steps/s, "
                f"{1e3 * cpu_seconds / steps:8.2f} CPU ms/step")  # fmt: skip
    if threads != {args.threads}:
        raise RuntimeError(f"torch thread count changed during the runs: {sorted(threads)}")
    return {"wall": {f: statistics.median(t) / steps for f, t in wall.items()},
            "cpu": {f: statistics.median(t) / steps for f, t in cpu.items()},
            "all_wall": wall, "utts": sum(len(plan[i]) for i in range(first, last + 1)),
            "audio": sum(task.durations[j] for i in range(first, last + 1) for j in plan[i])}  # fmt: skip


class Trivial(torch.nn.Module):
    """A near-zero model with the CTC interface: one sample in 1600 -> linear -> log-softmax.
    Timing it measures what each loop costs per step around the model."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.lin = torch.nn.Linear(1, vocab_size)

    def forward(self, wavs, wav_lens):
        x = wavs[:, ::1600].unsqueeze(-1)
        lens = torch.div(wav_lens, 1600, rounding_mode="floor").clamp(min=1, max=x.shape[1])
        return torch.log_softmax(self.lin(x), dim=-1), lens


def framework_table(res: dict, frameworks, unit: float) -> list[str]:
    ms = "ms" if unit == 1e3 else "s"
    wall, cpu = res["wall"], res["cpu"]
    rows = [f"| loop | wall {ms}/step | steps/s | polyvox speed (wall) | CPU {ms}/step | polyvox speed (CPU) |",
            "|---|---:|---:|---:|---:|---:|"]
    for f in frameworks:
        rel = (f"{wall[f] / wall['polyvox']:.3f}x", f"{cpu[f] / cpu['polyvox']:.3f}x") if "polyvox" in wall else ("-", "-")
        rows.append(f"| {NAMES[f]} | {unit * wall[f]:.3f} | {1 / wall[f]:.3f} | {rel[0]} | {unit * cpu[f]:.3f} | {rel[1]} |")
    return rows


NAMES = {"polyvox": "polyvox fit()", "trainer": "HF Trainer", "brain": "SpeechBrain Brain",
         "bare": "bare loop (no framework)"}  # fmt: skip


def bench_buckets(task: Task, args, log) -> dict:
    """One epoch of fit() per batching mode, repeated; first step excluded as warm-up."""
    plans = {}
    for mode, make in (("bucketed", DurationBucketSampler), ("random", random_batch_sampler)):
        plans[mode] = [list(b) for b in make(task.durations, task.max_seconds, seed=0).rank_batches(0)]
    runs: dict[str, list] = {mode: [] for mode in plans}
    for r in range(args.bucket_repeats):
        for mode in (("bucketed", "random") if r % 2 == 0 else ("random", "bucketed")):
            clock = StepClock()
            with quiet(not args.verbose):
                run_polyvox(task, plans[mode], clock, name=f"buckets-{mode}")
            seconds, utts, audio, cpu = clock.window(1, len(plans[mode]) - 1)
            runs[mode].append((seconds, cpu, utts, audio))
            log(f"  {mode:8s} repeat {r + 1}/{args.bucket_repeats}: {len(plans[mode])} batches, "
                f"{utts / seconds:6.2f} utts/s wall, {utts / cpu:6.2f} utts/s CPU")  # fmt: skip
    out = {}
    for mode, plan in plans.items():
        wall = statistics.median(x[0] for x in runs[mode])
        cpu = statistics.median(x[1] for x in runs[mode])
        _, _, utts, audio = runs[mode][0]
        padded = sum(len(b) * max(task.durations[i] for i in b) for b in plan[1:])
        out[mode] = {"batches": len(plan), "waste": padding_waste(plan, task.durations), "utts": utts,
                     "utts_per_s": utts / wall, "audio_per_s": audio / wall, "utts_per_cpu_s": utts / cpu,
                     "padded_per_utt": padded / utts}  # fmt: skip
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--langs", default="en,es,de,fr,it,pt")
    ap.add_argument("--utts-per-lang", type=int, default=20)
    ap.add_argument("--words", type=parse_words, default=DEFAULT_WORDS, metavar="MIN-MAX",
                    help="words per utterance of the corpus (default 2-6; 2-24 spreads durations like read "
                         "speech); other ranges get their own corpus folder, WORK/corpus-wordsMIN-MAX")
    ap.add_argument("--work", default="work/bench/loop", help="corpus and run folders go here")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads (all loops)")
    ap.add_argument("--max-seconds", type=float, default=20.0, help="padded audio seconds per batch")
    ap.add_argument("--steps", type=int, default=8, help="timed optimizer steps per run")
    ap.add_argument("--warmup", type=int, default=2, help="untimed optimizer steps before them")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--bucket-repeats", type=int, default=1)
    ap.add_argument("--fixed-steps", type=int, default=50, help="timed steps with the near-zero model")
    ap.add_argument("--process-warmup", type=float, default=10.0, help="seconds of untimed training first")
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    ap.add_argument("--skip", default="", help="comma list of sections to skip: frameworks,fixed,buckets")
    ap.add_argument("--tiny", action="store_true", help="a 2-layer d_model=64 Conformer instead of the recipe's")
    ap.add_argument("--verbose", action="store_true", help="show the frameworks' own output")
    ap.add_argument("--out", default="work/bench/bench_loop.md")
    args = ap.parse_args(argv)
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    if unknown := set(args.frameworks) - set(RUNNERS):
        ap.error(f"unknown frameworks {sorted(unknown)}; choose from {', '.join(RUNNERS)}")
    if args.warmup < 1:
        ap.error("--warmup must be >= 1 (timing starts at the end of a warm-up step)")
    # a separate folder per word range, so a wide-spread corpus never replaces the default one
    name = "corpus" if args.words == DEFAULT_WORDS else "corpus-words{}-{}".format(*args.words)
    args.corpus = str(Path(args.work) / name)
    skip = {s for s in args.skip.split(",") if s}
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    task = Task(args)
    model = task.model()
    n_audio = sum(task.durations)
    import speechbrain
    import transformers

    head = [f"train split: {len(task.durations)} utterances, {n_audio / 60:.1f} min of audio "
            f"({args.langs} x {args.utts_per_lang} per language, {args.words[0]}-{args.words[1]} words per "
            f"utterance, {min(task.durations):.1f}-{max(task.durations):.1f} s, synthesize_corpus); "
            f"model: {args.tiny and 'tiny ' or ''}fbank + Conformer CTC, {count_parameters(model) / 1e6:.2f} M "
            f"parameters, {len(task.vocab)} phoneme tokens; batches <= {args.max_seconds:g} s of padded audio; "
            f"{args.threads} torch threads on {os.cpu_count()} CPU cores; torch {torch.__version__}, "
            f"transformers {transformers.__version__}, speechbrain {speechbrain.__version__}; "
            f"load average {os.getloadavg()[0]:.2f} at start"]  # fmt: skip
    log(head[0])
    with quiet(not args.verbose):
        warm_up_process(task, args.process_warmup)
    sections = []
    conformer_cpu = None  # bare loop CPU s/step of the real model, if measured
    if "frameworks" not in skip:
        log(f"frameworks ({args.warmup} warm-up + {args.steps} timed steps, {args.repeats} repeats):")
        res = bench_frameworks(task, args, log, args.steps, args.repeats)
        lines = [f"Same {args.steps} timed steps (after {args.warmup} warm-up) on the same batches "
                 f"({res['utts']} utterances, {res['audio']:.0f} s of audio), median of {args.repeats} "
                 "interleaved repeats; speed = this loop's time / polyvox's (> 1: polyvox is faster).", ""]
        lines += framework_table(res, args.frameworks, unit=1.0)
        conformer_cpu = res["cpu"].get("bare")
        if "polyvox" in res["wall"] and "bare" in res["wall"]:
            per_rep = [1 - b / p for b, p in zip(res["all_wall"]["bare"], res["all_wall"]["polyvox"])]
            lines += ["", f"fit() loop overhead vs the bare loop, 1 - bare/fit: "
                      f"{100 * (1 - res['wall']['bare'] / res['wall']['polyvox']):.1f}% wall "
                      f"(per repeat: {', '.join(f'{100 * o:.1f}%' for o in per_rep)}), "
                      f"{100 * (1 - res['cpu']['bare'] / res['cpu']['polyvox']):.1f}% CPU time; target <= 3%"]
        sections.append("\n".join(lines))
    if "fixed" not in skip:
        log(f"fixed cost per step (near-zero model, {args.fixed_steps} timed steps, {args.repeats} repeats):")
        real_model = task.model
        task.model = lambda: (torch.manual_seed(0), Trivial(len(task.vocab)))[1]
        res = bench_frameworks(task, args, log, args.fixed_steps, args.repeats)
        task.model = real_model
        lines = [f"Fixed cost per step: the same loops around a near-zero model (one linear layer) for "
                 f"{args.fixed_steps} steps, so the time is data loading + the loop itself; median of "
                 f"{args.repeats}.", ""]  # fmt: skip
        lines += framework_table(res, args.frameworks, unit=1e3)
        if "polyvox" in res["cpu"] and "bare" in res["cpu"] and conformer_cpu:
            extra = res["cpu"]["polyvox"] - res["cpu"]["bare"]
            lines += ["", f"fit()'s own cost per step (polyvox - bare, CPU): {1e3 * extra:.3f} ms = "
                      f"{100 * extra / conformer_cpu:.2f}% of a Conformer step above ({1e3 * conformer_cpu:.0f} CPU ms)"]
        sections.append("\n".join(lines))
    if "buckets" not in skip:
        log(f"bucketed vs random batches (one epoch each, {args.bucket_repeats} repeats):")
        b = bench_buckets(task, args, log)
        base = b["random"]
        lines = [f"polyvox fit(), one epoch of the train split each, batches <= {args.max_seconds:g} s of padded "
                 f"audio, steps 2..end timed (step 1 is warm-up), median of {args.bucket_repeats} alternating "
                 "repeats. \"bound\" = the speed-up if time were proportional to padded audio.", "",
                 "| batches | count | padding | utts/s (wall) | audio s/s (wall) | speed-up (wall) "
                 "| utts/CPU s | speed-up (CPU) | bound |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for mode in ("random", "bucketed"):
            r = b[mode]
            lines.append(f"| {mode} | {r['batches']} | {100 * r['waste']:.0f}% | {r['utts_per_s']:.2f} | "
                         f"{r['audio_per_s']:.1f} | {r['utts_per_s'] / base['utts_per_s']:.2f}x | "
                         f"{r['utts_per_cpu_s']:.2f} | {r['utts_per_cpu_s'] / base['utts_per_cpu_s']:.2f}x | "
                         f"{base['padded_per_utt'] / r['padded_per_utt']:.2f}x |")  # fmt: skip
        sections.append("\n".join(lines))
    table = "\n\n".join(head + sections)
    print(table)
    log(f"total {time.perf_counter() - t0:.0f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
