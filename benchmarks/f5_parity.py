"""Does polyvox's F5-style model compute what F5-TTS's own classes compute, on the same weights?

    pip download --no-deps f5-tts x-transformers einops loguru torchdiffeq -d /tmp/f5  # then unzip the wheels:
    for w in /tmp/f5/*.whl; do python -m zipfile -e "$w" /tmp/f5/site; done
    python benchmarks/f5_parity.py /tmp/f5/site

F5-TTS is not a polyvox dependency (its package pulls in its trainer, wandb and more), so this check runs by hand
on its unpacked wheels: it builds F5-TTS's ``CFM(DiT)`` with random weights (every tensor, output layers included),
loads its ``ema_model_state_dict`` into :func:`polyvox.speech.f5tts.run.model_from_f5_state`, and compares the
velocity (with and without padding masks, guidance drops) and a whole few-step sample. Prints the max abs difference.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import torch


def import_f5(site: str):
    """F5-TTS's model modules without its package __init__ (which imports its trainer)."""
    sys.path.insert(0, site)
    for name, attrs in {"rjieba": {}, "pypinyin": {"Style": None, "lazy_pinyin": None}}.items():
        stub = types.ModuleType(name)  # text frontends the model never calls
        stub.__dict__.update(attrs)
        sys.modules.setdefault(name, stub)
    pkg = types.ModuleType("f5_tts.model")
    pkg.__path__ = [str(Path(site) / "f5_tts" / "model")]
    sys.modules["f5_tts.model"] = pkg
    return importlib.import_module("f5_tts.model.backbones.dit"), importlib.import_module("f5_tts.model.cfm")


def main(site: str) -> int:
    from polyvox.speech.f5tts.run import V0_ARCH

    dit, cfm = import_f5(site)
    worst = 0.0
    for version, extra in (("v1", {}), ("v0", V0_ARCH)):
        print(f"F5-TTS {version} architecture {extra or ''}")
        worst = max(worst, compare(dit, cfm, extra))
    print("PASS" if worst < 1e-4 else "FAIL", f"(worst {worst:.2e})")
    return 0 if worst < 1e-4 else 1


def compare(dit, cfm, extra: dict) -> float:
    from polyvox.speech.f5tts import flow
    from polyvox.speech.f5tts.run import model_from_f5_state

    torch.manual_seed(0)
    arch = dict(dim=64, depth=2, heads=4, dim_head=16, ff_mult=2, mel_dim=20, text_num_embeds=30, text_dim=32,
                conv_layers=2, **extra)
    theirs = cfm.CFM(dit.DiT(**arch), mel_spec_kwargs=dict(n_mel_channels=20)).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(0, 0.1)
    state = {"ema_model_state_dict": {f"ema_model.{k}": v for k, v in theirs.state_dict().items()}}
    ours = model_from_f5_state(state, heads=4, **extra).eval()

    x, cond = torch.randn(2, 50, 20), torch.randn(2, 50, 20)
    text = torch.randint(0, 30, (2, 20))
    text[1, 12:] = -1
    mask = torch.arange(50)[None] < torch.tensor([50, 37])[:, None]
    t = torch.tensor([0.3, 0.8])
    worst = 0.0
    with torch.no_grad():
        for kw in ({}, {"mask": mask}, {"mask": mask, "drop_audio_cond": True, "drop_text": True}):
            a = theirs.transformer(x=x, cond=cond, text=text, time=t, **kw)
            b = ours(x, cond, text, t, **kw)
            m = kw.get("mask", torch.ones(2, 50, dtype=torch.bool))
            diff = float((a - b)[m].abs().max())
            print(f"velocity {sorted(kw) or 'no mask'}: max |diff| {diff:.2e}")
            worst = max(worst, diff)
        prompt = torch.randn(1, 30, 20)
        a, _ = theirs.sample(prompt, text[:1], 80, steps=8, cfg_strength=2.0, sway_sampling_coef=-1.0, seed=3)
        b = flow.sample(ours, prompt, torch.tensor([30]), text[:1], torch.tensor([80]), steps=8, cfg_strength=2.0,
                        sway=-1.0, seed=3)
        diff = float((a - b).abs().max())
        print(f"8-step Euler sample with guidance and sway: max |diff| {diff:.2e}")
        worst = max(worst, diff)
        theirs.odeint_kwargs = {"method": "midpoint"}
        a, _ = theirs.sample(prompt, text[:1], 80, steps=6, cfg_strength=2.0, sway_sampling_coef=-1.0, seed=3)
        b = flow.sample(ours, prompt, torch.tensor([30]), text[:1], torch.tensor([80]), steps=6, method="midpoint",
                        cfg_strength=2.0, sway=-1.0, seed=3)
        diff = float((a - b).abs().max())
        print(f"6-step midpoint sample (F5's pruned schedule): max |diff| {diff:.2e}")
        worst = max(worst, diff)
    return worst


if __name__ == "__main__":
    if len(sys.argv) < 2:  # run_all.py calls every benchmark bare: say what this one needs instead of failing
        print("f5_parity: NOT RUN; give the folder of F5-TTS's unpacked wheels (see the docstring)")
        sys.exit(0)
    sys.exit(main(sys.argv[1]))
