"""End to end: recipes/emotion/train.py on the smoke config (synthetic corpus, a few steps)
writes per-language results, predictions and confusion matrices; cross-lingual runs mark
languages absent from training as zero-shot."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "emotion"


def _main():
    spec = importlib.util.spec_from_file_location("emotion_recipe", RECIPE / "train.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod.main


@pytest.mark.slow
def test_emotion_recipe_smoke_cross_lingual(tmp_path):
    run = tmp_path / "run"
    rc = _main()(str(RECIPE / "configs" / "smoke.yaml"),
                 [f"run_dir={run}", f"data.synth.dir={tmp_path / 'corpus'}", "data.train_langs=[en]",
                  "train.max_steps=3", "train.eval_every=3"])  # fmt: skip
    assert rc == 0
    res = json.loads((run / "results.json").read_text())
    assert res["train_langs"] == ["en"] and res["labels"] == ["angry", "neutral", "sad"]
    assert set(res["summary"]) == {"all", "en", "de"}
    assert 0.0 <= res["summary"]["all"]["uar"] <= 1.0
    assert "de (zero-shot)" in (run / "results.md").read_text()
    assert (run / "confusion_de.png").exists()
    preds = [json.loads(l) for l in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == res["summary"]["all"]["num_examples"] > 0
    assert {p["true"] for p in preds} <= {"angry", "neutral", "sad"}


def test_unknown_config_key_is_an_error(tmp_path):
    from polyvox.train.config import ConfigError

    with pytest.raises(ConfigError, match="poolin"):
        _main()(str(RECIPE / "configs" / "smoke.yaml"), ["model.poolin=mean", f"run_dir={tmp_path}"])
