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
import yaml
from torchaudio.functional import edit_distance

from polyvox.data.audio import load_audio
from polyvox.data.corpora.qa import load_facts_qa
from polyvox.data.synth.facts import corpus_paths
from polyvox.multimodal.cascade import answer_questions, load_cascade
from polyvox.multimodal.cli import load_answering, load_understanding
from polyvox.speech.asr.vocab import text_to_tokens
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
    # the ASR error the cascades inherit: CER of the recipe's own transcripts against what each test clip says
    assert "## ASR: the char recognizer's transcripts of the test questions" in md and "test records" in md
    errors = json.loads((run / "results.json").read_text())["asr_errors"]
    said = json.loads((run / "transcripts-char.json").read_text())["texts"]
    records = {r.id: r for i in items["test"] for r in i.records}
    edits = total = 0
    for r in records.values():
        ref, hyp = text_to_tokens(r.text), text_to_tokens(said[r.id])
        ref, hyp = [" " if t == "|" else t for t in ref], [" " if t == "|" else t for t in hyp]
        edits, total = edits + int(edit_distance(ref, hyp)), total + len(ref)
    assert errors["records"]["all"]["utterances"] == len(records)
    # the test clips the recipe's char recognizer was tested on are its test transcripts, not decoded again
    tested = [json.loads(l) for l in (run / "asr-char" / "predictions.jsonl").read_text().splitlines()]
    assert {r["id"]: r["hyp"] for r in tested if r["id"] in records} == {i: said[i] for i in records}
    assert yaml.safe_load((run / "asr-char" / "config.yaml").read_text())["test_greedy"] is False
    assert errors["records"]["all"]["cer"] == pytest.approx(edits / total)
    assert set(errors["questions"]) == {"en", "ru", "de", "all"}


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


def _espeak(path, text, voice):
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)


@pytest.mark.slow
def test_the_recipe_on_a_ccfqa_folder(tmp_path):
    """CCFQA's layout, spoken by espeak-ng: facts learnt in English, asked in German (zero-shot), closed-book."""
    root = tmp_path / "CCFQA"
    facts = [("France", "Frankreich", "euro"), ("Japan", "Japan", "yen"), ("India", "Indien", "rupee"),
             ("Brazil", "Brasilien", "real")]
    for name in ("valid", "test"):
        rows = []
        for k, (en, de, money) in enumerate(facts[:2] if name == "valid" else facts[2:]):
            row = {"index": k, "source": "fixture", "label": "geo"}
            for lang, country, voice in (("en", en, "en-us"), ("de", de, "de")):
                audio = f"audio/{name}-{k}-{lang}.wav"
                question = (f"What is the currency of {country}?" if lang == "en"
                            else f"Was ist die Währung von {country}?")
                _espeak(root / audio, question, voice)
                row[lang] = {"audio": audio, "question": question, "answer": money}
            rows.append(json.dumps(row))
        (root / "jsonl").mkdir(exist_ok=True)
        (root / "jsonl" / f"{name}.jsonl").write_text("\n".join(rows) + "\n")
    main = load_recipe(RECIPES / "spoken_qa" / "train.py").main
    overrides = [f"run_dir={tmp_path / 'run'}", "data.source=ccfqa", f"data.path={root}", "data.train_langs=[en]",
                 "data.eval_langs=[de]", "tasks=[closed_book]", "systems=[e2e,native]",
                 "asr.char_init="]  # CCFQA has no phonemes to train a phone recognizer on: chars from scratch
    assert main(str(RECIPES / "spoken_qa" / "configs" / "debug.yaml"), overrides) == 0
    scores = json.loads((tmp_path / "run" / "results.json").read_text())["scores"]["closed_book"]
    assert set(scores) == {"text native", "cascade native", "end-to-end"}
    assert set(scores["end-to-end"]["accuracy"]) == {"de", "all"}
    assert "| de (zero-shot) |" in (tmp_path / "run" / "results.md").read_text()
    with pytest.raises(SystemExit, match="disjoint"):
        main(str(RECIPES / "spoken_qa" / "configs" / "debug.yaml"), overrides + ["data.eval_langs=[en,de]"])


