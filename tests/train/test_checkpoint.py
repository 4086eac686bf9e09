"""Checkpoints: SIGKILL + resume is bitwise exact, broken checkpoints are skipped, retention,
weight averaging and the ``polyvox average`` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from polyvox.train import checkpoint as ckpt
from polyvox.train.config import TrainConfig
from polyvox.train.loop import fit

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parents[1]

SCRIPT = """
import os, sys
sys.path.insert(0, {tests!r})
from test_loop import make_toy, TOY_CONFIG
from polyvox.train.config import TrainConfig
from polyvox.train.loop import fit

model, loader, loss_step, evaluate = make_toy("bucket", sleep=float(os.environ.get("TOY_SLEEP", "0")))
cfg = TrainConfig(**{{**TOY_CONFIG, "max_steps": 40, "save_every": 4, "log_every": 1}})
fit(model, loader, loss_step, cfg, sys.argv[1], evaluate=evaluate)
"""


def _train(script: Path, run_dir: Path, log: Path, sleep: float = 0.0) -> subprocess.Popen:
    """Start a training process; its output goes to ``log`` (a pipe could fill up and block it)."""
    env = {**os.environ, "TOY_SLEEP": str(sleep), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, str(script), str(run_dir)], env=env, cwd=ROOT,
                                stdout=f, stderr=subprocess.STDOUT)


def _last_logged_step(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    steps = [0]
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                steps.append(json.loads(line)["step"])
            except (ValueError, KeyError):
                pass
    return max(steps)


@pytest.mark.slow
def test_sigkill_and_resume_is_bitwise_identical(tmp_path):
    script = tmp_path / "train_toy.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))

    ref = _train(script, tmp_path / "ref", tmp_path / "ref.log")
    victim = _train(script, tmp_path / "run", tmp_path / "victim.log", sleep=0.05)
    deadline = time.time() + 120
    # Kill once a checkpoint exists and a few more steps ran past it (mid-interval, not at a save).
    while time.time() < deadline:
        ckpts = ckpt.list_checkpoints(tmp_path / "run")
        if ckpts and _last_logged_step(tmp_path / "run") >= 14:
            break
        assert victim.poll() is None, (tmp_path / "victim.log").read_text()[-2000:]
        time.sleep(0.02)
    else:
        pytest.fail("training never reached step 14")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = _last_logged_step(tmp_path / "run")
    assert 14 <= killed_at < 40, killed_at

    resumed = _train(script, tmp_path / "run", tmp_path / "resumed.log")
    for p, log in ((ref, "ref.log"), (resumed, "resumed.log")):
        p.wait(timeout=120)
        assert p.returncode == 0, (tmp_path / log).read_text()[-3000:]
    assert "resuming from" in (tmp_path / "resumed.log").read_text()
    a = load_file(str(ckpt.latest_checkpoint(tmp_path / "ref") / "model.safetensors"))
    b = load_file(str(ckpt.latest_checkpoint(tmp_path / "run") / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ref_state = ckpt.read_trainer_state(ckpt.latest_checkpoint(tmp_path / "ref"))
    run_state = ckpt.read_trainer_state(ckpt.latest_checkpoint(tmp_path / "run"))
    assert ref_state["step"] == run_state["step"] == 40 and ref_state["history"] == run_state["history"]


def _toy_run(run_dir: Path, max_steps: int = 12, **cfg):
    from tests.train.test_loop import make_toy

    model, loader, loss_step, evaluate = make_toy()
    config = TrainConfig(**{"max_steps": max_steps, "save_every": 3, "eval_every": 3, "keep_last": 10,
                            "best_metric": "dev/mse", "log_every": 3, "schedule": "constant", **cfg})
    return fit(model, loader, loss_step, config, run_dir, evaluate=evaluate)


def test_partial_and_corrupt_checkpoints_are_skipped(tmp_path):
    _toy_run(tmp_path, max_steps=6)  # checkpoints at 3 and 6
    root = tmp_path / "checkpoints"
    # A save killed half-way leaves a .tmp dir; a corrupt step-9 has a truncated model file.
    partial = root / ".tmp-step-0000009"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\x00" * 10)
    corrupt = root / "step-0000009"
    corrupt.mkdir()
    for f in ("optimizer.pt", "scheduler.pt", "rng_state_0.pt"):
        (corrupt / f).write_bytes((root / "step-0000006" / f).read_bytes())
    (corrupt / "trainer_state.json").write_text((root / "step-0000006/trainer_state.json").read_text())
    (corrupt / "model.safetensors").write_bytes((root / "step-0000006/model.safetensors").read_bytes()[:100])
    missing = root / "step-0000010"  # no trainer_state.json: never a complete checkpoint
    missing.mkdir()
    assert ckpt.list_checkpoints(tmp_path)[-1] == corrupt

    with pytest.warns(UserWarning, match="step-0000009: cannot load"):
        res = _toy_run(tmp_path, max_steps=8)
    assert res.step == 8
    assert not partial.exists()
    # Resumed from step 6 (corrupt step 9 skipped; constant LR): same weights as a clean 8-step run.
    clean = _toy_run(tmp_path / "clean", max_steps=8)
    a = load_file(str(clean.last_checkpoint / "model.safetensors"))
    b = load_file(str(tmp_path / "checkpoints/step-0000008/model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_retention_keeps_last_and_best(tmp_path):
    root = tmp_path / "checkpoints"
    for step, mse in [(1, 5.0), (2, 1.0), (3, 3.0), (4, 2.0), (5, 4.0), (6, 6.0)]:
        d = root / f"step-{step:07d}"
        d.mkdir(parents=True)
        for f in ckpt._REQUIRED:
            (d / f).write_text("{}")
        (d / "trainer_state.json").write_text(json.dumps({"step": step, "metrics": {"dev/per": mse}}))
    deleted = ckpt.prune_checkpoints(tmp_path, keep_last=2, keep_best=2, metric="dev/per", mode="min")
    assert sorted(p.name for p in deleted) == ["step-0000001", "step-0000003"]
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-0000002", "step-0000004",
                                                                  "step-0000005", "step-0000006"]
    # keep_best=0 still never deletes the single best
    ckpt.prune_checkpoints(tmp_path, keep_last=1, keep_best=0, metric="dev/per")
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-0000002", "step-0000006"]
    assert ckpt.best_checkpoints(tmp_path, 1, "dev/per", "max")[0].name == "step-0000006"


def test_average_checkpoints(tmp_path):
    files = []
    for i in range(3):
        f = tmp_path / f"m{i}.safetensors"
        save_file({"w": torch.full((2, 2), float(i), dtype=torch.bfloat16), "n": torch.tensor([i])}, str(f))
        files.append(f)
    avg = ckpt.average_checkpoints(files)
    assert avg["w"].dtype == torch.bfloat16 and torch.equal(avg["w"], torch.ones(2, 2, dtype=torch.bfloat16))
    assert avg["n"].item() == 2  # integer buffers come from the last
    save_file({"other": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="tensor names differ"):
        ckpt.average_checkpoints([files[0], tmp_path / "bad.safetensors"])


def test_average_command(tmp_path):
    _toy_run(tmp_path / "run")  # checkpoints at 3, 6, 9, 12, each with dev/mse
    paths = ckpt.list_checkpoints(tmp_path / "run")
    weights = [load_file(str(p / "model.safetensors")) for p in paths]
    out = tmp_path / "avg.safetensors"
    from polyvox.cli import main

    assert main(["average", str(tmp_path / "run"), "--last", "2", "--out", str(out)]) == 0
    got = load_file(str(out))
    for k in got:
        expect = ((weights[-1][k].double() + weights[-2][k].double()) / 2).to(got[k].dtype)
        assert torch.equal(got[k], expect)
    best = ckpt.select_checkpoints(tmp_path / "run", best=2)
    mses = {p: ckpt.read_trainer_state(p)["metrics"]["dev/mse"] for p in paths}
    assert best == sorted(paths, key=mses.get)[:2]
    assert main(["average", str(tmp_path / "run"), "--best", "2", "--out", str(out)]) == 0
    with pytest.raises(SystemExit):
        main(["average", str(tmp_path / "run"), "--out", str(out)])  # neither --last nor --best


def test_rng_state_roundtrip():
    import random

    import numpy as np

    state = ckpt.rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1))
    ckpt.set_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(1))
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])


DDP_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from polyvox.train.loop import init_distributed, fit
from polyvox.train.config import TrainConfig
rank, world = init_distributed(cpu=True)
from test_loop import make_toy, TOY_CONFIG
model, loader, loss_step, evaluate = make_toy("bucket")
assert loader.batch_sampler.world_size == world == 2
cfg = TrainConfig(**{{**TOY_CONFIG, "cpu": True, "schedule": "constant", "max_steps": int(sys.argv[2])}})
result = fit(model, loader, loss_step, cfg, sys.argv[1], evaluate=evaluate)
print("finished rank", rank, "step", result.step, flush=True)
"""


def _run_group(cmd, env, timeout):
    """subprocess.run that kills the whole process group on timeout (torchrun's workers too)."""
    p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr)


@pytest.mark.slow
def test_two_process_run_saves_and_resumes(tmp_path):
    """torchrun with 2 CPU processes (gloo): per-rank state in checkpoints, resume on both ranks."""
    script = tmp_path / "ddp_toy.py"
    script.write_text(DDP_SCRIPT.format(tests=str(TESTS)))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for steps in (6, 8):
        out = _run_group([*torchrun, str(script), str(tmp_path / "run"), str(steps)], env=env, timeout=180)
        assert out.returncode == 0, out.stderr[-3000:]
        assert out.stdout.count(f"finished rank") == 2 and f"rank 1 step {steps}" in out.stdout
    assert "resuming from" in out.stdout and "cannot load" not in out.stderr
    last = ckpt.latest_checkpoint(tmp_path / "run")
    assert last.name == "step-0000008" and {p.name for p in last.glob("rng_state_*.pt")} == {"rng_state_0.pt",
                                                                                          "rng_state_1.pt"}
