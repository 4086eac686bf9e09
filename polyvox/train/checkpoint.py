"""Checkpoints: one directory per saved step, written atomically, pruned to last-K + best-K.

Layout::

    RUN/checkpoints/step-0001200/
        model.safetensors        weights of the unwrapped model (safetensors.torch.save_model)
        optimizer.pt             optimizer.state_dict() ({name: state_dict()} for a task with several optimizers)
        scheduler.pt             LR scheduler state_dict() (likewise)
        ema.safetensors          the weight average (train.ema_decay > 0)
        scaler.pt                fp16 GradScaler state (fp16 runs only)
        rng_state_<rank>.pt      per process: python / numpy / torch CPU / CUDA RNG, data position
        trainer_state.json       step, epoch, best metric, eval history, early-stopping counter

A checkpoint is first written to ``.tmp-step-XXXXXXX`` and then renamed, so a ``step-*``
directory is always complete; a run killed while saving leaves only a ``.tmp-*`` directory,
which is ignored and removed on the next load. Checkpoints that still fail to load (a disk
problem, a hand-edited file) are skipped with a warning in favour of the previous one.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

CHECKPOINTS = "checkpoints"
EMA_FILE = "ema.safetensors"
_STEP_RE = re.compile(r"^step-(\d+)$")
_REQUIRED = ("model.safetensors", "trainer_state.json", "optimizer.pt", "scheduler.pt")


def checkpoint_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step-{step:07d}"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete ``step-*`` checkpoint directories of a run, oldest first."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP_RE.match(p.name))]
    return [p for _, p in sorted(found) if all((p / f).is_file() for f in _REQUIRED)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    ckpts = list_checkpoints(run_dir)
    return ckpts[-1] if ckpts else None


def read_trainer_state(path: str | Path) -> dict:
    with open(Path(path) / "trainer_state.json", encoding="utf-8") as f:
        return json.load(f)


def clean_partial(run_dir: str | Path) -> list[Path]:
    """Remove ``.tmp-*`` leftovers of saves (or deletions) that were interrupted."""
    root = Path(run_dir) / CHECKPOINTS
    removed = [p for p in root.glob(".tmp-*")] if root.is_dir() else []
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed


# ----------------------------------------------------------------------------------------------
# RNG state


def rng_state() -> dict:
    """Every RNG the training step may draw from, as tensors/lists (loadable with weights_only)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(_tuplify(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            warnings.warn(f"checkpoint has CUDA RNG for {len(cuda)} devices, this machine has "
                          f"{torch.cuda.device_count()}; CUDA RNG not restored")


def _tuplify(x):
    return tuple(_tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x


# ----------------------------------------------------------------------------------------------
# Save / load


def _states(obj) -> dict:
    """state_dict() of an optimizer / scheduler, or {name: state_dict()} of a mapping of them."""
    return {n: o.state_dict() for n, o in obj.items()} if isinstance(obj, Mapping) else obj.state_dict()


def _load_states(obj, state: dict, what: str) -> None:
    if not isinstance(obj, Mapping):
        obj.load_state_dict(state)
        return
    if set(state) != set(obj):
        raise KeyError(f"{what} holds {sorted(state)}, the task has {sorted(obj)}")
    for name, o in obj.items():
        o.load_state_dict(state[name])


def save_checkpoint(accelerator, run_dir: str | Path, step: int, model, optimizer, scheduler,
                    trainer_state: dict, rank_state: dict | None = None, ema=None) -> Path:
    """Write ``checkpoints/step-XXXXXXX`` atomically. Call on every process (it synchronises).

    ``optimizer`` / ``scheduler`` may be ``{name: ...}`` mappings; ``ema`` a :class:`polyvox.train.ema.WeightAverage`.
    ``rank_state`` is this process's extra state (data position); RNG state is added here."""
    from safetensors.torch import save_file, save_model

    final = checkpoint_dir(run_dir, step)
    tmp = final.with_name(".tmp-" + final.name)
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    torch.save({**(rank_state or {}), "rng": rng_state()}, tmp / f"rng_state_{accelerator.process_index}.pt")
    if accelerator.is_main_process:
        save_model(accelerator.unwrap_model(model), str(tmp / "model.safetensors"))
        torch.save(_states(optimizer), tmp / "optimizer.pt")
        torch.save(_states(scheduler), tmp / "scheduler.pt")
        if ema is not None:
            save_file(ema.state_dict(), str(tmp / EMA_FILE), metadata={"updates": str(ema.updates)})
        if accelerator.scaler is not None:
            torch.save(accelerator.scaler.state_dict(), tmp / "scaler.pt")
        with open(tmp / "trainer_state.json", "w", encoding="utf-8") as f:
            json.dump(trainer_state, f, indent=1, default=repr)  # real sampler state: rng_state_*.pt
            f.flush()
            os.fsync(f.fileno())
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if final.exists():  # same step saved twice (e.g. best + periodic): replace
            _remove(final)
        os.replace(tmp, final)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, path: str | Path, model, optimizer, scheduler, ema=None) -> tuple[dict, dict]:
    """Load weights, optimizer(s), scheduler(s) (and scaler, and the weight average) from ``path``.

    Returns ``(trainer_state, rank_state)``; ``rank_state["rng"]`` is this process's RNG state,
    for :func:`set_rng_state` once everything else is restored. Raises if a file is unreadable."""
    from safetensors.torch import load_model

    path = Path(path)
    trainer_state = read_trainer_state(path)
    rank_file = path / f"rng_state_{accelerator.process_index}.pt"
    if not rank_file.is_file():  # resumed with more processes than saved: borrow rank 0's
        rank_file = path / "rng_state_0.pt"
    rank_state = torch.load(rank_file, map_location="cpu", weights_only=True)
    load_model(accelerator.unwrap_model(model), str(path / "model.safetensors"))  # CPU tensors, copied into place
    _load_states(optimizer, torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True), "optimizer.pt")
    _load_states(scheduler, torch.load(path / "scheduler.pt", map_location="cpu", weights_only=True), "scheduler.pt")
    if ema is not None:
        load_ema(ema, path)
    if accelerator.scaler is not None and (path / "scaler.pt").is_file():
        accelerator.scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=True))
    return trainer_state, rank_state


