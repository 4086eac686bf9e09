"""The spoken QA loaders on fixtures in the releases' layouts: CCFQA (jsonl/{valid,test}.jsonl, one row per fact
with a {audio, question, answer} entry per language) and Spoken-SQuAD (SQuAD v1.1 JSON, audio per paragraph)."""

import json

import numpy as np
import pytest

from polyvox.data.audio import save_audio
from polyvox.data.corpora.common import CorpusError
from polyvox.data.corpora.qa import load_ccfqa, load_spoken_squad


def _ccfqa(root, corrupt=False):
    (root / "jsonl").mkdir(parents=True)
    (root / "audio").mkdir()
    for name in ("q1_en", "q1_zh", "q2_en", "q2_zh"):
        save_audio(root / "audio" / f"{name}.wav", np.zeros(8000, dtype=np.float32) + 0.01)
    if corrupt:
        (root / "audio" / "q2_zh.wav").write_bytes(b"not a wav")
    row = lambda i: {"index": i, "source": "wiki", "label": "geo",  # noqa: E731
                     "en": {"audio": f"audio/q{i}_en.wav", "question": f"Question {i}?", "answer": f"answer {i}"},
                     "zh": {"audio": f"audio/q{i}_zh.wav", "question": f"问题 {i}?", "answer": f"答案 {i}"}}
    (root / "jsonl" / "valid.jsonl").write_text(json.dumps(row(1), ensure_ascii=False) + "\n")
    (root / "jsonl" / "test.jsonl").write_text(json.dumps(row(2), ensure_ascii=False) + "\n")
    return root


def test_ccfqa_rows_become_spoken_questions(tmp_path):
    out = load_ccfqa(_ccfqa(tmp_path / "CCFQA"))
    assert [len(out[s]) for s in ("train", "dev", "test")] == [4, 0, 4]  # every fact: learnt and asked by language
    zh = next(u for u in out["test"] if u.language == "zh" and u.custom["ccfqa_file"] == "test.jsonl")
    assert zh.text == "问题 2?" and zh.custom["answer"] == "test-2" and zh.custom["answer_text"] == "答案 2"
    assert zh.duration == pytest.approx(0.5) and zh.audio.endswith("q2_zh.wav")


def test_ccfqa_corrupt_audio_is_reported_and_skipped_or_stops(tmp_path, capsys):
    root = _ccfqa(tmp_path / "CCFQA", corrupt=True)
    out = load_ccfqa(root)
    assert [u.id for u in out["test"]] == ["ccfqa-train-1-en", "ccfqa-train-1-zh", "ccfqa-test-2-en"]
    assert "test.jsonl:1 [zh]" in capsys.readouterr().out
    with pytest.raises(CorpusError, match=r"test.jsonl:1 \[zh\]: audio audio/q2_zh.wav"):
        load_ccfqa(root, on_error="raise")
    with pytest.raises(CorpusError, match="valid.jsonl"):
        load_ccfqa(tmp_path / "nowhere")


def test_spoken_squad_contexts_answers_and_audio(tmp_path):
    root = tmp_path / "Spoken-SQuAD"
    root.mkdir()
    context = "the currency of japan is the yen and the currency of france is the euro"
    para = {"context": context, "qas": [
        {"id": "a", "question": "What is the currency of Japan?", "answers": [{"text": "yen", "answer_start": 29}]},
        {"id": "b", "question": "And France?", "answers": [{"text": "euro", "answer_start": 3}]},  # wrong offset
        {"id": "c", "question": "No answer?", "answers": []}]}
    for name in ("spoken_train-v1.1.json", "spoken_test-v1.1.json"):
        (root / name).write_text(json.dumps({"data": [{"title": "t", "paragraphs": [para]}]}))
    save_audio(root / "wav" / "test" / "0_0.wav", np.zeros(16000, dtype=np.float32))
    out = load_spoken_squad(root)
    assert len(out["train"]) == len(out["test"]) == 2  # "c" has no answer: skipped
    a, b = out["test"]
    assert context[a.answer_start:a.answer_start + 3] == "yen" and a.question.text.startswith("What")
    assert context[b.answer_start:b.answer_start + 4] == "euro"  # the offset is found again
    assert a.context_audio.endswith("0_0.wav") and out["train"][0].context_audio == ""
    (root / "spoken_test-v1.1.json").write_text("{}")
    with pytest.raises(CorpusError, match="spoken_test-v1.1.json: not SQuAD"):
        load_spoken_squad(root)
