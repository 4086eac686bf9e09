"""SLURP in its released layout (dataset/slurp/*.jsonl + metadata.json + slurp_real/*.flac), as the test writes it:
rows per recording, intent = scenario_action, speakers from metadata, the official split, bad rows reported."""

import json

import numpy as np
import pytest

from polyvox.cli import main as cli
from polyvox.data.audio import save_audio
from polyvox.data.corpora.common import CorpusError
from polyvox.data.corpora.slu import prepare_slurp
from polyvox.data.manifest import read_manifest


def _slurp(root):
    ann = root / "dataset" / "slurp"
    ann.mkdir(parents=True)
    rows = {"train": [(1, "wake me up at five am", "alarm", "set", ["a1-headset", "a1-near"]),
                      (2, "what is the weather", "weather", "query", ["a2-headset"])],
            "devel": [(3, "turn the lights off", "iot", "hue_lightoff", ["a3-headset"])],
            "test": [(4, "play some jazz", "play", "music", ["a4-headset", "a4-gone"])]}
    meta = {}
    for split, items in rows.items():
        lines = []
        for sid, sentence, scenario, action, recs in items:
            for r in recs:
                if r != "a4-gone":  # listed in test.jsonl, never recorded
                    save_audio(root / "slurp_real" / f"audio-{r}.flac", np.zeros(8000, dtype=np.float32) + 0.01)
            lines.append(json.dumps({"slurp_id": sid, "sentence": sentence, "sentence_annotation": sentence,
                                     "scenario": scenario, "action": action, "intent": f"{scenario}_{action}",
                                     "recordings": [{"file": f"audio-{r}.flac"} for r in recs]}))
            meta[str(sid)] = {"recordings": {f"audio-{r}.flac": {"usrid": f"U{sid}"} for r in recs}}
        (ann / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    (ann / "metadata.json").write_text(json.dumps(meta))
    return root


def test_slurp_rows_intents_speakers_and_splits(tmp_path):
    out = prepare_slurp(_slurp(tmp_path / "slurp"), tmp_path / "m")
    rows = {s: read_manifest(p) for s, p in out.items()}
    assert [len(rows[s]) for s in ("train", "dev", "test")] == [3, 1, 1]  # a4-gone is missing: skipped
    u = next(u for u in rows["train"] if u.id == "slurp-audio-a1-near")
    assert u.text == "wake me up at five am" and u.custom["intent"] == "alarm_set" and u.speaker == "U1"
    assert u.language == "en" and u.duration == pytest.approx(0.5)
    assert rows["dev"][0].custom["intent"] == "iot_hue_lightoff"
    report = (tmp_path / "m").glob("*skipped*")
    assert any("a4-gone" in p.read_text() for p in report)
    assert prepare_slurp(tmp_path / "slurp", tmp_path / "m") == out  # reused


def test_slurp_errors_name_the_file_and_line(tmp_path):
    root = _slurp(tmp_path / "slurp")
    with pytest.raises(CorpusError, match="audio-a4-gone.flac not found"):
        prepare_slurp(root, tmp_path / "m", on_error="raise")
    (root / "dataset" / "slurp" / "devel.jsonl").write_text('{"sentence": "x", "recordings": []}\n')
    with pytest.raises(CorpusError, match=r"devel.jsonl:1: field\(s\) scenario, action missing"):
        prepare_slurp(root, tmp_path / "m2")
    with pytest.raises(CorpusError, match="dataset/slurp/ not found"):
        prepare_slurp(tmp_path / "nowhere", tmp_path / "m3")


def test_polyvox_prepare_slurp(tmp_path, capsys):
    root = _slurp(tmp_path / "slurp")
    assert cli(["prepare", "slurp", str(root), "--out", str(tmp_path / "m")]) == 0
    assert "train: 3 utterances" in capsys.readouterr().out
