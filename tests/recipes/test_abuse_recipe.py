"""recipes/abuse_detection: every protocol end to end on the synthetic keyword corpus and on a
corpus in the ADIMA layout (per-language <Language>_train.csv / _test.csv with Yes/No labels,
audio in SC_audio_<Language>/), built here from synthetic audio.

What these tests can tell: the ADIMA layout is read, languages become rows and columns of the
transfer matrix, the few-shot target is held out of the source model, per-language metrics are
written. What they cannot tell: anything about abuse detection -- the "abusive" class is an
innocuous stand-in keyword and the models train for a few steps.
"""

import csv
import json
import shutil
from pathlib import Path

import pytest

from polyvox.data.manifest import read_manifest
from polyvox.speech.classify import config as cconfig
from polyvox.speech.classify import task as ctask
from polyvox.train.config import check_all_keys_used
from tests.recipes.test_emotion_recipe import check_protocol_outputs, recipe_main

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "abuse_detection"
SMALL_MODEL = ["model.encoder=fbank", "model.n_mels=20", "model.encoder_dim=16", "model.encoder_layers=1",
               "model.attention_dim=8", "model.head_hidden=16"]


@pytest.mark.slow
def test_abuse_smoke_runs_every_protocol(tmp_path):
    run = tmp_path / "run"
    rc = recipe_main(RECIPE)(str(RECIPE / "configs" / "smoke.yaml"),
                             [f"run_dir={run}", f"data.synth.dir={tmp_path / 'corpus'}", "train.max_steps=2"])
    assert rc == 0
    check_protocol_outputs(run, ["hi", "ta"], "bn", [1, 2], [0, 1], ["abusive", "clean"])
    preds = [json.loads(l) for l in (run / "from-all" / "predictions.jsonl").read_text().splitlines()]
    assert {p["language"] for p in preds} == {"hi", "ta"} and {p["true"] for p in preds} <= {"abusive", "clean"}


def fake_adima(root: Path, corpus: dict[str, Path]) -> None:
    """ADIMA layout from a synthetic abuse corpus: annotations/<Language>_{train,test}.csv
    (filename,label with Yes/No) and the audio under SC_audio_<Language>/."""
    names = {"hi": "Hindi", "bn": "Bengali", "ta": "Tamil"}
    (root / "annotations").mkdir(parents=True)
    rows = {}
    for split, path in corpus.items():
        for u in read_manifest(path):
            csv_split = "test" if split == "test" else "train"
            rows.setdefault((u.language, csv_split), []).append(u)
    for (lang, split), utts in rows.items():
        audio_dir = root / f"SC_audio_{names[lang]}"
        audio_dir.mkdir(exist_ok=True)
        with open(root / "annotations" / f"{names[lang]}_{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["filename", "label"])
            for u in utts:
                shutil.copy(u.audio, audio_dir / Path(u.audio).name)
                w.writerow([Path(u.audio).name, "Yes" if u.custom["label"] == "abusive" else "No"])


@pytest.mark.slow
def test_adima_layout_all_protocols_with_a_held_out_language(tmp_path):
    from polyvox.data.synth.tasks import synthesize_abuse_corpus

    corpus = synthesize_abuse_corpus(tmp_path / "synth", ["hi", "bn", "ta"], 30, speakers=3, workers=2)
    fake_adima(tmp_path / "ADIMA", corpus)
    run = tmp_path / "run"
    rc = recipe_main(RECIPE)(str(RECIPE / "configs" / "adima.yaml"), [
        f"run_dir={run}", f"data.prepare.root={tmp_path / 'ADIMA'}", f"data.prepare.out_dir={tmp_path / 'adima'}",
        *SMALL_MODEL, "train.max_steps=2", "train.warmup_steps=0", "train.eval_every=0", "fewshot.shots=[1,2]",
        "fewshot.seeds=[0]", "fewshot.meta_steps=2", "fewshot.meta_shots=1", "fewshot.meta_query=1"])  # fmt: skip
    assert rc == 0
    assert {u.language for u in read_manifest(tmp_path / "adima" / "train.jsonl")} == {"bn", "hi", "ta"}
    matrix = json.loads((run / "transfer.json").read_text())["macro_f1"]
    assert list(matrix) == ["bn", "hi", "ta", "all"] and all(sorted(r) == ["bn", "hi", "ta"] for r in matrix.values())
    few = json.loads((run / "fewshot.json").read_text())
    # ta is in the matrix, so the few-shot source model is trained again without it
    assert few["target_lang"] == "ta" and few["source_langs"] == ["bn", "hi"]
    assert Path(few["source_run"]).name == "from-all-except-ta"
    assert {(s["k"], s["method"]) for s in few["summary"]} >= {(k, "maml") for k in (1, 2)}
    res = json.loads((run / "from-all" / "results.json").read_text())
    assert res["labels"] == ["abusive", "clean"] and set(res["summary"]) == {"all", "bn", "hi", "ta"}
    for lang in ("bn", "hi", "ta"):
        assert 0.0 <= res["summary"][lang]["uar"] <= 1.0 and "macro_f1" in res["summary"][lang]


@pytest.mark.parametrize("name", ["base.yaml", "smoke.yaml", "adima.yaml"])
def test_configs_load_and_every_key_is_used(name):
    cfg = check_all_keys_used(cconfig.ClassificationConfig, RECIPE / "configs" / name)
    assert cfg.data.label_key == "label" and cfg.data.synth.task == "abuse" and cfg.fewshot.target_lang
    if cfg.data.prepare.corpus:  # real corpus: the target language comes from its manifests
        assert cfg.data.prepare.corpus == "adima" and cfg.fewshot.target_utts == 0
    else:  # synthetic: an extra language, never in the training corpus
        assert cfg.fewshot.target_utts > 0 and cfg.fewshot.target_lang not in cfg.data.synth.langs


def test_prepare_section_errors_name_the_key(tmp_path):
    data = cconfig.DataConfig(label_key="label", prepare=cconfig.PrepareConfig(corpus="adimaa", root=str(tmp_path)))
    with pytest.raises(ValueError, match="data.prepare.corpus"):
        ctask.manifest_paths(data)
    data.prepare.corpus, data.prepare.root = "adima", ""
    with pytest.raises(ValueError, match="data.prepare.root"):
        ctask.manifest_paths(data)
