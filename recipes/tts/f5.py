"""F5-style flow-matching TTS (the GPU path): fine-tune a local F5-TTS checkpoint to a language it never saw, with
IPA tokens, or train one from scratch; sampling clones the voice of a prompt clip that needs no transcript.

    polyvox train tts/f5_finetune init_from=ckpts/F5TTS_v1_Base/model_1250000.safetensors   (GPU)
    polyvox train tts/f5_debug                                                              (CPU, a few steps)
    accelerate launch --multi_gpu -m polyvox.cli train tts/f5_finetune init_from=...

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

from polyvox.data.audio import load_audio, resample, save_audio
from polyvox.speech.f5tts import task
from polyvox.speech.f5tts.config import F5RecipeConfig
from polyvox.speech.f5tts.model import F5TTS, count_parameters
from polyvox.speech.tts.task import judge_synthesis, synthesis_table
from polyvox.speech.f5tts.run import (V0_ARCH, extend_vocab, from_pretrained, generate_mel, is_f5_run, load_run,
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

    if cfg.eval.judge and not (Path(cfg.eval.judge) / CONFIG_FILE).is_file():  # say so now, not after training
        raise FileNotFoundError(f"eval.judge={cfg.eval.judge}: not a polyvox ASR run (make main trains "
                                "work/runs/asr_ctc/base); or eval.judge='' for samples only")

    # ---- data and model: the checkpoint keeps every token and weight it has; the corpus's new tokens get new rows
    splits = task.load_splits(cfg.data)
    # the phone set of every split: a test sentence's rare phone gets a row too (untrained, but no audio leaks)
    tokens = task.corpus_tokens(splits["train"] + splits["dev"] + splits["test"])
    if cfg.init_from:
        extra = ({"heads": cfg.heads} if cfg.heads else {}) | (V0_ARCH if cfg.init_arch == "v0" else {})
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
    previous = run_dir / "results.json"  # a resumed run: add the minutes of the calls before this one
    if previous.is_file() and result.step >= json.loads(previous.read_text(encoding="utf-8")).get("steps", 0):
        train_minutes += json.loads(previous.read_text(encoding="utf-8")).get("train_minutes", 0.0)
    load_best(model, result, ema_of=cfg.train.ema_of if cfg.train.ema_decay else None)
    # the training data's speaking rate: what synthesis without a given length uses
    frames = sum(u.duration * cfg.mel.sample_rate / cfg.mel.hop_length for u in splits["train"])
    rate = frames / max(sum(len(phoneme_tokens(u.phonemes)) for u in splits["train"]), 1)
    save_pretrained(run_dir, model.cpu(), vocab, cfg.mel, frames_per_token=rate,
                    languages=sorted({u.language for u in splits["train"]}), vocoder=cfg.vocoder)

    # ---- test: sentences in the voice of another clip of their (unseen) speaker, whose text is not given. The new
    # audio gets the target's true length: without a prompt transcript F5-TTS has no length, and polyvox has no
    # rate predictor for it yet
    run, vocode = load_run(run_dir), pick_vocoder(cfg)
    timing = {"seconds": 0.0, "audio": 0.0}

    def speak(target, prompt_utt, sample_rate: int = 16000):
        prompt, _ = load_audio(prompt_utt.audio, cfg.mel.sample_rate)
        frames = round(target.duration * cfg.mel.sample_rate / cfg.mel.hop_length)
        t1 = time.time()
        mel = generate_mel(run, phoneme_tokens(target.phonemes), torch.from_numpy(prompt), frames=frames,
                           steps=cfg.sample.steps, method=cfg.sample.method, cfg_strength=cfg.sample.cfg_strength,
                           sway=cfg.sample.sway)
        audio = vocode(mel).numpy()
        timing["seconds"] += time.time() - t1
        timing["audio"] += len(audio) / cfg.mel.sample_rate
        return resample(audio, cfg.mel.sample_rate, sample_rate) if sample_rate != cfg.mel.sample_rate else audio

    test, out_dir, samples = splits["test"], run_dir / "samples", []
    for target in test[: cfg.sample.utts]:
        prompt = next((u for u in test if u.speaker == target.speaker and u.id != target.id), target)
        path = save_audio(out_dir / f"{target.id}.wav", speak(target, prompt, cfg.mel.sample_rate), cfg.mel.sample_rate)
        samples.append({"id": target.id, "prompt": prompt.id, "language": target.language, "wav": str(path),
                        "frames": round(target.duration * cfg.mel.sample_rate / cfg.mel.hop_length)})
    summary = {"dev_flow_loss": result.history[-1]["dev/flow_loss"] if result.history else None,
               "steps": result.step, "train_minutes": train_minutes, "new_tokens": len(vocab) - old,
               "init_from": cfg.init_from, "vocoder": cfg.vocoder or "griffin-lim", "samples": samples}
    header = (f"{count_parameters(model) / 1e6:.2f} M parameters, {result.step} steps, {train_minutes:.1f} min of "
              f"training; {cfg.sample.steps} {cfg.sample.method} steps, guidance {cfg.sample.cfg_strength}, "
              f"vocoder: {summary['vocoder']}; lengths: the true ones")
    table = ""
    if cfg.eval.judge:
        judged, rows = judge_synthesis(speak, test, cfg.eval.judge, cfg.eval.utts_per_lang)
        summary["judged"], table = judged, synthesis_table(judged)
        header += f"; judge ASR: {cfg.eval.judge}"
        with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({k: v for k, v in r.items() if "counts" not in k}, ensure_ascii=False) + "\n")
    summary["rtf"] = timing["seconds"] / max(timing["audio"], 1e-9)
    (run_dir / "results.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    (run_dir / "results.md").write_text(f"# F5-style TTS test: voices never trained on\n\n{header}\n\n{table}\n",
                                        encoding="utf-8")
    print(f"{header}\ndev flow loss {summary['dev_flow_loss']}; RTF {summary['rtf']:.2f}; samples in {out_dir}\n{table}"
          f"\n({(time.time() - t0) / 60:.1f} min in all)", flush=True)
    return 0


def pick_vocoder(cfg: F5RecipeConfig):
    """mel (T, n_mels) -> wav (samples,): a trained polyvox vocoder run, or Griffin-Lim."""
    if cfg.vocoder:
        from polyvox.speech.vocoder.run import load_run as load_vocoder, vocode

        voc = load_vocoder(cfg.vocoder)
        if voc.mel != cfg.mel:
            raise ValueError(f"vocoder {cfg.vocoder} was trained on mel {voc.mel}, this model on {cfg.mel}")
        return lambda mel: vocode(voc, mel)
    from polyvox.speech.vocoder.run import griffin_lim

    return lambda mel: griffin_lim(mel.T[None].cpu(), cfg.mel)[0, 0].clamp(-0.99, 0.99)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
