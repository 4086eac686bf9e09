"""recipes/spoken_qa end to end on a tiny facts corpus: both tasks, every system, the recognizers trained by the
recipe through `polyvox train asr_ctc...`, the consistency tables, the saved runs answering through
`polyvox understand --context`, and a finished run reused.

What these tests can tell: the systems share the splits, the tables have every column with the zero-shot language
marked, the saved runs load without the recipe. What they cannot: which system is better (a few steps)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from polyvox.data.audio import load_audio
from polyvox.data.corpora.qa import load_facts_qa
from polyvox.data.synth.facts import corpus_paths
from polyvox.multimodal.cascade import answer_questions, load_cascade
from polyvox.multimodal.cli import load_answering, load_understanding
from polyvox.train.recipes import load_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.fixture(scope="module")
def debug_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qa")
    main = load_recipe(RECIPES / "spoken_qa" / "train.py").main
    overrides = [f"run_dir={tmp / 'run'}", f"data.facts.dir={tmp / 'corpus'}"]
    assert main(str(RECIPES / "spoken_qa" / "configs" / "debug.yaml"), overrides) == 0
    return tmp, main, overrides


@pytest.mark.slow
def test_both_tasks_every_system_in_the_tables(debug_run):
    tmp, _, _ = debug_run
    run = tmp / "run"
    md = (run / "results.md").read_text()
    for heading in ("## closed_book: accuracy", "## closed_book: speech=text", "## closed_book: cross-lingual",
                    "## comprehension: em", "## comprehension: f1", "## comprehension: record",
                    "## comprehension: speech=text", "## Summary"):
        assert heading in md
    assert "| de (zero-shot) |" in md and "same and right" in md
    scores = json.loads((run / "results.json").read_text())["scores"]
    cb, rc = scores["closed_book"], scores["comprehension"]
    assert set(cb) == {"end-to-end"} | {f"{k} {f}" for k in ("text", "cascade") for f in ("native", "romanized", "ipa")}
    assert {"end-to-end", "text ipa", "cascade ipa", "cascade ipa, written q"} <= set(rc)
    assert set(cb["end-to-end"]["accuracy"]) == {"en", "ru", "de", "all"}
    for column in cb.values():
        assert all(0.0 <= v <= 1.0 for vs in column["accuracy"].values() for v in vs)
    for unit in ("char", "phone"):
        assert (run / f"asr-{unit}" / "model.safetensors").exists()
    # every spoken question and context the recipe used was transcribed once, keyed by id
    heard = json.loads((run / "transcripts-char-contexts.json").read_text())["texts"]
    _, items = load_facts_qa(corpus_paths(tmp / "corpus"))
    assert {i.id for i in items["test"]} <= set(heard) and not any(i.id in heard for i in items["train"]
                                                                    if not i.context_audio)


@pytest.mark.slow
def test_saved_runs_answer_through_understand(debug_run):
    tmp, _, _ = debug_run
    seed = tmp / "run" / "seed-0"
    _, items = load_facts_qa(corpus_paths(tmp / "corpus"))
    item = items["test"][0]
    context, question = load_audio(item.context_audio)[0], load_audio(item.question.audio)[0]
    cascade = load_cascade(seed / "comprehension" / "cascade-romanized")
    out = answer_questions(cascade, [question, item.question.text], context, item.language)
    assert len(out) == 2 and all(set(o) == {"answer", "question_text", "context_text", "transcript"} for o in out)
    assert out[1]["question_text"] == "".join(ch for ch in out[1]["question_text"] if ord(ch) < 128)  # romanized
    listen = load_answering(str(seed / "comprehension" / "e2e"))
    res = listen([question], context)[0]
    assert len(res["probs"]) == len(item.records) and res["answer"].startswith("record ")
    predict, labels = load_understanding(str(seed / "closed_book" / "cascade-native"))
    assert predict([question], [item.language])[0]["label"] in labels
    cmd = [sys.executable, "-m", "polyvox", "understand", str(seed / "comprehension" / "cascade-native"),
           item.question.audio, "--context", item.context_audio, "--question", item.question.text, "--json"]
    lines = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(lines) == 2 and "answer" in json.loads(lines[0])
    bad = subprocess.run(cmd[:5], capture_output=True, text=True)  # no --context
    assert bad.returncode == 2 and "give --context" in bad.stderr


@pytest.mark.slow
def test_a_finished_run_is_reused(debug_run, capsys):
    tmp, main, overrides = debug_run
    before = (tmp / "run" / "seed-0" / "comprehension" / "scores.json").stat().st_mtime_ns
    assert main(str(RECIPES / "spoken_qa" / "configs" / "debug.yaml"), overrides) == 0
    assert (tmp / "run" / "seed-0" / "comprehension" / "scores.json").stat().st_mtime_ns == before
    assert "(trained)" in capsys.readouterr().out  # the recognizers were not trained again