@pytest.mark.slow
def test_the_recipe_on_spoken_squad_transcripts(tmp_path, capsys):
    """Spoken-SQuAD's JSON with no audio: the text span model alone, EM / F1 per language."""
    root = tmp_path / "Spoken-SQuAD"
    root.mkdir()
    pairs = [("france", "euro"), ("japan", "yen"), ("india", "rupee"), ("brazil", "real"), ("egypt", "pound")]
    paras = []
    for k in range(len(pairs)):
        recs = [pairs[(k + j) % len(pairs)] for j in range(3)]
        context = " ".join(f"{c} pays in {m}." for c, m in recs)
        qas = [{"id": f"{k}-{j}", "question": f"What does {c} pay in?",
                "answers": [{"text": m, "answer_start": context.index(f"{c} pays in {m}") + len(f"{c} pays in ")}]}
               for j, (c, m) in enumerate(recs)]
        paras.append({"context": context, "qas": qas})
    for name in ("spoken_train-v1.1.json", "spoken_test-v1.1.json"):
        (root / name).write_text(json.dumps({"data": [{"title": "money", "paragraphs": paras}]}))
    main = load_recipe(RECIPES / "spoken_qa" / "train.py").main
    overrides = [f"run_dir={tmp_path / 'run'}", "data.source=spoken_squad", f"data.path={root}",
                 "tasks=[comprehension]", "systems=[native]"]
    assert main(str(RECIPES / "spoken_qa" / "configs" / "debug.yaml"), overrides) == 0
    assert "no audio in the data: text systems only" in capsys.readouterr().out
    scores = json.loads((tmp_path / "run" / "results.json").read_text())["scores"]["comprehension"]
    assert set(scores) == {"text native"} and set(scores["text native"]) == {"em", "f1"}
    assert set(scores["text native"]["f1"]) == {"en", "all"}


@pytest.mark.slow
def test_the_recipe_listens_to_spoken_squad_audio(debug_run, tmp_path, capsys):
    """Spoken-SQuAD with its paragraph wavs (sentences read with pauses, as its TTS did) and written questions:
    the questions are read by espeak-ng, the contexts cut at their pauses with the transcript aligned into the pieces,
    and the end-to-end listener trains and is scored by the piece it chooses, beside the text systems."""
    import numpy as np

    from polyvox.data.audio import save_audio

    root = tmp_path / "Spoken-SQuAD"
    pairs = [("france", "euro"), ("japan", "yen"), ("india", "rupee"), ("brazil", "real")]
    paras = {}
    for split in ("train", "test"):
        paras[split] = []
        for k in range(len(pairs)):
            recs = [pairs[(k + j) % len(pairs)] for j in range(3)]
            sentences = [f"{c} pays in {m}." for c, m in recs]
            clips = []
            for n, sentence in enumerate(sentences):
                _espeak(tmp_path / "clips" / f"{split}{k}{n}.wav", sentence, "en-us")
                clips += [load_audio(tmp_path / "clips" / f"{split}{k}{n}.wav")[0], np.zeros(12000, np.float32)]
            save_audio(root / "wav" / split / f"0_{k}.wav", np.concatenate(clips))
            context = " ".join(sentences)
            qas = [{"id": f"{split}{k}-{j}", "question": f"What does {c} pay in?",
                    "answers": [{"text": m, "answer_start": context.index(f"{c} pays in {m}") + len(f"{c} pays in ")}]}
                   for j, (c, m) in enumerate(recs)]
            paras[split].append({"context": context, "qas": qas})
        (root / f"spoken_{split}-v1.1.json").write_text(json.dumps({"data": [{"title": "money",
                                                                               "paragraphs": paras[split]}]}))
    tmp, main, _ = debug_run
    overrides = [f"run_dir={tmp_path / 'run'}", "data.source=spoken_squad", f"data.path={root}",
                 "tasks=[comprehension]", "systems=[e2e,native]", f"asr.char_run={tmp / 'run' / 'asr-char'}"]
    assert main(str(RECIPES / "spoken_qa" / "configs" / "debug.yaml"), overrides) == 0
    out = capsys.readouterr().out
    assert "espeak-ng read 24 written questions" in out
    assert len(list((tmp_path / "run" / "data" / "questions" / "en").glob("*.wav"))) == 24
    scores = json.loads((tmp_path / "run" / "results.json").read_text())["scores"]["comprehension"]
    assert set(scores) == {"text native", "cascade native, written q", "cascade native", "end-to-end"}
    assert set(scores["end-to-end"]) == {"record"}  # a piece of a paragraph has no answer of its own
    assert {"em", "f1", "record"} <= set(scores["text native"]) and set(scores["end-to-end"]["record"]) == {"en", "all"}
    pieces = list((tmp_path / "run" / "data" / "pieces").glob("*.wav"))
    assert pieces and "contexts cut into" in out
