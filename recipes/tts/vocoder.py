"""A HiFi-GAN vocoder for the GPU TTS path: log-mel (the F5-style model's, 24 kHz / 100 mels / hop 256) -> waveform.

    polyvox train tts/vocoder_hifigan [key=value ...]       (GPU; tts/vocoder_debug runs a few CPU steps)
    accelerate launch --multi_gpu -m polyvox.cli train tts/vocoder_hifigan

Top to bottom: config -> clips (built-in corpus or manifests) -> HiFi-GAN (speechbrain's generator and
discriminators) -> two loss steps, discriminator then generator, each with its own optimizer -> fit() with an EMA of
the generator -> save the averaged generator as a run -> test: mel L1 of copy synthesis against Griffin-Lim's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from polyvox.speech.vocoder import task
from polyvox.speech.vocoder.config import VocoderConfig
from polyvox.speech.vocoder.model import HifiGan
from polyvox.speech.vocoder.run import save_run
from polyvox.train.config import load_config, save_config
from polyvox.train.loop import fit, load_best, seed_everything
from polyvox.train.runs import CONFIG_FILE


def main(config_path: str, overrides: list[str]) -> int:
    t0 = time.time()
    cfg = load_config(VocoderConfig, config_path, overrides)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.train.seed)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / CONFIG_FILE)

    splits = task.load_splits(cfg.data)
    model = HifiGan(cfg.model, cfg.mel.n_mels)
    sizes = {n: sum(p.numel() for p in m.parameters()) / 1e6 for n, m in model.named_children()}
    print(f"HiFi-GAN: generator {sizes['generator']:.2f} M, discriminators {sizes['discriminator']:.2f} M parameters; "
          f"{len(splits['train'])} train clips", flush=True)
    loader = task.train_loader(cfg, splits["train"], report=run_dir / "skipped.jsonl")
    optimizers = {name: torch.optim.AdamW(getattr(model, name).parameters(), lr=cfg.train.lr,
                                          betas=tuple(cfg.train.betas), weight_decay=cfg.train.weight_decay)
                  for name in ("discriminator", "generator")}
    w = cfg.loss

    # HiFi-GAN's two steps on each batch; the generated audio passes from the first to the second in `shared`
    def discriminator_step(model, batch, shared):
        wavs = batch["wavs"]
        shared["fake"] = task.generate(model.generator, task.mel_of(wavs, cfg.mel), wavs.shape[1])
        scores_real, _ = model.discriminator(wavs[:, None])
        scores_fake, _ = model.discriminator(shared["fake"].detach())
        return task.discriminator_loss(scores_real, scores_fake), {}

    def generator_step(model, batch, shared):
        wavs, fake = batch["wavs"], shared["fake"]
        scores_fake, feats_fake = model.discriminator(fake)
        _, feats_real = model.discriminator(wavs[:, None])
        mel = task.mel_l1(fake, wavs, cfg.mel)
        adv, fm = task.adversarial_loss(scores_fake), task.feature_matching_loss(feats_real, feats_fake)
        loss = w.mel * mel + w.adversarial * adv + w.feature_matching * fm
        return loss, {"mel_l1": mel.detach(), "adversarial": adv.detach(), "feature_matching": fm.detach()}

    dev = splits["dev"][: cfg.data.dev_clips]
    t_fit = time.time()
    result = fit(model, loader, {"discriminator": discriminator_step, "generator": generator_step}, cfg.train,
                 run_dir, optimizer=optimizers, evaluate=lambda m: task.evaluate(m.generator, dev, cfg.mel))
    train_minutes = (time.time() - t_fit) / 60
    load_best(model, result, ema_of=cfg.train.ema_of if cfg.train.ema_decay else None)
    save_run(run_dir, model.generator, cfg.model, cfg.mel)

    # ---- test: copy synthesis of unseen speakers' clips, against Griffin-Lim on the same mel
    test = splits["test"][: cfg.data.dev_clips]
    ours = task.evaluate(model.generator, test, cfg.mel)["dev/mel_l1"]
    gl = task.evaluate(None, test, cfg.mel)["dev/mel_l1"]  # None: Griffin-Lim
    summary = {"test_mel_l1": ours, "griffin_lim_mel_l1": gl, "clips": len(test), "steps": result.step,
               "train_minutes": train_minutes}
    (run_dir / "results.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    line = (f"copy synthesis of {len(test)} test clips: mel L1 {ours:.3f} (Griffin-Lim on the same mel: {gl:.3f}); "
            f"{result.step} steps, {train_minutes:.1f} min of training ({(time.time() - t0) / 60:.1f} min in all)")
    (run_dir / "results.md").write_text(f"# Vocoder test\n\n{line}\n", encoding="utf-8")
    print(f"{line}\nrun: {run_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
