"""End-to-end debug runs of recipes/asr_ctc on the tiny built-in corpus (few steps, tiny model):
the run directory's contents, then the eval / transcribe / export CLIs on the trained run,
few-shot adaptation from it, and the transfer-matrix protocol."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from polyvox.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "recipes" / "asr_ctc" / "configs"
TINY_MODEL = ["model.d_model=32", "model.num_layers=1", "model.num_heads=2", "model.ffn_dim=64", "model.n_mels=40"]


def debug_overrides(corpus, run_dir, steps=6):
    return [f"run_dir={run_dir}", f"data.train_manifests=[{corpus['train']}]", f"data.dev_manifests=[{corpus['dev']}]",
            f"data.test_manifests=[{corpus['test']}]", f"train.max_steps={steps}", "train.eval_every=3",
            "train.warmup_steps=2", "train.log_every=2", "data.max_batch_seconds=20", *TINY_MODEL]


@pytest.fixture(scope="module")
def trained_run(tiny_corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("asr") / "run"
    overrides = debug_overrides(tiny_corpus, run_dir) + ["data.train_langs=[en,es]", "decode.lm_order=2"]
    assert cli(["train", str(CONFIGS / "base.yaml"), *overrides]) == 0
    return run_dir


@pytest.mark.slow
def test_recipe_run_directory(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.yaml", "vocab.json", "model.safetensors", "results.md", "results.json", "metrics.jsonl",
            "predictions.jsonl", "lm.arpa", "loss_curve.png", "test_per.png", "checkpoints"} <= names
    results = json.loads((trained_run / "results.json").read_text())
    assert results["train_langs"] == ["en", "es"] and results["steps"] == 6
    assert set(results["summary"]) == {"de", "en", "es", "all"}  # de is evaluated although unseen
    assert 0.0 <= results["summary"]["de"]["per"] <= 1.5
    table = (trained_run / "results.md").read_text()
    assert "| de | no |" in table and "| en | yes |" in table and "mean unseen" in table
    # base.yaml decodes with beam search + the bigram LM; the greedy table comes with it
    assert results["decode"].startswith("beam 16 + 2-gram LM") and "Greedy decoding" in table
    assert set(results["greedy_summary"]) == set(results["summary"])
    evals = [json.loads(l) for l in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert any("dev/per/de" in row for row in evals)


@pytest.mark.slow
def test_eval_and_transcribe_cli(trained_run, tiny_corpus, capsys, tmp_path):
    out = tmp_path / "eval.json"
    assert cli(["eval", str(trained_run), "--manifest", str(tiny_corpus["test"]), "--langs", "en,de",
                "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| en | yes |" in table and "| de | no |" in table and "| es |" not in table
    summary = json.loads(out.read_text())
    assert set(summary) == {"de", "en", "all"}
    results = json.loads((trained_run / "results.json").read_text())["summary"]
    assert summary["de"]["per"] == pytest.approx(results["de"]["per"])  # same model, same data, same decoding

    wavs = sorted((Path(tiny_corpus["test"]).parent / "wavs" / "en").glob("*.wav"))[:3]
    assert cli(["transcribe", str(trained_run), *map(str, wavs), "--json"]) == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [l["audio"] for l in lines] == list(map(str, wavs)) and all(isinstance(l["text"], str) for l in lines)

    assert cli(["transcribe", str(trained_run), str(wavs[0]), "--beam", "4", "--lm"]) == 0
    assert capsys.readouterr().out.startswith(str(wavs[0]) + "\t")

    assert cli(["transcribe", str(trained_run), str(tmp_path / "missing.wav")]) == 2
    assert "missing.wav: file not found" in capsys.readouterr().err
    assert cli(["export", str(trained_run), str(tmp_path / "hf")]) == 2
    assert "cannot be exported" in capsys.readouterr().err



@pytest.mark.slow
def test_tune_lm_grid_matches_plain_eval_at_each_point(trained_run, tiny_corpus, capsys, tmp_path):
    """--tune-lm decodes the posteriors once per (alpha, beta); each point must score exactly what
    `polyvox eval --lm-alpha A --lm-beta B` scores, and the best pair is the grid's minimum."""
    out = tmp_path / "tune.json"
    assert cli(["eval", str(trained_run), "--manifest", str(tiny_corpus["dev"]), "--tune-lm",
                "--alphas", "0,2", "--betas", "0,3", "--tune-metric", "per", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    tuned = json.loads(out.read_text())
    assert [(g["alpha"], g["beta"]) for g in tuned["grid"]] == [(0, 0), (0, 3), (2, 0), (2, 3)]
    best = min(tuned["grid"], key=lambda g: g["summary"]["all"]["per"])
    assert tuned["best"] == {"alpha": best["alpha"], "beta": best["beta"]}
    assert f"--lm-alpha {best['alpha']:g} --lm-beta {best['beta']:g}" in printed
    for g in tuned["grid"][1:3]:
        plain = tmp_path / f"plain-{g['alpha']}-{g['beta']}.json"
        assert cli(["eval", str(trained_run), "--manifest", str(tiny_corpus["dev"]), "--lm-alpha", str(g["alpha"]),
                    "--lm-beta", str(g["beta"]), "--out", str(plain)]) == 0
        assert json.loads(plain.read_text())["all"]["per"] == pytest.approx(g["summary"]["all"]["per"])
    capsys.readouterr()
    assert cli(["eval", str(trained_run), "--manifest", str(tiny_corpus["dev"]), "--tune-lm", "--greedy"]) == 2
    assert "--tune-lm needs beam search with an LM" in capsys.readouterr().err
    assert cli(["eval", str(trained_run), "--manifest", str(tiny_corpus["dev"]), "--tune-lm", "--alphas", "x"]) == 2
    assert "--alphas: expected comma-separated numbers" in capsys.readouterr().err

@pytest.mark.slow
def test_fewshot_adaptation_extends_the_vocabulary(trained_run, tiny_corpus, tmp_path):
    from polyvox.speech.asr.vocab import Vocab

    run_dir = tmp_path / "fewshot"
    overrides = debug_overrides(tiny_corpus, run_dir, steps=2) + [
        f"init_from={trained_run}", "data.train_langs=[de]", "data.fewshot_minutes=0.2", "data.eval_langs=[de]"]
    assert cli(["train", str(CONFIGS / "base.yaml"), *overrides]) == 0
    base, adapted = Vocab.load(trained_run / "vocab.json"), Vocab.load(run_dir / "vocab.json")
    assert adapted.tokens[: len(base)] == base.tokens and len(adapted) > len(base)  # German-only phonemes added
    results = json.loads((run_dir / "results.json").read_text())
    assert results["train_langs"] == ["de"] and set(results["summary"]) == {"de", "all"}


@pytest.mark.parametrize("upsampling", [1, 2])
def test_a_phone_run_starts_a_char_run_with_its_encoder_and_a_fresh_head(trained_run, tiny_corpus, upsampling):
    """init_from across units: the encoder's weights are the phone run's, the head is sized for the char vocab, and
    the char config's own output upsampling is kept (the rest of the architecture is the base run's)."""
    import torch

    from polyvox.data.manifest import read_manifest
    from polyvox.speech.asr import task
    from polyvox.speech.asr.config import AsrConfig
    from polyvox.speech.asr.model import output_layer
    from polyvox.speech.asr.run import load_run
    from polyvox.train.config import load_config

    cfg = load_config(AsrConfig, CONFIGS / "chars.yaml",
                      [f"init_from={trained_run}", f"model.output_upsampling={upsampling}"])
    utts = read_manifest(tiny_corpus["train"])
    vocab, model = task.vocab_and_model(cfg, utts)
    base = load_run(trained_run, device="cpu")
    assert base.unit == "phoneme" and vocab.tokens == task.vocab_from_utterances(utts, "char").tokens
    assert output_layer(model).out_features == len(vocab) != output_layer(base.model).out_features
    head = {n for n, _ in output_layer(model).named_parameters()}
    mine, theirs = dict(model.named_parameters()), dict(base.model.named_parameters())
    shared = [n for n in mine if n.split(".")[0] not in ("head", "upsample") and n in theirs]
    assert shared and head and all(torch.equal(mine[n], theirs[n]) for n in shared)
    assert cfg.model.output_upsampling == upsampling and base.config.model.output_upsampling == 1
    assert dataclasses.replace(cfg.model, output_upsampling=1) == base.config.model
    assert (model.upsample is None) == (upsampling == 1)
    wavs, lens = torch.randn(2, 16000), torch.tensor([16000, 12000])
    model.eval(), base.model.eval()
    with torch.no_grad():
        (lp, n), (lp_base, n_base) = model(wavs, lens), base.model(wavs, lens)
    assert n.tolist() == [upsampling * k for k in n_base.tolist()] and lp.shape[1] == upsampling * lp_base.shape[1]


@pytest.mark.slow
def test_transfer_protocol_writes_the_matrix(tiny_corpus, tmp_path):
    run_dir = tmp_path / "transfer"
    overrides = debug_overrides(tiny_corpus, run_dir, steps=2) + ["protocol=transfer", "data.train_langs=[en,es]"]
    assert cli(["train", str(CONFIGS / "base.yaml"), *overrides]) == 0
    matrix = json.loads((run_dir / "transfer.json").read_text())
    assert set(matrix) == {"en", "es"} and set(matrix["en"]) == {"de", "en", "es"}
    assert "| en |" in (run_dir / "transfer.md").read_text()
    assert (run_dir / "transfer.png").read_bytes()[:4] == b"\x89PNG"
    assert (run_dir / "from-es" / "results.md").exists()


def _with_corrupt_clip(manifest: Path, out_dir: Path) -> tuple[Path, str]:
    """A copy of ``manifest`` whose first row points at a text file named .wav."""
    from polyvox.data.manifest import read_manifest, write_manifest

    utts = read_manifest(manifest)
    bad = out_dir / "broken.wav"
    bad.write_text("this is not audio\n")
    utts[0] = utts[0].with_(audio=str(bad))
    return write_manifest(out_dir / manifest.name, utts), utts[0].id


@pytest.mark.slow
def test_corrupt_clip_is_skipped_and_reported_or_stops_the_run(tiny_corpus, tmp_path, capsys):
    train, bad_id = _with_corrupt_clip(Path(tiny_corpus["train"]), tmp_path)
    run_dir = tmp_path / "run"
    overrides = debug_overrides({**tiny_corpus, "train": train}, run_dir, steps=4) + ["data.max_batch_seconds=400"]
    assert cli(["train", str(CONFIGS / "base.yaml"), *overrides]) == 0
    skipped = [json.loads(l) for l in (run_dir / "skipped.jsonl").read_text().splitlines()]
    assert [r["id"] for r in skipped] == [bad_id] and "not an audio file" in skipped[0]["reason"]
    assert "1 unusable clip(s) skipped" in capsys.readouterr().out

    assert cli(["train", str(CONFIGS / "base.yaml"), *debug_overrides({**tiny_corpus, "train": train}, tmp_path / "r2",
                                                                     steps=4), "data.on_error=raise",
                "data.max_batch_seconds=400"]) == 2
    err = capsys.readouterr().err
    assert "broken.wav" in err and "not an audio file" in err


@pytest.mark.slow
def test_eval_cli_skips_and_lists_a_corrupt_clip_or_stops(trained_run, tiny_corpus, tmp_path, capsys):
    test, bad_id = _with_corrupt_clip(Path(tiny_corpus["test"]), tmp_path)
    report = tmp_path / "skipped.jsonl"
    assert cli(["eval", str(trained_run), "--manifest", str(test), "--report", str(report)]) == 0
    assert "1 unusable clip(s) skipped" in capsys.readouterr().err
    assert json.loads(report.read_text())["id"] == bad_id
    assert cli(["eval", str(trained_run), "--manifest", str(test), "--on-error", "raise"]) == 2
    err = capsys.readouterr().err
    assert "broken.wav" in err and "not an audio file" in err


@pytest.mark.slow
def test_resumed_run_draws_the_same_speed_factors(tiny_corpus, tmp_path, capsys):
    """A run resumed from a mid-run checkpoint ends with the same weights as an uninterrupted one,
    with speed perturbation on (its factor draws come from the checkpointed RNG)."""
    import shutil

    from safetensors.torch import load_file

    def train(run_dir):
        overrides = debug_overrides(tiny_corpus, run_dir, steps=6) + [
            "train.save_every=3", "train.keep_last=5", "data.speed_perturb=[0.9,1.1]", "decode.method=greedy"]
        assert cli(["train", str(CONFIGS / "base.yaml"), *overrides]) == 0

    train(tmp_path / "ref")
    train(tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "step-0000006")  # as if killed after step 3's save
    (tmp_path / "run" / "model.safetensors").unlink()
    capsys.readouterr()
    train(tmp_path / "run")
    assert "(step 3)" in capsys.readouterr().out  # it resumed, it did not start over
    a = load_file(str(tmp_path / "ref" / "checkpoints" / "step-0000006" / "model.safetensors"))
    b = load_file(str(tmp_path / "run" / "checkpoints" / "step-0000006" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # and the draw matters: without speed perturbation the weights differ
    over = debug_overrides(tiny_corpus, tmp_path / "plain", steps=6) + ["data.speed_perturb=[]", "decode.method=greedy"]
    assert cli(["train", str(CONFIGS / "base.yaml"), *over]) == 0
    c = load_file(str(tmp_path / "plain" / "model.safetensors"))
    assert not all(torch.equal(a[k], c[k]) for k in a)
