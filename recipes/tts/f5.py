"""F5-style flow-matching TTS (the GPU path): fine-tune a local F5-TTS checkpoint to a language it never saw, with
IPA tokens, or train one from scratch; sampling clones the voice of a prompt clip that needs no transcript.

    polyvox train tts/f5_finetune init_from=ckpts/F5TTS_v1_Base/model_1250000.safetensors   (GPU)
    polyvox train tts/f5_debug                                                              (CPU, a few steps)
    accelerate launch --multi_gpu -m polyvox train tts/f5_finetune init_from=...

Top to bottom: config -> corpus with espeak-ng IPA -> model (the checkpoint's weights, its vocabulary extended by
the corpus's new phone tokens; or a new model) -> loss_step (flow matching, infilling a random span) -> fit() with an
EMA -> save the averaged model as a run -> test: synthesize test sentences in test voices, vocode, report.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from polyvox.data.audio import load_audio, save_audio
from polyvox.speech.f5tts import task
from polyvox.speech.f5tts.config import F5RecipeConfig
from polyvox.speech.f5tts.model import F5TTS, count_parameters
from polyvox.speech.f5tts.run import (extend_vocab, from_pretrained, generate_mel, is_f5_run, load_run,
                                      phoneme_tokens, save_pretrained)
from polyvox.train.config import load_config, save_config
from polyvox.train.loop import fit, load_best, seed_everything
from polyvox.train.runs import CONFIG_FILE


def main(config_path: str, overrides: list[str]) -> int:
    t0 = time.time()
    cfg = load_config(F5RecipeConfig, config_path, overrides)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.train.seed)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / CONFIG_FILE)

    # ---- data and model: the checkpoint keeps every token and weight it has; the corpus's new tokens get new rows
    splits = task.load_splits(cfg.data)
    # the phone set of every split: a test sentence's rare phone gets a row too (untrained, but no audio leaks)
    tokens = task.corpus_tokens(splits["train"] + splits["dev"] + splits["test"])
    if cfg.init_from:
        extra = {"heads": cfg.heads} if cfg.heads else {}
        model, vocab, mel = from_pretrained(cfg.init_from, vocab=cfg.vocab or None, **extra)
        # an F5-TTS file does not record its mel (F5-TTS's is the default one); a polyvox run does
        if (is_f5_run(cfg.init_from) and mel != cfg.mel) or model.cfg.mel_dim != cfg.mel.n_mels:
            raise ValueError(f"{cfg.init_from} was trained on mel {mel}, the config says {cfg.mel}")
        print(f"loaded {cfg.init_from}: {count_parameters(model) / 1e6:.1f} M parameters, {len(vocab)} tokens", flush=True)
    else:
        model, vocab = F5TTS(cfg.model), []
    old = len(vocab)
    model, vocab = extend_vocab(model, vocab, tokens, seed=cfg.train.seed)
    print(f"vocabulary: {old} tokens kept, {len(vocab) - old} new from the corpus ({len(tokens)} in its splits); "
          f"{count_parameters(model) / 1e6:.2f} M parameters", flush=True)
    train = task.loader(cfg, splits["train"], vocab, train=True, report=run_dir / "skipped.jsonl")
    dev = task.loader(cfg, splits["dev"], vocab, train=False)

    def loss_step(model, batch):
        return task.batch_loss(model, batch, cfg)

    t_fit = time.time()
    result = fit(model, train, loss_step, cfg.train, run_dir, evaluate=lambda m: task.evaluate(m, dev, cfg))
    train_minutes = (time.time() - t_fit) / 60
    load_best(model, result, ema_of=cfg.train.ema_of if cfg.train.ema_decay else None)
    save_pretrained(run_dir, model.cpu(), vocab, cfg.mel)

    # ---- test: each sentence spoken in the voice of another clip of its (unseen) speaker, whose text is not given
    run = load_run(run_dir)
    rows, out_dir = [], run_dir / "samples"
    out_dir.mkdir(exist_ok=True)
    vocode = pick_vocoder(cfg)
    test = splits["test"]
    for target in test[: cfg.sample.utts]:
        prompt = next((u for u in test if u.speaker == target.speaker and u.id != target.id), target)
        wav, _ = load_audio(prompt.audio, cfg.mel.sample_rate)
        frames = round(target.duration * cfg.mel.sample_rate / cfg.mel.hop_length)  # the true length (no predictor)
        t1 = time.time()
        mel = generate_mel(run, phoneme_tokens(target.phonemes), torch.from_numpy(wav), frames=frames,
                           steps=cfg.sample.steps, method=cfg.sample.method, cfg_strength=cfg.sample.cfg_strength,
                           sway=cfg.sample.sway)
        audio = vocode(mel)
        seconds = time.time() - t1
        path = save_audio(out_dir / f"{target.id}.wav", audio.numpy(), cfg.mel.sample_rate)
        rows.append({"id": target.id, "prompt": prompt.id, "language": target.language, "frames": frames,
                     "rtf": seconds / (audio.shape[0] / cfg.mel.sample_rate), "wav": str(path)})
    summary = {"dev_flow_loss": result.history[-1]["dev/flow_loss"] if result.history else None,
               "steps": result.step, "train_minutes": train_minutes, "new_tokens": len(vocab) - old,
               "init_from": cfg.init_from, "vocoder": cfg.vocoder or "griffin-lim",
               "mean_rtf": sum(r["rtf"] for r in rows) / max(len(rows), 1), "samples": rows}
    (run_dir / "results.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(f"dev flow loss {summary['dev_flow_loss']}; {len(rows)} test samples in {out_dir} (mean RTF "
          f"{summary['mean_rtf']:.2f}, {cfg.sample.steps} {cfg.sample.method} steps, vocoder: {summary['vocoder']}); "
          f"{result.step} steps, {train_minutes:.1f} min of training ({(time.time() - t0) / 60:.1f} min in all)",
          flush=True)
    return 0


def pick_vocoder(cfg: F5RecipeConfig):
    """mel (T, n_mels) -> wav (samples,): a trained polyvox vocoder run, or Griffin-Lim."""
    if cfg.vocoder:
        from polyvox.speech.vocoder.run import load_run as load_vocoder, vocode

        voc = load_vocoder(cfg.vocoder)
        if voc.mel != cfg.mel:
            raise ValueError(f"vocoder {cfg.vocoder} was trained on mel {voc.mel}, this model on {cfg.mel}")
        return lambda mel: vocode(voc, mel)
    from polyvox.speech.vocoder.task import griffin_lim

    return lambda mel: griffin_lim(mel.T[None].cpu(), cfg.mel)[0, 0].clamp(-0.99, 0.99)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
