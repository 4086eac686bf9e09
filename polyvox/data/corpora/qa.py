"""Spoken question answering corpora -> the two shapes the spoken QA recipe reads:

* closed-book questions: :class:`~polyvox.data.manifest.Utterance` rows (the spoken question, its text) with
  ``custom = {"fact", "answer", "answer_text"}``: ``answer`` is the closed-set class, ``answer_text`` its name;
* comprehension items: :class:`QAItem` (a question, a context spoken and/or written, the answer text).

Sources: the built-in SYNTHETIC facts corpus (:mod:`polyvox.data.synth.facts`), CCFQA
(``jsonl/{valid,test}.jsonl``, one row per fact: ``{index, source, label, <lang>: {audio, question, answer}}``) and
Spoken-SQuAD (SQuAD v1.1 JSON whose contexts are ASR transcripts; audio, where present, at
``<root>/wav/<split>/<article>_<paragraph>.wav``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from polyvox.data.audio import AudioError, audio_info
from polyvox.data.corpora.common import CorpusError, Problems
from polyvox.data.manifest import Utterance, read_manifest

CCFQA_FILES = {"train": "valid.jsonl", "test": "test.jsonl"}
SPOKEN_SQUAD_FILES = {"train": ("spoken_train-v1.1.json", "train-v1.1.json"),
                      "test": ("spoken_test-v1.1.json", "test-v1.1.json", "dev-v1.1.json")}


@dataclass(frozen=True)
class QAItem:
    """One comprehension example. ``question.audio`` is "" for a written-only question; the context is ``records``
    (spoken "entity, value" utterances, the answer the value of ``records[answer_index]``) or ``context_text`` with
    the answer at ``answer_start``; ``context_audio`` is the whole spoken context, when there is one."""

    id: str
    language: str
    question: Utterance
    answer_text: str
    context_text: str = ""
    context_audio: str = ""
    records: tuple[Utterance, ...] = ()
    answer_index: int = -1
    answer_start: int = -1


def load_facts_qa(paths: Mapping[str, Path]) -> tuple[dict[str, list[Utterance]], dict[str, list[QAItem]]]:
    """The facts corpus manifests (:func:`polyvox.data.synth.facts.corpus_paths`) -> (questions, items) per split."""
    questions, items = {}, {}
    for split in ("train", "dev", "test"):
        questions[split] = read_manifest(paths[split])
        by_id = {u.id: u for u in questions[split]} | {u.id: u for u in read_manifest(paths[f"records-{split}"])}
        items[split] = []
        for line in Path(paths[f"comprehension-{split}"]).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            records = tuple(by_id[r] for r in row["records"])
            items[split].append(QAItem(row["id"], row["language"], by_id[row["question"]],
                                       records[row["answer_index"]].custom["answer_text"],
                                       context_audio=row["audio"], records=records,
                                       answer_index=row["answer_index"]))
    return questions, items


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}:{n}: not a JSON object ({e.msg})") from None
    return rows


def load_ccfqa(root: str | Path, on_error: str = "skip") -> dict[str, list[Utterance]]:
    """CCFQA -> closed-book questions, one Utterance per (fact, language) with its spoken question;
    ``custom["answer"]`` is the fact (its file and ``index``), since CCFQA's answers are free text, and
    ``custom["ccfqa_file"]`` says which file it came from. A closed-set answer must be seen in training, so "train"
    and "test" both hold every fact of both files (``dev`` is empty): the recipe keeps train to ``data.train_langs``
    and test to disjoint ``data.eval_langs``, i.e. facts learnt in some languages are asked in others. A row's
    unreadable audio is reported (``on_error="skip"``) or stops the run (``"raise"``)."""
    root = Path(root)
    base = root / "jsonl" if (root / "jsonl").is_dir() else root
    problems = Problems(on_error)
    rows_out: list[Utterance] = []
    for split, name in CCFQA_FILES.items():
        path = base / name
        if not path.exists():
            raise CorpusError(f"{path}: missing; a CCFQA folder holds jsonl/{CCFQA_FILES['train']} and "
                              f"jsonl/{CCFQA_FILES['test']}")
        for n, row in enumerate(_read_jsonl(path), 1):
            if "index" not in row:
                raise CorpusError(f"{path}:{n}: field 'index' missing (has {sorted(row)})")
            langs = [k for k, v in row.items() if isinstance(v, dict) and "question" in v]
            for lang in langs:
                entry = row[lang]
                where = f"{path}:{n} [{lang}]"
                if not entry.get("answer"):
                    problems.add(where, "field 'answer' empty")
                    continue
                audio = (base / entry["audio"]) if entry.get("audio") else None
                if audio is not None and not audio.exists():
                    audio = root / entry["audio"]
                duration = 0.0
                if audio is not None:
                    try:
                        duration = audio_info(audio).duration
                    except (AudioError, FileNotFoundError, OSError) as e:
                        problems.add(where, f"audio {entry['audio']}: {e}")
                        continue
                fact = f"{split}-{row['index']}"
                rows_out.append(Utterance(
                    id=f"ccfqa-{fact}-{lang}", audio=str(audio.resolve()) if audio else "",
                    duration=duration, sample_rate=16000, language=lang.split("_")[0].split("-")[0],
                    text=entry["question"], custom={"fact": fact, "answer": fact, "answer_text": entry["answer"],
                                                    "ccfqa_file": name, "source": row.get("source", ""),
                                                    "label": row.get("label", "")}))
    for p in problems.rows:
        print(f"ccfqa: skipped {p['where']}: {p['reason']}")
    return {"train": list(rows_out), "dev": [], "test": list(rows_out)}


def load_spoken_squad(root: str | Path, on_error: str = "skip") -> dict[str, list[QAItem]]:
    """Spoken-SQuAD -> comprehension items {"train", "dev": [], "test"}: the written question, the context (its ASR
    transcript, as released) and the first gold answer with its offset; the paragraph's audio when present."""
    root = Path(root)
    problems = Problems(on_error)
    out: dict[str, list[QAItem]] = {"train": [], "dev": [], "test": []}
    for split, names in SPOKEN_SQUAD_FILES.items():
        path = next((root / n for n in names if (root / n).exists()), None)
        if path is None:
            raise CorpusError(f"{root}: none of {', '.join(names)} found for the {split} split")
        try:
            articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise CorpusError(f"{path}: not SQuAD v1.1 JSON (a top-level 'data' list expected): {e}") from None
        for a, article in enumerate(articles):
            for p, para in enumerate(article.get("paragraphs", [])):
                wav = root / "wav" / split / f"{a}_{p}.wav"
                context = para.get("context", "")
                for qa in para.get("qas", []):
                    where = f"{path} article {a} paragraph {p} question {qa.get('id', '?')}"
                    answers = qa.get("answers") or []
                    if not answers or not answers[0].get("text"):
                        problems.add(where, "no answer text")
                        continue
                    ans = answers[0]
                    start = int(ans.get("answer_start", -1))
                    if context[start:start + len(ans["text"])] != ans["text"]:
                        found = context.find(ans["text"])
                        if found < 0:
                            problems.add(where, f"answer {ans['text']!r} not in the context")
                            continue
                        start = found
                    q = Utterance(id=f"squad-{split}-{qa['id']}", audio="", duration=0.0, sample_rate=16000,
                                  language="en", text=qa["question"])
                    out[split].append(QAItem(q.id, "en", q, ans["text"], context_text=context,
                                             context_audio=str(wav.resolve()) if wav.exists() else "",
                                             answer_start=start))
    for p in problems.rows:
        print(f"spoken_squad: skipped {p['where']}: {p['reason']}")
    return out
