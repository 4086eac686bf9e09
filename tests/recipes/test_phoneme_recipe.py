"""recipes/phoneme_recognition: its config is an overlay on the ASR recipe's, and a debug run
(tiny model, few steps) trains through the ASR task's library code, then scores seen and unseen languages, one of
them (Lithuanian) named by no config, in the three zero-shot decoding modes."""

import json
from pathlib import Path

import pytest

from polyvox.cli import main as cli
from polyvox.train.cli import find_recipe, load_recipe
from polyvox.speech.asr.config import AsrConfig
from polyvox.speech.phones.task import PhonemeConfig, asr_config
from polyvox.train.config import check_all_keys_used

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "recipes" / "phoneme_recognition" / "configs" / "base.yaml"
TINY_MODEL = ["model.d_model=32", "model.num_layers=1", "model.num_heads=2", "model.ffn_dim=64", "model.n_mels=40"]


@pytest.fixture(scope="module")
def recipe():
    return load_recipe(find_recipe(CONFIG))


def test_config_overlays_the_asr_recipe(recipe):
    assert find_recipe(CONFIG) == ROOT / "recipes" / "phoneme_recognition" / "train.py"
    cfg = check_all_keys_used(PhonemeConfig, CONFIG)
    asr_base = check_all_keys_used(AsrConfig, ROOT / "recipes" / "asr_ctc" / "configs" / "base.yaml")
    # the ASR default's model, optimization, batching and augmentation: only languages differ
    assert cfg.model == asr_base.model and cfg.train == asr_base.train and cfg.threads == asr_base.threads
    assert cfg.data.max_batch_seconds == asr_base.data.max_batch_seconds
    assert cfg.data.speed_perturb == asr_base.data.speed_perturb
    assert cfg.data.unit == "phoneme" and set(cfg.data.train_langs) == set(cfg.data.corpus.langs)
    assert not set(cfg.zeroshot.corpus.langs) & set(cfg.data.train_langs)  # unseen languages are unseen
    sub = asr_config(cfg)
    assert type(sub) is AsrConfig and sub.data.eval_langs == cfg.data.train_langs  # dev: seen only


def test_char_targets_are_refused(tmp_path, capsys):
    assert cli(["train", str(CONFIG), f"run_dir={tmp_path}", "data.unit=char"]) == 2
    assert "data.unit must be 'phoneme'" in capsys.readouterr().err
    assert cli(["train", str(CONFIG), f"run_dir={tmp_path}", "zeroshot.nope=1"]) == 2
    assert "zeroshot.nope: unknown key" in capsys.readouterr().err


@pytest.mark.slow
def test_debug_run_scores_every_language_in_three_modes(tiny_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POLYVOX_CACHE", str(tmp_path / "cache"))
    run_dir = tmp_path / "run"
    overrides = [
        f"run_dir={run_dir}", f"data.train_manifests=[{tiny_corpus['train']}]",
        f"data.dev_manifests=[{tiny_corpus['dev']}]", f"data.test_manifests=[{tiny_corpus['test']}]",
        "data.train_langs=[en,es]", "train.max_steps=6", "train.eval_every=3", "train.warmup_steps=2",
        "train.log_every=2", "data.max_batch_seconds=20", *TINY_MODEL,
        "zeroshot.corpus.langs=[lt]", "zeroshot.corpus.utts_per_lang=6", "zeroshot.corpus.speakers=3",
        f"zeroshot.corpus.dir={tmp_path / 'lt_corpus'}",
    ]
    assert cli(["train", str(CONFIG), *overrides]) == 0
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "vocab.json", "model.safetensors", "results.md", "zeroshot.md", "zeroshot.json",
            "zeroshot_predictions.jsonl", "zeroshot_config.yaml"} <= names
    results = json.loads((run_dir / "zeroshot.json").read_text())
    assert results["train_langs"] == ["en", "es"] and results["steps"] == 6
    summary = results["summary"]
    assert set(summary) == {"en", "es", "de", "lt"}  # de: the test split's unseen language; lt: zero-shot corpus
    assert summary["lt"]["utterances"] == 6  # every row of the zero-shot corpus
    for lang, s in summary.items():
        for mode in ("raw", "restrict", "map"):
            assert 0.0 <= s[mode]["pfer"] <= s[mode]["per"] + 1e-9, (lang, mode)
        assert 0.0 <= s["oov"] <= 1.0
    assert summary["lt"]["oov"] > summary["en"]["oov"]  # Lithuanian has phones en/es training lacks
    table = (run_dir / "zeroshot.md").read_text()
    for lang, seen in (("en", "yes"), ("es", "yes"), ("de", "no"), ("lt", "no")):
        assert f"| {lang} | {seen} |" in table
    assert "PER (b) restricted" in table and "PFER (c) feature-mapped" in table and "mean unseen" in table
    # outputs of modes b and c only use the target inventory's phones
    rows = [json.loads(l) for l in (run_dir / "zeroshot_predictions.jsonl").read_text().splitlines()]
    assert {r["language"] for r in rows} == {"en", "es", "de", "lt"}
    for r in rows:
        inventory = set(results["inventories"][r["language"]]) | {"|"}
        for mode in ("restrict", "map"):
            assert set(r[mode].split()) <= inventory, (r["id"], mode)

    # re-scoring an existing run without training, and the CLI on the trained run
    capsys.readouterr()
    assert cli(["train", str(CONFIG), *overrides, "zeroshot.eval_only=true", "zeroshot.inventory=manifest",
                "zeroshot.modes=[raw,map]", "zeroshot.name=oracle"]) == 0
    again = json.loads((run_dir / "oracle.json").read_text())
    assert again["summary"]["lt"]["raw"] == summary["lt"]["raw"]  # same model, same decoding
    assert set(again["summary"]["lt"]) >= {"raw", "map"} and "restrict" not in again["summary"]["lt"]
    assert again["inventory_sources"]["lt"] == "eval rows" and (run_dir / "oracle.md").exists()
    assert json.loads((run_dir / "zeroshot.json").read_text())["summary"] == summary  # not overwritten
    wav = sorted((tmp_path / "lt_corpus" / "wavs" / "lt").glob("*.wav"))[0]
    capsys.readouterr()
    assert cli(["phonemes", str(run_dir), str(wav), "--lang", "lt"]) == 0
    assert capsys.readouterr().out.startswith(f"{wav}\t")
