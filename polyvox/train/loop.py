"""The one training loop polyvox uses, for speech and text alike.

    result = fit(model, train_loader, loss_step, config.train, "work/runs/x", evaluate=evaluate)

``loss_step(model, batch) -> (loss, logs)`` is the only task-specific piece: CTC for ASR,
cross-entropy for a text classifier. ``evaluate(model) -> {"dev/per": 0.21, ...}`` is optional.
A task with several optimizers (a GAN vocoder) passes ``{name: step}`` and ``optimizer={name: ...}``
instead: each step updates its own optimizer, in order, on the same batch. ``train.ema_decay``
keeps an average of the weights that evaluation sees and checkpoints hold.

Built on ``accelerate.Accelerator`` for devices, mixed precision and multi-GPU (``accelerate
launch`` / ``torchrun``). The DataLoader is deliberately *not* prepared: polyvox batch samplers
shard by rank themselves, and an unprepared loader keeps the batch order under our control,
which is what makes resume exact. A run killed at any point and resumed ends with the same
weights, bit for bit (on CPU), as one that was never interrupted.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from polyvox.data.collate import is_empty_batch
from polyvox.train import checkpoint as ckpt
from polyvox.train.config import TrainConfig, config_to_dict
from polyvox.train.logging import METRICS_FILE, RunLogger

LossStep = Callable[[torch.nn.Module, Any], "tuple[torch.Tensor, Mapping[str, float]]"]


@dataclass
class FitResult:
    step: int  # optimizer steps done
    epoch: int  # epoch the data stream is in
    best_metric: float | None  # best value of config.best_metric seen
    best_step: int | None
    stopped_early: bool
    history: list[dict] = field(default_factory=list)  # one {"step": N, **evaluate()} per evaluation
    run_dir: Path | None = None
    last_checkpoint: Path | None = None
    best_checkpoint: Path | None = None
    metrics_path: Path | None = None


def load_best(model: torch.nn.Module, result: FitResult, *, ema_of: str | None = None) -> Path | None:
    """Load the best dev checkpoint's weights into ``model`` (the last step's stay when there is none).

    ``ema_of`` (a run with ``train.ema_decay``: its ``train.ema_of``, "" for the whole model) loads the weight
    average into that submodule instead of the trained weights."""
    if result.best_checkpoint is None:
        return None
    from safetensors.torch import load_model

    from polyvox.train.runs import MODEL_FILE

    load_model(model, str(result.best_checkpoint / MODEL_FILE))
    if ema_of is not None:
        load_ema_weights(model.get_submodule(ema_of), result.best_checkpoint)
    return result.best_checkpoint


def load_ema_weights(module: torch.nn.Module, checkpoint: Path) -> None:
    """Copy a checkpoint's ``ema.safetensors`` (the weight average) into ``module``."""
    from polyvox.train.ema import WeightAverage

    ema = WeightAverage(module, 0.5)  # the decay is not used: the average is read, not updated
    ckpt.load_ema(ema, checkpoint)
    ema.copy_to_module()


def seed_everything(seed: int) -> None:
    """Seed python, numpy, torch and CUDA RNGs (call before building the model)."""
    from accelerate.utils import set_seed

    set_seed(seed)


def init_distributed(cpu: bool = False) -> tuple[int, int]:
    """Join the process group started by ``accelerate launch`` / ``torchrun``; returns (rank, world_size).

    Call it before building rank-sharded batch samplers (they read the rank from
    ``torch.distributed``); :func:`fit` reuses the same state. A no-op for a single process."""
    from accelerate import PartialState

    state = PartialState(cpu=cpu)
    return state.process_index, state.num_processes


def resolve_mixed_precision(config: TrainConfig) -> str:
    """"auto" -> bf16 on CUDA when the GPU supports it, else full fp32."""
    if config.mixed_precision != "auto":
        return config.mixed_precision
    cuda = torch.cuda.is_available() and not config.cpu
    return "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices (dim >= 2) only, not on biases and norm gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, betas=tuple(config.betas),
                             fused=config.fused_optimizer or None)


