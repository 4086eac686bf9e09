"""Spoken question answering, CCFQA's and Spoken-SQuAD's questions: does a model give the same, correct answer to a
fact whether it is spoken or written, in any language, and how do ASR errors travel into answers?

    polyvox train spoken_qa [key=value ...]                  (= recipes/spoken_qa/configs/base.yaml)
    polyvox train spoken_qa data.source=ccfqa data.path=/data/CCFQA data.train_langs=[en] data.eval_langs=[zh,ja] \
        asr.char_init=

Top to bottom: config -> questions and comprehension items (the built-in SYNTHETIC facts corpus, CCFQA or
Spoken-SQuAD) -> the recognizers (reused, or trained here by ``polyvox train asr_ctc...``) and their transcripts of
every spoken question and context -> per seed and task, one model per system -> tables (mean +- sd over seeds).

* closed-book: question -> answer class. ``text <form>``: the text model on the written question (trained on written
  questions); ``cascade <form>``: the same model on the ASR transcript (cross-modal); ``end-to-end``: the char ASR's
  frozen encoder -> pooling -> answer classes.
* comprehension: (question, context) -> answer span. ``text <form>``: written question, written context;
  ``cascade <form>, written q``: the spoken context transcribed; ``cascade <form>``: both transcribed;
  ``end-to-end``: spoken question vs spoken records (:class:`polyvox.multimodal.spoken_qa.RecordSelector`).

Languages in ``data.eval_langs`` never trained on are zero-shot. Consistency (CCFQA): the share of facts answered
the same in every test language, and speech vs text agreement per language.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from polyvox.data.corpora.qa import load_ccfqa, load_facts_qa, load_spoken_squad
from polyvox.data.manifest import write_manifest
from polyvox.data.synth.corpus import speak_texts
from polyvox.data.synth.facts import synthesize_facts_corpus
from polyvox.eval import qa as qa_metrics
from polyvox.eval.error_rates import error_counts, results_table, summarize
from polyvox.eval.tables import mean_sd, seeds_table, trained_vs_zero_shot_table
from polyvox.multimodal.asr_runs import ensure_asr_runs, transcribe_cached
from polyvox.multimodal.cascade import cascade_texts, save_cascade
from polyvox.multimodal.config import SpokenQAConfig
from polyvox.multimodal.spoken_qa import predict_records, segment_contexts, train_selector
from polyvox.speech.asr.vocab import text_to_tokens
from polyvox.speech.classify.frozen import encode_utterances, predict_frames, train_frame_classifier
from polyvox.speech.classify.model import load_asr_encoder
from polyvox.text.classify.run import classify_texts
from polyvox.text.classify.task import train_text_classifier
from polyvox.text.forms import gold_text
from polyvox.text.qa.run import answer
from polyvox.text.qa.task import item_example, train_qa_model
from polyvox.train.config import config_to_dict, load_config, save_config
from polyvox.train.runs import sub_run_dir

FORMS = ("native", "romanized", "ipa")


def main(config_path: str, overrides: list[str]) -> int:
    t0 = time.time()
    cfg = load_config(SpokenQAConfig, config_path, overrides)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = Path(cfg.run_dir)
    save_config(cfg, root / "config.yaml")

    # ---- data: closed-book questions and comprehension items, train/dev in the training languages
    questions, items, asr_manifests = load_data(cfg, root)
    train_langs = sorted({u.language for u in questions["train"]} | {i.language for i in items["train"]})
    test_langs = sorted({u.language for u in questions["test"]} | {i.language for i in items["test"]})
    print(f"closed-book: {', '.join(f'{s} {len(v)}' for s, v in questions.items())} questions; comprehension: "
          f"{', '.join(f'{s} {len(v)}' for s, v in items.items())} items; train {train_langs}, test {test_langs}",
          flush=True)

    # ---- recognizers and their transcripts of every spoken question and context
    forms = [s for s in cfg.systems if s in FORMS]
    has_audio = any(u.audio for qs in questions.values() for u in qs) or any(
        i.question.audio or i.context_audio for its in items.values() for i in its)
    if not has_audio:  # e.g. Spoken-SQuAD's released transcripts without its audio: the text systems only
        print("no audio in the data: text systems only", flush=True)
    units = ({"char"} if {"native", "romanized", "e2e"} & set(cfg.systems) else set()) | (
        {"phone"} if "ipa" in forms else set())
    asr_dirs = ensure_asr_runs(cfg.asr, units, asr_manifests, root, cfg.threads) if has_audio else {}
    # clips whose text is what was said, taken before contexts are cut into records transcribed by the recognizer
    references = {"questions": [u for u in questions["test"] if u.audio and u.text]
                  + [i.question for i in items["test"] if i.question.audio and i.question.text],
                  "records": [r for i in items["test"] for r in i.records if r.audio and r.text]}
    if "char" in asr_dirs and any(i.context_audio and not i.records for its in items.values() for i in its):
        items = cut_contexts(cfg, root, items, asr_dirs["char"])
    # the cascades are scored on the test clips only (every model trains on written text): only those are decoded
    said = list(dict.fromkeys([(u.id, u.audio) for u in questions["test"] if u.audio]
                              + [(i.question.id, i.question.audio) for i in items["test"] if i.question.audio]
                              + [(r.id, r.audio) for i in items["test"] for r in i.records]))
    contexts = [(i.id, i.context_audio) for i in items["test"] if i.context_audio]
    heard = {}  # unit -> clip id -> transcript
    for unit, d in asr_dirs.items():
        if {"char": {"native", "romanized"}, "phone": {"ipa"}}[unit] & set(forms):
            texts = transcribe_cached(d, {"q": said}, root / f"transcripts-{unit}.json", cfg.asr.decode,
                                      test_manifests=asr_manifests.get("test", ()))["q"]
            texts += transcribe_cached(d, {"c": contexts}, root / f"transcripts-{unit}-contexts.json", cfg.asr.decode,
                                       long_form=cfg.long_form_contexts)["c"]
            heard[unit] = dict(zip([c for c, _ in said + contexts], texts))

    asr_errors = transcript_errors(references, heard["char"]) if "char" in heard else {}

    def asr_text(uid, form, lang):  # a clip's transcript in a text form ("" when it has no audio)
        text = heard["phone" if form == "ipa" else "char"].get(uid, "")
        return cascade_texts([text], form, [lang])[0]

    # ---- the end-to-end systems hear the char recognizer's frozen frames, computed once
    frames = {}
    if "e2e" in cfg.systems and "char" in asr_dirs:
        model_cfg = replace(cfg.e2e.model, encoder="asr", name_or_path=cfg.e2e.model.name_or_path or
                            str(asr_dirs["char"]))
        cfg = replace(cfg, e2e=replace(cfg.e2e, model=model_cfg))
        spoken = {u.id: u for qs in questions.values() for u in qs if u.audio}
        spoken |= {u.id: u for its in items.values() for i in its for u in (i.question, *i.records) if u.audio}
        t = time.time()
        frames = dict(zip(spoken, encode_utterances(load_asr_encoder(cfg.e2e.model), list(spoken.values()))))
        print(f"end-to-end: frames of {len(frames)} clips in {time.time() - t:.0f} s", flush=True)

    # ---- per seed: every task and system
    scores: dict = {}  # task -> column -> metric -> language -> [per seed]
    runners = {"closed_book": (closed_book, questions), "comprehension": (comprehension, items)}
    for seed in cfg.seeds:
        result = {}
        for task in cfg.tasks:
            run_task, data = runners[task]
            if not data["train"]:
                continue
            out_dir = root / f"seed-{seed}" / task
            done = out_dir / "scores.json"  # a finished (seed, task) with the same config is reused
            if done.exists() and json.loads(done.read_text(encoding="utf-8"))["config"] == config_to_dict(cfg):
                result[task] = json.loads(done.read_text(encoding="utf-8"))["scores"]
                continue
            sub_run_dir(out_dir, config_to_dict(cfg))  # checkpoints of another config are not resumed
            result[task] = run_task(cfg, seed, out_dir, data, forms, asr_text, frames, asr_dirs)
            done.write_text(json.dumps({"config": config_to_dict(cfg), "scores": result[task]}), encoding="utf-8")
        for task, columns in result.items():
            for column, metrics in columns.items():
                for metric, per_lang in metrics.items():
                    for lang, v in per_lang.items():
                        (scores.setdefault(task, {}).setdefault(column, {}).setdefault(metric, {})
                         .setdefault(lang, []).append(v))
    write_report(cfg, root, scores, train_langs, test_langs, asr_dirs, (time.time() - t0) / 60, asr_errors)
    return 0


def load_data(cfg: SpokenQAConfig, root: Path):
    """(questions, items, ASR training manifests), train and dev kept to ``data.train_langs``, test to
    ``data.eval_langs``; CCFQA has one copy of each fact per language, so its train and test languages must differ."""
    d = cfg.data
    if d.source == "facts":
        paths = synthesize_facts_corpus(d.facts)
        questions, items = load_facts_qa(paths)
        manifests = {s: [paths[s], paths[f"records-{s}"]] for s in ("train", "dev", "test")}
    elif d.source == "ccfqa":
        questions, items = load_ccfqa(d.path), {"train": [], "dev": [], "test": []}
        if not d.train_langs or not d.eval_langs or set(d.train_langs) & set(d.eval_langs):
            raise SystemExit("data.source=ccfqa: give disjoint data.train_langs and data.eval_langs (every CCFQA fact "
                             "is asked once per language, so a language both trained and tested on leaks)")
        # its recognizer learns every language's questions (transcripts, not answers); dev picks its checkpoint
        asr_rows = {"train": questions["train"], "dev": questions["train"], "test": questions["test"]}
        manifests = {s: [write_manifest(root / "data" / f"asr-{s}.jsonl", [u for u in v if u.audio])]
                     for s, v in asr_rows.items()}
    else:
        questions, items, manifests = {"train": [], "dev": [], "test": []}, load_spoken_squad(d.path), {}
        if d.speak_questions and "e2e" in cfg.systems and any(i.context_audio for v in items.values() for i in v):
            items = speak_questions(items, root / "data" / "questions")
    keep = {"train": d.train_langs, "dev": d.train_langs, "test": d.eval_langs}
    questions = {s: [u for u in v if not keep[s] or u.language in keep[s]] for s, v in questions.items()}
    items = {s: [i for i in v if not keep[s] or i.language in keep[s]] for s, v in items.items()}
    return questions, items, manifests


def cut_contexts(cfg: SpokenQAConfig, root: Path, items, char_run: Path):
    """Spoken contexts without records (Spoken-SQuAD's paragraph wavs): cut at their pauses into pieces, the
    transcript's words aligned into them by the char recognizer (the listener's records); items that cannot be cut
    are left out of every system, so all score the same questions."""
    from polyvox.speech.asr.run import load_run

    run, out = load_run(char_run), {}
    for split, its in items.items():
        out[split], left_out = segment_contexts(its, run, root / "data" / "pieces", min_gap_s=cfg.data.context_pause_s)
        pieces = [len(i.records) for i in out[split]]
        print(f"{split}: {len(out[split])} contexts cut into {sum(pieces) / max(1, len(pieces)):.1f} pieces on "
              f"average; {len(left_out)} left out" + "".join(f"\n  {i}: {why}" for i, why in left_out[:5]), flush=True)
    return out


def speak_questions(items, out_dir: Path):
    """Written-only questions read aloud by espeak-ng (reused on a re-run), for the systems that hear them."""
    todo = [i.question for its in items.values() for i in its if i.question.text and not i.question.audio]
    t = time.time()
    spoken = {u.id: u for u in speak_texts([(q.id, q.language, q.text) for q in todo], out_dir)}
    print(f"espeak-ng read {len(spoken)} written questions in {time.time() - t:.0f} s", flush=True)
    return {s: [replace(i, question=spoken.get(i.question.id, i.question)) for i in its] for s, its in items.items()}


def transcript_errors(references, heard) -> dict:
    """{"questions"|"records": per-language CER/WER summary} of the char recognizer's transcripts of the test clips
    (what the cascades read) against the text each clip says: the ASR error the cascades inherit."""
    out = {}
    for kind, utts in references.items():
        rows = [{"language": u.language, "counts": error_counts(text_to_tokens(u.text),
                                                                text_to_tokens(heard.get(u.id, "")), "char")}
                for u in {u.id: u for u in utts}.values() if u.id in heard]
        if rows:
            out[kind] = summarize(rows)
    return out


def per_language(rows, values) -> dict[str, float]:
    """{language: mean of values, "all": overall mean} for rows with a ``language``."""
    out = {}
    for r, v in zip(rows, values):
        out.setdefault(r.language, []).append(v)
    out["all"] = list(values)
    return {k: sum(v) / len(v) for k, v in out.items() if v}


# ----------------------------------------------------------------------------- closed-book


def closed_book(cfg, seed, out_dir: Path, questions, forms, asr_text, frames, asr_dirs) -> dict:
    labels = sorted({u.custom["answer"] for u in questions["train"]})
    index = {a: k for k, a in enumerate(labels)}
    y = {s: [index.get(u.custom["answer"], -1) for u in v] for s, v in questions.items()}
    test = questions["test"]
    results, answers = {}, {}  # column -> metric -> lang -> value; column -> predicted answers on test

    def score(column, pred):
        answers[column] = [labels[p] for p in pred]
        results[column] = {"accuracy": per_language(test, [float(p == g) for p, g in zip(pred, y["test"])])}

    for form in forms:
        pairs = {s: [(gold_text(u, form), y[s][i]) for i, u in enumerate(v)] for s, v in questions.items()}
        run_dir = out_dir / f"text-{form}"
        run = train_text_classifier(cfg.text, form, pairs["train"], pairs["dev"], labels, run_dir, seed=seed,
                                    max_steps=cfg.text.train.max_steps, label_key="answer")
        score(f"text {form}", classify_texts(run, [t for t, _ in pairs["test"]]).argmax(1).tolist())
        if any(u.audio for u in test):
            spoken = [asr_text(u.id, form, u.language) for u in test]
            score(f"cascade {form}", classify_texts(run, spoken).argmax(1).tolist())
            save_cascade(out_dir / f"cascade-{form}", asr_dirs["phone" if form == "ipa" else "char"], run_dir, form)
    if frames:
        pick = {s: [i for i, u in enumerate(v) if u.id in frames] for s, v in questions.items()}
        model = train_frame_classifier(
            replace(cfg.e2e.model, num_classes=len(labels)), replace(cfg.e2e.train, seed=seed),
            *[[(frames[questions[s][i].id], y[s][i]) for i in pick[s]] for s in ("train", "dev")], labels,
            out_dir / "e2e", batch_size=cfg.e2e.batch_size, label_key="answer")
        score("end-to-end", predict_frames(model, [frames[u.id] for u in test]).argmax(1).tolist())
    trained = {u.language for u in questions["train"]}
    for column, given in answers.items():  # CCFQA's consistency: the same fact, other languages / the other modality
        by_fact, right = {}, {}
        for u, a in zip(test, given):
            by_fact.setdefault(u.custom["fact"], {})[u.language] = a
            right.setdefault(u.custom["fact"], {})[u.language] = a == u.custom["answer"]
        seen = {f: {lang: a for lang, a in v.items() if lang in trained} for f, v in by_fact.items()}
        cons = {"pairwise": qa_metrics.cross_lingual_consistency(by_fact)["pairwise"]}
        if any(len(v) > 1 for v in seen.values()):  # undefined when fewer than 2 trained languages are tested
            cons["same_trained"] = qa_metrics.cross_lingual_consistency(seen)["all_same"]
            cons["same_and_right_trained"] = sum(all(ok for lang, ok in v.items() if lang in trained)
                                                 for v in right.values()) / len(right)
        results[column]["consistency"] = cons
        form = column.split()[-1]
        if column.startswith("cascade") and f"text {form}" in answers:
            same = [float(a == b) for a, b in zip(given, answers[f"text {form}"])]
            results[column]["speech=text"] = per_language(test, same)
    print(f"closed-book seed {seed}: accuracy % " + ", ".join(f"{c} {100 * r['accuracy']['all']:.1f}"
                                                              for c, r in results.items()), flush=True)
    return results


# ----------------------------------------------------------------------------- comprehension


def comprehension(cfg, seed, out_dir: Path, items, forms, asr_text, frames, asr_dirs) -> dict:
    """Span QA per text form (and the end-to-end listener): EM / F1 against the gold answer in that form, and, where
    the context is spoken records, ``record``: the share of answers taken from the answering record (the one figure
    the listener, which outputs a record and no text, shares with the text systems)."""
    test = items["test"]
    results = {}

    def score(column, preds, golds, pieces=None):
        results[column] = {"em": per_language(test, [qa_metrics.exact_match(p, g) for p, g in zip(preds, golds)]),
                           "f1": per_language(test, [qa_metrics.token_f1(p, g) for p, g in zip(preds, golds)])}
        if pieces is not None:
            hits = [float(qa_metrics.piece_of(p, ps) == i.answer_index) for p, ps, i in zip(preds, pieces, test)]
            results[column]["record"] = per_language(test, hits)
        return preds

    by_records = all(i.records for i in test)
    for form in forms:
        ex = {s: [item_example(i, form) for i in v] for s, v in items.items()}
        run_dir = out_dir / f"text-{form}"
        run = train_qa_model(cfg.qa, form, [e for e, _ in ex["train"]], [e for e, _ in ex["dev"]], run_dir, seed=seed,
                             max_steps=cfg.qa.train.max_steps, max_answer_tokens=cfg.max_answer_tokens)
        golds = [a for _, a in ex["test"]]
        written_q = [q for (q, _, _), _ in ex["test"]]
        gold_pieces = [[gold_text(r, form) for r in i.records] for i in test] if by_records else None
        score(f"text {form}", answer(run, written_q, [c for (_, c, _), _ in ex["test"]]), golds, gold_pieces)
        if by_records:  # the recognizer hears each record (a sentence, as it was trained on), pieces joined
            heard = [[asr_text(r.id, form, i.language) for r in i.records] for i in test]
        elif all(i.context_audio for i in test):
            heard = [[asr_text(i.id, form, i.language)] for i in test]
        else:
            continue
        heard_ctx = [" ".join(h) for h in heard]
        pieces = heard if by_records else None
        by_text = score(f"cascade {form}, written q", answer(run, written_q, heard_ctx), golds, pieces)
        if all(i.question.audio for i in test):
            heard_q = [asr_text(i.question.id, form, i.language) for i in test]
            by_speech = score(f"cascade {form}", answer(run, heard_q, heard_ctx), golds, pieces)
            same = [float(qa_metrics.normalize_answer(a) == qa_metrics.normalize_answer(b))
                    for a, b in zip(by_speech, by_text)]
            results[f"cascade {form}"]["speech=text"] = per_language(test, same)
        save_cascade(out_dir / f"cascade-{form}", asr_dirs["phone" if form == "ipa" else "char"], run_dir, form)
    if frames and all(i.records and i.question.id in frames for v in items.values() for i in v):
        data = {s: [(frames[i.question.id], [frames[r.id] for r in i.records], i.answer_index) for i in v]
                for s, v in items.items()}
        sel = cfg.selector
        model = train_selector(frames[test[0].question.id].shape[1], sel.hidden, replace(sel.train, seed=seed),
                               data["train"], data["dev"], out_dir / "e2e", asr_dirs["char"],
                               batch_size=sel.batch_size)
        chosen = [int(p.argmax()) for p in predict_records(model, data["test"])]
        if all("answer_text" in r.custom for i in test for r in i.records):
            # the listener outputs a record, not text: its EM / F1 use that record's reference answer
            picked = [item_example(replace(i, answer_index=k, answer_text=i.records[k].custom["answer_text"]),
                                   "native")[1] for i, k in zip(test, chosen)]
            score("end-to-end", picked, [item_example(i, "native")[1] for i in test])
        else:  # pieces of a paragraph have no answer of their own: the listener is scored by its choice alone
            results["end-to-end"] = {}
        results["end-to-end"]["record"] = per_language(test, [float(k == i.answer_index) for k, i in zip(chosen, test)])
    print(f"comprehension seed {seed}: F1 (record) % " + ", ".join(
        f"{c} {100 * r['f1']['all']:.1f}" if "f1" in r else f"{c} ({100 * r['record']['all']:.1f})"
        for c, r in results.items()), flush=True)
    return results


# ----------------------------------------------------------------------------- report


def write_report(cfg, root: Path, scores, train_langs, test_langs, asr_dirs, minutes: float,
                 asr_errors: dict | None = None) -> None:
    marks = {lang: "zero-shot" for lang in test_langs if lang not in train_langs}
    parts = [f"Source: {cfg.data.source}; trained on {', '.join(train_langs)}; tested on {', '.join(test_langs)}; "
             f"seeds {cfg.seeds}; recognizers: " + ", ".join(f"{u} {d}" for u, d in asr_dirs.items())
             + f"; {minutes:.1f} min in all."]
    for task, columns in scores.items():
        metrics = ["accuracy", "speech=text"] if task == "closed_book" else ["em", "f1", "record", "speech=text"]
        for m in metrics:
            cells = {c: {lang: x for lang, x in v[m].items() if lang != "all"} for c, v in columns.items() if m in v}
            if cells:
                parts.append(f"## {task}: {m}\n\n" + seeds_table(cells, m, marks=marks))
        cons = {c: v["consistency"] for c, v in columns.items() if "consistency" in v}
        if cons:
            def pm(values):
                return f"{100 * mean_sd(values)[0]:.1f} ± {100 * mean_sd(values)[1]:.1f}" if values else "-"
            rows = "\n".join(f"| {c} | {pm(v['pairwise'])} | {pm(v.get('same_trained'))} | "
                             f"{pm(v.get('same_and_right_trained'))} |" for c, v in cons.items())
            parts.append(f"## {task}: cross-lingual consistency (%)\n\nPairwise: the share of test-language pairs "
                         "that give a fact the same answer (averaged over facts). Same / same and right: the share of "
                         "facts answered identically (and correctly) in every trained language. Agreement is not "
                         "correctness: a model answering everything alike is perfectly consistent.\n\n"
                         f"| system | pairwise, all test languages | same, trained languages | same and right, trained "
                         f"languages |\n|---|---:|---:|---:|\n{rows}")
    for kind, summary in (asr_errors or {}).items():  # seen: languages the QA models trained on
        parts.append(f"## ASR: the char recognizer's transcripts of the test {kind} (what the cascades read)\n\n"
                     f"Decoding `{cfg.asr.decode}`; CER and WER against the text each clip says.\n\n"
                     + results_table(summary, seen=train_langs))
    parts.insert(1, trained_vs_zero_shot_table(scores, marks, ("accuracy", "f1", "record")))
    (root / "results.md").write_text("# Spoken question answering\n\n" + "\n\n".join(parts) + "\n", encoding="utf-8")
    (root / "results.json").write_text(json.dumps({"scores": scores, "train_langs": train_langs,
                                                   "test_langs": test_langs, "minutes": minutes,
                                                   "asr_errors": asr_errors or {}}, indent=1),
                                       encoding="utf-8")
    print("\n\n".join(parts), f"\nresults: {root / 'results.md'}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