def load_ema(ema, path: str | Path) -> None:
    """Restore a :class:`~polyvox.train.ema.WeightAverage` from a checkpoint's ``ema.safetensors``."""
    from safetensors import safe_open

    file = Path(path) / EMA_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{file}: missing; the run trains with train.ema_decay > 0")
    with safe_open(str(file), "pt") as f:
        ema.load_state_dict({k: f.get_tensor(k) for k in f.keys()}, int(f.metadata()["updates"]))


def load_latest(accelerator, run_dir: str | Path, model, optimizer, scheduler, ema=None):
    """Resume from the newest checkpoint that loads; returns ``(path, trainer_state, rank_state)``
    or ``None`` when the run has none. Interrupted saves are cleaned first."""
    if accelerator.is_main_process:
        clean_partial(run_dir)
    accelerator.wait_for_everyone()
    ckpts = list_checkpoints(run_dir)
    for path in reversed(ckpts):
        try:
            trainer_state, rank_state = load_checkpoint(accelerator, path, model, optimizer, scheduler, ema)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is skipped, loudly
            warnings.warn(f"{path}: cannot load checkpoint ({type(e).__name__}: {e}); trying the previous one")
            continue
        return path, trainer_state, rank_state
    if ckpts:  # never silently start over on top of a run that has checkpoints
        raise RuntimeError(f"{run_dir}: none of the {len(ckpts)} checkpoints could be loaded (see the warnings); "
                           "fix them, or train from scratch with resume=False / a new run directory")
    return None


# ----------------------------------------------------------------------------------------------
# Retention


def _metric_of(path: Path, metric: str | None) -> float | None:
    if not metric:
        return None
    try:
        value = read_trainer_state(path).get("metrics", {}).get(metric)
    except (OSError, ValueError):
        return None
    return float(value) if value is not None else None


