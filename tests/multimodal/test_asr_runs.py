"""The cascades' recognizer transcripts: a run's own test predictions stand in for decoding the same clips again."""

import json

import yaml

from polyvox.multimodal.asr_runs import run_test_transcripts, transcribe_cached
from polyvox.train.runs import MODEL_FILE


def _tested_run(tmp_path, test_manifests):
    run = tmp_path / "asr-char"
    run.mkdir()
    (run / MODEL_FILE).write_bytes(b"not loaded: every clip below is in the run's test predictions")
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"test_manifests": [str(p) for p in test_manifests]}}))
    rows = [{"id": "q1", "language": "en", "ref": "a b", "hyp": "a b"}, {"id": "r1", "language": "de", "ref": "c",
                                                                          "hyp": "c d"}]
    (run / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def test_clips_the_run_was_tested_on_are_not_decoded_again(tmp_path):
    manifests = [tmp_path / "test.jsonl", tmp_path / "records-test.jsonl"]
    run = _tested_run(tmp_path, manifests)
    assert run_test_transcripts(run, manifests) == {"q1": "a b", "r1": "c d"}
    assert run_test_transcripts(run, manifests[:1]) == {}  # another test set: its ids may name other clips
    out = transcribe_cached(run, {"q": [("r1", "r1.wav"), ("q1", "q1.wav")]}, tmp_path / "cache.json", "run",
                            test_manifests=manifests)  # decoding would fail: the weights file is not a model
    assert out == {"q": ["c d", "a b"]}
    assert json.loads((tmp_path / "cache.json").read_text())["texts"] == {"r1": "c d", "q1": "a b"}
