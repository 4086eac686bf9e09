"""fit(): exact resume, empty batches, early stopping, schedules, logs.

``make_toy`` builds a tiny regression task with a stateful duration-bucket batch sampler, dropout
(so the RNG matters) and "corrupt" clips whose batches collate to None. test_checkpoint.py runs
it in a subprocess that gets SIGKILLed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from polyvox.train.config import TrainConfig
from polyvox.train.loop import BatchStream, fit, is_empty_batch, lr_factor, seed_everything, total_steps


class _Crash(RuntimeError):
    pass


class ToyData(torch.utils.data.Dataset):
    """40 items; every 10th is a 'corrupt clip' (None) long enough to be batched alone."""

    def __init__(self, n=40):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x @ torch.randn(8, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
        self.durations = [9.0 if i % 10 == 0 else 1.0 + (i * 7 % 5) * 0.5 for i in range(n)]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return None if i % 10 == 0 else (self.x[i], self.y[i])


def collate(items):
    items = [it for it in items if it is not None]
    if not items:
        return None  # every clip of the batch was skipped
    return {"x": torch.stack([x for x, _ in items]), "y": torch.stack([y for _, y in items])}


def make_toy(sampler: str = "bucket", num_workers: int = 0, crash_at: int | None = None, sleep: float = 0.0):
    """(model, loader, loss_step, evaluate) for the toy task. ``crash_at``: raise on that loss_step call."""
    import time

    from polyvox.data.sampler import DurationBucketSampler

    seed_everything(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Dropout(0.2), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    data = ToyData()
    gen = torch.Generator().manual_seed(7)
    if sampler == "bucket":
        bs = DurationBucketSampler(data.durations, max_seconds=8.0, num_buckets=3, seed=5)
        loader = DataLoader(data, batch_sampler=bs, collate_fn=collate, num_workers=num_workers, generator=gen)
    else:  # plain shuffled loader: resumed by replaying the epoch
        loader = DataLoader(data, batch_size=6, shuffle=True, collate_fn=collate, num_workers=num_workers, generator=gen)
    calls = {"n": 0}

    def loss_step(model, batch):
        calls["n"] += 1
        if crash_at is not None and calls["n"] == crash_at:
            raise _Crash(f"simulated crash at loss_step call {crash_at}")
        if sleep:
            time.sleep(sleep)
        pred = model(batch["x"])
        return torch.nn.functional.mse_loss(pred, batch["y"]), {"rows": float(len(pred))}

    dev = ToyData(16)

    def evaluate(model):
        return {"dev/mse": torch.nn.functional.mse_loss(model(dev.x), dev.y).item()}

    return model, loader, loss_step, evaluate


TOY_CONFIG = dict(max_steps=24, lr=1e-2, grad_accum=2, warmup_steps=3, schedule="cosine", eval_every=6,
                  save_every=5, keep_last=2, keep_best=1, best_metric="dev/mse", log_every=4)


def _weights(run_dir: Path) -> dict:
    last = sorted((run_dir / "checkpoints").glob("step-*"))[-1]
    return load_file(str(last / "model.safetensors"))


def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


@pytest.mark.parametrize("sampler,workers", [("bucket", 0), ("shuffle", 0), ("bucket", 2)])
def test_resume_after_crash_is_bitwise_identical(tmp_path, sampler, workers):
    cfg = TrainConfig(**TOY_CONFIG)
    model, loader, loss_step, evaluate = make_toy(sampler, workers)
    ref = fit(model, loader, loss_step, cfg, tmp_path / "ref", evaluate=evaluate)
    assert ref.step == 24 and ref.epoch >= 2  # crossed epoch boundaries

    # Crash mid-accumulation of step 13 (last checkpoint: step 10), then resume with fresh objects.
    model, loader, loss_step, evaluate = make_toy(sampler, workers, crash_at=2 * 12 + 2)
    with pytest.raises(_Crash):
        fit(model, loader, loss_step, cfg, tmp_path / "run", evaluate=evaluate)
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir())[-1] == "step-0000010"
    model, loader, loss_step, evaluate = make_toy(sampler, workers)
    torch.nn.init.zeros_(model[0].weight)  # proves the weights come from the checkpoint
    res = fit(model, loader, loss_step, cfg, tmp_path / "run", evaluate=evaluate)

    _assert_same(_weights(tmp_path / "ref"), _weights(tmp_path / "run"))
    assert res.history == ref.history and res.best_step == ref.best_step
    rows = [json.loads(l) for l in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "dev/mse" in r] == [6, 12, 18, 24]  # no duplicated rows after resume


def test_finished_run_is_noop_and_resume_false_needs_fresh_dir(tmp_path):
    cfg = TrainConfig(**{**TOY_CONFIG, "max_steps": 6, "eval_every": 0, "save_every": 0})
    model, loader, loss_step, evaluate = make_toy()
    first = fit(model, loader, loss_step, cfg, tmp_path, evaluate=evaluate)
    model, loader, loss_step, evaluate = make_toy(crash_at=1)  # would crash if it trained again
    again = fit(model, loader, loss_step, cfg, tmp_path, evaluate=evaluate)
    assert again.step == 6 and again.history == first.history
    with pytest.raises(RuntimeError, match="already has checkpoints"):
        fit(model, loader, loss_step, cfg, tmp_path, evaluate=evaluate, resume=False)
    with pytest.raises(_Crash):  # a fresh directory trains from scratch
        fit(model, loader, loss_step, cfg, tmp_path / "new", evaluate=evaluate, resume=False)


def test_empty_batches_are_skipped(tmp_path):
    seen = []
    model, loader, loss_step, _ = make_toy()

    def recording_step(model, batch):
        seen.append(batch)
        return loss_step(model, batch)

    fit(model, loader, recording_step, TrainConfig(max_steps=30, log_every=5, keep_last=1), tmp_path)
    assert len(seen) == 30 and not any(is_empty_batch(b) for b in seen)
    assert is_empty_batch(None) and is_empty_batch({"wavs": torch.zeros(0, 16000)})
    assert not is_empty_batch({"wavs": torch.zeros(2, 10)})


def test_early_stopping_and_best_checkpoint(tmp_path):
    values = iter([5.0, 4.0, 4.5, 4.2, 4.1, 3.0])
    model, loader, loss_step, _ = make_toy()
    cfg = TrainConfig(max_steps=100, eval_every=2, best_metric="dev/wer", early_stop_patience=3, keep_last=1,
                      keep_best=1, log_every=1)
    res = fit(model, loader, loss_step, cfg, tmp_path, evaluate=lambda m: {"dev/wer": next(values)})
    assert res.stopped_early and res.step == 10
    assert res.best_metric == 4.0 and res.best_step == 4
    assert res.best_checkpoint == tmp_path / "checkpoints/step-0000004" and res.best_checkpoint.is_dir()
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == ["step-0000004", "step-0000010"]


def test_max_mode_and_missing_metric(tmp_path):
    model, loader, loss_step, _ = make_toy()
    cfg = TrainConfig(max_steps=4, eval_every=2, best_metric="dev/acc", best_mode="max", log_every=2)
    accs = iter([0.5, 0.7])
    res = fit(model, loader, loss_step, cfg, tmp_path / "a", evaluate=lambda m: {"dev/acc": next(accs)})
    assert res.best_metric == 0.7 and res.best_step == 4
    with pytest.raises(KeyError, match="dev/acc"):
        fit(model, loader, loss_step, cfg, tmp_path / "b", evaluate=lambda m: {"dev/per": 0.1})


def test_logs_written(tmp_path):
    model, loader, loss_step, evaluate = make_toy()
    fit(model, loader, loss_step, TrainConfig(max_steps=8, log_every=2, eval_every=4), tmp_path, evaluate=evaluate)
    rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if "train/loss" in r]
    assert [r["step"] for r in train] == [2, 4, 6, 8]
    assert all(math.isfinite(r["train/loss"]) and r["train/items_per_s"] > 0 and "train/rows" in r for r in train)
    assert [r["step"] for r in rows if "dev/mse" in r] == [4, 8]
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    png = tmp_path / "loss_curve.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lr_schedules():
    kw = dict(warmup=4, total=14)
    assert [round(lr_factor(s, schedule="linear", **kw), 3) for s in range(4)] == [0.2, 0.4, 0.6, 0.8]
    assert lr_factor(4, schedule="linear", **kw) == 1.0 and lr_factor(14, schedule="linear", **kw) == 0.0
    assert lr_factor(9, schedule="cosine", **kw) == pytest.approx(0.5)
    assert lr_factor(13, schedule="constant", **kw) == 1.0


def test_total_steps_from_epochs():
    _, loader, _, _ = make_toy()
    n = len(loader)
    assert total_steps(TrainConfig(max_steps=0, max_epochs=3, grad_accum=2), loader) == math.ceil(3 * n / 2)
    assert total_steps(TrainConfig(max_steps=5, max_epochs=3), loader) == 5


def test_batch_stream_iterator_creation_keeps_global_rng():
    _, loader, _, _ = make_toy("shuffle")
    loader = DataLoader(loader.dataset, batch_size=6, shuffle=True, collate_fn=collate)  # no generator of its own
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="generator"):
        stream = BatchStream(loader)
    stream._new_iterator()
    assert torch.equal(torch.rand(3), expected)


def test_sampler_built_for_other_world_size_is_refused(tmp_path):
    from polyvox.data.sampler import DurationBucketSampler

    _, loader, loss_step, _ = make_toy()
    sharded = DurationBucketSampler(loader.dataset.durations, max_seconds=8.0, rank=0, world_size=2)
    loader = DataLoader(loader.dataset, batch_sampler=sharded, collate_fn=collate)
    with pytest.raises(RuntimeError, match="init_distributed"):
        fit(torch.nn.Linear(8, 1), loader, loss_step, TrainConfig(max_steps=2), tmp_path)


def test_nonfinite_loss_skips_the_update_and_too_many_stop_the_run(tmp_path, capsys):
    model, loader, loss_step, _ = make_toy()
    calls = {"n": 0}

    def sometimes_nan(model, batch):
        calls["n"] += 1
        loss, logs = loss_step(model, batch)
        return (loss * float("nan") if calls["n"] in (3, 4) else loss), logs

    fit(model, loader, sometimes_nan, TrainConfig(max_steps=8, log_every=1), tmp_path / "a")
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the two NaN steps did not update
    printed = capsys.readouterr()
    assert "step 3: non-finite loss, update skipped" in printed.out + printed.err

    model, loader, loss_step, _ = make_toy()
    always_nan = lambda m, b: (loss_step(m, b)[0] * float("nan"), {})
    with pytest.raises(RuntimeError, match="3 steps in a row had a non-finite loss"):
        fit(model, loader, always_nan, TrainConfig(max_steps=8, nonfinite_patience=3), tmp_path / "b")


def test_fused_optimizer_is_a_setting_and_trains_like_the_default():
    from polyvox.train.loop import make_optimizer

    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 2), torch.nn.Linear(4, 2)
    b.load_state_dict(a.state_dict())
    opt_a = make_optimizer(a, TrainConfig(lr=0.1))
    opt_b = make_optimizer(b, TrainConfig(lr=0.1, fused_optimizer=True))
    assert opt_b.defaults["fused"] and not opt_a.defaults["fused"]
    x = torch.randn(8, 4)
    for model, opt in ((a, opt_a), (b, opt_b)):
        for _ in range(3):
            model(x).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert torch.allclose(a.weight, b.weight, atol=1e-5)  # the same algorithm, other rounding


def test_a_sub_run_of_another_config_starts_fresh(tmp_path):
    from polyvox.train.runs import sub_run_dir

    run = sub_run_dir(tmp_path / "seed-0", {"lr": 1e-3})
    (run / "checkpoints").mkdir()
    assert (sub_run_dir(run, {"lr": 1e-3}) / "checkpoints").exists()  # interrupted, same config: resumed
    assert not (sub_run_dir(run, {"lr": 2e-3}) / "checkpoints").exists()  # another config: its checkpoints gone
    (run / "checkpoints").mkdir()
    (run / "recipe_config.json").unlink()  # a folder from before the stamp: not trusted
    assert not (sub_run_dir(run, {"lr": 2e-3}) / "checkpoints").exists()