def best_checkpoints(run_dir: str | Path, k: int, metric: str, mode: str = "min") -> list[Path]:
    """The ``k`` checkpoints with the best ``metric`` (evaluated at their step), best first."""
    scored = [(m, p) for p in list_checkpoints(run_dir) if (m := _metric_of(p, metric)) is not None]
    scored.sort(key=lambda mp: mp[0], reverse=(mode == "max"))  # stable: earlier step wins ties
    return [p for _, p in scored[:k]]


def prune_checkpoints(run_dir: str | Path, keep_last: int, keep_best: int,
                      metric: str | None = None, mode: str = "min") -> list[Path]:
    """Delete checkpoints that are neither among the last ``keep_last`` nor the best ``keep_best``.

    The newest (needed to resume) and the single best are always kept. Returns the deleted paths."""
    ckpts = list_checkpoints(run_dir)
    keep = set(ckpts[-max(keep_last, 1):])
    if metric:
        keep |= set(best_checkpoints(run_dir, max(keep_best, 1), metric, mode))
    deleted = [p for p in ckpts if p not in keep]
    for p in deleted:
        _remove(p)
    return deleted


def _remove(path: Path) -> None:
    # Rename first so an interrupted delete never leaves a half-deleted `step-*` directory.
    doomed = path.with_name(".tmp-del-" + path.name)
    os.replace(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Weight averaging


def _weights_file(path: str | Path) -> Path:
    path = Path(path)
    return path / "model.safetensors" if path.is_dir() else path


def average_checkpoints(paths: Sequence[str | Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the weights in several checkpoints (dirs or .safetensors files).

    Floating tensors are averaged in float64 and cast back; integer buffers (step counters,
    position ids) are taken from the last checkpoint. All must hold the same tensor names/shapes."""
    from safetensors.torch import load_file

    if not paths:
        raise ValueError("average_checkpoints: no checkpoints given")
    files = [_weights_file(p) for p in paths]
    first = load_file(str(files[0]))
    sums = {k: v.double() if v.is_floating_point() else v for k, v in first.items()}
    for f in files[1:]:
        sd = load_file(str(f))
        if sd.keys() != sums.keys():
            diff = sorted(set(sd) ^ set(sums))
            raise ValueError(f"{f}: tensor names differ from {files[0]}: {diff[:5]}")
        for k, v in sd.items():
            if v.shape != sums[k].shape:
                raise ValueError(f"{f}: tensor {k} has shape {tuple(v.shape)}, {files[0]} has {tuple(sums[k].shape)}")
            sums[k] = sums[k] + v.double() if v.is_floating_point() else v
    n = len(files)
    return {k: (v / n).to(first[k].dtype) if first[k].is_floating_point() else v for k, v in sums.items()}


def select_checkpoints(run_dir: str | Path, *, last: int | None = None, best: int | None = None,
                       metric: str | None = None, mode: str | None = None) -> list[Path]:
    """The last ``last`` or the best ``best`` checkpoints of a run. The metric and mode default to
    the run's own ``best_metric`` / ``best_mode`` (stored in trainer_state.json)."""
    if (last is None) == (best is None):
        raise ValueError("give exactly one of last=K or best=K")
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise FileNotFoundError(f"{run_dir}: no complete checkpoints under {CHECKPOINTS}/")
    if last is not None:
        chosen = ckpts[-last:]
    else:
        state = read_trainer_state(ckpts[-1])
        metric = metric or state.get("best_metric_name")
        mode = mode or state.get("best_mode", "min")
        if not metric:
            raise ValueError(f"{run_dir}: the run has no best_metric; pass metric= or use last=K")
        chosen = best_checkpoints(run_dir, best, metric, mode)
        if not chosen:
            raise ValueError(f"{run_dir}: no checkpoint carries metric {metric!r}")
    want = last if last is not None else best
    if len(chosen) < want:
        warnings.warn(f"{run_dir}: asked for {want} checkpoints, only {len(chosen)} available")
    return chosen


def average_run(run_dir: str | Path, *, last: int | None = None, best: int | None = None,
                out: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Average a run's last-K or best-K checkpoints; with ``out`` also write a .safetensors file."""
    from safetensors.torch import save_file

    state = average_checkpoints(select_checkpoints(run_dir, last=last, best=best))
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(out), metadata={"format": "pt"})
    return state