def lr_factor(step: int, *, warmup: int, total: int, schedule: str) -> float:
    """LR multiplier at ``step``: linear warmup to 1, then linear/cosine decay to 0 or constant."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer, config: TrainConfig, total_steps: int):
    from functools import partial

    fn = partial(lr_factor, warmup=config.warmup_steps, total=total_steps, schedule=config.schedule)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)


def total_steps(config: TrainConfig, train_loader) -> int:
    """Optimizer steps to run: max_steps, or max_epochs worth of batches if that comes first."""
    steps = [config.max_steps] if config.max_steps else []
    if config.max_epochs:
        try:
            steps.append(math.ceil(config.max_epochs * len(train_loader) / config.grad_accum))
        except TypeError:
            if not config.max_steps:
                raise ValueError("train.max_epochs needs a train loader with a length; set train.max_steps") from None
    return min(steps)


def _batch_rows(batch: Any) -> int | None:
    if isinstance(batch, Mapping):
        batch = next((v for v in batch.values() if isinstance(v, torch.Tensor) and v.dim() > 0), None)
    elif isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        batch = batch[0]
    return int(batch.shape[0]) if isinstance(batch, torch.Tensor) and batch.dim() > 0 else None


class _Window:
    """Running sums between two log rows; the loss stays a tensor so no step waits on the GPU."""

    def __init__(self):
        self.loss, self.n, self.rows, self.logs, self.grad_norm = 0.0, 0, 0, {}, None
        self.t0 = time.perf_counter()

    def add(self, loss: torch.Tensor | None, logs: Mapping[str, float], rows: int | None):
        """``loss`` None: logs only (the earlier steps of a several-optimizer task)."""
        if loss is not None:
            self.loss = self.loss + loss.detach().float()
            self.n += 1
            self.rows += rows or 0
        for k, v in logs.items():  # tensors stay on the device until the log row (no per-step sync)
            v = v.detach().float() if isinstance(v, torch.Tensor) else float(v)
            self.logs[k] = self.logs.get(k, 0.0) + v

    def row(self, accelerator, lr: float, epoch: int) -> dict:
        mean = torch.as_tensor(self.loss / max(self.n, 1), device=accelerator.device)
        row = {"train/loss": accelerator.reduce(mean, "mean").item(), "train/lr": lr, "train/epoch": epoch}
        row.update({f"train/{k}": float(v) / max(self.n, 1) for k, v in self.logs.items()})
        if self.grad_norm is not None:
            row["train/grad_norm"] = float(self.grad_norm)
        if self.rows:
            row["train/items_per_s"] = self.rows * accelerator.num_processes / (time.perf_counter() - self.t0)
        return row


class BatchStream:
    """Endless iterator over ``loader``, epoch after epoch, that can save and restore its position.

    Position = (epoch, batches taken this epoch, the batch sampler's own ``state_dict()`` if it
    has one, the loader's generator at the start of the epoch). Creating a DataLoader iterator
    draws a worker seed from the loader's generator, or from the *global* torch RNG when it has
    none; we create iterators under ``fork_rng`` so that never shifts the model's dropout RNG.
    """

    def __init__(self, loader):
        self.loader = loader
        self.sampler = loader.batch_sampler if loader.batch_sampler is not None else loader.sampler
        self.epoch, self.taken, self.it, self.gen_state = 0, 0, None, None
        stateful = hasattr(self.sampler, "state_dict") and hasattr(self.sampler, "load_state_dict")
        inner = getattr(self.sampler, "sampler", None)
        if not stateful and isinstance(inner, torch.utils.data.RandomSampler) and inner.generator is None \
                and loader.generator is None:
            warnings.warn("train loader shuffles with the global RNG: give the DataLoader a seeded "
                          "torch.Generator (generator=...) for an exactly reproducible resume")
        self.stateful = stateful

    def _set_epoch(self):
        # the dataset too: per-utterance augmentation is seeded by the epoch (polyvox.data.augment)
        for obj in (self.sampler, getattr(self.sampler, "sampler", None), getattr(self.loader, "dataset", None)):
            if hasattr(obj, "set_epoch"):
                obj.set_epoch(self.epoch)

    def _new_iterator(self):
        with torch.random.fork_rng(devices=[]):
            self.it = iter(self.loader)

    def _start_epoch(self):
        self._set_epoch()
        gen = self.loader.generator
        self.gen_state = gen.get_state() if gen is not None else None
        self.taken = 0
        self._new_iterator()

    def __iter__(self):
        return self

    def __next__(self):
        if self.it is None:
            self._start_epoch()
        try:
            batch = next(self.it)
        except StopIteration:
            self.epoch += 1
            self._start_epoch()
            try:
                batch = next(self.it)
            except StopIteration:
                raise RuntimeError("the train loader yielded no batches in a whole epoch") from None
        self.taken += 1
        return batch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "taken": self.taken, "sampler": self._sampler_state(), "generator": self.gen_state}

    def _sampler_state(self):
        if not self.stateful or self.it is None:
            return None
        # A DataLoader with workers draws from the sampler ahead of the loop: samplers that can
        # (polyvox.data.sampler.DurationBucketSampler) are told how many batches were really used.
        if "batches_done" in inspect.signature(self.sampler.state_dict).parameters:
            state = self.sampler.state_dict(batches_done=self.taken)
            if isinstance(state, dict) and "epoch" in state:
                state["epoch"] = self.epoch  # prefetch may already have moved it to the next epoch
            return state
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Continue at the saved position. Call *before* restoring the RNG state: replaying
        batches (samplers without state) may run dataset code that draws random numbers."""
        self.epoch, self.taken = state["epoch"], state["taken"]
        gen = self.loader.generator
        if gen is not None and state.get("generator") is not None:
            gen.set_state(state["generator"])
        self.gen_state = state.get("generator")
        self._set_epoch()
        if self.stateful and state.get("sampler") is not None:
            self.sampler.load_state_dict(state["sampler"])  # the sampler continues mid-epoch itself
            self._new_iterator()
        else:  # no sampler state: replay the epoch from its start and skip what was consumed
            self._new_iterator()
            for _ in range(self.taken):
                next(self.it)


def fit(
    model: torch.nn.Module,
    train_loader,
    loss_step: LossStep | Mapping[str, Callable],
    config: TrainConfig,
    run_dir: str | Path,
    *,
    evaluate: Callable[[torch.nn.Module], Mapping[str, float]] | None = None,
    optimizer: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer] | None = None,
    resume: bool = True,
) -> FitResult:
    """Train ``model`` for ``config.max_steps`` optimizer steps (or ``max_epochs``).

    Args:
        model: any ``nn.Module``; moved to the accelerator's device here.
        train_loader: a DataLoader whose batch sampler already shards by rank (not prepared).
            A batch sampler with ``state_dict()/load_state_dict()/set_epoch()`` resumes mid-epoch.
        loss_step: ``(model, batch) -> (scalar loss, {"name": float})``; batch is on the device.
            Or, for a task with several optimizers, ``{name: step}`` with
            ``step(model, batch, shared) -> (loss, logs)``: run in that order on every batch, each followed by
            the update of ``optimizer[name]`` (a GAN: ``{"discriminator": ..., "generator": ...}``); ``shared``
            is one dict per batch the steps pass tensors through (the generated audio). Logs are prefixed with
            the step's name; ``train/loss`` is the last step's loss.
        config: the ``TrainConfig``.
        run_dir: checkpoints/, metrics.jsonl, tb/, loss_curve.png go here.
        evaluate: ``(model) -> {"dev/per": ...}``, run under ``torch.no_grad()`` in eval mode
            every ``eval_every`` steps and at the end, on every process (the main one's
            result is used everywhere); with ``ema_decay`` it sees the averaged weights.
        optimizer: defaults to AdamW(lr, betas, weight_decay) on the model's parameters; a ``{name: optimizer}``
            mapping (the names of ``loss_step``) for several. Each gets the config's LR schedule.
        resume: continue from the newest complete checkpoint in ``run_dir`` if there is one;
            ``False`` refuses a ``run_dir`` that already has checkpoints.
    """
    from accelerate import Accelerator
    from accelerate.utils import broadcast_object_list, send_to_device

    from polyvox.train.ema import WeightAverage

    run_dir = Path(run_dir)
    accelerator = Accelerator(cpu=config.cpu, mixed_precision=resolve_mixed_precision(config),
                              step_scheduler_with_optimizer=False)  # we step it ourselves, once per update
    seed_everything(config.seed)
    n_steps = total_steps(config, train_loader)
    several = isinstance(loss_step, Mapping)
    steps = dict(loss_step) if several else {"model": lambda m, batch, shared: loss_step(m, batch)}
    optimizers = dict(optimizer) if isinstance(optimizer, Mapping) else {"model": optimizer or make_optimizer(model,
                                                                                                              config)}
    if list(optimizers) != list(steps):
        raise ValueError(f"fit: loss steps {list(steps)} and optimizers {list(optimizers)} must have the same names")
    schedulers = {n: make_scheduler(o, config, n_steps) for n, o in optimizers.items()}
    if several:
        # Not wrapped in DDP: each step calls its own submodules (model.generator(...)), which DDP's single
        # forward would not see; gradients are averaged across processes by hand before each update instead.
        model = model.to(accelerator.device)
        prepared = accelerator.prepare(*optimizers.values(), *schedulers.values())
        optimizers = dict(zip(optimizers, prepared[:len(optimizers)]))
        schedulers = dict(zip(schedulers, prepared[len(optimizers):]))
    else:
        model, opt, sched = accelerator.prepare(model, optimizers["model"], schedulers["model"])
        optimizers, schedulers = {"model": opt}, {"model": sched}
    saved_opt = optimizers if several else optimizers["model"]  # the checkpoint files keep the one-optimizer layout
    saved_sched = schedulers if several else schedulers["model"]
    ema = None
    if config.ema_decay > 0:
        ema = WeightAverage(accelerator.unwrap_model(model).get_submodule(config.ema_of), config.ema_decay)
    stream = BatchStream(train_loader)
    sampler_world = getattr(stream.sampler, "world_size", None)
    if isinstance(sampler_world, int) and sampler_world != accelerator.num_processes:
        raise RuntimeError(f"the train batch sampler shards for {sampler_world} process(es) but {accelerator.num_processes} "
                           "are running: call polyvox.train.loop.init_distributed() before building it")

    # Everything needed to continue exactly where a checkpoint left off.
    state = {"step": 0, "best": None, "best_step": None, "bad_evals": 0, "stopped_early": False,
             "history": [], "metrics": {}}
    if not resume and ckpt.list_checkpoints(run_dir):  # mixing two runs' checkpoints would corrupt both
        raise RuntimeError(f"{run_dir} already has checkpoints; resume=True continues it, or use a new run_dir")
    resumed = ckpt.load_latest(accelerator, run_dir, model, saved_opt, saved_sched, ema) if resume else None
    if resumed:
        path, saved, rank_state = resumed
        state.update({k: saved[k] for k in state if k in saved})
        stream.load_state_dict(rank_state["data"])
        ckpt.set_rng_state(rank_state["rng"])  # last: replaying data above may draw random numbers
        if accelerator.is_main_process:
            print(f"resuming from {path} (step {state['step']})", flush=True)
    logger = RunLogger(run_dir, total_steps=n_steps, start_step=state["step"], enabled=accelerator.is_main_process)
    better = (lambda a, b: a < b) if config.best_mode == "min" else (lambda a, b: a > b)

    def next_batch():
        while is_empty_batch(batch := next(stream)):  # all clips skipped: draw another
            pass
        return send_to_device(batch, accelerator.device)

    def run_eval() -> dict:
        model.eval()
        with torch.no_grad(), ema.swapped_in() if ema is not None else nullcontext():
            metrics = dict(evaluate(accelerator.unwrap_model(model)))
        model.train()
        if accelerator.num_processes > 1:  # every process must take the same early-stop/save decisions
            metrics = broadcast_object_list([metrics])[0]
        if config.best_metric and config.best_metric not in metrics:
            raise KeyError(f"train.best_metric {config.best_metric!r} not in evaluate() output: {sorted(metrics)}")
        return metrics

    def save(step: int) -> Path:
        trainer_state = {**state, "epoch": stream.epoch, "best_metric_name": config.best_metric,
                         "best_mode": config.best_mode, "total_steps": n_steps, "train": config_to_dict(config),
                         "sampler_state": stream.state_dict()["sampler"]}
        path = ckpt.save_checkpoint(accelerator, run_dir, step, model, saved_opt, saved_sched,
                                    trainer_state, {"data": stream.state_dict()}, ema)
        if accelerator.is_main_process:
            ckpt.prune_checkpoints(run_dir, config.keep_last, config.keep_best, config.best_metric, config.best_mode)
        accelerator.wait_for_everyone()
        return path

    def parameters(opt) -> list[torch.Tensor]:
        return [p for group in opt.param_groups for p in group["params"]]

    model.train()
    try:
        window = _Window()
        nonfinite_in_a_row = 0
        while state["step"] < n_steps and not state["stopped_early"]:
            # One optimizer step = grad_accum micro-batches; DDP all-reduces on the last one only. A task with
            # several optimizers runs each of its steps over the same micro-batches, updating after each.
            batches, shared, skipped = [], [], []
            for index, (name, step_fn) in enumerate(steps.items()):
                opt, last_step = optimizers[name], index == len(steps) - 1
                losses, ids = [], []
                for micro in range(config.grad_accum):
                    if index == 0:  # batches are drawn once, by the first step
                        batches.append(next_batch())
                        shared.append({})
                    batch, last = batches[micro], micro == config.grad_accum - 1
                    with nullcontext() if last or several else accelerator.no_sync(model):
                        with accelerator.autocast():
                            loss, logs = step_fn(model, batch, shared[micro])
                        accelerator.backward(loss / config.grad_accum)
                    if several:
                        logs = {f"{name}/{k}": v for k, v in {"loss": loss, **logs}.items()}
                    losses.append((loss.detach(), logs, _batch_rows(batch)))
                    ids += list(batch.get("ids", [])) if isinstance(batch, Mapping) else []
                if several and accelerator.num_processes > 1:
                    for p in parameters(opt):
                        if p.grad is not None:
                            torch.distributed.all_reduce(p.grad)
                            p.grad /= accelerator.num_processes
                finite = True
                if config.nonfinite_patience:  # every process decides alike: skip when any of them saw inf/NaN
                    all_finite = torch.isfinite(torch.stack([l for l, _, _ in losses])).all().float()
                    finite = bool(accelerator.reduce(all_finite, "min") > 0)
                if finite:
                    for loss, logs, rows in losses:
                        window.add(loss if last_step else None, logs, rows)
                    if config.grad_clip > 0:
                        norm = accelerator.clip_grad_norm_(parameters(opt), config.grad_clip)
                        if last_step:
                            window.grad_norm = norm
                    opt.step()
                    if not opt.step_was_skipped:  # fp16 overflow: no update, so no LR step either
                        schedulers[name].step()
                else:  # no update from a non-finite loss: it would turn every weight into NaN
                    skipped.append(name)
                # every gradient, also those this step's loss left in other optimizers' parameters
                for o in optimizers.values():
                    o.zero_grad(set_to_none=True)
            if ema is not None and len(skipped) < len(steps):
                ema.update()
            if skipped:
                nonfinite_in_a_row += 1
                shown = ", ".join(map(str, ids[:8])) + (" ..." if len(ids) > 8 else "")
                what = f" ({', '.join(skipped)})" if several else ""
                logger.write(f"step {state['step'] + 1}: non-finite loss, update skipped{what} (batch: "
                             f"{shown or 'no ids'})")
                if nonfinite_in_a_row >= config.nonfinite_patience:
                    raise RuntimeError(f"{nonfinite_in_a_row} steps in a row had a non-finite loss (last batch: "
                                       f"{shown or 'no ids'}); the run diverged or its data is broken. Lower "
                                       f"train.lr, check these clips, or resume from the last checkpoint in {run_dir}")
            else:
                nonfinite_in_a_row = 0
            state["step"] = step = state["step"] + 1
            state["metrics"] = {}

            # Log the mean over the micro-batches since the last row (loss averaged over processes).
            if step % config.log_every == 0 or step == n_steps:
                lr = list(schedulers.values())[-1].get_last_lr()[0]  # the last step's (the generator's)
                row = window.row(accelerator, lr, stream.epoch)
                logger.log(step, row)
                logger.progress(0, row["train/loss"], row.get("train/items_per_s"), row["train/lr"])
                window = _Window()
            logger.progress(1)

            # Evaluation, best metric, early stopping.
            improved = False
            if evaluate is not None and ((config.eval_every and step % config.eval_every == 0) or step == n_steps):
                metrics = run_eval()
                state["metrics"] = metrics
                state["history"].append({"step": step, **metrics})
                logger.log(step, metrics)
                logger.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
                if config.best_metric:
                    value = float(metrics[config.best_metric])
                    if state["best"] is None or better(value, state["best"]):
                        state.update(best=value, best_step=step, bad_evals=0)
                        improved = True
                    else:
                        state["bad_evals"] += 1
                        if config.early_stop_patience and state["bad_evals"] >= config.early_stop_patience:
                            state["stopped_early"] = True
                            logger.write(f"early stop: {config.best_metric} did not improve in {state['bad_evals']} "
                                         f"evaluations (best {state['best']:.4g} at step {state['best_step']})")

            # Checkpoint after eval, so it holds the RNG state the next step starts from.
            final = step >= n_steps or state["stopped_early"]
            if final or improved or (config.save_every and step % config.save_every == 0):
                save(step)
    finally:
        logger.close(plot=accelerator.is_main_process)

    best = ckpt.checkpoint_dir(run_dir, state["best_step"]) if state["best_step"] is not None else None
    return FitResult(
        step=state["step"], epoch=stream.epoch, best_metric=state["best"], best_step=state["best_step"],
        stopped_early=state["stopped_early"], history=list(state["history"]), run_dir=run_dir,
        last_checkpoint=ckpt.latest_checkpoint(run_dir),
        best_checkpoint=best if best is not None and best.is_dir() else None,
        metrics_path=run_dir / METRICS_FILE,
    )
