"""Debug runs of the GPU TTS path's two recipes on CPU: fine-tuning a tiny random F5-TTS checkpoint (in F5-TTS's own
file format) to the corpus's IPA tokens (load, extend the vocabulary, train, sample, save, reload: same output,
resume), and the HiFi-GAN vocoder (two optimizers and an EMA in the one loop, its run loaded and used by the F5
recipe)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from polyvox.cli import main as cli
from polyvox.data.audio import load_audio
from polyvox.data.manifest import read_manifest
from polyvox.speech.f5tts.model import F5TTS, F5Config
from polyvox.speech.f5tts.run import generate_mel, load_run, phoneme_tokens, read_vocab
from polyvox.speech.vocoder.run import griffin_lim
from tests.recipes.test_asr_recipe import debug_overrides
from tests.speech.f5tts.test_f5tts import VOCAB, save_f5_checkpoint

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "recipes" / "tts" / "configs"
MEL = ["mel.sample_rate=8000", "mel.n_mels=24", "mel.n_fft=256", "mel.win_length=256", "mel.hop_length=64"]


def data(corpus):
    return [f"data.train_manifests=[{corpus['train']}]", f"data.dev_manifests=[{corpus['dev']}]",
            f"data.test_manifests=[{corpus['test']}]"]


@pytest.mark.slow
def test_f5_finetunes_a_local_checkpoint_to_new_tokens_and_reproduces_its_samples(tiny_corpus, tmp_path, capsys):
    torch.manual_seed(0)
    pretrained = F5TTS(F5Config(dim=32, depth=2, heads=2, dim_head=16, mel_dim=24, text_num_embeds=len(VOCAB),
                                text_dim=16, conv_layers=1))
    folder = save_f5_checkpoint(pretrained, tmp_path / "F5TTS_tiny", "pt")
    old_embed = pretrained.transformer.text_embed.text_embed.weight.detach().clone()
    run_dir = tmp_path / "f5"
    args = ["train", str(CONFIGS / "f5_debug.yaml"), f"run_dir={run_dir}", f"init_from={folder / 'model_100.pt'}",
            "heads=2", *data(tiny_corpus), *MEL, "train.max_steps=3", "train.eval_every=3", "sample.utts=1",
            "sample.steps=2"]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "vocabulary: 10 tokens kept" in out
    vocab = read_vocab(run_dir / "vocab.txt")
    ipa = {t for u in read_manifest(tiny_corpus["train"]) for t in phoneme_tokens(u.phonemes)}
    assert vocab[:10] == VOCAB and ipa <= set(vocab) and len(vocab) > 10
    results = json.loads((run_dir / "results.json").read_text())
    assert results["steps"] == 3 and results["new_tokens"] == len(vocab) - 10
    # the saved run reproduces the recipe's test sample (from the EMA weights it saved)
    run = load_run(run_dir, device="cpu")
    assert run.model.transformer.text_embed.text_embed.weight.shape[0] == len(vocab) + 1
    sample = results["samples"][0]
    target = next(u for u in read_manifest(tiny_corpus["test"]) if u.id == sample["id"])
    prompt, _ = load_audio(next(u for u in read_manifest(tiny_corpus["test"]) if u.id == sample["prompt"]).audio,
                           8000)
    mel = generate_mel(run, phoneme_tokens(target.phonemes), torch.from_numpy(prompt), frames=sample["frames"],
                       steps=2)
    wav = griffin_lim(mel.T[None], run.mel)[0, 0].clamp(-0.99, 0.99).numpy()
    saved, _ = load_audio(sample["wav"], 8000, allow_silence=True)
    assert saved.shape == wav.shape and np.abs(saved - wav).max() < 2e-4  # 16-bit PCM
    # the fine-tuned embeddings of the old tokens moved from the checkpoint's (it trained), their count did not
    assert not torch.equal(run.model.transformer.text_embed.text_embed.weight[:11], old_embed)
    # resumed: 3 more steps from the step-3 checkpoint, nothing trained twice
    assert cli([*args[:-4], "train.max_steps=6", "train.eval_every=3", "sample.utts=1", "sample.steps=2"]) == 0
    assert "resuming from" in capsys.readouterr().out
    assert json.loads((run_dir / "results.json").read_text())["steps"] == 6


@pytest.mark.slow
def test_vocoder_trains_two_optimizers_with_ema_and_feeds_the_f5_recipe(tiny_corpus, tmp_path, capsys):
    voc_dir = tmp_path / "vocoder"
    assert cli(["train", str(CONFIGS / "vocoder_debug.yaml"), f"run_dir={voc_dir}", *data(tiny_corpus), *MEL,
                "model.upsample_factors=[8,8]", "model.upsample_kernel_sizes=[16,16]", "model.upsample_initial_channel=16",
                "model.scales=0", "train.max_steps=4", "train.eval_every=2", "train.save_every=2",
                "data.dev_clips=1", "data.batch_size=2"]) == 0
    results = json.loads((voc_dir / "results.json").read_text())
    assert results["steps"] == 4 and results["test_mel_l1"] > 0 and results["griffin_lim_mel_l1"] > 0
    metrics = [json.loads(line) for line in (voc_dir / "metrics.jsonl").read_text().splitlines()]
    logged = set().union(*metrics)
    assert {"train/discriminator/loss", "train/generator/mel_l1", "train/generator/feature_matching"} <= logged
    assert (voc_dir / "checkpoints" / "step-0000004" / "ema.safetensors").is_file()
    from polyvox.speech.vocoder.run import load_run as load_vocoder, vocode

    voc = load_vocoder(voc_dir, device="cpu")
    assert vocode(voc, torch.zeros(7, 24) - 5).shape == (7 * 64,)
    with pytest.raises(FileNotFoundError, match="not a vocoder run"):
        load_vocoder(tmp_path)
    # the F5 recipe vocodes its samples with this run (from scratch here), and refuses a vocoder of another mel
    f5_dir = tmp_path / "f5"
    base = ["train", str(CONFIGS / "f5_debug.yaml"), f"run_dir={f5_dir}", *data(tiny_corpus), *MEL, "model.mel_dim=24",
            "train.max_steps=2", "train.eval_every=2", "sample.utts=1", "sample.steps=2"]
    judge = tmp_path / "judge"  # a tiny phoneme recognizer judges the samples (PER, and SECS by resemblyzer)
    assert cli(["train", str(ROOT / "recipes/asr_ctc/configs/base.yaml"), *debug_overrides(tiny_corpus, judge),
                "decode.method=greedy", "decode.lm_order=0"]) == 0
    assert cli([*base, f"vocoder={voc_dir}", f"eval.judge={judge}", "eval.utts_per_lang=1"]) == 0
    results = json.loads((f5_dir / "results.json").read_text())
    assert results["vocoder"] == str(voc_dir) and results["rtf"] > 0
    assert {"per", "judge_per_real", "per_cross", "secs", "secs_cross", "dnsmos"} <= set(results["judged"]["all"])
    assert "judge PER % (synthesized)" in (f5_dir / "results.md").read_text()
    assert (f5_dir / "predictions.jsonl").read_text().count("\n") == results["judged"]["all"]["utterances"]
    with pytest.raises(ValueError, match="trained on mel"):
        cli([*base, f"run_dir={tmp_path / 'f5b'}", f"vocoder={voc_dir}", "mel.n_fft=512", "mel.win_length=512"])


@pytest.mark.slow
def test_vocoder_resume_is_exact(tiny_corpus, tmp_path):
    """A vocoder run stopped after 2 steps and resumed to 4 ends bit for bit where a straight 4-step run does:
    generator, discriminator (its spectral-norm buffers too), both optimizers, the EMA, the RNG."""
    from safetensors.torch import load_file

    common = ["train", str(CONFIGS / "vocoder_debug.yaml"), *data(tiny_corpus), *MEL, "model.upsample_factors=[8,8]",
              "model.upsample_kernel_sizes=[16,16]", "model.upsample_initial_channel=8", "model.periods=[]",
              "model.scales=1", "train.eval_every=0", "train.save_every=2", "train.keep_last=3", "data.dev_clips=1",
              "data.batch_size=2"]
    assert cli([*common, f"run_dir={tmp_path / 'straight'}", "train.max_steps=4"]) == 0
    assert cli([*common, f"run_dir={tmp_path / 'cut'}", "train.max_steps=2"]) == 0
    assert cli([*common, f"run_dir={tmp_path / 'cut'}", "train.max_steps=4"]) == 0
    a, b = (tmp_path / run / "checkpoints" / "step-0000004" for run in ("straight", "cut"))
    for name in ("model.safetensors", "ema.safetensors"):
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name
    assert any("weight_u" in k for k in load_file(str(a / "model.safetensors")))  # spectral norm's state is there
    opt_a, opt_b = (torch.load(p / "optimizer.pt", weights_only=True) for p in (a, b))
    assert set(opt_a) == {"discriminator", "generator"}
    for name in opt_a:
        for k, state in opt_a[name]["state"].items():
            assert all(torch.equal(v, opt_b[name]["state"][k][n]) for n, v in state.items())
