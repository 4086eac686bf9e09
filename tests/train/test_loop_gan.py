"""fit() with several optimizers (a GAN: discriminator step, then generator step) and a weight average (EMA):
each step moves only its own parameters, resume is exact for every optimizer, scheduler and the EMA, and evaluation
sees the averaged weights."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from polyvox.train import checkpoint as ckpt
from polyvox.train.config import ConfigError, TrainConfig
from polyvox.train.ema import WeightAverage
from polyvox.train.loop import fit, load_best, seed_everything


class Gan(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.generator = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.1), torch.nn.Tanh(),
                                             torch.nn.Linear(16, 8))
        self.discriminator = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LeakyReLU(), torch.nn.Linear(16, 1))


def discriminator_step(model, batch, shared):
    shared["fake"] = model.generator(batch["z"])
    real, fake = model.discriminator(batch["x"]), model.discriminator(shared["fake"].detach())
    return ((real - 1) ** 2).mean() + (fake ** 2).mean(), {"real": real.mean().detach()}


def generator_step(model, batch, shared):
    adv = ((model.discriminator(shared["fake"]) - 1) ** 2).mean()
    return adv + torch.nn.functional.l1_loss(shared["fake"], batch["x"]), {"adv": adv.detach()}


STEPS = {"discriminator": discriminator_step, "generator": generator_step}


def make_gan():
    seed_everything(0)
    model = Gan()
    g = torch.Generator().manual_seed(3)
    data = [{"z": torch.randn(4, generator=g), "x": torch.randn(8, generator=g)} for _ in range(24)]
    loader = DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(1))
    optimizers = {"discriminator": torch.optim.AdamW(model.discriminator.parameters(), lr=2e-3, betas=(0.8, 0.99)),
                  "generator": torch.optim.AdamW(model.generator.parameters(), lr=1e-3, betas=(0.8, 0.99))}
    return model, loader, optimizers


def config(**kw) -> TrainConfig:
    base = dict(max_steps=8, warmup_steps=2, schedule="cosine", log_every=2, save_every=3, keep_last=5, cpu=True,
                ema_decay=0.9, ema_of="generator", eval_every=4)
    return TrainConfig(**{**base, **kw})


def state_of(run_dir):
    last = ckpt.latest_checkpoint(run_dir)
    return (load_file(str(last / "model.safetensors")), load_file(str(last / ckpt.EMA_FILE)),
            torch.load(last / "optimizer.pt", weights_only=True), torch.load(last / "scheduler.pt", weights_only=True))


def assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def test_each_step_updates_only_its_own_optimizer(tmp_path):
    model, loader, optimizers = make_gan()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []

    def frozen_generator_during_d(model, batch, shared):
        seen.append({k: v.clone() for k, v in model.generator.state_dict().items()})
        return discriminator_step(model, batch, shared)

    fit(model, loader, {"discriminator": frozen_generator_during_d, "generator": generator_step},
        config(max_steps=2, ema_decay=0.0, eval_every=0), tmp_path / "run", optimizer=optimizers)
    # at the second D step the generator had moved once (one G update), never during D's own update
    assert not torch.equal(seen[1]["0.weight"], before["generator.0.weight"])
    assert all(not torch.equal(model.state_dict()[k], before[k]) for k in before)
    rows = [r for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
            if "train/loss" in r]
    assert {"train/discriminator/loss", "train/generator/loss", "train/generator/adv"} <= set(rows[-1])


def test_resume_is_exact_for_both_optimizers_and_the_ema(tmp_path):
    model, loader, optimizers = make_gan()
    fit(model, loader, STEPS, config(), tmp_path / "straight", optimizer=optimizers, evaluate=lambda m: {"dev/x": 0.0})
    straight = state_of(tmp_path / "straight")

    model, loader, optimizers = make_gan()  # stopped inside step 5 (newest checkpoint: step 3), then resumed afresh
    cut = tmp_path / "cut"

    class Stop(Exception):
        pass

    calls = {"n": 0}

    def stopping_generator_step(model, batch, shared):
        calls["n"] += 1
        if calls["n"] == 5:  # inside step 5: the newest checkpoint is step 3
            raise Stop
        return generator_step(model, batch, shared)

    with pytest.raises(Stop):
        fit(model, loader, {"discriminator": discriminator_step, "generator": stopping_generator_step}, config(),
            cut, optimizer=optimizers, evaluate=lambda m: {"dev/x": 0.0})
    model, loader, optimizers = make_gan()
    result = fit(model, loader, STEPS, config(), cut, optimizer=optimizers, evaluate=lambda m: {"dev/x": 0.0})
    assert result.step == 8
    assert_same(straight, state_of(cut))


def test_evaluate_sees_the_averaged_weights_and_training_keeps_its_own(tmp_path):
    model, loader, optimizers = make_gan()
    seen = {}

    def evaluate(m):
        seen["w"] = m.generator[0].weight.detach().clone()
        return {"dev/x": float(seen["w"].sum())}

    result = fit(model, loader, STEPS, config(eval_every=0, best_metric="dev/x"), tmp_path / "run",
                 optimizer=optimizers, evaluate=evaluate)
    average = load_file(str(result.last_checkpoint / ckpt.EMA_FILE))
    trained = load_file(str(result.last_checkpoint / "model.safetensors"))
    assert torch.equal(seen["w"], average["0.weight"])
    assert not torch.equal(average["0.weight"], trained["generator.0.weight"])
    assert torch.equal(model.generator[0].weight.detach(), trained["generator.0.weight"])  # swapped back
    fresh = Gan()
    load_best(fresh, result, ema_of="generator")
    assert torch.equal(fresh.generator[0].weight, average["0.weight"])
    assert torch.equal(fresh.discriminator[0].weight, trained["discriminator.0.weight"])


def test_weight_average_math_and_swap():
    lin = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    ema = WeightAverage(lin, 0.5)
    ema.update()  # first update copies
    with torch.no_grad():
        lin.weight.fill_(3.0)
    ema.update()
    assert torch.allclose(ema.average["weight"], torch.full((1, 2), 2.0))
    with ema.swapped_in():
        assert torch.equal(lin.weight, torch.full((1, 2), 2.0))
    assert torch.equal(lin.weight, torch.full((1, 2), 3.0))


def test_mismatched_names_and_bad_decay_are_errors(tmp_path):
    model, loader, optimizers = make_gan()
    with pytest.raises(ValueError, match="same names"):
        fit(model, loader, {"generator": generator_step, "discriminator": discriminator_step}, config(),
            tmp_path / "r", optimizer=optimizers)
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


def make_sharded_gan():
    """make_gan, with a batch sampler that gives each process its own batches."""
    from polyvox.data.sampler import DurationBucketSampler

    model, _, optimizers = make_gan()
    g = torch.Generator().manual_seed(3)
    data = [{"z": torch.randn(4, generator=g), "x": torch.randn(8, generator=g)} for _ in range(24)]
    sampler = DurationBucketSampler([1.0] * len(data), max_seconds=4.0, num_buckets=1, seed=2)
    return model, DataLoader(data, batch_sampler=sampler), optimizers


GAN_DDP_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import torch
from polyvox.train.loop import init_distributed, fit
rank, world = init_distributed(cpu=True)
from test_loop_gan import make_sharded_gan, STEPS, config
model, loader, optimizers = make_sharded_gan()
assert loader.batch_sampler.world_size == world == 2
first = next(iter(loader))["x"].sum().item()
fit(model, loader, STEPS, config(max_steps=4), sys.argv[1], optimizer=optimizers)
weights = sum(float(p.double().sum()) for p in model.parameters())
print(f"rank {{rank}} first batch {{first:.6f}} weights {{weights:.12f}}", flush=True)
"""


@pytest.mark.slow
def test_two_processes_average_gradients_of_every_optimizer(tmp_path):
    """torchrun, 2 CPU processes (gloo): different batches on each rank, yet the same weights after training
    (the several-optimizer path averages gradients by hand; without it the ranks would drift apart)."""
    import os
    import re
    import sys
    from pathlib import Path

    from tests.train.test_checkpoint import ROOT, _run_group

    script = tmp_path / "gan_ddp.py"
    script.write_text(GAN_DDP_SCRIPT.format(tests=str(Path(__file__).parent)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
           str(tmp_path / "run")]
    out = _run_group(cmd, env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = dict((r, (b, w)) for r, b, w in re.findall(r"rank (\d) first batch (\S+) weights (\S+)", out.stdout))
    assert set(rows) == {"0", "1"}
    assert rows["0"][0] != rows["1"][0]  # each rank trained on its own batches
    assert rows["0"][1] == rows["1"][1]
